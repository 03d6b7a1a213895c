//! The VAES kernel on 256-bit registers, for CPUs with VAES but without AVX-512 (AMD Zen 3, Intel Alder
//! Lake and later client cores): two labels per register, eight registers (16 labels) in flight per
//! group key, AVX2 byte compares turned into 32-bit masks that `ties.rs` resolves after the block.

use std::arch::x86_64::{
    __m256i, _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_broadcastsi128_si256, _mm256_castsi256_pd,
    _mm256_cmpeq_epi64, _mm256_cmpeq_epi8, _mm256_loadu_si256, _mm256_min_epu8, _mm256_movemask_epi8,
    _mm256_movemask_pd, _mm256_set1_epi8, _mm256_setzero_si256, _mm256_xor_si256,
};
use std::ops::ControlFlow;

use post_core::{LabelIndex, Nonce};

use super::aesni::{expand, expand_lazy, RoundKeys};
use super::ties::{self, Candidates, Compare, Row};
use super::{Hits, Params};
use crate::NonceKeys;

/// Labels per register.
const LANES: usize = 2;
/// Registers in flight.
const REGS: usize = ties::REGS;
/// Labels per block.
const BLOCK: usize = LANES * REGS;

/// Expanded keys of one pass: group round keys broadcast to both lanes, lazy keys per nonce.
#[derive(Debug)]
pub(crate) struct Keys {
    groups: Vec<[__m256i; 11]>,
    lazy: Vec<RoundKeys>,
}

impl Keys {
    #[target_feature(enable = "avx2,aes")]
    pub(crate) fn new(keys: &NonceKeys) -> Self {
        let groups = keys.group_keys().iter().map(|k| expand(k).map(|rk| _mm256_broadcastsi128_si256(rk))).collect();
        Self { groups, lazy: expand_lazy(keys) }
    }
}

/// Loads two labels into a register.
#[target_feature(enable = "avx2")]
#[inline]
fn load2(labels: &[[u8; 16]; LANES]) -> __m256i {
    // SAFETY: 32 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm256_loadu_si256(labels.as_ptr().cast()) }
}

#[target_feature(enable = "avx2,vaes,aes")]
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

#[target_feature(enable = "avx2,vaes,aes")]
fn scan_with<const MODE: u8>(
    keys: &Keys,
    p: &Params,
    labels: &[[u8; 16]],
    first: u64,
    hits: &mut Hits,
    sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut cands = Candidates::new(keys.groups.len(), LANES);
    let nonzero = |row: &Row| nonzero(row);
    let (blocks, tail) = labels.as_chunks::<BLOCK>();
    // Each block is collected while the next one is encrypted (see `Candidates::flip`).
    let mut written = None;
    for (b, block) in blocks.iter().enumerate() {
        block16::<MODE>(keys, p, block, BLOCK, &mut cands);
        if let Some(offset) = written {
            cands.mark(nonzero);
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
        cands.mark(nonzero);
        cands.collect::<MODE>(p, offset, first, hits);
    }
    cands.settle(&keys.lazy, p, labels, first, hits);
    hits.flush(sink)?;
    if !tail.is_empty() {
        // Pad with zero labels and mask their lanes out.
        let mut padded = [[0u8; 16]; BLOCK];
        padded[..tail.len()].copy_from_slice(tail);
        let tail_first = first + (blocks.len() * BLOCK) as u64;
        block16::<MODE>(keys, p, &padded, tail.len(), &mut cands);
        cands.flip();
        cands.mark(nonzero);
        cands.collect::<MODE>(p, 0, tail_first, hits);
        cands.settle(&keys.lazy, p, &padded, tail_first, hits);
        hits.flush(sink)?;
    }
    ControlFlow::Continue(())
}

/// Encrypts a block of 16 labels with every group key and stores the masks [`Compare`] `MODE` asks
/// for, of its first `valid` labels. The rows come zipped with the keys, so the loop body has no
/// bounds check (a branch there would let the compiler sink each register's rounds next to its
/// compare, one register at a time).
#[target_feature(enable = "avx2,vaes,aes")]
#[inline]
fn block16<const MODE: u8>(keys: &Keys, p: &Params, block: &[[u8; 16]; BLOCK], valid: usize, cands: &mut Candidates) {
    let (regs, _) = block.as_chunks::<LANES>();
    let mut data = [_mm256_setzero_si256(); REGS];
    for (d, two) in data.iter_mut().zip(regs) {
        *d = load2(two);
    }
    let valid: [u64; REGS] = std::array::from_fn(|r| match valid.saturating_sub(r * LANES) {
        0 => 0,
        1 => 0xffff,
        _ => u64::from(u32::MAX),
    });
    // x < msb ⇔ min(x, msb − 1) = x for msb > 0; nothing is below 0. AVX2 has no unsigned byte compare.
    let below = _mm256_set1_epi8(p.msb.wrapping_sub(1) as i8);
    let msb = _mm256_set1_epi8(p.msb as i8);
    let mask = |v: __m256i| u64::from(_mm256_movemask_epi8(v) as u32);
    let (below_rows, cand_rows) = cands.rows();
    for ((rk, below_row), cand) in keys.groups.iter().zip(below_rows.iter_mut()).zip(cand_rows.iter_mut()) {
        let mut x = data;
        for v in &mut x {
            *v = _mm256_xor_si256(*v, rk[0]);
        }
        for k in &rk[1..10] {
            for v in &mut x {
                *v = _mm256_aesenc_epi128(*v, *k);
            }
        }
        for v in &mut x {
            *v = _mm256_aesenclast_epi128(*v, rk[10]);
        }
        for r in 0..REGS {
            let v = x[r];
            let lt = || mask(_mm256_cmpeq_epi8(_mm256_min_epu8(v, below), v));
            let eq = || mask(_mm256_cmpeq_epi8(v, msb));
            cand[r] = valid[r]
                & match MODE {
                    Compare::BELOW if p.msb == 0 => 0,
                    Compare::BELOW => lt(),
                    Compare::TIES => eq(),
                    _ => lt() | eq(),
                };
            if MODE == Compare::BOTH {
                below_row[r] = valid[r] & lt();
            }
        }
    }
}

/// Bit `r` set when `row[r]` is not 0, with AVX2 compares of the row against 0.
#[target_feature(enable = "avx2")]
#[inline]
fn nonzero(row: &Row) -> u8 {
    // SAFETY: 2 × 32 readable bytes; `loadu` has no alignment requirement.
    let (a, b) = unsafe { (_mm256_loadu_si256(row.as_ptr().cast()), _mm256_loadu_si256(row[4..].as_ptr().cast())) };
    let zero = _mm256_setzero_si256();
    let lo = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(a, zero))) as u8;
    let hi = _mm256_movemask_pd(_mm256_castsi256_pd(_mm256_cmpeq_epi64(b, zero))) as u8;
    !(lo | (hi << 4))
}
