//! The Salsa20/8 core: the 64-byte mix function of RFC 7914 scrypt.
//!
//! The network does not use it; it is here so that the shared scrypt engine can be instantiated as
//! standard scrypt and checked bit for bit against the `scrypt` crate.
//!
//! Written by hand: the `salsa20` crate exposes a stream cipher with the constant/key/nonce layout,
//! not the bare permutation on an arbitrary state.
//!
//! ```text
//! x = w
//! 4 times: QR(0,4,8,12) QR(5,9,13,1) QR(10,14,2,6) QR(15,3,7,11)     column round
//!          QR(0,1,2,3) QR(5,6,7,4) QR(10,11,8,9) QR(15,12,13,14)     row round
//! w[i] = w[i] + x[i] (mod 2^32)
//! QR(a,b,c,d): b ^= (a+d)<<<7; c ^= (b+a)<<<9; d ^= (c+b)<<<13; a ^= (d+c)<<<18
//! ```

use crate::MixCore;

/// The Salsa20/8 core (4 double rounds and the feed-forward addition).
#[derive(Debug, Clone, Copy, Default)]
pub struct Salsa8;

impl MixCore for Salsa8 {
    #[inline]
    fn core(w: &mut [u32; 16]) {
        let mut x = *w;
        for _ in 0..4 {
            quarter(&mut x, 0, 4, 8, 12);
            quarter(&mut x, 5, 9, 13, 1);
            quarter(&mut x, 10, 14, 2, 6);
            quarter(&mut x, 15, 3, 7, 11);
            quarter(&mut x, 0, 1, 2, 3);
            quarter(&mut x, 5, 6, 7, 4);
            quarter(&mut x, 10, 11, 8, 9);
            quarter(&mut x, 15, 12, 13, 14);
        }
        for (wi, xi) in w.iter_mut().zip(x) {
            *wi = wi.wrapping_add(xi);
        }
    }
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[b] ^= x[a].wrapping_add(x[d]).rotate_left(7);
    x[c] ^= x[b].wrapping_add(x[a]).rotate_left(9);
    x[d] ^= x[c].wrapping_add(x[b]).rotate_left(13);
    x[a] ^= x[d].wrapping_add(x[c]).rotate_left(18);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salsa20_8_core_rfc7914_section_8() {
        let input = hex::decode(
            "7e879a214f3ec9867ca940e641718f26baee555b8c61c1b50df846116dcd3b1d\
             ee24f319df9b3d8514121e4b5ac5aa3276021d2909c74829edebc68db8b8c25e",
        );
        let output = hex::decode(
            "a41f859c6608cc993b81cacb020cef05044b2181a2fd337dfd7b1c6396682f29\
             b4393168e3c9e6bcfe6bc5b7a06d96bae424cc102c91745c24ad673dc7618f81",
        );
        let words = |bytes: &[u8]| {
            let mut w = [0u32; 16];
            for (wi, c) in w.iter_mut().zip(bytes.chunks_exact(4)) {
                *wi = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
            }
            w
        };
        let (Ok(input), Ok(output)) = (input, output) else { panic!("bad hex in the test") };
        let mut w = words(&input);
        Salsa8::core(&mut w);
        assert_eq!(w, words(&output));
    }
}
