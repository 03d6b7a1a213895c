//! The node client (spec §3-4): dials the node, calls `Register`, and answers the node's requests on the
//! stream in strict lock-step, reconnecting forever.
//!
//! ```text
//! loop:
//!   connect (TLS for https://; keepalive ping every 600 s, 20 s timeout)
//!     failed     -> count it; after --max-retries consecutive failures: error naming the address;
//!                   else sleep --reconnect-interval-s and dial again
//!     connected  -> the count starts again from zero
//!   Register
//!     refused    -> log the node's reason (no coinbase, already registered); never counted
//!     accepted   -> for each request: exactly one answer, in order, nothing unasked
//!   stream ended -> sleep --reconnect-interval-s
//! ```
//! Proving lives in the prover thread, not in the stream: a broken stream loses nothing, the node asks
//! again for the same challenge on the next stream.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic::Code;

use crate::answer::Answerer;
use crate::node_address::NodeAddress;
use crate::proto::post_service_client::PostServiceClient;
use crate::service_state::ConnectionState;
use crate::Error;

/// How often the service pings the node on an idle connection (the node tolerates one ping a minute).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(600);
/// How long the service waits for the ping's answer before it drops the connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// The node's message size limit, each way.
pub const MAX_MESSAGE_BYTES: usize = 10 << 20;
/// How long one dial may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How the client dials the node.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The node.
    pub address: NodeAddress,
    /// Sleep after a failed connect and after each disconnect.
    pub reconnect_interval: Duration,
    /// Consecutive failed connects before giving up; `None`: never.
    pub max_retries: Option<u32>,
}

/// The endpoint for `config`: address, keepalive, and TLS with the files read now.
///
/// # Errors
/// [`Error::Tls`] when a TLS file cannot be read or the endpoint rejects the configuration.
pub fn endpoint(config: &ClientConfig) -> Result<Endpoint, Error> {
    let address = &config.address;
    let bad = |reason: String| Error::Address { address: address.uri().to_owned(), reason };
    let endpoint = Endpoint::from_shared(address.uri().to_owned())
        .map_err(|e| bad(error_chain(&e)))?
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    let Some((files, domain)) = address.tls() else { return Ok(endpoint) };
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| Error::Io { what: format!("reading {}", path.display()), source })
    };
    let tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(read(&files.ca_cert)?))
        .identity(Identity::from_pem(read(&files.cert)?, read(&files.key)?))
        .domain_name(domain);
    endpoint.tls_config(tls).map_err(|e| Error::Tls { reason: error_chain(&e) })
}

/// Serves the node until an error ends it (`--max-retries` exhausted); the caller stops it by dropping
/// the future.
///
/// # Errors
/// [`Error::Tls`]/[`Error::Address`] from [`endpoint`]; [`Error::GaveUp`] after
/// `max_retries` consecutive failed connects.
pub async fn serve_node(config: &ClientConfig, answerer: &Answerer) -> Result<(), Error> {
    let endpoint = endpoint(config)?;
    let state = answerer.state();
    let address = config.address.uri();
    let mut failures: u32 = 0;
    loop {
        state.set_connection(ConnectionState::Connecting);
        let channel = match endpoint.connect().await {
            Ok(channel) => channel,
            Err(err) => {
                failures += 1;
                let reason = error_chain(&err);
                state.count(|c| c.connect_failures += 1);
                state.set_error(format!("connecting to {address}: {reason}"));
                let limit = config.max_retries.map_or_else(|| "unlimited".to_owned(), |m| m.to_string());
                tracing::warn!("connecting to the node at {address} failed (attempt {failures} of {limit}): {reason}");
                if config.max_retries.is_some_and(|max| failures >= max) {
                    return Err(Error::GaveUp { address: address.to_owned(), attempts: failures, last: reason });
                }
                tokio::time::sleep(config.reconnect_interval).await;
                continue;
            }
        };
        failures = 0;
        state.count(|c| c.connects += 1);
        tracing::info!("connected to the node at {address}");
        match run_stream(channel, answerer).await {
            Ok(()) => tracing::info!("the node closed the stream; reconnecting in {:?}", config.reconnect_interval),
            Err(reason) => {
                tracing::warn!("{reason}; reconnecting in {:?}", config.reconnect_interval);
                state.set_error(reason);
            }
        }
        state.set_connection(ConnectionState::Disconnected);
        tokio::time::sleep(config.reconnect_interval).await;
    }
}

/// One `Register` stream: the node speaks first, each request gets exactly one answer.
async fn run_stream(channel: Channel, answerer: &Answerer) -> Result<(), String> {
    let mut client = PostServiceClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    // One slot: an answer is only produced after the previous one was taken, so lock-step holds.
    let (tx, rx) = mpsc::channel(1);
    let response = client.register(ReceiverStream::new(rx)).await.map_err(|status| refusal(&status))?;
    answerer.state().set_connection(ConnectionState::Registered);
    tracing::info!("registered with the node; waiting for its requests");
    let mut requests = response.into_inner();
    loop {
        match requests.message().await {
            Ok(Some(request)) => {
                let answer = answerer.answer(&request);
                if tx.send(answer).await.is_err() {
                    return Err("the stream to the node closed while answering".into());
                }
            }
            Ok(None) => return Ok(()),
            Err(status) => return Err(refusal(&status)),
        }
    }
}

/// The node's refusal or the stream's end, in words.
fn refusal(status: &tonic::Status) -> String {
    let message = status.message();
    match status.code() {
        Code::FailedPrecondition => format!("the node refused the registration ({message}); retrying later"),
        Code::AlreadyExists => format!("the node refused the registration ({message}); retrying later"),
        Code::Unavailable => format!("the node is unavailable ({message})"),
        code => format!("the stream to the node ended: {code:?}: {message}"),
    }
}

/// An error and its sources on one line (tonic's own message is only "transport error").
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keepalive_and_limits_are_the_node_s() {
        // The node drops a client that pings more than once a minute (GOAWAY too_many_pings) and pings an
        // idle connection after 10 minutes; the reference pings every 600 s with a 20 s timeout.
        assert_eq!(KEEPALIVE_INTERVAL, Duration::from_secs(600));
        assert!(KEEPALIVE_INTERVAL >= Duration::from_secs(60));
        assert_eq!(KEEPALIVE_TIMEOUT, Duration::from_secs(20));
        assert_eq!(MAX_MESSAGE_BYTES, 10 * 1024 * 1024);
    }

    #[test]
    fn error_chain_keeps_every_cause_once() {
        let inner = std::io::Error::other("connection refused");
        let outer = Error::Io { what: "dialling".into(), source: inner };
        assert_eq!(error_chain(&outer), "dialling: connection refused");
    }

    #[test]
    fn endpoint_reads_the_tls_files_and_names_a_missing_one() {
        let missing = std::path::Path::new("/nonexistent/ca.pem");
        let address = NodeAddress::parse("https://node:1", Some(missing), Some(missing), Some(missing), None).unwrap();
        let config = ClientConfig { address, reconnect_interval: Duration::from_secs(1), max_retries: None };
        let err = endpoint(&config).unwrap_err().to_string();
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let address = NodeAddress::parse("node:1", None, None, None, None).unwrap();
        let config = ClientConfig { address, reconnect_interval: Duration::from_secs(1), max_retries: Some(1) };
        assert!(endpoint(&config).is_ok());
    }
}
