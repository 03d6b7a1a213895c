//! What a new user runs into first: `-q` is quiet, one log style, exit codes that tell unfinished data
//! from damaged data, `--threads 0`, `0x` hex, and a plain message for a directory that is not PoST data.

#![allow(clippy::unwrap_used)]

use crate::common;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn quiet_prints_nothing_but_errors_and_logs_have_one_style() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut args = common::small_args(&dir);
    args.insert(0, "-q".into());
    let out = common::run_args(&args);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(stderr(&out), "", "-q: errors only");

    let d = dir.display().to_string();
    let out = common::run(&["-q", "verify-data", "--dir", &d, "--scrypt-n", "16", "--provider", "reference"]);
    assert!(out.status.success(), "{}", common::text(&out));
    assert_eq!(stderr(&out), "", "-q: errors only");

    // Without -q: plain `<command>: …` lines, no level or timestamp columns.
    let other = tmp.path().join("other");
    let out = common::run_args(&common::small_args(&other));
    assert!(out.status.success(), "{}", common::text(&out));
    let log = stderr(&out);
    assert!(log.lines().any(|l| l.starts_with("init: ")), "{log}");
    for line in log.lines() {
        assert!(!line.contains(" INFO ") && !line.starts_with("20"), "mixed styles: {line}");
    }
    // Errors keep their prefix under -q.
    let out = common::run(&["-q", "info", "--dir", &tmp.path().join("none").display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).starts_with("error: "), "{}", stderr(&out));
}

#[test]
fn unfinished_data_is_not_called_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut args = common::small_args(&dir);
    args.extend(["--from-file", "0", "--to-file", "1"].map(String::from));
    assert!(common::run_args(&args).status.success());
    let d = dir.display().to_string();
    let check = |extra: &[&str]| {
        let mut argv = vec!["verify-data", "--dir", &d, "--all", "--scrypt-n", "16", "--provider", "reference"];
        argv.extend(extra);
        common::run(&argv)
    };
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    assert!(common::stdout(&out).contains("incomplete") && common::stdout(&out).contains("post init"));
    assert!(!common::stdout(&out).contains("NOT clean"), "{}", common::text(&out));
    let out = check(&["--json"]);
    assert_eq!(out.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["state"], "incomplete");
    // Repair has nothing to rewrite and says the same.
    let out = common::run(&["repair", "--dir", &d, "--scrypt-n", "16", "--provider", "reference"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));

    // Damaged as well: corrupt wins.
    let file = dir.join("postdata_0.bin");
    let mut bytes = std::fs::read(&file).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&file, bytes).unwrap();
    let out = check(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", common::text(&out));
    assert!(common::stdout(&out).contains("NOT clean"));
}

#[test]
fn threads_zero_means_all_and_hex_may_start_with_0x() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, reference) = (tmp.path().join("data"), tmp.path().join("reference"));
    let mut args = common::small_args(&dir);
    for id in ["--node-id", "--atx-id"] {
        let at = args.iter().position(|a| a == id).unwrap() + 1;
        args[at] = format!("0x{}", args[at]);
    }
    args.extend(["--threads", "0"].map(String::from));
    let out = common::run_args(&args);
    assert!(out.status.success(), "{}", common::text(&out));
    assert!(common::run_args(&common::small_args(&reference)).status.success());
    common::assert_same_data(&dir, &reference);
}

#[test]
fn a_directory_that_is_not_post_data_is_named_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().display().to_string();
    for argv in [
        vec!["info", "--dir", &d],
        vec!["verify-data", "--dir", &d],
        vec!["repair", "--dir", &d],
        vec!["shrink", "--dir", &d, "--units", "1"],
    ] {
        let out = common::run(&argv);
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{argv:?}: {message}");
        assert!(message.contains("is not a PoST data directory"), "{argv:?}: {message}");
        assert!(!message.contains("os error"), "{argv:?}: raw OS error: {message}");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "{argv:?} left a file behind");
    }
}

/// A shrink that finishes is never reported as interrupted: shrinking a piece that lacks the kept
/// files (and whose nonce lies in the dropped ones) deletes as planned and exits 3 ("not complete"),
/// not 130.
#[test]
fn a_shrink_of_unfinished_data_says_so_and_is_not_interrupted() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("piece");
    let d = dir.display().to_string();
    let (node, atx) = ("11".repeat(32), "22".repeat(32));
    let shape = ["--preset", "dev", "--scrypt-n", "2", "--labels-per-unit", "64", "--max-file-size", "512"];
    let init = [&["init", "--dir", &d, "--node-id", &node, "--atx-id", &atx, "--units", "4"][..], &shape[..]].concat();
    let out = common::run(&[&init[..], &["--from-file", "4", "--to-file", "7"][..]].concat());
    assert!(out.status.success(), "{}", common::text(&out));
    let out = common::run(&["shrink", "--dir", &d, "--units", "2", "--yes", "--scrypt-n", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", common::text(&out));
    assert!(stderr(&out).contains("not complete") && !stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert!(!dir.join("postdata_4.bin").exists(), "the planned deletion did not happen");
    // `post init` finishes it: the result is complete and has a VRF nonce.
    let out = common::run(&init);
    assert!(out.status.success(), "{}", common::text(&out));
}

/// `--threads 0` means all cores in every command: the bench reports the real count, never 0; and the
/// AES kernels in `bench prove --help` are all of them.
#[test]
fn threads_zero_means_all_cores_in_the_benches_too() {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let out = common::run(&[
        "bench",
        "prove",
        "--data-size",
        "0.01",
        "--nonces",
        "16",
        "--threads",
        "0",
        "--seconds",
        "0.1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", common::text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["threads"].as_u64(), Some(cores as u64), "{report}");
    let help = common::text(&common::run(&["bench", "prove", "--help"]));
    for kernel in ["vaes512", "vaes256", "aesni", "portable"] {
        assert!(help.contains(kernel), "{kernel} missing from: {help}");
    }
}

/// `verify-data` and `repair` check with the CPU unless `--provider` says otherwise, so a GPU never
/// checks its own labels by default.
#[test]
fn data_is_checked_on_the_cpu_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    assert!(common::run_args(&common::small_args(&dir)).status.success());
    let d = dir.display().to_string();
    for command in ["verify-data", "repair"] {
        let out = common::run(&[command, "--dir", &d, "--scrypt-n", "16"]);
        assert!(out.status.success(), "{}", common::text(&out));
        assert!(stderr(&out).contains(&format!("{command}: labels computed by cpu")), "{}", stderr(&out));
        let out = common::run(&[command, "--dir", &d, "--scrypt-n", "16", "--provider", "reference"]);
        assert!(stderr(&out).contains(&format!("{command}: labels computed by reference")), "{}", stderr(&out));
    }
}
