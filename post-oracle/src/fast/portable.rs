//! Portable backend: plain `[u32; 4]` arrays in safe element-wise loops, which the compiler may turn
//! into the build target's vector instructions (NEON on AArch64). It is the fallback on every CPU
//! and the one that needs no `unsafe` arithmetic. On x86-64 the compiler keeps the rotates scalar,
//! so there it runs about as fast as the reference labeller; the SSE2 backend is the baseline there.

use super::backend::Engine;
use super::lanes::{Lanes, BLOCK_WORDS};
use super::romix::{romix, GROUPS};

/// Lanes of the portable backend: one 128-bit register's worth. Eight measured slower (the state no
/// longer fits the registers).
const LANES: usize = 4;

/// Four 32-bit lanes in an array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Portable([u32; LANES]);

impl Portable {
    #[inline(always)]
    fn zip(self, other: Self, f: impl Fn(u32, u32) -> u32) -> Self {
        let mut out = self.0;
        for (o, b) in out.iter_mut().zip(other.0) {
            *o = f(*o, b);
        }
        Self(out)
    }

    #[inline(always)]
    fn rotl(self, bits: u32) -> Self {
        Self(self.0.map(|w| w.rotate_left(bits)))
    }
}

impl Lanes for Portable {
    const LANES: usize = LANES;

    #[inline(always)]
    unsafe fn add(self, other: Self) -> Self {
        self.zip(other, u32::wrapping_add)
    }

    #[inline(always)]
    unsafe fn xor(self, other: Self) -> Self {
        self.zip(other, |a, b| a ^ b)
    }

    #[inline(always)]
    unsafe fn rotl16(self) -> Self {
        self.rotl(16)
    }

    #[inline(always)]
    unsafe fn rotl12(self) -> Self {
        self.rotl(12)
    }

    #[inline(always)]
    unsafe fn rotl8(self) -> Self {
        self.rotl(8)
    }

    #[inline(always)]
    unsafe fn rotl7(self) -> Self {
        self.rotl(7)
    }

    #[inline(always)]
    unsafe fn load(src: *const u32) -> Self {
        // SAFETY: the caller guarantees LANES readable words at `src`.
        Self(unsafe { src.cast::<[u32; LANES]>().read_unaligned() })
    }

    #[inline(always)]
    unsafe fn store(self, dst: *mut u32) {
        // SAFETY: the caller guarantees LANES writable words at `dst`.
        unsafe { dst.cast::<[u32; LANES]>().write_unaligned(self.0) }
    }

    #[inline(always)]
    unsafe fn store_rows(block: &[Self; BLOCK_WORDS], dst: *mut u32, row_stride: usize) {
        for lane in 0..LANES {
            let row: [u32; BLOCK_WORDS] = std::array::from_fn(|k| block[k].0[lane]);
            // SAFETY: the caller guarantees LANES writable rows of 16 words.
            unsafe { dst.add(lane * row_stride).cast::<[u32; BLOCK_WORDS]>().write_unaligned(row) };
        }
    }

    #[inline(always)]
    unsafe fn xor_rows(block: &mut [Self; BLOCK_WORDS], base: *const u32, rows: &[usize]) {
        for (lane, &offset) in rows.iter().enumerate() {
            // SAFETY: the caller guarantees LANES readable rows of 16 words.
            let row = unsafe { base.add(offset).cast::<[u32; BLOCK_WORDS]>().read_unaligned() };
            for (b, w) in block.iter_mut().zip(row) {
                b.0[lane] ^= w;
            }
        }
    }
}

impl Engine for Portable {
    const LANES: usize = GROUPS * <Self as Lanes>::LANES;

    unsafe fn romix(state: &mut [u32], table: &mut [u32], n: usize) {
        // SAFETY: the portable lanes need no special instructions.
        unsafe { romix::<Self>(state, table, n) }
    }
}
