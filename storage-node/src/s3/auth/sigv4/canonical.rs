//! The canonical request of SigV4 as S3 clients compute it: canonical URI, query and
//! header lines, and the string to sign that hashes them.

use http::HeaderMap;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};

use super::ALGORITHM;

/// RFC 3986 unreserved characters pass; everything else is `%XX` with upper-case hex,
/// which is AWS's `UriEncode`.
const AWS_URI_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-decodes one URI component. S3 treats `+` as a literal plus when signing,
/// so only the fallback reading for form-encoding clients maps it to a space.
pub(super) fn decode_component(text: &str, plus_as_space: bool) -> Vec<u8> {
    if plus_as_space && text.contains('+') {
        let replaced = text.replace('+', " ");
        percent_decode(replaced.as_bytes()).collect()
    } else {
        percent_decode(text.as_bytes()).collect()
    }
}

/// AWS `UriEncode` of raw bytes: unreserved characters pass, all else is `%XX`.
/// A `/` is encoded too; paths are encoded segment by segment.
pub fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, AWS_URI_SET).to_string()
}

/// AWS `UriEncode` of an object key for a path: as [`uri_encode`] but keeping `/`.
pub fn uri_encode_path(path: &str) -> String {
    path.split('/')
        .map(|segment| uri_encode(segment.as_bytes()))
        .collect::<Vec<_>>()
        .join("/")
}

/// The canonical URI of a path as received: each `/`-separated segment is decoded
/// and re-encoded, so `%2F` inside a segment stays `%2F`, `$` becomes `%24` and
/// `%7e` becomes `~`. S3 performs no double-encoding and no dot-segment removal.
pub fn canonical_uri(raw_path: &str) -> String {
    if raw_path.is_empty() {
        return "/".to_owned();
    }
    raw_path
        .split('/')
        .map(|segment| uri_encode(&decode_component(segment, false)))
        .collect::<Vec<_>>()
        .join("/")
}

/// Splits a raw query into decoded `(name, value)` pairs; a parameter without `=`
/// (`?uploads`) has an empty value.
pub(super) fn decoded_query_pairs(raw_query: &str, plus_as_space: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                decode_component(name, plus_as_space),
                decode_component(value, plus_as_space),
            )
        })
        .collect()
}

/// The canonical query string: every parameter (minus `X-Amz-Signature` when
/// `exclude_signature`), names and values decoded then `UriEncode`d, sorted by
/// encoded name then value, joined as `name=value` with `&`.
pub fn canonical_query(raw_query: &str, exclude_signature: bool) -> String {
    canonical_query_with(raw_query, exclude_signature, false)
}

pub(super) fn canonical_query_with(
    raw_query: &str,
    exclude_signature: bool,
    plus_as_space: bool,
) -> String {
    let mut pairs: Vec<(String, String)> = decoded_query_pairs(raw_query, plus_as_space)
        .into_iter()
        .filter(|(name, _)| !(exclude_signature && name.as_slice() == b"X-Amz-Signature"))
        .map(|(name, value)| (uri_encode(&name), uri_encode(&value)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Canonical header lines for `signed` (lower-case names, in the order given): each
/// value trimmed with inner whitespace runs collapsed, repeated headers joined by
/// `,`, every line ending in `\n`. A signed header missing from the request yields
/// an empty value, which then simply fails the signature.
pub fn canonical_headers(headers: &HeaderMap, signed: &[&str]) -> String {
    canonical_headers_within(headers, signed, usize::MAX).unwrap_or_default()
}

/// As [`canonical_headers`], but gives up (`None`) as soon as the text passes `limit`
/// bytes, so a verifier never holds more than `limit` plus one header line.
pub(super) fn canonical_headers_within(
    headers: &HeaderMap,
    signed: &[&str],
    limit: usize,
) -> Option<String> {
    let mut out = String::new();
    for name in signed {
        let lower = name.to_ascii_lowercase();
        out.push_str(name);
        out.push(':');
        for (i, value) in headers.get_all(lower.as_str()).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&normalize_header_value(value.as_bytes()));
            if out.len() > limit {
                return None;
            }
        }
        out.push('\n');
        if out.len() > limit {
            return None;
        }
    }
    Some(out)
}

/// SigV4 "trimall": strip leading/trailing blanks, squeeze inner runs to one space.
pub(super) fn normalize_header_value(value: &[u8]) -> String {
    let text = String::from_utf8_lossy(value);
    let mut out = String::with_capacity(text.len());
    for word in text.split([' ', '\t']).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Assembles the canonical request; `canonical_headers` already ends in `\n`.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    canonical_headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!(
        "{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}"
    )
}

/// `AWS4-HMAC-SHA256\n{date}\n{scope}\n{hex(sha256(canonical request))}`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    let hashed = hex::encode(Sha256::digest(canonical_request.as_bytes()));
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{hashed}")
}
