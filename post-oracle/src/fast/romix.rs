//! scrypt ROMix over [`Lanes`]: two groups of `LANES` labels walk their own scratch tables in lock
//! step, each group hiding the other's memory latency.
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
//! touch 32 cache lines per lane for 4 useful bytes each.
//!
//! Latency hiding. In step 2 the next `j` is known only when BlockMix ends, and the table (16 MiB
//! for 16 lanes at N = 8192) lives in L3 or DRAM, so a single group would stall on every read.
//! With two groups A and B, the reads of A's next entries are prefetched while B's BlockMix runs,
//! and the other way round:
//!
//! ```text
//! prefetch A's rows
//! repeat N times: prefetch B's rows; step A; prefetch A's rows; step B
//! ```

use super::chacha::{block_mix, Block};
use super::lanes::{Lanes, BLOCK_WORDS};

/// Lane groups interleaved by [`romix`].
pub(crate) const GROUPS: usize = 2;

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
    let (table_a, table_b) = table.split_at_mut(n * V::LANES * entry_words(r));
    // SAFETY: the caller guarantees the backend's instructions; the sizes were checked above.
    unsafe {
        let zero = V::load([0u32; 16].as_ptr());
        if r == 1 {
            // The network's r: fixed-size states the compiler keeps in registers.
            let mut a = [[[zero; BLOCK_WORDS]; 2]; 2];
            let mut b = a;
            let [a0, a1] = &mut a;
            let [b0, b1] = &mut b;
            romix_pair(state, [a0, a1], [b0, b1], [table_a, table_b], n);
        } else {
            let mut a = [vec![[zero; BLOCK_WORDS]; 2 * r], vec![[zero; BLOCK_WORDS]; 2 * r]];
            let mut b = a.clone();
            let [a0, a1] = &mut a;
            let [b0, b1] = &mut b;
            romix_pair(state, [a0, a1], [b0, b1], [table_a, table_b], n);
        }
    }
}

/// ROMix of group A (lanes `0..LANES`) and group B (lanes `LANES..2·LANES`). Each group has two
/// state buffers of 2r blocks that BlockMix ping-pongs between, and its own table.
///
/// # Safety
/// The backend's instructions must be available; `romix` checked the sizes.
#[inline(always)]
unsafe fn romix_pair<V: Lanes>(
    state: &mut [u32],
    [a, a_next]: [&mut [Block<V>]; 2],
    [b, b_next]: [&mut [Block<V>]; 2],
    [table_a, table_b]: [&mut [u32]; 2],
    n: usize,
) {
    let lanes = V::LANES;
    let blocks = a.len();
    let entry = entry_words(blocks / 2);
    let (base_a, base_b) = (table_a.as_mut_ptr(), table_b.as_mut_ptr());
    // SAFETY: every access below stays inside `state` (blocks·16·GROUPS·LANES words) and inside the
    // first n·LANES·entry words of each table, which `romix` checked; the instructions are available.
    unsafe {
        let vertical = |group: usize, b: usize, k: usize| ((b * BLOCK_WORDS + k) * GROUPS + group) * lanes;
        for (group, x) in [(0, &mut *a), (1, &mut *b)] {
            for (b, block) in x.iter_mut().enumerate() {
                for (k, word) in block.iter_mut().enumerate() {
                    *word = V::load(state.as_ptr().add(vertical(group, b, k)));
                }
            }
        }
        // Step 1, one group after the other, two iterations per loop so that the buffers swap roles
        // without a copy (N is even).
        for (x, y, base) in [(&mut *a, &mut *a_next, base_a), (&mut *b, &mut *b_next, base_b)] {
            for i in (0..n).step_by(2) {
                fill_step(x, y, base.add(i * lanes * entry), entry);
                fill_step(y, x, base.add((i + 1) * lanes * entry), entry);
            }
        }
        // Step 2, the groups interleaved.
        let mask = n - 1;
        let mut rows_a = [0usize; 16];
        let mut rows_b = [0usize; 16];
        let (rows_a, rows_b) = (&mut rows_a[..lanes], &mut rows_b[..lanes]);
        next_rows(a, rows_a, base_a, mask, entry);
        for _ in 0..n / 2 {
            next_rows(b, rows_b, base_b, mask, entry);
            mix_step(a, a_next, base_a, rows_a);
            next_rows(a_next, rows_a, base_a, mask, entry);
            mix_step(b, b_next, base_b, rows_b);
            next_rows(b_next, rows_b, base_b, mask, entry);
            mix_step(a_next, a, base_a, rows_a);
            next_rows(a, rows_a, base_a, mask, entry);
            mix_step(b_next, b, base_b, rows_b);
        }
        for (group, x) in [(0, &*a), (1, &*b)] {
            for (b, block) in x.iter().enumerate() {
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

/// Integerify: computes each lane's row offset of its next entry `V[j]` from `x` and prefetches it.
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
unsafe fn next_rows<V: Lanes>(x: &[Block<V>], rows: &mut [usize], base: *const u32, mask: usize, entry: usize) {
    let lanes = rows.len();
    let mut first = [0u32; 16];
    // SAFETY: the caller's contract; `first` holds 16 ≥ LANES words; prefetches do not fault.
    unsafe {
        x[x.len() - 1][0].store(first.as_mut_ptr());
        for (lane, row) in rows.iter_mut().enumerate() {
            *row = ((first[lane] as usize & mask) * lanes + lane) * entry;
            let mut line = 0;
            while line < entry {
                V::prefetch(base.wrapping_add(*row + line));
                line += BLOCK_WORDS;
            }
        }
    }
}

/// One iteration of step 2: `y = BlockMix(x ^ V[j])`, `V[j]` being at `rows` of the table at `base`.
///
/// # Safety
/// The backend's instructions must be available; the rows must be readable.
#[inline(always)]
unsafe fn mix_step<V: Lanes>(x: &mut [Block<V>], y: &mut [Block<V>], base: *const u32, rows: &[usize]) {
    // SAFETY: the caller's contract.
    unsafe {
        for (b, block) in x.iter_mut().enumerate() {
            V::xor_rows(block, base.add(b * BLOCK_WORDS), rows);
        }
        block_mix(x, y);
    }
}
