//! When no label of the data is below the VRF difficulty, the search goes on beyond the data, block by
//! block as the Go tool does, persisting `LastPosition` so that a cancelled search resumes.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use post_core::{AtxId, Commitment, InitConfig, LabelIndex, NodeId, ScryptParams};
use post_init::{Event, InitEnd, InitRequest, Tuning};
use post_oracle::{label_full, VrfCandidate};

/// An identity whose 64 labels (N = 2) are all above the difficulty (found by a search over node ids).
fn identity() -> NodeId {
    let mut id = [0u8; 32];
    id[..2].copy_from_slice(&[0xa5, 0x37]);
    NodeId(id)
}

fn request(dir: &std::path::Path, block: u64) -> InitRequest {
    InitRequest {
        dir: dir.to_path_buf(),
        node_id: identity(),
        atx_id: AtxId([0x11; 32]),
        config: InitConfig {
            labels_per_unit: 64,
            min_num_units: 1,
            max_num_units: 1,
            max_file_size: 4800,
            scrypt: ScryptParams::with_n(2).unwrap(),
        },
        num_units: 1,
        files: None,
        tuning: Tuning { batch: Some(32), beyond_block: block, ..Tuning::default() },
    }
}

/// The nonce by the Go rule, computed label by label: the smallest label below the difficulty in the
/// first block (from label 64) that has one.
fn expected(block: u64) -> VrfCandidate {
    let c: Commitment = post_core::commitment(&identity(), &AtxId([0x11; 32]));
    let params = ScryptParams::with_n(2).unwrap();
    let difficulty = post_core::vrf_difficulty(64).unwrap();
    let full = |i| label_full(&c, params, LabelIndex(i)).unwrap();
    assert!((0..64).all(|i| full(i) >= difficulty), "the identity has a qualifying label in its data");
    let mut start = 64;
    loop {
        let best = (start..start + block).map(|i| (full(i), i)).filter(|(l, _)| *l < difficulty).min();
        if let Some((label, index)) = best {
            return VrfCandidate { index: LabelIndex(index), label };
        }
        start += block;
    }
}

#[test]
fn the_search_continues_beyond_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let outcome = common::init(&request(tmp.path(), 512)).unwrap();
    assert_eq!(outcome.end, InitEnd::Complete);
    let want = expected(512);
    assert!(want.index.0 >= 64);
    assert_eq!(outcome.nonce, Some(want));
    let meta = common::metadata_json(tmp.path());
    assert_eq!(meta["Nonce"], want.index.0);
    assert_eq!(meta["NonceValue"], hex::encode(&want.label[..16]));
    assert_eq!(common::data_files(tmp.path())["postdata_0.bin"].len(), 64 * 16, "labels beyond are not stored");
}

#[test]
fn a_cancelled_search_resumes_from_last_position() {
    let tmp = tempfile::tempdir().unwrap();
    // Blocks of one label: the nonce is the first qualifying label after the data.
    let want = expected(1);
    assert!(want.index.0 >= 67, "the test needs a few blocks without a nonce");
    let sink = common::CancelAfter::new(3, |e| matches!(e, Event::NonceSearchBeyond { .. }));
    let first = common::init_with(&request(tmp.path(), 1), &sink).unwrap();
    assert_eq!(first.end, InitEnd::Cancelled);
    assert_eq!(common::metadata_json(tmp.path())["LastPosition"], 66);

    let sink = common::CancelAfter::new(i64::MAX, |_| false);
    let second = common::init_with(&request(tmp.path(), 1), &sink).unwrap();
    assert_eq!(second.end, InitEnd::Complete);
    assert_eq!(second.nonce, Some(want));
    assert_eq!(
        sink.events().iter().find(|e| matches!(e, Event::NonceSearchBeyond { .. })),
        Some(&Event::NonceSearchBeyond { from: LabelIndex(66) })
    );
}
