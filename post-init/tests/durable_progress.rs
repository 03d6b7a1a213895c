//! Durable progress: a file being written is synced every `sync_bytes` and its "durable up to" mark
//! recorded in `.post-durable.json`; after a power cut (the page cache lost: pages past the mark read
//! as zeros or hold stale bytes, anywhere, while later pages survive) a resume recomputes every label
//! past the mark and repairs the data to the bytes of an uninterrupted run.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use common::CancelAfter;
use post_init::{Event, InitEnd, DURABLE_FILE};

/// 16-label batches (256 bytes), a sync every 1024 bytes.
fn request(dir: &Path) -> post_init::InitRequest {
    let mut r = common::request(dir, 4);
    r.tuning.batch = Some(16);
    r.tuning.sync_bytes = 1024;
    r
}

fn marks(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(DURABLE_FILE)).ok()?;
    Some(serde_json::from_str::<serde_json::Value>(&text).unwrap()["durable"].clone())
}

/// Writes the marks file as a run that was cut off after its last sync at `mark` left it.
fn set_mark(dir: &Path, file: u32, mark: u64) {
    let commitment = post_core::PostMetadata::load(dir).unwrap().commitment();
    let text = serde_json::json!({
        "about": "test",
        "version": 1,
        "commitment": hex::encode(commitment.0),
        "max_file_size": 4800,
        "durable": { file.to_string(): mark },
    });
    std::fs::write(dir.join(DURABLE_FILE), text.to_string()).unwrap();
}

/// A run stopped after `batches` batches, with the stopped file's mark set back to `mark` (what a
/// crash after the sync at `mark` leaves) and `damage` done to the bytes past it.
/// Returns the directory's parent, the file and its length.
fn interrupted(
    batches: i64,
    mark: u64,
    damage: impl Fn(&std::fs::File, u64),
) -> (tempfile::TempDir, std::path::PathBuf, u64) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let first = common::init_with(&request(&dir), &CancelAfter::writes(batches)).unwrap();
    assert_eq!(first.end, InitEnd::Cancelled);
    let target = common::partial_file(&dir).unwrap();
    let number: u32 = target.file_name().unwrap().to_str().unwrap()[9..10].parse().unwrap();
    let file = std::fs::OpenOptions::new().read(true).write(true).open(&target).unwrap();
    let len = file.metadata().unwrap().len();
    assert!(len > mark, "the file holds {len} bytes");
    set_mark(&dir, number, mark);
    damage(&file, len);
    (tmp, target, len)
}

fn checked_past_mark(events: &[Event]) -> Vec<(u64, u64, Option<u64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CheckedPastMark { mark, checked, first_bad, .. } => Some((*mark, *checked, *first_bad)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_mark_follows_the_writes_and_goes_when_the_data_is_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    // At every write event the mark of the file being written is at most what is written, and lags
    // by less than one sync interval plus one batch.
    struct Watch<'a> {
        dir: &'a Path,
        written: Mutex<u64>,
        seen: Mutex<Vec<(u64, u64)>>,
    }
    impl post_init::ProgressSink for Watch<'_> {
        fn event(&self, event: &Event) {
            if let Event::LabelsWritten { labels } = event {
                let mut written = self.written.lock().unwrap();
                *written += labels * 16;
                let total: u64 = marks(self.dir)
                    .map(|m| {
                        m.as_object()
                            .unwrap()
                            .iter()
                            .map(|(k, v)| k.parse::<u64>().unwrap() * 4800 + v.as_u64().unwrap())
                            .max()
                            .unwrap()
                    })
                    .unwrap_or(0);
                self.seen.lock().unwrap().push((*written, total));
            }
        }
    }
    let watch = Watch { dir: &dir, written: Mutex::new(0), seen: Mutex::new(Vec::new()) };
    let outcome = post_init::prepare(&request(&dir), &post_oracle::ReferenceLabeller, &post_oracle::ReferenceLabeller)
        .unwrap()
        .run(&post_init::CancelToken::new(), &watch)
        .unwrap();
    assert_eq!(outcome.end, InitEnd::Complete);
    let seen = watch.seen.into_inner().unwrap();
    assert!(seen.len() >= 1024 / 16, "{} writes", seen.len());
    for &(written, mark) in &seen {
        // A finished file has no mark: its bytes count as written and durable.
        let file_start = (written - 1) / 4800 * 4800;
        let mark = mark.max(file_start);
        assert!(mark <= written && written - mark < 1024 + 256, "written {written}, durable {mark}");
    }
    assert!(seen.iter().any(|&(w, m)| m > 0 && m % 4800 != 0 && m < w), "the mark moves inside a file: {seen:?}");
    assert!(marks(&dir).is_none(), "complete data leaves no marks file");
    common::assert_same_data(&dir, &common::reference_dir());

    // A stopped run leaves the stopped file marked where it ends (everything it wrote is synced).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::init_with(&request(&dir), &CancelAfter::writes(23)).unwrap();
    let target = common::partial_file(&dir).unwrap();
    let len = std::fs::metadata(&target).unwrap().len();
    let name = target.file_name().unwrap().to_str().unwrap();
    assert_eq!(marks(&dir).unwrap()[&name[9..10]], len, "{name}");
}

#[test]
fn pages_lost_past_the_mark_are_found_and_rewritten() {
    // A hole of zeros in the middle of the unsynced region while its last labels survived: the check of
    // where the file ends alone would keep it.
    for (batches, mark) in [(9, 512), (28, 1024), (28, 0)] {
        let (tmp, target, len) = interrupted(batches, mark, |file, len| {
            let hole = mark + (len - mark) / 3 / 16 * 16;
            file.write_all_at(&[0u8; 64], hole).unwrap();
            assert!(len - hole > 16 * post_init::TAIL_CHECK_LABELS, "the tail survives");
        });
        let dir = tmp.path().join("data");
        let sink = CancelAfter::writes(i64::MAX);
        assert_eq!(common::init_with(&request(&dir), &sink).unwrap().end, InitEnd::Complete);
        let checks = checked_past_mark(&sink.events());
        assert_eq!(checks.len(), 1, "{checks:?}");
        let (at, checked, first_bad) = checks[0];
        assert_eq!((at, checked), (mark, (len - mark) / 16), "{}", target.display());
        assert_eq!(first_bad, Some(mark + (len - mark) / 3 / 16 * 16));
        common::assert_same_data(&dir, &common::reference_dir());
        assert!(marks(&dir).is_none());
    }
}

#[test]
fn stale_bytes_past_the_mark_are_found_and_rewritten() {
    // The unsynced region keeps older bytes of the disk: here the labels of another place of the data.
    let (tmp, _, _) = interrupted(30, 1024, |file, len| {
        let mut stale = vec![0u8; (len - 1024 - 128) as usize];
        file.read_exact_at(&mut stale, 0).unwrap();
        file.write_all_at(&stale, 1024).unwrap();
    });
    let dir = tmp.path().join("data");
    let sink = CancelAfter::writes(i64::MAX);
    assert_eq!(common::init_with(&request(&dir), &sink).unwrap().end, InitEnd::Complete);
    assert_eq!(checked_past_mark(&sink.events())[0].2, Some(1024));
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn without_the_mark_a_hole_behind_a_right_tail_goes_unnoticed() {
    // Why the marks exist: the same damage, with the marks file gone, survives the resume.
    let (tmp, _, _) = interrupted(28, 1024, |file, len| {
        file.write_all_at(&[0u8; 64], len - 512).unwrap();
    });
    let dir = tmp.path().join("data");
    std::fs::remove_file(dir.join(DURABLE_FILE)).unwrap();
    assert_eq!(common::init(&request(&dir)).unwrap().end, InitEnd::Complete);
    assert_ne!(common::data_files(&dir), common::data_files(&common::reference_dir()));
}

#[test]
fn an_unusable_marks_file_is_set_aside_and_never_trusted() {
    let (tmp, _, _) = interrupted(28, 1024, |_, _| {});
    let dir = tmp.path().join("data");
    std::fs::write(dir.join(DURABLE_FILE), b"{ not json").unwrap();
    let status = post_init::inspect(&dir).unwrap();
    assert!(status.durable_marks.is_empty());
    assert!(status.durable_marks_unusable.unwrap().contains("not a marks file"));
    let sink = CancelAfter::writes(i64::MAX);
    assert_eq!(common::init_with(&request(&dir), &sink).unwrap().end, InitEnd::Complete);
    let aside = sink.events().into_iter().find_map(|e| match e {
        Event::DurableMarksSetAside { to, reason, .. } => Some((to, reason)),
        _ => None,
    });
    let (to, reason) = aside.unwrap();
    assert!(reason.contains("not a marks file"), "{reason}");
    assert_eq!(std::fs::read(&to).unwrap(), b"{ not json", "set aside, not deleted");
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn a_file_complete_but_not_synced_is_checked_then_unmarked() {
    // A crash after the last label of a file was written but before its final sync: the file has its
    // full length and an old mark.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    set_mark(&dir, 1, 1600);
    let status = post_init::inspect(&dir).unwrap();
    assert_eq!(status.durable_marks.into_iter().collect::<Vec<_>>(), [(1, 1600)]);
    assert_eq!(status.durable_marks_unusable, None);
    let file = std::fs::OpenOptions::new().write(true).open(dir.join("postdata_1.bin")).unwrap();
    file.write_all_at(&[0u8; 32], 3200).unwrap();
    let sink = CancelAfter::writes(i64::MAX);
    assert_eq!(common::init_with(&request(&dir), &sink).unwrap().end, InitEnd::Complete);
    assert_eq!(checked_past_mark(&sink.events()), vec![(1600, 200, Some(3200))]);
    common::assert_same_data(&dir, &common::reference_dir());
    assert!(marks(&dir).is_none());

    // Undamaged, it is only checked, and the mark goes.
    set_mark(&dir, 1, 1600);
    let before = common::data_files(&dir);
    let sink = CancelAfter::writes(i64::MAX);
    let outcome = common::init_with(&request(&dir), &sink).unwrap();
    assert_eq!((outcome.end, outcome.labels_written), (InitEnd::Complete, 0));
    assert_eq!(checked_past_mark(&sink.events()), vec![(1600, 200, None)]);
    assert_eq!(common::data_files(&dir), before);
    assert!(marks(&dir).is_none());
}
