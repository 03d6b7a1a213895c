//! The `Labeller` trait: the one interface behind which every label backend (reference, multi-lane
//! CPU, GPU) sits.
//!
//! A call computes a contiguous range of labels into a buffer the caller owns (16 stored bytes per
//! label, no per-label allocation) and, when asked, reports the VRF candidate of the range: the
//! smallest full 32-byte label strictly below a threshold (spec §3). Large ranges let SIMD and GPU
//! backends fill their lanes; the caller chains the threshold from one call to the next.

use post_core::{Commitment, LabelIndex, ScryptParams};

use crate::Error;

/// A range of labels to compute.
#[derive(Debug)]
pub struct LabelJob<'a> {
    /// The identity the labels are derived from.
    pub commitment: &'a Commitment,
    /// Label cost.
    pub params: ScryptParams,
    /// Global index of the first label.
    pub start: LabelIndex,
    /// Receives 16 bytes per label; its length fixes how many labels are computed.
    pub out: &'a mut [u8],
    /// When set, report the smallest full label strictly below this 256-bit big-endian threshold.
    pub vrf_threshold: Option<&'a [u8; 32]>,
}

impl LabelJob<'_> {
    /// Number of labels the job asks for.
    pub fn count(&self) -> u64 {
        (self.out.len() / 16) as u64
    }

    /// Checks the buffer length and that the range stays below 2^64.
    ///
    /// # Errors
    /// [`Error::BufferLength`] or [`Error::RangeOverflow`].
    pub fn check(&self) -> Result<(), Error> {
        if !self.out.len().is_multiple_of(16) {
            return Err(Error::BufferLength { len: self.out.len() });
        }
        let count = self.count();
        if count > 0 && self.start.0.checked_add(count - 1).is_none() {
            return Err(Error::RangeOverflow { start: self.start.0, count });
        }
        Ok(())
    }
}

/// A label whose full 32-byte value is below the VRF threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VrfCandidate {
    /// Its global index.
    pub index: LabelIndex,
    /// The full 32-byte label.
    pub label: [u8; 32],
}

impl VrfCandidate {
    /// Keeps the better of two candidates: the smaller label, and on equal labels the lower index,
    /// which is what a sequential search in index order finds.
    pub fn better(a: Option<Self>, b: Option<Self>) -> Option<Self> {
        match (a, b) {
            (Some(x), Some(y)) => Some(if (y.label, y.index) < (x.label, x.index) { y } else { x }),
            (x, None) => x,
            (None, y) => y,
        }
    }
}

/// Something that computes labels.
///
/// Implementations use the current rayon thread pool for parallelism, so a caller bounds the threads
/// with `ThreadPool::install`.
pub trait Labeller: Send + Sync {
    /// A short name for logs and benchmarks (`reference`, `cpu-avx512`, `cuda:0 NVIDIA H200`).
    fn name(&self) -> String;

    /// Labels per call that keep this backend busy; callers should batch at least this many.
    fn preferred_batch(&self) -> usize;

    /// Computes `job.out.len() / 16` labels starting at `job.start`, writing the first 16 bytes of each,
    /// and returns the VRF candidate of the range when `job.vrf_threshold` is set.
    ///
    /// # Errors
    /// A bad buffer length, a range past 2^64 − 1, unsupported parameters, or a backend failure.
    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, Error>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_checks() {
        let c = Commitment([0; 32]);
        let mut buf = [0u8; 48];
        let job = |start: u64, out: &mut [u8]| {
            LabelJob {
                commitment: &c,
                params: ScryptParams::MAINNET,
                start: LabelIndex(start),
                out,
                vrf_threshold: None,
            }
            .check()
            .is_ok()
        };
        assert!(job(0, &mut buf));
        assert!(job(u64::MAX - 2, &mut buf));
        assert!(!job(u64::MAX - 1, &mut buf));
        assert!(!job(0, &mut buf[..47]));
        assert!(job(u64::MAX, &mut buf[..0]));
    }

    #[test]
    fn better_prefers_smaller_label_then_index() {
        let c = |i, b| Some(VrfCandidate { index: LabelIndex(i), label: [b; 32] });
        assert_eq!(VrfCandidate::better(c(5, 2), c(1, 3)), c(5, 2));
        assert_eq!(VrfCandidate::better(c(5, 2), c(1, 2)), c(1, 2));
        assert_eq!(VrfCandidate::better(None, c(1, 2)), c(1, 2));
    }
}
