//! An interrupted merge, run again with the same arguments, ends as an uninterrupted one: the same
//! data and metadata in the target, the pieces consumed. Each state a kill (or a power cut) can leave
//! is set up by hand on real files, as the steps of a merge leave it; the last test runs a merge across
//! two real filesystems (tmpfs /dev/shm and the disk under the temporary directory).

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::path::{Path, PathBuf};

use post_core::{AtxId, Commitment, InitConfig, LabelIndex, NodeId, ScryptParams};
use post_init::{merge, CancelToken, Event, InitRequest, MergeOutcome, MergeRequest, NoProgress, Transfer, Tuning};
use post_oracle::{label_full, ReferenceLabeller};

fn piece(dir: &Path, files: std::ops::RangeInclusive<u32>) {
    let mut r = common::request(dir, 4);
    r.files = Some(files);
    common::init(&r).unwrap();
}

fn request(target: &Path, pieces: &[PathBuf]) -> MergeRequest {
    MergeRequest {
        target: target.to_path_buf(),
        pieces: pieces.to_vec(),
        scrypt: common::small_config().scrypt,
        tuning: Tuning::default(),
    }
}

fn merge_into(target: &Path, pieces: &[PathBuf]) -> Result<MergeOutcome, post_init::Error> {
    merge(&request(target, pieces), &ReferenceLabeller, &CancelToken::new(), &NoProgress)
}

/// The two pieces of the small reference data, a (files 0 and 1) and b (files 2 and 3, with the
/// nonce 844), and the metadata a merge of them writes into its target before it moves anything (taken
/// from a real merge of two other such pieces).
struct Setup {
    tmp: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    target: PathBuf,
    merged_metadata: Vec<u8>,
}

impl Setup {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, target) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("target"));
        piece(&a, 0..=1);
        piece(&b, 2..=3);
        let scratch = tmp.path().join("scratch");
        piece(&scratch.join("a"), 0..=1);
        piece(&scratch.join("b"), 2..=3);
        merge_into(&scratch.join("t"), &[scratch.join("a"), scratch.join("b")]).unwrap();
        let merged_metadata = std::fs::read(scratch.join("t/postdata_metadata.json")).unwrap();
        std::fs::remove_dir_all(&scratch).unwrap();
        Setup { tmp, a, b, target, merged_metadata }
    }

    fn pieces(&self) -> Vec<PathBuf> {
        vec![self.a.clone(), self.b.clone()]
    }

    /// Step 4 began: the target's metadata is written, no file moved yet.
    fn metadata_written(&self) {
        std::fs::create_dir_all(&self.target).unwrap();
        std::fs::write(self.target.join("postdata_metadata.json"), &self.merged_metadata).unwrap();
    }

    /// File `i` of `piece` was copied across filesystems and renamed into place; the source is not
    /// removed yet.
    fn copied_not_removed(&self, piece: &Path, i: u32) {
        let name = format!("postdata_{i}.bin");
        std::fs::copy(piece.join(&name), self.target.join(&name)).unwrap();
    }

    /// File `i` of `piece` was moved completely.
    fn moved(&self, piece: &Path, i: u32) {
        let name = format!("postdata_{i}.bin");
        std::fs::rename(piece.join(&name), self.target.join(&name)).unwrap();
    }

    /// The copy of file `i` of `piece` stopped after `len` bytes (its whole length when `None`), before
    /// the rename into place.
    fn temp_left(&self, piece: &Path, i: u32, len: Option<usize>) {
        let bytes = std::fs::read(piece.join(format!("postdata_{i}.bin"))).unwrap();
        let len = len.unwrap_or(bytes.len());
        std::fs::write(self.target.join(format!("postdata_{i}.bin.merging")), &bytes[..len]).unwrap();
    }

    /// The rerun ends as an uninterrupted merge: the reference data in the target, no temporary copy,
    /// both pieces gone.
    fn assert_finished(&self) {
        common::assert_same_data(&self.target, &common::reference_dir());
        assert_eq!(
            common::metadata_json(&self.target),
            serde_json::from_slice::<serde_json::Value>(&self.merged_metadata).unwrap()
        );
        assert_eq!(temps(&self.target), Vec::<String>::new(), "no temporary copy is left");
        assert!(!self.a.exists() && !self.b.exists(), "the pieces are consumed");
    }
}

fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".merging"))
        .collect()
}

fn how(outcome: &MergeOutcome) -> Vec<Transfer> {
    outcome.files.iter().map(|f| f.2).collect()
}

#[test]
fn metadata_written_nothing_moved() {
    let s = Setup::new();
    s.metadata_written();
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::Renamed; 4]);
    assert_eq!(outcome.nonce.map(|n| n.index.0), Some(844));
    s.assert_finished();
}

#[test]
fn a_copy_in_place_still_in_its_piece_is_finished() {
    let s = Setup::new();
    s.metadata_written();
    s.moved(&s.a, 0);
    s.copied_not_removed(&s.a, 1);
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::InPlace, Transfer::Finished, Transfer::Renamed, Transfer::Renamed]);
    assert_eq!(outcome.files[1].1, s.a.join("postdata_1.bin"), "the copy removed is reported");
    assert_eq!(outcome.nonce.map(|n| n.index.0), Some(844));
    s.assert_finished();
}

#[test]
fn the_file_holding_the_nonce_copied_not_removed() {
    let s = Setup::new();
    s.metadata_written();
    s.moved(&s.a, 0);
    s.moved(&s.a, 1);
    s.copied_not_removed(&s.b, 2);
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::InPlace, Transfer::InPlace, Transfer::Finished, Transfer::Renamed]);
    s.assert_finished();
}

#[test]
fn a_partial_temporary_copy_is_no_data_and_does_not_block() {
    let s = Setup::new();
    s.metadata_written();
    s.moved(&s.a, 0);
    s.temp_left(&s.a, 1, Some(1000));
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::InPlace, Transfer::Renamed, Transfer::Renamed, Transfer::Renamed]);
    s.assert_finished();
}

#[test]
fn a_whole_temporary_copy_not_renamed_yet() {
    let s = Setup::new();
    s.metadata_written();
    s.temp_left(&s.a, 0, None);
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::Renamed; 4]);
    s.assert_finished();
}

#[test]
fn a_piece_emptied_but_its_metadata_not_removed() {
    let s = Setup::new();
    s.metadata_written();
    s.moved(&s.a, 0);
    s.moved(&s.a, 1);
    s.moved(&s.b, 2);
    s.copied_not_removed(&s.b, 3);
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::InPlace, Transfer::InPlace, Transfer::InPlace, Transfer::Finished]);
    s.assert_finished();
}

#[test]
fn a_piece_already_consumed() {
    // Its metadata removed, only its lock file left; the other piece's directory removed altogether.
    let s = Setup::new();
    s.metadata_written();
    for i in 0..4 {
        s.moved(if i < 2 { &s.a } else { &s.b }, i);
    }
    std::fs::remove_file(s.a.join("postdata_metadata.json")).unwrap();
    assert!(common::snapshot(&s.a).is_empty(), "only the lock file is left");
    std::fs::remove_dir_all(&s.b).unwrap();
    let outcome = merge_into(&s.target, &s.pieces()).unwrap();
    assert_eq!(how(&outcome), [Transfer::InPlace; 4]);
    assert_eq!(outcome.nonce.map(|n| n.index.0), Some(844));
    s.assert_finished();
}

#[test]
fn a_consumed_piece_whose_files_are_missing_is_named() {
    let s = Setup::new();
    s.metadata_written();
    s.moved(&s.a, 0);
    std::fs::remove_dir_all(&s.a).unwrap();
    let err = merge_into(&s.target, &s.pieces()).unwrap_err().to_string();
    assert!(err.contains("file(s) 1 of 4") && err.contains(&s.a.display().to_string()), "{err}");
}

#[test]
fn differing_copies_are_refused_and_nothing_changes() {
    let s = Setup::new();
    s.metadata_written();
    s.moved(&s.a, 0);
    s.copied_not_removed(&s.b, 2);
    let in_target = s.target.join("postdata_2.bin");
    let mut bytes = std::fs::read(&in_target).unwrap();
    bytes[2000] ^= 1;
    std::fs::write(&in_target, bytes).unwrap();
    let snapshots = || [&s.target, &s.a, &s.b].map(|d| common::snapshot(d));
    let before = snapshots();

    let err = merge_into(&s.target, &s.pieces()).unwrap_err();
    assert!(matches!(err, post_init::Error::Merge { .. }), "{err:?}");
    let text = err.to_string();
    for needle in [
        in_target.display().to_string(),
        s.b.join("postdata_2.bin").display().to_string(),
        "differ".into(),
        format!("post verify-data --all --dir {}", s.target.display()),
        format!("post verify-data --all --dir {}", s.b.display()),
    ] {
        assert!(text.contains(&needle), "{needle:?} not in {text}");
    }
    assert_eq!(snapshots(), before, "nothing changed");
}

#[test]
fn a_file_in_the_target_and_in_two_pieces_is_refused() {
    let s = Setup::new();
    let c = s.tmp.path().join("c");
    piece(&c, 2..=2);
    s.metadata_written();
    s.copied_not_removed(&s.b, 2);
    let before = [&s.target, &s.a, &s.b, &c].map(|d| common::snapshot(d));
    let err = merge_into(&s.target, &[s.a.clone(), s.b.clone(), c.clone()]).unwrap_err().to_string();
    let pair = format!("file 2 is in both {} and {}", s.b.display(), c.display());
    assert!(err.contains(&pair) && err.contains("disjoint"), "{err}");
    assert_eq!([&s.target, &s.a, &s.b, &c].map(|d| common::snapshot(d)), before);
}

/// An identity whose 64 labels (N = 2) are all above the difficulty (as in `beyond_the_data.rs`).
fn no_nonce_identity() -> NodeId {
    let mut id = [0u8; 32];
    id[..2].copy_from_slice(&[0xa5, 0x37]);
    NodeId(id)
}

fn no_nonce_request(dir: &Path, files: std::ops::RangeInclusive<u32>) -> InitRequest {
    InitRequest {
        dir: dir.to_path_buf(),
        node_id: no_nonce_identity(),
        atx_id: AtxId([0x11; 32]),
        config: InitConfig {
            labels_per_unit: 64,
            min_num_units: 1,
            max_num_units: 1,
            max_file_size: 512,
            scrypt: ScryptParams::with_n(2).unwrap(),
        },
        num_units: 1,
        files: Some(files),
        tuning: Tuning { batch: Some(32), beyond_block: 1, ..Tuning::default() },
    }
}

#[test]
fn a_search_beyond_the_data_resumes_where_it_stopped() {
    let tmp = tempfile::tempdir().unwrap();
    let params = ScryptParams::with_n(2).unwrap();
    let merge_request = |root: &Path| MergeRequest {
        target: root.join("t"),
        pieces: vec![root.join("a"), root.join("b")],
        scrypt: params,
        tuning: Tuning { batch: Some(32), beyond_block: 1, ..Tuning::default() },
    };
    let pieces = |root: &Path| {
        common::init(&no_nonce_request(&root.join("a"), 0..=0)).unwrap();
        common::init(&no_nonce_request(&root.join("b"), 1..=1)).unwrap();
    };
    // The nonce: the first label below the difficulty after the data (blocks of one label).
    let c: Commitment = post_core::commitment(&no_nonce_identity(), &AtxId([0x11; 32]));
    let difficulty = post_core::vrf_difficulty(64).unwrap();
    let want = (64..).find(|&i| label_full(&c, params, LabelIndex(i)).unwrap() < difficulty).unwrap();
    assert!(want >= 67, "the test needs a few blocks without a nonce");

    let whole = tmp.path().join("whole");
    pieces(&whole);
    let uninterrupted = merge(&merge_request(&whole), &ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap();
    assert_eq!(uninterrupted.nonce.map(|n| n.index.0), Some(want));

    // Stopped after three blocks (cancelled here; a kill leaves the same files): the pieces are consumed.
    let root = tmp.path().join("interrupted");
    pieces(&root);
    let sink = common::CancelAfter::new(3, |e| matches!(e, Event::NonceSearchBeyond { .. }));
    let first = merge(&merge_request(&root), &ReferenceLabeller, &sink.token, &sink).unwrap();
    assert_eq!(first.nonce, None);
    assert_eq!(common::metadata_json(&root.join("t"))["LastPosition"], 66);
    assert!(!root.join("a").exists() && !root.join("b").exists());

    let sink = common::CancelAfter::new(i64::MAX, |_| false);
    let second = merge(&merge_request(&root), &ReferenceLabeller, &sink.token, &sink).unwrap();
    assert_eq!(how(&second), [Transfer::InPlace; 2]);
    assert_eq!(second.nonce, uninterrupted.nonce);
    assert_eq!(
        sink.events().iter().find(|e| matches!(e, Event::NonceSearchBeyond { .. })),
        Some(&Event::NonceSearchBeyond { from: LabelIndex(66) }),
        "the search resumes at LastPosition"
    );
    assert_eq!(common::snapshot(&root.join("t")), common::snapshot(&whole.join("t")));
}

/// Reports a test that needs two filesystems where the machine has one: printed past the test
/// harness's capture so that it shows, and a failure instead when `POST_REQUIRE_CROSS_FS=1`.
fn skip_without_cross_fs(test: &str, reason: &str) {
    use std::io::Write as _;
    let required = std::env::var("POST_REQUIRE_CROSS_FS").is_ok_and(|v| v == "1");
    assert!(!required, "{test}: POST_REQUIRE_CROSS_FS=1 but {reason}");
    let line = format!("SKIPPED {test}: {reason} (set POST_REQUIRE_CROSS_FS=1 to make this a failure)\n");
    eprint!("{line}");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

#[test]
fn across_filesystems_an_interrupted_copy_is_finished() {
    use std::os::unix::fs::MetadataExt as _;
    const TEST: &str = "across_filesystems_an_interrupted_copy_is_finished";
    let shm = Path::new("/dev/shm");
    if !shm.is_dir() {
        skip_without_cross_fs(TEST, "there is no /dev/shm");
        return;
    }
    let far = match tempfile::tempdir_in(shm) {
        Ok(dir) => dir,
        Err(e) => {
            skip_without_cross_fs(TEST, &format!("cannot write to /dev/shm: {e}"));
            return;
        }
    };
    let near = tempfile::tempdir().unwrap();
    let (far_dev, near_dev) = (far.path().metadata().unwrap().dev(), near.path().metadata().unwrap().dev());
    if far_dev == near_dev {
        let reason = format!("/dev/shm and {} are on the same filesystem", std::env::temp_dir().display());
        skip_without_cross_fs(TEST, &reason);
        return;
    }

    // The uninterrupted merge: the far piece's files are copied, the near one's renamed.
    let (a, b, target) = (far.path().join("a"), near.path().join("b"), near.path().join("t"));
    piece(&a, 0..=1);
    piece(&b, 2..=3);
    let outcome = merge_into(&target, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(how(&outcome), [Transfer::Copied, Transfer::Copied, Transfer::Renamed, Transfer::Renamed]);
    common::assert_same_data(&target, &common::reference_dir());
    assert!(!a.exists() && !b.exists());
    assert_eq!(temps(&target), Vec::<String>::new());
    let merged_metadata = std::fs::read(target.join("postdata_metadata.json")).unwrap();

    // Killed with file 0 renamed into place but not removed from the far piece, and file 1's copy
    // half written.
    std::fs::remove_dir_all(&target).unwrap();
    piece(&a, 0..=1);
    piece(&b, 2..=3);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::write(target.join("postdata_metadata.json"), &merged_metadata).unwrap();
    std::fs::copy(a.join("postdata_0.bin"), target.join("postdata_0.bin")).unwrap();
    let one = std::fs::read(a.join("postdata_1.bin")).unwrap();
    std::fs::write(target.join("postdata_1.bin.merging"), &one[..2400]).unwrap();

    let outcome = merge_into(&target, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(how(&outcome), [Transfer::Finished, Transfer::Copied, Transfer::Renamed, Transfer::Renamed]);
    common::assert_same_data(&target, &common::reference_dir());
    assert_eq!(std::fs::read(target.join("postdata_metadata.json")).unwrap(), merged_metadata);
    assert_eq!(temps(&target), Vec::<String>::new(), "the half-written copy was overwritten and renamed");
    assert!(!a.exists() && !b.exists(), "the pieces are consumed");
}
