//! The VAES scan kernel: AES on 512-bit registers, four labels per register, eight registers (32 labels)
//! in flight per group key, and AVX-512BW byte compares straight into 64-bit mask registers
//! (`vpcmpub`), so the hot loop is 11 `vaesenc`-family instructions, one compare and one mask store per
//! 4 labels and group (two of each when the threshold byte is above 0). Alone, this loop runs at
//! 97–99 % of the AES ceiling (`post bench ceiling`). Between the groups, the previous block's masks
//! are turned into tie codes with vector instructions (at the network's difficulty; `ties.rs` does it
//! after the block otherwise) and ties are settled four to a register.

use std::arch::x86_64::{
    __m128i, __m512i, _mm512_add_epi64, _mm512_aesenc_epi128, _mm512_aesenclast_epi128, _mm512_and_si512,
    _mm512_andnot_si512, _mm512_broadcast_i32x4, _mm512_castsi128_si512, _mm512_inserti32x4, _mm512_loadu_si512,
    _mm512_mask_cmpeq_epu8_mask, _mm512_mask_cmple_epu8_mask, _mm512_mask_cmplt_epu64_mask,
    _mm512_mask_cmplt_epu8_mask, _mm512_maskz_compress_epi64, _mm512_multishift_epi64_epi8, _mm512_popcnt_epi64,
    _mm512_set1_epi64, _mm512_set1_epi8, _mm512_set_epi64, _mm512_storeu_si512, _mm512_test_epi64_mask,
    _mm512_xor_si512, _mm_prefetch, _MM_HINT_T0,
};
use std::ops::ControlFlow;

use post_core::{LabelIndex, LabelThreshold, Nonce};

use super::aesni::{expand, expand_lazy, load, RoundKeys};
use super::ties::{self, Candidates, Compare, Row, Ties, SPARE, SPLIT};
use super::{Hits, Params};
use crate::NonceKeys;

/// Labels per register.
const LANES: usize = 4;
/// Registers in flight.
const REGS: usize = ties::REGS;
/// Labels per block.
const BLOCK: usize = LANES * REGS;

/// Blocks ahead whose labels are asked into the cache before a block is encrypted: at few nonces a
/// block is encrypted in some hundred cycles, less than a read from memory takes, and the hardware
/// prefetcher alone leaves the first loads of a block waiting.
const PREFETCH_BLOCKS: usize = 8;

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

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vpopcntdq,popcnt,vaes,aes")]
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

#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vpopcntdq,popcnt,vaes,aes")]
fn scan_with<const MODE: u8>(
    keys: &Keys,
    p: &Params,
    labels: &[[u8; 16]],
    first: u64,
    hits: &mut Hits,
    sink: &mut dyn FnMut(Nonce, LabelIndex) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut cands = Candidates::new(keys.groups.len(), LANES);
    let msb = _mm512_set1_epi8(p.msb as i8);
    let nonzero = |row: &Row| nonzero(row);
    let (blocks, tail) = labels.as_chunks::<BLOCK>();
    // Each block is collected while the next one is encrypted (see `Candidates::flip`): under
    // `Compare::TIES` in its rounds, otherwise after it.
    let mut written = None;
    let early = Early { lazy: &keys.lazy, labels, p, first };
    for (b, block) in blocks.iter().enumerate() {
        prefetch(labels, (b + PREFETCH_BLOCKS) * BLOCK);
        block32::<MODE, true>(&keys.groups, msb, block, [u64::MAX; REGS], &mut cands, written, &early, hits);
        if let (false, Some(offset)) = (MODE == Compare::TIES, written) {
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
        let valid = std::array::from_fn(|r| {
            let labels = tail.len().saturating_sub(r * LANES).min(LANES);
            if labels == LANES {
                u64::MAX
            } else {
                (1u64 << (16 * labels)) - 1
            }
        });
        let tail_first = first + (blocks.len() * BLOCK) as u64;
        // No ties are pending here (settled just above), so none are settled early, and the rows of
        // the last block are collected already.
        block32::<MODE, false>(&keys.groups, msb, &padded, valid, &mut cands, None, &early, hits);
        cands.flip();
        cands.mark(nonzero);
        cands.collect::<MODE>(p, 0, tail_first, hits);
        cands.settle(&keys.lazy, p, &padded, tail_first, hits);
        hits.flush(sink)?;
    }
    ControlFlow::Continue(())
}

/// What settling ties between a block's rounds needs: the lazy keys, the scanned labels (the ties'
/// offsets refer to them), the threshold and the global index of the first label.
struct Early<'a> {
    lazy: &'a [RoundKeys],
    labels: &'a [[u8; 16]],
    p: &'a Params,
    first: u64,
}

/// Encrypts a block of 32 labels with every group key and stores the masks [`Compare`] `MODE` asks
/// for; `valid[r]` masks the lanes of register `r` unless the block is `FULL`.
///
/// Under [`Compare::TIES`], with `previous` the label offset of the previous block (ignored in the
/// other modes, which collect after the block), it also collects that block's candidates, one group's
/// row after each group ([`collect_row`]), in small branch-free pieces between the rounds: collected
/// after the block instead, the scalar loop ran while the AES unit had nothing queued (the scan lost
/// 15 % to it at 288 nonces, against 5 % here). In every mode it
/// settles four of the ties pending when the block began after every other group ([`settle4`]).
///
/// The AES part of a group has no branch (the rows come zipped with the keys, so no bounds checks):
/// one basic block, which the compiler keeps in round order, every AES round of the eight registers
/// back to back. The compares write mask registers that are stored as they are.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,avx512vpopcntdq,popcnt,vaes,aes")]
#[inline]
#[allow(clippy::too_many_arguments)]
fn block32<const MODE: u8, const FULL: bool>(
    groups: &[[__m512i; 11]],
    msb: __m512i,
    block: &[[u8; 16]; BLOCK],
    valid: [u64; REGS],
    cands: &mut Candidates,
    previous: Option<usize>,
    early: &Early<'_>,
    hits: &mut Hits,
) {
    let (regs, _) = block.as_chunks::<LANES>();
    let mut data = [_mm512_set1_epi8(0); REGS];
    for (d, four) in data.iter_mut().zip(regs) {
        *d = load4(four);
    }
    let (below_rows, cand_rows, previous_rows, ties) = cands.parts();
    let collect = if MODE == Compare::TIES { previous } else { None };
    let mut base = 0;
    if let Some(offset) = collect {
        if ties.pending == ties.settled {
            (ties.pending, ties.settled) = (0, 0);
        }
        if ties.pending == 0 {
            ties.start = offset;
        }
        // Below MAX_SPAN (`Candidates::must_settle`), so in range.
        base = ((offset - ties.start) as u64) << 32;
    }
    // The tie code of each register's first label and nonce, less the block and the group.
    let first_labels = _mm512_set_epi64(7 << 34, 6 << 34, 5 << 34, 4 << 34, 3 << 34, 2 << 34, 1 << 34, 0);
    let Ties { found, pending, settled, start } = ties;
    let (mut n, mut next) = (*pending, *settled);
    let limit = n;
    let rows = below_rows.iter_mut().zip(cand_rows.iter_mut()).zip(previous_rows);
    for (g, (rk, ((below, cand), previous))) in groups.iter().zip(rows).enumerate() {
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
        for r in 0..REGS {
            let all = if FULL { u64::MAX } else { valid[r] };
            cand[r] = match MODE {
                Compare::BELOW => _mm512_mask_cmplt_epu8_mask(all, x[r], msb),
                Compare::TIES => _mm512_mask_cmpeq_epu8_mask(all, x[r], msb),
                _ => _mm512_mask_cmple_epu8_mask(all, x[r], msb),
            };
            if MODE == Compare::BOTH {
                below[r] = _mm512_mask_cmplt_epu8_mask(all, x[r], msb);
            }
        }
        if collect.is_some() {
            let code = _mm512_add_epi64(first_labels, _mm512_set1_epi64((base | (g as u64 * 16)) as i64));
            collect_row(previous, code, found, &mut n);
        }
        // Every other group, four of the ties pending when the block began (their codes were stored
        // a block ago or more, so they are read from the cache, not forwarded from the stores).
        if g % 2 == 1 && limit - next >= LANES {
            if let Some(&four) = found.get(next..next + LANES).and_then(|t| <&[u64; LANES]>::try_from(t).ok()) {
                settle4(early, *start, four, hits);
                next += LANES;
            }
        }
    }
    (*pending, *settled) = (n, next);
}

/// Appends the ties of one row of candidate masks (eight registers of four labels) to `found` at `n`:
/// `code` holds each register's tie code for bit 0 (its first label, its group's first nonce).
///
/// Without a branch for the usual case, a register's mask with at most two bits (three or more of its
/// 64 bytes tie in about one register in 400 at the network's difficulty; those go to a cold path):
/// each register's lowest and next-lowest bit become codes, the codes of the registers that have them
/// are compressed to the front of a vector and stored whole (the list has [`SPARE`] slots of room),
/// and the count moves by the number of registers.
#[target_feature(enable = "avx512f,avx512vbmi,avx512vpopcntdq,popcnt")]
#[inline]
fn collect_row(row: &Row, code: __m512i, found: &mut [u64], n: &mut usize) {
    // SAFETY: 64 readable bytes; `loadu` has no alignment requirement.
    let m = unsafe { _mm512_loadu_si512(row.as_ptr().cast()) };
    let ones = _mm512_set1_epi64(-1);
    // The bits below the lowest set bit, counted: its index `b = 16·l + j`.
    let m1 = _mm512_add_epi64(m, ones);
    let lowest = _mm512_add_epi64(code, split(_mm512_popcnt_epi64(_mm512_andnot_si512(m, m1))));
    let has1 = _mm512_test_epi64_mask(m, m);
    let m2 = _mm512_and_si512(m, m1);
    let m21 = _mm512_add_epi64(m2, ones);
    let second = _mm512_add_epi64(code, split(_mm512_popcnt_epi64(_mm512_andnot_si512(m2, m21))));
    let has2 = _mm512_test_epi64_mask(m2, m2);
    let m3 = _mm512_and_si512(m2, m21);
    let Some(room) = found.get_mut(*n..*n + SPARE) else { return };
    let count1 = has1.count_ones() as usize;
    // SAFETY: `room` has 16 slots; the first store writes slots 0..8, the second `count1..count1 + 8`
    // with `count1` at most 8.
    unsafe {
        _mm512_storeu_si512(room.as_mut_ptr().cast(), _mm512_maskz_compress_epi64(has1, lowest));
        _mm512_storeu_si512(room.as_mut_ptr().add(count1).cast(), _mm512_maskz_compress_epi64(has2, second));
    }
    *n += count1 + has2.count_ones() as usize;
    if _mm512_test_epi64_mask(m3, m3) != 0 {
        *n = collect_rest(m3, code, found, *n);
    }
}

/// What bit `b = 16·l + j` of a register's mask adds to its tie code, per 64-bit lane: `l << 32 | j`
/// ([`SPLIT`] in vector form), from byte 0 and bits 4..12 of `b`, picked by one byte shuffle.
#[target_feature(enable = "avx512f,avx512vbmi")]
#[inline]
fn split(bits: __m512i) -> __m512i {
    // Byte 0 of each lane from bit 0 of `b`, byte 4 from bit 4, the others from bit 56 (zero).
    let from = _mm512_set1_epi64(0x3838_3804_3838_3800);
    _mm512_and_si512(_mm512_multishift_epi64_epi8(from, bits), _mm512_set1_epi64(0x0000_00ff_0000_000f))
}

/// The rare part of [`collect_row`]: appends the codes of every bit of `rest` (the masks without their
/// two lowest bits) and returns the new count.
#[target_feature(enable = "avx512f")]
#[inline(never)]
#[cold]
fn collect_rest(rest: __m512i, code: __m512i, found: &mut [u64], mut n: usize) -> usize {
    let (mut masks, mut codes) = ([0u64; REGS], [0u64; REGS]);
    // SAFETY: 64 writable bytes each; `storeu` has no alignment requirement.
    unsafe {
        _mm512_storeu_si512(masks.as_mut_ptr().cast(), rest);
        _mm512_storeu_si512(codes.as_mut_ptr().cast(), code);
    }
    for (&mask, &code) in masks.iter().zip(&codes) {
        let mut bits = mask;
        while bits != 0 {
            // Room for every bit of a block (`Candidates::new`).
            if let Some(slot) = found.get_mut(n) {
                *slot = code + SPLIT[bits.trailing_zeros() as usize];
                n += 1;
            }
            bits &= bits - 1;
        }
    }
    n
}

/// Settles four ties on one 512-bit register, a tie per lane, each lane with its own lazy key (put
/// together round by round from four loads).
///
/// Run between a block's rounds, where the 512-bit `vaesenc` is the only busy unit: the key and label
/// shuffles go to the vector unit the rounds leave idle, and the eleven rounds cost the AES unit a
/// quarter of what four ties cost on 128-bit registers after the block. Not inlined (inlined, the
/// compiler interleaved it with the block's rounds worse: 0.71 against 0.77 GiB/s at 288 nonces).
#[target_feature(enable = "avx512f,avx512bw,vaes,aes")]
#[inline(never)]
fn settle4(early: &Early<'_>, start: usize, ties: [u64; LANES], hits: &mut Hits) {
    const ZERO: [u8; 16] = [0; 16];
    let Early { lazy, labels, p, first } = *early;
    let Some(key0) = lazy.first() else { return };
    // Picked without a branch (an index out of range, which the codes never hold, would read the
    // first key or a zero label).
    let label = ties.map(|t| start + (t >> 32) as usize);
    let nonce = ties.map(|t| t as u32);
    let keys: [&RoundKeys; LANES] = nonce.map(|j| lazy.get(j as usize).unwrap_or(key0));
    let four = |a: __m128i, b: __m128i, c: __m128i, d: __m128i| {
        let v = _mm512_inserti32x4::<1>(_mm512_castsi128_si512(a), b);
        _mm512_inserti32x4::<3>(_mm512_inserti32x4::<2>(v, c), d)
    };
    let l = label.map(|i| load(labels.get(i).unwrap_or(&ZERO)));
    let key = |round: usize| four(keys[0][round], keys[1][round], keys[2][round], keys[3][round]);
    let mut x = _mm512_xor_si512(four(l[0], l[1], l[2], l[3]), key(0));
    for round in 1..10 {
        x = _mm512_aesenc_epi128(x, key(round));
    }
    x = _mm512_aesenclast_epi128(x, key(10));
    // The lazy value is the low 64 bits of each lane: quadword 2·l for lane l.
    let value = _mm512_and_si512(x, _mm512_set1_epi64(LabelThreshold::LSB_MASK as i64));
    let mut good = _mm512_mask_cmplt_epu64_mask(0x55, value, _mm512_set1_epi64(p.lsb as i64));
    while good != 0 {
        let lane = good.trailing_zeros() as usize / 2;
        good &= good - 1;
        hits.push(first + label[lane] as u64, p.first_nonce + nonce[lane]);
    }
}

/// Bit `r` set when `row[r]` is not 0, with one AVX-512 test of the whole row.
#[target_feature(enable = "avx512f")]
#[inline]
fn nonzero(row: &Row) -> u8 {
    // SAFETY: 64 readable bytes; `loadu` has no alignment requirement.
    let v = unsafe { _mm512_loadu_si512(row.as_ptr().cast()) };
    _mm512_test_epi64_mask(v, v)
}

/// Asks the cache for the 512 bytes of labels at `offset` of `labels` (the cache lines of one block);
/// nothing past the end.
#[inline(always)]
fn prefetch(labels: &[[u8; 16]], offset: usize) {
    if let Some(ahead) = labels.get(offset..offset + BLOCK) {
        for line in ahead.chunks(4) {
            // SAFETY: a prefetch reads nothing the program can see and cannot fault; the address is
            // inside `labels`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
        }
    }
}
