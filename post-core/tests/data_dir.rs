//! Opening real data directories: a copy of the reference directory `tests/data/datadir-small/`, then
//! the same directory with a missing, a short, a torn, an oversized and an unexpected file; and the lock
//! against a second writer in this process and in another process, which is then killed with SIGKILL.

#![allow(clippy::unwrap_used)]

use std::fs::{self, OpenOptions};
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use post_core::{lock_holder, DirLock, Error, FileState, LockMode, PostData, LABEL_SIZE};

/// A fresh copy of the reference data directory.
fn reference_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/datadir-small");
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

#[test]
fn reference_directory_is_complete() {
    let dir = reference_copy();
    let data = PostData::open(dir.path(), LockMode::Shared).unwrap();
    assert_eq!(data.dir(), dir.path());
    assert_eq!(data.metadata().nonce, Some(844));
    assert_eq!(data.layout().num_files(), 4);
    let sizes: Vec<(u32, u64, FileState)> = data.files().iter().map(|f| (f.index, f.len_on_disk(), f.state)).collect();
    assert_eq!(
        sizes,
        [
            (0, 4800, FileState::Complete),
            (1, 4800, FileState::Complete),
            (2, 4800, FileState::Complete),
            (3, 1984, FileState::Complete)
        ]
    );
    assert!(data.unexpected_files().is_empty());
    assert!(data.is_complete());
    data.require_complete().unwrap();
    assert_eq!(data.labels_on_disk(), 1024);
    assert_eq!(data.lock().mode(), LockMode::Shared);
}

#[test]
fn damaged_directory_reports_every_file() {
    let dir = reference_copy();
    let file = |i: u32| dir.path().join(format!("postdata_{i}.bin"));
    set_len(&file(0), 4800 + LABEL_SIZE);
    fs::remove_file(file(1)).unwrap();
    set_len(&file(2), 4800 - LABEL_SIZE);
    set_len(&file(3), 1000);
    fs::write(dir.path().join("postdata_4.bin"), b"").unwrap();
    fs::write(dir.path().join("postdata_01.bin"), b"").unwrap();
    fs::write(dir.path().join("notes.txt"), b"").unwrap();
    let before = fs::read(file(0)).unwrap();

    let mut data = PostData::open(dir.path(), LockMode::Shared).unwrap();
    let states: Vec<FileState> = data.files().iter().map(|f| f.state).collect();
    assert_eq!(
        states,
        [
            FileState::Oversized { len: 4816 },
            FileState::Missing,
            FileState::Partial { len: 4784 },
            FileState::Misaligned { len: 1000 }
        ]
    );
    let unexpected: Vec<String> =
        data.unexpected_files().iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(unexpected, ["postdata_01.bin", "postdata_4.bin"]);
    assert!(!data.is_complete());
    assert_eq!(data.labels_on_disk(), 300 + 299 + 62);
    match data.require_complete() {
        Err(Error::FileSize { path, len: 4816, expected_len: 4800, .. }) => assert_eq!(path, file(0)),
        other => panic!("{other:?}"),
    }
    // Opening changed nothing.
    assert_eq!(fs::read(file(0)).unwrap(), before);

    // Fix file 0; the first problem is now the missing file 1.
    set_len(&file(0), 4800);
    data.rescan().unwrap();
    let err = data.require_complete().unwrap_err();
    assert!(matches!(&err, Error::FileMissing { path, expected_len: 4800 } if *path == file(1)), "{err}");
    assert!(err.to_string().contains("postdata_1.bin"), "{err}");
}

#[test]
fn a_data_file_that_is_a_directory_is_refused() {
    let dir = reference_copy();
    let path = dir.path().join("postdata_2.bin");
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert!(matches!(PostData::open(dir.path(), LockMode::Shared), Err(Error::NotAFile { path: p }) if p == path));
}

#[test]
fn bad_metadata_names_the_file_and_field() {
    let dir = reference_copy();
    let meta = dir.path().join("postdata_metadata.json");
    let text = fs::read_to_string(&meta).unwrap().replace("4800", "4801");
    fs::write(&meta, text).unwrap();
    match PostData::open(dir.path(), LockMode::Shared) {
        Err(Error::Metadata { path, field: "MaxFileSize", .. }) => assert_eq!(path, meta),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_second_writer_is_refused_and_nothing_is_touched() {
    let dir = reference_copy();
    let writer = PostData::open(dir.path(), LockMode::Exclusive).unwrap();
    let meta = fs::read(dir.path().join("postdata_metadata.json")).unwrap();
    for mode in [LockMode::Exclusive, LockMode::Shared] {
        match PostData::open(dir.path(), mode) {
            Err(Error::Locked { dir: d, holder: Some(holder) }) => {
                assert_eq!(d, dir.path());
                assert!(holder.starts_with(&format!("pid {},", std::process::id())), "{holder}");
            }
            other => panic!("{mode:?}: {other:?}"),
        }
    }
    assert_eq!(fs::read(dir.path().join("postdata_metadata.json")).unwrap(), meta);
    drop(writer);
    PostData::open(dir.path(), LockMode::Exclusive).unwrap();
}

/// Set in the child process: the directory to lock.
const CHILD_DIR: &str = "POST_CORE_TEST_LOCK_DIR";
const CHILD_READY: &str = "child holds the lock";

/// Runs twice: as the test, it starts this test binary again as a child that takes the lock and waits;
/// as the child (the variable above is set), it takes the lock, says so, and waits for stdin to close.
#[test]
fn the_lock_is_held_by_another_process_until_it_is_killed() {
    if let Some(dir) = std::env::var_os(CHILD_DIR) {
        let _lock = DirLock::acquire(Path::new(&dir), LockMode::Exclusive).unwrap();
        println!("{CHILD_READY}");
        let _ = std::io::stdin().read_line(&mut String::new());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["the_lock_is_held_by_another_process_until_it_is_killed", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR, dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.any(|l| l.is_ok_and(|l| l.contains(CHILD_READY))), "the child never took the lock");

    let holder = lock_holder(dir.path()).unwrap().unwrap();
    assert!(holder.starts_with(&format!("pid {},", child.id())), "{holder}");
    for mode in [LockMode::Exclusive, LockMode::Shared] {
        match DirLock::acquire(dir.path(), mode) {
            Err(Error::Locked { holder: Some(h), .. }) => assert_eq!(h, holder),
            other => panic!("{mode:?}: {other:?}"),
        }
    }

    child.kill().unwrap(); // SIGKILL: the child cannot clean up; the kernel drops its lock.
    child.wait().unwrap();
    assert_eq!(lock_holder(dir.path()).unwrap(), None);
    let lock = DirLock::acquire(dir.path(), LockMode::Exclusive).unwrap();
    assert!(lock.is_held());
}

/// `lock_holder` reads the kernel's table of locks and takes nothing: while it runs in a loop, a writer
/// that takes and releases the lock 2000 times is never refused (a probe that takes the lock for a
/// moment fails this). A reader is named with its pid.
#[test]
fn watching_the_lock_never_refuses_a_writer() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    drop(DirLock::acquire(dir.path(), LockMode::Exclusive).unwrap());
    let (stop, looks) = (AtomicBool::new(false), AtomicUsize::new(0));
    /// Stops the watcher however the writer's loop ends, a failed assertion included.
    struct StopOnDrop<'a>(&'a AtomicBool);
    impl Drop for StopOnDrop<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    std::thread::scope(|s| {
        let _stop = StopOnDrop(&stop);
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let _ = lock_holder(dir.path());
                looks.fetch_add(1, Ordering::Relaxed);
            }
        });
        while looks.load(Ordering::Relaxed) == 0 {
            std::thread::yield_now();
        }
        for attempt in 0..2000 {
            let lock = DirLock::acquire(dir.path(), LockMode::Exclusive);
            assert!(lock.is_ok(), "attempt {attempt}: {lock:?}");
        }
    });
    assert!(looks.load(Ordering::Relaxed) > 0);
    let _reader = DirLock::acquire(dir.path(), LockMode::Shared).unwrap();
    let holder = lock_holder(dir.path()).unwrap().unwrap();
    assert!(holder.contains("reader") && holder.contains(&std::process::id().to_string()), "{holder}");
}
