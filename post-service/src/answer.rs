//! Answers to the node's requests (spec §3), computed from the shared state in microseconds: nothing here
//! waits for proving, reads the data or touches the disk.
//!
//! ```text
//! metadata                       -> metadata{meta}                      (meta always has the VRF nonce)
//! gen_proof, challenge not 32 B  -> gen_proof{ERROR}
//! gen_proof(c), proof for c kept -> gen_proof{OK, proof, metadata{challenge: c, meta}}  (again if asked again)
//! gen_proof(c), proving c        -> gen_proof{OK}
//! gen_proof(c), c failed         -> gen_proof{ERROR}, and the slot goes Idle: the next request retries
//! gen_proof(c), anything else    -> cancel the other job, start c, gen_proof{OK}
//! no kind (or an unknown one)    -> gen_proof{ERROR}
//! ```

use std::sync::Arc;
use std::time::Instant;

use post_core::{Challenge, PostMetadata, ProofRecord};
use post_proof::CancelToken;

use crate::proto::{
    node_request, service_response, GenProofResponse, GenProofStatus, Metadata, MetadataResponse, NodeRequest, Proof,
    ProofMetadata, ServiceResponse,
};
use crate::prover_thread::ProverThread;
use crate::service_state::{JobSlot, ServiceState};
use crate::Error;

/// Answers requests for one identity.
#[derive(Debug)]
pub struct Answerer {
    meta: Metadata,
    state: Arc<ServiceState>,
    prover: ProverThread,
}

impl Answerer {
    /// An answerer for the data described by `metadata`.
    ///
    /// # Errors
    /// [`Error::NoVrfNonce`] when the metadata has no VRF nonce: the node cannot use such an identity.
    pub fn new(metadata: &PostMetadata, state: Arc<ServiceState>, prover: ProverThread) -> Result<Self, Error> {
        let meta = wire_metadata(metadata)?;
        Ok(Answerer { meta, state, prover })
    }

    /// The shared state.
    pub fn state(&self) -> &Arc<ServiceState> {
        &self.state
    }

    /// The one answer to `request`.
    pub fn answer(&self, request: &NodeRequest) -> ServiceResponse {
        let clock = Instant::now();
        self.state.request_received();
        let response = match &request.kind {
            Some(node_request::Kind::Metadata(_)) => {
                self.state.count(|c| c.metadata_answers += 1);
                ServiceResponse {
                    kind: Some(service_response::Kind::Metadata(MetadataResponse { meta: Some(self.meta.clone()) })),
                }
            }
            Some(node_request::Kind::GenProof(r)) => self.gen_proof(&r.challenge),
            None => {
                tracing::warn!("the node sent a request without a kind (a newer node?); answering ERROR");
                self.error()
            }
        };
        self.state.answered_in(clock.elapsed());
        response
    }

    /// Cancels the running job (its progress is persisted) and stops the prover thread.
    pub fn shutdown(&mut self) {
        self.state.with_job(|job| {
            if let JobSlot::Proving { cancel, .. } = job {
                cancel.cancel();
            }
        });
        self.prover.stop();
    }

    fn gen_proof(&self, challenge: &[u8]) -> ServiceResponse {
        let Ok(bytes) = <[u8; 32]>::try_from(challenge) else {
            tracing::warn!("the node asked for a proof of a {}-byte challenge; answering ERROR", challenge.len());
            return self.error();
        };
        let challenge = Challenge(bytes);
        let hex = hex::encode(bytes);
        enum Next {
            Proof(Arc<ProofRecord>),
            Working,
            Error,
            Start(CancelToken),
        }
        let next = self.state.with_job(|job| match job {
            JobSlot::Done { challenge: c, record, fetched } if *c == challenge => {
                *fetched = true;
                Next::Proof(record.clone())
            }
            JobSlot::Proving { challenge: c, .. } if *c == challenge => Next::Working,
            JobSlot::Failed { challenge: c } if *c == challenge => {
                *job = JobSlot::Idle;
                Next::Error
            }
            other => {
                if let JobSlot::Proving { challenge: old, cancel, .. } = other {
                    tracing::info!(
                        "the node asks for challenge {hex} instead of {}: stopping that proof",
                        hex::encode(old.as_bytes())
                    );
                    cancel.cancel();
                }
                let cancel = CancelToken::new();
                *other = JobSlot::Proving { challenge, cancel: cancel.clone(), progress: None, since: Instant::now() };
                Next::Start(cancel)
            }
        });
        match next {
            Next::Proof(record) => {
                tracing::info!("sending the proof for challenge {hex}");
                self.state.count(|c| c.proofs_sent += 1);
                self.proof(&record, challenge)
            }
            Next::Working => self.working(),
            Next::Error => {
                tracing::warn!("answering ERROR for challenge {hex} (the proof failed; the next request retries)");
                self.error()
            }
            Next::Start(cancel) => {
                tracing::info!("the node asks for a proof of challenge {hex}; starting");
                self.prover.start(challenge, cancel);
                self.working()
            }
        }
    }

    fn working(&self) -> ServiceResponse {
        gen_proof_response(GenProofResponse { status: GenProofStatus::Ok as i32, proof: None, metadata: None })
    }

    fn error(&self) -> ServiceResponse {
        self.state.count(|c| c.error_answers += 1);
        gen_proof_response(GenProofResponse { status: GenProofStatus::Error as i32, proof: None, metadata: None })
    }

    fn proof(&self, record: &ProofRecord, challenge: Challenge) -> ServiceResponse {
        let proof = Proof { nonce: record.proof.nonce, indices: record.proof.indices.clone(), pow: record.proof.pow };
        gen_proof_response(GenProofResponse {
            status: GenProofStatus::Ok as i32,
            proof: Some(proof),
            // The echo is the request's challenge (the record's is the same: the slot is keyed by it).
            metadata: Some(ProofMetadata { challenge: challenge.as_bytes().to_vec(), meta: Some(self.meta.clone()) }),
        })
    }
}

fn gen_proof_response(response: GenProofResponse) -> ServiceResponse {
    ServiceResponse { kind: Some(service_response::Kind::GenProof(response)) }
}

/// The wire `Metadata` of a data directory, which must have a VRF nonce (spec §3.6).
///
/// # Errors
/// [`Error::NoVrfNonce`] when it has none.
pub fn wire_metadata(metadata: &PostMetadata) -> Result<Metadata, Error> {
    let nonce = metadata.nonce.ok_or(Error::NoVrfNonce)?;
    Ok(Metadata {
        node_id: metadata.node_id.as_bytes().to_vec(),
        commitment_atx_id: metadata.commitment_atx_id.as_bytes().to_vec(),
        nonce: Some(nonce),
        num_units: metadata.num_units,
        labels_per_unit: metadata.labels_per_unit,
    })
}
