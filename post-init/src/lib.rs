//! Initialization of PoST data: write, resume, split, merge, grow, verify and repair.

mod cancel;
mod disk_space;
mod error;
mod init;
mod merge;
mod nonce_search;
mod pipeline;
mod progress;
mod repair;
mod resume;
mod sampling;
mod scan;
mod shrink;
mod status;
mod stored_nonce;
mod tuning;
mod verify;
mod vrf;

pub use cancel::CancelToken;
pub use disk_space::available_bytes;
pub use error::Error;
pub use init::{prepare, InitEnd, InitOutcome, InitRequest, InitSummary, PreparedInit};
pub use merge::{merge, MergeOutcome, MergeRequest, Transfer};
pub use nonce_search::BEYOND_BLOCK;
pub use progress::{Event, NoProgress, ProgressSink};
pub use repair::repair;
pub use resume::TAIL_CHECK_LABELS;
pub use sampling::Sampler;
pub use scan::{BadRange, Coverage};
pub use shrink::{prepare_shrink, PreparedShrink, ShrinkOutcome, ShrinkPlan, ShrinkRequest};
pub use status::{inspect, DirStatus};
pub use tuning::Tuning;
pub use verify::{verify_data, CheckRequest, DataReport, NonceCheck};
pub use vrf::{full_label, VrfSearch};
