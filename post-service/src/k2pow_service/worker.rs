//! The k2pow worker thread: builds the proof-of-work backend once, then runs the accepted jobs one
//! after another on its own rayon pool, off the async runtime.
//!
//! ```text
//! 1. build the rayon pool (--cores threads) and the backend (factory, once); report ready or failed
//! 2. wait for an accepted job that nobody runs yet (or for draining: stop)
//! 3. search on the pool, catching a panic; measure time and estimated hashes; log one line
//! 4. keep the outcome in the result cache (not when cancelled by shutdown), free the slot, go to 2
//! ```

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use post_proof::PowJob;
use tokio::sync::oneshot;

use super::{PowProverFactory, Shared};
use crate::K2PowJobKey;

/// Starts the worker thread.
pub(super) fn spawn(
    shared: Arc<Shared>,
    threads: usize,
    factory: PowProverFactory,
    ready: oneshot::Sender<Result<(), String>>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name("k2pow-worker".into()).spawn(move || run(&shared, threads, factory, ready))
}

fn run(shared: &Shared, threads: usize, factory: PowProverFactory, ready: oneshot::Sender<Result<(), String>>) {
    // Step 1. The search runs niced, as proving does in the service: with every core hashing, the threads
    // that answer HTTP (job polls, /metrics, the liveness probe) still get the CPU at once. The pool's
    // threads are made (and lower themselves) before this thread does, so that none is lowered twice.
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("k2pow-{i}"))
        .start_handler(|_| crate::prover_thread::lower_priority())
        .build()
    {
        Ok(pool) => pool,
        Err(e) => {
            let _ = ready.send(Err(format!("cannot start the search threads: {e}")));
            return;
        }
    };
    crate::prover_thread::lower_priority();
    let started = Instant::now();
    let built = pool.install(|| catch_unwind(AssertUnwindSafe(factory)));
    let seconds = started.elapsed().as_secs_f64();
    let m = &shared.metrics;
    m.backend_builds.fetch_add(1, Ordering::Relaxed);
    m.backend_build_seconds_bits.store(seconds.to_bits(), Ordering::Relaxed);
    let prover = match built {
        Ok(Ok(prover)) => prover,
        Ok(Err(e)) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
        Err(panic) => {
            let _ = ready.send(Err(format!("the backend panicked while being built: {}", panic_text(&*panic))));
            return;
        }
    };
    tracing::info!(
        backend = %prover.name(),
        threads = pool.current_num_threads(),
        "k2pow backend ready in {seconds:.2} s; it serves every job from now on"
    );
    m.ready.store(true, Ordering::Relaxed);
    let _ = ready.send(Ok(()));

    while let Some((key, cancel)) = next_job(shared) {
        // Step 3.
        m.jobs_started.fetch_add(1, Ordering::Relaxed);
        m.busy.store(true, Ordering::Relaxed);
        let (group, challenge, miner, threshold) = key.job_parts();
        let job = PowJob { group, challenge: &challenge, miner: &miner, threshold: &threshold };
        let started = Instant::now();
        let searched = pool.install(|| catch_unwind(AssertUnwindSafe(|| prover.prove(&job, &cancel))));
        let elapsed = started.elapsed();
        m.busy.store(false, Ordering::Relaxed);
        m.busy_ms.fetch_add(elapsed.as_millis() as u64, Ordering::Relaxed);
        let outcome = match searched {
            Ok(Ok(pow)) => {
                let hashes = pow.saturating_add(1);
                let rate = hashes as f64 / elapsed.as_secs_f64().max(1e-9);
                m.jobs_finished.fetch_add(1, Ordering::Relaxed);
                m.hashes.fetch_add(hashes, Ordering::Relaxed);
                m.last_rate_bits.store(rate.to_bits(), Ordering::Relaxed);
                tracing::info!(
                    job = %key.path(),
                    pow,
                    "k2pow job done in {:.3} s, at least {hashes} hashes, {rate:.0} hashes/s",
                    elapsed.as_secs_f64()
                );
                Some(Ok(pow))
            }
            Ok(Err(post_proof::Error::Cancelled)) => {
                tracing::info!(job = %key.path(), "k2pow job cancelled after {:.3} s", elapsed.as_secs_f64());
                None
            }
            Ok(Err(e)) => {
                m.jobs_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(job = %key.path(), "k2pow job failed after {:.3} s: {e}", elapsed.as_secs_f64());
                Some(Err(e.to_string()))
            }
            Err(panic) => {
                m.jobs_failed.fetch_add(1, Ordering::Relaxed);
                m.jobs_panicked.fetch_add(1, Ordering::Relaxed);
                let reason = format!("the k2pow search panicked: {}", panic_text(&*panic));
                tracing::error!(job = %key.path(), "{reason}; the worker takes the next job");
                Some(Err(reason))
            }
        };
        // Step 4.
        let mut state = shared.state.lock();
        if let Some(outcome) = outcome {
            state.results.insert(key, outcome, Instant::now());
        }
        state.current = None;
    }
}

/// Step 2: blocks until there is a job to run; `None` when the service drains.
fn next_job(shared: &Shared) -> Option<(K2PowJobKey, post_core::CancelToken)> {
    let mut state = shared.state.lock();
    loop {
        if state.draining {
            return None;
        }
        if let Some(current) = state.current.as_mut().filter(|c| !c.taken) {
            current.taken = true;
            return Some((current.key, current.cancel.clone()));
        }
        shared.wake.wait(&mut state);
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_string()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(no message)".to_string()
    }
}
