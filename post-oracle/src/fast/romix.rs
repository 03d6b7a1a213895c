//! scrypt ROMix over [`Lanes`]: [`GROUPS`] groups of `LANES` labels walk their own scratch tables in
//! lock step, each group hiding the others' memory latency.
//!
//! ```text
//! ROMix(X: 2r blocks, N):
//!   1. for i in 0..N:  V[i] = X;  X = BlockMix(X)
//!   2. repeat N times: j = X.block[2r-1].word[0] & (N-1);  X = BlockMix(X ^ V[j])
//! ```
//!
//! Table layout. The working state `X` is vertical (word `k` of every lane in one vector), but each
//! lane's table entry `V[i]` is stored as its own 128·r contiguous bytes, entries interleaved by
//! lane: `table[(i·LANES + lane)·32r + k]`. Step 1 therefore writes one contiguous `LANES`·128·r-byte
//! run per iteration (a transpose out of the registers), and step 2 reads exactly the two cache lines
//! (r = 1) of `V[j]` that each lane needs (a transpose back in). A vertical table would make step 2
//! touch 32 cache lines per lane for 4 useful bytes each. Gathers (`vpgatherdd`, one per word)
//! instead of the transpose back in, and masked stores instead of the last two transpose stages
//! out, both measured slower on AVX-512.
//!
//! Latency hiding. In step 2 the next `j` is known only when BlockMix ends, and the table (16 MiB
//! per group of 16 lanes at N = 8192) lives in L3 or DRAM, so a single group stalls on every read.
//! The groups take turns: a group's next entries are prefetched at the start of the step of the
//! group after it, and read only after the other groups' steps. At most 16 lines are prefetched at
//! once (about the misses a core keeps in flight); AVX-512's other 16 (16 lanes × 2 lines in all)
//! follow after the step's first and second double rounds: a burst of all 32 waits for the core's
//! slots for outstanding misses and stalls everything behind it; splitting it measured 5–15% faster
//! on one thread. (Spreading them over the whole step was as fast on one thread but slower on two,
//! probably as the last lines then came late.) Two groups measured about 20% faster than one on
//! AVX-512 at N = 8192; three gained nothing more (and were slower with each group's reads and
//! transposes moved a whole step ahead of its step).
//!
//! ```text
//! prefetch every group's first entries
//! repeat N times: for each group g: step g, prefetching the entries of the group before g
//! ```

use super::chacha::{block_mix, block_mix_with, Block};
use super::lanes::{Lanes, BLOCK_WORDS};

/// Lane groups interleaved by [`romix`].
pub(crate) const GROUPS: usize = 2;

/// Cache lines a step may prefetch in one burst: about the misses an x86-64 core keeps in flight
/// (its line fill buffers). More than that wait for a free one and hold up the instructions behind.
const BURST_LINES: usize = 16;

/// Words of one table entry of one lane: 32·r.
fn entry_words(r: usize) -> usize {
    2 * r * BLOCK_WORDS
}

/// Words of the scratch table that [`romix`] needs for `lanes` lanes in all, N = `n`, block factor `r`.
pub(crate) fn table_words(lanes: usize, n: usize, r: usize) -> Option<usize> {
    n.checked_mul(lanes)?.checked_mul(entry_words(r))
}

/// Runs ROMix on `GROUPS · V::LANES` lanes at once.
///
/// `state` holds the 32·r words of every lane vertically (`state[k·GROUPS·LANES + lane]`) and is
/// replaced by the result; `table` is scratch of at least [`table_words`] words; `n` is a power of two.
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
pub(crate) unsafe fn romix<V: Lanes>(state: &mut [u32], table: &mut [u32], n: usize) {
    let lanes = GROUPS * V::LANES;
    let r = state.len() / (entry_words(1) * lanes);
    assert!(
        V::LANES <= 16
            && r >= 1
            && state.len() == entry_words(r) * lanes
            && table_words(lanes, n, r).is_some_and(|words| table.len() >= words),
        "romix: state or table has the wrong size"
    );
    assert!(n.is_power_of_two(), "romix: N must be a power of two");
    // SAFETY: the caller guarantees the backend's instructions; the sizes were checked above.
    unsafe {
        let zero = V::load([0u32; 16].as_ptr());
        if r == 1 {
            // The network's r: fixed-size states the compiler keeps in registers.
            let mut x = [[[zero; BLOCK_WORDS]; 2]; GROUPS];
            let mut y = x;
            romix_groups(state, &mut x, &mut y, table, n);
        } else {
            let mut x: [Vec<Block<V>>; GROUPS] = std::array::from_fn(|_| vec![[zero; BLOCK_WORDS]; 2 * r]);
            let mut y = x.clone();
            romix_groups(state, &mut x, &mut y, table, n);
        }
    }
}

/// ROMix of `GROUPS` groups of `LANES` lanes (group `g` is lanes `g·LANES..(g+1)·LANES`), each
/// with its own part of the table. `x[g]` and `y[g]` are group `g`'s state and BlockMix's output
/// (2r blocks each); the two swap roles every iteration.
///
/// # Safety
/// The backend's instructions must be available; `romix` checked the sizes.
#[inline(always)]
unsafe fn romix_groups<V: Lanes, S: AsRef<[Block<V>]> + AsMut<[Block<V>]>>(
    state: &mut [u32],
    x: &mut [S; GROUPS],
    y: &mut [S; GROUPS],
    table: &mut [u32],
    n: usize,
) {
    let lanes = V::LANES;
    let blocks = x[0].as_ref().len();
    let entry = entry_words(blocks / 2);
    let stride = lanes * entry;
    let base = table.as_mut_ptr();
    let tables: [*mut u32; GROUPS] = std::array::from_fn(|g| base.wrapping_add(g * n * stride));
    // SAFETY: every access below stays inside `state` (blocks·16·GROUPS·LANES words) and inside
    // the first GROUPS·n·stride words of the table, which `romix` checked; the instructions are
    // available.
    unsafe {
        let vertical = |group: usize, b: usize, k: usize| ((b * BLOCK_WORDS + k) * GROUPS + group) * lanes;
        for (group, x) in x.iter_mut().enumerate() {
            for (b, block) in x.as_mut().iter_mut().enumerate() {
                for (k, word) in block.iter_mut().enumerate() {
                    *word = V::load(state.as_ptr().add(vertical(group, b, k)));
                }
            }
        }
        // Step 1, one group after the other, two iterations per loop so that the buffers swap roles
        // without a copy (N is even).
        for g in 0..GROUPS {
            for i in (0..n).step_by(2) {
                fill_step(x[g].as_ref(), y[g].as_mut(), tables[g].add(i * stride), entry);
                fill_step(y[g].as_ref(), x[g].as_mut(), tables[g].add((i + 1) * stride), entry);
            }
        }
        // Step 2, the groups round robin: a group's next entries are prefetched right after its
        // step and read GROUPS − 1 steps (of the other groups) later.
        let mask = n - 1;
        let mut rows = [[0usize; 16]; GROUPS];
        for g in 0..GROUPS {
            next_rows(x[g].as_ref(), &mut rows[g][..lanes], mask, entry);
            let pending = Pending { base: tables[g], rows: &rows[g][..lanes], entry };
            pending.prefetch::<V>(0..lanes);
        }
        // The group before `g` in the round robin, whose entries `g`'s step prefetches.
        let before = |g: usize| (g + GROUPS - 1) % GROUPS;
        for _ in 0..n / 2 {
            for g in 0..GROUPS {
                let pending = Pending { base: tables[before(g)], rows: &rows[before(g)][..lanes], entry };
                mix_step(x[g].as_mut(), y[g].as_mut(), tables[g], &rows[g][..lanes], pending);
                next_rows(y[g].as_ref(), &mut rows[g][..lanes], mask, entry);
            }
            for g in 0..GROUPS {
                let pending = Pending { base: tables[before(g)], rows: &rows[before(g)][..lanes], entry };
                mix_step(y[g].as_mut(), x[g].as_mut(), tables[g], &rows[g][..lanes], pending);
                next_rows(x[g].as_ref(), &mut rows[g][..lanes], mask, entry);
            }
        }
        for (group, x) in x.iter().enumerate() {
            for (b, block) in x.as_ref().iter().enumerate() {
                for (k, word) in block.iter().enumerate() {
                    word.store(state.as_mut_ptr().add(vertical(group, b, k)));
                }
            }
        }
    }
}

/// One iteration of step 1: stores `x` as table entry at `row` (`LANES` rows of `entry` words), then
/// `y = BlockMix(x)`.
///
/// # Safety
/// The backend's instructions must be available; the entry must be writable.
#[inline(always)]
unsafe fn fill_step<V: Lanes>(x: &[Block<V>], y: &mut [Block<V>], row: *mut u32, entry: usize) {
    // SAFETY: the caller's contract.
    unsafe {
        for (b, block) in x.iter().enumerate() {
            V::store_rows(block, row.add(b * BLOCK_WORDS), entry);
        }
        block_mix(x, y);
    }
}

/// Integerify: computes each lane's row offset of its next entry `V[j]` from `x`.
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
unsafe fn next_rows<V: Lanes>(x: &[Block<V>], rows: &mut [usize], mask: usize, entry: usize) {
    let lanes = rows.len();
    let mut first = [0u32; 16];
    // SAFETY: the caller's contract; `first` holds 16 ≥ LANES words.
    unsafe {
        x[x.len() - 1][0].store(first.as_mut_ptr());
    }
    for (lane, row) in rows.iter_mut().enumerate() {
        *row = ((first[lane] as usize & mask) * lanes + lane) * entry;
    }
}

/// Table entries to prefetch: one per lane, at `rows` (word offsets) of the table at `base`, each
/// `entry` words long.
#[derive(Clone, Copy)]
struct Pending<'a> {
    base: *const u32,
    rows: &'a [usize],
    entry: usize,
}

impl Pending<'_> {
    /// Prefetches every line of the entries of lanes `lanes` (lanes past the last are skipped).
    ///
    /// # Safety
    /// The backend's instructions must be available.
    #[inline(always)]
    unsafe fn prefetch<V: Lanes>(&self, lanes: std::ops::Range<usize>) {
        for lane in lanes.start..lanes.end.min(self.rows.len()) {
            let row = self.base.wrapping_add(self.rows[lane]);
            let mut line = 0;
            while line < self.entry {
                // SAFETY: prefetches do not fault; the caller guarantees the instructions.
                unsafe { V::prefetch(row.wrapping_add(line)) };
                line += BLOCK_WORDS;
            }
        }
    }
}

/// One iteration of step 2: `y = BlockMix(x ^ V[j])`, `V[j]` being at `rows` of the table at `base`.
/// It also prefetches the `pending` entries of the group before: the first [`BURST_LINES`] lines
/// at once, the rest in two parts after the BlockMix's first two double rounds (see the module doc).
///
/// # Safety
/// The backend's instructions must be available; the rows must be readable.
#[inline(always)]
unsafe fn mix_step<V: Lanes>(
    x: &mut [Block<V>],
    y: &mut [Block<V>],
    base: *const u32,
    rows: &[usize],
    pending: Pending<'_>,
) {
    // SAFETY: the caller's contract.
    unsafe {
        for (b, block) in x.iter_mut().enumerate() {
            V::xor_rows(block, base.add(b * BLOCK_WORDS), rows);
        }
        let lanes = pending.rows.len();
        let first = (BURST_LINES * BLOCK_WORDS / pending.entry).min(lanes);
        pending.prefetch::<V>(0..first);
        if first == lanes {
            // All at once (AVX2 and narrower at r = 1): the core's loop stays free of prefetch
            // code, which measured faster on AVX2 (registers are scarce there).
            block_mix(x, y);
        } else {
            let per = (lanes - first).div_ceil(2);
            block_mix_with(x, y, &mut |i| pending.prefetch::<V>(first + i * per..first + (i + 1) * per));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fast::backend::Backend;

    /// `store_rows` puts word `k` of lane `l` at `row(l) + k`, and `xor_rows` reads rows at any
    /// offsets back into vertical words.
    fn transposes_round_trip<V: Lanes>() {
        let lanes = V::LANES;
        let stride = 2 * BLOCK_WORDS + 3;
        let words: Vec<u32> = (0..BLOCK_WORDS * lanes).map(|i| (i as u32).wrapping_mul(0x9E37_79B9) ^ 0x5A5A).collect();
        let mut table = vec![0u32; stride * (lanes + 2)];
        // SAFETY: the caller checked the backend; every row lies inside `table`.
        unsafe {
            let block: [V; BLOCK_WORDS] = std::array::from_fn(|k| V::load(words[k * lanes..].as_ptr()));
            V::store_rows(&block, table.as_mut_ptr().add(stride), stride);
            for lane in 0..lanes {
                for k in 0..BLOCK_WORDS {
                    assert_eq!(table[stride * (lane + 1) + k], words[k * lanes + lane], "lane {lane} word {k}");
                }
            }
            // Read the rows back in reverse lane order, xored onto ones.
            let rows: Vec<usize> = (0..lanes).map(|lane| stride * (lanes - lane)).collect();
            let ones = vec![u32::MAX; lanes];
            let mut back: [V; BLOCK_WORDS] = std::array::from_fn(|_| V::load(ones.as_ptr()));
            V::xor_rows(&mut back, table.as_ptr(), &rows);
            let mut got = vec![0u32; lanes];
            for (k, v) in back.iter().enumerate() {
                v.store(got.as_mut_ptr());
                for (lane, &g) in got.iter().enumerate() {
                    assert_eq!(!g, words[k * lanes + (lanes - 1 - lane)], "lane {lane} word {k}");
                }
            }
        }
    }

    #[test]
    fn every_backend_transposes_both_ways() {
        transposes_round_trip::<crate::fast::portable::Portable>();
        #[cfg(target_arch = "x86_64")]
        {
            if Backend::Sse2.is_available() {
                transposes_round_trip::<crate::fast::sse2::Sse2>();
            }
            if Backend::Avx2.is_available() {
                transposes_round_trip::<crate::fast::avx2::Avx2>();
            }
            if Backend::Avx512.is_available() {
                transposes_round_trip::<crate::fast::avx512::Avx512>();
            }
        }
    }
}
