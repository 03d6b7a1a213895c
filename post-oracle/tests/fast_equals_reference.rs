//! Every fast backend this CPU supports computes exactly what the reference labeller computes: the
//! stored labels and the VRF candidate, over random commitments, index ranges (around 0, 2^32 and
//! 2^64 − 1, across lane-group boundaries, ragged tails), N from 2 to 16384, and all shared vectors.

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{Backend, FastLabeller, LabelJob, Labeller, ReferenceLabeller, VrfCandidate};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Labels `count` labels from `start`, returning the stored bytes and the VRF candidate.
fn run(
    labeller: &dyn Labeller,
    commitment: &Commitment,
    params: ScryptParams,
    start: u64,
    count: usize,
    threshold: Option<&[u8; 32]>,
) -> Result<(Vec<u8>, Option<VrfCandidate>), post_oracle::Error> {
    let mut out = vec![0u8; 16 * count];
    let best = labeller.label(LabelJob {
        commitment,
        params,
        start: LabelIndex(start),
        out: &mut out,
        vrf_threshold: threshold,
    })?;
    Ok((out, best))
}

fn fast_labellers() -> Result<Vec<FastLabeller>, post_oracle::Error> {
    // Say once, past the test harness's capture, which backends this machine covers: a backend its CPU
    // lacks is not checked here, and that must show.
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write as _;
        let available = Backend::available();
        let names = |list: Vec<Backend>| list.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ");
        let missing: Vec<Backend> = Backend::ALL.into_iter().filter(|b| !available.contains(b)).collect();
        let line = format!(
            "fast_equals_reference: checked backends {}; not checked on this CPU: {}\n",
            names(available),
            if missing.is_empty() { "none".to_string() } else { names(missing) }
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
    Backend::available().into_iter().map(FastLabeller::with_backend).collect()
}

#[derive(serde::Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(serde::Deserialize)]
struct Vector {
    commitment: String,
    index: u64,
    scrypt_n: u64,
    label16: String,
    scrypt_out32: String,
}

/// All shared label vectors (post-rs v0.8.5): the stored 16 bytes, and the full 32 bytes as the
/// VRF candidate of a one-label job with the all-ones threshold.
#[test]
fn shared_vectors() -> TestResult {
    let vectors: Vectors = serde_json::from_str(include_str!("data/labels.json"))?;
    assert_eq!(vectors.vectors.len(), 84);
    let no_threshold = [0xff; 32];
    for labeller in fast_labellers()? {
        for v in &vectors.vectors {
            let commitment = Commitment::from_hex("commitment", &v.commitment)?;
            let params = ScryptParams::with_n(v.scrypt_n)?;
            let (out, best) = run(&labeller, &commitment, params, v.index, 1, Some(&no_threshold))?;
            let what = format!("{} N={} index {}", labeller.name(), v.scrypt_n, v.index);
            assert_eq!(hex::encode(&out), v.label16, "{what}");
            let best = best.ok_or_else(|| format!("{what}: no VRF candidate"))?;
            assert_eq!(best.index, LabelIndex(v.index), "{what}");
            assert_eq!(hex::encode(best.label), v.scrypt_out32, "{what}");
        }
    }
    Ok(())
}

/// Each backend is forced on request, named after itself, and refuses nothing it advertises.
#[test]
fn backends_can_be_forced() -> TestResult {
    for backend in Backend::ALL {
        match FastLabeller::with_backend(backend) {
            Ok(labeller) => {
                assert!(backend.is_available());
                assert_eq!(labeller.backend(), backend);
                assert_eq!(labeller.name(), format!("cpu-{}", backend.name()));
            }
            Err(err) => {
                assert!(!backend.is_available());
                assert!(err.to_string().contains(backend.name()), "{err}");
            }
        }
    }
    assert_eq!(FastLabeller::new().backend(), Backend::detect());
    Ok(())
}

/// The table is large: every lane count ± 1 at the network's N, and N = 16384, on every backend.
#[test]
fn large_n_ragged_groups() -> TestResult {
    let commitment = Commitment([0x5a; 32]);
    let threshold = [0x40; 32];
    for labeller in fast_labellers()? {
        let lanes = labeller.backend().lanes();
        for (n, start, count) in [(8192, (1 << 32) - 3, lanes + 1), (16384, u64::MAX - 2, 3)] {
            let params = ScryptParams::with_n(n)?;
            let expected = run(&ReferenceLabeller, &commitment, params, start, count, Some(&threshold))?;
            let got = run(&labeller, &commitment, params, start, count, Some(&threshold))?;
            assert_eq!(got, expected, "{} N={n} start {start} count {count}", labeller.name());
        }
    }
    Ok(())
}

/// `label_full` gives the reference's full labels (whose first 16 bytes are the stored labels) and
/// refuses ranges past 2^64 − 1.
#[test]
fn full_labels_match_reference() -> TestResult {
    let commitment = Commitment([3; 32]);
    let params = ScryptParams::with_n(32)?;
    for labeller in fast_labellers()? {
        for (start, count) in [(0u64, 0usize), (5, 1), (u64::MAX - 40, 41), ((1 << 32) - 20, 70)] {
            let mut full = vec![[0u8; 32]; count];
            labeller.label_full(&commitment, params, LabelIndex(start), &mut full)?;
            for (offset, got) in full.iter().enumerate() {
                let index = start + offset as u64;
                let expected = post_oracle::label_full(&commitment, params, LabelIndex(index))?;
                assert_eq!(*got, expected, "{} index {index}", labeller.name());
            }
        }
        let mut two = [[0u8; 32]; 2];
        assert!(labeller.label_full(&commitment, params, LabelIndex(u64::MAX), &mut two).is_err());
    }
    Ok(())
}

/// The network uses r = p = 1, but the engine takes any powers of two: BlockMix over 2r blocks and p
/// chunks mixed one after the other must match the reference too.
#[test]
fn other_r_and_p() -> TestResult {
    let commitment = Commitment([0xc3; 32]);
    let threshold = [0x30; 32];
    for labeller in fast_labellers()? {
        let count = labeller.backend().lanes() + 3;
        for (n, r, p) in [(16, 2, 1), (8, 1, 2), (4, 4, 2), (2, 8, 1)] {
            let params = ScryptParams::new(n, r, p)?;
            let expected = run(&ReferenceLabeller, &commitment, params, 1000, count, Some(&threshold))?;
            let got = run(&labeller, &commitment, params, 1000, count, Some(&threshold))?;
            assert_eq!(got, expected, "{} N={n} r={r} p={p}", labeller.name());
        }
    }
    Ok(())
}

/// Parameters whose scratch cannot exist are an error naming them, not an abort.
#[test]
fn absurd_parameters_are_refused() -> TestResult {
    let commitment = Commitment([1; 32]);
    let params = ScryptParams::new(2, 1 << 31, 1 << 31)?;
    for labeller in fast_labellers()? {
        let err = run(&labeller, &commitment, params, 0, 1, None).err().ok_or("absurd parameters were accepted")?;
        assert!(matches!(err, post_oracle::Error::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("r=2147483648"), "{err}");
    }
    Ok(())
}

/// Interesting first indices: zero, around 2^32, and ranges that end at 2^64 − 1.
fn start_strategy(count: usize) -> impl Strategy<Value = u64> {
    let last_start = u64::MAX - count.saturating_sub(1) as u64;
    prop_oneof![
        Just(0u64),
        Just((1u64 << 32) - 1),
        Just(1u64 << 32),
        (0u64..64).prop_map(move |back| last_start - back.min(last_start)),
        Just(last_start),
        any::<u64>().prop_map(move |s| s.min(last_start)),
    ]
}

/// Counts around every backend's lane count (4, 8, 16) and spanning several groups.
fn count_strategy() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0usize), Just(1), 3usize..=5, 7usize..=9, 15usize..=17, 31usize..=33, 0usize..=70]
}

/// A threshold that lets through roughly `1/2^bits` of the labels, or none at all.
fn threshold_strategy() -> impl Strategy<Value = Option<[u8; 32]>> {
    prop_oneof![
        Just(None),
        (0u32..8, any::<[u8; 32]>()).prop_map(|(bits, mut t)| {
            t[0] >>= bits;
            Some(t)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn fast_equals_reference(
        commitment in any::<[u8; 32]>().prop_map(Commitment),
        log_n in 1u32..=6,
        (start, count) in count_strategy().prop_flat_map(|c| (start_strategy(c), Just(c))),
        threshold in threshold_strategy(),
    ) {
        let params = ScryptParams::with_n(1 << log_n).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let expected = run(&ReferenceLabeller, &commitment, params, start, count, threshold.as_ref())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for labeller in fast_labellers().map_err(|e| TestCaseError::fail(e.to_string()))? {
            let got = run(&labeller, &commitment, params, start, count, threshold.as_ref())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&got, &expected, "{} N={} start {} count {}", labeller.name(), 1 << log_n, start, count);
        }
    }

    /// Larger tables (N up to 4096) on fewer cases, with a threshold that keeps several candidates so
    /// that ties between groups and the chaining order matter.
    #[test]
    fn fast_equals_reference_mid_n(
        commitment in any::<[u8; 32]>().prop_map(Commitment),
        log_n in 7u32..=12,
        start in any::<u64>().prop_map(|s| s % (1 << 40)),
        count in 1usize..=20,
    ) {
        let params = ScryptParams::with_n(1 << log_n).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let threshold = [0x80; 32];
        let expected = run(&ReferenceLabeller, &commitment, params, start, count, Some(&threshold))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for labeller in fast_labellers().map_err(|e| TestCaseError::fail(e.to_string()))? {
            let got = run(&labeller, &commitment, params, start, count, Some(&threshold))
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&got, &expected, "{} N={} start {} count {}", labeller.name(), 1 << log_n, start, count);
        }
    }
}
