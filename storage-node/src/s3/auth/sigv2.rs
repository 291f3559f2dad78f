//! AWS Signature Version 2 for S3: server-side verification of presigned query strings
//! (`?AWSAccessKeyId=…&Signature=…&Expires=…`) and of `Authorization: AWS key:sig`
//! headers, plus a client-side presigner for tests.
//!
//! SigV2 is deprecated on AWS, but boto3's `generate_presigned_url` with a default
//! config and `aws s3 presign` (AWS CLI v1) still produce it, and AWS (us-east-1) and
//! MinIO accept it. The signature is `base64(HMAC-SHA1(secret, StringToSign))` over
//!
//! ```text
//! Verb \n Content-MD5 \n Content-Type \n Date-or-Expires \n
//! CanonicalizedAmzHeaders CanonicalizedResource
//! ```
//!
//! The resource is the path exactly as sent on the wire (still percent-encoded), with
//! `/bucket` in front for virtual-host-style requests, followed by the S3 sub-resources
//! present in the query (decoded, sorted by name). SigV2 does not sign the payload, so
//! every outcome is [`PayloadMode::Unsigned`]; a `Content-MD5` header, if sent, is
//! signed here and checked against the body elsewhere.
//!
//! Two leniencies, each a full constant-time comparison against a form a legitimate
//! client signs (they never drop anything that selects the operation or the object):
//! - botocore signs bucket-level requests as `/bucket/` while sending `/bucket`
//!   path-style, so a one-segment path is also tried with a trailing slash;
//! - a presigned URL whose signer left Content-Type empty also verifies when the
//!   request carries a Content-Type (`fetch`/`urllib` uploads always send one), which
//!   is what SigV4 presigned URLs do anyway since they sign only `host`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use percent_encoding::percent_decode_str;
use sha1::{Digest, Sha1};

use super::sigv4::{
    AuthError, AuthOutcome, Credentials, MAX_CLOCK_SKEW, MAX_PRESIGN_EXPIRES, PayloadMode,
    SecretLookup, uri_encode,
};
use crate::s3::request;

type HmacSha1 = Hmac<Sha1>;

/// `Authorization` scheme prefix of SigV2 (`AWS AccessKeyId:Signature`).
pub const SCHEME_PREFIX: &str = "AWS ";
/// Query parameter carrying the access key of a presigned URL.
pub const ACCESS_KEY_PARAM: &str = "AWSAccessKeyId";
/// Query parameter carrying the base64 signature of a presigned URL.
pub const SIGNATURE_PARAM: &str = "Signature";
/// Query parameter carrying the expiry of a presigned URL, in Unix seconds.
pub const EXPIRES_PARAM: &str = "Expires";

/// Query parameters that are part of the CanonicalizedResource, sorted. This is the
/// union of AWS's documented list, botocore's (`HmacV1Auth.QSAOfInterest`) and
/// MinIO's: signing more never lets a request through that a signer did not mean, and
/// every parameter that selects an operation in `handlers::route` is here.
pub const SUB_RESOURCES: &[&str] = &[
    "accelerate",
    "acl",
    "analytics",
    "cors",
    "defaultObjectAcl",
    "delete",
    "encryption",
    "inventory",
    "legal-hold",
    "lifecycle",
    "location",
    "logging",
    "metrics",
    "notification",
    "object-lock",
    "partNumber",
    "policy",
    "replication",
    "requestPayment",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "restore",
    "retention",
    "select",
    "select-type",
    "storageClass",
    "tagging",
    "torrent",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
    "website",
];

const QUERY_REQUIRED_MSG: &str =
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters";

/// Whether the query asks for SigV2 query-string authentication: it carries
/// `AWSAccessKeyId` or `Signature` (the rest is checked by [`verify`]).
pub fn is_presigned(raw_query: &str) -> bool {
    raw_query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or_default();
        name == ACCESS_KEY_PARAM || name == SIGNATURE_PARAM
    })
}

/// Whether an `Authorization` value uses the SigV2 scheme (`AWS key:sig`).
pub fn is_v2_authorization(value: &[u8]) -> bool {
    value.starts_with(SCHEME_PREFIX.as_bytes())
}

/// Verifies a SigV2-signed request, by presigned query or `Authorization` header.
///
/// `raw_path` and `raw_query` must be exactly as received; `domains` are the
/// virtual-host domains (the signed resource of `bucket.domain/key` is `/bucket/key`);
/// `now` is injected so tests can replay AWS's 2007 examples.
pub fn verify(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    domains: &[String],
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let request = Request {
        method,
        raw_path,
        raw_query,
        headers,
        domains,
    };
    let mut authorization = headers.get_all(http::header::AUTHORIZATION).iter();
    let header = authorization.next();
    if authorization.next().is_some() {
        return Err(malformed_header("multiple Authorization headers"));
    }
    match (header, is_presigned(raw_query)) {
        (None, false) => Err(AuthError::Anonymous),
        (Some(_), true) => Err(AuthError::MultipleMechanisms),
        (None, true) => verify_presigned(&request, now, secrets),
        (Some(value), false) => {
            let value = value
                .to_str()
                .map_err(|_| malformed_header("non-ASCII Authorization header"))?;
            verify_header(&request, value, now, secrets)
        }
    }
}

/// The pieces of a request that are signed, borrowed from the caller.
struct Request<'a> {
    method: &'a Method,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a HeaderMap,
    domains: &'a [String],
}

fn malformed_header(detail: &str) -> AuthError {
    AuthError::HeaderMalformed(detail.to_owned())
}

fn malformed_query(detail: &str) -> AuthError {
    AuthError::QueryMalformed(detail.to_owned())
}

fn verify_header(
    request: &Request<'_>,
    authorization: &str,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let rest = authorization
        .strip_prefix(SCHEME_PREFIX)
        .ok_or(AuthError::UnsupportedAuthorization)?;
    let (access_key, signature) = rest
        .trim()
        .rsplit_once(':')
        .map(|(key, sig)| (key.trim(), sig.trim()))
        .filter(|(key, sig)| !key.is_empty() && !sig.is_empty())
        .ok_or_else(|| malformed_header("expected \"AWS AccessKeyId:Signature\""))?;
    let time = request_time(request.headers)?;
    if (now - time).abs() > MAX_CLOCK_SKEW {
        return Err(AuthError::TimeTooSkewed);
    }
    // With x-amz-date present the Date line is empty; x-amz-date is signed as an
    // amz header instead.
    let date = if request.headers.contains_key("x-amz-date") {
        String::new()
    } else {
        header_text(request.headers, http::header::DATE.as_str())
    };
    check(request, access_key, signature, &date, false, secrets)
}

fn verify_presigned(
    request: &Request<'_>,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let params = PresignParams::parse(request.raw_query)?;
    let expires: i64 = params.expires.parse().map_err(|_| {
        AuthError::QueryMalformed(format!(
            "Invalid date (should be seconds since epoch): {}",
            params.expires
        ))
    })?;
    if now.timestamp() > expires {
        return Err(AuthError::Expired);
    }
    check_lifetime(expires, now)?;
    // A `+` that was not percent-encoded is a base64 `+`, not a space; undo form
    // decoding done by anything in between.
    let signature = params.signature.replace(' ', "+");
    check(
        request,
        &params.access_key,
        &signature,
        &params.expires,
        true,
        secrets,
    )
}

/// Refuses a presigned URL that would live longer than SigV4 allows. SigV2 carries no
/// signing time, only the absolute `Expires`, so the lifetime is measured from now; the
/// allowed clock skew is added so that a URL signed for the full seven days by a client
/// whose clock runs a little ahead still works. Without this cap a leaked URL (or one
/// signed with a key since revoked from some other cache) would be valid for decades.
fn check_lifetime(expires: i64, now: DateTime<Utc>) -> Result<(), AuthError> {
    let longest = now
        .timestamp()
        .saturating_add(i64::try_from(MAX_PRESIGN_EXPIRES).unwrap_or(i64::MAX))
        .saturating_add(MAX_CLOCK_SKEW.num_seconds());
    if expires > longest {
        return Err(AuthError::QueryMalformed(format!(
            "Expires must be at most {MAX_PRESIGN_EXPIRES} seconds (7 days) after the request \
             time, as for Signature Version 4 presigned URLs; got {expires}"
        )));
    }
    Ok(())
}

/// Looks up the secret and compares the signature against every accepted form.
fn check(
    request: &Request<'_>,
    access_key: &str,
    signature: &str,
    date: &str,
    presigned: bool,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let secret = secrets
        .secret_key(access_key)
        .ok_or(AuthError::UnknownAccessKey)?;
    let provided = STANDARD
        .decode(signature)
        .map_err(|_| AuthError::SignatureMismatch)?;
    let headers = request.headers;
    let content_md5 = header_text(headers, "content-md5");
    let content_type = header_text(headers, http::header::CONTENT_TYPE.as_str());
    let mut content_types = vec![content_type.as_str()];
    if presigned && !content_type.is_empty() {
        content_types.push("");
    }
    let amz_headers = canonical_amz_headers(headers);
    let sub_resources = canonical_sub_resources(request.raw_query);
    let paths = resource_paths(request.raw_path, headers, request.domains);
    let matched = paths.iter().any(|path| {
        let resource = [path.as_bytes(), &sub_resources].concat();
        content_types.iter().any(|content_type| {
            let to_sign = string_to_sign(&StringToSign {
                method: request.method.as_str(),
                content_md5: &content_md5,
                content_type,
                date,
                amz_headers: &amz_headers,
                resource: &resource,
            });
            hmac_verify(secret.as_bytes(), &to_sign, &provided)
        })
    });
    if !matched {
        return Err(AuthError::SignatureMismatch);
    }
    Ok(AuthOutcome {
        access_key: access_key.to_owned(),
        payload: PayloadMode::Unsigned,
        chunk_signing: None,
    })
}

/// The presigned-URL parameters, decoded.
struct PresignParams {
    access_key: String,
    signature: String,
    expires: String,
}

impl PresignParams {
    fn parse(raw_query: &str) -> Result<Self, AuthError> {
        let pairs = decoded_query_pairs(raw_query);
        let required = |name: &str| -> Result<String, AuthError> {
            let mut values = pairs
                .iter()
                .filter(|(n, _)| n.as_slice() == name.as_bytes());
            let first = values.next();
            if values.next().is_some() {
                return Err(AuthError::QueryMalformed(format!(
                    "{name} must appear only once"
                )));
            }
            first
                .and_then(|(_, value)| value.as_deref())
                .filter(|value| !value.is_empty())
                .map(|value| String::from_utf8_lossy(value).into_owned())
                .ok_or_else(|| malformed_query(QUERY_REQUIRED_MSG))
        };
        Ok(Self {
            access_key: required(ACCESS_KEY_PARAM)?,
            signature: required(SIGNATURE_PARAM)?,
            expires: required(EXPIRES_PARAM)?,
        })
    }
}

/// Splits a raw query into percent-decoded `(name, value)` pairs; `value` is `None`
/// for a parameter without `=` (`?uploads`). `+` stays a literal plus, as when signing.
fn decoded_query_pairs(raw_query: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    raw_query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((name, value)) => (decode(name), Some(decode(value))),
            None => (decode(pair), None),
        })
        .collect()
}

fn decode(text: &str) -> Vec<u8> {
    percent_decode_str(text).collect()
}

/// The sub-resource part of the CanonicalizedResource: `?name=value&name2` for the
/// [`SUB_RESOURCES`] in the query, decoded, sorted by name (stable for repeats), with
/// `=` omitted for empty values; empty when there are none.
fn canonical_sub_resources(raw_query: &str) -> Vec<u8> {
    let mut selected: Vec<(Vec<u8>, Vec<u8>)> = decoded_query_pairs(raw_query)
        .into_iter()
        .filter(|(name, _)| {
            SUB_RESOURCES
                .iter()
                .any(|sub| sub.as_bytes() == name.as_slice())
        })
        .map(|(name, value)| (name, value.unwrap_or_default()))
        .collect();
    if selected.is_empty() {
        return Vec::new();
    }
    selected.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = vec![b'?'];
    for (index, (name, value)) in selected.iter().enumerate() {
        if index > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(name);
        if !value.is_empty() {
            out.push(b'=');
            out.extend_from_slice(value);
        }
    }
    out
}

/// The resource paths a legitimate client may have signed: the wire path (with the
/// bucket in front for virtual-host style) and, for a path-style bucket-only path,
/// the same with a trailing slash (what botocore signs).
fn resource_paths(raw_path: &str, headers: &HeaderMap, domains: &[String]) -> Vec<String> {
    let path = if raw_path.is_empty() { "/" } else { raw_path };
    if let Some(bucket) = vhost_bucket(headers, domains) {
        return vec![format!("/{bucket}{path}")];
    }
    let mut paths = vec![path.to_owned()];
    let bucket_only = path.len() > 1 && !path[1..].contains('/');
    if bucket_only {
        paths.push(format!("{path}/"));
    }
    paths
}

/// The bucket named by a `Host` of `<bucket>.<domain>`, with exactly the routing
/// rules of [`request::target`]: for the path `/` it yields a bucket only when the
/// request is virtual-host style.
fn vhost_bucket(headers: &HeaderMap, domains: &[String]) -> Option<String> {
    if domains.is_empty() {
        return None;
    }
    request::target("/", headers, domains)
        .ok()
        .and_then(|target| target.bucket)
}

/// A header's value (first occurrence) trimmed, or empty when absent.
fn header_text(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
        .unwrap_or_default()
}

/// CanonicalizedAmzHeaders: every `x-amz-*` header, lower-case, sorted by name, as
/// `name:value\n` with each value trimmed and repeated headers joined by `,`.
pub fn canonical_amz_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut names: Vec<&str> = headers
        .keys()
        .map(http::HeaderName::as_str)
        .filter(|name| name.starts_with("x-amz-"))
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        for (index, value) in headers.get_all(name).iter().enumerate() {
            if index > 0 {
                out.push(b',');
            }
            out.extend_from_slice(value.as_bytes().trim_ascii());
        }
        out.push(b'\n');
    }
    out
}

/// The fields of a SigV2 StringToSign.
#[derive(Debug, Clone, Copy)]
pub struct StringToSign<'a> {
    pub method: &'a str,
    pub content_md5: &'a str,
    pub content_type: &'a str,
    /// The `Date` header, the presigned `Expires`, or empty when `x-amz-date` is sent.
    pub date: &'a str,
    /// [`canonical_amz_headers`] output (each line already ends in `\n`).
    pub amz_headers: &'a [u8],
    /// Path as signed plus the `?sub-resources`.
    pub resource: &'a [u8],
}

/// Assembles the StringToSign.
pub fn string_to_sign(parts: &StringToSign<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        parts.method.len()
            + parts.content_md5.len()
            + parts.content_type.len()
            + parts.date.len()
            + parts.amz_headers.len()
            + parts.resource.len()
            + 4,
    );
    for line in [
        parts.method,
        parts.content_md5,
        parts.content_type,
        parts.date,
    ] {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(parts.amz_headers);
    out.extend_from_slice(parts.resource);
    out
}

/// `base64(HMAC-SHA1(secret, string_to_sign))`: the signature itself.
pub fn sign(secret: &str, string_to_sign: &[u8]) -> String {
    let mut mac = hmac_for(secret.as_bytes());
    mac.update(string_to_sign);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// HMAC-SHA1 keyed through `Mac::new` with a pre-padded block, which is the same MAC
/// as `new_from_slice` (keys are zero-padded to the block, longer ones hashed first)
/// while staying infallible.
fn hmac_for(key: &[u8]) -> HmacSha1 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..20].copy_from_slice(&Sha1::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha1 as KeyInit>::new(&block.into())
}

/// Constant-time check of `expected` against HMAC-SHA1(key, data).
fn hmac_verify(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    let mut mac = hmac_for(key);
    mac.update(data);
    mac.verify_slice(expected).is_ok()
}

/// The request time from `x-amz-date` if present, else `Date`.
fn request_time(headers: &HeaderMap) -> Result<DateTime<Utc>, AuthError> {
    let value = headers
        .get("x-amz-date")
        .or_else(|| headers.get(http::header::DATE))
        .ok_or(AuthError::MissingDate)?;
    let text = value.to_str().map_err(|_| AuthError::MissingDate)?.trim();
    parse_http_date(text).ok_or(AuthError::MissingDate)
}

/// RFC 1123 / 2822 (`Tue, 27 Mar 2007 19:36:42 +0000` or `… GMT`), or the ISO 8601
/// basic form some clients put in `x-amz-date`.
fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text)
        .map(|time| time.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y%m%dT%H%M%SZ")
                .ok()
                .map(|naive| naive.and_utc())
        })
}

/// A URL to presign with SigV2 (tests): path-style, no signed headers.
#[derive(Debug, Clone)]
pub struct PresignV2Request<'a> {
    pub method: &'a Method,
    /// Path as it will go on the wire (already percent-encoded), `/bucket/key`.
    pub raw_path: &'a str,
    /// Extra query parameters already on the URL (e.g. `response-content-type=…`).
    pub raw_query: &'a str,
    /// The Content-Type the uploader will send, or empty.
    pub content_type: &'a str,
    /// Expiry in Unix seconds.
    pub expires: i64,
}

/// Builds the full raw query of a SigV2 presigned URL, in botocore's parameter order:
/// `[raw_query&]AWSAccessKeyId=…&Signature=…&Expires=…`.
pub fn presign_v2(request: &PresignV2Request<'_>, credentials: &Credentials) -> String {
    let expires = request.expires.to_string();
    let resource = [
        request.raw_path.as_bytes(),
        &canonical_sub_resources(request.raw_query),
    ]
    .concat();
    let to_sign = string_to_sign(&StringToSign {
        method: request.method.as_str(),
        content_md5: "",
        content_type: request.content_type,
        date: &expires,
        amz_headers: b"",
        resource: &resource,
    });
    let signature = sign(&credentials.secret_key, &to_sign);
    let query = format!(
        "{ACCESS_KEY_PARAM}={}&{SIGNATURE_PARAM}={}&{EXPIRES_PARAM}={expires}",
        uri_encode(credentials.access_key.as_bytes()),
        uri_encode(signature.as_bytes()),
    );
    if request.raw_query.is_empty() {
        query
    } else {
        format!("{}&{query}", request.raw_query)
    }
}

/// The `Authorization` value of a header-signed SigV2 request (tests): signs method,
/// `Content-MD5`, `Content-Type`, `Date` (or empty with `x-amz-date`), the `x-amz-*`
/// headers and the path-style resource with its sub-resources.
pub fn authorization_v2(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    credentials: &Credentials,
) -> String {
    let date = if headers.contains_key("x-amz-date") {
        String::new()
    } else {
        header_text(headers, http::header::DATE.as_str())
    };
    let resource = [raw_path.as_bytes(), &canonical_sub_resources(raw_query)].concat();
    let to_sign = string_to_sign(&StringToSign {
        method: method.as_str(),
        content_md5: &header_text(headers, "content-md5"),
        content_type: &header_text(headers, http::header::CONTENT_TYPE.as_str()),
        date: &date,
        amz_headers: &canonical_amz_headers(headers),
        resource: &resource,
    });
    format!(
        "{SCHEME_PREFIX}{}:{}",
        credentials.access_key,
        sign(&credentials.secret_key, &to_sign)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use http::HeaderValue;
    use std::collections::HashMap;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    struct Keys(HashMap<String, String>);

    impl SecretLookup for Keys {
        fn secret_key(&self, access_key: &str) -> Option<String> {
            self.0.get(access_key).cloned()
        }
    }

    fn keys() -> Keys {
        Keys(HashMap::from([(AK.to_owned(), SECRET.to_owned())]))
    }

    type Pairs = &'static [(&'static str, &'static str)];
    /// Method, raw path, raw query and headers of a request.
    type Case = (Method, &'static str, &'static str, Pairs);
    /// As [`Case`], plus the signature of its `Authorization` header.
    type SignedCase = (Method, &'static str, &'static str, Pairs, &'static str);

    fn creds() -> Credentials {
        Credentials {
            access_key: AK.to_owned(),
            secret_key: SECRET.to_owned(),
        }
    }

    fn domains() -> Vec<String> {
        vec!["s3.amazonaws.com".to_owned()]
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_str(value).expect("value"),
            );
        }
        map
    }

    fn time(rfc2822: &str) -> DateTime<Utc> {
        parse_http_date(rfc2822).expect("valid date")
    }

    fn at(unix: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(unix, 0).single().expect("valid time")
    }

    fn check_header(
        method: Method,
        raw_path: &str,
        raw_query: &str,
        map: &HeaderMap,
        now: DateTime<Utc>,
    ) -> Result<AuthOutcome, AuthError> {
        verify(&method, raw_path, raw_query, map, &domains(), now, &keys())
    }

    /// The examples of "Signing and authenticating REST requests (AWS signature
    /// version 2)", virtual-host style on `johnsmith.s3.amazonaws.com`.
    #[test]
    fn aws_documentation_examples() {
        let cases: &[SignedCase] = &[
            // Object GET
            (
                Method::GET,
                "/photos/puppy.jpg",
                "",
                &[
                    ("host", "johnsmith.s3.amazonaws.com"),
                    ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
                ],
                "bWq2s1WEIj+Ydj0vQ697zp+IXMU=",
            ),
            // Object PUT
            (
                Method::PUT,
                "/photos/puppy.jpg",
                "",
                &[
                    ("content-type", "image/jpeg"),
                    ("content-length", "94328"),
                    ("host", "johnsmith.s3.amazonaws.com"),
                    ("date", "Tue, 27 Mar 2007 21:15:45 +0000"),
                ],
                "MyyxeRY7whkBe+bq8fHCL/2kKUg=",
            ),
            // List: ordinary query parameters are not signed.
            (
                Method::GET,
                "/",
                "prefix=photos&max-keys=50&marker=puppy",
                &[
                    ("user-agent", "Mozilla/5.0"),
                    ("host", "johnsmith.s3.amazonaws.com"),
                    ("date", "Tue, 27 Mar 2007 19:42:41 +0000"),
                ],
                "htDYFYduRNen8P9ZfE/s9SuKy0U=",
            ),
            // Fetch: the `acl` sub-resource is.
            (
                Method::GET,
                "/",
                "acl",
                &[
                    ("host", "johnsmith.s3.amazonaws.com"),
                    ("date", "Tue, 27 Mar 2007 19:44:46 +0000"),
                ],
                "c2WLPFtWHVgbEmeEG93a4cG37dM=",
            ),
            // Upload (path-style here; the example uses a CNAME bucket): Content-MD5,
            // amz headers sorted and lower-cased, a repeated one comma-joined.
            (
                Method::PUT,
                "/static.johnsmith.net/db-backup.dat.gz",
                "",
                &[
                    ("user-agent", "curl/7.15.5"),
                    ("host", "s3.amazonaws.com"),
                    ("date", "Tue, 27 Mar 2007 21:06:08 +0000"),
                    ("x-amz-acl", "public-read"),
                    ("content-type", "application/x-download"),
                    ("content-md5", "4gJE4saaMU4BqNR0kLY+lw=="),
                    ("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"),
                    ("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
                    ("X-Amz-Meta-FileChecksum", "0x02661779"),
                    ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
                    ("content-disposition", "attachment; filename=database.dat"),
                    ("content-encoding", "gzip"),
                    ("content-length", "5913339"),
                ],
                "ilyl83RwaSoYIEdixDQcA4OnAnc=",
            ),
            // List all my buckets
            (
                Method::GET,
                "/",
                "",
                &[
                    ("host", "s3.amazonaws.com"),
                    ("date", "Wed, 28 Mar 2007 01:29:59 +0000"),
                ],
                "qGdzdERIC03wnaRNKh6OqZehG9s=",
            ),
            // Unicode keys: the path is signed exactly as sent, mixed-case escapes too.
            (
                Method::GET,
                "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
                "",
                &[
                    ("host", "s3.amazonaws.com"),
                    ("date", "Wed, 28 Mar 2007 01:49:49 +0000"),
                ],
                "DNEZGsoieTZ92F3bUfSPQcbGmlM=",
            ),
        ];
        for (method, path, query, pairs, signature) in cases {
            let mut map = headers(pairs);
            let now = time(&header_text(&map, "date"));
            map.insert(
                "authorization",
                HeaderValue::from_str(&format!("AWS {AK}:{signature}")).expect("value"),
            );
            let outcome = check_header(method.clone(), path, query, &map, now)
                .unwrap_or_else(|e| panic!("{method} {path}?{query}: {e:?}"));
            assert_eq!(outcome.access_key, AK);
            assert_eq!(outcome.payload, PayloadMode::Unsigned);
            assert_eq!(outcome.chunk_signing, None);
        }
    }

    /// The documentation's newer variant (`awsexamplebucket1.us-west-1…`), and the
    /// header parsed with a blank after the colon as it is printed there.
    #[test]
    fn aws_documentation_example_other_region() {
        let map = headers(&[
            ("host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"),
            ("date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE: qgk2+6Sv9/oM7G3qLEjTH1a1l1g=",
            ),
        ]);
        let now = time("Tue, 27 Mar 2007 19:36:42 +0000");
        let regional = vec!["us-west-1.s3.amazonaws.com".to_owned()];
        let outcome = verify(
            &Method::GET,
            "/photos/puppy.jpg",
            "",
            &map,
            &regional,
            now,
            &keys(),
        );
        assert!(outcome.is_ok(), "{outcome:?}");
        // Without the domain configured the request is path-style (bucket `photos`):
        // a different resource, so the signature must not verify.
        let outcome = verify(
            &Method::GET,
            "/photos/puppy.jpg",
            "",
            &map,
            &[],
            now,
            &keys(),
        );
        assert_eq!(outcome, Err(AuthError::SignatureMismatch));
    }

    /// The "Delete" example sends `x-amz-date`: per the rules the Date line is then
    /// empty and x-amz-date is an amz header. (The documentation's own signature for
    /// this example puts the date in the Date line instead, contradicting its rules;
    /// botocore and MinIO follow the rules.)
    #[test]
    fn x_amz_date_empties_the_date_line() {
        let mut map = headers(&[
            ("host", "s3.amazonaws.com"),
            ("user-agent", "dotnet"),
            ("date", "Tue, 27 Mar 2007 21:20:27 +0000"),
            ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
        ]);
        let expected_sts =
            "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg";
        let signature = sign(SECRET, expected_sts.as_bytes());
        assert_eq!(signature, "R4dJ53KECjStyBO5iTBJZ4XVOaI=");
        assert_eq!(
            authorization_v2(
                &Method::DELETE,
                "/johnsmith/photos/puppy.jpg",
                "",
                &map,
                &creds()
            ),
            format!("AWS {AK}:{signature}")
        );
        map.insert(
            "authorization",
            HeaderValue::from_str(&format!("AWS {AK}:{signature}")).expect("value"),
        );
        let now = time("Tue, 27 Mar 2007 21:20:26 +0000");
        let path = "/johnsmith/photos/puppy.jpg";
        assert!(check_header(Method::DELETE, path, "", &map, now).is_ok());
        // The skew is measured against x-amz-date, not Date.
        let late = now + chrono::TimeDelta::minutes(15) + chrono::TimeDelta::seconds(1);
        assert_eq!(
            check_header(Method::DELETE, path, "", &map, late),
            Err(AuthError::TimeTooSkewed)
        );
    }

    /// "Query string request authentication alternative": the documented URL.
    #[test]
    fn aws_documentation_presigned_example() {
        let map = headers(&[("host", "johnsmith.s3.amazonaws.com")]);
        let query = "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620";
        let get = |query: &str, now: i64, keys: &Keys| {
            verify(
                &Method::GET,
                "/photos/puppy.jpg",
                query,
                &map,
                &domains(),
                at(now),
                keys,
            )
        };
        let outcome = get(query, 1_175_139_620, &keys()).expect("valid until Expires");
        assert_eq!(outcome.payload, PayloadMode::Unsigned);
        assert_eq!(outcome.chunk_signing, None);
        assert!(get(query, 1_175_000_000, &keys()).is_ok());
        // Expired.
        let expired = get(query, 1_175_139_621, &keys());
        assert_eq!(expired, Err(AuthError::Expired));
        let err = expired.expect_err("expired");
        assert_eq!(err.s3_code(), "AccessDenied");
        assert_eq!(err.message(), "Request has expired");
        assert_eq!(err.http_status(), http::StatusCode::FORBIDDEN);
        // Tampered: signature, Expires, path.
        let tampered = query.replace("NpgCjnDz", "NpgCjnDy");
        assert_eq!(
            get(&tampered, 1_175_139_000, &keys()),
            Err(AuthError::SignatureMismatch)
        );
        let later = query.replace("1175139620", "1175139621");
        assert_eq!(
            get(&later, 1_175_139_000, &keys()),
            Err(AuthError::SignatureMismatch)
        );
        let other = verify(
            &Method::GET,
            "/photos/kitten.jpg",
            query,
            &map,
            &domains(),
            at(1_175_139_000),
            &keys(),
        );
        assert_eq!(other, Err(AuthError::SignatureMismatch));
        // A sub-resource added to the URL changes the resource.
        let acl = format!("acl&{query}");
        assert_eq!(
            get(&acl, 1_175_139_000, &keys()),
            Err(AuthError::SignatureMismatch)
        );
        // Wrong key: unknown access key, and the right key with another secret.
        let nobody = Keys(HashMap::new());
        let unknown = get(query, 1_175_139_000, &nobody);
        assert_eq!(unknown, Err(AuthError::UnknownAccessKey));
        assert_eq!(unknown.map_err(|e| e.s3_code()), Err("InvalidAccessKeyId"));
        let wrong = Keys(HashMap::from([(
            AK.to_owned(),
            "not-the-secret".to_owned(),
        )]));
        let wrong = get(query, 1_175_139_000, &wrong);
        assert_eq!(wrong, Err(AuthError::SignatureMismatch));
        assert_eq!(wrong.map_err(|e| e.s3_code()), Err("SignatureDoesNotMatch"));
    }

    #[test]
    fn presigned_helper_reproduces_aws_example() {
        let query = presign_v2(
            &PresignV2Request {
                method: &Method::GET,
                raw_path: "/johnsmith/photos/puppy.jpg",
                raw_query: "",
                content_type: "",
                expires: 1_175_139_620,
            },
            &creds(),
        );
        assert_eq!(
            query,
            "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620"
        );
    }

    /// Generated offline with boto3 1.44.5 (`generate_presigned_url`, default config,
    /// path-style, `time.time()` fixed at 2026-01-01T12:00:00Z, `ExpiresIn=300`).
    #[test]
    fn botocore_presigned_urls() {
        let expires = 1_767_269_100;
        let cases: &[Case] = &[
            (
                Method::GET,
                "/b/pre/get%20me.bin",
                "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=uJ1xjRsTzEg2F0B9a%2FJQrEwHs%2B8%3D&Expires=1767269100",
                &[],
            ),
            // Awkward key plus response-* overrides (sub-resources, decoded and sorted).
            (
                Method::GET,
                "/b/a%20b/c%2Bd~%24%C3%A9",
                "response-content-type=text%2Fplain%3B%20x%3D1&response-content-disposition=attachment%3B%20filename%3D%22x%20y.txt%22&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=iaqF70DDqQ0PL9SGltVEqYatAW4%3D&Expires=1767269100",
                &[],
            ),
            // ContentType given: signed, and the uploader sends it.
            (
                Method::PUT,
                "/b/pre/put.bin",
                "AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=FEF3dUpa7RIauBTmbzJ%2FKbc0kqc%3D&content-type=image%2Fpng&Expires=1767269100",
                &[("content-type", "image/png")],
            ),
            // Bucket-level: sent as `/b`, signed as `/b/`.
            (
                Method::GET,
                "/b",
                "encoding-type=url&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=aKSyG1NY5v5JtoSUE22OCUhOF5Y%3D&Expires=1767269100",
                &[],
            ),
            (
                Method::PUT,
                "/b/k",
                "uploadId=u%2F%3D%2B&partNumber=3&AWSAccessKeyId=AKIAIOSFODNN7EXAMPLE&Signature=6167r2uGmWzTXlRF1l76at5TaVI%3D&Expires=1767269100",
                &[],
            ),
        ];
        for (method, path, query, extra) in cases {
            let mut map = headers(&[("host", "127.0.0.1:9000")]);
            for (name, value) in *extra {
                map.insert(*name, HeaderValue::from_str(value).expect("value"));
            }
            let outcome = check_header(method.clone(), path, query, &map, at(expires - 300));
            assert!(outcome.is_ok(), "{method} {path}?{query}: {outcome:?}");
            assert_eq!(
                check_header(method.clone(), path, query, &map, at(expires + 1)),
                Err(AuthError::Expired)
            );
        }
        // The signed Content-Type must match when one was signed.
        let (method, path, query, _) = &cases[2];
        let map = headers(&[("host", "h"), ("content-type", "text/html")]);
        assert_eq!(
            check_header(method.clone(), path, query, &map, at(expires - 300)),
            Err(AuthError::SignatureMismatch)
        );
        // A changed uploadId or partNumber fails.
        let (method, path, query, _) = &cases[4];
        let map = headers(&[("host", "h")]);
        for changed in [
            query.replace("partNumber=3", "partNumber=4"),
            query.replace("uploadId=u", "uploadId=v"),
        ] {
            assert_eq!(
                check_header(method.clone(), path, &changed, &map, at(expires - 300)),
                Err(AuthError::SignatureMismatch)
            );
        }
    }

    /// botocore's URL for `put_object` without ContentType signs an empty
    /// Content-Type; uploaders (urllib, fetch) still send one.
    #[test]
    fn presigned_put_with_unsigned_content_type() {
        let query = presign_v2(
            &PresignV2Request {
                method: &Method::PUT,
                raw_path: "/b/pre/put.bin",
                raw_query: "",
                content_type: "",
                expires: 2_000_000_000,
            },
            &creds(),
        );
        let now = at(1_999_999_000);
        for content_type in [None, Some("application/octet-stream")] {
            let mut map = headers(&[("host", "h")]);
            if let Some(value) = content_type {
                map.insert("content-type", HeaderValue::from_static(value));
            }
            assert!(check_header(Method::PUT, "/b/pre/put.bin", &query, &map, now).is_ok());
        }
        // The leniency is for presigned URLs only: a header signature covers what is sent.
        let mut map = headers(&[("host", "h"), ("date", "Thu, 01 Jan 2026 12:00:00 GMT")]);
        let auth = authorization_v2(&Method::PUT, "/b/k", "", &map, &creds());
        map.insert(
            "authorization",
            HeaderValue::from_str(&auth).expect("value"),
        );
        map.insert("content-type", HeaderValue::from_static("text/html"));
        let now = time("Thu, 01 Jan 2026 12:00:00 GMT");
        assert_eq!(
            check_header(Method::PUT, "/b/k", "", &map, now),
            Err(AuthError::SignatureMismatch)
        );
    }

    /// Header-signed requests captured from boto3 1.44.5 with
    /// `signature_version="s3"` (Date fixed at 2026-01-01T12:00:00Z).
    #[test]
    fn botocore_header_signatures() {
        let now = time("Thu, 01 Jan 2026 12:00:00 GMT");
        let put = headers(&[
            ("host", "127.0.0.1:9000"),
            ("content-type", "text/plain"),
            ("x-amz-meta-note", "  a  b "),
            ("x-amz-meta-Two", "x"),
            ("user-agent", "Boto3/1.44.5"),
            ("expect", "100-continue"),
            ("date", "Thu, 01 Jan 2026 12:00:00 GMT"),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:j7fJ3BwQUOEucdMpCgyFkNxvIbk=",
            ),
            ("content-length", "5"),
        ]);
        assert!(check_header(Method::PUT, "/b/dir/x%20y.txt", "", &put, now).is_ok());
        // Tampered metadata, content type or path.
        let mut meta = put.clone();
        meta.insert("x-amz-meta-note", HeaderValue::from_static("a b"));
        let mut content_type = put.clone();
        content_type.insert("content-type", HeaderValue::from_static("text/html"));
        for map in [&meta, &content_type] {
            assert_eq!(
                check_header(Method::PUT, "/b/dir/x%20y.txt", "", map, now),
                Err(AuthError::SignatureMismatch)
            );
        }
        assert_eq!(
            check_header(Method::PUT, "/b/dir/x%20z.txt", "", &put, now),
            Err(AuthError::SignatureMismatch)
        );
        let list = headers(&[
            ("host", "127.0.0.1:9000"),
            ("date", "Thu, 01 Jan 2026 12:00:00 GMT"),
            (
                "authorization",
                "AWS AKIAIOSFODNN7EXAMPLE:m8+VXzvFAjKbWDx0dx4u6Il+npo=",
            ),
        ]);
        let query = "list-type=2&prefix=a%20b&encoding-type=url";
        assert!(check_header(Method::GET, "/b", query, &list, now).is_ok());
        // Clock skew, both ways.
        for skew in [16, -16] {
            let when = now + chrono::TimeDelta::minutes(skew);
            assert_eq!(
                check_header(Method::GET, "/b", query, &list, when),
                Err(AuthError::TimeTooSkewed)
            );
        }
        assert_eq!(AuthError::TimeTooSkewed.s3_code(), "RequestTimeTooSkewed");
        // Wrong secret.
        let wrong = Keys(HashMap::from([(AK.to_owned(), "nope".to_owned())]));
        let err = verify(&Method::GET, "/b", query, &list, &[], now, &wrong);
        assert_eq!(err, Err(AuthError::SignatureMismatch));
        let nobody = Keys(HashMap::new());
        let err = verify(&Method::GET, "/b", query, &list, &[], now, &nobody);
        assert_eq!(err, Err(AuthError::UnknownAccessKey));
    }

    #[test]
    fn header_errors() {
        let now = time("Thu, 01 Jan 2026 12:00:00 GMT");
        let mut no_date = headers(&[("host", "h")]);
        let auth = authorization_v2(&Method::GET, "/b/k", "", &no_date, &creds());
        no_date.insert(
            "authorization",
            HeaderValue::from_str(&auth).expect("value"),
        );
        assert_eq!(
            check_header(Method::GET, "/b/k", "", &no_date, now),
            Err(AuthError::MissingDate)
        );
        let mut bad_date = no_date.clone();
        bad_date.insert("date", HeaderValue::from_static("yesterday"));
        assert_eq!(
            check_header(Method::GET, "/b/k", "", &bad_date, now),
            Err(AuthError::MissingDate)
        );
        for value in ["AWS ", "AWS nocolon", "AWS :sig", "AWS key:"] {
            let map = headers(&[
                ("host", "h"),
                ("date", "Thu, 01 Jan 2026 12:00:00 GMT"),
                ("authorization", value),
            ]);
            let err = check_header(Method::GET, "/b/k", "", &map, now);
            assert_eq!(
                err.map_err(|e| e.s3_code()),
                Err("AuthorizationHeaderMalformed"),
                "{value}"
            );
        }
        let map = headers(&[
            ("host", "h"),
            ("date", "Thu, 01 Jan 2026 12:00:00 GMT"),
            ("authorization", "AWS AKIAIOSFODNN7EXAMPLE:!!notbase64!!"),
        ]);
        assert_eq!(
            check_header(Method::GET, "/b/k", "", &map, now),
            Err(AuthError::SignatureMismatch)
        );
        // Both mechanisms at once.
        let query = presign_v2(
            &PresignV2Request {
                method: &Method::GET,
                raw_path: "/b/k",
                raw_query: "",
                content_type: "",
                expires: 2_000_000_000,
            },
            &creds(),
        );
        assert_eq!(
            check_header(Method::GET, "/b/k", &query, &map, now),
            Err(AuthError::MultipleMechanisms)
        );
        let mut twice = map.clone();
        twice.append("authorization", HeaderValue::from_static("AWS a:b"));
        assert_eq!(
            check_header(Method::GET, "/b/k", "", &twice, now).map_err(|e| e.s3_code()),
            Err("AuthorizationHeaderMalformed")
        );
        assert_eq!(
            check_header(Method::GET, "/b/k", "", &headers(&[("host", "h")]), now),
            Err(AuthError::Anonymous)
        );
    }

    #[test]
    fn presigned_errors() {
        let now = at(1_000);
        let map = headers(&[("host", "h")]);
        for query in [
            "AWSAccessKeyId=AK",
            "Signature=abc",
            "AWSAccessKeyId=AK&Signature=abc",
            "AWSAccessKeyId=&Signature=abc&Expires=2000",
            "AWSAccessKeyId=AK&Signature=abc&Expires=2000&Expires=3000",
            "AWSAccessKeyId=AK&Signature=abc&Expires=soon",
        ] {
            let err = check_header(Method::GET, "/b/k", query, &map, now);
            assert_eq!(
                err.map_err(|e| e.s3_code()),
                Err("AuthorizationQueryParametersError"),
                "{query}"
            );
        }
    }

    /// A validly signed URL is refused once its `Expires` lies more than seven days
    /// (plus the allowed clock skew) after the request time; before the cap, a URL
    /// with `Expires` in 2100 worked until then.
    #[test]
    fn presigned_lifetime_is_capped_at_seven_days() {
        let now = 1_767_268_800;
        let longest = now + 604_800 + 900;
        let url = |expires: i64| {
            presign_v2(
                &PresignV2Request {
                    method: &Method::GET,
                    raw_path: "/b/k",
                    raw_query: "",
                    content_type: "",
                    expires,
                },
                &creds(),
            )
        };
        let map = headers(&[("host", "h")]);
        for expires in [now + 1, now + 604_800, longest] {
            let outcome = check_header(Method::GET, "/b/k", &url(expires), &map, at(now));
            assert!(outcome.is_ok(), "Expires={expires}: {outcome:?}");
        }
        for expires in [longest + 1, 4_102_444_800, i64::MAX] {
            let err = check_header(Method::GET, "/b/k", &url(expires), &map, at(now))
                .expect_err("a lifetime over seven days is refused");
            assert_eq!(err.s3_code(), "AuthorizationQueryParametersError");
            assert_eq!(err.http_status(), http::StatusCode::BAD_REQUEST);
            assert!(err.message().contains("604800"), "{}", err.message());
        }
        // The same URL is fine once its remaining lifetime is within the cap.
        let far = url(now + 30 * 86_400);
        assert!(check_header(Method::GET, "/b/k", &far, &map, at(now)).is_err());
        assert!(check_header(Method::GET, "/b/k", &far, &map, at(now + 23 * 86_400)).is_ok());
    }

    #[test]
    fn signature_plus_survives_form_decoding() {
        let query = presign_v2(
            &PresignV2Request {
                method: &Method::GET,
                raw_path: "/johnsmith/photos/puppy.jpg",
                raw_query: "",
                content_type: "",
                expires: 1_175_139_620,
            },
            &creds(),
        );
        // Sent with a raw `+` instead of %2B, or as a space.
        let map = headers(&[("host", "h")]);
        for variant in [query.replace("%2B", "+"), query.replace("%2B", "%20")] {
            let outcome = check_header(
                Method::GET,
                "/johnsmith/photos/puppy.jpg",
                &variant,
                &map,
                at(1_175_139_000),
            );
            assert!(outcome.is_ok(), "{variant}: {outcome:?}");
        }
    }

    #[test]
    fn canonical_pieces() {
        assert!(SUB_RESOURCES.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(canonical_sub_resources(""), b"");
        assert_eq!(
            canonical_sub_resources("versionId=v%201&uploads&prefix=x&acl=&partNumber=2"),
            b"?acl&partNumber=2&uploads&versionId=v 1"
        );
        let map = headers(&[
            ("X-Amz-Meta-B", " 2 "),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-b", "3"),
            ("content-type", "x"),
        ]);
        assert_eq!(
            canonical_amz_headers(&map),
            b"x-amz-meta-a:1\nx-amz-meta-b:2,3\n"
        );
        let vhost = headers(&[("host", "media.s3.amazonaws.com:443")]);
        assert_eq!(
            resource_paths("/k/x", &vhost, &domains()),
            vec!["/media/k/x"]
        );
        assert_eq!(resource_paths("/", &vhost, &domains()), vec!["/media/"]);
        let path_style = headers(&[("host", "s3.amazonaws.com")]);
        assert_eq!(
            resource_paths("/b", &path_style, &domains()),
            vec!["/b", "/b/"]
        );
        assert_eq!(
            resource_paths("/b/k", &path_style, &domains()),
            vec!["/b/k"]
        );
        assert_eq!(resource_paths("/", &path_style, &domains()), vec!["/"]);
        assert_eq!(resource_paths("", &path_style, &[]), vec!["/"]);
        assert!(is_presigned("a=1&AWSAccessKeyId=x"));
        assert!(is_presigned("Signature"));
        assert!(!is_presigned("X-Amz-Signature=x&AWSAccessKeyIdx=1"));
        assert!(is_v2_authorization(b"AWS a:b"));
        assert!(!is_v2_authorization(b"AWS4-HMAC-SHA256 Credential=x"));
    }

    #[test]
    fn long_secret_is_hashed_first() {
        // RFC 2202 test case 6: an 80-byte key.
        let key = [0xaa_u8; 80];
        let mut mac = hmac_for(&key);
        mac.update(b"Test Using Larger Than Block-Size Key - Hash Key First");
        assert_eq!(
            hex::encode(mac.finalize().into_bytes()),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112"
        );
    }

    #[test]
    fn garbage_never_panics() {
        let now = at(1_000);
        let auths = [
            "AWS ",
            "AWS :",
            "AWS ::::",
            "AWS a:%%%",
            "AWS \u{7f}:x",
            "AWSx",
        ];
        for auth in auths {
            let mut map = headers(&[("host", "h"), ("date", "Thu, 01 Jan 1970 00:16:40 GMT")]);
            if let Ok(value) = HeaderValue::from_str(auth) {
                map.insert("authorization", value);
            }
            assert!(verify(&Method::GET, "/%", "%&&=&==%zz", &map, &[], now, &keys()).is_err());
        }
        let queries = [
            "AWSAccessKeyId",
            "AWSAccessKeyId=%ff%fe&Signature=%&Expires=-99999999999999999999",
            "AWSAccessKeyId=a&Signature=b&Expires=9223372036854775807&acl=%ff",
            "Signature=&&&=&AWSAccessKeyId==",
        ];
        for query in queries {
            let map = headers(&[("host", "h.s3.amazonaws.com")]);
            assert!(verify(&Method::GET, "", query, &map, &domains(), now, &keys()).is_err());
        }
    }
}
