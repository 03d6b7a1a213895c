//! `post bench plan`: which nonces and threads prove this data inside the proving window.
//!
//! 1. The data: a complete directory (`--dir`: its size, units and labels per unit) or `--data-size` GiB
//!    of `--units` units; the scan is measured on the directory's mapped files or on 1 GiB of random
//!    labels in memory.
//! 2. Measure the scan's GiB/s for every candidate (nonces × threads), and RandomX's hash rate on all
//!    threads (`--randomx`, light by default: fast takes a 2 GiB dataset), scaled to each thread count.
//! 3. Per candidate: time of a pass = k2pow (groups · expected hashes / rate) + scan (bytes / rate);
//!    P(pass) = 1 − (1 − P(X ≥ k2))^nonces with X ~ Binomial(num_labels, difficulty / 2^64); passes that
//!    fit the window m = ⌊window / pass⌋; P(in window) = 1 − (1 − P(pass))^m; expected time = pass / P(pass).
//! 4. Recommend the setting with the fewest threads, then the least expected time, that finishes inside
//!    the window with probability ≥ 99.9 %; print the table, or JSON with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use post_core::{proving_difficulty, LabelIndex, LockMode, PostData};
use post_proof::{AesBackend, LabelRegion, MappedData, RandomXMode, RandomXPow};
use rayon::prelude::*;

use crate::prove_estimate::{expected_hashes, hash_rate, human, scan_rate};
use crate::thresholds::Thresholds;

const GIB: f64 = (1u64 << 30) as f64;

/// Probability a plan must reach to be recommended.
const CONFIDENCE: f64 = 0.999;

/// Plan proving: measure the scan and RandomX, then print for each (nonces, threads) the time of a pass,
/// the chance a pass finds a proof, the expected time and the chance to finish inside the window, and
/// recommend the cheapest setting that finishes in time with 99.9 % probability.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A complete data directory to plan for (its files are scanned for the measurement).
    #[arg(long, conflicts_with = "data_size")]
    dir: Option<PathBuf>,
    /// Plan for this many GiB of data instead (measured on 1 GiB of random labels in memory).
    #[arg(long, value_name = "GiB", requires = "units")]
    data_size: Option<f64>,
    /// Space units of the data given by --data-size (they scale the proof of work).
    #[arg(long)]
    units: Option<u32>,
    #[command(flatten)]
    thresholds: Thresholds,
    /// The proving window (the network's is 12 hours).
    #[arg(long, default_value = "12h", value_parser = humantime::parse_duration)]
    window: Duration,
    /// Nonces per pass to try, comma-separated multiples of 16.
    #[arg(long, value_delimiter = ',', default_values_t = [64u32, 128, 288, 512, 1024])]
    nonces: Vec<u32>,
    /// Thread counts to try, comma-separated; 0 means all cores (default: 1, half and all cores).
    #[arg(long, value_delimiter = ',')]
    threads: Vec<u32>,
    /// Seconds to measure each scan candidate.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// RandomX mode to measure: light (quick to set up) or fast (2 GiB dataset, what proving uses).
    #[arg(long, default_value = "light", value_parser = ["light", "fast"])]
    randomx: String,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// One row of the plan.
#[derive(Debug, Clone)]
struct Candidate {
    nonces: u32,
    threads: u32,
    scan_gib_per_second: f64,
    k2pow: Duration,
    scan: Duration,
    pass_probability: f64,
    expected: Duration,
    in_window: f64,
}

/// Runs the subcommand.
///
/// # Errors
/// Bad arguments, a directory that cannot be read, or a failed measurement.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u32;
    // 0 means all cores, as in every command.
    let mut threads: Vec<u32> = args.threads.iter().map(|&t| if t == 0 { cores } else { t }).collect();
    if threads.is_empty() {
        threads = vec![1, cores.div_ceil(2), cores];
    }
    threads.sort_unstable();
    threads.dedup();
    anyhow::ensure!(
        args.nonces.iter().all(|&n| n > 0 && n.is_multiple_of(16) && n <= 4096),
        "--nonces takes positive multiples of 16 up to 4096"
    );
    anyhow::ensure!(args.seconds.is_finite() && args.seconds > 0.0, "--seconds {} is not positive", args.seconds);

    // Step 1.
    let (_data, mapped, generated);
    let (regions, bytes, num_units, labels_per_unit): (Vec<LabelRegion<'_>>, u64, u32, Option<u64>) = match &args.dir {
        Some(dir) => {
            _data = PostData::open(dir, LockMode::Shared)?;
            mapped = MappedData::open(&_data).context("the data directory cannot be proven from")?;
            let meta = _data.metadata();
            (mapped.regions(), mapped.len_bytes(), meta.num_units, Some(meta.labels_per_unit))
        }
        None => {
            let gib = args.data_size.context("give --dir or --data-size with --units")?;
            anyhow::ensure!(gib.is_finite() && gib > 0.0, "--data-size {gib} is not a positive number of GiB");
            let units = args.units.context("--data-size needs --units")?;
            let sample = (GIB as u64).min((gib * GIB) as u64 / 16 * 16).max(16);
            generated = random_labels(sample);
            (vec![LabelRegion::from_bytes(LabelIndex(0), &generated)?], (gib * GIB) as u64, units, None)
        }
    };
    let preset = match (args.thresholds.preset, labels_per_unit) {
        (Some(p), _) => p,
        (None, Some(lpu)) => post_core::Preset::ALL
            .into_iter()
            .find(|p| p.init_config().labels_per_unit == lpu)
            .unwrap_or(post_core::Preset::Mainnet),
        (None, None) => post_core::Preset::Mainnet,
    };
    let defaults = preset.proof_config();
    let k1 = args.thresholds.k1.unwrap_or(defaults.k1);
    let k2 = args.thresholds.k2.unwrap_or(defaults.k2);
    let pow_difficulty = args.thresholds.pow_difficulty.unwrap_or(defaults.pow_difficulty);
    let num_labels = bytes / 16;

    // Step 2.
    let pool = |n: u32| rayon::ThreadPoolBuilder::new().num_threads(n as usize).build().context("starting a pool");
    let all = pool(cores)?;
    let mode = if args.randomx == "fast" { RandomXMode::Fast } else { RandomXMode::Light };
    let randomx = all.install(|| RandomXPow::new(mode))?;
    let hashes_per_second_all = all.install(|| hash_rate(&randomx))?;
    let per_group = expected_hashes(&pow_difficulty, num_units)?;
    let p_label = proving_difficulty(k1, num_labels.max(1))? as f64 / 2f64.powi(64);
    let q_nonce = binomial_tail(num_labels, p_label, k2);
    let backend = AesBackend::detect();
    let mut rows = Vec::new();
    for &t in &threads {
        let pool = pool(t)?;
        let hashes_per_second = hashes_per_second_all * f64::from(t) / f64::from(cores);
        for &nonces in &args.nonces {
            let seconds = Duration::from_secs_f64(args.seconds);
            let rate = pool.install(|| scan_rate(&regions, nonces, k1, backend, seconds))?;
            // Step 3.
            let k2pow = Duration::from_secs_f64(f64::from(nonces / 16) * per_group / hashes_per_second.max(1e-9));
            let scan = Duration::from_secs_f64(bytes as f64 / rate.max(1e-9));
            let pass = k2pow + scan;
            let pass_probability = 1.0 - (1.0 - q_nonce).powi(nonces as i32);
            let fit = (args.window.as_secs_f64() / pass.as_secs_f64().max(1e-9)).floor();
            let in_window = 1.0 - (1.0 - pass_probability).powf(fit);
            let expected = Duration::from_secs_f64(pass.as_secs_f64() / pass_probability.max(1e-300));
            rows.push(Candidate {
                nonces,
                threads: t,
                scan_gib_per_second: rate / GIB,
                k2pow,
                scan,
                pass_probability,
                expected,
                in_window,
            });
        }
    }

    // Step 4.
    let recommended = rows
        .iter()
        .filter(|c| c.in_window >= CONFIDENCE)
        .min_by(|a, b| a.threads.cmp(&b.threads).then(a.expected.cmp(&b.expected)))
        .cloned();
    if args.json {
        let row = |c: &Candidate| {
            serde_json::json!({
                "nonces": c.nonces,
                "threads": c.threads,
                "scan_gib_per_second": c.scan_gib_per_second,
                "k2pow_seconds": c.k2pow.as_secs_f64(),
                "scan_seconds": c.scan.as_secs_f64(),
                "pass_seconds": (c.k2pow + c.scan).as_secs_f64(),
                "pass_probability": c.pass_probability,
                "expected_seconds": c.expected.as_secs_f64(),
                "probability_in_window": c.in_window,
            })
        };
        let report = serde_json::json!({
            "data_bytes": bytes,
            "num_units": num_units,
            "k1": k1,
            "k2": k2,
            "window_seconds": args.window.as_secs_f64(),
            "randomx_mode": mode.name(),
            "randomx_hashes_per_second": hashes_per_second_all,
            "nonce_success_probability": q_nonce,
            "candidates": rows.iter().map(row).collect::<Vec<_>>(),
            "recommended": recommended.as_ref().map(row),
        });
        println!("{report}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:.2} GiB, {num_units} unit(s), k1 {k1}, k2 {k2}; RandomX {} {:.0} hashes/s on {cores} thread(s); a nonce \
         succeeds with probability {q_nonce:.4}; window {}",
        bytes as f64 / GIB,
        mode.name(),
        hashes_per_second_all,
        human(args.window)
    );
    println!(
        "{:>6} {:>7} {:>9} {:>12} {:>12} {:>12} {:>9} {:>12} {:>10}",
        "nonces", "threads", "scan GiB/s", "k2pow/pass", "scan/pass", "pass", "P(pass)", "expected", "P(window)"
    );
    for c in &rows {
        println!(
            "{:>6} {:>7} {:>9.3} {:>12} {:>12} {:>12} {:>9.4} {:>12} {:>10.6}",
            c.nonces,
            c.threads,
            c.scan_gib_per_second,
            human(c.k2pow),
            human(c.scan),
            human(c.k2pow + c.scan),
            c.pass_probability,
            human(c.expected),
            c.in_window
        );
    }
    match recommended {
        Some(c) => println!(
            "recommended: --nonces {} --threads {} (expected {}, {:.4} % within the window)",
            c.nonces,
            c.threads,
            human(c.expected),
            c.in_window * 100.0
        ),
        None => println!(
            "no setting finishes inside the window with {:.1} % probability: add threads, use a faster machine \
             or offload k2pow",
            CONFIDENCE * 100.0
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// P(X ≥ k) for X ~ Binomial(n, p), summing the k lower terms from P(X = 0) = (1 − p)^n upward.
fn binomial_tail(n: u64, p: f64, k: u32) -> f64 {
    if p <= 0.0 {
        return if k == 0 { 1.0 } else { 0.0 };
    }
    if p >= 1.0 {
        return if u64::from(k) <= n { 1.0 } else { 0.0 };
    }
    let mut term = ((n as f64) * (-p).ln_1p()).exp();
    let mut below = 0.0;
    for x in 0..u64::from(k).min(n + 1) {
        below += term;
        term *= (n - x) as f64 / (x + 1) as f64 * p / (1.0 - p);
    }
    (1.0 - below).clamp(0.0, 1.0)
}

/// `bytes` of pseudo-random labels, filled in parallel (BLAKE3 output keyed by the chunk number).
fn random_labels(bytes: u64) -> Vec<u8> {
    let mut data = vec![0u8; bytes as usize];
    data.par_chunks_mut(1 << 20).enumerate().for_each(|(i, chunk)| {
        blake3::Hasher::new().update(&(i as u64).to_le_bytes()).finalize_xof().fill(chunk);
    });
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The direct sum over exact binomial coefficients.
    fn direct(n: u64, p: f64, k: u32) -> f64 {
        let choose = |n: u64, x: u64| (0..x).fold(1u128, |c, i| c * u128::from(n - i) / u128::from(i + 1)) as f64;
        (u64::from(k)..=n).map(|x| choose(n, x) * p.powi(x as i32) * (1.0 - p).powi((n - x) as i32)).sum()
    }

    #[test]
    fn the_tail_equals_the_direct_sum_for_small_cases() {
        for (n, p, k) in [(20, 0.3, 5), (40, 0.1, 3), (60, 0.5, 31), (10, 0.9, 10), (30, 0.05, 0), (16, 0.25, 17)] {
            let (got, want) = (binomial_tail(n, p, k), direct(n, p, k));
            assert!((got - want).abs() < 1e-12, "n {n} p {p} k {k}: {got} vs {want}");
        }
    }

    #[test]
    fn a_network_sized_nonce_succeeds_about_as_the_poisson_limit_says() {
        // k1 = 26 expected good labels, k2 = 37 needed: P(Poisson(26) >= 37) is about 0.0244.
        let n = 4u64 << 32;
        let got = binomial_tail(n, 26.0 / n as f64, 37);
        assert!((got - 0.0244).abs() < 0.001, "{got}");
    }
}
