//! An interrupted initialization resumes to exactly the bytes of an uninterrupted one: after a cancel
//! at any batch, after a torn last label, and after a grow. Resume checks what it continues from.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::io::Write as _;

use common::CancelAfter;
use post_init::{Event, InitEnd};
use proptest::prelude::*;

fn request(dir: &std::path::Path, units: u32, batch: usize) -> post_init::InitRequest {
    let mut r = common::request(dir, units);
    r.tuning.batch = Some(batch);
    r
}

#[test]
fn cancel_then_resume_gives_the_same_bytes() {
    for cancel_after in [1, 3, 7, 12, 19] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let sink = CancelAfter::writes(cancel_after);
        let first = common::init_with(&request(&dir, 4, 16), &sink).unwrap();
        assert_eq!(first.end, InitEnd::Cancelled, "after {cancel_after} batches");
        assert!(first.labels_written >= cancel_after as u64 * 12 && first.labels_written < 1024, "{first:?}");
        // The metadata is on disk from the start, and the files hold exactly what was reported.
        assert_eq!(common::metadata_json(&dir)["NumUnits"], 4);
        let on_disk: usize = common::data_files(&dir).values().map(Vec::len).sum();
        assert_eq!(on_disk as u64, first.labels_written * 16);

        let sink = CancelAfter::writes(i64::MAX);
        let second = common::init_with(&request(&dir, 4, 16), &sink).unwrap();
        assert_eq!(second.end, InitEnd::Complete);
        assert_eq!(second.labels_written, 1024 - first.labels_written);
        assert!(sink.events().contains(&Event::InitStarted { total_labels: 1024, done_labels: first.labels_written }));
        common::assert_same_data(&dir, &common::reference_dir());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// A crash leaves a torn label (any 1..15 stray bytes) after the last whole label: resume cuts it
    /// and the result is still byte-identical.
    #[test]
    fn torn_tail_is_cut_and_resume_is_identical(cancel_after in 1i64..60, torn in 1usize..16, fill in any::<u8>()) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let first = common::init_with(&request(&dir, 4, 16), &CancelAfter::writes(cancel_after)).unwrap();
        prop_assume!(first.end == InitEnd::Cancelled);
        let target = common::partial_file(&dir).unwrap();
        let before = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        std::fs::OpenOptions::new().create(true).append(true).open(&target).unwrap().write_all(&vec![fill; torn]).unwrap();

        let sink = CancelAfter::writes(i64::MAX);
        let second = common::init_with(&request(&dir, 4, 16), &sink).unwrap();
        prop_assert_eq!(second.end, InitEnd::Complete);
        let cut = Event::TornTailCut { path: target.clone(), from_len: before + torn as u64, to_len: before };
        prop_assert!(sink.events().contains(&cut), "{:?}", sink.events());
        common::assert_same_data(&dir, &common::reference_dir());
    }
}

#[test]
fn a_lost_write_is_rewritten_on_resume() {
    for (cancel_after, lost) in [(5, 64), (12, 4096), (30, 300 * 16)] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        common::init_with(&request(&dir, 4, 16), &CancelAfter::writes(cancel_after)).unwrap();
        // A power loss can leave a file longer than what reached the disk, the rest reading as zeros.
        let target = common::partial_file(&dir).unwrap();
        let len = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        // The head of the file survives (a file lost entirely looks like other parameters: see below).
        let zeros = (lost as u64).min(len - 16 * post_init::TAIL_CHECK_LABELS);
        let file = std::fs::OpenOptions::new().write(true).open(&target).unwrap();
        use std::os::unix::fs::FileExt;
        file.write_all_at(&vec![0u8; zeros as usize], len - zeros).unwrap();

        let sink = CancelAfter::writes(i64::MAX);
        let outcome = common::init_with(&request(&dir, 4, 16), &sink).unwrap();
        assert_eq!(outcome.end, InitEnd::Complete);
        let rewritten = sink.events().into_iter().find_map(|e| match e {
            Event::TailRewritten { path, from, to } => Some((path, from, to)),
            _ => None,
        });
        let (path, from, to) = rewritten.unwrap();
        assert_eq!((path, to), (target.clone(), len));
        assert!(from <= len - zeros && len - zeros - from < 256 * 16, "kept {from} of {len} bytes");
        common::assert_same_data(&dir, &common::reference_dir());
    }
}

#[test]
fn a_wrong_head_stops_resume_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::init_with(&request(&dir, 4, 16), &CancelAfter::writes(25)).unwrap();
    let target = common::partial_file(&dir).unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&target).unwrap();
    use std::os::unix::fs::FileExt;
    file.write_all_at(&[0u8; 16], 16 * 3).unwrap();
    let len = file.metadata().unwrap().len();
    file.write_all_at(&[0u8; 16], len - 16).unwrap();
    let before = common::snapshot(&dir);

    let err = common::init(&request(&dir, 4, 16)).unwrap_err();
    match &err {
        post_init::Error::LabelMismatch { path, offset, .. } => assert_eq!((path, *offset), (&target, 48)),
        other => panic!("expected a label mismatch, got {other}"),
    }
    assert!(err.to_string().contains("post repair"), "{err}");
    assert_eq!(common::snapshot(&dir), before, "a refused resume changes nothing");

    let check = post_init::CheckRequest {
        dir: dir.clone(),
        scrypt: common::small_config().scrypt,
        coverage: post_init::Coverage::All,
        tuning: post_init::Tuning::default(),
    };
    let report = post_init::repair(
        &check,
        &post_oracle::ReferenceLabeller,
        &post_init::CancelToken::new(),
        &post_init::NoProgress,
    )
    .unwrap();
    assert_eq!(report.bad.len(), 2);
    assert_eq!(common::init(&request(&dir, 4, 16)).unwrap().end, InitEnd::Complete);
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn growing_equals_initializing_the_larger_size() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // 2 units = 512 labels: files of 300 and 212 labels; growing extends file 1 and adds files 2 and 3.
    let small = common::init(&request(&dir, 2, 64)).unwrap();
    assert_eq!(small.end, InitEnd::Complete);
    let direct = tempfile::tempdir().unwrap();
    common::init(&request(direct.path(), 2, 64)).unwrap();
    common::assert_same_data(&dir, direct.path());

    let grown = common::init_with(&request(&dir, 4, 32), &CancelAfter::writes(4)).unwrap();
    assert_eq!(grown.end, InitEnd::Cancelled);
    let grown = common::init(&request(&dir, 4, 32)).unwrap();
    assert_eq!(grown.end, InitEnd::Complete);
    assert_eq!(grown.nonce.map(|n| n.index.0), Some(844));
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn fewer_units_is_refused_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let before = common::snapshot(&dir);
    let err = common::init(&request(&dir, 3, 64)).unwrap_err();
    assert!(matches!(err, post_init::Error::FewerUnits { on_disk: 4, requested: 3, .. }), "{err}");
    assert!(err.to_string().contains("post shrink"), "{err}");
    assert_eq!(common::snapshot(&dir), before);
}
