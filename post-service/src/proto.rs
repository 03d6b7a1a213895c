//! The generated messages and stubs of `spacemesh.v1.PostService` (the node is the server, this service the
//! client; the server side is public so that tests can stand in for the node).
//!
//! Field numbers and types are the wire contract of the network's node (`proto/spacemesh/v1/*.proto`).

#[allow(missing_docs, clippy::all, clippy::unwrap_used, missing_debug_implementations, rust_2018_idioms)]
mod generated {
    tonic::include_proto!("spacemesh.v1");
}

pub use generated::*;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use prost::Message as _;

    use super::*;

    #[test]
    fn still_working_answer_has_the_wire_bytes_of_the_spec() {
        let answer = ServiceResponse {
            kind: Some(service_response::Kind::GenProof(GenProofResponse {
                status: GenProofStatus::Ok as i32,
                proof: None,
                metadata: None,
            })),
        };
        assert_eq!(answer.encode_to_vec(), [0x12, 0x02, 0x08, 0x01]);
    }

    #[test]
    fn vrf_nonce_zero_is_present_on_the_wire() {
        let with = Metadata { nonce: Some(0), ..Metadata::default() };
        let without = Metadata::default();
        // Field 3, varint: tag 0x18 then 0.
        assert_eq!(with.encode_to_vec(), [0x18, 0x00]);
        assert!(without.encode_to_vec().is_empty());
    }

    #[test]
    fn unknown_request_kind_decodes_as_absent() {
        // Field 3 (the network's reserved `init`), an empty message.
        let request = NodeRequest::decode(&[0x1a, 0x00][..]).unwrap();
        assert!(request.kind.is_none());
        let request =
            NodeRequest::decode(&[0x12, 0x22, 0x0a, 0x20][..].iter().copied().chain([7u8; 32]).collect::<Vec<_>>()[..])
                .unwrap();
        match request.kind {
            Some(node_request::Kind::GenProof(r)) => assert_eq!(r.challenge, vec![7u8; 32]),
            other => panic!("{other:?}"),
        }
    }

    /// Every field number and wire type of spec §2, written out by hand (independent of the `.proto`, which
    /// the fake node of the tests shares with the service).
    #[test]
    fn field_numbers_are_the_spec_s() {
        let meta = Metadata {
            node_id: vec![1; 32],
            commitment_atx_id: vec![2; 32],
            nonce: Some(5),
            num_units: 4,
            labels_per_unit: 4096,
        };
        let mut meta_bytes = vec![0x0a, 0x20];
        meta_bytes.extend([1; 32]);
        meta_bytes.extend([0x12, 0x20]);
        meta_bytes.extend([2; 32]);
        meta_bytes.extend([0x18, 0x05, 0x20, 0x04, 0x28, 0x80, 0x20]);
        assert_eq!(meta.encode_to_vec(), meta_bytes, "Metadata 1..=5");

        // ServiceResponse.metadata (1) = MetadataResponse { meta (1) }.
        let response = ServiceResponse {
            kind: Some(service_response::Kind::Metadata(MetadataResponse { meta: Some(meta.clone()) })),
        };
        let mut want = vec![0x0a, meta_bytes.len() as u8 + 2, 0x0a, meta_bytes.len() as u8];
        want.extend(&meta_bytes);
        assert_eq!(response.encode_to_vec(), want, "ServiceResponse.metadata");

        // ServiceResponse.gen_proof (2) = { status (1), proof (2) { nonce 1, indices 2, pow 3 },
        // metadata (3) { challenge 1, meta 2 } }.
        let response = ServiceResponse {
            kind: Some(service_response::Kind::GenProof(GenProofResponse {
                status: GenProofStatus::Ok as i32,
                proof: Some(Proof { nonce: 7, indices: vec![0xab, 0xcd], pow: 9 }),
                metadata: Some(ProofMetadata { challenge: vec![3; 32], meta: Some(meta) }),
            })),
        };
        let mut proof_metadata = vec![0x0a, 0x20];
        proof_metadata.extend([3; 32]);
        proof_metadata.extend([0x12, meta_bytes.len() as u8]);
        proof_metadata.extend(&meta_bytes);
        let mut inner = vec![0x08, 0x01, 0x12, 0x08, 0x08, 0x07, 0x12, 0x02, 0xab, 0xcd, 0x18, 0x09];
        inner.extend([0x1a, proof_metadata.len() as u8]);
        inner.extend(&proof_metadata);
        let mut want = vec![0x12, inner.len() as u8];
        want.extend(&inner);
        assert_eq!(response.encode_to_vec(), want, "ServiceResponse.gen_proof");

        // NodeRequest.metadata (1) = {}; NodeRequest.gen_proof (2) = { challenge (1) }.
        let request = NodeRequest { kind: Some(node_request::Kind::Metadata(MetadataRequest {})) };
        assert_eq!(request.encode_to_vec(), [0x0a, 0x00]);
        let request =
            NodeRequest { kind: Some(node_request::Kind::GenProof(GenProofRequest { challenge: vec![0; 32] })) };
        let mut want = vec![0x12, 0x22, 0x0a, 0x20];
        want.extend([0; 32]);
        assert_eq!(request.encode_to_vec(), want);
        assert_eq!(GenProofStatus::Unspecified as i32, 0);
        assert_eq!(GenProofStatus::Error as i32, 2);
    }

    #[test]
    fn the_rpc_path_is_the_node_s() {
        let source = include_str!(concat!(env!("OUT_DIR"), "/spacemesh.v1.rs"));
        assert!(source.contains("\"/spacemesh.v1.PostService/Register\""), "the generated client calls another path");
    }
}
