//! Fuzz target: `postdata_metadata.json`: parse, check, write, read back (see `core_props::metadata_json`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| post_fuzz::core_props::metadata_json(data));
