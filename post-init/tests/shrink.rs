//! Shrinking is explicit: the plan names every file it deletes or truncates, and the result equals
//! initializing the smaller size directly, VRF nonce included.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::path::Path;

use post_init::{prepare_shrink, CancelToken, NoProgress, ShrinkRequest, Tuning};
use post_oracle::ReferenceLabeller;

fn request(dir: &Path, units: u32) -> ShrinkRequest {
    ShrinkRequest {
        dir: dir.to_path_buf(),
        num_units: units,
        scrypt: common::small_config().scrypt,
        tuning: Tuning::default(),
    }
}

fn shrink(dir: &Path, units: u32) -> post_init::ShrinkOutcome {
    prepare_shrink(&request(dir, units)).unwrap().apply(&ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap()
}

#[test]
fn shrinking_equals_initializing_the_smaller_size() {
    for units in [1, 2, 3] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        common::copy_reference(&dir);
        let direct = tmp.path().join("direct");
        let want = common::init(&common::request(&direct, units)).unwrap();

        let prepared = prepare_shrink(&request(&dir, units)).unwrap();
        let plan = prepared.plan().clone();
        assert_eq!((plan.from_units, plan.to_units), (4, units));
        let kept_labels = 256 * u64::from(units);
        let last = ((kept_labels - 1) / 300) as u32;
        let deleted: Vec<_> = plan.delete.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(deleted, (last + 1..4).map(|i| dir.join(format!("postdata_{i}.bin"))).collect::<Vec<_>>());
        let new_len = (kept_labels - u64::from(last) * 300) * 16;
        assert_eq!(plan.truncate, [(dir.join(format!("postdata_{last}.bin")), 4800, new_len)]);
        assert_eq!(plan.freed_bytes, 16384 - kept_labels * 16);

        let outcome = prepared.apply(&ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap();
        assert_eq!(outcome.nonce, want.nonce, "{units} units");
        common::assert_same_data(&dir, &direct);
    }
}

#[test]
fn an_interrupted_shrink_is_finished_by_running_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (done, interrupted) = (tmp.path().join("done"), tmp.path().join("interrupted"));
    common::copy_reference(&done);
    common::copy_reference(&interrupted);
    shrink(&done, 2);
    // Stopped after the metadata was saved, before any file was cut.
    std::fs::copy(done.join("postdata_metadata.json"), interrupted.join("postdata_metadata.json")).unwrap();
    let plan = prepare_shrink(&request(&interrupted, 2)).unwrap().plan().clone();
    assert_eq!((plan.delete.len(), plan.truncate.len()), (2, 1));
    shrink(&interrupted, 2);
    common::assert_same_data(&interrupted, &done);
}

#[test]
fn refusals_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let before = common::snapshot(&dir);
    for units in [0, 4, 5] {
        let err = prepare_shrink(&request(&dir, units)).unwrap_err().to_string();
        assert!(err.contains(&dir.display().to_string()), "{err}");
    }
    // A wrong scrypt N is caught before anything is deleted.
    let mut wrong = request(&dir, 2);
    wrong.scrypt = post_core::ScryptParams::with_n(2).unwrap();
    let err = prepare_shrink(&wrong).unwrap().apply(&ReferenceLabeller, &CancelToken::new(), &NoProgress).unwrap_err();
    assert!(matches!(err, post_init::Error::LabelMismatch { .. }), "{err}");
    assert_eq!(common::snapshot(&dir), before);
}

#[test]
fn shrinking_step_by_step_keeps_a_nonce_that_stays_in_the_data() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    common::copy_reference(&dir);
    let mut kept = 0;
    for units in [3, 2, 1] {
        let before = common::metadata_json(&dir)["Nonce"].as_u64().unwrap();
        let outcome = shrink(&dir, units);
        let direct = tmp.path().join(format!("direct{units}"));
        assert_eq!(outcome.nonce, common::init(&common::request(&direct, units)).unwrap().nonce);
        common::assert_same_data(&dir, &direct);
        if before < 256 * u64::from(units) {
            kept += 1;
            assert_eq!(outcome.nonce.map(|n| n.index.0), Some(before));
        }
    }
    assert!(kept > 0, "no step kept its nonce; the test does not cover that branch");
}
