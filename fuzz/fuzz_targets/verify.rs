//! Fuzz target: proofs fed to the strict verifier with the BLAKE3 stand-in proof of work (see
//! `proof_props::verify`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| post_fuzz::proof_props::verify(data));
