//! The remote k2pow client (spec §8): a [`PowProver`] that asks a k2pow service (or a pool of them
//! behind a load balancer) for each nonce group's proof of work instead of computing it.
//!
//! ```text
//! for one nonce group, GET {url}/job/{miner}/{group}/{challenge8}/{threshold} until it is answered:
//!   200 + decimal u64 below 2^56  -> the pow
//!   201, 429                      -> wait the backoff, ask again (not a failure)
//!   transport error, timeout, 5xx, other statuses, a 200 body that is no such number
//!                                 -> a failure: wait (backoff, doubling, at most 8x), ask again
//!   `max_failures` failures of this group -> Error::RemoteK2Pow (the proving job fails; it is
//!                                    retried on the node's next request)
//!   the cancel token, checked while waiting and while a request is in flight -> Error::Cancelled
//! ```
//!
//! It never panics and never exits on anything a server does. The trait is blocking and is called
//! from plain threads of the proving job, up to [`PowProver::parallel_groups`] of them at once (the
//! configured parallelism); each call drives its requests on the client's own small tokio runtime, so
//! the caller needs none. Only `http://` URLs are spoken; put a TLS proxy in front of a pool that must
//! be reached over `https://`.

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::StatusCode;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use post_core::CancelToken;
use post_proof::{PowJob, PowProver, POW_NONCE_LIMIT};

use crate::{Error, K2PowJobKey};

/// How the remote k2pow client behaves.
#[derive(Debug, Clone)]
pub struct RemoteK2PowConfig {
    /// The service's base URL, `http://host:port` (a path prefix is kept).
    pub url: String,
    /// Nonce groups asked for at the same time (`--remote-k2pow-parallelism`, at least 1).
    pub parallelism: usize,
    /// Wait between polls of a job that is accepted or busy (`--remote-k2pow-backoff`).
    pub backoff: Duration,
    /// Failures of one group (transport errors, 5xx, garbage) before the group gives up.
    pub max_failures: u32,
    /// Longest wait for one answer.
    pub request_timeout: Duration,
}

impl RemoteK2PowConfig {
    /// The reference's defaults for `url`: 5 groups at a time, 5 s backoff; 10 failures per group, 60 s
    /// per request.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            parallelism: 5,
            backoff: Duration::from_secs(5),
            max_failures: 10,
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// A [`PowProver`] backed by a remote k2pow service.
pub struct RemoteK2Pow {
    config: RemoteK2PowConfig,
    base: String,
    client: Client<HttpConnector, Empty<Bytes>>,
    /// Taken in `Drop` to shut down without blocking (dropping a runtime inside async code panics).
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for RemoteK2Pow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteK2Pow").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Drop for RemoteK2Pow {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Largest answer body read; a pow is at most 20 digits.
const MAX_BODY: usize = 4096;
/// How often a wait or a request in flight looks at the cancel token.
const CANCEL_POLL: Duration = Duration::from_millis(20);

/// One answer, sorted by what the client does next.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Pow(u64),
    Wait,
    Failure(String),
}

impl RemoteK2Pow {
    /// A client for `config.url`.
    ///
    /// # Errors
    /// [`Error::InvalidUrl`] for a URL that is not `http://host[:port][/prefix]`, [`Error::Runtime`]
    /// when the client's runtime cannot start.
    pub fn new(config: RemoteK2PowConfig) -> Result<Self, Error> {
        let base = config.url.trim_end_matches('/').to_string();
        let bad = |reason: &str| Error::InvalidUrl { url: config.url.clone(), reason: reason.to_string() };
        let uri: hyper::Uri = base.parse().map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some("https") => {
                return Err(bad(
                    "https is not supported by the k2pow client; use http:// (a TLS proxy may sit in front)",
                ))
            }
            _ => return Err(bad("expected http://host:port")),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if uri.query().is_some() {
            return Err(bad("a query string is not allowed"));
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("k2pow-client")
            .enable_all()
            .build()
            .map_err(|source| Error::Runtime { what: "the k2pow client runtime", source })?;
        let client = {
            let _guard = runtime.enter();
            Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(30)).build_http()
        };
        Ok(Self {
            config: RemoteK2PowConfig { parallelism: config.parallelism.max(1), ..config },
            base,
            client,
            runtime: Some(runtime),
        })
    }

    /// The URL asked for `job`.
    pub fn job_url(&self, job: &PowJob<'_>) -> String {
        format!("{}{}", self.base, K2PowJobKey::from_job(job).path())
    }

    /// Asks the service for `job`'s pow until it is answered (the steps at the top of this file).
    ///
    /// # Errors
    /// [`Error::RemoteK2Pow`] after `max_failures` failures, [`Error::Cancelled`] when `cancel` is set,
    /// [`Error::Runtime`] when the client's runtime is gone.
    pub fn prove_group(&self, job: &PowJob<'_>, cancel: &CancelToken) -> Result<u64, Error> {
        let url = self.job_url(job);
        let group = job.group.0;
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| Error::Runtime { what: "the k2pow client", source: std::io::Error::other("shut down") })?;
        let poll = self.poll(url, group, cancel);
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called from inside some runtime (a `spawn_blocking` thread, say): `block_on` there could
            // panic, so drive the polls from a thread of our own.
            std::thread::scope(|s| match s.spawn(|| runtime.block_on(poll)).join() {
                Ok(result) => result,
                Err(_) => Err(Error::Runtime {
                    what: "the k2pow client",
                    source: std::io::Error::other("the polling thread panicked"),
                }),
            })
        } else {
            runtime.block_on(poll)
        }
    }

    async fn poll(&self, url: String, group: u8, cancel: &CancelToken) -> Result<u64, Error> {
        let uri: hyper::Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| Error::InvalidUrl { url: url.clone(), reason: e.to_string() })?;
        let mut failures = 0u32;
        loop {
            let answer = tokio::select! {
                answer = self.ask(uri.clone()) => answer,
                () = cancelled(cancel) => return Err(Error::Cancelled),
            };
            let wait = match answer {
                Answer::Pow(pow) => return Ok(pow),
                Answer::Wait => self.config.backoff,
                Answer::Failure(last) => {
                    failures += 1;
                    if failures >= self.config.max_failures {
                        return Err(Error::RemoteK2Pow { url, group, failures, last });
                    }
                    tracing::warn!(%url, "k2pow request failed ({failures} of {}): {last}", self.config.max_failures);
                    self.config.backoff.saturating_mul(1 << (failures - 1).min(3))
                }
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = cancelled(cancel) => return Err(Error::Cancelled),
            }
        }
    }

    /// One request and what it means.
    async fn ask(&self, uri: hyper::Uri) -> Answer {
        let request = async {
            let response = self.client.get(uri).await.map_err(|e| transport_text(&e))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the answer ({status}): {e}"))?
                .to_bytes();
            Ok::<_, String>((status, body))
        };
        match tokio::time::timeout(self.config.request_timeout, request).await {
            Err(_) => Answer::Failure(format!("no answer within {:?}", self.config.request_timeout)),
            Ok(Err(text)) => Answer::Failure(text),
            Ok(Ok((status, body))) => classify(status, &body),
        }
    }
}

/// What the client does with a status and body.
fn classify(status: StatusCode, body: &[u8]) -> Answer {
    let text = || String::from_utf8_lossy(&body[..body.len().min(200)]).trim().to_string();
    match status {
        StatusCode::OK => match text().parse::<u64>() {
            Ok(pow) if pow < POW_NONCE_LIMIT => Answer::Pow(pow),
            _ => Answer::Failure(format!("status 200 with a body that is no pow below 2^56: {:?}", text())),
        },
        StatusCode::CREATED | StatusCode::TOO_MANY_REQUESTS => Answer::Wait,
        other => Answer::Failure(format!("status {other}: {}", text())),
    }
}

/// A transport error with its causes (hyper's own text is terse: "client error (Connect)").
fn transport_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Completes once `cancel` is set.
async fn cancelled(cancel: &CancelToken) {
    while !cancel.is_cancelled() {
        tokio::time::sleep(CANCEL_POLL).await;
    }
}

impl PowProver for RemoteK2Pow {
    fn name(&self) -> String {
        format!("remote-k2pow {}", self.base)
    }

    fn prove(&self, job: &PowJob<'_>, cancel: &CancelToken) -> Result<u64, post_proof::Error> {
        self.prove_group(job, cancel).map_err(|e| match e {
            Error::Cancelled => post_proof::Error::Cancelled,
            other => post_proof::Error::PowBackend { message: other.to_string() },
        })
    }

    fn parallel_groups(&self) -> usize {
        self.config.parallelism
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(StatusCode::OK, b"12345\n"), Answer::Pow(12345));
        assert_eq!(classify(StatusCode::CREATED, b""), Answer::Wait);
        assert_eq!(classify(StatusCode::TOO_MANY_REQUESTS, b""), Answer::Wait);
        for (status, body) in [
            (StatusCode::OK, &b"twelve"[..]),
            (StatusCode::OK, b""),
            (StatusCode::OK, b"72057594037927936"),
            (StatusCode::INTERNAL_SERVER_ERROR, b"boom"),
            (StatusCode::SERVICE_UNAVAILABLE, b""),
            (StatusCode::NOT_FOUND, b""),
        ] {
            assert!(matches!(classify(status, body), Answer::Failure(_)), "{status} {body:?}");
        }
    }

    #[test]
    fn urls_are_checked() {
        for url in ["https://pool:3000", "pool:3000", "ftp://pool", "http://pool:3000/?x=1", "not a url"] {
            assert!(matches!(RemoteK2Pow::new(RemoteK2PowConfig::new(url)), Err(Error::InvalidUrl { .. })), "{url}");
        }
        let client = RemoteK2Pow::new(RemoteK2PowConfig::new("http://pool:3000/prefix/")).unwrap();
        let (challenge, miner) = (post_core::Challenge([1; 32]), post_core::NodeId([0xab; 32]));
        let job =
            PowJob { group: post_core::NonceGroup(3), challenge: &challenge, miner: &miner, threshold: &[0xff; 32] };
        assert_eq!(
            client.job_url(&job),
            format!("http://pool:3000/prefix/job/{}/3/0101010101010101/{}", "ab".repeat(32), "ff".repeat(32))
        );
        assert_eq!(client.parallel_groups(), 5);
    }
}
