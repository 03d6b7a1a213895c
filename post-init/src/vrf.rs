//! The running VRF nonce search of spec §3, chained across batches, files, resumed runs and pieces.
//!
//! ```text
//! 1. The threshold starts at vrf_difficulty(num_labels).
//! 2. Each batch is labelled with the current threshold; the labeller reports the smallest full label of
//!    the batch strictly below it (the lowest index on a tie).
//! 3. A reported label becomes the best, and the best becomes the threshold.
//! ```
//! Processing batches in index order this finds the smallest full label below the difficulty, the lowest
//! index on a tie: the reference rule. Pieces searched separately are combined with
//! [`VrfCandidate::better`], which gives the same answer. Only the first 16 bytes of a label are on disk,
//! so a run that resumes recomputes the full label of the stored nonce ([`full_label`]) to get its
//! threshold back.

use std::path::Path;

use post_core::{Commitment, LabelIndex, PostMetadata, ScryptParams};
use post_oracle::{LabelJob, Labeller, VrfCandidate};

use crate::Error;

/// The best VRF candidate found so far and the difficulty it must stay below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrfSearch {
    difficulty: [u8; 32],
    best: Option<VrfCandidate>,
}

impl VrfSearch {
    /// A search with nothing found yet.
    pub fn new(difficulty: [u8; 32]) -> Self {
        Self { difficulty, best: None }
    }

    /// The difficulty every candidate must be strictly below.
    pub fn difficulty(&self) -> &[u8; 32] {
        &self.difficulty
    }

    /// What a labeller must beat: the best label so far, else the difficulty.
    pub fn threshold(&self) -> &[u8; 32] {
        self.best.as_ref().map_or(&self.difficulty, |b| &b.label)
    }

    /// The best candidate so far.
    pub fn best(&self) -> Option<VrfCandidate> {
        self.best
    }

    /// Offers a candidate; returns it when it qualifies and beats the best (smaller label, or the same
    /// label at a lower index), which then becomes the new best.
    pub fn offer(&mut self, candidate: Option<VrfCandidate>) -> Option<VrfCandidate> {
        let c = candidate?;
        if c.label >= self.difficulty {
            return None;
        }
        let better = VrfCandidate::better(self.best, Some(c));
        if better == self.best {
            return None;
        }
        self.best = better;
        better
    }
}

/// Computes the full 32-byte label at `index` (spec §2.3).
///
/// # Errors
/// [`Error::Label`] when the labeller fails.
pub fn full_label(
    labeller: &dyn Labeller,
    commitment: &Commitment,
    params: ScryptParams,
    index: LabelIndex,
) -> Result<[u8; 32], Error> {
    let mut out = [0u8; 16];
    let top = [0xff; 32];
    let job = LabelJob { commitment, params, start: index, out: &mut out, vrf_threshold: Some(&top) };
    let found = labeller.label(job).map_err(|source| Error::Label { start: index.0, count: 1, source })?;
    // Only the all-ones label is not strictly below the all-ones threshold.
    Ok(found.map_or(top, |c| c.label))
}

/// The nonce recorded in `metadata` with its full label recomputed, checked against the recorded
/// `NonceValue` and the difficulty of the metadata's data size; `None` when no nonce is recorded.
///
/// # Errors
/// [`Error::BadNonce`] naming the metadata file when the recomputed label differs from `NonceValue` or is
/// not below the difficulty (most often a wrong scrypt N); [`Error::Label`] when the labeller fails;
/// [`Error::Core`] when the difficulty cannot be computed.
pub(crate) fn recorded_best(
    dir: &Path,
    metadata: &PostMetadata,
    labeller: &dyn Labeller,
    params: ScryptParams,
) -> Result<Option<VrfCandidate>, Error> {
    let Some(nonce) = metadata.nonce else { return Ok(None) };
    let label = full_label(labeller, &metadata.commitment(), params, LabelIndex(nonce))?;
    let bad = |reason: String| Error::BadNonce { path: PostMetadata::path(dir), nonce, reason };
    if let Some(value) = metadata.nonce_value {
        if value[..] != label[..16] {
            return Err(bad(format!(
                "the recomputed label starts with {} but NonceValue is {}; the data was probably written with \
                 another scrypt N (pass the right one) or the metadata belongs to other data",
                hex::encode(&label[..16]),
                hex::encode(value)
            )));
        }
    }
    let difficulty = post_core::vrf_difficulty(metadata.num_labels())?;
    if label >= difficulty {
        return Err(bad(format!(
            "its label {} is not below the VRF difficulty {}; the data was probably written with another scrypt \
             N (pass the right one) or the metadata belongs to other data",
            hex::encode(label),
            hex::encode(difficulty)
        )));
    }
    Ok(Some(VrfCandidate { index: LabelIndex(nonce), label }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(index: u64, first: u8) -> Option<VrfCandidate> {
        let mut label = [0x10; 32];
        label[0] = first;
        Some(VrfCandidate { index: LabelIndex(index), label })
    }

    #[test]
    fn chains_the_threshold() {
        let mut difficulty = [0u8; 32];
        difficulty[0] = 0x40;
        let mut s = VrfSearch::new(difficulty);
        assert_eq!(s.threshold(), &difficulty);
        assert_eq!(s.offer(cand(3, 0x50)), None, "above the difficulty");
        assert_eq!(s.offer(cand(7, 0x30)), cand(7, 0x30));
        assert_eq!(s.threshold()[0], 0x30);
        assert_eq!(s.offer(cand(9, 0x30)), None, "a tie at a higher index does not replace");
        assert_eq!(s.offer(cand(2, 0x30)), cand(2, 0x30), "a tie at a lower index does");
        assert_eq!(s.offer(cand(1, 0x31)), None);
        assert_eq!(s.offer(None), None);
        assert_eq!(s.best(), cand(2, 0x30));
    }

    #[test]
    fn order_of_offers_does_not_matter() {
        let all = [cand(5, 0x22), cand(1, 0x23), cand(8, 0x21), cand(0, 0x21), cand(4, 0x99)];
        let mut forward = VrfSearch::new([0x80; 32]);
        let mut backward = VrfSearch::new([0x80; 32]);
        for c in all {
            forward.offer(c);
        }
        for c in all.iter().rev() {
            backward.offer(*c);
        }
        assert_eq!(forward.best(), cand(0, 0x21));
        assert_eq!(backward.best(), forward.best());
    }
}
