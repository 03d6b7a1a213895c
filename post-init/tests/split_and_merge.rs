//! Work split with `files` ranges and merged back equals one run, and merge refuses everything that
//! would not give complete, consistent data — before moving anything.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};

use post_init::{merge, CancelToken, InitEnd, MergeRequest, NoProgress, Transfer, Tuning};
use post_oracle::ReferenceLabeller;

fn piece(dir: &Path, files: std::ops::RangeInclusive<u32>) -> post_init::InitOutcome {
    let mut r = common::request(dir, 4);
    r.files = Some(files);
    common::init(&r).unwrap()
}

fn merge_into(target: &Path, pieces: &[PathBuf]) -> Result<post_init::MergeOutcome, post_init::Error> {
    let request = MergeRequest {
        target: target.to_path_buf(),
        pieces: pieces.to_vec(),
        scrypt: common::small_config().scrypt,
        tuning: Tuning::default(),
    };
    merge(&request, &ReferenceLabeller, &CancelToken::new(), &NoProgress)
}

#[test]
fn pieces_merged_into_a_new_directory_equal_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    assert_eq!(piece(&a, 0..=0).end, InitEnd::RangeComplete);
    let in_b = piece(&b, 1..=2);
    assert_eq!(in_b.end, InitEnd::RangeComplete);
    piece(&c, 3..=3);
    // A piece whose last file was complete but not yet synced when its run was cut off keeps a durable
    // mark for it; once its files moved, the mark describes nothing and goes with the piece.
    std::fs::write(c.join(post_init::DURABLE_FILE), "{}").unwrap();
    // Each piece records its own best nonce; the data's nonce (844, in file 2) is in piece b.
    assert_eq!(in_b.nonce.map(|n| n.index.0), Some(844));
    assert_eq!(common::data_files(&b).keys().collect::<Vec<_>>(), ["postdata_1.bin", "postdata_2.bin"]);

    let target = tmp.path().join("merged");
    let outcome = merge_into(&target, &[a.clone(), b.clone(), c.clone()]).unwrap();
    assert_eq!(outcome.nonce.map(|n| n.index.0), Some(844));
    assert!(outcome.files.iter().all(|(_, _, how)| *how == Transfer::Renamed));
    common::assert_same_data(&target, &common::reference_dir());
    // The emptied pieces keep no metadata describing files they lack: they are gone.
    assert!(!a.exists() && !b.exists() && !c.exists());
}

#[test]
fn merging_into_one_of_the_pieces() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    piece(&a, 2..=3);
    piece(&b, 0..=1);
    let outcome = merge_into(&a, &[a.clone(), b.clone()]).unwrap();
    let how: Vec<Transfer> = outcome.files.iter().map(|f| f.2).collect();
    assert_eq!(how, [Transfer::Renamed, Transfer::Renamed, Transfer::InPlace, Transfer::InPlace]);
    common::assert_same_data(&a, &common::reference_dir());
    assert!(!b.exists(), "the emptied piece is removed, the target kept");
    // The merged directory is complete: a rerun of init has nothing to do.
    assert_eq!(common::init(&common::request(&a, 4)).unwrap().labels_written, 0);
}

#[test]
fn a_piece_can_also_be_finished_in_place() {
    // Ranges can be run one after the other in the same directory too.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    piece(&dir, 3..=3);
    piece(&dir, 0..=1);
    let last = piece(&dir, 2..=2);
    assert_eq!(last.end, InitEnd::Complete);
    common::assert_same_data(&dir, &common::reference_dir());
}

#[test]
fn bad_merges_are_refused_before_anything_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    piece(&a, 0..=1);
    piece(&b, 1..=3);
    piece(&c, 2..=2);
    let snapshots = |dirs: &[&Path]| dirs.iter().map(|d| common::snapshot(d)).collect::<Vec<_>>();
    let before = snapshots(&[&a, &b, &c]);
    let target = tmp.path().join("t");

    let overlap = merge_into(&target, &[a.clone(), b.clone()]).unwrap_err().to_string();
    assert!(overlap.contains("file 1 is in both"), "{overlap}");
    let missing = merge_into(&target, &[a.clone(), c.clone()]).unwrap_err().to_string();
    assert!(missing.contains("file(s) 3 of 4"), "{missing}");

    // Another identity.
    let other = tmp.path().join("other");
    let mut r = common::request(&other, 4);
    r.node_id = post_core::NodeId([0x78; 32]);
    r.files = Some(2..=3);
    common::init(&r).unwrap();
    let identity = merge_into(&target, &[a.clone(), other.clone()]).unwrap_err().to_string();
    assert!(identity.contains("NodeId") && identity.contains(&other.display().to_string()), "{identity}");

    // A piece that is not finished.
    let unfinished = tmp.path().join("u");
    let mut r = common::request(&unfinished, 4);
    r.files = Some(2..=3);
    r.tuning.batch = Some(16);
    let sink = common::CancelAfter::writes(3);
    common::init_with(&r, &sink).unwrap();
    let partial = merge_into(&target, &[a.clone(), unfinished.clone()]).unwrap_err().to_string();
    assert!(partial.contains("postdata_2.bin is partial") && partial.contains("--from-file 2"), "{partial}");

    assert_eq!(snapshots(&[&a, &b, &c]), before, "nothing moved");
    assert!(common::data_files(&target).is_empty());
}

#[test]
fn a_piece_written_with_another_scrypt_n_is_refused_naming_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    piece(&a, 0..=1);
    let mut r = common::request(&b, 4);
    r.config.scrypt = post_core::ScryptParams::with_n(32).unwrap();
    r.files = Some(2..=3);
    common::init(&r).unwrap();
    let before = (common::snapshot(&a), common::snapshot(&b));
    let target = tmp.path().join("t");

    let err = merge_into(&target, &[a.clone(), b.clone()]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, post_init::Error::Merge { .. }), "{err:?}");
    let file = b.join("postdata_2.bin").display().to_string();
    assert!(text.contains(&file) && text.contains("label 600") && text.contains("scrypt N = 16"), "{text}");
    assert!(text.contains("nothing was moved"), "{text}");
    assert_eq!((common::snapshot(&a), common::snapshot(&b)), before, "nothing moved");
    assert!(common::data_files(&target).is_empty());
}
