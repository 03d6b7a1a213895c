//! Start-up time of RandomX fast mode, before and after the parallel dataset build: the dataset built
//! by `randomx-rs` in one call on one thread (what `RandomXPow` did before), then
//! `RandomXPow::new_with` on all threads of the rayon pool, each measured in wall and CPU seconds.
//!
//! ```text
//! cargo run -p post-proof --example randomx_startup [-- THREADS]    (dependencies, RandomX included, are
//!                                                                     optimized in the dev profile too)
//! ```
//! Needs about 2.3 GiB of memory (one dataset at a time).

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use post_proof::{CancelToken, RandomXMode, RandomXPow, RANDOMX_KEY};
use randomx_rs::{RandomXCache, RandomXDataset, RandomXFlag, RandomXVM};

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return 0.0 };
    // Fields after the command name (which ends with ')'): utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0 // USER_HZ
}

fn measure<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let out = f();
    println!("{what}: {:.1} s wall, {:.1} s CPU", wall.elapsed().as_secs_f64(), cpu_seconds() - cpu);
    out
}

fn main() {
    let threads = std::env::args().nth(1).map_or(0, |t| t.parse::<usize>().unwrap());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let input = b"randomx start-up";

    let flags = RandomXFlag::get_recommended_flags();
    let before = measure("before: randomx-rs RandomXDataset::new, 1 thread", || {
        let cache = RandomXCache::new(flags, RANDOMX_KEY).unwrap();
        let dataset = RandomXDataset::new(flags, cache, 0).unwrap();
        RandomXVM::new(flags | RandomXFlag::FLAG_FULL_MEM, None, Some(dataset)).unwrap()
    });
    let hash_before = before.calculate_hash(input).unwrap();
    drop(before);

    let after = measure(&format!("after: RandomXPow::new_with, {} threads", pool.current_num_threads()), || {
        pool.install(|| RandomXPow::new_with(RandomXMode::Fast, &CancelToken::new(), &|_, _| {})).unwrap()
    });
    assert_eq!(after.hash(input).unwrap().as_slice(), hash_before.as_slice(), "the two datasets hash differently");
    println!("same hash: {}", hex::encode(hash_before));
}
