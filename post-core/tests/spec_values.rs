//! The test values of spec §11 that belong to `post-core`: T3 (commitment), T10 (index packing), T11
//! (proving difficulty), T12 (PoW scaling), T13 (`required_bits`) and T14 (packed proof length), plus the
//! worked mainnet example of spec §8.

#![allow(clippy::unwrap_used)]

use post_core::{
    commitment, compress_indices, decode_indices_strict, packed_len, proving_difficulty, required_bits,
    scale_pow_difficulty, AtxId, LabelThreshold, NodeId, MAINNET_POW_DIFFICULTY,
};

#[test]
fn t3_commitment_of_zero_ids() {
    assert_eq!(
        commitment(&NodeId([0; 32]), &AtxId([0; 32])).to_string(),
        "4d006976636a8696d909a630a4081aad4d7c50f81afdee04020bf05086ab6a55"
    );
}

#[test]
fn t10_index_compression() {
    let indices = [0, 0xFFF5, 0, 0xFF0F];
    assert_eq!(compress_indices(&indices, 3), [0b0010_1000, 0b0000_1110]);
    assert_eq!(compress_indices(&indices, 16), [0x00, 0x00, 0xf5, 0xff, 0x00, 0x00, 0x0f, 0xff]);
    assert_eq!(decode_indices_strict(&[0x28, 0x0e], 3, 4).unwrap(), [0, 0b101, 0, 0b111]);
}

#[test]
fn t11_proving_difficulty() {
    assert_eq!(proving_difficulty(1, 2).unwrap(), 1 << 63);
    assert_eq!(proving_difficulty(1, 4).unwrap(), 1 << 62);
    assert_eq!(proving_difficulty(1, 128).unwrap(), 1 << 57);
}

#[test]
fn t12_pow_scaling() {
    let mut half = [0xff; 32];
    half[0] = 0x7f;
    assert_eq!(scale_pow_difficulty(&[0xff; 32], 2).unwrap(), half);
    let mut thirty_second = [0xff; 32];
    thirty_second[0] = 0x07;
    assert_eq!(scale_pow_difficulty(&[0xff; 32], 32).unwrap(), thirty_second);
}

#[test]
fn t13_required_bits() {
    assert_eq!(required_bits(0), 0);
    assert_eq!(required_bits(1), 1);
    assert_eq!(required_bits(1 << 19), 20);
    assert_eq!(required_bits((1 << 63) - 1), 63);
    assert_eq!(required_bits(u64::MAX), 64);
}

#[test]
fn t14_expected_indices_bytes() {
    assert_eq!(packed_len(8, 1), 1);
    assert_eq!(packed_len(10, 3), 4);
    assert_eq!(packed_len(10, 8), 10);
}

/// Spec §8: mainnet with 4 units has 2^34 labels, difficulty 26·2^30 (msb 0, lsb 0x6_8000_0000),
/// 35-bit indices (162 bytes for k2 = 37) and the PoW threshold divided by 4.
#[test]
fn mainnet_four_units() {
    let num_labels = 4u64 << 32;
    let difficulty = proving_difficulty(26, num_labels).unwrap();
    assert_eq!(difficulty, 0x0000_0006_8000_0000);
    assert_eq!(LabelThreshold::from_difficulty(difficulty), LabelThreshold { msb: 0, lsb: 0x6_8000_0000 });
    assert_eq!(required_bits(num_labels), 35);
    assert_eq!(packed_len(37, 35), 162);
    let scaled = scale_pow_difficulty(&MAINNET_POW_DIFFICULTY, 4).unwrap();
    assert_eq!(hex::encode(&scaled[..8]), "00037ec8ec25e6d2");
}
