//! `post init` writes the directory the reference tools wrote for the same inputs, `post info` shows it,
//! and running it again changes nothing.

#![allow(clippy::unwrap_used)]

use crate::common;

#[test]
fn reproduces_the_reference_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let out = common::run_args(&common::small_args(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::stdout(&out).contains("VRF nonce: 844"), "{}", common::text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("16.00 KiB") && stderr.contains("free on disk"), "{stderr}");
    common::assert_same_data(&dir, &common::reference_dir());

    let info = common::run(&["info", "--dir", dir.to_str().unwrap(), "--json"]);
    assert!(info.status.success(), "{}", common::text(&info));
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(v["nonce"], 844);
    assert_eq!(v["complete"], true);
    assert_eq!(v["lock_holder"], serde_json::Value::Null);
    assert_eq!(v["files"][3]["state"], "complete");
    assert_eq!(v["node_id"], "77".repeat(32));

    // A rerun (even with only --dir and the scrypt N) has nothing to do and changes nothing.
    let before = common::snapshot(&dir);
    let again = common::run(&["init", "--dir", dir.to_str().unwrap(), "--scrypt-n", "16", "--provider", "reference"]);
    assert!(again.status.success(), "{}", common::text(&again));
    assert!(common::stdout(&again).contains("0 labels written"), "{}", common::text(&again));
    assert_eq!(common::snapshot(&dir), before);
}

#[test]
fn the_default_provider_writes_the_same_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let args: Vec<String> =
        common::small_args(&dir).into_iter().filter(|a| a != "--provider" && a != "reference").collect();
    let out = common::run_args(&args);
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn bad_input_is_a_usage_error_that_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_dir(&common::reference_dir(), &dir);
    let before = common::snapshot(&dir);
    let d = dir.to_str().unwrap();
    let other_id = "12".repeat(32);
    let new_dir = tmp.path().join("new");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["init", "--dir", d, "--scrypt-n", "16", "--units", "3"], "post shrink"),
        (vec!["init", "--dir", d, "--scrypt-n", "16", "--node-id", &other_id], "NodeId"),
        (vec!["init", "--dir", d, "--scrypt-n", "32"], "postdata_0.bin"),
        (vec!["init", "--dir", d, "--scrypt-n", "16", "--from-file", "7"], "file range"),
        (vec!["init", "--dir", d, "--node-id", "xyz"], "--node-id"),
        (vec!["init", "--dir", d, "--preset", "moon"], "--preset"),
        (vec!["init", "--dir", new_dir.to_str().unwrap(), "--units", "4"], "--atx-id is required"),
    ];
    for (args, needle) in cases {
        let out = common::run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", common::text(&out));
        assert!(common::text(&out).contains(needle), "{args:?}: {}", common::text(&out));
        assert_eq!(common::snapshot(&dir), before, "{args:?}");
    }
}
