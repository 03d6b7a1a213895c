//! The one error type of `post-service`.
//!
//! Every network failure is an expected value here: a listener that cannot bind, a k2pow worker that
//! answers garbage or goes away, a configuration that does not parse. Nothing in this crate panics on
//! a peer's answer or exits the process.

use std::net::SocketAddr;

/// Errors of the k2pow service, the remote k2pow client and the certifier.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listening socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Serving HTTP failed after the socket was bound.
    #[error("serving HTTP on {address}: {source}")]
    Serve {
        /// The bound address.
        address: SocketAddr,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A thread or async runtime could not be started.
    #[error("starting {what}: {source}")]
    Runtime {
        /// What was being started.
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Proving or verification machinery (RandomX, the verifier's parameters) failed.
    #[error(transparent)]
    Proof {
        /// The underlying error.
        #[from]
        source: post_proof::Error,
    },
    /// The proof-of-work backend of the k2pow service could not be set up; the service cannot work.
    #[error("setting up the k2pow backend: {message}")]
    Backend {
        /// What went wrong.
        message: String,
    },
    /// A configuration value is missing or invalid.
    #[error("configuration {key}: {reason}")]
    Config {
        /// The key as written in the configuration (`signing_key`, `post_cfg.k1`...).
        key: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// A URL given to the remote k2pow client is not usable.
    #[error("k2pow URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The remote k2pow service failed one nonce group too many times; the proving job should fail
    /// and be retried later.
    #[error("remote k2pow {url}: nonce group {group} failed {failures} times, giving up; last failure: {last}")]
    RemoteK2Pow {
        /// The job URL.
        url: String,
        /// The nonce group.
        group: u8,
        /// Failed attempts.
        failures: u32,
        /// The last failure (a transport error, a status and its body, or a body that is no number).
        last: String,
    },
    /// The operation was cancelled.
    #[error("cancelled")]
    Cancelled,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_formats_its_fields() {
        let addr: SocketAddr = ([127, 0, 0, 1], 3000).into();
        let io = || std::io::Error::other("boom");
        let cases = [
            (Error::Bind { address: addr, source: io() }, "cannot listen on 127.0.0.1:3000: boom"),
            (Error::Serve { address: addr, source: io() }, "serving HTTP on 127.0.0.1:3000: boom"),
            (Error::Runtime { what: "the k2pow worker", source: io() }, "starting the k2pow worker: boom"),
            (Error::Proof { source: post_proof::Error::Cancelled }, "cancelled"),
            (Error::Backend { message: "no memory".into() }, "setting up the k2pow backend: no memory"),
            (
                Error::Config { key: "post_cfg.k1".into(), reason: "missing".into() },
                "configuration post_cfg.k1: missing",
            ),
            (Error::InvalidUrl { url: "ftp://x".into(), reason: "scheme".into() }, "k2pow URL \"ftp://x\": scheme"),
            (
                Error::RemoteK2Pow {
                    url: "http://w/job/a".into(),
                    group: 3,
                    failures: 5,
                    last: "status 500: oops".into(),
                },
                "remote k2pow http://w/job/a: nonce group 3 failed 5 times, giving up; last failure: status 500: oops",
            ),
            (Error::Cancelled, "cancelled"),
        ];
        for (error, text) in cases {
            assert_eq!(error.to_string(), text);
        }
    }
}
