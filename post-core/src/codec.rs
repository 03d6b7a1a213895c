//! The index codec of a proof (spec §5.6): k2 label indices packed with a fixed width of B bits each,
//! least significant bit first.
//!
//! ```text
//! bit b of index e  →  global bit t = e·B + b  →  bit (t mod 8) of byte t/8   (bit 0 = LSB)
//! length = ceil(count·B / 8) bytes, the unused high bits of the last byte are zero
//! ```
//!
//! The reference decoder is lenient: it returns floor(8·len/B) values whatever the padding holds.
//! [`decompress_indices`] reproduces it for compatibility checks; verification uses
//! [`decode_indices_strict`], which refuses a wrong length and any non-zero padding bit, so that one
//! proof has exactly one encoding.
//!
//! The packer is written by hand (no bit-vector crate): it is two loops over a 128-bit accumulator.

use crate::Error;

/// The number of bits needed to write `v`: 0 for 0, else floor(log2 v) + 1. Proofs use
/// `required_bits(num_labels)`, i.e. of the label count itself, not of the largest index.
pub fn required_bits(v: u64) -> u32 {
    u64::BITS - v.leading_zeros()
}

/// Bytes taken by `count` indices of `bits` bits: ceil(count·bits / 8). Saturates at `usize::MAX`.
pub fn packed_len(count: usize, bits: u32) -> usize {
    let total_bits = count as u128 * u128::from(bits);
    usize::try_from(total_bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Packs the low `bits` bits of each index, LSB first, into ceil(len·bits/8) bytes; the last byte is
/// zero-padded.
///
/// `bits` = 0 gives no bytes (as the reference). A width above 64 writes each index zero-extended to
/// that width; the strict decoder refuses such widths, so they never reach a valid proof.
pub fn compress_indices(indices: &[u64], bits: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(packed_len(indices.len(), bits));
    let mut writer = BitWriter { out: &mut out, acc: 0, pending: 0 };
    for &index in indices {
        let mut left = bits;
        let mut value = index;
        while left > 0 {
            let width = left.min(64);
            writer.push(value & mask(width), width);
            value = 0;
            left -= width;
        }
    }
    writer.finish();
    out
}

/// Unpacks as the reference does: floor(8·len/bits) values of `bits` bits each, ignoring what padding
/// holds (so it may return more values than were packed, and trailing zero values).
///
/// `bits` = 0 gives no values. For a width above 64 each value is the low 64 bits of its field.
pub fn decompress_indices(bytes: &[u8], bits: u32) -> Vec<u64> {
    if bits == 0 {
        return Vec::new();
    }
    let count = (bytes.len() as u128 * 8 / u128::from(bits)) as usize;
    let mut reader = BitReader { bytes, next: 0, acc: 0, available: 0 };
    (0..count).map(|_| reader.read_field(bits)).collect()
}

/// Unpacks exactly `count` indices of `bits` bits, refusing any other encoding.
///
/// ```text
/// 1. bits must be in 1..=64
/// 2. len(bytes) must be exactly ceil(count·bits / 8)
/// 3. read count fields of `bits` bits, LSB first
/// 4. every bit after the last field (the padding of the last byte) must be zero
/// ```
///
/// # Errors
/// [`Error::CodecWidth`] for a width outside 1..=64, [`Error::CodecLength`] naming the expected and
/// received lengths, [`Error::CodecPadding`] naming the first set padding bit.
pub fn decode_indices_strict(bytes: &[u8], bits: u32, count: usize) -> Result<Vec<u64>, Error> {
    if bits == 0 || bits > 64 {
        return Err(Error::CodecWidth { bits });
    }
    let expected = packed_len(count, bits);
    if bytes.len() != expected {
        return Err(Error::CodecLength { expected, got: bytes.len(), count, bits });
    }
    let mut reader = BitReader { bytes, next: 0, acc: 0, available: 0 };
    let indices: Vec<u64> = (0..count).map(|_| reader.read_field(bits)).collect();
    // Only the last byte can hold padding (fewer than 8 bits); the reader holds exactly those bits now.
    let used_bits = count as u64 * u64::from(bits);
    if reader.acc != 0 {
        return Err(Error::CodecPadding { bit: used_bits + u64::from(reader.acc.trailing_zeros()), count, bits });
    }
    Ok(indices)
}

/// `width` ones in the low bits, for width in 0..=64.
fn mask(width: u32) -> u64 {
    if width >= 64 {
        u64::MAX
    } else {
        (1u64 << width) - 1
    }
}

/// Appends fields LSB first. `pending` < 8 between calls, so `acc` never holds more than 71 bits.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u128,
    pending: u32,
}

impl BitWriter<'_> {
    fn push(&mut self, value: u64, width: u32) {
        self.acc |= u128::from(value) << self.pending;
        self.pending += width;
        while self.pending >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.pending -= 8;
        }
    }

    fn finish(self) {
        if self.pending > 0 {
            self.out.push(self.acc as u8);
        }
    }
}

/// Reads fields LSB first, a byte at a time. `available` < 8 between calls. Running out of bytes reads
/// zeros; callers only read fields that fit.
struct BitReader<'a> {
    bytes: &'a [u8],
    next: usize,
    acc: u128,
    available: u32,
}

impl BitReader<'_> {
    /// Reads a field of any width ≥ 1 and returns its low 64 bits.
    fn read_field(&mut self, bits: u32) -> u64 {
        let value = self.read(bits.min(64));
        let mut skip = bits.saturating_sub(64);
        while skip > 0 {
            let width = skip.min(64);
            self.read(width);
            skip -= width;
        }
        value
    }

    fn read(&mut self, width: u32) -> u64 {
        while self.available < width {
            let byte = self.bytes.get(self.next).copied().unwrap_or(0);
            self.next += 1;
            self.acc |= u128::from(byte) << self.available;
            self.available += 8;
        }
        let value = (self.acc as u64) & mask(width);
        self.acc >>= width;
        self.available -= width;
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_lsb_first() {
        assert_eq!(compress_indices(&[1, 0, 1], 1), [0b101]);
        assert_eq!(compress_indices(&[0x1ff], 9), [0xff, 0x01]);
        assert_eq!(compress_indices(&[u64::MAX, 0], 64), [[0xff; 8], [0; 8]].concat());
        assert!(compress_indices(&[7, 7], 0).is_empty());
        // Width 70: the value, then six zero bits.
        let wide = compress_indices(&[u64::MAX, 1], 70);
        assert_eq!(wide.len(), 18);
        assert_eq!(decompress_indices(&wide, 70), [u64::MAX, 1]);
    }

    #[test]
    fn strict_decoder_refuses_bad_encodings() {
        let packed = compress_indices(&[5, 6, 7], 3); // 9 bits → 2 bytes, 7 padding bits
        assert_eq!(decode_indices_strict(&packed, 3, 3).ok(), Some(vec![5, 6, 7]));
        assert!(matches!(decode_indices_strict(&packed, 0, 3), Err(Error::CodecWidth { bits: 0 })));
        assert!(matches!(decode_indices_strict(&packed, 65, 3), Err(Error::CodecWidth { bits: 65 })));
        assert!(matches!(
            decode_indices_strict(&packed[..1], 3, 3),
            Err(Error::CodecLength { expected: 2, got: 1, .. })
        ));
        let mut padded = packed.clone();
        padded[1] |= 0x40;
        assert!(matches!(decode_indices_strict(&padded, 3, 3), Err(Error::CodecPadding { bit: 14, .. })));
        assert_eq!(decode_indices_strict(&[], 7, 0).ok(), Some(vec![]));
    }

    #[test]
    fn lenient_decoder_reads_padding_as_values() {
        assert_eq!(decompress_indices(&compress_indices(&[5], 3), 3), [5, 0]);
        assert!(decompress_indices(&[1, 2], 0).is_empty());
    }
}
