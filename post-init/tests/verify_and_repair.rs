//! `verify_data` reports every bad range, every short, long, torn or missing file, stray files and a bad
//! nonce; `repair` rewrites exactly the bad labels and refuses when the parameters look wrong.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;

use post_core::{FileState, ScryptParams};
use post_init::{repair, verify_data, CancelToken, CheckRequest, Coverage, DataReport, NoProgress, NonceCheck, Tuning};
use post_oracle::ReferenceLabeller;

fn check(dir: &Path, coverage: Coverage) -> CheckRequest {
    CheckRequest { dir: dir.to_path_buf(), scrypt: common::small_config().scrypt, coverage, tuning: Tuning::default() }
}

fn verify(dir: &Path, coverage: Coverage) -> DataReport {
    verify_data(&check(dir, coverage), &ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap()
}

fn flip(path: &Path, offset: u64) {
    let file = std::fs::OpenOptions::new().read(true).write(true).open(path).unwrap();
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset).unwrap();
    file.write_all_at(&[byte[0] ^ 0x10], offset).unwrap();
}

/// (file, byte offset, label range) of every bad range.
fn ranges(report: &DataReport) -> Vec<(u32, u64, std::ops::Range<u64>)> {
    report.bad.iter().map(|r| (r.file, r.offset, r.labels.clone())).collect()
}

#[test]
fn clean_data_is_clean() {
    // A copy: opening a directory takes its lock, which must never touch the checked-in fixture.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let report = verify(&dir, Coverage::All);
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.labels_checked, 1024);
    assert!(matches!(report.nonce, NonceCheck::Valid(c) if c.index.0 == 844));
}

#[test]
fn every_corrupt_range_is_reported_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    // Label 5; labels 7..10 (three neighbours); label 299 and 300 (across a file boundary); the last one.
    for (file, offset) in
        [(0u32, 5 * 16 + 3), (0, 7 * 16), (0, 8 * 16 + 15), (0, 9 * 16 + 1), (0, 299 * 16), (1, 0), (3, 1983)]
    {
        flip(&dir.join(format!("postdata_{file}.bin")), offset);
    }
    let report = verify(&dir, Coverage::All);
    assert!(!report.is_clean());
    let expected = vec![
        (0, 5 * 16, 5..6),
        (0, 7 * 16, 7..10),
        (0, 299 * 16, 299..300),
        (1, 0, 300..301),
        (3, 123 * 16, 1023..1024),
    ];
    assert_eq!(ranges(&report), expected);

    let repaired = repair(&check(&dir, Coverage::All), &ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap();
    assert!(repaired.repaired && repaired.is_clean());
    assert_eq!(ranges(&repaired), expected);
    assert!(verify(&dir, Coverage::All).is_clean());
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn sampling_is_reproducible_from_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    for label in (0..1024u64).step_by(3) {
        flip(&dir.join(format!("postdata_{}.bin", label / 300)), (label % 300) * 16);
    }
    let sample = |seed| verify(&dir, Coverage::Fraction { percent: 20.0, seed, chunk: 16 });
    let (a, b, c) = (sample(7), sample(7), sample(8));
    assert_eq!(ranges(&a), ranges(&b));
    assert_eq!(a.labels_checked, b.labels_checked);
    assert_ne!(ranges(&a), ranges(&c));
    assert!(a.labels_checked < 1024 && a.labels_checked >= 4 * 16, "{}", a.labels_checked);
    assert!(!a.bad.is_empty() && !a.is_clean());
}

#[test]
fn short_long_torn_missing_and_stray_files_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let path = |i: u32| dir.join(format!("postdata_{i}.bin"));
    std::fs::OpenOptions::new().write(true).open(path(0)).unwrap().set_len(4800 - 32).unwrap();
    std::fs::OpenOptions::new().write(true).open(path(1)).unwrap().set_len(4800 + 16).unwrap();
    std::fs::OpenOptions::new().write(true).open(path(3)).unwrap().set_len(1984 - 5).unwrap();
    std::fs::remove_file(path(2)).unwrap();
    std::fs::write(dir.join("postdata_4.bin"), [0u8; 16]).unwrap();

    let report = verify(&dir, Coverage::All);
    let states: Vec<FileState> = report.files.iter().map(|f| f.state).collect();
    assert_eq!(
        states,
        [
            FileState::Partial { len: 4768 },
            FileState::Oversized { len: 4816 },
            FileState::Missing,
            FileState::Misaligned { len: 1979 }
        ]
    );
    assert_eq!(report.stray_files, [dir.join("postdata_4.bin")]);
    // The labels that are there are still checked, and are fine.
    assert!(report.bad.is_empty());
    assert_eq!(report.labels_checked, 298 + 300 + 123);
    assert!(!report.is_clean());
}

#[test]
fn wrong_parameters_are_reported_and_repair_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let before = common::snapshot(&dir);
    let mut wrong = check(&dir, Coverage::All);
    wrong.scrypt = ScryptParams::with_n(32).unwrap();
    let report = verify_data(&wrong, &ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap();
    assert_eq!(ranges(&report).len(), 4, "every file is one bad range");
    assert!(matches!(report.nonce, NonceCheck::Invalid { nonce: 844, .. }));
    let err = repair(&wrong, &ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap_err();
    assert!(matches!(err, post_init::Error::RepairRefused { .. }), "{err}");
    assert!(err.to_string().contains("--scrypt-n"), "{err}");
    assert_eq!(common::snapshot(&dir), before);
}

#[test]
fn a_reader_and_a_writer_exclude_each_other() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let writer = post_init::prepare(&common::request(&dir, 4), &ReferenceLabeller, &ReferenceLabeller).unwrap();
    let err = verify_data(&check(&dir, Coverage::All), &ReferenceLabeller, &CancelToken::new(), &NoProgress)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&dir.display().to_string()) && err.contains(&format!("pid {}", std::process::id())), "{err}");
    // The status display works without the lock and names the holder.
    let status = post_init::inspect(&dir).unwrap();
    assert!(status.lock_holder.as_ref().is_some_and(|h| h.starts_with(&format!("pid {}", std::process::id()))));
    assert!(status.is_complete());
    drop(writer);
    assert!(post_init::inspect(&dir).unwrap().lock_holder.is_none());
    assert!(verify(&dir, Coverage::All).is_clean());
}
