//! The reference labeller: the network's label function written plainly, the specification every
//! faster backend is tested against (spec §2.3, §3).
//!
//! ```text
//! password  = commitment[32] || u64le(index) || 0x00·32          (72 bytes, one Keccak-512 block)
//! label     = scrypt-jane(password, salt = empty, N, r, p, dkLen = 32)
//!             scrypt with PBKDF2 over original Keccak-512 and BlockMix over ChaCha20/8
//! stored    = label[0..16]
//! VRF       = the smallest full label strictly below the threshold; ties go to the lower index
//! ```
//!
//! [`ReferenceLabeller`] splits a range into chunks, one rayon task each, and reuses one
//! [`Scratch`] per chunk; [`label_full`] and [`label16`] compute single labels for verifiers.

use post_core::{Commitment, LabelIndex, ScryptParams};
use rayon::prelude::*;

use crate::scrypt::{scrypt, Scratch};
use crate::{ChaCha8, Error, LabelJob, Labeller, VrfCandidate};

/// Bytes of the full label (the scrypt output).
pub const LABEL_FULL_LEN: usize = 32;
/// Bytes of a stored label (the first bytes of the full label).
pub const LABEL_LEN: usize = 16;

/// scrypt-jane as the network builds it (`SCRYPT_KECCAK512`, `SCRYPT_CHACHA`): PBKDF2 over original
/// Keccak-512 (not SHA3-512) and BlockMix over ChaCha20/8 (not Salsa20/8).
///
/// Allocates the working memory once per call; label ranges go through [`ReferenceLabeller`].
///
/// # Errors
/// [`Error::Unsupported`] when the parameters need more memory than can be allocated or r·p ≥ 2^30;
/// [`Error::OutputTooLong`] when `out` is longer than PBKDF2 allows.
pub fn scrypt_jane(password: &[u8], salt: &[u8], params: ScryptParams, out: &mut [u8]) -> Result<(), Error> {
    scrypt::<sha3::Keccak512, ChaCha8>(password, salt, out, &mut Scratch::new(params)?)
}

/// The 72-byte scrypt password of a label: commitment ‖ u64le(index) ‖ 32 zero bytes.
pub fn label_password(commitment: &Commitment, index: LabelIndex) -> [u8; 72] {
    let mut password = [0u8; 72];
    password[..32].copy_from_slice(commitment.as_bytes());
    password[32..40].copy_from_slice(&index.0.to_le_bytes());
    password
}

/// The full 32-byte label at `index` (the VRF nonce search compares this).
///
/// # Errors
/// [`Error::Unsupported`] when the parameters need more memory than can be allocated or r·p ≥ 2^30.
pub fn label_full(commitment: &Commitment, params: ScryptParams, index: LabelIndex) -> Result<[u8; 32], Error> {
    label_with(commitment, index, &mut Scratch::new(params)?)
}

/// The stored 16-byte label at `index` (what the data files hold and what a verifier recomputes).
///
/// # Errors
/// As [`label_full`].
pub fn label16(commitment: &Commitment, params: ScryptParams, index: LabelIndex) -> Result<[u8; 16], Error> {
    label_full(commitment, params, index).map(|full| stored(&full))
}

/// The full label at `index`, computed in `scratch` (whose parameters are used).
fn label_with(commitment: &Commitment, index: LabelIndex, scratch: &mut Scratch) -> Result<[u8; 32], Error> {
    let mut full = [0u8; LABEL_FULL_LEN];
    scrypt::<sha3::Keccak512, ChaCha8>(&label_password(commitment, index), &[], &mut full, scratch)?;
    Ok(full)
}

/// The stored prefix of a full label.
fn stored(full: &[u8; 32]) -> [u8; 16] {
    let mut label = [0u8; LABEL_LEN];
    label.copy_from_slice(&full[..LABEL_LEN]);
    label
}

/// The portable, single-label-at-a-time labeller: the specification, and the baseline fast backends
/// are measured against.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReferenceLabeller;

/// Labels one rayon task computes at most; smaller ranges are split so that every thread gets work.
const MAX_CHUNK: u64 = 256;

impl Labeller for ReferenceLabeller {
    fn name(&self) -> String {
        "reference".into()
    }

    fn preferred_batch(&self) -> usize {
        rayon::current_num_threads() * 16
    }

    /// Computes a range of labels.
    ///
    /// 1. Check the buffer length and that the range stays below 2^64.
    /// 2. Split the range into chunks (about four per thread, at most [`MAX_CHUNK`] labels), one rayon
    ///    task each, with one [`Scratch`] per chunk.
    /// 3. In each chunk, label by label: compute the full label, store its first 16 bytes, and keep the
    ///    best VRF candidate below the threshold.
    /// 4. Reduce the chunks' candidates with [`VrfCandidate::better`] (smaller label, then lower index).
    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, Error> {
        job.check()?;
        let count = job.count();
        if count == 0 {
            return Ok(None);
        }
        let tasks = rayon::current_num_threads() as u64 * 4;
        let chunk = count.div_ceil(tasks).clamp(1, MAX_CHUNK);
        let LabelJob { commitment, params, start, out, vrf_threshold } = job;
        out.par_chunks_mut(LABEL_LEN * chunk as usize)
            .enumerate()
            .map(|(c, labels)| {
                let mut scratch = Scratch::new(params)?;
                let first = start.0 + c as u64 * chunk;
                let mut best = None;
                // `first + k` stays ≤ start + count − 1, which `check` proved fits in 64 bits.
                for (k, slot) in labels.chunks_exact_mut(LABEL_LEN).enumerate() {
                    let index = LabelIndex(first + k as u64);
                    let full = label_with(commitment, index, &mut scratch)?;
                    slot.copy_from_slice(&full[..LABEL_LEN]);
                    if vrf_threshold.is_some_and(|threshold| full < *threshold) {
                        best = VrfCandidate::better(best, Some(VrfCandidate { index, label: full }));
                    }
                }
                Ok(best)
            })
            .try_reduce(|| None, |a, b| Ok(VrfCandidate::better(a, b)))
    }
}
