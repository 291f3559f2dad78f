//! libFuzzer entry point; the checks live in [`cairn_fuzz::harness::rpc_frames`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::harness::rpc_frames(data));
