//! The GPU kernels' math, compiled as plain C on the host (`post-cuda-hostc`), checked in every CI run
//! against the shared label vectors, the executable model's known answers, the `sha3` crate's
//! Keccak-512 and the reference labeller (`post_oracle::label_full`), for every lookup gap and for a
//! label placed inside an interleaved scratch table as the GPU lays it out.

#![allow(clippy::unwrap_used)]

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_cuda_hostc as c;
use proptest::prelude::*;
use serde::Deserialize;
use sha3::Digest;

#[derive(Deserialize)]
struct LabelVectors {
    vectors: Vec<LabelVector>,
}

#[derive(Deserialize)]
struct LabelVector {
    commitment: String,
    index: u64,
    scrypt_n: u32,
    r: u32,
    p: u32,
    label16: String,
    scrypt_out32: String,
}

#[derive(Deserialize)]
struct MixCases {
    cases: Vec<MixCase>,
}

#[derive(Deserialize)]
struct MixCase {
    function: String,
    n: Option<u32>,
    input: Vec<u32>,
    output: Vec<u32>,
}

fn commitment(hex_text: &str) -> [u8; 32] {
    hex::decode(hex_text).unwrap().try_into().unwrap()
}

/// All 84 labels of the shared vectors (N = 2, 16, 8192), with every lookup gap.
#[test]
fn c_labels_match_the_shared_vectors() {
    let data: LabelVectors = serde_json::from_str(include_str!("data/labels.json")).unwrap();
    assert_eq!(data.vectors.len(), 84);
    for v in &data.vectors {
        assert_eq!((v.r, v.p), (1, 1));
        let c = commitment(&v.commitment);
        for gap in [1, 2, 4] {
            if gap > v.scrypt_n {
                continue;
            }
            let full = c::label_full(&c, v.index, v.scrypt_n, gap);
            assert_eq!(hex::encode(full), v.scrypt_out32, "N={} index {} gap {gap}", v.scrypt_n, v.index);
            assert_eq!(hex::encode(&full[..16]), v.label16);
        }
    }
}

/// ChaCha20/8, BlockMix and ROMix against the executable model of the spec.
#[test]
fn c_mixing_matches_the_model() {
    let data: MixCases = serde_json::from_str(include_str!("data/mix.json")).unwrap();
    assert_eq!(data.cases.len(), 15);
    for case in &data.cases {
        match case.function.as_str() {
            "chacha8" => {
                let mut b: [u32; 16] = case.input.clone().try_into().unwrap();
                c::chacha8(&mut b);
                assert_eq!(b.to_vec(), case.output);
            }
            "blockmix" => {
                let mut x: [u32; 32] = case.input.clone().try_into().unwrap();
                c::blockmix(&mut x);
                assert_eq!(x.to_vec(), case.output);
            }
            "romix" => {
                let n = case.n.unwrap();
                for gap in [1, 2, 4].into_iter().filter(|&g| g <= n) {
                    let mut x: [u32; 32] = case.input.clone().try_into().unwrap();
                    let mut v = vec![0u32; (n / gap) as usize * 32];
                    c::romix(&mut x, &mut v, n, gap, c::TableSlot::ALONE);
                    assert_eq!(x.to_vec(), case.output, "N={n} gap {gap}");
                }
            }
            other => panic!("unknown function {other}"),
        }
    }
}

/// HMAC-Keccak-512 from the `sha3` crate's original Keccak-512.
fn hmac_keccak512(key: &[u8; 72], parts: &[&[u8]]) -> [u8; 64] {
    let pad = |b: u8| key.iter().map(|k| k ^ b).collect::<Vec<u8>>();
    let mut inner = sha3::Keccak512::new();
    inner.update(pad(0x36));
    for p in parts {
        inner.update(p);
    }
    let mut outer = sha3::Keccak512::new();
    outer.update(pad(0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn pw_bytes(commitment: &[u8; 32], index: u64) -> [u8; 72] {
    let mut pw = [0u8; 72];
    pw[..32].copy_from_slice(commitment);
    pw[32..40].copy_from_slice(&index.to_le_bytes());
    pw
}

fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

fn index_strategy() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just((1u64 << 32) - 1),
        Just(1u64 << 32),
        Just((1u64 << 32) + 1),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        any::<u64>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The kernel's specialised PBKDF2 steps equal PBKDF2-HMAC-Keccak-512 written from the spec.
    #[test]
    fn c_pbkdf2_matches_hmac_keccak512(commitment in any::<[u8; 32]>(), index in index_strategy(), x in any::<[u32; 32]>()) {
        let key = pw_bytes(&commitment, index);
        let pw = c::password(&commitment, index);
        let b = c::pbkdf2_in(&pw);
        let t1 = hmac_keccak512(&key, &[&1u32.to_be_bytes()]);
        let t2 = hmac_keccak512(&key, &[&2u32.to_be_bytes()]);
        prop_assert_eq!(words_to_bytes(&b), [t1.as_slice(), t2.as_slice()].concat());
        let out = c::lanes_to_bytes(&c::pbkdf2_out(&pw, &x));
        let expected = hmac_keccak512(&key, &[&words_to_bytes(&x), &1u32.to_be_bytes()]);
        prop_assert_eq!(out.as_slice(), &expected[..32]);
    }

    /// The C label equals the reference labeller for random commitments, indices (with the edges 0,
    /// 2^32 ± 1, 2^64 − 1), N and every lookup gap.
    #[test]
    fn c_label_matches_the_reference(
        commitment in any::<[u8; 32]>(),
        index in index_strategy(),
        log_n in 1u32..7,
        gap in prop_oneof![Just(1u32), Just(2), Just(4)],
    ) {
        let n = 1u32 << log_n;
        let params = ScryptParams::with_n(u64::from(n)).unwrap();
        let expected = post_oracle::label_full(&Commitment(commitment), params, LabelIndex(index)).unwrap();
        prop_assert_eq!(c::label_full(&commitment, index, n, gap.min(n)), expected);
    }

    /// A label computed in one slot of an interleaved table (entry k at line k · cap + slot) is right and
    /// writes no other slot's lines.
    #[test]
    fn c_label_in_an_interleaved_table(commitment in any::<[u8; 32]>(), index in any::<u64>(), cap in 1u64..6, pick in 0u64..6, gap in prop_oneof![Just(1u32), Just(2), Just(4)]) {
        let (n, slot) = (32u32, pick % cap);
        let mut v = vec![0u32; (n / gap) as usize * cap as usize * 32];
        let full = c::label_full_in(&commitment, index, n, gap, &mut v, c::TableSlot { cap, label: slot });
        prop_assert_eq!(full, c::label_full(&commitment, index, n, 1));
        for (line, words) in v.chunks_exact(32).enumerate() {
            if line as u64 % cap != slot {
                prop_assert!(words.iter().all(|&w| w == 0), "line {} of slot {} was written", line, line as u64 % cap);
            }
        }
    }

    /// The kernels' VRF order is the byte order of labels, then the index; `below` is a strict compare.
    #[test]
    fn c_vrf_compare_is_byte_order(a in any::<[u8; 32]>(), b in any::<[u8; 32]>(), ia in any::<u64>(), ib in any::<u64>(), same in any::<bool>()) {
        let b = if same { a } else { b };
        let lanes = |l: &[u8; 32]| -> [u64; 4] { std::array::from_fn(|k| u64::from_le_bytes(l[8 * k..8 * k + 8].try_into().unwrap())) };
        let be = |l: &[u8; 32]| -> [u64; 4] { std::array::from_fn(|k| u64::from_be_bytes(l[8 * k..8 * k + 8].try_into().unwrap())) };
        prop_assert_eq!(c::below(&lanes(&a), &be(&b)), a < b);
        let rec = |l: &[u8; 32], i: u64| -> [u64; 6] { let w = be(l); [1, i, w[0], w[1], w[2], w[3]] };
        prop_assert_eq!(c::cand_less(&rec(&a, ia), &rec(&b, ib)), (a, ia) < (b, ib));
        let none = [0u64; 6];
        prop_assert!(c::cand_less(&rec(&a, ia), &none));
        prop_assert!(!c::cand_less(&none, &rec(&a, ia)));
        prop_assert!(!c::cand_less(&none, &none));
    }
}
