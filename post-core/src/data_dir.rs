//! An opened data directory: its lock, its metadata, its layout and the state of every file on disk.
//!
//! ```text
//! 1. take the directory's lock (shared to read, exclusive to write); a conflict stops here
//! 2. load and check postdata_metadata.json, derive the layout
//! 3. stat postdata_<i>.bin for every i of the layout, by number: complete, partial, misaligned
//!    (ends inside a label), oversized or missing
//! 4. list postdata_*.bin files the layout does not expect (beyond the last file, or names such as
//!    postdata_01.bin that are not canonical)
//! ```
//!
//! Opening never changes a data file; only the lock file is created or written.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{DirLock, Error, Layout, LockMode, PostMetadata, LABEL_SIZE};

/// What a data file looks like on disk compared with the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileState {
    /// Exactly the expected size.
    Complete,
    /// Shorter than expected, ending on a label boundary (an interrupted initialization).
    Partial {
        /// Its size in bytes.
        len: u64,
    },
    /// Not on disk.
    Missing,
    /// Longer than expected.
    Oversized {
        /// Its size in bytes.
        len: u64,
    },
    /// Shorter than expected and not a multiple of 16 bytes: the last label is torn.
    Misaligned {
        /// Its size in bytes.
        len: u64,
    },
}

impl FileState {
    /// Classifies a file of `len` bytes (or none) against the expected size.
    pub fn classify(len: Option<u64>, expected_len: u64) -> Self {
        match len {
            None => FileState::Missing,
            Some(len) if len == expected_len => FileState::Complete,
            Some(len) if len > expected_len => FileState::Oversized { len },
            Some(len) if len % LABEL_SIZE != 0 => FileState::Misaligned { len },
            Some(len) => FileState::Partial { len },
        }
    }

    /// A short word for status displays: `complete`, `partial`, `missing`, `oversized`, `misaligned`.
    pub fn name(&self) -> &'static str {
        match self {
            FileState::Complete => "complete",
            FileState::Partial { .. } => "partial",
            FileState::Missing => "missing",
            FileState::Oversized { .. } => "oversized",
            FileState::Misaligned { .. } => "misaligned",
        }
    }
}

/// One expected data file and its state.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FileStatus {
    /// The file number `i` of `postdata_<i>.bin`.
    pub index: u32,
    /// Its path.
    pub path: PathBuf,
    /// How it compares with the layout.
    pub state: FileState,
    /// The size the layout expects.
    pub expected_len: u64,
}

impl FileStatus {
    /// The size on disk: the expected size when complete, 0 when missing.
    pub fn len_on_disk(&self) -> u64 {
        match self.state {
            FileState::Complete => self.expected_len,
            FileState::Missing => 0,
            FileState::Partial { len } | FileState::Oversized { len } | FileState::Misaligned { len } => len,
        }
    }

    /// The error [`PostData::require_complete`] reports for this file; `None` when complete.
    pub fn problem(&self) -> Option<Error> {
        let size = |advice| Error::FileSize {
            path: self.path.clone(),
            len: self.len_on_disk(),
            expected_len: self.expected_len,
            advice,
        };
        match self.state {
            FileState::Complete => None,
            FileState::Missing => Some(Error::FileMissing { path: self.path.clone(), expected_len: self.expected_len }),
            FileState::Partial { .. } => {
                Some(size("the file is incomplete; run `post init` on the directory to finish it"))
            }
            FileState::Misaligned { .. } => Some(size(
                "the file ends inside a label (its size is not a multiple of 16), as after a crash; run `post init` \
                 on the directory to resume, which recomputes the torn label",
            )),
            FileState::Oversized { .. } => Some(size(
                "the file is longer than the metadata allows; check NumUnits and MaxFileSize in \
                 postdata_metadata.json, or move the file away if it belongs to other data",
            )),
        }
    }
}

/// An opened, locked data directory.
#[derive(Debug)]
pub struct PostData {
    dir: PathBuf,
    lock: DirLock,
    metadata: PostMetadata,
    layout: Layout,
    files: Vec<FileStatus>,
    unexpected: Vec<PathBuf>,
}

impl PostData {
    /// Locks `dir` in `mode`, loads its metadata and inspects its files (see the module doc).
    ///
    /// # Errors
    /// [`Error::Locked`] when another process holds a conflicting lock; the errors of
    /// [`PostMetadata::load`]; [`Error::NotAFile`] when a `postdata_<i>.bin` path is not a regular file;
    /// [`Error::Io`] naming the path when the directory cannot be read.
    pub fn open(dir: &Path, mode: LockMode) -> Result<PostData, Error> {
        // Not PoST data: say so before the lock would leave a lock file in someone's directory.
        if !PostMetadata::path(dir).exists() {
            PostMetadata::load(dir)?;
        }
        let lock = DirLock::acquire(dir, mode)?;
        let metadata = PostMetadata::load(dir)?;
        let layout = Self::metadata_layout(dir, &metadata)?;
        let mut data =
            PostData { dir: dir.to_owned(), lock, metadata, layout, files: Vec::new(), unexpected: Vec::new() };
        data.rescan()?;
        Ok(data)
    }

    fn metadata_layout(dir: &Path, metadata: &PostMetadata) -> Result<Layout, Error> {
        metadata.layout().map_err(|e| match e {
            Error::Metadata { field, reason, .. } => Error::Metadata { path: PostMetadata::path(dir), field, reason },
            other => other,
        })
    }

    /// Inspects the files again, e.g. after writing some of them.
    ///
    /// # Errors
    /// As [`PostData::open`], minus the lock and metadata errors.
    pub fn rescan(&mut self) -> Result<(), Error> {
        let mut files = Vec::with_capacity(self.layout.num_files() as usize);
        for index in 0..self.layout.num_files() {
            let path = Layout::file_path(&self.dir, index);
            let len = match fs::metadata(&path) {
                Ok(meta) if meta.is_file() => Some(meta.len()),
                Ok(_) => return Err(Error::NotAFile { path }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(source) => return Err(Error::Io { path, source }),
            };
            let expected_len = self.layout.expected_file_size(index);
            files.push(FileStatus { index, path, state: FileState::classify(len, expected_len), expected_len });
        }
        self.files = files;
        self.unexpected = unexpected_files(&self.dir, self.layout.num_files())?;
        Ok(())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The lock held on it.
    pub fn lock(&self) -> &DirLock {
        &self.lock
    }

    /// Its metadata.
    pub fn metadata(&self) -> &PostMetadata {
        &self.metadata
    }

    /// Its layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Every file of the layout, in file-number order.
    pub fn files(&self) -> &[FileStatus] {
        &self.files
    }

    /// `postdata_*.bin` files outside the layout: numbers beyond the last file, or non-canonical names
    /// such as `postdata_01.bin`. Sorted by name. They are never read.
    pub fn unexpected_files(&self) -> &[PathBuf] {
        &self.unexpected
    }

    /// True when every file of the layout is complete.
    pub fn is_complete(&self) -> bool {
        self.files.iter().all(|f| f.state == FileState::Complete)
    }

    /// Labels on disk in files that are complete or partial, counting whole labels only.
    pub fn labels_on_disk(&self) -> u64 {
        self.files.iter().map(|f| f.len_on_disk().min(f.expected_len) / LABEL_SIZE).sum()
    }

    /// Checks that every file of the layout is complete.
    ///
    /// # Errors
    /// The first bad file's [`FileStatus::problem`]: [`Error::FileMissing`] or [`Error::FileSize`] naming
    /// the file, its size and what to do.
    pub fn require_complete(&self) -> Result<(), Error> {
        match self.files.iter().find_map(FileStatus::problem) {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }
}

/// Lists `postdata_*.bin` names in `dir` that are not files 0..num_files.
fn unexpected_files(dir: &Path, num_files: u32) -> Result<Vec<PathBuf>, Error> {
    let io = |source| Error::Io { path: dir.to_owned(), source };
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).map_err(io)? {
        let name = entry.map_err(io)?.file_name();
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("postdata_") && name.ends_with(".bin")) {
            continue;
        }
        if Layout::parse_file_name(name).is_none_or(|i| i >= num_files) {
            found.push(dir.join(name));
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(FileState::classify(None, 4800), FileState::Missing);
        assert_eq!(FileState::classify(Some(4800), 4800), FileState::Complete);
        assert_eq!(FileState::classify(Some(4816), 4800), FileState::Oversized { len: 4816 });
        assert_eq!(FileState::classify(Some(4801), 4800), FileState::Oversized { len: 4801 });
        assert_eq!(FileState::classify(Some(4790), 4800), FileState::Misaligned { len: 4790 });
        assert_eq!(FileState::classify(Some(0), 4800), FileState::Partial { len: 0 });
        assert_eq!(FileState::classify(Some(4784), 4800), FileState::Partial { len: 4784 });
        assert_eq!(FileState::Partial { len: 3 }.name(), "partial");
    }

    #[test]
    fn every_bad_state_has_advice() {
        let status =
            |state| FileStatus { index: 2, path: PathBuf::from("d/postdata_2.bin"), state, expected_len: 4800 };
        assert!(status(FileState::Complete).problem().is_none());
        for state in [
            FileState::Missing,
            FileState::Partial { len: 16 },
            FileState::Misaligned { len: 17 },
            FileState::Oversized { len: 4816 },
        ] {
            let status = status(state);
            let text = status.problem().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains("d/postdata_2.bin") && text.contains("4800"), "{text}");
            if state != FileState::Missing {
                assert!(text.contains(&format!("{} bytes", status.len_on_disk())), "{text}");
            }
        }
    }
}
