//! The three thresholds of PoST: the proving difficulty a label must beat for a nonce (spec §5.2), the
//! k2 proof-of-work threshold scaled by the number of space units (spec §5.2, §6), and the VRF nonce
//! difficulty of initialization (spec §3).
//!
//! The 256-bit arithmetic is written by hand: the only operations needed are dividing a 256-bit
//! big-endian number by a machine word and a 3-bit shift, a dozen lines that do not justify a big-integer
//! dependency.

use crate::Error;

/// The proving difficulty: a label is good for a nonce when its 64-bit AES value is below it.
///
/// ```text
/// difficulty = floor(2^64 · k1 / num_labels)
/// ```
///
/// so that on average k1 labels per nonce are good. Computed exactly in 128 bits.
///
/// # Errors
/// [`Error::ProvingDifficulty`] when `num_labels` is 0, when `num_labels ≤ k1` (the reference refuses
/// this too), or when the result does not fit in 64 bits (impossible once `num_labels > k1`).
pub fn proving_difficulty(k1: u32, num_labels: u64) -> Result<u64, Error> {
    let fail = |reason| Error::ProvingDifficulty { k1, num_labels, reason };
    if num_labels == 0 {
        return Err(fail("the number of labels must be above 0"));
    }
    if num_labels <= u64::from(k1) {
        return Err(fail("the number of labels must be bigger than k1"));
    }
    let difficulty = (u128::from(k1) << 64) / u128::from(num_labels);
    u64::try_from(difficulty).map_err(|_| fail("the difficulty does not fit in 64 bits"))
}

/// The proving difficulty split as the prover tests it (spec §5.4): the most significant byte is compared
/// with one byte of the group's AES output, and only on a tie are the low 56 bits compared with the lazy
/// cipher's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LabelThreshold {
    /// `difficulty >> 56`.
    pub msb: u8,
    /// `difficulty & 0x00FF_FFFF_FFFF_FFFF` (56 bits).
    pub lsb: u64,
}

impl LabelThreshold {
    /// Mask of the low 56 bits.
    pub const LSB_MASK: u64 = 0x00FF_FFFF_FFFF_FFFF;

    /// Splits a proving difficulty into its top byte and low 56 bits.
    pub fn from_difficulty(difficulty: u64) -> Self {
        Self { msb: (difficulty >> 56) as u8, lsb: difficulty & Self::LSB_MASK }
    }

    /// Joins the two parts back into the 64-bit difficulty.
    pub fn difficulty(self) -> u64 {
        (u64::from(self.msb) << 56) | (self.lsb & Self::LSB_MASK)
    }
}

/// The k2 proof-of-work threshold for `num_units` units: the 256-bit big-endian `pow_difficulty` divided
/// by `num_units` (integer division), big-endian.
///
/// # Errors
/// [`Error::InvalidParam`] naming `units` when `num_units` is 0.
pub fn scale_pow_difficulty(pow_difficulty: &[u8; 32], num_units: u32) -> Result<[u8; 32], Error> {
    if num_units == 0 {
        return Err(Error::InvalidParam {
            name: "units",
            reason: "the proof-of-work difficulty cannot be scaled for 0 units".into(),
        });
    }
    let mut scaled = *pow_difficulty;
    div_be_in_place(&mut scaled, u64::from(num_units));
    Ok(scaled)
}

/// The VRF nonce difficulty of initialization (spec §3): a label whose full 32 bytes are below it
/// qualifies as the VRF nonce; on average 8 labels of the data do.
///
/// ```text
/// 1. q = floor(2^256 / num_labels)
/// 2. difficulty = q << 3, as 32 bytes big-endian
/// ```
///
/// The Go reference (`shared.PowDifficulty`) panics for `num_labels ≤ 8`: division by zero for 0, and for
/// 1..=8 the result is at least 2^256 and `FillBytes` cannot write it in 32 bytes. This function returns an
/// error there instead. For `num_labels ≥ 2^63` Go converts the count to a negative `int64` and computes a
/// different number; this function computes the exact value for every count, which equals Go's for every
/// count below 2^63 (2^31 mainnet units).
///
/// # Errors
/// [`Error::VrfDifficulty`] when `num_labels ≤ 8`.
pub fn vrf_difficulty(num_labels: u64) -> Result<[u8; 32], Error> {
    if num_labels <= 8 {
        return Err(Error::VrfDifficulty { num_labels });
    }
    // 2^256 takes 33 bytes: a 1 followed by 32 zero bytes.
    let mut wide = [0u8; 33];
    wide[0] = 1;
    div_be_in_place(&mut wide, num_labels);
    // q < 2^256 / 9 < 2^253, so the top byte is 0 and the shift by 3 cannot overflow 256 bits.
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (wide[i + 1] << 3) | wide.get(i + 2).map_or(0, |next| next >> 5);
    }
    Ok(out)
}

/// Divides a big-endian number of any length by `divisor` (≥ 1) in place and returns the remainder.
/// Schoolbook long division one byte at a time: the running remainder is below `divisor` < 2^64, so
/// `remainder · 256 + byte` fits in 128 bits.
fn div_be_in_place(number: &mut [u8], divisor: u64) -> u64 {
    let divisor = u128::from(divisor.max(1));
    let mut remainder: u128 = 0;
    for byte in number.iter_mut() {
        let current = (remainder << 8) | u128::from(*byte);
        *byte = (current / divisor) as u8;
        remainder = current % divisor;
    }
    remainder as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proving_difficulty_examples() {
        assert_eq!(proving_difficulty(1, 2).ok(), Some(1 << 63));
        assert_eq!(proving_difficulty(26, 1 << 34).ok(), Some(0x0000_0006_8000_0000));
        assert_eq!(proving_difficulty(0, 5).ok(), Some(0));
        assert!(proving_difficulty(1, 0).is_err());
        assert!(proving_difficulty(5, 5).is_err());
        assert!(proving_difficulty(u32::MAX, u64::from(u32::MAX) + 1).is_ok());
    }

    #[test]
    fn threshold_splits_and_joins() {
        let t = LabelThreshold::from_difficulty(0x0568_0000_0000_0001);
        assert_eq!(t, LabelThreshold { msb: 0x05, lsb: 0x0068_0000_0000_0001 });
        assert_eq!(t.difficulty(), 0x0568_0000_0000_0001);
    }

    #[test]
    fn long_division_keeps_the_remainder() {
        let mut n = [0x01, 0x00, 0x07];
        assert_eq!(div_be_in_place(&mut n, 10), (0x10007 % 10) as u64);
        assert_eq!(n, [0x00, 0x19, 0x9a]);
        let mut n = [0xff; 16];
        assert_eq!(div_be_in_place(&mut n, u64::MAX), 0);
        assert_eq!(u128::from_be_bytes(n), u128::MAX / u128::from(u64::MAX));
    }

    /// Multiplies a 256-bit big-endian number by `factor` into 33 bytes.
    fn mul_be(number: &[u8; 32], factor: u64) -> [u8; 33] {
        let mut out = [0u8; 33];
        let mut carry: u128 = 0;
        for i in (0..32).rev() {
            let product = u128::from(number[i]) * u128::from(factor) + carry;
            out[i + 1] = product as u8;
            carry = product >> 8;
        }
        out[0] = carry as u8;
        out
    }

    /// Checks `d = 8·floor(2^256/n)`: d is a multiple of 8 and 0 ≤ 2^256 − (d/8)·n < n.
    fn check_vrf(n: u64) {
        let d = vrf_difficulty(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(d[31] & 7, 0, "{n}");
        let mut q = [0u8; 32];
        for i in 0..32 {
            q[i] = (d[i] >> 3) | if i > 0 { d[i - 1] << 5 } else { 0 };
        }
        let qn = mul_be(&q, n);
        // 2^256 − q·n, which must be in 0..n: it fits in the low 8 bytes and the rest is zero.
        let mut rest = [0u8; 33];
        let mut borrow = 0i16;
        for i in (0..33).rev() {
            let top = if i == 0 { 1 } else { 0 };
            let mut v = top - i16::from(qn[i]) - borrow;
            borrow = i16::from(v < 0);
            if v < 0 {
                v += 256;
            }
            rest[i] = v as u8;
        }
        assert_eq!(borrow, 0, "{n}: q·n > 2^256");
        assert!(rest[..25].iter().all(|&b| b == 0), "{n}");
        let r = u64::from_be_bytes(rest[25..].try_into().unwrap_or_default());
        assert!(r < n, "{n}: remainder {r}");
    }

    #[test]
    fn vrf_difficulty_edges() {
        for n in 0..=8 {
            assert!(vrf_difficulty(n).is_err(), "{n}");
        }
        for n in [9, 10, 1000, 1024, 1 << 34, (1 << 63) - 1, 1 << 63, (1 << 63) + 1, u64::MAX - 1, u64::MAX] {
            check_vrf(n);
        }
        // A power of two: 8 · 2^256 / 2^34 = 2^225 = byte 3 (of 32) set to 0x02.
        let mut want = [0u8; 32];
        want[3] = 0x02;
        assert_eq!(vrf_difficulty(1 << 34).ok(), Some(want));
    }

    proptest::proptest! {
        #[test]
        fn vrf_difficulty_is_exact(n in 9u64..) {
            check_vrf(n);
        }
    }

    #[test]
    fn pow_scaling_rejects_zero_units() {
        assert!(scale_pow_difficulty(&[0xff; 32], 0).is_err());
        assert_eq!(scale_pow_difficulty(&[0xff; 32], 1).ok(), Some([0xff; 32]));
    }
}
