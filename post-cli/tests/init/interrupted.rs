//! `post init` killed with SIGKILL at random points, or stopped with SIGINT (Ctrl-C), resumes to exactly
//! the bytes of an uninterrupted run.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;

fn uninterrupted(dir: &Path) {
    let out = common::run_args(&common::slow_args(dir));
    assert!(out.status.success(), "{}", common::text(&out));
}

#[test]
fn kill_9_at_random_points_then_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let (reference, dir) = (tmp.path().join("reference"), tmp.path().join("data"));
    uninterrupted(&reference);
    let mut state = common::seed() | 1;
    let mut kills = 0;
    for _ in 0..4 {
        let target = common::data_bytes(&dir) + 1 + common::next(&mut state) % (common::SLOW_BYTES / 4);
        let mut child = common::spawn(&common::slow_args(&dir));
        if common::wait_for_bytes(&mut child, &dir, target) {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let status = child.wait().unwrap();
        assert!(status.success() || status.code().is_none(), "{status:?}");
    }
    assert!(kills >= 2, "the runs were too fast to interrupt");
    assert!(common::data_bytes(&dir) < common::SLOW_BYTES || kills < 4);
    let out = common::run_args(&common::slow_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_data(&dir, &reference);
}

#[test]
fn ctrl_c_stops_cleanly_and_saves_the_state() {
    let tmp = tempfile::tempdir().unwrap();
    let (reference, dir) = (tmp.path().join("reference"), tmp.path().join("data"));
    uninterrupted(&reference);
    let mut child = common::spawn(&common::slow_args(&dir));
    assert!(common::wait_for_bytes(&mut child, &dir, common::SLOW_BYTES / 5), "the run was too fast to interrupt");
    // SAFETY: kill(2) with a valid pid and signal number touches no memory of ours.
    assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", common::text(&out));
    assert!(common::text(&out).contains("run the same command to resume"), "{}", common::text(&out));

    // What is on disk is a correct prefix of the data, and the metadata is saved.
    let written = common::data_files(&dir);
    let full = common::data_files(&reference);
    assert!(!written.is_empty());
    for (name, bytes) in &written {
        assert!(full[name].starts_with(bytes), "{name} is not a prefix of the uninterrupted run");
    }
    assert_eq!(common::metadata(&dir)["NumUnits"], 1);
    let info = common::run(&["info", "--dir", dir.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["complete"], false);
    assert_eq!(v["lock_holder"], serde_json::Value::Null, "the lock is released");

    let out = common::run_args(&common::slow_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::text(&out).contains("resuming"), "{}", common::text(&out));
    common::assert_same_data(&dir, &reference);
}
