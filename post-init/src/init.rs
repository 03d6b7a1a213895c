//! Initialization of a data directory: a fresh one, a resumed one, a grown one, or a range of files of
//! one (a piece of split work). It never deletes or shortens data, except for a torn last label.
//!
//! ```text
//! prepare (reads only; holds the exclusive lock from here on):
//!  0. For a directory that does not exist yet, check the parameters, the file range and the free space
//!     before creating it; a refused run leaves no directory behind.
//!  1. Lock the directory. With metadata on disk, the identity, LabelsPerUnit and MaxFileSize must equal
//!     the request and the units may only grow; without it, no data file may exist.
//!  2. Check that the bytes the selected files still miss fit in the free space (arithmetic on the
//!     layout and the files found on disk, before any per-file table is built), then classify every
//!     selected file against the (new) layout: complete, partial, torn (ends inside a label), missing;
//!     an oversized file or a stray postdata_*.bin stops everything.
//!  3. Recompute every label past the durable mark of each existing selected file and the last labels
//!     before that (see `durable` and `resume`: a wrong head stops everything, a wrong tail or a wrong
//!     label past the mark is a lost write and is rewritten), and the full label of the recorded VRF
//!     nonce (see `vrf`); when the data grows, drop a nonce that no longer qualifies. These checks run
//!     on the checking labeller (the CPU), never only on the device that wrote the data.
//! run:
//!  5. Save the metadata first, so the identity and size are on disk before any label. Set an unusable
//!     marks file aside; sync the files that turned out complete and drop their marks.
//!  6. Cut torn labels, then write the missing labels through the pipeline (see `pipeline`), saving each
//!     better VRF nonce before the labels that produced it and syncing every `Tuning::sync_bytes`.
//!  7. When every file of the data is complete and no label qualified, search beyond the data
//!     (see `nonce_search`).
//! ```

use std::fs::{self, OpenOptions};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use post_core::{
    AtxId, Commitment, DirLock, FileState, InitConfig, Layout, LockMode, NodeId, PostData, PostMetadata, ScryptParams,
    LABEL_SIZE, METADATA_FILE,
};
use post_oracle::{Labeller, VrfCandidate};

use crate::durable::{self, DurableMarks, Unusable};
use crate::merge::data_file_names;
use crate::nonce_search::{record_nonce, BeyondSearch};
use crate::pipeline::{Pipeline, RunEnd, Segment};
use crate::resume::{FileSpan, PastMark, TailCheck};
use crate::vrf::recorded_best;
use crate::{available_bytes, CancelToken, Error, Event, ProgressSink, Tuning, VrfSearch};

/// Largest batch used when the labeller prefers more: 2^24 labels, 256 MiB per buffer and three buffers,
/// enough for a large GPU's preferred batch.
const MAX_BATCH: usize = 1 << 24;

/// What to initialize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitRequest {
    /// The data directory (created when missing).
    pub dir: PathBuf,
    /// The smesher's node id.
    pub node_id: NodeId,
    /// The commitment ATX id.
    pub atx_id: AtxId,
    /// Labels per unit, file size, label cost and the allowed unit range.
    pub config: InitConfig,
    /// Units the data must hold (at least what the directory already holds).
    pub num_units: u32,
    /// Only these files (inclusive), for splitting work; `None` for all.
    pub files: Option<RangeInclusive<u32>>,
    /// Batch sizes.
    pub tuning: Tuning,
}

/// What a prepared initialization will do, for display before it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSummary {
    /// The data directory.
    pub dir: PathBuf,
    /// Size of the whole data in bytes.
    pub total_bytes: u64,
    /// Files of the whole data.
    pub num_files: u32,
    /// The files this run is responsible for.
    pub files: RangeInclusive<u32>,
    /// Bytes of those files when complete.
    pub selected_bytes: u64,
    /// Bytes still to write.
    pub to_write_bytes: u64,
    /// Free bytes on the directory's filesystem.
    pub available_bytes: u64,
    /// Units before this run, when the directory already held data.
    pub existing_units: Option<u32>,
    /// Units after this run.
    pub num_units: u32,
    /// The best VRF nonce found by earlier runs (and still valid).
    pub nonce: Option<VrfCandidate>,
    /// Labels recomputed past the durable marks of files an earlier run was writing (the labels a power
    /// cut may have lost).
    pub checked_past_marks: u64,
}

/// How an initialization run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitEnd {
    /// Every file of the data is complete and the VRF nonce is found.
    Complete,
    /// The selected files are complete; other files of the data are not (split work: merge the pieces).
    RangeComplete,
    /// The cancel token stopped the run; what was written is synced and a rerun resumes.
    Cancelled,
}

/// The result of [`PreparedInit::run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitOutcome {
    /// How it ended.
    pub end: InitEnd,
    /// The best VRF nonce so far (`None` only for a piece or a cancelled run in which none qualified yet).
    pub nonce: Option<VrfCandidate>,
    /// Labels this run wrote.
    pub labels_written: u64,
}

/// The lock held from `prepare` to the end of `run`.
#[derive(Debug)]
enum Guard {
    Fresh(#[allow(dead_code)] DirLock),
    Existing(#[allow(dead_code)] Box<PostData>),
}

/// An initialization that passed every check; [`PreparedInit::run`] does the writing.
pub struct PreparedInit<'a> {
    labeller: &'a dyn Labeller,
    _guard: Guard,
    metadata: PostMetadata,
    params: ScryptParams,
    commitment: Commitment,
    segments: Vec<Segment>,
    /// Torn files: (path, length, whole-label length).
    cuts: Vec<(PathBuf, u64, u64)>,
    /// Files whose last labels are wrong: (path, bytes kept, bytes of whole labels on disk).
    rewrites: Vec<(PathBuf, u64, u64)>,
    /// Files checked past their durable mark: (path, the check).
    past_marks: Vec<(PathBuf, PastMark)>,
    /// The durable marks.
    marks: DurableMarks,
    /// A marks file that cannot be used, to set aside.
    unusable: Option<Unusable>,
    /// Files with a mark that turned out complete: (number, path), to sync and unmark.
    settled: Vec<(u32, PathBuf)>,
    sync_bytes: u64,
    vrf: VrfSearch,
    /// Files outside the selection that are not complete.
    others_incomplete: bool,
    batch: usize,
    beyond_block: u64,
    summary: InitSummary,
}

impl std::fmt::Debug for PreparedInit<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedInit").field("labeller", &self.labeller.name()).field("summary", &self.summary).finish()
    }
}

/// Checks a request against the directory and plans the work (steps 1–4); changes nothing on disk
/// except creating the directory and its lock file. `labeller` writes the data; `checker` recomputes
/// what is on disk already (the labels a resume continues from, those past a durable mark, the VRF
/// nonce) — the CPU, so that a device that wrote wrong labels cannot confirm them itself.
///
/// # Errors
/// [`Error::Core`] for a held lock (naming the holder), unreadable metadata or invalid parameters;
/// [`Error::Mismatch`], [`Error::FewerUnits`], [`Error::Oversized`], [`Error::StrayFiles`],
/// [`Error::FileRange`], [`Error::LabelMismatch`], [`Error::BadNonce`], [`Error::NotEnoughSpace`], or I/O
/// and labeller errors; each names the file and what to do.
pub fn prepare<'a>(
    request: &InitRequest,
    labeller: &'a dyn Labeller,
    checker: &dyn Labeller,
) -> Result<PreparedInit<'a>, Error> {
    let config = request.config.validate()?;
    let dir = request.dir.as_path();
    let created = if dir.exists() { Vec::new() } else { create_checked(request, &config)? };
    let had_lock_file = dir.join(post_core::LOCK_FILE).exists();
    let prepared = prepare_in(request, &config, labeller, checker);
    match &prepared {
        Err(Error::Core(post_core::Error::Locked { .. })) | Ok(_) => {}
        Err(_) => remove_leftovers(dir, had_lock_file, &created),
    }
    prepared
}

/// Step 0: checks a request for a directory that does not exist yet, then creates it; returns the
/// directories created, deepest first.
fn create_checked(request: &InitRequest, config: &InitConfig) -> Result<Vec<PathBuf>, Error> {
    let dir = request.dir.as_path();
    config.check_units(request.num_units)?;
    let layout = PostMetadata::new(request.node_id, request.atx_id, config, request.num_units).layout()?;
    let files = select_files(request.files.clone(), &layout)?;
    let existing_parent = dir.ancestors().skip(1).find(|a| a.is_dir()).unwrap_or(Path::new("."));
    let available = available_bytes(existing_parent)?;
    let needed = bytes_of_files(&layout, &files);
    if needed > available {
        return Err(Error::NotEnoughSpace { dir: dir.to_path_buf(), needed, available });
    }
    let created: Vec<PathBuf> = dir.ancestors().take_while(|a| !a.exists()).map(Path::to_path_buf).collect();
    fs::create_dir_all(dir).map_err(|source| Error::Io {
        path: dir.to_path_buf(),
        action: "creating the data directory",
        source,
    })?;
    Ok(created)
}

/// After a refusal, removes what the attempt added to a directory that holds no data: the lock file it
/// created (taken again first, so that a lock another process holds is never removed) and the
/// directories [`create_checked`] created. A directory with anything else in it is left alone.
fn remove_leftovers(dir: &Path, had_lock_file: bool, created: &[PathBuf]) {
    let only_lock = || {
        fs::read_dir(dir)
            .map(|entries| entries.flatten().all(|e| e.file_name() == std::ffi::OsStr::new(post_core::LOCK_FILE)))
            .unwrap_or(false)
    };
    if !had_lock_file && only_lock() {
        if let Ok(lock) = DirLock::acquire(dir, LockMode::Exclusive) {
            if only_lock() {
                let _ = fs::remove_file(dir.join(post_core::LOCK_FILE));
            }
            drop(lock);
        }
    }
    for d in created {
        if fs::remove_dir(d).is_err() {
            break;
        }
    }
}

/// The bytes files `files` of `layout` hold when complete.
fn bytes_of_files(layout: &Layout, files: &RangeInclusive<u32>) -> u64 {
    let labels = layout.file_labels(*files.start()).start..layout.file_labels(*files.end()).end;
    (labels.end - labels.start) * LABEL_SIZE
}

/// Steps 1–3 on a directory that exists.
fn prepare_in<'a>(
    request: &InitRequest,
    config: &InitConfig,
    labeller: &'a dyn Labeller,
    checker: &dyn Labeller,
) -> Result<PreparedInit<'a>, Error> {
    let config = *config;
    let dir = request.dir.as_path();
    let (guard, existing) = lock_and_load(dir)?;
    let mut metadata = match &existing {
        Some(old) => {
            check_same_data(dir, old, request)?;
            let mut grown = old.clone();
            grown.num_units = request.num_units;
            grown
        }
        None => PostMetadata::new(request.node_id, request.atx_id, &config, request.num_units),
    };
    config.check_units(request.num_units)?;
    let layout = metadata.layout()?;
    let files = select_files(request.files.clone(), &layout)?;
    // Whole labels already on disk in the selected files; the rest must fit in the free space. (Labels
    // that are rewritten overwrite bytes the files have, so this is exactly what the run adds.)
    let present: u64 = old_files(&guard)
        .iter()
        .filter(|f| files.contains(&f.index) && f.index < layout.num_files())
        .map(|f| {
            let len = f.len_on_disk();
            (len - len % LABEL_SIZE).min(layout.expected_file_size(f.index))
        })
        .sum();
    let selected_bytes = bytes_of_files(&layout, &files);
    let needed = selected_bytes - present.min(selected_bytes);
    let available = available_bytes(dir)?;
    if needed > available {
        return Err(Error::NotEnoughSpace { dir: dir.to_path_buf(), needed, available });
    }
    let on_disk = lengths_on_disk(&guard, &layout);
    let params = config.scrypt;
    let commitment = metadata.commitment();

    let (marks, unusable) = match &existing {
        Some(_) => DurableMarks::load(dir, commitment, metadata.max_file_size)?,
        // A marks file without metadata describes data that is gone.
        None if dir.join(durable::DURABLE_FILE).exists() => (
            DurableMarks::empty(dir, commitment, metadata.max_file_size),
            Some(Unusable { path: dir.join(durable::DURABLE_FILE), reason: "the directory has no metadata".into() }),
        ),
        None => (DurableMarks::empty(dir, commitment, metadata.max_file_size), None),
    };
    let check = TailCheck { labeller: checker, commitment: &commitment, params };
    let mut segments = Vec::new();
    let mut cuts = Vec::new();
    let mut rewrites = Vec::new();
    let mut past_marks = Vec::new();
    let mut settled = Vec::new();
    let mut others_incomplete = false;
    for i in 0..layout.num_files() {
        let path = Layout::file_path(dir, i);
        let expected = layout.expected_file_size(i);
        let state = FileState::classify(on_disk[i as usize], expected);
        if !files.contains(&i) {
            others_incomplete |= state != FileState::Complete;
            continue;
        }
        let whole = match state {
            FileState::Missing => 0,
            FileState::Complete | FileState::Partial { .. } => on_disk[i as usize].unwrap_or(0),
            FileState::Misaligned { len } => {
                cuts.push((path.clone(), len, len - len % LABEL_SIZE));
                len - len % LABEL_SIZE
            }
            FileState::Oversized { len } => return Err(Error::Oversized { path, len, expected }),
        };
        let labels = layout.file_labels(i);
        let span = FileSpan { path: &path, first_label: labels.start, labels: whole / LABEL_SIZE };
        let mark = marks.get(i);
        let kept = check.labels_to_keep(span, mark)?;
        let keep = kept.labels;
        if let Some(past) = kept.past_mark {
            past_marks.push((path.clone(), past));
        }
        if keep < span.labels {
            rewrites.push((path.clone(), keep * LABEL_SIZE, whole));
        }
        if keep * LABEL_SIZE < expected {
            segments.push(Segment {
                file: i,
                path,
                labels: labels.start + keep..labels.end,
                offset: keep * LABEL_SIZE,
            });
        } else if mark.is_some() {
            settled.push((i, path));
        }
    }

    let difficulty = post_core::vrf_difficulty(layout.num_labels())?;
    let mut best = match &existing {
        Some(old) => recorded_best(dir, old, checker, params)?,
        None => None,
    };
    if let Some(old) = existing.as_ref().filter(|old| old.num_units < metadata.num_units) {
        // Growing: a nonce found beyond the old data lies inside the new data, and a nonce may not be
        // below the new, smaller difficulty; the search then restarts on the new labels.
        if best.is_some_and(|b| b.index.0 >= old.num_labels() || b.label >= difficulty) {
            best = None;
        }
        metadata.last_position = None;
    }
    match &best {
        Some(b) => record_nonce(&mut metadata, b),
        None => (metadata.nonce, metadata.nonce_value) = (None, None),
    }
    let mut vrf = VrfSearch::new(difficulty);
    vrf.offer(best);

    let to_write_bytes: u64 = segments.iter().map(|s| (s.labels.end - s.labels.start) * LABEL_SIZE).sum();
    let summary = InitSummary {
        dir: dir.to_path_buf(),
        total_bytes: layout.total_bytes(),
        num_files: layout.num_files(),
        files,
        selected_bytes,
        to_write_bytes,
        available_bytes: available,
        existing_units: existing.as_ref().map(|m| m.num_units),
        num_units: metadata.num_units,
        nonce: best,
        checked_past_marks: past_marks.iter().map(|(_, p)| p.checked).sum(),
    };
    let batch = request.tuning.batch_or(labeller.preferred_batch(), MAX_BATCH);
    Ok(PreparedInit {
        labeller,
        _guard: guard,
        metadata,
        params,
        commitment,
        segments,
        cuts,
        rewrites,
        past_marks,
        marks,
        unusable,
        settled,
        sync_bytes: request.tuning.sync_bytes,
        vrf,
        others_incomplete,
        batch,
        beyond_block: request.tuning.beyond_block,
        summary,
    })
}

impl PreparedInit<'_> {
    /// What the run will do.
    pub fn summary(&self) -> &InitSummary {
        &self.summary
    }

    /// Writes the data (steps 5–7), stopping at the next batch when `cancel` is set.
    ///
    /// # Errors
    /// [`Error::DiskFull`] when space runs out (everything written is kept and synced; a rerun resumes),
    /// other write, metadata or labeller errors naming the file.
    pub fn run(mut self, cancel: &CancelToken, progress: &dyn ProgressSink) -> Result<InitOutcome, Error> {
        let dir = self.summary.dir.clone();
        self.metadata.save(&dir)?;
        if let Some(unusable) = self.unusable.take() {
            let to = durable::set_aside(&unusable.path)?;
            progress.event(&Event::DurableMarksSetAside { path: unusable.path, to, reason: unusable.reason });
        }
        for (path, past) in &self.past_marks {
            progress.event(&Event::CheckedPastMark {
                path: path.clone(),
                mark: past.mark * LABEL_SIZE,
                checked: past.checked,
                first_bad: past.first_bad.map(|b| b * LABEL_SIZE),
            });
        }
        for (i, path) in &self.settled {
            OpenOptions::new().write(true).open(path).and_then(|f| f.sync_all()).map_err(|source| Error::Io {
                path: path.clone(),
                action: "syncing",
                source,
            })?;
            self.marks.remove(*i)?;
        }
        for (path, from_len, to_len) in &self.cuts {
            let cut = OpenOptions::new().write(true).open(path).and_then(|f| {
                f.set_len(*to_len)?;
                f.sync_all()
            });
            cut.map_err(|source| Error::Io { path: path.clone(), action: "cutting the torn last label of", source })?;
            progress.event(&Event::TornTailCut { path: path.clone(), from_len: *from_len, to_len: *to_len });
        }
        for (path, keep, on_disk) in &self.rewrites {
            progress.event(&Event::TailRewritten { path: path.clone(), from: *keep, to: *on_disk });
        }
        let to_write = self.summary.to_write_bytes / LABEL_SIZE;
        let total = self.summary.selected_bytes / LABEL_SIZE;
        progress.event(&Event::InitStarted { total_labels: total, done_labels: total - to_write });

        let pipeline = Pipeline {
            labeller: self.labeller,
            commitment: &self.commitment,
            params: self.params,
            batch: self.batch,
            sync_bytes: self.sync_bytes,
            cancel,
            progress,
        };
        let metadata = &mut self.metadata;
        let mut save_nonce = |best: &VrfCandidate| {
            record_nonce(metadata, best);
            metadata.save(&dir).map_err(Error::from)
        };
        let (ended, labels_written) = pipeline.run(&self.segments, &mut self.vrf, &mut self.marks, &mut save_nonce)?;
        if ended == RunEnd::Cancelled {
            return Ok(InitOutcome { end: InitEnd::Cancelled, nonce: self.vrf.best(), labels_written });
        }
        if self.others_incomplete {
            return Ok(InitOutcome { end: InitEnd::RangeComplete, nonce: self.vrf.best(), labels_written });
        }
        let mut nonce = self.vrf.best();
        if nonce.is_none() {
            let search = BeyondSearch {
                labeller: self.labeller,
                commitment: &self.commitment,
                params: self.params,
                difficulty: *self.vrf.difficulty(),
                batch: self.batch,
                block: self.beyond_block,
                cancel,
                progress,
            };
            nonce = search.run(&dir, &mut self.metadata)?;
            if nonce.is_none() {
                return Ok(InitOutcome { end: InitEnd::Cancelled, nonce, labels_written });
            }
        }
        Ok(InitOutcome { end: InitEnd::Complete, nonce, labels_written })
    }
}

/// Takes the exclusive lock and loads the metadata when there is any.
fn lock_and_load(dir: &Path) -> Result<(Guard, Option<PostMetadata>), Error> {
    if dir.join(METADATA_FILE).exists() {
        let data = PostData::open(dir, LockMode::Exclusive)?;
        if let Some(first) = data.unexpected_files().first() {
            return Err(Error::StrayFiles { path: first.clone(), last: data.layout().num_files().saturating_sub(1) });
        }
        let metadata = data.metadata().clone();
        return Ok((Guard::Existing(Box::new(data)), Some(metadata)));
    }
    let lock = DirLock::acquire(dir, LockMode::Exclusive)?;
    if dir.join(METADATA_FILE).exists() {
        // Another process wrote it between the check and the lock; look again from the start.
        drop(lock);
        return lock_and_load(dir);
    }
    if let Some(file) = data_file_names(dir)?.first() {
        return Err(Error::DataWithoutMetadata { dir: dir.to_path_buf(), file: dir.join(file) });
    }
    Ok((Guard::Fresh(lock), None))
}

/// The identity and shape must match; units may only grow.
fn check_same_data(dir: &Path, old: &PostMetadata, request: &InitRequest) -> Result<(), Error> {
    let mismatch = |field, on_disk: String, requested: String| {
        Err(Error::Mismatch { dir: dir.to_path_buf(), field, on_disk, requested })
    };
    if old.node_id != request.node_id {
        return mismatch("NodeId", old.node_id.to_string(), request.node_id.to_string());
    }
    if old.commitment_atx_id != request.atx_id {
        return mismatch("CommitmentAtxId", old.commitment_atx_id.to_string(), request.atx_id.to_string());
    }
    if old.labels_per_unit != request.config.labels_per_unit {
        return mismatch("LabelsPerUnit", old.labels_per_unit.to_string(), request.config.labels_per_unit.to_string());
    }
    if old.max_file_size != request.config.max_file_size {
        return mismatch("MaxFileSize", old.max_file_size.to_string(), request.config.max_file_size.to_string());
    }
    if request.num_units < old.num_units {
        return Err(Error::FewerUnits { dir: dir.to_path_buf(), on_disk: old.num_units, requested: request.num_units });
    }
    Ok(())
}

/// The selected files, checked against the layout.
fn select_files(files: Option<RangeInclusive<u32>>, layout: &Layout) -> Result<RangeInclusive<u32>, Error> {
    let last = layout.num_files().saturating_sub(1);
    let files = files.unwrap_or(0..=last);
    if files.start() > files.end() || *files.end() > last || layout.num_files() == 0 {
        return Err(Error::FileRange { from: *files.start(), to: *files.end(), last });
    }
    Ok(files)
}

/// The files of the old layout as found when the lock was taken (none for a fresh directory).
fn old_files(guard: &Guard) -> &[post_core::FileStatus] {
    match guard {
        Guard::Existing(data) => data.files(),
        Guard::Fresh(_) => &[],
    }
}

/// The length of every file of `layout` as found when the lock was taken (`None`: missing). Files the
/// old layout did not have cannot exist: they would have been stray files.
fn lengths_on_disk(guard: &Guard, layout: &Layout) -> Vec<Option<u64>> {
    let old = old_files(guard);
    (0..layout.num_files() as usize)
        .map(|i| old.get(i).filter(|f| f.state != FileState::Missing).map(|f| f.len_on_disk()))
        .collect()
}
