//! What a resumed run continues from: a file's length is never trusted on its own. Before labels are
//! appended to a file (or a file counts as done), its labels are recomputed where it ends.
//!
//! ```text
//! 1. A length that is not a multiple of 16 ends in a torn label, left by an interrupted write of ours:
//!    the torn bytes will be cut (the only thing ever cut without being asked).
//! 2. The last min(TAIL_CHECK_LABELS, whole labels) labels are recomputed and compared. All equal: the
//!    run continues after them.
//! 3. Otherwise the first labels of the file are checked. If they differ too, the file was written with
//!    other parameters (scrypt N, identity) or is garbage: the run stops before changing anything and
//!    names the first bad label (`post verify-data` / `post repair` deal with it).
//! 4. If the head is right, the end of the file is a write that did not reach the disk (a power loss
//!    can leave a file longer than its data, the rest reading as zeros). Chunks of SCAN_CHUNK labels are
//!    checked backwards from the end until one is entirely right; the run continues after that chunk and
//!    overwrites the wrong labels behind it with the right ones. Nothing right is ever lost, and the
//!    cost is at most about twice the labels that have to be rewritten anyway.
//! ```

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use post_core::{Commitment, LabelIndex, ScryptParams, LABEL_SIZE};
use post_oracle::{LabelJob, Labeller};

use crate::Error;

/// Labels recomputed at the end (and, when that fails, at the start) of each existing file before a
/// run continues after it.
pub const TAIL_CHECK_LABELS: u64 = 8;

/// Labels per chunk of the backward scan for the last right label (one 4 KiB page).
const SCAN_CHUNK: u64 = 256;

/// Where a file's labels sit in the data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileSpan<'a> {
    /// The file.
    pub path: &'a Path,
    /// Global index of its first label.
    pub first_label: u64,
    /// Whole labels on disk (its length rounded down to 16 bytes, at most the layout's size).
    pub labels: u64,
}

/// Recomputes stored labels of one file.
pub(crate) struct TailCheck<'a> {
    pub labeller: &'a dyn Labeller,
    pub commitment: &'a Commitment,
    pub params: ScryptParams,
}

impl TailCheck<'_> {
    /// How many of the file's whole labels are right and can be kept (steps 2–4 of the module doc);
    /// the run rewrites everything after them.
    ///
    /// # Errors
    /// [`Error::LabelMismatch`] naming the first bad label when the head of the file is wrong,
    /// [`Error::Io`] when the file cannot be read, [`Error::Label`] when the labeller fails.
    pub fn labels_to_keep(&self, span: FileSpan<'_>) -> Result<u64, Error> {
        if span.labels == 0 {
            return Ok(0);
        }
        let file = File::open(span.path).map_err(|source| Error::Io {
            path: span.path.to_path_buf(),
            action: "opening",
            source,
        })?;
        let tail = span.labels.saturating_sub(TAIL_CHECK_LABELS);
        if self.first_bad(&file, span, tail..span.labels)?.is_none() {
            return Ok(span.labels);
        }
        let head = 0..span.labels.min(TAIL_CHECK_LABELS);
        if let Some(bad) = self.first_bad(&file, span, head)? {
            return Err(Error::LabelMismatch {
                path: span.path.to_path_buf(),
                index: span.first_label + bad,
                offset: bad * LABEL_SIZE,
            });
        }
        let mut end = span.labels;
        while end > 0 {
            let start = end.saturating_sub(SCAN_CHUNK);
            if self.first_bad(&file, span, start..end)?.is_none() {
                return Ok(end);
            }
            end = start;
        }
        Ok(0)
    }

    /// The first label of `range` (file-relative) that differs from its recomputed value.
    fn first_bad(&self, file: &File, span: FileSpan<'_>, range: std::ops::Range<u64>) -> Result<Option<u64>, Error> {
        let count = range.end - range.start;
        if count == 0 {
            return Ok(None);
        }
        let mut on_disk = vec![0u8; (count * LABEL_SIZE) as usize];
        file.read_exact_at(&mut on_disk, range.start * LABEL_SIZE).map_err(|source| Error::Io {
            path: span.path.to_path_buf(),
            action: "reading",
            source,
        })?;
        let mut expected = vec![0u8; on_disk.len()];
        let start = span.first_label + range.start;
        let job = LabelJob {
            commitment: self.commitment,
            params: self.params,
            start: LabelIndex(start),
            out: &mut expected,
            vrf_threshold: None,
        };
        self.labeller.label(job).map_err(|source| Error::Label { start, count, source })?;
        let bad = on_disk.chunks_exact(16).zip(expected.chunks_exact(16)).position(|(a, b)| a != b);
        Ok(bad.map(|k| range.start + k as u64))
    }
}
