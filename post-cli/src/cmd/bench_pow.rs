//! `post bench pow`: RandomX hashes per second of the k2 proof of work, in light mode (256 MiB, the
//! verifier's) or fast mode (2.1 GiB dataset, the prover's; tens of seconds to build).
//!
//! 1. Build RandomX with the Spacemesh key in `--mode`, timing the setup.
//! 2. On each of `--threads` threads, hash distinct 48-byte proof-of-work inputs until `--seconds` have
//!    passed.
//! 3. Print a sentence, or `{"mode", "threads", "init_seconds", "hashes_per_second"}` with `--json`.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context as _;
use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::{PowJob, RandomXMode, RandomXPow};

/// Measure RandomX hashes per second.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// light (256 MiB, as verifiers run) or fast (2.1 GiB dataset, as provers run).
    #[arg(long, default_value = "light", value_parser = mode, value_name = "light|fast")]
    mode: RandomXMode,
    /// Threads (0 or none: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// How long to hash, after the setup.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

fn mode(text: &str) -> Result<RandomXMode, String> {
    match text {
        "fast" => Ok(RandomXMode::Fast),
        "light" => Ok(RandomXMode::Light),
        other => Err(format!("{other:?} is not a RandomX mode; use light or fast")),
    }
}

/// Runs the subcommand.
///
/// # Errors
/// A bad `--seconds`, a pool that cannot start, or a RandomX failure.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds.is_finite() && args.seconds > 0.0, "--seconds {} is not positive", args.seconds);
    let threads = crate::util::thread_count(args.threads.map(|t| t as usize));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;

    // Step 1.
    let clock = Instant::now();
    let pow = RandomXPow::new(args.mode)?;
    let init = clock.elapsed().as_secs_f64();

    // Step 2.
    let (challenge, miner, threshold) = (Challenge([3; 32]), NodeId([4; 32]), [0u8; 32]);
    let job = PowJob { group: NonceGroup(0), challenge: &challenge, miner: &miner, threshold: &threshold };
    let clock = Instant::now();
    let counts = pool.broadcast(|ctx| -> anyhow::Result<u64> {
        let mut n = 0u64;
        while clock.elapsed().as_secs_f64() < args.seconds {
            pow.hash(&job.input(((ctx.index() as u64) << 40) + n))?;
            n += 1;
        }
        Ok(n)
    });
    let elapsed = clock.elapsed().as_secs_f64();
    let hashes: u64 = counts.into_iter().sum::<anyhow::Result<u64>>()?;
    let per_second = hashes as f64 / elapsed;

    // Step 3.
    if args.json {
        println!(
            "{{\"mode\": \"{}\", \"threads\": {threads}, \"init_seconds\": {init:.3}, \"hashes_per_second\": {per_second:.2}}}",
            args.mode.name()
        );
    } else {
        println!(
            "RandomX {}: {per_second:.1} hashes/s on {threads} thread(s) ({hashes} in {elapsed:.2} s; setup {init:.2} s)",
            args.mode.name()
        );
    }
    Ok(ExitCode::SUCCESS)
}
