//! The k2 proof of work (spec §6): before scanning with a group of 16 nonces, the prover must find a
//! `pow` nonce whose hash is below a threshold; the group's AES keys are derived from it.
//!
//! ```text
//! 1. threshold = pow_difficulty / num_units               (256-bit big-endian, post_core::scale_pow_difficulty)
//! 2. input     = u64le(pow)[0..7] || group (1 byte) || challenge[0..8] || miner (node id, 32 bytes)
//! 3. valid iff hash(input) < threshold                    (32 bytes compared as big-endian numbers)
//! ```
//!
//! The traits [`PowProver`] and [`PowVerifier`] live here so that tests can swap RandomX
//! ([`RandomXPow`](crate::RandomXPow)) for something cheap ([`Blake3Pow`](crate::Blake3Pow)). The search
//! shared by both implementations returns the **smallest** valid `pow` whatever the number of threads
//! (what the shared vectors record), so that a proof is the same on any machine and after any resume:
//!
//! ```text
//! for each block [s, s + 256 · threads) of 0..2^56, in order:
//!   hash the block on the current rayon pool; rayon's find_first drops every candidate to the right
//!   of a hit and keeps those to its left, so the first hit of the block is the smallest
//! ```
//! The work past the smallest hit is at most one block's tail, a few hashes per thread.

mod blake3_pow;
mod randomx;

pub use blake3_pow::Blake3Pow;
pub use randomx::{RandomXMode, RandomXPow, RANDOMX_KEY};

use post_core::{Challenge, NodeId, NonceGroup};
use rayon::prelude::*;

use crate::{CancelToken, Error};

/// Pow nonces are hashed as 7 little-endian bytes, so they stay below 2^56.
pub const POW_NONCE_LIMIT: u64 = 1 << 56;

/// One proof-of-work task: the group it unlocks, the identity and challenge it binds, and the threshold
/// already scaled by the number of units.
#[derive(Debug, Clone, Copy)]
pub struct PowJob<'a> {
    /// The nonce group the pow is for.
    pub group: NonceGroup,
    /// The proving challenge; its first 8 bytes are hashed.
    pub challenge: &'a Challenge,
    /// The prover's node id.
    pub miner: &'a NodeId,
    /// `pow_difficulty / num_units`, big-endian.
    pub threshold: &'a [u8; 32],
}

impl PowJob<'_> {
    /// The 48 bytes hashed for `pow` (step 2 above). Only the low 56 bits of `pow` are hashed.
    pub fn input(&self, pow: u64) -> [u8; 48] {
        let mut input = [0u8; 48];
        input[..7].copy_from_slice(&pow.to_le_bytes()[..7]);
        input[7] = self.group.0;
        input[8..16].copy_from_slice(&self.challenge.as_bytes()[..8]);
        input[16..].copy_from_slice(self.miner.as_bytes());
        input
    }

    /// Whether a hash is below the threshold (step 3).
    pub fn accepts(&self, hash: &[u8; 32]) -> bool {
        hash < self.threshold
    }

    /// Checks `pow` with the given hash function: in range and hash below the threshold.
    ///
    /// # Errors
    /// [`Error::PowOutOfRange`], [`Error::InvalidPow`], or the hash function's error.
    pub(crate) fn check(&self, pow: u64, hash: impl FnOnce(&[u8; 48]) -> Result<[u8; 32], Error>) -> Result<(), Error> {
        // The reference hashes only 7 bytes, so it accepts 256 values of `pow` per solution, each giving
        // the group different AES keys. An honest prover never leaves 0..2^56; we refuse the rest.
        if pow >= POW_NONCE_LIMIT {
            return Err(Error::PowOutOfRange { group: self.group.0, pow });
        }
        if self.accepts(&hash(&self.input(pow))?) {
            Ok(())
        } else {
            Err(Error::InvalidPow { group: self.group.0, pow })
        }
    }
}

/// Finds proofs of work.
pub trait PowProver: Send + Sync {
    /// A short name for logs (`randomx-fast`, `blake3`).
    fn name(&self) -> String;

    /// Finds a `pow` in `0..2^56` that satisfies `job`, using the current rayon thread pool.
    ///
    /// # Errors
    /// [`Error::Cancelled`] when `cancel` is set, [`Error::PowExhausted`] when no nonce below 2^56
    /// qualifies, or a backend failure.
    fn prove(&self, job: &PowJob<'_>, cancel: &CancelToken) -> Result<u64, Error>;

    /// How many nonce groups a caller may hand to [`PowProver::prove`] at the same time, from several
    /// threads. A local search already uses the whole thread pool for one group: 1. A remote k2pow client
    /// answers with its number of outstanding requests.
    fn parallel_groups(&self) -> usize {
        1
    }
}

/// Checks proofs of work.
pub trait PowVerifier: Send + Sync {
    /// Checks that `pow` satisfies `job`.
    ///
    /// # Errors
    /// [`Error::InvalidPow`] or [`Error::PowOutOfRange`] for a bad `pow`, or a backend failure.
    fn verify(&self, pow: u64, job: &PowJob<'_>) -> Result<(), Error>;
}

impl<T: PowVerifier + ?Sized> PowVerifier for &T {
    fn verify(&self, pow: u64, job: &PowJob<'_>) -> Result<(), Error> {
        (**self).verify(pow, job)
    }
}

/// The parallel search of both implementations: `init` makes one hashing state per rayon job (a RandomX
/// VM from a pool), `hash` hashes one input with it.
pub(crate) fn search<W, I, H>(job: &PowJob<'_>, cancel: &CancelToken, init: I, hash: H) -> Result<u64, Error>
where
    I: Fn() -> Result<W, Error> + Sync + Send,
    H: Fn(&mut W, &[u8; 48]) -> Result<[u8; 32], Error> + Sync + Send,
{
    let block = SEARCH_BLOCK_PER_THREAD * rayon::current_num_threads() as u64;
    let mut start = 0;
    while start < POW_NONCE_LIMIT {
        let end = start.saturating_add(block).min(POW_NONCE_LIMIT);
        let found = (start..end)
            .into_par_iter()
            .map_init(&init, |state, pow| {
                if cancel.is_cancelled() {
                    return Some(Err(Error::Cancelled));
                }
                let state = match state {
                    Ok(state) => state,
                    Err(e) => return Some(Err(Error::PowBackend { message: e.to_string() })),
                };
                match hash(state, &job.input(pow)) {
                    Ok(h) if job.accepts(&h) => Some(Ok(pow)),
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                }
            })
            .find_map_first(|r| r);
        if let Some(result) = found {
            return result;
        }
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        start = end;
    }
    Err(Error::PowExhausted { group: job.group.0 })
}

/// Hashes per thread in one block of the search: large enough that the pool stays busy between blocks,
/// small enough that a hit early in a block wastes little.
const SEARCH_BLOCK_PER_THREAD: u64 = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_layout() {
        let challenge = Challenge(std::array::from_fn(|i| i as u8 + 100));
        let miner = NodeId([0xab; 32]);
        let job = PowJob { group: NonceGroup(7), challenge: &challenge, miner: &miner, threshold: &[0xff; 32] };
        let input = job.input(0xEEDD_CCBB_AA99_8877);
        assert_eq!(input[..7], [0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(input[7], 7);
        assert_eq!(input[8..16], challenge.0[..8]);
        assert_eq!(input[16..], [0xab; 32]);
    }

    #[test]
    fn check_rejects_wide_pow_and_high_hashes() {
        let (challenge, miner) = (Challenge([1; 32]), NodeId([2; 32]));
        let mut threshold = [0u8; 32];
        threshold[0] = 0x10;
        let job = PowJob { group: NonceGroup(1), challenge: &challenge, miner: &miner, threshold: &threshold };
        let low = |_: &[u8; 48]| Ok([0x0f; 32]);
        let at = |_: &[u8; 48]| Ok(threshold);
        assert!(job.check(5, low).is_ok());
        assert!(matches!(job.check(5, at), Err(Error::InvalidPow { group: 1, pow: 5 })));
        assert!(matches!(job.check(POW_NONCE_LIMIT, low), Err(Error::PowOutOfRange { .. })));
    }
}
