//! Properties of the untrusted-input entry points of `post`, called by the fuzz targets in
//! `fuzz_targets/` and, through `#[path]`, by the stable property tests of the crates they check.

pub mod core_props;
pub mod proof_props;
