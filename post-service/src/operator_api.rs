//! The operator HTTP API (spec §7), read from the shared state:
//!
//! ```text
//! GET /status         "Idle" | {"Proving":{"nonces":{"start":S,"end":E},"position":B}} | "DoneProving"
//! GET /status/detail  phase, pass, nonces, k2pow groups, bytes scanned/total, rate, ETA, challenge,
//!                     last error, connection state, time of the node's last request (JSON)
//! GET /metrics        Prometheus text format
//! ```
//! No authentication, as the reference: bind it to a private address.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::service_state::ServiceState;
use crate::Error;

#[derive(Debug, Clone)]
struct Api {
    state: Arc<ServiceState>,
    nonces: u32,
}

/// The routes over `state`; `nonces` is the pass size shown before the job reported progress.
pub fn router(state: Arc<ServiceState>, nonces: u32) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/status/detail", get(detail))
        .route("/metrics", get(metrics))
        .with_state(Api { state, nonces })
}

/// Binds `address` and returns the bound address and the server future (which runs until dropped).
///
/// # Errors
/// [`Error::OperatorBind`] when the address cannot be bound.
pub async fn bind(
    address: SocketAddr,
    state: Arc<ServiceState>,
    nonces: u32,
) -> Result<(SocketAddr, impl std::future::Future<Output = ()>), Error> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|source| Error::OperatorBind { address: address.to_string(), source })?;
    let bound = listener.local_addr().map_err(|source| Error::OperatorBind { address: address.to_string(), source })?;
    let app = router(state, nonces);
    let server = async move {
        if let Err(err) = axum::serve(listener, app).await {
            tracing::error!("the operator API on {bound} stopped: {err}");
        }
    };
    Ok((bound, server))
}

fn json(value: &impl serde::Serialize) -> impl IntoResponse {
    let body = serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"));
    ([(header::CONTENT_TYPE, "application/json")], body)
}

async fn status(State(api): State<Api>) -> impl IntoResponse {
    json(&api.state.operator_status(api.nonces))
}

async fn detail(State(api): State<Api>) -> impl IntoResponse {
    json(&api.state.detail())
}

async fn metrics(State(api): State<Api>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], api.state.metrics())
}
