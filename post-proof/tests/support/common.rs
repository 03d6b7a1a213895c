//! Helpers shared by the scenario tests: the small reference data directory and proof of
//! `tests/data/`, a fixed-answer proof of work, and the brute-force label test.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use post_core::{
    proving_difficulty, AtxId, Challenge, InitConfig, LabelThreshold, NodeId, Nonce, PostMetadata, ProofConfig,
    ProofMetadata, ScryptParams,
};
use post_proof::{CancelToken, Error, LabelTest, NonceCipher, PowJob, PowProver};
use serde_json::Value;

/// `tests/data/datadir-small`: N = 16, 4 units of 256 labels, files of 300 labels.
pub fn reference_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-small")
}

/// `tests/data/proof-small.json`.
pub fn reference_doc() -> Value {
    serde_json::from_str(include_str!("../data/proof-small.json")).unwrap()
}

/// The data shape the reference proof is verified with.
pub fn small_init_config() -> InitConfig {
    InitConfig {
        labels_per_unit: 256,
        min_num_units: 1,
        max_num_units: 100,
        max_file_size: 4800,
        scrypt: ScryptParams::with_n(16).unwrap(),
    }
}

/// The reference proof's parameters: k1 20, k2 10, PoW difficulty ff…ff.
pub fn small_proof_config() -> ProofConfig {
    ProofConfig { k1: 20, k2: 10, k3: 10, pow_difficulty: [0xff; 32] }
}

/// The reference challenge, `hello world, challenge me!!!!!!!`.
pub fn reference_challenge() -> Challenge {
    Challenge(*b"hello world, challenge me!!!!!!!")
}

/// The proof metadata of the reference directory for `challenge`.
pub fn reference_metadata(challenge: Challenge) -> ProofMetadata {
    let m = PostMetadata::load(&reference_dir()).unwrap();
    ProofMetadata {
        node_id: m.node_id,
        commitment_atx_id: m.commitment_atx_id,
        challenge,
        num_units: m.num_units,
        labels_per_unit: None,
    }
}

/// The reference directory's node id and commitment ATX id.
pub fn reference_ids() -> (NodeId, AtxId) {
    let m = PostMetadata::load(&reference_dir()).unwrap();
    (m.node_id, m.commitment_atx_id)
}

/// All 1024 labels of the reference directory, read from its files.
pub fn disk_labels() -> Vec<[u8; 16]> {
    let mut bytes = Vec::new();
    for i in 0..4 {
        bytes.extend(std::fs::read(reference_dir().join(format!("postdata_{i}.bin"))).unwrap());
    }
    bytes.chunks_exact(16).map(|c| c.try_into().unwrap()).collect()
}

/// The label threshold of k1 over `num_labels`.
pub fn threshold(k1: u32, num_labels: u64) -> LabelThreshold {
    LabelThreshold::from_difficulty(proving_difficulty(k1, num_labels).unwrap())
}

/// Indices of the good labels for `nonce` with `pow`, ascending: the label test applied one by one.
pub fn good_indices(labels: &[[u8; 16]], challenge: &Challenge, nonce: u32, pow: u64, t: LabelThreshold) -> Vec<u64> {
    let cipher = NonceCipher::new(challenge, Nonce(nonce), pow);
    (0..labels.len() as u64).filter(|&i| cipher.test(&labels[i as usize], t) == LabelTest::Good).collect()
}

/// A proof of work that always answers the same nonce (spec T8 uses k2pow = 0).
#[derive(Debug)]
pub struct FixedPow(pub u64);

impl PowProver for FixedPow {
    fn name(&self) -> String {
        format!("fixed {}", self.0)
    }

    fn prove(&self, _job: &PowJob<'_>, _cancel: &CancelToken) -> Result<u64, Error> {
        Ok(self.0)
    }
}

/// A rayon pool of `threads` threads.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
}
