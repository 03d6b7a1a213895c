//! `post bench`: measure how fast this machine does the expensive parts of PoST, one subcommand per
//! subject.

use std::process::ExitCode;

use super::bench_label;

/// Measure throughput on this machine.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

/// What to measure.
#[derive(Debug, clap::Subcommand)]
enum What {
    /// Labels per second of a label provider.
    Label(bench_label::Args),
}

/// Runs the subcommand.
///
/// # Errors
/// What the chosen benchmark returns.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Label(args) => bench_label::run(args),
    }
}
