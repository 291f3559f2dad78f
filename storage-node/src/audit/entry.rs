//! One audit entry per API call, in MinIO's audit log format (`version` "1", as
//! `minio/pkg` `logger/message/audit.Entry` and MinIO's `internal/logger/audit.go` fill it),
//! so log pipelines written for MinIO read Cairn's unchanged.
//!
//! Secrets never enter an entry: `Authorization`, `Cookie`, `X-Amz-Security-Token` and the
//! SSE-C key headers are left out of `requestHeader`, and the signature and session token
//! of a presigned URL out of `requestQuery`. Header names are written as Go writes them
//! (`X-Amz-Request-Id`), as MinIO's entries have them.

use http::HeaderMap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// `version` of MinIO's audit entry format.
pub const VERSION: &str = "1";

/// Request headers that carry secrets, lower case.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-amz-security-token",
    "x-amz-server-side-encryption-customer-key",
    "x-amz-copy-source-server-side-encryption-customer-key",
];

/// Query parameters that carry secrets (presigned URLs, V4 and V2).
const SECRET_QUERY: &[&str] = &["X-Amz-Signature", "X-Amz-Security-Token", "Signature"];

/// The `api` object of an entry.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Api {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub object: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(rename = "statusCode", skip_serializing_if = "is_zero")]
    pub status_code: u16,
    /// Request body bytes received.
    pub rx: u64,
    /// Response body bytes sent.
    pub tx: u64,
    #[serde(rename = "timeToFirstByte", skip_serializing_if = "String::is_empty")]
    pub time_to_first_byte: String,
    #[serde(
        rename = "timeToFirstByteInNS",
        skip_serializing_if = "String::is_empty"
    )]
    pub time_to_first_byte_in_ns: String,
    #[serde(rename = "timeToResponse", skip_serializing_if = "String::is_empty")]
    pub time_to_response: String,
    #[serde(
        rename = "timeToResponseInNS",
        skip_serializing_if = "String::is_empty"
    )]
    pub time_to_response_in_ns: String,
}

fn is_zero(n: &u16) -> bool {
    *n == 0
}

/// One entry, field for field MinIO's (`omitempty` fields skipped when empty).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub version: &'static str,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub deploymentid: String,
    /// RFC 3339 with nanoseconds, UTC, as Go encodes `time.Time`.
    pub time: String,
    pub event: &'static str,
    /// MinIO's older name of `event`, still sent for the MinIO operator's readers.
    pub trigger: &'static str,
    pub api: Api,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub remotehost: String,
    #[serde(rename = "requestID", skip_serializing_if = "String::is_empty")]
    pub request_id: String,
    #[serde(rename = "userAgent", skip_serializing_if = "String::is_empty")]
    pub user_agent: String,
    #[serde(rename = "requestQuery", skip_serializing_if = "BTreeMap::is_empty")]
    pub request_query: BTreeMap<String, String>,
    #[serde(rename = "requestHeader", skip_serializing_if = "BTreeMap::is_empty")]
    pub request_header: BTreeMap<String, String>,
    #[serde(rename = "responseHeader", skip_serializing_if = "BTreeMap::is_empty")]
    pub response_header: BTreeMap<String, String>,
    #[serde(rename = "accessKey", skip_serializing_if = "String::is_empty")]
    pub access_key: String,
    #[serde(rename = "parentUser", skip_serializing_if = "String::is_empty")]
    pub parent_user: String,
}

/// `x-amz-request-id` → `X-Amz-Request-Id` (Go's canonical header form).
pub fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        });
        upper = c == '-';
    }
    out
}

/// Headers as MinIO records them: canonical names, repeated values joined by `,`, and
/// without the secret ones.
pub fn headers(map: &HeaderMap) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in map {
        if SECRET_HEADERS.contains(&name.as_str()) {
            continue;
        }
        let v = String::from_utf8_lossy(value.as_bytes());
        out.entry(canonical_header_name(name.as_str()))
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert_with(|| v.into_owned());
    }
    out
}

/// The query string as MinIO records it (decoded, repeated values joined by `,`), without
/// presigned URLs' signatures and session tokens.
pub fn query(raw: &str) -> BTreeMap<String, String> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let (k, v) = (decode(k), decode(v));
        if SECRET_QUERY.contains(&k.as_str()) {
            continue;
        }
        out.entry(k)
            .and_modify(|e| {
                e.push(',');
                e.push_str(&v);
            })
            .or_insert(v);
    }
    out
}

/// A duration as MinIO writes it: `"<n>ns"` and the bare nanoseconds.
pub fn nanos(d: Duration) -> (String, String) {
    let n = d.as_nanos().to_string();
    (format!("{n}ns"), n)
}

/// The reason phrase MinIO puts in `api.status` (Go's `http.StatusText`).
pub fn status_text(code: u16) -> String {
    http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_left_out() {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=x".parse().unwrap(),
        );
        h.insert("x-amz-security-token", "tok".parse().unwrap());
        h.insert(
            "x-amz-server-side-encryption-customer-key",
            "a2V5".parse().unwrap(),
        );
        h.insert("cookie", "token=abc".parse().unwrap());
        h.insert("x-amz-date", "20260101T000000Z".parse().unwrap());
        h.append("x-amz-meta-a", "1".parse().unwrap());
        h.append("x-amz-meta-a", "2".parse().unwrap());
        let out = headers(&h);
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            vec!["X-Amz-Date", "X-Amz-Meta-A"]
        );
        assert_eq!(out["X-Amz-Meta-A"], "1,2");
        let q = query(
            "X-Amz-Signature=abc&X-Amz-Credential=k%2F1&list-type=2&Signature=s&X-Amz-Security-Token=t",
        );
        assert_eq!(q.len(), 2, "{q:?}");
        assert_eq!(q["X-Amz-Credential"], "k/1");
        assert_eq!(q["list-type"], "2");
    }

    #[test]
    fn serialized_with_minio_field_names() {
        let (ttr, ttr_ns) = nanos(Duration::from_micros(1500));
        let e = Entry {
            version: VERSION,
            time: "2026-01-01T00:00:00.000000001Z".into(),
            event: "incoming",
            trigger: "incoming",
            api: Api {
                name: "PutObject".into(),
                bucket: "b".into(),
                object: "k".into(),
                status: status_text(200),
                status_code: 200,
                rx: 5,
                tx: 0,
                time_to_response: ttr,
                time_to_response_in_ns: ttr_ns,
                ..Api::default()
            },
            request_id: "ID".into(),
            access_key: "AK".into(),
            ..Entry::default()
        };
        let v: serde_json::Value = serde_json::to_value(&e).unwrap();
        assert_eq!(v["version"], "1");
        assert_eq!(v["api"]["statusCode"], 200);
        assert_eq!(v["api"]["status"], "OK");
        assert_eq!(v["api"]["rx"], 5);
        assert_eq!(v["api"]["tx"], 0);
        assert_eq!(v["api"]["timeToResponse"], "1500000ns");
        assert_eq!(v["api"]["timeToResponseInNS"], "1500000");
        assert_eq!(v["requestID"], "ID");
        assert_eq!(v["accessKey"], "AK");
        assert!(v.get("deploymentid").is_none());
        assert!(v["api"].get("timeToFirstByte").is_none());
    }
}
