//! Newtypes for the numbers and byte strings that are easy to mix up: label indices, proving nonces,
//! nonce groups and the 32-byte identifiers.

use crate::Error;

/// The global index of a label across all files of a data directory (spec §2.3, §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LabelIndex(pub u64);

/// A proving nonce (spec §5.3). Nonces come in groups of [`Nonce::GROUP_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nonce(pub u32);

/// A group of 16 proving nonces sharing one AES key and one k2 proof of work. The verifier encodes it
/// in one byte, so groups above 255 (nonces from 4096 on) can never verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NonceGroup(pub u8);

impl Nonce {
    /// Number of nonces per group.
    pub const GROUP_SIZE: u32 = 16;

    /// The group this nonce belongs to.
    ///
    /// # Errors
    /// [`Error::InvalidParam`] when the group does not fit in a byte (nonce ≥ 4096).
    pub fn group(self) -> Result<NonceGroup, Error> {
        u8::try_from(self.0 / Self::GROUP_SIZE).map(NonceGroup).map_err(|_| Error::InvalidParam {
            name: "nonce",
            reason: format!("nonce {} is in group {} > 255", self.0, self.0 / Self::GROUP_SIZE),
        })
    }

    /// Position of this nonce inside its group (0..16): the byte of the group's AES output it reads.
    pub fn offset_in_group(self) -> usize {
        (self.0 % Self::GROUP_SIZE) as usize
    }
}

impl NonceGroup {
    /// The first nonce of the group.
    pub fn first_nonce(self) -> Nonce {
        Nonce(u32::from(self.0) * Nonce::GROUP_SIZE)
    }
}

macro_rules! id32 {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Parses 64 hex digits (either case).
            ///
            /// # Errors
            /// [`Error::InvalidParam`] naming `what` when the text is not 64 hex digits.
            pub fn from_hex(what: &'static str, text: &str) -> Result<Self, Error> {
                crate::hexbytes::parse_hex32(what, text).map(Self)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(self.0))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }
    };
}

id32!(
    /// The smesher's node id (public key).
    NodeId
);
id32!(
    /// The commitment ATX id the data is bound to.
    AtxId
);
id32!(
    /// BLAKE3(node id ‖ commitment ATX id): the identity every label is derived from (spec §1).
    Commitment
);
id32!(
    /// The 32-byte challenge a proof answers.
    Challenge
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_groups() {
        assert_eq!(Nonce(0).group().ok(), Some(NonceGroup(0)));
        assert_eq!(Nonce(35).group().ok(), Some(NonceGroup(2)));
        assert_eq!(Nonce(35).offset_in_group(), 3);
        assert_eq!(Nonce(4095).group().ok(), Some(NonceGroup(255)));
        assert!(Nonce(4096).group().is_err());
        assert_eq!(NonceGroup(3).first_nonce(), Nonce(48));
    }
}
