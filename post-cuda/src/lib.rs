//! GPU labelling on NVIDIA cards through CUDA, loaded at run time, bit-identical to the CPU reference.
//!
//! # What is here
//! * [`devices`] lists the CUDA devices (name, memory, compute capability) and answers
//!   [`Error::DriverNotFound`] — without panicking — on a machine with no NVIDIA driver.
//! * [`CudaLabeller`] computes labels on one device behind `post_oracle::Labeller`;
//!   [`MultiGpuLabeller`] shares a job among several devices, each on its own thread pulling chunks
//!   from one queue. [`CudaSpec`] parses `cuda`, `cuda:0,2`, `cuda@tpl4-gap2`.
//! * The kernels (`kernels/label_core.cuh`, `kernels/label_kernels.cu`) are CUDA C++ compiled by NVRTC
//!   at run time for the device's own architecture (`sm_90` on Hopper) and cached ([`kernel_image`]).
//!   Six ROMix variants ([`KernelVariant`]: one or four threads per label, lookup gap 1, 2 or 4) are
//!   chosen at run time so that `post bench label --provider cuda@<variant>` can measure each.
//!
//! # How a batch runs
//! PBKDF2 (Keccak-512) and ROMix (ChaCha20/8) run as separate kernels so that ROMix's registers hold X
//! and nothing else; the scratch table is interleaved so that each random read is one whole 128-byte
//! line. The VRF search runs on the device: each block keeps its smallest full label below the
//! threshold, one more kernel keeps the smallest of those, and only that candidate (48 bytes) and the
//! 16 stored bytes of each label are copied back, into pinned buffers on a second stream while the
//! next batch computes. The host waits on blocking-sync events and never spins. Batches are sized from
//! the device's free memory and grid limits.
//!
//! # Why `cudarc` and not `cust`
//! `cust` needs a CUDA toolkit to build (its `cust_raw` bindings are generated and linked against
//! `libcuda` at build time) and links `libcuda` when the program loads, so every binary and every test
//! executable that depends on it fails to start on a machine without the NVIDIA driver, including CI.
//! `cudarc` with the `dynamic-loading` feature builds with no CUDA at all and opens `libcuda` and
//! `libnvrtc` with `dlopen` on first use; this crate probes for them first ([`driver_present`],
//! [`nvrtc_present`]) so that a machine without them gets a clear error instead of cudarc's panic.
//! The bindings are those of CUDA 13.0 (feature `cuda-13000`): they look for `libnvrtc.so.13` as well as
//! `.so.12`, and every driver function this crate calls exists in 12.x drivers too.
//!
//! # Testing without a GPU
//! The kernels' math lives in `kernels/label_core.cuh`, which also compiles as plain C: the test-only
//! crate `post-cuda-hostc` builds it with the host's C compiler, and `tests/host_c.rs` checks it
//! against the shared vectors and the reference labeller in every CI run. The GPU tests
//! (`tests/gpu.rs`) skip with a message when no device is present and fail instead when the
//! environment variable `POST_REQUIRE_GPU=1` is set; `gpu-check.sh` runs them and the benchmarks on a
//! GPU machine. One of them needs no GPU, only NVRTC: it compiles every kernel with the real NVRTC
//! for sm_80, sm_86, sm_89 and sm_90 through [`compile`] and checks for warnings, every kernel in the
//! cubin, no spills, no stack frame and the register counts the launch plan was sized with;
//! `cargo xtask test` installs NVRTC (a pinned PyPI wheel) so that it runs in CI. Library code reads
//! no environment variables: the cache directory and every choice arrive as arguments.

mod buffers;
mod cache;
mod compat;
mod compile;
mod device;
mod driver;
mod error;
mod launch;
mod multi;
mod options;
mod plan;
mod spec;
mod variant;

pub use cache::{CacheOutcome, CacheRejection};
pub use compat::{minimum_driver, plan_code, CodePlan};
pub use compile::{
    compile, kernel_image, nvrtc_options, nvrtc_version, CompileTarget, ImageKind, KernelImage, KERNEL_NAMES,
    KERNEL_SOURCE,
};
pub use device::CudaLabeller;
pub use driver::{devices, driver_present, driver_version, nvrtc_present, ComputeCapability, DeviceInfo};
pub use error::Error;
pub use multi::MultiGpuLabeller;
pub use options::CudaOptions;
pub use plan::{plan_batch, reserve_bytes, thread_capacity, BatchPlan, PlanInput, BLOCK_THREADS, MAX_BATCH_LABELS};
pub use spec::{CudaSpec, DeviceSelection};
pub use variant::{KernelVariant, ThreadsPerLabel, VariantChoice};
