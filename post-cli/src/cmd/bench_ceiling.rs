//! `post bench ceiling`: this CPU's raw throughput for the two hot loops, with no memory traffic, and
//! the ceilings of the proving scan and the labeller that follow from it.
//!
//! 1. AES-128 block encryptions per second with the widest AES instructions (`--aes-backend`), on one
//!    thread and then on `--threads` threads at once.
//! 2. ChaCha20/8 cores per second with the widest integer vectors (`--label-backend`), the same way.
//! 3. The scan's ceiling at 16, 64 and 288 nonces: AES blocks/s ÷ (nonces / 16 blocks per label) × 16
//!    bytes; the labeller's ceiling: ChaCha20/8 cores/s ÷ 4·N cores per label.
//! 4. Print them, or one flat JSON object with `--json`.

use std::process::ExitCode;
use std::time::Duration;

use post_core::ScryptParams;
use post_oracle::{chacha_cores_per_label, Backend};
use post_proof::{scan_blocks_per_label, AesBackend};

use crate::ceiling::{aes_blocks_per_second, chacha_cores_per_second, labels_per_second, scan_gib_per_second};
use crate::util::scrypt_n;

/// The nonce counts whose scan ceiling is printed.
const NONCES: [u32; 3] = [16, 64, 288];

/// Measure this CPU's AES and ChaCha20/8 throughput and the ceilings that follow.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long each of the (up to four) measurements runs.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Threads for the many-thread figures (0 or none: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// AES instructions: vaes512, vaes256, aesni or portable (default: the widest this CPU has).
    #[arg(long, value_parser = aes_backend)]
    aes_backend: Option<AesBackend>,
    /// Labeller vectors: avx512, avx2, sse2 or portable (default: the widest this CPU has).
    #[arg(long, value_parser = label_backend)]
    label_backend: Option<Backend>,
    /// scrypt N of the labeller ceiling, a power of two ≥ 2 (r = p = 1); the network uses 8192.
    #[arg(long = "scrypt-n", value_name = "N", value_parser = scrypt_n, default_value = "8192")]
    scrypt_n: ScryptParams,
    /// Print one JSON object instead of sentences.
    #[arg(long)]
    json: bool,
}

fn aes_backend(text: &str) -> Result<AesBackend, String> {
    AesBackend::from_name(text)
        .ok_or_else(|| format!("unknown AES backend {text:?}; use vaes512, vaes256, aesni or portable"))
}

fn label_backend(text: &str) -> Result<Backend, String> {
    text.parse().map_err(|e: post_oracle::Error| e.to_string())
}

/// A rate on one thread and on all the threads together.
struct Figure {
    per_thread: f64,
    total: f64,
}

/// Runs `measure(threads)` on one thread, then on `threads` (once when they are the same).
fn both(threads: usize, measure: impl Fn(usize) -> anyhow::Result<f64>) -> anyhow::Result<Figure> {
    let per_thread = measure(1)?;
    let total = if threads == 1 { per_thread } else { measure(threads)? };
    Ok(Figure { per_thread, total })
}

/// Runs the subcommand.
///
/// # Errors
/// A bad `--seconds`, or a backend this CPU cannot run.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds.is_finite() && args.seconds > 0.0, "--seconds {} is not positive", args.seconds);
    let threads = crate::util::thread_count(args.threads.map(|t| t as usize));
    let duration = Duration::from_secs_f64(args.seconds);
    let aes = args.aes_backend.unwrap_or_else(AesBackend::detect);
    let lanes = args.label_backend.unwrap_or_else(Backend::detect);
    anyhow::ensure!(aes.is_available(), "--aes-backend {}: this CPU cannot run it", aes.name());
    anyhow::ensure!(lanes.is_available(), "--label-backend {lanes}: this CPU cannot run it");

    // Steps 1 and 2.
    let blocks = both(threads, |t| aes_blocks_per_second(aes, t, duration))?;
    let cores = both(threads, |t| chacha_cores_per_second(lanes, t, duration))?;

    // Step 3.
    let scan = |aes: f64| NONCES.map(|n| scan_gib_per_second(aes, n));
    let (scan_one, scan_all) = (scan(blocks.per_thread), scan(blocks.total));
    let (label_one, label_all) =
        (labels_per_second(cores.per_thread, args.scrypt_n), labels_per_second(cores.total, args.scrypt_n));
    let per_label = chacha_cores_per_label(args.scrypt_n);

    // Step 4.
    if args.json {
        // Written by hand to keep the documented key order.
        println!(
            "{{\"threads\": {threads}, \"seconds\": {}, \"aes_backend\": \"{}\", \"aes_blocks_per_second_per_thread\": \
             {:.0}, \"aes_blocks_per_second\": {:.0}, \"chacha_backend\": \"{lanes}\", \
             \"chacha_cores_per_second_per_thread\": {:.0}, \"chacha_cores_per_second\": {:.0}, \
             \"scan_ceiling_gib_per_second_per_thread_16\": {:.4}, \"scan_ceiling_gib_per_second_per_thread_64\": \
             {:.4}, \"scan_ceiling_gib_per_second_per_thread_288\": {:.4}, \"scan_ceiling_gib_per_second_16\": \
             {:.4}, \"scan_ceiling_gib_per_second_64\": {:.4}, \"scan_ceiling_gib_per_second_288\": {:.4}, \
             \"scrypt_n\": {}, \"chacha_cores_per_label\": {per_label}, \"label_ceiling_per_second_per_thread\": \
             {label_one:.1}, \"label_ceiling_per_second\": {label_all:.1}}}",
            args.seconds,
            aes.name(),
            blocks.per_thread,
            blocks.total,
            cores.per_thread,
            cores.total,
            scan_one[0],
            scan_one[1],
            scan_one[2],
            scan_all[0],
            scan_all[1],
            scan_all[2],
            args.scrypt_n.n(),
        );
        return Ok(ExitCode::SUCCESS);
    }
    let per = |one: f64, all: f64, unit: &str, decimals: usize| {
        if threads == 1 {
            format!("{one:.decimals$} {unit} on 1 thread")
        } else {
            format!("{one:.decimals$} {unit} per thread, {all:.decimals$} on {threads} threads")
        }
    };
    println!("AES-128 ({}): {}", aes.name(), per(blocks.per_thread / 1e6, blocks.total / 1e6, "M blocks/s", 1));
    println!("ChaCha20/8 ({lanes}): {}", per(cores.per_thread / 1e6, cores.total / 1e6, "M cores/s", 1));
    for (i, nonces) in NONCES.into_iter().enumerate() {
        println!(
            "scan ceiling at {nonces} nonces ({} AES blocks per label): {}",
            scan_blocks_per_label(nonces),
            per(scan_one[i], scan_all[i], "GiB/s", 3)
        );
    }
    println!(
        "labeller ceiling at N = {} ({per_label} ChaCha20/8 cores per label): {}",
        args.scrypt_n.n(),
        per(label_one, label_all, "labels/s", 0)
    );
    Ok(ExitCode::SUCCESS)
}
