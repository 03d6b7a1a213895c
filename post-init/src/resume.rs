//! What a resumed run continues from: a file's length is never trusted on its own. Before labels are
//! appended to a file (or a file counts as done), its last labels are recomputed and compared.
//!
//! ```text
//! 1. A length that is not a multiple of 16 ends in a torn label, left by an interrupted write of ours:
//!    the whole labels before it are checked and the torn bytes will be cut (the only thing ever cut
//!    without being asked).
//! 2. The last min(TAIL_CHECK_LABELS, whole labels) labels are recomputed and compared byte for byte.
//!    A difference means a corrupt file (for example zeros after a power loss) or other parameters:
//!    the run stops before changing anything and names the first bad label.
//! ```

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use post_core::{Commitment, LabelIndex, ScryptParams, LABEL_SIZE};
use post_oracle::{LabelJob, Labeller};

use crate::Error;

/// Labels recomputed at the end of each existing file before a run continues after it.
pub const TAIL_CHECK_LABELS: u64 = 8;

/// Where a file's labels sit in the data.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileSpan<'a> {
    /// The file.
    pub path: &'a Path,
    /// Global index of its first label.
    pub first_label: u64,
    /// Whole labels on disk (its length rounded down to 16 bytes).
    pub labels: u64,
}

/// Recomputes the last labels of `span` and compares them with the file; returns how many were checked.
///
/// # Errors
/// [`Error::LabelMismatch`] naming the first differing label, [`Error::Io`] when the file cannot be read,
/// [`Error::Label`] when the labeller fails.
pub(crate) fn check_tail(
    labeller: &dyn Labeller,
    commitment: &Commitment,
    params: ScryptParams,
    span: FileSpan<'_>,
) -> Result<u64, Error> {
    let count = span.labels.min(TAIL_CHECK_LABELS);
    if count == 0 {
        return Ok(0);
    }
    let first = span.labels - count;
    let offset = first * LABEL_SIZE;
    let mut on_disk = vec![0u8; (count * LABEL_SIZE) as usize];
    File::open(span.path).and_then(|f| f.read_exact_at(&mut on_disk, offset)).map_err(|source| Error::Io {
        path: span.path.to_path_buf(),
        action: "reading",
        source,
    })?;
    let mut expected = vec![0u8; on_disk.len()];
    let start = span.first_label + first;
    let job = LabelJob { commitment, params, start: LabelIndex(start), out: &mut expected, vrf_threshold: None };
    labeller.label(job).map_err(|source| Error::Label { start, count, source })?;
    let bad = on_disk.chunks_exact(16).zip(expected.chunks_exact(16)).position(|(a, b)| a != b);
    match bad {
        None => Ok(count),
        Some(k) => Err(Error::LabelMismatch {
            path: span.path.to_path_buf(),
            index: start + k as u64,
            offset: offset + k as u64 * LABEL_SIZE,
        }),
    }
}
