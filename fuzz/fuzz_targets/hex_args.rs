//! Fuzz target: The CLI's 32-byte hex arguments (see `core_props::hex_args`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| post_fuzz::core_props::hex_args(data));
