//! The VRF nonce of data that is already on disk, found without recomputing it all: only the first
//! 16 bytes of each label are stored, but the smallest full label has the smallest 16-byte prefix.
//!
//! ```text
//! 1. Read the stored labels and keep the smallest 16-byte prefix with every index that has it.
//! 2. Recompute the full labels of those indices (practically one).
//! 3. The smallest full label (lowest index on a tie) is the nonce if it is below the difficulty.
//! ```
//! Used when shrinking drops the files that held the nonce (Go's `-searchForNonce` does the same).

use std::fs::File;
use std::io::Read;

use post_core::{Commitment, FileState, FileStatus, LabelIndex, Layout, ScryptParams, LABEL_SIZE};
use post_oracle::{Labeller, VrfCandidate};

use crate::vrf::full_label;
use crate::{CancelToken, Error, Event, ProgressSink, VrfSearch};

/// Indices kept with the smallest prefix (see the tie handling in [`StoredSearch::run`]).
const MAX_TIES: usize = 16;

/// What the search over stored labels needs.
pub(crate) struct StoredSearch<'a> {
    pub labeller: &'a dyn Labeller,
    pub commitment: &'a Commitment,
    pub params: ScryptParams,
    pub layout: &'a Layout,
    pub difficulty: [u8; 32],
    pub cancel: &'a CancelToken,
    pub progress: &'a dyn ProgressSink,
}

impl StoredSearch<'_> {
    /// The best VRF candidate among the whole labels of `files` (at most their layout size): `Some(None)`
    /// when none qualifies, `None` when cancelled.
    ///
    /// # Errors
    /// [`Error::Io`] naming a file that cannot be read, [`Error::Label`] when the labeller fails,
    /// [`Error::LabelMismatch`] when the recomputed label does not start with the stored bytes (other
    /// parameters, or corruption).
    pub fn run(&self, files: &[FileStatus]) -> Result<Option<Option<VrfCandidate>>, Error> {
        let mut min: Option<[u8; 16]> = None;
        // Indices with the smallest prefix, with their file and byte offset for error messages.
        let mut ties: Vec<(u64, std::path::PathBuf, u64)> = Vec::new();
        let mut buf = vec![0u8; 1 << 20];
        for file in files.iter().filter(|f| f.state != FileState::Missing) {
            let whole = file.len_on_disk().min(file.expected_len) / LABEL_SIZE;
            let first = self.layout.file_labels(file.index).start;
            let io = |source| Error::Io { path: file.path.clone(), action: "reading", source };
            let mut handle = File::open(&file.path).map_err(io)?;
            let mut done = 0;
            while done < whole {
                if self.cancel.is_cancelled() {
                    return Ok(None);
                }
                let count = (whole - done).min(buf.len() as u64 / LABEL_SIZE);
                let chunk = &mut buf[..(count * LABEL_SIZE) as usize];
                handle.read_exact(chunk).map_err(io)?;
                for (k, label) in chunk.chunks_exact(16).enumerate() {
                    let index = first + done + k as u64;
                    match min.as_ref().map(|m| label.cmp(&m[..])) {
                        Some(std::cmp::Ordering::Greater) => {}
                        // Honest labels tie on 16 bytes with probability 2^-128; many ties mean a
                        // zero-filled or copied region, which the first tie's recomputation reports
                        // (`LabelMismatch`). Keeping a few bounds memory on such data.
                        Some(std::cmp::Ordering::Equal) if ties.len() < MAX_TIES => {
                            ties.push((index, file.path.clone(), (index - first) * LABEL_SIZE));
                        }
                        Some(std::cmp::Ordering::Equal) => {}
                        _ => {
                            let mut prefix = [0u8; 16];
                            prefix.copy_from_slice(label);
                            min = Some(prefix);
                            ties.clear();
                            ties.push((index, file.path.clone(), (index - first) * LABEL_SIZE));
                        }
                    }
                }
                done += count;
                self.progress.event(&Event::LabelsChecked { labels: count });
            }
        }
        let mut vrf = VrfSearch::new(self.difficulty);
        for (index, path, offset) in ties {
            let label = full_label(self.labeller, self.commitment, self.params, LabelIndex(index))?;
            if min.is_some_and(|m| m[..] != label[..16]) {
                return Err(Error::LabelMismatch { path, index, offset });
            }
            vrf.offer(Some(VrfCandidate { index: LabelIndex(index), label }));
        }
        Ok(Some(vrf.best()))
    }
}
