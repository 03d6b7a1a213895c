//! The Spacemesh PoST label function.
//!
//! Labels are scrypt-jane with original Keccak-512 and ChaCha20/8 (spec §2), not RFC 7914 scrypt.
//! One generic scrypt engine ([`scrypt()`]: PBKDF2 with one iteration, BlockMix, ROMix) serves both;
//! the RFC 7914 instantiation ([`scrypt_rfc7914`]) is tested against the `scrypt` crate to prove the
//! engine. The reference labeller ([`ReferenceLabeller`], [`label_full`], [`label16`]) is the readable
//! specification and every fast backend is tested against it. [`chacha_ceiling`] measures the
//! ChaCha20/8 throughput that bounds the fast labeller's arithmetic.

mod block_mix;
mod chacha;
mod checked;
mod error;
mod fast;
mod labeller;
mod pbkdf2;
mod reference;
mod rfc7914;
mod romix;
mod salsa;
mod scrypt;

pub use block_mix::{block_mix, MixCore, SubBlock};
pub use chacha::ChaCha8;
pub use checked::{self_test, CheckFailure, CheckedLabeller, FailureSink};
pub use error::Error;
pub use fast::{chacha_ceiling, chacha_cores_per_label, label_ceiling_per_second, Backend, ChaChaRate, FastLabeller};
pub use labeller::{LabelJob, Labeller, VrfCandidate};
pub use pbkdf2::{pbkdf2, Hmac, PrfHash};
pub use reference::{label16, label_full, label_password, scrypt_jane, ReferenceLabeller, LABEL_FULL_LEN, LABEL_LEN};
pub use rfc7914::scrypt_rfc7914;
pub use romix::romix;
pub use salsa::Salsa8;
pub use scrypt::{scrypt, Scratch};
