//! The AES ceiling: how many AES-128 block encryptions per second one thread of this CPU can do with
//! a scan backend's instructions, with no memory traffic, and so the fastest the proving scan could
//! ever go.
//!
//! ```text
//! 1. expand one key; fill the chains (independent blocks, CHAINS registers of the backend's width)
//! 2. repeat until the time is up: run ITERS rounds of  x = AES128(key, x)  on every chain
//!    (the same xor + 9 aesenc + aesenclast per register as the scan kernels, round keys in registers
//!    or L1, nothing loaded or stored inside a round)
//! 3. blocks per second = chains · rounds run / elapsed
//! ```
//!
//! A chain depends on itself only, so enough chains cover the latency of `aesenc` (3–5 cycles on one or
//! two ports): 8 for AES-NI on 16 `xmm` registers, 8 `ymm` registers (16 blocks) for VAES-256 and 12
//! `zmm` registers (48 blocks) for VAES-512, which has 32 registers. The portable backend runs the `aes`
//! crate on 64 blocks, as the portable scan kernel does.
//!
//! The scan encrypts each label once per nonce group, so at `k` nonces a 16-byte label costs `k / 16`
//! blocks ([`scan_blocks_per_label`]): 1, 4 and 18 at 16, 64 and 288 nonces. The tie-breaking cipher
//! (one more block per tie, `k / 256` per label at the network's difficulty) is not counted: it is part
//! of what the scan's share of the ceiling loses.

use std::time::{Duration, Instant};

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Block};

use crate::{AesBackend, Error};

/// Rounds of every chain between two looks at the clock.
const ITERS: u64 = 1024;

/// Blocks in flight on the portable backend.
const PORTABLE_CHAINS: usize = 64;

/// The key of the ceiling's cipher: any key does; this one is the FIPS-197 appendix C.1 key.
const KEY: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// AES-128 block encryptions counted over a measured time on one thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AesRate {
    backend: AesBackend,
    blocks: u64,
    elapsed: Duration,
}

impl AesRate {
    /// The backend measured.
    pub fn backend(&self) -> AesBackend {
        self.backend
    }

    /// Blocks encrypted.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    /// The time they took.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// AES-128 block encryptions per second.
    pub fn blocks_per_second(&self) -> f64 {
        self.blocks as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// AES-128 blocks the proving scan encrypts per 16-byte label at `nonces` nonces: one per nonce group
/// of 16 (ties excluded, see the module doc).
pub fn scan_blocks_per_label(nonces: u32) -> u32 {
    nonces.div_ceil(16)
}

/// The proving scan's ceiling in bytes of labels per second at `nonces` nonces, from a rate of AES
/// block encryptions per second.
pub fn scan_ceiling_bytes_per_second(aes_blocks_per_second: f64, nonces: u32) -> f64 {
    aes_blocks_per_second * 16.0 / f64::from(scan_blocks_per_label(nonces).max(1))
}

/// Blocks one call of the backend's kernel keeps in flight.
fn chains(backend: AesBackend) -> usize {
    match backend {
        AesBackend::Portable => PORTABLE_CHAINS,
        #[cfg(target_arch = "x86_64")]
        AesBackend::AesNi => x86::AESNI_REGS,
        #[cfg(target_arch = "x86_64")]
        AesBackend::Vaes256 => 2 * x86::VAES256_REGS,
        #[cfg(target_arch = "x86_64")]
        AesBackend::Vaes512 => 4 * x86::VAES512_REGS,
        #[cfg(not(target_arch = "x86_64"))]
        AesBackend::AesNi | AesBackend::Vaes256 | AesBackend::Vaes512 => PORTABLE_CHAINS,
    }
}

/// Step 2 for `iters` rounds: `blocks` (exactly [`chains`] of them) become `AES128(key, ·)` applied
/// `iters` times.
///
/// The caller checked that the backend is available.
fn encrypt_chains(backend: AesBackend, key: &[u8; 16], blocks: &mut [[u8; 16]], iters: u64) {
    debug_assert_eq!(blocks.len(), chains(backend));
    match backend {
        AesBackend::Portable => {
            let cipher = Aes128::new(&(*key).into());
            let mut buf: Vec<Block> = blocks.iter().map(|b| Block::from(*b)).collect();
            for _ in 0..iters {
                cipher.encrypt_blocks(&mut buf);
            }
            for (b, e) in blocks.iter_mut().zip(buf) {
                *b = e.into();
            }
        }
        // SAFETY (all three): the caller checked the backend's CPU features.
        #[cfg(target_arch = "x86_64")]
        AesBackend::AesNi => unsafe { x86::aesni(key, blocks, iters) },
        #[cfg(target_arch = "x86_64")]
        AesBackend::Vaes256 => unsafe { x86::vaes256(key, blocks, iters) },
        #[cfg(target_arch = "x86_64")]
        AesBackend::Vaes512 => unsafe { x86::vaes512(key, blocks, iters) },
        #[cfg(not(target_arch = "x86_64"))]
        AesBackend::AesNi | AesBackend::Vaes256 | AesBackend::Vaes512 => {}
    }
}

/// Measures the AES ceiling of `backend` on the current thread for about `duration` (at least one
/// batch of rounds).
///
/// # Errors
/// [`Error::InvalidParam`] when this CPU cannot run `backend`.
pub fn aes_ceiling(backend: AesBackend, duration: Duration) -> Result<AesRate, Error> {
    if !backend.is_available() {
        return Err(Error::InvalidParam {
            name: "AES backend",
            reason: format!("{} is not supported by this CPU", backend.name()),
        });
    }
    let mut blocks: Vec<[u8; 16]> = (0..chains(backend)).map(|i| [i as u8; 16]).collect();
    // A warm-up batch: wide AES units may run slowly until the core has powered them up.
    encrypt_chains(backend, &KEY, &mut blocks, ITERS);
    let begin = Instant::now();
    let mut rounds = 0u64;
    loop {
        encrypt_chains(backend, std::hint::black_box(&KEY), &mut blocks, ITERS);
        rounds += ITERS;
        if begin.elapsed() >= duration {
            break;
        }
    }
    let elapsed = begin.elapsed();
    std::hint::black_box(&blocks);
    Ok(AesRate { backend, blocks: rounds * blocks.len() as u64, elapsed })
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    //! The x86 kernels of step 2, written as the scan kernels write their AES rounds.

    use std::arch::x86_64::{
        __m256i, __m512i, _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_broadcastsi128_si256,
        _mm256_loadu_si256, _mm256_storeu_si256, _mm256_xor_si256, _mm512_aesenc_epi128, _mm512_aesenclast_epi128,
        _mm512_broadcast_i32x4, _mm512_loadu_si512, _mm512_storeu_si512, _mm512_xor_si512, _mm_aesenc_si128,
        _mm_aesenclast_si128, _mm_storeu_si128, _mm_xor_si128,
    };

    use super::super::aesni::{expand, load};

    /// Registers (one block each) in flight for AES-NI.
    pub(super) const AESNI_REGS: usize = 8;
    /// Registers (two blocks each) in flight for VAES-256.
    pub(super) const VAES256_REGS: usize = 8;
    /// Registers (four blocks each) in flight for VAES-512.
    pub(super) const VAES512_REGS: usize = 12;

    #[target_feature(enable = "aes")]
    pub(super) fn aesni(key: &[u8; 16], blocks: &mut [[u8; 16]], iters: u64) {
        let rk = expand(key);
        let mut x: [_; AESNI_REGS] = std::array::from_fn(|i| load(&blocks[i]));
        for _ in 0..iters {
            for v in &mut x {
                *v = _mm_xor_si128(*v, rk[0]);
            }
            for k in &rk[1..10] {
                for v in &mut x {
                    *v = _mm_aesenc_si128(*v, *k);
                }
            }
            for v in &mut x {
                *v = _mm_aesenclast_si128(*v, rk[10]);
            }
        }
        for (b, v) in blocks.iter_mut().zip(x) {
            // SAFETY: 16 writable bytes; `storeu` has no alignment requirement.
            unsafe { _mm_storeu_si128(b.as_mut_ptr().cast(), v) };
        }
    }

    #[target_feature(enable = "avx2,vaes,aes")]
    pub(super) fn vaes256(key: &[u8; 16], blocks: &mut [[u8; 16]], iters: u64) {
        let rk: [__m256i; 11] = expand(key).map(|k| _mm256_broadcastsi128_si256(k));
        let (pairs, _) = blocks.as_chunks_mut::<2>();
        // SAFETY: 32 readable bytes per pair; `loadu` has no alignment requirement.
        let mut x: [__m256i; VAES256_REGS] =
            std::array::from_fn(|i| unsafe { _mm256_loadu_si256(pairs[i].as_ptr().cast()) });
        for _ in 0..iters {
            for v in &mut x {
                *v = _mm256_xor_si256(*v, rk[0]);
            }
            for k in &rk[1..10] {
                for v in &mut x {
                    *v = _mm256_aesenc_epi128(*v, *k);
                }
            }
            for v in &mut x {
                *v = _mm256_aesenclast_epi128(*v, rk[10]);
            }
        }
        for (pair, v) in pairs.iter_mut().zip(x) {
            // SAFETY: 32 writable bytes; `storeu` has no alignment requirement.
            unsafe { _mm256_storeu_si256(pair.as_mut_ptr().cast(), v) };
        }
    }

    #[target_feature(enable = "avx512f,vaes,aes")]
    pub(super) fn vaes512(key: &[u8; 16], blocks: &mut [[u8; 16]], iters: u64) {
        let rk: [__m512i; 11] = expand(key).map(|k| _mm512_broadcast_i32x4(k));
        let (quads, _) = blocks.as_chunks_mut::<4>();
        // SAFETY: 64 readable bytes per quad; `loadu` has no alignment requirement.
        let mut x: [__m512i; VAES512_REGS] =
            std::array::from_fn(|i| unsafe { _mm512_loadu_si512(quads[i].as_ptr().cast()) });
        for _ in 0..iters {
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
        }
        for (quad, v) in quads.iter_mut().zip(x) {
            // SAFETY: 64 writable bytes; `storeu` has no alignment requirement.
            unsafe { _mm512_storeu_si512(quad.as_mut_ptr().cast(), v) };
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every backend's kernel computes AES-128 applied `iters` times to each of its chains, as the `aes`
    /// crate computes it one block at a time.
    #[test]
    fn every_kernel_iterates_aes128() {
        let key = [0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c];
        let cipher = Aes128::new(&key.into());
        for backend in AesBackend::available() {
            let start: Vec<[u8; 16]> = (0..chains(backend)).map(|i| [i as u8 ^ 0x5a; 16]).collect();
            let mut got = start.clone();
            encrypt_chains(backend, &key, &mut got, 3);
            for (i, (s, g)) in start.iter().zip(&got).enumerate() {
                let mut want = Block::from(*s);
                for _ in 0..3 {
                    cipher.encrypt_block(&mut want);
                }
                assert_eq!(*g, <[u8; 16]>::from(want), "{} chain {i}", backend.name());
            }
        }
    }

    #[test]
    fn measures_and_derives() {
        let rate = aes_ceiling(AesBackend::detect(), Duration::from_millis(5)).unwrap();
        assert!(rate.blocks() > 0 && rate.blocks_per_second() > 0.0);
        assert_eq!((scan_blocks_per_label(16), scan_blocks_per_label(64), scan_blocks_per_label(288)), (1, 4, 18));
        assert_eq!(scan_ceiling_bytes_per_second(18e6, 288), 16e6);
    }

    #[test]
    fn unavailable_backend_is_refused() {
        for backend in AesBackend::ALL {
            assert_eq!(aes_ceiling(backend, Duration::ZERO).is_ok(), backend.is_available());
        }
    }
}
