//! The one state of a running service, shared by the node stream, the prover thread and the operator API
//! (none of them keeps a copy of its own).
//!
//! ```text
//! job:        Idle -> Proving(challenge) -> Done(challenge, proof) -> Proving(other challenge) ...
//!                                        -> Failed(challenge)     -> Idle (after one ERROR answer)
//! connection: Starting -> Connecting -> Registered -> Disconnected -> Connecting ...
//! ```
//! Every change of the job slot is logged by whoever makes it; the slot is only ever touched under the
//! lock, for a few microseconds, so a poll from the node never waits behind proving.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use post_core::Challenge;
use post_core::ProofRecord;
use post_proof::{CancelToken, JobPhase, JobProgress};
use serde::Serialize;

/// Where the proof for the node stands.
#[derive(Debug, Clone)]
pub enum JobSlot {
    /// Nothing asked, or the last proof was fetched or failed and answered.
    Idle,
    /// The prover thread works on (or is about to start) this challenge.
    Proving {
        /// The node's challenge.
        challenge: Challenge,
        /// Stops the job when the node moves to another challenge or the service stops.
        cancel: CancelToken,
        /// The job's latest progress, once it reported any.
        progress: Option<JobProgress>,
        /// When the node first asked.
        since: Instant,
    },
    /// A verified proof, kept until the node asks for another challenge.
    Done {
        /// The challenge it answers.
        challenge: Challenge,
        /// The proof and its metadata.
        record: Arc<ProofRecord>,
        /// Whether it was sent to the node at least once.
        fetched: bool,
    },
    /// The job failed; the next request for this challenge gets ERROR once, the one after retries.
    Failed {
        /// The challenge it was for.
        challenge: Challenge,
    },
}

/// The stream to the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Checks and set-up before the first dial.
    Starting,
    /// Dialling or waiting to dial again.
    Connecting,
    /// Register accepted; answering the node's requests.
    Registered,
    /// The last stream ended; waiting for the reconnect interval.
    Disconnected,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    /// Requests from the node, of any kind.
    pub requests: u64,
    /// Metadata answers.
    pub metadata_answers: u64,
    /// Proofs sent (a proof sent again after a lost reply counts again).
    pub proofs_sent: u64,
    /// ERROR answers.
    pub error_answers: u64,
    /// Successful connections.
    pub connects: u64,
    /// Failed connection attempts.
    pub connect_failures: u64,
    /// Proofs finished.
    pub proofs_finished: u64,
    /// Jobs that failed.
    pub jobs_failed: u64,
    /// The slowest answer to a request so far, in microseconds.
    pub max_answer_micros: u64,
}

#[derive(Debug)]
struct Inner {
    job: JobSlot,
    connection: ConnectionState,
    last_request: Option<SystemTime>,
    last_error: Option<String>,
    counters: Counters,
    /// The RandomX dataset build of a challenge: (challenge, items done, items in total).
    dataset: Option<(Challenge, u64, u64)>,
}

/// The shared state (see the module doc).
#[derive(Debug)]
pub struct ServiceState {
    inner: Mutex<Inner>,
}

impl Default for ServiceState {
    fn default() -> Self {
        Self::new()
    }
}

impl ServiceState {
    /// An idle service that has not dialled yet.
    pub fn new() -> Self {
        ServiceState {
            inner: Mutex::new(Inner {
                job: JobSlot::Idle,
                connection: ConnectionState::Starting,
                last_request: None,
                last_error: None,
                counters: Counters::default(),
                dataset: None,
            }),
        }
    }

    /// Runs `f` on the job slot under the lock.
    pub fn with_job<R>(&self, f: impl FnOnce(&mut JobSlot) -> R) -> R {
        f(&mut self.inner.lock().job)
    }

    /// A copy of the job slot.
    pub fn job(&self) -> JobSlot {
        self.inner.lock().job.clone()
    }

    /// Records a request from the node.
    pub fn request_received(&self) {
        let mut inner = self.inner.lock();
        inner.last_request = Some(SystemTime::now());
        inner.counters.requests += 1;
    }

    /// Records how long an answer took.
    pub fn answered_in(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let mut inner = self.inner.lock();
        inner.counters.max_answer_micros = inner.counters.max_answer_micros.max(micros);
    }

    /// Updates the counters.
    pub fn count(&self, f: impl FnOnce(&mut Counters)) {
        f(&mut self.inner.lock().counters);
    }

    /// Sets the connection state.
    pub fn set_connection(&self, state: ConnectionState) {
        self.inner.lock().connection = state;
    }

    /// Remembers the last error (shown by `/status/detail`).
    pub fn set_error(&self, error: String) {
        self.inner.lock().last_error = Some(error);
    }

    /// Stores the job's progress when the slot still holds that challenge.
    pub fn progress(&self, for_challenge: &Challenge, p: &JobProgress) {
        if let JobSlot::Proving { challenge, progress, .. } = &mut self.inner.lock().job {
            if challenge == for_challenge {
                *progress = Some(p.clone());
            }
        }
    }

    /// Records the progress of the RandomX dataset build for `challenge` (fast mode).
    pub fn dataset_progress(&self, challenge: &Challenge, done: u64, total: u64) {
        self.inner.lock().dataset = Some((*challenge, done, total));
    }

    /// The reference's `GET /status` answer.
    pub fn operator_status(&self, nonces_per_pass: u32) -> OperatorStatus {
        match &self.inner.lock().job {
            JobSlot::Idle | JobSlot::Failed { .. } | JobSlot::Done { fetched: true, .. } => OperatorStatus::Idle,
            JobSlot::Done { fetched: false, .. } => OperatorStatus::DoneProving,
            JobSlot::Proving { progress, .. } => match progress {
                Some(p) => OperatorStatus::Proving {
                    nonces: NonceRange { start: p.nonces.start, end: p.nonces.end },
                    position: p.bytes_done,
                },
                None => OperatorStatus::Proving { nonces: NonceRange { start: 0, end: nonces_per_pass }, position: 0 },
            },
        }
    }

    /// Everything `GET /status/detail` shows.
    pub fn detail(&self) -> StatusDetail {
        let inner = self.inner.lock();
        let mut detail = StatusDetail {
            state: "idle",
            phase: None,
            pass: None,
            nonces: None,
            groups_done: None,
            groups_total: None,
            bytes_scanned: None,
            bytes_total: None,
            bytes_per_sec: None,
            eta_seconds: None,
            randomx_dataset_percent: None,
            proving_for_seconds: None,
            challenge: None,
            last_error: inner.last_error.clone(),
            connection: inner.connection,
            last_node_request_unix: inner
                .last_request
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
                .map(|d| d.as_secs_f64()),
            last_node_request_seconds_ago: inner.last_request.and_then(|t| t.elapsed().ok()).map(|d| d.as_secs_f64()),
        };
        match &inner.job {
            JobSlot::Idle => {}
            JobSlot::Proving { challenge, progress, since, .. } => {
                detail.state = "proving";
                detail.challenge = Some(hex::encode(challenge.as_bytes()));
                detail.proving_for_seconds = Some(since.elapsed().as_secs_f64());
                detail.phase = Some("starting");
                if let Some((_, done, total)) = inner.dataset.filter(|(c, _, _)| c == challenge) {
                    detail.randomx_dataset_percent = Some(done as f64 * 100.0 / total.max(1) as f64);
                    if done < total {
                        detail.phase = Some("randomx_dataset");
                    }
                }
                if let Some(p) = progress {
                    detail.phase = Some(phase_name(p.phase));
                    detail.pass = Some(p.pass);
                    detail.nonces = Some(NonceRange { start: p.nonces.start, end: p.nonces.end });
                    detail.groups_done = Some(p.groups_done);
                    detail.groups_total = Some(p.groups_total);
                    detail.bytes_scanned = Some(p.bytes_done);
                    detail.bytes_total = Some(p.bytes_total);
                    detail.bytes_per_sec = Some(p.bytes_per_sec);
                    detail.eta_seconds = p.eta.map(|d| d.as_secs_f64());
                }
            }
            JobSlot::Done { challenge, fetched, .. } => {
                detail.state = if *fetched { "done_sent" } else { "done" };
                detail.phase = Some("done");
                detail.challenge = Some(hex::encode(challenge.as_bytes()));
            }
            JobSlot::Failed { challenge } => {
                detail.state = "failed";
                detail.phase = Some("failed");
                detail.challenge = Some(hex::encode(challenge.as_bytes()));
            }
        }
        detail
    }

    /// The Prometheus text of `GET /metrics`.
    pub fn metrics(&self) -> String {
        let inner = self.inner.lock();
        let c = &inner.counters;
        let (proving, done, bytes_done, bytes_total, groups_done) = match &inner.job {
            JobSlot::Proving { progress, .. } => (
                1,
                0,
                progress.as_ref().map_or(0, |p| p.bytes_done),
                progress.as_ref().map_or(0, |p| p.bytes_total),
                progress.as_ref().map_or(0, |p| p.groups_done),
            ),
            JobSlot::Done { .. } => (0, 1, 0, 0, 0),
            _ => (0, 0, 0, 0, 0),
        };
        let registered = u8::from(inner.connection == ConnectionState::Registered);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, value: String| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"));
        };
        metric(
            "post_service_node_requests_total",
            "counter",
            "Requests received from the node.",
            c.requests.to_string(),
        );
        metric(
            "post_service_metadata_answers_total",
            "counter",
            "Metadata answers sent.",
            c.metadata_answers.to_string(),
        );
        metric("post_service_proofs_sent_total", "counter", "Proofs sent to the node.", c.proofs_sent.to_string());
        metric("post_service_error_answers_total", "counter", "ERROR answers sent.", c.error_answers.to_string());
        metric("post_service_connects_total", "counter", "Successful connections to the node.", c.connects.to_string());
        metric(
            "post_service_connect_failures_total",
            "counter",
            "Failed connection attempts.",
            c.connect_failures.to_string(),
        );
        metric("post_service_proofs_finished_total", "counter", "Proofs finished.", c.proofs_finished.to_string());
        metric("post_service_jobs_failed_total", "counter", "Proof jobs that failed.", c.jobs_failed.to_string());
        metric(
            "post_service_max_answer_seconds",
            "gauge",
            "The slowest answer to a node request.",
            format!("{:.6}", c.max_answer_micros as f64 / 1e6),
        );
        metric("post_service_registered", "gauge", "1 while registered with the node.", registered.to_string());
        metric("post_service_proving", "gauge", "1 while a proof is being computed.", proving.to_string());
        metric("post_service_proof_ready", "gauge", "1 while a finished proof is kept.", done.to_string());
        metric(
            "post_service_pass_bytes_scanned",
            "gauge",
            "Bytes scanned in the current pass.",
            bytes_done.to_string(),
        );
        metric("post_service_pass_bytes_total", "gauge", "Bytes of one pass.", bytes_total.to_string());
        metric("post_service_k2pow_groups_done", "gauge", "k2pow groups done in this pass.", groups_done.to_string());
        out
    }
}

fn phase_name(phase: JobPhase) -> &'static str {
    match phase {
        JobPhase::K2Pow => "k2pow",
        JobPhase::Scanning => "scanning",
        JobPhase::Verifying => "verifying",
        JobPhase::Done => "done",
        JobPhase::Failed => "failed",
    }
}

/// A nonce range as the reference writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NonceRange {
    /// The first nonce.
    pub start: u32,
    /// One past the last nonce.
    pub end: u32,
}

/// `GET /status`: exactly the reference's three shapes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum OperatorStatus {
    /// `"Idle"`.
    Idle,
    /// `{"Proving":{"nonces":{"start":S,"end":E},"position":B}}`.
    Proving {
        /// The current pass's nonces.
        nonces: NonceRange,
        /// Bytes scanned in this pass.
        position: u64,
    },
    /// `"DoneProving"`: a proof is ready and has not been fetched.
    DoneProving,
}

/// `GET /status/detail`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusDetail {
    /// idle, proving, done, done_sent or failed.
    pub state: &'static str,
    /// starting, k2pow, scanning, verifying, done or failed.
    pub phase: Option<&'static str>,
    /// The pass over the data (from 0).
    pub pass: Option<u32>,
    /// The pass's nonces.
    pub nonces: Option<NonceRange>,
    /// k2pow groups done in this pass.
    pub groups_done: Option<u32>,
    /// k2pow groups of a pass.
    pub groups_total: Option<u32>,
    /// Bytes scanned in this pass.
    pub bytes_scanned: Option<u64>,
    /// Bytes of one pass.
    pub bytes_total: Option<u64>,
    /// Scan rate.
    pub bytes_per_sec: Option<f64>,
    /// Estimated seconds left in this pass.
    pub eta_seconds: Option<f64>,
    /// How much of the fast RandomX dataset of this proof is built.
    pub randomx_dataset_percent: Option<f64>,
    /// Seconds since the node asked for this challenge.
    pub proving_for_seconds: Option<f64>,
    /// The challenge, hex.
    pub challenge: Option<String>,
    /// The last error seen (job or connection).
    pub last_error: Option<String>,
    /// The stream to the node.
    pub connection: ConnectionState,
    /// When the node last sent a request (unix seconds).
    pub last_node_request_unix: Option<f64>,
    /// How long ago that was.
    pub last_node_request_seconds_ago: Option<f64>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operator_status_has_the_reference_shapes() {
        let json = |s: &OperatorStatus| serde_json::to_string(s).unwrap();
        assert_eq!(json(&OperatorStatus::Idle), r#""Idle""#);
        assert_eq!(json(&OperatorStatus::DoneProving), r#""DoneProving""#);
        let proving = OperatorStatus::Proving { nonces: NonceRange { start: 0, end: 128 }, position: 4096 };
        assert_eq!(json(&proving), r#"{"Proving":{"nonces":{"start":0,"end":128},"position":4096}}"#);
    }

    #[test]
    fn fetched_proof_reads_as_idle_and_failure_as_idle() {
        let state = ServiceState::new();
        assert_eq!(state.operator_status(128), OperatorStatus::Idle);
        state.with_job(|job| *job = JobSlot::Failed { challenge: Challenge([1; 32]) });
        assert_eq!(state.operator_status(128), OperatorStatus::Idle);
        state.with_job(|job| {
            *job = JobSlot::Proving {
                challenge: Challenge([1; 32]),
                cancel: CancelToken::new(),
                progress: None,
                since: Instant::now(),
            }
        });
        assert_eq!(
            state.operator_status(64),
            OperatorStatus::Proving { nonces: NonceRange { start: 0, end: 64 }, position: 0 }
        );
        assert!(state.metrics().contains("post_service_proving 1\n"));
        assert_eq!(state.detail().state, "proving");
    }
}
