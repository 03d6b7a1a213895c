//! Proving and verification of Spacemesh PoST: the k2 proof of work, the proving scan, and a strict
//! verifier.
//!
//! * [`pow`](PowProver): the RandomX proof of work each group of 16 nonces needs (spec §6), behind
//!   traits so that tests can use a cheap stand-in.
//! * [`LabelScanner`]: the AES kernels that test every label against every nonce of a pass (spec §5.4),
//!   on the widest AES instructions the CPU has ([`AesBackend`]).
//! * [`prove`]: passes over the data until a nonce collects k2 good labels (spec §5.5).
//! * [`Verifier`]: checks a proof (spec §7), stricter than the network's reference.

mod aes_backend;
mod cancel;
mod cipher;
mod error;
mod pow;
mod scan;

pub use aes_backend::AesBackend;
pub use cancel::CancelToken;
pub use cipher::{group_key, lazy_key, LabelTest, NonceCipher, NonceKeys};
pub use error::Error;
pub use pow::{Blake3Pow, PowJob, PowProver, PowVerifier, RandomXMode, RandomXPow, POW_NONCE_LIMIT};
pub use scan::LabelScanner;
