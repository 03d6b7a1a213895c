//! The properties of the strict verifier (`post_proof::Verifier`) on untrusted proofs, shared by the
//! `verify` fuzz target and the stable property tests (`post-proof/tests/never_panics.rs` includes this
//! file with `#[path]`).
//!
//! The verifier runs with the small reference shape (4 units of 256 labels, scrypt N = 16, k1 = 20,
//! k2 = 10, PoW difficulty ff…ff) and the BLAKE3 stand-in proof of work, so one verification costs
//! microseconds and the fuzzer reaches the label checks. The input bytes are:
//!
//! ```text
//! byte  0       mode: 0, 1 → All; 2 → One{position}; 3 → Subset{k3, seed}   (byte mod 4)
//! byte  1       position or k3 (mod 12, so positions beyond k2 = 10 are tried), and the seed
//! bytes 2..6    nonce, u32 little-endian
//! bytes 6..14   pow, u64 little-endian
//! bytes 14..18  num_units, u32 little-endian
//! bytes 18..    the packed indices
//! ```
//!
//! Properties:
//!
//! ```text
//! 1. verify returns (no panic, no hang) Ok or an error whose message formats
//! 2. every error is a rejection (Error::is_rejection), except One{position ≥ k2}, a usage error
//! 3. an accepted proof has exactly k2 distinct indices below num_labels, packed in their one encoding
//! 4. accepted under All ⇒ accepted under every One{position}; rejected under One/Subset ⇒ rejected
//!    under All (All checks everything the others check)
//! ```

use std::collections::BTreeSet;
use std::sync::OnceLock;

use post_core::{
    compress_indices, decode_indices_strict, required_bits, AtxId, Challenge, InitConfig, NodeId, Proof, ProofConfig,
    ProofMetadata, ScryptParams,
};
use post_proof::{Blake3Pow, Error, Mode, Verifier};

/// The reference data's node id (`post-core/tests/data/datadir-small`).
pub const NODE_ID: NodeId = NodeId([0x77; 32]);
/// The reference data's commitment ATX id.
pub const ATX_ID: AtxId = AtxId([0x11; 32]);
/// The reference challenge.
pub const CHALLENGE: Challenge = Challenge(*b"hello world, challenge me!!!!!!!");
/// Indices per proof.
pub const K2: u32 = 10;
/// Labels per unit of the reference shape.
pub const LABELS_PER_UNIT: u64 = 256;
/// Bytes before the packed indices in a `verify` input.
pub const HEADER_LEN: usize = 18;

/// The reference data's shape, N = 16.
pub fn init_config() -> InitConfig {
    InitConfig {
        labels_per_unit: LABELS_PER_UNIT,
        min_num_units: 1,
        max_num_units: 100,
        max_file_size: 4800,
        scrypt: ScryptParams::with_n(16).unwrap_or_else(|e| panic!("N = 16 is valid: {e}")),
    }
}

/// The reference proof parameters.
pub fn proof_config() -> ProofConfig {
    ProofConfig { k1: 20, k2: K2, k3: K2, pow_difficulty: [0xff; 32] }
}

/// One verifier for the whole run (as a node keeps one).
pub fn verifier() -> &'static Verifier<Blake3Pow> {
    static VERIFIER: OnceLock<Verifier<Blake3Pow>> = OnceLock::new();
    VERIFIER.get_or_init(|| {
        Verifier::new(Blake3Pow, proof_config(), init_config())
            .unwrap_or_else(|e| panic!("the reference configuration is valid: {e}"))
    })
}

/// The metadata of the reference data claiming `num_units`.
pub fn metadata(num_units: u32) -> ProofMetadata {
    ProofMetadata {
        node_id: NODE_ID,
        commitment_atx_id: ATX_ID,
        challenge: CHALLENGE,
        num_units,
        labels_per_unit: None,
    }
}

/// A decoded `verify` input.
#[derive(Debug, Clone)]
pub struct VerifyInput {
    /// How many indices to recompute.
    pub mode: Mode,
    /// The proof.
    pub proof: Proof,
    /// The units the proof metadata claims.
    pub num_units: u32,
}

/// Splits the input bytes as the module doc says; `None` when they are too short.
pub fn decode_input(data: &[u8]) -> Option<VerifyInput> {
    let header: &[u8; HEADER_LEN] = data.get(..HEADER_LEN)?.try_into().ok()?;
    let arg = header[1];
    let mode = match header[0] % 4 {
        2 => Mode::One { position: usize::from(arg % 12) },
        3 => Mode::Subset { k3: usize::from(arg % 12), seed: vec![arg] },
        _ => Mode::All,
    };
    let nonce = u32::from_le_bytes(header[2..6].try_into().ok()?);
    let pow = u64::from_le_bytes(header[6..14].try_into().ok()?);
    let num_units = u32::from_le_bytes(header[14..18].try_into().ok()?);
    Some(VerifyInput { mode, proof: Proof { nonce, indices: data[HEADER_LEN..].to_vec(), pow }, num_units })
}

/// The bytes [`decode_input`] reads back as `input` (positions and k3 are taken mod 12).
pub fn encode_input(input: &VerifyInput) -> Vec<u8> {
    let (mode, arg) = match &input.mode {
        Mode::All => (0, 0),
        Mode::One { position } => (2, *position as u8),
        Mode::Subset { k3, .. } => (3, *k3 as u8),
    };
    let mut out = vec![mode, arg];
    out.extend_from_slice(&input.proof.nonce.to_le_bytes());
    out.extend_from_slice(&input.proof.pow.to_le_bytes());
    out.extend_from_slice(&input.num_units.to_le_bytes());
    out.extend_from_slice(&input.proof.indices);
    out
}

/// Checks properties 1–4 on raw fuzz bytes.
pub fn verify(data: &[u8]) {
    if let Some(input) = decode_input(data) {
        verify_input(&input);
    }
}

/// Checks properties 1–4 on one decoded input; returns whether the proof was accepted.
pub fn verify_input(input: &VerifyInput) -> bool {
    let VerifyInput { mode, proof, num_units } = input;
    let meta = metadata(*num_units);
    match verifier().verify(proof, &meta, mode) {
        Ok(()) => {
            // Property 3.
            let num_labels = u64::from(*num_units) * LABELS_PER_UNIT;
            let bits = required_bits(num_labels);
            let indices = decode_indices_strict(&proof.indices, bits, K2 as usize);
            let Ok(indices) = indices else { panic!("accepted indices do not decode strictly: {indices:?}") };
            assert_eq!(compress_indices(&indices, bits), proof.indices, "accepted a second encoding");
            assert!(indices.iter().all(|&i| i < num_labels), "accepted an index beyond the data: {indices:?}");
            assert_eq!(indices.iter().collect::<BTreeSet<_>>().len(), indices.len(), "accepted a repeated index");
            // Property 4, first half.
            if *mode == Mode::All {
                for position in 0..K2 as usize {
                    let one = verifier().verify(proof, &meta, &Mode::One { position });
                    assert!(one.is_ok(), "accepted under All, rejected at position {position}: {one:?}");
                }
            }
            true
        }
        Err(e) => {
            // Properties 1 and 2.
            assert!(!e.to_string().is_empty());
            let usage = matches!(mode, Mode::One { position } if *position >= K2 as usize);
            if usage {
                assert!(matches!(e, Error::InvalidParam { .. }) || e.is_rejection(), "{e:?}");
            } else {
                assert!(e.is_rejection(), "a malformed proof gave a failure that is not a rejection: {e:?}");
                // Property 4, second half.
                if *mode != Mode::All {
                    let all = verifier().verify(proof, &meta, &Mode::All);
                    assert!(all.is_err(), "rejected under {mode:?} ({e}) but accepted under All");
                }
            }
            false
        }
    }
}
