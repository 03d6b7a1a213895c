//! The proving scan kernel per AES backend at 16, 64 and 288 nonces, one thread, on 16 MiB of random
//! labels in memory (as page-cached data would be), with the mainnet-like threshold of 4 units
//! (difficulty msb 0, so every byte compare is a tie candidate one time in 256).

use std::ops::ControlFlow;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use post_core::{proving_difficulty, Challenge, LabelIndex, LabelThreshold, NonceGroup};
use post_proof::{AesBackend, LabelScanner, NonceKeys};

fn scan(c: &mut Criterion) {
    let mut bytes = vec![0u8; 16 << 20];
    blake3::Hasher::new().update(b"scan bench").finalize_xof().fill(&mut bytes);
    let (labels, _) = bytes.as_chunks::<16>();
    let difficulty = proving_difficulty(26, 4 << 32).unwrap_or(0);
    let threshold = LabelThreshold::from_difficulty(difficulty);
    let challenge = Challenge([7; 32]);
    let mut group = c.benchmark_group("scan");
    group.throughput(Throughput::Bytes(bytes.len() as u64)).sample_size(10);
    for nonces in [16u32, 64, 288] {
        let keys = NonceKeys::new(&challenge, NonceGroup(0), &vec![0; (nonces / 16) as usize]);
        for backend in AesBackend::available() {
            let Ok(scanner) = LabelScanner::new(backend, &keys, threshold) else { continue };
            group.bench_with_input(BenchmarkId::new(backend.name(), nonces), &scanner, |b, s| {
                b.iter(|| s.scan(labels, LabelIndex(0), &mut |_, _| ControlFlow::Continue(())))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scan);
criterion_main!(benches);
