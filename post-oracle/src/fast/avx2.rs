//! AVX2 backend: 8 lanes per 256-bit register. Rotates by 16 and 8 are byte shuffles, rotates by
//! 12 and 7 are two shifts and an or.

use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_loadu_si256, _mm256_or_si256, _mm256_permute2x128_si256, _mm256_set_epi8,
    _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srli_epi32, _mm256_storeu_si256, _mm256_unpackhi_epi32,
    _mm256_unpackhi_epi64, _mm256_unpacklo_epi32, _mm256_unpacklo_epi64, _mm256_xor_si256, _mm_prefetch, _MM_HINT_T0,
};

use super::backend::Engine;
use super::lanes::{Lanes, BLOCK_WORDS};
use super::romix::{romix, GROUPS};

/// Eight 32-bit lanes in one AVX2 register.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx2(__m256i);

/// Transposes an 8×8 matrix of 32-bit words held as 8 rows (3 shuffle stages of 8 shuffles).
#[inline(always)]
unsafe fn transpose(rows: [__m256i; 8]) -> [__m256i; 8] {
    // SAFETY: the caller guarantees AVX2.
    unsafe {
        // Stage 1 and 2: 4×4 transposes inside each 128-bit half of rows 0–3 and rows 4–7.
        let mut t = rows;
        for g in 0..2 {
            let (a, b, c, d) = (rows[4 * g], rows[4 * g + 1], rows[4 * g + 2], rows[4 * g + 3]);
            let ab_lo = _mm256_unpacklo_epi32(a, b);
            let ab_hi = _mm256_unpackhi_epi32(a, b);
            let cd_lo = _mm256_unpacklo_epi32(c, d);
            let cd_hi = _mm256_unpackhi_epi32(c, d);
            t[4 * g] = _mm256_unpacklo_epi64(ab_lo, cd_lo);
            t[4 * g + 1] = _mm256_unpackhi_epi64(ab_lo, cd_lo);
            t[4 * g + 2] = _mm256_unpacklo_epi64(ab_hi, cd_hi);
            t[4 * g + 3] = _mm256_unpackhi_epi64(ab_hi, cd_hi);
        }
        // Stage 3: column 4h + s is half h of t[s] followed by half h of t[4 + s].
        let mut out = rows;
        for s in 0..4 {
            out[s] = _mm256_permute2x128_si256::<0x20>(t[s], t[4 + s]);
            out[4 + s] = _mm256_permute2x128_si256::<0x31>(t[s], t[4 + s]);
        }
        out
    }
}

impl Lanes for Avx2 {
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: the caller guarantees AVX2.
        Self(unsafe { _mm256_add_epi32(self.0, other.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        // SAFETY: the caller guarantees AVX2.
        Self(unsafe { _mm256_xor_si256(self.0, other.0) })
    }

    #[inline(always)]
    unsafe fn rotl16(self) -> Self {
        // SAFETY: the caller guarantees AVX2.
        Self(unsafe {
            let shuffle = _mm256_set_epi8(
                13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0, 3, 2, 13, 12, 15, 14, 9, 8, 11, 10, 5, 4, 7, 6, 1, 0,
                3, 2,
            );
            _mm256_shuffle_epi8(self.0, shuffle)
        })
    }

    #[inline(always)]
    unsafe fn rotl12(self) -> Self {
        // SAFETY: the caller guarantees AVX2.
        Self(unsafe { _mm256_or_si256(_mm256_slli_epi32::<12>(self.0), _mm256_srli_epi32::<20>(self.0)) })
    }

    #[inline(always)]
    unsafe fn rotl8(self) -> Self {
        // SAFETY: the caller guarantees AVX2.
        Self(unsafe {
            let shuffle = _mm256_set_epi8(
                14, 13, 12, 15, 10, 9, 8, 11, 6, 5, 4, 7, 2, 1, 0, 3, 14, 13, 12, 15, 10, 9, 8, 11, 6, 5, 4, 7, 2, 1,
                0, 3,
            );
            _mm256_shuffle_epi8(self.0, shuffle)
        })
    }

    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        // SAFETY: the caller guarantees AVX2.
        Self(unsafe { _mm256_or_si256(_mm256_slli_epi32::<7>(self.0), _mm256_srli_epi32::<25>(self.0)) })
    }

    #[inline(always)]
    unsafe fn load(src: *const u32) -> Self {
        // SAFETY: the caller guarantees AVX2 and 8 readable words at `src`.
        Self(unsafe { _mm256_loadu_si256(src.cast()) })
    }

    #[inline(always)]
    unsafe fn store(self, dst: *mut u32) {
        // SAFETY: the caller guarantees AVX2 and 8 writable words at `dst`.
        unsafe { _mm256_storeu_si256(dst.cast(), self.0) }
    }

    #[inline(always)]
    unsafe fn prefetch(src: *const u32) {
        // SAFETY: prefetching never faults; SSE is part of every x86-64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(src.cast()) }
    }

    #[inline(always)]
    unsafe fn store_rows(block: &[Self; BLOCK_WORDS], dst: *mut u32, row_stride: usize) {
        // SAFETY: the caller guarantees AVX2 and 8 writable rows of 16 words.
        unsafe {
            for half in 0..2 {
                let mut words = [block[0].0; 8];
                for (k, w) in words.iter_mut().enumerate() {
                    *w = block[8 * half + k].0;
                }
                for (lane, row) in transpose(words).into_iter().enumerate() {
                    _mm256_storeu_si256(dst.add(lane * row_stride + 8 * half).cast(), row);
                }
            }
        }
    }

    #[inline(always)]
    unsafe fn xor_rows(block: &mut [Self; BLOCK_WORDS], base: *const u32, rows: &[usize]) {
        // SAFETY: the caller guarantees AVX2 and 8 readable rows of 16 words.
        unsafe {
            for half in 0..2 {
                let mut loaded = [block[0].0; 8];
                for (lane, v) in loaded.iter_mut().enumerate() {
                    *v = _mm256_loadu_si256(base.add(rows[lane] + 8 * half).cast());
                }
                for (k, w) in transpose(loaded).into_iter().enumerate() {
                    let b = &mut block[8 * half + k];
                    b.0 = _mm256_xor_si256(b.0, w);
                }
            }
        }
    }
}

impl Engine for Avx2 {
    const LANES: usize = GROUPS * <Self as Lanes>::LANES;

    #[target_feature(enable = "avx2")]
    unsafe fn romix(state: &mut [u32], table: &mut [u32], n: usize) {
        // SAFETY: this function only runs where AVX2 is available (the caller's contract).
        unsafe { romix::<Self>(state, table, n) }
    }
}
