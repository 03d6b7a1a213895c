//! Shared types and formats of Spacemesh Proof of Space-Time, byte-compatible with the network.
//!
//! `post-core` holds what every other crate agrees on: validated parameters and network presets, the
//! identifiers, the commitment, difficulty math, the proof's index codec, the metadata and proof JSON
//! formats, and the data-directory layout. It does no heavy hashing and starts no threads.

mod b64;
mod codec;
mod commitment;
mod difficulty;
mod error;
mod hexbytes;
mod ids;
mod layout;
mod metadata;
mod params;
mod proof;

pub use codec::{compress_indices, decode_indices_strict, decompress_indices, packed_len, required_bits};
pub use commitment::commitment;
pub use difficulty::{proving_difficulty, scale_pow_difficulty, vrf_difficulty, LabelThreshold};
pub use error::Error;
pub use hexbytes::parse_hex32;
pub use ids::{AtxId, Challenge, Commitment, LabelIndex, NodeId, Nonce, NonceGroup};
pub use layout::{Layout, LABEL_SIZE};
pub use metadata::{PostMetadata, METADATA_FILE};
pub use params::{InitConfig, Preset, ProofConfig, ScryptParams, MAINNET_POW_DIFFICULTY};
pub use proof::{Proof, ProofMetadata};
