//! Faults against the real `post` binary: a damaged or cut file, a full disk, `kill -9` at random points,
//! a read-only directory, and two commands racing for one directory. One test binary, so the helpers in
//! `common.rs` are compiled once.

mod common;

mod corruption;
mod disk_full;
mod kill;
mod prove;
mod race;
mod readonly;
