//! `post bench prove`: how fast the proving scan reads data, in GiB/s, for a number of nonces and
//! threads.
//!
//! 1. The data: a complete data directory (`--dir`, mapped as `post prove` maps it) or `--data-size` GiB
//!    of random labels generated in memory (as page-cached data would be read).
//! 2. One pass's keys for `--nonces` nonces and the threshold of mainnet data of 4 units (difficulty
//!    top byte 0: a tie on one byte in 256, the network's real work).
//! 3. Unless `--no-ceiling`: measure this CPU's AES ceiling on the same backend and threads for a second
//!    (`post bench ceiling`) and derive the scan's ceiling at `--nonces` nonces.
//! 4. Sweep the data again and again in a pool of `--threads` threads until `--seconds` have passed
//!    (stopping at a window boundary inside a sweep), and divide the bytes scanned by the time.
//! 5. Print a sentence, or `{"nonces", "threads", "backend", "gib_per_second", "ceiling_gib_per_second",
//!    "share_of_ceiling"}` with `--json` (the last two `null` with `--no-ceiling`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use post_core::{proving_difficulty, Challenge, LabelIndex, LabelThreshold, LockMode, NonceGroup, PostData};
use post_proof::{measure_scan, AesBackend, LabelRegion, LabelScanner, MappedData, NonceKeys};
use rayon::prelude::*;

use crate::ceiling;

/// Measure the proving scan's throughput.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scan this (complete) data directory.
    #[arg(long, conflicts_with = "data_size")]
    dir: Option<PathBuf>,
    /// Scan this many GiB of random labels generated in memory (default 1 when no --dir).
    #[arg(long, value_name = "GiB")]
    data_size: Option<f64>,
    /// Nonces per pass, a positive multiple of 16 up to 4096.
    #[arg(long, default_value_t = 288)]
    nonces: u32,
    /// Threads (0 or none: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// How long to measure.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// AES kernel: vaes512, vaes256, aesni or portable (default: the fastest this CPU has).
    #[arg(long, value_parser = backend)]
    backend: Option<AesBackend>,
    /// Skip the AES ceiling measured before the scan (and the share of it printed).
    #[arg(long)]
    no_ceiling: bool,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

fn backend(text: &str) -> Result<AesBackend, String> {
    AesBackend::from_name(text)
        .ok_or_else(|| format!("unknown AES backend {text:?}; use vaes512, vaes256, aesni or portable"))
}

const GIB: f64 = (1u64 << 30) as f64;

/// Runs the subcommand.
///
/// # Errors
/// Bad arguments, a directory that cannot be proven from, or a pool that cannot start.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.seconds.is_finite() && args.seconds > 0.0, "--seconds {} is not positive", args.seconds);
    anyhow::ensure!(
        args.nonces > 0 && args.nonces.is_multiple_of(16) && args.nonces <= 4096,
        "--nonces {} is not a positive multiple of 16 up to 4096",
        args.nonces
    );
    let threads = crate::util::thread_count(args.threads.map(|t| t as usize));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;

    // Step 1.
    let (_data, mapped, generated);
    let regions: Vec<LabelRegion<'_>> = match &args.dir {
        Some(dir) => {
            _data = PostData::open(dir, LockMode::Shared)?;
            mapped = MappedData::open(&_data)?;
            mapped.regions()
        }
        None => {
            let gib = args.data_size.unwrap_or(1.0);
            anyhow::ensure!(gib.is_finite() && gib > 0.0, "--data-size {gib} is not a positive number of GiB");
            let bytes = ((gib * GIB) as u64 / 16 * 16).max(16);
            generated = pool.install(|| random_labels(bytes));
            vec![LabelRegion::from_bytes(LabelIndex(0), &generated)?]
        }
    };
    let total: u64 = regions.iter().map(LabelRegion::len_bytes).sum();

    // Step 2.
    let threshold = LabelThreshold::from_difficulty(proving_difficulty(26, 4 << 32)?);
    let keys = NonceKeys::new(&Challenge([0x5a; 32]), NonceGroup(0), &vec![0; (args.nonces / 16) as usize]);
    let backend = args.backend.unwrap_or_else(AesBackend::detect);
    let scanner = LabelScanner::new(backend, &keys, threshold)?;

    // Step 3.
    let ceiling = if args.no_ceiling {
        None
    } else {
        let blocks = ceiling::aes_blocks_per_second(backend, threads, ceiling::share_duration(args.seconds))?;
        Some(ceiling::scan_gib_per_second(blocks, args.nonces))
    };

    // Step 4.
    let limit = std::time::Duration::from_secs_f64(args.seconds);
    let (scanned, elapsed) = pool.install(|| measure_scan(&regions, &scanner, args.nonces, limit))?;
    let elapsed = elapsed.as_secs_f64();
    let gib_per_second = scanned as f64 / GIB / elapsed;

    let share = ceiling.map(|c| gib_per_second / c);

    // Step 5.
    if args.json {
        println!(
            "{{\"nonces\": {}, \"threads\": {threads}, \"backend\": \"{}\", \"gib_per_second\": {gib_per_second:.4}, \
             \"ceiling_gib_per_second\": {}, \"share_of_ceiling\": {}}}",
            args.nonces,
            backend.name(),
            ceiling::json_number(ceiling, 4),
            ceiling::json_number(share, 4),
        );
    } else {
        println!(
            "scan: {gib_per_second:.3} GiB/s with {} nonces on {threads} thread(s), AES {} ({:.2} GiB of data, {:.2} GiB \
             scanned in {elapsed:.2} s)",
            args.nonces,
            backend.name(),
            total as f64 / GIB,
            scanned as f64 / GIB,
        );
        if let (Some(ceiling), Some(share)) = (ceiling, share) {
            println!(
                "      {:.1} % of this CPU's AES ceiling for the scan, {ceiling:.3} GiB/s ({} AES blocks per label, {} on \
                 {threads} thread(s))",
                100.0 * share,
                post_proof::scan_blocks_per_label(args.nonces),
                backend.name(),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `bytes` of pseudo-random labels, filled in parallel (BLAKE3 output keyed by the chunk number).
fn random_labels(bytes: u64) -> Vec<u8> {
    let mut data = vec![0u8; bytes as usize];
    data.par_chunks_mut(1 << 20).enumerate().for_each(|(i, chunk)| {
        blake3::Hasher::new().update(&(i as u64).to_le_bytes()).finalize_xof().fill(chunk);
    });
    data
}
