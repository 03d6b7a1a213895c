//! How long proving will take, measured before it starts: the scan's speed on this data with this many
//! nonces, and RandomX's hash rate, turned into the time of one pass and of its proof of work. Used by
//! `post prove --deadline` and `post bench plan`.
//!
//! ```text
//! k2pow of a pass = groups · 2^64 / (top 64 bits of pow_difficulty / num_units) / hashes per second
//! scan of a pass  = data bytes / scan bytes per second (a short scan of the data, page cache included)
//! ```

use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use post_core::{proving_difficulty, scale_pow_difficulty, Challenge, LabelThreshold, NonceGroup, PostData};
use post_proof::{measure_scan, AesBackend, JobParams, LabelRegion, LabelScanner, MappedData, NonceKeys, RandomXPow};
use rayon::prelude::*;

/// A time by which a proof is wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(SystemTime);

impl Deadline {
    /// The time.
    pub fn at(self) -> SystemTime {
        self.0
    }
}

/// Parses an RFC 3339 time (`2026-12-03T20:00:00Z`) or a duration from now (`12h`, `90min`).
pub fn deadline(text: &str) -> Result<Deadline, String> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(Deadline(at));
    }
    match humantime::parse_duration(text) {
        Ok(after) => Ok(Deadline(SystemTime::now() + after)),
        Err(e) => Err(format!("{text:?} is neither an RFC 3339 time (2026-12-03T20:00:00Z) nor a duration (12h): {e}")),
    }
}

/// Expected RandomX hashes for one nonce group: 2^64 over the top 64 bits of the scaled threshold.
///
/// # Errors
/// A difficulty that cannot be scaled.
pub fn expected_hashes(pow_difficulty: &[u8; 32], num_units: u32) -> anyhow::Result<f64> {
    let threshold = scale_pow_difficulty(pow_difficulty, num_units)?;
    let mut top = [0u8; 8];
    top.copy_from_slice(&threshold[..8]);
    Ok(2f64.powi(64) / (u64::from_be_bytes(top) as f64 + 1.0))
}

/// Bytes per second of the scan over `regions` with `nonces` nonces on the current rayon pool, measured
/// for `time`.
///
/// # Errors
/// No data, or a scanner that cannot be built.
pub fn scan_rate(
    regions: &[LabelRegion<'_>],
    nonces: u32,
    k1: u32,
    backend: AesBackend,
    time: Duration,
) -> anyhow::Result<f64> {
    let num_labels: u64 = regions.iter().map(|r| r.labels.len() as u64).sum();
    let threshold = LabelThreshold::from_difficulty(proving_difficulty(k1, num_labels.max(1))?);
    let keys = NonceKeys::new(&Challenge([0x5a; 32]), NonceGroup(0), &vec![0; (nonces / 16) as usize]);
    let scanner = LabelScanner::new(backend, &keys, threshold)?;
    let (bytes, took) = measure_scan(regions, &scanner, nonces, time)?;
    Ok(bytes as f64 / took.as_secs_f64().max(1e-9))
}

/// RandomX hashes per second on the current rayon pool (about half a second of hashing).
///
/// # Errors
/// A RandomX failure.
pub fn hash_rate(pow: &RandomXPow) -> anyhow::Result<f64> {
    let per_thread = 8u64;
    let clock = std::time::Instant::now();
    let mut hashes = 0u64;
    while clock.elapsed() < Duration::from_millis(500) {
        let n = per_thread * rayon::current_num_threads() as u64;
        (0..n).into_par_iter().try_for_each(|i| pow.hash(&i.to_le_bytes()).map(|_| ()))?;
        hashes += n;
    }
    Ok(hashes as f64 / clock.elapsed().as_secs_f64())
}

/// The time of one pass: its proof of work and its scan.
#[derive(Debug, Clone, Copy)]
pub struct Estimate {
    /// Proof of work of one pass.
    pub k2pow: Duration,
    /// Scan of one pass.
    pub scan: Duration,
}

/// Estimates one pass of `params` on `data` with `pow` (`hashes`: expected hashes of a pass).
///
/// # Errors
/// The data cannot be mapped, or a measurement fails.
pub fn estimate(data: &PostData, params: &JobParams, pow: &RandomXPow, hashes: f64) -> anyhow::Result<Estimate> {
    let mapped = MappedData::open(data).context("mapping the data to measure the scan")?;
    let regions = mapped.regions();
    let rate = scan_rate(&regions, params.nonces, params.k1, params.backend, Duration::from_secs(2))?;
    let hashes_per_sec = hash_rate(pow)?;
    Ok(Estimate {
        k2pow: Duration::from_secs_f64(hashes / hashes_per_sec.max(1e-9)),
        scan: Duration::from_secs_f64(mapped.len_bytes() as f64 / rate.max(1e-9)),
    })
}

/// Logs the expected finish of one pass against the deadline, as a warning when it is late.
pub fn warn_if_late(estimate: &Estimate, deadline: SystemTime) {
    let total = estimate.k2pow + estimate.scan;
    let finish = SystemTime::now() + total;
    let at = humantime::format_rfc3339_seconds(finish);
    let line = format!(
        "one pass is expected to take {} (k2pow {}, scan {}), finishing at {at}",
        human(total),
        human(estimate.k2pow),
        human(estimate.scan)
    );
    match deadline.duration_since(finish) {
        Ok(spare) => tracing::info!("prove: {line}, {} before the deadline", human(spare)),
        Err(late) => tracing::warn!(
            "prove: {line}, {} AFTER the deadline {}: use more threads, fewer nonces (post bench plan) or start \
             earlier",
            human(late.duration()),
            humantime::format_rfc3339_seconds(deadline)
        ),
    }
}

/// A duration rounded to seconds, as `1h 2m 3s`.
pub fn human(d: Duration) -> String {
    humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_times_or_durations() {
        let soon = deadline("2h").map(Deadline::at).ok();
        let now = SystemTime::now();
        assert!(soon.is_some_and(|t| t > now + Duration::from_secs(7100) && t < now + Duration::from_secs(7300)));
        let fixed = deadline("2026-12-03T20:00:00Z").map(Deadline::at).ok();
        assert_eq!(
            fixed.map(humantime::format_rfc3339_seconds).map(|t| t.to_string()).as_deref(),
            Some("2026-12-03T20:00:00Z")
        );
        assert!(deadline("tomorrow").is_err_and(|e| e.contains("RFC 3339")));
    }

    #[test]
    fn expected_hashes_follow_the_difficulty() {
        let mut difficulty = [0u8; 32];
        difficulty[0] = 0x01; // 2^56 of 2^64: about 256 hashes
        let one = expected_hashes(&difficulty, 1).unwrap_or_default();
        assert!((one - 256.0).abs() < 1.0, "{one}");
        let four = expected_hashes(&difficulty, 4).unwrap_or_default();
        assert!((four / one - 4.0).abs() < 0.01, "{four}");
    }
}
