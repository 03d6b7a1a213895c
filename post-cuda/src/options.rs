//! What a caller chooses when opening GPU labellers.

use std::path::PathBuf;

use crate::VariantChoice;

/// Options of [`crate::CudaLabeller`] and [`crate::MultiGpuLabeller`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CudaOptions {
    /// The kernel variant (default: chosen per device and N).
    pub variant: VariantChoice,
    /// A directory for compiled kernels, so later runs skip NVRTC (created when missing). `None`
    /// compiles once per process.
    pub cache_dir: Option<PathBuf>,
    /// At most this many labels per batch (default: as many as memory and limits allow). Tests use it
    /// to make jobs span several batches with uneven ends.
    pub max_batch_labels: Option<u32>,
}
