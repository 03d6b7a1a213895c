//! Throughput of every fast labeller backend this CPU supports at the network's cost (N = 8192),
//! next to the reference labeller in the same group so that the report shows the ratio. Run
//! `cargo bench -p post-oracle --bench fast`; bound the threads with `RAYON_NUM_THREADS=1` for the
//! per-core figure.
//!
//! `checked` measures what the GPU batch check costs, with the CPU standing in for the GPU: the fastest
//! CPU labeller alone, and the same wrapped in `CheckedLabeller` (checked on the reference labeller, as
//! `post` checks a GPU), on batches of 4096 labels.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{Backend, CheckedLabeller, FastLabeller, LabelJob, Labeller, ReferenceLabeller};

/// Labels per measured call: four lane groups of the widest backend, so every backend fills its lanes.
const BATCH: usize = 128;

fn labellers() -> Vec<Box<dyn Labeller>> {
    let mut all: Vec<Box<dyn Labeller>> = vec![Box::new(ReferenceLabeller)];
    for backend in Backend::available() {
        if let Ok(fast) = FastLabeller::with_backend(backend) {
            all.push(Box::new(fast));
        }
    }
    all
}

fn fast(c: &mut Criterion) {
    let commitment = Commitment([7; 32]);
    let threshold = [0x01; 32];
    let mut out = vec![0u8; BATCH * 16];
    let mut group = c.benchmark_group("labels N=8192");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    for labeller in labellers() {
        group.bench_function(labeller.name(), |b| {
            b.iter(|| {
                labeller.label(LabelJob {
                    commitment: &commitment,
                    params: ScryptParams::MAINNET,
                    start: LabelIndex(1 << 32),
                    out: &mut out,
                    vrf_threshold: Some(&threshold),
                })
            })
        });
    }
    group.finish();
}

fn checked(c: &mut Criterion) {
    const CHECKED_BATCH: usize = 4096;
    let commitment = Commitment([7; 32]);
    let threshold = [0x01; 32];
    let mut out = vec![0u8; CHECKED_BATCH * 16];
    let plain = FastLabeller::new();
    let checked = CheckedLabeller::new(Box::new(FastLabeller::new()), Box::new(ReferenceLabeller), Box::new(|_| {}));
    let mut group = c.benchmark_group("checked batches N=8192");
    group.throughput(Throughput::Elements(CHECKED_BATCH as u64));
    group.sample_size(10);
    let all: [(&str, &dyn Labeller); 2] = [("unchecked", &plain), ("checked", &checked)];
    for (name, labeller) in all {
        let mut start = 1u64 << 32;
        group.bench_function(name, |b| {
            b.iter(|| {
                start += CHECKED_BATCH as u64;
                labeller.label(LabelJob {
                    commitment: &commitment,
                    params: ScryptParams::MAINNET,
                    start: LabelIndex(start),
                    out: &mut out,
                    vrf_threshold: Some(&threshold),
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, fast, checked);
criterion_main!(benches);
