//! `post init` and its neighbours against the real binary: the reference directory byte for byte, resume
//! after an interruption, split and merge, locking, disk space, corruption, metadata rebuilt, identity
//! files, and the rough edges of the command line. One test binary, so the helpers in `common.rs` are
//! compiled once.

mod common;

mod corruption;
mod disk_full;
mod identity;
mod interrupted;
mod locking;
mod rebuild;
mod reference_dir;
mod rough_edges;
mod space;
mod split_merge;
