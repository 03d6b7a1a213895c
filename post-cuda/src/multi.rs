//! `MultiGpuLabeller`: several GPUs in one process behind one `Labeller`.
//!
//! A job is cut into chunks handed out from one shared queue ([`share`]):
//! 1. each device runs on its own thread and takes the next chunk whenever it finishes one, so a
//!    faster card simply takes more chunks;
//! 2. chunks shrink as the job ends (guided scheduling): a device takes its preferred batch, but at
//!    most an equal share of half of what is left, and at least a quarter of its preferred batch (one
//!    GPU batch); so at the end every device finishes within about one small chunk of the others
//!    and the job never waits for the slowest card to finish a big one;
//! 3. each chunk is a disjoint part of the caller's buffer, labelled by one device alone;
//! 4. a device that fails (a backend error: lost, out of memory, a driver fault) takes no more chunks,
//!    and its unfinished chunk goes back to the queue for the others to label again; the job fails
//!    only when every device has failed (the error names each) or on an error that any device would
//!    give (bad parameters, a range past 2^64 − 1);
//! 5. the best VRF candidate is the best of all completed chunks' candidates (a failed chunk's
//!    partial candidate is dropped with the chunk and found again when it is relabelled).

use std::panic::{catch_unwind, AssertUnwindSafe};

use parking_lot::{Condvar, Mutex};
use post_core::LabelIndex;
use post_oracle::{LabelJob, Labeller, VrfCandidate};

use crate::spec::{CudaSpec, DeviceSelection};
use crate::{devices, CudaLabeller, CudaOptions, Error};

/// Labels on several CUDA devices at once.
#[derive(Debug)]
pub struct MultiGpuLabeller {
    devices: Vec<CudaLabeller>,
}

/// A chunk of a job: the index of its first label and its part of the caller's buffer.
type Chunk<'a> = (u64, &'a mut [u8]);

/// The shared queue of a job.
struct Queue<'a> {
    /// The not yet handed out rest of the buffer.
    rest: &'a mut [u8],
    /// The index of its first label.
    start: u64,
    /// Chunks of failed devices, to label again first.
    retry: Vec<Chunk<'a>>,
    /// Chunks being labelled now.
    in_hand: usize,
    /// Devices still taking work.
    live: usize,
    /// An error that ends the job for every device.
    fatal: Option<post_oracle::Error>,
}

impl<'a> Queue<'a> {
    fn new(rest: &'a mut [u8], start: u64, devices: usize) -> Self {
        Self { rest, start, retry: Vec::new(), in_hand: 0, live: devices, fatal: None }
    }

    /// The next chunk for a device that prefers `preferred` labels, without waiting: a chunk to label
    /// again first, else a new one from the rest.
    fn take(&mut self, preferred: usize) -> Option<Chunk<'a>> {
        if let Some(chunk) = self.retry.pop() {
            self.in_hand += 1;
            return Some(chunk);
        }
        if self.rest.is_empty() {
            return None;
        }
        let left = self.rest.len() / 16;
        let preferred = preferred.max(1);
        let share = left / (2 * self.live.max(1));
        let labels = share.clamp(preferred.div_ceil(4), preferred).min(left);
        let (chunk, rest) = std::mem::take(&mut self.rest).split_at_mut(labels * 16);
        self.rest = rest;
        let start = self.start;
        self.start += labels as u64;
        self.in_hand += 1;
        Some((start, chunk))
    }

    /// Whether nothing is left to hand out and nothing is being labelled that could come back.
    fn finished(&self) -> bool {
        self.fatal.is_some() || (self.retry.is_empty() && self.rest.is_empty() && self.in_hand == 0)
    }
}

/// Whether an error is the device's own (another device may succeed) rather than the job's.
fn device_failure(e: &post_oracle::Error) -> bool {
    matches!(e, post_oracle::Error::Backend { .. })
}

/// Labels a job on several labellers, each on its own thread, through one queue (see the module's
/// steps).
fn share<L: Labeller>(devices: &[L], job: LabelJob<'_>) -> Result<Option<VrfCandidate>, post_oracle::Error> {
    let LabelJob { commitment, params, start, out, vrf_threshold } = job;
    let queue = Mutex::new(Queue::new(out, start.0, devices.len()));
    let changed = Condvar::new();
    let results: Vec<Result<Option<VrfCandidate>, post_oracle::Error>> = std::thread::scope(|scope| {
        let workers: Vec<_> = devices
            .iter()
            .map(|device| {
                let (queue, changed) = (&queue, &changed);
                scope.spawn(move || {
                    let mut best = None;
                    let preferred = device.preferred_batch();
                    loop {
                        let (first, chunk) = {
                            let mut q = queue.lock();
                            loop {
                                if q.finished() {
                                    return Ok(best);
                                }
                                if let Some(chunk) = q.take(preferred) {
                                    break chunk;
                                }
                                // Nothing to take now, but a chunk in another device's hands may come back.
                                changed.wait(&mut q);
                            }
                        };
                        let job =
                            LabelJob { commitment, params, start: LabelIndex(first), out: &mut *chunk, vrf_threshold };
                        // A panic is the device's failure like any other, so its chunk comes back.
                        let result = catch_unwind(AssertUnwindSafe(|| device.label(job))).unwrap_or_else(|_| {
                            Err(post_oracle::Error::Backend {
                                labeller: device.name(),
                                message: "the labeller panicked".into(),
                            })
                        });
                        let mut q = queue.lock();
                        q.in_hand -= 1;
                        changed.notify_all();
                        match result {
                            Ok(found) => best = VrfCandidate::better(best, found),
                            Err(e) if device_failure(&e) => {
                                q.retry.push((first, chunk));
                                q.live -= 1;
                                return Err(e);
                            }
                            Err(e) => {
                                q.fatal.get_or_insert(e);
                                return Ok(None);
                            }
                        }
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .zip(devices)
            .map(|(w, d)| {
                w.join().unwrap_or_else(|_| {
                    Err(post_oracle::Error::Backend {
                        labeller: d.name(),
                        message: "the device's thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let queue = queue.into_inner();
    if let Some(e) = queue.fatal {
        return Err(e);
    }
    let mut best = None;
    let mut failures = Vec::new();
    for r in results {
        match r {
            Ok(found) => best = VrfCandidate::better(best, found),
            Err(e) => failures.push(e.to_string()),
        }
    }
    // Every chunk was labelled unless every device failed.
    if !queue.rest.is_empty() || !queue.retry.is_empty() || queue.in_hand != 0 {
        let names: Vec<String> = devices.iter().map(Labeller::name).collect();
        return Err(post_oracle::Error::Backend {
            labeller: names.join(" + "),
            message: format!("every device failed: {}", failures.join("; ")),
        });
    }
    Ok(best)
}

impl MultiGpuLabeller {
    /// Labels on the given devices.
    ///
    /// # Errors
    /// [`Error::NoDevices`] for an empty list.
    pub fn new(devices: Vec<CudaLabeller>) -> Result<Self, Error> {
        if devices.is_empty() {
            return Err(Error::NoDevices);
        }
        Ok(Self { devices })
    }

    /// Opens the devices a spec selects (`cuda` = all, `cuda:0,2` = those), with the spec's variant.
    ///
    /// # Errors
    /// As [`CudaLabeller::new`] for each device, [`Error::NoSuchDevice`] for an ordinal that does not exist.
    pub fn open(spec: &CudaSpec, options: &CudaOptions) -> Result<Self, Error> {
        let options = CudaOptions { variant: spec.variant, ..options.clone() };
        let ordinals = match &spec.devices {
            DeviceSelection::All => (0..devices()?.len()).collect(),
            DeviceSelection::Some(list) => list.clone(),
        };
        let labellers = ordinals.into_iter().map(|o| CudaLabeller::new(o, &options)).collect::<Result<_, _>>()?;
        Self::new(labellers)
    }

    /// The devices.
    pub fn devices(&self) -> &[CudaLabeller] {
        &self.devices
    }
}

impl Labeller for MultiGpuLabeller {
    fn name(&self) -> String {
        let names: Vec<String> = self.devices.iter().map(Labeller::name).collect();
        names.join(" + ")
    }

    fn preferred_batch(&self) -> usize {
        self.devices.iter().map(Labeller::preferred_batch).sum()
    }

    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, post_oracle::Error> {
        job.check()?;
        if let [only] = self.devices.as_slice() {
            return only.label(job);
        }
        share(&self.devices, job)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use post_core::{Commitment, ScryptParams};
    use post_oracle::ReferenceLabeller;

    use super::*;

    #[test]
    fn queue_hands_out_disjoint_chunks_that_shrink_at_the_end() {
        let mut buf = vec![0u8; 16 * 100];
        let mut q = Queue::new(&mut buf, 100, 2);
        // 100 left, 2 devices: a quarter of what is left (25) caps the preferred 40.
        let (s1, c1) = q.take(40).unwrap();
        // 75 left: 18, within [10, 40].
        let (s2, c2) = q.take(40).unwrap();
        assert_eq!((s1, c1.len() / 16, s2, c2.len() / 16), (100, 25, 125, 18));
        let mut next = 143;
        let mut sizes = Vec::new();
        while let Some((s, c)) = q.take(40) {
            assert_eq!(s, next);
            next += (c.len() / 16) as u64;
            sizes.push(c.len() / 16);
        }
        assert_eq!(next, 200);
        // Never below a quarter of the preferred size, except the very last chunk.
        assert!(sizes[..sizes.len() - 1].iter().all(|&n| n >= 10), "{sizes:?}");
        assert!(sizes.windows(2).all(|w| w[0] >= w[1]), "{sizes:?}");
        assert_eq!(q.in_hand, 2 + sizes.len());
        c1[0] = 1;
        assert_eq!(buf[0], 1);
    }

    #[test]
    fn an_empty_device_list_is_refused() {
        assert!(matches!(MultiGpuLabeller::new(Vec::new()), Err(Error::NoDevices)));
    }

    /// A device for tests: the reference labeller, slowed down per label, failing from its n-th call on
    /// (or panicking), counting the labels it completed.
    struct Fake {
        name: &'static str,
        preferred: usize,
        delay_per_label: Duration,
        fail_from_call: Option<usize>,
        panic: bool,
        calls: AtomicUsize,
        labelled: AtomicUsize,
    }

    impl Fake {
        fn new(name: &'static str, preferred: usize, micros_per_label: u64) -> Self {
            Self {
                name,
                preferred,
                delay_per_label: Duration::from_micros(micros_per_label),
                fail_from_call: None,
                panic: false,
                calls: AtomicUsize::new(0),
                labelled: AtomicUsize::new(0),
            }
        }

        fn failing_from(self, call: usize) -> Self {
            Self { fail_from_call: Some(call), ..self }
        }
    }

    impl Labeller for Fake {
        fn name(&self) -> String {
            self.name.into()
        }

        fn preferred_batch(&self) -> usize {
            self.preferred
        }

        fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, post_oracle::Error> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            let count = job.out.len() / 16;
            if self.fail_from_call.is_some_and(|n| call >= n) {
                // Half a chunk written, as a device lost mid-chunk leaves it.
                let half = job.out.len() / 2;
                job.out[..half].fill(0xee);
                assert!(!self.panic, "{} fell over", self.name);
                return Err(post_oracle::Error::Backend { labeller: self.name.into(), message: "device lost".into() });
            }
            std::thread::sleep(self.delay_per_label * count as u32);
            let found = ReferenceLabeller.label(job)?;
            self.labelled.fetch_add(count, Ordering::SeqCst);
            Ok(found)
        }
    }

    fn job_on(labeller: &dyn Labeller, count: usize) -> (Vec<u8>, Option<VrfCandidate>) {
        let commitment = Commitment([9; 32]);
        let mut out = vec![0u8; count * 16];
        let job = LabelJob {
            commitment: &commitment,
            params: ScryptParams::with_n(16).unwrap(),
            start: LabelIndex((1 << 32) - 500),
            out: &mut out,
            vrf_threshold: Some(&[0x10; 32]),
        };
        let found = labeller.label(job).unwrap();
        (out, found)
    }

    struct Many<'a>(&'a [Fake]);

    impl Labeller for Many<'_> {
        fn name(&self) -> String {
            "many".into()
        }
        fn preferred_batch(&self) -> usize {
            1
        }
        fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, post_oracle::Error> {
            share(self.0, job)
        }
    }

    /// A card far slower than another takes far fewer labels, and the output equals the
    /// reference bit for bit.
    #[test]
    fn a_slow_device_takes_less_and_the_output_is_the_reference() {
        let count = 3000;
        let want = job_on(&ReferenceLabeller, count);
        let devices = [Fake::new("fast", 200, 0), Fake::new("slow", 200, 500)];
        let got = job_on(&Many(&devices), count);
        assert!(got == want);
        let (fast, slow) = (devices[0].labelled.load(Ordering::SeqCst), devices[1].labelled.load(Ordering::SeqCst));
        assert_eq!(fast + slow, count);
        assert!(slow * 3 < fast, "fast {fast}, slow {slow}");
    }

    /// A device that fails mid-job (or panics) takes no more work; its chunk is labelled again by the
    /// others and the output is still the reference's.
    #[test]
    fn a_failing_device_does_not_abort_the_job() {
        let count = 2000;
        let want = job_on(&ReferenceLabeller, count);
        for panic in [false, true] {
            let broken = Fake { panic, ..Fake::new("broken", 100, 5).failing_from(0) };
            let devices = [Fake::new("a", 100, 5), broken, Fake::new("b", 300, 20)];
            let got = job_on(&Many(&devices), count);
            assert!(got == want, "panic {panic}");
            assert_eq!(devices[1].calls.load(Ordering::SeqCst), 1, "the failed device took more work");
            let total: usize = devices.iter().map(|d| d.labelled.load(Ordering::SeqCst)).sum();
            assert_eq!(total, count);
        }
    }

    /// When every device fails the job fails, naming each device's error.
    #[test]
    fn every_device_failing_fails_the_job() {
        let devices = [Fake::new("a", 50, 0).failing_from(0), Fake::new("b", 50, 0).failing_from(2)];
        let commitment = Commitment([1; 32]);
        let mut out = vec![0u8; 1000 * 16];
        let job = LabelJob {
            commitment: &commitment,
            params: ScryptParams::with_n(16).unwrap(),
            start: LabelIndex(0),
            out: &mut out,
            vrf_threshold: None,
        };
        let err = share(&devices, job).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("every device failed") && text.contains("a failed") && text.contains("b failed"),
            "{text}"
        );
    }

    /// An error every device would give (not a backend failure: bad parameters, a bad buffer) ends the
    /// job at once instead of being retried on the other devices.
    #[test]
    fn a_job_error_is_returned_not_retried() {
        struct Bad;
        impl Labeller for Bad {
            fn name(&self) -> String {
                "bad".into()
            }
            fn preferred_batch(&self) -> usize {
                10
            }
            fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, post_oracle::Error> {
                Err(post_oracle::Error::BufferLength { len: job.out.len() + 1 })
            }
        }
        let commitment = Commitment([1; 32]);
        let mut out = vec![0u8; 100 * 16];
        let job = LabelJob {
            commitment: &commitment,
            params: ScryptParams::with_n(16).unwrap(),
            start: LabelIndex(0),
            out: &mut out,
            vrf_threshold: None,
        };
        assert!(matches!(share(&[Bad, Bad], job), Err(post_oracle::Error::BufferLength { .. })));
    }
}
