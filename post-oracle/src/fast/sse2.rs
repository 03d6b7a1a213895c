//! SSE2 backend: 4 lanes per 128-bit register, the x86-64 baseline. SSE2 has no byte shuffle, so
//! the rotate by 16 swaps 16-bit halves and the other rotates are two shifts and an or.

use core::arch::x86_64::{
    __m128i, _mm_add_epi32, _mm_loadu_si128, _mm_or_si128, _mm_prefetch, _mm_shufflehi_epi16, _mm_shufflelo_epi16,
    _mm_slli_epi32, _mm_srli_epi32, _mm_storeu_si128, _mm_unpackhi_epi32, _mm_unpackhi_epi64, _mm_unpacklo_epi32,
    _mm_unpacklo_epi64, _mm_xor_si128, _MM_HINT_T0,
};

use super::backend::Engine;
use super::lanes::{Lanes, BLOCK_WORDS};
use super::romix::{romix, GROUPS};

/// Four 32-bit lanes in one SSE2 register.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sse2(__m128i);

/// Transposes a 4×4 matrix of 32-bit words held as 4 rows.
#[inline(always)]
unsafe fn transpose([a, b, c, d]: [__m128i; 4]) -> [__m128i; 4] {
    // SAFETY: the caller guarantees SSE2.
    unsafe {
        let ab_lo = _mm_unpacklo_epi32(a, b);
        let ab_hi = _mm_unpackhi_epi32(a, b);
        let cd_lo = _mm_unpacklo_epi32(c, d);
        let cd_hi = _mm_unpackhi_epi32(c, d);
        [
            _mm_unpacklo_epi64(ab_lo, cd_lo),
            _mm_unpackhi_epi64(ab_lo, cd_lo),
            _mm_unpacklo_epi64(ab_hi, cd_hi),
            _mm_unpackhi_epi64(ab_hi, cd_hi),
        ]
    }
}

impl Lanes for Sse2 {
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: the caller guarantees SSE2.
        Self(unsafe { _mm_add_epi32(self.0, other.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        // SAFETY: the caller guarantees SSE2.
        Self(unsafe { _mm_xor_si128(self.0, other.0) })
    }

    #[inline(always)]
    unsafe fn rotl16(self) -> Self {
        // SAFETY: the caller guarantees SSE2.
        Self(unsafe { _mm_shufflehi_epi16::<0xB1>(_mm_shufflelo_epi16::<0xB1>(self.0)) })
    }

    #[inline(always)]
    unsafe fn rotl12(self) -> Self {
        // SAFETY: the caller guarantees SSE2.
        Self(unsafe { _mm_or_si128(_mm_slli_epi32::<12>(self.0), _mm_srli_epi32::<20>(self.0)) })
    }

    #[inline(always)]
    unsafe fn rotl8(self) -> Self {
        // SAFETY: the caller guarantees SSE2.
        Self(unsafe { _mm_or_si128(_mm_slli_epi32::<8>(self.0), _mm_srli_epi32::<24>(self.0)) })
    }

    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        // SAFETY: the caller guarantees SSE2.
        Self(unsafe { _mm_or_si128(_mm_slli_epi32::<7>(self.0), _mm_srli_epi32::<25>(self.0)) })
    }

    #[inline(always)]
    unsafe fn load(src: *const u32) -> Self {
        // SAFETY: the caller guarantees SSE2 and 4 readable words at `src`.
        Self(unsafe { _mm_loadu_si128(src.cast()) })
    }

    #[inline(always)]
    unsafe fn store(self, dst: *mut u32) {
        // SAFETY: the caller guarantees SSE2 and 4 writable words at `dst`.
        unsafe { _mm_storeu_si128(dst.cast(), self.0) }
    }

    #[inline(always)]
    unsafe fn prefetch(src: *const u32) {
        // SAFETY: prefetching never faults; SSE is part of every x86-64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(src.cast()) }
    }

    #[inline(always)]
    unsafe fn store_rows(block: &[Self; BLOCK_WORDS], dst: *mut u32, row_stride: usize) {
        // SAFETY: the caller guarantees SSE2 and 4 writable rows of 16 words.
        unsafe {
            for quarter in 0..4 {
                let q = 4 * quarter;
                let words = [block[q].0, block[q + 1].0, block[q + 2].0, block[q + 3].0];
                for (lane, row) in transpose(words).into_iter().enumerate() {
                    _mm_storeu_si128(dst.add(lane * row_stride + q).cast(), row);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn xor_rows(block: &mut [Self; BLOCK_WORDS], base: *const u32, rows: &[usize]) {
        // SAFETY: the caller guarantees SSE2 and 4 readable rows of 16 words.
        unsafe {
            for quarter in 0..4 {
                let q = 4 * quarter;
                let loaded = [0, 1, 2, 3].map(|lane| _mm_loadu_si128(base.add(rows[lane] + q).cast()));
                for (k, w) in transpose(loaded).into_iter().enumerate() {
                    block[q + k].0 = _mm_xor_si128(block[q + k].0, w);
                }
            }
        }
    }
}

impl Engine for Sse2 {
    const LANES: usize = GROUPS * <Self as Lanes>::LANES;

    #[target_feature(enable = "sse2")]
    unsafe fn romix(state: &mut [u32], table: &mut [u32], n: usize) {
        // SAFETY: this function only runs where SSE2 is available (every x86-64 CPU).
        unsafe { romix::<Self>(state, table, n) }
    }
}
