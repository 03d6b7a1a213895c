//! The 84 label vectors of `tests/data/labels.json` (produced by post-rs v0.8.5), reproduced through
//! the single-label functions and through `ReferenceLabeller` ranges with the VRF search on.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{label16, label_full, LabelJob, Labeller, ReferenceLabeller, VrfCandidate};

#[derive(Debug, serde::Deserialize)]
struct Vector {
    commitment: String,
    index: u64,
    label16: String,
    scrypt_n: u64,
    r: u64,
    p: u64,
    scrypt_out32: String,
}

#[derive(Debug, serde::Deserialize)]
struct File {
    vectors: Vec<Vector>,
}

struct Known {
    commitment: Commitment,
    params: ScryptParams,
    index: u64,
    stored: [u8; 16],
    full: [u8; 32],
}

fn vectors() -> Vec<Known> {
    let file: File = serde_json::from_str(include_str!("data/labels.json")).unwrap();
    assert_eq!(file.vectors.len(), 84);
    file.vectors
        .into_iter()
        .map(|v| Known {
            commitment: Commitment::from_hex("commitment", &v.commitment).unwrap(),
            params: ScryptParams::new(v.scrypt_n, v.r, v.p).unwrap(),
            index: v.index,
            stored: hex::decode(&v.label16).unwrap().try_into().unwrap(),
            full: hex::decode(&v.scrypt_out32).unwrap().try_into().unwrap(),
        })
        .collect()
}

#[test]
fn single_labels_match_post_rs() {
    for v in vectors() {
        let index = LabelIndex(v.index);
        assert_eq!(label_full(&v.commitment, v.params, index).unwrap(), v.full, "{:?} {:?}", v.commitment, index);
        assert_eq!(label16(&v.commitment, v.params, index).unwrap(), v.stored);
        assert_eq!(v.full[..16], v.stored, "the stored label is the prefix of the full one");
    }
}

#[test]
fn labeller_ranges_match_post_rs() {
    // Group the known labels by (commitment, N) and run the labeller over contiguous runs of indices
    // (0..3, 255..257, 2^32, 2^40 + 7), asking for the VRF candidate below 2^256 − 1 (= the minimum).
    let mut groups: BTreeMap<([u8; 32], u32), BTreeMap<u64, Known>> = BTreeMap::new();
    for v in vectors() {
        groups.entry((v.commitment.0, v.params.n())).or_default().insert(v.index, v);
    }
    assert_eq!(groups.len(), 12);
    let threshold = [0xff; 32];
    for known in groups.values() {
        let mut runs: Vec<Vec<&Known>> = Vec::new();
        for v in known.values() {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|last| last.index + 1 == v.index) => run.push(v),
                _ => runs.push(vec![v]),
            }
        }
        assert_eq!(runs.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2, 1, 1]);
        for run in runs {
            let first = run[0];
            let mut out = vec![0u8; 16 * run.len()];
            let candidate = ReferenceLabeller
                .label(LabelJob {
                    commitment: &first.commitment,
                    params: first.params,
                    start: LabelIndex(first.index),
                    out: &mut out,
                    vrf_threshold: Some(&threshold),
                })
                .unwrap();
            for (v, got) in run.iter().zip(out.chunks_exact(16)) {
                assert_eq!(got, v.stored, "index {}", v.index);
            }
            let expected = run
                .iter()
                .map(|v| Some(VrfCandidate { index: LabelIndex(v.index), label: v.full }))
                .fold(None, VrfCandidate::better);
            assert_eq!(candidate, expected);
        }
    }
}
