//! The one error type of `post-oracle`.

/// Errors of label computation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output buffer does not hold a whole number of 16-byte labels.
    #[error("output buffer of {len} bytes is not a multiple of 16 (one stored label is 16 bytes)")]
    BufferLength {
        /// The buffer's length in bytes.
        len: usize,
    },
    /// The requested range runs past label index 2^64 − 1.
    #[error("label range starting at {start} with {count} labels runs past 2^64 - 1")]
    RangeOverflow {
        /// First index.
        start: u64,
        /// Number of labels.
        count: u64,
    },
    /// The labeller does not support these scrypt parameters.
    #[error("labeller {labeller} does not support scrypt N={n}, r={r}, p={p}: {reason}")]
    Unsupported {
        /// The labeller's name.
        labeller: String,
        /// N.
        n: u32,
        /// r.
        r: u32,
        /// p.
        p: u32,
        /// Why.
        reason: String,
    },
    /// A backend (for example a GPU) failed.
    #[error("labeller {labeller} failed: {message}")]
    Backend {
        /// The labeller or device name.
        labeller: String,
        /// What went wrong.
        message: String,
    },
}
