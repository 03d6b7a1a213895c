//! scrypt's ROMix: the memory-hard part, generic over the mix core (spec §2.4, RFC 7914 §5).
//!
//! ```text
//! 1. V[0] = X;  V[i] = BlockMix(V[i-1]) for i in 1..N;  X = BlockMix(V[N-1])
//! 2. N times:   j = Integerify(X) mod N;  X = BlockMix(X ^ V[j])
//!    Integerify(X) = word 0 of the last 64-byte sub-block of X
//! ```
//!
//! Each of the N table entries is one scrypt block of 2r sub-blocks; the table is a caller-owned
//! buffer of 2r·N sub-blocks, so nothing is allocated here.

use crate::block_mix::{block_mix, xor_into, MixCore, SubBlock};

/// ROMix in place on `x` (2r sub-blocks), using `v` (2r·N sub-blocks) as the table and `y`
/// (2r sub-blocks) as the second working block.
///
/// `n` is a power of two ≥ 2 and the slices have exactly these lengths (the engine guarantees it).
pub fn romix<M: MixCore>(x: &mut [SubBlock], v: &mut [SubBlock], y: &mut [SubBlock], n: usize) {
    let b = x.len();
    // Step 1: fill the table, each entry the BlockMix of the one before.
    v[..b].copy_from_slice(x);
    for i in 1..n {
        let (done, rest) = v.split_at_mut(i * b);
        block_mix::<M>(&done[(i - 1) * b..], &mut rest[..b]);
    }
    block_mix::<M>(&v[(n - 1) * b..], x);
    // Step 2: N data-dependent reads. N is a power of two ≥ 2, hence even: each pass of this loop
    // does two steps (x → y, y → x) so that the result ends in `x` without a copy.
    let mask = n - 1;
    for _ in 0..n / 2 {
        step::<M>(x, v, y, mask);
        step::<M>(y, v, x, mask);
    }
}

/// One step of ROMix's second loop: `to = BlockMix(from ^ V[Integerify(from) mod N])`; `from` is
/// left xored with the table entry.
#[inline(always)]
fn step<M: MixCore>(from: &mut [SubBlock], v: &[SubBlock], to: &mut [SubBlock], mask: usize) {
    let b = from.len();
    let j = integerify(from) & mask;
    for (a, e) in from.iter_mut().zip(&v[j * b..(j + 1) * b]) {
        xor_into(a, e);
    }
    block_mix::<M>(from, to);
}

/// Integerify: the first little-endian word of the last 64-byte sub-block.
#[inline(always)]
fn integerify(x: &[SubBlock]) -> usize {
    x.last().map_or(0, |last| last[0] as usize)
}
