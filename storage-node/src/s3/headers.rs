//! Header conventions of S3: which request headers are stored with an object, how they
//! come back, dates, ETags, ranges and conditional requests.

use super::error::{S3Error, S3Result};
use super::sse::request as encryption;
use crate::objects::ObjectInfo;
use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderValue, StatusCode};
use std::collections::BTreeMap;

/// Standard headers stored with an object and returned on GET/HEAD.
pub const STORED_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-storage-class",
    "x-amz-website-redirect-location",
];

/// User metadata is limited to 2 KiB in S3.
pub const MAX_USER_METADATA: usize = 2048;

pub fn http_date(ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now);
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

pub fn iso_date(ms: i64) -> String {
    let t = Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now);
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub fn parse_http_date(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(s.trim(), "%A, %d-%b-%y %H:%M:%S GMT")
                .ok()
                .map(|n| n.and_utc())
        })
}

pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

pub fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Headers of a PUT/Create that are kept with the object.
pub fn stored_headers(h: &HeaderMap) -> S3Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut meta_size = 0;
    for (name, value) in h {
        let n = name.as_str();
        let keep = STORED_HEADERS.contains(&n) || n.starts_with("x-amz-meta-");
        if !keep {
            continue;
        }
        if n.starts_with("x-amz-meta-") {
            // User metadata may be non-ASCII, as S3 takes it (RFC 2047 or raw).
            let v = super::metadata_text::decode(value.as_bytes());
            meta_size += n.len() - "x-amz-meta-".len() + v.len();
            out.insert(n.to_string(), v);
            continue;
        }
        let v = value
            .to_str()
            .map_err(|_| S3Error::invalid_argument(format!("header {n} must be ASCII")))?;
        if n == "content-encoding" {
            // aws-chunked is transport framing, not a property of the object.
            let rest: Vec<&str> = v
                .split(',')
                .map(str::trim)
                .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
                .collect();
            if !rest.is_empty() {
                out.insert(n.to_string(), rest.join(", "));
            }
            continue;
        }
        out.insert(n.to_string(), v.to_string());
    }
    if meta_size > MAX_USER_METADATA {
        return Err(S3Error::new(
            "MetadataTooLarge",
            StatusCode::BAD_REQUEST,
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    Ok(out)
}

/// Response headers describing an object (GET and HEAD).
/// The condition of a conditional write (PutObject, CompleteMultipartUpload):
/// `If-None-Match: *` or `If-Match: <etag>`. S3 accepts only `*` in If-None-Match.
pub fn write_condition(h: &HeaderMap) -> S3Result<Option<crate::objects::WriteCondition>> {
    use crate::objects::WriteCondition;
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    match (get("if-none-match"), get("if-match")) {
        (Some(_), Some(_)) => Err(S3Error::not_implemented(
            "If-Match and If-None-Match together",
        )),
        (Some("*"), None) => Ok(Some(WriteCondition::IfNoneMatch)),
        (Some(_), None) => Err(S3Error::not_implemented(
            "If-None-Match with a value other than *",
        )),
        (None, Some(etag)) => Ok(Some(WriteCondition::IfMatch(
            etag.trim_matches('"').to_string(),
        ))),
        (None, None) => Ok(None),
    }
}

/// Prefix of the stored headers the server keeps for itself and never returns.
pub const RESERVED_HEADER_PREFIX: &str = "x-cairn-internal-";

pub fn object_headers(info: &ObjectInfo, with_checksums: bool) -> HeaderMap {
    let mut h = HeaderMap::new();
    let mut put = |name: &str, value: &str| {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            h.insert(n, v);
        }
    };
    put("etag", &quoted(&info.etag));
    put("last-modified", &http_date(info.mod_time_ms));
    put("accept-ranges", "bytes");
    if !info.headers.contains_key("content-type") {
        put("content-type", "binary/octet-stream");
    }
    // Objects written before encryption requests were refused may still carry the
    // header; it never described the bytes on disk, so it is not repeated. Reserved
    // headers (an object's ACL and owner) are the server's own.
    for (k, v) in info.headers.iter().filter(|(k, _)| {
        !encryption::is_encryption_header(k) && !k.starts_with(RESERVED_HEADER_PREFIX)
    }) {
        if k.starts_with("x-amz-meta-") {
            put(k, &super::metadata_text::encode(v));
        } else {
            put(k, v);
        }
    }
    let tags = super::handlers::tagging::Tags::of_object(&info.headers);
    if !tags.0.is_empty() {
        put("x-amz-tagging-count", &tags.0.len().to_string());
    }
    if with_checksums {
        for (algo, v) in &info.checksums {
            put(&format!("x-amz-checksum-{algo}"), v);
        }
        if let Some(v) = info.checksums.values().next() {
            let ty = super::multipart_checksum::ChecksumType::of_value(v);
            put("x-amz-checksum-type", ty.name());
        }
    }
    if info.parts.len() > 1 || info.is_multipart() {
        put("x-amz-mp-parts-count", &info.parts.len().to_string());
    }
    super::handlers::object_lock::response_headers(info, &mut put);
    h
}

/// A parsed `Range: bytes=...` header (single range only, as S3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeSpec {
    FromTo(u64, Option<u64>),
    Suffix(u64),
}

/// Parses a Range header; `None` for headers S3 ignores (other units, multi-ranges).
pub fn parse_range(value: &str) -> Option<RangeSpec> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return b.parse().ok().map(RangeSpec::Suffix);
    }
    let start = a.parse().ok()?;
    if b.is_empty() {
        return Some(RangeSpec::FromTo(start, None));
    }
    let end: u64 = b.parse().ok()?;
    (end >= start).then_some(RangeSpec::FromTo(start, Some(end)))
}

/// Resolves a range against the object size: inclusive (first, last), or InvalidRange.
pub fn resolve_range(r: RangeSpec, size: u64) -> S3Result<(u64, u64)> {
    let invalid = || {
        S3Error::new(
            "InvalidRange",
            StatusCode::RANGE_NOT_SATISFIABLE,
            "The requested range is not satisfiable",
        )
        .with("ActualObjectSize", size.to_string())
    };
    match r {
        RangeSpec::FromTo(start, end) => {
            if start >= size {
                return Err(invalid());
            }
            Ok((start, end.map_or(size - 1, |e| e.min(size - 1))))
        }
        RangeSpec::Suffix(n) => {
            if n == 0 || size == 0 {
                return Err(invalid());
            }
            Ok((size - n.min(size), size - 1))
        }
    }
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.trim_start_matches("W/").trim_matches('"') == etag
    })
}

/// Evaluates If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since with
/// the precedence RFC 9110 and S3 use. `prefix` selects the copy-source variants.
pub fn check_conditions(
    h: &HeaderMap,
    info: &ObjectInfo,
    prefix: &str,
    is_get: bool,
) -> S3Result<()> {
    let get = |n: &str| header_str(h, &format!("{prefix}{n}"));
    let modified = info.mod_time_ms / 1000;
    let failed = || {
        S3Error::new(
            "PreconditionFailed",
            StatusCode::PRECONDITION_FAILED,
            "At least one of the pre-conditions you specified did not hold",
        )
    };
    let not_modified = || S3Error::new("NotModified", StatusCode::NOT_MODIFIED, "Not Modified");
    let if_match = get("if-match");
    if let Some(m) = if_match {
        if !etag_matches(m, &info.etag) {
            return Err(failed());
        }
    } else if let Some(t) = get("if-unmodified-since").and_then(parse_http_date) {
        if modified > t.timestamp() {
            return Err(failed());
        }
    }
    let if_none = get("if-none-match");
    if let Some(m) = if_none {
        if etag_matches(m, &info.etag) {
            return Err(if is_get { not_modified() } else { failed() });
        }
    } else if let Some(t) = get("if-modified-since").and_then(parse_http_date) {
        if modified <= t.timestamp() {
            return Err(if is_get { not_modified() } else { failed() });
        }
    }
    Ok(())
}

/// Parses `x-amz-copy-source` (`[/]bucket/key[?versionId=...]`, URL-encoded): bucket,
/// key and the source version `?versionId=` names (any version; `None`: the latest), for
/// the copy handlers and for the permission check, which runs before them.
pub fn copy_source(headers: &http::HeaderMap) -> S3Result<(String, String, Option<String>)> {
    let raw = header_str(headers, "x-amz-copy-source")
        .ok_or_else(|| S3Error::invalid_argument("x-amz-copy-source is required"))?;
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let version = match query.strip_prefix("versionId=") {
        Some(v) => {
            let v = percent_encoding::percent_decode_str(v)
                .decode_utf8()
                .map_err(|_| S3Error::invalid_argument("Invalid version id specified"))?
                .into_owned();
            crate::objects::versioning::validate_version_id(&v)?;
            Some(v)
        }
        None => None,
    };
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .map_err(|_| S3Error::invalid_argument("x-amz-copy-source must be valid UTF-8"))?;
    let decoded = decoded.trim_start_matches('/');
    match decoded.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => {
            Ok((b.to_string(), k.to_string(), version))
        }
        _ => Err(S3Error::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(
            parse_range("bytes=0-9"),
            Some(RangeSpec::FromTo(0, Some(9)))
        );
        assert_eq!(parse_range("bytes=5-"), Some(RangeSpec::FromTo(5, None)));
        assert_eq!(parse_range("bytes=-3"), Some(RangeSpec::Suffix(3)));
        assert_eq!(parse_range("bytes=9-1"), None);
        assert_eq!(parse_range("items=1-2"), None);
        assert_eq!(
            resolve_range(RangeSpec::FromTo(5, Some(100)), 10).unwrap(),
            (5, 9)
        );
        assert_eq!(resolve_range(RangeSpec::Suffix(30), 10).unwrap(), (0, 9));
        assert!(resolve_range(RangeSpec::FromTo(10, None), 10).is_err());
        assert!(resolve_range(RangeSpec::Suffix(1), 0).is_err());
    }

    #[test]
    fn dates_roundtrip() {
        let s = http_date(1_700_000_000_000);
        assert_eq!(s, "Tue, 14 Nov 2023 22:13:20 GMT");
        assert_eq!(parse_http_date(&s).unwrap().timestamp(), 1_700_000_000);
        assert_eq!(iso_date(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    fn info() -> ObjectInfo {
        ObjectInfo {
            part_checksums: Default::default(),
            bucket: "b".into(),
            key: "k".into(),
            size: 1,
            stored_size: 1,
            etag: "abc".into(),
            mod_time_ms: 1_700_000_000_000,
            headers: BTreeMap::new(),
            checksums: BTreeMap::new(),
            parts: vec![(1, 1)],
            version_id: "null".into(),
            retention: None,
            legal_hold: false,
            legal_hold_set: false,
        }
    }

    #[test]
    fn conditions() {
        let mut h = HeaderMap::new();
        h.insert("if-none-match", "\"abc\"".parse().unwrap());
        assert_eq!(
            check_conditions(&h, &info(), "", true).unwrap_err().status,
            StatusCode::NOT_MODIFIED
        );
        let mut h = HeaderMap::new();
        h.insert("if-match", "\"zzz\"".parse().unwrap());
        assert_eq!(
            check_conditions(&h, &info(), "", true).unwrap_err().status,
            StatusCode::PRECONDITION_FAILED
        );
        let mut h = HeaderMap::new();
        h.insert(
            "if-modified-since",
            "Tue, 14 Nov 2023 22:13:20 GMT".parse().unwrap(),
        );
        assert!(check_conditions(&h, &info(), "", true).is_err());
        h.insert(
            "if-modified-since",
            "Tue, 14 Nov 2023 22:13:19 GMT".parse().unwrap(),
        );
        assert!(check_conditions(&h, &info(), "", true).is_ok());
    }

    #[test]
    fn encryption_headers_are_neither_stored_nor_echoed() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-server-side-encryption", "AES256".parse().unwrap());
        h.insert("x-amz-meta-a", "1".parse().unwrap());
        let s = stored_headers(&h).unwrap();
        assert_eq!(s.keys().collect::<Vec<_>>(), ["x-amz-meta-a"]);
        let mut old = info();
        old.headers
            .insert("x-amz-server-side-encryption".into(), "AES256".into());
        let out = object_headers(&old, false);
        assert!(!out.contains_key("x-amz-server-side-encryption"));
        assert_eq!(out["etag"], "\"abc\"");
    }

    #[test]
    fn stored_headers_drop_aws_chunked() {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", "aws-chunked".parse().unwrap());
        h.insert("x-amz-meta-a", "1".parse().unwrap());
        h.insert("authorization", "x".parse().unwrap());
        let s = stored_headers(&h).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s["x-amz-meta-a"], "1");
    }
}
