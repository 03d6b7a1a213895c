//! Shared types and formats of Spacemesh Proof of Space-Time, byte-compatible with the network.
//!
//! `post-core` holds what every other crate agrees on: validated parameters and network presets, the
//! identifiers, the commitment, difficulty math, the proof's index codec, the metadata and proof JSON
//! formats, the data-directory layout, and locked access to a data directory. It does no heavy hashing and
//! starts no threads.

mod b64;
mod cancel;
mod codec;
mod commitment;
mod data_dir;
mod difficulty;
mod dir_lock;
mod error;
mod hexbytes;
mod ids;
mod layout;
mod metadata;
mod params;
mod proof;

pub use cancel::CancelToken;
pub use codec::{compress_indices, decode_indices_strict, decompress_indices, packed_len, required_bits};
pub use commitment::commitment;
pub use data_dir::{FileState, FileStatus, PostData};
pub use difficulty::{proving_difficulty, scale_pow_difficulty, vrf_difficulty, LabelThreshold};
pub use dir_lock::{lock_holder, set_lock_note, DirLock, LockMode, LOCK_FILE};
pub use error::Error;
pub use hexbytes::parse_hex32;
pub use ids::{AtxId, Challenge, Commitment, LabelIndex, NodeId, Nonce, NonceGroup};
pub use layout::{Layout, LABEL_SIZE};
pub use metadata::{PostMetadata, MAX_FILES, METADATA_FILE};
pub use params::{InitConfig, Preset, ProofConfig, ScryptParams, MAINNET_POW_DIFFICULTY};
pub use proof::{Proof, ProofMetadata, ProofRecord};
