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

/// A proof with everything a node or certifier needs beside it: the file `post prove` writes and what
/// the proving service answers the node with.
///
/// ```text
/// {"proof": {"nonce", "indices", "pow"},
///  "metadata": {"node_id", "commitment_atx_id", "challenge", "num_units", "labels_per_unit", "vrf_nonce"}}
/// ```
/// Bytes are base64 as in the node's JSON. The `metadata` object is a [`ProofMetadata`] (what the
/// certifier takes) with the data's VRF nonce added, so it also reads as one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProofRecord {
    /// The proof.
    pub proof: Proof,
    /// Whose data, which challenge, how large.
    pub metadata: ProofMetadata,
    /// The data's VRF nonce (`Nonce` of `postdata_metadata.json`), which the node puts in its ATX.
    pub vrf_nonce: Option<u64>,
}

/// The wire form of [`ProofRecord`].
#[derive(Serialize, Deserialize)]
struct RecordWire {
    proof: Proof,
    metadata: RecordMetadataWire,
}

#[derive(Serialize, Deserialize)]
struct RecordMetadataWire {
    #[serde(flatten)]
    metadata: ProofMetadata,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    vrf_nonce: Option<u64>,
}

impl ProofRecord {
    /// Parses the JSON form.
    ///
    /// # Errors
    /// [`Error::ProofJson`] naming the missing or bad field with line and column.
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let wire: RecordWire =
            serde_json::from_str(text).map_err(|e| Error::ProofJson { what: "proof file", reason: e.to_string() })?;
        Ok(Self { proof: wire.proof, metadata: wire.metadata.metadata, vrf_nonce: wire.metadata.vrf_nonce })
    }

    /// The JSON form, pretty-printed with two-space indent.
    pub fn to_json_pretty(&self) -> String {
        let m = &self.metadata;
        let mut metadata = serde_json::json!({
            "node_id": b64::encode(m.node_id.as_bytes()),
            "commitment_atx_id": b64::encode(m.commitment_atx_id.as_bytes()),
            "challenge": b64::encode(m.challenge.as_bytes()),
            "num_units": m.num_units,
        });
        if let Some(labels_per_unit) = m.labels_per_unit {
            metadata["labels_per_unit"] = labels_per_unit.into();
        }
        if let Some(vrf_nonce) = self.vrf_nonce {
            metadata["vrf_nonce"] = vrf_nonce.into();
        }
        let proof = serde_json::json!({
            "nonce": self.proof.nonce,
            "indices": b64::encode(&self.proof.indices),
            "pow": self.proof.pow,
        });
        pretty(&serde_json::json!({ "proof": proof, "metadata": metadata }))
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
    fn proof_records_round_trip_and_read_as_proof_metadata() {
        let record = ProofRecord {
            proof: Proof { nonce: 7, indices: vec![1, 2, 3], pow: 99 },
            metadata: ProofMetadata {
                node_id: NodeId([1; 32]),
                commitment_atx_id: AtxId([2; 32]),
                challenge: Challenge([3; 32]),
                num_units: 4,
                labels_per_unit: Some(4096),
            },
            vrf_nonce: Some(12),
        };
        let text = record.to_json_pretty();
        assert_eq!(ProofRecord::from_json(&text).ok(), Some(record.clone()), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(value["metadata"]["vrf_nonce"], 12);
        assert_eq!(value["proof"]["indices"], "AQID");
        let metadata = ProofMetadata::from_json(&value["metadata"].to_string()).ok();
        assert_eq!(metadata, Some(record.metadata.clone()));
        let err = ProofRecord::from_json(r#"{"nonce": 1, "indices": "AA==", "pow": 0}"#).err();
        assert!(err.is_some_and(|e| e.to_string().contains("proof file")));
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
