//! Peer RPC: how the servers of a distributed deployment reach each other's drives, formats
//! and locks. It rides on the S3 port under [`PREFIX`] (HTTP/1.1, TLS when the server has
//! certificates), every call authenticated with a key all servers derive from the same
//! secret ([`auth`]): the call with its body (streamed shard writes frame by frame,
//! [`chunks`]), a request id refused on replay ([`replay`]), and the answer.
//!
//! Calls are plain HTTP requests: small arguments in the query string, bulk data (shard
//! bytes, metadata) as the raw body, structured answers as JSON. A failed call carries its
//! [`DriveError`] kind in the `x-cairn-error` header so that "not found" stays an answer
//! and everything else makes the drive count as offline for the request.

pub mod auth;
pub mod chunks;
pub mod client;
pub mod replay;
pub mod server;
pub mod wire;

use crate::drive::DriveError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::collections::HashMap;

/// Path prefix of every peer call.
pub const PREFIX: &str = "/cairn/rpc/v1/";
/// Header naming the error kind of a failed call.
pub const ERROR_HEADER: &str = "x-cairn-error";
/// Header set on `commit_object` answers that carry the previous metadata.
pub const PREVIOUS_HEADER: &str = "x-cairn-previous";
/// Largest answer a peer sends or accepts (a run of shard blocks read by heal).
pub const MAX_ANSWER: usize = 256 << 20;

const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Builds a query string from pairs, escaping every value.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_VALUE)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Parses a query string built by [`query`].
pub fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                k.to_string(),
                percent_decode_str(v).decode_utf8_lossy().into_owned(),
            )
        })
        .collect()
}

/// The wire name of an error kind.
pub fn error_code(e: &DriveError) -> &'static str {
    match e {
        DriveError::NotFound => "not_found",
        DriveError::VolumeNotFound => "volume_not_found",
        DriveError::VolumeExists => "volume_exists",
        DriveError::VolumeNotEmpty => "volume_not_empty",
        DriveError::Offline(_) => "offline",
        DriveError::Corrupt(_) => "corrupt",
        DriveError::InvalidName(_) => "invalid_name",
        DriveError::Io(_) => "io",
    }
}

/// Rebuilds the error a peer's drive returned; `peer` names it in messages.
pub fn error_from_wire(code: &str, message: String, peer: &str) -> DriveError {
    match code {
        "not_found" => DriveError::NotFound,
        "volume_not_found" => DriveError::VolumeNotFound,
        "volume_exists" => DriveError::VolumeExists,
        "volume_not_empty" => DriveError::VolumeNotEmpty,
        "corrupt" => DriveError::Corrupt(message),
        "invalid_name" => DriveError::InvalidName(message),
        "io" => DriveError::Io(message),
        _ => DriveError::Offline(format!("{peer}: {message}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_round_trips_any_text() {
        let key = "a b/c?d=e&f%g/ü/~x";
        let q = query(&[("volume", "bkt"), ("key", key), ("empty", "")]);
        let parsed = parse_query(&q);
        assert_eq!(parsed["volume"], "bkt");
        assert_eq!(parsed["key"], key);
        assert_eq!(parsed["empty"], "");
    }

    #[test]
    fn error_kinds_round_trip() {
        for e in [
            DriveError::NotFound,
            DriveError::VolumeNotFound,
            DriveError::VolumeExists,
            DriveError::VolumeNotEmpty,
            DriveError::Corrupt("x".into()),
            DriveError::InvalidName("x".into()),
            DriveError::Io("x".into()),
            DriveError::Offline("x".into()),
        ] {
            let back = error_from_wire(error_code(&e), "x".into(), "peer");
            assert_eq!(error_code(&back), error_code(&e));
        }
    }
}
