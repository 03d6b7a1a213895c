//! Spec T8, the reference prover's own test vector (post-rs `prove.rs` `proving_vector`): 128 labels
//! whose bytes are `i mod 12` over the 2048-byte buffer, challenge `hello world, CHALLENGE me!!!!!!!`,
//! k1 = 4 (difficulty 2^59), k2 = 32, nonces 0..16, k2pow = 0 ⇒ nonce 3 with indices 0, 3, …, 93.
//! Checked on every AES backend.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use common::*;
use post_core::{Challenge, LabelIndex, NodeId};
use post_proof::{AesBackend, LabelRegion, Prover, ProvingParams, ProvingTarget};

#[test]
fn reproduces_spec_t8_on_every_backend() {
    let bytes: Vec<u8> = (0..2048).map(|i| (i % 12) as u8).collect();
    let regions = [LabelRegion::from_bytes(LabelIndex(0), &bytes).unwrap()];
    let challenge = Challenge(*b"hello world, CHALLENGE me!!!!!!!");
    let node_id = NodeId([0; 32]);
    let target = ProvingTarget { challenge: &challenge, node_id: &node_id, num_units: 1, regions: &regions };
    assert_eq!(threshold(4, 128).difficulty(), 1 << 59);
    for backend in AesBackend::available() {
        let params = ProvingParams { k1: 4, k2: 32, pow_difficulty: [0xff; 32], nonces: 16, backend };
        let proved = pool(1).install(|| Prover::new(params, &FixedPow(0)).unwrap().prove(&target)).unwrap();
        assert_eq!(proved.nonce.0, 3, "{}", backend.name());
        assert_eq!(proved.indices, (0..32).map(|i| 3 * i).collect::<Vec<u64>>(), "{}", backend.name());
        assert_eq!(proved.proof.pow, 0);
    }
}
