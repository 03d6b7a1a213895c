//! The reference data directory and proof of `tests/data/proof-small.json` with real RandomX (light):
//! our verifier accepts the reference proof and rejects each corrupted variant for the reference's
//! reason; our prover, on one thread, finds exactly the reference proof; the strict checks reject what
//! the reference lets through.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::sync::OnceLock;

use common::*;
use post_core::{compress_indices, LockMode, PostData, Proof};
use post_proof::{
    AesBackend, Error, LabelRegion, MappedData, Mode, Prover, ProvingParams, ProvingTarget, RandomXMode, RandomXPow,
    Verifier,
};
use serde_json::Value;

/// One verifier (one RandomX cache) for all tests of this file.
fn verifier() -> &'static Verifier<RandomXPow> {
    static VERIFIER: OnceLock<Verifier<RandomXPow>> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        let pow = RandomXPow::new(RandomXMode::Light).unwrap();
        Verifier::new(pow, small_proof_config(), small_init_config()).unwrap()
    })
}

fn proof_of(v: &Value) -> Proof {
    let json = serde_json::json!({ "nonce": v["nonce"], "indices": v["indices_b64"], "pow": v["pow"] });
    Proof::from_json(&json.to_string()).unwrap()
}

fn reference_proof() -> Proof {
    proof_of(&reference_doc()["proof"])
}

fn verify(proof: &Proof, mode: &Mode) -> Result<(), Error> {
    verifier().verify(proof, &reference_metadata(reference_challenge()), mode)
}

#[test]
fn accepts_the_reference_proof() {
    let doc = reference_doc();
    assert_eq!(doc["challenge_hex"].as_str().unwrap(), hex::encode(reference_challenge().0));
    let proof = reference_proof();
    verify(&proof, &Mode::All).unwrap();
    verify(&proof, &Mode::Subset { k3: 5, seed: b"seed".to_vec() }).unwrap();
    for position in 0..10 {
        verify(&proof, &Mode::One { position }).unwrap();
    }
    assert!(matches!(verify(&proof, &Mode::One { position: 10 }), Err(Error::InvalidParam { .. })));
}

#[test]
fn rejects_the_corrupted_proofs_for_the_reference_reasons() {
    let doc = reference_doc();
    let corrupted = doc["corrupted"].as_array().unwrap();
    assert_eq!(corrupted.len(), 4);
    let results: Vec<Error> = corrupted.iter().map(|c| verify(&proof_of(c), &Mode::All).unwrap_err()).collect();
    for (err, c) in results.iter().zip(corrupted) {
        assert!(err.is_rejection(), "{}: {err}", c["what"]);
    }
    // "MSB value for index: 0 (id: 0) doesn't satisfy difficulty: 242 > 5 (label: [7, 175, …])"
    assert!(
        matches!(&results[0], Error::InvalidMsb { index: 0, position: 0, msb: 242, threshold: 5, label }
            if label[..3] == [7, 175, 45]),
        "{}",
        results[0]
    );
    // "invalid proof of work"
    assert!(matches!(results[1], Error::InvalidPow { group: 0, pow: 3 }), "{}", results[1]);
    // "MSB value for index: 25 (id: 0) doesn't satisfy difficulty: 190 > 5"
    assert!(
        matches!(results[2], Error::InvalidMsb { index: 25, position: 0, msb: 190, threshold: 5, .. }),
        "{}",
        results[2]
    );
    // "invalid number of indices (expected: 14, got: 13)"
    assert!(matches!(results[3], Error::IndicesLength { expected: 14, got: 13, .. }), "{}", results[3]);
}

#[test]
fn rejects_what_the_reference_lets_through() {
    let reference = reference_proof();
    let indices: Vec<u64> =
        reference_doc()["proof"]["indices_decoded"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    let with = |f: &dyn Fn(&mut Vec<u64>)| {
        let mut forged = indices.clone();
        f(&mut forged);
        Proof { indices: compress_indices(&forged, 11), ..reference.clone() }
    };
    // A repeated good index: the reference accepts it.
    let repeated = with(&|v| v[1] = v[0]);
    assert!(matches!(verify(&repeated, &Mode::All), Err(Error::DuplicateIndex { index: 25, first: 0, second: 1 })));
    // An index beyond the 1024 labels (11 bits reach 2047).
    let beyond = with(&|v| v[9] = 1024 + 258);
    assert!(matches!(
        verify(&beyond, &Mode::All),
        Err(Error::IndexOutOfRange { index: 1282, position: 9, num_labels: 1024 })
    ));
    // A set padding bit: 10 indices of 11 bits leave 2 spare bits in the 14th byte.
    let mut padded = reference.clone();
    padded.indices[13] |= 0x80;
    assert!(matches!(verify(&padded, &Mode::All), Err(Error::IndicesEncoding { .. })));
    // The reference hashes only 7 bytes of pow, so pow + 2^56 would pass its PoW check.
    let wide = Proof { pow: reference.pow + (1 << 56), ..reference.clone() };
    assert!(matches!(verify(&wide, &Mode::All), Err(Error::PowOutOfRange { .. })));
    // A nonce in group 256.
    let far = Proof { nonce: 4096 + reference.nonce, ..reference.clone() };
    assert!(matches!(verify(&far, &Mode::All), Err(Error::NonceGroupOutOfRange { nonce: 4098 })));
    // Units outside the configured 1..=100.
    let mut meta = reference_metadata(reference_challenge());
    meta.num_units = 101;
    assert!(matches!(
        verifier().verify(&reference, &meta, &Mode::All),
        Err(Error::NumUnitsOutOfRange { num_units: 101, min: 1, max: 100 })
    ));
}

#[test]
fn proving_on_one_thread_finds_the_reference_proof() {
    // Open a copy: opening takes the directory's lock, which writes a lock file.
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(reference_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let data = PostData::open(dir.path(), LockMode::Shared).unwrap();
    let mapped = MappedData::open(&data).unwrap();
    let regions: Vec<LabelRegion<'_>> = mapped.regions();
    let meta = data.metadata();
    let challenge = reference_challenge();
    let cfg = small_proof_config();
    let params = ProvingParams {
        k1: cfg.k1,
        k2: cfg.k2,
        pow_difficulty: cfg.pow_difficulty,
        nonces: 16,
        backend: AesBackend::detect(),
    };
    let pow = &verifier().pow();
    let target =
        ProvingTarget { challenge: &challenge, node_id: &meta.node_id, num_units: meta.num_units, regions: &regions };
    let proved = pool(1).install(|| Prover::new(params, *pow).unwrap().prove(&target)).unwrap();
    assert_eq!(proved.proof, reference_proof());
    assert_eq!(proved.passes, 1);
    verify(&proved.proof, &Mode::All).unwrap();
}
