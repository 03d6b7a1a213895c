//! The proof and its metadata as JSON, exactly as post-rs writes them (post-service, certifier, spec
//! §5.6): `{"nonce": n, "indices": "<base64>", "pow": n}` and
//! `{"node_id": "<base64>", "commitment_atx_id": "<base64>", "challenge": "<base64>", "num_units": n}`.
//!
//! The indices stay packed here (spec §5.6); [`crate::decode_indices_strict`] unpacks them. Go's proof
//! metadata also carries `labels_per_unit`; it is optional here, read when present and written only when
//! set, so the reference format round-trips unchanged.

use serde::{Deserialize, Serialize};

use crate::{b64, AtxId, Challenge, Error, NodeId};

/// A proof of space-time: the winning nonce, its k2 good label indices packed, and the k2 PoW.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Proof {
    /// The nonce whose k2 labels were found.
    pub nonce: u32,
    /// The k2 label indices packed with `required_bits(num_labels)` bits each (spec §5.6).
    #[serde(with = "b64::bytes")]
    pub indices: Vec<u8>,
    /// The RandomX proof of work of the nonce's group (spec §6).
    pub pow: u64,
}

/// What a verifier needs besides the proof: whose data, for which challenge, how large.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProofMetadata {
    /// The prover's node id.
    #[serde(with = "b64::id")]
    pub node_id: NodeId,
    /// The commitment ATX id of the data.
    #[serde(with = "b64::id")]
    pub commitment_atx_id: AtxId,
    /// The challenge the proof answers.
    #[serde(with = "b64::id")]
    pub challenge: Challenge,
    /// Space units of the data.
    pub num_units: u32,
    /// Labels per unit, when the producer states it (Go does; post-rs does not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels_per_unit: Option<u64>,
}

impl Proof {
    /// Parses the JSON form.
    ///
    /// # Errors
    /// [`Error::ProofJson`] naming the missing or bad field with line and column.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::ProofJson { what: "proof", reason: e.to_string() })
    }

    /// The JSON form, pretty-printed with two-space indent.
    pub fn to_json_pretty(&self) -> String {
        pretty(&serde_json::json!({
            "nonce": self.nonce,
            "indices": b64::encode(&self.indices),
            "pow": self.pow,
        }))
    }
}

impl ProofMetadata {
    /// Parses the JSON form.
    ///
    /// # Errors
    /// [`Error::ProofJson`] naming the missing or bad field with line and column.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        serde_json::from_str(text).map_err(|e| Error::ProofJson { what: "proof metadata", reason: e.to_string() })
    }

    /// The JSON form, pretty-printed with two-space indent.
    pub fn to_json_pretty(&self) -> String {
        let mut value = serde_json::json!({
            "node_id": b64::encode(self.node_id.as_bytes()),
            "commitment_atx_id": b64::encode(self.commitment_atx_id.as_bytes()),
            "challenge": b64::encode(self.challenge.as_bytes()),
            "num_units": self.num_units,
        });
        if let Some(labels_per_unit) = self.labels_per_unit {
            value["labels_per_unit"] = labels_per_unit.into();
        }
        pretty(&value)
    }
}

/// serde_json's pretty form of a value; `{:#}` on a `Value` cannot fail, unlike `to_string_pretty`.
fn pretty(value: &serde_json::Value) -> String {
    format!("{value:#}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_round_trips() {
        let proof = Proof { nonce: 2, indices: vec![0x19, 0x78, 0x00], pow: u64::MAX };
        let text = proof.to_json_pretty();
        assert!(text.contains("\"indices\": \"GXgA\""), "{text}");
        assert_eq!(Proof::from_json(&text).ok(), Some(proof));
    }

    #[test]
    fn malformed_proofs_say_what_is_wrong() {
        let err = |text: &str| Proof::from_json(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(r#"{"nonce": 1, "indices": "AA=="}"#).contains("missing field `pow`"));
        assert!(err(r#"{"nonce": 4294967296, "indices": "AA==", "pow": 0}"#).contains("u32"));
        assert!(err(r#"{"nonce": 1, "indices": "A", "pow": 0}"#).contains("not standard base64"));
        assert!(err(r#"{"nonce": -1, "indices": "", "pow": 0}"#).contains("line 1"));
    }

    #[test]
    fn metadata_ids_must_be_32_bytes() {
        let text = r#"{"node_id": "AAAA", "commitment_atx_id": "AAAA", "challenge": "AAAA", "num_units": 1}"#;
        let err = ProofMetadata::from_json(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("proof metadata") && err.contains("expected 32"), "{err}");
    }

    #[test]
    fn labels_per_unit_is_optional() {
        let mut m = ProofMetadata {
            node_id: NodeId([1; 32]),
            commitment_atx_id: AtxId([2; 32]),
            challenge: Challenge([3; 32]),
            num_units: 4,
            labels_per_unit: None,
        };
        assert!(!m.to_json_pretty().contains("labels_per_unit"));
        assert_eq!(ProofMetadata::from_json(&m.to_json_pretty()).ok(), Some(m.clone()));
        m.labels_per_unit = Some(256);
        assert!(m.to_json_pretty().contains("\"labels_per_unit\": 256"));
        assert_eq!(ProofMetadata::from_json(&m.to_json_pretty()).ok(), Some(m));
    }
}
