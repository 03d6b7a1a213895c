//! The VAES scan kernel: AES on 512-bit registers, four labels per register, eight registers (32 labels)
//! in flight per group key, and AVX-512BW byte compares straight into 64-bit mask registers
//! (`vpcmpub`), so the hot loop is 11 `vaesenc`-family instructions and 2 compares per 4 labels and
//! group, with a branch only on a non-zero mask.

use std::arch::x86_64::{
    __m512i, _mm512_aesenc_epi128, _mm512_aesenclast_epi128, _mm512_broadcast_i32x4, _mm512_cmpeq_epu8_mask,
    _mm512_cmplt_epu8_mask, _mm512_loadu_si512, _mm512_set1_epi8, _mm512_xor_si512,
};
use std::ops::ControlFlow;

use post_core::{LabelIndex, Nonce};

use super::aesni::{expand, expand_lazy, resolve, RoundKeys};
use super::{Hits, Params};
use crate::NonceKeys;

/// Labels per register.
const LANES: usize = 4;
/// Registers in flight.
const REGS: usize = 8;
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
    let (blocks, tail) = labels.as_chunks::<BLOCK>();
    for (b, block) in blocks.iter().enumerate() {
        block32(keys, p, block, [u64::MAX; REGS], first + (b * BLOCK) as u64, hits);
        hits.flush(sink)?;
    }
    if !tail.is_empty() {
        // Pad with zero labels and mask their lanes out: 16 mask bits per label.
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
        block32(keys, p, &padded, valid, first + (blocks.len() * BLOCK) as u64, hits);
        hits.flush(sink)?;
    }
    ControlFlow::Continue(())
}

/// Tests a block of 32 labels against every group; `valid[r]` masks the lanes of register `r`.
#[target_feature(enable = "avx512f,avx512bw,vaes,aes")]
#[inline]
fn block32(keys: &Keys, p: &Params, block: &[[u8; 16]; BLOCK], valid: [u64; REGS], base: u64, hits: &mut Hits) {
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
        for (r, v) in x.iter().enumerate() {
            let lt = _mm512_cmplt_epu8_mask(*v, msb) & valid[r];
            let eq = if p.ties { _mm512_cmpeq_epu8_mask(*v, msb) & valid[r] } else { 0 };
            if lt | eq != 0 {
                resolve(&keys.lazy, p, g, lt, eq, &regs[r], base + (r * LANES) as u64, hits);
            }
        }
    }
}
