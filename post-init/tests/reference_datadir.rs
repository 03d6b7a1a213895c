//! `post init`'s library reproduces the directory the reference tools wrote for the same inputs, byte for
//! byte, including the VRF nonce.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use post_init::InitEnd;

#[test]
fn reproduces_datadir_small() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let outcome = common::init(&common::request(&dir, 4)).unwrap();
    assert_eq!(outcome.end, InitEnd::Complete);
    assert_eq!(outcome.nonce.map(|n| n.index.0), Some(844));
    assert_eq!(outcome.labels_written, 1024);
    common::assert_same_data(&dir, &common::reference_dir());
    let meta = common::metadata_json(&dir);
    let label = post_oracle::label_full(
        &post_core::commitment(&post_core::NodeId([0x77; 32]), &post_core::AtxId([0x11; 32])),
        post_core::ScryptParams::with_n(16).unwrap(),
        post_core::LabelIndex(844),
    )
    .unwrap();
    assert_eq!(meta["NonceValue"], hex::encode(&label[..16]));
}

#[test]
fn rerun_on_complete_data_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::init(&common::request(&dir, 4)).unwrap();
    let before = common::data_files(&dir);
    let again = common::init(&common::request(&dir, 4)).unwrap();
    assert_eq!(again.end, InitEnd::Complete);
    assert_eq!(again.labels_written, 0);
    assert_eq!(again.nonce.map(|n| n.index.0), Some(844));
    assert_eq!(common::data_files(&dir), before);
}
