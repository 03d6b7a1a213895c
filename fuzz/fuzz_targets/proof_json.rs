//! Fuzz target: Proof and proof metadata JSON: parse, then round-trip (see `core_props::proof_json`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| post_fuzz::core_props::proof_json(data));
