//! Proving and verification of Spacemesh PoST: the k2 proof of work, the proving scan, and a strict
//! verifier.
//!
//! * [`PowProver`] / [`PowVerifier`]: the proof of work each group of 16 nonces needs (spec §6), with
//!   RandomX ([`RandomXPow`]) and a cheap stand-in for tests ([`Blake3Pow`]).
//! * [`LabelScanner`]: the AES kernels that test every label against every nonce of a pass (spec §5.4)
//!   on the widest AES instructions the CPU has ([`AesBackend`]); [`sweep`] runs one over all the data;
//!   [`aes_ceiling`] measures the AES throughput that bounds it.
//! * [`Prover`]: passes over the data until a nonce collects k2 good labels (spec §5.5).
//! * [`Verifier`]: checks a proof (spec §7), stricter than the network's reference.
//! * [`ProofJob`]: one challenge's proving from start to a verified proof, saved on disk as it goes, so
//!   that it resumes after any interruption.

mod aes_backend;
mod cipher;
mod data;
mod error;
mod job;
mod pow;
mod prove;
mod random_values;
mod scan;
mod sweep;
mod verify;

pub use aes_backend::AesBackend;
pub use cipher::{group_key, lazy_key, LabelTest, NonceCipher, NonceKeys};
pub use data::{LabelRegion, MappedData};
pub use error::{BadLabel, Error};
pub use job::{
    remove_jobs_except, JobParams, JobPhase, JobProgress, JobStart, JobSummary, ProofJob, SetAside, CHECKPOINT_EVERY,
    JOB_DIR,
};
pub use post_core::CancelToken;
pub use pow::{Blake3Pow, PowJob, PowProver, PowVerifier, RandomXMode, RandomXPow, POW_NONCE_LIMIT, RANDOMX_KEY};
pub use prove::{Phase, Progress, Proved, Prover, ProvingParams, ProvingTarget, NONCE_LIMIT};
pub use random_values::RandomValues;
pub use scan::{aes_ceiling, scan_blocks_per_label, scan_ceiling_bytes_per_second, AesRate, LabelScanner};
pub use sweep::{measure_scan, sweep, PassScan, CHUNK_LABELS};
pub use verify::{Mode, Verifier};
