//! The integration tests of `cairn`, one module per subject, in a single test binary:
//! every module links the whole server and `aws-sdk-s3`, so separate binaries cost a link
//! and a monomorphisation of the SDK each (37 of them made `cargo test` minutes slower on
//! the 2-core CI machine). Run one subject with
//! `cargo test -p cairn --test integration <module>::`.

mod common;

mod admin;
mod admin_iam;
mod audit;
mod bad_input;
mod bucket_delete_race;
mod bucket_policy;
mod cluster;
mod cluster_metrics;
mod conditional_writes;
mod connections;
mod console;
mod cors;
mod faults;
mod fuzz_corpora;
mod heal;
mod iam;
mod lifecycle;
mod list_api;
mod listing;
mod metadata_text;
mod metrics;
mod multipart_checksums;
mod multipart_leaks;
mod multipart_retry;
mod object_attributes;
mod object_lock;
mod rpc_auth;
mod s3_api;
mod sigv2;
mod snowball;
mod sse;
mod sse_refused;
mod stalled_get;
mod tagging;
mod usage;
mod versioning;
