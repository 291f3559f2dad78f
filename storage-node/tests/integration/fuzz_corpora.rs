//! Replays the committed fuzz corpora on stable Rust: every file under
//! `storage-node/fuzz/corpus/<target>/` and `storage-node/fuzz/regressions/<target>/` (the
//! inputs of crashes that were fixed) goes through the same harness function the
//! libFuzzer target calls, so `cargo test` keeps every input the fuzzer found interesting,
//! and every crash it found, passing (inputs of crashes not yet fixed wait in
//! `regressions/<target>/open/`, which is not replayed). Fuzzing itself:
//! `storage-node/fuzz/README.md`.

#[path = "../../fuzz/src/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

/// The committed inputs of one target, in a stable order. A target without a corpus
/// fails: the replay would otherwise pass vacuously after a rename.
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("read corpus directory").path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(
        !files.is_empty(),
        "no committed corpus for fuzz target {target}"
    );
    files
        .into_iter()
        .map(|path| {
            let data = std::fs::read(&path).expect("read corpus file");
            (path, data)
        })
        .collect()
}

/// Runs `check` on every input of `target`; a failing input is named in the panic.
fn replay(target: &str, check: fn(&[u8])) {
    for (path, data) in inputs(target) {
        let outcome = std::panic::catch_unwind(|| check(&data));
        assert!(
            outcome.is_ok(),
            "fuzz input {} fails its checks (reproduce: cargo +nightly fuzz run {target} {})",
            path.display(),
            path.display()
        );
    }
}

#[test]
fn sigv4_header_corpus_verifies_or_refuses_with_4xx() {
    replay("sigv4_header", harness::sigv4_header);
}

#[test]
fn sigv4_presigned_corpus_verifies_or_refuses_with_4xx() {
    replay("sigv4_presigned", harness::sigv4_presigned);
}

#[test]
fn chunked_corpus_decodes_the_same_however_split() {
    replay("chunked", harness::chunked);
}

#[test]
fn xml_bodies_corpus_round_trips() {
    replay("xml_bodies", harness::xml_bodies);
}

#[test]
fn endpoints_corpus_expands_within_limits() {
    replay("endpoints", harness::endpoints);
}

#[test]
fn meta_corpus_round_trips() {
    replay("meta", harness::meta);
}

#[test]
fn rpc_wire_corpus_round_trips() {
    replay("rpc_wire", harness::rpc_wire);
}

#[test]
fn policy_corpus_round_trips_and_decides_consistently() {
    replay("policy", harness::policy);
}

#[test]
fn madmin_corpus_refuses_what_encrypt_did_not_write() {
    replay("madmin", harness::madmin);
}

#[test]
fn rpc_frames_corpus_reads_back_and_refuses_within_the_cap() {
    replay("rpc_frames", harness::rpc_frames);
}
