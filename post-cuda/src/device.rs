//! `CudaLabeller`: one GPU behind the `Labeller` trait.
//!
//! Opening a device:
//! 1. set the primary context to `CU_CTX_SCHED_BLOCKING_SYNC`, so a waiting host thread sleeps
//!    instead of spinning a CPU core at 100% (the reference tools spin). That flag cannot be changed
//!    once the context is active, so every wait of this crate is also on an event created with
//!    `CU_EVENT_BLOCKING_SYNC` (never `cuStreamSynchronize` or `cuCtxSynchronize`): the host sleeps
//!    whoever made the context;
//! 2. load the kernels compiled for the device's architecture (see `compile.rs`);
//! 3. create a compute stream and a copy stream.
//!
//! Labelling a job (a range of labels):
//! 1. size the batch and allocate the buffers for this N (kept until N changes);
//! 2. queue batch k on slot k mod 2; once two batches are in flight, wait for the older one's copy,
//!    unpack it into the caller's buffer and keep the better VRF candidate; repeat;
//! 3. wait for the last batch.
//!
//! While the host waits for batch k, batch k + 1 is already queued, so the device never idles between
//! batches, and the 16-byte labels travel back while the next batch computes. A failure is returned as
//! an error naming the device; the caller's buffer is then incomplete and must not be written out (the
//! initializer's resume recomputes the range).

use std::collections::VecDeque;
use std::sync::Arc;

use cudarc::driver::{result, sys, CudaContext, CudaModule};
use cudarc::nvrtc::Ptx;
use parking_lot::Mutex;
use post_oracle::{LabelJob, Labeller, VrfCandidate};

use crate::buffers::{BufferRequest, Buffers};
use crate::compile::{kernel_image, CompileTarget, ImageKind};
use crate::driver::{device_info, driver_version, guarded, init};
use crate::launch::{collect, enqueue, Batch, JobArgs, Kernels, Streams};
use crate::plan::{plan_batch, PlanInput};
use crate::{CudaOptions, DeviceInfo, Error, KernelVariant, VariantChoice};

/// Labels on one CUDA device.
#[derive(Debug)]
pub struct CudaLabeller {
    info: DeviceInfo,
    options: CudaOptions,
    ctx: Arc<CudaContext>,
    kernels: Kernels,
    streams: Streams,
    state: Mutex<Option<Buffers>>,
    preferred: usize,
    _module: Arc<CudaModule>,
}

impl CudaLabeller {
    /// Opens device `ordinal`: context, kernels (compiled or from the cache) and streams.
    ///
    /// # Errors
    /// [`Error::DriverNotFound`], [`Error::NoDevices`], [`Error::NoSuchDevice`], a compile or cache
    /// error, or a driver error naming the device.
    pub fn new(ordinal: usize, options: &CudaOptions) -> Result<Self, Error> {
        if !init()? {
            return Err(Error::NoDevices);
        }
        guarded("opening a CUDA device", || Self::open(ordinal, options))
    }

    fn open(ordinal: usize, options: &CudaOptions) -> Result<Self, Error> {
        let count =
            result::device::get_count().map_err(|e| Error::driver(crate::driver::HOST, "cuDeviceGetCount", e))?;
        let count = usize::try_from(count).unwrap_or(0);
        if ordinal >= count {
            return Err(Error::NoSuchDevice { ordinal, count });
        }
        let info = device_info(ordinal)?;
        let name = info.label();
        let drv = |call| {
            let name = name.clone();
            move |e| Error::driver(&name, call, e)
        };
        // 1. Blocking sync. A context that another part of the process already made active keeps its
        //    flags; the events we wait on are blocking-sync events either way.
        let dev = result::device::get(ordinal as i32).map_err(drv("cuDeviceGet"))?;
        let flags = sys::CUctx_flags::CU_CTX_SCHED_BLOCKING_SYNC as u32;
        // SAFETY: `dev` is a valid device; the call only records flags for the primary context.
        match unsafe { sys::cuDevicePrimaryCtxSetFlags_v2(dev, flags) }.result() {
            Ok(()) => {}
            Err(e) if e.0 == sys::CUresult::CUDA_ERROR_PRIMARY_CONTEXT_ACTIVE => {}
            Err(e) => return Err(drv("cuDevicePrimaryCtxSetFlags")(e)),
        }
        let ctx = CudaContext::new(ordinal).map_err(drv("cuDevicePrimaryCtxRetain"))?;
        // 2. Kernels.
        let image = kernel_image(CompileTarget {
            compute_capability: info.compute_capability,
            driver_version: driver_version()?,
            cache_dir: options.cache_dir.as_deref(),
        })?;
        let ptx = match image.kind {
            ImageKind::Cubin => Ptx::from_binary(image.bytes.clone()),
            ImageKind::Ptx => Ptx::from_src(String::from_utf8_lossy(&image.bytes).into_owned()),
        };
        let module = ctx.load_module(ptx).map_err(drv("cuModuleLoadData"))?;
        let kernels = Kernels::load(&module, &name)?;
        // 3. Streams.
        let streams = Streams {
            compute: ctx.new_stream().map_err(drv("cuStreamCreate"))?,
            copy: ctx.new_stream().map_err(drv("cuStreamCreate"))?,
        };
        let (free, _) = ctx.mem_get_info().map_err(drv("cuMemGetInfo"))?;
        let n = post_core::ScryptParams::MAINNET.n();
        let free = free as u64;
        let resident = |v: KernelVariant| kernels.resident_labels(&info, v, n);
        let usable = free.saturating_sub(crate::plan::reserve_bytes(info.total_memory));
        let variant = options.variant.resolve(n, usable, resident);
        let input =
            PlanInput { device: &info, free, n, variant, resident: resident(variant), cap: options.max_batch_labels };
        let batch = plan_batch(&input).map_or(1, |p| p.labels);
        Ok(Self {
            info,
            options: options.clone(),
            ctx,
            kernels,
            streams,
            state: Mutex::new(None),
            preferred: 4 * batch as usize,
            _module: module,
        })
    }

    /// The device.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The variant this labeller runs at scrypt N, once a job at N has sized its buffers (or the
    /// fixed variant, if one was chosen).
    pub fn variant(&self, n: u32) -> Option<KernelVariant> {
        match self.options.variant {
            VariantChoice::Fixed(v) => Some(v),
            VariantChoice::Auto => self.state.lock().as_ref().filter(|b| b.n == n).map(|b| b.variant),
        }
    }

    /// Labels per batch for scrypt N, once a job at N has sized its buffers.
    pub fn batch_labels(&self, n: u32) -> Option<u32> {
        self.state.lock().as_ref().filter(|b| b.n == n).map(|b| b.labels)
    }

    fn run(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, Error> {
        job.check()?;
        let p = job.params;
        if p.r() != 1 || p.p() != 1 {
            return Err(Error::Unsupported { n: p.n(), r: p.r(), p: p.p() });
        }
        if job.out.is_empty() {
            return Ok(None);
        }
        let name = self.info.label();
        let mut state = self.state.lock();
        // 1. Buffers for this N.
        if state.as_ref().is_none_or(|b| b.n != p.n()) {
            if let Some(old) = state.take() {
                // Free the old tables before measuring free memory: stream-ordered frees complete
                // (and return memory to the device) only when the stream gets there.
                drop(old);
                let sync = |call| {
                    let name = name.clone();
                    move |e| Error::driver(&name, call, e)
                };
                // Waited for on a blocking-sync event, not cuStreamSynchronize, so the host sleeps.
                let freed = crate::buffers::blocking_event(&self.ctx).map_err(sync("cuEventCreate"))?;
                freed.record(&self.streams.compute).map_err(sync("cuEventRecord"))?;
                freed.synchronize().map_err(sync("cuEventSynchronize"))?;
            }
            let req = BufferRequest {
                device: &self.info,
                kernels: &self.kernels,
                n: p.n(),
                variant: self.options.variant,
                max_batch_labels: self.options.max_batch_labels,
            };
            *state = Some(Buffers::allocate(&self.ctx, &self.streams.compute, req)?);
        }
        let Some(bufs) = state.as_mut() else { return Ok(None) };
        let args = JobArgs::new(job.commitment.as_bytes(), job.vrf_threshold);
        let vrf = job.vrf_threshold.is_some();
        // 2. Two batches in flight; the host sleeps on the older one's copy.
        let total = job.count();
        let cap = u64::from(bufs.labels);
        let mut queued = 0u64;
        let mut in_flight: VecDeque<(Batch, u64)> = VecDeque::with_capacity(2);
        let mut best = None;
        let mut next_slot = 0;
        while queued < total || !in_flight.is_empty() {
            if queued < total && in_flight.len() < 2 {
                let count = (total - queued).min(cap) as u32;
                let batch = Batch { start: job.start.0 + queued, count, slot: next_slot };
                enqueue(&self.kernels, &self.streams, bufs, batch, &args, &name)?;
                in_flight.push_back((batch, queued));
                queued += u64::from(count);
                next_slot ^= 1;
                if queued < total && in_flight.len() < 2 {
                    continue;
                }
            }
            if let Some((batch, offset)) = in_flight.pop_front() {
                let from = offset as usize * 16;
                let to = from + batch.count as usize * 16;
                let found = collect(bufs, batch, vrf, &mut job.out[from..to], &name)?;
                best = VrfCandidate::better(best, found);
            }
        }
        Ok(best)
    }
}

impl Labeller for CudaLabeller {
    fn name(&self) -> String {
        format!("{} ({})", self.info.label(), self.options.variant)
    }

    /// Four batches at mainnet N: the two pipeline slots stay busy and refill twice per call.
    fn preferred_batch(&self) -> usize {
        self.preferred
    }

    fn label(&self, job: LabelJob<'_>) -> Result<Option<VrfCandidate>, post_oracle::Error> {
        guarded("labelling", || self.run(job)).map_err(|e| e.into_oracle(&self.info.label()))
    }
}
