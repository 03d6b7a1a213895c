//! Batch sizing: how many labels one launch computes, from the device's free memory and limits.
//!
//! ```text
//! per label  = scratch table (N / gap · 128 bytes) + X (128 bytes) + stored labels (2 slots · 16 bytes)
//! reserve    = max(256 MiB, total / 32)            left for the context, the module and other programs
//! labels     = (free − reserve) / per label
//!            ≤ max grid blocks · labels per block  (the launch must fit in one grid)
//!            ≤ 16 · resident labels                (more only adds latency; resident = what the ROMix
//!                                                   kernel's occupancy lets the whole device run at once)
//!            ≤ MAX_BATCH_LABELS, ≤ the caller's cap
//!            rounded down to whole waves of resident labels, or whole blocks
//! ```
//! The scratch table is one allocation: CUDA has no per-allocation limit below free memory (unlike
//! OpenCL's `CL_DEVICE_MAX_MEM_ALLOC_SIZE`, which the reference tools overran on large cards), and when
//! an allocation still fails the host halves the batch and tries again.

use crate::{DeviceInfo, KernelVariant};

/// Most labels in one batch, whatever the memory: keeps indices in 32 bits and pinned buffers small.
pub const MAX_BATCH_LABELS: u32 = 1 << 22;

/// Threads per block of every kernel (`PC_BLOCK` in the CUDA source).
pub const BLOCK_THREADS: u32 = 256;

/// The sizes of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPlan {
    /// Labels per batch: the scratch table's capacity.
    pub labels: u32,
    /// Bytes of scratch table.
    pub scratch_bytes: u64,
}

/// Bytes one label needs on the device besides the scratch table.
const OTHER_BYTES_PER_LABEL: u64 = 128 + 2 * 16;

/// Bytes kept free for everything else.
pub fn reserve_bytes(total: u64) -> u64 {
    (256u64 << 20).max(total / 32)
}

/// The most labels the device could run at once with this variant: every thread slot busy. The ROMix
/// kernels' registers allow fewer; the driver's occupancy calculator gives the real figure.
pub fn thread_capacity(device: &DeviceInfo, variant: KernelVariant) -> u64 {
    u64::from(device.multiprocessors) * u64::from(device.max_threads_per_multiprocessor)
        / u64::from(variant.threads().count())
}

/// What a batch is sized from.
#[derive(Debug, Clone, Copy)]
pub struct PlanInput<'a> {
    /// The device.
    pub device: &'a DeviceInfo,
    /// Free device memory in bytes.
    pub free: u64,
    /// scrypt N.
    pub n: u32,
    /// The kernel variant.
    pub variant: KernelVariant,
    /// Labels the device runs at once with this variant.
    pub resident: u64,
    /// The caller's cap on labels per batch.
    pub cap: Option<u32>,
}

/// Sizes a batch.
///
/// # Errors
/// The bytes one block of labels needs, when not even that fits.
pub fn plan_batch(input: &PlanInput<'_>) -> Result<BatchPlan, u64> {
    let PlanInput { device, free, n, variant, resident, cap } = *input;
    let per_label = variant.scratch_bytes_per_label(n) + OTHER_BYTES_PER_LABEL;
    let block = variant.labels_per_block();
    let by_memory = free.saturating_sub(reserve_bytes(device.total_memory)) / per_label;
    let by_grid = u64::from(device.max_grid_x.max(1)) * u64::from(block);
    let by_residency = 16 * resident.max(u64::from(block));
    let by_caller = u64::from(cap.unwrap_or(MAX_BATCH_LABELS).clamp(1, MAX_BATCH_LABELS));
    let labels = by_memory.min(by_grid).min(by_residency).min(by_caller);
    // Whole waves (every label of a batch takes as long, so a partial last wave leaves the device
    // partly idle), else whole blocks, unless the caller asked for less than one.
    let labels = if resident >= u64::from(block) && labels >= resident {
        labels / resident * resident
    } else if labels >= u64::from(block) {
        labels / u64::from(block) * u64::from(block)
    } else {
        labels
    };
    if labels == 0 {
        return Err(per_label + reserve_bytes(device.total_memory));
    }
    let labels = u32::try_from(labels).unwrap_or(MAX_BATCH_LABELS);
    Ok(BatchPlan { labels, scratch_bytes: variant.scratch_bytes_per_label(n) * u64::from(labels) })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::ComputeCapability;
    use proptest::prelude::*;

    fn h200() -> DeviceInfo {
        DeviceInfo {
            ordinal: 0,
            name: "NVIDIA H200".into(),
            total_memory: 150_754_820_096,
            compute_capability: ComputeCapability { major: 9, minor: 0 },
            multiprocessors: 132,
            max_threads_per_multiprocessor: 2048,
            max_grid_x: i32::MAX as u32,
        }
    }

    fn variant(name: &str) -> KernelVariant {
        KernelVariant::parse(name).unwrap()
    }

    fn plan_for(d: &DeviceInfo, free: u64, n: u32, v: &str, cap: Option<u32>) -> Result<BatchPlan, u64> {
        let variant = variant(v);
        plan_batch(&PlanInput { device: d, free, n, variant, resident: thread_capacity(d, variant), cap })
    }

    #[test]
    fn h200_at_mainnet_n_is_memory_bound() {
        let d = h200();
        let free = d.total_memory - (1 << 30);
        let plan = plan_for(&d, free, 8192, "tpl1-gap1", None).unwrap();
        // About 140 GB of 1 MiB tables, in whole blocks (fewer than the 270k thread slots).
        assert!(plan.labels > 120_000 && plan.labels < 140_000, "{plan:?}");
        assert_eq!(plan.labels % 256, 0);
        assert!(plan.scratch_bytes <= free - reserve_bytes(d.total_memory));
    }

    #[test]
    fn batches_are_whole_waves_of_resident_labels() {
        let d = h200();
        let free = d.total_memory - (1 << 30);
        // 66 registers a thread on sm_90: three blocks of 256 per multiprocessor (tests/gpu.rs checks the
        // register count with NVRTC, REGISTERS).
        let resident = 3 * 132 * 256;
        let input = |variant| PlanInput { device: &d, free, n: 8192, variant, resident, cap: None };
        let gap1 = plan_batch(&input(variant("tpl1-gap1"))).unwrap();
        assert_eq!(u64::from(gap1.labels), resident);
        let gap4 = plan_batch(&input(variant("tpl1-gap4"))).unwrap();
        assert_eq!(u64::from(gap4.labels) % resident, 0);
        assert!(gap4.labels > 4 * gap1.labels, "{gap4:?}");
    }

    #[test]
    fn small_n_is_capped_by_residency_and_maximum() {
        let d = h200();
        let plan = plan_for(&d, d.total_memory, 2, "tpl4-gap1", None).unwrap();
        assert_eq!(u64::from(plan.labels), (16 * thread_capacity(&d, variant("tpl4-gap1"))).min(1 << 22));
        let capped = plan_for(&d, d.total_memory, 2, "tpl4-gap1", Some(1000)).unwrap();
        assert_eq!(capped.labels, 960);
        let tiny = plan_for(&d, d.total_memory, 2, "tpl1-gap1", Some(7)).unwrap();
        assert_eq!(tiny.labels, 7);
    }

    #[test]
    fn too_little_memory_is_an_error_with_the_need() {
        let d = h200();
        let need = plan_for(&d, 1 << 20, 8192, "tpl1-gap1", None).unwrap_err();
        assert!(need > (1 << 20));
    }

    proptest! {
        /// Whatever the device, a plan never exceeds free memory, the grid or the caps.
        #[test]
        fn plans_respect_every_limit(
            free in 0u64..(1 << 40),
            total_extra in 0u64..(1 << 36),
            log_n in 1u32..16,
            v in 0usize..6,
            sms in 1u32..200,
            grid in 1u32..100_000,
            cap in proptest::option::of(1u32..(1 << 23)),
            resident in 0u64..(1 << 24),
        ) {
            let d = DeviceInfo { multiprocessors: sms, max_grid_x: grid, total_memory: free + total_extra, ..h200() };
            let variant = KernelVariant::ALL[v];
            let n = 1u32 << log_n;
            if let Ok(plan) = plan_batch(&PlanInput { device: &d, free, n, variant, resident, cap }) {
                prop_assert!(plan.labels >= 1);
                prop_assert!(plan.labels <= MAX_BATCH_LABELS);
                prop_assert!(plan.labels <= cap.unwrap_or(u32::MAX));
                let used = plan.scratch_bytes + u64::from(plan.labels) * OTHER_BYTES_PER_LABEL;
                prop_assert!(used + reserve_bytes(d.total_memory) <= free);
                let blocks = u64::from(plan.labels).div_ceil(u64::from(variant.labels_per_block()));
                prop_assert!(blocks <= u64::from(grid));
                prop_assert!(u64::from(plan.labels) <= 16 * resident.max(u64::from(variant.labels_per_block())));
                if resident >= u64::from(variant.labels_per_block()) && u64::from(plan.labels) >= resident {
                    prop_assert_eq!(u64::from(plan.labels) % resident, 0);
                }
            }
        }
    }
}
