//! The ChaCha20/8 ceiling: how many ChaCha20/8 cores per second one thread of this CPU can compute on
//! a backend's vectors with no memory traffic, and so the fastest the fast labeller's arithmetic could
//! ever go.
//!
//! ```text
//! 1. fill STATES independent vertical blocks (each LANES lanes wide) and an input block
//! 2. repeat until the time is up: run ITERS rounds of  x = ChaCha8Core(x ^ input)  on every state
//!    (`xor_chacha8` from `chacha.rs`, the very step BlockMix repeats, so the instruction mix is the
//!    labeller's; everything stays in registers)
//! 3. cores per second = STATES · LANES · rounds run / elapsed       (one core = one lane's 64-byte block)
//! ```
//!
//! Two states, as the labeller's ROMix walks two lane groups: a core has four independent quarter
//! rounds at a time, and the second state lets the out-of-order core overlap one state's feed-forward
//! with the other's first rounds.
//!
//! What a label costs ([`chacha_cores_per_label`]): ROMix runs BlockMix 2·N times (N to fill the table,
//! N to read it back), and each BlockMix runs 2·r cores, for each of the p chunks: 4·N·r·p cores, 32,768
//! at the network's N = 8192, r = p = 1. The two PBKDF2 steps (nine Keccak-f permutations per label) and
//! the table traffic are not counted; they are what the labeller's share of the ceiling loses.

use std::time::{Duration, Instant};

use post_core::ScryptParams;

use super::chacha::{xor_chacha8, Block};
use super::lanes::{Lanes, BLOCK_WORDS};
use super::portable::Portable;
use super::Backend;
use crate::Error;

/// Independent states per vector width.
const STATES: usize = 2;

/// Rounds of every state between two looks at the clock.
const ITERS: u64 = 256;

/// ChaCha20/8 cores counted over a measured time on one thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChaChaRate {
    backend: Backend,
    cores: u64,
    elapsed: Duration,
}

impl ChaChaRate {
    /// The backend measured.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Cores computed (one lane's 64-byte block each).
    pub fn cores(&self) -> u64 {
        self.cores
    }

    /// The time they took.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// ChaCha20/8 cores per second.
    pub fn cores_per_second(&self) -> f64 {
        self.cores as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }
}

/// ChaCha20/8 cores of one label: 4·N·r·p (see the module doc).
pub fn chacha_cores_per_label(params: ScryptParams) -> u64 {
    4 * u64::from(params.n()) * u64::from(params.r()) * u64::from(params.p())
}

/// The labeller's arithmetic ceiling in labels per second, from a rate of ChaCha20/8 cores per second.
pub fn label_ceiling_per_second(chacha_cores_per_second: f64, params: ScryptParams) -> f64 {
    chacha_cores_per_second / chacha_cores_per_label(params) as f64
}

/// Lanes of one vector of the backend.
fn vector_lanes(backend: Backend) -> usize {
    match backend {
        Backend::Portable => <Portable as Lanes>::LANES,
        #[cfg(target_arch = "x86_64")]
        Backend::Sse2 => <super::sse2::Sse2 as Lanes>::LANES,
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 => <super::avx2::Avx2 as Lanes>::LANES,
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => <super::avx512::Avx512 as Lanes>::LANES,
        #[cfg(not(target_arch = "x86_64"))]
        Backend::Sse2 | Backend::Avx2 | Backend::Avx512 => <Portable as Lanes>::LANES,
    }
}

/// Step 2 for `iters` rounds on the vectors `V`: `words` holds the states vertically
/// (`words[(s·16 + k)·LANES + lane]`, `STATES · 16 · LANES` words) and `input` is the same for every lane.
///
/// # Safety
/// The backend's instructions must be available.
#[inline(always)]
unsafe fn rounds<V: Lanes>(words: &mut [u32], input: &[u32; BLOCK_WORDS], iters: u64) {
    let lanes = V::LANES;
    assert!(lanes <= 16 && words.len() == STATES * BLOCK_WORDS * lanes, "ceiling: wrong state size");
    // SAFETY: the caller guarantees the instructions; every load and store stays inside `words` (checked
    // above) or reads 16-word arrays.
    unsafe {
        let input: Block<V> = std::array::from_fn(|k| V::load([input[k]; 16].as_ptr()));
        let mut x: [Block<V>; STATES] =
            std::array::from_fn(|s| std::array::from_fn(|k| V::load(words[(s * BLOCK_WORDS + k) * lanes..].as_ptr())));
        for _ in 0..iters {
            for state in &mut x {
                xor_chacha8(state, &input);
            }
        }
        for (s, state) in x.iter().enumerate() {
            for (k, v) in state.iter().enumerate() {
                v.store(words[(s * BLOCK_WORDS + k) * lanes..].as_mut_ptr());
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn rounds_sse2(words: &mut [u32], input: &[u32; BLOCK_WORDS], iters: u64) {
    // SAFETY: this function runs only where SSE2 is (its target feature).
    unsafe { rounds::<super::sse2::Sse2>(words, input, iters) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn rounds_avx2(words: &mut [u32], input: &[u32; BLOCK_WORDS], iters: u64) {
    // SAFETY: this function runs only where AVX2 is (its target feature).
    unsafe { rounds::<super::avx2::Avx2>(words, input, iters) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn rounds_avx512(words: &mut [u32], input: &[u32; BLOCK_WORDS], iters: u64) {
    // SAFETY: this function runs only where AVX-512F is (its target feature).
    unsafe { rounds::<super::avx512::Avx512>(words, input, iters) }
}

/// Step 2 on `backend`, which the caller checked is available.
fn run(backend: Backend, words: &mut [u32], input: &[u32; BLOCK_WORDS], iters: u64) {
    match backend {
        // SAFETY: the portable lanes need no special instructions.
        Backend::Portable => unsafe { rounds::<Portable>(words, input, iters) },
        // SAFETY (all three): the caller checked the backend's instructions.
        #[cfg(target_arch = "x86_64")]
        Backend::Sse2 => unsafe { rounds_sse2(words, input, iters) },
        #[cfg(target_arch = "x86_64")]
        Backend::Avx2 => unsafe { rounds_avx2(words, input, iters) },
        #[cfg(target_arch = "x86_64")]
        Backend::Avx512 => unsafe { rounds_avx512(words, input, iters) },
        #[cfg(not(target_arch = "x86_64"))]
        Backend::Sse2 | Backend::Avx2 | Backend::Avx512 => {}
    }
}

/// Measures the ChaCha20/8 ceiling of `backend` on the current thread for about `duration` (at least one
/// batch of rounds).
///
/// # Errors
/// [`Error::BackendUnavailable`] when this CPU lacks the backend's instructions.
pub fn chacha_ceiling(backend: Backend, duration: Duration) -> Result<ChaChaRate, Error> {
    if !backend.is_available() {
        return Err(Error::BackendUnavailable { backend: backend.name().to_string() });
    }
    let lanes = vector_lanes(backend);
    let mut words: Vec<u32> = (0..STATES * BLOCK_WORDS * lanes).map(|i| (i as u32).wrapping_mul(0x9E37_79B9)).collect();
    let input: [u32; BLOCK_WORDS] = std::array::from_fn(|k| 0x6170_7865 ^ k as u32);
    run(backend, &mut words, &input, ITERS);
    let begin = Instant::now();
    let mut iters = 0u64;
    loop {
        run(backend, &mut words, std::hint::black_box(&input), ITERS);
        iters += ITERS;
        if begin.elapsed() >= duration {
            break;
        }
    }
    let elapsed = begin.elapsed();
    std::hint::black_box(&words);
    Ok(ChaChaRate { backend, cores: iters * (STATES * lanes) as u64, elapsed })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{ChaCha8, MixCore};

    /// Every backend's kernel computes, in every lane of every state, the reference ChaCha20/8 core
    /// applied `iters` times to the lane's block xored with the input.
    #[test]
    fn every_kernel_iterates_the_reference_core() {
        let input: [u32; BLOCK_WORDS] = std::array::from_fn(|k| 0x0102_0304u32.wrapping_mul(k as u32 + 7));
        for backend in Backend::available() {
            let lanes = vector_lanes(backend);
            let start: Vec<u32> = (0..STATES * BLOCK_WORDS * lanes).map(|i| (i as u32) ^ 0xdead_beef).collect();
            let mut got = start.clone();
            run(backend, &mut got, &input, 3);
            for s in 0..STATES {
                for lane in 0..lanes {
                    let word = |words: &[u32], k: usize| words[(s * BLOCK_WORDS + k) * lanes + lane];
                    let mut want: [u32; BLOCK_WORDS] = std::array::from_fn(|k| word(&start, k));
                    for _ in 0..3 {
                        for (w, i) in want.iter_mut().zip(input) {
                            *w ^= i;
                        }
                        ChaCha8::core(&mut want);
                    }
                    let got: [u32; BLOCK_WORDS] = std::array::from_fn(|k| word(&got, k));
                    assert_eq!(got, want, "{backend} state {s} lane {lane}");
                }
            }
        }
    }

    #[test]
    fn measures_and_derives() {
        let rate = chacha_ceiling(Backend::detect(), Duration::from_millis(5)).unwrap();
        assert!(rate.cores() > 0 && rate.cores_per_second() > 0.0);
        let mainnet = ScryptParams::with_n(8192).unwrap();
        assert_eq!(chacha_cores_per_label(mainnet), 32_768);
        assert_eq!(label_ceiling_per_second(32_768e3, mainnet), 1e3);
    }

    #[test]
    fn unavailable_backend_is_refused() {
        for backend in Backend::ALL {
            assert_eq!(chacha_ceiling(backend, Duration::ZERO).is_ok(), backend.is_available());
        }
    }
}
