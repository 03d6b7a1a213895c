//! `post shrink`: the one command that makes data smaller; it shows what it deletes and needs `--yes`.

use std::path::PathBuf;
use std::process::ExitCode;

use indicatif::HumanBytes;

use crate::compute::Compute;
use crate::ctrl_c::cancel_on_ctrl_c;
use crate::exit::{EXIT_INCOMPLETE, EXIT_INTERRUPTED};
use crate::progress::Progress;

/// Reduce a data directory to fewer units: delete the files beyond the new size and truncate the new
/// last file. Prints exactly what it will delete and truncate; without `--yes` it changes nothing.
/// The VRF nonce is kept when it lies in the kept data, else found again among the kept labels.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory.
    #[arg(long)]
    dir: PathBuf,
    /// Units to keep.
    #[arg(long)]
    units: u32,
    /// Really delete and truncate.
    #[arg(long)]
    yes: bool,
    /// Print the plan and the result as one JSON object: `{"dir", "from_units", "to_units", "delete",
    /// "truncate", "freed_bytes", "applied", "vrf_nonce"}`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    compute: Compute,
}

/// Runs the subcommand.
///
/// # Errors
/// When the directory cannot be opened, the unit count does not shrink it, or a file operation fails.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let request = post_init::ShrinkRequest {
        dir: args.dir.clone(),
        num_units: args.units,
        scrypt: args.compute.scrypt_of("shrink", &args.dir)?,
        tuning: args.compute.tuning(),
    };
    let prepared = post_init::prepare_shrink(&request)?;
    let plan = prepared.plan();
    let mut report = serde_json::json!({
        "dir": plan.dir.display().to_string(),
        "from_units": plan.from_units,
        "to_units": plan.to_units,
        "delete": plan.delete.iter().map(|(p, len)| serde_json::json!({"path": p.display().to_string(), "bytes": len})).collect::<Vec<_>>(),
        "truncate": plan.truncate.iter().map(|(p, from, to)| serde_json::json!({"path": p.display().to_string(), "from": from, "to": to})).collect::<Vec<_>>(),
        "freed_bytes": plan.freed_bytes,
        "applied": false,
        "vrf_nonce": null,
    });
    if !args.json {
        println!("shrink {} from {} to {} units:", plan.dir.display(), plan.from_units, plan.to_units);
        for (path, len) in &plan.delete {
            println!("  delete   {} ({})", path.display(), HumanBytes(*len));
        }
        for (path, from, to) in &plan.truncate {
            println!(
                "  truncate {} from {} to {} ({from} -> {to} bytes)",
                path.display(),
                HumanBytes(*from),
                HumanBytes(*to)
            );
        }
        println!("  frees {}", HumanBytes(plan.freed_bytes));
    }
    if !args.yes {
        if args.json {
            println!("{report}");
        } else {
            println!("nothing was changed; run again with --yes to do this");
        }
        // Showing the plan is what was asked for: a success.
        return Ok(ExitCode::SUCCESS);
    }
    let labeller = args.compute.labeller()?;
    let cancel = cancel_on_ctrl_c("shrink")?;
    let outcome = args.compute.install(|| {
        let progress = Progress::new("shrink", false);
        let outcome = prepared.apply(labeller.as_ref(), &cancel, &progress);
        progress.finish();
        Ok(outcome?)
    })?;
    if args.json {
        report["applied"] = serde_json::Value::Bool(true);
        report["vrf_nonce"] = outcome.nonce.map(|n| n.index.0).into();
        println!("{report}");
    }
    match outcome.nonce {
        Some(n) => {
            if !args.json {
                println!("done; VRF nonce: {}", n.index.0);
            }
            Ok(ExitCode::SUCCESS)
        }
        None if outcome.cancelled => {
            tracing::warn!(
                "shrink: interrupted; run the same command again (or `post init --dir {}`) to finish",
                args.dir.display()
            );
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        None => {
            // Shrunk as asked, but the data was never complete: it has no VRF nonce yet.
            tracing::warn!(
                "shrink: done, but the data is not complete and has no VRF nonce yet; run `post init --dir {}` \
                 to finish it",
                args.dir.display()
            );
            Ok(ExitCode::from(EXIT_INCOMPLETE))
        }
    }
}
