//! The VAES scan kernel: AES on 512-bit registers, four labels per register, eight registers (32 labels)
//! in flight per group key, and AVX-512BW byte compares straight into 64-bit mask registers
//! (`vpcmpub`), so the hot loop is 11 `vaesenc`-family instructions, 2 compares and a branch-free mask
//! record per 4 labels and group; `ties.rs` resolves the masks after the block.

use std::arch::x86_64::{
    __m512i, _mm512_aesenc_epi128, _mm512_aesenclast_epi128, _mm512_broadcast_i32x4, _mm512_cmpeq_epu8_mask,
    _mm512_cmplt_epu8_mask, _mm512_loadu_si512, _mm512_set1_epi8, _mm512_xor_si512,
};
use std::ops::ControlFlow;

use post_core::{LabelIndex, Nonce};

use super::aesni::{expand, expand_lazy, RoundKeys};
use super::ties::{self, Candidates, SETTLE_HITS, SETTLE_TIES};
use super::{Hits, Params};
use crate::NonceKeys;

/// Labels per register.
const LANES: usize = 4;
/// Registers in flight.
const REGS: usize = ties::REGS;
/// Labels per block.
const BLOCK: usize = LANES * REGS;

/// Expanded keys of one pass: group round keys broadcast to all four lanes, lazy keys per nonce.
#[derive(Debug)]
pub(crate) struct Keys {
    groups: Vec<[__m512i; 11]>,
    lazy: Vec<RoundKeys>,
}

impl Keys {
    #[target_feature(enable = "avx512f,aes")]
    pub(crate) fn new(keys: &NonceKeys) -> Self {
        let groups = keys.group_keys().iter().map(|k| expand(k).map(|rk| _mm512_broadcast_i32x4(rk))).collect();
        Self { groups, lazy: expand_lazy(keys) }
    }
}

/// Loads four labels into a register.
#[target_feature(enable = "avx512f")]
#[inline]
fn load4(labels: &[[u8; 16]; LANES]) -> __m512i {
    // SAFETY: 64 readable bytes; `loadu` has no alignment requirement.
    unsafe { _mm512_loadu_si512(labels.as_ptr().cast()) }
}

#[target_feature(enable = "avx512f,avx512bw,vaes,aes")]
pub(super) fn scan(
    keys: &Keys,
    p: &Params,
    labels: &[[u8; 16]],
    first: u64,
    hits: &mut Hits,
    sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut cands = Candidates::new(keys.groups.len(), LANES);
    let (blocks, tail) = labels.as_chunks::<BLOCK>();
    for (b, block) in blocks.iter().enumerate() {
        block32(keys, p, block, [u64::MAX; REGS], &mut cands);
        cands.collect(p, b * BLOCK, first, hits);
        if cands.pending() >= SETTLE_TIES || hits.len() >= SETTLE_HITS {
            cands.settle(&keys.lazy, p, labels, first, hits);
            hits.flush(sink)?;
        }
    }
    cands.settle(&keys.lazy, p, labels, first, hits);
    hits.flush(sink)?;
    if !tail.is_empty() {
        // Pad with zero labels and mask their lanes out.
        let mut padded = [[0u8; 16]; BLOCK];
        padded[..tail.len()].copy_from_slice(tail);
        let valid = std::array::from_fn(|r| {
            let labels = tail.len().saturating_sub(r * LANES).min(LANES);
            if labels == LANES {
                u64::MAX
            } else {
                (1u64 << (16 * labels)) - 1
            }
        });
        let tail_first = first + (blocks.len() * BLOCK) as u64;
        block32(keys, p, &padded, valid, &mut cands);
        cands.collect(p, 0, tail_first, hits);
        cands.settle(&keys.lazy, p, &padded, tail_first, hits);
        hits.flush(sink)?;
    }
    ControlFlow::Continue(())
}

/// Encrypts a block of 32 labels with every group key and records the masks; `valid[r]` masks the
/// lanes of register `r`.
#[target_feature(enable = "avx512f,avx512bw,vaes,aes")]
#[inline]
fn block32(keys: &Keys, p: &Params, block: &[[u8; 16]; BLOCK], valid: [u64; REGS], cands: &mut Candidates) {
    let (regs, _) = block.as_chunks::<LANES>();
    let mut data = [_mm512_set1_epi8(0); REGS];
    for (d, four) in data.iter_mut().zip(regs) {
        *d = load4(four);
    }
    let msb = _mm512_set1_epi8(p.msb as i8);
    for (g, rk) in keys.groups.iter().enumerate() {
        let mut x = data;
        for v in &mut x {
            *v = _mm512_xor_si512(*v, rk[0]);
        }
        for k in &rk[1..10] {
            for v in &mut x {
                *v = _mm512_aesenc_epi128(*v, *k);
            }
        }
        for v in &mut x {
            *v = _mm512_aesenclast_epi128(*v, rk[10]);
        }
        let mut registers = 0;
        for (r, v) in x.iter().enumerate() {
            let lt = _mm512_cmplt_epu8_mask(*v, msb) & valid[r];
            let eq = if p.ties { _mm512_cmpeq_epu8_mask(*v, msb) & valid[r] } else { 0 };
            registers |= cands.record(g, r, lt, lt | eq);
        }
        cands.mark(g, registers);
    }
}
