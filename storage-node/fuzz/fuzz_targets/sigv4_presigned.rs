//! libFuzzer entry point; the checks live in [`cairn_fuzz::harness::sigv4_presigned`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::harness::sigv4_presigned(data));
