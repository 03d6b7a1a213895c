//! `post bench`: measure how fast this machine does the expensive parts of PoST, one subcommand per
//! subject.

use std::process::ExitCode;

use super::{bench_ceiling, bench_label, bench_plan, bench_pow, bench_prove, bench_verify};

/// Measure throughput on this machine.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

/// What to measure.
#[derive(Debug, clap::Subcommand)]
enum What {
    /// This CPU's AES and ChaCha20/8 throughput, and the scan's and the labeller's ceilings.
    Ceiling(bench_ceiling::Args),
    /// Labels per second of a label provider.
    Label(bench_label::Args),
    /// Which nonces and threads prove a data directory inside the proving window.
    Plan(bench_plan::Args),
    /// RandomX hashes per second of the k2 proof of work (light or fast mode).
    Pow(bench_pow::Args),
    /// GiB/s of the proving scan for a number of nonces and threads.
    Prove(bench_prove::Args),
    /// Milliseconds to verify one proof (k3 labels and one RandomX light hash).
    Verify(bench_verify::Args),
}

/// Runs the subcommand.
///
/// # Errors
/// What the chosen benchmark returns.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Ceiling(args) => bench_ceiling::run(args),
        What::Label(args) => bench_label::run(args),
        What::Plan(args) => bench_plan::run(args),
        What::Pow(args) => bench_pow::run(args),
        What::Prove(args) => bench_prove::run(args),
        What::Verify(args) => bench_verify::run(args),
    }
}
