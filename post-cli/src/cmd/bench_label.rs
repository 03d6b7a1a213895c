//! `post bench label`: labels per second of one provider with a given number of threads.
//!
//! 1. Build the labeller named by `--provider` and a rayon pool of `--threads` threads.
//! 2. Inside the pool, warm up with one batch of the labeller's preferred size (this also allocates
//!    its scratch memory).
//! 3. Label whole batches of consecutive indices until `--seconds` have passed, and divide the labels
//!    by the elapsed time.
//! 4. Unless `--no-ceiling` or the provider is a GPU: measure this CPU's ChaCha20/8 ceiling on the
//!    provider's vectors (the portable lanes for `reference`) and threads for a second (`post bench
//!    ceiling`) and derive the labeller's arithmetic ceiling at `--scrypt-n`.
//! 5. Print the rate and its share of the ceiling, as a sentence or as `{"provider", "threads",
//!    "scrypt_n", "labels_per_second", "ceiling_backend", "ceiling_labels_per_second",
//!    "share_of_ceiling"}` (the last three `null` without a ceiling).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{LabelJob, Labeller};

use crate::util::scrypt_n;
use crate::{ceiling, provider};

/// Measure the labels per second of a provider.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// What computes labels: `cpu`, `cpu:<avx512|avx2|sse2|portable>` or `reference`.
    #[arg(long, default_value = "cpu")]
    provider: String,
    /// Threads to label with (0 or none: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// scrypt N, a power of two ≥ 2 (r = p = 1); the network uses 8192.
    #[arg(long = "scrypt-n", value_name = "N", value_parser = scrypt_n, default_value = "8192")]
    scrypt_n: ScryptParams,
    /// How long to measure, after one warm-up batch.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Labels per call (default: what the provider prefers for this many threads).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    batch: Option<u32>,
    /// Skip the ChaCha20/8 ceiling measured after the labels (and the share of it printed).
    #[arg(long)]
    no_ceiling: bool,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

/// What one measurement found.
struct Rate {
    labels: u64,
    elapsed: Duration,
}

/// Runs the subcommand.
///
/// # Errors
/// An unknown provider, a pool that cannot start, a bad `--seconds`, or a labeller failure.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.seconds.is_finite() && args.seconds > 0.0,
        "--seconds {} is not a positive number of seconds",
        args.seconds
    );
    let labeller = provider::labeller(&args.provider)?;
    let threads = crate::util::thread_count(args.threads.map(|t| t as usize));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;
    let rate = pool.install(|| measure(labeller.as_ref(), &args))?;
    let per_second = rate.labels as f64 / rate.elapsed.as_secs_f64();

    // Step 4.
    let lanes = if args.no_ceiling { None } else { provider::cpu_backend(&args.provider) };
    let ceiling = match lanes {
        Some(lanes) => {
            let cores = ceiling::chacha_cores_per_second(lanes, threads, ceiling::share_duration(args.seconds))?;
            Some(ceiling::labels_per_second(cores, args.scrypt_n))
        }
        None => None,
    };
    let share = ceiling.map(|c| per_second / c);

    // Step 5.
    if args.json {
        // Written by hand to keep the documented key order.
        println!(
            "{{\"provider\": {}, \"threads\": {threads}, \"scrypt_n\": {}, \"labels_per_second\": {:.1}, \
             \"ceiling_backend\": {}, \"ceiling_labels_per_second\": {}, \"share_of_ceiling\": {}}}",
            serde_json::Value::from(labeller.name()),
            args.scrypt_n.n(),
            per_second,
            lanes.map_or_else(|| "null".into(), |b| format!("\"{b}\"")),
            ceiling::json_number(ceiling, 1),
            ceiling::json_number(share, 4),
        );
    } else {
        println!(
            "{}: {per_second:.1} labels/s with {threads} thread(s) at scrypt N = {} ({} labels in {:.2} s)",
            labeller.name(),
            args.scrypt_n.n(),
            rate.labels,
            rate.elapsed.as_secs_f64()
        );
        if let (Some(lanes), Some(ceiling), Some(share)) = (lanes, ceiling, share) {
            println!(
                "      {:.1} % of this CPU's ChaCha20/8 ceiling for the labeller, {ceiling:.1} labels/s ({} cores per \
                 label, {lanes} on {threads} thread(s))",
                100.0 * share,
                post_oracle::chacha_cores_per_label(args.scrypt_n),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Steps 2 and 3, in the current pool.
fn measure(labeller: &dyn Labeller, args: &Args) -> anyhow::Result<Rate> {
    let batch = args.batch.map_or_else(|| labeller.preferred_batch(), |b| b as usize).max(1);
    let commitment = Commitment([0; 32]);
    let mut out = vec![0u8; 16 * batch];
    let mut start = 0u64;
    let mut run_batch = |out: &mut [u8]| -> anyhow::Result<()> {
        labeller
            .label(LabelJob {
                commitment: &commitment,
                params: args.scrypt_n,
                start: LabelIndex(start),
                out,
                vrf_threshold: None,
            })
            .with_context(|| format!("labelling {batch} labels from index {start} with {}", labeller.name()))?;
        start += batch as u64;
        Ok(())
    };
    run_batch(&mut out)?;
    let budget = Duration::from_secs_f64(args.seconds);
    let begin = Instant::now();
    let mut labels = 0u64;
    while begin.elapsed() < budget {
        run_batch(&mut out)?;
        labels += batch as u64;
    }
    Ok(Rate { labels, elapsed: begin.elapsed() })
}
