//! Rebuilding a lost `postdata_metadata.json` from the data files and the parameters the smesher
//! knows (node id, commitment ATX id, units, layout) — what postcli's `-searchForNonce` does for a
//! directory whose metadata is gone, with a check that the parameters really are the data's.
//!
//! ```text
//! 1. Lock the directory. Refuse when it has metadata (nothing to rebuild) or no data file.
//! 2. Check the files against the layout of the given parameters: a file beyond the layout or longer
//!    than its place allows means other units or another file size.
//! 3. Recompute a sample of stored labels — the first and the last whole label of every file and
//!    `sample` more spread over the data by a seeded hash — and compare them with the files. A single
//!    difference means other parameters (node id, ATX id, scrypt N, file size): refuse, write nothing.
//! 4. Find the VRF nonce in the stored labels (see `stored_nonce`).
//! 5. Write the metadata atomically; when every file is complete and no stored label qualifies, search
//!    beyond the data as initialization does.
//! ```

use std::fs::{self, File};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use post_core::{
    AtxId, DirLock, FileState, FileStatus, InitConfig, LabelIndex, Layout, LockMode, NodeId, PostMetadata, LABEL_SIZE,
    METADATA_FILE,
};
use post_oracle::{Labeller, VrfCandidate};

use crate::merge::data_file_names;
use crate::nonce_search::{record_nonce, BeyondSearch, BEYOND_BLOCK};
use crate::stored_nonce::StoredSearch;
use crate::vrf::full_label;
use crate::{CancelToken, Error, ProgressSink, Sampler, Tuning};

/// What the lost metadata said, as far as the smesher knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RebuildRequest {
    /// The data directory.
    pub dir: PathBuf,
    /// The node id the data was initialized for.
    pub node_id: NodeId,
    /// The commitment ATX id.
    pub atx_id: AtxId,
    /// Labels per unit, file size and label cost.
    pub config: InitConfig,
    /// Units.
    pub num_units: u32,
    /// Labels to recompute beyond the first and last of every file.
    pub sample: u64,
    /// Which labels the sample picks.
    pub seed: u64,
    /// Batch sizes for a nonce search beyond the data.
    pub tuning: Tuning,
}

/// What a rebuild found and wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct RebuildOutcome {
    /// The metadata written (`None` only when cancelled before writing).
    pub metadata: Option<PostMetadata>,
    /// Labels recomputed and found equal to the stored ones.
    pub labels_checked: u64,
    /// Whole labels on disk.
    pub labels_on_disk: u64,
    /// Labels of the layout.
    pub num_labels: u64,
    /// The VRF nonce (`None`: none found yet — the data is incomplete, or the run was cancelled).
    pub nonce: Option<VrfCandidate>,
}

/// Rebuilds the metadata of `request.dir` (steps 1–5).
///
/// # Errors
/// [`Error::Rebuild`] when the directory has metadata or no data, or a sampled label differs (nothing is
/// written then); [`Error::StrayFiles`] and [`Error::Oversized`] when the files do not fit the layout;
/// [`Error::Core`] for a held lock or invalid parameters; I/O and labeller errors naming the file.
pub fn rebuild_metadata(
    request: &RebuildRequest,
    labeller: &dyn Labeller,
    cancel: &CancelToken,
    progress: &dyn ProgressSink,
) -> Result<RebuildOutcome, Error> {
    let dir = request.dir.as_path();
    let refuse = |reason: String| Error::Rebuild { dir: dir.to_path_buf(), reason };
    let config = request.config.validate()?;
    let _lock = DirLock::acquire(dir, LockMode::Exclusive)?;
    if dir.join(METADATA_FILE).exists() {
        return Err(refuse(format!("it has a {METADATA_FILE}; there is nothing to rebuild")));
    }
    let mut metadata = PostMetadata::new(request.node_id, request.atx_id, &config, request.num_units);
    let layout = metadata.layout()?;
    let files = files_on_disk(dir, &layout)?;
    if files.iter().all(|f| f.state == FileState::Missing) {
        return Err(refuse("it holds no postdata_*.bin file".into()));
    }

    let commitment = metadata.commitment();
    let params = config.scrypt;
    let mut checked = 0;
    for (index, path, offset) in sample(&files, &layout, request) {
        if cancel.is_cancelled() {
            return Ok(RebuildOutcome {
                metadata: None,
                labels_checked: checked,
                labels_on_disk: whole_labels(&files),
                num_labels: layout.num_labels(),
                nonce: None,
            });
        }
        let mut stored = [0u8; 16];
        File::open(&path).and_then(|f| f.read_exact_at(&mut stored, offset)).map_err(|source| Error::Io {
            path: path.clone(),
            action: "reading",
            source,
        })?;
        let label = full_label(labeller, &commitment, params, LabelIndex(index))?;
        if label[..16] != stored {
            return Err(refuse(format!(
                "label {index} (byte {offset} of {}) is not the label of these parameters ({checked} sampled labels \
                 matched before it); the data was written for another node id, ATX id, scrypt N or --max-file-size \
                 — give the right ones (nothing was written)",
                path.display()
            )));
        }
        checked += 1;
    }

    let difficulty = post_core::vrf_difficulty(layout.num_labels())?;
    let search =
        StoredSearch { labeller, commitment: &commitment, params, layout: &layout, difficulty, cancel, progress };
    let outcome = |metadata, nonce| RebuildOutcome {
        metadata,
        labels_checked: checked,
        labels_on_disk: whole_labels(&files),
        num_labels: layout.num_labels(),
        nonce,
    };
    progress.event(&crate::Event::VerifyStarted { total_labels: whole_labels(&files) });
    let Some(mut nonce) = search.run(&files)? else {
        return Ok(outcome(None, None));
    };
    match &nonce {
        Some(best) => record_nonce(&mut metadata, best),
        None => (metadata.nonce, metadata.nonce_value) = (None, None),
    }
    metadata.save(dir)?;
    if nonce.is_none() && files.iter().all(|f| f.state == FileState::Complete) {
        let search = BeyondSearch {
            labeller,
            commitment: &commitment,
            params,
            difficulty,
            batch: request.tuning.batch_or(labeller.preferred_batch(), BEYOND_BLOCK as usize),
            block: request.tuning.beyond_block,
            cancel,
            progress,
        };
        nonce = search.run(dir, &mut metadata)?;
    }
    Ok(outcome(Some(metadata), nonce))
}

/// Every file of the layout with its state; a data file outside the layout, or longer than its place
/// in it, stops the rebuild.
fn files_on_disk(dir: &Path, layout: &Layout) -> Result<Vec<FileStatus>, Error> {
    let last = layout.num_files().saturating_sub(1);
    for name in data_file_names(dir)? {
        match Layout::parse_file_name(&name) {
            Some(i) if i <= last => {}
            _ => return Err(Error::StrayFiles { path: dir.join(name), last }),
        }
    }
    let mut files = Vec::new();
    for i in 0..layout.num_files() {
        let path = Layout::file_path(dir, i);
        let expected_len = layout.expected_file_size(i);
        let len = match fs::metadata(&path) {
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(Error::Io { path, action: "reading the size of", source }),
        };
        let state = FileState::classify(len, expected_len);
        if let FileState::Oversized { len } = state {
            return Err(Error::Oversized { path, len, expected: expected_len });
        }
        files.push(FileStatus { index: i, path, state, expected_len });
    }
    Ok(files)
}

fn whole_labels(files: &[FileStatus]) -> u64 {
    files.iter().map(|f| f.len_on_disk().min(f.expected_len) / LABEL_SIZE).sum()
}

/// The labels to check, as (index, file, byte offset): the first and last whole label of every file,
/// then `request.sample` labels picked by the seeded sampler over the whole labels on disk.
fn sample(files: &[FileStatus], layout: &Layout, request: &RebuildRequest) -> Vec<(u64, PathBuf, u64)> {
    let mut picks = Vec::new();
    let present: Vec<(&FileStatus, u64)> = files
        .iter()
        .map(|f| (f, f.len_on_disk().min(f.expected_len) / LABEL_SIZE))
        .filter(|(_, whole)| *whole > 0)
        .collect();
    let total: u64 = present.iter().map(|(_, whole)| whole).sum();
    for (f, whole) in &present {
        let first = layout.file_labels(f.index).start;
        picks.push((first, f.path.clone(), 0));
        if *whole > 1 {
            picks.push((first + whole - 1, f.path.clone(), (whole - 1) * LABEL_SIZE));
        }
    }
    let sampler = Sampler::new(request.seed, 0.0);
    for k in 0..request.sample.min(total).min(u64::from(u32::MAX)) {
        // The k-th pick lies at a hashed position among the whole labels on disk.
        let mut at = sampler.fallback(k as u32, total);
        for (f, whole) in &present {
            if at < *whole {
                picks.push((layout.file_labels(f.index).start + at, f.path.clone(), at * LABEL_SIZE));
                break;
            }
            at -= whole;
        }
    }
    picks.sort_by_key(|p| p.0);
    picks.dedup_by_key(|p| p.0);
    picks
}
