//! GPU labels and VRF nonces against the CPU reference, bit for bit, for every kernel variant.
//!
//! Without a CUDA device (or without NVRTC, for the compile test) each test prints why it skips and
//! passes; with `POST_REQUIRE_GPU=1` in the environment a skip is a failure instead, so a GPU machine
//! cannot pass by accident. `post-cuda/gpu-check.sh` runs these tests that way.
//!
//! Coverage: more than 10^4 labels per variant at N = 64 — ranges around 0, 2^32 and 2^64 − 1, random
//! ranges with uneven lengths split into batches with uneven ends, and single random indices — plus
//! ranges at the network's N = 8192, the shared vectors, the two known VRF nonces of the spec (T6, T7),
//! random VRF searches, several devices (or one device twice) sharing a job, and the error paths.

#![allow(clippy::unwrap_used)]

use std::io::Write;

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_cuda::{
    devices, kernel_image, nvrtc_present, CompileTarget, ComputeCapability, CudaLabeller, CudaOptions, CudaSpec, Error,
    ImageKind, KernelVariant, MultiGpuLabeller, VariantChoice,
};
use post_oracle::{LabelJob, Labeller, ReferenceLabeller, VrfCandidate};

use rand::{Rng, SeedableRng};
use serde::Deserialize;

/// Whether a skip must fail (`POST_REQUIRE_GPU=1`).
fn gpu_required() -> bool {
    std::env::var("POST_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// Prints why a test does not run, or fails when a GPU is required.
fn skip(test: &str, reason: &str) {
    assert!(!gpu_required(), "{test}: POST_REQUIRE_GPU=1 but {reason}");
    // Written to the process's stderr directly, past the test harness's capture, so that it shows.
    let line = format!("SKIPPED {test}: {reason} (set POST_REQUIRE_GPU=1 to make this a failure)\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// The number of devices, or `None` (after reporting the skip) when there is none.
fn gpu(test: &str) -> Option<usize> {
    match devices() {
        Ok(list) if !list.is_empty() => Some(list.len()),
        Ok(_) => {
            skip(test, "the CUDA driver reports no device");
            None
        }
        Err(e) => {
            skip(test, &format!("no CUDA device: {e}"));
            None
        }
    }
}

fn open(variant: KernelVariant, max_batch_labels: Option<u32>) -> CudaLabeller {
    let options = CudaOptions { variant: VariantChoice::Fixed(variant), cache_dir: None, max_batch_labels };
    CudaLabeller::new(0, &options).unwrap()
}

/// One labelling job: `count` labels from `start`, with an optional VRF threshold.
fn run(
    labeller: &dyn Labeller,
    commitment: &Commitment,
    n: u32,
    start: u64,
    count: usize,
    threshold: Option<&[u8; 32]>,
) -> (Vec<u8>, Option<VrfCandidate>) {
    let mut out = vec![0u8; count * 16];
    let job = LabelJob {
        commitment,
        params: ScryptParams::with_n(u64::from(n)).unwrap(),
        start: LabelIndex(start),
        out: &mut out,
        vrf_threshold: threshold,
    };
    let found = labeller.label(job).unwrap();
    (out, found)
}

/// The ranges the N = 64 test covers: (start, count), more than 10^4 labels in all.
fn ranges(rng: &mut impl Rng) -> Vec<(u64, usize)> {
    let mut r = vec![
        (0, 2000),
        ((1 << 32) - 1000, 2001), // 2^32 − 1, 2^32, 2^32 + 1
        (u64::MAX - 1999, 2000),  // up to 2^64 − 1 itself
        ((1 << 40) + 7, 1),
    ];
    for _ in 0..4 {
        r.push((rng.gen::<u64>() >> 1, rng.gen_range(777..1500)));
    }
    r
}

/// Labels for more than 10^4 indices at N = 64 equal the reference, for every variant, with batches
/// of 1000 labels (uneven ends inside every range) and with the batch the device's memory allows.
#[test]
fn labels_match_the_reference_for_every_variant() {
    let test = "labels_match_the_reference_for_every_variant";
    if gpu(test).is_none() {
        return;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0001);
    let commitment = Commitment(rng.gen());
    let n = 64;
    let ranges = ranges(&mut rng);
    let singles: Vec<u64> = (0..500).map(|_| rng.gen()).collect();
    let total: usize = ranges.iter().map(|r| r.1).sum::<usize>() + singles.len();
    assert!(total >= 10_000, "{total}");
    let expected: Vec<Vec<u8>> =
        ranges.iter().map(|&(s, c)| run(&ReferenceLabeller, &commitment, n, s, c, None).0).collect();
    let expected_singles: Vec<Vec<u8>> =
        singles.iter().map(|&i| run(&ReferenceLabeller, &commitment, n, i, 1, None).0).collect();
    for variant in KernelVariant::ALL {
        for cap in [Some(1000), None] {
            let gpu = open(variant, cap);
            for (&(start, count), want) in ranges.iter().zip(&expected) {
                let (got, _) = run(&gpu, &commitment, n, start, count, None);
                assert!(
                    got == *want,
                    "{variant} cap {cap:?}: range {start}+{count} differs at label {:?}",
                    got.chunks(16).zip(want.chunks(16)).position(|(a, b)| a != b)
                );
            }
            if cap.is_some() {
                for (&index, want) in singles.iter().zip(&expected_singles) {
                    assert_eq!(run(&gpu, &commitment, n, index, 1, None).0, *want, "{variant}: index {index}");
                }
            }
        }
    }
}

/// At the network's N = 8192, 600 labels around 2^32 per variant, in uneven batches.
#[test]
fn mainnet_labels_match_the_reference() {
    let test = "mainnet_labels_match_the_reference";
    if gpu(test).is_none() {
        return;
    }
    let commitment = Commitment(rand::rngs::StdRng::seed_from_u64(0x5eed_0002).gen());
    let (start, count) = ((1u64 << 32) - 300, 600);
    let (want, _) = run(&ReferenceLabeller, &commitment, 8192, start, count, None);
    for variant in KernelVariant::ALL {
        let (got, _) = run(&open(variant, Some(256)), &commitment, 8192, start, count, None);
        assert!(
            got == want,
            "{variant}: differs at label {:?}",
            got.chunks(16).zip(want.chunks(16)).position(|(a, b)| a != b)
        );
    }
}

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    commitment: String,
    index: u64,
    scrypt_n: u32,
    label16: String,
}

/// The shared vectors (N = 2, 16, 8192), one label per job, on every variant.
#[test]
fn shared_vectors_on_every_variant() {
    let test = "shared_vectors_on_every_variant";
    if gpu(test).is_none() {
        return;
    }
    let data: Vectors = serde_json::from_str(include_str!("data/labels.json")).unwrap();
    for variant in KernelVariant::ALL {
        let gpu = open(variant, Some(4096));
        for v in &data.vectors {
            let c = Commitment(hex::decode(&v.commitment).unwrap().try_into().unwrap());
            let (got, _) = run(&gpu, &c, v.scrypt_n, v.index, 1, None);
            assert_eq!(hex::encode(got), v.label16, "{variant}: N={} index {}", v.scrypt_n, v.index);
        }
    }
}

fn hex32(text: &str) -> [u8; 32] {
    hex::decode(text).unwrap().try_into().unwrap()
}

/// The spec's VRF vectors: T6 (N = 32, labels [1024, 262144), difficulty 00003f ff…: nonce 165545) and
/// T7 (N = 8192, labels [0, 300), threshold ff…: nonce 178), on every variant with several batches.
#[test]
fn known_vrf_nonces_on_every_variant() {
    let test = "known_vrf_nonces_on_every_variant";
    if gpu(test).is_none() {
        return;
    }
    let t6 = Commitment(hex32("e26b543725490682675f6f84ea7689601adeaf14caa7024ec1140c82754ca339"));
    let mut difficulty = [0xffu8; 32];
    difficulty[..3].copy_from_slice(&[0x00, 0x00, 0x3f]);
    let t7 = Commitment([0; 32]);
    for variant in KernelVariant::ALL {
        let gpu = open(variant, Some(50_000));
        let (_, found) = run(&gpu, &t6, 32, 1024, 262_144 - 1024, Some(&difficulty));
        let found = found.unwrap();
        assert_eq!(found.index, LabelIndex(165_545), "{variant}");
        assert_eq!(hex::encode(found.label), "00001f81fadfc488b990c940aba8367a97e85cbb5bc0720a308d293b22902a74");
        let gpu = open(variant, Some(128));
        let (_, found) = run(&gpu, &t7, 8192, 0, 300, Some(&[0xff; 32]));
        let found = found.unwrap();
        assert_eq!(found.index, LabelIndex(178), "{variant}");
        assert_eq!(hex::encode(found.label), "002a90b65a9a3ac148c2c4cf467ae0313269288bedee864844ef96f8b3cb9fd5");
    }
}

/// VRF searches over random ranges and thresholds equal the reference's (labels and candidate), and a
/// threshold nothing is below finds nothing.
#[test]
fn vrf_search_matches_the_reference() {
    let test = "vrf_search_matches_the_reference";
    if gpu(test).is_none() {
        return;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_0003);
    for variant in KernelVariant::ALL {
        let gpu = open(variant, Some(3000));
        for round in 0..4 {
            let commitment = Commitment(rng.gen());
            let start = if round == 0 { u64::MAX - 9999 } else { rng.gen::<u64>() >> 8 };
            let mut threshold = [0xffu8; 32];
            threshold[0] = [0x00, 0x01, 0x10, 0xff][round];
            let (want, want_found) = run(&ReferenceLabeller, &commitment, 16, start, 10_000, Some(&threshold));
            let (got, found) = run(&gpu, &commitment, 16, start, 10_000, Some(&threshold));
            assert!(got == want, "{variant}: labels differ");
            assert_eq!(found, want_found, "{variant}: round {round}");
        }
        let (_, none) = run(&gpu, &Commitment([7; 32]), 16, 0, 5000, Some(&[0; 32]));
        assert_eq!(none, None, "{variant}");
    }
}

/// Several devices (or the one device opened twice) share a job through one queue: same labels and
/// candidate as the reference, whatever device took which chunk.
#[test]
fn several_devices_share_a_job() {
    let test = "several_devices_share_a_job";
    let Some(count) = gpu(test) else { return };
    let options = CudaOptions { variant: VariantChoice::Auto, cache_dir: None, max_batch_labels: Some(700) };
    let mut devs: Vec<CudaLabeller> = (0..count).map(|o| CudaLabeller::new(o, &options).unwrap()).collect();
    devs.push(
        CudaLabeller::new(0, &CudaOptions { variant: VariantChoice::Fixed(KernelVariant::ALL[4]), ..options.clone() })
            .unwrap(),
    );
    let multi = MultiGpuLabeller::new(devs).unwrap();
    let commitment = Commitment([3; 32]);
    let threshold = [0x20u8; 32];
    let (want, want_found) = run(&ReferenceLabeller, &commitment, 64, 1 << 33, 9001, Some(&threshold));
    let (got, found) = run(&multi, &commitment, 64, 1 << 33, 9001, Some(&threshold));
    assert!(got == want);
    assert_eq!(found, want_found);
    // The spec path: `cuda` opens every device.
    let all = MultiGpuLabeller::open(&CudaSpec::parse("cuda@tpl1-gap2").unwrap(), &options).unwrap();
    assert_eq!(all.devices().len(), count);
    assert!(all.name().contains("tpl1-gap2"));
}

/// Bad jobs and bad devices give errors that say what and where.
#[test]
fn errors_name_the_device_and_the_problem() {
    let test = "errors_name_the_device_and_the_problem";
    let Some(count) = gpu(test) else { return };
    let gpu = open(KernelVariant::ALL[0], Some(256));
    let c = Commitment([0; 32]);
    let mut out = vec![0u8; 32];
    fn job<'a>(c: &'a Commitment, params: ScryptParams, out: &'a mut [u8]) -> LabelJob<'a> {
        LabelJob { commitment: c, params, start: LabelIndex(0), out, vrf_threshold: None }
    }
    let err = gpu.label(job(&c, ScryptParams::new(16, 2, 1).unwrap(), &mut out)).unwrap_err();
    assert!(matches!(err, post_oracle::Error::Unsupported { r: 2, .. }), "{err}");
    let err = gpu.label(job(&c, ScryptParams::with_n(16).unwrap(), &mut out[..15])).unwrap_err();
    assert!(matches!(err, post_oracle::Error::BufferLength { len: 15 }), "{err}");
    let err = CudaLabeller::new(count, &CudaOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NoSuchDevice { ordinal, count: c } if ordinal == count && c == count), "{err}");
    assert!(gpu.name().starts_with("cuda:0 "), "{}", gpu.name());
    let info = &devices().unwrap()[0];
    assert!(info.total_memory > 0 && info.compute_capability.major >= 5 && info.multiprocessors > 0, "{info}");
}

/// The kernels compile with NVRTC for the architectures of recent cards, into cubins without register
/// spills in ROMix. Needs NVRTC only, not a GPU.
#[test]
fn kernels_compile_for_recent_architectures() {
    let test = "kernels_compile_for_recent_architectures";
    if !nvrtc_present() {
        skip(test, "NVRTC (libnvrtc) is not installed");
        return;
    }
    for (major, minor) in [(7, 5), (8, 6), (9, 0)] {
        let cc = ComputeCapability { major, minor };
        let image =
            kernel_image(CompileTarget { compute_capability: cc, driver_version: (0, 0), cache_dir: None }).unwrap();
        assert_eq!(image.kind, ImageKind::Cubin, "{cc}");
        assert!(image.bytes.starts_with(b"\x7fELF"), "{cc}: not a cubin");
        for line in image.log.lines().filter(|l| l.contains("spill")) {
            assert!(line.contains(" 0 bytes spill stores, 0 bytes spill loads"), "{cc}: {line}");
        }
        eprintln!(
            "{cc}: {} byte cubin; ptxas: {}",
            image.bytes.len(),
            image.log.lines().filter(|l| l.contains("Used")).collect::<Vec<_>>().join(" | ")
        );
    }
}
