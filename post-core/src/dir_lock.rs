//! The advisory lock of a data directory: many readers (proving, verifying) or one writer
//! (initializing, repairing, resizing), never both, so that two processes never write the same files and
//! nobody proves from data that is being rewritten.
//!
//! The lock is a `flock(2)` on `<dir>/.post.lock`, taken without blocking:
//!
//! ```text
//! 1. open (create if needed) <dir>/.post.lock
//! 2. flock(LOCK_SH or LOCK_EX | LOCK_NB); on EWOULDBLOCK report who holds it and stop: nothing is touched
//! 3. a writer writes "pid <n>, <command>, since <UTC time>" into the file for others to read
//! 4. on drop a writer empties the file; closing the descriptor releases the lock
//! ```
//!
//! `flock` locks belong to the open file description, so two `DirLock`s in one process conflict just
//! as two processes do, and the kernel releases the lock when the process dies, even by `kill -9`. The
//! text a killed writer leaves behind is never trusted: whether the lock is held is always asked of the
//! kernel. The reference tools (Go postcli, post-rs) do not take this lock.

use std::fs::{File, OpenOptions};
use std::io::{self, Read as _};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::Error;

/// The lock file's name inside a data directory.
pub const LOCK_FILE: &str = ".post.lock";

/// What the holder describes itself as when only readers hold the lock.
const READERS: &str = "one or more readers (shared lock)";

/// How a data directory is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// Reading: any number of shared holders, no writer.
    Shared,
    /// Writing: one holder, nobody else.
    Exclusive,
}

/// A held lock on a data directory, released on drop (or by the kernel when the process dies).
#[derive(Debug)]
pub struct DirLock {
    dir: PathBuf,
    mode: LockMode,
    /// `None` only for a shared lock on a directory where the lock file cannot be created (read-only
    /// media): nobody can write there either, so there is nothing to exclude.
    file: Option<File>,
}

impl DirLock {
    /// Takes the lock without waiting.
    ///
    /// # Errors
    /// [`Error::Locked`] naming the directory and the holder when another holder conflicts;
    /// [`Error::Io`] naming the directory or lock file when it cannot be opened or locked.
    pub fn acquire(dir: &Path, mode: LockMode) -> Result<DirLock, Error> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { path, source }
        };
        let meta = std::fs::metadata(dir).map_err(io(dir))?;
        if !meta.is_dir() {
            return Err(Error::Io { path: dir.to_owned(), source: io::Error::from(io::ErrorKind::NotADirectory) });
        }
        let path = dir.join(LOCK_FILE);
        let opened = open_lock_file(&path, mode).map_err(|source| {
            if mode == LockMode::Exclusive && is_read_only_error(&source) {
                Error::NotWritable { dir: dir.to_owned(), source }
            } else {
                Error::Io { path: path.clone(), source }
            }
        });
        let file = match opened? {
            Some(file) => file,
            None => return Ok(DirLock { dir: dir.to_owned(), mode, file: None }),
        };
        let op = match mode {
            LockMode::Shared => libc::LOCK_SH,
            LockMode::Exclusive => libc::LOCK_EX,
        };
        if !try_flock(&file, op).map_err(io(&path))? {
            return Err(Error::Locked { dir: dir.to_owned(), holder: describe_holder(&file) });
        }
        if mode == LockMode::Exclusive {
            let note = format!("pid {}, {}, since {}\n", std::process::id(), command_line(), utc(unix_now()));
            // Best effort: the kernel's flock is what excludes other processes; the note only helps a
            // refused process name the holder, and must not stop a writer on a full disk (repair and
            // shrink are how a smesher recovers from one).
            let _ = file.set_len(0).and_then(|()| file.write_all_at(note.as_bytes(), 0));
        }
        Ok(DirLock { dir: dir.to_owned(), mode, file: Some(file) })
    }

    /// The locked directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mode the lock is held in.
    pub fn mode(&self) -> LockMode {
        self.mode
    }

    /// False only for a shared "lock" on a directory where no lock file can exist (read-only media).
    pub fn is_held(&self) -> bool {
        self.file.is_some()
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            if self.mode == LockMode::Exclusive {
                // Best effort: a stale note is harmless because holders are asked of the kernel.
                let _ = file.set_len(0);
            }
            // Closing releases the lock too; unlocking first also covers a descriptor inherited by a
            // child process.
            // SAFETY: the descriptor belongs to `file`, which is alive; flock does not touch memory.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
        }
    }
}

/// Who holds the lock of `dir`, without waiting: `None` when nobody does (or no lock file exists), else
/// the writer's note (`pid <n>, <command>, since <UTC time>`) or a description of the readers.
///
/// On Linux it reads the kernel's table of locks (`/proc/locks`) and takes nothing, so a monitoring
/// loop never makes a starting writer fail. Elsewhere it probes by taking the lock for a moment, and a
/// process starting at that very instant may see a spurious conflict.
///
/// # Errors
/// [`Error::Io`] naming the lock file when it exists but cannot be opened or probed.
pub fn lock_holder(dir: &Path) -> Result<Option<String>, Error> {
    let path = dir.join(LOCK_FILE);
    let io = |source| Error::Io { path: path.clone(), source };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    // The kernel hands /proc/locks out a page at a time; when other processes take and drop locks
    // between two pages, the entries shift and one can be skipped. A holder seen in any of a few
    // readings counts (seen in the tests: a child's lock missed while another test took and dropped
    // a lock in a loop).
    let mut readable = false;
    for _ in 0..TABLE_READINGS {
        match holder_from_kernel_table(&file) {
            Some(Some(holder)) => return Ok(Some(holder)),
            Some(None) => readable = true,
            None => break,
        }
    }
    if readable {
        return Ok(None);
    }
    // A shared probe fails only against a writer.
    if !try_flock(&file, libc::LOCK_SH).map_err(io)? {
        return Ok(Some(writer_note(&file).unwrap_or_else(|| "another process (exclusive lock)".into())));
    }
    // An exclusive probe then fails only against readers.
    let free = try_flock(&file, libc::LOCK_EX).map_err(io)?;
    // SAFETY: as in `Drop`.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
    Ok(if free { None } else { Some(READERS.into()) })
}

/// Readings of /proc/locks before a lock file is called free.
const TABLE_READINGS: usize = 3;

/// The holder of `file`'s flock as `/proc/locks` lists it, or `None` when that table cannot be read.
///
/// A line is `<n>: FLOCK ADVISORY <READ|WRITE> <pid> <major>:<minor>:<inode> 0 EOF` (major and minor
/// in hex); waiters' lines have `->` as the second field (nobody here waits, locks are taken with
/// LOCK_NB). The device is compared too, except where either side is an anonymous device (major 0,
/// as overlay and btrfs report), where the inode alone decides.
fn holder_from_kernel_table(file: &File) -> Option<Option<String>> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = file.metadata().ok()?;
    let table = std::fs::read_to_string("/proc/locks").ok()?;
    let (major, minor, inode) = (libc::major(meta.dev()), libc::minor(meta.dev()), meta.ino());
    let mut writer = false;
    let mut readers: Vec<&str> = Vec::new();
    for line in table.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, "FLOCK", _, kind, pid, id, ..] = fields[..] else { continue };
        let mut parts = id.split(':');
        let (Some(maj), Some(min), Some(ino)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let (Ok(maj), Ok(min), Ok(ino)) =
            (u32::from_str_radix(maj, 16), u32::from_str_radix(min, 16), ino.parse::<u64>())
        else {
            continue;
        };
        if ino != inode || (maj != 0 && major != 0 && (maj, min) != (major, minor)) {
            continue;
        }
        match kind {
            "WRITE" => writer = true,
            "READ" => readers.push(pid),
            _ => {}
        }
    }
    Some(if writer {
        Some(writer_note(file).unwrap_or_else(|| "another process (exclusive lock)".into()))
    } else if !readers.is_empty() {
        readers.sort_unstable();
        readers.dedup();
        Some(format!("{READERS}: pid {}", readers.join(", ")))
    } else {
        None
    })
}

/// Opens the lock file for locking. A shared lock on a directory where the file can be neither opened
/// for writing nor created (read-only media) falls back to opening it read-only, or to no file at all.
fn open_lock_file(path: &Path, mode: LockMode) -> io::Result<Option<File>> {
    let read_write = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o644).open(path);
    match read_write {
        Ok(file) => Ok(Some(file)),
        Err(e) if mode == LockMode::Shared && is_read_only_error(&e) => match File::open(path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
}

fn is_read_only_error(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied || e.raw_os_error() == Some(libc::EROFS)
}

/// `flock(op | LOCK_NB)`, retried on EINTR: `Ok(true)` when taken, `Ok(false)` when someone conflicts.
fn try_flock(file: &File, op: libc::c_int) -> io::Result<bool> {
    loop {
        // SAFETY: the descriptor belongs to `file`, which outlives the call; flock does not touch memory.
        let rc = unsafe { libc::flock(file.as_raw_fd(), op | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EWOULDBLOCK) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// After an exclusive attempt failed on `file`: a writer's note when a writer holds the lock, else the
/// readers.
fn describe_holder(file: &File) -> Option<String> {
    match try_flock(file, libc::LOCK_SH) {
        Ok(true) => {
            // SAFETY: as in `Drop`.
            unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_UN) };
            Some(READERS.into())
        }
        _ => writer_note(file),
    }
}

/// The note the writer wrote, trimmed; `None` when empty or unreadable.
fn writer_note(file: &File) -> Option<String> {
    let mut text = String::new();
    file.take(4096).read_to_string(&mut text).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// How this process names itself in a writer's note; see [`set_lock_note`].
static NOTE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets, once per process, how a writer's lock note names this process (for example its command
/// line), so that a refused process can tell the user who holds the directory. The library does not
/// read the process's arguments itself. Shortened to 200 characters; later calls are ignored.
pub fn set_lock_note(text: &str) {
    let line = text.replace('\n', " ");
    let line = match line.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    };
    let _ = NOTE.set(line);
}

/// The note set by [`set_lock_note`], or a plain description.
fn command_line() -> String {
    NOTE.get().filter(|n| !n.is_empty()).cloned().unwrap_or_else(|| "a process that did not name itself".into())
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// `YYYY-MM-DD hh:mm:ss UTC` for seconds since the Unix epoch (the proleptic Gregorian calendar, by
/// Howard Hinnant's days-from-civil inverse).
fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_notes_give_the_time_in_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_689_321_600), "2023-07-14 08:00:00 UTC"); // mainnet genesis
        assert_eq!(utc(4_107_542_399), "2100-02-28 23:59:59 UTC");
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"))
    }

    fn holder_of(result: Result<DirLock, Error>) -> String {
        match result {
            Err(Error::Locked { holder, .. }) => holder.unwrap_or_default(),
            other => panic!("expected Locked, got {other:?}"),
        }
    }

    #[test]
    fn readers_share_and_writers_exclude() {
        let dir = tempdir();
        let a = DirLock::acquire(dir.path(), LockMode::Shared).unwrap_or_else(|e| panic!("{e}"));
        let b = DirLock::acquire(dir.path(), LockMode::Shared).unwrap_or_else(|e| panic!("{e}"));
        assert!(a.is_held() && b.is_held());
        assert_eq!(holder_of(DirLock::acquire(dir.path(), LockMode::Exclusive)), READERS);
        // The kernel's table names the readers' process (once, however many locks it holds).
        let readers = lock_holder(dir.path()).ok().flatten().unwrap_or_default();
        assert_eq!(readers, format!("{READERS}: pid {}", std::process::id()));
        drop((a, b));
        assert_eq!(lock_holder(dir.path()).ok(), Some(None));

        let w = DirLock::acquire(dir.path(), LockMode::Exclusive).unwrap_or_else(|e| panic!("{e}"));
        let pid = format!("pid {},", std::process::id());
        assert!(holder_of(DirLock::acquire(dir.path(), LockMode::Exclusive)).starts_with(&pid));
        let err = DirLock::acquire(dir.path(), LockMode::Shared).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains(&pid) && err.contains(&dir.path().display().to_string()), "{err}");
        assert!(lock_holder(dir.path()).ok().flatten().is_some_and(|h| h.starts_with(&pid)));
        drop(w);
        assert_eq!(std::fs::read(dir.path().join(LOCK_FILE)).map(|b| b.len()).ok(), Some(0));
        assert!(DirLock::acquire(dir.path(), LockMode::Exclusive).is_ok());
    }

    #[test]
    fn a_stale_note_is_not_a_holder() {
        let dir = tempdir();
        assert_eq!(lock_holder(dir.path()).ok(), Some(None));
        std::fs::write(dir.path().join(LOCK_FILE), "pid 1, killed writer, since 0\n").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(lock_holder(dir.path()).ok(), Some(None));
        let r = DirLock::acquire(dir.path(), LockMode::Shared).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(holder_of(DirLock::acquire(dir.path(), LockMode::Exclusive)), READERS);
        drop(r);
    }

    #[test]
    fn a_missing_directory_is_an_io_error() {
        let dir = tempdir();
        let gone = dir.path().join("nope");
        let err = DirLock::acquire(&gone, LockMode::Shared).err();
        assert!(matches!(err, Some(Error::Io { path, .. }) if path == gone));
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(DirLock::acquire(&file, LockMode::Exclusive), Err(Error::Io { .. })));
    }

    #[test]
    fn command_lines_are_short() {
        assert!(command_line().chars().count() <= 201);
        assert!(unix_now() > 1_700_000_000);
    }
}
