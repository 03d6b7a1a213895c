//! This CPU's raw throughput for the two hot loops, on several threads at once: the AES ceiling of the
//! proving scan and the ChaCha20/8 ceiling of the labeller. `post bench ceiling` prints them;
//! `post bench prove` and `post bench label` measure them briefly to print their figure as a share of
//! the ceiling, a ratio that does not depend on the machine's clock or its neighbours.

use std::sync::Barrier;
use std::time::Duration;

use anyhow::Context;
use post_core::ScryptParams;
use post_oracle::{chacha_ceiling, label_ceiling_per_second, Backend};
use post_proof::{aes_ceiling, scan_ceiling_bytes_per_second, AesBackend};

/// Bytes in a GiB.
const GIB: f64 = (1u64 << 30) as f64;

/// The longest the prove and label benches spend measuring the ceiling before their own measurement.
const SHARE_SECONDS: f64 = 1.0;

/// How long a bench that runs for `seconds` measures the ceiling: one second, or less for a shorter bench.
pub fn share_duration(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds.min(SHARE_SECONDS))
}

/// Runs `rate` on `threads` threads started together and adds up their rates.
fn on_threads(threads: usize, rate: impl Fn() -> anyhow::Result<f64> + Sync) -> anyhow::Result<f64> {
    let start = Barrier::new(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    rate()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| anyhow::anyhow!("a ceiling thread panicked"))?)
            .sum::<anyhow::Result<f64>>()
    })
}

/// AES-128 block encryptions per second of `threads` threads on `backend`.
///
/// # Errors
/// When this CPU cannot run `backend`.
pub fn aes_blocks_per_second(backend: AesBackend, threads: usize, duration: Duration) -> anyhow::Result<f64> {
    on_threads(threads, || {
        let rate = aes_ceiling(backend, duration).with_context(|| format!("AES ceiling on {}", backend.name()))?;
        Ok(rate.blocks_per_second())
    })
}

/// ChaCha20/8 cores per second of `threads` threads on `backend`.
///
/// # Errors
/// When this CPU cannot run `backend`.
pub fn chacha_cores_per_second(backend: Backend, threads: usize, duration: Duration) -> anyhow::Result<f64> {
    on_threads(threads, || {
        let rate = chacha_ceiling(backend, duration).with_context(|| format!("ChaCha20/8 ceiling on {backend}"))?;
        Ok(rate.cores_per_second())
    })
}

/// The proving scan's ceiling in GiB/s at `nonces` nonces.
pub fn scan_gib_per_second(aes_blocks_per_second: f64, nonces: u32) -> f64 {
    scan_ceiling_bytes_per_second(aes_blocks_per_second, nonces) / GIB
}

/// The labeller's arithmetic ceiling in labels/s.
pub fn labels_per_second(chacha_cores_per_second: f64, params: ScryptParams) -> f64 {
    label_ceiling_per_second(chacha_cores_per_second, params)
}

/// A JSON number, or `null` when absent.
pub fn json_number(value: Option<f64>, decimals: usize) -> String {
    value.filter(|v| v.is_finite()).map_or_else(|| "null".into(), |v| format!("{v:.decimals$}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_add_up_and_derivations_follow_the_design() -> anyhow::Result<()> {
        assert_eq!(on_threads(3, || Ok(2.0))?, 6.0);
        assert!(on_threads(2, || anyhow::bail!("no")).is_err());
        assert_eq!(scan_gib_per_second(18.0 * GIB / 16.0, 288), 1.0);
        assert_eq!(labels_per_second(32_768.0, ScryptParams::with_n(8192)?), 1.0);
        assert_eq!(json_number(None, 2), "null");
        assert_eq!(json_number(Some(0.125), 2), "0.12");
        Ok(())
    }
}
