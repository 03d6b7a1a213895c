//! The fast CPU labeller: many labels per core at once ("vertical" SIMD: word `k` of `LANES`
//! different labels in one vector register), rayon across cores.
//!
//! ```text
//! label(job):
//!   1. check the job; pick the backend's engine once for the whole batch
//!   2. split the output into lane groups of LANES labels (the last one may be short: its missing
//!      lanes repeat its last label and are not written), spread the groups over the rayon pool
//!   3. per group, on a scratch borrowed from the pool:
//!      a. per lane: password → HMAC key states → B = PBKDF2(password, "", 128·r·p)
//!      b. for each of the p chunks: transpose the lanes' chunks into the vertical state, ROMix all
//!         lanes together (the backend's engine), transpose back
//!      c. per lane: label = PBKDF2(password, B, 32); store its first 16 bytes; keep the VRF candidate
//!   4. reduce the groups' VRF candidates: the smallest label, ties to the lower index
//! ```
//!
//! A lane group is `Backend::lanes()` labels: two interleaved groups of one vector's width (32 for
//! AVX-512), see `romix.rs`. Memory per worker thread: one ROMix table of `lanes · 128 · r · N` bytes
//! (32 MiB for AVX-512 at N = 8192) on transparent huge pages where the kernel offers them, kept in a
//! pool for the labeller's lifetime so that batches do not page-fault.
//!
//! Speed (N = 8192, one thread, AVX-512 on a 2-core Xeon VM): about 5,500 labels/s, about 70% of
//! the arithmetic ceiling measured in the same run (about 7,900 labels/s: `ceiling.rs` measures the
//! ChaCha20/8 cores alone on any backend). A step (one BlockMix of 16 lanes) takes about 175 ns on
//! average, of which about 124 ns are the two ChaCha20/8 cores themselves. The transposes in and out
//! of the table and the xor with `V[j]` add about 16% to the cores' vector instructions, on the same
//! two ports: a step of ROMix's first loop (which stores) takes about 165 ns, one of the second
//! (which reads) about 185 ns. With the reads kept in cache the second loop is only a few percent
//! faster on a quiet machine, so the prefetches (`romix.rs`) hide the random reads, though not all
//! of them while the other core is busy with memory. The PBKDF2 steps (nine Keccak-f
//! permutations per label with the `sha3` crate, one label at a time) are under 2% of the time, so
//! they are not vectorised.

mod avx2;
mod avx512;
mod backend;
mod ceiling;
mod chacha;
mod kdf;
mod lanes;
mod portable;
mod romix;
mod scratch;
mod sse2;

use rayon::prelude::*;

use post_core::{Commitment, LabelIndex, ScryptParams};

pub use backend::Backend;
use backend::Engine;
pub use ceiling::{chacha_ceiling, chacha_cores_per_label, label_ceiling_per_second, ChaChaRate};
use kdf::{password, KeyedHmac};
use scratch::{Scratch, ScratchPool, ScratchSize};

use crate::{Error, LabelJob, Labeller, VrfCandidate};

/// Bytes of one stored label.
const STORED_LABEL: usize = 16;

/// Bytes of one full label.
const FULL_LABEL: usize = 32;

/// The multi-lane SIMD labeller. Bit-identical to the reference labeller on every backend.
#[derive(Debug)]
pub struct FastLabeller {
    backend: Backend,
    scratch: ScratchPool,
}

impl Default for FastLabeller {
    fn default() -> Self {
        Self::new()
    }
}

impl FastLabeller {
    /// A labeller on the fastest backend this CPU supports.
    pub fn new() -> Self {
        Self { backend: Backend::detect(), scratch: ScratchPool::default() }
    }

    /// A labeller forced onto one backend (for tests and benchmarks).
    ///
    /// # Errors
    /// [`Error::BackendUnavailable`] when this CPU lacks the backend's instructions.
    pub fn with_backend(backend: Backend) -> Result<Self, Error> {
        if !backend.is_available() {
            return Err(Error::BackendUnavailable { backend: backend.name().to_string() });
        }
        Ok(Self { backend, scratch: ScratchPool::default() })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Computes full 32-byte labels from `start` into `out`: what [`Labeller::label`] computes before
    /// it keeps the first 16 bytes (`post label` prints these; the VRF compares them).
    ///
    /// # Errors
    /// [`Error::RangeOverflow`] when the range runs past 2^64 − 1, or [`Error::Unsupported`] when the
    /// scratch table cannot be allocated.
    pub fn label_full(
        &self,
        commitment: &Commitment,
        params: ScryptParams,
        start: LabelIndex,
        out: &mut [[u8; FULL_LABEL]],
    ) -> Result<(), Error> {
        let count = out.len() as u64;
        if count > 0 && start.0.checked_add(count - 1).is_none() {
            return Err(Error::RangeOverflow { start: start.0, count });
        }
        let group = Group { commitment, params, threshold: None, width: FULL_LABEL };
        self.dispatch(group, start.0, out.as_flattened_mut()).map(|_| ())
    }

    /// Step 1 of the module doc: one `match` on the backend per batch.
    fn dispatch(&self, group: Group<'_>, start: u64, out: &mut [u8]) -> Result<Option<VrfCandidate>, Error> {
        match self.backend {
            Backend::Portable => self.label_with::<portable::Portable>(group, start, out),
            #[cfg(target_arch = "x86_64")]
            Backend::Sse2 => self.label_with::<sse2::Sse2>(group, start, out),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => self.label_with::<avx2::Avx2>(group, start, out),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => self.label_with::<avx512::Avx512>(group, start, out),
            #[cfg(not(target_arch = "x86_64"))]
            Backend::Sse2 | Backend::Avx2 | Backend::Avx512 => {
                Err(Error::BackendUnavailable { backend: self.backend.name().to_string() })
            }
        }
    }

    /// Step 2 and 4 of the module doc with the engine `E`, `group.width` bytes per label in `out`.
    ///
    /// `E` must be the engine of `self.backend`, which `new`/`with_backend` checked is available,
    /// and the caller checked that the range's indices fit in u64.
    fn label_with<E: Engine>(
        &self,
        group: Group<'_>,
        start: u64,
        out: &mut [u8],
    ) -> Result<Option<VrfCandidate>, Error> {
        let params = group.params;
        let unsupported = |reason: String| Error::Unsupported {
            labeller: self.name(),
            n: params.n(),
            r: params.r(),
            p: params.p(),
            reason,
        };
        let (n, r, p) = (params.n() as usize, params.r() as usize, params.p() as usize);
        let too_large = || unsupported(format!("{} lanes of scratch do not fit in memory", E::LANES));
        let size = ScratchSize {
            table_words: n.checked_mul(r).and_then(|nr| nr.checked_mul(32 * E::LANES)).ok_or_else(too_large)?,
            mixed_bytes: r.checked_mul(p).and_then(|rp| rp.checked_mul(128 * E::LANES)).ok_or_else(too_large)?,
            state_words: r.checked_mul(32 * E::LANES).ok_or_else(too_large)?,
        };
        out.par_chunks_mut(group.width * E::LANES)
            .enumerate()
            .map_init(
                || self.scratch.take(size),
                |scratch, (g, out)| {
                    let scratch = scratch.as_mut().map_err(|reason| unsupported(reason.clone()))?;
                    let first = start + (g * E::LANES) as u64;
                    // SAFETY: `E` is the engine of an available backend (this function's contract).
                    Ok(unsafe { group.label::<E>(scratch.get(), first, out) })
                },
            )
            .try_reduce(|| None, |a, b| Ok(VrfCandidate::better(a, b)))
    }
}

impl Labeller for FastLabeller {
    fn name(&self) -> String {
        format!("cpu-{}", self.backend)
    }

    fn preferred_batch(&self) -> usize {
        // A few lane groups per thread, so that rayon can balance threads that run at different speeds.
        4 * self.backend.lanes() * rayon::current_num_threads()
    }

    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, Error> {
        job.check()?;
        let group =
            Group { commitment: job.commitment, params: job.params, threshold: job.vrf_threshold, width: STORED_LABEL };
        self.dispatch(group, job.start.0, job.out)
    }
}

/// What every lane group of one job shares.
#[derive(Debug, Clone, Copy)]
struct Group<'a> {
    commitment: &'a Commitment,
    params: ScryptParams,
    threshold: Option<&'a [u8; 32]>,
    /// Bytes of each label written: 16 (stored) or 32 (full).
    width: usize,
}

impl Group<'_> {
    /// Step 3 of the module doc: labels `out.len() / width` (1 ..= LANES) labels from index `first`.
    ///
    /// # Safety
    /// The CPU must have the instructions of `E`'s backend.
    unsafe fn label<E: Engine>(&self, scratch: &mut Scratch, first: u64, out: &mut [u8]) -> Option<VrfCandidate> {
        let lanes = E::LANES;
        let count = out.len() / self.width;
        let (n, r, p) = (self.params.n() as usize, self.params.r() as usize, self.params.p() as usize);
        let chunk_bytes = 128 * r;
        let lane_bytes = chunk_bytes * p;
        let parts = scratch.parts();

        // Step 3a. Padding lanes repeat the group's last label, so every index stays in range.
        let keys: Vec<KeyedHmac> = (0..lanes)
            .map(|lane| KeyedHmac::new(&password(&self.commitment.0, first + lane.min(count - 1) as u64)))
            .collect();
        for (key, mixed) in keys.iter().zip(parts.mixed.chunks_exact_mut(lane_bytes)) {
            key.pbkdf2(&[], mixed);
        }

        // Step 3b.
        let words = chunk_bytes / 4;
        for chunk in 0..p {
            for (lane, mixed) in parts.mixed.chunks_exact(lane_bytes).enumerate() {
                let bytes = &mixed[chunk * chunk_bytes..][..chunk_bytes];
                for (k, word) in bytes.chunks_exact(4).enumerate() {
                    parts.state[k * lanes + lane] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
                }
            }
            // SAFETY: the caller guarantees the backend's instructions; the scratch was sized for E.
            unsafe { E::romix(parts.state, parts.table, n) };
            for (lane, mixed) in parts.mixed.chunks_exact_mut(lane_bytes).enumerate() {
                let bytes = &mut mixed[chunk * chunk_bytes..][..chunk_bytes];
                for k in 0..words {
                    bytes[4 * k..4 * k + 4].copy_from_slice(&parts.state[k * lanes + lane].to_le_bytes());
                }
            }
        }

        // Step 3c.
        let mut best = None;
        for (lane, (key, stored)) in keys.iter().zip(out.chunks_exact_mut(self.width)).enumerate() {
            let mut label = [0u8; FULL_LABEL];
            key.pbkdf2(&parts.mixed[lane * lane_bytes..][..lane_bytes], &mut label);
            stored.copy_from_slice(&label[..self.width]);
            if self.threshold.is_some_and(|t| label < *t) {
                let found = VrfCandidate { index: LabelIndex(first + lane as u64), label };
                best = VrfCandidate::better(best, Some(found));
            }
        }
        best
    }
}
