//! The slow path of the x86 kernels, taken out of the AES loop: candidate masks are stored without
//! branching while a block is encrypted, collected while the next block is, and the ties are settled
//! with the lazy ciphers eight at a time, every couple of thousand ties.
//!
//! ```text
//! while encrypting a block:  per (group g, register r): store the candidate mask (and, when the
//!                            threshold byte is above 0 and ties count, the mask of bytes below it)
//! after the next block:      per group: one byte, bit r set when register r's mask is not 0 (a vector
//!                            test of the row); for each set bit: the mask's bits: below → good pair,
//!                            else → a tie code (label offset, nonce) appended to a list
//! every 2048 ties:           settle the ties, 8 lazy AES blocks interleaved (independent, so the AES
//!                            unit stays busy instead of waiting on one block's latency), then push
//!                            the good pairs to the sink in (index, nonce) order
//! ```
//!
//! What a candidate is depends on the threshold ([`Compare`]), chosen once per scan so that the AES
//! loop does only the compares the threshold needs: on the network (difficulty top byte 0) nothing is
//! below the threshold byte and one compare, "equal to 0", finds every candidate, each a tie.
//!
//! With the mainnet threshold about one byte in 256 is a tie, about one per label at 288 nonces, so
//! resolving them one at a time with a branch per register costs as much as the main AES work;
//! batched, they cost a few cycles each. The VAES-512 kernel settles most ties itself, four at a time
//! between its groups, and at the network's difficulty also collects between its groups with vector
//! instructions (`vaes.rs`); it leaves only the last few ties to [`Candidates::settle`]. Measured on
//! `vaes512` at 288 nonces on one thread (`post bench prove`, builds with a part left out): the AES
//! loop alone runs at 96–98 % of the ceiling, collecting after the block took it to 82 % (between
//! the groups: 93 %), and settling takes it from there to about 72 %, of which the ties' own AES
//! rounds are 6 points.

use std::arch::x86_64::{__m128i, _mm_aesenc_si128, _mm_aesenclast_si128, _mm_cvtsi128_si64, _mm_xor_si128};

use post_core::LabelThreshold;

use super::aesni::{load, RoundKeys};
use super::{Hits, Params};

/// Ties settled together by the AES-NI path.
const BATCH: usize = 8;

/// Registers per group in every kernel: one bit each in a group's byte of the bitmap.
pub(super) const REGS: usize = 8;

/// Pending ties that trigger settling: the labels they refer to (some 2,000 at 288 nonces) are still
/// in the L1 or L2 cache when settled.
pub(super) const SETTLE_TIES: usize = 2048;

/// Pending good pairs that trigger settling (many only with thresholds far above the network's).
pub(super) const SETTLE_HITS: usize = 4096;

/// Label offsets kept from the first pending tie: far below `u32::MAX`, so the offsets fit in 32 bits.
const MAX_SPAN: usize = 1 << 30;

/// What the kernels record per byte, as a const generic of their block functions.
pub(super) struct Compare;

impl Compare {
    /// No tie can be good (`lsb = 0`): a candidate is a byte below the threshold byte, and is good.
    pub(super) const BELOW: u8 = 0;
    /// Threshold byte 0 and ties count (the network's case): a candidate is a byte equal to 0, a tie.
    pub(super) const TIES: u8 = 1;
    /// Threshold byte above 0 and ties count: a candidate is a byte at or below the threshold byte;
    /// the bytes below it are recorded too.
    pub(super) const BOTH: u8 = 2;

    /// The comparison `p` needs.
    pub(super) fn of(p: &Params) -> u8 {
        match (p.ties, p.msb) {
            (false, _) => Self::BELOW,
            (true, 0) => Self::TIES,
            (true, _) => Self::BOTH,
        }
    }
}

/// The masks of one group: one per register, bit `16·l + j` for label `l` of the register and nonce
/// `j` of the group.
pub(super) type Row = [u64; REGS];

/// Candidate masks of one block and the pending ties, reused from block to block.
#[derive(Debug)]
pub(super) struct Candidates {
    /// Bytes below the threshold byte, per group (written in [`Compare::BOTH`] only), of two blocks.
    below: [Vec<Row>; 2],
    /// Candidate bytes, per group, of two blocks.
    cand: [Vec<Row>; 2],
    /// Of the rows to collect: byte `i` of word `w`, bit `r`: register `r` of group `8·w + i` has a
    /// candidate.
    words: Vec<u64>,
    /// Per register `g·8 + r`: the tie code of its first label and its group's first nonce,
    /// `(r · lanes) << 32 | 16·g` (the block's offset from the ties' start is added in the high half).
    codes: Vec<u64>,
    /// The rows the next block writes; the other ones are collected.
    write: usize,
    ties: Ties,
    lanes: usize,
}

/// The pending ties, in the order found.
#[derive(Debug)]
pub(super) struct Ties {
    /// `offset << 32 | nonce` per tie: the label as an offset from `start` and the nonce in the pass.
    /// Room for [`SETTLE_TIES`], one block more and [`SPARE`] (see `collect`).
    pub(super) found: Vec<u64>,
    /// Ties in `found`.
    pub(super) pending: usize,
    /// The first `settled` ties of `found` are settled already (by the kernel, between its rounds).
    pub(super) settled: usize,
    /// Label offset, in the scanned slice, that the offsets count from.
    pub(super) start: usize,
}

/// Room after the last pending tie: a kernel may store whole vectors of codes there (two 512-bit
/// stores of eight), of which only the first few count.
pub(super) const SPARE: usize = 16;

/// `SPLIT[bit]` for bit `16·l + j` of a register's mask (label `l` of the register, nonce `j` of the
/// group): `l << 32 | j`, what the bit adds to the register's tie code. Entry 64 (the `trailing_zeros`
/// of an empty mask) is 0.
pub(super) const SPLIT: [u64; 65] = {
    let mut t = [0; 65];
    let mut bit = 0;
    while bit < 64 {
        t[bit] = ((bit as u64 / 16) << 32) | (bit as u64 % 16);
        bit += 1;
    }
    t
};

impl Candidates {
    /// Room for `groups` groups of 8 registers of `lanes` labels each.
    pub(super) fn new(groups: usize, lanes: usize) -> Self {
        let rows = || vec![[0; REGS]; groups];
        Self {
            below: [rows(), rows()],
            cand: [rows(), rows()],
            words: vec![0; groups.div_ceil(8)],
            codes: (0..groups * REGS)
                .map(|at| (((at % REGS * lanes) as u64) << 32) | (at / REGS * 16) as u64)
                .collect(),
            write: 0,
            ties: Ties {
                found: vec![0; SETTLE_TIES + groups * 16 * REGS * lanes + SPARE],
                pending: 0,
                settled: 0,
                start: 0,
            },
            lanes,
        }
    }

    /// The rows a block writes: (below, candidates), one row per group. Every row of `candidates`
    /// must be written for every block; `below` only under [`Compare::BOTH`].
    #[inline(always)]
    pub(super) fn rows(&mut self) -> (&mut [Row], &mut [Row]) {
        (&mut self.below[self.write], &mut self.cand[self.write])
    }

    /// Hands the rows just written to the next [`Candidates::collect`] and gives the next block the
    /// other ones.
    ///
    /// The kernels collect a block while the next one is encrypted (write, flip, encrypt the next,
    /// collect): the mask stores of a block have long reached the cache when its rows are read back
    /// as whole vectors. Read right away, each row's load waits for its eight stores to retire
    /// instead of being forwarded from them, a stall of the order of a block's worth of ties.
    #[inline(always)]
    pub(super) fn flip(&mut self) {
        self.write ^= 1;
    }

    /// Whether the ties must be settled before the block at label offset `offset` is collected.
    #[inline(always)]
    pub(super) fn must_settle(&self, offset: usize, hits: &Hits) -> bool {
        let t = &self.ties;
        t.pending >= SETTLE_TIES || hits.len() >= SETTLE_HITS || (t.pending > 0 && offset - t.start > MAX_SPAN)
    }

    /// Marks the registers with candidates in the rows handed over by the last [`Candidates::flip`]:
    /// `nonzero` gives a row's byte of registers whose mask is not 0 (the kernels test a row with
    /// their widest vectors, so this runs inlined in the kernel).
    #[inline(always)]
    pub(super) fn mark(&mut self, nonzero: impl Fn(&Row) -> u8) {
        let cand = &self.cand[self.write ^ 1];
        for (word, rows) in self.words.iter_mut().zip(cand.chunks(8)) {
            // Byte i, bit r of the word: register r of group 8·w + i.
            *word = rows.iter().enumerate().fold(0, |w, (i, row)| w | (u64::from(nonzero(row)) << (8 * i)));
        }
    }

    /// Moves the candidates marked by [`Candidates::mark`], of the block at label offset `offset` of
    /// the scanned slice (whose first label has global index `first`), to `hits` (good) or the ties.
    ///
    /// Not inlined: in a function of its own the loop keeps its state in registers (inlined into a
    /// kernel, the bitmap word and the list's length went through the stack, a store-to-load round
    /// trip per candidate).
    #[inline(never)]
    pub(super) fn collect<const MODE: u8>(&mut self, p: &Params, offset: usize, first: u64, hits: &mut Hits) {
        let Self { below, cand, words, codes, write, ties, lanes } = self;
        let (below, cand) = (below[*write ^ 1].as_flattened(), cand[*write ^ 1].as_flattened());
        let lanes = *lanes;
        if ties.pending == 0 {
            ties.start = offset;
        }
        // Below MAX_SPAN (`must_settle`), so in range.
        let base = (offset - ties.start) as u32;
        let Ties { found, pending, .. } = ties;
        let mut n = *pending;
        for (w, &word) in words.iter().enumerate() {
            let mut slots = word;
            while slots != 0 {
                let slot = slots.trailing_zeros() as usize;
                slots &= slots - 1;
                // Register r of group g: g·8 + r, and the word's byte i, bit r is group 8·w + i.
                let at = w * 64 + slot;
                let mask = cand[at];
                let code = (u64::from(base) << 32) + codes[at];
                if MODE == Compare::TIES {
                    // Every candidate is a tie. One or two bits almost always: store two codes
                    // without a branch (the second slot is spare room when there is one bit) and
                    // loop only for the rare third.
                    let rest = mask & mask.wrapping_sub(1);
                    found[n] = code + SPLIT[mask.trailing_zeros() as usize];
                    found[n + 1] = code + SPLIT[rest.trailing_zeros() as usize];
                    n += 1 + usize::from(rest != 0);
                    let mut more = rest & rest.wrapping_sub(1);
                    while more != 0 {
                        found[n] = code + SPLIT[more.trailing_zeros() as usize];
                        n += 1;
                        more &= more - 1;
                    }
                    continue;
                }
                let (g, r) = (at / REGS, at % REGS);
                let below = if MODE == Compare::BOTH { below[at] } else { 0 };
                let mut bits = mask;
                while bits != 0 {
                    let bit = bits.trailing_zeros();
                    bits &= bits - 1;
                    let good = MODE == Compare::BELOW || (below >> bit) & 1 == 1;
                    if good {
                        let label = offset + r * lanes + (bit / 16) as usize;
                        hits.push(first + label as u64, p.first_nonce + (g * 16) as u32 + bit % 16);
                    } else {
                        found[n] = code + SPLIT[bit as usize];
                        n += 1;
                    }
                }
            }
        }
        *pending = n;
    }

    /// Settles every pending tie against `labels` (the slice the offsets refer to) with AES-NI, eight
    /// at a time: good iff the lazy value is below `lsb`.
    #[target_feature(enable = "aes")]
    pub(super) fn settle(&mut self, lazy: &[RoundKeys], p: &Params, labels: &[[u8; 16]], first: u64, hits: &mut Hits) {
        let Ties { found, pending, settled, start } = &self.ties;
        for ties in found[*settled..*pending].chunks(BATCH) {
            settle8(lazy, p, labels, *start, ties, first, hits);
        }
        self.ties.pending = 0;
        self.ties.settled = 0;
    }

    /// For a kernel that settles ties, and may collect the previous block, while it encrypts a block:
    /// the rows the block writes (below, candidates; see [`Candidates::rows`]), the candidate rows of
    /// the previous block (all 0 before the first block) and the ties.
    #[inline(always)]
    pub(super) fn parts(&mut self) -> (&mut [Row], &mut [Row], &[Row], &mut Ties) {
        let Self { below, cand, write, ties, .. } = self;
        let (a, b) = cand.split_at_mut(1);
        let (written, previous) = if *write == 0 { (&mut a[0], &b[0]) } else { (&mut b[0], &a[0]) };
        (&mut below[*write], written, previous, ties)
    }
}

/// Bit `r` set when `row[r]` is not 0: the portable form, for the kernels without AVX-512.
#[inline(always)]
pub(super) fn nonzero(row: &Row) -> u8 {
    row.iter().enumerate().fold(0, |m, (r, &c)| m | (u8::from(c != 0) << r))
}
/// Settles up to 8 ties (codes of [`Ties::found`], offsets from `start`) at once.
///
/// The keys and labels are picked without a branch (an index out of range, which the codes never
/// hold, would read the first key or a zero label): a bounds check per tie would split the rounds into
/// blocks that the compiler schedules one tie after the other, each waiting on its own `aesenc`
/// latency, instead of the eight interleaved.
#[target_feature(enable = "aes")]
#[inline]
fn settle8(
    lazy: &[RoundKeys],
    p: &Params,
    labels: &[[u8; 16]],
    start: usize,
    ties: &[u64],
    first: u64,
    hits: &mut Hits,
) {
    const ZERO: [u8; 16] = [0; 16];
    // Pad to a full batch with the first tie so that the rounds unroll; padded results are ignored.
    let Some(&pad) = ties.first() else { return };
    let codes: [u64; BATCH] = std::array::from_fn(|i| ties.get(i).copied().unwrap_or(pad));
    let label = codes.map(|t| start + (t >> 32) as usize);
    let Some(key0) = lazy.first() else { return };
    let keys: [&RoundKeys; BATCH] = codes.map(|t| lazy.get(t as u32 as usize).unwrap_or(key0));
    let mut x: [__m128i; BATCH] = label.map(|l| load(labels.get(l).unwrap_or(&ZERO)));
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
    for ((v, &label), &code) in x.iter().zip(&label).zip(&codes).take(ties.len()) {
        if (_mm_cvtsi128_si64(*v) as u64) & LabelThreshold::LSB_MASK < p.lsb {
            hits.push(first + label as u64, p.first_nonce + code as u32);
        }
    }
}
