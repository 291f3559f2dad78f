//! Fuzz harness for cairn's parsers. The checks live in [`harness`], which the
//! stable-Rust replay test (`storage-node/tests/fuzz_corpora.rs`) includes by path, so a
//! committed corpus file goes through exactly the code the fuzzer ran.

pub mod harness;
