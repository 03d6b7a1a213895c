//! The vector abstraction of the multi-lane engine: one value holds the same 32-bit word of `LANES`
//! different labels ("vertical" vectorisation), so one instruction advances every label at once.
//!
//! Each backend (AVX-512F, AVX2, SSE2, portable) implements [`Lanes`] once; the ChaCha20/8 core,
//! BlockMix and ROMix are written once, generically, in `chacha.rs` and `romix.rs`. The backends'
//! entry points carry `#[target_feature]`, and every method here is `#[inline(always)]`, so the
//! generic code is compiled inside each entry point with that entry point's instruction set.

/// Number of 32-bit words in one 64-byte ChaCha block.
pub(crate) const BLOCK_WORDS: usize = 16;

/// `LANES` independent 32-bit words, one per label, and the few operations the label function needs.
///
/// The methods are `unsafe` because they use instructions of the implementing type's backend: call
/// them only after checking that the CPU has those instructions (see `Backend::detect`); pointer
/// arguments must be valid as each method documents.
pub(crate) trait Lanes: Copy {
    /// How many labels one value carries.
    const LANES: usize;

    /// Wrapping addition per lane.
    ///
    /// # Safety
    /// The backend's instructions must be available.
    unsafe fn add(self, other: Self) -> Self;

    /// Exclusive or per lane.
    ///
    /// # Safety
    /// The backend's instructions must be available.
    unsafe fn xor(self, other: Self) -> Self;

    /// Rotates every lane left by 16 bits.
    ///
    /// # Safety
    /// The backend's instructions must be available.
    unsafe fn rotl16(self) -> Self;

    /// Rotates every lane left by 12 bits.
    ///
    /// # Safety
    /// The backend's instructions must be available.
    unsafe fn rotl12(self) -> Self;

    /// Rotates every lane left by 8 bits.
    ///
    /// # Safety
    /// The backend's instructions must be available.
    unsafe fn rotl8(self) -> Self;

    /// Rotates every lane left by 7 bits.
    ///
    /// # Safety
    /// The backend's instructions must be available.
    unsafe fn rotl7(self) -> Self;

    /// Loads `LANES` consecutive words (lane 0 first) from `src`, which need not be aligned.
    ///
    /// # Safety
    /// `src` must be valid for reading `LANES` words.
    unsafe fn load(src: *const u32) -> Self;

    /// Stores the lanes as `LANES` consecutive words (lane 0 first) at `dst`, which need not be
    /// aligned.
    ///
    /// # Safety
    /// `dst` must be valid for writing `LANES` words.
    unsafe fn store(self, dst: *mut u32);

    /// Hints the CPU to fetch the cache line at `src` soon. A no-op where the backend has no
    /// prefetch instruction.
    ///
    /// # Safety
    /// The backend's instructions must be available (the address itself need not be valid).
    #[inline(always)]
    unsafe fn prefetch(src: *const u32) {
        let _ = src;
    }

    /// Transposes a block out to per-lane rows: writes word `k` of lane `l` to
    /// `dst + l * row_stride + k` for `k < 16`, `l < LANES`.
    ///
    /// # Safety
    /// Every row written must be valid for writing 16 words.
    unsafe fn store_rows(block: &[Self; BLOCK_WORDS], dst: *mut u32, row_stride: usize);

    /// Transposes per-lane rows into a block and xors it into `block`: word `k` of lane `l` is read
    /// from `base + rows[l] + k`, for `k < 16`, `l < LANES` (`rows.len() == LANES`).
    ///
    /// # Safety
    /// Every row read must be valid for reading 16 words.
    unsafe fn xor_rows(block: &mut [Self; BLOCK_WORDS], base: *const u32, rows: &[usize]);
}
