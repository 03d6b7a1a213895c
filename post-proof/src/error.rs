//! The one error type of `post-proof`.
//!
//! It holds two kinds of failure: the reasons a proof is rejected (an answer about the proof, see
//! [`Error::is_rejection`]) and the failures of the machinery (I/O, RandomX, bad parameters,
//! cancellation). The `post verify` command maps the first kind to exit code 1 and the second to 2.

use std::path::PathBuf;

/// Errors of the proof of work, the proving scan and verification.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A parameter, the metadata or the data layout was refused by `post-core`.
    #[error(transparent)]
    Core {
        /// The underlying error.
        #[from]
        source: post_core::Error,
    },
    /// The label function failed.
    #[error("computing labels: {source}")]
    Oracle {
        /// The underlying error.
        #[from]
        source: post_oracle::Error,
    },
    /// Reading a data file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A data file is missing or shorter than the layout says; the scan would skip labels.
    #[error(
        "{path}: expected {expected} bytes of labels, found {found}; finish initializing (or repair) the data \
         before proving"
    )]
    IncompleteData {
        /// The file.
        path: PathBuf,
        /// Bytes the layout requires.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// A proving parameter is out of range.
    #[error("invalid proving parameter {name}: {reason}")]
    InvalidParam {
        /// The parameter as the user knows it (`nonces`, `k2`...).
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The operation was cancelled through its [`CancelToken`](crate::CancelToken).
    #[error("cancelled")]
    Cancelled,
    /// A proof job's state file or folder cannot be used.
    #[error("proof job state {path}: {reason}")]
    JobState {
        /// The file or folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// Another process is running the proof job for this challenge.
    #[error("another process is proving this challenge in this directory (it holds {path}); wait for it or stop it")]
    JobBusy {
        /// The job's lock file.
        path: PathBuf,
    },
    /// The proof found did not pass verification: it is not returned.
    #[error("{}", self_check_message(reason, bad))]
    SelfCheck {
        /// The verifier's reason.
        reason: String,
        /// The proof's labels whose stored bytes differ from the recomputed ones.
        bad: Vec<BadLabel>,
    },
    /// The proof-of-work backend (RandomX) failed.
    #[error("proof of work backend: {message}")]
    PowBackend {
        /// What went wrong.
        message: String,
    },
    /// No pow nonce below 2^56 satisfies the threshold (only possible with a threshold near 0).
    #[error("no proof-of-work nonce below 2^56 satisfies the threshold for nonce group {group}; raise the difficulty")]
    PowExhausted {
        /// The nonce group.
        group: u8,
    },
    /// Proving used up every nonce group a verifier accepts (nonces 0..4096) without a proof.
    #[error(
        "no proof found with nonces below {next_nonce}: nonce groups above 255 cannot be verified; \
         check k1/k2 against the amount of data"
    )]
    NoncesExhausted {
        /// The first nonce that would have been tried next.
        next_nonce: u32,
    },

    // Reasons a proof is rejected. Keep `is_rejection` in step.
    /// The proof claims a number of units outside the configured range.
    #[error("num_units {num_units} is outside the allowed range {min}..={max}")]
    NumUnitsOutOfRange {
        /// Claimed units.
        num_units: u32,
        /// Fewest allowed.
        min: u32,
        /// Most allowed.
        max: u32,
    },
    /// The proof's nonce is in a group above 255, which the proof of work cannot encode.
    #[error("nonce {nonce} is in nonce group {} > 255", .nonce / 16)]
    NonceGroupOutOfRange {
        /// The proof's nonce.
        nonce: u32,
    },
    /// The `pow` field is 2^56 or more; only its low 7 bytes are hashed, so such values are forgeries of
    /// smaller ones.
    #[error("pow {pow} for nonce group {group} is not below 2^56")]
    PowOutOfRange {
        /// The nonce group.
        group: u8,
        /// The proof's pow.
        pow: u64,
    },
    /// The proof of work does not meet the threshold.
    #[error(
        "invalid proof of work: pow {pow} for nonce group {group} does not meet the threshold (a proof made for \
         another challenge, node id or unit count fails here first)"
    )]
    InvalidPow {
        /// The nonce group.
        group: u8,
        /// The proof's pow.
        pow: u64,
    },
    /// The packed indices have the wrong length or non-zero padding bits.
    #[error("invalid indices encoding: {source}")]
    IndicesEncoding {
        /// The codec's error (length or padding bit).
        source: post_core::Error,
    },
    /// The packed indices have the wrong length.
    #[error("invalid number of index bytes: expected {expected} ({k2} indices of {bits} bits), got {got}")]
    IndicesLength {
        /// ceil(k2·bits/8).
        expected: usize,
        /// The proof's length.
        got: usize,
        /// Indices expected.
        k2: u32,
        /// Bits per index.
        bits: u32,
    },
    /// An index appears twice (the reference accepts this; a proof must name k2 distinct labels).
    #[error("index {index} appears twice, at positions {first} and {second}")]
    DuplicateIndex {
        /// The repeated label index.
        index: u64,
        /// Its first position in the proof.
        first: usize,
        /// The repeat's position.
        second: usize,
    },
    /// An index points beyond the data.
    #[error("index {index} at position {position} is not below the number of labels {num_labels}")]
    IndexOutOfRange {
        /// The label index.
        index: u64,
        /// Its position in the proof.
        position: usize,
        /// Labels in the data.
        num_labels: u64,
    },
    /// A label's group-cipher byte is above the threshold.
    #[error(
        "MSB value for index {index} (position {position}) doesn't satisfy difficulty: {msb} > {threshold} \
         (label {})", hex::encode(.label)
    )]
    InvalidMsb {
        /// The label index.
        index: u64,
        /// Its position in the proof.
        position: usize,
        /// The encrypted byte.
        msb: u8,
        /// The difficulty's top byte.
        threshold: u8,
        /// The recomputed label.
        label: [u8; 16],
    },
    /// A label tied on the top byte and its lazy-cipher value is not below the threshold.
    #[error(
        "LSB value for index {index} (position {position}) doesn't satisfy difficulty: {lsb} >= {threshold} \
         (label {})", hex::encode(.label)
    )]
    InvalidLsb {
        /// The label index.
        index: u64,
        /// Its position in the proof.
        position: usize,
        /// The 56-bit lazy value.
        lsb: u64,
        /// The difficulty's low 56 bits.
        threshold: u64,
        /// The recomputed label.
        label: [u8; 16],
    },
}

/// A stored label that differs from the recomputed one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLabel {
    /// The label index.
    pub index: u64,
    /// The data file holding it.
    pub file: PathBuf,
    /// The label's byte offset in that file.
    pub offset: u64,
}

fn self_check_message(reason: &str, bad: &[BadLabel]) -> String {
    if bad.is_empty() {
        return format!(
            "the proof found does not verify ({reason}), although the stored labels it uses are correct; \
             nothing was written"
        );
    }
    let list: Vec<String> =
        bad.iter().map(|b| format!("label {} at byte {} of {}", b.index, b.offset, b.file.display())).collect();
    format!(
        "the proof found does not verify ({reason}): {} stored label(s) are wrong: {}; nothing was written. Check \
         the data with `post verify-data --all` and fix it with `post repair`, then prove again",
        bad.len(),
        list.join(", ")
    )
}

impl Error {
    /// Whether this error says the proof is invalid (as opposed to a failure to check it).
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            Error::NumUnitsOutOfRange { .. }
                | Error::NonceGroupOutOfRange { .. }
                | Error::PowOutOfRange { .. }
                | Error::InvalidPow { .. }
                | Error::IndicesEncoding { .. }
                | Error::IndicesLength { .. }
                | Error::DuplicateIndex { .. }
                | Error::IndexOutOfRange { .. }
                | Error::InvalidMsb { .. }
                | Error::InvalidLsb { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_names_its_values() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let core = || post_core::Error::InvalidParam { name: "units", reason: "zero".into() };
        let cases: Vec<(Error, &[&str], bool)> = vec![
            (Error::Core { source: core() }, &["units", "zero"], false),
            (Error::Oracle { source: post_oracle::Error::BufferLength { len: 17 } }, &["17"], false),
            (Error::Io { path: "/d/postdata_3.bin".into(), source: io() }, &["postdata_3.bin", "gone"], false),
            (
                Error::IncompleteData { path: "/d/postdata_1.bin".into(), expected: 4800, found: 16 },
                &["postdata_1.bin", "4800", "16"],
                false,
            ),
            (Error::InvalidParam { name: "nonces", reason: "7 is odd".into() }, &["nonces", "7 is odd"], false),
            (Error::Cancelled, &["cancelled"], false),
            (
                Error::JobState { path: "/d/.post-proof/ab.json".into(), reason: "torn".into() },
                &["ab.json", "torn"],
                false,
            ),
            (Error::JobBusy { path: "/d/.post-proof/ab.lock".into() }, &["ab.lock", "another process"], false),
            (
                Error::SelfCheck {
                    reason: "label 9 is bad".into(),
                    bad: vec![BadLabel { index: 9, file: "/d/postdata_0.bin".into(), offset: 144 }],
                },
                &["label 9 is bad", "label 9 at byte 144 of /d/postdata_0.bin", "post repair"],
                false,
            ),
            (Error::SelfCheck { reason: "pow".into(), bad: vec![] }, &["pow", "labels it uses are correct"], false),
            (Error::PowBackend { message: "no memory".into() }, &["no memory"], false),
            (Error::PowExhausted { group: 9 }, &["group 9"], false),
            (Error::NoncesExhausted { next_nonce: 4096 }, &["4096"], false),
            (Error::NumUnitsOutOfRange { num_units: 3, min: 4, max: 10 }, &["3", "4..=10"], true),
            (Error::NonceGroupOutOfRange { nonce: 4100 }, &["4100", "256"], true),
            (Error::PowOutOfRange { group: 2, pow: 1 << 60 }, &["group 2", "1152921504606846976"], true),
            (Error::InvalidPow { group: 5, pow: 77 }, &["group 5", "77"], true),
            (
                Error::IndicesEncoding { source: post_core::Error::CodecPadding { bit: 110, count: 10, bits: 11 } },
                &["110"],
                true,
            ),
            (Error::IndicesLength { expected: 14, got: 13, k2: 10, bits: 11 }, &["14", "13", "11 bits"], true),
            (Error::DuplicateIndex { index: 25, first: 0, second: 1 }, &["25", "0", "1"], true),
            (Error::IndexOutOfRange { index: 1282, position: 9, num_labels: 1024 }, &["1282", "9", "1024"], true),
            (
                Error::InvalidMsb { index: 25, position: 0, msb: 190, threshold: 5, label: [0xab; 16] },
                &["25", "190 > 5", "abab"],
                true,
            ),
            (
                Error::InvalidLsb { index: 8, position: 3, lsb: 99, threshold: 12, label: [0xcd; 16] },
                &["index 8", "position 3", "99 >= 12", "cdcd"],
                true,
            ),
        ];
        for (err, parts, rejection) in cases {
            let text = err.to_string();
            for part in parts {
                assert!(text.contains(part), "{text:?} lacks {part:?}");
            }
            assert_eq!(err.is_rejection(), rejection, "{text}");
        }
    }
}
