//! The k2pow job path of spec §8, shared by the service (which parses it) and the remote client (which
//! writes it):
//!
//! ```text
//! /job/{miner}/{nonce_group}/{challenge}/{difficulty}
//!   miner       64 hex digits   the node id
//!   nonce_group decimal 0..=255
//!   challenge   16 hex digits   the first 8 bytes of the PoST challenge
//!   difficulty  64 hex digits   the pow threshold, already divided by num_units, big-endian
//! ```
//! Lowercase hex is written; either case is read.

use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::PowJob;

/// One k2pow job: everything its RandomX search depends on. Two requests for the same key are the
/// same job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct K2PowJobKey {
    /// The node id.
    pub miner: [u8; 32],
    /// The nonce group.
    pub group: u8,
    /// The first 8 bytes of the challenge (the only ones hashed).
    pub challenge: [u8; 8],
    /// The threshold, already scaled by the number of units.
    pub difficulty: [u8; 32],
}

impl K2PowJobKey {
    /// The key of a proof-of-work job.
    pub fn from_job(job: &PowJob<'_>) -> Self {
        let mut challenge = [0u8; 8];
        challenge.copy_from_slice(&job.challenge.as_bytes()[..8]);
        Self { miner: *job.miner.as_bytes(), group: job.group.0, challenge, difficulty: *job.threshold }
    }

    /// Parses the four path segments after `/job/`.
    ///
    /// # Errors
    /// A sentence naming the segment that does not parse and why (answered with 400).
    pub fn parse(miner: &str, group: &str, challenge: &str, difficulty: &str) -> Result<Self, String> {
        let group = match group.parse::<u16>() {
            Ok(g) if g <= 255 && group.bytes().all(|b| b.is_ascii_digit()) => g as u8,
            _ => return Err(format!("nonce group {group:?} is not a decimal number in 0..=255")),
        };
        Ok(Self {
            miner: hex_array("miner", miner)?,
            group,
            challenge: hex_array("challenge", challenge)?,
            difficulty: hex_array("difficulty", difficulty)?,
        })
    }

    /// The path of this job, lowercase hex.
    pub fn path(&self) -> String {
        format!(
            "/job/{}/{}/{}/{}",
            hex::encode(self.miner),
            self.group,
            hex::encode(self.challenge),
            hex::encode(self.difficulty)
        )
    }

    /// The parts of a [`PowJob`] for this key: the challenge is padded with zeros (only its first 8
    /// bytes are hashed).
    pub fn job_parts(&self) -> (NonceGroup, Challenge, NodeId, [u8; 32]) {
        let mut challenge = [0u8; 32];
        challenge[..8].copy_from_slice(&self.challenge);
        (NonceGroup(self.group), Challenge(challenge), NodeId(self.miner), self.difficulty)
    }
}

fn hex_array<const N: usize>(what: &str, text: &str) -> Result<[u8; N], String> {
    if text.len() != 2 * N {
        return Err(format!("{what} must be {} hex digits, got {}", 2 * N, text.len()));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out).map_err(|e| format!("{what} is not hex: {e}"))?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn path_round_trips_and_accepts_either_case() {
        let key =
            K2PowJobKey { miner: [0xab; 32], group: 200, challenge: [1, 2, 3, 4, 5, 6, 7, 8], difficulty: [0x0f; 32] };
        let path = key.path();
        assert_eq!(path, format!("/job/{}/200/0102030405060708/{}", "ab".repeat(32), "0f".repeat(32)));
        let parts: Vec<&str> = path.trim_start_matches("/job/").split('/').collect();
        assert_eq!(K2PowJobKey::parse(parts[0], parts[1], parts[2], parts[3]).unwrap(), key);
        let upper = K2PowJobKey::parse(&"AB".repeat(32), "200", "0102030405060708", &"0F".repeat(32)).unwrap();
        assert_eq!(upper, key);
    }

    #[test]
    fn bad_segments_are_named() {
        let (m, c, d) = ("ab".repeat(32), "00".repeat(8), "ff".repeat(32));
        for (args, needle) in [
            ((m.as_str(), "256", c.as_str(), d.as_str()), "nonce group"),
            ((m.as_str(), "-1", c.as_str(), d.as_str()), "nonce group"),
            ((m.as_str(), "+1", c.as_str(), d.as_str()), "nonce group"),
            ((&m[2..], "1", c.as_str(), d.as_str()), "miner must be 64"),
            ((m.as_str(), "1", "zz00000000000000", d.as_str()), "challenge is not hex"),
            ((m.as_str(), "1", c.as_str(), &d[1..]), "difficulty must be 64"),
        ] {
            let err = K2PowJobKey::parse(args.0, args.1, args.2, args.3).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn from_job_keeps_the_hashed_bytes() {
        let (challenge, miner) = (Challenge(std::array::from_fn(|i| i as u8)), NodeId([9; 32]));
        let job = PowJob { group: NonceGroup(4), challenge: &challenge, miner: &miner, threshold: &[7; 32] };
        let key = K2PowJobKey::from_job(&job);
        assert_eq!(key.challenge, [0, 1, 2, 3, 4, 5, 6, 7]);
        let (group, padded, node, threshold) = key.job_parts();
        let back = PowJob { group, challenge: &padded, miner: &node, threshold: &threshold };
        assert_eq!(back.input(12345), job.input(12345));
    }
}
