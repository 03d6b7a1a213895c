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

/// The marks of `.post-durable.json` (file number → bytes synced), when the file is there and whole.
fn durable_marks(dir: &Path) -> Option<Vec<(u32, u64)>> {
    let text = std::fs::read_to_string(dir.join(".post-durable.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    let marks = value["durable"].as_object()?;
    Some(marks.iter().map(|(k, v)| (k.parse().unwrap(), v.as_u64().unwrap())).collect())
}

#[test]
fn sigkill_then_a_lost_page_cache_resume_repairs_to_identical_bytes() {
    // A power cut loses what the kernel had not written back: after SIGKILL (which keeps the page
    // cache) the region past the last sync's mark is damaged the way a power cut leaves it — a hole of
    // zeros behind labels that survived — and the resume must find it and rewrite it.
    let tmp = tempfile::tempdir().unwrap();
    let mut landed = None;
    for attempt in 0..10 {
        let dir = tmp.path().join(format!("attempt{attempt}"));
        let mut child = common::spawn(common::init_cmd(&dir).args(["--sync-every", "2048"]));
        let deadline = Instant::now() + Duration::from_secs(60);
        // Kill once a file is more than 512 bytes past its mark.
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "post init did not get going in 60 s");
            let ahead = durable_marks(&dir).unwrap_or_default().into_iter().any(|(file, mark)| {
                let len = std::fs::metadata(dir.join(format!("postdata_{file}.bin"))).map_or(0, |m| m.len());
                mark > 0 && len >= mark + 512
            });
            if ahead {
                child.kill().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let out = child.wait_with_output().unwrap();
        if out.status.code().is_some() {
            continue; // it finished first
        }
        // The state the kill left: a file with bytes past its mark.
        let marks = durable_marks(&dir).unwrap();
        let found = marks.into_iter().find_map(|(file, mark)| {
            let path = dir.join(format!("postdata_{file}.bin"));
            let len = std::fs::metadata(&path).unwrap().len() / 16 * 16;
            (len >= mark + 512).then_some((file, path, mark, len))
        });
        if let Some(found) = found {
            landed = Some((dir, found));
            break;
        }
    }
    let (dir, (file, path, mark, len)) = landed.expect("no kill landed with unsynced bytes in 10 attempts");
    check_stopped(&dir);
    // `post info` shows how much of the file is synced.
    let info = common::info(&dir);
    let entry = info["files"].as_array().unwrap().iter().find(|f| f["index"] == file).unwrap().clone();
    assert_eq!(entry["durable"], mark, "{info}");
    let text = common::text(&common::run(&["info", "--dir", dir.to_str().unwrap()]));
    assert!(text.contains(&format!("synced up to byte {mark}")), "{text}");
    // Zeros from the mark to 256 bytes before the end: the last labels (those a resume checks where a
    // file ends) survive.
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.write_all_at(&vec![0u8; (len - 256 - mark) as usize], mark).unwrap();
    drop(file);

    let out = common::output(&mut common::init_cmd(&dir));
    let message = common::text(&out);
    assert!(out.status.success(), "{message}");
    assert!(message.contains(&format!("the one at byte {mark} is wrong")), "{message}");
    assert_same_as_reference(&dir);
    assert!(!dir.join(".post-durable.json").exists(), "complete data keeps no marks");
}
