//! The prover thread: runs the proof job for the challenge the node asked for, off the request path.
//!
//! ```text
//! 1. wait for Start(challenge, cancel) from the request handler
//! 2. drop the persisted jobs of every other challenge (the node moved on: spec §6, "until the node asks
//!    for a different challenge")
//! 3. open the job (a persisted one resumes: k2pow groups and scan position are not recomputed; a
//!    finished one is answered at once)
//! 4. set RandomX up (fast: the 2 GiB dataset, tens of seconds) or use the remote k2pow client, and light
//!    RandomX for the self-check; both are dropped after the job, so an idle service holds no dataset
//! 5. run the job on the service's thread pool (niced, so the threads answering the node always get a core); its
//!    progress goes into the shared state
//! 6. Done(proof) or Failed into the slot, when the slot still belongs to this challenge (a cancelled job
//!    leaves it to the challenge that replaced it)
//! ```

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use post_core::{Challenge, PostData, ScryptParams};
use post_proof::{
    remove_jobs_except, AesBackend, CancelToken, Error as ProofError, JobParams, PowProver, PowVerifier, ProofJob,
    RandomXMode, RandomXPow,
};

use crate::service_state::{JobSlot, ServiceState};
use crate::Error;

/// How many threads prove, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProvingThreads {
    /// This many threads (0: one per core).
    Count(usize),
    /// One thread pinned to each of these cores.
    Pinned(Vec<usize>),
}

/// Where k2pow nonces come from.
#[derive(Clone)]
pub enum PowSource {
    /// RandomX on this machine, in this mode.
    Local(RandomXMode),
    /// Another prover, e.g. the remote k2pow client.
    Given(Arc<dyn PowProver>),
}

impl std::fmt::Debug for PowSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PowSource::Local(mode) => write!(f, "Local({})", mode.name()),
            PowSource::Given(pow) => write!(f, "Given({})", pow.name()),
        }
    }
}

/// The proving parameters of the service (spec §5: `--k1 --k2 --pow-difficulty --nonces -n -r -p`, the
/// threads and the RandomX mode).
#[derive(Debug, Clone)]
pub struct ProvingConfig {
    /// Expected good labels per nonce.
    pub k1: u32,
    /// Good labels in a proof.
    pub k2: u32,
    /// The k2pow difficulty for one unit.
    pub pow_difficulty: [u8; 32],
    /// Nonces per pass, a positive multiple of 16.
    pub nonces: u32,
    /// The scrypt parameters the data was written with (for the self-check).
    pub scrypt: ScryptParams,
    /// The proving threads.
    pub threads: ProvingThreads,
    /// The k2pow prover.
    pub pow: PowSource,
    /// How often the job saves its scan position ([`post_proof::CHECKPOINT_EVERY`] by default).
    pub checkpoint_every: std::time::Duration,
}

enum Command {
    Start { challenge: Challenge, cancel: CancelToken },
}

/// The handle of the prover thread: start jobs, stop the thread.
#[derive(Debug)]
pub struct ProverThread {
    commands: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Start { challenge, .. } => write!(f, "Start({})", hex::encode(challenge.as_bytes())),
        }
    }
}

impl ProverThread {
    /// Starts the thread, which owns the open data directory and the thread pool.
    ///
    /// # Errors
    /// [`Error::ThreadPool`] when the pool cannot be built, [`Error::Io`] when the thread cannot
    /// be spawned.
    pub fn spawn(data: PostData, config: ProvingConfig, state: Arc<ServiceState>) -> Result<Self, Error> {
        let pool = build_pool(&config.threads)?;
        let (commands, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("prover".into())
            .spawn(move || worker(&data, &config, &pool, &state, &rx))
            .map_err(|source| Error::Io { what: "starting the prover thread".into(), source })?;
        Ok(ProverThread { commands: Some(commands), thread: Some(thread) })
    }

    /// Asks the thread to prove `challenge` after whatever it is doing (cancel that first).
    pub fn start(&self, challenge: Challenge, cancel: CancelToken) {
        if let Some(tx) = &self.commands {
            // The thread lives as long as the handle; a send error means it died, which the join reports.
            let _ = tx.send(Command::Start { challenge, cancel });
        }
    }

    /// Stops the thread after the current job (which the caller cancels first) and waits for it.
    pub fn stop(&mut self) {
        self.commands = None;
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the prover thread panicked");
            }
        }
    }
}

impl Drop for ProverThread {
    fn drop(&mut self) {
        self.stop();
    }
}

fn build_pool(threads: &ProvingThreads) -> Result<rayon::ThreadPool, Error> {
    let builder = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("prove-{i}"));
    let builder = match threads {
        ProvingThreads::Count(n) => builder.num_threads(*n).start_handler(|_| lower_priority()),
        ProvingThreads::Pinned(cores) => {
            let cores = cores.clone();
            builder.num_threads(cores.len()).start_handler(move |i| {
                lower_priority();
                pin_to_core(cores[i]);
            })
        }
    };
    builder.build().map_err(|e| Error::ThreadPool { reason: e.to_string() })
}

/// How much nicer than the rest of the process the proving threads run (Linux): when proving takes every
/// core, the threads that answer the node still get the CPU at once.
const PROVING_NICENESS: i32 = 10;

/// Lowers the calling thread's scheduling priority by [`PROVING_NICENESS`] (Linux; elsewhere nothing).
/// Used by every thread that searches or scans, here and in the k2pow service.
pub(crate) fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid has no preconditions; setpriority on our own thread id reads no memory of ours.
        let ok = unsafe {
            let tid = libc::gettid();
            let current = libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t);
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, current + PROVING_NICENESS) == 0
        };
        if !ok {
            tracing::debug!("could not lower the priority of a proving thread");
        }
    }
}

/// Pins the calling thread to one core (Linux); elsewhere logs that pinning is not supported.
fn pin_to_core(core: usize) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET writes inside it (the core is below
        // CPU_SETSIZE, checked); sched_setaffinity reads it for the calling thread (pid 0).
        let ok = core < libc::CPU_SETSIZE as usize
            && unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(core, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
            };
        if !ok {
            tracing::warn!("could not pin a proving thread to core {core}");
        }
    }
    #[cfg(not(target_os = "linux"))]
    tracing::warn!("pinning to core {core} is only supported on Linux; the thread is not pinned");
}

fn worker(
    data: &PostData,
    config: &ProvingConfig,
    pool: &rayon::ThreadPool,
    state: &ServiceState,
    rx: &Receiver<Command>,
) {
    while let Ok(Command::Start { challenge, cancel }) = rx.recv() {
        if cancel.is_cancelled() {
            continue; // replaced before it started
        }
        let hex = hex::encode(challenge.as_bytes());
        match prove(data, config, pool, state, &challenge, &cancel) {
            Ok(record) => {
                let record = Arc::new(record);
                let stored = state.with_job(|job| match job {
                    JobSlot::Proving { challenge: c, .. } if *c == challenge => {
                        *job = JobSlot::Done { challenge, record, fetched: false };
                        true
                    }
                    _ => false,
                });
                if stored {
                    state.count(|c| c.proofs_finished += 1);
                }
            }
            Err(Error::Proof { source: ProofError::Cancelled }) => {
                tracing::info!("proof for challenge {hex} stopped; its progress is kept in the data directory");
            }
            Err(err) => {
                let text = err.to_string();
                tracing::error!("proof for challenge {hex} failed: {text}");
                state.set_error(format!("challenge {hex}: {text}"));
                state.count(|c| c.jobs_failed += 1);
                state.with_job(|job| {
                    if matches!(job, JobSlot::Proving { challenge: c, .. } if *c == challenge) {
                        *job = JobSlot::Failed { challenge };
                    }
                });
            }
        }
    }
}

/// Steps 2-5 of the module doc.
fn prove(
    data: &PostData,
    config: &ProvingConfig,
    pool: &rayon::ThreadPool,
    state: &ServiceState,
    challenge: &Challenge,
    cancel: &CancelToken,
) -> Result<post_core::ProofRecord, Error> {
    let hex = hex::encode(challenge.as_bytes());
    let clock = Instant::now();
    // Step 2.
    for removed in remove_jobs_except(data.dir(), Some(challenge))? {
        tracing::info!("removed the job of an earlier challenge: {}", removed.display());
    }
    // Step 3.
    let params = JobParams {
        challenge: *challenge,
        k1: config.k1,
        k2: config.k2,
        pow_difficulty: config.pow_difficulty,
        nonces: config.nonces,
        scrypt: config.scrypt,
        backend: AesBackend::detect(),
        checkpoint_every: config.checkpoint_every,
    };
    let mut job = ProofJob::open(data, params)?;
    if let Some(aside) = job.set_aside() {
        tracing::warn!("set aside an unusable job state as {}: {}", aside.path.display(), aside.reason);
    }
    tracing::info!("proof job for challenge {hex}: {:?}", job.start());
    if let Some(record) = job.finished() {
        tracing::info!("proof for challenge {hex} was already finished; answering it");
        return Ok(record.clone());
    }
    // Step 4.
    tracing::info!("proving challenge {hex}: setting up the proof of work ({config:?})", config = config.pow);
    // Light mode: one instance proves and verifies. Fast mode: the dataset is built on the pool,
    // cancellable (a replaced challenge or a shutdown does not wait for it), its progress logged.
    let last_logged = std::sync::atomic::AtomicU64::new(0);
    let setup_progress = |done: u64, total: u64| {
        state.dataset_progress(challenge, done, total);
        let tenth = done * 10 / total.max(1);
        if last_logged.fetch_max(tenth, std::sync::atomic::Ordering::Relaxed) < tenth {
            tracing::info!("proving challenge {hex}: RandomX dataset {}%", tenth * 10);
        }
    };
    let light = || RandomXPow::new_with(RandomXMode::Light, cancel, &|_, _| {});
    let (pow, verify): (Arc<dyn PowProver>, Arc<dyn PowVerifier>) = match &config.pow {
        PowSource::Local(RandomXMode::Light) => {
            let pow = Arc::new(pool.install(light)?);
            (pow.clone(), pow)
        }
        PowSource::Local(mode) => {
            let pow = Arc::new(pool.install(|| RandomXPow::new_with(*mode, cancel, &setup_progress))?);
            (pow, Arc::new(light()?))
        }
        PowSource::Given(pow) => (pow.clone(), Arc::new(light()?)),
    };
    if cancel.is_cancelled() {
        return Err(ProofError::Cancelled.into());
    }
    tracing::info!("proving challenge {hex}: proof of work ready after {:.2} s", clock.elapsed().as_secs_f64());
    // Step 5.
    let progress = |p: &post_proof::JobProgress| state.progress(challenge, p);
    let record = pool.install(|| job.run(&*pow, &*verify, cancel, &progress))?;
    let summary = job.summary();
    tracing::info!(
        "proof for challenge {hex} ready after {:.2} s: nonce {}, pow {}; {} pass(es), k2pow groups computed {}, \
         reused {}",
        clock.elapsed().as_secs_f64(),
        record.proof.nonce,
        record.proof.pow,
        summary.passes,
        summary.pows_computed,
        summary.pows_reused,
    );
    Ok(record)
}
