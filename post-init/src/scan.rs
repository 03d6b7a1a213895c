//! The label scan behind `verify-data` and `repair`: recompute stored labels and compare them with the
//! disk.
//!
//! ```text
//! 1. Per file, the whole labels on disk (at most the layout's size) are cut into work items, lazily:
//!    batches for a full scan, sampled chunks (see `sampling`) for a partial one.
//! 2. Items run in parallel (rayon), a group of them at a time: read the stored bytes, compute the
//!    labels, compare label by label and record each run of differing labels.
//! 3. Runs of neighbouring items are joined, so every bad range is reported once, in index order.
//! ```

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use post_core::{Commitment, FileStatus, LabelIndex, Layout, ScryptParams, LABEL_SIZE};
use post_oracle::{LabelJob, Labeller};
use rayon::prelude::*;

use crate::{CancelToken, Error, Event, ProgressSink, Sampler};

/// A run of stored labels that differ from the recomputed ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRange {
    /// The file number.
    pub file: u32,
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the first bad label in the file.
    pub offset: u64,
    /// Global indices of the bad labels.
    pub labels: Range<u64>,
}

/// Which labels a scan recomputes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Coverage {
    /// Every label on disk.
    All,
    /// About `percent` % of the labels, in chunks of `chunk` labels picked from `seed` (see [`Sampler`]).
    Fraction {
        /// Share of labels to check, 0–100.
        percent: f64,
        /// The seed that fixes the choice.
        seed: u64,
        /// Labels per sampled chunk.
        chunk: u64,
    },
}

/// Work items checked in parallel at a time; the next group is produced when one is done.
const ITEMS_PER_GROUP: usize = 4096;

/// What the scan needs.
pub(crate) struct Scan<'a> {
    pub labeller: &'a dyn Labeller,
    pub commitment: &'a Commitment,
    pub params: ScryptParams,
    pub layout: &'a Layout,
    pub coverage: Coverage,
    /// Labels per work item of a full scan.
    pub batch: u64,
    pub cancel: &'a CancelToken,
    pub progress: &'a dyn ProgressSink,
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct ScanResult {
    pub bad: Vec<BadRange>,
    pub checked: u64,
    pub cancelled: bool,
}

impl Scan<'_> {
    /// Scans the whole labels of every given file.
    ///
    /// # Errors
    /// [`Error::Io`] naming the file when it cannot be read,
    /// [`Error::Label`] when the labeller fails.
    pub fn run(&self, files: &[FileStatus]) -> Result<ScanResult, Error> {
        // The items are produced lazily, file by file and a group at a time: memory does not grow with
        // the number of files or their size (a list of every item of a mainnet directory would take
        // gigabytes).
        let total = files.iter().map(|f| self.items(f).map(|r| r.end - r.start).sum::<u64>()).sum();
        self.progress.event(&Event::VerifyStarted { total_labels: total });
        let mut result = ScanResult::default();
        let stop = AtomicBool::new(false);
        for file in files {
            let mut items = self.items(file).peekable();
            if items.peek().is_none() {
                continue;
            }
            let handle = File::open(&file.path).map_err(|source| Error::Io {
                path: file.path.clone(),
                action: "opening",
                source,
            })?;
            let first = self.layout.file_labels(file.index).start;
            loop {
                let group: Vec<Range<u64>> = items.by_ref().take(ITEMS_PER_GROUP).collect();
                if group.is_empty() {
                    break;
                }
                let runs: Vec<Vec<Range<u64>>> = group
                    .par_iter()
                    .map(|item| self.check_item(&handle, file, item, &stop))
                    .collect::<Result<_, _>>()?;
                for run in runs.into_iter().flatten() {
                    match result.bad.last_mut() {
                        Some(last) if last.file == file.index && last.labels.end == run.start => {
                            last.labels.end = run.end;
                        }
                        _ => result.bad.push(BadRange {
                            file: file.index,
                            path: file.path.clone(),
                            offset: (run.start - first) * LABEL_SIZE,
                            labels: run,
                        }),
                    }
                }
                result.checked += group.iter().map(|r| r.end - r.start).sum::<u64>();
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            if stop.load(Ordering::SeqCst) {
                result.cancelled = true;
                break;
            }
        }
        Ok(result)
    }

    /// The global label ranges of a file this scan checks, in index order, produced one at a time.
    fn items<'s>(&'s self, file: &FileStatus) -> Box<dyn Iterator<Item = Range<u64>> + 's> {
        let labels = self.layout.file_labels(file.index);
        let whole = file.len_on_disk().min(file.expected_len) / LABEL_SIZE;
        let end = labels.start + whole;
        let start = labels.start;
        let cut = move |size: u64| (start..end).step_by(size.max(1) as usize).map(move |s| s..(s + size).min(end));
        match self.coverage {
            Coverage::All => Box::new(cut(self.batch)),
            Coverage::Fraction { percent, seed, chunk } => {
                let sampler = Sampler::new(seed, percent);
                if cut(chunk).any(|r| sampler.picks(r.start)) {
                    return Box::new(cut(chunk).filter(move |r| sampler.picks(r.start)));
                }
                if whole > 0 && percent > 0.0 {
                    let chunks = whole.div_ceil(chunk.max(1));
                    let k = sampler.fallback(file.index, chunks);
                    return Box::new(cut(chunk).nth(k as usize).into_iter());
                }
                Box::new(std::iter::empty())
            }
        }
    }

    /// Checks one item; returns its runs of bad labels.
    fn check_item(
        &self,
        handle: &File,
        file: &FileStatus,
        item: &Range<u64>,
        stop: &AtomicBool,
    ) -> Result<Vec<Range<u64>>, Error> {
        if stop.load(Ordering::SeqCst) || self.cancel.is_cancelled() {
            stop.store(true, Ordering::SeqCst);
            return Ok(Vec::new());
        }
        let first = self.layout.file_labels(file.index).start;
        let offset = (item.start - first) * LABEL_SIZE;
        let count = item.end - item.start;
        let mut stored = vec![0u8; (count * LABEL_SIZE) as usize];
        handle.read_exact_at(&mut stored, offset).map_err(|source| Error::Io {
            path: file.path.clone(),
            action: "reading",
            source,
        })?;
        let mut expected = vec![0u8; stored.len()];
        let job = LabelJob {
            commitment: self.commitment,
            params: self.params,
            start: LabelIndex(item.start),
            out: &mut expected,
            vrf_threshold: None,
        };
        self.labeller.label(job).map_err(|source| Error::Label { start: item.start, count, source })?;
        let mut runs: Vec<Range<u64>> = Vec::new();
        for (k, (a, b)) in stored.chunks_exact(16).zip(expected.chunks_exact(16)).enumerate() {
            if a == b {
                continue;
            }
            let index = item.start + k as u64;
            match runs.last_mut() {
                Some(run) if run.end == index => run.end += 1,
                _ => runs.push(index..index + 1),
            }
        }
        self.progress.event(&Event::LabelsChecked { labels: count });
        Ok(runs)
    }
}
