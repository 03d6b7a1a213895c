//! The Spacemesh PoST label function.
//!
//! Labels are scrypt-jane with original Keccak-512 and ChaCha20/8 (spec §2), not RFC 7914 scrypt.
//! One generic scrypt engine serves both; the reference labeller is the readable specification and
//! every fast backend is tested against it.

mod error;
mod labeller;

pub use error::Error;
pub use labeller::{LabelJob, Labeller, VrfCandidate};
