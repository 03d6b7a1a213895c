//! The prover against a brute-force model on random in-memory data: on one thread it returns exactly
//! the proof the model predicts (the nonce whose k2-th good label comes first, with its first k2 good
//! indices, in the first pass that has one); on several threads it returns some valid proof. Also
//! checks the pass limit, cancellation and progress reports.

#![allow(clippy::unwrap_used)]

#[path = "support/common.rs"]
mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use post_core::{scale_pow_difficulty, Challenge, LabelIndex, NodeId, NonceGroup};
use post_proof::{
    AesBackend, Blake3Pow, CancelToken, Error, LabelRegion, Phase, PowJob, Prover, ProvingParams, ProvingTarget,
};
use proptest::prelude::*;

/// The model: the smallest valid pow per group; per pass, the nonce with the smallest k2-th good
/// index (ties: the smaller nonce).
fn model(
    labels: &[[u8; 16]],
    challenge: &Challenge,
    node_id: &NodeId,
    p: &ProvingParams,
) -> Option<(u32, Vec<u64>, u64)> {
    let t = threshold(p.k1, labels.len() as u64);
    let pow_threshold = scale_pow_difficulty(&p.pow_difficulty, 1).unwrap();
    for pass in 0.. {
        let start = pass * p.nonces;
        if start >= 4096 {
            return None;
        }
        let mut best: Option<(u64, u32, Vec<u64>, u64)> = None;
        for nonce in start..(start + p.nonces).min(4096) {
            let group = NonceGroup((nonce / 16) as u8);
            let job = PowJob { group, challenge, miner: node_id, threshold: &pow_threshold };
            let pow = (0..).find(|&n| job.accepts(&Blake3Pow::hash(&job.input(n)))).unwrap();
            let good = good_indices(labels, challenge, nonce, pow, t);
            if good.len() >= p.k2 as usize {
                let key = good[p.k2 as usize - 1];
                if best.as_ref().is_none_or(|b| key < b.0) {
                    best = Some((key, nonce, good[..p.k2 as usize].to_vec(), pow));
                }
            }
        }
        if let Some((_, nonce, indices, pow)) = best {
            return Some((nonce, indices, pow));
        }
    }
    None
}

fn random_labels(seed: u64, count: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; count * 16];
    blake3::Hasher::new().update(&seed.to_le_bytes()).finalize_xof().fill(&mut bytes);
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn one_thread_matches_the_model_and_more_threads_give_valid_proofs(
        seed in any::<u64>(),
        count in 40usize..400,
        split in 0usize..400,
        k1 in 2u32..30,
        k2 in 1u32..12,
        groups in 1u32..3,
    ) {
        let bytes = random_labels(seed, count);
        let labels: Vec<[u8; 16]> = bytes.chunks_exact(16).map(|c| c.try_into().unwrap()).collect();
        // Two regions, given out of order, to exercise region handling.
        let split = split.min(count) * 16;
        let regions = [
            LabelRegion::from_bytes(LabelIndex((split / 16) as u64), &bytes[split..]).unwrap(),
            LabelRegion::from_bytes(LabelIndex(0), &bytes[..split]).unwrap(),
        ];
        let challenge = Challenge(*blake3::hash(&seed.to_be_bytes()).as_bytes());
        let node_id = NodeId([7; 32]);
        let mut pow_difficulty = [0xff; 32];
        pow_difficulty[0] = 0x3f;
        let target = ProvingTarget { challenge: &challenge, node_id: &node_id, num_units: 1, regions: &regions };
        let want = model(&labels, &challenge, &node_id, &ProvingParams {
            k1, k2, pow_difficulty, nonces: groups * 16, backend: AesBackend::Portable,
        });
        say_backends();
        for backend in AesBackend::available() {
            let params = ProvingParams { k1, k2, pow_difficulty, nonces: groups * 16, backend };
            let got = pool(1).install(|| Prover::new(params, &Blake3Pow).unwrap().prove(&target));
            match (&want, got) {
                (Some((nonce, indices, pow)), Ok(p)) => {
                    prop_assert_eq!((p.nonce.0, &p.indices, p.proof.pow), (*nonce, indices, *pow), "{}", backend.name());
                }
                (None, Err(Error::NoncesExhausted { .. })) => {}
                (w, g) => prop_assert!(false, "{}: model {:?}, prover {:?}", backend.name(), w, g),
            }
            // Two threads: any proof, but a valid one.
            if let Ok(p) = pool(2).install(|| Prover::new(params, &Blake3Pow).unwrap().prove(&target)) {
                let t = threshold(k1, count as u64);
                let good = good_indices(&labels, &challenge, p.nonce.0, p.proof.pow, t);
                prop_assert_eq!(p.indices.len(), k2 as usize);
                prop_assert!(p.indices.iter().all(|i| good.contains(i)));
                prop_assert!(p.indices.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }
}

#[test]
fn progress_is_reported_and_cancel_stops() {
    let bytes = random_labels(1, 70_000);
    let regions = [LabelRegion::from_bytes(LabelIndex(0), &bytes).unwrap()];
    let (challenge, node_id) = (Challenge([1; 32]), NodeId([2; 32]));
    let target = ProvingTarget { challenge: &challenge, node_id: &node_id, num_units: 1, regions: &regions };
    // k2 larger than any nonce can reach: every pass scans everything, until the 4096 nonces run out.
    let params =
        ProvingParams { k1: 2, k2: 40, pow_difficulty: [0xff; 32], nonces: 1024, backend: AesBackend::detect() };
    let (pow_reports, scanned) = (AtomicU64::new(0), AtomicU64::new(0));
    let prover = Prover::new(params, &Blake3Pow).unwrap().with_progress(|p| match p.phase {
        Phase::K2Pow => {
            pow_reports.fetch_add(1, Ordering::Relaxed);
        }
        Phase::Scanning => {
            assert!(p.done <= p.total);
            scanned.fetch_max(p.done, Ordering::Relaxed);
        }
    });
    assert!(matches!(prover.prove(&target), Err(Error::NoncesExhausted { next_nonce: 4096 })));
    assert_eq!(pow_reports.load(Ordering::Relaxed), 4 * (64 + 1));
    assert_eq!(scanned.load(Ordering::Relaxed), bytes.len() as u64);

    let cancel = CancelToken::new();
    cancel.cancel();
    let prover = Prover::new(params, &Blake3Pow).unwrap().with_cancel(cancel);
    assert!(matches!(prover.prove(&target), Err(Error::Cancelled)));
}

#[test]
fn bad_inputs_are_refused() {
    let bytes = random_labels(2, 100);
    let (challenge, node_id) = (Challenge([1; 32]), NodeId([2; 32]));
    let params = ProvingParams { k1: 2, k2: 4, pow_difficulty: [0xff; 32], nonces: 16, backend: AesBackend::Portable };
    for nonces in [0, 8, 24] {
        assert!(Prover::new(ProvingParams { nonces, ..params }, &Blake3Pow).is_err());
    }
    // A gap, and an overlap.
    let gap = [LabelRegion::from_bytes(LabelIndex(1), &bytes[16..]).unwrap()];
    let overlap = [
        LabelRegion::from_bytes(LabelIndex(0), &bytes).unwrap(),
        LabelRegion::from_bytes(LabelIndex(50), &bytes[..160]).unwrap(),
    ];
    for regions in [&gap[..], &overlap[..]] {
        let target = ProvingTarget { challenge: &challenge, node_id: &node_id, num_units: 1, regions };
        let got = Prover::new(params, &Blake3Pow).unwrap().prove(&target);
        assert!(matches!(got, Err(Error::InvalidParam { name: "label data", .. })), "{got:?}");
    }
    assert!(LabelRegion::from_bytes(LabelIndex(0), &bytes[..17]).is_err());
}

/// Says once, past the test harness's capture, which AES backends this machine checks against the
/// model: one its CPU lacks is not checked here, and that must show.
fn say_backends() {
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write as _;
        let available = AesBackend::available();
        let names = |list: Vec<AesBackend>| list.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ");
        let missing: Vec<AesBackend> = AesBackend::ALL.into_iter().filter(|b| !available.contains(b)).collect();
        let line = format!(
            "scan_matches_brute_force: checked AES backends {}; not checked on this CPU: {}\n",
            names(available),
            if missing.is_empty() { "none".to_string() } else { names(missing) }
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
    });
}
