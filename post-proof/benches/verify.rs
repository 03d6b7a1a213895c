//! Verification of a proof with k2 = k3 = 37 at scrypt N = 8192 (37 labels recomputed) and one light
//! RandomX hash; the verifier, with its RandomX cache and VM, is built once outside the loop.
//!
//! The proof is real: 64 labels of a made-up identity are computed, and k1 = 60 makes almost every
//! label good, so that a proof with 37 indices exists for the first nonces.

use criterion::{criterion_group, criterion_main, Criterion};
use post_core::{
    commitment, AtxId, Challenge, InitConfig, LabelIndex, NodeId, ProofConfig, ProofMetadata, ScryptParams,
};
use post_proof::{
    AesBackend, LabelRegion, Mode, Prover, ProvingParams, ProvingTarget, RandomXMode, RandomXPow, Verifier,
};

fn verify(c: &mut Criterion) {
    let Ok(scrypt) = ScryptParams::with_n(8192) else { return };
    let (node_id, atx) = (NodeId([0x42; 32]), AtxId([0x17; 32]));
    let commitment = commitment(&node_id, &atx);
    let labels: Vec<u8> =
        (0..64).flat_map(|i| post_oracle::label16(&commitment, scrypt, LabelIndex(i)).unwrap_or_default()).collect();
    let Ok(region) = LabelRegion::from_bytes(LabelIndex(0), &labels) else { return };
    let proof_config = ProofConfig { k1: 60, k2: 37, k3: 37, pow_difficulty: [0xff; 32] };
    let init_config =
        InitConfig { labels_per_unit: 64, min_num_units: 1, max_num_units: 1, max_file_size: 1024, scrypt };
    let Ok(pow) = RandomXPow::new(RandomXMode::Light) else { return };
    let challenge = Challenge([0x33; 32]);
    let params = ProvingParams {
        k1: proof_config.k1,
        k2: proof_config.k2,
        pow_difficulty: proof_config.pow_difficulty,
        nonces: 16,
        backend: AesBackend::detect(),
    };
    let regions = [region];
    let target = ProvingTarget { challenge: &challenge, node_id: &node_id, num_units: 1, regions: &regions };
    let Ok(proved) = Prover::new(params, &pow).and_then(|p| p.prove(&target)) else { return };
    let Ok(verifier) = Verifier::new(pow, proof_config, init_config) else { return };
    let metadata = ProofMetadata { node_id, commitment_atx_id: atx, challenge, num_units: 1, labels_per_unit: None };
    assert!(verifier.verify(&proved.proof, &metadata, &Mode::All).is_ok(), "the benchmark's proof must be valid");
    let mut group = c.benchmark_group("verify");
    group.sample_size(20);
    group.bench_function("k3_37_n8192_randomx_light", |b| {
        b.iter(|| verifier.verify(&proved.proof, &metadata, &Mode::All))
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
