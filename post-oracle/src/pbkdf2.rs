//! HMAC and PBKDF2 with one iteration: the two ends of scrypt (spec §2.4), generic over the hash.
//!
//! scrypt calls PBKDF2 twice with the same password (once to expand the password and salt into the
//! mixing buffer, once to compress the mixed buffer into the output), so the password is turned into
//! a keyed [`Hmac`] once and both passes reuse it.
//!
//! Written by hand rather than with the `hmac`/`pbkdf2` crates because the whole of it is twenty
//! lines: the keyed state is reused across the two passes, blocks are written straight into the
//! caller's buffer, and nothing here can fail (the `hmac` crate's keyed constructor returns a
//! `Result`). The RFC 7914 property test checks it bit for bit against the `scrypt` crate, which is
//! built on those crates.
//!
//! ```text
//! K0          = K zero-padded to the hash's block size B (K hashed first when it is longer than B)
//! HMAC(K, m)  = H((K0 ^ 0x5c·B) || H((K0 ^ 0x36·B) || m))
//! PBKDF2(P, S, dkLen) with c = 1:  T_i = HMAC(P, S || u32be(i)), i = 1, 2, …;  output = T_1 || T_2 || … truncated
//! ```

use sha3::digest::core_api::{Block, BlockSizeUser};
use sha3::digest::Digest;

use crate::Error;

/// A hash usable inside scrypt's PBKDF2: a fixed-output digest with a known block size
/// (`sha3::Keccak512`: block 72, output 64; `sha2::Sha256`: block 64, output 32).
pub trait PrfHash: Digest + BlockSizeUser + Clone {}

impl<H: Digest + BlockSizeUser + Clone> PrfHash for H {}

/// HMAC keyed with one key: the inner and outer hash states after absorbing the padded key.
#[derive(Clone)]
pub struct Hmac<H> {
    inner: H,
    outer: H,
}

impl<H> std::fmt::Debug for Hmac<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hmac { .. }")
    }
}

impl<H: PrfHash> Hmac<H> {
    /// Keys the MAC.
    ///
    /// 1. K0 = the key, or its digest when it is longer than the block, zero-padded to the block size.
    /// 2. Absorb K0 ^ 0x36… into the inner state and K0 ^ 0x5c… into the outer state.
    pub fn new(key: &[u8]) -> Self {
        let mut k0 = Block::<H>::default();
        if key.len() > k0.len() {
            let digest = H::digest(key);
            // Every hash used here has an output no longer than its block.
            let n = digest.len().min(k0.len());
            k0[..n].copy_from_slice(&digest[..n]);
        } else {
            k0[..key.len()].copy_from_slice(key);
        }
        let mut pad = k0.clone();
        pad.iter_mut().for_each(|b| *b ^= 0x36);
        let inner = H::new_with_prefix(&pad);
        pad.iter_mut().zip(&k0).for_each(|(p, k)| *p = k ^ 0x5c);
        let outer = H::new_with_prefix(&pad);
        Self { inner, outer }
    }

    /// HMAC(K, parts[0] || parts[1] || …).
    pub fn mac(&self, parts: &[&[u8]]) -> sha3::digest::Output<H> {
        let mut inner = self.inner.clone();
        for part in parts {
            inner.update(part);
        }
        self.outer.clone().chain_update(inner.finalize()).finalize()
    }
}

/// The longest PBKDF2 output: 2^32 − 1 blocks of one digest.
pub fn pbkdf2_max_len<H: PrfHash>() -> u64 {
    u64::from(u32::MAX) * <H as Digest>::output_size() as u64
}

/// PBKDF2 with one iteration: fills `out` with T_1 || T_2 || … where T_i = HMAC(P, salt || u32be(i)).
///
/// # Errors
/// [`Error::OutputTooLong`] when `out` is longer than [`pbkdf2_max_len`] (the block counter is 32 bits).
pub fn pbkdf2<H: PrfHash>(prf: &Hmac<H>, salt: &[u8], out: &mut [u8]) -> Result<(), Error> {
    let max = pbkdf2_max_len::<H>();
    if out.len() as u64 > max {
        return Err(Error::OutputTooLong { len: out.len(), max });
    }
    for (i, chunk) in (1u32..).zip(out.chunks_mut(<H as Digest>::output_size())) {
        let t = prf.mac(&[salt, &i.to_be_bytes()]);
        chunk.copy_from_slice(&t[..chunk.len()]);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn original_keccak512_of_empty_input() {
        // The Keccak team's value for the empty message (pad 0x01, not SHA3-512's 0x06).
        assert_eq!(
            hex::encode(sha3::Keccak512::digest(b"")),
            "0eab42de4c3ceb9235fc91acffe746b29c29a8c366b7c60e4e67c466f36a4304\
             c00fa9caf9d87976ba469bcbe06713b435f091ef2769fb160cdab33d3670680e"
        );
    }

    #[test]
    fn hmac_sha256_rfc4231_case_1_and_6() {
        let mac = Hmac::<sha2::Sha256>::new(&[0x0b; 20]).mac(&[b"Hi ", b"There"]);
        assert_eq!(hex::encode(mac), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
        // A key longer than the block is hashed first.
        let mac =
            Hmac::<sha2::Sha256>::new(&[0xaa; 131]).mac(&[b"Test Using Larger Than Block-Size Key - Hash Key First"]);
        assert_eq!(hex::encode(mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn pbkdf2_sha256_rfc7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P = "passwd", S = "salt", c = 1, dkLen = 64.
        let mut out = [0u8; 64];
        pbkdf2(&Hmac::<sha2::Sha256>::new(b"passwd"), b"salt", &mut out).unwrap();
        assert_eq!(
            hex::encode(out),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc\
             49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783"
        );
    }
}
