//! The slow path of the x86 kernels, taken out of the AES loop: candidate masks are recorded without
//! branching while a block is encrypted, collected after the block, and the ties are settled with the
//! lazy ciphers eight at a time, every few thousand labels.
//!
//! ```text
//! while encrypting a block:  per (group g, register r): cand = lt | eq, store lt and cand;
//!                            per group: one bitmap byte, bit r set when cand ≠ 0   (no branch)
//! after the block:           for each set bit of the bitmap: the lowest bit of cand, then (rarely)
//!                            the others: lt → good pair, else → tie list
//! every ~512 ties:           settle the ties, 8 lazy AES blocks interleaved (independent, so the AES
//!                            unit stays busy instead of waiting on one block's latency), then push
//!                            the good pairs to the sink in (index, nonce) order
//! ```
//!
//! With the mainnet threshold (difficulty top byte 0) about one byte in 256 is a tie, about one per label
//! at 288 nonces, so resolving them one at a time with a branch per register costs as much as the main
//! AES work; batched, they cost a few cycles each.

use std::arch::x86_64::{__m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_cvtsi128_si64, _mm_xor_si128};

use post_core::LabelThreshold;

use super::aesni::{load, RoundKeys};
use super::{Hits, Params};

/// Ties settled together.
const BATCH: usize = 8;

/// Registers per group in both kernels: one bit each in a group's byte of the bitmap.
pub(super) const REGS: usize = 8;

/// Pending ties that trigger settling.
pub(super) const SETTLE_TIES: usize = 512;

/// Pending good pairs that trigger settling (many only with thresholds far above the network's).
pub(super) const SETTLE_HITS: usize = 4096;

/// Candidate masks of one block and the pending ties, reused from block to block.
#[derive(Debug)]
pub(super) struct Candidates {
    lt: Vec<u64>,
    cand: Vec<u64>,
    /// Byte `g`, bit `r`: group `g`'s register `r` has a candidate. Written once per group (a
    /// read-modify-write per register would chain every record through store forwarding).
    nonzero: Vec<u8>,
    /// (label offset in the scanned slice, nonce in pass).
    ties: Vec<(usize, u32)>,
    lanes: usize,
}

impl Candidates {
    /// Room for `groups` groups of 8 registers of `lanes` labels each.
    pub(super) fn new(groups: usize, lanes: usize) -> Self {
        Self {
            lt: vec![0; groups * REGS],
            cand: vec![0; groups * REGS],
            nonzero: vec![0; groups.div_ceil(8) * 8],
            ties: Vec::with_capacity(SETTLE_TIES + groups * REGS * 64),
            lanes,
        }
    }

    /// Records the masks of register `r` of group `g` (bit `16·l + j`: label `l` of the register, nonce
    /// `j` of the group) and returns the register's bit for [`Candidates::mark`]. Branch-free.
    #[inline(always)]
    pub(super) fn record(&mut self, g: usize, r: usize, lt: u64, cand: u64) -> u8 {
        let slot = g * REGS + r;
        self.lt[slot] = lt;
        self.cand[slot] = cand;
        u8::from(cand != 0) << r
    }

    /// Stores the bitmap byte of group `g`: the OR of its registers' [`Candidates::record`] results.
    #[inline(always)]
    pub(super) fn mark(&mut self, g: usize, registers: u8) {
        self.nonzero[g] = registers;
    }

    /// Ties waiting to be settled.
    #[inline(always)]
    pub(super) fn pending(&self) -> usize {
        self.ties.len()
    }

    /// Moves the recorded candidates of the block at label offset `offset` of the scanned slice (whose
    /// first label has global index `first`) to `hits` (below the threshold) or the ties, and clears the
    /// bitmap.
    #[inline(always)]
    pub(super) fn collect(&mut self, p: &Params, offset: usize, first: u64, hits: &mut Hits) {
        let Self { lt, cand, nonzero, ties, lanes } = self;
        let mut candidate = |slot: usize, lt: u64, bit: u32| {
            let (g, r) = (slot / REGS, slot % REGS);
            let label = offset + r * *lanes + (bit / 16) as usize;
            let nonce = (g * 16) as u32 + bit % 16;
            if (lt >> bit) & 1 == 1 {
                hits.push(first + label as u64, p.first_nonce + nonce);
            } else {
                ties.push((label, nonce));
            }
        };
        let (words, _) = nonzero.as_chunks_mut::<8>();
        for (w, word) in words.iter_mut().enumerate() {
            // Byte g, bit r of the word is bit 8·g + r: exactly slot g·8 + r of this word's groups.
            let mut slots = u64::from_le_bytes(std::mem::take(word));
            while slots != 0 {
                let slot = w * 64 + slots.trailing_zeros() as usize;
                slots &= slots - 1;
                let (lt, cand) = (lt[slot], cand[slot]);
                // Almost always one bit: handle it without a loop whose exit would mispredict.
                candidate(slot, lt, cand.trailing_zeros());
                let mut rest = cand & (cand - 1);
                while rest != 0 {
                    candidate(slot, lt, rest.trailing_zeros());
                    rest &= rest - 1;
                }
            }
        }
    }

    /// Settles every pending tie against `labels` (the slice the offsets refer to): good iff the lazy
    /// value is below `lsb`.
    #[target_feature(enable = "aes")]
    pub(super) fn settle(&mut self, lazy: &[RoundKeys], p: &Params, labels: &[[u8; 16]], first: u64, hits: &mut Hits) {
        for batch in self.ties.chunks(BATCH) {
            settle8(lazy, p, labels, batch, first, hits);
        }
        self.ties.clear();
    }
}

/// Settles up to 8 ties at once.
#[target_feature(enable = "aes")]
#[inline]
fn settle8(lazy: &[RoundKeys], p: &Params, labels: &[[u8; 16]], batch: &[(usize, u32)], first: u64, hits: &mut Hits) {
    // Pad to a full batch with the first tie so that the rounds unroll; padded results are ignored.
    let pick = |i: usize| batch.get(i).copied().unwrap_or(batch[0]);
    let keys: [&RoundKeys; BATCH] = std::array::from_fn(|i| &lazy[pick(i).1 as usize]);
    let mut x: [__m128i; BATCH] = std::array::from_fn(|i| load(&labels[pick(i).0]));
    for (v, k) in x.iter_mut().zip(&keys) {
        *v = _mm_xor_si128(*v, k[0]);
    }
    for round in 1..10 {
        for (v, k) in x.iter_mut().zip(&keys) {
            *v = _mm_aesenc_si128(*v, k[round]);
        }
    }
    for (v, k) in x.iter_mut().zip(&keys) {
        *v = _mm_aesenclast_si128(*v, k[10]);
    }
    for (&(label, nonce), v) in batch.iter().zip(&x) {
        if (_mm_cvtsi128_si64(*v) as u64) & LabelThreshold::LSB_MASK < p.lsb {
            hits.push(first + label as u64, p.first_nonce + nonce);
        }
    }
}
