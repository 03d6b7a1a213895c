//! Forged proofs against the strict verifier (with the BLAKE3 stand-in proof of work, so that each case
//! costs microseconds): a valid proof for the reference data is tampered with — nonce, pow, one index,
//! one bit of the packed indices, the length — and the verifier's verdict must equal the verdict of an
//! independent model that decodes the bits by hand and tests every label read from disk.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::sync::OnceLock;

use common::*;
use post_core::{compress_indices, scale_pow_difficulty, Challenge, LabelIndex, NonceGroup, Proof, ProofMetadata};
use post_proof::{AesBackend, Blake3Pow, LabelRegion, Mode, PowJob, Prover, ProvingParams, ProvingTarget, Verifier};
use proptest::prelude::*;

const NUM_LABELS: u64 = 1024;
const BITS: usize = 11;
const K2: usize = 10;

fn labels() -> &'static Vec<[u8; 16]> {
    static LABELS: OnceLock<Vec<[u8; 16]>> = OnceLock::new();
    LABELS.get_or_init(disk_labels)
}

fn verifier() -> &'static Verifier<Blake3Pow> {
    static VERIFIER: OnceLock<Verifier<Blake3Pow>> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(Blake3Pow, small_proof_config(), small_init_config()).unwrap())
}

/// A valid proof for `challenge`, made by our prover on one thread.
fn honest_proof(challenge: &Challenge) -> Proof {
    let bytes: Vec<u8> = labels().iter().flatten().copied().collect();
    let regions = [LabelRegion::from_bytes(LabelIndex(0), &bytes).unwrap()];
    let (node_id, _) = reference_ids();
    let cfg = small_proof_config();
    let params = ProvingParams {
        k1: cfg.k1,
        k2: cfg.k2,
        pow_difficulty: cfg.pow_difficulty,
        nonces: 16,
        backend: AesBackend::detect(),
    };
    let target = ProvingTarget { challenge, node_id: &node_id, num_units: 4, regions: &regions };
    pool(1).install(|| Prover::new(params, &Blake3Pow).unwrap().prove(&target)).unwrap().proof
}

/// The model verdict, written without the verifier's helpers.
fn model_accepts(proof: &Proof, meta: &ProofMetadata) -> bool {
    // Exactly ceil(10·11/8) = 14 bytes, the 2 padding bits zero.
    if proof.indices.len() != 14 || proof.indices[13] >> 6 != 0 {
        return false;
    }
    let bit = |t: usize| u64::from(proof.indices[t / 8] >> (t % 8) & 1);
    let indices: Vec<u64> = (0..K2).map(|e| (0..BITS).map(|b| bit(e * BITS + b) << b).sum()).collect();
    let mut sorted = indices.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != K2 || sorted.iter().any(|&i| i >= NUM_LABELS) {
        return false;
    }
    if proof.nonce >= 4096 || proof.pow >= 1 << 56 {
        return false;
    }
    let threshold = scale_pow_difficulty(&[0xff; 32], meta.num_units).unwrap();
    let group = NonceGroup((proof.nonce / 16) as u8);
    let job = PowJob { group, challenge: &meta.challenge, miner: &meta.node_id, threshold: &threshold };
    if !job.accepts(&Blake3Pow::hash(&job.input(proof.pow))) {
        return false;
    }
    let good = good_indices(labels(), &meta.challenge, proof.nonce, proof.pow, threshold_of_small());
    indices.iter().all(|i| good.contains(i))
}

fn threshold_of_small() -> post_core::LabelThreshold {
    threshold(small_proof_config().k1, NUM_LABELS)
}

#[derive(Debug, Clone)]
enum Forgery {
    Nonce(u32),
    NonceFlip(u32),
    Pow(u64),
    PowHighByte(u8),
    Index { position: usize, value: u64 },
    CopyIndex { from: usize, to: usize },
    FlipBit(usize),
    Truncate,
    Extend(u8),
}

fn forgery() -> impl Strategy<Value = Forgery> {
    prop_oneof![
        (0u32..4200).prop_map(Forgery::Nonce),
        (0u32..12).prop_map(Forgery::NonceFlip),
        any::<u64>().prop_map(Forgery::Pow),
        (1u8..=255).prop_map(Forgery::PowHighByte),
        (0..K2, 0u64..2048).prop_map(|(position, value)| Forgery::Index { position, value }),
        (0..K2, 0..K2).prop_map(|(from, to)| Forgery::CopyIndex { from, to }),
        (0usize..112).prop_map(Forgery::FlipBit),
        Just(Forgery::Truncate),
        any::<u8>().prop_map(Forgery::Extend),
    ]
}

fn apply(proof: &Proof, forgery: &Forgery) -> Proof {
    let mut forged = proof.clone();
    // After a truncation there may be fewer than K2 fields left; read the missing bits as zero.
    let unpacked = || {
        let mut bytes = proof.indices.clone();
        bytes.resize(bytes.len().max(14), 0);
        post_core::decompress_indices(&bytes, BITS as u32)[..K2].to_vec()
    };
    match *forgery {
        Forgery::Nonce(n) => forged.nonce = n,
        Forgery::NonceFlip(bit) => forged.nonce ^= 1 << bit,
        Forgery::Pow(p) => forged.pow = p,
        Forgery::PowHighByte(b) => forged.pow |= u64::from(b) << 56,
        Forgery::Index { position, value } => {
            let mut v = unpacked();
            v[position] = value;
            forged.indices = compress_indices(&v, BITS as u32);
        }
        Forgery::CopyIndex { from, to } => {
            let mut v = unpacked();
            v[to] = v[from];
            forged.indices = compress_indices(&v, BITS as u32);
        }
        Forgery::FlipBit(bit) => {
            let bit = bit % (forged.indices.len() * 8).max(1);
            if let Some(byte) = forged.indices.get_mut(bit / 8) {
                *byte ^= 1 << (bit % 8);
            }
        }
        Forgery::Truncate => {
            forged.indices.pop();
        }
        Forgery::Extend(b) => forged.indices.push(b),
    }
    forged
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn verdict_equals_the_model(challenge in any::<[u8; 32]>(), forgeries in prop::collection::vec(forgery(), 1..3)) {
        let challenge = Challenge(challenge);
        let meta = reference_metadata(challenge);
        let honest = honest_proof(&challenge);
        prop_assert!(model_accepts(&honest, &meta));
        prop_assert!(verifier().verify(&honest, &meta, &Mode::All).is_ok());
        let forged = forgeries.iter().fold(honest, |p, f| apply(&p, f));
        let verdict = verifier().verify(&forged, &meta, &Mode::All);
        prop_assert_eq!(verdict.is_ok(), model_accepts(&forged, &meta), "{:?}", verdict);
        if let Err(e) = verdict {
            prop_assert!(e.is_rejection(), "{}", e);
        }
    }
}
