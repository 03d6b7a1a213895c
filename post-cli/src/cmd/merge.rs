//! `post merge`: combine directories initialized in pieces into one.

use std::path::PathBuf;
use std::process::ExitCode;

use post_init::Transfer;

use crate::compute::Compute;
use crate::ctrl_c::cancel_on_ctrl_c;
use crate::exit::EXIT_INTERRUPTED;
use crate::progress::Progress;

/// Combine pieces made with `post init --from-file/--to-file` into one data directory.
///
/// Checks that all pieces have the same identity and parameters, and that together they hold every
/// file exactly once, complete; then writes one metadata file with the best VRF nonce of the pieces and
/// moves the files into the target: renamed on the same filesystem, or copied, synced, compared and
/// only then removed from the piece. Nothing moves when a check fails. An interrupted merge can be run
/// again with the same arguments. The pieces keep their (now data-less) metadata files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The directory that receives the data: a new or empty directory, or one of the pieces.
    #[arg(long, value_name = "DIR")]
    into: PathBuf,
    /// The piece directories.
    #[arg(required = true, value_name = "PIECE")]
    pieces: Vec<PathBuf>,
    /// Print the result as one JSON object: `{"into", "files": [{"file", "from", "how"}], "vrf_nonce"}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    compute: Compute,
}

/// Runs the subcommand.
///
/// # Errors
/// When a check fails (nothing is moved) or a move fails.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let request = post_init::MergeRequest {
        target: args.into.clone(),
        pieces: args.pieces.clone(),
        scrypt: args.compute.scrypt(),
        tuning: args.compute.tuning(),
    };
    let labeller = args.compute.labeller()?;
    let cancel = cancel_on_ctrl_c("merge")?;
    let outcome = args.compute.install(|| {
        let progress = Progress::new("merge", false);
        let outcome = post_init::merge(&request, labeller.as_ref(), &cancel, &progress);
        progress.finish();
        Ok(outcome?)
    })?;
    let how = |how: &Transfer| match how {
        Transfer::InPlace => "already in place",
        Transfer::Renamed => "moved",
        Transfer::Copied => "copied, verified, source removed",
    };
    if args.json {
        let files: Vec<_> = outcome
            .files
            .iter()
            .map(|(i, from, t)| serde_json::json!({"file": i, "from": from.display().to_string(), "how": how(t)}))
            .collect();
        let report = serde_json::json!({
            "into": args.into.display().to_string(),
            "files": files,
            "vrf_nonce": outcome.nonce.map(|n| n.index.0),
        });
        println!("{report}");
    } else {
        for (i, from, t) in &outcome.files {
            println!("postdata_{i}.bin: {} ({})", how(t), from.display());
        }
    }
    match outcome.nonce {
        Some(n) => {
            if !args.json {
                println!("merged into {}; VRF nonce: {}", args.into.display(), n.index.0);
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            tracing::warn!(
                "merge: the files are merged; the VRF nonce search was interrupted — run `post init --dir {}` to \
                 finish it",
                args.into.display()
            );
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
    }
}
