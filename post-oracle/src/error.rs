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
    /// A scrypt or PBKDF2 output longer than PBKDF2's 32-bit block counter allows.
    #[error("scrypt output of {len} bytes is longer than PBKDF2 allows ({max} bytes); ask for fewer bytes")]
    OutputTooLong {
        /// The requested length in bytes.
        len: usize,
        /// The longest allowed output in bytes.
        max: u64,
    },
    /// A backend (for example a GPU) failed.
    #[error("labeller {labeller} failed: {message}")]
    Backend {
        /// The labeller or device name.
        labeller: String,
        /// What went wrong.
        message: String,
    },
    /// A fast labeller backend was named that does not exist.
    #[error("unknown CPU backend {name:?}; known backends: {known}")]
    UnknownBackend {
        /// The name given.
        name: String,
        /// The known names.
        known: String,
    },
    /// A fast labeller backend was forced that this CPU cannot run.
    #[error("this CPU lacks the instructions of the {backend} backend; use one of `Backend::available()`")]
    BackendUnavailable {
        /// The backend's name.
        backend: String,
    },
}
