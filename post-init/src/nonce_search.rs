//! The VRF nonce search beyond the data (spec §3), for the rare data (about e^-8 ≈ 0.03 %) in which no
//! label is below the VRF difficulty. It follows the Go tool, so that the nonce is the one Go finds:
//!
//! ```text
//! 1. Start at max(LastPosition, num_labels).
//! 2. Label the block [start, start + 2^20) without storing it, chaining the threshold inside the block.
//! 3. If the block holds a label below the difficulty, its smallest one (lowest index on a tie) is the
//!    nonce: save it and stop.
//! 4. Otherwise save LastPosition = start + 2^20 (so a cancelled or killed run resumes there) and go on.
//! ```

use std::path::Path;

use post_core::{Commitment, LabelIndex, PostMetadata, ScryptParams};
use post_oracle::{LabelJob, Labeller, VrfCandidate};

use crate::{CancelToken, Error, Event, ProgressSink, VrfSearch};

/// Labels per block of the search beyond the data: Go's default `ComputeBatchSize`.
pub const BEYOND_BLOCK: u64 = 1 << 20;

/// What the search beyond the data needs.
pub(crate) struct BeyondSearch<'a> {
    pub labeller: &'a dyn Labeller,
    pub commitment: &'a Commitment,
    pub params: ScryptParams,
    pub difficulty: [u8; 32],
    /// Labels per labeller call.
    pub batch: usize,
    /// Labels per block.
    pub block: u64,
    pub cancel: &'a CancelToken,
    pub progress: &'a dyn ProgressSink,
}

impl BeyondSearch<'_> {
    /// Searches until a nonce is found (saved in `metadata` and returned) or the token is cancelled
    /// (`Ok(None)`; `LastPosition` records the blocks already searched).
    ///
    /// # Errors
    /// [`Error::Label`] when the labeller fails, the errors of saving the metadata, and
    /// [`Error::Internal`] if the search ran past label 2^64 − 1.
    pub fn run(&self, dir: &Path, metadata: &mut PostMetadata) -> Result<Option<VrfCandidate>, Error> {
        let mut start = metadata.last_position.unwrap_or(0).max(metadata.num_labels());
        let mut buf = vec![0u8; self.batch.clamp(1, self.block.clamp(1, BEYOND_BLOCK) as usize) * 16];
        loop {
            let end = start.checked_add(self.block.max(1)).ok_or_else(|| Error::Internal {
                what: format!("the VRF nonce search ran past label {start} without finding a nonce"),
            })?;
            self.progress.event(&Event::NonceSearchBeyond { from: LabelIndex(start) });
            let mut vrf = VrfSearch::new(self.difficulty);
            let mut at = start;
            while at < end {
                if self.cancel.is_cancelled() {
                    return Ok(None);
                }
                let count = (end - at).min(buf.len() as u64 / 16);
                let out = &mut buf[..count as usize * 16];
                let job = LabelJob {
                    commitment: self.commitment,
                    params: self.params,
                    start: LabelIndex(at),
                    out,
                    vrf_threshold: Some(vrf.threshold()),
                };
                let found = self.labeller.label(job).map_err(|source| Error::Label { start: at, count, source })?;
                vrf.offer(found);
                at += count;
            }
            if let Some(best) = vrf.best() {
                record_nonce(metadata, &best);
                metadata.save(dir)?;
                self.progress.event(&Event::NewVrfNonce { index: best.index, label: best.label });
                return Ok(Some(best));
            }
            metadata.last_position = Some(end);
            metadata.save(dir)?;
            start = end;
        }
    }
}

/// Writes a nonce into the metadata: `Nonce` and (as Go does) `NonceValue`, the label's first 16 bytes.
pub(crate) fn record_nonce(metadata: &mut PostMetadata, best: &VrfCandidate) {
    let mut value = [0u8; 16];
    value.copy_from_slice(&best.label[..16]);
    metadata.nonce = Some(best.index.0);
    metadata.nonce_value = Some(value);
}
