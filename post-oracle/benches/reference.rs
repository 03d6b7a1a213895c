//! Throughput of the reference labeller at the network's cost (N = 8192): the baseline every fast
//! backend is compared with. Run `cargo bench -p post-oracle --bench reference`; bound the threads
//! with `RAYON_NUM_THREADS=1` for the per-core figure.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use post_core::{Commitment, LabelIndex, ScryptParams};
use post_oracle::{LabelJob, Labeller, ReferenceLabeller};

/// Labels per measured call.
const BATCH: usize = 64;

fn reference(c: &mut Criterion) {
    let commitment = Commitment([7; 32]);
    let threshold = [0xff; 32];
    let mut out = vec![0u8; BATCH * 16];
    let mut group = c.benchmark_group("reference");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(10);
    group.bench_function("labels N=8192", |b| {
        b.iter(|| {
            ReferenceLabeller.label(LabelJob {
                commitment: &commitment,
                params: ScryptParams::MAINNET,
                start: LabelIndex(1 << 32),
                out: &mut out,
                vrf_threshold: Some(&threshold),
            })
        })
    });
    group.finish();
}

criterion_group!(benches, reference);
criterion_main!(benches);
