//! Property tests of the invariants of `post-core`: the index codec round-trips at every width and its
//! strict decoder accepts exactly one encoding; the proving difficulty is monotone; the label threshold
//! split is equivalent to the 64-bit comparison; PoW scaling is integer division; the layout maps every
//! label to exactly one (file, offset).

use post_core::{
    compress_indices, decode_indices_strict, decompress_indices, packed_len, proving_difficulty, scale_pow_difficulty,
    Error, LabelIndex, LabelThreshold, Layout,
};
use proptest::prelude::*;

fn mask(bits: u32) -> u64 {
    if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    }
}

/// A width in 1..=64 and up to 40 indices already reduced to that width.
fn width_and_indices() -> impl Strategy<Value = (u32, Vec<u64>)> {
    (1u32..=64, proptest::collection::vec(any::<u64>(), 0..40))
        .prop_map(|(bits, raw)| (bits, raw.into_iter().map(|v| v & mask(bits)).collect()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn codec_round_trips_at_every_width((bits, indices) in width_and_indices()) {
        let packed = compress_indices(&indices, bits);
        prop_assert_eq!(packed.len(), packed_len(indices.len(), bits));
        prop_assert_eq!(decode_indices_strict(&packed, bits, indices.len()).ok(), Some(indices.clone()));
        // The lenient reference decoder returns the same values, then only zeros read from the padding.
        let lenient = decompress_indices(&packed, bits);
        prop_assert_eq!(lenient.len(), packed.len() * 8 / bits as usize);
        prop_assert_eq!(&lenient[..indices.len()], &indices[..]);
        prop_assert!(lenient[indices.len()..].iter().all(|&v| v == 0));
    }

    #[test]
    fn compress_keeps_only_the_low_bits(bits in 1u32..=64, raw in proptest::collection::vec(any::<u64>(), 0..20)) {
        let masked: Vec<u64> = raw.iter().map(|v| v & mask(bits)).collect();
        prop_assert_eq!(compress_indices(&raw, bits), compress_indices(&masked, bits));
    }

    #[test]
    fn strict_decoder_rejects_every_padding_bit((bits, indices) in width_and_indices(), pick in any::<u8>()) {
        let mut packed = compress_indices(&indices, bits);
        let used = indices.len() as u64 * u64::from(bits);
        let padding = packed.len() as u64 * 8 - used;
        prop_assume!(padding > 0);
        let bit = used + u64::from(pick) % padding;
        packed[(bit / 8) as usize] |= 1 << (bit % 8);
        match decode_indices_strict(&packed, bits, indices.len()) {
            Err(Error::CodecPadding { bit: reported, .. }) => prop_assert_eq!(reported, bit),
            other => prop_assert!(false, "expected a padding error, got {:?}", other),
        }
    }

    #[test]
    fn strict_decoder_rejects_every_wrong_length((bits, indices) in width_and_indices(), delta in -3i64..=3) {
        prop_assume!(delta != 0);
        let mut packed = compress_indices(&indices, bits);
        let want = packed.len();
        let len = want as i64 + delta;
        prop_assume!(len >= 0);
        packed.resize(len as usize, 0);
        match decode_indices_strict(&packed, bits, indices.len()) {
            Err(Error::CodecLength { expected, got, .. }) => {
                prop_assert_eq!((expected, got), (want, len as usize));
            }
            other => prop_assert!(false, "expected a length error, got {:?}", other),
        }
    }

    #[test]
    fn difficulty_grows_with_k1(n in 2u64.., a in any::<u32>(), b in any::<u32>()) {
        let (lo, hi) = (a.min(b), a.max(b));
        prop_assume!(u64::from(hi) < n);
        let (dlo, dhi) = (proving_difficulty(lo, n), proving_difficulty(hi, n));
        prop_assert!(dlo.is_ok() && dhi.is_ok());
        prop_assert!(dlo.ok() <= dhi.ok());
    }

    #[test]
    fn difficulty_shrinks_with_labels(k1 in any::<u32>(), a in 1u64.., b in 1u64..) {
        let (lo, hi) = (a.min(b), a.max(b));
        prop_assume!(u64::from(k1) < lo);
        let (dlo, dhi) = (proving_difficulty(k1, lo), proving_difficulty(k1, hi));
        prop_assert!(dlo.is_ok() && dhi.is_ok());
        prop_assert!(dlo.ok() >= dhi.ok());
    }

    #[test]
    fn difficulty_is_refused_without_enough_labels(k1 in any::<u32>(), n in any::<u64>()) {
        prop_assert_eq!(proving_difficulty(k1, n).is_ok(), n > u64::from(k1));
    }

    #[test]
    fn threshold_split_equals_the_64_bit_test(difficulty in any::<u64>(), value in any::<u64>()) {
        let t = LabelThreshold::from_difficulty(difficulty);
        prop_assert_eq!(t.difficulty(), difficulty);
        let (msb, lsb) = ((value >> 56) as u8, value & LabelThreshold::LSB_MASK);
        let split = msb < t.msb || (msb == t.msb && lsb < t.lsb);
        prop_assert_eq!(split, value < difficulty);
    }

    #[test]
    fn pow_scaling_is_integer_division(hi in any::<u128>(), lo in any::<u128>(), units in 1u32..) {
        let mut difficulty = [0u8; 32];
        difficulty[..16].copy_from_slice(&hi.to_be_bytes());
        difficulty[16..].copy_from_slice(&lo.to_be_bytes());
        let scaled = scale_pow_difficulty(&difficulty, units).unwrap_or_default();
        // q = floor(d / units) exactly when q·units + r = d with r = d mod units < units, over all 256
        // bits. r from the halves: d = hi·2^128 + lo, and 2^128 mod units = (u128::MAX mod units + 1) mod units.
        let u = u128::from(units);
        let r = ((hi % u) * ((u128::MAX % u + 1) % u) + lo % u) % u;
        prop_assert!(r < u);
        // q·units + r in 64-bit limbs, most significant first, with the carry out of the top limb.
        let limbs = |bytes: &[u8]| -> [u64; 4] {
            let mut out = [0u64; 4];
            for (i, chunk) in bytes.chunks(8).enumerate() {
                out[i] = u64::from_be_bytes(chunk.try_into().unwrap_or_default());
            }
            out
        };
        let q = limbs(&scaled);
        let mut product = [0u64; 4];
        let mut carry = r;
        for i in (0..4).rev() {
            let v = u128::from(q[i]) * u + carry;
            product[i] = v as u64;
            carry = v >> 64;
        }
        prop_assert_eq!(carry, 0, "q·units + r overflows 256 bits");
        prop_assert_eq!(product, limbs(&difficulty));
    }

    #[test]
    fn layout_maps_each_label_once(
        num_labels in 1u64..(1 << 40),
        per_file_seed in any::<u64>(),
        pick in any::<u64>(),
    ) {
        // At most 2000 files so the walk over all of them stays quick.
        let min_per_file = num_labels.div_ceil(2000);
        let labels_per_file = min_per_file + per_file_seed % (num_labels + 1);
        let layout = Layout::new(num_labels, labels_per_file * 16).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(layout.labels_per_file(), labels_per_file);
        prop_assert_eq!(u64::from(layout.num_files()), num_labels.div_ceil(labels_per_file));
        let mut next = 0;
        let mut bytes = 0;
        for i in 0..layout.num_files() {
            let range = layout.file_labels(i);
            prop_assert_eq!(range.start, next);
            prop_assert!(range.end > range.start);
            if i + 1 < layout.num_files() {
                prop_assert_eq!(layout.expected_file_size(i), layout.max_file_size());
            }
            prop_assert_eq!(layout.expected_file_size(i), (range.end - range.start) * 16);
            bytes += layout.expected_file_size(i);
            next = range.end;
        }
        prop_assert_eq!(next, num_labels);
        prop_assert_eq!(bytes, layout.total_bytes());
        prop_assert!(layout.file_labels(layout.num_files()).is_empty());

        let index = pick % num_labels;
        let (file, offset) = layout.locate(LabelIndex(index)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let range = layout.file_labels(file);
        prop_assert!(range.contains(&index));
        prop_assert_eq!(offset, (index - range.start) * 16);
        prop_assert!(offset + 16 <= layout.expected_file_size(file));
        let beyond = num_labels + pick % 1000;
        prop_assert!(layout.locate(LabelIndex(beyond)).is_err());
    }
}
