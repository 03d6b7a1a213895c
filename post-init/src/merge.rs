//! `merge`: combine directories initialized in pieces (`--from-file/--to-file`, on several GPUs or
//! machines) into one, without hand editing.
//!
//! ```text
//! 1. Lock the target and every piece exclusively. The target may be one of the pieces, an empty or
//!    new directory, or a directory holding some of the files.
//! 2. Every directory's metadata must agree on NodeId, CommitmentAtxId, LabelsPerUnit, NumUnits and
//!    MaxFileSize. Every file of the layout must be complete in exactly one directory; partial, torn,
//!    oversized, duplicated, stray or missing files stop the merge before anything moves.
//!    The first and last labels of every file are recomputed: a file written with another scrypt N (or
//!    for another identity) stops the merge too.
//! 3. The best VRF nonce is the best of the pieces' nonces (each recomputed and checked): each piece
//!    searched its own files, so the best of the bests is the nonce of the whole data.
//! 4. Write the target's metadata (atomically) first, then move the files: a rename on the same
//!    filesystem; across filesystems a copy to a temporary name, synced, compared byte for byte with
//!    the source, renamed into place, and only then the source removed. An interrupted merge can be run
//!    again with the same arguments.
//! 5. If no piece found a nonce, search beyond the data (see `nonce_search`).
//! ```
//! A piece left without data files (every file moved to the target) loses its metadata file too — it
//! would describe data the piece no longer holds — and then its lock file and its directory when
//! nothing else is in it.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use post_core::{DirLock, FileState, Layout, LockMode, PostData, PostMetadata, ScryptParams, METADATA_FILE};
use post_oracle::{Labeller, VrfCandidate};

use crate::detect_n::first_differing_end;
use crate::nonce_search::{record_nonce, BeyondSearch, BEYOND_BLOCK};
use crate::pipeline::sync_parent;
use crate::vrf::recorded_best;
use crate::{CancelToken, Error, ProgressSink, Tuning, VrfSearch};

/// What to merge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    /// The directory that receives the whole data (created when missing).
    pub target: PathBuf,
    /// The pieces; the target may be listed too.
    pub pieces: Vec<PathBuf>,
    /// The label cost the pieces were written with, to check their files' ends and their nonces.
    pub scrypt: ScryptParams,
    /// Batch sizes for a nonce search beyond the data.
    pub tuning: Tuning,
}

/// How a file reached the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transfer {
    /// It was already there.
    InPlace,
    /// Renamed (same filesystem).
    Renamed,
    /// Copied, synced, compared and the source removed (another filesystem).
    Copied,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// For every file: its number, where it came from, and how it moved.
    pub files: Vec<(u32, PathBuf, Transfer)>,
    /// The VRF nonce of the whole data; `None` only when a cancelled search beyond the data left it open.
    pub nonce: Option<VrfCandidate>,
}

struct Piece {
    dir: PathBuf,
    data: PostData,
}

/// Merges pieces into the target (see the module doc).
///
/// # Errors
/// [`Error::Merge`] saying what is wrong with which piece and file (nothing is moved); lock, metadata,
/// nonce, I/O and labeller errors naming the directory or file.
pub fn merge(
    request: &MergeRequest,
    labeller: &dyn Labeller,
    cancel: &CancelToken,
    progress: &dyn ProgressSink,
) -> Result<MergeOutcome, Error> {
    let bad = |reason: String| Err(Error::Merge { reason });
    let target = request.target.as_path();
    if !target.exists() {
        fs::create_dir_all(target).map_err(|source| Error::Io {
            path: target.to_path_buf(),
            action: "creating the target directory",
            source,
        })?;
    }
    let target_id = canonical(target)?;
    let mut pieces: Vec<Piece> = Vec::new();
    let mut seen = vec![target_id.clone()];
    let mut _target_lock = None;
    let target_has_metadata = target.join(METADATA_FILE).exists();
    if target_has_metadata {
        pieces.push(Piece { dir: target.to_path_buf(), data: PostData::open(target, LockMode::Exclusive)? });
    } else {
        _target_lock = Some(DirLock::acquire(target, LockMode::Exclusive)?);
        if let Some(file) = data_file_names(target)?.first() {
            return Err(Error::DataWithoutMetadata { dir: target.to_path_buf(), file: target.join(file) });
        }
    }
    for dir in &request.pieces {
        let id = canonical(dir)?;
        if id == target_id && target_has_metadata {
            continue;
        }
        if seen.contains(&id) {
            return bad(format!("{} is listed twice (or is the target without metadata)", dir.display()));
        }
        seen.push(id);
        pieces.push(Piece { dir: dir.clone(), data: PostData::open(dir, LockMode::Exclusive)? });
    }
    let Some(first) = pieces.first() else {
        return bad("no piece with data was given".into());
    };
    let reference = first.data.metadata().clone();
    for piece in &pieces {
        check_same(&reference, &first.dir, piece)?;
        if let Some(stray) = piece.data.unexpected_files().first() {
            return bad(format!("{} is not a file of the data; move it away", stray.display()));
        }
    }

    let layout = reference.layout()?;
    let mut sources: Vec<(u32, usize)> = Vec::new();
    let mut missing = Vec::new();
    for i in 0..layout.num_files() {
        let mut owner: Option<usize> = None;
        for (k, piece) in pieces.iter().enumerate() {
            let status = &piece.data.files()[i as usize];
            match status.state {
                FileState::Missing => {}
                FileState::Complete => {
                    if let Some(o) = owner {
                        return bad(format!(
                            "file {i} is in both {} and {}; the pieces must be disjoint — move one copy away",
                            pieces[o].dir.display(),
                            piece.dir.display()
                        ));
                    }
                    owner = Some(k);
                }
                state => {
                    return bad(format!(
                        "{} is {} ({} of {} bytes); finish it first with `post init --dir {} --from-file {i} \
                         --to-file {i}`",
                        status.path.display(),
                        state.name(),
                        status.len_on_disk(),
                        status.expected_len,
                        piece.dir.display()
                    ));
                }
            }
        }
        match owner {
            Some(k) => sources.push((i, k)),
            None => missing.push(i),
        }
    }
    if !missing.is_empty() {
        return bad(format!(
            "file(s) {} of {} are in none of the pieces; initialize them (`post init --from-file/--to-file`) \
             and merge again",
            list(&missing),
            layout.num_files()
        ));
    }

    let commitment = reference.commitment();
    for &(i, k) in &sources {
        let path = Layout::file_path(&pieces[k].dir, i);
        let labels = layout.file_labels(i);
        if let Some((index, offset)) = first_differing_end(&path, labels, &commitment, request.scrypt, labeller)? {
            return bad(format!(
                "{}: label {index} at byte {offset} differs from the label recomputed with scrypt N = {}; the piece \
                 {} was written with another scrypt N (or for another identity), or the file is damaged — check it \
                 with `post verify-data --all --dir {}`",
                path.display(),
                request.scrypt.n(),
                pieces[k].dir.display(),
                pieces[k].dir.display()
            ));
        }
    }

    let difficulty = post_core::vrf_difficulty(layout.num_labels())?;
    let mut vrf = VrfSearch::new(difficulty);
    for piece in &pieces {
        vrf.offer(recorded_best(&piece.dir, piece.data.metadata(), labeller, request.scrypt)?);
    }
    let mut metadata = reference.clone();
    metadata.last_position = None;
    match vrf.best() {
        Some(best) => record_nonce(&mut metadata, &best),
        None => (metadata.nonce, metadata.nonce_value) = (None, None),
    }
    metadata.save(target)?;

    let mut files = Vec::new();
    for (i, k) in sources {
        let from = Layout::file_path(&pieces[k].dir, i);
        let to = Layout::file_path(target, i);
        let how = if canonical(&pieces[k].dir)? == target_id { Transfer::InPlace } else { move_file(&from, &to)? };
        files.push((i, from, how));
    }
    let mut consumed = Vec::new();
    for piece in &pieces {
        if canonical(&piece.dir)? != target_id && data_file_names(&piece.dir)?.is_empty() {
            let path = PostMetadata::path(&piece.dir);
            fs::remove_file(&path).map_err(|source| Error::Io {
                path,
                action: "removing the metadata of the merged piece",
                source,
            })?;
            consumed.push(piece.dir.clone());
        }
    }
    drop(pieces);
    for dir in consumed {
        remove_if_only_lock(&dir);
    }

    let mut nonce = vrf.best();
    if nonce.is_none() {
        let search = BeyondSearch {
            labeller,
            commitment: &commitment,
            params: request.scrypt,
            difficulty,
            batch: request.tuning.batch_or(labeller.preferred_batch(), BEYOND_BLOCK as usize),
            block: request.tuning.beyond_block,
            cancel,
            progress,
        };
        nonce = search.run(target, &mut metadata)?;
    }
    Ok(MergeOutcome { files, nonce })
}

/// Removes the lock file and the directory of a merged piece when nothing else is in it.
fn remove_if_only_lock(dir: &Path) {
    let only_lock = fs::read_dir(dir)
        .map(|entries| entries.flatten().all(|e| e.file_name() == std::ffi::OsStr::new(post_core::LOCK_FILE)))
        .unwrap_or(false);
    if only_lock {
        let _ = fs::remove_file(dir.join(post_core::LOCK_FILE));
        let _ = fs::remove_dir(dir);
    }
}

fn check_same(reference: &PostMetadata, reference_dir: &Path, piece: &Piece) -> Result<(), Error> {
    let m = piece.data.metadata();
    let fields: [(&str, String, String); 5] = [
        ("NodeId", reference.node_id.to_string(), m.node_id.to_string()),
        ("CommitmentAtxId", reference.commitment_atx_id.to_string(), m.commitment_atx_id.to_string()),
        ("LabelsPerUnit", reference.labels_per_unit.to_string(), m.labels_per_unit.to_string()),
        ("NumUnits", reference.num_units.to_string(), m.num_units.to_string()),
        ("MaxFileSize", reference.max_file_size.to_string(), m.max_file_size.to_string()),
    ];
    for (field, a, b) in fields {
        if a != b {
            return Err(Error::Merge {
                reason: format!(
                    "{} has {field} = {b} but {} has {a}; only pieces of the same data can be merged",
                    piece.dir.display(),
                    reference_dir.display()
                ),
            });
        }
    }
    Ok(())
}

/// Moves a data file into the target: rename, or copy + sync + compare + remove across filesystems.
fn move_file(from: &Path, to: &Path) -> Result<Transfer, Error> {
    let io = |path: &Path, action: &'static str| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, action, source }
    };
    if to.exists() {
        return Err(Error::Merge { reason: format!("{} already exists; move it away", to.display()) });
    }
    match fs::rename(from, to) {
        Ok(()) => {
            sync_parent(to)?;
            sync_parent(from)?;
            return Ok(Transfer::Renamed);
        }
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {}
        Err(source) => return Err(Error::Io { path: from.to_path_buf(), action: "moving", source }),
    }
    let temp = to.with_extension("bin.merging");
    fs::copy(from, &temp).map_err(io(&temp, "copying into"))?;
    File::open(&temp).and_then(|f| f.sync_all()).map_err(io(&temp, "syncing"))?;
    if !same_contents(from, &temp)? {
        return Err(Error::Merge {
            reason: format!("the copy {} differs from {}; the source is kept — retry", temp.display(), from.display()),
        });
    }
    fs::rename(&temp, to).map_err(io(to, "renaming into place"))?;
    sync_parent(to)?;
    fs::remove_file(from).map_err(io(from, "removing the copied source"))?;
    sync_parent(from)?;
    Ok(Transfer::Copied)
}

fn same_contents(a: &Path, b: &Path) -> Result<bool, Error> {
    let open = |p: &Path| {
        File::open(p).map_err(|source| Error::Io { path: p.to_path_buf(), action: "opening to compare", source })
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let na =
            read_full(&mut fa, &mut ba).map_err(|source| Error::Io { path: a.into(), action: "reading", source })?;
        let nb =
            read_full(&mut fb, &mut bb).map_err(|source| Error::Io { path: b.into(), action: "reading", source })?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

fn canonical(dir: &Path) -> Result<PathBuf, Error> {
    fs::canonicalize(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), action: "opening", source })
}

/// Names of `postdata_*.bin` files in a directory.
pub(crate) fn data_file_names(dir: &Path) -> Result<Vec<String>, Error> {
    let io = |source| Error::Io { path: dir.to_path_buf(), action: "listing", source };
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name().to_string_lossy().into_owned();
        if name.starts_with("postdata_") && name.ends_with(".bin") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

/// `1, 2, 5` (at most 20, then `…`).
fn list(items: &[u32]) -> String {
    let mut text = items.iter().take(20).map(u32::to_string).collect::<Vec<_>>().join(", ");
    if items.len() > 20 {
        text.push_str(", …");
    }
    text
}
