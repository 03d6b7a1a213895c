//! Untrusted proofs never panic the strict verifier: arbitrary bytes, and an honest proof with its nonce,
//! pow, units, indices or mode tampered with, all end in acceptance or a rejection
//! (`Error::is_rejection`); an accepted proof is well-formed, and what `All` accepts every position
//! accepts. Proofs also survive the JSON round trip the CLI puts them through.
//!
//! The properties live in `fuzz/src/proof_props.rs`, shared with the `verify` fuzz target; this file
//! generates inputs, with the BLAKE3 stand-in proof of work so that each case costs microseconds.

use std::path::Path;
use std::sync::OnceLock;

use post_core::{LabelIndex, Proof};
use post_proof::{AesBackend, Blake3Pow, LabelRegion, Mode, Prover, ProvingParams, ProvingTarget};
use proptest::prelude::*;

#[path = "../../fuzz/src/proof_props.rs"]
mod proof_props;

use proof_props::{VerifyInput, CHALLENGE, K2, NODE_ID};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The fuzz target's seed holding the honest proof under `Mode::All`.
const HONEST_SEED: &str = "../fuzz/seeds/verify/honest_all";

/// The labels of `tests/data/datadir-small`, 4 units of 256.
fn labels() -> Result<Vec<u8>, std::io::Error> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-small");
    let mut bytes = Vec::new();
    for i in 0..4 {
        bytes.extend(std::fs::read(dir.join(format!("postdata_{i}.bin")))?);
    }
    Ok(bytes)
}

/// A valid proof for the reference data and challenge, made by our prover on one thread (so the pow is
/// the smallest, and the proof the same on every run).
fn make_honest_proof() -> Result<Proof, Box<dyn std::error::Error>> {
    let bytes = labels()?;
    let regions = [LabelRegion::from_bytes(LabelIndex(0), &bytes)?];
    let cfg = proof_props::proof_config();
    let params = ProvingParams {
        k1: cfg.k1,
        k2: cfg.k2,
        pow_difficulty: cfg.pow_difficulty,
        nonces: 16,
        backend: AesBackend::detect(),
    };
    let target = ProvingTarget { challenge: &CHALLENGE, node_id: &NODE_ID, num_units: 4, regions: &regions };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    Ok(pool.install(|| Prover::new(params, &Blake3Pow)?.prove(&target))?.proof)
}

fn honest_proof() -> &'static Proof {
    static PROOF: OnceLock<Proof> = OnceLock::new();
    PROOF.get_or_init(|| make_honest_proof().unwrap_or_else(|e| panic!("proving the reference data: {e}")))
}

fn honest(mode: Mode) -> VerifyInput {
    VerifyInput { mode, proof: honest_proof().clone(), num_units: 4 }
}

fn any_mode() -> impl Strategy<Value = Mode> {
    prop_oneof![
        Just(Mode::All),
        (0usize..12).prop_map(|position| Mode::One { position }),
        (0usize..12, any::<u8>()).prop_map(|(k3, seed)| Mode::Subset { k3, seed: vec![seed] }),
    ]
}

/// One way to tamper with an honest proof.
#[derive(Debug, Clone)]
enum Tamper {
    FlipIndexBit(usize),
    Nonce(u32),
    Pow(u64),
    Units(u32),
    Resize(usize),
    SetByte(usize, u8),
}

fn any_tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        (0usize..14 * 8).prop_map(Tamper::FlipIndexBit),
        prop_oneof![0u32..64, any::<u32>()].prop_map(Tamper::Nonce),
        prop_oneof![0u64..64, any::<u64>()].prop_map(Tamper::Pow),
        prop_oneof![0u32..8, 99u32..102, any::<u32>()].prop_map(Tamper::Units),
        (0usize..30).prop_map(Tamper::Resize),
        (0usize..14, any::<u8>()).prop_map(|(i, b)| Tamper::SetByte(i, b)),
    ]
}

fn tampered(mode: Mode, tampers: &[Tamper]) -> VerifyInput {
    let mut input = honest(mode);
    for tamper in tampers {
        let indices = &mut input.proof.indices;
        match *tamper {
            Tamper::FlipIndexBit(bit) => {
                if let Some(byte) = indices.get_mut(bit / 8) {
                    *byte ^= 1 << (bit % 8);
                }
            }
            Tamper::Nonce(n) => input.proof.nonce = n,
            Tamper::Pow(p) => input.proof.pow = p,
            Tamper::Units(u) => input.num_units = u,
            Tamper::Resize(len) => indices.resize(len, 0),
            Tamper::SetByte(i, b) => {
                if let Some(byte) = indices.get_mut(i) {
                    *byte = b;
                }
            }
        }
    }
    input
}

#[test]
fn the_honest_proof_is_accepted_in_every_mode() {
    assert!(proof_props::verify_input(&honest(Mode::All)));
    for position in 0..K2 as usize {
        assert!(proof_props::verify_input(&honest(Mode::One { position })), "position {position}");
    }
    assert!(proof_props::verify_input(&honest(Mode::Subset { k3: 5, seed: b"seed".to_vec() })));
    // A position beyond k2 is a usage error, not a verdict.
    assert!(!proof_props::verify_input(&honest(Mode::One { position: K2 as usize })));
}

/// The fuzz target starts from the honest proof; the committed seed must still be it.
#[test]
fn the_fuzz_seed_is_the_honest_proof() -> TestResult {
    let expected = proof_props::encode_input(&honest(Mode::All));
    let seed = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(HONEST_SEED))?;
    let hex: String = expected.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(seed, expected, "{HONEST_SEED} is stale; write these bytes to it: {hex}");
    let decoded = proof_props::decode_input(&seed).ok_or("the seed is too short")?;
    assert_eq!(decoded.proof, *honest_proof());
    Ok(())
}

#[test]
fn the_honest_proof_survives_the_json_round_trip() -> TestResult {
    let text = honest_proof().to_json_pretty();
    let proof = Proof::from_json(&text)?;
    let meta = post_core::ProofMetadata::from_json(&proof_props::metadata(4).to_json_pretty())?;
    proof_props::verifier().verify(&proof, &meta, &Mode::All)?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_the_verifier(data in proptest::collection::vec(any::<u8>(), 0..64)) {
        proof_props::verify(&data);
    }

    #[test]
    fn arbitrary_proofs_never_panic_the_verifier(
        mode in any_mode(),
        nonce in prop_oneof![0u32..64, any::<u32>()],
        pow in any::<u64>(),
        num_units in prop_oneof![1u32..8, any::<u32>()],
        indices in proptest::collection::vec(any::<u8>(), 12..16),
    ) {
        proof_props::verify_input(&VerifyInput { mode, proof: Proof { nonce, indices, pow }, num_units });
    }

    #[test]
    fn tampered_honest_proofs_are_accepted_or_rejected(
        mode in any_mode(),
        tampers in proptest::collection::vec(any_tamper(), 1..3),
    ) {
        proof_props::verify_input(&tampered(mode, &tampers));
    }

    #[test]
    fn proof_json_never_panics_the_verifier(text in "\\{\"nonce\": ?[0-9]{1,4}, ?\"indices\": ?\"[A-Za-z0-9+/]{16,20}=?=?\", ?\"pow\": ?[0-9]{1,3}\\}") {
        if let Ok(proof) = Proof::from_json(&text) {
            proof_props::verify_input(&VerifyInput { mode: Mode::All, proof, num_units: 4 });
        }
    }

    #[test]
    fn encoding_round_trips(mode in any_mode(), nonce in any::<u32>(), pow in any::<u64>(), num_units in any::<u32>(),
        indices in proptest::collection::vec(any::<u8>(), 0..20)) {
        let input = VerifyInput { mode, proof: Proof { nonce, indices, pow }, num_units };
        let decoded = proof_props::decode_input(&proof_props::encode_input(&input));
        prop_assert!(decoded.is_some());
        let decoded = decoded.unwrap_or_else(|| input.clone());
        prop_assert_eq!(&decoded.proof, &input.proof);
        prop_assert_eq!(decoded.num_units, input.num_units);
        let same_mode = match (&decoded.mode, &input.mode) {
            (Mode::All, Mode::All) => true,
            (Mode::One { position: a }, Mode::One { position: b }) => a == b,
            (Mode::Subset { k3: a, .. }, Mode::Subset { k3: b, .. }) => a == b,
            _ => false,
        };
        prop_assert!(same_mode, "{:?} != {:?}", decoded.mode, input.mode);
    }
}
