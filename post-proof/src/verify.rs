//! The verifier (spec §7), stricter than the network's reference: besides the reference's checks it
//! refuses repeated indices, indices beyond the data, non-zero padding bits and `pow` values of 2^56 or
//! more, all of which the reference lets through.
//!
//! ```text
//! 1. num_units in min..=max                                  else NumUnitsOutOfRange
//! 2. nonce / 16 ≤ 255                                        else NonceGroupOutOfRange
//! 3. B = required_bits(num_units · labels_per_unit)          (the verifier's labels_per_unit)
//!    indices = exactly k2 fields of B bits, zero padding     else IndicesLength / IndicesEncoding
//! 4. every index < num_labels, no index twice                else IndexOutOfRange / DuplicateIndex
//! 5. pow < 2^56 and RandomX(pow input) < pow_difficulty / num_units   else PowOutOfRange / InvalidPow
//! 6. select positions: All = 0..k2; One{p} = p; Subset{k3, seed} = first k3 of
//!    RandomValues(0..k2, BLAKE3-XOF(seed || node_id || challenge))  (k3 ≥ k2 means All)
//! 7. per selected index, in selection order: label16(commitment, index), then the label test of
//!    cipher.rs with the proof's nonce and pow               else InvalidMsb / InvalidLsb
//! ```
//!
//! Steps 1–4 cost nothing, so a malformed proof never reaches RandomX. Step 5 and the labels of step 7
//! run at the same time on the rayon pool (one light RandomX hash and k3 scrypt labels); a failing proof
//! of work is reported before a failing label. A [`Verifier`] is built once — it holds the RandomX cache
//! and VMs — and verifies any number of proofs, from any number of threads.

use std::collections::HashMap;

use post_core::{
    commitment, decode_indices_strict, proving_difficulty, required_bits, scale_pow_difficulty, InitConfig, LabelIndex,
    LabelThreshold, Nonce, Proof, ProofConfig, ProofMetadata,
};
use rayon::prelude::*;

use crate::cipher::{LabelTest, NonceCipher};
use crate::{Error, PowJob, PowVerifier, RandomValues};

/// Which of the proof's k2 indices to recompute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// All of them (certifiers, and our own proofs).
    All,
    /// Only the one at this position, 0-based (malfeasance checks).
    One {
        /// The position in the proof.
        position: usize,
    },
    /// `k3` of them, chosen by a seed (what nodes do, with their peer id as the seed).
    Subset {
        /// How many.
        k3: usize,
        /// The seed; hashed with the node id and the challenge.
        seed: Vec<u8>,
    },
}

/// Checks proofs against one configuration, with one proof-of-work verifier.
#[derive(Debug)]
pub struct Verifier<P> {
    pow: P,
    proof_config: ProofConfig,
    init_config: InitConfig,
}

impl<P: PowVerifier> Verifier<P> {
    /// A verifier for proofs made with `proof_config` on data shaped by `init_config`.
    ///
    /// # Errors
    /// The validation errors of both configurations.
    pub fn new(pow: P, proof_config: ProofConfig, init_config: InitConfig) -> Result<Self, Error> {
        Ok(Self { pow, proof_config: proof_config.validate()?, init_config: init_config.validate()? })
    }

    /// The proof-of-work verifier.
    pub fn pow(&self) -> &P {
        &self.pow
    }

    /// Verifies `proof` for `metadata` (steps 1–7).
    ///
    /// # Errors
    /// A rejection ([`Error::is_rejection`]) naming the field, index or position at fault; or a failure
    /// to check: a configuration that yields no difficulty, a `Mode::One` position beyond k2, a RandomX
    /// or label-function failure.
    pub fn verify(&self, proof: &Proof, metadata: &ProofMetadata, mode: &Mode) -> Result<(), Error> {
        let (init, cfg) = (&self.init_config, &self.proof_config);
        let num_units = metadata.num_units;
        // Step 1.
        if num_units < init.min_num_units || num_units > init.max_num_units {
            return Err(Error::NumUnitsOutOfRange { num_units, min: init.min_num_units, max: init.max_num_units });
        }
        // Step 2.
        let group = Nonce(proof.nonce).group().map_err(|_| Error::NonceGroupOutOfRange { nonce: proof.nonce })?;
        // Step 3.
        let num_labels = init.num_labels(num_units)?;
        let indices = decode(&proof.indices, required_bits(num_labels), cfg.k2)?;
        // Step 4.
        check_indices(&indices, num_labels)?;
        // Step 6 (cheap, and a bad position is a usage error that should not cost a hash).
        let positions = select(&indices, metadata, mode)?;

        // Steps 5 and 7, side by side.
        let threshold = LabelThreshold::from_difficulty(proving_difficulty(cfg.k1, num_labels)?);
        let pow_threshold = scale_pow_difficulty(&cfg.pow_difficulty, num_units)?;
        let job = PowJob { group, challenge: &metadata.challenge, miner: &metadata.node_id, threshold: &pow_threshold };
        let commitment = commitment(&metadata.node_id, &metadata.commitment_atx_id);
        let (pow, labels) = rayon::join(
            || self.pow.verify(proof.pow, &job),
            || {
                positions
                    .par_iter()
                    .map(|&p| post_oracle::label16(&commitment, init.scrypt, LabelIndex(indices[p])))
                    .collect::<Result<Vec<_>, _>>()
            },
        );
        pow?;
        let cipher = NonceCipher::new(&metadata.challenge, Nonce(proof.nonce), proof.pow);
        for (&position, label) in positions.iter().zip(labels?) {
            let index = indices[position];
            match cipher.test(&label, threshold) {
                LabelTest::Good => {}
                LabelTest::HighMsb { msb } => {
                    return Err(Error::InvalidMsb { index, position, msb, threshold: threshold.msb, label })
                }
                LabelTest::HighLsb { lsb } => {
                    return Err(Error::InvalidLsb { index, position, lsb, threshold: threshold.lsb, label })
                }
            }
        }
        Ok(())
    }
}

/// Step 3: exactly k2 indices of `bits` bits.
fn decode(bytes: &[u8], bits: u32, k2: u32) -> Result<Vec<u64>, Error> {
    decode_indices_strict(bytes, bits, k2 as usize).map_err(|e| match e {
        post_core::Error::CodecLength { expected, got, .. } => Error::IndicesLength { expected, got, k2, bits },
        other => Error::IndicesEncoding { source: other },
    })
}

/// Step 4: in range and distinct, naming the first offender by position.
fn check_indices(indices: &[u64], num_labels: u64) -> Result<(), Error> {
    let mut seen = HashMap::with_capacity(indices.len());
    for (position, &index) in indices.iter().enumerate() {
        if index >= num_labels {
            return Err(Error::IndexOutOfRange { index, position, num_labels });
        }
        if let Some(first) = seen.insert(index, position) {
            return Err(Error::DuplicateIndex { index, first, second: position });
        }
    }
    Ok(())
}

/// Step 6: the positions to recompute, in the order they are checked.
fn select(indices: &[u64], metadata: &ProofMetadata, mode: &Mode) -> Result<Vec<usize>, Error> {
    let k2 = indices.len();
    match mode {
        Mode::All => Ok((0..k2).collect()),
        Mode::Subset { k3, .. } if *k3 >= k2 => Ok((0..k2).collect()),
        Mode::One { position } if *position < k2 => Ok(vec![*position]),
        Mode::One { position } => Err(Error::InvalidParam {
            name: "index position",
            reason: format!("position {position} is not below k2 = {k2}"),
        }),
        Mode::Subset { k3, seed } => {
            let parts: [&[u8]; 3] = [seed, metadata.node_id.as_bytes(), metadata.challenge.as_bytes()];
            Ok(RandomValues::new((0..k2).collect(), &parts)?.take(*k3).collect())
        }
    }
}
