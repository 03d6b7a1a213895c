//! Files damaged between runs — truncated (whole or torn label), extended, deleted, bits flipped where
//! resume looks and where it does not, zeros after a power loss, metadata torn, deleted or naming another
//! identity, stray files — and then `post init` is run again: on a complete directory and on one stopped
//! halfway. Each case ends in exactly one of:
//!
//! ```text
//! identical   resume rewrote what was missing or lost (a wrong end behind a right head is a write that
//!             never reached the disk): the directory equals an uninterrupted run, byte for byte
//! refused     exit code 2, the file (and label) named, what to do, nothing changed (a wrong head is
//!             other data, never overwritten)
//! unnoticed   damage where resume by design does not look (it checks the last labels of each file,
//!             and the first ones only when the last are wrong): init changes nothing, and
//!             `post verify-data --all` reports the damaged label
//! ```
//!
//! Never anything else: no run may succeed over damage it was told about, or change a file it refuses.
//! `init/corruption.rs` checks how `post info`, `post verify-data` and `post repair`
//! report and fix damage; this file checks what `post init` does with it.

#![allow(clippy::unwrap_used)]

use crate::common;

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::TAIL_CHECK_LABELS;

/// What a case must end in.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Identical,
    Refused(&'static [&'static str]),
    /// Damage at this global label, which resume does not look at.
    Unnoticed(u64),
}

fn file(dir: &Path, i: u32) -> PathBuf {
    dir.join(format!("postdata_{i}.bin"))
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(len).unwrap();
}

fn flip(path: &Path, offset: u64) {
    let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8; 1];
    f.read_exact_at(&mut byte, offset).unwrap();
    f.write_all_at(&[byte[0] ^ 0x10], offset).unwrap();
}

fn append(path: &Path, bytes: &[u8]) {
    let f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all_at(bytes, 0).unwrap();
}

fn edit_metadata(dir: &Path, edit: impl FnOnce(String) -> String) {
    let path = dir.join("postdata_metadata.json");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
}

/// Damages a copy of `base`, runs `post init` on it, and checks the outcome.
fn case(tmp: &Path, base: &Path, name: &str, damage: impl FnOnce(&Path), expect: Expect) {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, bytes) in common::snapshot(base) {
        std::fs::write(dir.join(file), bytes).unwrap();
    }
    damage(&dir);
    let before = common::snapshot(&dir);
    let out = common::output(&mut common::init_cmd(&dir));
    let message = common::text(&out);
    assert!(!message.contains("panicked"), "{name}: {message}");
    match expect {
        Expect::Identical => {
            assert!(out.status.success(), "{name}: {message}");
            common::assert_same_as_reference(&dir);
        }
        Expect::Refused(needles) => common::assert_refused(&out, needles, &dir, &before),
        Expect::Unnoticed(label) => {
            assert!(out.status.success(), "{name}: {message}");
            assert_eq!(common::snapshot(&dir), before, "{name}: init changed the damaged directory");
            let check = common::verify_data(&dir);
            assert_eq!(check.status.code(), Some(1), "{name}: verify-data missed the damage: {}", common::text(&check));
            let report = String::from_utf8_lossy(&check.stdout);
            assert!(report.contains(&format!("labels {label}..")), "{name}: label {label} not reported: {report}");
        }
    }
}

#[test]
fn data_files_damaged_in_a_complete_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::complete_dir(tmp.path(), "base");
    let f2 = |d: &Path| file(d, 2);
    case(tmp.path(), &base, "truncated", |d| set_len(&f2(d), 8000), Expect::Identical);
    case(tmp.path(), &base, "torn", |d| set_len(&f2(d), 8005), Expect::Identical);
    case(tmp.path(), &base, "emptied", |d| set_len(&f2(d), 0), Expect::Identical);
    case(tmp.path(), &base, "deleted", |d| std::fs::remove_file(f2(d)).unwrap(), Expect::Identical);
    case(tmp.path(), &base, "deleted_last", |d| std::fs::remove_file(file(d, 4)).unwrap(), Expect::Identical);
    case(
        tmp.path(),
        &base,
        "extended_label",
        |d| append(&f2(d), &[0; 16]),
        Expect::Refused(&["postdata_2.bin", "16016"]),
    );
    case(tmp.path(), &base, "extended_byte", |d| append(&f2(d), &[7]), Expect::Refused(&["postdata_2.bin", "16001"]));
    case(tmp.path(), &base, "last_extended", |d| append(&file(d, 4), &[0; 16]), Expect::Refused(&["postdata_4.bin"]));
    case(
        tmp.path(),
        &base,
        "flip_last_label",
        |d| flip(&f2(d), 15999),
        Expect::Identical, // the head is right: a lost write, rewritten
    );
    let tail_start = 16000 - TAIL_CHECK_LABELS * 16;
    case(tmp.path(), &base, "flip_first_checked_label", |d| flip(&f2(d), tail_start), Expect::Identical);
    case(
        tmp.path(),
        &base,
        "flip_unchecked_label",
        |d| flip(&f2(d), tail_start - 1),
        Expect::Unnoticed(2000 + 1000 - TAIL_CHECK_LABELS - 1),
    );
    case(tmp.path(), &base, "flip_first_label", |d| flip(&file(d, 0), 3), Expect::Unnoticed(0));
    case(
        tmp.path(),
        &base,
        "power_loss_zeros",
        |d| OpenOptions::new().write(true).open(file(d, 4)).unwrap().write_all_at(&[0; 64], 1536 - 64).unwrap(),
        Expect::Identical,
    );
    case(
        tmp.path(),
        &base,
        "power_loss_half_a_file",
        |d| OpenOptions::new().write(true).open(f2(d)).unwrap().write_all_at(&[0; 8000], 8000).unwrap(),
        Expect::Identical,
    );
    // Head and tail both wrong: not a lost write but other data; nothing may be overwritten.
    case(
        tmp.path(),
        &base,
        "flip_first_and_last_label",
        |d| {
            flip(&f2(d), 0);
            flip(&f2(d), 15999);
        },
        Expect::Refused(&["postdata_2.bin", "label 2000"]),
    );
    case(
        tmp.path(),
        &base,
        "garbage_file",
        |d| std::fs::write(f2(d), (0..16000u32).map(|i| (i * 7 + 3) as u8).collect::<Vec<_>>()).unwrap(),
        Expect::Refused(&["postdata_2.bin", "label 2000"]),
    );
    case(
        tmp.path(),
        &base,
        "truncated_then_flipped",
        |d| {
            set_len(&f2(d), 8000);
            flip(&f2(d), 7990);
        },
        Expect::Identical,
    );
    case(
        tmp.path(),
        &base,
        "stray_data_file",
        |d| std::fs::write(file(d, 9), [0; 16]).unwrap(),
        Expect::Refused(&["postdata_9.bin"]),
    );
}

#[test]
fn metadata_damaged_in_a_complete_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let base = common::complete_dir(tmp.path(), "base");
    let meta = |d: &Path| d.join("postdata_metadata.json");
    case(
        tmp.path(),
        &base,
        "torn",
        |d| edit_metadata(d, |t| t[..t.len() / 2].to_string()),
        Expect::Refused(&["postdata_metadata.json"]),
    );
    case(
        tmp.path(),
        &base,
        "empty",
        |d| std::fs::write(meta(d), "").unwrap(),
        Expect::Refused(&["postdata_metadata.json"]),
    );
    case(
        tmp.path(),
        &base,
        "deleted",
        |d| std::fs::remove_file(meta(d)).unwrap(),
        Expect::Refused(&["postdata_metadata.json", "postdata_0.bin"]),
    );
    // Another identity in the metadata than on the command line, and (below) than in the data.
    case(
        tmp.path(),
        &base,
        "other_node_id",
        |d| edit_metadata(d, |t| t.replacen("WlpaWlpa", "WlpaWlpb", 1)),
        Expect::Refused(&["NodeId"]),
    );
    case(
        tmp.path(),
        &base,
        "fewer_units",
        |d| edit_metadata(d, |t| t.replace("\"NumUnits\": 2", "\"NumUnits\": 1")),
        Expect::Refused(&["postdata_2.bin"]),
    );
    case(
        tmp.path(),
        &base,
        "other_file_size",
        |d| edit_metadata(d, |t| t.replace("\"MaxFileSize\": 16000", "\"MaxFileSize\": 8000")),
        Expect::Refused(&["MaxFileSize", "16000", "8000"]),
    );
    case(
        tmp.path(),
        &base,
        "stray_temporary_metadata",
        |d| std::fs::write(d.join(".postdata_metadata.json.tmp"), "{\"torn").unwrap(),
        Expect::Identical,
    );
}

/// The metadata names another node than the data was made for, and the command line agrees with the
/// metadata: only the labels themselves can tell, and resume must look at them before writing.
#[test]
fn metadata_and_command_line_agree_on_an_identity_the_data_is_not_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    set_len(&file(&dir, 4), 512);
    edit_metadata(&dir, |t| t.replacen("WlpaWlpa", "WlpaWlpb", 1));
    let before = common::snapshot(&dir);
    let other_node = format!("5a5a5a5a5a5b{}", "5a".repeat(26));
    let mut cmd = common::init_cmd_with(&dir, &[("--node-id", &other_node)]);
    let out = common::output(&mut cmd);
    common::assert_refused(&out, &["postdata_", "differs"], &dir, &before);
}

/// The metadata says files of 8000 bytes and so does the command line, but the files hold 16000: they are
/// too long for that layout, and nothing may be cut to fit.
#[test]
fn metadata_and_command_line_agree_on_a_layout_the_files_do_not_have() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    edit_metadata(&dir, |t| t.replace("\"MaxFileSize\": 16000", "\"MaxFileSize\": 8000"));
    let before = common::snapshot(&dir);
    let out = common::output(&mut common::init_cmd_with(&dir, &[("--max-file-size", "8000")]));
    common::assert_refused(&out, &["postdata_0.bin", "16000"], &dir, &before);
}

/// A lost write at the end of a file and, far before it, a damaged label: resume rewrites the end from
/// the last right stretch and leaves the older damage as it was (it does not look there), and
/// `post verify-data` then reports exactly that label.
#[test]
fn a_lost_write_behind_older_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = common::complete_dir(tmp.path(), "data");
    let f2 = file(&dir, 2);
    OpenOptions::new().write(true).open(&f2).unwrap().write_all_at(&[0; 4000], 12000).unwrap();
    flip(&f2, 100 * 16 + 3);
    let out = common::output(&mut common::init_cmd(&dir));
    assert!(out.status.success(), "{}", common::text(&out));
    let check = common::verify_data(&dir);
    assert_eq!(check.status.code(), Some(1), "{}", common::text(&check));
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains("labels 2100..2101 (1 label(s))"), "{report}");
    let mut want = common::reference().0["postdata_2.bin"].clone();
    want[100 * 16 + 3] ^= 0x10;
    assert!(std::fs::read(&f2).unwrap() == want, "the end of postdata_2.bin was not rewritten exactly");
}

/// A directory stopped halfway with Ctrl-C (files 0 and 1 whole, file 2 partial, the rest missing).
fn stopped_halfway(tmp: &Path) -> PathBuf {
    for attempt in 0..5 {
        let dir = tmp.join(format!("halfway{attempt}"));
        let mut child = common::spawn(&mut common::init_cmd(&dir));
        let deadline = Instant::now() + Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() && common::data_bytes(&dir) < 40_000 {
            assert!(Instant::now() < deadline, "post init wrote nothing for 60 s");
            std::thread::sleep(Duration::from_millis(1));
        }
        if child.try_wait().unwrap().is_none() {
            common::signal(&child, libc::SIGINT);
        }
        let out = common::wait_at_most(child, Duration::from_secs(30));
        let len = std::fs::metadata(file(&dir, 2)).map(|m| m.len()).unwrap_or(0);
        if out.status.code() == Some(130) && (16 * TAIL_CHECK_LABELS..16000).contains(&len) && !file(&dir, 3).exists() {
            return dir;
        }
    }
    panic!("could not stop post init inside file 2 in five tries");
}

#[test]
fn damage_in_a_directory_stopped_halfway() {
    let tmp = tempfile::tempdir().unwrap();
    let base = stopped_halfway(tmp.path());
    let len = std::fs::metadata(file(&base, 2)).unwrap().len();
    let whole = len / 16 * 16;
    case(tmp.path(), &base, "as_stopped", |_| {}, Expect::Identical);
    case(tmp.path(), &base, "torn", |d| set_len(&file(d, 2), whole - 9), Expect::Identical);
    case(tmp.path(), &base, "partial_deleted", |d| std::fs::remove_file(file(d, 2)).unwrap(), Expect::Identical);
    case(tmp.path(), &base, "whole_deleted", |d| std::fs::remove_file(file(d, 0)).unwrap(), Expect::Identical);
    case(tmp.path(), &base, "flip_resume_point", |d| flip(&file(d, 2), whole - 1), Expect::Identical);
    case(
        tmp.path(),
        &base,
        "flip_head_and_resume_point",
        |d| {
            flip(&file(d, 2), 5);
            flip(&file(d, 2), whole - 1);
        },
        Expect::Refused(&["postdata_2.bin", "label 2000"]),
    );
    // Sixteen bytes that are not the next label, appended where resume would continue.
    case(tmp.path(), &base, "garbage_appended", |d| set_len(&file(d, 2), whole + 16), Expect::Identical);
    case(
        tmp.path(),
        &base,
        "garbage_file_ahead",
        |d| std::fs::write(file(d, 3), [0xee; 32]).unwrap(),
        Expect::Refused(&["postdata_3.bin"]),
    );
}
