//! The certifier (spec §9): verifies a smesher's PoST with the strict verifier and signs a certificate
//! of its node id that a PoET accepts instead of a proof of work.
//!
//! ```text
//! POST /certify, JSON {"proof": {nonce, indices, pow}, "metadata": {node_id, commitment_atx_id, challenge, num_units}}
//!   1. a body over max_body_size (Content-Length or counted)        -> 413
//!   2. more than max_concurrent + max_pending requests in the house -> 429
//!   3. JSON that does not parse                                     -> 400 + reason
//!   4. wait for one of max_concurrent verification slots; verify every index and the k2pow
//!      (post_proof::Verifier, Mode::All) on a blocking thread
//!   5. invalid: a repeated index, an index beyond the data, units out of range, a bad pow, a bad label
//!                                                                   -> 403 + reason
//!   6. valid -> 200 {"certificate": b64 SCALE, "signature": b64 ed25519, "pub_key": b64}
//! GET /metrics on its own address when configured.
//! ```

mod certificate;
mod config;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use post_core::{Proof, ProofMetadata};
use post_proof::{Mode, RandomXPow, Verifier};
use tokio::sync::Semaphore;

pub use certificate::{Certificate, CertifierKeys};
pub use config::{parse_duration, CertifierConfig, DEFAULT_MAX_BODY_SIZE};

use crate::metrics::{MetricsText, CONTENT_TYPE};
use crate::Error;

/// A certifier with its verifier built (the RandomX cache or dataset is made once, here).
pub struct Certifier {
    app: Arc<App>,
}

impl std::fmt::Debug for Certifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certifier").field("config", &self.app.config).finish_non_exhaustive()
    }
}

struct App {
    config: CertifierConfig,
    verifier: Verifier<RandomXPow>,
    key: SigningKey,
    slots: Semaphore,
    in_house: AtomicUsize,
    metrics: Metrics,
}

#[derive(Default)]
struct Metrics {
    valid: AtomicU64,
    invalid: AtomicU64,
    malformed: AtomicU64,
    too_large: AtomicU64,
    busy: AtomicU64,
    failed: AtomicU64,
    verify_micros: AtomicU64,
}

/// The JSON body of `POST /certify`.
#[derive(serde::Deserialize)]
struct CertifyRequest {
    proof: Proof,
    metadata: ProofMetadata,
}

impl Certifier {
    /// Builds the verifier: blocking, under a second in light RandomX mode, tens of seconds in fast mode.
    ///
    /// # Errors
    /// [`Error::Proof`] when RandomX cannot be set up or the configuration's parameters are refused.
    pub fn new(config: CertifierConfig) -> Result<Self, Error> {
        let pow = RandomXPow::new(config.randomx_mode)?;
        let verifier = Verifier::new(pow, config.proof_config, config.init_config)?;
        let key = SigningKey::from_bytes(&config.signing_key);
        let slots = Semaphore::new(config.max_concurrent_requests);
        Ok(Self {
            app: Arc::new(App {
                config,
                verifier,
                key,
                slots,
                in_house: AtomicUsize::new(0),
                metrics: Metrics::default(),
            }),
        })
    }

    /// The public key certificates are signed with.
    pub fn public_key(&self) -> [u8; 32] {
        self.app.key.verifying_key().to_bytes()
    }

    /// The public key as standard base64 (how PoETs are configured with it).
    pub fn public_key_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.public_key())
    }

    /// Serves `POST /certify` on `listener` (and `GET /metrics` on `metrics`, when given) until `shutdown`
    /// completes; requests in progress are finished.
    ///
    /// # Errors
    /// [`Error::Serve`] when a server fails.
    pub async fn serve<F>(
        self,
        listener: tokio::net::TcpListener,
        metrics: Option<tokio::net::TcpListener>,
        shutdown: F,
    ) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let address = local_addr(&listener)?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let metrics_server = match metrics {
            Some(listener) => {
                let metrics_address = local_addr(&listener)?;
                let app = Router::new().route("/metrics", get(metrics_page)).with_state(self.app.clone());
                let stop = stopped(stop_rx.clone());
                Some((
                    metrics_address,
                    tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(stop).await }),
                ))
            }
            None => None,
        };
        let app = Router::new()
            .route("/", get(|| async { "certifier\n" }))
            .route("/certify", post(certify))
            .with_state(self.app.clone());
        let main = tokio::spawn({
            let stop = stopped(stop_rx);
            async move { axum::serve(listener, app).with_graceful_shutdown(stop).await }
        });
        shutdown.await;
        let _ = stop_tx.send(true);
        let served = joined(address, main.await);
        if let Some((metrics_address, server)) = metrics_server {
            joined(metrics_address, server.await)?;
        }
        served
    }
}

fn local_addr(listener: &tokio::net::TcpListener) -> Result<SocketAddr, Error> {
    listener.local_addr().map_err(|source| Error::Runtime { what: "the certifier listener", source })
}

fn joined(address: SocketAddr, result: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), Error> {
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(source)) => Err(Error::Serve { address, source }),
        Err(e) => Err(Error::Serve { address, source: std::io::Error::other(e.to_string()) }),
    }
}

/// Counts a request as in the house until dropped.
struct InHouse<'a>(&'a AtomicUsize);

impl Drop for InHouse<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn certify(State(app): State<Arc<App>>, request: Request) -> Response {
    let m = &app.metrics;
    let limit = app.config.max_body_size;
    // Step 1, from the header: refused before anything is read.
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        m.too_large.fetch_add(1, Ordering::Relaxed);
        return too_large(limit);
    }
    // Step 2.
    let capacity = app.config.max_concurrent_requests + app.config.max_pending_requests;
    if app.in_house.fetch_add(1, Ordering::AcqRel) >= capacity {
        app.in_house.fetch_sub(1, Ordering::AcqRel);
        m.busy.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::TOO_MANY_REQUESTS, "too many certification requests; try again later\n").into_response();
    }
    let _in_house = InHouse(&app.in_house);
    // Step 1, counted (a body without Content-Length, or a lying one).
    let body = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            m.too_large.fetch_add(1, Ordering::Relaxed);
            return too_large(limit);
        }
        Err(e) => {
            m.malformed.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::BAD_REQUEST, format!("reading the request body: {e}\n")).into_response();
        }
    };
    // Step 3.
    let request: CertifyRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            m.malformed.fetch_add(1, Ordering::Relaxed);
            return (StatusCode::BAD_REQUEST, format!("invalid request: {e}\n")).into_response();
        }
    };
    // Step 4.
    let Ok(_slot) = app.slots.acquire().await else {
        m.failed.fetch_add(1, Ordering::Relaxed);
        return (StatusCode::SERVICE_UNAVAILABLE, "the certifier is shutting down\n").into_response();
    };
    let started = Instant::now();
    let verified = tokio::task::spawn_blocking({
        let app = app.clone();
        move || {
            let result = app.verifier.verify(&request.proof, &request.metadata, &Mode::All);
            (result, request.metadata)
        }
    })
    .await;
    m.verify_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
    let (result, metadata) = match verified {
        Ok(pair) => pair,
        Err(e) => {
            m.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!("verification task failed: {e}");
            return (StatusCode::INTERNAL_SERVER_ERROR, "verification failed to run\n").into_response();
        }
    };
    match result {
        // Step 6.
        Ok(()) => {
            m.valid.fetch_add(1, Ordering::Relaxed);
            let expiration = app.config.certificate_expiration.map(|valid_for| {
                let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
                now.saturating_add(valid_for.as_secs())
            });
            let certificate = Certificate { node_id: *metadata.node_id.as_bytes(), expiration };
            let (bytes, signature) = certificate.sign(&app.key);
            let b64 = base64::engine::general_purpose::STANDARD;
            tracing::info!(node_id = %metadata.node_id, ?expiration, "certified in {:.3} s", started.elapsed().as_secs_f64());
            let body = serde_json::json!({
                "certificate": b64.encode(bytes),
                "signature": b64.encode(signature),
                "pub_key": b64.encode(app.key.verifying_key().to_bytes()),
            });
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }
        // Step 5.
        Err(e) if e.is_rejection() => {
            m.invalid.fetch_add(1, Ordering::Relaxed);
            tracing::info!(node_id = %metadata.node_id, "invalid proof: {e}");
            (StatusCode::FORBIDDEN, format!("invalid proof: {e}\n")).into_response()
        }
        Err(e) => {
            m.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(node_id = %metadata.node_id, "could not verify: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("could not verify the proof: {e}\n")).into_response()
        }
    }
}

fn too_large(limit: usize) -> Response {
    (StatusCode::PAYLOAD_TOO_LARGE, format!("the request body is larger than {limit} bytes\n")).into_response()
}

async fn metrics_page(State(app): State<Arc<App>>) -> Response {
    let m = &app.metrics;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
    let page = MetricsText::default()
        .labelled(
            "certifier_requests_total",
            "counter",
            "Certification requests by outcome.",
            "outcome",
            &[
                ("certified", load(&m.valid)),
                ("invalid_proof", load(&m.invalid)),
                ("malformed", load(&m.malformed)),
                ("too_large", load(&m.too_large)),
                ("busy", load(&m.busy)),
                ("failed", load(&m.failed)),
            ],
        )
        .metric(
            "certifier_verify_seconds_total",
            "counter",
            "Time spent verifying proofs.",
            load(&m.verify_micros) / 1e6,
        )
        .metric(
            "certifier_in_flight",
            "gauge",
            "Requests running or waiting.",
            app.in_house.load(Ordering::Relaxed) as f64,
        )
        .finish();
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], page).into_response()
}
