//! Knobs that change speed and memory, never results: labels per labeller call, and the block size of
//! the VRF nonce search beyond the data (which does change which nonce is found, so it defaults to the
//! Go tool's value and only tests change it).

use crate::durable::SYNC_BYTES;
use crate::nonce_search::BEYOND_BLOCK;

/// Batch sizes of a long operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Labels per labeller call; `None` for the labeller's preference.
    pub batch: Option<usize>,
    /// Labels per block of the nonce search beyond the data: Go's `ComputeBatchSize` (2^20) by default.
    /// The nonce found there is the smallest of the first block that has one, so another value finds
    /// another (equally valid) nonce.
    pub beyond_block: u64,
    /// Bytes written to a data file between two syncs of it ([`SYNC_BYTES`] by default; 0: only when
    /// the file is finished). After a power cut, at most this much of each file being written is
    /// recomputed on resume.
    pub sync_bytes: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Self { batch: None, beyond_block: BEYOND_BLOCK, sync_bytes: SYNC_BYTES }
    }
}

impl Tuning {
    /// Labels per call: the configured batch or the labeller's preference, within `1..=max`.
    pub(crate) fn batch_or(&self, preferred: usize, max: usize) -> usize {
        self.batch.unwrap_or(preferred).clamp(1, max.max(1))
    }
}
