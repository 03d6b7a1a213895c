//! `post init` for more data than the disk holds is refused at once: exit code 2, a message naming the
//! size and the free space, nothing allocated per file and nothing left on disk.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::time::{Duration, Instant};

fn init_mainnet(dir: &std::path::Path, units: &str) -> (std::process::Output, Duration) {
    let dir = dir.display().to_string();
    let args = ["init", "--dir", &dir, "--node-id", &"77".repeat(32), "--atx-id", &"11".repeat(32), "--units", units];
    let start = Instant::now();
    let out = common::run(&args);
    (out, start.elapsed())
}

#[test]
fn a_huge_init_is_refused_before_anything_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    // 10^8 mainnet units are 5.96 EiB in 1.6·10^9 files; 10^6 are 61 PiB in 1.6·10^7 files.
    for (units, size) in [("100000000", "5.96 EiB"), ("1000000", "61.04 PiB")] {
        let dir = tmp.path().join(format!("data-{units}"));
        let (out, took) = init_mainnet(&dir, units);
        let message = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{units} units: {message}");
        assert!(message.contains(size) && message.contains("is free"), "{units} units: {message}");
        assert!(!message.contains("panicked") && !message.contains("memory allocation"), "{message}");
        assert!(took < Duration::from_secs(2), "{units} units: refused after {took:?}");
        assert!(!dir.exists(), "a refused init leaves no directory behind");
    }
}

#[test]
fn a_refused_init_leaves_no_directory_holding_only_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    // The directory exists already (empty): it stays, with nothing in it.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let (out, _) = init_mainnet(&empty, "1000000");
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0, "nothing left in an existing directory");

    // A new nested directory refused for its parameters (a file range beyond the data) is not created.
    let nested = tmp.path().join("a/b/data");
    let mut args = common::small_args(&nested);
    args.extend(["--from-file", "7"].map(String::from));
    let out = common::run_args(&args);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(!tmp.path().join("a").exists(), "no directory created: {}", common::text(&out));
}
