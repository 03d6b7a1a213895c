//! The certificate of spec §9 and its signature.
//!
//! ```text
//! certificate = SCALE{pub_key: Vec<u8> = node id, expiration: Option<Compact<u64>> = unix seconds}
//!             = 0x80 (compact length 32) || node id (32 bytes) || 0x00                  no expiry
//!                                                             || 0x01 || compact(u64)   expiry
//! signature   = ed25519(certifier key, certificate bytes)
//! compact(x)  = x < 2^6:  [x<<2]            x < 2^14: LE16((x<<2)|1)
//!               x < 2^30: LE32((x<<2)|2)    else: [((n-4)<<2)|3] || x as n minimal LE bytes
//! ```
//!
//! The SCALE bytes are written by hand instead of with `parity-scale-codec`: the format is two fields
//! whose every byte the spec fixes, and a codec framework (derive macros, its own traits) would be the
//! largest dependency of the crate for a dozen lines. The decoder exists for clients and tests.

use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;

/// What a certificate says: whose it is and until when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate {
    /// The certified node id.
    pub node_id: [u8; 32],
    /// Unix seconds after which it is void; `None` for never.
    pub expiration: Option<u64>,
}

impl Certificate {
    /// The SCALE bytes (the table above).
    pub fn to_scale(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(34 + 9);
        compact(self.node_id.len() as u64, &mut out);
        out.extend_from_slice(&self.node_id);
        match self.expiration {
            None => out.push(0),
            Some(at) => {
                out.push(1);
                compact(at, &mut out);
            }
        }
        out
    }

    /// Reads SCALE bytes back.
    ///
    /// # Errors
    /// A sentence saying which byte does not fit the format (a truncated input, a length other than 32,
    /// an option tag other than 0 or 1, a non-minimal compact, bytes left over).
    pub fn from_scale(bytes: &[u8]) -> Result<Self, String> {
        let mut at = 0;
        let length = decode_compact(bytes, &mut at)?;
        if length != 32 {
            return Err(format!("the node id is {length} bytes long, expected 32"));
        }
        let node_id: [u8; 32] =
            bytes.get(at..at + 32).and_then(|s| s.try_into().ok()).ok_or_else(|| "truncated node id".to_string())?;
        at += 32;
        let expiration = match bytes.get(at) {
            Some(0) => {
                at += 1;
                None
            }
            Some(1) => {
                at += 1;
                Some(decode_compact(bytes, &mut at)?)
            }
            Some(tag) => return Err(format!("option tag {tag} at byte {at}, expected 0 or 1")),
            None => return Err("truncated: no expiration tag".into()),
        };
        if at != bytes.len() {
            return Err(format!("{} bytes left over after the certificate", bytes.len() - at));
        }
        Ok(Self { node_id, expiration })
    }

    /// The certificate's bytes and their signature by `key`.
    pub fn sign(&self, key: &SigningKey) -> (Vec<u8>, [u8; 64]) {
        let bytes = self.to_scale();
        let signature = key.sign(&bytes).to_bytes();
        (bytes, signature)
    }
}

/// SCALE compact encoding of `x` (spec §9).
fn compact(x: u64, out: &mut Vec<u8>) {
    if x < 1 << 6 {
        out.push((x as u8) << 2);
    } else if x < 1 << 14 {
        out.extend_from_slice(&(((x as u16) << 2) | 1).to_le_bytes());
    } else if x < 1 << 30 {
        out.extend_from_slice(&(((x as u32) << 2) | 2).to_le_bytes());
    } else {
        let bytes = 8 - (x.leading_zeros() / 8) as usize;
        out.push((((bytes - 4) as u8) << 2) | 3);
        out.extend_from_slice(&x.to_le_bytes()[..bytes]);
    }
}

/// Reads one compact integer at `*at`, refusing non-minimal forms.
fn decode_compact(bytes: &[u8], at: &mut usize) -> Result<u64, String> {
    let start = *at;
    let first = *bytes.get(start).ok_or_else(|| format!("truncated compact integer at byte {start}"))?;
    let take = |n: usize| -> Result<u64, String> {
        let slice = bytes.get(start..start + n).ok_or_else(|| format!("truncated compact integer at byte {start}"))?;
        let mut le = [0u8; 8];
        le[..n].copy_from_slice(slice);
        Ok(u64::from_le_bytes(le))
    };
    let (value, length, minimum) = match first & 3 {
        0 => (u64::from(first >> 2), 1, 0),
        1 => (take(2)? >> 2, 2, 1 << 6),
        2 => (take(4)? >> 2, 4, 1 << 14),
        _ => {
            let n = usize::from(first >> 2) + 4;
            if n > 8 {
                return Err(format!("compact integer of {n} bytes at byte {start} does not fit 64 bits"));
            }
            let value = bytes
                .get(start + 1..start + 1 + n)
                .map(|s| {
                    let mut le = [0u8; 8];
                    le[..n].copy_from_slice(s);
                    u64::from_le_bytes(le)
                })
                .ok_or_else(|| format!("truncated compact integer at byte {start}"))?;
            let minimum = if n == 4 { 1 << 30 } else { 1u64 << (8 * (n - 1)) };
            (value, n + 1, minimum)
        }
    };
    if value < minimum {
        return Err(format!("compact integer {value} at byte {start} is not in its shortest form"));
    }
    *at = start + length;
    Ok(value)
}

/// A fresh certifier key pair, as `generate-keys` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifierKeys {
    /// The ed25519 public key (what PoETs are configured with).
    pub public_key: [u8; 32],
    /// The ed25519 secret key (RFC 8032 seed; the certifier's `signing_key`).
    pub secret_key: [u8; 32],
}

impl CertifierKeys {
    /// A key pair from the operating system's random source.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        Self { public_key: key.verifying_key().to_bytes(), secret_key: seed }
    }

    /// `{"public_key": "<base64>", "secret_key": "<base64>"}`, pretty-printed (the reference's output).
    pub fn to_json_pretty(&self) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let value = serde_json::json!({
            "public_key": b64.encode(self.public_key),
            "secret_key": b64.encode(self.secret_key),
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use ed25519_dalek::{Signature, Verifier};

    use super::*;

    fn encoded(x: u64) -> Vec<u8> {
        let mut out = Vec::new();
        compact(x, &mut out);
        out
    }

    #[test]
    fn compact_matches_the_spec_at_every_boundary() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x04]),
            (63, &[0xfc]),
            (64, &[0x01, 0x01]),
            (16383, &[0xfd, 0xff]),
            (16384, &[0x02, 0x00, 0x01, 0x00]),
            ((1 << 30) - 1, &[0xfe, 0xff, 0xff, 0xff]),
            (1 << 30, &[0x03, 0x00, 0x00, 0x00, 0x40]),
            (1_700_000_000, &[0x03, 0x00, 0xf1, 0x53, 0x65]),
            (1 << 32, &[0x07, 0x00, 0x00, 0x00, 0x00, 0x01]),
            (u64::MAX, &[0x13, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        ];
        for &(x, bytes) in cases {
            assert_eq!(encoded(x), bytes, "{x}");
            let mut at = 0;
            assert_eq!(decode_compact(bytes, &mut at).unwrap(), x);
            assert_eq!(at, bytes.len());
        }
        assert!(decode_compact(&[0x01, 0x00], &mut 0).unwrap_err().contains("shortest"));
        assert!(decode_compact(&[0x03, 0xff, 0xff, 0xff, 0x00], &mut 0).unwrap_err().contains("shortest"));
        assert!(decode_compact(&[0x17, 0, 0, 0, 0, 0, 0, 0, 0, 1], &mut 0).unwrap_err().contains("64 bits"));
    }

    #[test]
    fn certificate_bytes_are_the_spec_s() {
        let no_expiry = Certificate { node_id: [7; 32], expiration: None };
        let mut expected = vec![0x80];
        expected.extend_from_slice(&[7; 32]);
        expected.push(0);
        assert_eq!(no_expiry.to_scale(), expected);
        let expiring = Certificate { node_id: [7; 32], expiration: Some(1_700_000_000) };
        let bytes = expiring.to_scale();
        assert_eq!(&bytes[33..], &[0x01, 0x03, 0x00, 0xf1, 0x53, 0x65]);
        for cert in [no_expiry, expiring] {
            assert_eq!(Certificate::from_scale(&cert.to_scale()).unwrap(), cert);
        }
        assert!(Certificate::from_scale(&bytes[..20]).is_err());
        assert!(Certificate::from_scale(&[bytes.as_slice(), &[0]].concat()).unwrap_err().contains("left over"));
        let mut tag = expected.clone();
        tag[33] = 2;
        assert!(Certificate::from_scale(&tag).unwrap_err().contains("option tag 2"));
    }

    #[test]
    fn signature_verifies_with_the_public_key() {
        let keys = CertifierKeys::generate();
        let key = SigningKey::from_bytes(&keys.secret_key);
        let (bytes, signature) = Certificate { node_id: [1; 32], expiration: Some(5) }.sign(&key);
        let public = ed25519_dalek::VerifyingKey::from_bytes(&keys.public_key).unwrap();
        public.verify(&bytes, &Signature::from_bytes(&signature)).unwrap();
        assert!(public.verify(b"other", &Signature::from_bytes(&signature)).is_err());
        let json: serde_json::Value = serde_json::from_str(&keys.to_json_pretty()).unwrap();
        assert!(json["public_key"].is_string() && json["secret_key"].is_string());
        assert_ne!(CertifierKeys::generate(), keys);
    }
}
