//! One sweep of the proving scan over the data with one pass's [`LabelScanner`], spread over the current
//! rayon thread pool, with a result that does not depend on the number of threads and that can stop and
//! continue at any window boundary.
//!
//! ```text
//! 1. order the regions by index and cut them into chunks of 16384 labels (256 KiB), from `position` on
//! 2. take the next window of 8 chunks per thread; scan its chunks in parallel, each into its own list
//!    of good (nonce, index) pairs, in (index, nonce) order (at most k2 per nonce and chunk)
//! 3. append the lists to the candidates in chunk order: each nonce keeps its first k2 good indices
//! 4. position = the end of the window; report it (the caller may persist the candidates here)
//! 5. the winner is the nonce whose k2-th good index is smallest (ties: the smaller nonce); once one
//!    exists, stop. Otherwise go to 2 until the data ends.
//! ```
//!
//! Because a window is merged only when all of it is scanned, and in index order, the candidates after
//! a window are exactly those a single thread reading label by label would hold at that position, so
//! the winner and its indices are the same for any number of threads and for a sweep resumed from a
//! saved [`PassScan`]. A cancel drops the window in flight: the scan state stays at the last boundary.

use post_core::{LabelIndex, Nonce};
use rayon::prelude::*;

use crate::{CancelToken, Error, LabelRegion, LabelScanner};

/// Labels per chunk: 256 KiB, large enough to amortise the per-chunk bookkeeping (a list and a counter
/// per nonce), small enough to balance threads and to keep a window (and so the work lost to a kill)
/// to a few MiB per thread.
pub const CHUNK_LABELS: usize = 1 << 14;

/// Chunks per thread in one window (step 2): enough that threads rarely wait for each other at the
/// window's end, few enough that a window takes well under a second.
const CHUNKS_PER_THREAD: usize = 8;

/// How far one pass's scan has come, and the good indices each nonce of the pass has collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassScan {
    first_nonce: u32,
    k2: usize,
    position: u64,
    lists: Vec<Vec<u64>>,
}

impl PassScan {
    /// A scan of the pass `first_nonce .. first_nonce + nonces` from label 0.
    pub fn new(first_nonce: u32, nonces: u32, k2: u32) -> Self {
        Self { first_nonce, k2: k2 as usize, position: 0, lists: vec![Vec::new(); nonces as usize] }
    }

    /// A scan resumed at `position` with the good indices collected so far, one list per nonce of the
    /// pass.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when the lists do not fit the pass: not one per nonce, longer than k2, not
    /// strictly ascending, or reaching `position`.
    pub fn resume(first_nonce: u32, k2: u32, position: u64, lists: Vec<Vec<u64>>) -> Result<Self, Error> {
        let bad = |reason: String| Err(Error::InvalidParam { name: "saved scan", reason });
        for (k, list) in lists.iter().enumerate() {
            if list.len() > k2 as usize {
                return bad(format!(
                    "nonce {} holds {} indices, more than k2 = {k2}",
                    first_nonce as usize + k,
                    list.len()
                ));
            }
            if list.windows(2).any(|w| w[0] >= w[1]) || list.last().is_some_and(|&last| last >= position) {
                return bad(format!(
                    "the indices of nonce {} are not ascending below {position}",
                    first_nonce as usize + k
                ));
            }
        }
        Ok(Self { first_nonce, k2: k2 as usize, position, lists })
    }

    /// The first label not yet scanned.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The good indices of each nonce of the pass, ascending (at most k2 each).
    pub fn lists(&self) -> &[Vec<u64>] {
        &self.lists
    }

    /// The pass's first nonce.
    pub fn first_nonce(&self) -> u32 {
        self.first_nonce
    }

    /// The winner so far (step 5) and its k2 indices.
    pub fn winner(&self) -> Option<(Nonce, &[u64])> {
        self.lists
            .iter()
            .enumerate()
            .filter(|(_, list)| list.len() >= self.k2)
            .min_by_key(|(k, list)| (list[self.k2 - 1], *k))
            .map(|(k, list)| (Nonce(self.first_nonce + k as u32), &list[..self.k2]))
    }

    /// Step 3 for one chunk's pairs.
    fn merge(&mut self, pairs: &[(u32, u64)]) {
        for &(nonce, index) in pairs {
            if let Some(list) = self.lists.get_mut(nonce.wrapping_sub(self.first_nonce) as usize) {
                if list.len() < self.k2 {
                    list.push(index);
                }
            }
        }
    }
}

/// Scans from `scan.position()` until a nonce wins or the data ends (steps 1–5); `after_window` sees the
/// state after every window with the bytes the window held, and may stop the sweep with an error.
/// Returns the winner's nonce and indices, or `None` when the data ended without one.
///
/// # Errors
/// [`Error::Cancelled`] when `cancel` was set (the state is that of the last window boundary), or the
/// error of `after_window`.
pub fn sweep(
    regions: &[LabelRegion<'_>],
    scanner: &LabelScanner,
    cancel: &CancelToken,
    scan: &mut PassScan,
    after_window: &mut dyn FnMut(&PassScan, u64) -> Result<(), Error>,
) -> Result<Option<(Nonce, Vec<u64>)>, Error> {
    let winner = |scan: &PassScan| scan.winner().map(|(n, indices)| (n, indices.to_vec()));
    if let Some(found) = winner(scan) {
        return Ok(Some(found));
    }
    // Step 1.
    let mut ordered: Vec<&LabelRegion<'_>> = regions.iter().collect();
    ordered.sort_by_key(|r| r.first);
    let from = scan.position;
    let mut chunks = ordered.into_iter().flat_map(|r| {
        let skip = from.saturating_sub(r.first.0).min(r.labels.len() as u64) as usize;
        r.labels[skip..]
            .chunks(CHUNK_LABELS)
            .enumerate()
            .map(move |(k, labels)| (r.first.0 + (skip + k * CHUNK_LABELS) as u64, labels))
    });
    let window = CHUNKS_PER_THREAD * rayon::current_num_threads();
    let k2 = scan.k2;
    let nonces = scan.lists.len();
    loop {
        // Step 2.
        let batch: Vec<(u64, &[[u8; 16]])> = chunks.by_ref().take(window).collect();
        let Some(&(last_first, last_labels)) = batch.last() else { return Ok(None) };
        let lists = batch
            .par_iter()
            .map(|&(first, labels)| {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled);
                }
                let mut pairs = Vec::new();
                let mut counts = vec![0usize; nonces];
                let _ = scanner.scan(labels, LabelIndex(first), &mut |n, i| {
                    if let Some(count) = counts.get_mut(n.0.wrapping_sub(scan.first_nonce) as usize) {
                        if *count < k2 {
                            *count += 1;
                            pairs.push((n.0, i.0));
                        }
                    }
                    std::ops::ControlFlow::Continue(())
                });
                Ok(pairs)
            })
            .collect::<Result<Vec<_>, Error>>()?;
        // Steps 3 and 4.
        for pairs in &lists {
            scan.merge(pairs);
        }
        scan.position = last_first + last_labels.len() as u64;
        let bytes = batch.iter().map(|(_, labels)| labels.len() as u64 * 16).sum();
        after_window(scan, bytes)?;
        // Step 5.
        if let Some(found) = winner(scan) {
            return Ok(Some(found));
        }
    }
}

/// Scans `regions` with `scanner` again and again (as one endless pass of `nonces` nonces that never
/// wins) until `limit` has passed, stopping at a window boundary; returns the bytes scanned and the
/// time taken. For benchmarks and for estimating how long proving will take.
///
/// # Errors
/// [`Error::InvalidParam`] when the regions hold no label.
pub fn measure_scan(
    regions: &[LabelRegion<'_>],
    scanner: &LabelScanner,
    nonces: u32,
    limit: std::time::Duration,
) -> Result<(u64, std::time::Duration), Error> {
    if regions.iter().all(|r| r.labels.is_empty()) {
        return Err(Error::InvalidParam { name: "label data", reason: "there is no label to scan".into() });
    }
    let clock = std::time::Instant::now();
    let stop = CancelToken::new();
    let mut bytes = 0u64;
    while !stop.is_cancelled() {
        let mut scan = PassScan::new(0, nonces, u32::MAX);
        let result = sweep(regions, scanner, &CancelToken::new(), &mut scan, &mut |_, window| {
            bytes += window;
            if clock.elapsed() >= limit {
                stop.cancel();
                return Err(Error::Cancelled);
            }
            Ok(())
        });
        match result {
            Ok(_) | Err(Error::Cancelled) => {}
            Err(e) => return Err(e),
        }
        if clock.elapsed() >= limit {
            stop.cancel();
        }
    }
    Ok((bytes, clock.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_winner_is_the_smallest_kth_index_then_the_smaller_nonce() {
        let mut scan = PassScan::new(16, 3, 2);
        scan.merge(&[(17, 5), (16, 6), (18, 6), (17, 9), (16, 9), (18, 9)]);
        // Nonces 16 and 17 both reach k2 = 2 at index 9; 18 too. The smaller nonce wins.
        assert_eq!(scan.winner(), Some((Nonce(16), &[6, 9][..])));
        let mut scan = PassScan::new(0, 2, 2);
        scan.merge(&[(1, 1), (0, 2), (1, 3), (0, 4), (0, 5)]);
        assert_eq!(scan.winner(), Some((Nonce(1), &[1, 3][..])));
        assert_eq!(scan.lists()[0], vec![2, 4], "a list stops at k2");
    }

    #[test]
    fn resume_refuses_lists_that_do_not_fit() {
        assert!(PassScan::resume(0, 2, 10, vec![vec![1, 2], vec![]]).is_ok());
        assert!(PassScan::resume(0, 2, 10, vec![vec![1, 2, 3], vec![]]).is_err());
        assert!(PassScan::resume(0, 2, 10, vec![vec![2, 1], vec![]]).is_err());
        assert!(PassScan::resume(0, 2, 10, vec![vec![10], vec![]]).is_err());
    }
}
