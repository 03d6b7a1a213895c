//! `CheckedLabeller`: a fast labeller that is wrong in one label of one batch, or fails, or reports a
//! wrong VRF candidate, is caught by the batch check; the caller gets the checker's labels for that
//! batch and every later one (byte-identical to the reference), and hears of the failure once.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{
    self_test, CheckFailure, CheckedLabeller, Error, LabelJob, Labeller, ReferenceLabeller, VrfCandidate,
};

const N: u64 = 16;
const BATCH: usize = 64;

/// The reference labeller with one fault: a flipped bit in the stored label `bad`, a failure, or a
/// VRF candidate with a wrong full label.
struct Faulty {
    fault: Fault,
}

#[derive(Clone, Copy)]
enum Fault {
    None,
    Label(u64),
    FailsAt(u64),
    Candidate,
}

impl Labeller for Faulty {
    fn name(&self) -> String {
        "faulty test device".into()
    }

    fn preferred_batch(&self) -> usize {
        BATCH
    }

    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, Error> {
        let range = job.start.0..job.start.0 + job.count();
        match self.fault {
            Fault::FailsAt(i) if range.contains(&i) => {
                return Err(Error::Backend { labeller: self.name(), message: "device lost".into() });
            }
            _ => {}
        }
        let LabelJob { commitment, params, start, out, vrf_threshold } = job;
        let candidate =
            ReferenceLabeller.label(LabelJob { commitment, params, start, out: &mut *out, vrf_threshold })?;
        let start = start.0;
        match self.fault {
            Fault::Label(i) if range.contains(&i) => out[((i - start) * 16) as usize] ^= 0x01,
            Fault::Candidate => {
                return Ok(candidate.map(|mut c| {
                    c.label[31] ^= 0x01;
                    c
                }));
            }
            _ => {}
        }
        Ok(candidate)
    }
}

fn commitment() -> Commitment {
    Commitment([0x5a; 32])
}

fn params() -> ScryptParams {
    ScryptParams::with_n(N).unwrap()
}

/// Labels `batches` batches from 0 with `labeller`, chaining the VRF threshold as callers do.
fn run(labeller: &dyn Labeller, batches: usize) -> (Vec<u8>, Option<VrfCandidate>) {
    let mut all = vec![0u8; batches * BATCH * 16];
    let mut best = None;
    // A generous threshold, so that candidates exist in small ranges.
    let mut threshold = [0u8; 32];
    threshold[0] = 0x10;
    for (b, out) in all.chunks_mut(BATCH * 16).enumerate() {
        let found = labeller
            .label(LabelJob {
                commitment: &commitment(),
                params: params(),
                start: LabelIndex((b * BATCH) as u64),
                out,
                vrf_threshold: Some(&threshold),
            })
            .unwrap();
        best = VrfCandidate::better(best, found);
        if let Some(c) = best {
            threshold = c.label;
        }
    }
    (all, best)
}

fn checked(fault: Fault) -> (CheckedLabeller, Arc<Mutex<Vec<CheckFailure>>>) {
    let heard = Arc::new(Mutex::new(Vec::new()));
    let sink = heard.clone();
    let labeller = CheckedLabeller::new(
        Box::new(Faulty { fault }),
        Box::new(ReferenceLabeller),
        Box::new(move |f: &CheckFailure| sink.lock().unwrap().push(f.clone())),
    );
    (labeller, heard)
}

#[test]
fn an_honest_device_passes_every_check() {
    let (labeller, heard) = checked(Fault::None);
    assert_eq!(run(&labeller, 12), run(&ReferenceLabeller, 12));
    assert!(heard.lock().unwrap().is_empty());
    assert!(!labeller.has_failed());
    assert!(labeller.name().contains("faulty test device (checked on reference"), "{}", labeller.name());
}

#[test]
fn one_wrong_label_is_caught_and_the_batch_is_labelled_again_on_the_checker() {
    // The last label of the third batch: always among the labels a batch check recomputes.
    let bad = 3 * BATCH as u64 - 1;
    let (labeller, heard) = checked(Fault::Label(bad));
    assert_eq!(run(&labeller, 6), run(&ReferenceLabeller, 6), "a refused label reached the output");
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 1, "{heard:?}");
    let f = &heard[0];
    assert_eq!((f.batch_start, f.batch_len, f.index), (2 * BATCH as u64, BATCH as u64, Some(bad)), "{f:?}");
    assert!(f.labeller == "faulty test device" && f.reason.contains(&format!("label {bad}")), "{f:?}");
    assert!(labeller.has_failed());
    assert!(labeller.name().starts_with("reference (after faulty test device failed"), "{}", labeller.name());
}

#[test]
fn a_failing_device_is_retired_and_the_job_goes_on() {
    let (labeller, heard) = checked(Fault::FailsAt(100));
    assert_eq!(run(&labeller, 4), run(&ReferenceLabeller, 4));
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 1);
    assert_eq!((heard[0].batch_start, heard[0].index), (64, None));
    assert!(heard[0].reason.contains("device lost"), "{:?}", heard[0]);
}

#[test]
fn a_wrong_vrf_candidate_is_caught() {
    let (labeller, heard) = checked(Fault::Candidate);
    let (labels, best) = run(&labeller, 8);
    assert_eq!((labels, best), run(&ReferenceLabeller, 8));
    assert!(best.is_some(), "the test needs a candidate");
    let heard = heard.lock().unwrap();
    assert_eq!(heard.len(), 1);
    assert!(heard[0].reason.contains("VRF candidate"), "{:?}", heard[0]);
}

/// The self-test when a device opens: 64 labels around 2^32 across a call boundary, every byte and the
/// VRF candidates compared with the reference; a device wrong in one of them, failing, or reporting a
/// wrong candidate is refused with the reason.
#[test]
fn the_self_test_refuses_a_device_that_is_wrong_anywhere_in_it() {
    let test = |fault| self_test(&Faulty { fault }, &ReferenceLabeller, &commitment(), params());
    assert_eq!(test(Fault::None), Ok(()));
    // A label in the middle of the first call, not one a batch check would pick.
    let bad = (1u64 << 32) - 17;
    let f = test(Fault::Label(bad)).unwrap_err();
    assert_eq!((f.index, f.labeller.as_str()), (Some(bad), "faulty test device"), "{f:?}");
    assert!(f.reason.starts_with("self-test: label"), "{f:?}");
    let f = test(Fault::FailsAt(1 << 32)).unwrap_err();
    assert!(f.reason.contains("device lost"), "{f:?}");
    let f = test(Fault::Candidate).unwrap_err();
    assert!(f.reason.contains("VRF candidate"), "{f:?}");
}
