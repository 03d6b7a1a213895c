//! The network services of Spacemesh PoST, async at the edge and blocking work off the runtime:
//!
//! * [`serve_k2pow`]: the k2pow service (spec §8), one RandomX search at a time for proving services
//!   that offload their proof of work, with the RandomX backend built once;
//! * [`RemoteK2Pow`]: the client of that service, a [`post_proof::PowProver`] for the proving job;
//! * [`Certifier`]: the certifier (spec §9), strict verification and an ed25519-signed certificate;
//! * [`Service`]: the PoST proving service of a node (`post serve`, spec §1-7): the gRPC client of
//!   `spacemesh.v1.PostService` ([`proto`]), the proof job on its own thread, and the operator API.
//!
//! Everything a peer does is an expected value ([`Error`]); nothing here prints, exits or reads the
//! environment (the `post` command does those).

mod answer;
mod certifier;
mod error;
mod job_path;
mod k2pow_service;
mod metrics;
mod node_address;
mod node_client;
mod operator_api;
pub mod proto;
mod prover_thread;
mod remote_k2pow;
mod service;
mod service_state;
mod startup_checks;
mod stopped;
mod watch_pid;

pub use certifier::{parse_duration, Certificate, Certifier, CertifierConfig, CertifierKeys, DEFAULT_MAX_BODY_SIZE};
pub use error::Error;
pub use job_path::K2PowJobKey;
pub use k2pow_service::{serve_k2pow, K2PowServiceConfig, PowProverFactory};
pub use node_address::{NodeAddress, TlsFiles};
pub use node_client::{ClientConfig, KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, MAX_MESSAGE_BYTES};
pub use prover_thread::{PowSource, ProvingConfig, ProvingThreads};
pub use remote_k2pow::{RemoteK2Pow, RemoteK2PowConfig};
pub use service::{Service, ServiceConfig};
pub use service_state::{ConnectionState, JobSlot, OperatorStatus, ServiceState, StatusDetail};
pub use startup_checks::DataLimits;
pub use stopped::Stopped;
pub use watch_pid::{gone as process_gone, is_alive as process_alive};
