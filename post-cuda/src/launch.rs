//! One batch on the device, and its result on the host.
//!
//! [`enqueue`]:
//! 1. on the compute stream: `post_pbkdf2_in`, the variant's `post_romix_*`, `post_pbkdf2_out`, and
//!    `post_vrf_reduce` when a threshold is set;
//! 2. on the copy stream: the stored 16 bytes of each label and the one best candidate (48 bytes)
//!    into the slot's pinned host buffers.
//!
//! The order between the streams is explicit, with two events per slot, and does not rely on
//! cudarc's implicit per-buffer event tracking (a context-wide switch that any user of the shared
//! primary context may turn off):
//! ```text
//! compute:  wait(slot.copied) → pbkdf2_in, romix, pbkdf2_out[, vrf_reduce] → record(slot.computed)
//! copy:     wait(slot.computed) → copy out[, result] → record(slot.copied)
//! host:     synchronize(slot.copied) → read the pinned buffers
//! ```
//! `xbuf` and the scratch table are used by the compute stream only, so stream order covers them; the
//! wait for `slot.copied` keeps batch k + 2 from overwriting slot k's outputs while they are copied
//! (the host reads slot k before it queues batch k + 2); a slot's first wait is on a never-recorded
//! event, which CUDA treats as complete; and the buffers are freed on the compute stream after it
//! waits for both slots' copies (`Buffers`'s `Drop`).
//!
//! [`collect`] waits for the slot's copy on the slot's own blocking-sync event, recorded after the
//! copies (the host thread sleeps in `cuEventSynchronize`, it does not spin, whatever the context's
//! scheduling flags), and unpacks the labels into the caller's buffer.

use std::sync::Arc;

use cudarc::driver::{CudaFunction, CudaModule, CudaStream, LaunchConfig, PushKernelArg};
use post_core::LabelIndex;
use post_oracle::VrfCandidate;

use crate::buffers::{Buffers, CAND_WORDS};
use crate::compile::KERNEL_NAMES;
use crate::plan::{thread_capacity, BLOCK_THREADS};
use crate::{DeviceInfo, Error, KernelVariant};

/// The kernels of one module.
#[derive(Debug)]
pub(crate) struct Kernels {
    functions: Vec<(&'static str, CudaFunction)>,
}

impl Kernels {
    /// Looks every kernel up in a loaded module.
    pub(crate) fn load(module: &Arc<CudaModule>, device: &str) -> Result<Self, Error> {
        let functions = KERNEL_NAMES
            .iter()
            .map(|&name| {
                module
                    .load_function(name)
                    .map(|f| (name, f))
                    .map_err(|e| Error::driver(device, "cuModuleGetFunction", e))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { functions })
    }

    /// Labels the device runs at once with a variant's ROMix kernel at scrypt N: the driver's
    /// occupancy (blocks per multiprocessor, limited by the kernel's registers) times the
    /// multiprocessors; the thread capacity when the driver cannot say.
    pub(crate) fn resident_labels(&self, device: &DeviceInfo, variant: KernelVariant, n: u32) -> u64 {
        let blocks = self
            .functions
            .iter()
            .find(|(name, _)| *name == variant.romix_kernel(n))
            .and_then(|(_, f)| f.occupancy_max_active_blocks_per_multiprocessor(BLOCK_THREADS, 0, None).ok())
            .filter(|&b| b > 0);
        match blocks {
            Some(b) => u64::from(b) * u64::from(device.multiprocessors) * u64::from(variant.labels_per_block()),
            None => thread_capacity(device, variant),
        }
    }

    fn get(&self, name: &str, device: &str) -> Result<&CudaFunction, Error> {
        self.functions.iter().find(|(n, _)| *n == name).map(|(_, f)| f).ok_or_else(|| Error::Compile {
            arch: device.to_string(),
            options: Vec::new(),
            log: format!("kernel {name} is missing from the module"),
        })
    }
}

/// The compute and copy streams of a device.
#[derive(Debug)]
pub(crate) struct Streams {
    pub compute: Arc<CudaStream>,
    pub copy: Arc<CudaStream>,
}

/// What every batch of a job shares.
#[derive(Debug, Clone, Copy)]
pub(crate) struct JobArgs {
    /// The commitment as four little-endian lanes.
    pub commitment: [u64; 4],
    /// The VRF threshold as four big-endian words.
    pub threshold: Option<[u64; 4]>,
}

impl JobArgs {
    pub(crate) fn new(commitment: &[u8; 32], threshold: Option<&[u8; 32]>) -> Self {
        let words = |bytes: &[u8; 32], f: fn([u8; 8]) -> u64| -> [u64; 4] {
            std::array::from_fn(|k| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&bytes[8 * k..8 * k + 8]);
                f(w)
            })
        };
        Self {
            commitment: words(commitment, u64::from_le_bytes),
            threshold: threshold.map(|t| words(t, u64::from_be_bytes)),
        }
    }
}

/// One batch: `count` labels from index `start`, in pipeline slot `slot`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Batch {
    pub start: u64,
    pub count: u32,
    pub slot: usize,
}

fn grid(threads: u64) -> LaunchConfig {
    let blocks = threads.div_ceil(u64::from(BLOCK_THREADS));
    LaunchConfig {
        grid_dim: (u32::try_from(blocks).unwrap_or(u32::MAX), 1, 1),
        block_dim: (BLOCK_THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Queues a batch's kernels and copies.
pub(crate) fn enqueue(
    kernels: &Kernels,
    streams: &Streams,
    bufs: &mut Buffers,
    batch: Batch,
    job: &JobArgs,
    device: &str,
) -> Result<(), Error> {
    let launch_err = |e| Error::driver(device, "cuLaunchKernel", e);
    let Buffers { n, variant, labels, xbuf, scratch, slots, .. } = bufs;
    let slot = &mut slots[batch.slot];
    let [c0, c1, c2, c3] = job.commitment;
    let [t0, t1, t2, t3] = job.threshold.unwrap_or([0; 4]);
    let use_vrf = u32::from(job.threshold.is_some());
    let (start, count, n, cap) = (batch.start, batch.count, *n, *labels);
    let per_label = u64::from(count);
    let s = &streams.compute;
    let event_err = |call| move |e| Error::driver(device, call, e);
    // The slot's previous copy must be done before its outputs are written again.
    s.wait(&slot.copied).map_err(event_err("cuStreamWaitEvent"))?;

    // SAFETY (the four launches): the arguments match the kernels' C signatures in
    // kernels/label_kernels.cu in number, order and type (u64 = unsigned long long, u32 = unsigned int,
    // slices = device pointers), and every buffer holds at least `count` labels' worth (Buffers sizes
    // them for `cap` >= `count` labels, the candidates for ceil(cap / 256) blocks).
    let f = kernels.get("post_pbkdf2_in", device)?;
    unsafe {
        s.launch_builder(f)
            .arg(&c0)
            .arg(&c1)
            .arg(&c2)
            .arg(&c3)
            .arg(&start)
            .arg(&count)
            .arg(&mut *xbuf)
            .launch(grid(per_label))
    }
    .map_err(launch_err)?;

    let f = kernels.get(variant.romix_kernel(n), device)?;
    let romix_threads = per_label * u64::from(variant.threads().count());
    unsafe {
        s.launch_builder(f).arg(&mut *xbuf).arg(&mut *scratch).arg(&count).arg(&n).arg(&cap).launch(grid(romix_threads))
    }
    .map_err(launch_err)?;

    let f = kernels.get("post_pbkdf2_out", device)?;
    unsafe {
        s.launch_builder(f)
            .arg(&c0)
            .arg(&c1)
            .arg(&c2)
            .arg(&c3)
            .arg(&start)
            .arg(&count)
            .arg(&*xbuf)
            .arg(&mut slot.out)
            .arg(&t0)
            .arg(&t1)
            .arg(&t2)
            .arg(&t3)
            .arg(&use_vrf)
            .arg(&mut slot.block_cands)
            .launch(grid(per_label))
    }
    .map_err(launch_err)?;

    if use_vrf == 1 {
        let f = kernels.get("post_vrf_reduce", device)?;
        let nblocks = u32::try_from(per_label.div_ceil(u64::from(BLOCK_THREADS))).unwrap_or(u32::MAX);
        unsafe {
            s.launch_builder(f).arg(&slot.block_cands).arg(&nblocks).arg(&mut slot.result).launch(LaunchConfig {
                grid_dim: (1, 1, 1),
                block_dim: (BLOCK_THREADS, 1, 1),
                shared_mem_bytes: 0,
            })
        }
        .map_err(launch_err)?;
    }

    slot.computed.record(s).map_err(event_err("cuEventRecord"))?;
    streams.copy.wait(&slot.computed).map_err(event_err("cuStreamWaitEvent"))?;
    let copy_err = |e| Error::driver(device, "cuMemcpyDtoHAsync", e);
    let lanes = count as usize * 2;
    streams.copy.memcpy_dtoh(&slot.out.slice(..lanes), &mut slot.host_out).map_err(copy_err)?;
    if use_vrf == 1 {
        streams.copy.memcpy_dtoh(&slot.result, &mut slot.host_result).map_err(copy_err)?;
    }
    slot.copied.record(&streams.copy).map_err(event_err("cuEventRecord"))
}

/// Waits for a batch's copies and writes its labels (16 bytes each) into `out`; returns its candidate.
pub(crate) fn collect(
    bufs: &Buffers,
    batch: Batch,
    vrf: bool,
    out: &mut [u8],
    device: &str,
) -> Result<Option<VrfCandidate>, Error> {
    let sync_err = |e| Error::driver(device, "cuEventSynchronize", e);
    let slot = &bufs.slots[batch.slot];
    // The host thread sleeps here until the copies are done (a blocking-sync event).
    slot.copied.synchronize().map_err(sync_err)?;
    let host = slot.host_out.as_slice().map_err(sync_err)?;
    for (dst, lanes) in out.chunks_exact_mut(16).zip(host[..batch.count as usize * 2].chunks_exact(2)) {
        dst[..8].copy_from_slice(&lanes[0].to_le_bytes());
        dst[8..].copy_from_slice(&lanes[1].to_le_bytes());
    }
    if !vrf {
        return Ok(None);
    }
    let record = slot.host_result.as_slice().map_err(sync_err)?;
    Ok(candidate(record))
}

/// Decodes a candidate record: found flag, index, four big-endian label words.
pub(crate) fn candidate(record: &[u64]) -> Option<VrfCandidate> {
    if record.len() < CAND_WORDS || record[0] != 1 {
        return None;
    }
    let mut label = [0u8; 32];
    for (chunk, word) in label.chunks_exact_mut(8).zip(&record[2..CAND_WORDS]) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    Some(VrfCandidate { index: LabelIndex(record[1]), label })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_args_lay_out_commitment_and_threshold() {
        let mut c = [0u8; 32];
        c[0] = 1;
        c[8] = 2;
        let mut t = [0u8; 32];
        t[0] = 0x80;
        t[31] = 7;
        let args = JobArgs::new(&c, Some(&t));
        assert_eq!(args.commitment, [1, 2, 0, 0]);
        assert_eq!(args.threshold, Some([0x80 << 56, 0, 0, 7]));
        assert_eq!(JobArgs::new(&c, None).threshold, None);
    }

    #[test]
    fn candidate_records_decode_to_big_endian_labels() {
        assert_eq!(candidate(&[0, 5, 1, 2, 3, 4]), None);
        let c = candidate(&[1, 5, 0x0102_0304_0506_0708, 0, 0, 0xff]);
        let c = c.map(|c| (c.index, c.label[..8].to_vec(), c.label[31]));
        assert_eq!(c, Some((LabelIndex(5), vec![1, 2, 3, 4, 5, 6, 7, 8], 0xff)));
    }
}
