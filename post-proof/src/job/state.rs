//! The saved state of a proof job: `<data dir>/.post-proof/<challenge hex>.json`, with a lock file and an
//! event trace beside it. The network's files are never touched.
//!
//! ```text
//! .post-proof/<challenge>.json   the state, replaced atomically (temp file, fsync, rename, fsync dir)
//! .post-proof/<challenge>.lock   held (flock) by the process running the job: one runner per challenge
//! .post-proof/<challenge>.log    one line per event (run started, k2pow group found, pass ended, proof
//!                                found, verified, failed), appended after the state that records it
//! ```
//!
//! A state whose parameters differ from the request, or that does not parse, is renamed to
//! `<challenge>.json.bad-<unix seconds>` (never deleted) and the job starts afresh.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use post_core::{Challenge, Proof};
use serde::{Deserialize, Serialize};

use crate::Error;

/// The folder of job states inside a data directory.
pub const JOB_DIR: &str = ".post-proof";

/// Format version of the state file.
const VERSION: u32 = 1;

/// Largest state file read: a state holds at most 4096 nonces' k2 indices, far below this.
const MAX_STATE_BYTES: u64 = 64 << 20;

/// What a job proves, as saved: a state is used only for exactly the same parameters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SavedParams {
    pub challenge: String,
    pub node_id: String,
    pub commitment_atx_id: String,
    pub num_units: u32,
    pub labels_per_unit: u64,
    pub k1: u32,
    pub k2: u32,
    pub nonces: u32,
    pub pow_difficulty: String,
}

impl SavedParams {
    /// The first field that differs from `other`, for the message that sets a state aside.
    pub fn first_difference(&self, other: &SavedParams) -> Option<&'static str> {
        let fields: [(&'static str, bool); 9] = [
            ("challenge", self.challenge != other.challenge),
            ("node id", self.node_id != other.node_id),
            ("commitment ATX id", self.commitment_atx_id != other.commitment_atx_id),
            ("number of units", self.num_units != other.num_units),
            ("labels per unit", self.labels_per_unit != other.labels_per_unit),
            ("k1", self.k1 != other.k1),
            ("k2", self.k2 != other.k2),
            ("nonces per pass", self.nonces != other.nonces),
            ("proof-of-work difficulty", self.pow_difficulty != other.pow_difficulty),
        ];
        fields.into_iter().find(|(_, differs)| *differs).map(|(name, _)| name)
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SavedPhase {
    /// Proving: k2pow or the scan of pass `pass`.
    Proving,
    /// A proof was found and is being verified.
    Verifying,
    /// The proof is verified and kept in `proof`.
    Done,
    /// The last run failed (`failure` says why); the next run starts the scan again.
    Failed,
}

/// Time and work over all runs of the job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Totals {
    /// Runs started (1 for an uninterrupted job).
    pub runs: u32,
    /// Seconds spent on k2pow.
    pub k2pow_secs: f64,
    /// Seconds spent scanning.
    pub scan_secs: f64,
    /// Seconds spent verifying.
    pub verify_secs: f64,
    /// Bytes scanned over all passes.
    pub bytes_scanned: u64,
}

/// The state file's contents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedState {
    pub version: u32,
    pub params: SavedParams,
    pub phase: SavedPhase,
    /// The k2pow of every nonce group computed so far, by group.
    pub pows: BTreeMap<u8, u64>,
    /// The pass being scanned, from 0.
    pub pass: u32,
    /// The first label of the pass not yet scanned.
    pub position: u64,
    /// The good indices each nonce of the pass has collected (at most k2 each).
    pub candidates: Vec<Vec<u64>>,
    pub totals: Totals,
    /// The proof, once found.
    pub proof: Option<Proof>,
    /// Why the last run failed.
    pub failure: Option<String>,
}

impl SavedState {
    /// A job that has done nothing yet.
    pub fn new(params: SavedParams) -> Self {
        Self {
            version: VERSION,
            params,
            phase: SavedPhase::Proving,
            pows: BTreeMap::new(),
            pass: 0,
            position: 0,
            candidates: Vec::new(),
            totals: Totals::default(),
            proof: None,
            failure: None,
        }
    }
}

/// The files of one job.
#[derive(Debug, Clone)]
pub(crate) struct JobFiles {
    pub state: PathBuf,
    pub lock: PathBuf,
    pub log: PathBuf,
    /// False on a read-only directory: the job runs, but nothing is saved.
    pub persist: bool,
}

impl JobFiles {
    /// The files of the job for `challenge` in data directory `dir`.
    pub fn new(dir: &Path, challenge: &Challenge) -> Self {
        let base = dir.join(JOB_DIR).join(hex::encode(challenge.as_bytes()));
        let with = |ext: &str| base.with_extension(ext);
        Self { state: with("json"), lock: with("lock"), log: with("log"), persist: true }
    }

    /// Creates the job folder and takes the job's lock. `Ok(None)` when the data directory is read-only
    /// (a read-only mount or no write permission): the job can run but not be saved.
    ///
    /// # Errors
    /// [`Error::JobBusy`] when another process holds it; [`Error::JobState`] when the folder or the
    /// lock file cannot be made for another reason.
    pub fn lock(&self) -> Result<Option<File>, Error> {
        let folder = self.state.parent().unwrap_or(Path::new("."));
        match fs::create_dir_all(folder) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied) => {
                return Ok(None)
            }
            Err(e) => return Err(state_error(folder, format!("cannot create the folder: {e}"))),
        }
        let file = OpenOptions::new().create(true).truncate(false).write(true).open(&self.lock);
        let file = match file {
            Ok(file) => file,
            Err(e) if matches!(e.kind(), ErrorKind::ReadOnlyFilesystem | ErrorKind::PermissionDenied) => {
                return Ok(None)
            }
            Err(e) => return Err(state_error(&self.lock, e.to_string())),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(fs::TryLockError::WouldBlock) => Err(Error::JobBusy { path: self.lock.clone() }),
            Err(fs::TryLockError::Error(e)) => Err(state_error(&self.lock, e.to_string())),
        }
    }

    /// Reads the saved state: `Ok(None)` when there is none, `Err(reason)` when it cannot be used.
    pub fn load(&self) -> Result<Option<SavedState>, String> {
        let len = match fs::metadata(&self.state) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.to_string()),
        };
        if len > MAX_STATE_BYTES {
            return Err(format!("{len} bytes is larger than a job state can be"));
        }
        let text = fs::read_to_string(&self.state).map_err(|e| e.to_string())?;
        let state: SavedState = serde_json::from_str(&text).map_err(|e| format!("it does not parse: {e}"))?;
        if state.version != VERSION {
            return Err(format!("format version {} is not {VERSION}", state.version));
        }
        Ok(Some(state))
    }

    /// Renames the state file out of the way; returns the new name.
    ///
    /// # Errors
    /// [`Error::JobState`] when the rename fails.
    pub fn set_aside(&self) -> Result<PathBuf, Error> {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut to = self.state.with_extension(format!("json.bad-{secs}"));
        let mut n = 1;
        while to.exists() {
            to = self.state.with_extension(format!("json.bad-{secs}-{n}"));
            n += 1;
        }
        fs::rename(&self.state, &to).map_err(|e| state_error(&self.state, format!("cannot set it aside: {e}")))?;
        Ok(to)
    }

    /// Writes the state atomically: temp file, fsync, rename, fsync of the folder.
    ///
    /// # Errors
    /// [`Error::JobState`] naming the file that could not be written.
    pub fn save(&self, state: &SavedState) -> Result<(), Error> {
        if !self.persist {
            return Ok(());
        }
        let text = serde_json::to_string(state).map_err(|e| state_error(&self.state, e.to_string()))?;
        let temp = self.state.with_extension("json.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()
        };
        write().map_err(|e| state_error(&temp, e.to_string()))?;
        fs::rename(&temp, &self.state).map_err(|e| state_error(&self.state, e.to_string()))?;
        let folder = self.state.parent().unwrap_or(Path::new("."));
        File::open(folder).and_then(|d| d.sync_all()).map_err(|e| state_error(folder, e.to_string()))
    }

    /// Appends one event line to the trace, with the time. The trace is for people and tests; a failure
    /// to write it does not stop the job.
    pub fn trace(&self, event: &str) {
        if !self.persist {
            return;
        }
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        let line = format!("{secs:.3} {event}\n");
        let _ =
            OpenOptions::new().create(true).append(true).open(&self.log).and_then(|mut f| f.write_all(line.as_bytes()));
    }
}

fn state_error(path: &Path, reason: String) -> Error {
    Error::JobState { path: path.to_owned(), reason }
}

/// Removes the files of every job in `dir` except `keep`'s; returns what was removed. Files of a job
/// that another process is running are left alone.
///
/// # Errors
/// [`Error::JobState`] when the folder cannot be read or a file cannot be removed.
pub fn remove_jobs_except(dir: &Path, keep: Option<&Challenge>) -> Result<Vec<PathBuf>, Error> {
    let folder = dir.join(JOB_DIR);
    let entries = match fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(state_error(&folder, e.to_string())),
    };
    let keep = keep.map(|c| hex::encode(c.as_bytes()));
    let mut removed = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| state_error(&folder, e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.split('.').next().filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
        else {
            continue;
        };
        if keep.as_deref() == Some(stem) {
            continue;
        }
        // A job someone runs now keeps its files.
        let lock = folder.join(format!("{stem}.lock"));
        if let Ok(file) = OpenOptions::new().write(true).open(&lock) {
            if file.try_lock().is_err() {
                continue;
            }
        }
        let path = entry.path();
        fs::remove_file(&path).map_err(|e| state_error(&path, format!("cannot remove it: {e}")))?;
        removed.push(path);
    }
    removed.sort();
    Ok(removed)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn params() -> SavedParams {
        SavedParams {
            challenge: "ab".repeat(32),
            node_id: "01".repeat(32),
            commitment_atx_id: "02".repeat(32),
            num_units: 4,
            labels_per_unit: 1024,
            k1: 26,
            k2: 37,
            nonces: 288,
            pow_difficulty: "ff".repeat(32),
        }
    }

    #[test]
    fn a_saved_state_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let files = JobFiles::new(dir.path(), &Challenge([0xab; 32]));
        let _lock = files.lock().unwrap().unwrap();
        assert_eq!(files.load(), Ok(None));
        let mut state = SavedState::new(params());
        state.pows.insert(3, 77);
        state.candidates = vec![vec![1, 5], vec![]];
        files.save(&state).unwrap();
        assert_eq!(files.load(), Ok(Some(state)));
        assert!(files.state.ends_with(format!(".post-proof/{}.json", "ab".repeat(32))));
    }

    #[test]
    fn a_second_runner_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let files = JobFiles::new(dir.path(), &Challenge([1; 32]));
        let held = files.lock().unwrap();
        assert!(held.is_some());
        assert!(matches!(files.lock(), Err(Error::JobBusy { .. })));
        drop(held);
        assert!(files.lock().is_ok_and(|l| l.is_some()));
    }

    #[test]
    fn damaged_states_are_reported_and_set_aside() {
        let dir = tempfile::tempdir().unwrap();
        let files = JobFiles::new(dir.path(), &Challenge([2; 32]));
        let _lock = files.lock().unwrap();
        fs::write(&files.state, b"{\"version\": 1, \"par").unwrap();
        assert!(files.load().unwrap_err().contains("does not parse"));
        let aside = files.set_aside().unwrap();
        assert!(!files.state.exists());
        assert_eq!(fs::read(&aside).unwrap(), b"{\"version\": 1, \"par");
        let mut other = params();
        other.k1 = 27;
        assert_eq!(params().first_difference(&other), Some("k1"));
        assert_eq!(params().first_difference(&params()), None);
    }

    #[test]
    fn removing_jobs_keeps_the_named_one() {
        let dir = tempfile::tempdir().unwrap();
        for c in [1u8, 2, 3] {
            let files = JobFiles::new(dir.path(), &Challenge([c; 32]));
            drop(files.lock().unwrap());
            files.save(&SavedState::new(params())).unwrap();
        }
        fs::write(dir.path().join(JOB_DIR).join("notes.txt"), b"mine").unwrap();
        let removed = remove_jobs_except(dir.path(), Some(&Challenge([2; 32]))).unwrap();
        assert_eq!(removed.len(), 4, "{removed:?}");
        let left: Vec<_> = fs::read_dir(dir.path().join(JOB_DIR)).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(dir.path().join(JOB_DIR).join("notes.txt").exists());
    }
}
