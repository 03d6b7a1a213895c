//! One RandomX hash of a k2 proof-of-work input in light mode (the verifier's), with the cache and VM
//! built once outside the loop. Fast mode needs a 2 GiB dataset and tens of seconds to build; measure it
//! with `post bench pow --mode fast`.

use criterion::{criterion_group, criterion_main, Criterion};
use post_core::{Challenge, NodeId, NonceGroup};
use post_proof::{PowJob, RandomXMode, RandomXPow};

fn pow(c: &mut Criterion) {
    let Ok(rx) = RandomXPow::new(RandomXMode::Light) else { return };
    let (challenge, miner) = (Challenge([1; 32]), NodeId([2; 32]));
    let job = PowJob { group: NonceGroup(0), challenge: &challenge, miner: &miner, threshold: &[0xff; 32] };
    let mut nonce = 0u64;
    let mut group = c.benchmark_group("pow");
    group.sample_size(20);
    group.bench_function("randomx_light_hash", |b| {
        b.iter(|| {
            nonce += 1;
            rx.hash(&job.input(nonce))
        })
    });
    group.finish();
}

criterion_group!(benches, pow);
criterion_main!(benches);
