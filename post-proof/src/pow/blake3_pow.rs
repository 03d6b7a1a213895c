//! A cheap stand-in for RandomX: the same 48-byte input, threshold and search, but hashed with BLAKE3.
//!
//! It exists so that tests of the prover and verifier run in microseconds instead of waiting for
//! RandomX's 256 MiB cache. Proofs made with it are not valid on the network.

use super::{search, PowJob, PowProver, PowVerifier};
use crate::{CancelToken, Error};

/// Proof of work with BLAKE3 instead of RandomX (tests and benchmarks only).
#[derive(Debug, Clone, Copy, Default)]
pub struct Blake3Pow;

impl Blake3Pow {
    /// BLAKE3-256 of the 48-byte input.
    pub fn hash(input: &[u8; 48]) -> [u8; 32] {
        *blake3::hash(input).as_bytes()
    }
}

impl PowProver for Blake3Pow {
    fn name(&self) -> String {
        "blake3 (stand-in)".into()
    }

    fn prove(&self, job: &PowJob<'_>, cancel: &CancelToken) -> Result<u64, Error> {
        search(job, cancel, || Ok(()), |(), input| Ok(Self::hash(input)))
    }
}

impl PowVerifier for Blake3Pow {
    fn verify(&self, pow: u64, job: &PowJob<'_>) -> Result<(), Error> {
        job.check(pow, |input| Ok(Self::hash(input)))
    }
}

#[cfg(test)]
mod tests {
    use post_core::{Challenge, NodeId, NonceGroup};

    use super::*;

    #[test]
    fn single_thread_search_finds_the_smallest_nonce() -> Result<(), Error> {
        let (challenge, miner) = (Challenge([3; 32]), NodeId([4; 32]));
        let mut threshold = [0xff; 32];
        threshold[0] = 0x03; // about one hash in 64 qualifies
        let job = PowJob { group: NonceGroup(9), challenge: &challenge, miner: &miner, threshold: &threshold };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .map_err(|e| Error::PowBackend { message: e.to_string() })?;
        let pow = pool.install(|| Blake3Pow.prove(&job, &CancelToken::new()))?;
        let smallest = (0..).find(|&n| job.accepts(&Blake3Pow::hash(&job.input(n))));
        assert_eq!(Some(pow), smallest);
        Blake3Pow.verify(pow, &job)?;
        if pow > 0 {
            assert!(Blake3Pow.verify(pow - 1, &job).is_err());
        }
        // Any thread count finds a valid nonce.
        let any = Blake3Pow.prove(&job, &CancelToken::new())?;
        Blake3Pow.verify(any, &job)
    }

    #[test]
    fn cancelled_search_stops() {
        let (challenge, miner) = (Challenge([3; 32]), NodeId([4; 32]));
        let job = PowJob { group: NonceGroup(0), challenge: &challenge, miner: &miner, threshold: &[0; 32] };
        let cancel = CancelToken::new();
        cancel.cancel();
        assert!(matches!(Blake3Pow.prove(&job, &cancel), Err(Error::Cancelled)));
    }
}
