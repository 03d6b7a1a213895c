//! A labeller whose every batch is checked on an independent one before anyone uses it.
//!
//! A GPU kernel or host bug is systematic: the labeller that wrote the data would agree with itself in
//! every later check. So each batch of the fast labeller (a GPU) is compared with a second labeller
//! (the CPU) on a few of its labels before it is returned:
//!
//! ```text
//! 1. label the batch with the fast labeller
//! 2. recompute on the checker: the first and the last label and one at a random index (16 of them
//!    for each of the first batches, while the device is new); compare the stored 16 bytes
//! 3. recompute the VRF candidate the fast labeller reported and compare the full 32 bytes
//! 4. on a mismatch or an error: report it (device, batch, index) through the callback, label the
//!    whole batch again on the checker, and never use the fast labeller again
//! ```
//!
//! The caller writes only what `label` returns, so nothing of a failed batch reaches a file, and the
//! job goes on, slower, with byte-identical data. Three labels per batch on the CPU cost well under
//! 1 % of a GPU batch (about 3 ms at N = 8192 against the seconds a batch of a million labels takes).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use post_core::LabelIndex;

use crate::{Error, LabelJob, Labeller, VrfCandidate};

/// Batches checked with [`NEW_DEVICE_SAMPLES`] labels each, before [`SAMPLES`] are enough.
const NEW_DEVICE_BATCHES: u64 = 8;
/// Labels recomputed per batch while the device is new.
const NEW_DEVICE_SAMPLES: usize = 16;
/// Labels recomputed per batch afterwards: the first, the last and one at random.
const SAMPLES: usize = 3;

/// Why a batch of the fast labeller was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckFailure {
    /// The fast labeller's name (the device).
    pub labeller: String,
    /// The first index of the refused batch.
    pub batch_start: u64,
    /// Labels in the batch.
    pub batch_len: u64,
    /// The label found wrong, when one was (none when the labeller failed outright).
    pub index: Option<u64>,
    /// What was wrong, in words.
    pub reason: String,
}

/// Hears, once, of the failure that retires the fast labeller.
pub type FailureSink = Box<dyn Fn(&CheckFailure) + Send + Sync>;

/// A fast labeller checked batch by batch on an independent one; see the module documentation.
pub struct CheckedLabeller {
    fast: Box<dyn Labeller>,
    checker: Box<dyn Labeller>,
    batches: AtomicU64,
    failed: AtomicBool,
    on_failure: FailureSink,
}

impl std::fmt::Debug for CheckedLabeller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedLabeller")
            .field("fast", &self.fast.name())
            .field("checker", &self.checker.name())
            .field("failed", &self.failed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl CheckedLabeller {
    /// Checks `fast` on `checker`; `on_failure` hears of the failure that retires `fast`.
    pub fn new(fast: Box<dyn Labeller>, checker: Box<dyn Labeller>, on_failure: FailureSink) -> Self {
        Self { fast, checker, batches: AtomicU64::new(0), failed: AtomicBool::new(false), on_failure }
    }

    /// Whether the fast labeller was retired after a failed check.
    pub fn has_failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// The indices to recompute for batch number `batch` of `count` labels from `start`.
    fn samples(batch: u64, start: u64, count: u64) -> Vec<u64> {
        let wanted = if batch < NEW_DEVICE_BATCHES { NEW_DEVICE_SAMPLES } else { SAMPLES };
        let mut picks = vec![start, start + count - 1];
        // A splitmix64 step over the batch's position: different indices in every batch, the same on
        // every run.
        let mut state = start ^ batch.rotate_left(32) ^ 0x9e37_79b9_7f4a_7c15;
        while picks.len() < wanted.min(count as usize) {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            picks.push(start + z % count);
        }
        picks.sort_unstable();
        picks.dedup();
        picks
    }

    /// The full 32-byte label at `index`, from the checker.
    fn full_label(&self, job: &LabelJob<'_>, index: u64) -> Result<([u8; 16], [u8; 32]), Error> {
        let mut stored = [0u8; 16];
        let all = [0xff; 32];
        let candidate = self.checker.label(LabelJob {
            commitment: job.commitment,
            params: job.params,
            start: LabelIndex(index),
            out: &mut stored,
            vrf_threshold: Some(&all),
        })?;
        // Only a label of 32 bytes 0xff is not below the all-ones threshold (probability 2^-256).
        let full = candidate.map_or([0xff; 32], |c| c.label);
        Ok((stored, full))
    }

    /// Steps 2–3: `None` when the batch agrees with the checker, else what differs.
    fn verify(
        &self,
        job: &LabelJob<'_>,
        batch: u64,
        candidate: Option<&VrfCandidate>,
    ) -> Result<Option<(Option<u64>, String)>, Error> {
        let (start, count) = (job.start.0, job.count());
        for index in Self::samples(batch, start, count) {
            let (stored, _) = self.full_label(job, index)?;
            let at = ((index - start) * 16) as usize;
            if job.out[at..at + 16] != stored {
                return Ok(Some((
                    Some(index),
                    format!("label {index} is {} but the CPU computes {}", hex(&job.out[at..at + 16]), hex(&stored)),
                )));
            }
        }
        if let Some(c) = candidate {
            let index = c.index.0;
            if !(start..start + count).contains(&index) {
                return Ok(Some((Some(index), format!("VRF candidate {index} lies outside the batch"))));
            }
            let (_, full) = self.full_label(job, index)?;
            let below = job.vrf_threshold.is_some_and(|t| full < *t);
            if full != c.label || !below {
                return Ok(Some((Some(index), format!("VRF candidate {index}: the CPU computes another full label"))));
            }
        }
        Ok(None)
    }

    fn retire(&self, failure: CheckFailure) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            (self.on_failure)(&failure);
        }
    }
}

/// The self-test of a device when it opens: 64 labels around index 2^32 (where the index's upper
/// half starts to count), in two calls whose boundary falls inside the range, each compared in full
/// with `checker`, and the VRF candidate of each call compared too. `Err` names what differs.
///
/// # Errors
/// The failure, with the device's name, the first label that differs (or the device's own error).
pub fn self_test(
    fast: &dyn Labeller,
    checker: &dyn Labeller,
    commitment: &post_core::Commitment,
    params: post_core::ScryptParams,
) -> Result<(), CheckFailure> {
    const FIRST: u64 = (1 << 32) - 40;
    let all = [0xff; 32];
    for (start, count) in [(FIRST, 40u64), (FIRST + 40, 24)] {
        let fail = |index: Option<u64>, reason: String| CheckFailure {
            labeller: fast.name(),
            batch_start: start,
            batch_len: count,
            index,
            reason: format!("self-test: {reason}"),
        };
        let mut got = vec![0u8; count as usize * 16];
        let mut want = got.clone();
        let job = |out| LabelJob { commitment, params, start: LabelIndex(start), out, vrf_threshold: Some(&all) };
        let got_best = fast.label(job(&mut got)).map_err(|e| fail(None, e.to_string()))?;
        let want_best = checker.label(job(&mut want)).map_err(|e| fail(None, format!("the checker failed: {e}")))?;
        if let Some(k) = (0..count as usize).find(|&k| got[k * 16..k * 16 + 16] != want[k * 16..k * 16 + 16]) {
            let index = start + k as u64;
            return Err(fail(
                Some(index),
                format!(
                    "label {index} is {} but the CPU computes {}",
                    hex(&got[k * 16..k * 16 + 16]),
                    hex(&want[k * 16..k * 16 + 16])
                ),
            ));
        }
        if got_best != want_best {
            return Err(fail(got_best.map(|c| c.index.0), "the VRF candidate differs from the CPU's".into()));
        }
    }
    Ok(())
}

impl Labeller for CheckedLabeller {
    fn name(&self) -> String {
        if self.has_failed() {
            return format!("{} (after {} failed its check)", self.checker.name(), self.fast.name());
        }
        format!("{} (checked on {})", self.fast.name(), self.checker.name())
    }

    fn preferred_batch(&self) -> usize {
        if self.has_failed() {
            self.checker.preferred_batch()
        } else {
            self.fast.preferred_batch()
        }
    }

    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, Error> {
        job.check()?;
        if self.has_failed() || job.count() == 0 {
            return self.checker.label(job);
        }
        let batch = self.batches.fetch_add(1, Ordering::Relaxed);
        let result = self.fast.label(LabelJob {
            commitment: job.commitment,
            params: job.params,
            start: job.start,
            out: &mut *job.out,
            vrf_threshold: job.vrf_threshold,
        });
        let failure = match result {
            Ok(candidate) => match self.verify(&job, batch, candidate.as_ref())? {
                None => return Ok(candidate),
                Some((index, reason)) => (index, reason),
            },
            Err(e) => (None, e.to_string()),
        };
        self.retire(CheckFailure {
            labeller: self.fast.name(),
            batch_start: job.start.0,
            batch_len: job.count(),
            index: failure.0,
            reason: failure.1,
        });
        // Step 4: the whole batch again, on the checker; the caller never sees the refused bytes.
        self.checker.label(job)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
