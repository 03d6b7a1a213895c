//! Reproduces every value of the reference vectors produced by post-rs v0.8.5 (copied from
//! `shared/vectors/` into `tests/data/`): commitments, proving difficulties and their errors, PoW
//! scaling, `required_bits`, index packing and the reference's lenient unpacking.

#![allow(clippy::unwrap_used)]

use post_core::{
    commitment, compress_indices, decode_indices_strict, decompress_indices, proving_difficulty, required_bits,
    scale_pow_difficulty, AtxId, NodeId,
};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key].as_array().unwrap_or_else(|| panic!("{key} is not a list"))
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} is not a string in {v}"))
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} is not a u64 in {v}"))
}

fn hex32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

fn u64_list(v: &Value, key: &str) -> Vec<u64> {
    list(v, key).iter().map(|x| x.as_u64().unwrap()).collect()
}

#[test]
fn commitments() {
    let data = load("commitment.json");
    let vectors = list(&data, "vectors");
    assert_eq!(vectors.len(), 5);
    for v in vectors {
        let got = commitment(&NodeId(hex32(str_of(v, "node_id"))), &AtxId(hex32(str_of(v, "commitment_atx_id"))));
        assert_eq!(got.to_string(), str_of(v, "commitment"), "{v}");
    }
}

#[test]
fn proving_difficulties() {
    let data = load("difficulty.json");
    let vectors = list(&data, "proving_difficulty");
    assert_eq!(vectors.len(), 16);
    let mut errors = 0;
    for v in vectors {
        let k1 = u32::try_from(u64_of(v, "k1")).unwrap();
        let got = proving_difficulty(k1, u64_of(v, "num_labels"));
        match v.get("error") {
            Some(_) => {
                errors += 1;
                assert!(got.is_err(), "{v} gave {got:?}");
            }
            None => {
                let d = got.unwrap();
                assert_eq!(d, u64_of(v, "difficulty"), "{v}");
                assert_eq!(hex::encode(d.to_be_bytes()), str_of(v, "difficulty_hex"), "{v}");
            }
        }
    }
    assert_eq!(errors, 3);
}

#[test]
fn pow_scaling() {
    let data = load("difficulty.json");
    let vectors = list(&data, "pow_scaling");
    assert_eq!(vectors.len(), 21);
    for v in vectors {
        let units = u32::try_from(u64_of(v, "num_units")).unwrap();
        let scaled = scale_pow_difficulty(&hex32(str_of(v, "pow_difficulty")), units).unwrap();
        assert_eq!(hex::encode(scaled), str_of(v, "scaled"), "{v}");
    }
}

#[test]
fn required_bits_vectors() {
    let data = load("compression.json");
    let vectors = list(&data, "required_bits");
    assert_eq!(vectors.len(), 11);
    for v in vectors {
        assert_eq!(u64::from(required_bits(u64_of(v, "value"))), u64_of(v, "required_bits"), "{v}");
    }
}

#[test]
fn index_packing() {
    use base64::Engine as _;
    let data = load("compression.json");
    let vectors = list(&data, "vectors");
    assert_eq!(vectors.len(), 14);
    for v in vectors {
        let bits = u32::try_from(u64_of(v, "bits")).unwrap();
        let indices = u64_list(v, "indices");
        let packed = compress_indices(&indices, bits);
        assert_eq!(hex::encode(&packed), str_of(v, "compressed_hex"), "{v}");
        assert_eq!(base64::engine::general_purpose::STANDARD.encode(&packed), str_of(v, "compressed_b64"), "{v}");
        assert_eq!(decompress_indices(&packed, bits), u64_list(v, "decompressed_all"), "{v}");
        // The reference's own packer leaves the padding zero, so the strict decoder accepts its output.
        assert_eq!(decode_indices_strict(&packed, bits, indices.len()).unwrap(), indices, "{v}");
    }
}
