//! Labels per second of every kernel variant on CUDA device 0 at the network's scrypt N = 8192.
//!
//! Each measured call labels one `preferred_batch()` (four device batches, both pipeline slots busy)
//! with the VRF search on, as initialization does. Without a device the benchmark prints why and
//! measures nothing, so `cargo bench --no-run` and CI work everywhere.
//!
//! Run: `cargo bench -p post-cuda --bench cuda_label` (the report is in labels/s: "thrpt").

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use post_core::{Commitment, LabelIndex, ScryptParams};
use post_cuda::{devices, CudaLabeller, CudaOptions, KernelVariant, VariantChoice};
use post_oracle::{LabelJob, Labeller};

fn cuda_label(c: &mut Criterion) {
    match devices() {
        Ok(list) if !list.is_empty() => eprintln!("benchmarking {}", list[0]),
        Ok(_) => return eprintln!("SKIPPED cuda_label: the CUDA driver reports no device"),
        Err(e) => return eprintln!("SKIPPED cuda_label: {e}"),
    }
    let mut group = c.benchmark_group("cuda_label_n8192");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(10));
    let commitment = Commitment([0x42; 32]);
    let threshold = [
        0x00, 0x00, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    for variant in KernelVariant::ALL {
        let options = CudaOptions { variant: VariantChoice::Fixed(variant), ..CudaOptions::default() };
        let gpu = match CudaLabeller::new(0, &options) {
            Ok(g) => g,
            Err(e) => {
                eprintln!("SKIPPED {variant}: {e}");
                continue;
            }
        };
        let mut out = vec![0u8; gpu.preferred_batch() * 16];
        let labels = out.len() as u64 / 16;
        let mut start = 0u64;
        let run = |out: &mut [u8], start: u64| {
            let job = LabelJob {
                commitment: &commitment,
                params: ScryptParams::MAINNET,
                start: LabelIndex(start),
                out,
                vrf_threshold: Some(&threshold),
            };
            gpu.label(job)
        };
        // One call outside the measurement sizes the buffers and reports a failure once.
        if let Err(e) = run(&mut out, 0) {
            eprintln!("SKIPPED {variant}: {e}");
            continue;
        }
        eprintln!("{variant}: {} labels per device batch, {labels} per call", gpu.batch_labels(8192).unwrap_or(0));
        group.throughput(Throughput::Elements(labels));
        group.bench_function(variant.to_string(), |b| {
            b.iter(|| {
                start += labels;
                run(&mut out, start)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, cuda_label);
criterion_main!(benches);
