//! The AES ciphers that decide whether a label is good for a nonce (spec §5.3–5.4).
//!
//! ```text
//! 1. key_group(g) = BLAKE3(challenge || u32le(g) || u64le(pow[g]))[0..16]
//! 2. key_lazy(n)  = BLAKE3(challenge || u32le(n / 16) || u64le(pow[n / 16]) || u32le(n))[0..16]
//! 3. msb = AES128(key_group(n / 16), label)[n mod 16]
//!    msb < difficulty.msb  -> good
//!    msb > difficulty.msb  -> not good
//!    msb = difficulty.msb  -> good iff u64le(AES128(key_lazy(n), label)[0..8]) & (2^56 - 1) < difficulty.lsb
//! ```
//!
//! So one AES block per label serves the 16 nonces of a group, and the per-nonce ("lazy") cipher runs
//! only on ties, one (label, nonce) pair in 256. [`NonceCipher`] is the plain, per-label form of step 3
//! used by the verifier and as the specification the scan kernels are tested against; [`NonceKeys`]
//! holds the keys of a whole pass for the scan.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use post_core::{Challenge, LabelThreshold, Nonce, NonceGroup};

/// Step 1: the AES key shared by the 16 nonces of group `group`.
pub fn group_key(challenge: &Challenge, group: u32, pow: u64) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(challenge.as_bytes());
    hasher.update(&group.to_le_bytes());
    hasher.update(&pow.to_le_bytes());
    first16(hasher.finalize().as_bytes())
}

/// Step 2: the tie-breaking AES key of one nonce; `pow` is its group's.
pub fn lazy_key(challenge: &Challenge, nonce: Nonce, pow: u64) -> [u8; 16] {
    let mut hasher = blake3::Hasher::new();
    hasher.update(challenge.as_bytes());
    hasher.update(&(nonce.0 / Nonce::GROUP_SIZE).to_le_bytes());
    hasher.update(&pow.to_le_bytes());
    hasher.update(&nonce.0.to_le_bytes());
    first16(hasher.finalize().as_bytes())
}

fn first16(digest: &[u8; 32]) -> [u8; 16] {
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

/// AES-128 of one block with an expanded cipher.
pub(crate) fn encrypt(cipher: &Aes128, block: &[u8; 16]) -> [u8; 16] {
    let mut out = aes::Block::from(*block);
    cipher.encrypt_block(&mut out);
    out.into()
}

/// The 56-bit value of step 3's tie-break: the lazy cipher's first 8 output bytes, little-endian, masked.
pub(crate) fn lazy_value(lazy: &Aes128, label: &[u8; 16]) -> u64 {
    let out = encrypt(lazy, label);
    let mut low = [0u8; 8];
    low.copy_from_slice(&out[..8]);
    u64::from_le_bytes(low) & LabelThreshold::LSB_MASK
}

/// The outcome of step 3 for one label and one nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelTest {
    /// The label is good for the nonce.
    Good,
    /// The group cipher's byte is above the threshold's top byte.
    HighMsb {
        /// The byte.
        msb: u8,
    },
    /// The byte tied and the lazy value is not below the threshold's low 56 bits.
    HighLsb {
        /// The 56-bit lazy value.
        lsb: u64,
    },
}

/// Both ciphers of one nonce: the label test of step 3, one label at a time.
#[derive(Clone)]
pub struct NonceCipher {
    group: Aes128,
    lazy: Aes128,
    offset: usize,
}

impl std::fmt::Debug for NonceCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceCipher").field("offset", &self.offset).finish_non_exhaustive()
    }
}

impl NonceCipher {
    /// The ciphers of `nonce` whose group's proof of work is `pow`.
    pub fn new(challenge: &Challenge, nonce: Nonce, pow: u64) -> Self {
        let group = nonce.0 / Nonce::GROUP_SIZE;
        Self {
            group: Aes128::new(&group_key(challenge, group, pow).into()),
            lazy: Aes128::new(&lazy_key(challenge, nonce, pow).into()),
            offset: nonce.offset_in_group(),
        }
    }

    /// Step 3 for one label.
    pub fn test(&self, label: &[u8; 16], threshold: LabelThreshold) -> LabelTest {
        let msb = encrypt(&self.group, label)[self.offset];
        if msb < threshold.msb {
            return LabelTest::Good;
        }
        if msb > threshold.msb {
            return LabelTest::HighMsb { msb };
        }
        let lsb = lazy_value(&self.lazy, label);
        if lsb < threshold.lsb {
            LabelTest::Good
        } else {
            LabelTest::HighLsb { lsb }
        }
    }
}

/// The keys of one proving pass: a run of whole nonce groups, with each group's proof of work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceKeys {
    first_group: u32,
    pows: Vec<u64>,
    group_keys: Vec<[u8; 16]>,
    lazy_keys: Vec<[u8; 16]>,
}

impl NonceKeys {
    /// Derives the keys of groups `first_group, first_group + 1, …`, one per entry of `pows`.
    pub fn new(challenge: &Challenge, first_group: NonceGroup, pows: &[u64]) -> Self {
        let first = u32::from(first_group.0);
        let group_keys = (first..).zip(pows).map(|(g, &pow)| group_key(challenge, g, pow)).collect();
        let lazy_keys = (first..)
            .zip(pows)
            .flat_map(|(g, &pow)| {
                (0..Nonce::GROUP_SIZE).map(move |j| lazy_key(challenge, Nonce(g * Nonce::GROUP_SIZE + j), pow))
            })
            .collect();
        Self { first_group: first, pows: pows.to_vec(), group_keys, lazy_keys }
    }

    /// The first nonce of the pass.
    pub fn first_nonce(&self) -> Nonce {
        Nonce(self.first_group * Nonce::GROUP_SIZE)
    }

    /// Number of nonce groups.
    pub fn num_groups(&self) -> usize {
        self.group_keys.len()
    }

    /// The group keys, in group order.
    pub fn group_keys(&self) -> &[[u8; 16]] {
        &self.group_keys
    }

    /// The lazy keys, 16 per group, in nonce order.
    pub fn lazy_keys(&self) -> &[[u8; 16]] {
        &self.lazy_keys
    }

    /// The proof of work of the group of `nonce`, if the nonce is in this pass.
    pub fn pow_of(&self, nonce: Nonce) -> Option<u64> {
        let g = (nonce.0 / Nonce::GROUP_SIZE).checked_sub(self.first_group)?;
        self.pows.get(g as usize).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_layout() {
        let challenge = Challenge([9; 32]);
        let mut group_input = vec![9u8; 32];
        group_input.extend_from_slice(&3u32.to_le_bytes());
        group_input.extend_from_slice(&77u64.to_le_bytes());
        assert_eq!(group_key(&challenge, 3, 77)[..], blake3::hash(&group_input).as_bytes()[..16]);
        group_input.extend_from_slice(&50u32.to_le_bytes());
        assert_eq!(lazy_key(&challenge, Nonce(50), 77)[..], blake3::hash(&group_input).as_bytes()[..16]);
    }

    #[test]
    fn pass_keys_match_single_nonce_ciphers() {
        let challenge = Challenge([5; 32]);
        let keys = NonceKeys::new(&challenge, NonceGroup(2), &[11, 12]);
        assert_eq!(keys.first_nonce(), Nonce(32));
        assert_eq!(keys.num_groups(), 2);
        assert_eq!(keys.lazy_keys().len(), 32);
        assert_eq!(keys.group_keys()[1], group_key(&challenge, 3, 12));
        assert_eq!(keys.lazy_keys()[17], lazy_key(&challenge, Nonce(49), 12));
        assert_eq!(keys.pow_of(Nonce(47)), Some(11));
        assert_eq!(keys.pow_of(Nonce(64)), None);
        assert_eq!(keys.pow_of(Nonce(31)), None);
    }

    #[test]
    fn label_test_splits_on_the_top_byte() {
        let challenge = Challenge([1; 32]);
        let cipher = NonceCipher::new(&challenge, Nonce(5), 0);
        let label = [7u8; 16];
        let group = Aes128::new(&group_key(&challenge, 0, 0).into());
        let msb = encrypt(&group, &label)[5];
        let lazy = lazy_value(&Aes128::new(&lazy_key(&challenge, Nonce(5), 0).into()), &label);
        let t = |msb, lsb| cipher.test(&label, LabelThreshold { msb, lsb });
        if msb < 255 {
            assert_eq!(t(msb + 1, 0), LabelTest::Good);
        }
        if msb > 0 {
            assert_eq!(t(msb - 1, LabelThreshold::LSB_MASK), LabelTest::HighMsb { msb });
        }
        assert_eq!(t(msb, lazy), LabelTest::HighLsb { lsb: lazy });
        assert_eq!(t(msb, lazy + 1), LabelTest::Good);
    }
}
