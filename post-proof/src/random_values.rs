//! The random subset a verifier checks (spec §7 step 5, `Mode::Subset`): a partial Fisher–Yates shuffle
//! driven by a BLAKE3 extendable output, byte-compatible with post-rs `RandomValuesIterator`.
//!
//! ```text
//! xof = BLAKE3-XOF(seed_part_1 || seed_part_2 || …)
//! for idx = 0, 1, …, len − 1:
//!   remaining   = len − idx
//!   max_allowed = 65535 − (65535 mod remaining)       (rejection sampling keeps the choice uniform)
//!   r = u16le(next 2 bytes of xof), repeated until r < max_allowed
//!   swap data[idx] and data[idx + (r mod remaining)];  yield data[idx]
//! ```

use crate::Error;

/// Yields the items of a list in a seeded random order, each exactly once.
#[derive(Debug)]
pub struct RandomValues<T> {
    data: Vec<T>,
    idx: usize,
    xof: blake3::OutputReader,
}

impl<T: Copy> RandomValues<T> {
    /// The most items the 16-bit draws can shuffle.
    pub const MAX_LEN: usize = u16::MAX as usize;

    /// Shuffles `data` with the BLAKE3 output of the concatenated `seed` parts.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when `data` holds more than [`Self::MAX_LEN`] items.
    pub fn new(data: Vec<T>, seed: &[&[u8]]) -> Result<Self, Error> {
        if data.len() > Self::MAX_LEN {
            return Err(Error::InvalidParam {
                name: "k2",
                reason: format!("a random subset of {} indices cannot be drawn with 16-bit values", data.len()),
            });
        }
        let mut hasher = blake3::Hasher::new();
        for part in seed {
            hasher.update(part);
        }
        Ok(Self { data, idx: 0, xof: hasher.finalize_xof() })
    }
}

impl<T: Copy> Iterator for RandomValues<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        let remaining = self.data.len().checked_sub(self.idx).filter(|&r| r > 0)? as u16;
        let max_allowed = u16::MAX - u16::MAX % remaining;
        loop {
            let mut bytes = [0u8; 2];
            self.xof.fill(&mut bytes);
            let r = u16::from_le_bytes(bytes);
            if r < max_allowed {
                self.data.swap(self.idx, self.idx + usize::from(r % remaining));
                self.idx += 1;
                return Some(self.data[self.idx - 1]);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reproduces_spec_t9() {
        let want = [
            39, 13, 95, 77, 36, 41, 74, 17, 59, 87, 91, 63, 40, 20, 94, 78, 48, 60, 18, 32, 67, 43, 23, 69, 71, 1, 51,
            79, 19, 53, 86, 80, 14, 84, 97, 92, 83, 26, 2, 81, 42, 55, 50, 88, 75, 82, 44, 34, 58, 72, 35, 25, 10, 68,
            12, 11, 70, 27, 98, 57, 96, 16, 45, 73, 0, 15, 62, 46, 30, 89, 33, 54, 9, 29, 7, 90, 38, 5, 49, 61, 93, 99,
            22, 6, 64, 24, 76, 85, 37, 65, 31, 4, 52, 3, 56, 21, 8, 28, 66, 47,
        ];
        let got: Vec<u32> = RandomValues::new((0..100).collect(), &[]).unwrap().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn refuses_lists_too_long_for_16_bit_draws() {
        assert!(RandomValues::new(vec![0u8; RandomValues::<u8>::MAX_LEN], &[]).is_ok());
        assert!(RandomValues::new(vec![0u8; RandomValues::<u8>::MAX_LEN + 1], &[]).is_err());
    }

    proptest! {
        #[test]
        fn yields_a_permutation(len in 0usize..300, seed in any::<Vec<u8>>()) {
            let mut got: Vec<usize> = RandomValues::new((0..len).collect(), &[&seed, b"x"]).unwrap().collect();
            got.sort_unstable();
            prop_assert_eq!(got, (0..len).collect::<Vec<_>>());
        }
    }
}
