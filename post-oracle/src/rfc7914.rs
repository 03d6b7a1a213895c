//! Standard scrypt (RFC 7914: HMAC-SHA-256 and Salsa20/8) on the shared engine.
//!
//! The network does not use it (spec §2.1). It exists to prove the engine: the tests compare it bit
//! for bit with the `scrypt` crate on random inputs, so PBKDF2, BlockMix, ROMix and Integerify are
//! checked against a well-kept implementation, and only the hash and the mix core differ in the
//! network's instantiation.

use post_core::ScryptParams;

use crate::scrypt::{scrypt, Scratch};
use crate::{Error, Salsa8};

/// RFC 7914 scrypt of `password` and `salt` into `out`.
///
/// Allocates the working memory once per call; use [`crate::scrypt()`] with a [`Scratch`] to reuse it.
///
/// # Errors
/// [`Error::Unsupported`] when the parameters need more memory than can be allocated or r·p ≥ 2^30;
/// [`Error::OutputTooLong`] when `out` is longer than PBKDF2 allows.
pub fn scrypt_rfc7914(password: &[u8], salt: &[u8], params: ScryptParams, out: &mut [u8]) -> Result<(), Error> {
    scrypt::<sha2::Sha256, Salsa8>(password, salt, out, &mut Scratch::new(params)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rfc7914_section_12_first_vectors() {
        // scrypt("", "", N=16, r=1, p=1, 64) and scrypt("password", "NaCl", N=1024, r=8, p=16, 64).
        let mut out = [0u8; 64];
        scrypt_rfc7914(b"", b"", ScryptParams::new(16, 1, 1).unwrap(), &mut out).unwrap();
        assert_eq!(
            hex::encode(out),
            "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442\
             fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
        );
    }
}
