//! The k2pow service (spec §8): an HTTP worker that runs one RandomX proof-of-work search at a time for
//! proving services that offload it, usually many workers behind a load balancer.
//!
//! ```text
//! GET /job/{miner}/{nonce_group}/{challenge}/{difficulty}
//!   shutting down                          -> 503
//!   path does not parse                    -> 400 + reason
//!   result kept (bounded cache)            -> 200 + decimal pow | 500 + reason (sticky for that job)
//!   this job accepted or running           -> 201
//!   another job accepted or running        -> 429
//!   idle                                   -> accept the job, 201
//! GET /         -> 200 (liveness; 503 once shutting down)
//! GET /metrics  -> Prometheus text
//! ```
//!
//! Better than the reference worker, same wire:
//! 1. The proof-of-work backend (RandomX cache, and the 2 GiB dataset in fast mode) is built **once**, on
//!    the worker thread right after start, and serves every job; requests are answered meanwhile (a job
//!    accepted before the backend is ready starts when it is).
//! 2. Results live in a bounded cache (count and age) instead of forever.
//! 3. The search runs on a dedicated thread with its own rayon pool, never on the async runtime. A job
//!    that fails or panics answers 500 and the worker takes the next one.
//! 4. On shutdown, jobs answer 503, the running search is cancelled, and the server stops once the
//!    worker has let go of it.

mod results;
mod worker;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use parking_lot::{Condvar, Mutex};
use post_core::CancelToken;
use post_proof::PowProver;
use tokio::sync::oneshot;

use crate::metrics::{MetricsText, CONTENT_TYPE};
use crate::{Error, K2PowJobKey};
use results::ResultCache;

/// Builds the proof-of-work backend; called once, on the worker thread, when the service starts.
pub type PowProverFactory = Box<dyn FnOnce() -> Result<Arc<dyn PowProver>, post_proof::Error> + Send>;

/// How the k2pow service runs.
#[derive(Debug, Clone)]
pub struct K2PowServiceConfig {
    /// Threads of the search's rayon pool (0 = one per core).
    pub threads: usize,
    /// Finished results kept, at most (older ones are dropped first).
    pub result_cache_size: usize,
    /// How long a finished result is kept.
    pub result_cache_age: Duration,
    /// How long shutdown waits for the cancelled search to return before the server stops anyway.
    pub shutdown_grace: Duration,
}

impl Default for K2PowServiceConfig {
    fn default() -> Self {
        Self {
            threads: 0,
            result_cache_size: 1024,
            result_cache_age: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// Serves the k2pow routes on `listener` until `shutdown` completes.
///
/// The backend is built by `factory` on the worker thread; a failure there stops the service with an
/// error.
///
/// # Errors
/// [`Error::Runtime`] when the worker thread cannot start, [`Error::Backend`] when the factory fails or
/// panics, [`Error::Serve`] when the HTTP server fails.
pub async fn serve_k2pow<F>(
    listener: tokio::net::TcpListener,
    config: K2PowServiceConfig,
    factory: PowProverFactory,
    shutdown: F,
) -> Result<(), Error>
where
    F: Future<Output = ()> + Send + 'static,
{
    let address = listener.local_addr().map_err(|source| Error::Runtime { what: "the k2pow listener", source })?;
    let shared = Arc::new(Shared::new(&config));
    let (ready_tx, ready_rx) = oneshot::channel();
    let worker = worker::spawn(shared.clone(), config.threads, factory, ready_tx)
        .map_err(|source| Error::Runtime { what: "the k2pow worker thread", source })?;

    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let app = router(shared.clone());
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.await;
            })
            .await
    });

    let mut failure = None;
    tokio::select! {
        () = shutdown => tracing::info!("k2pow service shutting down: new jobs get 503, the running one is cancelled"),
        Ok(Err(reason)) = ready_rx => failure = Some(Error::Backend { message: reason }),
        joined = &mut server => return server_result(address, joined),
    }

    shared.drain();
    let join = tokio::task::spawn_blocking(move || worker.join());
    if tokio::time::timeout(config.shutdown_grace, join).await.is_err() {
        tracing::warn!("the k2pow worker did not stop within {:?}; stopping the server anyway", config.shutdown_grace);
    }
    let _ = stop_tx.send(());
    let served = server_result(address, server.await);
    match failure {
        Some(error) => Err(error),
        None => served,
    }
}

fn server_result(
    address: std::net::SocketAddr,
    joined: Result<std::io::Result<()>, tokio::task::JoinError>,
) -> Result<(), Error> {
    match joined {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(Error::Serve { address, source }),
        Err(e) => Err(Error::Serve { address, source: std::io::Error::other(e.to_string()) }),
    }
}

/// State shared by the HTTP handlers and the worker thread.
#[derive(Debug)]
pub(crate) struct Shared {
    state: Mutex<JobState>,
    wake: Condvar,
    metrics: Metrics,
}

#[derive(Debug)]
struct JobState {
    /// The job accepted last and not finished: waiting for the worker, or running.
    current: Option<CurrentJob>,
    results: ResultCache,
    draining: bool,
}

#[derive(Debug)]
struct CurrentJob {
    key: K2PowJobKey,
    cancel: CancelToken,
    /// Whether the worker has picked it up.
    taken: bool,
}

/// Counters read by `GET /metrics`.
#[derive(Debug, Default)]
struct Metrics {
    requests_created: AtomicU64,
    requests_ok: AtomicU64,
    requests_busy: AtomicU64,
    requests_failed: AtomicU64,
    requests_bad: AtomicU64,
    requests_unavailable: AtomicU64,
    jobs_started: AtomicU64,
    jobs_finished: AtomicU64,
    jobs_failed: AtomicU64,
    jobs_panicked: AtomicU64,
    hashes: AtomicU64,
    /// f64 bits: the estimated hash rate of the last finished job.
    last_rate_bits: AtomicU64,
    /// Milliseconds spent searching, over all jobs.
    busy_ms: AtomicU64,
    busy: AtomicBool,
    ready: AtomicBool,
    backend_builds: AtomicU64,
    /// f64 bits: seconds the backend took to build.
    backend_build_seconds_bits: AtomicU64,
}

impl Shared {
    fn new(config: &K2PowServiceConfig) -> Self {
        Self {
            state: Mutex::new(JobState {
                current: None,
                results: ResultCache::new(config.result_cache_size, config.result_cache_age),
                draining: false,
            }),
            wake: Condvar::new(),
            metrics: Metrics::default(),
        }
    }

    /// Refuses new jobs, cancels the running one and wakes the worker so that it stops.
    fn drain(&self) {
        let mut state = self.state.lock();
        state.draining = true;
        if let Some(current) = &state.current {
            current.cancel.cancel();
        }
        self.wake.notify_all();
    }

    /// Answers a job request (the table at the top of this file).
    fn request(&self, key: K2PowJobKey) -> Response {
        let m = &self.metrics;
        let mut state = self.state.lock();
        if state.draining {
            m.requests_unavailable.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::SERVICE_UNAVAILABLE, "the k2pow service is shutting down\n").into_response();
        }
        match state.results.get(&key, Instant::now()) {
            Some(Ok(pow)) => {
                m.requests_ok.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::OK, pow.to_string()).into_response();
            }
            Some(Err(reason)) => {
                m.requests_failed.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::INTERNAL_SERVER_ERROR, reason).into_response();
            }
            None => {}
        }
        match &state.current {
            Some(current) if current.key == key => {
                m.requests_created.fetch_add(1, Ordering::Relaxed);
                StatusCode::CREATED.into_response()
            }
            Some(_) => {
                m.requests_busy.fetch_add(1, Ordering::Relaxed);
                StatusCode::TOO_MANY_REQUESTS.into_response()
            }
            None => {
                state.current = Some(CurrentJob { key, cancel: CancelToken::new(), taken: false });
                self.wake.notify_all();
                m.requests_created.fetch_add(1, Ordering::Relaxed);
                StatusCode::CREATED.into_response()
            }
        }
    }

    fn metrics_page(&self) -> String {
        let m = &self.metrics;
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
        let flag = |b: &AtomicBool| if b.load(Ordering::Relaxed) { 1.0 } else { 0.0 };
        let cached = self.state.lock().results.len() as f64;
        MetricsText::default()
            .labelled(
                "k2pow_requests_total",
                "counter",
                "Job requests by answer.",
                "code",
                &[
                    ("200", load(&m.requests_ok)),
                    ("201", load(&m.requests_created)),
                    ("400", load(&m.requests_bad)),
                    ("429", load(&m.requests_busy)),
                    ("500", load(&m.requests_failed)),
                    ("503", load(&m.requests_unavailable)),
                ],
            )
            .metric("k2pow_jobs_started_total", "counter", "Searches started.", load(&m.jobs_started))
            .metric("k2pow_jobs_finished_total", "counter", "Searches that found a pow.", load(&m.jobs_finished))
            .metric(
                "k2pow_jobs_failed_total",
                "counter",
                "Searches that failed (panics included).",
                load(&m.jobs_failed),
            )
            .metric("k2pow_jobs_panicked_total", "counter", "Searches that panicked.", load(&m.jobs_panicked))
            .metric(
                "k2pow_hashes_total",
                "counter",
                "Hashes computed by finished searches, at least (the search runs from 0 up: pow + 1 per job).",
                load(&m.hashes),
            )
            .metric(
                "k2pow_hashes_per_second",
                "gauge",
                "Hash rate of the last finished search, at least (from the hashes above).",
                f64::from_bits(m.last_rate_bits.load(Ordering::Relaxed)),
            )
            .metric("k2pow_busy_seconds_total", "counter", "Time spent searching.", load(&m.busy_ms) / 1000.0)
            .metric("k2pow_busy", "gauge", "1 while a search runs.", flag(&m.busy))
            .metric("k2pow_ready", "gauge", "1 once the proof-of-work backend is built.", flag(&m.ready))
            .metric(
                "k2pow_backend_builds_total",
                "counter",
                "Times the proof-of-work backend (RandomX cache or dataset) was built; 1 for the life of the process.",
                load(&m.backend_builds),
            )
            .metric(
                "k2pow_backend_build_seconds",
                "gauge",
                "Seconds the backend took to build.",
                f64::from_bits(m.backend_build_seconds_bits.load(Ordering::Relaxed)),
            )
            .metric("k2pow_result_cache_entries", "gauge", "Finished results kept.", cached)
            .finish()
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(liveness))
        .route("/metrics", get(metrics))
        .route("/job/{*rest}", get(job))
        .with_state(shared)
}

async fn job(State(shared): State<Arc<Shared>>, Path(rest): Path<String>) -> Response {
    let parts: Vec<&str> = rest.split('/').collect();
    let parsed = match parts.as_slice() {
        [miner, group, challenge, difficulty] => K2PowJobKey::parse(miner, group, challenge, difficulty),
        _ => Err(format!(
            "expected /job/{{miner}}/{{nonce_group}}/{{challenge}}/{{difficulty}}, got {} segments",
            parts.len()
        )),
    };
    match parsed {
        Ok(key) => shared.request(key),
        Err(reason) => {
            shared.metrics.requests_bad.fetch_add(1, Ordering::Relaxed);
            (StatusCode::BAD_REQUEST, reason).into_response()
        }
    }
}

/// 200 while jobs are taken, 503 once shutting down, so that a load balancer's health check stops
/// sending work before the process is gone.
async fn liveness(State(shared): State<Arc<Shared>>) -> Response {
    if shared.state.lock().draining {
        (StatusCode::SERVICE_UNAVAILABLE, "k2pow service shutting down\n").into_response()
    } else {
        (StatusCode::OK, "k2pow service\n").into_response()
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], shared.metrics_page()).into_response()
}
