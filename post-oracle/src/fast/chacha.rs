//! ChaCha20/8 core and scrypt BlockMix over [`Lanes`]: the arithmetic heart of the label function
//! (spec §2.4), written once for every backend.
//!
//! The 64-byte block is the ChaCha state as is (no constants, key or nonce layout), and the core
//! ends with the feed-forward addition:
//!
//! ```text
//! ChaCha8Core(w[16]):
//!   1. x = w
//!   2. four double rounds: columns QR(0,4,8,12) QR(1,5,9,13) QR(2,6,10,14) QR(3,7,11,15),
//!      then diagonals QR(0,5,10,15) QR(1,6,11,12) QR(2,7,8,13) QR(3,4,9,14)
//!   3. return x[i] + w[i] for each i
//! QR(a,b,c,d): a+=b; d^=a; d<<<=16; c+=d; b^=c; b<<<=12; a+=b; d^=a; d<<<=8; c+=d; b^=c; b<<<=7
//! ```

use super::lanes::{Lanes, BLOCK_WORDS};

/// One block of `V::LANES` labels: `block[k]` holds word `k` of every lane.
pub(crate) type Block<V> = [V; BLOCK_WORDS];

/// One ChaCha quarter round on words `a, b, c, d` of `x`.
#[inline(always)]
unsafe fn quarter_round<V: Lanes>(x: &mut Block<V>, a: usize, b: usize, c: usize, d: usize) {
    // SAFETY (all calls): the caller guarantees the backend's instructions are available.
    unsafe {
        x[a] = x[a].add(x[b]);
        x[d] = x[d].xor(x[a]).rotl16();
        x[c] = x[c].add(x[d]);
        x[b] = x[b].xor(x[c]).rotl12();
        x[a] = x[a].add(x[b]);
        x[d] = x[d].xor(x[a]).rotl8();
        x[c] = x[c].add(x[d]);
        x[b] = x[b].xor(x[c]).rotl7();
    }
}

/// `x = ChaCha8Core(x ^ input)`: the xor-then-permute step BlockMix repeats.
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
pub(crate) unsafe fn xor_chacha8<V: Lanes>(x: &mut Block<V>, input: &Block<V>) {
    // SAFETY: the caller's contract.
    unsafe { xor_chacha8_with(x, input, &mut |_| {}) }
}

/// [`xor_chacha8`] that calls `between(round)` after each of its four double rounds (`round` 0 to 3),
/// so that a caller can place a few other instructions (prefetches) at even intervals inside the
/// core's instruction stream.
///
/// `between` is a closure, compiled without the backend's target features: vector intrinsics in it
/// would become calls, so it should only prefetch or do scalar work.
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
pub(crate) unsafe fn xor_chacha8_with<V: Lanes>(x: &mut Block<V>, input: &Block<V>, between: &mut impl FnMut(usize)) {
    // SAFETY: the caller guarantees the backend's instructions are available.
    unsafe {
        for k in 0..BLOCK_WORDS {
            x[k] = x[k].xor(input[k]);
        }
        let w = *x;
        for round in 0..4 {
            quarter_round(x, 0, 4, 8, 12);
            quarter_round(x, 1, 5, 9, 13);
            quarter_round(x, 2, 6, 10, 14);
            quarter_round(x, 3, 7, 11, 15);
            quarter_round(x, 0, 5, 10, 15);
            quarter_round(x, 1, 6, 11, 12);
            quarter_round(x, 2, 7, 8, 13);
            quarter_round(x, 3, 4, 9, 14);
            between(round);
        }
        for k in 0..BLOCK_WORDS {
            x[k] = x[k].add(w[k]);
        }
    }
}

/// scrypt BlockMix with ChaCha20/8 over `2r` blocks: reads `input`, writes `output` (both `2r`
/// blocks long).
///
/// ```text
/// 1. X = B[2r-1]
/// 2. for i in 0..2r: X = ChaCha8Core(X ^ B[i]); Y[i] = X
/// 3. output = Y[0], Y[2], …, Y[2r-2], Y[1], Y[3], …, Y[2r-1]
/// ```
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
pub(crate) unsafe fn block_mix<V: Lanes>(input: &[Block<V>], output: &mut [Block<V>]) {
    // SAFETY: the caller's contract.
    unsafe { block_mix_with(input, output, &mut |_| {}) }
}

/// [`block_mix`] that calls `between(i)` after the `i`-th double round of its `2r` cores
/// (`i` from 0 to `8r − 1`), see [`xor_chacha8_with`].
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
pub(crate) unsafe fn block_mix_with<V: Lanes>(
    input: &[Block<V>],
    output: &mut [Block<V>],
    between: &mut impl FnMut(usize),
) {
    let blocks = input.len();
    let half = blocks / 2;
    let mut x = input[blocks - 1];
    for (i, b) in input.iter().enumerate() {
        // SAFETY: the caller guarantees the backend's instructions are available.
        unsafe { xor_chacha8_with(&mut x, b, &mut |round| between(4 * i + round)) };
        output[if i.is_multiple_of(2) { i / 2 } else { half + i / 2 }] = x;
    }
}
