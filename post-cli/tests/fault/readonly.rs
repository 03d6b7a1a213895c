//! A read-only data directory: writers (`post init`, `post repair`) stop with a clear error and change
//! nothing; readers (`post info`, `post verify-data`, `post prove`) work, with or without a lock file to
//! open.
//!
//! The tests run as root, which ignores permission bits, so the directory is made read-only for real:
//! each `post` process starts in a private mount namespace where the directory is bind-mounted onto itself
//! read-only (writes fail with EROFS, as on read-only media). Where mount namespaces are not allowed
//! (no CAP_SYS_ADMIN, e.g. an unprivileged CI runner) the tests print why and check nothing.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Command, Output};

/// Makes `cmd` see `dir` read-only, in a mount namespace of its own.
fn read_only(cmd: &mut Command, dir: &Path) {
    let target = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let fail = || Err(std::io::Error::last_os_error());
    // SAFETY: between fork and exec only raw system calls (unshare, mount) are made, on C strings
    // allocated before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let none = std::ptr::null();
            if libc::unshare(libc::CLONE_NEWNS) != 0 {
                return fail();
            }
            // Keep the mounts below private to this process.
            if libc::mount(none, c"/".as_ptr(), none, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()) != 0 {
                return fail();
            }
            if libc::mount(target.as_ptr(), target.as_ptr(), none, libc::MS_BIND, std::ptr::null()) != 0 {
                return fail();
            }
            let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY;
            if libc::mount(none, target.as_ptr(), none, flags, std::ptr::null()) != 0 {
                return fail();
            }
            Ok(())
        });
    }
}

/// Runs `post` with `args`, seeing `dir` read-only.
fn run_read_only(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = common::post();
    cmd.args(args);
    read_only(&mut cmd, dir);
    common::output(&mut cmd)
}

/// `post init` of the fault data set, seeing `dir` read-only.
fn init_read_only(dir: &Path) -> Output {
    let mut cmd = common::init_cmd(dir);
    read_only(&mut cmd, dir);
    common::output(&mut cmd)
}

/// Whether a read-only bind mount can be made here; reports the skip of `test` when not.
fn supported(test: &str, dir: &Path) -> bool {
    let mut probe = Command::new("sh");
    probe.args(["-c", "! touch \"$0/probe\" 2>/dev/null"]).arg(dir);
    read_only(&mut probe, dir);
    match probe.status() {
        Ok(status) if status.success() => true,
        Ok(status) => {
            common::skip_without_namespaces(test, &format!("the read-only bind mount did not stop a write ({status})"));
            false
        }
        Err(e) => {
            common::skip_without_namespaces(
                test,
                &format!("cannot make a read-only bind mount in a private mount namespace here: {e}"),
            );
            false
        }
    }
}

fn assert_read_only_refusal(out: &Output, dir: &Path, before: &std::collections::BTreeMap<String, Vec<u8>>) {
    common::assert_refused(out, &[&dir.display().to_string()], dir, before);
    let message = common::text(out).to_lowercase();
    assert!(message.contains("read-only"), "the message does not say the directory is read-only: {message}");
}

#[test]
fn init_into_a_read_only_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    if !supported("init_into_a_read_only_directory_is_refused", &dir) {
        return;
    }
    let out = init_read_only(&dir);
    assert_read_only_refusal(&out, &dir, &Default::default());
    assert!(!dir.join(".post.lock").exists());
}

#[test]
fn resume_in_a_read_only_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    if !supported("resume_in_a_read_only_directory_is_refused", &dir) {
        return;
    }
    // A partial directory: the last file cut short.
    std::fs::OpenOptions::new().write(true).open(dir.join("postdata_4.bin")).unwrap().set_len(768).unwrap();
    let before = common::snapshot(&dir);
    let out = init_read_only(&dir);
    assert_read_only_refusal(&out, &dir, &before);
    // Writable again, the same command finishes the job.
    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    common::assert_same_as_reference(&dir);
}

#[test]
fn repair_of_a_read_only_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    if !supported("repair_of_a_read_only_directory_is_refused", &dir) {
        return;
    }
    let path = dir.join("postdata_1.bin");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[5000] ^= 0x80;
    std::fs::write(&path, bytes).unwrap();
    let before = common::snapshot(&dir);
    let d = dir.to_str().unwrap();
    let out = run_read_only(&dir, &["repair", "--dir", d, "--scrypt-n", "256", "--provider", "reference"]);
    assert_read_only_refusal(&out, &dir, &before);
}

#[test]
fn readers_work_on_a_read_only_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    if !supported("readers_work_on_a_read_only_directory", &dir) {
        return;
    }
    let d = dir.to_str().unwrap();
    // First without a lock file (it cannot be created), then with one left by an earlier writer.
    for with_lock_file in [false, true] {
        if with_lock_file {
            std::fs::write(dir.join(".post.lock"), b"").unwrap();
        }
        let before = common::snapshot(&dir);
        let info = run_read_only(&dir, &["info", "--dir", d, "--json"]);
        assert!(info.status.success(), "lock file {with_lock_file}: {}", common::text(&info));
        let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
        assert_eq!(info["complete"], true, "{info}");
        let verify =
            run_read_only(&dir, &["verify-data", "--dir", d, "--all", "--scrypt-n", "256", "--provider", "reference"]);
        assert!(verify.status.success(), "lock file {with_lock_file}: {}", common::text(&verify));
        if !with_lock_file {
            let (challenge, pow) = ("cd".repeat(32), "ff".repeat(32));
            let proof = run_read_only(
                &dir,
                &[
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
                ],
            );
            assert!(proof.status.success(), "post prove on read-only data: {}", common::text(&proof));
        }
        // A complete directory needs no writing: init may say so, or refuse, but changes nothing.
        let init = init_read_only(&dir);
        assert!(matches!(init.status.code(), Some(0 | 2)), "{}", common::text(&init));
        assert!(!common::text(&init).contains("panicked"), "{}", common::text(&init));
        assert_eq!(common::snapshot(&dir), before);
    }
}
