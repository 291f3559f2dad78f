//! libFuzzer entry point; the checks live in [`cairn_fuzz::harness::madmin`].
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| cairn_fuzz::harness::madmin(data));
