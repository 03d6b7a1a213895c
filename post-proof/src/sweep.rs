//! One sweep of the proving scan over all the data with one pass's [`LabelScanner`], spread over the
//! current rayon thread pool in chunks of 1 MiB.
//!
//! ```text
//! 1. order the regions by index and cut them into chunks of 65536 labels (1 MiB)
//! 2. one thread: scan the chunks in index order;  several: rayon spreads the chunks over the pool
//! 3. before each chunk, stop if cancelled; after each, report the bytes scanned
//! 4. stop everything as soon as the sink breaks
//! ```
//!
//! With one thread the sink sees every good pair in (index, nonce) order, so the result is reproducible.
//! With several, chunks finish in any order: the sink sees each chunk's pairs in order, but chunks
//! interleave, so which nonce reaches k2 first (and with which indices) can change from run to run —
//! every such result is a valid proof, as with the reference prover.

use std::ops::ControlFlow;

use post_core::{LabelIndex, Nonce};
use rayon::prelude::*;

use crate::{CancelToken, Error, LabelRegion, LabelScanner};

/// Labels per chunk: 1 MiB, large enough to amortise the per-chunk bookkeeping, small enough to
/// balance threads and to stop soon after a cancel.
pub const CHUNK_LABELS: usize = 1 << 16;

/// Why a parallel sweep stopped early.
enum Stop {
    Cancelled,
    SinkBroke,
}

/// Scans all regions (step 1–4). Returns `Break` when the sink stopped the sweep.
///
/// # Errors
/// [`Error::Cancelled`] when `cancel` was set.
pub fn sweep(
    regions: &[LabelRegion<'_>],
    scanner: &LabelScanner,
    cancel: &CancelToken,
    on_chunk: &(dyn Fn(u64) + Sync),
    sink: &(dyn Fn(Nonce, LabelIndex) -> ControlFlow<()> + Sync),
) -> Result<ControlFlow<()>, Error> {
    let mut ordered: Vec<&LabelRegion<'_>> = regions.iter().collect();
    ordered.sort_by_key(|r| r.first);
    let chunks = ordered.into_iter().flat_map(|r| {
        r.labels
            .chunks(CHUNK_LABELS)
            .enumerate()
            .map(move |(k, labels)| (LabelIndex(r.first.0 + (k * CHUNK_LABELS) as u64), labels))
    });
    let scan_one = |(first, labels): (LabelIndex, &[[u8; 16]])| -> Result<(), Stop> {
        if cancel.is_cancelled() {
            return Err(Stop::Cancelled);
        }
        let flow = scanner.scan(labels, first, &mut |n, i| sink(n, i));
        on_chunk(labels.len() as u64 * 16);
        match flow {
            ControlFlow::Continue(()) => Ok(()),
            ControlFlow::Break(()) => Err(Stop::SinkBroke),
        }
    };
    let result = if rayon::current_num_threads() == 1 {
        chunks.into_iter().try_for_each(scan_one)
    } else {
        chunks.collect::<Vec<_>>().into_par_iter().try_for_each(scan_one)
    };
    match result {
        Ok(()) => Ok(ControlFlow::Continue(())),
        Err(Stop::SinkBroke) => Ok(ControlFlow::Break(())),
        Err(Stop::Cancelled) => Err(Error::Cancelled),
    }
}
