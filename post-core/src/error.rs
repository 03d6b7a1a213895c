//! The one error type of `post-core`: every failure names the field, file or value at fault.

use std::path::PathBuf;

/// Errors of parameter validation, formats and data-directory access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is outside its allowed range.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParam {
        /// The parameter's name as the user knows it (`scrypt N`, `k1`, ...).
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// An I/O operation on a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
