//! `shrink`: the one way to make data smaller. It is explicit: the plan lists every file it deletes and
//! truncates, and the caller must confirm it (the command line asks for `--yes`).
//!
//! ```text
//! prepare (reads only, under the exclusive lock):
//!  1. The new unit count must be at least 1 and below the recorded one (or equal, to finish an
//!     interrupted shrink).
//!  2. Plan: delete every postdata_<i>.bin with i at or beyond the new file count, truncate a file that
//!     is longer than the new layout allows.
//! apply:
//!  3. Find the new VRF nonce: the recorded one when it lies in the kept labels (it was the smallest of
//!     a superset, and the smaller data has a larger difficulty); otherwise the best of the kept stored
//!     labels (see `stored_nonce`), and beyond the data if none qualifies.
//!  4. Save the metadata with the new unit count first, then truncate and delete, then sync the
//!     directory (on a full disk: truncate and delete first, then save). Interrupted, the same command
//!     finishes the job.
//! ```

use std::fs::{self, OpenOptions};
use std::path::PathBuf;

use post_core::{FileState, FileStatus, Layout, LockMode, PostData, PostMetadata, ScryptParams};
use post_oracle::{Labeller, VrfCandidate};

use crate::nonce_search::{record_nonce, BeyondSearch, BEYOND_BLOCK};
use crate::pipeline::sync_parent;
use crate::stored_nonce::StoredSearch;
use crate::vrf::recorded_best;
use crate::{CancelToken, Error, ProgressSink, Tuning};

/// What to shrink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShrinkRequest {
    /// The data directory.
    pub dir: PathBuf,
    /// Units to keep.
    pub num_units: u32,
    /// The label cost the data was written with, to find the new VRF nonce.
    pub scrypt: ScryptParams,
    /// Batch sizes for a nonce search beyond the data.
    pub tuning: Tuning,
}

/// What a shrink will delete and truncate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShrinkPlan {
    /// The data directory.
    pub dir: PathBuf,
    /// Units recorded now.
    pub from_units: u32,
    /// Units after the shrink.
    pub to_units: u32,
    /// Files to delete, with their sizes.
    pub delete: Vec<(PathBuf, u64)>,
    /// Files to truncate: path, size now, size after.
    pub truncate: Vec<(PathBuf, u64, u64)>,
    /// Bytes freed.
    pub freed_bytes: u64,
}

/// A checked shrink holding the exclusive lock.
#[derive(Debug)]
pub struct PreparedShrink {
    data: PostData,
    request: ShrinkRequest,
    plan: ShrinkPlan,
}

/// The result of a shrink.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShrinkOutcome {
    /// The VRF nonce of the smaller data; `None` when the search was cancelled (nothing was changed when
    /// it stopped before the deletions; `post init` finishes a search beyond the data) or when the
    /// smaller data is not complete (`post init` finishes it and finds the nonce).
    pub nonce: Option<VrfCandidate>,
    /// Whether the cancel token stopped the work: run the same shrink again to finish it.
    pub cancelled: bool,
}

/// Locks the directory and plans the shrink (steps 1–2); changes nothing.
///
/// # Errors
/// [`Error::Shrink`] when the unit count does not shrink the data; lock and metadata errors.
pub fn prepare_shrink(request: &ShrinkRequest) -> Result<PreparedShrink, Error> {
    let data = PostData::open(&request.dir, LockMode::Exclusive)?;
    let dir = request.dir.clone();
    let old = data.metadata();
    if request.num_units == 0 || request.num_units > old.num_units {
        return Err(Error::Shrink {
            dir,
            reason: format!(
                "--units {} does not shrink the data ({} units); give a number from 1 to {}",
                request.num_units, old.num_units, old.num_units
            ),
        });
    }
    let mut smaller = old.clone();
    smaller.num_units = request.num_units;
    let layout = smaller.layout()?;
    let mut plan = ShrinkPlan {
        dir: dir.clone(),
        from_units: old.num_units,
        to_units: request.num_units,
        delete: Vec::new(),
        truncate: Vec::new(),
        freed_bytes: 0,
    };
    let mut candidates: Vec<PathBuf> = data.files().iter().map(|f| f.path.clone()).collect();
    candidates.extend(data.unexpected_files().iter().cloned());
    for path in candidates {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let Some(i) = Layout::parse_file_name(&name) else { continue };
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(Error::Io { path, action: "reading the size of", source }),
        };
        let keep = layout.expected_file_size(i);
        if i >= layout.num_files() {
            plan.freed_bytes += len;
            plan.delete.push((path, len));
        } else if len > keep {
            plan.freed_bytes += len - keep;
            plan.truncate.push((path, len, keep));
        }
    }
    if request.num_units == old.num_units && plan.delete.is_empty() && plan.truncate.is_empty() {
        return Err(Error::Shrink {
            dir,
            reason: format!("the data already has {} units; nothing to shrink", old.num_units),
        });
    }
    Ok(PreparedShrink { data, request: request.clone(), plan })
}

impl PreparedShrink {
    /// What will be deleted and truncated.
    pub fn plan(&self) -> &ShrinkPlan {
        &self.plan
    }

    /// Does it (steps 3–4).
    ///
    /// # Errors
    /// Metadata, I/O and labeller errors naming the file; after an error, running the same shrink again
    /// finishes it.
    pub fn apply(
        self,
        labeller: &dyn Labeller,
        cancel: &CancelToken,
        progress: &dyn ProgressSink,
    ) -> Result<ShrinkOutcome, Error> {
        let dir = self.request.dir.as_path();
        let mut metadata: PostMetadata = self.data.metadata().clone();
        metadata.num_units = self.request.num_units;
        let layout = metadata.layout()?;
        let difficulty = post_core::vrf_difficulty(layout.num_labels())?;
        let commitment = metadata.commitment();
        let keeps_nonce = metadata.nonce.is_some_and(|n| n < layout.num_labels());
        let best = if keeps_nonce {
            recorded_best(dir, &metadata, labeller, self.request.scrypt)?
        } else {
            let kept: Vec<FileStatus> = (0..layout.num_files())
                .map(|i| {
                    let path = Layout::file_path(dir, i);
                    let expected_len = layout.expected_file_size(i);
                    // Only a file that is not there is missing; any other error is reported, never guessed.
                    let len = match fs::metadata(&path) {
                        Ok(m) => Some(m.len().min(expected_len)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(source) => return Err(Error::Io { path, action: "reading the size of", source }),
                    };
                    Ok(FileStatus { index: i, path, state: FileState::classify(len, expected_len), expected_len })
                })
                .collect::<Result<_, Error>>()?;
            let search = StoredSearch {
                labeller,
                commitment: &commitment,
                params: self.request.scrypt,
                layout: &layout,
                difficulty,
                cancel,
                progress,
            };
            let Some(best) = search.run(&kept)? else {
                return Ok(ShrinkOutcome { nonce: None, cancelled: true });
            };
            best
        };
        metadata.last_position = None;
        match &best {
            Some(b) => record_nonce(&mut metadata, b),
            None => (metadata.nonce, metadata.nonce_value) = (None, None),
        }
        // On a full disk the new metadata may not fit before the planned deletions free space: then
        // delete first and save after. The state in between (metadata naming more units than the files
        // hold) is what an interrupted init leaves, and the same shrink command finishes it.
        let saved_first = match metadata.save(dir) {
            Ok(()) => true,
            Err(post_core::Error::NoSpace { .. }) if !self.plan.delete.is_empty() || !self.plan.truncate.is_empty() => {
                false
            }
            Err(e) => return Err(e.into()),
        };
        for (path, _, to) in &self.plan.truncate {
            let cut = OpenOptions::new().write(true).open(path).and_then(|f| {
                f.set_len(*to)?;
                f.sync_all()
            });
            cut.map_err(|source| Error::Io { path: path.clone(), action: "truncating", source })?;
        }
        for (path, _) in &self.plan.delete {
            fs::remove_file(path).map_err(|source| Error::Io { path: path.clone(), action: "deleting", source })?;
        }
        sync_parent(&PostMetadata::path(dir))?;
        if !saved_first {
            metadata.save(dir)?;
        }
        let mut nonce = best;
        if nonce.is_none() && layout_complete(dir, &layout) {
            let search = BeyondSearch {
                labeller,
                commitment: &commitment,
                params: self.request.scrypt,
                difficulty,
                batch: self.request.tuning.batch_or(labeller.preferred_batch(), BEYOND_BLOCK as usize),
                block: self.request.tuning.beyond_block,
                cancel,
                progress,
            };
            nonce = search.run(dir, &mut metadata)?;
        }
        Ok(ShrinkOutcome { cancelled: nonce.is_none() && cancel.is_cancelled(), nonce })
    }
}

fn layout_complete(dir: &std::path::Path, layout: &Layout) -> bool {
    (0..layout.num_files())
        .all(|i| fs::metadata(Layout::file_path(dir, i)).is_ok_and(|m| m.len() == layout.expected_file_size(i)))
}
