//! `post prove`: answer a challenge with a proof from a complete data directory.
//!
//! 1. Open the directory under a shared lock (initializers wait; other provers may run) and refuse
//!    incomplete data; map every file by its number.
//! 2. Pick the parameters: the preset's, overridden by `--k1 --k2 --pow-difficulty`; nonces per pass
//!    from `--nonces` or the preset (288 on the networks, 16 for dev).
//! 3. Build RandomX: `fast` (2 GiB dataset, tens of seconds) when the proof of work needs many hashes,
//!    `light` otherwise, or what `--randomx` says.
//! 4. Prove in a pool of `--threads` threads; Ctrl-C stops between chunks.
//! 5. Write `{"nonce", "indices", "pow"}` to `--out` or stdout, and the time of each phase to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use parking_lot::Mutex;
use post_core::{scale_pow_difficulty, Challenge, LockMode, PostData, Preset};
use post_proof::{
    AesBackend, CancelToken, Error, MappedData, Phase, Progress, Prover, ProvingParams, ProvingTarget, RandomXMode,
    RandomXPow,
};

use super::init::EXIT_INTERRUPTED;
use crate::util::hex32;

/// How often scanning progress is logged.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// Expected RandomX hashes above which the fast mode pays for its dataset (about 40 s to build on one
/// core, then about ten times the light mode's rate).
const FAST_MODE_HASHES: f64 = 1000.0;

/// The proving thresholds: a preset, overridden field by field.
#[derive(Debug, Clone, clap::Args)]
pub struct Thresholds {
    /// Network preset for the parameters not given: mainnet, testnet or dev (default mainnet).
    #[arg(long, value_parser = preset)]
    pub preset: Option<Preset>,
    /// Expected good labels per nonce (overrides the preset).
    #[arg(long)]
    pub k1: Option<u32>,
    /// Good labels in a proof (overrides the preset).
    #[arg(long)]
    pub k2: Option<u32>,
    /// The k2 proof-of-work difficulty for one unit, 64 hex digits (overrides the preset).
    #[arg(long, value_parser = hex32, value_name = "HEX32")]
    pub pow_difficulty: Option<[u8; 32]>,
}

impl Thresholds {
    /// The preset, mainnet when not given.
    pub fn preset(&self) -> Preset {
        self.preset.unwrap_or(Preset::Mainnet)
    }
}

/// Parses a preset name.
pub fn preset(text: &str) -> Result<Preset, String> {
    Preset::from_name(text).map_err(|e| e.to_string())
}

fn randomx_mode(text: &str) -> Result<RandomXMode, String> {
    match text {
        "fast" => Ok(RandomXMode::Fast),
        "light" => Ok(RandomXMode::Light),
        other => Err(format!("{other:?} is not a RandomX mode; use fast or light")),
    }
}

/// Generate a proof for a challenge: scan the whole data once per pass of nonces until one nonce has k2
/// good labels. Writes the proof JSON `{"nonce", "indices", "pow"}` to stdout or `--out`, and the time
/// of each phase to stderr.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory (must be completely initialized).
    #[arg(long)]
    dir: PathBuf,
    /// The challenge, 64 hex digits.
    #[arg(long, value_parser = hex32, value_name = "HEX32")]
    challenge: [u8; 32],
    #[command(flatten)]
    thresholds: Thresholds,
    /// Nonces per pass over the data, a multiple of 16 (default: the preset's, 288 on the networks).
    #[arg(long)]
    nonces: Option<u32>,
    /// Threads for the proof of work and the scan (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    threads: Option<u32>,
    /// RandomX mode for the proof of work: fast (2 GiB, slow to start, fast hashing) or light (256 MiB).
    /// Default: fast when the proof of work needs more than about a thousand hashes.
    #[arg(long, value_parser = randomx_mode, value_name = "fast|light")]
    randomx: Option<RandomXMode>,
    /// Write the proof here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs the subcommand.
///
/// # Errors
/// A directory that cannot be opened, is locked by a writer or is incomplete; bad parameters; a RandomX
/// failure; no proof below nonce 4096; a failure to write the proof.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Step 1.
    let data = PostData::open(&args.dir, LockMode::Shared)?;
    let mapped = MappedData::open(&data).context("the data directory cannot be proven from")?;
    let regions = mapped.regions();
    let meta = data.metadata();

    // Step 2.
    let preset = args.thresholds.preset();
    let defaults = preset.proof_config();
    let params = ProvingParams {
        k1: args.thresholds.k1.unwrap_or(defaults.k1),
        k2: args.thresholds.k2.unwrap_or(defaults.k2),
        pow_difficulty: args.thresholds.pow_difficulty.unwrap_or(defaults.pow_difficulty),
        nonces: args.nonces.unwrap_or(preset.proving_nonces()),
        backend: AesBackend::detect(),
    };

    // Step 3.
    let groups = params.nonces.div_ceil(16);
    let hashes = expected_hashes(&params.pow_difficulty, meta.num_units)? * f64::from(groups);
    let mode = args.randomx.unwrap_or(if hashes > FAST_MODE_HASHES { RandomXMode::Fast } else { RandomXMode::Light });
    let cancel = cancel_on_ctrl_c()?;
    let threads =
        args.threads.map_or_else(|| std::thread::available_parallelism().map_or(1, usize::from), |t| t as usize);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;
    eprintln!(
        "prove: {} ({} units, {:.2} GiB), k1 {} k2 {}, {} nonces per pass, {} thread(s), AES {}, RandomX {} \
         (about {hashes:.0} hashes per pass)",
        args.dir.display(),
        meta.num_units,
        mapped.len_bytes() as f64 / GIB,
        params.k1,
        params.k2,
        params.nonces,
        threads,
        params.backend.name(),
        mode.name(),
    );
    let clock = Instant::now();
    let pow = pool.install(|| RandomXPow::new(mode))?;
    let randomx_init = clock.elapsed();

    // Step 4.
    let log = Mutex::new(Instant::now());
    let prover = Prover::new(params, &pow)?.with_cancel(cancel).with_progress(|p: Progress| report(&log, &p));
    let challenge = Challenge(args.challenge);
    let target =
        ProvingTarget { challenge: &challenge, node_id: &meta.node_id, num_units: meta.num_units, regions: &regions };
    let proved = match pool.install(|| prover.prove(&target)) {
        Ok(proved) => proved,
        Err(Error::Cancelled) => {
            eprintln!("prove: cancelled");
            return Ok(ExitCode::from(EXIT_INTERRUPTED));
        }
        Err(e) => return Err(e.into()),
    };

    // Step 5.
    let json = proved.proof.to_json_pretty();
    match &args.out {
        Some(path) => {
            std::fs::write(path, format!("{json}\n")).with_context(|| format!("writing {}", path.display()))?
        }
        None => println!("{json}"),
    }
    let scan = proved.scan_time.as_secs_f64();
    eprintln!(
        "prove: RandomX {} init {:.2} s; k2pow {:.2} s; scan {:.2} s ({:.2} GiB in {} pass(es), {:.3} GiB/s); total {:.2} s",
        mode.name(),
        randomx_init.as_secs_f64(),
        proved.pow_time.as_secs_f64(),
        scan,
        proved.bytes_scanned as f64 / GIB,
        proved.passes,
        proved.bytes_scanned as f64 / GIB / scan.max(1e-9),
        clock.elapsed().as_secs_f64(),
    );
    eprintln!("prove: nonce {}, pow {}, indices {:?}", proved.nonce.0, proved.proof.pow, proved.indices);
    Ok(ExitCode::SUCCESS)
}

const GIB: f64 = (1u64 << 30) as f64;

/// Expected RandomX hashes for one nonce group: 2^64 over the top 64 bits of the scaled threshold.
fn expected_hashes(pow_difficulty: &[u8; 32], num_units: u32) -> anyhow::Result<f64> {
    let threshold = scale_pow_difficulty(pow_difficulty, num_units)?;
    let mut top = [0u8; 8];
    top.copy_from_slice(&threshold[..8]);
    Ok(2f64.powi(64) / (u64::from_be_bytes(top) as f64 + 1.0))
}

/// Logs proof-of-work steps and, every few seconds, the scan's progress.
fn report(last: &Mutex<Instant>, p: &Progress) {
    match p.phase {
        Phase::K2Pow if p.done > 0 => tracing::info!(
            "prove: pass {} k2pow {}/{} groups (nonces {}..{})",
            p.pass,
            p.done,
            p.total,
            p.first_nonce,
            p.first_nonce + p.nonces
        ),
        Phase::K2Pow => {}
        Phase::Scanning => {
            let mut last = last.lock();
            if last.elapsed() >= LOG_EVERY {
                *last = Instant::now();
                tracing::info!(
                    "prove: pass {} scanned {:.2} of {:.2} GiB ({:.0}%)",
                    p.pass,
                    p.done as f64 / GIB,
                    p.total as f64 / GIB,
                    p.done as f64 * 100.0 / p.total.max(1) as f64
                );
            }
        }
    }
}

/// A cancel token set by Ctrl-C or SIGTERM; a second signal exits at once.
fn cancel_on_ctrl_c() -> anyhow::Result<CancelToken> {
    let token = CancelToken::new();
    let handler_token = token.clone();
    ctrlc::set_handler(move || {
        if handler_token.is_cancelled() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("prove: stopping (press Ctrl-C again to quit at once)");
        handler_token.cancel();
    })
    .context("installing the Ctrl-C handler")?;
    Ok(token)
}
