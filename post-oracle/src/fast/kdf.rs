//! PBKDF2-HMAC with original Keccak-512, one iteration (spec §2.4), as the label function uses it
//! at its start and end.
//!
//! Written here rather than taken from the `hmac`/`pbkdf2` crates because the keyed states are
//! reused: the password block is absorbed once into an inner and an outer Keccak state, and both
//! PBKDF2 calls of a label (four HMACs) clone them. That saves a third of the Keccak permutations.
//! The password is always exactly one 72-byte Keccak-512 block, so HMAC uses it unhashed.
//!
//! ```text
//! HMAC(K, m)     = H((K ^ 0x5c*72) || H((K ^ 0x36*72) || m))
//! PBKDF2(P, S)   = T_1 || T_2 || …  with  T_i = HMAC(P, S || u32be(i)), truncated to the output
//! ```

use sha3::{Digest, Keccak512};

/// Length of the label password and of one Keccak-512 block.
pub(crate) const PASSWORD_LEN: usize = 72;

/// HMAC-Keccak-512 keyed with one label's password.
#[derive(Debug, Clone)]
pub(crate) struct KeyedHmac {
    inner: Keccak512,
    outer: Keccak512,
}

impl KeyedHmac {
    /// Absorbs the key pads of `password`.
    pub(crate) fn new(password: &[u8; PASSWORD_LEN]) -> Self {
        let mut inner = Keccak512::new();
        let mut outer = Keccak512::new();
        inner.update(password.map(|b| b ^ 0x36));
        outer.update(password.map(|b| b ^ 0x5c));
        Self { inner, outer }
    }

    /// Fills `out` with PBKDF2 (one iteration) of this password over `salt`.
    pub(crate) fn pbkdf2(&self, salt: &[u8], out: &mut [u8]) {
        for (i, chunk) in out.chunks_mut(64).enumerate() {
            let mut inner = self.inner.clone();
            inner.update(salt);
            // Block numbers start at 1; an output long enough to overflow u32 cannot exist here.
            inner.update(((i + 1) as u32).to_be_bytes());
            let mut outer = self.outer.clone();
            outer.update(inner.finalize());
            chunk.copy_from_slice(&outer.finalize()[..chunk.len()]);
        }
    }
}

/// The label password: commitment ‖ u64le(index) ‖ 32 zero bytes (spec §2.3).
pub(crate) fn password(commitment: &[u8; 32], index: u64) -> [u8; PASSWORD_LEN] {
    let mut p = [0u8; PASSWORD_LEN];
    p[..32].copy_from_slice(commitment);
    p[32..40].copy_from_slice(&index.to_le_bytes());
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Original Keccak-512 of the empty string (the SHA-3 competition's known answer), which
    /// distinguishes it from SHA3-512.
    #[test]
    fn keccak512_is_the_original_padding() {
        let digest = Keccak512::digest(b"");
        assert_eq!(
            hex::encode(digest),
            "0eab42de4c3ceb9235fc91acffe746b29c29a8c366b7c60e4e67c466f36a4304\
             c00fa9caf9d87976ba469bcbe06713b435f091ef2769fb160cdab33d3670680e"
        );
    }

    #[test]
    fn pbkdf2_blocks_are_prefixes_of_longer_outputs() {
        let hmac = KeyedHmac::new(&password(&[7; 32], 42));
        let mut short = [0u8; 32];
        let mut long = [0u8; 128];
        hmac.pbkdf2(b"salt", &mut short);
        hmac.pbkdf2(b"salt", &mut long);
        assert_eq!(short, long[..32]);
        assert_ne!(long[..64], long[64..]);
    }
}
