//! `info`: the state of a data directory without taking its lock, so that it also works while
//! another process initializes or proves from it — identity, shape, the state of every file, the nonce,
//! and who holds the lock.
//!
//! `post_core::PostData::open` gives the same per-file view but only under a lock, which a running
//! writer holds; this is the lock-free variant the status display needs.

use std::fs;
use std::path::{Path, PathBuf};

use post_core::{lock_holder, FileState, FileStatus, Layout, PostMetadata, LABEL_SIZE};

use crate::merge::data_file_names;
use crate::Error;

/// What a data directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct DirStatus {
    /// The directory.
    pub dir: PathBuf,
    /// Its metadata.
    pub metadata: PostMetadata,
    /// Its layout.
    pub layout: Layout,
    /// Every file of the layout with its state.
    pub files: Vec<FileStatus>,
    /// `postdata_*.bin` files outside the layout.
    pub stray_files: Vec<PathBuf>,
    /// Who holds the directory's lock, if anyone.
    pub lock_holder: Option<String>,
    /// Durable marks of files an init was writing when it stopped (file number → bytes synced to the
    /// disk); the labels after a mark are recomputed by the next `init` before they count.
    pub durable_marks: std::collections::BTreeMap<u32, u64>,
    /// Why the durable marks file cannot be used, when it cannot (the next `init` sets it aside).
    pub durable_marks_unusable: Option<String>,
}

impl DirStatus {
    /// Whole labels on disk, counting at most each file's expected size.
    pub fn labels_on_disk(&self) -> u64 {
        self.files.iter().map(|f| f.len_on_disk().min(f.expected_len) / LABEL_SIZE).sum()
    }

    /// True when every file is complete.
    pub fn is_complete(&self) -> bool {
        self.files.iter().all(|f| f.state == FileState::Complete)
    }
}

/// Reads the state of `dir` without locking it; changes nothing.
///
/// # Errors
/// The metadata's load errors (naming the file and field), [`Error::Io`] naming a path that cannot be
/// read.
pub fn inspect(dir: &Path) -> Result<DirStatus, Error> {
    let metadata = PostMetadata::load(dir)?;
    let layout = metadata.layout()?;
    let mut files = Vec::with_capacity(layout.num_files() as usize);
    for index in 0..layout.num_files() {
        let path = Layout::file_path(dir, index);
        let len = match fs::metadata(&path) {
            Ok(m) => Some(m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(source) => return Err(Error::Io { path, action: "reading the size of", source }),
        };
        let expected_len = layout.expected_file_size(index);
        files.push(FileStatus { index, path, state: FileState::classify(len, expected_len), expected_len });
    }
    let stray_files = data_file_names(dir)?
        .into_iter()
        .filter(|name| Layout::parse_file_name(name).is_none_or(|i| i >= layout.num_files()))
        .map(|name| dir.join(name))
        .collect();
    let lock_holder = lock_holder(dir)?;
    let (durable_marks, durable_marks_unusable) =
        match crate::durable::DurableMarks::load(dir, metadata.commitment(), metadata.max_file_size) {
            Ok((marks, unusable)) => (marks.all().clone(), unusable.map(|u| u.reason)),
            Err(e) => (Default::default(), Some(e.to_string())),
        };
    Ok(DirStatus {
        dir: dir.to_path_buf(),
        metadata,
        layout,
        files,
        stray_files,
        lock_holder,
        durable_marks,
        durable_marks_unusable,
    })
}
