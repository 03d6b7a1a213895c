//! The CUDA kernels themselves (`kernels/label_kernels.cu`), run on the host's SIMT emulator
//! (`post-cuda-hostc`), against the reference labeller: every variant — including the four threads per
//! label that exchange ChaCha rows with warp shuffles — with batches that end inside a block, labels
//! around 2^32 and 2^64 − 1, a table stride larger than the batch, and the VRF reduction over several
//! blocks. This runs in every CI run; the GPU tests repeat it on real hardware.

#![allow(clippy::unwrap_used)]

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_cuda::KernelVariant;
use post_cuda_hostc::{simt_batch, SimtBatch};
use post_oracle::{LabelJob, Labeller, ReferenceLabeller, VrfCandidate};

fn reference(
    commitment: &[u8; 32],
    n: u32,
    start: u64,
    count: u32,
    threshold: Option<&[u8; 32]>,
) -> (Vec<u8>, Option<VrfCandidate>) {
    let mut out = vec![0u8; count as usize * 16];
    let c = Commitment(*commitment);
    let job = LabelJob {
        commitment: &c,
        params: ScryptParams::with_n(u64::from(n)).unwrap(),
        start: LabelIndex(start),
        out: &mut out,
        vrf_threshold: threshold,
    };
    let found = ReferenceLabeller.label(job).unwrap();
    (out, found)
}

fn batch<'a>(
    variant: KernelVariant,
    commitment: &'a [u8; 32],
    n: u32,
    start: u64,
    count: u32,
    cap: u32,
) -> SimtBatch<'a> {
    SimtBatch {
        commitment,
        start,
        count,
        n,
        threads_per_label: variant.threads().count(),
        gap: variant.effective_gap(n),
        cap,
        threshold: None,
    }
}

/// Decodes a candidate record as the host does.
fn decode(record: [u64; 6]) -> Option<VrfCandidate> {
    (record[0] == 1).then(|| {
        let mut label = [0u8; 32];
        for (chunk, w) in label.chunks_exact_mut(8).zip(&record[2..]) {
            chunk.copy_from_slice(&w.to_be_bytes());
        }
        VrfCandidate { index: LabelIndex(record[1]), label }
    })
}

/// Every variant's labels equal the reference: 70 labels (a partial block, for four threads per label
/// a partial last warp) in a table sized for 100, across 2^32.
#[test]
fn every_variant_matches_the_reference() {
    let commitment = [0x5a; 32];
    let (n, start, count) = (16, (1u64 << 32) - 35, 70);
    let (want, _) = reference(&commitment, n, start, count, None);
    for variant in KernelVariant::ALL {
        let got = simt_batch(&batch(variant, &commitment, n, start, count, 100));
        assert!(
            got.labels == want,
            "{variant}: differs at label {:?}",
            got.labels.chunks(16).zip(want.chunks(16)).position(|(a, b)| a != b)
        );
    }
}

/// More than one block of labels, up to 2^64 − 1, at N = 2 (where gap 4 falls back to 2).
#[test]
fn several_blocks_up_to_the_last_index() {
    let commitment = [0xc3; 32];
    let (n, count) = (2, 300);
    let start = u64::MAX - u64::from(count) + 1;
    let (want, _) = reference(&commitment, n, start, count, None);
    for variant in KernelVariant::ALL {
        let got = simt_batch(&batch(variant, &commitment, n, start, count, count));
        assert!(got.labels == want, "{variant}");
    }
}

/// The device-side VRF search (block minimum, then the minimum of the blocks) finds what the reference
/// finds, over two blocks, for thresholds that admit none, some and all labels. The search runs in the
/// output kernel, which is the same for every variant; two variants are enough.
#[test]
fn vrf_reduction_matches_the_reference() {
    let commitment = [0x11; 32];
    let (n, start, count) = (4, 1_000_000, 300);
    for first in [0x00u8, 0x08, 0x80, 0xff] {
        let mut threshold = [0xff; 32];
        threshold[0] = first;
        if first == 0 {
            threshold = [0; 32];
        }
        let (want_labels, want) = reference(&commitment, n, start, count, Some(&threshold));
        for variant in [KernelVariant::ALL[0], KernelVariant::ALL[2]] {
            let mut b = batch(variant, &commitment, n, start, count, 512);
            b.threshold = Some(&threshold);
            let got = simt_batch(&b);
            assert!(got.labels == want_labels, "{variant}");
            assert_eq!(decode(got.candidate.unwrap()), want, "{variant}, threshold {first:02x}…");
        }
    }
}
