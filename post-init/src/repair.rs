//! `repair`: rewrite exactly the stored labels that differ from the recomputed ones.
//!
//! ```text
//! 1. Under an exclusive lock, scan every stored label (a full `verify-data`).
//! 2. Refuse when the parameters look wrong, because then every label would "differ" and a repair
//!    would overwrite good data: the recorded VRF nonce does not qualify, or (without a nonce) not a
//!    single label matched.
//! 3. Recompute each bad range in batches and write it in place; sync each touched file.
//! ```
//! Missing, partial, torn and oversized files are reported, not changed: `post init` finishes the first
//! three, and an oversized file needs a person to decide.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;

use post_core::{LabelIndex, LockMode, LABEL_SIZE};
use post_oracle::{LabelJob, Labeller};

use crate::pipeline::write_error;
use crate::verify::check;
use crate::{CancelToken, CheckRequest, Coverage, DataReport, Error, NonceCheck, ProgressSink};

/// Labels recomputed per labeller call while rewriting.
const REWRITE_BATCH: u64 = 4096;

/// Scans every label and rewrites the bad ones (see the module doc); the report lists what was bad.
///
/// # Errors
/// [`Error::RepairRefused`] when the parameters look wrong (nothing is written); the errors of
/// [`crate::verify_data`]; write and sync errors naming the file.
pub fn repair(
    request: &CheckRequest,
    labeller: &dyn Labeller,
    cancel: &CancelToken,
    progress: &dyn ProgressSink,
) -> Result<DataReport, Error> {
    let request = CheckRequest { coverage: Coverage::All, ..request.clone() };
    let (data, mut report) = check(&request, labeller, cancel, progress, LockMode::Exclusive)?;
    if report.cancelled || report.bad.is_empty() {
        return Ok(report);
    }
    let refuse = |reason: String| Err(Error::RepairRefused { dir: request.dir.clone(), reason });
    match &report.nonce {
        NonceCheck::Invalid { nonce, reason } => {
            return refuse(format!("the recorded VRF nonce {nonce} does not qualify ({reason})"));
        }
        NonceCheck::Missing => {
            let bad: u64 = report.bad.iter().map(|r| r.labels.end - r.labels.start).sum();
            if bad == report.labels_checked {
                return refuse(format!(
                    "none of the {bad} stored labels matches, which means other parameters rather than corruption"
                ));
            }
        }
        NonceCheck::Valid(_) => {}
    }
    let commitment = report.metadata.commitment();
    let mut buf = Vec::new();
    let mut touched: Option<(std::path::PathBuf, std::fs::File)> = None;
    for range in &report.bad {
        if touched.as_ref().is_none_or(|(p, _)| *p != range.path) {
            sync_touched(touched.take())?;
            let file = OpenOptions::new().write(true).open(&range.path).map_err(|source| Error::Io {
                path: range.path.clone(),
                action: "opening for repair",
                source,
            })?;
            touched = Some((range.path.clone(), file));
        }
        let mut start = range.labels.start;
        while start < range.labels.end {
            let count = (range.labels.end - start).min(REWRITE_BATCH);
            buf.resize((count * LABEL_SIZE) as usize, 0);
            let job = LabelJob {
                commitment: &commitment,
                params: request.scrypt,
                start: LabelIndex(start),
                out: &mut buf,
                vrf_threshold: None,
            };
            labeller.label(job).map_err(|source| Error::Label { start, count, source })?;
            let at = range.offset + (start - range.labels.start) * LABEL_SIZE;
            if let Some((path, file)) = &touched {
                file.write_all_at(&buf, at).map_err(|e| write_error(path, at, e))?;
            }
            start += count;
        }
    }
    sync_touched(touched)?;
    drop(data);
    report.repaired = true;
    Ok(report)
}

fn sync_touched(touched: Option<(std::path::PathBuf, std::fs::File)>) -> Result<(), Error> {
    match touched {
        Some((path, file)) => file.sync_all().map_err(|e| write_error(&path, u64::MAX, e)),
        None => Ok(()),
    }
}
