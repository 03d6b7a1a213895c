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
}
