//! `post commitment`: the commitment the labels of an identity are derived from.

use std::process::ExitCode;

use post_core::{AtxId, NodeId};

use crate::util::hex32;

/// Print the commitment BLAKE3(node id ‖ commitment ATX id) as 64 hex digits.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The node id (public key), 64 hex digits.
    #[arg(long, value_parser = hex32)]
    node_id: [u8; 32],
    /// The commitment ATX id, 64 hex digits.
    #[arg(long, value_parser = hex32)]
    atx_id: [u8; 32],
    /// Print `{"commitment": "<hex>"}` instead of the bare hex.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let commitment = post_core::commitment(&NodeId(args.node_id), &AtxId(args.atx_id));
    if args.json {
        println!("{}", serde_json::json!({ "commitment": commitment.to_string() }));
    } else {
        println!("{commitment}");
    }
    Ok(ExitCode::SUCCESS)
}
