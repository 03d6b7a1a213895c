//! The JSON formats against files the reference tools wrote: the metadata of the post-rs data
//! directory in `tests/data/datadir-small/` (rewritten byte for byte), a Go-style metadata file (spec
//! §4.2: tab indent, `NonceValue`, no `null`s), and the proof and proof metadata of `proof-small.json`.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use post_core::{
    decode_indices_strict, required_bits, scale_pow_difficulty, vrf_difficulty, AtxId, Challenge, Error, NodeId,
    PostMetadata, Proof, ProofMetadata,
};
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn proof_small() -> Value {
    serde_json::from_str(&std::fs::read_to_string(data("proof-small.json")).unwrap()).unwrap()
}

#[test]
fn post_rs_metadata_parses_and_rewrites_byte_for_byte() {
    let dir = data("datadir-small");
    let m = PostMetadata::load(&dir).unwrap();
    assert_eq!(m.node_id, NodeId([0x77; 32]));
    assert_eq!(m.commitment_atx_id, AtxId([0x11; 32]));
    assert_eq!((m.labels_per_unit, m.num_units, m.max_file_size), (256, 4, 4800));
    assert_eq!((m.nonce, m.nonce_value, m.last_position), (Some(844), None, None));
    assert_eq!(m.num_labels(), 1024);
    let reference = proof_small();
    assert_eq!(m.commitment().to_string(), reference["init"]["commitment"].as_str().unwrap());
    let layout = m.layout().unwrap();
    assert_eq!((layout.num_files(), layout.labels_per_file()), (4, 300));
    for (i, file) in reference["datadir_files"].as_array().unwrap().iter().take(4).enumerate() {
        let i = u32::try_from(i).unwrap();
        assert_eq!(file["name"].as_str().unwrap(), post_core::Layout::file_name(i));
        assert_eq!(file["size"].as_u64().unwrap(), layout.expected_file_size(i));
    }
    let original = std::fs::read_to_string(PostMetadata::path(&dir)).unwrap();
    assert_eq!(m.to_json().unwrap(), original);
}

#[test]
fn go_metadata_parses_and_round_trips() {
    let path = data("metadata-go.json");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\n\t\"NonceValue\"") && !text.contains("null"));
    let m = PostMetadata::from_json(&text, &path).unwrap();
    assert_eq!(m.nonce, Some(12345));
    assert_eq!(hex::encode(m.nonce_value.unwrap()), "0000488e171389cce69344d68b66f6b4");
    assert_eq!(m.node_id.to_string(), "8411931ece38b5abfb611f3bb1155a7eecd9c0e6c26672b567f7b1629c70a924");

    let dir = tempfile::tempdir().unwrap();
    m.save(dir.path()).unwrap();
    let written = std::fs::read_to_string(PostMetadata::path(dir.path())).unwrap();
    assert!(written.contains("\"NonceValue\": \"0000488e171389cce69344d68b66f6b4\""), "{written}");
    assert_eq!(PostMetadata::load(dir.path()).unwrap(), m);
    // Every key of the Go file is written back with the same value.
    let (go, ours): (Value, Value) = (serde_json::from_str(&text).unwrap(), serde_json::from_str(&written).unwrap());
    for (key, value) in go.as_object().unwrap() {
        assert_eq!(&ours[key], value, "{key}");
    }
}

#[test]
fn reference_proof_parses_and_decodes() {
    let reference = proof_small();
    let proof_json = reference["proof"]["serde_json"].to_string();
    let proof = Proof::from_json(&proof_json).unwrap();
    assert_eq!((proof.nonce, proof.pow), (2, 2));
    assert_eq!(hex::encode(&proof.indices), reference["proof"]["indices_hex"].as_str().unwrap());
    assert_eq!(Proof::from_json(&proof.to_json_pretty()).unwrap(), proof);
    let out: Value = serde_json::from_str(&proof.to_json_pretty()).unwrap();
    assert_eq!(out, reference["proof"]["serde_json"]);

    let derived = &reference["derived"];
    let num_labels = derived["num_labels"].as_u64().unwrap();
    let bits = required_bits(num_labels);
    assert_eq!(u64::from(bits), derived["bits_per_index"].as_u64().unwrap());
    let k2 = usize::try_from(reference["proof_config"]["k2"].as_u64().unwrap()).unwrap();
    let indices = decode_indices_strict(&proof.indices, bits, k2).unwrap();
    let want: Vec<u64> =
        reference["proof"]["indices_decoded"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
    assert_eq!(indices, want);
    assert_eq!(
        hex::encode(scale_pow_difficulty(&[0xff; 32], 4).unwrap()),
        derived["pow_difficulty_scaled"].as_str().unwrap()
    );
    assert_eq!(post_core::proving_difficulty(20, num_labels).unwrap(), derived["proving_difficulty"].as_u64().unwrap());
    assert!(vrf_difficulty(num_labels).is_ok());
}

#[test]
fn truncated_reference_proof_is_refused_with_the_reference_lengths() {
    let reference = proof_small();
    let truncated = reference["corrupted"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["what"].as_str().unwrap().contains("truncated"))
        .unwrap();
    let text = format!(
        r#"{{"nonce": {}, "indices": "{}", "pow": {}}}"#,
        truncated["nonce"],
        truncated["indices_b64"].as_str().unwrap(),
        truncated["pow"]
    );
    let proof = Proof::from_json(&text).unwrap();
    // The reference says "invalid number of indices (expected: 14, got: 13)".
    assert!(truncated["verify_all"].as_str().unwrap().contains("expected: 14, got: 13"));
    let err = decode_indices_strict(&proof.indices, 11, 10).unwrap_err();
    assert!(matches!(err, Error::CodecLength { expected: 14, got: 13, .. }), "{err}");
}

#[test]
fn reference_proof_metadata_round_trips() {
    let reference = proof_small();
    let value = &reference["proof_metadata_serde_json"];
    let m = ProofMetadata::from_json(&value.to_string()).unwrap();
    assert_eq!(m.node_id, NodeId([0x77; 32]));
    assert_eq!(m.commitment_atx_id, AtxId([0x11; 32]));
    assert_eq!(m.challenge, Challenge(*b"hello world, challenge me!!!!!!!"));
    assert_eq!((m.num_units, m.labels_per_unit), (4, None));
    let out: Value = serde_json::from_str(&m.to_json_pretty()).unwrap();
    assert_eq!(&out, value);
}
