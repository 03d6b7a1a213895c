//! The network services of Spacemesh PoST, async at the edge and blocking work off the runtime:
//!
//! * [`serve_k2pow`]: the k2pow service (spec §8), one RandomX search at a time for proving services
//!   that offload their proof of work, with the RandomX backend built once;
//! * [`RemoteK2Pow`]: the client of that service, a [`post_proof::PowProver`] for the proving job;
//! * [`Certifier`]: the certifier (spec §9), strict verification and an ed25519-signed certificate.
//!
//! Everything a peer does is an expected value ([`Error`]); nothing here prints, exits or reads the
//! environment (the `post` command does those).

mod certifier;
mod error;
mod job_path;
mod k2pow_service;
mod metrics;
mod remote_k2pow;

pub use certifier::{parse_duration, Certificate, Certifier, CertifierConfig, CertifierKeys, DEFAULT_MAX_BODY_SIZE};
pub use error::Error;
pub use job_path::K2PowJobKey;
pub use k2pow_service::{serve_k2pow, K2PowServiceConfig, PowProverFactory};
pub use remote_k2pow::{RemoteK2Pow, RemoteK2PowConfig};
