//! The one error type of `post-core`: every failure names the field, file or value at fault and, where
//! the user can do something about it, what to do.

use std::path::PathBuf;

/// Errors of parameter validation, difficulty math, formats and data-directory access.
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
    /// A write failed because the disk (or the file size limit, or a quota) is full.
    #[error(
        "{path}: no space left ({source}); what was written before is kept whole — free some space and run \
         the same command again to resume"
    )]
    NoSpace {
        /// The file being written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The proving difficulty (spec §5.2) cannot be computed for these inputs.
    #[error("cannot compute the proving difficulty for k1 = {k1} and {num_labels} labels: {reason}")]
    ProvingDifficulty {
        /// Expected good labels per nonce.
        k1: u32,
        /// Labels in the data.
        num_labels: u64,
        /// Why, e.g. "the number of labels must be bigger than k1".
        reason: &'static str,
    },
    /// The VRF difficulty 8·2^256/num_labels (spec §3) does not fit in 256 bits.
    #[error(
        "cannot compute the VRF difficulty for {num_labels} labels: 8·2^256/{num_labels} does not fit in 256 \
         bits; the data must hold at least 9 labels"
    )]
    VrfDifficulty {
        /// Labels in the data.
        num_labels: u64,
    },
    /// An index width outside 1..=64 was given to the index codec.
    #[error("index width of {bits} bits is outside 1..=64")]
    CodecWidth {
        /// The width asked for.
        bits: u32,
    },
    /// Packed proof indices have the wrong length.
    #[error("packed indices are {got} bytes, expected {expected} bytes for {count} indices of {bits} bits")]
    CodecLength {
        /// ceil(count·bits/8).
        expected: usize,
        /// The length received.
        got: usize,
        /// Indices expected.
        count: usize,
        /// Bits per index.
        bits: u32,
    },
    /// A padding bit after the last packed index is set.
    #[error(
        "padding bit {bit} (bit {} of byte {}) after {count} indices of {bits} bits is set; padding must be zero",
        .bit % 8,
        .bit / 8
    )]
    CodecPadding {
        /// Global bit position (LSB-first) of the first non-zero padding bit.
        bit: u64,
        /// Indices expected.
        count: usize,
        /// Bits per index.
        bits: u32,
    },
    /// `postdata_metadata.json` is not valid JSON or not an object.
    #[error("{path}: not a valid metadata file: {reason}; restore it from a backup or rewrite it by hand")]
    MetadataJson {
        /// The metadata file.
        path: PathBuf,
        /// The JSON error with line and column.
        reason: String,
    },
    /// A field of `postdata_metadata.json` is missing or wrong.
    #[error("{path}: field {field}: {reason}")]
    Metadata {
        /// The metadata file (or the data directory when the metadata was built in memory).
        path: PathBuf,
        /// The JSON key, e.g. `MaxFileSize`.
        field: &'static str,
        /// What is wrong, with the value found.
        reason: String,
    },
    /// A label index lies beyond the data.
    #[error("label index {index} is beyond the data ({num_labels} labels)")]
    LabelOutOfRange {
        /// The index asked for.
        index: u64,
        /// Labels in the data.
        num_labels: u64,
    },
    /// A data file is missing.
    #[error("{path} is missing (expected {expected_len} bytes); run `post init` on the directory to write it")]
    FileMissing {
        /// The file.
        path: PathBuf,
        /// The size the layout expects.
        expected_len: u64,
    },
    /// A data file has the wrong size.
    #[error("{path} is {len} bytes, expected {expected_len}: {advice}")]
    FileSize {
        /// The file.
        path: PathBuf,
        /// Its size on disk.
        len: u64,
        /// The size the layout expects.
        expected_len: u64,
        /// What the size means and what to do.
        advice: &'static str,
    },
    /// A path that must be a regular file is something else (a directory, a device, ...).
    #[error("{path} is not a regular file; move it out of the way")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// Another process holds the data directory's lock in a conflicting mode. Nothing was changed.
    #[error(
        "data directory {dir} is in use by {}; nothing was changed. Wait for that process to finish or stop it, \
         then retry",
        .holder.as_deref().unwrap_or("another process")
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// Who holds it, as written in the lock file (`pid <n>, <command>, since <unix time>`), or a
        /// description such as "readers (shared lock)"; `None` when unknown.
        holder: Option<String>,
    },
    /// A writer's lock file cannot be created: the directory is read-only (media, mount, permissions).
    #[error(
        "{dir} is read-only for this process ({source}); initializing, repairing, shrinking and merging \
         write there — remount it read-write, fix its permissions or use another directory; proving, \
         verify-data and info read it as it is. Nothing was changed",
        dir = dir.display()
    )]
    NotWritable {
        /// The data directory.
        dir: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The directory is not PoST data: it does not exist or has no `postdata_metadata.json`.
    #[error(
        "{dir} is not a PoST data directory: {reason}; give the directory `post init` wrote (it holds \
         postdata_metadata.json), or write a lost metadata file again with `post init --rebuild-metadata`",
        dir = dir.display()
    )]
    NotPostData {
        /// The directory given.
        dir: PathBuf,
        /// `it does not exist`, `it has no postdata_metadata.json`, …
        reason: &'static str,
    },
    /// A proof or proof metadata JSON document is malformed.
    #[error("malformed {what} JSON: {reason}")]
    ProofJson {
        /// `proof` or `proof metadata`.
        what: &'static str,
        /// The parser's message with line and column.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error on `path`, telling a full disk apart from other failures.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        use std::io::ErrorKind;
        let path = path.into();
        match source.kind() {
            ErrorKind::StorageFull | ErrorKind::FileTooLarge | ErrorKind::QuotaExceeded => {
                Error::NoSpace { path, source }
            }
            _ => Error::Io { path, source },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant formats with the values it carries, so no message hides its cause.
    #[test]
    fn every_variant_names_its_values() {
        let p = || PathBuf::from("/data/post");
        let cases: Vec<(Error, &[&str])> = vec![
            (Error::InvalidParam { name: "k1", reason: "too big".into() }, &["k1", "too big"]),
            (Error::Io { path: p(), source: std::io::Error::other("disk on fire") }, &["/data/post", "disk on fire"]),
            (
                Error::io(p(), std::io::Error::from(std::io::ErrorKind::StorageFull)),
                &["/data/post", "no space left", "run the same command again"],
            ),
            (
                Error::ProvingDifficulty { k1: 26, num_labels: 20, reason: "labels must be more than k1" },
                &["k1 = 26", "20 labels", "more than k1"],
            ),
            (Error::VrfDifficulty { num_labels: 7 }, &["7 labels", "at least 9"]),
            (Error::CodecWidth { bits: 65 }, &["65 bits", "1..=64"]),
            (
                Error::CodecLength { expected: 14, got: 13, count: 10, bits: 11 },
                &["13 bytes", "expected 14", "10 indices", "11 bits"],
            ),
            (Error::CodecPadding { bit: 111, count: 10, bits: 11 }, &["padding bit 111", "bit 7 of byte 13"]),
            (Error::MetadataJson { path: p(), reason: "EOF at line 3".into() }, &["/data/post", "line 3"]),
            (
                Error::Metadata { path: p(), field: "MaxFileSize", reason: "100 is not a multiple of 16".into() },
                &["/data/post", "MaxFileSize", "100 is not"],
            ),
            (Error::LabelOutOfRange { index: 1024, num_labels: 1024 }, &["1024", "1024 labels"]),
            (Error::FileMissing { path: p(), expected_len: 4800 }, &["/data/post", "4800", "post init"]),
            (
                Error::FileSize { path: p(), len: 100, expected_len: 4800, advice: "resume" },
                &["/data/post", "100 bytes", "4800", "resume"],
            ),
            (Error::NotAFile { path: p() }, &["/data/post", "regular file"]),
            (
                Error::Locked { dir: p(), holder: Some("pid 7, post init, since 1".into()) },
                &["/data/post", "pid 7, post init", "nothing was changed"],
            ),
            (Error::Locked { dir: p(), holder: None }, &["/data/post", "another process"]),
            (Error::ProofJson { what: "proof", reason: "missing field `pow`".into() }, &["proof", "`pow`"]),
            (
                Error::NotPostData { dir: p(), reason: "it does not exist" },
                &["/data/post", "does not exist", "post init"],
            ),
            (
                Error::NotWritable { dir: p(), source: std::io::Error::from_raw_os_error(30) },
                &["/data/post", "read-only", "remount", "Nothing was changed"],
            ),
        ];
        // The match has no wildcard: a new variant fails to compile here until it gets a case above.
        let kinds: std::collections::BTreeSet<u8> = cases
            .iter()
            .map(|(err, _)| match err {
                Error::InvalidParam { .. } => 0,
                Error::Io { .. } => 1,
                Error::ProvingDifficulty { .. } => 2,
                Error::VrfDifficulty { .. } => 3,
                Error::CodecWidth { .. } => 4,
                Error::CodecLength { .. } => 5,
                Error::CodecPadding { .. } => 6,
                Error::MetadataJson { .. } => 7,
                Error::Metadata { .. } => 8,
                Error::LabelOutOfRange { .. } => 9,
                Error::FileMissing { .. } => 10,
                Error::FileSize { .. } => 11,
                Error::NotAFile { .. } => 12,
                Error::Locked { .. } => 13,
                Error::ProofJson { .. } => 14,
                Error::NoSpace { .. } => 15,
                Error::NotPostData { .. } => 16,
                Error::NotWritable { .. } => 17,
            })
            .collect();
        assert_eq!(kinds.len(), 18, "a variant has no formatting case");
        for (err, needles) in cases {
            let text = err.to_string();
            for needle in needles {
                assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            }
        }
    }
}
