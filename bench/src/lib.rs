//! Benchmarks for Cairn: a Reed-Solomon/hash micro-benchmark (`cairn-bench-rs`) and an S3 load
//! generator (`cairn-bench-load`). The library holds the parts both binaries and the unit
//! tests share; see `bench/README.md` for how to run them and how to read the figures.

pub mod identity;
pub mod listing;
pub mod listing_clone;
pub mod load;
pub mod micro;
pub mod procinfo;
pub mod s3;
pub mod sigv4;
pub mod stats;
pub mod table;
pub mod units;
