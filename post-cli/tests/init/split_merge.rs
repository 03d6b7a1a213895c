//! Split work (`--from-file/--to-file`) merged with `post merge` equals one run; growing equals
//! initializing the larger size; `post shrink` shows its plan and needs `--yes`.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;

fn init(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = common::small_args(dir);
    args.extend(extra.iter().map(|s| s.to_string()));
    common::run_args(&args)
}

#[test]
fn pieces_merged_equal_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, target) = (tmp.path().join("gpu0"), tmp.path().join("gpu1"), tmp.path().join("all"));
    let out = init(&a, &["--from-file", "0", "--to-file", "1"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::stdout(&out).contains("post merge"), "{}", common::text(&out));
    let out = init(&b, &["--from-file", "2"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(common::data_files(&b).len(), 2);

    let out = common::run(&[
        "merge",
        "--into",
        target.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--scrypt-n",
        "16",
    ]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::stdout(&out).contains("VRF nonce: 844"), "{}", common::text(&out));
    common::assert_same_data(&target, &common::reference_dir());

    // The pieces are gone with their data: no stale metadata is left describing files they lack.
    assert!(!a.exists() && !b.exists(), "merged pieces are removed once empty");
    // Merging again is harmless: nothing moves.
    let before = common::snapshot(&target);
    let out = common::run(&["merge", "--into", target.to_str().unwrap(), target.to_str().unwrap(), "--scrypt-n", "16"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(common::snapshot(&target), before);
}

#[test]
fn overlapping_pieces_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, target) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("t"));
    assert!(init(&a, &["--from-file", "0", "--to-file", "2"]).status.success());
    assert!(init(&b, &["--from-file", "2", "--to-file", "3"]).status.success());
    let (sa, sb) = (common::snapshot(&a), common::snapshot(&b));
    let merge = |into: &Path| {
        common::run(&[
            "merge",
            "--into",
            into.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--scrypt-n",
            "16",
        ])
    };
    let out = merge(&target);
    assert_eq!(out.status.code(), Some(2), "{}", common::text(&out));
    assert!(common::text(&out).contains("file 2 is in both"), "{}", common::text(&out));
    assert_eq!((common::snapshot(&a), common::snapshot(&b)), (sa, sb));

    // A file both in the target and in a piece, byte for byte the same, is what a copy across
    // filesystems interrupted before removing its source leaves: the merge keeps the target's copy.
    let out = merge(&a);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(
        common::stdout(&out).contains("postdata_2.bin: already in place; the piece's identical copy removed"),
        "{}",
        common::text(&out)
    );
    common::assert_same_data(&a, &common::reference_dir());
    assert!(!b.exists());
}

#[test]
fn growing_equals_initializing_the_larger_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut args = common::small_args(&dir);
    let units = args.iter().position(|a| a == "--units").unwrap() + 1;
    args[units] = "2".into();
    assert!(common::run_args(&args).status.success());
    assert_eq!(common::data_files(&dir).len(), 2);
    let out = common::run(&["init", "--dir", dir.to_str().unwrap(), "--units", "4", "--scrypt-n", "16"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::text(&out).contains("growing the data from 2 to 4 units"), "{}", common::text(&out));
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn shrink_shows_its_plan_and_needs_yes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_dir(&common::reference_dir(), &dir);
    let d = dir.to_str().unwrap();
    let before = common::snapshot(&dir);
    let plan = common::run(&["shrink", "--dir", d, "--units", "2", "--scrypt-n", "16"]);
    assert_eq!(plan.status.code(), Some(0), "showing the plan is a success: {}", common::text(&plan));
    let text = common::stdout(&plan);
    for needle in [
        "delete   ",
        "postdata_2.bin (4.69 KiB)",
        "postdata_3.bin (1.94 KiB)",
        "postdata_1.bin from 4.69 KiB to 3.31 KiB (4800 -> 3392 bytes)",
        "--yes",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }
    assert_eq!(common::snapshot(&dir), before, "nothing changes without --yes");

    let done = common::run(&["shrink", "--dir", d, "--units", "2", "--scrypt-n", "16", "--yes"]);
    assert!(done.status.success(), "{}", common::text(&done));
    let direct = tmp.path().join("direct");
    let mut args = common::small_args(&direct);
    let units = args.iter().position(|a| a == "--units").unwrap() + 1;
    args[units] = "2".into();
    assert!(common::run_args(&args).status.success());
    common::assert_same_data(&dir, &direct);
}
