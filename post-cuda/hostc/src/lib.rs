//! Test support for `post-cuda`: the GPU kernels' math (`post-cuda/kernels/label_core.cuh`) compiled as
//! plain C for the host, behind safe wrappers.
//!
//! The CUDA kernels include the same header, so checking these functions against the reference labeller
//! checks the kernels' Keccak, HMAC/PBKDF2, ChaCha20/8, BlockMix, ROMix (with every lookup gap and the
//! interleaved table layout) and VRF comparison on every CI machine, GPU or not. Only
//! the host orchestration (streams, copies) is left to the GPU tests: the kernels themselves, the
//! four-threads-per-label ROMix with its warp shuffles included, also run here on a small SIMT emulator
//! ([`simt_batch`], `src/simt.cpp`).
//!
//! This crate is a dev-dependency of `post-cuda` only; nothing ships it.

use std::os::raw::c_int;

mod simt;

pub use simt::{simt_batch, SimtBatch, SimtResult};

/// Words of one VRF candidate record: found flag, index, four big-endian label words.
pub const CAND_WORDS: usize = 6;

extern "C" {
    fn pc_host_keccakf(s: *mut u64);
    fn pc_host_keccak512(msg: *const u8, len: usize, out: *mut u8);
    fn pc_host_chacha8(b: *mut u32);
    fn pc_host_blockmix(x: *mut u32);
    fn pc_host_pbkdf2_in(pw: *const u64, x: *mut u32);
    fn pc_host_pbkdf2_out(pw: *const u64, x: *const u32, out: *mut u64);
    fn pc_host_romix(x: *mut u32, v: *mut u32, n: u32, gap: u32, cap: u64, label: u64);
    fn pc_host_label_full(
        commitment: *const u64,
        index: u64,
        n: u32,
        gap: u32,
        v: *mut u32,
        cap: u64,
        label: u64,
        out: *mut u64,
    );
    fn pc_host_cand_less(a: *const u64, b: *const u64) -> c_int;
    fn pc_host_below(label: *const u64, threshold_be: *const u64) -> c_int;
}

/// Where one label's ROMix lives inside a shared, interleaved scratch table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableSlot {
    /// Labels per table entry (the distance between entries of one label, in 128-byte lines).
    pub cap: u64,
    /// This label's slot, below `cap`.
    pub label: u64,
}

impl TableSlot {
    /// The table of a single label.
    pub const ALONE: Self = Self { cap: 1, label: 0 };
}

fn check_cost(n: u32, gap: u32, slot: TableSlot, table_words: usize) {
    assert!(n >= 2 && n.is_power_of_two(), "scrypt N = {n} must be a power of two >= 2");
    assert!(gap >= 1 && gap.is_power_of_two() && gap <= n, "lookup gap {gap} must be a power of two <= N");
    assert!(slot.label < slot.cap, "slot {} is outside a table of {} labels", slot.label, slot.cap);
    let need = u64::from(n / gap) * slot.cap * 32;
    assert!(table_words as u64 >= need, "table of {table_words} words is smaller than {need}");
}

/// Keccak-f\[1600\] on 25 lanes.
pub fn keccakf(s: &mut [u64; 25]) {
    // SAFETY: the C function reads and writes exactly 25 lanes.
    unsafe { pc_host_keccakf(s.as_mut_ptr()) }
}

/// Original (pre-FIPS-202) Keccak-512 of any message, built on the kernel's Keccak-f.
pub fn keccak512(msg: &[u8]) -> [u8; 64] {
    let mut out = [0u8; 64];
    // SAFETY: `msg` is valid for `msg.len()` bytes and `out` holds 64.
    unsafe { pc_host_keccak512(msg.as_ptr(), msg.len(), out.as_mut_ptr()) };
    out
}

/// The ChaCha20/8 core in place.
pub fn chacha8(b: &mut [u32; 16]) {
    // SAFETY: 16 words.
    unsafe { pc_host_chacha8(b.as_mut_ptr()) }
}

/// BlockMix (r = 1) in place.
pub fn blockmix(x: &mut [u32; 32]) {
    // SAFETY: 32 words.
    unsafe { pc_host_blockmix(x.as_mut_ptr()) }
}

/// The 72-byte password of a label as nine little-endian lanes.
pub fn password(commitment: &[u8; 32], index: u64) -> [u64; 9] {
    let mut pw = [0u64; 9];
    for (lane, bytes) in pw.iter_mut().zip(commitment.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(bytes);
        *lane = u64::from_le_bytes(b);
    }
    pw[4] = index;
    pw
}

/// PBKDF2 on the way in: 128 bytes from the password and the empty salt, as 32 little-endian words.
pub fn pbkdf2_in(pw: &[u64; 9]) -> [u32; 32] {
    let mut x = [0u32; 32];
    // SAFETY: 9 lanes in, 32 words out.
    unsafe { pc_host_pbkdf2_in(pw.as_ptr(), x.as_mut_ptr()) };
    x
}

/// PBKDF2 on the way out: the full label (four little-endian lanes) from the password and X.
pub fn pbkdf2_out(pw: &[u64; 9], x: &[u32; 32]) -> [u64; 4] {
    let mut out = [0u64; 4];
    // SAFETY: 9 lanes and 32 words in, 4 lanes out.
    unsafe { pc_host_pbkdf2_out(pw.as_ptr(), x.as_ptr(), out.as_mut_ptr()) };
    out
}

/// ROMix in place with lookup gap `gap`, in the slot `slot` of the caller's table `v`.
///
/// # Panics
/// When N or the gap is not a power of two, the gap exceeds N, or `v` is too small for the slot.
pub fn romix(x: &mut [u32; 32], v: &mut [u32], n: u32, gap: u32, slot: TableSlot) {
    check_cost(n, gap, slot, v.len());
    // SAFETY: the table was checked to hold (n / gap) * cap lines of 32 words.
    unsafe { pc_host_romix(x.as_mut_ptr(), v.as_mut_ptr(), n, gap, slot.cap, slot.label) }
}

/// The full 32-byte label computed by the kernel's C code, using the caller's table `v` at `slot`.
///
/// # Panics
/// As [`romix`].
pub fn label_full_in(commitment: &[u8; 32], index: u64, n: u32, gap: u32, v: &mut [u32], slot: TableSlot) -> [u8; 32] {
    check_cost(n, gap, slot, v.len());
    let pw = password(commitment, index);
    let mut lanes = [0u64; 4];
    // SAFETY: the table was checked; the commitment is the first four password lanes.
    unsafe { pc_host_label_full(pw.as_ptr(), index, n, gap, v.as_mut_ptr(), slot.cap, slot.label, lanes.as_mut_ptr()) };
    lanes_to_bytes(&lanes)
}

/// The full 32-byte label computed by the kernel's C code with a table of its own.
///
/// # Panics
/// As [`romix`].
pub fn label_full(commitment: &[u8; 32], index: u64, n: u32, gap: u32) -> [u8; 32] {
    let mut v = vec![0u32; (n / gap.max(1)).max(1) as usize * 32];
    label_full_in(commitment, index, n, gap, &mut v, TableSlot::ALONE)
}

/// Little-endian lanes to bytes.
pub fn lanes_to_bytes(lanes: &[u64; 4]) -> [u8; 32] {
    let mut out = [0u8; 32];
    for (chunk, lane) in out.chunks_exact_mut(8).zip(lanes) {
        chunk.copy_from_slice(&lane.to_le_bytes());
    }
    out
}

/// Whether candidate record `a` beats `b` (the kernels' VRF reduction order).
pub fn cand_less(a: &[u64; CAND_WORDS], b: &[u64; CAND_WORDS]) -> bool {
    // SAFETY: two records of CAND_WORDS words.
    unsafe { pc_host_cand_less(a.as_ptr(), b.as_ptr()) != 0 }
}

/// Whether the label (little-endian lanes) is strictly below the threshold (big-endian words).
pub fn below(label: &[u64; 4], threshold_be: &[u64; 4]) -> bool {
    // SAFETY: four words each.
    unsafe { pc_host_below(label.as_ptr(), threshold_be.as_ptr()) != 0 }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha3::Digest;

    #[test]
    fn keccak512_of_empty_message_is_the_original_keccak() {
        // Original Keccak-512 (not SHA3-512) of the empty string.
        assert_eq!(
            hex::encode(keccak512(b"")),
            "0eab42de4c3ceb9235fc91acffe746b29c29a8c366b7c60e4e67c466f36a4304\
             c00fa9caf9d87976ba469bcbe06713b435f091ef2769fb160cdab33d3670680e"
        );
    }

    proptest! {
        #[test]
        fn keccak512_matches_sha3_crate(msg in proptest::collection::vec(any::<u8>(), 0..300)) {
            let expected = sha3::Keccak512::digest(&msg);
            let got = keccak512(&msg);
            prop_assert_eq!(got.as_slice(), expected.as_slice());
        }
    }
}
