//! The one error type of `post-service`.
//!
//! Every network failure is an expected value here: a listener that cannot bind, a k2pow worker that
//! answers garbage or goes away, a configuration that does not parse. Nothing in this crate panics on
//! a peer's answer or exits the process.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Errors of the proving service, the k2pow service, the remote k2pow client and the certifier. The
/// proving service's are start-up refusals that name the problem, and the one way the running service
/// gives up (`--max-retries`); everything else on the wire is an expected value that is logged and retried.
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

    // The proving service (`post serve`).
    /// The node address or the TLS flags do not fit together.
    #[error("node address {address:?}: {reason}")]
    Address {
        /// The address as given.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// The TLS configuration was rejected.
    #[error("TLS configuration: {reason}")]
    Tls {
        /// What is wrong.
        reason: String,
    },
    /// The data directory cannot be served (locked by a writer, incomplete, bad metadata...); the source
    /// names the directory or the file.
    #[error("{source}")]
    Data {
        /// The directory.
        dir: PathBuf,
        /// The problem.
        source: post_core::Error,
    },
    /// The metadata has no VRF nonce.
    #[error(
        "the data has no VRF nonce (postdata_metadata.json has no \"Nonce\"): the node cannot use it; finish \
         the initialization with `post init` first"
    )]
    NoVrfNonce,
    /// The data's number of units is outside `--min-num-units..=--max-num-units`.
    #[error("the data has {units} units, outside the allowed {min}..={max} (--min-num-units, --max-num-units)")]
    UnitsOutOfRange {
        /// The data's units.
        units: u32,
        /// `--min-num-units`.
        min: u32,
        /// `--max-num-units`.
        max: u32,
    },
    /// Label 0 recomputed with the given scrypt parameters differs from the stored one.
    #[error(
        "label 0 in {path} was not written with scrypt N={n} r={r} p={p}: pass the -n -r -p the data was \
         initialized with"
    )]
    ScryptMismatch {
        /// The file holding label 0.
        path: PathBuf,
        /// `-n`.
        n: u32,
        /// `-r`.
        r: u32,
        /// `-p`.
        p: u32,
    },
    /// A label could not be computed (bad scrypt parameters).
    #[error("computing a label: {reason}")]
    Label {
        /// What failed.
        reason: String,
    },
    /// A parameter of the service is invalid.
    #[error("{name}: {reason}")]
    Param {
        /// The flag.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A file or thread operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The operator API cannot listen.
    #[error("operator API: cannot listen on {address}: {source}")]
    OperatorBind {
        /// The address.
        address: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The proving thread pool cannot be built.
    #[error("building the proving thread pool: {reason}")]
    ThreadPool {
        /// What failed.
        reason: String,
    },
    /// `--max-retries` consecutive connects failed.
    #[error(
        "gave up connecting to the node at {address} after {attempts} failed attempts (--max-retries); last: {last}"
    )]
    GaveUp {
        /// The node address.
        address: String,
        /// Failed attempts in a row.
        attempts: u32,
        /// The last failure.
        last: String,
    },
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

    #[test]
    fn every_serve_variant_formats_its_fields() {
        let io = || std::io::Error::other("disk on fire");
        let cases: Vec<(Error, &[&str])> = vec![
            (Error::Address { address: "ftp://x:1".into(), reason: "no ftp".into() }, &["ftp://x:1", "no ftp"]),
            (Error::Tls { reason: "bad pem".into() }, &["TLS", "bad pem"]),
            (
                Error::Data {
                    dir: "/d".into(),
                    source: post_core::Error::InvalidParam { name: "dir", reason: "/d is locked".into() },
                },
                &["/d is locked"],
            ),
            (Error::NoVrfNonce, &["VRF nonce", "post init"]),
            (Error::UnitsOutOfRange { units: 2, min: 4, max: 9 }, &["2 units", "4..=9", "--min-num-units"]),
            (
                Error::ScryptMismatch { path: "/d/postdata_0.bin".into(), n: 512, r: 1, p: 1 },
                &["/d/postdata_0.bin", "N=512 r=1 p=1", "-n -r -p"],
            ),
            (Error::Label { reason: "n too big".into() }, &["n too big"]),
            (Error::Param { name: "--nonces", reason: "20 is odd".into() }, &["--nonces", "20 is odd"]),
            (Error::Io { what: "reading /d/x".into(), source: io() }, &["reading /d/x", "disk on fire"]),
            (Error::OperatorBind { address: "1.2.3.4:5".into(), source: io() }, &["1.2.3.4:5", "disk on fire"]),
            (Error::ThreadPool { reason: "no threads".into() }, &["no threads"]),
            (Error::Proof { source: post_proof::Error::Cancelled }, &["cancelled"]),
            (
                Error::GaveUp { address: "http://n:1".into(), attempts: 2, last: "refused".into() },
                &["http://n:1", "2 failed attempts", "--max-retries", "refused"],
            ),
        ];
        for (error, needles) in cases {
            let text = error.to_string();
            for needle in needles {
                assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            }
        }
    }
}
