//! `post merge`: combine directories initialized in pieces into one.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use post_core::{PostMetadata, ScryptParams};
use post_init::{ScryptEvidence, Transfer};
use post_oracle::ReferenceLabeller;

use crate::compute::Compute;
use crate::ctrl_c::cancel_on_ctrl_c;
use crate::exit::EXIT_INTERRUPTED;
use crate::progress::Progress;

/// Combine pieces made with `post init --from-file/--to-file` into one data directory.
///
/// Checks that all pieces have the same identity and parameters (scrypt N detected from each piece when
/// --scrypt-n is not given; the first and last labels of every file are recomputed), and that together
/// they hold every file exactly once, complete; then writes one metadata file with the best VRF nonce of the pieces and
/// moves the files into the target: renamed on the same filesystem, or copied, synced, compared and
/// only then removed from the piece. Nothing moves when a check fails. An interrupted merge (killed even
/// in the middle of a copy) can be run again with the same arguments: a file it left both in the target
/// and in a piece is compared byte for byte and the piece's copy removed. An emptied piece loses its
/// metadata file, then its lock file and directory when nothing else is in them.
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

/// The scrypt N of the pieces (and of the target when it holds data): `--scrypt-n` checked against each,
/// else detected from each (single labels: the reference labeller, as `Compute::scrypt_of`); pieces
/// written with different N are refused before anything moves.
fn scrypt_of_pieces(args: &Args) -> anyhow::Result<ScryptParams> {
    let labeller = &ReferenceLabeller;
    let mut found: Option<(ScryptParams, &Path)> = None;
    for dir in std::iter::once(&args.into).chain(&args.pieces) {
        if !PostMetadata::path(dir).exists() {
            continue;
        }
        let evidence = ScryptEvidence::read(dir)?;
        if let Some(given) = args.compute.scrypt_n {
            evidence.check(given, labeller)?;
            continue;
        }
        let expected = found.map_or_else(|| args.compute.scrypt(), |(n, _)| n);
        let Some(n) = evidence.detect(expected, labeller)? else { continue };
        match found {
            None => found = Some((n, dir)),
            Some((first, first_dir)) if first != n => anyhow::bail!(
                "{}: the piece {} was written with scrypt N = {} but {} with N = {} (both detected); only pieces of \
                 the same data can be merged — nothing was moved",
                evidence.path().display(),
                dir.display(),
                n.n(),
                first_dir.display(),
                first.n()
            ),
            Some(_) => {}
        }
    }
    if let Some(given) = args.compute.scrypt_n {
        return Ok(given);
    }
    match found {
        Some((n, _)) => {
            tracing::info!("merge: scrypt N = {} (detected)", n.n());
            Ok(n)
        }
        None => Ok(args.compute.scrypt()),
    }
}

/// Runs the subcommand.
///
/// # Errors
/// When a check fails (nothing is moved) or a move fails.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scrypt = scrypt_of_pieces(&args)?;
    let labeller = args.compute.labeller()?;
    let request = post_init::MergeRequest {
        target: args.into.clone(),
        pieces: args.pieces.clone(),
        scrypt,
        tuning: args.compute.tuning(),
    };
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
        Transfer::Finished => "already in place; the piece's identical copy removed",
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
