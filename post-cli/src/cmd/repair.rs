//! `post repair`: recompute every stored label and rewrite exactly those that differ, in place.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::compute::Compute;
use crate::ctrl_c::cancel_on_ctrl_c;
use crate::data_report::{json, text, Verdict};
use crate::progress::Progress;

/// Repair a data directory: recompute every label (a full `verify-data --all`) and rewrite exactly the
/// bad ones in place, then sync. scrypt N is detected from the data when --scrypt-n is not given; a
/// given N that does not reproduce the data is refused, so good data is never overwritten. Missing or
/// unfinished files are reported: `post init` finishes them.
/// Exit code 0 when the data is clean afterwards, 3 when only unfinished files remain (`post init`
/// finishes them), 1 when other problems remain.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory.
    #[arg(long)]
    dir: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    compute: Compute,
}

/// Runs the subcommand.
///
/// # Errors
/// When the directory cannot be opened (locked, no metadata), read or written, or repair is refused.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let scrypt = args.compute.scrypt_of("repair", &args.dir)?;
    let request = post_init::CheckRequest {
        dir: args.dir.clone(),
        scrypt,
        coverage: post_init::Coverage::All,
        tuning: args.compute.tuning(),
    };
    let labeller = args.compute.checking_labeller()?;
    tracing::info!("repair: labels computed by {}", labeller.name());
    let cancel = cancel_on_ctrl_c("repair")?;
    let report = args.compute.install(|| {
        let progress = Progress::new("repair", args.json);
        let report = post_init::repair(&request, labeller.as_ref(), &cancel, &progress);
        progress.finish();
        Ok(report?)
    })?;
    if args.json {
        println!("{}", json(&report, None));
    } else {
        print!("{}", text(&report, None));
        if report.incomplete_files().next().is_some() {
            println!(
                "unfinished files are not changed by repair; run `post init --dir {}` to finish them",
                args.dir.display()
            );
        }
    }
    // Repaired labels count as fixed: the verdict is what is left (3 when only unfinished files are).
    Ok(Verdict::of(&report).exit_code())
}
