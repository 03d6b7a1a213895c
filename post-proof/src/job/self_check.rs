//! The job's last step: a proof is verified before it is returned, with the strict verifier over all
//! k2 indices, and when that fails the stored labels behind the proof are compared with recomputed ones
//! so that the message names each bad label's file and byte offset.
//!
//! ```text
//! 1. Verifier(k3 = k2).verify(proof, metadata, Mode::All)       ok → the proof is returned
//! 2. else, for every index of the proof: recompute label16(commitment, index) and compare it with the
//!    16 bytes stored at (file, offset) of the layout; every mismatch is a bad label
//! 3. fail with the verifier's reason and the bad labels (none found: the fault is not in the data)
//! ```

use std::path::PathBuf;

use post_core::{InitConfig, LabelIndex, Layout, Proof, ProofConfig, ProofMetadata, ScryptParams};

use crate::{BadLabel, Error, LabelRegion, Mode, PowVerifier, Verifier};

/// What the check needs to know about the data.
pub(crate) struct CheckTarget<'a> {
    pub dir: &'a std::path::Path,
    pub layout: &'a Layout,
    pub regions: &'a [LabelRegion<'a>],
    pub scrypt: ScryptParams,
    pub labels_per_unit: u64,
    pub max_file_size: u64,
}

/// Steps 1–3.
///
/// # Errors
/// [`Error::SelfCheck`] when the proof does not verify; the verifier's own failures (RandomX, labels)
/// as they are.
pub(crate) fn check(
    pow: &dyn PowVerifier,
    config: ProofConfig,
    target: &CheckTarget<'_>,
    proof: &Proof,
    indices: &[u64],
    metadata: &ProofMetadata,
) -> Result<(), Error> {
    // Step 1.
    let init = InitConfig {
        labels_per_unit: target.labels_per_unit,
        min_num_units: 1,
        max_num_units: u32::MAX,
        max_file_size: target.max_file_size,
        scrypt: target.scrypt,
    };
    let verifier = Verifier::new(pow, config, init)?;
    let reason = match verifier.verify(proof, metadata, &Mode::All) {
        Ok(()) => return Ok(()),
        Err(e) if e.is_rejection() => e.to_string(),
        Err(e) => return Err(e),
    };
    // Step 2.
    let commitment = post_core::commitment(&metadata.node_id, &metadata.commitment_atx_id);
    let mut bad = Vec::new();
    for &index in indices {
        let expected = post_oracle::label16(&commitment, target.scrypt, LabelIndex(index))?;
        let stored = stored_label(target.regions, index);
        if stored != Some(expected) {
            let (file, offset) = target.layout.locate(LabelIndex(index))?;
            bad.push(BadLabel { index, file: file_path(target, file), offset });
        }
    }
    // Step 3.
    Err(Error::SelfCheck { reason, bad })
}

fn file_path(target: &CheckTarget<'_>, file: u32) -> PathBuf {
    Layout::file_path(target.dir, file)
}

/// The stored label at `index`, if some region holds it.
fn stored_label(regions: &[LabelRegion<'_>], index: u64) -> Option<[u8; 16]> {
    regions.iter().find_map(|r| {
        let k = index.checked_sub(r.first.0)?;
        r.labels.get(usize::try_from(k).ok()?).copied()
    })
}
