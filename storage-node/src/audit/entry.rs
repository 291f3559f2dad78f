//! One audit entry per API call, in MinIO's audit log format (`version` "1", as
//! `minio/pkg` `logger/message/audit.Entry` and MinIO's `internal/logger/audit.go` fill it),
//! so log pipelines written for MinIO read Cairn's unchanged.
//!
//! The JSON is written straight from the request's and the response's `HeaderMap`s, in
//! three pieces, each as soon as its facts are known, because an entry is written for
//! every S3 call and maps of copied headers cost a small GET a tenth of its throughput:
//! [`request`] when the request arrives (client, request id, query, headers), [`api_head`]
//! and [`response`] when the answer starts (operation, status, response headers, keys),
//! and [`assemble`] when its body is done (time, bytes, timings). Fields appear in
//! MinIO's order; empty ones are left out as Go's `omitempty` does, and map keys are
//! sorted as Go's encoder sorts them.
//!
//! Secrets never enter an entry: `Authorization`, `Cookie`, `X-Amz-Security-Token` and the
//! SSE-C key headers are left out of `requestHeader`, and the signature and session token
//! of a presigned URL out of `requestQuery`. Header names are written as Go writes them
//! (`X-Amz-Request-Id`), as MinIO's entries have them.

use crate::s3::call::ApiCall;
use chrono::{Datelike, Timelike};
use http::{HeaderMap, HeaderName};
use std::borrow::Cow;
use std::io::Write;
use std::net::IpAddr;
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

/// The facts of an entry known only once the response body is done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Done {
    /// Request body bytes received.
    pub rx: u64,
    /// Response body bytes sent.
    pub tx: u64,
    /// Time to the first response body byte; `None` when no byte was sent.
    pub first_byte: Option<Duration>,
    /// Time to the end of the response.
    pub response: Duration,
}

/// The request's members: `remotehost`, `requestID`, `userAgent`, `requestQuery`,
/// `requestHeader`, each written with a leading comma.
pub fn request(
    out: &mut Vec<u8>,
    remote: Option<IpAddr>,
    request_id: &str,
    query: &str,
    headers: &HeaderMap,
) {
    if let Some(ip) = remote {
        out.extend_from_slice(b",\"remotehost\":\"");
        let _ = write!(out, "{ip}");
        out.push(b'"');
    }
    str_member(out, "requestID", request_id);
    if let Some(ua) = headers.get(http::header::USER_AGENT) {
        str_member(out, "userAgent", &String::from_utf8_lossy(ua.as_bytes()));
    }
    query_member(out, query);
    header_member(out, "requestHeader", headers, Side::Request);
}

/// The start of the `api` object: `,"api":{` and the members known when the answer
/// starts, each followed by a comma ([`assemble`] writes the rest).
pub fn api_head(out: &mut Vec<u8>, call: Option<&ApiCall>, status: u16) {
    out.extend_from_slice(b",\"api\":{");
    if let Some(c) = call {
        for (key, value) in [
            ("name", c.name),
            ("bucket", c.bucket.as_str()),
            ("object", c.object.as_str()),
        ] {
            if !value.is_empty() {
                key_str(out, key, value);
                out.push(b',');
            }
        }
    }
    let reason = http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    if !reason.is_empty() {
        key_str(out, "status", reason);
        out.push(b',');
    }
    if status != 0 {
        out.extend_from_slice(b"\"statusCode\":");
        push_uint(out, u64::from(status));
        out.push(b',');
    }
}

/// The response's members: `responseHeader` (without `Set-Cookie`, the ETag without its
/// quotes, as MinIO records it), `accessKey`, `parentUser`.
pub fn response(out: &mut Vec<u8>, headers: &HeaderMap, call: Option<&ApiCall>) {
    header_member(out, "responseHeader", headers, Side::Response);
    if let Some(c) = call {
        str_member(out, "accessKey", &c.access_key);
        str_member(out, "parentUser", &c.parent_user);
    }
}

/// The whole entry: its head (`version`, `deploymentid`, `time`, `event`, `trigger`), the
/// `api` object from `api_head` and `done`, then the request's and the response's members.
pub fn assemble(
    deployment_id: &str,
    time: chrono::DateTime<chrono::Utc>,
    api_head: &[u8],
    done: &Done,
    request: &[u8],
    response: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(400 + api_head.len() + request.len() + response.len());
    out.extend_from_slice(b"{\"version\":\"");
    out.extend_from_slice(VERSION.as_bytes());
    out.push(b'"');
    str_member(&mut out, "deploymentid", deployment_id);
    out.extend_from_slice(b",\"time\":\"");
    rfc3339_nanos(&mut out, time);
    out.extend_from_slice(b"\",\"event\":\"incoming\",\"trigger\":\"incoming\"");
    out.extend_from_slice(api_head);
    out.extend_from_slice(b"\"rx\":");
    push_uint(&mut out, done.rx);
    out.extend_from_slice(b",\"tx\":");
    push_uint(&mut out, done.tx);
    if let Some(first) = done.first_byte {
        nanos_members(&mut out, "timeToFirstByte", first);
    }
    nanos_members(&mut out, "timeToResponse", done.response);
    out.push(b'}');
    out.extend_from_slice(request);
    out.extend_from_slice(response);
    out.push(b'}');
    out
}

/// `,"<key>":"<n>ns","<key>InNS":"<n>"`: a duration as MinIO writes it.
fn nanos_members(out: &mut Vec<u8>, key: &str, d: Duration) {
    let n = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    push_uint(out, n);
    out.extend_from_slice(b"ns\",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"InNS\":\"");
    push_uint(out, n);
    out.push(b'"');
}

/// RFC 3339 with nanoseconds, UTC, as chrono's `to_rfc3339_opts(Nanos, true)` writes it.
fn rfc3339_nanos(out: &mut Vec<u8>, t: chrono::DateTime<chrono::Utc>) {
    let (mut second, mut nano) = (t.second(), t.nanosecond());
    // chrono keeps a leap second in the nanoseconds.
    if nano >= 1_000_000_000 {
        second += 1;
        nano -= 1_000_000_000;
    }
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Outside what four digits hold: leave it to chrono.
        let s = t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        out.extend_from_slice(s.as_bytes());
        return;
    }
    push_padded(out, year as u32, 4);
    out.push(b'-');
    push_padded(out, t.month(), 2);
    out.push(b'-');
    push_padded(out, t.day(), 2);
    out.push(b'T');
    push_padded(out, t.hour(), 2);
    out.push(b':');
    push_padded(out, t.minute(), 2);
    out.push(b':');
    push_padded(out, second, 2);
    out.push(b'.');
    push_padded(out, nano, 9);
    out.push(b'Z');
}

fn push_uint(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut n = n;
    let mut i = buf.len();
    while n > 0 && i > 0 {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = buf.len().saturating_sub(width).min(i);
    out.extend_from_slice(&buf[start..]);
}

/// `,"<key>":"<value>"`, nothing when the value is empty (`omitempty`).
fn str_member(out: &mut Vec<u8>, key: &str, value: &str) {
    if !value.is_empty() {
        out.push(b',');
        key_str(out, key, value);
    }
}

/// `"<key>":"<value>"`.
fn key_str(out: &mut Vec<u8>, key: &str, value: &str) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":");
    json_str(out, value);
}

/// A JSON string, escaped as `serde_json` escapes it.
fn json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    json_str_contents(out, s);
    out.push(b'"');
}

fn json_str_contents(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Which headers a map holds: the response's lose `Set-Cookie` and their ETag's quotes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// A header name as Go writes it: `x-amz-request-id` → `X-Amz-Request-Id`.
fn canonical(name: &str) -> impl Iterator<Item = u8> + '_ {
    let mut upper = true;
    name.bytes().map(move |c| {
        let out = if upper {
            c.to_ascii_uppercase()
        } else {
            c.to_ascii_lowercase()
        };
        upper = c == b'-';
        out
    })
}

/// `,"<key>":{...}` with the headers as MinIO records them: canonical names in order,
/// repeated values joined by `,`, and without the secret ones; nothing when none is left.
fn header_member(out: &mut Vec<u8>, key: &str, map: &HeaderMap, side: Side) {
    let mut names: Vec<&HeaderName> = map
        .keys()
        .filter(|n| {
            let n = n.as_str();
            !SECRET_HEADERS.contains(&n) && (side == Side::Request || n != "set-cookie")
        })
        .collect();
    if names.is_empty() {
        return;
    }
    names.sort_unstable_by(|a, b| canonical(a.as_str()).cmp(canonical(b.as_str())));
    out.extend_from_slice(b",\"");
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":{");
    for (i, name) in names.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'"');
        // Header names are tokens: nothing in them needs escaping.
        out.extend(canonical(name.as_str()));
        out.extend_from_slice(b"\":\"");
        let etag = side == Side::Response && name == http::header::ETAG;
        for (j, value) in map.get_all(name).iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            let mut v = value.as_bytes();
            if etag {
                while let [b'"', rest @ ..] = v {
                    v = rest;
                }
                while let [rest @ .., b'"'] = v {
                    v = rest;
                }
            }
            json_str_contents(out, &String::from_utf8_lossy(v));
        }
        out.push(b'"');
    }
    out.push(b'}');
}

/// One query component decoded as MinIO decodes it (`+` is a space).
fn decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let spaced = s.replace('+', " ");
    Cow::Owned(
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// `,"requestQuery":{...}`: the query string decoded, keys in order, repeated values
/// joined by `,`, without presigned URLs' signatures and session tokens; nothing when
/// none is left.
fn query_member(out: &mut Vec<u8>, raw: &str) {
    if raw.is_empty() {
        return;
    }
    let mut pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .filter(|(k, _)| !SECRET_QUERY.contains(&k.as_ref()))
        .collect();
    if pairs.is_empty() {
        return;
    }
    // Stable: repeated keys keep their values' order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend_from_slice(b",\"requestQuery\":{");
    let mut previous: Option<&str> = None;
    for (k, v) in &pairs {
        if previous == Some(k.as_ref()) {
            out.push(b',');
        } else {
            if previous.is_some() {
                out.extend_from_slice(b"\",");
            }
            json_str(out, k);
            out.extend_from_slice(b":\"");
            previous = Some(k.as_ref());
        }
        json_str_contents(out, v);
    }
    out.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// An entry with the given request part and nothing else, parsed.
    fn with_request(query: &str, headers: &HeaderMap) -> (String, Value) {
        let mut req = Vec::new();
        request(&mut req, None, "", query, headers);
        let json = assemble(
            "",
            chrono::Utc::now(),
            b",\"api\":{",
            &Done::default(),
            &req,
            b"",
        );
        let text = String::from_utf8(json).unwrap();
        let v = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        (text, v)
    }

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
        h.append("x-amz-meta-a", "1".parse().unwrap());
        h.insert("x-amz-date", "20260101T000000Z".parse().unwrap());
        h.append("x-amz-meta-a", "2".parse().unwrap());
        let (text, v) = with_request(
            "X-Amz-Signature=abc&X-Amz-Credential=k%2F1&list-type=2&Signature=s&X-Amz-Security-Token=t",
            &h,
        );
        let out = v["requestHeader"].as_object().unwrap();
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            vec!["X-Amz-Date", "X-Amz-Meta-A"]
        );
        assert_eq!(out["X-Amz-Meta-A"], "1,2");
        // Written in Go's order (sorted), whatever the map's.
        assert!(
            text.find("X-Amz-Date") < text.find("X-Amz-Meta-A"),
            "{text}"
        );
        let q = v["requestQuery"].as_object().unwrap();
        assert_eq!(q.len(), 2, "{q:?}");
        assert_eq!(q["X-Amz-Credential"], "k/1");
        assert_eq!(q["list-type"], "2");
        for secret in [
            "AWS4-HMAC",
            "tok",
            "a2V5",
            "token=abc",
            "abc",
            "\"s\"",
            "\"t\"",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn values_are_escaped_and_queries_decoded() {
        let mut h = HeaderMap::new();
        h.insert("x-amz-meta-q", "say \"hi\" \\ \t".parse().unwrap());
        h.insert(
            "x-amz-meta-raw",
            http::HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let (_, v) = with_request("prefix=a+b%2Bc%22&k=1&k=2&empty", &h);
        assert_eq!(v["requestHeader"]["X-Amz-Meta-Q"], "say \"hi\" \\ \t");
        assert_eq!(v["requestHeader"]["X-Amz-Meta-Raw"], "caf\u{fffd}");
        assert_eq!(v["requestQuery"]["prefix"], "a b+c\"");
        assert_eq!(v["requestQuery"]["k"], "1,2");
        assert_eq!(v["requestQuery"]["empty"], "");
        let mut s = Vec::new();
        json_str(&mut s, "\u{1}\u{8}\u{c}\r\n\u{1f}é");
        assert_eq!(
            serde_json::from_slice::<String>(&s).unwrap(),
            "\u{1}\u{8}\u{c}\r\n\u{1f}é"
        );
    }

    #[test]
    fn times_are_rfc3339_with_nanoseconds() {
        use chrono::TimeZone;
        for (secs, nanos) in [
            (0, 0),
            (1_767_225_600, 1),
            (1_798_761_599, 999_999_999),
            (-62_135_596_800, 5),
        ] {
            let t = chrono::Utc.timestamp_opt(secs, nanos).unwrap();
            let mut out = Vec::new();
            rfc3339_nanos(&mut out, t);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
            );
        }
    }

    #[test]
    fn serialized_with_minio_field_names() {
        let call = ApiCall {
            name: "PutObject",
            bucket: "b".into(),
            object: "k".into(),
            access_key: "AK".into(),
            parent_user: String::new(),
        };
        let mut head = Vec::new();
        api_head(&mut head, Some(&call), 200);
        let mut req = Vec::new();
        request(
            &mut req,
            Some("10.0.0.1".parse().unwrap()),
            "ID",
            "",
            &HeaderMap::new(),
        );
        let mut resp_headers = HeaderMap::new();
        resp_headers.insert("etag", "\"abc\"".parse().unwrap());
        resp_headers.insert("set-cookie", "s=1".parse().unwrap());
        let mut resp = Vec::new();
        response(&mut resp, &resp_headers, Some(&call));
        let done = Done {
            rx: 5,
            tx: 0,
            first_byte: None,
            response: Duration::from_micros(1500),
        };
        let time = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00.000000001Z")
            .unwrap()
            .to_utc();
        let json = assemble("", time, &head, &done, &req, &resp);
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["version"], "1");
        assert_eq!(v["time"], "2026-01-01T00:00:00.000000001Z");
        assert_eq!(v["event"], "incoming");
        assert_eq!(v["trigger"], "incoming");
        assert_eq!(v["api"]["name"], "PutObject");
        assert_eq!(v["api"]["bucket"], "b");
        assert_eq!(v["api"]["object"], "k");
        assert_eq!(v["api"]["statusCode"], 200);
        assert_eq!(v["api"]["status"], "OK");
        assert_eq!(v["api"]["rx"], 5);
        assert_eq!(v["api"]["tx"], 0);
        assert_eq!(v["api"]["timeToResponse"], "1500000ns");
        assert_eq!(v["api"]["timeToResponseInNS"], "1500000");
        assert_eq!(v["remotehost"], "10.0.0.1");
        assert_eq!(v["requestID"], "ID");
        assert_eq!(v["accessKey"], "AK");
        assert_eq!(v["responseHeader"]["Etag"], "abc");
        assert!(v["responseHeader"].get("Set-Cookie").is_none());
        assert!(v.get("deploymentid").is_none());
        assert!(v.get("parentUser").is_none());
        assert!(v.get("requestHeader").is_none());
        assert!(v.get("requestQuery").is_none());
        assert!(v["api"].get("timeToFirstByte").is_none());

        // No S3 facts (a request refused before routing): the api object still parses.
        let mut head = Vec::new();
        api_head(&mut head, None, 0);
        let json = assemble("dep", time, &head, &done, b"", b"");
        let v: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["deploymentid"], "dep");
        assert!(v["api"].get("name").is_none());
        assert!(v["api"].get("statusCode").is_none());
    }
}
