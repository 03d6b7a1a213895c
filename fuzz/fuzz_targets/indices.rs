//! Fuzz target: Packed proof indices fed to the strict decoder the verifier uses (see `core_props::indices`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| post_fuzz::core_props::indices(data));
