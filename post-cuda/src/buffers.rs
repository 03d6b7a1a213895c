//! Device and pinned host memory for one scrypt N, allocated once and reused by every batch.
//!
//! ```text
//! xbuf         labels · 128 B          X of every label between the kernels (one compute stream)
//! scratch      labels · N/gap · 128 B  the ROMix tables, entry k of label i at line k·labels + i
//! slot 0, 1    out (labels · 16 B), block candidates, result (48 B), and their pinned host copies:
//!              batch k uses slot k mod 2, so its copy back overlaps the compute of batch k + 1;
//!              two events per slot order the streams explicitly (see `launch.rs`)
//! ```
//! When the scratch table does not fit (another program took memory since it was measured), the batch
//! is halved until it does.

use std::sync::Arc;

use cudarc::driver::{sys, CudaContext, CudaEvent, CudaSlice, CudaStream, DriverError, PinnedHostSlice};

use crate::launch::Kernels;
use crate::plan::{plan_batch, PlanInput, BLOCK_THREADS};
use crate::{DeviceInfo, Error, KernelVariant, VariantChoice};

/// Words of one VRF candidate record (found, index, four big-endian label words).
pub(crate) const CAND_WORDS: usize = 6;

/// One of the two pipeline slots.
#[derive(Debug)]
pub(crate) struct Slot {
    /// Two little-endian lanes (the 16 stored bytes) per label.
    pub out: CudaSlice<u64>,
    /// One candidate record per block of the output kernel.
    pub block_cands: CudaSlice<u64>,
    /// The batch's best candidate record.
    pub result: CudaSlice<u64>,
    /// Pinned host copy of `out`.
    pub host_out: PinnedHostSlice<u64>,
    /// Pinned host copy of `result`.
    pub host_result: PinnedHostSlice<u64>,
    /// Recorded on the compute stream after the last kernel that writes the slot; the copy stream
    /// waits for it before copying the slot back.
    pub computed: CudaEvent,
    /// Recorded on the copy stream after the slot's copies: the compute stream waits for it before a
    /// later batch writes the slot again, and the host sleeps on it (`CU_EVENT_BLOCKING_SYNC`, whatever
    /// the context's scheduling flags).
    pub copied: CudaEvent,
}

/// Everything one scrypt N needs on the device.
#[derive(Debug)]
pub(crate) struct Buffers {
    /// scrypt N.
    pub n: u32,
    /// The kernel variant chosen for N.
    pub variant: KernelVariant,
    /// Labels per batch.
    pub labels: u32,
    /// X of every label.
    pub xbuf: CudaSlice<u32>,
    /// The ROMix tables.
    pub scratch: CudaSlice<u32>,
    /// The two pipeline slots.
    pub slots: [Slot; 2],
    /// The compute stream: every buffer was allocated on it and is freed on it.
    stream: Arc<CudaStream>,
}

impl Drop for Buffers {
    /// The buffers are freed on the compute stream (stream-ordered), after this function; a copy of a
    /// slot may still be running on the copy stream (a batch abandoned by an error), so the compute
    /// stream first waits for each slot's last copy. A failure here is recorded by the context and
    /// only makes the frees wait less; nothing else can be done in a destructor.
    fn drop(&mut self) {
        for slot in &self.slots {
            let _ = self.stream.wait(&slot.copied);
        }
    }
}

/// What to allocate for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BufferRequest<'a> {
    pub device: &'a DeviceInfo,
    pub kernels: &'a Kernels,
    pub n: u32,
    pub variant: VariantChoice,
    pub max_batch_labels: Option<u32>,
}

impl Buffers {
    /// Sizes and allocates the buffers for a request on `stream`.
    pub(crate) fn allocate(
        ctx: &Arc<CudaContext>,
        stream: &Arc<CudaStream>,
        req: BufferRequest<'_>,
    ) -> Result<Self, Error> {
        let name = req.device.label();
        let drv = |call| {
            let name = name.clone();
            move |e| Error::driver(&name, call, e)
        };
        let (free, _total) = ctx.mem_get_info().map_err(drv("cuMemGetInfo"))?;
        let free = free as u64;
        let resident = |v: KernelVariant| req.kernels.resident_labels(req.device, v, req.n);
        let usable = free.saturating_sub(crate::plan::reserve_bytes(req.device.total_memory));
        let variant = req.variant.resolve(req.n, usable, resident);
        let oom =
            |need| Error::OutOfMemory { device: name.clone(), free, need, n: req.n, variant: variant.to_string() };
        let input = PlanInput {
            device: req.device,
            free,
            n: req.n,
            variant,
            resident: resident(variant),
            cap: req.max_batch_labels,
        };
        let plan = plan_batch(&input).map_err(oom)?;
        let mut labels = plan.labels;
        let lines = u64::from(req.n / variant.effective_gap(req.n));
        let scratch = loop {
            let words = usize::try_from(lines * u64::from(labels) * 32).unwrap_or(usize::MAX);
            // SAFETY: the kernels write every table entry before they read it.
            match unsafe { stream.alloc::<u32>(words) } {
                Ok(s) => break s,
                Err(DriverError(sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY)) if labels > 1 => {
                    labels /= 2;
                    if labels >= BLOCK_THREADS {
                        labels = labels / BLOCK_THREADS * BLOCK_THREADS;
                    }
                }
                Err(DriverError(sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY)) => {
                    return Err(oom(lines * 128 * u64::from(labels)));
                }
                Err(e) => return Err(drv("cuMemAlloc")(e)),
            }
        };
        let n_labels = labels as usize;
        // SAFETY (all allocations below): every word is written by a kernel or a copy before it is read.
        let xbuf = unsafe { stream.alloc::<u32>(n_labels * 32) }.map_err(drv("cuMemAlloc"))?;
        let blocks = n_labels.div_ceil(BLOCK_THREADS as usize);
        let slot = || -> Result<Slot, Error> {
            Ok(Slot {
                out: unsafe { stream.alloc::<u64>(n_labels * 2) }.map_err(drv("cuMemAlloc"))?,
                block_cands: unsafe { stream.alloc::<u64>(blocks * CAND_WORDS) }.map_err(drv("cuMemAlloc"))?,
                result: unsafe { stream.alloc::<u64>(CAND_WORDS) }.map_err(drv("cuMemAlloc"))?,
                // Flags 0: cached (not write-combined) pinned memory, as the host reads it.
                host_out: unsafe { ctx.alloc_pinned_with_flags::<u64>(n_labels * 2, 0) }
                    .map_err(drv("cuMemHostAlloc"))?,
                host_result: unsafe { ctx.alloc_pinned_with_flags::<u64>(CAND_WORDS, 0) }
                    .map_err(drv("cuMemHostAlloc"))?,
                computed: ctx.new_event(None).map_err(drv("cuEventCreate"))?,
                copied: blocking_event(ctx).map_err(drv("cuEventCreate"))?,
            })
        };
        let slots = [slot()?, slot()?];
        Ok(Self { n: req.n, variant, labels, xbuf, scratch, slots, stream: Arc::clone(stream) })
    }
}

/// An event the host can wait on without spinning: `cuEventSynchronize` on it puts the thread to sleep
/// until the device signals it, whether or not the context was made with `CU_CTX_SCHED_BLOCKING_SYNC`
/// (a primary context another part of the process made active first keeps its own flags).
pub(crate) fn blocking_event(ctx: &Arc<CudaContext>) -> Result<CudaEvent, DriverError> {
    ctx.new_event(Some(sys::CUevent_flags::CU_EVENT_BLOCKING_SYNC))
}
