//! `post identity`: create an identity key file the node loads, and show the node id of one.
//!
//! The file format is go-spacemesh's `identities/*.key` and postcli's `identity.key` (see
//! `identity_file.rs`): a key made here can be copied to `<node data>/identities/local.key`, and a key
//! from the node or postcli can be read here.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::identity_file::{Identity, IDENTITY_FILE, NODE_KEY_PATH};

/// Create an identity key file (`new`) or print the node id of one (`show`).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Generate a new ed25519 key and write it as the node and postcli do (hex of seed ‖ public key,
    /// mode 0600); prints the node id. An existing file is never overwritten.
    New {
        /// The key file to create.
        #[arg(long, default_value = IDENTITY_FILE)]
        out: PathBuf,
        /// Print `{"node_id": "<hex>", "key_file": "<path>"}` instead of the bare node id.
        #[arg(long)]
        json: bool,
    },
    /// Print the node id (the public key, 64 hex digits) of a key file (`identity.key`, or the node's
    /// `identities/local.key`).
    Show {
        /// The key file.
        file: PathBuf,
        /// Print `{"node_id": "<hex>", "key_file": "<path>"}` instead of the bare node id.
        #[arg(long)]
        json: bool,
    },
}

/// Runs the subcommand.
///
/// # Errors
/// When the key file cannot be written (it exists, the directory is missing) or read, or is not a key file.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (identity, path, json) = match args.action {
        Action::New { out, json } => {
            let identity = Identity::generate()?;
            identity.write_new(&out)?;
            tracing::info!(
                "identity: wrote {}; to smesh with it, copy it to <node data>/{NODE_KEY_PATH} and pass its node id \
                 to `post init --node-id` (or keep it as {IDENTITY_FILE} in the data directory)",
                out.display()
            );
            (identity, out, json)
        }
        Action::Show { file, json } => (Identity::load(&file)?, file, json),
    };
    if json {
        println!("{}", serde_json::json!({ "node_id": identity.node_id().to_string(), "key_file": path }));
    } else {
        println!("{}", identity.node_id());
    }
    Ok(ExitCode::SUCCESS)
}
