//! `verify-data`: check a data directory as a whole — its files' sizes, stray files, every (or a sampled
//! share of every) stored label, and the VRF nonce — and report every problem, never just the first.
//!
//! ```text
//! 1. Open the directory under a shared lock (repair takes an exclusive one).
//! 2. Report each file that is missing, partial, torn or oversized, and each stray postdata_*.bin.
//! 3. Scan the whole labels of every file (see `scan`).
//! 4. Recompute the recorded VRF nonce's label and check it against NonceValue and the difficulty.
//! ```

use std::path::PathBuf;

use post_core::{FileState, FileStatus, LockMode, PostData, PostMetadata, ScryptParams};
use post_oracle::{Labeller, VrfCandidate};

use crate::scan::{BadRange, Coverage, Scan};
use crate::vrf::recorded_best;
use crate::{CancelToken, Error, ProgressSink, Tuning};

/// Labels per work item of a full scan when the labeller prefers fewer.
const MIN_SCAN_BATCH: usize = 256;

/// What to check.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRequest {
    /// The data directory.
    pub dir: PathBuf,
    /// The label cost the data was written with (it is not recorded in the metadata).
    pub scrypt: ScryptParams,
    /// Which labels to recompute; repair always recomputes all of them.
    pub coverage: Coverage,
    /// Batch sizes of a full scan.
    pub tuning: Tuning,
}

/// The state of the recorded VRF nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NonceCheck {
    /// Its label is below the difficulty and matches `NonceValue`.
    Valid(VrfCandidate),
    /// The metadata records no nonce (initialization has not finished the search).
    Missing,
    /// It does not qualify; the reason says why and what to do.
    Invalid {
        /// The recorded nonce.
        nonce: u64,
        /// What is wrong.
        reason: String,
    },
}

/// Everything a check found.
#[derive(Debug, Clone)]
pub struct DataReport {
    /// The data directory.
    pub dir: PathBuf,
    /// Its metadata.
    pub metadata: PostMetadata,
    /// Every file of the layout with its state.
    pub files: Vec<FileStatus>,
    /// `postdata_*.bin` files outside the layout.
    pub stray_files: Vec<PathBuf>,
    /// Runs of labels that differed from the recomputed ones (rewritten when [`DataReport::repaired`]).
    pub bad: Vec<BadRange>,
    /// Labels recomputed.
    pub labels_checked: u64,
    /// The VRF nonce.
    pub nonce: NonceCheck,
    /// The scan was cancelled before the end.
    pub cancelled: bool,
    /// The bad ranges were rewritten with the correct labels.
    pub repaired: bool,
}

impl DataReport {
    /// Files that are not complete.
    pub fn incomplete_files(&self) -> impl Iterator<Item = &FileStatus> {
        self.files.iter().filter(|f| f.state != FileState::Complete)
    }

    /// True when every file is complete, no file is stray, no label was bad (or all bad labels were
    /// repaired), the nonce is valid and the scan ran to its end.
    pub fn is_clean(&self) -> bool {
        self.incomplete_files().next().is_none()
            && self.stray_files.is_empty()
            && (self.bad.is_empty() || self.repaired)
            && matches!(self.nonce, NonceCheck::Valid(_))
            && !self.cancelled
    }
}

/// Checks a data directory under a shared lock (see the module doc); changes nothing.
///
/// # Errors
/// [`Error::Core`] when the directory is locked by a writer or its metadata cannot be read; I/O errors
/// naming the file; [`Error::Label`] when the labeller fails. Corrupt labels are not errors: they are in
/// the report.
pub fn verify_data(
    request: &CheckRequest,
    labeller: &dyn Labeller,
    cancel: &CancelToken,
    progress: &dyn ProgressSink,
) -> Result<DataReport, Error> {
    check(request, labeller, cancel, progress, LockMode::Shared).map(|(_, report)| report)
}

/// Opens the directory in `mode` and checks it; returns the open directory so that its lock outlives the
/// check.
pub(crate) fn check(
    request: &CheckRequest,
    labeller: &dyn Labeller,
    cancel: &CancelToken,
    progress: &dyn ProgressSink,
    mode: LockMode,
) -> Result<(PostData, DataReport), Error> {
    let data = PostData::open(&request.dir, mode)?;
    let metadata = data.metadata().clone();
    let commitment = metadata.commitment();
    let present: Vec<FileStatus> = data.files().iter().filter(|f| f.state != FileState::Missing).cloned().collect();
    let batch = request.tuning.batch_or(labeller.preferred_batch().max(MIN_SCAN_BATCH), 1 << 20);
    let scan = Scan {
        labeller,
        commitment: &commitment,
        params: request.scrypt,
        layout: data.layout(),
        coverage: request.coverage,
        batch: batch as u64,
        cancel,
        progress,
    };
    let result = scan.run(&present)?;
    let nonce = match recorded_best(&request.dir, &metadata, labeller, request.scrypt) {
        Ok(Some(best)) => NonceCheck::Valid(best),
        Ok(None) => NonceCheck::Missing,
        Err(Error::BadNonce { nonce, reason, .. }) => NonceCheck::Invalid { nonce, reason },
        Err(other) => return Err(other),
    };
    let report = DataReport {
        dir: request.dir.clone(),
        metadata,
        files: data.files().to_vec(),
        stray_files: data.unexpected_files().to_vec(),
        bad: result.bad,
        labels_checked: result.checked,
        nonce,
        cancelled: result.cancelled,
        repaired: false,
    };
    Ok((data, report))
}
