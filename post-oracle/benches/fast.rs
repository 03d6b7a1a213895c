//! Throughput of every fast labeller backend this CPU supports at the network's cost (N = 8192),
//! next to the reference labeller in the same group so that the report shows the ratio. Run
//! `cargo bench -p post-oracle --bench fast`; bound the threads with `RAYON_NUM_THREADS=1` for the
//! per-core figure.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{Backend, FastLabeller, LabelJob, Labeller, ReferenceLabeller};

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

criterion_group!(benches, fast);
criterion_main!(benches);
