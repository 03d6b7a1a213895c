//! The errors of the proving service (`post serve`): start-up refusals that name the problem, and the
//! one way the running service gives up (`--max-retries`). Everything else on the wire is an expected
//! value that is logged and retried.

use std::path::PathBuf;

/// Why the proving service did not start or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
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
    Bind {
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
    /// The proof job failed.
    #[error(transparent)]
    Proof(#[from] post_proof::Error),
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

/// Why the service stopped without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// SIGTERM or SIGINT.
    Signal,
    /// The `--watch-pid` process is gone.
    WatchedProcessGone,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_formats_its_fields() {
        let io = || std::io::Error::other("disk on fire");
        let cases: Vec<(ServeError, &[&str])> = vec![
            (ServeError::Address { address: "ftp://x:1".into(), reason: "no ftp".into() }, &["ftp://x:1", "no ftp"]),
            (ServeError::Tls { reason: "bad pem".into() }, &["TLS", "bad pem"]),
            (
                ServeError::Data {
                    dir: "/d".into(),
                    source: post_core::Error::InvalidParam { name: "dir", reason: "/d is locked".into() },
                },
                &["/d is locked"],
            ),
            (ServeError::NoVrfNonce, &["VRF nonce", "post init"]),
            (ServeError::UnitsOutOfRange { units: 2, min: 4, max: 9 }, &["2 units", "4..=9", "--min-num-units"]),
            (
                ServeError::ScryptMismatch { path: "/d/postdata_0.bin".into(), n: 512, r: 1, p: 1 },
                &["/d/postdata_0.bin", "N=512 r=1 p=1", "-n -r -p"],
            ),
            (ServeError::Label { reason: "n too big".into() }, &["n too big"]),
            (ServeError::Param { name: "--nonces", reason: "20 is odd".into() }, &["--nonces", "20 is odd"]),
            (ServeError::Io { what: "reading /d/x".into(), source: io() }, &["reading /d/x", "disk on fire"]),
            (ServeError::Bind { address: "1.2.3.4:5".into(), source: io() }, &["1.2.3.4:5", "disk on fire"]),
            (ServeError::ThreadPool { reason: "no threads".into() }, &["no threads"]),
            (ServeError::Proof(post_proof::Error::Cancelled), &["cancelled"]),
            (
                ServeError::GaveUp { address: "http://n:1".into(), attempts: 2, last: "refused".into() },
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
