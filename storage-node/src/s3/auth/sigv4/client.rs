//! Client-side SigV4 signing, as AWS SDKs do it: used by the test suite, the admin
//! client and anything else in this crate that talks S3 to a server.

use std::fmt;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method};

use super::canonical::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, string_to_sign,
    uri_encode,
};
use super::signing::{sign, signing_key};
use super::verify::amz_date;
use super::{ALGORITHM, SERVICE, SigningContext, TERMINATOR, UNSIGNED_PAYLOAD};

/// Access key and secret for the client-side signing helpers.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key: String,
    pub secret_key: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// A request to sign with an `Authorization` header (tests and the bench client).
#[derive(Debug, Clone)]
pub struct ClientRequest<'a> {
    pub method: &'a Method,
    /// Path as it will go on the wire (already percent-encoded).
    pub raw_path: &'a str,
    /// Query as it will go on the wire, without `?`.
    pub raw_query: &'a str,
    /// Headers to sign; must include `host`. `x-amz-date` and `x-amz-content-sha256`
    /// are added (overriding any present) from `time` and `payload_hash`.
    pub headers: &'a HeaderMap,
    /// Hex SHA-256 of the body or one of the placeholders (`UNSIGNED-PAYLOAD`, ...).
    pub payload_hash: &'a str,
    pub time: DateTime<Utc>,
    pub region: &'a str,
}

/// The result of client-side signing: header values to send, and the context to sign
/// `aws-chunked` bodies with.
#[derive(Debug, Clone)]
pub struct ClientSignature {
    pub authorization: String,
    pub amz_date: String,
    pub payload_hash: String,
    pub signed_headers: String,
    pub signature: String,
    pub signing: SigningContext,
}

impl ClientSignature {
    /// Inserts `authorization`, `x-amz-date` and `x-amz-content-sha256`.
    pub fn apply(&self, headers: &mut HeaderMap) -> Result<(), http::header::InvalidHeaderValue> {
        headers.insert(
            http::header::AUTHORIZATION,
            HeaderValue::from_str(&self.authorization)?,
        );
        headers.insert("x-amz-date", HeaderValue::from_str(&self.amz_date)?);
        headers.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&self.payload_hash)?,
        );
        Ok(())
    }
}

/// Signs a request the way AWS SDKs do: every header in `request.headers` (except
/// `authorization`) plus `x-amz-date` and `x-amz-content-sha256` are signed.
pub fn sign_request_headers(
    request: &ClientRequest<'_>,
    credentials: &Credentials,
) -> ClientSignature {
    sign_request_headers_for(request, credentials, SERVICE)
}

/// As [`sign_request_headers`], for another service of the credential scope (`sts`
/// for STS `AssumeRole`).
pub fn sign_request_headers_for(
    request: &ClientRequest<'_>,
    credentials: &Credentials,
    service: &str,
) -> ClientSignature {
    let amz_date = amz_date(request.time);
    let mut headers = request.headers.clone();
    headers.remove(http::header::AUTHORIZATION);
    if let Ok(value) = HeaderValue::from_str(&amz_date) {
        headers.insert("x-amz-date", value);
    }
    if let Ok(value) = HeaderValue::from_str(request.payload_hash) {
        headers.insert("x-amz-content-sha256", value);
    }
    let mut names: Vec<&str> = headers.keys().map(http::HeaderName::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let signed_headers = names.join(";");
    let date = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{}/{service}/{TERMINATOR}", request.region);
    let key = signing_key(&credentials.secret_key, date, request.region, service);
    let canonical = canonical_request(
        request.method.as_str(),
        &canonical_uri(request.raw_path),
        &canonical_query(request.raw_query, false),
        &canonical_headers(&headers, &names),
        &signed_headers,
        request.payload_hash,
    );
    let signature = sign(&key, &string_to_sign(&amz_date, &scope, &canonical));
    ClientSignature {
        authorization: format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key
        ),
        amz_date: amz_date.clone(),
        payload_hash: request.payload_hash.to_owned(),
        signed_headers,
        signature: signature.clone(),
        signing: SigningContext {
            signing_key: key,
            amz_date,
            scope,
            seed_signature: signature,
        },
    }
}

/// A request to presign (only `host` is signed, as SDK presigners do by default).
#[derive(Debug, Clone)]
pub struct PresignRequest<'a> {
    pub method: &'a Method,
    pub raw_path: &'a str,
    /// Extra query parameters already on the URL (e.g. `partNumber=1&uploadId=x`).
    pub raw_query: &'a str,
    pub host: &'a str,
    pub time: DateTime<Utc>,
    pub region: &'a str,
    pub expires_secs: u64,
}

/// Builds the full raw query string of a presigned URL, ending in `X-Amz-Signature`.
pub fn presign_query(request: &PresignRequest<'_>, credentials: &Credentials) -> String {
    let amz_date = amz_date(request.time);
    let date = amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{}/{SERVICE}/{TERMINATOR}", request.region);
    let credential = uri_encode(format!("{}/{scope}", credentials.access_key).as_bytes());
    let mut query = format!(
        "X-Amz-Algorithm={ALGORITHM}&X-Amz-Credential={credential}&X-Amz-Date={amz_date}\
         &X-Amz-Expires={}&X-Amz-SignedHeaders=host",
        request.expires_secs
    );
    if !request.raw_query.is_empty() {
        query = format!("{}&{query}", request.raw_query);
    }
    let mut headers = HeaderMap::new();
    if let Ok(host) = HeaderValue::from_str(request.host) {
        headers.insert(http::header::HOST, host);
    }
    let key = signing_key(&credentials.secret_key, date, request.region, SERVICE);
    let canonical = canonical_request(
        request.method.as_str(),
        &canonical_uri(request.raw_path),
        &canonical_query(&query, false),
        &canonical_headers(&headers, &["host"]),
        "host",
        UNSIGNED_PAYLOAD,
    );
    let signature = sign(&key, &string_to_sign(&amz_date, &scope, &canonical));
    format!("{query}&X-Amz-Signature={signature}")
}
