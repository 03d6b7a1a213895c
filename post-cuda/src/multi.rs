//! `MultiGpuLabeller`: several GPUs in one process behind one `Labeller`.
//!
//! A job is cut into chunks of each device's preferred size, handed out from one shared queue:
//! 1. each device runs on its own thread and takes the next chunk whenever it finishes one, so a
//!    faster card simply takes more chunks;
//! 2. each chunk is a disjoint part of the caller's buffer, labelled by that device alone;
//! 3. the first failure stops the other devices from taking new chunks and is returned with the failing
//!    device's name; the best VRF candidate is the best of all chunks' candidates.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use post_core::LabelIndex;
use post_oracle::{LabelJob, Labeller, VrfCandidate};

use crate::spec::{CudaSpec, DeviceSelection};
use crate::{devices, CudaLabeller, CudaOptions, Error};

/// Labels on several CUDA devices at once.
#[derive(Debug)]
pub struct MultiGpuLabeller {
    devices: Vec<CudaLabeller>,
}

/// The not yet handed out rest of a job's buffer and the index of its first label.
struct Queue<'a> {
    rest: &'a mut [u8],
    start: u64,
}

impl<'a> Queue<'a> {
    fn take(&mut self, labels: usize) -> Option<(u64, &'a mut [u8])> {
        if self.rest.is_empty() {
            return None;
        }
        let bytes = (labels.max(1) * 16).min(self.rest.len());
        let (chunk, rest) = std::mem::take(&mut self.rest).split_at_mut(bytes);
        self.rest = rest;
        let start = self.start;
        self.start += (bytes / 16) as u64;
        Some((start, chunk))
    }
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
        let LabelJob { commitment, params, start, out, vrf_threshold } = job;
        let queue = Mutex::new(Queue { rest: out, start: start.0 });
        let failed = AtomicBool::new(false);
        let results: Vec<Result<Option<VrfCandidate>, post_oracle::Error>> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .devices
                .iter()
                .map(|device| {
                    let (queue, failed) = (&queue, &failed);
                    scope.spawn(move || {
                        let mut best = None;
                        while !failed.load(Ordering::Relaxed) {
                            let Some((first, chunk)) = queue.lock().take(device.preferred_batch()) else { break };
                            let job =
                                LabelJob { commitment, params, start: LabelIndex(first), out: chunk, vrf_threshold };
                            match device.label(job) {
                                Ok(found) => best = VrfCandidate::better(best, found),
                                Err(e) => {
                                    failed.store(true, Ordering::Relaxed);
                                    return Err(e);
                                }
                            }
                        }
                        Ok(best)
                    })
                })
                .collect();
            workers
                .into_iter()
                .zip(&self.devices)
                .map(|(w, d)| {
                    w.join().unwrap_or_else(|_| {
                        Err(post_oracle::Error::Backend {
                            labeller: d.info().label(),
                            message: "the device's thread panicked".into(),
                        })
                    })
                })
                .collect()
        });
        let mut best = None;
        for r in results {
            best = VrfCandidate::better(best, r?);
        }
        Ok(best)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queue_hands_out_disjoint_chunks_in_order() {
        let mut buf = vec![0u8; 16 * 10];
        let mut q = Queue { rest: &mut buf, start: 100 };
        let (s1, c1) = q.take(4).unwrap();
        let (s2, c2) = q.take(4).unwrap();
        let (s3, c3) = q.take(4).unwrap();
        assert_eq!((s1, c1.len(), s2, c2.len(), s3, c3.len()), (100, 64, 104, 64, 108, 32));
        assert!(q.take(4).is_none());
        c3[0] = 1;
        assert_eq!(buf[16 * 8], 1);
    }

    #[test]
    fn an_empty_device_list_is_refused() {
        assert!(matches!(MultiGpuLabeller::new(Vec::new()), Err(Error::NoDevices)));
    }
}
