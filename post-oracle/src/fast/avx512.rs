//! AVX-512F backend: 16 lanes per 512-bit register, native 32-bit rotates (`vprold`).

use core::arch::x86_64::{
    __m512i, _mm512_add_epi32, _mm512_loadu_si512, _mm512_rol_epi32, _mm512_shuffle_i32x4, _mm512_storeu_si512,
    _mm512_unpackhi_epi32, _mm512_unpackhi_epi64, _mm512_unpacklo_epi32, _mm512_unpacklo_epi64, _mm512_xor_si512,
    _mm_prefetch, _MM_HINT_T0,
};

use super::backend::Engine;
use super::lanes::{Lanes, BLOCK_WORDS};
use super::romix::{romix, GROUPS};

/// Sixteen 32-bit lanes in one AVX-512 register.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Avx512(__m512i);

/// Transposes a 16×16 matrix of 32-bit words held as 16 rows (4 shuffle stages of 16 shuffles).
#[inline(always)]
unsafe fn transpose(rows: [__m512i; 16]) -> [__m512i; 16] {
    // SAFETY: the caller guarantees AVX-512F.
    unsafe {
        // Stage 1 and 2: 4×4 transposes inside every 128-bit lane of each group of four rows.
        let mut t = rows;
        for g in 0..4 {
            let (a, b, c, d) = (rows[4 * g], rows[4 * g + 1], rows[4 * g + 2], rows[4 * g + 3]);
            let ab_lo = _mm512_unpacklo_epi32(a, b);
            let ab_hi = _mm512_unpackhi_epi32(a, b);
            let cd_lo = _mm512_unpacklo_epi32(c, d);
            let cd_hi = _mm512_unpackhi_epi32(c, d);
            t[4 * g] = _mm512_unpacklo_epi64(ab_lo, cd_lo);
            t[4 * g + 1] = _mm512_unpackhi_epi64(ab_lo, cd_lo);
            t[4 * g + 2] = _mm512_unpacklo_epi64(ab_hi, cd_hi);
            t[4 * g + 3] = _mm512_unpackhi_epi64(ab_hi, cd_hi);
        }
        // Stage 3 and 4: a 4×4 transpose of 128-bit lanes across the four groups. Column 4q + s
        // is lane q of t[s], t[4 + s], t[8 + s], t[12 + s].
        let mut out = rows;
        for s in 0..4 {
            let v0 = _mm512_shuffle_i32x4::<0x44>(t[s], t[4 + s]);
            let v1 = _mm512_shuffle_i32x4::<0xEE>(t[s], t[4 + s]);
            let v2 = _mm512_shuffle_i32x4::<0x44>(t[8 + s], t[12 + s]);
            let v3 = _mm512_shuffle_i32x4::<0xEE>(t[8 + s], t[12 + s]);
            out[s] = _mm512_shuffle_i32x4::<0x88>(v0, v2);
            out[4 + s] = _mm512_shuffle_i32x4::<0xDD>(v0, v2);
            out[8 + s] = _mm512_shuffle_i32x4::<0x88>(v1, v3);
            out[12 + s] = _mm512_shuffle_i32x4::<0xDD>(v1, v3);
        }
        out
    }
}

impl Lanes for Avx512 {
    const LANES: usize = 16;

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        Self(unsafe { _mm512_add_epi32(self.0, other.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        Self(unsafe { _mm512_xor_si512(self.0, other.0) })
    }

    #[inline(always)]
    unsafe fn rotl16(self) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        Self(unsafe { _mm512_rol_epi32::<16>(self.0) })
    }

    #[inline(always)]
    unsafe fn rotl12(self) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        Self(unsafe { _mm512_rol_epi32::<12>(self.0) })
    }

    #[inline(always)]
    unsafe fn rotl8(self) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        Self(unsafe { _mm512_rol_epi32::<8>(self.0) })
    }

    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        // SAFETY: the caller guarantees AVX-512F.
        Self(unsafe { _mm512_rol_epi32::<7>(self.0) })
    }

    #[inline(always)]
    unsafe fn load(src: *const u32) -> Self {
        // SAFETY: the caller guarantees AVX-512F and 16 readable words at `src`.
        Self(unsafe { _mm512_loadu_si512(src.cast()) })
    }

    #[inline(always)]
    unsafe fn store(self, dst: *mut u32) {
        // SAFETY: the caller guarantees AVX-512F and 16 writable words at `dst`.
        unsafe { _mm512_storeu_si512(dst.cast(), self.0) }
    }

    #[inline(always)]
    unsafe fn prefetch(src: *const u32) {
        // SAFETY: prefetching never faults; SSE is part of every x86-64 CPU.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(src.cast()) }
    }

    #[inline(always)]
    unsafe fn store_rows(block: &[Self; BLOCK_WORDS], dst: *mut u32, row_stride: usize) {
        // SAFETY: the caller guarantees AVX-512F and 16 writable rows of 16 words.
        unsafe {
            let rows = transpose(block.map(|v| v.0));
            for (lane, row) in rows.into_iter().enumerate() {
                _mm512_storeu_si512(dst.add(lane * row_stride).cast(), row);
            }
        }
    }

    #[inline(always)]
    unsafe fn xor_rows(block: &mut [Self; BLOCK_WORDS], base: *const u32, rows: &[usize]) {
        // SAFETY: the caller guarantees AVX-512F and 16 readable rows of 16 words.
        unsafe {
            let mut loaded = [block[0].0; 16];
            for (lane, v) in loaded.iter_mut().enumerate() {
                *v = _mm512_loadu_si512(base.add(rows[lane]).cast());
            }
            let words = transpose(loaded);
            for (b, w) in block.iter_mut().zip(words) {
                b.0 = _mm512_xor_si512(b.0, w);
            }
        }
    }
}

impl Engine for Avx512 {
    const LANES: usize = GROUPS * <Self as Lanes>::LANES;

    #[target_feature(enable = "avx512f")]
    unsafe fn romix(state: &mut [u32], table: &mut [u32], n: usize) {
        // SAFETY: this function only runs where AVX-512F is available (the caller's contract).
        unsafe { romix::<Self>(state, table, n) }
    }
}
