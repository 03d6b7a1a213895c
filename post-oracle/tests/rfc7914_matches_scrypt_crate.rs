//! The shared scrypt engine instantiated as RFC 7914 (HMAC-SHA-256 + Salsa20/8) equals the `scrypt`
//! crate bit for bit on random inputs. The network's instantiation differs only in the hash and the
//! mix core, so this checks PBKDF2, BlockMix, ROMix and Integerify against a well-kept implementation.

#![allow(clippy::unwrap_used)]

use post_core::ScryptParams;
use post_oracle::scrypt_rfc7914;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn engine_equals_scrypt_crate(
        password in proptest::collection::vec(any::<u8>(), 0..100),
        salt in proptest::collection::vec(any::<u8>(), 0..100),
        log_n in 1u8..=10,
        log_r in 0u32..=2,
        log_p in 0u32..=1,
        len in 1usize..=200,
    ) {
        let (r, p) = (1u32 << log_r, 1u32 << log_p);
        let mut ours = vec![0u8; len];
        scrypt_rfc7914(&password, &salt, ScryptParams::new(1 << log_n, r.into(), p.into()).unwrap(), &mut ours)
            .unwrap();
        let mut theirs = vec![0u8; len];
        scrypt::scrypt(&password, &salt, &scrypt::Params::new(log_n, r, p, 32).unwrap(), &mut theirs).unwrap();
        prop_assert_eq!(ours, theirs);
    }
}
