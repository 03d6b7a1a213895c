//! Initialization of PoST data: write, resume, split, merge, grow, verify and repair.

mod cancel;
mod disk_space;
mod error;
mod init;
mod nonce_search;
mod pipeline;
mod progress;
mod resume;
mod sampling;
mod vrf;

pub use cancel::CancelToken;
pub use disk_space::available_bytes;
pub use error::Error;
pub use init::{prepare, InitEnd, InitOutcome, InitRequest, InitSummary, PreparedInit};
pub use nonce_search::BEYOND_BLOCK;
pub use progress::{Event, NoProgress, ProgressSink};
pub use resume::TAIL_CHECK_LABELS;
pub use sampling::Sampler;
pub use vrf::{full_label, VrfSearch};
