//! Standard base64 with padding, the encoding both reference tools use for byte strings in JSON (Go's
//! `[]byte`, post-rs `serde_with::base64::Base64`), with decoding errors that name the field and the
//! length found.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serializer};

use crate::{AtxId, Challenge, NodeId};

/// Encodes bytes as standard padded base64.
pub(crate) fn encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64 of any length.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    STANDARD.decode(text).map_err(|e| format!("{text:?} is not standard base64: {e}"))
}

/// Decodes standard padded base64 of exactly `N` bytes.
pub(crate) fn decode_exact<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let bytes = decode(text)?;
    <[u8; N]>::try_from(bytes.as_slice())
        .map_err(|_| format!("{text:?} decodes to {} bytes, expected {N}", bytes.len()))
}

/// Serde helpers for a `Vec<u8>` field written as base64.
pub(crate) mod bytes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(bytes))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        decode(&text).map_err(serde::de::Error::custom)
    }
}

/// A 32-byte identifier that travels as base64 in JSON.
pub(crate) trait Id32: Sized {
    fn bytes(&self) -> &[u8; 32];
    fn from_bytes(bytes: [u8; 32]) -> Self;
}

macro_rules! id32 {
    ($($t:ty),*) => {$(
        impl Id32 for $t {
            fn bytes(&self) -> &[u8; 32] {
                &self.0
            }
            fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }
        }
    )*};
}
id32!(NodeId, AtxId, Challenge);

/// Serde helpers for a 32-byte identifier written as base64.
pub(crate) mod id {
    use super::*;

    pub(crate) fn serialize<T: Id32, S: Serializer>(id: &T, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&encode(id.bytes()))
    }

    pub(crate) fn deserialize<'de, T: Id32, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
        let text = String::deserialize(d)?;
        decode_exact::<32>(&text).map(T::from_bytes).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths_and_errors() {
        assert_eq!(decode_exact::<32>("ERERERERERERERERERERERERERERERERERERERERERE=").ok(), Some([0x11; 32]));
        let short = decode_exact::<32>("ERER").err().unwrap_or_default();
        assert!(short.contains("3 bytes, expected 32"), "{short}");
        let bad = decode_exact::<32>("not base64!").err().unwrap_or_default();
        assert!(bad.contains("not standard base64"), "{bad}");
        // Padding is required, as Go and post-rs write it.
        assert!(decode("ERERERERERERERERERERERERERERERERERERERERERE").is_err());
        assert_eq!(encode(&[0xff, 0x00]), "/wA=");
    }
}
