//! A disk that fills up at any point of `post init` — before the lock file's description, inside the
//! metadata, mid-label in a data file, one byte short of a file's end — ends the run with a clear error
//! (exit code 2, the file named, "no space left", how to go on), leaves only a prefix of the right bytes,
//! and a later run completes to exactly the bytes of an uninterrupted one. A limit exactly at the largest
//! file's size is no error at all.
//!
//! The full disk is `RLIMIT_FSIZE` (no file may grow past the limit; writes beyond it fail with EFBIG
//! because SIGXFSZ is ignored). The last test uses a real full file system instead (a small tmpfs in a
//! private mount namespace, filled up): there the commands that need no new space — `post repair`
//! rewrites labels in place, `post shrink` frees space — must still work. `init/disk_full.rs` fills the disk once inside the first
//! data file; this file sweeps the limit across every kind of file the run writes.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;

/// `post init` of the fault data set with no file allowed past `limit` bytes.
fn init_with_limit(dir: &Path, limit: u64) -> std::process::Output {
    with_limit(common::init_cmd(dir), limit)
}

/// Runs `cmd` with no file allowed past `limit` bytes.
fn with_limit(mut cmd: std::process::Command, limit: u64) -> std::process::Output {
    // SAFETY: between fork and exec only async-signal-safe calls (signal, setrlimit) are made.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rlimit = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    common::output(&mut cmd)
}

fn full_disk_then_resume(limit: u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = init_with_limit(&dir, limit);
    let message = common::text(&out);
    if limit >= common::FILE_SIZES[0] {
        assert!(out.status.success(), "limit {limit}: no file needs more: {message}");
        common::assert_same_as_reference(&dir);
        return;
    }
    assert_eq!(out.status.code(), Some(2), "limit {limit}: {message}");
    assert!(!message.contains("panicked"), "limit {limit}: {message}");
    assert!(message.contains(&dir.display().to_string()), "limit {limit}: the file is not named: {message}");
    assert!(
        message.to_lowercase().contains("no space left"),
        "limit {limit}: the message does not say the disk is full: {message}"
    );
    assert!(message.contains("resume"), "limit {limit}: the message does not say how to go on: {message}");
    common::assert_prefix_of_reference(&dir);
    for (name, bytes) in common::snapshot(&dir) {
        assert!(bytes.len() as u64 <= limit, "limit {limit}: {name} grew to {} bytes", bytes.len());
    }

    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "limit {limit}: resume failed: {}", common::text(&out));
    common::assert_same_as_reference(&dir);
}

#[test]
fn no_room_even_for_the_lock_description() {
    full_disk_then_resume(0);
    full_disk_then_resume(7);
}

#[test]
fn full_right_after_the_first_metadata() {
    full_disk_then_resume(260);
}

/// Files of 16 labels (256 bytes) fit, the first metadata (no nonce yet, about 240 bytes) fits, the
/// metadata with the VRF nonce (about 290 bytes, written as soon as the nonce is found) does not: the
/// old metadata must survive whole, and a later run must finish the job.
#[test]
fn no_room_for_the_metadata_with_the_nonce() {
    let tmp = tempfile::tempdir().unwrap();
    let small = [("--labels-per-unit", "64"), ("--max-file-size", "256")];
    let (reference, dir) = (tmp.path().join("reference"), tmp.path().join("data"));
    let out = common::output(&mut common::init_cmd_with(&reference, &small));
    assert!(out.status.success(), "{}", common::text(&out));
    let final_len = std::fs::metadata(reference.join("postdata_metadata.json")).unwrap().len();
    let limit = final_len - 20;

    let out = with_limit(common::init_cmd_with(&dir, &small), limit);
    let message = common::text(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    assert!(message.to_lowercase().contains("no space left"), "the message does not say the disk is full: {message}");
    assert!(message.contains("resume"), "the message does not say how to go on: {message}");
    // The metadata on disk is a whole, earlier version (the rename never happened); the data is a prefix.
    let info = common::info(&dir);
    assert_eq!(info["nonce"], serde_json::Value::Null, "{info}");
    let want = common::snapshot(&reference);
    for (name, bytes) in common::snapshot(&dir).into_iter().filter(|(n, _)| n.ends_with(".bin")) {
        assert!(want[&name].starts_with(&bytes), "{name} is not a prefix of the uninterrupted run's");
    }

    let out = common::output(&mut common::init_cmd_with(&dir, &small));
    assert!(out.status.success(), "resume failed: {}", common::text(&out));
    let files = |d: &Path| {
        let mut s = common::snapshot(d);
        s.remove(".postdata_metadata.json.tmp");
        s
    };
    assert_eq!(files(&dir), files(&reference));
}

#[test]
fn full_mid_label_in_the_first_file() {
    full_disk_then_resume(3000 + 5);
}

#[test]
fn full_one_byte_short_of_a_file() {
    full_disk_then_resume(common::FILE_SIZES[0] - 1);
}

#[test]
fn a_limit_at_the_largest_file_is_no_error() {
    full_disk_then_resume(common::FILE_SIZES[0]);
}

/// Runs `script` under `sh` with a 128 KiB tmpfs mounted at `<tmp>/full`, in a mount namespace of its
/// own (so nothing outlives the process); `Err` when such a mount is not allowed here.
fn in_small_tmpfs(tmp: &Path, script: &str) -> Result<std::process::Output, std::io::Error> {
    let full = tmp.join("full");
    std::fs::create_dir_all(&full)?;
    let target = CString::new(full.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", script, "sh"]).arg(tmp).arg(env!("CARGO_BIN_EXE_post"));
    // SAFETY: between fork and exec only raw system calls (unshare, mount) are made, on C strings
    // allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let none = std::ptr::null();
            let fail = || Err(std::io::Error::last_os_error());
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0 {
                return fail();
            }
            let size = c"size=128k";
            if libc::mount(c"tmpfs".as_ptr(), target.as_ptr(), c"tmpfs".as_ptr(), 0, size.as_ptr().cast()) != 0 {
                return fail();
            }
            Ok(())
        });
    }
    cmd.output()
}

/// On a file system with not one free block, `post repair` fixes a damaged label in place and
/// `post shrink` gives space back: neither needs room for anything new.
#[test]
fn repair_and_shrink_work_on_a_full_file_system() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::complete_dir(tmp.path(), "data");
    let path = data.join("postdata_1.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    // $1: the test's directory, $2: post. Results go back to $1 (outside the tmpfs).
    let script = r#"
        set -u
        mkdir "$1/full/data" && cp "$1"/data/* "$1/full/data/" || exit 90
        dd if=/dev/zero of="$1/full/filler" bs=1024 2>/dev/null
        df -k "$1/full" | tail -n 1 > "$1/df.txt"
        "$2" repair --dir "$1/full/data" --scrypt-n 256 --provider reference > "$1/repair.txt" 2>&1
        echo $? > "$1/repair.rc"
        "$2" shrink --dir "$1/full/data" --units 1 --yes --scrypt-n 256 --provider reference > "$1/shrink.txt" 2>&1
        echo $? > "$1/shrink.rc"
        mkdir "$1/after" && cp "$1"/full/data/* "$1/after/"
    "#;
    let out = match in_small_tmpfs(tmp.path(), script) {
        Ok(out) => out,
        Err(e) => {
            common::skip_without_namespaces(
                "repair_and_shrink_work_on_a_full_file_system",
                &format!("cannot mount a small tmpfs in a private mount namespace here: {e}"),
            );
            return;
        }
    };
    assert!(out.status.success(), "the script failed: {}", common::text(&out));
    let read = |name: &str| std::fs::read_to_string(tmp.path().join(name)).unwrap_or_default();
    assert!(read("df.txt").contains(" 0 100%"), "the file system is not full: {}", read("df.txt"));
    assert_eq!(read("repair.rc").trim(), "0", "post repair on a full disk: {}", read("repair.txt"));
    assert_eq!(read("shrink.rc").trim(), "0", "post shrink on a full disk: {}", read("shrink.txt"));
    let after = tmp.path().join("after");
    let info = common::info(&after);
    assert_eq!((info["num_units"].as_u64(), info["complete"].as_bool()), (Some(1), Some(true)), "{info}");
    let check = common::verify_data(&after);
    assert!(check.status.success(), "{}", common::text(&check));
    let reference = &common::reference().0;
    assert_eq!(std::fs::read(after.join("postdata_1.bin")).unwrap(), reference["postdata_1.bin"]);
}
