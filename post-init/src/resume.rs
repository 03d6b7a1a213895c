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
//!
//! A file with a "durable up to" mark (see `durable`) is checked further first: every label from the
//! mark to the end is recomputed, and the steps above then run on the file as if it ended at the first
//! wrong label (or at its end when none is wrong). A power cut can lose pages anywhere past the mark
//! while the last ones survive; this finds them.

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

/// Labels per labeller call when everything past a durable mark is checked (1 MiB).
const MARK_CHUNK: u64 = 1 << 16;

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

/// What [`TailCheck::labels_to_keep`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Kept {
    /// Whole labels at the start of the file that are right and kept.
    pub labels: u64,
    /// With a durable mark: the labels past it that were checked, and the first wrong one.
    pub past_mark: Option<PastMark>,
}

/// The check of the labels past a file's durable mark (file-relative label numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PastMark {
    /// The mark, in labels.
    pub mark: u64,
    /// Labels checked after it.
    pub checked: u64,
    /// The first wrong one.
    pub first_bad: Option<u64>,
}

/// Recomputes stored labels of one file.
pub(crate) struct TailCheck<'a> {
    pub labeller: &'a dyn Labeller,
    pub commitment: &'a Commitment,
    pub params: ScryptParams,
}

impl TailCheck<'_> {
    /// How many of the file's whole labels are right and can be kept (see the module doc); the run
    /// rewrites everything after them. `durable` is the file's mark in bytes, when it has one; a mark
    /// beyond the file's end says nothing about it and is not used.
    ///
    /// # Errors
    /// [`Error::LabelMismatch`] naming the first bad label when the head of the file is wrong,
    /// [`Error::Io`] when the file cannot be read, [`Error::Label`] when the labeller fails.
    pub fn labels_to_keep(&self, span: FileSpan<'_>, durable: Option<u64>) -> Result<Kept, Error> {
        if span.labels == 0 {
            return Ok(Kept { labels: 0, past_mark: None });
        }
        let file = File::open(span.path).map_err(|source| Error::Io {
            path: span.path.to_path_buf(),
            action: "opening",
            source,
        })?;
        let mut end = span.labels;
        let mut past_mark = None;
        if let Some(mark) = durable.map(|bytes| bytes / LABEL_SIZE).filter(|m| *m <= span.labels) {
            let mut first_bad = None;
            let mut start = mark;
            while start < span.labels && first_bad.is_none() {
                let stop = (start + MARK_CHUNK).min(span.labels);
                first_bad = self.first_bad(&file, span, start..stop)?;
                start = stop;
            }
            end = first_bad.unwrap_or(span.labels);
            past_mark = Some(PastMark { mark, checked: span.labels - mark, first_bad });
        }
        Ok(Kept { labels: self.keep_before(&file, span, end)?, past_mark })
    }

    /// Steps 2–4 of the module doc on the first `end` labels of the file.
    fn keep_before(&self, file: &File, span: FileSpan<'_>, end: u64) -> Result<u64, Error> {
        if end == 0 {
            return Ok(0);
        }
        let tail = end.saturating_sub(TAIL_CHECK_LABELS);
        if self.first_bad(file, span, tail..end)?.is_none() {
            return Ok(end);
        }
        let head = 0..end.min(TAIL_CHECK_LABELS);
        if let Some(bad) = self.first_bad(file, span, head)? {
            return Err(Error::LabelMismatch {
                path: span.path.to_path_buf(),
                index: span.first_label + bad,
                offset: bad * LABEL_SIZE,
            });
        }
        let mut end = end;
        while end > 0 {
            let start = end.saturating_sub(SCAN_CHUNK);
            if self.first_bad(file, span, start..end)?.is_none() {
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
