//! GPU labels and VRF nonces against the CPU reference, bit for bit, for every kernel variant.
//!
//! Without a CUDA device (or without NVRTC, for the compile test) each test prints why it skips and
//! passes; with `POST_REQUIRE_GPU=1` in the environment a skip is a failure instead, so a GPU machine
//! cannot pass by accident. `post-cuda/gpu-check.sh` runs these tests that way. The compile test needs
//! NVRTC only, no GPU: `cargo xtask test` (CI) provisions NVRTC and sets `POST_REQUIRE_NVRTC=1`.
//!
//! Coverage: more than 10^4 labels per variant at N = 64 — ranges around 0, 2^32 and 2^64 − 1, random
//! ranges with uneven lengths split into batches with uneven ends, and single random indices — plus
//! ranges at the network's N = 8192, the shared vectors, the two known VRF nonces of the spec (T6, T7),
//! random VRF searches, several devices (or one device twice) sharing a job, and the error paths.

#![allow(clippy::unwrap_used)]

use std::io::Write;

use post_core::{Commitment, LabelIndex, ScryptParams};
use post_cuda::{
    compile, devices, nvrtc_options, nvrtc_present, nvrtc_version, ComputeCapability, CudaLabeller, CudaOptions,
    CudaSpec, Error, ImageKind, KernelImage, KernelVariant, MultiGpuLabeller, VariantChoice, BLOCK_THREADS,
    KERNEL_NAMES,
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

/// This process's CPU time (user + system, all threads) in seconds, from `getrusage`.
fn process_cpu_seconds() -> f64 {
    // SAFETY: `getrusage` fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_SELF, &mut usage), 0);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// The host sleeps while the GPU labels (post-rs#118: the reference tools spin a core at 100%): over
/// at least two seconds of labelling at the network's N, the process uses less than 0.2 CPU seconds per
/// second of GPU work (the GPU is busy all along: two batches are always queued).
#[test]
fn the_host_sleeps_while_the_gpu_labels() {
    let test = "the_host_sleeps_while_the_gpu_labels";
    if gpu(test).is_none() {
        return;
    }
    let gpu = open(KernelVariant::ALL[0], None);
    let commitment = Commitment([0x42; 32]);
    // Warm up: kernels loaded, buffers sized for N = 8192.
    run(&gpu, &commitment, 8192, 0, 1000, None);
    let chunk = gpu.preferred_batch();
    let mut out = vec![0u8; chunk * 16];
    let (wall, cpu) = (std::time::Instant::now(), process_cpu_seconds());
    let mut start = 0u64;
    while wall.elapsed().as_secs_f64() < 2.0 {
        let job = LabelJob {
            commitment: &commitment,
            params: ScryptParams::MAINNET,
            start: LabelIndex(start),
            out: &mut out,
            vrf_threshold: None,
        };
        gpu.label(job).unwrap();
        start += chunk as u64;
    }
    let (gpu_seconds, cpu_seconds) = (wall.elapsed().as_secs_f64(), process_cpu_seconds() - cpu);
    let per = cpu_seconds / gpu_seconds;
    report(&format!(
        "{test}: {start} labels in {gpu_seconds:.2} s of GPU time, {cpu_seconds:.3} CPU s ({per:.3} CPU s per GPU s)\n"
    ));
    assert!(per < 0.2, "{test}: the host used {per:.3} CPU s per GPU s (spinning?)");
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

/// The NVRTC that [`REGISTERS`] was measured with: the one `cargo xtask test` provisions (the pinned
/// `nvidia-cuda-nvrtc-cu12` wheel in `xtask/src/tools.rs`). Registers differ between compiler versions,
/// so another NVRTC is checked for everything but the table.
const TABLE_NVRTC: (u32, u32) = (12, 9);

/// The architectures of the cards the kernels are built for: A100 (8.0), RTX 30 / A10 / A40 (8.6),
/// RTX 40 / L4 / L40 (8.9), H100 / H200 (9.0).
const ARCHS: [ComputeCapability; 4] = [
    ComputeCapability { major: 8, minor: 0 },
    ComputeCapability { major: 8, minor: 6 },
    ComputeCapability { major: 8, minor: 9 },
    ComputeCapability { major: 9, minor: 0 },
];

/// Registers per thread that ptxas gives each kernel, per architecture in the order of [`ARCHS`], with
/// [`TABLE_NVRTC`]. The launch plan depends on them: the ROMix kernels' registers decide how many blocks
/// of [`BLOCK_THREADS`] a multiprocessor runs at once, and so how many labels are resident and how big a
/// batch is (`plan.rs`: 66 registers on sm_90 give three blocks a multiprocessor). A change here after a
/// kernel edit is a performance change to look at (`post bench label`), not just a number to update.
/// The four-threads-per-label kernels shuffle with the full warp (gap 2 and 4 with a warp-uniform
/// recompute loop that keeps a copy of the entry: 8 more registers, five blocks instead of six).
const REGISTERS: [(&str, [u32; 4]); 9] = [
    ("post_pbkdf2_in", [106, 106, 106, 106]),
    ("post_romix_t1_g1", [66, 63, 63, 66]),
    ("post_romix_t1_g2", [94, 94, 94, 94]),
    ("post_romix_t1_g4", [94, 94, 94, 94]),
    ("post_romix_t4_g1", [29, 29, 29, 29]),
    ("post_romix_t4_g2", [48, 47, 47, 47]),
    ("post_romix_t4_g4", [48, 47, 47, 48]),
    ("post_pbkdf2_out", [111, 111, 111, 107]),
    ("post_vrf_reduce", [34, 34, 34, 34]),
];

/// Whether the NVRTC that `cargo xtask test` provisions is loaded: it sets `POST_REQUIRE_NVRTC=1` once it
/// has installed the pinned wheel, so NVRTC must be there and be the version [`REGISTERS`] is for.
fn provisioned_nvrtc() -> bool {
    std::env::var("POST_REQUIRE_NVRTC").is_ok_and(|v| v == "1")
}

/// Writes a report line past the test harness's capture, so that CI logs show it.
fn report(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// What ptxas reports of one kernel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Resources {
    registers: u32,
    stack_frame: u32,
    spill_stores: u32,
    spill_loads: u32,
}

/// The first number of `text` after `after` (`"Used 66 registers"` with `"Used "`: 66).
fn number_after(text: &str, after: &str) -> Option<u32> {
    let rest = &text[text.find(after)? + after.len()..];
    let digits: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The number just before `before` in `text` (`"0 bytes stack frame"` with `" bytes stack frame"`: 0).
fn number_before(text: &str, before: &str) -> Option<u32> {
    let head = &text[..text.find(before)?];
    let digits: String = head.chars().rev().take_while(char::is_ascii_digit).collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

/// Every function ptxas reports in an NVRTC log (`--ptxas-options=-v`), with its resources:
/// ```text
/// ptxas info    : Compiling entry function 'post_romix_t1_g1' for 'sm_90'
/// ptxas info    : Function properties for post_romix_t1_g1
///     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
/// ptxas info    : Used 66 registers, used 0 barriers, 384 bytes cmem[0]
/// ```
/// A device function that was not inlined has its own "Function properties" entry.
fn ptxas_resources(log: &str) -> Vec<(String, Resources)> {
    let mut found: Vec<(String, Resources)> = Vec::new();
    let mut current: Option<usize> = None;
    let select = |found: &mut Vec<(String, Resources)>, name: &str| {
        let at = found.iter().position(|(n, _)| n == name).unwrap_or_else(|| {
            found.push((name.to_string(), Resources::default()));
            found.len() - 1
        });
        Some(at)
    };
    for line in log.lines() {
        if let Some(rest) = line.split("Compiling entry function '").nth(1) {
            current = select(&mut found, rest.split('\'').next().unwrap_or(rest));
        } else if let Some(rest) = line.split("Function properties for ").nth(1) {
            current = select(&mut found, rest.trim());
        } else if let Some(at) = current {
            let r = &mut found[at].1;
            if line.contains("bytes stack frame") {
                r.stack_frame = number_before(line, " bytes stack frame").unwrap();
                r.spill_stores = number_before(line, " bytes spill stores").unwrap();
                r.spill_loads = number_before(line, " bytes spill loads").unwrap();
            } else if line.contains("Used ") && line.contains(" registers") {
                r.registers = number_after(line, "Used ").unwrap();
            }
        }
    }
    found
}

/// The names of the functions an ELF64 (cubin) defines, from its symbol table.
fn elf_functions(elf: &[u8]) -> Vec<String> {
    let u16_at = |o: usize| u16::from_le_bytes(elf[o..o + 2].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(elf[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| usize::try_from(u64::from_le_bytes(elf[o..o + 8].try_into().unwrap())).unwrap();
    assert!(elf.starts_with(b"\x7fELF\x02\x01"), "not a little-endian ELF64 image");
    let (shoff, shentsize, shnum) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c));
    let section = |i: usize| shoff + i * shentsize;
    let mut names = Vec::new();
    for s in (0..shnum).map(section).filter(|&s| u32_at(s + 4) == 2) {
        // SHT_SYMTAB: 24-byte symbols; names in the string table its sh_link names.
        let (offset, size) = (u64_at(s + 0x18), u64_at(s + 0x20));
        let strtab = u64_at(section(u32_at(s + 0x28)) + 0x18);
        for sym in (offset..offset + size).step_by(24) {
            let (info, shndx) = (elf[sym + 4], u16_at(sym + 6));
            if info & 0xf == 2 && shndx != 0 {
                let start = strtab + u32_at(sym);
                let end = start + elf[start..].iter().position(|&b| b == 0).unwrap();
                names.push(String::from_utf8_lossy(&elf[start..end]).into_owned());
            }
        }
    }
    names
}

/// Blocks of [`BLOCK_THREADS`] threads one multiprocessor of compute capability 8.x or 9.0 runs at once
/// with `registers` per thread, as far as registers limit it: 64 Ki registers, allocated per warp in
/// units of 256, and at most 48 (8.6, 8.9) or 64 (8.0, 9.0) warps.
fn blocks_per_multiprocessor(cc: ComputeCapability, registers: u32) -> u32 {
    let per_warp = (registers * 32).div_ceil(256) * 256;
    let warps_by_registers = 65_536 / per_warp.max(1);
    let max_warps = if matches!((cc.major, cc.minor), (8, 6) | (8, 9)) { 48 } else { 64 };
    warps_by_registers.min(max_warps) / (BLOCK_THREADS / 32)
}

/// The register table as source, for the failure message: the whole new [`REGISTERS`].
fn registers_source(measured: &[(String, [u32; 4])]) -> String {
    let rows: String = measured.iter().map(|(name, regs)| format!("    ({name:?}, {regs:?}),\n")).collect();
    format!("const REGISTERS: [(&str, [u32; 4]); {}] = [\n{rows}];\n", measured.len())
}

/// Every kernel compiles with the real NVRTC for sm_80, sm_86, sm_89 and sm_90, through
/// [`compile`] (the source and options of run time) and without a warning; the cubin defines every
/// kernel; no kernel spills registers or has a stack frame; and the registers are those of
/// [`REGISTERS`]. Needs NVRTC only, not a GPU; `cargo xtask test` provisions it.
#[test]
fn kernels_compile_for_recent_architectures() {
    let test = "kernels_compile_for_recent_architectures";
    if !nvrtc_present() {
        // A GPU machine (POST_REQUIRE_GPU=1) needs NVRTC too, whatever its version.
        let required = provisioned_nvrtc() || gpu_required();
        assert!(!required, "{test}: POST_REQUIRE_NVRTC=1 or POST_REQUIRE_GPU=1 but libnvrtc is not found");
        report(&format!(
            "SKIPPED {test}: NVRTC (libnvrtc) is not found (`cargo xtask test` provisions it; set \
             POST_REQUIRE_NVRTC=1 to make this a failure)\n"
        ));
        return;
    }
    let version = nvrtc_version().expect("NVRTC loads but does not say its version");
    let started = std::time::Instant::now();
    // One thread per architecture: each compile takes seconds.
    let images: Vec<Result<KernelImage, Error>> = std::thread::scope(|scope| {
        let handles: Vec<_> = ARCHS.iter().map(|&cc| scope.spawn(move || compile(cc))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let mut measured: Vec<(String, [u32; 4])> = KERNEL_NAMES.iter().map(|n| (n.to_string(), [0; 4])).collect();
    for (column, (cc, image)) in ARCHS.iter().zip(images).enumerate() {
        let image = image.unwrap_or_else(|e| panic!("{cc}: {e}"));
        assert_eq!((image.kind, image.arch.as_str()), (ImageKind::Cubin, cc.sm().as_str()), "{cc}");
        let warnings: Vec<&str> = image.log.lines().filter(|l| l.to_lowercase().contains("warning")).collect();
        assert!(warnings.is_empty(), "{cc}: NVRTC warns:\n{}", warnings.join("\n"));
        let functions = elf_functions(&image.bytes);
        for name in KERNEL_NAMES {
            assert!(functions.iter().any(|f| f == name), "{cc}: {name} is not in the cubin ({functions:?})");
        }
        let resources = ptxas_resources(&image.log);
        for (name, r) in &resources {
            assert!(
                KERNEL_NAMES.contains(&name.as_str()),
                "{cc}: ptxas reports a function that is not a kernel \
                (a device function that was not inlined): {name} {r:?}\n{}",
                image.log
            );
            assert_eq!((r.stack_frame, r.spill_stores, r.spill_loads), (0, 0, 0), "{cc}: {name} {r:?}\n{}", image.log);
            assert!(r.registers > 0, "{cc}: no register count for {name}\n{}", image.log);
        }
        for (name, regs) in &mut measured {
            let r = resources.iter().find(|(n, _)| n == name).map(|(_, r)| *r);
            regs[column] =
                r.unwrap_or_else(|| panic!("{cc}: ptxas reports nothing of {name}\n{}", image.log)).registers;
        }
    }
    let mut table = format!(
        "NVRTC {}.{}: kernel registers per thread (blocks of {BLOCK_THREADS} a multiprocessor runs as far as \
         registers allow), no stack frame, no spills; options {:?}; {} architectures compiled in {:.1} s\n{:<18}",
        version.0,
        version.1,
        nvrtc_options("sm_XX"),
        ARCHS.len(),
        elapsed.as_secs_f64(),
        "kernel"
    );
    for cc in ARCHS {
        table += &format!("{:>10}", cc.sm());
    }
    for (name, regs) in &measured {
        table += &format!("\n{name:<18}");
        for (cc, &r) in ARCHS.iter().zip(regs) {
            table += &format!("{:>10}", format!("{r} ({})", blocks_per_multiprocessor(*cc, r)));
        }
    }
    report(&format!("{table}\n"));
    let expected: Vec<(String, [u32; 4])> = REGISTERS.iter().map(|(n, r)| (n.to_string(), *r)).collect();
    if version == TABLE_NVRTC {
        assert!(
            measured == expected,
            "{test}: the kernels' registers changed (check occupancy and `post bench label`); the new table \
             for post-cuda/tests/gpu.rs:\n{}",
            registers_source(&measured)
        );
    } else {
        assert!(
            !provisioned_nvrtc(),
            "{test}: REGISTERS was measured with NVRTC {}.{} but {}.{} is loaded: the NVRTC wheel pinned in \
             xtask/src/tools.rs and TABLE_NVRTC must agree",
            TABLE_NVRTC.0,
            TABLE_NVRTC.1,
            version.0,
            version.1
        );
        report(&format!(
            "NOTE {test}: registers not compared: the table is for NVRTC {}.{}, this is {}.{}\n",
            TABLE_NVRTC.0, TABLE_NVRTC.1, version.0, version.1
        ));
    }
}

/// The log parser and the occupancy arithmetic (no NVRTC needed), on a log as NVRTC 12.9 writes it; and
/// the launch plan's example (`plan.rs`: three blocks a multiprocessor on an H200 with one thread a
/// label and gap 1) agrees with the register table.
#[test]
fn ptxas_log_and_occupancy() {
    let log = "ptxas info    : 0 bytes gmem\n\
        ptxas info    : Compiling entry function 'post_romix_t1_g1' for 'sm_90'\n\
        ptxas info    : Function properties for post_romix_t1_g1\n\
        ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n\
        ptxas info    : Used 66 registers, used 0 barriers\n\
        ptxas info    : Compile time = 310.429 ms\n\
        ptxas info    : Function properties for helper\n\
        ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n";
    let r = ptxas_resources(log);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0], ("post_romix_t1_g1".into(), Resources { registers: 66, ..Resources::default() }));
    assert_eq!(r[1].1, Resources { registers: 0, stack_frame: 16, spill_stores: 8, spill_loads: 4 });
    let h200 = ComputeCapability { major: 9, minor: 0 };
    let ada = ComputeCapability { major: 8, minor: 9 };
    assert_eq!(blocks_per_multiprocessor(h200, 66), 3);
    assert_eq!(blocks_per_multiprocessor(h200, 31), 8);
    assert_eq!(blocks_per_multiprocessor(ada, 31), 6);
    assert_eq!(blocks_per_multiprocessor(h200, 255), 1);
    let sm_90 = ARCHS.iter().position(|&cc| cc == h200).unwrap();
    let (_, t1_g1) = REGISTERS.iter().find(|(name, _)| *name == KernelVariant::ALL[0].romix_kernel(8192)).unwrap();
    assert_eq!(blocks_per_multiprocessor(h200, t1_g1[sm_90]), 3, "plan.rs assumes three blocks");
}
