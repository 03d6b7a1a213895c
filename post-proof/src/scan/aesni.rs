//! The AES-NI scan kernel: 8 labels in flight per group key (`aesenc xmm` has a latency of several
//! cycles and issues on two ports, so eight independent blocks keep it busy), SSE2 byte compares turned
//! into 16-bit masks that `ties.rs` resolves after the block.
//!
//! Also home of the x86 helpers the VAES kernel shares: the AES-128 key expansion with
//! `aeskeygenassist` (the `aes` crate does not expose its round keys) and the label load.

use std::arch::x86_64::{
    __m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_aeskeygenassist_si128, _mm_cmpeq_epi8, _mm_loadu_si128,
    _mm_min_epu8, _mm_movemask_epi8, _mm_set1_epi8, _mm_shuffle_epi32, _mm_slli_si128, _mm_xor_si128,
};
use std::ops::ControlFlow;

use post_core::{LabelIndex, Nonce};

use super::ties::{self, Candidates, Compare};
use super::{Hits, Params};
use crate::NonceKeys;

/// Labels per block: one per register.
const BLOCK: usize = ties::REGS;

/// The 11 round keys of AES-128.
pub(super) type RoundKeys = [__m128i; 11];

/// Expanded keys of one pass.
#[derive(Debug)]
pub(crate) struct Keys {
    groups: Vec<RoundKeys>,
    lazy: Vec<RoundKeys>,
}

impl Keys {
    #[target_feature(enable = "aes")]
    pub(crate) fn new(keys: &NonceKeys) -> Self {
        Self { groups: keys.group_keys().iter().map(|k| expand(k)).collect(), lazy: expand_lazy(keys) }
    }
}

/// The lazy cipher of every nonce of the pass, in nonce order.
#[target_feature(enable = "aes")]
pub(super) fn expand_lazy(keys: &NonceKeys) -> Vec<RoundKeys> {
    keys.lazy_keys().iter().map(|k| expand(k)).collect()
}

/// Loads one label into a register.
#[inline(always)]
pub(super) fn load(label: &[u8; 16]) -> __m128i {
    // SAFETY: `label` is 16 readable bytes and `loadu` has no alignment requirement; SSE2 is part of
    // the x86_64 baseline.
    unsafe { _mm_loadu_si128(label.as_ptr().cast()) }
}

/// AES-128 key expansion (FIPS-197 §5.2) with `aeskeygenassist`.
#[target_feature(enable = "aes")]
pub(super) fn expand(key: &[u8; 16]) -> RoundKeys {
    // One round of the schedule: broadcast SubWord(RotWord(w3)) ^ rcon and fold the previous key.
    macro_rules! next {
        ($prev:expr, $rcon:literal) => {{
            let assist = _mm_shuffle_epi32::<0xff>(_mm_aeskeygenassist_si128::<$rcon>($prev));
            let mut k = $prev;
            k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
            k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
            k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
            _mm_xor_si128(k, assist)
        }};
    }
    let mut rk = [load(key); 11];
    rk[1] = next!(rk[0], 0x01);
    rk[2] = next!(rk[1], 0x02);
    rk[3] = next!(rk[2], 0x04);
    rk[4] = next!(rk[3], 0x08);
    rk[5] = next!(rk[4], 0x10);
    rk[6] = next!(rk[5], 0x20);
    rk[7] = next!(rk[6], 0x40);
    rk[8] = next!(rk[7], 0x80);
    rk[9] = next!(rk[8], 0x1b);
    rk[10] = next!(rk[9], 0x36);
    rk
}

#[target_feature(enable = "aes")]
pub(super) fn scan(
    keys: &Keys,
    p: &Params,
    labels: &[[u8; 16]],
    first: u64,
    hits: &mut Hits,
    sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
) -> ControlFlow<()> {
    match Compare::of(p) {
        Compare::BELOW => scan_with::<{ Compare::BELOW }>(keys, p, labels, first, hits, sink),
        Compare::TIES => scan_with::<{ Compare::TIES }>(keys, p, labels, first, hits, sink),
        _ => scan_with::<{ Compare::BOTH }>(keys, p, labels, first, hits, sink),
    }
}

#[target_feature(enable = "aes")]
fn scan_with<const MODE: u8>(
    keys: &Keys,
    p: &Params,
    labels: &[[u8; 16]],
    first: u64,
    hits: &mut Hits,
    sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut cands = Candidates::new(keys.groups.len(), 1);
    let (blocks, tail) = labels.as_chunks::<BLOCK>();
    // Each block is collected while the next one is encrypted (see `Candidates::flip`).
    let mut written = None;
    for (b, block) in blocks.iter().enumerate() {
        block8::<MODE>(keys, p, block, BLOCK, &mut cands);
        if let Some(offset) = written {
            cands.mark(ties::nonzero);
            cands.collect::<MODE>(p, offset, first, hits);
        }
        cands.flip();
        written = Some(b * BLOCK);
        if cands.must_settle(b * BLOCK, hits) {
            cands.settle(&keys.lazy, p, labels, first, hits);
            hits.flush(sink)?;
        }
    }
    if let Some(offset) = written {
        cands.mark(ties::nonzero);
        cands.collect::<MODE>(p, offset, first, hits);
    }
    cands.settle(&keys.lazy, p, labels, first, hits);
    hits.flush(sink)?;
    if !tail.is_empty() {
        // Pad with zero labels and mask their lanes out.
        let mut padded = [[0u8; 16]; BLOCK];
        padded[..tail.len()].copy_from_slice(tail);
        let tail_first = first + (blocks.len() * BLOCK) as u64;
        block8::<MODE>(keys, p, &padded, tail.len(), &mut cands);
        cands.flip();
        cands.mark(ties::nonzero);
        cands.collect::<MODE>(p, 0, tail_first, hits);
        cands.settle(&keys.lazy, p, &padded, tail_first, hits);
        hits.flush(sink)?;
    }
    ControlFlow::Continue(())
}

/// Encrypts the block with every group key and stores the masks [`Compare`] `MODE` asks for, of its
/// first `valid` labels. The rows come zipped with the keys, so the loop body has no bounds check
/// (a branch there would let the compiler sink each register's rounds next to its compare, one
/// register at a time).
#[target_feature(enable = "aes")]
#[inline]
fn block8<const MODE: u8>(keys: &Keys, p: &Params, block: &[[u8; 16]; BLOCK], valid: usize, cands: &mut Candidates) {
    let data = block.map(|l| load(&l));
    let valid: [u64; BLOCK] = std::array::from_fn(|l| if l < valid { u64::MAX } else { 0 });
    // x < msb ⇔ min(x, msb − 1) = x for msb > 0; nothing is below 0. SSE2 has no unsigned byte compare.
    let below = _mm_set1_epi8(p.msb.wrapping_sub(1) as i8);
    let msb = _mm_set1_epi8(p.msb as i8);
    let mask = |v: __m128i| u64::from(_mm_movemask_epi8(v) as u16);
    let (below_rows, cand_rows) = cands.rows();
    for ((rk, below_row), cand) in keys.groups.iter().zip(below_rows.iter_mut()).zip(cand_rows.iter_mut()) {
        let mut x = data;
        for v in &mut x {
            *v = _mm_xor_si128(*v, rk[0]);
        }
        for k in &rk[1..10] {
            for v in &mut x {
                *v = _mm_aesenc_si128(*v, *k);
            }
        }
        for v in &mut x {
            *v = _mm_aesenclast_si128(*v, rk[10]);
        }
        for l in 0..BLOCK {
            let v = x[l];
            let lt = || mask(_mm_cmpeq_epi8(_mm_min_epu8(v, below), v));
            let eq = || mask(_mm_cmpeq_epi8(v, msb));
            cand[l] = valid[l]
                & match MODE {
                    Compare::BELOW if p.msb == 0 => 0,
                    Compare::BELOW => lt(),
                    Compare::TIES => eq(),
                    _ => lt() | eq(),
                };
            if MODE == Compare::BOTH {
                below_row[l] = valid[l] & lt();
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::arch::x86_64::__m128i;

    use aes::cipher::{BlockEncrypt, KeyInit};
    use proptest::prelude::*;

    use super::*;

    /// AES-128 of one block.
    #[target_feature(enable = "aes")]
    #[inline]
    fn encrypt(rk: &RoundKeys, block: __m128i) -> __m128i {
        let mut x = _mm_xor_si128(block, rk[0]);
        for k in &rk[1..10] {
            x = _mm_aesenc_si128(x, *k);
        }
        _mm_aesenclast_si128(x, rk[10])
    }

    proptest! {
        #[test]
        fn expansion_and_encryption_match_the_aes_crate(key in any::<[u8; 16]>(), block in any::<[u8; 16]>()) {
            prop_assume!(std::arch::is_x86_feature_detected!("aes"));
            let mut want = aes::Block::from(block);
            aes::Aes128::new(&key.into()).encrypt_block(&mut want);
            // SAFETY: AES-NI was detected above.
            let got = unsafe { encrypt(&expand(&key), load(&block)) };
            let mut bytes = [0u8; 16];
            // SAFETY: 16 writable bytes, unaligned store.
            unsafe { std::arch::x86_64::_mm_storeu_si128(bytes.as_mut_ptr().cast(), got) };
            prop_assert_eq!(bytes, <[u8; 16]>::from(want));
        }
    }
}
