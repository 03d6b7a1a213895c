//! Two `post` processes on one directory: readers share it, a writer excludes everyone, and a refused
//! process changes nothing and names who holds the directory.
//!
//! To hold a lock as long as a check needs, a real `post` process is started and, once `post info` shows
//! it holding the directory, frozen with SIGSTOP; the other processes run against it, then SIGCONT lets
//! it finish normally. `init/locking.rs` refuses a second `post init` and a
//! `post verify-data` while `post init` runs; this file covers readers (`post verify-data`, `post prove`) together, every writer against a
//! reader, readers and writers against a `post repair`, and two `post init` started at the same instant.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

const N: &str = "256";

fn args<'a>(sub: &'a str, dir: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![sub, "--dir", dir.to_str().unwrap(), "--scrypt-n", N, "--provider", "reference", "--threads", "1"];
    v.extend_from_slice(extra);
    v
}

fn cmd(args: &[&str]) -> Command {
    let mut cmd = common::post();
    cmd.args(args);
    cmd
}

/// Starts `command` and freezes it once `post info` shows the directory held; `None` if it finished
/// first.
fn start_and_freeze(mut command: Command, dir: &Path) -> Option<Child> {
    let child = common::spawn(&mut command);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut child = child;
    loop {
        assert!(Instant::now() < deadline, "the directory was never held");
        if child.try_wait().unwrap().is_some() {
            return None;
        }
        let holder = &common::info(dir)["lock_holder"];
        if !holder.is_null() {
            if !common::freeze(&child) {
                return None;
            }
            return Some(child);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Like [`start_and_freeze`], retried until the process is caught holding the directory.
fn frozen_holder(make: impl Fn() -> Command, dir: &Path) -> Child {
    for _ in 0..10 {
        if let Some(child) = start_and_freeze(make(), dir) {
            return child;
        }
    }
    panic!("the process always finished before it could be frozen");
}

fn thaw(child: Child) -> Output {
    common::signal(&child, libc::SIGCONT);
    common::wait_at_most(child, Duration::from_secs(60))
}

#[test]
fn readers_share_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    let first = frozen_holder(|| cmd(&args("verify-data", &dir, &["--all"])), &dir);
    let info = common::info(&dir);
    assert!(info["lock_holder"].as_str().unwrap_or_default().contains("reader"), "{info}");

    let second = common::run(&args("verify-data", &dir, &["--all"]));
    assert!(second.status.success(), "a second reader was refused: {}", common::text(&second));
    let sampled = common::run(&args("verify-data", &dir, &["--fraction", "50", "--seed", "1"]));
    assert!(sampled.status.success(), "a third reader was refused: {}", common::text(&sampled));
    let (challenge, pow) = ("cd".repeat(32), "ff".repeat(32));
    let d = dir.to_str().unwrap();
    let proof = common::run(&[
        "prove",
        "--dir",
        d,
        "--challenge",
        &challenge,
        "--preset",
        "dev",
        "--scrypt-n",
        "256",
        "--randomx",
        "light",
        "--threads",
        "1",
        "--pow-difficulty",
        &pow,
    ]);
    assert!(proof.status.success(), "post prove was refused beside a reader: {}", common::text(&proof));
    assert!(String::from_utf8_lossy(&proof.stdout).contains("\"indices\""), "{}", common::text(&proof));

    let first = thaw(first);
    assert!(first.status.success(), "{}", common::text(&first));
    assert!(common::info(&dir)["lock_holder"].is_null());
}

#[test]
fn every_writer_is_refused_while_a_reader_holds_the_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    // Something for the writers to do: a short last file and a damaged label.
    let last = dir.join("postdata_4.bin");
    std::fs::OpenOptions::new().write(true).open(&last).unwrap().set_len(1024).unwrap();
    let reader = frozen_holder(|| cmd(&args("verify-data", &dir, &["--fraction", "100", "--seed", "3"])), &dir);
    let before = common::snapshot(&dir);
    let d = dir.display().to_string();
    let writers: [(&str, Vec<&str>); 3] = [
        ("init", vec![]),
        ("repair", args("repair", &dir, &[])),
        ("shrink", vec!["shrink", "--dir", &d, "--units", "1", "--yes"]),
    ];
    for (name, argv) in writers {
        let out = if name == "init" { common::output(&mut common::init_cmd(&dir)) } else { common::run(&argv) };
        common::assert_refused(&out, &[&d], &dir, &before);
        assert!(common::text(&out).contains("reader"), "{name}: the holder is not named: {}", common::text(&out));
    }
    let reader = thaw(reader);
    assert_eq!(
        reader.status.code(),
        Some(3),
        "the reader finds the short file (incomplete data): {}",
        common::text(&reader)
    );
    // Free again: the writer goes ahead.
    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_as_reference(&dir);
}

#[test]
fn readers_and_writers_are_refused_while_repair_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    let repair = frozen_holder(|| cmd(&args("repair", &dir, &[])), &dir);
    let pid = format!("pid {}", repair.id());
    let before = common::snapshot(&dir);
    let d = dir.display().to_string();
    let others = [
        args("verify-data", &dir, &["--all"]),
        args("repair", &dir, &[]),
        vec!["shrink", "--dir", &d, "--units", "1", "--yes"],
    ];
    for argv in &others {
        let out = common::run(argv);
        common::assert_refused(&out, &[&d, &pid], &dir, &before);
    }
    let out = common::output(&mut common::init_cmd(&dir));
    common::assert_refused(&out, &[&d, &pid], &dir, &before);
    // `post info` never takes the lock: it works and names the writer.
    let info = common::info(&dir);
    assert!(info["lock_holder"].as_str().unwrap_or_default().contains(&pid), "{info}");

    let repair = thaw(repair);
    assert!(repair.status.success(), "{}", common::text(&repair));
    common::assert_same_as_reference(&dir);
}

#[test]
fn two_inits_started_at_once_never_both_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut refusals = 0;
    for round in 0..5 {
        let dir = tmp.path().join(format!("round{round}"));
        let a = common::spawn(&mut common::init_cmd(&dir));
        let b = common::spawn(&mut common::init_cmd(&dir));
        for out in [a, b].map(|c| common::wait_at_most(c, Duration::from_secs(120))) {
            let message = common::text(&out);
            assert!(!message.contains("panicked"), "round {round}: {message}");
            match out.status.code() {
                Some(0) => {}
                Some(2) => {
                    refusals += 1;
                    assert!(message.contains("in use"), "round {round}: not a lock refusal: {message}");
                }
                other => panic!("round {round}: exit {other:?}: {message}"),
            }
        }
        common::assert_same_as_reference(&dir);
    }
    assert!(refusals > 0, "the two runs never overlapped");
}
