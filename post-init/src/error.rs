//! The one error type of `post-init`: every failure names the directory or file, the label index or byte
//! offset at fault, and what to do about it.

use std::path::PathBuf;

/// Errors of initialization, merging, resizing, verification and repair.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening, locking or reading the data directory or its metadata failed.
    #[error(transparent)]
    Core(#[from] post_core::Error),
    /// The labeller failed.
    // The end is computed saturating: near 2^64 (a forged range) the sum would overflow.
    #[error("computing labels {start}..{} failed: {source}", start.saturating_add(*count))]
    Label {
        /// First label of the failed call.
        start: u64,
        /// Labels in the call.
        count: u64,
        /// The labeller's error.
        source: post_oracle::Error,
    },
    /// A file operation failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done (`writing`, `reading`, `syncing` …).
        action: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A write failed because the disk (or the file-size limit, or the quota) is full.
    #[error(
        "{path}: no space left ({source}); everything written so far is synced and kept — free some space \
         (or raise the limit) and run the same command again to resume"
    )]
    DiskFull {
        /// The file being written.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// There is not enough free space to start.
    #[error(
        "{dir}: the data needs {} more on disk but only {} is free; free some space, use another \
         directory or fewer units, or initialize fewer files with --from-file/--to-file",
        crate::disk_space::Bytes(*needed),
        crate::disk_space::Bytes(*available)
    )]
    NotEnoughSpace {
        /// The data directory.
        dir: PathBuf,
        /// Bytes still to write.
        needed: u64,
        /// Bytes free on its filesystem.
        available: u64,
    },
    /// The directory holds data of another identity or with other parameters.
    #[error(
        "{dir}: the data on disk has {field} = {on_disk}, but {requested} was requested; nothing was changed \
         — use the same {field} or another directory"
    )]
    Mismatch {
        /// The data directory (or the piece, for a merge).
        dir: PathBuf,
        /// The differing field, named as in the metadata.
        field: &'static str,
        /// Its value on disk.
        on_disk: String,
        /// The requested value.
        requested: String,
    },
    /// Fewer units were requested than the directory holds: that would delete data.
    #[error(
        "{dir}: the data has {on_disk} units but {requested} were requested; initialization never deletes \
         data — to really drop units run `post shrink --dir {dir} --units {requested}`",
        dir = dir.display()
    )]
    FewerUnits {
        /// The data directory.
        dir: PathBuf,
        /// Units recorded in the metadata.
        on_disk: u32,
        /// Units requested.
        requested: u32,
    },
    /// A data file is longer than the layout allows.
    #[error(
        "{path}: {len} bytes, but the layout allows at most {expected}; it was not written with these \
         parameters — check --max-file-size/--labels-per-unit/--units or move the file away (nothing was changed)"
    )]
    Oversized {
        /// The file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The expected length.
        expected: u64,
    },
    /// A `postdata_*.bin` file that is not part of the data's layout.
    #[error(
        "{path} is not one of the data's files (postdata_0.bin ..= postdata_{last}.bin); it may belong to other \
         data or to more units than the metadata records — move it out of the directory (nothing was changed)"
    )]
    StrayFiles {
        /// The first such file.
        path: PathBuf,
        /// Index of the last file of the layout.
        last: u32,
    },
    /// Data files without a metadata file.
    #[error(
        "{dir} holds data files (e.g. {file}) but no postdata_metadata.json; without it the identity of the \
         data is unknown — restore the metadata file, or move the files away (nothing was changed)"
    )]
    DataWithoutMetadata {
        /// The data directory.
        dir: PathBuf,
        /// One of the data files.
        file: PathBuf,
    },
    /// A stored label does not equal the recomputed one where a run would continue.
    #[error(
        "{path}: label {index} at byte {offset} differs from the recomputed label; the file is corrupt or \
         was written with other parameters (scrypt N, identity) — check with `post verify-data --all` and fix \
         with `post repair` (nothing was changed)"
    )]
    LabelMismatch {
        /// The file.
        path: PathBuf,
        /// The global label index.
        index: u64,
        /// Byte offset in the file.
        offset: u64,
    },
    /// The metadata's VRF nonce does not match its recorded value or is not below the difficulty.
    #[error("{path}: VRF nonce {nonce}: {reason}")]
    BadNonce {
        /// The metadata file.
        path: PathBuf,
        /// The recorded nonce.
        nonce: u64,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A file range outside the layout.
    #[error("file range {from}..={to} is not inside the data's files 0..={last}; pick indices in that range")]
    FileRange {
        /// First file requested.
        from: u32,
        /// Last file requested.
        to: u32,
        /// Index of the last file of the layout.
        last: u32,
    },
    /// A merge cannot be done.
    #[error("merge: {reason}; nothing was moved")]
    Merge {
        /// What is wrong and what to do.
        reason: String,
    },
    /// A shrink cannot be done.
    #[error("{dir}: {reason}")]
    Shrink {
        /// The data directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Metadata cannot be rebuilt: the directory has metadata or no data, or the labels on disk are not
    /// those of the given parameters.
    #[error("{dir}: cannot rebuild the metadata: {reason}", dir = dir.display())]
    Rebuild {
        /// The data directory.
        dir: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Repair would overwrite good data: the parameters look wrong.
    #[error(
        "{dir}: refusing to repair: {reason}; check --scrypt-n (or --preset) — it must be the one the data was \
         written with (nothing was changed)"
    )]
    RepairRefused {
        /// The data directory.
        dir: PathBuf,
        /// Why the parameters look wrong.
        reason: String,
    },
    /// No scrypt N reproduces the data's stored labels or VRF nonce.
    #[error(
        "{path}: no scrypt N from 2 to 2^{max} reproduces {evidence} (each recomputed label differs); the \
         metadata's NodeId or CommitmentAtxId is not the data's (edited, or another directory's metadata), or \
         the data is damaged — restore the right metadata, or give --scrypt-n and check with `post verify-data \
         --all` (nothing was changed)",
        path = path.display(),
        max = crate::detect_n::MAX_DETECTED_LOG2_N
    )]
    ScryptUnknown {
        /// The file whose labels were recomputed (the metadata file when only the nonce was).
        path: PathBuf,
        /// What was recomputed, in words.
        evidence: String,
    },
    /// The given scrypt N does not reproduce the data; another does.
    #[error(
        "{path}: scrypt N = {n} does not reproduce {evidence} (the recomputed labels differ); N = {detected} \
         does — the data was written with N = {detected}: leave out --scrypt-n to detect it, or give \
         --scrypt-n {detected} (nothing was changed)",
        path = path.display()
    )]
    ScryptMismatch {
        /// The file whose labels were recomputed (the metadata file when only the nonce was).
        path: PathBuf,
        /// The N that was given.
        n: u32,
        /// The N that reproduces the data.
        detected: u32,
        /// What was recomputed, in words.
        evidence: String,
    },
    /// A bug: a thread panicked or an invariant broke.
    #[error("internal error: {what}; please report it")]
    Internal {
        /// What happened.
        what: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant formats with the values it carries and says what to do.
    #[test]
    fn every_variant_names_its_values() {
        let p = || PathBuf::from("/data/post/postdata_2.bin");
        let io = || std::io::Error::other("disk on fire");
        let cases: Vec<(Error, &[&str])> = vec![
            (Error::Core(post_core::Error::InvalidParam { name: "units", reason: "0".into() }), &["units"]),
            (
                Error::Label { start: 10, count: 5, source: post_oracle::Error::BufferLength { len: 3 } },
                &["10..15", "3 bytes"],
            ),
            (
                Error::Label { start: u64::MAX - 1, count: 5, source: post_oracle::Error::BufferLength { len: 3 } },
                &["18446744073709551614..18446744073709551615"],
            ),
            (Error::Io { path: p(), action: "writing", source: io() }, &["writing /data/post/postdata_2.bin", "fire"]),
            (Error::DiskFull { path: p(), source: io() }, &["postdata_2.bin", "resume"]),
            (Error::NotEnoughSpace { dir: p(), needed: 100, available: 7 }, &["100 B", "7 B", "--from-file"]),
            (
                Error::Mismatch { dir: p(), field: "NodeId", on_disk: "aa".into(), requested: "bb".into() },
                &["NodeId = aa", "bb was requested", "nothing was changed"],
            ),
            (Error::FewerUnits { dir: p(), on_disk: 4, requested: 2 }, &["4 units", "post shrink", "--units 2"]),
            (Error::Oversized { path: p(), len: 20, expected: 16 }, &["postdata_2.bin", "20 bytes", "16"]),
            (Error::StrayFiles { path: p(), last: 1 }, &["postdata_2.bin", "postdata_1.bin", "move it"]),
            (Error::DataWithoutMetadata { dir: p(), file: p() }, &["postdata_2.bin", "restore"]),
            (Error::LabelMismatch { path: p(), index: 77, offset: 1232 }, &["label 77", "byte 1232", "post repair"]),
            (Error::BadNonce { path: p(), nonce: 9, reason: "wrong".into() }, &["nonce 9", "wrong"]),
            (Error::FileRange { from: 3, to: 9, last: 4 }, &["3..=9", "0..=4"]),
            (Error::Merge { reason: "file 3 twice".into() }, &["file 3 twice", "nothing was moved"]),
            (Error::Shrink { dir: p(), reason: "no".into() }, &["/data/post", "no"]),
            (Error::RepairRefused { dir: p(), reason: "odd".into() }, &["odd", "--scrypt-n"]),
            (Error::Rebuild { dir: p(), reason: "label 3".into() }, &["rebuild the metadata", "label 3"]),
            (Error::Internal { what: "boom".into() }, &["boom", "report"]),
            (
                Error::ScryptUnknown { path: p(), evidence: "label 0 of x".into() },
                &["postdata_2.bin", "2^20", "label 0 of x", "NodeId"],
            ),
            (
                Error::ScryptMismatch { path: p(), n: 64, detected: 32, evidence: "label 0 of x".into() },
                &["postdata_2.bin", "N = 64", "label 0 of x", "written with N = 32", "--scrypt-n 32"],
            ),
        ];
        // No wildcard: a new variant fails to compile here until it gets a case above.
        let kinds: std::collections::BTreeSet<u8> = cases
            .iter()
            .map(|(e, _)| match e {
                Error::Core(_) => 0,
                Error::Label { .. } => 1,
                Error::Io { .. } => 2,
                Error::DiskFull { .. } => 3,
                Error::NotEnoughSpace { .. } => 4,
                Error::Mismatch { .. } => 5,
                Error::FewerUnits { .. } => 6,
                Error::Oversized { .. } => 7,
                Error::StrayFiles { .. } => 8,
                Error::DataWithoutMetadata { .. } => 9,
                Error::LabelMismatch { .. } => 10,
                Error::BadNonce { .. } => 11,
                Error::FileRange { .. } => 12,
                Error::Merge { .. } => 13,
                Error::Shrink { .. } => 14,
                Error::RepairRefused { .. } => 15,
                Error::Internal { .. } => 16,
                Error::Rebuild { .. } => 17,
                Error::ScryptUnknown { .. } => 18,
                Error::ScryptMismatch { .. } => 19,
            })
            .collect();
        assert_eq!(kinds.len(), 20, "a variant has no formatting case");
        for (err, needles) in cases {
            let text = err.to_string();
            for needle in needles {
                assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            }
        }
    }
}
