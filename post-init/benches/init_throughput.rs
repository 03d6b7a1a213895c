//! Initialization throughput against the labeller's own: the same labels computed in the same batches,
//! once into a buffer that is thrown away, once through `prepare` + `run` (writer thread, files, fsync,
//! VRF search, metadata). The ratio is the pipeline's overhead; the goal is at least 95 %.
//!
//! Run: `cargo bench -p post-init --bench init_throughput`.

#![allow(clippy::unwrap_used, missing_docs)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use post_core::{AtxId, Commitment, InitConfig, LabelIndex, NodeId, ScryptParams};
use post_init::{CancelToken, InitRequest, NoProgress, Tuning};
use post_oracle::{FastLabeller, LabelJob, Labeller};

const LABELS: u64 = 8192;
const BATCH: usize = 1024;

fn config(n: u64) -> InitConfig {
    InitConfig {
        labels_per_unit: LABELS,
        min_num_units: 1,
        max_num_units: 1,
        max_file_size: 1 << 16,
        scrypt: ScryptParams::with_n(n).unwrap(),
    }
}

fn throughput(c: &mut Criterion) {
    let labeller = FastLabeller::new();
    for n in [512u64, 8192] {
        let mut group = c.benchmark_group(format!("init N={n} {}", labeller.name()));
        group.sample_size(10).throughput(Throughput::Elements(LABELS));
        let commitment: Commitment = post_core::commitment(&NodeId([7; 32]), &AtxId([9; 32]));
        let difficulty = post_core::vrf_difficulty(LABELS).unwrap();
        group.bench_function("labeller alone", |b| {
            let mut buf = vec![0u8; BATCH * 16];
            b.iter(|| {
                let mut threshold = difficulty;
                for start in (0..LABELS).step_by(BATCH) {
                    let job = LabelJob {
                        commitment: &commitment,
                        params: config(n).scrypt,
                        start: LabelIndex(start),
                        out: &mut buf,
                        vrf_threshold: Some(&threshold),
                    };
                    if let Some(c) = labeller.label(job).unwrap() {
                        threshold = c.label;
                    }
                }
            });
        });
        group.bench_function("init to disk", |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |dir| {
                    let request = InitRequest {
                        dir: dir.path().join("data"),
                        node_id: NodeId([7; 32]),
                        atx_id: AtxId([9; 32]),
                        config: config(n),
                        num_units: 1,
                        files: None,
                        tuning: Tuning { batch: Some(BATCH), ..Tuning::default() },
                    };
                    post_init::prepare(&request, &labeller, &labeller)
                        .unwrap()
                        .run(&CancelToken::new(), &NoProgress)
                        .unwrap();
                    dir
                },
                BatchSize::PerIteration,
            );
        });
        group.finish();
    }
}

criterion_group!(benches, throughput);
criterion_main!(benches);
