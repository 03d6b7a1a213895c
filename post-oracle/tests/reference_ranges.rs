//! `ReferenceLabeller` over a range equals the single-label function index by index, wherever the
//! range lies (near 0, across 2^32, up to 2^64 − 1) and however rayon splits it; its VRF candidate is
//! the brute-force minimum below the threshold; and bad jobs are refused with the right error.

#![allow(clippy::unwrap_used)]

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{label16, label_full, Error, LabelJob, Labeller, ReferenceLabeller, VrfCandidate};
use proptest::prelude::*;

fn start_index() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), 0u64..1000, (1u64 << 32) - 40..(1u64 << 32) + 40, u64::MAX - 60..=u64::MAX, any::<u64>()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn range_equals_single_labels_and_brute_force_vrf(
        commitment in any::<[u8; 32]>().prop_map(Commitment),
        log_n in 1u32..=4,
        start in start_index(),
        count in 0u64..=48,
        threads in 1usize..=4,
        // Thresholds from "almost nothing qualifies" to "everything does".
        threshold in any::<[u8; 32]>(),
    ) {
        let count = count.min((u64::MAX - start).saturating_add(1));
        let params = ScryptParams::with_n(1 << log_n).unwrap();
        let mut out = vec![0u8; 16 * count as usize];
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let candidate = pool
            .install(|| {
                ReferenceLabeller.label(LabelJob {
                    commitment: &commitment,
                    params,
                    start: LabelIndex(start),
                    out: &mut out,
                    vrf_threshold: Some(&threshold),
                })
            })
            .unwrap();
        let mut brute = None;
        for (k, stored) in out.chunks_exact(16).enumerate() {
            let index = LabelIndex(start + k as u64);
            prop_assert_eq!(stored, label16(&commitment, params, index).unwrap());
            let full = label_full(&commitment, params, index).unwrap();
            if full < threshold && brute.is_none_or(|b: VrfCandidate| full < b.label) {
                brute = Some(VrfCandidate { index, label: full });
            }
        }
        prop_assert_eq!(candidate, brute);
    }
}

#[test]
fn no_threshold_means_no_candidate() {
    let mut out = [0u8; 64];
    let job = LabelJob {
        commitment: &Commitment([1; 32]),
        params: ScryptParams::with_n(2).unwrap(),
        start: LabelIndex(5),
        out: &mut out,
        vrf_threshold: None,
    };
    assert_eq!(ReferenceLabeller.label(job).unwrap(), None);
    assert_ne!(out, [0u8; 64]);
}

#[test]
fn bad_jobs_are_refused() {
    let commitment = Commitment([0; 32]);
    let params = ScryptParams::with_n(2).unwrap();
    let run = |start: u64, out: &mut [u8], params: ScryptParams| {
        ReferenceLabeller.label(LabelJob {
            commitment: &commitment,
            params,
            start: LabelIndex(start),
            out,
            vrf_threshold: None,
        })
    };
    let mut buf = [0u8; 48];
    let err = run(0, &mut buf[..17], params).unwrap_err();
    assert!(matches!(err, Error::BufferLength { len: 17 }), "{err}");
    assert!(err.to_string().contains("17 bytes"));
    let err = run(u64::MAX - 1, &mut buf, params).unwrap_err();
    assert!(matches!(err, Error::RangeOverflow { start, count: 3 } if start == u64::MAX - 1), "{err}");
    assert!(err.to_string().contains(&(u64::MAX - 1).to_string()));
    // The last index itself is fine.
    assert!(run(u64::MAX, &mut buf[..16], params).is_ok());
    // r·p at the RFC 7914 bound cannot be computed.
    let huge = ScryptParams::new(2, 1 << 15, 1 << 15).unwrap();
    let err = run(0, &mut buf[..16], huge).unwrap_err();
    assert!(matches!(err, Error::Unsupported { r: 32768, p: 32768, .. }), "{err}");
    assert!(err.to_string().contains("r·p"));
}

#[test]
fn error_messages_name_the_values() {
    // An output longer than (2^32 − 1) digests cannot be allocated in a test, so only its message is
    // checked here.
    let err = Error::OutputTooLong { len: usize::MAX, max: u64::from(u32::MAX) * 32 };
    assert!(err.to_string().contains(&usize::MAX.to_string()));
    assert!(err.to_string().contains(&(u64::from(u32::MAX) * 32).to_string()));
}
