//! Durable progress: how much of each data file being written is known to be on the disk.
//!
//! The kernel may keep written labels in its page cache for a long time, and a power cut loses what it
//! had not written back — not only at the end of a file: pages inside the unsynced region may be lost
//! (reading as zeros) or keep stale bytes while later pages survive. A resume that checks only where a
//! file ends would then count such a file as right. So:
//!
//! ```text
//! 1. The writer syncs the file it writes (fdatasync) every `Tuning::sync_bytes` bytes, and after each
//!    sync records in `.post-durable.json` (ours; never in postdata_metadata.json, which the network's
//!    tools read) the file's "durable up to" byte: every byte before it is on the disk.
//! 2. Before the first byte is written to a file, the bytes it keeps are synced and recorded, so a
//!    file being written always has a mark. A finished file is synced and its mark removed (a file
//!    without a mark is either complete and synced, or was written by another tool).
//! 3. On resume, every label between a file's mark and its end is recomputed and compared; the run
//!    continues after the last right label before the first wrong one, so lost or stale pages are
//!    rewritten with the right labels.
//! ```
//!
//! The marks file is replaced atomically (temp file, sync, rename, directory sync). One that cannot be
//! used (damaged, or written for another identity or file size) is set aside — renamed, never deleted —
//! and the files fall back to the check of where they end.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use post_core::{Commitment, LABEL_SIZE};
use serde::{Deserialize, Serialize};

use crate::pipeline::sync_parent;
use crate::Error;

/// The marks file in the data directory.
pub const DURABLE_FILE: &str = ".post-durable.json";

/// Where a new marks file is written before it is renamed into place.
const TEMP_FILE: &str = ".post-durable.json.tmp";

/// A marks file larger than this is not ours (one mark per file being written: a few hundred bytes).
const MAX_LEN: u64 = 1 << 20;

/// Bytes written between two syncs of a data file by default: a power cut costs at most this much
/// re-checking per file being written, and the syncs cost well under 1 % of the write speed.
pub const SYNC_BYTES: u64 = 256 << 20;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnDisk {
    about: String,
    version: u32,
    commitment: String,
    max_file_size: u64,
    /// File number → bytes known to be on the disk.
    durable: BTreeMap<u32, u64>,
}

/// The "durable up to" marks of one data directory.
#[derive(Debug, Clone)]
pub(crate) struct DurableMarks {
    dir: PathBuf,
    commitment: Commitment,
    max_file_size: u64,
    marks: BTreeMap<u32, u64>,
}

/// A marks file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unusable {
    pub path: PathBuf,
    pub reason: String,
}

impl DurableMarks {
    /// No marks, for a directory of this identity and file size.
    pub fn empty(dir: &Path, commitment: Commitment, max_file_size: u64) -> Self {
        Self { dir: dir.to_path_buf(), commitment, max_file_size, marks: BTreeMap::new() }
    }

    /// Reads the marks of `dir`; no file means no marks. A file that is damaged or belongs to other data
    /// comes back as [`Unusable`] beside empty marks (nothing is changed on disk here).
    ///
    /// # Errors
    /// [`Error::Io`] when the file exists but cannot be read.
    pub fn load(dir: &Path, commitment: Commitment, max_file_size: u64) -> Result<(Self, Option<Unusable>), Error> {
        let mut marks = Self::empty(dir, commitment, max_file_size);
        let path = dir.join(DURABLE_FILE);
        let io = |source| Error::Io { path: path.clone(), action: "reading", source };
        let len = match fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((marks, None)),
            Err(e) => return Err(io(e)),
        };
        let unusable = |reason: String| {
            Ok((Self::empty(dir, commitment, max_file_size), Some(Unusable { path: path.clone(), reason })))
        };
        if len > MAX_LEN {
            return unusable(format!("{len} bytes, more than a marks file can hold ({MAX_LEN})"));
        }
        let text = fs::read(&path).map_err(io)?;
        let on_disk: OnDisk = match serde_json::from_slice(&text) {
            Ok(d) => d,
            Err(e) => return unusable(format!("not a marks file: {e}")),
        };
        if on_disk.version != 1 {
            return unusable(format!("version {} (this build reads version 1)", on_disk.version));
        }
        if on_disk.commitment != hex::encode(commitment.0) || on_disk.max_file_size != max_file_size {
            return unusable("written for other data (another identity or file size)".into());
        }
        if let Some((file, bytes)) = on_disk.durable.iter().find(|(_, b)| **b % LABEL_SIZE != 0) {
            return unusable(format!("the mark of file {file} ({bytes}) is not a whole number of labels"));
        }
        marks.marks = on_disk.durable;
        Ok((marks, None))
    }

    /// The mark of file `file`: bytes known to be on the disk.
    pub fn get(&self, file: u32) -> Option<u64> {
        self.marks.get(&file).copied()
    }

    /// Every mark: file number → bytes known to be on the disk.
    pub fn all(&self) -> &BTreeMap<u32, u64> {
        &self.marks
    }

    /// Records that the first `bytes` of file `file` are on the disk (the caller synced them).
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::DiskFull`] when the marks file cannot be written.
    pub fn set(&mut self, file: u32, bytes: u64) -> Result<(), Error> {
        if self.marks.insert(file, bytes) == Some(bytes) {
            return Ok(());
        }
        self.save()
    }

    /// Forgets the mark of a file that is complete and synced.
    ///
    /// # Errors
    /// As [`DurableMarks::set`].
    pub fn remove(&mut self, file: u32) -> Result<(), Error> {
        if self.marks.remove(&file).is_none() {
            return Ok(());
        }
        self.save()
    }

    /// Writes the marks atomically; with no mark left, removes the file (it would say nothing).
    fn save(&self) -> Result<(), Error> {
        let path = self.dir.join(DURABLE_FILE);
        if self.marks.is_empty() {
            return match fs::remove_file(&path) {
                Ok(()) => sync_parent(&path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(Error::Io { path, action: "removing", source }),
            };
        }
        let on_disk = OnDisk {
            about: "post init: bytes of each data file being written that are synced to the disk".into(),
            version: 1,
            commitment: hex::encode(self.commitment.0),
            max_file_size: self.max_file_size,
            durable: self.marks.clone(),
        };
        let text = serde_json::to_vec_pretty(&on_disk)
            .map_err(|e| Error::Internal { what: format!("encoding {}: {e}", path.display()) })?;
        let temp = self.dir.join(TEMP_FILE);
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temp)?;
            file.write_all(&text)?;
            file.sync_all()
        };
        write().map_err(|e| crate::pipeline::write_error(&temp, 0, e))?;
        fs::rename(&temp, &path).map_err(|source| Error::Io { path: path.clone(), action: "replacing", source })?;
        sync_parent(&path)
    }
}

/// Sets an unusable marks file aside: renamed to `<name>.unusable` (a number appended when that
/// exists), never deleted; returns the new name.
///
/// # Errors
/// [`Error::Io`] when the rename fails.
pub(crate) fn set_aside(path: &Path) -> Result<PathBuf, Error> {
    let mut to = path.with_extension("json.unusable");
    let mut n = 1;
    while to.exists() {
        to = path.with_extension(format!("json.unusable.{n}"));
        n += 1;
    }
    fs::rename(path, &to).map_err(|source| Error::Io { path: path.to_path_buf(), action: "setting aside", source })?;
    sync_parent(path)?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn marks_round_trip_and_vanish_when_empty() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Commitment([7; 32]);
        let mut marks = DurableMarks::empty(tmp.path(), c, 4800);
        marks.set(3, 1600).unwrap();
        marks.set(4, 0).unwrap();
        let (loaded, unusable) = DurableMarks::load(tmp.path(), c, 4800).unwrap();
        assert_eq!((loaded.get(3), loaded.get(4), loaded.get(5), unusable), (Some(1600), Some(0), None, None));
        marks.remove(3).unwrap();
        marks.remove(4).unwrap();
        assert!(!tmp.path().join(DURABLE_FILE).exists());
        assert!(!tmp.path().join(TEMP_FILE).exists());
    }

    #[test]
    fn marks_of_other_data_or_damaged_are_unusable() {
        let tmp = tempfile::tempdir().unwrap();
        let c = Commitment([7; 32]);
        DurableMarks::empty(tmp.path(), c, 4800).set(1, 160).unwrap();
        for (commitment, size) in [(Commitment([8; 32]), 4800), (c, 9600)] {
            let (marks, unusable) = DurableMarks::load(tmp.path(), commitment, size).unwrap();
            assert_eq!(marks.get(1), None);
            assert!(unusable.unwrap().reason.contains("other data"));
        }
        let path = tmp.path().join(DURABLE_FILE);
        for (text, why) in [
            (&b"{\"durable\": "[..], "not a marks file"),
            (&br#"{"about":"","version":2,"commitment":"","max_file_size":0,"durable":{}}"#[..], "version 2"),
        ] {
            fs::write(&path, text).unwrap();
            let (_, unusable) = DurableMarks::load(tmp.path(), c, 4800).unwrap();
            assert!(unusable.unwrap().reason.contains(why), "{why}");
        }
        let odd = format!(
            r#"{{"about":"","version":1,"commitment":"{}","max_file_size":4800,"durable":{{"2":17}}}}"#,
            hex::encode(c.0)
        );
        fs::write(&path, odd).unwrap();
        assert!(DurableMarks::load(tmp.path(), c, 4800).unwrap().1.unwrap().reason.contains("whole number"));
        let aside = set_aside(&path).unwrap();
        assert!(aside.exists() && !path.exists());
        fs::write(&path, b"x").unwrap();
        assert_ne!(set_aside(&path).unwrap(), aside, "a second set-aside keeps the first");
    }
}
