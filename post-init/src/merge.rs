//! `merge`: combine directories initialized in pieces (`--from-file/--to-file`, on several GPUs or
//! machines) into one, without hand editing.
//!
//! ```text
//! 1. Lock the target and every piece exclusively. The target may be one of the pieces, an empty or
//!    new directory, or a directory holding some of the files.
//! 2. Every directory's metadata must agree on NodeId, CommitmentAtxId, LabelsPerUnit, NumUnits and
//!    MaxFileSize. Every file of the layout must be complete in exactly one directory; partial, torn,
//!    oversized, duplicated, stray or missing files stop the merge before anything moves. The one
//!    duplicate allowed is a file complete in the target and in one piece with the same bytes, as an
//!    interrupted copy leaves it (see 6).
//!    The first and last labels of every file are recomputed: a file written with another scrypt N (or
//!    for another identity) stops the merge too.
//! 3. The best VRF nonce is the best of the pieces' nonces (each recomputed and checked): each piece
//!    searched its own files, so the best of the bests is the nonce of the whole data.
//! 4. Write the target's metadata (atomically) first, then move the files: a rename on the same
//!    filesystem; across filesystems a copy to postdata_<i>.bin.merging in the target, synced, compared
//!    byte for byte with the source, renamed into place, and only then the source removed.
//! 5. If no piece found a nonce, search beyond the data (see `nonce_search`).
//! 6. An interrupted merge (killed, a power cut) can be run again with the same arguments; it ends as
//!    an uninterrupted merge does. Where it stopped, the rerun finds
//!    - the target's metadata written, no file moved yet: the target is one more piece, without files;
//!    - a postdata_<i>.bin.merging copy in the target, partial or whole: it is no data file and is
//!      never read; file i is copied again over it (one left beside a file already in place is removed);
//!    - file i renamed into place in the target but still in its piece: the two are compared byte for
//!      byte; the same, the target's copy is kept and the piece's removed, which finishes the move
//!      (Transfer::Finished); different, the merge stops naming both, to be checked with
//!      `post verify-data`, and changes nothing;
//!    - a piece whose files all moved, its metadata still there: the metadata is removed (see below);
//!    - a piece already removed, or holding neither metadata nor data files: it was merged (the target's
//!      metadata, written before anything moved, carries its nonce); a file it should still hold is
//!      reported missing;
//!    - a search beyond the data under way: it resumes at the target's LastPosition.
//! ```
//! A piece left without data files (every file moved to the target) loses its metadata file and its durable marks too — they
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
    /// Already in the target and still in a piece, byte for byte the same (as a copy interrupted before
    /// it removed its source leaves it): the piece's copy was removed, which finishes the move.
    Finished,
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
    // Pieces an interrupted merge already consumed (their files moved, their metadata removed).
    let mut merged_before: Vec<PathBuf> = Vec::new();
    for dir in &request.pieces {
        if target_has_metadata && already_merged(dir)? {
            merged_before.push(dir.clone());
            continue;
        }
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
    // The target, when it has metadata, is `pieces[0]`.
    let is_target = |k: usize| target_has_metadata && k == 0;
    // For every file: the directory that holds it, and a piece still holding the same bytes when an
    // interrupted copy already put the file into the target.
    let mut sources: Vec<(u32, usize, Option<usize>)> = Vec::new();
    let mut missing = Vec::new();
    for i in 0..layout.num_files() {
        let mut owner: Option<usize> = None;
        let mut left_behind: Option<usize> = None;
        for (k, piece) in pieces.iter().enumerate() {
            let status = &piece.data.files()[i as usize];
            match status.state {
                FileState::Missing => {}
                FileState::Complete => match owner {
                    None => owner = Some(k),
                    Some(o) if is_target(o) && left_behind.is_none() => {
                        let (kept, copy) = (&pieces[o].data.files()[i as usize].path, &status.path);
                        if !same_contents(kept, copy)? {
                            return bad(format!(
                                "file {i} is in both the target, {}, and the piece, {}, and the two differ; one \
                                 of them is damaged — check both with `post verify-data --all --dir {}` and \
                                 `post verify-data --all --dir {}`, then move the damaged copy away",
                                kept.display(),
                                copy.display(),
                                pieces[o].dir.display(),
                                piece.dir.display()
                            ));
                        }
                        left_behind = Some(k);
                    }
                    Some(o) => {
                        let other = left_behind.unwrap_or(o);
                        return bad(format!(
                            "file {i} is in both {} and {}; the pieces must be disjoint — move one copy away",
                            pieces[other].dir.display(),
                            piece.dir.display()
                        ));
                    }
                },
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
            Some(k) => sources.push((i, k, left_behind)),
            None => missing.push(i),
        }
    }
    if !missing.is_empty() {
        let gone = if merged_before.is_empty() {
            String::new()
        } else {
            format!(
                " ({} holds neither metadata nor data files: taken as merged already)",
                merged_before.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
            )
        };
        return bad(format!(
            "file(s) {} of {} are in none of the pieces{gone}; initialize them (`post init --from-file/--to-file`) \
             and merge again",
            list(&missing),
            layout.num_files()
        ));
    }

    let commitment = reference.commitment();
    for &(i, k, _) in &sources {
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
    // A search beyond the data that an interrupted merge began resumes where it got to; labels beyond
    // the data do not depend on which piece holds which file.
    if !target_has_metadata || metadata.last_position.is_some_and(|p| p < layout.num_labels()) {
        metadata.last_position = None;
    }
    match vrf.best() {
        Some(best) => record_nonce(&mut metadata, &best),
        None => (metadata.nonce, metadata.nonce_value) = (None, None),
    }
    metadata.save(target)?;

    let mut files = Vec::new();
    for (i, k, left_behind) in sources {
        let to = Layout::file_path(target, i);
        let (from, how) = match (is_target(k), left_behind) {
            (false, _) => {
                let from = Layout::file_path(&pieces[k].dir, i);
                let how = move_file(&from, &to)?;
                (from, how)
            }
            (true, None) => (to.clone(), Transfer::InPlace),
            (true, Some(d)) => {
                let copy = Layout::file_path(&pieces[d].dir, i);
                fs::remove_file(&copy).map_err(|source| Error::Io {
                    path: copy.clone(),
                    action: "removing the piece's copy of a file already in the target",
                    source,
                })?;
                sync_parent(&copy)?;
                (copy, Transfer::Finished)
            }
        };
        remove_stale_copy(&to)?;
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
            // Durable marks describe the piece's files, which all moved: they say nothing any more.
            let marks = piece.dir.join(crate::DURABLE_FILE);
            match fs::remove_file(&marks) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(Error::Io {
                        path: marks,
                        action: "removing the durable marks of the merged piece",
                        source,
                    })
                }
            }
            consumed.push(piece.dir.clone());
        }
    }
    drop(pieces);
    consumed.extend(merged_before);
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
    // A copy left by an interrupted merge is overwritten: `fs::copy` truncates.
    let temp = temp_path(to);
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

/// The temporary name of a file copied across filesystems: `postdata_<i>.bin.merging`, which no
/// listing of data files takes for data.
fn temp_path(to: &Path) -> PathBuf {
    to.with_extension("bin.merging")
}

/// Removes a temporary copy an interrupted merge left beside a file now in place.
fn remove_stale_copy(to: &Path) -> Result<(), Error> {
    let temp = temp_path(to);
    match fs::remove_file(&temp) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(Error::Io { path: temp, action: "removing the copy left by an interrupted merge", source }),
    }
}

/// Whether a listed piece was consumed by an interrupted run of the same merge: it is gone, or it is a
/// directory without metadata and without data files (what is left once its files moved and its
/// metadata was removed).
fn already_merged(dir: &Path) -> Result<bool, Error> {
    match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(source) => Err(Error::Io { path: dir.to_path_buf(), action: "opening", source }),
        Ok(meta) if !meta.is_dir() => Ok(false),
        Ok(_) => Ok(!dir.join(METADATA_FILE).exists() && data_file_names(dir)?.is_empty()),
    }
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
