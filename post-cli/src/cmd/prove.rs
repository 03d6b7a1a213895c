//! `post prove`: answer a challenge with a verified proof from a complete data directory, resuming
//! where an interrupted run stopped.
//!
//! 1. Open the directory under a shared lock (initializers wait; other provers may run); the preset is
//!    the one given or the one the metadata's labels per unit imply.
//! 2. Check before any long work: `--out` can be written, the metadata's identity matches the data (the
//!    first stored label recomputed), and the VRF nonce's label is below the VRF threshold.
//! 3. Open the proof job (`post_proof::ProofJob`): a saved state for this challenge and these
//!    parameters is resumed, any other is set aside; a finished proof is written at once.
//! 4. Build RandomX (`fast` when the proof of work needs many hashes); with `--deadline`, estimate the
//!    finish from a short scan and the RandomX rate and warn when it falls after the deadline.
//! 5. Run the job in a pool of `--threads` threads with a progress bar (log lines when stderr is not a
//!    terminal); Ctrl-C saves the state and exits 130.
//! 6. Write `{"proof", "metadata"}` to `--out` atomically (or stdout); if `--out` cannot be written at
//!    the end, the proof goes to stdout with a message (it also stays in the job's state file).

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use post_core::{
    commitment, vrf_difficulty, Challenge, LabelIndex, Layout, LockMode, PostData, PostMetadata, Preset, ProofRecord,
    ScryptParams,
};
use post_proof::{
    remove_jobs_except, AesBackend, CancelToken, Error, JobParams, JobStart, ProofJob, RandomXMode, RandomXPow,
    CHECKPOINT_EVERY,
};

use crate::exit::{EXIT_INTERRUPTED, EXIT_PROOF_NOT_WRITTEN};
use crate::prove_estimate::{self, Deadline};
use crate::prove_progress::ProveProgress;
use crate::thresholds::Thresholds;
use crate::util::{hex32, scrypt_n};

/// Expected RandomX hashes above which the fast mode pays for its dataset (about 40 s to build on one
/// core, then about ten times the light mode's rate).
const FAST_MODE_HASHES: f64 = 1000.0;

const GIB: f64 = (1u64 << 30) as f64;

fn randomx_mode(text: &str) -> Result<RandomXMode, String> {
    match text {
        "fast" => Ok(RandomXMode::Fast),
        "light" => Ok(RandomXMode::Light),
        other => Err(format!("{other:?} is not a RandomX mode; use fast or light")),
    }
}

fn aes_backend(text: &str) -> Result<AesBackend, String> {
    AesBackend::from_name(text)
        .ok_or_else(|| format!("unknown AES backend {text:?}; use vaes512, vaes256, aesni or portable"))
}

/// Generate a verified proof for a challenge. The job is saved in `<dir>/.post-proof/` as it goes: run
/// the same command again after Ctrl-C, a crash or a power cut and it continues where it stopped.
/// Writes `{"proof": {"nonce", "indices", "pow"}, "metadata": {…}}` to stdout or `--out`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The data directory (must be completely initialized).
    #[arg(long)]
    dir: PathBuf,
    /// The challenge, 64 hex digits.
    #[arg(long, value_parser = hex32, value_name = "HEX32", required_unless_present = "clean")]
    challenge: Option<[u8; 32]>,
    #[command(flatten)]
    thresholds: Thresholds,
    /// Nonces per pass over the data, a multiple of 16 (default: the preset's, 288 on the networks).
    #[arg(long)]
    nonces: Option<u32>,
    /// Threads for the proof of work and the scan (0 or none: all cores).
    #[arg(long)]
    threads: Option<u32>,
    /// RandomX mode for the proof of work: fast (2 GiB, slow to start, fast hashing) or light (256 MiB).
    /// Default: fast when the proof of work needs more than about a thousand hashes.
    #[arg(long, value_parser = randomx_mode, value_name = "fast|light")]
    randomx: Option<RandomXMode>,
    /// scrypt N of the labels, to check the data and the proof (default: the preset's).
    #[arg(long, value_parser = scrypt_n, value_name = "N")]
    scrypt_n: Option<ScryptParams>,
    /// AES kernel of the scan: vaes512, vaes256, aesni or portable (default: the fastest this CPU has).
    #[arg(long, value_parser = aes_backend)]
    aes: Option<AesBackend>,
    /// Write the proof here (atomically) instead of stdout. Checked before any work; if it still cannot
    /// be written at the end, the proof is printed on stdout with an error and exit code 4.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print a summary as one JSON object on stdout instead of the proof; requires --out (without it,
    /// a usage error, exit code 2), so that stdout never mixes the proof and the summary. If --out
    /// cannot be written at the end, the proof is printed on stdout before the summary (exit code 4).
    #[arg(long, requires = "out")]
    json: bool,
    /// Warn when the proof is not expected before this time: an RFC 3339 time (2026-12-03T20:00:00Z)
    /// or a duration from now (12h, 90min).
    #[arg(long, value_parser = prove_estimate::deadline)]
    deadline: Option<Deadline>,
    /// Remove every saved proof job of the directory (finished proofs included) and exit.
    #[arg(long, conflicts_with_all = ["challenge", "out", "json", "deadline"])]
    clean: bool,
    /// Seconds between saves of the scan's position.
    #[arg(long, default_value_t = CHECKPOINT_EVERY.as_secs_f64(), hide = true)]
    checkpoint_secs: f64,
}

/// Runs the subcommand.
///
/// # Errors
/// A directory that cannot be opened, is locked by a writer or is incomplete; data that does not match
/// its metadata; bad parameters; a RandomX failure; no proof below nonce 4096; a failure to write.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.clean {
        return clean(&args.dir);
    }
    let challenge = Challenge(args.challenge.context("--challenge is required")?);
    anyhow::ensure!(
        args.checkpoint_secs.is_finite() && args.checkpoint_secs > 0.0,
        "--checkpoint-secs {} is not positive",
        args.checkpoint_secs
    );

    // Step 1.
    let data = PostData::open(&args.dir, LockMode::Shared)?;
    data.require_complete().context("the data directory cannot be proven from")?;
    let meta = data.metadata().clone();
    let (preset, warning) = args.thresholds.preset_for(&meta);
    if let Some(warning) = warning {
        tracing::warn!("prove: {warning}");
    }
    if args.thresholds.preset.is_none() {
        match preset.init_config().labels_per_unit == meta.labels_per_unit {
            true => tracing::info!(
                "prove: preset {} inferred from the metadata's LabelsPerUnit {} (--preset chooses another)",
                preset.name(),
                meta.labels_per_unit
            ),
            false => tracing::info!(
                "prove: preset {} (the default: the metadata's LabelsPerUnit {} is no preset's; --preset chooses \
                 another)",
                preset.name(),
                meta.labels_per_unit
            ),
        }
    }
    let defaults = preset.proof_config();
    let scrypt = args.scrypt_n.unwrap_or(preset.init_config().scrypt);
    let params = JobParams {
        challenge,
        k1: args.thresholds.k1.unwrap_or(defaults.k1),
        k2: args.thresholds.k2.unwrap_or(defaults.k2),
        pow_difficulty: args.thresholds.pow_difficulty.unwrap_or(defaults.pow_difficulty),
        nonces: args.nonces.unwrap_or(preset.proving_nonces()),
        scrypt,
        backend: args.aes.unwrap_or_else(AesBackend::detect),
        checkpoint_every: Duration::from_secs_f64(args.checkpoint_secs),
    };

    // Step 2.
    if let Some(out) = &args.out {
        check_writable(out)?;
    }
    check_identity(&args.dir, &meta, data.layout(), scrypt, preset)?;

    // Step 3.
    let mut job = ProofJob::open(&data, params)?;
    crate::sigbus::install(job.mapped_ranges());
    if !job.is_saved() {
        tracing::warn!(
            "prove: {} is read-only: the job cannot be saved, so an interrupted run will start again from the \
             beginning",
            args.dir.display()
        );
    }
    if let Some(aside) = job.set_aside() {
        tracing::warn!("prove: set aside the saved job {} ({}); starting afresh", aside.path.display(), aside.reason);
    }
    match job.start() {
        JobStart::New => tracing::info!("prove: new job, state in {}", job.state_path().display()),
        JobStart::Resumed { pass, pows_saved, position, runs } => tracing::info!(
            "prove: resuming after {runs} earlier run(s): pass {pass}, {pows_saved} proof(s) of work kept, scan at \
             {:.2} of {:.2} GiB",
            (*position * 16) as f64 / GIB,
            meta.num_labels() as f64 * 16.0 / GIB
        ),
        JobStart::Retry { failure } => tracing::warn!("prove: the last run failed ({failure}); trying again"),
        JobStart::Finished => tracing::info!("prove: this challenge is already proven; writing the saved proof"),
    }
    let clock = Instant::now();
    if let Some(record) = job.finished().cloned() {
        return finish(&args, &job, &record, None, clock);
    }

    // Step 4.
    let groups = params.nonces.div_ceil(16);
    let hashes = prove_estimate::expected_hashes(&params.pow_difficulty, meta.num_units)? * f64::from(groups);
    let mode = args.randomx.unwrap_or(if hashes > FAST_MODE_HASHES { RandomXMode::Fast } else { RandomXMode::Light });
    let cancel = cancel_on_ctrl_c()?;
    let threads = crate::util::thread_count(args.threads.map(|t| t as usize));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("starting the thread pool")?;
    tracing::info!(
        "prove: {} ({} units, {:.2} GiB), preset {}, k1 {} k2 {}, {} nonces per pass, {threads} thread(s), AES {}, \
         RandomX {} (about {hashes:.0} hashes per pass)",
        args.dir.display(),
        meta.num_units,
        meta.num_labels() as f64 * 16.0 / GIB,
        preset.name(),
        params.k1,
        params.k2,
        params.nonces,
        params.backend.name(),
        mode.name(),
    );
    let randomx_clock = Instant::now();
    let built = {
        let progress = ProveProgress::new(None);
        let built = pool.install(|| {
            RandomXPow::new_with(mode, &cancel, &|done, total| progress.randomx(done, total, randomx_clock.elapsed()))
        });
        progress.finish();
        built
    };
    let pow = match built {
        Ok(pow) => pow,
        Err(Error::Cancelled) => return interrupted(&job),
        Err(e) => return Err(e.into()),
    };
    let randomx_init = randomx_clock.elapsed();
    tracing::info!("prove: RandomX {} ready in {:.1} s", mode.name(), randomx_init.as_secs_f64());
    let deadline = args.deadline.map(|d| d.at());
    if let Some(at) = deadline {
        let estimate = pool.install(|| prove_estimate::estimate(&data, &params, &pow, hashes))?;
        prove_estimate::warn_if_late(&estimate, at);
    }

    // Step 5.
    let progress = ProveProgress::new(deadline);
    let result = pool.install(|| job.run(&pow, &pow, &cancel, &|p| progress.report(p)));
    progress.finish();
    match result {
        Ok(record) => finish(&args, &job, &record, Some((mode, randomx_init)), clock),
        Err(Error::Cancelled) => interrupted(&job),
        Err(e @ Error::SelfCheck { .. }) => {
            tracing::error!("{e}");
            Ok(ExitCode::from(1))
        }
        Err(e) => Err(e.into()),
    }
}

/// Step 6, and the summary.
fn finish(
    args: &Args,
    job: &ProofJob,
    record: &ProofRecord,
    randomx: Option<(RandomXMode, Duration)>,
    clock: Instant,
) -> anyhow::Result<ExitCode> {
    let json = record.to_json_pretty();
    let mut code = ExitCode::SUCCESS;
    match &args.out {
        Some(path) => {
            if let Err(e) = write_atomically(path, &format!("{json}\n")) {
                println!("{json}");
                tracing::error!(
                    "could not write the proof to {}: {e:#}; it is printed on stdout instead and kept in {}",
                    path.display(),
                    job.state_path().display()
                );
                code = ExitCode::from(EXIT_PROOF_NOT_WRITTEN);
            }
        }
        None => println!("{json}"),
    }
    let s = job.summary();
    let scan_secs = s.scan.as_secs_f64();
    let gib_per_s = s.bytes_scanned as f64 / GIB / scan_secs.max(1e-9);
    let start = match job.start() {
        JobStart::New => "new",
        JobStart::Resumed { .. } => "resumed",
        JobStart::Retry { .. } => "retry",
        JobStart::Finished => "finished",
    };
    if args.json && args.out.is_some() {
        let summary = serde_json::json!({
            "out": args.out,
            "state_file": job.state_path(),
            "start": start,
            "runs": s.runs,
            "passes": s.passes,
            "randomx_mode": randomx.map(|(m, _)| m.name()),
            "randomx_init_seconds": randomx.map(|(_, t)| t.as_secs_f64()),
            "k2pow_seconds": s.k2pow.as_secs_f64(),
            "scan_seconds": scan_secs,
            "verify_seconds": s.verify.as_secs_f64(),
            "total_seconds": clock.elapsed().as_secs_f64(),
            "bytes_scanned": s.bytes_scanned,
            "scan_gib_per_second": gib_per_s,
            "pows_computed": s.pows_computed,
            "pows_reused": s.pows_reused,
            "nonce": record.proof.nonce,
            "pow": record.proof.pow,
        });
        println!("{summary}");
    }
    tracing::info!(
        "prove: done ({start}); k2pow {:.2} s, scan {scan_secs:.2} s ({:.2} GiB in {} pass(es), {gib_per_s:.3} GiB/s), \
         verify {:.2} s over {} run(s); {} proof(s) of work computed now, {} kept; this run {:.2} s",
        s.k2pow.as_secs_f64(),
        s.bytes_scanned as f64 / GIB,
        s.passes,
        s.verify.as_secs_f64(),
        s.runs,
        s.pows_computed,
        s.pows_reused,
        clock.elapsed().as_secs_f64(),
    );
    tracing::info!("prove: nonce {}, pow {}; verified over all indices", record.proof.nonce, record.proof.pow);
    Ok(code)
}

fn interrupted(job: &ProofJob) -> anyhow::Result<ExitCode> {
    match job.state_path().exists() {
        true => tracing::info!(
            "prove: stopped; the job is saved in {} — run the same command again to resume",
            job.state_path().display()
        ),
        // Stopped while RandomX was set up: no proving work was done, so there is nothing to save.
        false => tracing::info!("prove: stopped before any proving work; run the same command again to resume"),
    }
    Ok(ExitCode::from(EXIT_INTERRUPTED))
}

/// `--clean`: removes every saved job.
fn clean(dir: &Path) -> anyhow::Result<ExitCode> {
    let _data = PostData::open(dir, LockMode::Shared)?;
    let removed = remove_jobs_except(dir, None)?;
    for path in &removed {
        tracing::info!("prove: removed {}", path.display());
    }
    tracing::info!("prove: removed {} file(s) of saved proof jobs", removed.len());
    Ok(ExitCode::SUCCESS)
}

/// Creates and removes a file beside `out`, so that a proof that takes hours is not lost to a missing
/// folder or a read-only file system.
fn check_writable(out: &Path) -> anyhow::Result<()> {
    let probe = temp_beside(out);
    File::create(&probe)
        .and_then(|_| std::fs::remove_file(&probe))
        .with_context(|| format!("--out {} cannot be written (tried {})", out.display(), probe.display()))
}

fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().map_or_else(|| "proof".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `text` to `path` through a temporary file, fsync and rename.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let temp = temp_beside(path);
    let write = || -> std::io::Result<()> {
        let mut file = File::create(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })?;
    Ok(())
}

/// Step 2: one label recomputed for the metadata's identity, and the VRF nonce's label, before hours
/// of work are spent on data that cannot give a valid proof.
fn check_identity(
    dir: &Path,
    meta: &PostMetadata,
    layout: &Layout,
    scrypt: ScryptParams,
    preset: Preset,
) -> anyhow::Result<()> {
    let commitment = commitment(&meta.node_id, &meta.commitment_atx_id);
    let stored = |index: u64| -> anyhow::Result<[u8; 16]> {
        let (file, offset) = layout.locate(LabelIndex(index))?;
        let path = Layout::file_path(dir, file);
        let mut label = [0u8; 16];
        let f = File::open(&path).with_context(|| format!("{}", path.display()))?;
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut label, offset)
            .with_context(|| format!("{}: reading the label at byte {offset}", path.display()))?;
        Ok(label)
    };
    let first = post_oracle::label16(&commitment, scrypt, LabelIndex(0))?;
    if stored(0)? != first {
        anyhow::bail!(
            "the first label of {} does not match the metadata's NodeId and CommitmentAtxId with scrypt N = {} (preset \
             {}): the metadata was edited, the data was written for another identity or with another N (give \
             --scrypt-n), or the data is damaged (post verify-data)",
            Layout::file_path(dir, 0).display(),
            scrypt.n(),
            preset.name()
        );
    }
    let Some(nonce) = meta.nonce else {
        anyhow::bail!(
            "{} has no VRF nonce (Nonce): the node needs one with every proof; finish `post init` first",
            PostMetadata::path(dir).display()
        );
    };
    let full = post_oracle::label_full(&commitment, scrypt, LabelIndex(nonce))?;
    let threshold = vrf_difficulty(meta.num_labels())?;
    if full >= threshold {
        anyhow::bail!(
            "the VRF nonce (Nonce) {nonce} in {} is not valid for this data (its label is above the VRF threshold): the \
             metadata was edited or belongs to other data; `post init` with the same parameters finds it again",
            PostMetadata::path(dir).display()
        );
    }
    Ok(())
}

/// A cancel token set by Ctrl-C or SIGTERM; a second signal exits at once.
fn cancel_on_ctrl_c() -> anyhow::Result<CancelToken> {
    let token = CancelToken::new();
    let handler_token = token.clone();
    ctrlc::set_handler(move || {
        if handler_token.is_cancelled() {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        tracing::info!("prove: stopping and saving (press Ctrl-C again to quit at once)");
        handler_token.cancel();
    })
    .context("installing the Ctrl-C handler")?;
    Ok(token)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_sit_beside_the_target() {
        let temp = temp_beside(Path::new("/a/b/proof.json"));
        assert_eq!(temp.parent(), Some(Path::new("/a/b")));
        assert!(temp.file_name().is_some_and(|n| n.to_string_lossy().starts_with(".proof.json.tmp-")));
    }

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.json");
        std::fs::write(&path, "old").unwrap();
        assert!(write_atomically(&path, "new").is_ok());
        assert_eq!(std::fs::read_to_string(&path).ok().as_deref(), Some("new"));
        assert_eq!(std::fs::read_dir(dir.path()).map(|d| d.count()).ok(), Some(1));
        assert!(check_writable(&dir.path().join("missing/p.json")).is_err());
    }
}
