//! The scrypt N of data already on disk, found from the data itself: the network's
//! `postdata_metadata.json` does not record it, and every label computed with another N differs.
//!
//! ```text
//! 1. Collect what the directory holds that depends on N: the recorded VRF nonce with its NonceValue,
//!    and the first and last whole stored labels of the first and of the last data file that has any.
//! 2. For each candidate N — the expected one first, then 2, 4, 8, … 2^20 (cheapest first, skipping
//!    the expected one) — recompute that evidence. The first N that reproduces one item is the data's N:
//!    a stored 16-byte label, or the nonce's full label whose first 16 bytes are NonceValue.
//! 3. When no candidate reproduces anything, the metadata's identity is not the data's (edited, or
//!    another directory's metadata), or the data is damaged: an error naming the file.
//! ```
//! One reproduced 128-bit value is proof enough (another N matches with probability 2^-128). Accepting
//! any one item rather than all lets a damaged label 0 be found by `verify-data` instead of hiding N.
//! The evidence is read without taking the directory's lock: it only reads, as `inspect` does.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use post_core::{Commitment, LabelIndex, Layout, PostMetadata, ScryptParams, LABEL_SIZE};
use post_oracle::{LabelJob, Labeller};

use crate::vrf::full_label;
use crate::Error;

/// log2 of the largest N tried when detecting (2^20: 128 MiB of scratch per label).
pub const MAX_DETECTED_LOG2_N: u32 = 20;

/// A stored label read from a data file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredLabel {
    path: PathBuf,
    index: u64,
    offset: u64,
    value: [u8; 16],
}

/// What a data directory holds that tells the scrypt N its labels were written with (see the module
/// doc): read once, then checked against candidate values of N.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScryptEvidence {
    metadata_path: PathBuf,
    commitment: Commitment,
    /// The recorded VRF nonce and its NonceValue.
    nonce: Option<(u64, [u8; 16])>,
    labels: Vec<StoredLabel>,
}

impl ScryptEvidence {
    /// Reads the metadata of `dir` and the labels that tell its N (no lock is taken).
    ///
    /// # Errors
    /// [`Error::Core`] when the metadata cannot be read; [`Error::Io`] naming a data file that cannot be
    /// read.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let metadata = PostMetadata::load(dir)?;
        Self::from_metadata(dir, &metadata)
    }

    /// As [`ScryptEvidence::read`] with the metadata already loaded.
    ///
    /// # Errors
    /// [`Error::Core`] when the metadata's layout is invalid; [`Error::Io`] naming a data file that
    /// cannot be read.
    pub fn from_metadata(dir: &Path, metadata: &PostMetadata) -> Result<Self, Error> {
        let layout = metadata.layout()?;
        let nonce = metadata.nonce.zip(metadata.nonce_value);
        // Whole labels stored in a file (0 when it is missing).
        let whole = |file: u32| -> Result<u64, Error> {
            let path = Layout::file_path(dir, file);
            match std::fs::metadata(&path) {
                Ok(m) => Ok(m.len().min(layout.expected_file_size(file)) / LABEL_SIZE),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(source) => Err(Error::Io { path, action: "reading", source }),
            }
        };
        let mut files = Vec::new();
        for file in 0..layout.num_files() {
            if whole(file)? > 0 {
                files.push(file);
                break;
            }
        }
        if let Some(&first_file) = files.first() {
            for file in (first_file + 1..layout.num_files()).rev() {
                if whole(file)? > 0 {
                    files.push(file);
                    break;
                }
            }
        }
        let mut labels = Vec::new();
        for file in files {
            let (path, count, first) = (Layout::file_path(dir, file), whole(file)?, layout.file_labels(file).start);
            let mut offsets = vec![0];
            if count > 1 {
                offsets.push((count - 1) * LABEL_SIZE);
            }
            for offset in offsets {
                let value = read_label(&path, offset)?;
                labels.push(StoredLabel { path: path.clone(), index: first + offset / LABEL_SIZE, offset, value });
            }
        }
        Ok(Self { metadata_path: PostMetadata::path(dir), commitment: metadata.commitment(), nonce, labels })
    }

    /// True when the directory holds nothing that tells N: no stored label and no NonceValue.
    pub fn is_empty(&self) -> bool {
        self.nonce.is_none() && self.labels.is_empty()
    }

    /// The file an error names: the data file read, else the metadata file.
    pub fn path(&self) -> &Path {
        self.labels.first().map_or(self.metadata_path.as_path(), |l| l.path.as_path())
    }

    /// The evidence in words, for messages that name the directory's path already: `label 0 and label
    /// 299 of postdata_0.bin, label 900 and label 1023 of postdata_3.bin, the VRF nonce 844 (NonceValue)
    /// of postdata_metadata.json`.
    pub fn describe(&self) -> String {
        let name = |path: &Path| path.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let mut parts = Vec::new();
        for chunk in self.labels.chunk_by(|a, b| a.path == b.path) {
            let indices: Vec<String> = chunk.iter().map(|l| format!("label {}", l.index)).collect();
            parts.push(format!("{} of {}", indices.join(" and "), name(&chunk[0].path)));
        }
        if let Some((nonce, _)) = self.nonce {
            parts.push(format!("the VRF nonce {nonce} (NonceValue) of {}", name(&self.metadata_path)));
        }
        if parts.is_empty() {
            return "nothing (no stored label, no NonceValue)".into();
        }
        parts.join(", ")
    }

    /// True when `params` reproduces at least one item of the evidence (always false when empty).
    ///
    /// # Errors
    /// [`Error::Label`] when the labeller fails.
    pub fn reproduced_by(&self, params: ScryptParams, labeller: &dyn Labeller) -> Result<bool, Error> {
        for stored in &self.labels {
            if label16(labeller, &self.commitment, params, stored.index)? == stored.value {
                return Ok(true);
            }
        }
        if let Some((nonce, value)) = self.nonce {
            let label = full_label(labeller, &self.commitment, params, LabelIndex(nonce))?;
            if label[..16] == value[..] {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The N the data was written with: `expected` when it reproduces the evidence, else the first
    /// power of two from 2 to 2^[`MAX_DETECTED_LOG2_N`] that does (r and p as in `expected`); `None`
    /// when there is nothing to tell N from (no stored label, no NonceValue).
    ///
    /// # Errors
    /// [`Error::ScryptUnknown`] naming the file when no candidate reproduces the evidence;
    /// [`Error::Label`] when the labeller fails.
    pub fn detect(&self, expected: ScryptParams, labeller: &dyn Labeller) -> Result<Option<ScryptParams>, Error> {
        if self.is_empty() {
            return Ok(None);
        }
        if self.reproduced_by(expected, labeller)? {
            return Ok(Some(expected));
        }
        match self.search_except(expected, labeller)? {
            Some(params) => Ok(Some(params)),
            None => Err(self.unknown()),
        }
    }

    /// Checks that `params` reproduces the evidence (an empty evidence passes). When it does not, the
    /// other candidates are tried so that the error can say which N the data was written with.
    ///
    /// # Errors
    /// [`Error::ScryptMismatch`] naming the file and the N that does reproduce the data;
    /// [`Error::ScryptUnknown`] when no N does; [`Error::Label`] when the labeller fails.
    pub fn check(&self, params: ScryptParams, labeller: &dyn Labeller) -> Result<(), Error> {
        if self.is_empty() || self.reproduced_by(params, labeller)? {
            return Ok(());
        }
        match self.search_except(params, labeller)? {
            Some(found) => Err(Error::ScryptMismatch {
                path: self.path().to_path_buf(),
                n: params.n(),
                detected: found.n(),
                evidence: self.describe(),
            }),
            None => Err(self.unknown()),
        }
    }

    /// The first power of two N from 2 to 2^[`MAX_DETECTED_LOG2_N`], other than `skip`'s, that
    /// reproduces the evidence (r and p as in `skip`).
    fn search_except(&self, skip: ScryptParams, labeller: &dyn Labeller) -> Result<Option<ScryptParams>, Error> {
        for log2 in 1..=MAX_DETECTED_LOG2_N {
            let n = 1u64 << log2;
            if n == u64::from(skip.n()) {
                continue;
            }
            let Ok(params) = ScryptParams::new(n, u64::from(skip.r()), u64::from(skip.p())) else {
                continue;
            };
            if self.reproduced_by(params, labeller)? {
                return Ok(Some(params));
            }
        }
        Ok(None)
    }

    fn unknown(&self) -> Error {
        Error::ScryptUnknown { path: self.path().to_path_buf(), evidence: self.describe() }
    }
}

/// Reads the evidence of `dir` and detects its N (see [`ScryptEvidence::detect`]).
///
/// # Errors
/// As [`ScryptEvidence::read`] and [`ScryptEvidence::detect`].
pub fn detect_scrypt_n(
    dir: &Path,
    expected: ScryptParams,
    labeller: &dyn Labeller,
) -> Result<Option<ScryptParams>, Error> {
    ScryptEvidence::read(dir)?.detect(expected, labeller)
}

/// The first label of `labels` (global indices, stored in `path` from byte 0) and its last that differs
/// from the recomputed one, as (index, byte offset); `None` when both match.
///
/// # Errors
/// [`Error::Io`] naming the file, [`Error::Label`] when the labeller fails.
pub(crate) fn first_differing_end(
    path: &Path,
    labels: std::ops::Range<u64>,
    commitment: &Commitment,
    params: ScryptParams,
    labeller: &dyn Labeller,
) -> Result<Option<(u64, u64)>, Error> {
    if labels.is_empty() {
        return Ok(None);
    }
    for index in [labels.start, labels.end - 1] {
        let offset = (index - labels.start) * LABEL_SIZE;
        if read_label(path, offset)? != label16(labeller, commitment, params, index)? {
            return Ok(Some((index, offset)));
        }
    }
    Ok(None)
}

fn read_label(path: &Path, offset: u64) -> Result<[u8; 16], Error> {
    let io = |source| Error::Io { path: path.to_path_buf(), action: "reading", source };
    let file = File::open(path).map_err(io)?;
    let mut label = [0u8; 16];
    file.read_exact_at(&mut label, offset).map_err(io)?;
    Ok(label)
}

fn label16(
    labeller: &dyn Labeller,
    commitment: &Commitment,
    params: ScryptParams,
    index: u64,
) -> Result<[u8; 16], Error> {
    let mut out = [0u8; 16];
    let job = LabelJob { commitment, params, start: LabelIndex(index), out: &mut out, vrf_threshold: None };
    labeller.label(job).map_err(|source| Error::Label { start: index, count: 1, source })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use post_oracle::ReferenceLabeller;

    /// The reference directory of `../shared/vectors/datadir-small`, written with N = 16.
    fn reference_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-small")
    }

    /// A copy of the reference directory (its data files and metadata).
    fn copy_reference(to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(reference_dir()).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("postdata_") {
                std::fs::copy(entry.path(), to.join(name)).unwrap();
            }
        }
    }

    fn n(n: u64) -> ScryptParams {
        ScryptParams::with_n(n).unwrap()
    }

    fn edit_metadata(dir: &Path, edit: impl FnOnce(&mut PostMetadata)) {
        let mut metadata = PostMetadata::load(dir).unwrap();
        edit(&mut metadata);
        metadata.save(dir).unwrap();
    }

    fn overwrite(path: &Path, offset: u64, bytes: &[u8]) {
        let file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
        file.write_all_at(bytes, offset).unwrap();
    }

    #[test]
    fn finds_the_n_of_the_reference_data_from_any_expected_n() {
        let evidence = ScryptEvidence::read(&reference_dir()).unwrap();
        let indices: Vec<u64> = evidence.labels.iter().map(|l| l.index).collect();
        assert_eq!(indices, [0, 299, 900, 1023], "{evidence:?}");
        assert!(evidence.nonce.is_none(), "the reference metadata has no NonceValue");
        for expected in [8192, 512, 16, 2] {
            assert_eq!(evidence.detect(n(expected), &ReferenceLabeller).unwrap(), Some(n(16)), "expected {expected}");
        }
        evidence.check(n(16), &ReferenceLabeller).unwrap();
    }

    #[test]
    fn a_wrong_n_is_refused_naming_the_file() {
        let err = ScryptEvidence::read(&reference_dir()).unwrap().check(n(32), &ReferenceLabeller).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::ScryptMismatch { n: 32, detected: 16, .. }), "{err:?}");
        assert!(text.contains("postdata_0.bin") && text.contains("N = 32") && text.contains("N = 16"), "{text}");
    }

    #[test]
    fn the_nonce_alone_tells_n() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_reference(&dir);
        edit_metadata(&dir, |m| {
            let label = full_label(&ReferenceLabeller, &m.commitment(), n(16), LabelIndex(844)).unwrap();
            m.nonce_value = Some(label[..16].try_into().unwrap());
        });
        for i in 0..4 {
            std::fs::remove_file(Layout::file_path(&dir, i)).unwrap();
        }
        let evidence = ScryptEvidence::read(&dir).unwrap();
        assert!(evidence.labels.is_empty());
        assert!(evidence.check(n(32), &ReferenceLabeller).is_err());
        assert_eq!(evidence.detect(n(512), &ReferenceLabeller).unwrap(), Some(n(16)));
        assert!(evidence.path().ends_with("postdata_metadata.json"));
    }

    #[test]
    fn one_damaged_label_does_not_hide_n() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_reference(&dir);
        edit_metadata(&dir, |m| (m.nonce, m.nonce_value) = (None, None));
        // Three of the four labels read are damaged; label 1023 alone tells N.
        overwrite(&Layout::file_path(&dir, 0), 0, &[0xee; 16]);
        overwrite(&Layout::file_path(&dir, 0), 299 * LABEL_SIZE, &[0xee; 16]);
        overwrite(&Layout::file_path(&dir, 3), 0, &[0xee; 16]);
        assert_eq!(detect_scrypt_n(&dir, n(8192), &ReferenceLabeller).unwrap(), Some(n(16)));
        // Only file 1 left: its own first and last labels.
        for i in [0, 2, 3] {
            std::fs::remove_file(Layout::file_path(&dir, i)).unwrap();
        }
        let evidence = ScryptEvidence::read(&dir).unwrap();
        assert_eq!(evidence.describe(), "label 300 and label 599 of postdata_1.bin");
        assert_eq!(evidence.detect(n(8192), &ReferenceLabeller).unwrap(), Some(n(16)));
    }

    #[test]
    fn another_identity_reproduces_with_no_n() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_reference(&dir);
        edit_metadata(&dir, |m| m.node_id = post_core::NodeId([0x42; 32]));
        let err = detect_scrypt_n(&dir, n(16), &ReferenceLabeller).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, Error::ScryptUnknown { .. }), "{err:?}");
        assert!(
            text.contains("label 0 and label 299 of postdata_0.bin, label 900 and label 1023 of postdata_3.bin"),
            "{text}"
        );
        assert!(text.contains("NodeId"), "{text}");
    }

    #[test]
    fn nothing_on_disk_tells_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_reference(&dir);
        edit_metadata(&dir, |m| (m.nonce, m.nonce_value) = (None, None));
        for i in 0..4 {
            std::fs::remove_file(Layout::file_path(&dir, i)).unwrap();
        }
        // A torn first label is not a label.
        std::fs::write(Layout::file_path(&dir, 0), [1u8; 15]).unwrap();
        let evidence = ScryptEvidence::read(&dir).unwrap();
        assert!(evidence.is_empty());
        assert_eq!(evidence.detect(n(8192), &ReferenceLabeller).unwrap(), None);
        evidence.check(n(64), &ReferenceLabeller).unwrap();
    }

    #[test]
    fn the_ends_of_a_file_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        copy_reference(&dir);
        let metadata = PostMetadata::load(&dir).unwrap();
        let layout = metadata.layout().unwrap();
        let (path, labels) = (Layout::file_path(&dir, 1), layout.file_labels(1));
        let check = |params| {
            first_differing_end(&path, labels.clone(), &metadata.commitment(), params, &ReferenceLabeller).unwrap()
        };
        assert_eq!(check(n(16)), None);
        assert_eq!(check(n(32)), Some((300, 0)));
        let last = labels.end - 1 - labels.start;
        overwrite(&path, last * LABEL_SIZE + 7, &[0, 1, 2]);
        assert_eq!(check(n(16)), Some((labels.end - 1, last * LABEL_SIZE)));
    }
}
