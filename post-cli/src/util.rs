//! Argument parsers shared by the subcommands, so that every bad value becomes a one-line error
//! naming the argument (clap prints it and exits with code 2).

use post_core::ScryptParams;

/// Parses 64 hex digits.
pub fn hex32(text: &str) -> Result<[u8; 32], String> {
    post_core::parse_hex32("value", text).map_err(|e| match e {
        post_core::Error::InvalidParam { reason, .. } => reason,
        other => other.to_string(),
    })
}

/// Parses scrypt N (a power of two ≥ 2).
pub fn scrypt_n(text: &str) -> Result<ScryptParams, String> {
    let n: u64 = text.parse().map_err(|e| format!("{text:?} is not a number: {e}"))?;
    ScryptParams::with_n(n).map_err(|e| e.to_string())
}

/// The threads a `--threads` value asks for: 0 or none means all cores, as in every command.
pub fn thread_count(threads: Option<usize>) -> usize {
    match threads {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, usize::from),
    }
}
