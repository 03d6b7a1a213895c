//! The label-function test values of spec §11: scrypt-jane's own vectors (T1, T2), full labels (T4,
//! T5) and VRF nonce searches (T6 from go-spacemesh's test suite, T7).

#![allow(clippy::unwrap_used)]

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{label_full, scrypt_jane, LabelJob, Labeller, ReferenceLabeller, VrfCandidate};

fn hex32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

/// The commitment of go-spacemesh's `Test_ScryptPositions_Pow`.
const GO_COMMITMENT: &str = "e26b543725490682675f6f84ea7689601adeaf14caa7024ec1140c82754ca339";

/// Runs the reference labeller over `[start, end)` and returns the VRF candidate below `threshold`.
fn vrf_search(commitment: &Commitment, n: u64, start: u64, end: u64, threshold: &[u8; 32]) -> Option<VrfCandidate> {
    let mut out = vec![0u8; 16 * (end - start) as usize];
    ReferenceLabeller
        .label(LabelJob {
            commitment,
            params: ScryptParams::with_n(n).unwrap(),
            start: LabelIndex(start),
            out: &mut out,
            vrf_threshold: Some(threshold),
        })
        .unwrap()
}

#[test]
fn t1_scrypt_jane_self_test_vector() {
    let mut out = [0u8; 64];
    scrypt_jane(b"", b"", ScryptParams::new(16, 1, 1).unwrap(), &mut out).unwrap();
    assert_eq!(
        hex::encode(out),
        "77cb70bfaed44c5bbcd3ec8a82438db37f1ffb7036324da6b7133777300c3cfb\
         2c208f2af4474d698eae2dadba35e92fe6997af8cf7078bb0c7264958b36773d"
    );
}

#[test]
fn t2_scrypt_jane_general_r_and_p() {
    let mut out = [0u8; 64];
    scrypt_jane(b"password", b"NaCl", ScryptParams::new(1024, 8, 16).unwrap(), &mut out).unwrap();
    assert_eq!(
        hex::encode(out),
        "c643171687095f12ed21e2b4ad55a1a149509070ab81837acddf235219c0a2d8\
         8e98ebf037abadfd1c0497184285f74b182c55d3a9e689fb580ab237b9f8fbc5"
    );
}

#[test]
fn t4_mainnet_labels_of_the_zero_commitment() {
    let expected = [
        "8c7b34d495266b23799ddaddc2a1836babdd6719c20aca272b42e9d9675ad2b7",
        "82032392c5605bfbfed09343fa06f086ff881bab4e77f3b0c6ff408c369bf4d3",
        "073b1e043c5746ee6e48af178ebeac91544fe368efb6ea16a3203f120b318486",
        "2215e04c414944b50f940ebe05099bab54fc0441535c66f44d6ad98bcc4cc6b4",
    ];
    let commitment = Commitment([0; 32]);
    let mut out = [0u8; 64];
    ReferenceLabeller
        .label(LabelJob {
            commitment: &commitment,
            params: ScryptParams::MAINNET,
            start: LabelIndex(0),
            out: &mut out,
            vrf_threshold: None,
        })
        .unwrap();
    for (i, (want, stored)) in expected.iter().zip(out.chunks_exact(16)).enumerate() {
        let full = label_full(&commitment, ScryptParams::MAINNET, LabelIndex(i as u64)).unwrap();
        assert_eq!(hex::encode(full), *want, "index {i}");
        assert_eq!(stored, &full[..16], "index {i}");
    }
}

#[test]
fn t5_labels_at_n32() {
    let commitment = Commitment(hex32(GO_COMMITMENT));
    let params = ScryptParams::with_n(32).unwrap();
    let labels = [0, 1].map(|i| hex::encode(label_full(&commitment, params, LabelIndex(i)).unwrap()));
    assert_eq!(
        labels,
        [
            "dac5f5866e2211227c327032f811511cf83f4e28adf85ac50dd041366abc2196",
            "6cd83c62c0ff6907d8544494cc374d0eb3ef0b6a91dd3663fbe6fd74437a7b52",
        ]
    );
}

#[test]
fn t6_go_spacemesh_vrf_search() {
    // 261,120 labels at N = 32 against difficulty 00003f ff…ff.
    let mut threshold = [0xff; 32];
    threshold[..3].copy_from_slice(&[0x00, 0x00, 0x3f]);
    let found = vrf_search(&Commitment(hex32(GO_COMMITMENT)), 32, 1024, 262_144, &threshold).unwrap();
    assert_eq!(found.index, LabelIndex(165_545));
    assert_eq!(hex::encode(found.label), "00001f81fadfc488b990c940aba8367a97e85cbb5bc0720a308d293b22902a74");
}

#[test]
fn t7_mainnet_vrf_minimum_of_300_labels() {
    let found = vrf_search(&Commitment([0; 32]), 8192, 0, 300, &[0xff; 32]).unwrap();
    assert_eq!(found.index, LabelIndex(178));
    assert_eq!(hex::encode(found.label), "002a90b65a9a3ac148c2c4cf467ae0313269288bedee864844ef96f8b3cb9fd5");
    // The threshold is strict: the minimum itself does not qualify against its own value.
    let none = vrf_search(&Commitment([0; 32]), 8192, 170, 180, &found.label);
    assert_eq!(none, None);
}
