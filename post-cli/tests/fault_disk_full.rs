//! A disk that fills up at any point of `post init` — before the lock file's description, inside the
//! metadata, mid-label in a data file, one byte short of a file's end — ends the run with a clear error
//! (exit code 2, the file named, "no space left", how to go on), leaves only a prefix of the right bytes,
//! and a later run completes to exactly the bytes of an uninterrupted one. A limit exactly at the largest
//! file's size is no error at all.
//!
//! The full disk is `RLIMIT_FSIZE` (no file may grow past the limit; writes beyond it fail with EFBIG
//! because SIGXFSZ is ignored). `init_disk_full.rs` (the init tests) fills the disk once inside the first
//! data file; this file sweeps the limit across every kind of file the run writes.

#![allow(clippy::unwrap_used)]

#[path = "fault_support/common.rs"]
mod common;

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
