//! The prover (spec §5): passes over the data, each with a fresh run of nonces, until one nonce collects
//! k2 good labels.
//!
//! ```text
//! difficulty = floor(2^64 · k1 / num_labels); threshold = pow_difficulty / num_units
//! for pass p = 0, 1, …:
//!   1. nonces [p·nonces, (p+1)·nonces), cut at 4096: a nonce group above 255 cannot be verified
//!   2. k2pow: one proof of work per group of 16 nonces (parallel inside each search)
//!   3. keys: group and lazy AES keys from the challenge and the pows
//!   4. sweep all labels; the sink appends each good index to its nonce's list
//!   5. the first nonce whose list reaches k2 wins: proof = (nonce, its k2 indices packed, its group's pow)
//! ```
//!
//! Determinism: the proof is the same for any number of threads — the smallest pow of each group
//! (`pow.rs`), and the nonce whose k2-th good label has the smallest index (ties: the smaller nonce),
//! with its first k2 good indices (`sweep.rs`). [`crate::ProofJob`] runs the same steps with its state
//! saved on disk.

use std::time::{Duration, Instant};

use post_core::{
    compress_indices, proving_difficulty, required_bits, scale_pow_difficulty, Challenge, LabelThreshold, NodeId,
    Nonce, NonceGroup, Proof,
};

use crate::sweep::{sweep, PassScan};
use crate::{AesBackend, CancelToken, Error, LabelRegion, LabelScanner, NonceKeys, PowJob, PowProver};

/// The first nonce whose group (256) a verifier cannot accept.
pub const NONCE_LIMIT: u32 = 256 * Nonce::GROUP_SIZE;

/// What to prove with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvingParams {
    /// Expected good labels per nonce.
    pub k1: u32,
    /// Good labels a proof needs.
    pub k2: u32,
    /// The k2 proof-of-work difficulty for one unit (scaled by the number of units here).
    pub pow_difficulty: [u8; 32],
    /// Nonces per pass: a positive multiple of 16 (network node: 288).
    pub nonces: u32,
    /// The AES kernel of the scan.
    pub backend: AesBackend,
}

/// The data and identity to prove for.
#[derive(Debug, Clone, Copy)]
pub struct ProvingTarget<'a> {
    /// The challenge.
    pub challenge: &'a Challenge,
    /// The prover's node id (the proof of work binds it).
    pub node_id: &'a NodeId,
    /// Space units of the data (scales the proof-of-work threshold).
    pub num_units: u32,
    /// All the labels, `0..num_labels` exactly once, in any number of regions.
    pub regions: &'a [LabelRegion<'a>],
}

/// The phase a [`Progress`] report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Finding the proofs of work of a pass; `done`/`total` count nonce groups.
    K2Pow,
    /// Scanning the data; `done`/`total` count bytes.
    Scanning,
}

/// A progress report of [`Prover::prove`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// What is being done.
    pub phase: Phase,
    /// The pass, from 0.
    pub pass: u32,
    /// The pass's first nonce.
    pub first_nonce: u32,
    /// The pass's number of nonces.
    pub nonces: u32,
    /// Units done (groups or bytes).
    pub done: u64,
    /// Units in the phase.
    pub total: u64,
}

/// A proof and how it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proved {
    /// The proof as the network expects it.
    pub proof: Proof,
    /// The winning nonce.
    pub nonce: Nonce,
    /// Its k2 good label indices, ascending (unpacked `proof.indices`).
    pub indices: Vec<u64>,
    /// Passes made (1 when the first pass found the proof).
    pub passes: u32,
    /// Time spent on proofs of work.
    pub pow_time: Duration,
    /// Time spent scanning.
    pub scan_time: Duration,
    /// Bytes of labels scanned, over all passes.
    pub bytes_scanned: u64,
}

/// Generates proofs with one parameter set, proof-of-work backend, cancel token and progress sink.
pub struct Prover<'a> {
    params: ProvingParams,
    pow: &'a dyn PowProver,
    cancel: CancelToken,
    progress: Box<dyn Fn(Progress) + Sync + 'a>,
}

impl std::fmt::Debug for Prover<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prover").field("params", &self.params).field("pow", &self.pow.name()).finish_non_exhaustive()
    }
}

impl<'a> Prover<'a> {
    /// A prover with no cancel token set and no progress reports.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `nonces` is not a positive multiple of 16 or `k2` is 0.
    pub fn new(params: ProvingParams, pow: &'a dyn PowProver) -> Result<Self, Error> {
        if params.nonces == 0 || !params.nonces.is_multiple_of(Nonce::GROUP_SIZE) {
            return Err(Error::InvalidParam {
                name: "nonces",
                reason: format!("{} is not a positive multiple of 16", params.nonces),
            });
        }
        if params.k2 == 0 {
            return Err(Error::InvalidParam { name: "k2", reason: "must be at least 1".into() });
        }
        Ok(Self { params, pow, cancel: CancelToken::new(), progress: Box::new(|_| {}) })
    }

    /// Stops proving (with [`Error::Cancelled`]) when `cancel` is set.
    pub fn with_cancel(mut self, cancel: CancelToken) -> Self {
        self.cancel = cancel;
        self
    }

    /// Sends progress reports to `progress` (from any thread of the pool).
    pub fn with_progress(mut self, progress: impl Fn(Progress) + Sync + 'a) -> Self {
        self.progress = Box::new(progress);
        self
    }

    /// Proves (steps 1–5), using the current rayon thread pool.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when the regions do not cover `0..num_labels` exactly once or there are
    /// fewer labels than k2; the difficulty errors of `post-core`; proof-of-work failures;
    /// [`Error::Cancelled`]; [`Error::NoncesExhausted`] when no nonce below 4096 collects k2 labels.
    pub fn prove(&self, target: &ProvingTarget<'_>) -> Result<Proved, Error> {
        let p = &self.params;
        let num_labels = check_regions(target.regions)?;
        if num_labels < u64::from(p.k2) {
            return Err(Error::InvalidParam {
                name: "k2",
                reason: format!("{} labels cannot hold {} distinct good labels", num_labels, p.k2),
            });
        }
        let threshold = LabelThreshold::from_difficulty(proving_difficulty(p.k1, num_labels)?);
        let pow_threshold = scale_pow_difficulty(&p.pow_difficulty, target.num_units)?;
        let total_bytes = num_labels * 16;
        let (mut pow_time, mut scan_time, mut bytes_scanned) = (Duration::ZERO, Duration::ZERO, 0);

        for pass in 0.. {
            // Step 1.
            let start = pass * p.nonces;
            if start >= NONCE_LIMIT {
                return Err(Error::NoncesExhausted { next_nonce: start });
            }
            let end = (start + p.nonces).min(NONCE_LIMIT);
            let report = |phase, done, total| {
                (self.progress)(Progress { phase, pass, first_nonce: start, nonces: end - start, done, total })
            };

            // Step 2.
            let clock = Instant::now();
            let groups = (start / Nonce::GROUP_SIZE)..(end / Nonce::GROUP_SIZE);
            let total_groups = groups.len() as u64;
            report(Phase::K2Pow, 0, total_groups);
            let mut pows = Vec::with_capacity(groups.len());
            for g in groups {
                let group = NonceGroup(g as u8); // g < 256 by step 1
                let job =
                    PowJob { group, challenge: target.challenge, miner: target.node_id, threshold: &pow_threshold };
                pows.push(self.pow.prove(&job, &self.cancel)?);
                report(Phase::K2Pow, pows.len() as u64, total_groups);
            }
            pow_time += clock.elapsed();

            // Steps 3 and 4.
            let clock = Instant::now();
            let keys = NonceKeys::new(target.challenge, NonceGroup((start / Nonce::GROUP_SIZE) as u8), &pows);
            let scanner = LabelScanner::new(p.backend, &keys, threshold)?;
            let mut scan = PassScan::new(start, end - start, p.k2);
            report(Phase::Scanning, 0, total_bytes);
            let winner = sweep(target.regions, &scanner, &self.cancel, &mut scan, &mut |scan, bytes| {
                report(Phase::Scanning, scan.position() * 16, total_bytes);
                bytes_scanned += bytes;
                Ok(())
            })?;
            scan_time += clock.elapsed();

            // Step 5.
            if let Some((nonce, indices)) = winner {
                let pow = keys.pow_of(nonce).ok_or_else(|| Error::InvalidParam {
                    name: "nonce",
                    reason: format!("winning nonce {} is outside the pass", nonce.0),
                })?;
                let proof =
                    Proof { nonce: nonce.0, indices: compress_indices(&indices, required_bits(num_labels)), pow };
                return Ok(Proved { proof, nonce, indices, passes: pass + 1, pow_time, scan_time, bytes_scanned });
            }
        }
        Err(Error::NoncesExhausted { next_nonce: NONCE_LIMIT })
    }
}

/// Checks that the regions cover `0..n` exactly once and returns `n`.
pub(crate) fn check_regions(regions: &[LabelRegion<'_>]) -> Result<u64, Error> {
    let mut spans: Vec<(u64, u64)> = regions.iter().map(|r| (r.first.0, r.labels.len() as u64)).collect();
    spans.sort_unstable();
    let mut next = 0u64;
    for (first, len) in spans {
        if first != next {
            return Err(Error::InvalidParam {
                name: "label data",
                reason: format!("labels from {next} on are missing or given twice (a region starts at {first})"),
            });
        }
        next = first.checked_add(len).ok_or_else(|| Error::InvalidParam {
            name: "label data",
            reason: "label indices overflow 64 bits".into(),
        })?;
    }
    Ok(next)
}
