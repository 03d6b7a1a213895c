//! `post init` stopped at random points — SIGKILL at a dozen random moments of the whole run (data,
//! VRF nonce, metadata write), SIGINT again and again, SIGTERM — always leaves a directory whose files are
//! a prefix of the right bytes, that `post info` can read and nobody holds locked, and that a resumed run
//! completes to exactly the bytes (metadata included) of an uninterrupted run.
//!
//! `init/interrupted.rs` kills a few times by bytes written and stops once with Ctrl-C;
//! this file kills by time over the whole run, many times, checks the directory after every stop, and
//! compares every byte at the end.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{assert_prefix_of_reference, assert_same_as_reference, DATA_BYTES};

/// Checks what a stopped run left behind: a prefix of the right bytes, readable, unlocked.
fn check_stopped(dir: &Path) {
    assert_prefix_of_reference(dir);
    if dir.join("postdata_metadata.json").exists() {
        let info = common::info(dir);
        assert_eq!(info["lock_holder"], serde_json::Value::Null, "the kernel released the lock: {info}");
    }
}

#[test]
fn sigkill_at_a_dozen_random_moments_then_resume_is_byte_identical() {
    let (_, full_run) = common::reference();
    let tmp = tempfile::tempdir().unwrap();
    let mut state = common::seed();
    let (mut kills, mut chains) = (Vec::new(), 0);
    let mut dir = tmp.path().join("chain0");
    // Kill at a random moment of the run's expected length; a chain ends when a run completes.
    for attempt in 0..60 {
        if kills.len() >= 12 {
            break;
        }
        let delay = full_run.mul_f64((common::next(&mut state) % 1000) as f64 / 1000.0);
        let mut child = common::spawn(&mut common::init_cmd(&dir));
        std::thread::sleep(delay);
        let killed = child.try_wait().unwrap().is_none();
        if killed {
            child.kill().unwrap(); // SIGKILL
        }
        let out = child.wait_with_output().unwrap();
        if killed && out.status.code().is_none() {
            kills.push((delay, common::data_bytes(&dir)));
            check_stopped(&dir);
        } else {
            assert!(out.status.success(), "attempt {attempt}: {}", common::text(&out));
            assert_same_as_reference(&dir);
            chains += 1;
            dir = tmp.path().join(format!("chain{chains}"));
        }
    }
    eprintln!("killed at (delay, bytes on disk): {kills:?}");
    assert!(kills.len() >= 10, "only {} kills landed while post init ran", kills.len());
    assert!(kills.iter().any(|&(_, b)| b > 0 && b < DATA_BYTES), "no kill landed while data was written");
    // Finish the last chain.
    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    assert_same_as_reference(&dir);
}

#[test]
fn sigint_again_and_again_saves_the_state_each_time_and_resume_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut state = common::seed();
    let (mut stops, mut last_labels) = (0, 0u64);
    for _ in 0..6 {
        let on_disk = common::data_bytes(&dir);
        if on_disk >= DATA_BYTES {
            break;
        }
        // Stop once a random further amount of data is on disk.
        let target = on_disk + 16 + common::next(&mut state) % ((DATA_BYTES - on_disk) / 2).max(1);
        let mut child = common::spawn(&mut common::init_cmd(&dir));
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() && common::data_bytes(&dir) < target {
            assert!(Instant::now() < deadline, "post init wrote nothing for 60 s");
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            common::signal(&child, libc::SIGINT);
        }
        let out = common::wait_at_most(child, Duration::from_secs(30));
        let message = common::text(&out);
        if out.status.success() {
            break; // it finished before the signal landed
        }
        stops += 1;
        assert_eq!(out.status.code(), Some(130), "{message}");
        assert!(message.contains("resume"), "the message does not say how to go on: {message}");
        assert!(!message.contains("panicked"), "{message}");
        check_stopped(&dir);
        let info = common::info(&dir);
        assert_eq!(info["complete"], false, "{info}");
        let labels = info["labels_on_disk"].as_u64().unwrap();
        assert!(labels >= last_labels, "progress went back from {last_labels} to {labels} labels");
        last_labels = labels;
    }
    assert!(stops >= 2, "only {stops} runs could be interrupted");
    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    assert_same_as_reference(&dir);
}

#[test]
fn sigterm_leaves_a_resumable_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut child = common::spawn(&mut common::init_cmd(&dir));
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && common::data_bytes(&dir) < DATA_BYTES / 3 {
        assert!(Instant::now() < deadline, "post init wrote nothing for 60 s");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(child.try_wait().unwrap().is_none(), "the run was too fast to interrupt");
    common::signal(&child, libc::SIGTERM);
    let out = common::wait_at_most(child, Duration::from_secs(30));
    // Handled like Ctrl-C (a clean stop) or the default action (death by the signal): both must resume.
    assert!(!out.status.success(), "{}", common::text(&out));
    assert!(!common::text(&out).contains("panicked"), "{}", common::text(&out));
    eprintln!("after SIGTERM: {:?}", out.status);
    check_stopped(&dir);
    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    assert_same_as_reference(&dir);
}
