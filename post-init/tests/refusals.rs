//! Bad input never changes data on disk: every refusal leaves the directory byte for byte as it was and
//! names the file or field and what to do.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::path::Path;

use post_init::{Error, InitRequest};
use post_oracle::ReferenceLabeller;

/// Runs a request that must fail on a copy of the reference directory; returns the error text.
fn refused(setup: impl FnOnce(&Path), change: impl FnOnce(&mut InitRequest)) -> (Error, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    setup(&dir);
    let before = common::snapshot(&dir);
    let mut request = common::request(&dir, 4);
    change(&mut request);
    let err = common::init(&request).unwrap_err();
    let text = err.to_string();
    assert_eq!(common::snapshot(&dir), before, "{text}");
    (err, text)
}

#[test]
fn another_identity_or_shape() {
    type Change = fn(&mut InitRequest);
    let cases: [(&str, Change); 4] = [
        ("NodeId", |r| r.node_id = post_core::NodeId([1; 32])),
        ("CommitmentAtxId", |r| r.atx_id = post_core::AtxId([2; 32])),
        ("LabelsPerUnit", |r| r.config.labels_per_unit = 512),
        ("MaxFileSize", |r| r.config.max_file_size = 4816),
    ];
    for (field, change) in cases {
        let (err, text) = refused(|_| {}, change);
        assert!(matches!(err, Error::Mismatch { field: f, .. } if f == field), "{text}");
        assert!(text.contains("nothing was changed"), "{text}");
    }
}

#[test]
fn other_scrypt_n_is_caught_by_the_resume_check() {
    let (err, text) = refused(|_| {}, |r| r.config.scrypt = post_core::ScryptParams::with_n(32).unwrap());
    assert!(matches!(err, Error::LabelMismatch { index: 0, offset: 0, .. }), "{text}");
    assert!(text.contains("postdata_0.bin") && text.contains("scrypt N"), "{text}");
}

#[test]
fn a_nonce_that_does_not_match_its_value() {
    let edit = |dir: &Path| {
        let path = dir.join("postdata_metadata.json");
        let text = std::fs::read_to_string(&path).unwrap().replace("\"Nonce\": 844", "\"Nonce\": 845");
        std::fs::write(&path, text).unwrap();
    };
    let (err, text) = refused(edit, |_| {});
    assert!(matches!(err, Error::BadNonce { nonce: 845, .. }), "{text}");
    assert!(text.contains("postdata_metadata.json"), "{text}");
}

#[test]
fn oversized_stray_and_orphaned_files() {
    let (err, text) = refused(
        |dir| {
            let f = std::fs::OpenOptions::new().write(true).open(dir.join("postdata_3.bin")).unwrap();
            f.set_len(2000).unwrap();
        },
        |_| {},
    );
    assert!(matches!(err, Error::Oversized { len: 2000, expected: 1984, .. }), "{text}");
    assert!(text.contains("postdata_3.bin"), "{text}");

    let (err, text) = refused(|dir| std::fs::write(dir.join("postdata_04.bin"), b"").unwrap(), |_| {});
    assert!(matches!(err, Error::StrayFiles { .. }) && text.contains("postdata_04.bin"), "{text}");

    let (err, text) = refused(|dir| std::fs::remove_file(dir.join("postdata_metadata.json")).unwrap(), |_| {});
    assert!(matches!(err, Error::DataWithoutMetadata { .. }) && text.contains("postdata_"), "{text}");

    let (err, text) =
        refused(|dir| std::fs::write(dir.join("postdata_metadata.json"), "{\"NodeId\": 3").unwrap(), |_| {});
    assert!(matches!(err, Error::Core(_)) && text.contains("postdata_metadata.json"), "{text}");
}

#[test]
fn file_ranges_outside_the_data() {
    for (from, to) in [(4, 4), (2, 1), (0, 9)] {
        let (err, text) = refused(|_| {}, |r| r.files = Some(from..=to));
        assert!(matches!(err, Error::FileRange { last: 3, .. }), "{text}");
    }
}

#[test]
fn a_second_writer_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let first = post_init::prepare(&common::request(&dir, 4), &ReferenceLabeller, &ReferenceLabeller).unwrap();
    let err =
        post_init::prepare(&common::request(&dir, 4), &ReferenceLabeller, &ReferenceLabeller).unwrap_err().to_string();
    assert!(err.contains(&dir.display().to_string()) && err.contains(&format!("pid {}", std::process::id())), "{err}");
    assert!(common::snapshot(&dir).is_empty(), "prepare writes nothing but the lock");
    drop(first);
    assert!(post_init::prepare(&common::request(&dir, 4), &ReferenceLabeller, &ReferenceLabeller).is_ok());
}

#[test]
fn not_enough_space_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mut request = common::request(&dir, 1);
    request.config.labels_per_unit = 1 << 50; // 16 PiB
    request.config.max_file_size = 1 << 40;
    let err = common::init(&request).unwrap_err();
    assert!(matches!(err, Error::NotEnoughSpace { needed, .. } if needed == 1 << 54), "{err}");
    assert!(err.to_string().contains("16.00 PiB"), "{err}");
    assert!(!dir.exists(), "checked before the directory is created");
    // An existing empty directory keeps nothing either, not even a lock file.
    std::fs::create_dir(&dir).unwrap();
    assert!(matches!(common::init(&request), Err(Error::NotEnoughSpace { .. })));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}
