//! The ChaCha20/8 core: the 64-byte mix function of the network's scrypt variant (spec §2.4).
//!
//! scrypt-jane built with `SCRYPT_CHACHA` uses the ChaCha permutation in place of Salsa20/8: the
//! 64-byte block is the state as is (16 little-endian words, no constants, key or counter layout),
//! 4 double rounds, then the input is added back word by word.
//!
//! Written by hand: the `chacha20` crate exposes a stream cipher with the constant/key/nonce layout,
//! not the bare permutation on an arbitrary state.
//!
//! ```text
//! x = w
//! 4 times: QR(0,4,8,12) QR(1,5,9,13) QR(2,6,10,14) QR(3,7,11,15)     column round
//!          QR(0,5,10,15) QR(1,6,11,12) QR(2,7,8,13) QR(3,4,9,14)     diagonal round
//! w[i] = w[i] + x[i] (mod 2^32)
//! QR(a,b,c,d): a+=b; d^=a; d<<<=16; c+=d; b^=c; b<<<=12; a+=b; d^=a; d<<<=8; c+=d; b^=c; b<<<=7
//! ```

use crate::MixCore;

/// The ChaCha20/8 core (4 double rounds and the feed-forward addition).
#[derive(Debug, Clone, Copy, Default)]
pub struct ChaCha8;

impl MixCore for ChaCha8 {
    #[inline]
    fn core(block: &mut [u32; 16]) {
        chacha_core::<4>(block);
    }
}

/// The ChaCha core with `DOUBLE_ROUNDS` double rounds (4 for ChaCha20/8, 10 for the full ChaCha20
/// block function, used in the tests against RFC 8439).
#[inline(always)]
fn chacha_core<const DOUBLE_ROUNDS: usize>(w: &mut [u32; 16]) {
    let mut x = *w;
    for _ in 0..DOUBLE_ROUNDS {
        quarter(&mut x, 0, 4, 8, 12);
        quarter(&mut x, 1, 5, 9, 13);
        quarter(&mut x, 2, 6, 10, 14);
        quarter(&mut x, 3, 7, 11, 15);
        quarter(&mut x, 0, 5, 10, 15);
        quarter(&mut x, 1, 6, 11, 12);
        quarter(&mut x, 2, 7, 8, 13);
        quarter(&mut x, 3, 4, 9, 14);
    }
    for (wi, xi) in w.iter_mut().zip(x) {
        *wi = wi.wrapping_add(xi);
    }
}

#[inline(always)]
fn quarter(x: &mut [u32; 16], a: usize, b: usize, c: usize, d: usize) {
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(16);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(12);
    x[a] = x[a].wrapping_add(x[b]);
    x[d] = (x[d] ^ x[a]).rotate_left(8);
    x[c] = x[c].wrapping_add(x[d]);
    x[b] = (x[b] ^ x[c]).rotate_left(7);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_round_rfc8439_2_1_1() {
        let mut x = [0u32; 16];
        x[..4].copy_from_slice(&[0x11111111, 0x01020304, 0x9b8d6f43, 0x01234567]);
        quarter(&mut x, 0, 1, 2, 3);
        assert_eq!(x[..4], [0xea2a92f4, 0xcb1cf8ce, 0x4581472e, 0x5881c4bb]);
    }

    #[test]
    fn chacha20_block_rfc8439_2_3_2() {
        // With 10 double rounds the same code is the ChaCha20 block function: this pins the round
        // layout and the feed-forward; ChaCha20/8 differs only in the round count.
        let mut w = [
            0x61707865, 0x3320646e, 0x79622d32, 0x6b206574, 0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c, 0x13121110,
            0x17161514, 0x1b1a1918, 0x1f1e1d1c, 0x00000001, 0x09000000, 0x4a000000, 0x00000000,
        ];
        chacha_core::<10>(&mut w);
        assert_eq!(
            w,
            [
                0xe4e7f110, 0x15593bd1, 0x1fdd0f50, 0xc47120a3, 0xc7f4d1c7, 0x0368c033, 0x9aaa2204, 0x4e6cd4c3,
                0x466482d2, 0x09aa9f07, 0x05d7c214, 0xa2028bd9, 0xd19c12b5, 0xb94e16de, 0xe883d0cb, 0x4e3c50a2,
            ]
        );
    }
}
