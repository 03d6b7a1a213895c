//! Initialization of PoST data: write, resume, split, merge, grow, verify and repair — without ever
//! losing data.
//!
//! Every operation works on a data directory as the reference tools lay it out (`postdata_<i>.bin` +
//! `postdata_metadata.json`, spec §4), takes its lock through `post_core` (exclusive to write, shared to
//! read), computes labels with any [`post_oracle::Labeller`], checks a [`CancelToken`] between batches
//! and reports to a [`ProgressSink`]; none prints.
//!
//! * [`prepare`] + [`PreparedInit::run`]: initialize, resume (verifying the labels it continues from),
//!   grow, or write a range of files (split work); the VRF nonce is chained across batches, files, runs
//!   and pieces and searched beyond the data when needed.
//! * [`merge`]: combine pieces into one directory (checked first; renamed, or copied, verified and then
//!   removed across filesystems).
//! * [`prepare_shrink`] + [`PreparedShrink::apply`]: the only way to drop data, with a plan to confirm.
//! * [`verify_data`] and [`repair`]: report every bad range; rewrite exactly the bad labels.
//! * [`inspect`]: the state of a directory without taking its lock.
//! * [`detect_scrypt_n`] / [`ScryptEvidence`]: the scrypt N the data was written with (the metadata does
//!   not record it), found by recomputing the VRF nonce's label or a few stored labels.
//! * [`rebuild_metadata`]: write a lost metadata file again from the data and the known parameters,
//!   after checking a sample of labels against them.
//!
//! What is never done implicitly: deleting or truncating a file, except cutting a torn last label (a
//! length that is not a multiple of 16, which only an interrupted write of ours leaves); a wrong tail
//! after a right head is a lost write and is overwritten with the right labels, never cut.

mod detect_n;
mod disk_space;
mod durable;
mod error;
mod init;
mod merge;
mod nonce_search;
mod pipeline;
mod progress;
mod rebuild;
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

pub use detect_n::{detect_scrypt_n, ScryptEvidence, MAX_DETECTED_LOG2_N};
pub use disk_space::available_bytes;
pub use durable::{DURABLE_FILE, SYNC_BYTES};
pub use error::Error;
pub use init::{prepare, InitEnd, InitOutcome, InitRequest, InitSummary, PreparedInit};
pub use merge::{merge, MergeOutcome, MergeRequest, Transfer};
pub use nonce_search::BEYOND_BLOCK;
pub use post_core::CancelToken;
pub use progress::{Event, NoProgress, ProgressSink};
pub use rebuild::{rebuild_metadata, RebuildOutcome, RebuildRequest};
pub use repair::repair;
pub use resume::TAIL_CHECK_LABELS;
pub use sampling::Sampler;
pub use scan::{BadRange, Coverage};
pub use shrink::{prepare_shrink, PreparedShrink, ShrinkOutcome, ShrinkPlan, ShrinkRequest};
pub use status::{inspect, DirStatus};
pub use tuning::Tuning;
pub use verify::{verify_data, CheckRequest, DataReport, NonceCheck};
pub use vrf::{full_label, VrfSearch};
