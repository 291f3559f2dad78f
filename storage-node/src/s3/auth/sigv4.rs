//! AWS Signature Version 4 for the `s3` service: server-side verification of
//! `Authorization` headers and presigned query strings, plus the client-side signing
//! helpers the test suite and the benchmark client use to talk to us.
//!
//! Canonicalisation follows what S3 clients actually sign rather than the generic
//! SigV4 rules: S3 does not double-encode or dot-normalise the path, and every signer
//! (AWS SDKs, minio-go, boto, s3cmd, rclone) encodes with the RFC 3986 unreserved set.
//! Because clients disagree on how they put a path on the wire (`$` raw or `%24`,
//! `%2f` or `%2F`), we decode what arrived and re-encode it the canonical way; only
//! when that fails do we try the exact wire form, which covers clients that sign the
//! bytes they send.
//!
//! Callers serving HTTP/2 must copy the `:authority` into a `host` header before
//! calling [`verify`]: hyper keeps it in the URI, but every client signs `host`.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode, percent_encode};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// The only signing algorithm we accept (SigV4a's ECDSA variant is not supported).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Payload hash placeholder for bodies the client chose not to hash.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// Payload hash placeholder for `aws-chunked` bodies with per-chunk signatures.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// As [`STREAMING_SIGNED`], with signed trailing headers after the last chunk.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `aws-chunked` bodies without chunk signatures but with trailing headers.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// Hex SHA-256 of the empty string: the payload hash of body-less requests and a
/// fixed line in every chunk string-to-sign.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/// Longest lifetime S3 allows for a presigned URL (seven days).
pub const MAX_PRESIGN_EXPIRES: u64 = 604_800;
/// How far a request's clock may be from ours, as on AWS.
pub const MAX_CLOCK_SKEW: TimeDelta = TimeDelta::minutes(15);

/// Service name in the credential scope; this server only speaks S3.
const SERVICE: &str = "s3";
/// Fixed last element of the credential scope.
const TERMINATOR: &str = "aws4_request";
/// `X-Amz-Date` / `x-amz-date` layout (ISO 8601 basic format, UTC).
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// RFC 3986 unreserved characters pass; everything else is `%XX` with upper-case hex,
/// which is AWS's `UriEncode`.
const AWS_URI_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

const QUERY_REQUIRED_MSG: &str = "Query-string authentication version 4 requires the \
     X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
     and X-Amz-Expires parameters.";

/// Maps an access key to its secret. Implemented by the credential store; a trait so
/// the verifier stays independent of how keys are kept.
pub trait SecretLookup: Send + Sync {
    /// The secret key of `access_key`, or `None` if the key does not exist.
    fn secret_key(&self, access_key: &str) -> Option<String>;
}

/// How the request body is protected, as declared by `x-amz-content-sha256` (or the
/// `X-Amz-Content-Sha256` query parameter of a presigned URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMode {
    /// `UNSIGNED-PAYLOAD`: the body is not covered by the signature.
    Unsigned,
    /// The lower-case hex SHA-256 the client declared; the body must hash to it, which
    /// the caller checks while streaming (see `checksum.rs`).
    SignedSha256(String),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: `aws-chunked` with chunk signatures.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: as above plus signed trailers.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: `aws-chunked` without signatures.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// Parses the declared payload hash. Upper-case hex is accepted (the canonical
    /// request uses the value exactly as sent) but stored lower-case for comparison.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        match value {
            UNSIGNED_PAYLOAD => Ok(Self::Unsigned),
            STREAMING_SIGNED => Ok(Self::StreamingSigned),
            STREAMING_SIGNED_TRAILER => Ok(Self::StreamingSignedTrailer),
            STREAMING_UNSIGNED_TRAILER => Ok(Self::StreamingUnsignedTrailer),
            hash if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
                Ok(Self::SignedSha256(hash.to_ascii_lowercase()))
            }
            _ => Err(AuthError::InvalidContentSha256),
        }
    }

    /// Whether the body arrives `aws-chunked` encoded.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }
}

/// What the `aws-chunked` decoder needs to verify the signature chain of a streaming
/// upload: the derived key (never the secret itself), the request timestamp and scope,
/// and the request signature that seeds the chain.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningContext {
    /// `kSigning` for the request's date, region and service.
    pub signing_key: [u8; 32],
    /// The request timestamp exactly as signed (`20130524T000000Z`).
    pub amz_date: String,
    /// `date/region/s3/aws4_request`.
    pub scope: String,
    /// Lower-case hex signature of the request, which the first chunk chains from.
    pub seed_signature: String,
}

impl fmt::Debug for SigningContext {
    /// The signing key is as good as the secret for a day, so it never reaches logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningContext")
            .field("signing_key", &"<redacted>")
            .field("amz_date", &self.amz_date)
            .field("scope", &self.scope)
            .field("seed_signature", &self.seed_signature)
            .finish()
    }
}

/// A verified request: who signed it and how its body must be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOutcome {
    /// The access key whose secret produced the signature.
    pub access_key: String,
    /// How the body is protected.
    pub payload: PayloadMode,
    /// Present for the signed streaming modes, whose chunks the decoder must verify.
    pub chunk_signing: Option<SigningContext>,
}

/// Why a request failed authentication. Messages are safe to return to clients:
/// they never contain secrets or signing keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Neither an `Authorization` header nor query authentication: anonymous. The
    /// caller may still allow it (public buckets); otherwise it is `AccessDenied`.
    #[error("the request is not signed")]
    Anonymous,
    /// An `Authorization` scheme other than SigV4 (e.g. SigV2 `AWS key:sig`).
    #[error("unsupported authorization type")]
    UnsupportedAuthorization,
    /// Both header and query authentication were present.
    #[error("only one authentication mechanism is allowed")]
    MultipleMechanisms,
    /// The `Authorization` header could not be parsed or is inconsistent.
    #[error("malformed Authorization header: {0}")]
    HeaderMalformed(String),
    /// The presigned query parameters could not be parsed or are inconsistent.
    #[error("malformed query-string authentication: {0}")]
    QueryMalformed(String),
    /// Neither a valid `x-amz-date` nor a valid `Date` header.
    #[error("missing or invalid request date")]
    MissingDate,
    /// Header authentication without `x-amz-content-sha256`, which S3 requires.
    #[error("missing x-amz-content-sha256")]
    MissingContentSha256,
    /// `x-amz-content-sha256` is neither a known placeholder nor a hex SHA-256.
    #[error("invalid x-amz-content-sha256")]
    InvalidContentSha256,
    /// The access key is not known to the credential store.
    #[error("unknown access key")]
    UnknownAccessKey,
    /// The signature does not match the one we computed.
    #[error("signature does not match")]
    SignatureMismatch,
    /// The request date is more than [`MAX_CLOCK_SKEW`] from our clock.
    #[error("request time too skewed")]
    TimeTooSkewed,
    /// A presigned URL past its `X-Amz-Expires`.
    #[error("request has expired")]
    Expired,
    /// A presigned URL dated further in the future than the allowed skew.
    #[error("request is not valid yet")]
    NotYetValid,
}

impl AuthError {
    /// The S3 error code to put in the XML error body.
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::Anonymous | Self::MissingDate | Self::Expired | Self::NotYetValid => {
                "AccessDenied"
            }
            Self::UnsupportedAuthorization
            | Self::MultipleMechanisms
            | Self::InvalidContentSha256 => "InvalidArgument",
            Self::HeaderMalformed(_) => "AuthorizationHeaderMalformed",
            Self::QueryMalformed(_) => "AuthorizationQueryParametersError",
            Self::MissingContentSha256 => "InvalidRequest",
            Self::UnknownAccessKey => "InvalidAccessKeyId",
            Self::SignatureMismatch => "SignatureDoesNotMatch",
            Self::TimeTooSkewed => "RequestTimeTooSkewed",
        }
    }

    /// The HTTP status S3 uses with [`Self::s3_code`].
    pub fn http_status(&self) -> StatusCode {
        match self.s3_code() {
            "AuthorizationHeaderMalformed"
            | "AuthorizationQueryParametersError"
            | "InvalidArgument"
            | "InvalidRequest" => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        }
    }

    /// A human-readable message in AWS's wording, for the XML error body.
    pub fn message(&self) -> String {
        match self {
            Self::Anonymous => "Access Denied".to_owned(),
            Self::UnsupportedAuthorization => "Unsupported Authorization Type".to_owned(),
            Self::MultipleMechanisms => "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified".to_owned(),
            Self::HeaderMalformed(detail) => {
                format!("The authorization header is malformed; {detail}")
            }
            Self::QueryMalformed(detail) => detail.clone(),
            Self::MissingDate => {
                "AWS authentication requires a valid Date or x-amz-date header".to_owned()
            }
            Self::MissingContentSha256 => {
                "Missing required header for this request: x-amz-content-sha256".to_owned()
            }
            Self::InvalidContentSha256 => {
                "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-UNSIGNED-PAYLOAD-TRAILER or a valid sha256 value.".to_owned()
            }
            Self::UnknownAccessKey => {
                "The AWS Access Key Id you provided does not exist in our records.".to_owned()
            }
            Self::SignatureMismatch => "The request signature we calculated does not match the signature you provided. Check your key and signing method.".to_owned(),
            Self::TimeTooSkewed => "The difference between the request time and the current time is too large.".to_owned(),
            Self::Expired => "Request has expired".to_owned(),
            Self::NotYetValid => "Request is not valid yet".to_owned(),
        }
    }

    /// Whether the request simply carried no credentials, so an anonymous policy
    /// decision applies instead of an authentication failure.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }
}

/// Verifies a SigV4-signed request, by `Authorization` header or presigned query.
///
/// `raw_path` and `raw_query` must be exactly as received (still percent-encoded);
/// `now` is injected so tests can replay AWS's 2013 examples.
pub fn verify(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let request = Request {
        method,
        raw_path,
        raw_query,
        headers,
    };
    let presigned = query_has_algorithm(raw_query);
    let mut authorization = headers.get_all(http::header::AUTHORIZATION).iter();
    match (authorization.next(), presigned) {
        (None, false) => Err(AuthError::Anonymous),
        (Some(_), true) => Err(AuthError::MultipleMechanisms),
        (None, true) => verify_presigned(&request, now, secrets),
        (Some(value), false) => {
            if authorization.next().is_some() {
                return Err(malformed_header("multiple Authorization headers"));
            }
            let value = value
                .to_str()
                .map_err(|_| malformed_header("non-ASCII Authorization header"))?;
            verify_header_auth(&request, value, now, secrets)
        }
    }
}

/// The pieces of a request that are signed, borrowed from the caller.
struct Request<'a> {
    method: &'a Method,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a HeaderMap,
}

/// The signature, scope and signed-header list shared by both authentication styles,
/// after parsing and date checks, ready for the signature comparison.
struct Claim<'a> {
    credential: Credential<'a>,
    amz_date: String,
    signed_headers: &'a str,
    signature: &'a str,
    payload_line: &'a str,
}

fn malformed_header(detail: &str) -> AuthError {
    AuthError::HeaderMalformed(detail.to_owned())
}

fn malformed_query(detail: &str) -> AuthError {
    AuthError::QueryMalformed(detail.to_owned())
}

fn verify_header_auth(
    request: &Request<'_>,
    authorization: &str,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let fields = parse_authorization(authorization)?;
    let credential =
        Credential::parse(fields.credential).map_err(|detail| malformed_header(&detail))?;
    let (amz_date, time) = request_time(request.headers)?;
    if !amz_date.starts_with(credential.date) {
        return Err(malformed_header(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    if (now - time).abs() > MAX_CLOCK_SKEW {
        return Err(AuthError::TimeTooSkewed);
    }
    let payload_line = request
        .headers
        .get("x-amz-content-sha256")
        .ok_or(AuthError::MissingContentSha256)?
        .to_str()
        .map_err(|_| AuthError::InvalidContentSha256)?;
    let payload = PayloadMode::parse(payload_line)?;
    parse_signed_headers(fields.signed_headers).map_err(|detail| malformed_header(&detail))?;
    let claim = Claim {
        credential,
        amz_date,
        signed_headers: fields.signed_headers,
        signature: fields.signature,
        payload_line,
    };
    check_claim(request, &claim, payload, false, secrets)
}

fn verify_presigned(
    request: &Request<'_>,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let params = PresignParams::parse(request.raw_query)?;
    if params.algorithm != ALGORITHM {
        return Err(malformed_query(
            "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"",
        ));
    }
    let credential =
        Credential::parse(&params.credential).map_err(|detail| malformed_query(&detail))?;
    let time = parse_amz_date(&params.date)
        .ok_or_else(|| malformed_query("X-Amz-Date must be in the ISO8601 Long Format"))?;
    if !params.date.starts_with(credential.date) {
        return Err(malformed_query(
            "Invalid credential date. Date is not the same as X-Amz-Date.",
        ));
    }
    let expires = parse_expires(&params.expires)?;
    if time - now > MAX_CLOCK_SKEW {
        return Err(AuthError::NotYetValid);
    }
    if now > time + expires {
        return Err(AuthError::Expired);
    }
    let payload_line = params.content_sha256.as_deref().unwrap_or(UNSIGNED_PAYLOAD);
    let payload = PayloadMode::parse(payload_line)?;
    parse_signed_headers(&params.signed_headers).map_err(|detail| malformed_query(&detail))?;
    let claim = Claim {
        credential,
        amz_date: params.date.clone(),
        signed_headers: &params.signed_headers,
        signature: &params.signature,
        payload_line,
    };
    check_claim(request, &claim, payload, true, secrets)
}

/// Looks up the secret, recomputes the signature and builds the outcome.
fn check_claim(
    request: &Request<'_>,
    claim: &Claim<'_>,
    payload: PayloadMode,
    presigned: bool,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let credential = &claim.credential;
    let secret = secrets
        .secret_key(credential.access_key)
        .ok_or(AuthError::UnknownAccessKey)?;
    let key = signing_key(&secret, credential.date, credential.region, SERVICE);
    let scope = credential.scope();
    let provided = decode_signature(claim.signature).ok_or(AuthError::SignatureMismatch)?;
    if !signature_matches(request, claim, presigned, &key, &scope, &provided) {
        return Err(AuthError::SignatureMismatch);
    }
    let chunk_signing = matches!(
        payload,
        PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer
    )
    .then(|| SigningContext {
        signing_key: key,
        amz_date: claim.amz_date.clone(),
        scope,
        seed_signature: hex::encode(provided),
    });
    Ok(AuthOutcome {
        access_key: credential.access_key.to_owned(),
        payload,
        chunk_signing,
    })
}

/// Tries the canonical forms a legitimate client may have signed (see the module
/// docs); each is a full HMAC comparison in constant time.
fn signature_matches(
    request: &Request<'_>,
    claim: &Claim<'_>,
    presigned: bool,
    key: &[u8; 32],
    scope: &str,
    provided: &[u8; 32],
) -> bool {
    let names: Vec<&str> = claim.signed_headers.split(';').collect();
    let headers = canonical_headers(request.headers, &names);
    let method = request.method.as_str();
    uri_candidates(request.raw_path).iter().any(|uri| {
        query_candidates(request.raw_query, presigned)
            .iter()
            .any(|query| {
                let canonical = canonical_request(
                    method,
                    uri,
                    query,
                    &headers,
                    claim.signed_headers,
                    claim.payload_line,
                );
                let to_sign = string_to_sign(&claim.amz_date, scope, &canonical);
                hmac_verify(key, to_sign.as_bytes(), provided)
            })
    })
}

/// The canonical URI, plus the exact wire form for clients that sign what they send.
fn uri_candidates(raw_path: &str) -> Vec<String> {
    let canonical = canonical_uri(raw_path);
    if raw_path.is_empty() || raw_path == canonical {
        vec![canonical]
    } else {
        vec![canonical, raw_path.to_owned()]
    }
}

/// The canonical query, plus a `+`-means-space reading for clients that form-encode.
fn query_candidates(raw_query: &str, exclude_signature: bool) -> Vec<String> {
    let literal = canonical_query_with(raw_query, exclude_signature, false);
    let mut candidates = vec![literal];
    if raw_query.contains('+') {
        candidates.push(canonical_query_with(raw_query, exclude_signature, true));
    }
    candidates
}

/// The three fields of a SigV4 `Authorization` header.
struct AuthorizationFields<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`,
/// tolerating any spacing around the commas and a trailing comma.
fn parse_authorization(value: &str) -> Result<AuthorizationFields<'_>, AuthError> {
    let value = value.trim();
    let Some(rest) = value.strip_prefix(ALGORITHM) else {
        return Err(AuthError::UnsupportedAuthorization);
    };
    if !rest.starts_with([' ', '\t']) {
        return Err(AuthError::UnsupportedAuthorization);
    }
    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    for part in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, field) = part
            .split_once('=')
            .ok_or_else(|| malformed_header("expected Name=Value pairs"))?;
        let slot = match name.trim() {
            "Credential" => &mut credential,
            "SignedHeaders" => &mut signed_headers,
            "Signature" => &mut signature,
            _ => return Err(malformed_header("unknown Authorization field")),
        };
        if slot.replace(field.trim()).is_some() {
            return Err(malformed_header("repeated Authorization field"));
        }
    }
    match (credential, signed_headers, signature) {
        (Some(credential), Some(signed_headers), Some(signature)) => Ok(AuthorizationFields {
            credential,
            signed_headers,
            signature,
        }),
        _ => Err(malformed_header(
            "Credential, SignedHeaders and Signature are required",
        )),
    }
}

/// `AKID/20130524/us-east-1/s3/aws4_request`, borrowed from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Credential<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
}

impl<'a> Credential<'a> {
    /// Any non-empty region is accepted: the signature binds whatever region the
    /// client put in its scope (s3cmd uses `US`), and we serve every region.
    fn parse(value: &'a str) -> Result<Self, String> {
        let mut parts = value.rsplitn(5, '/');
        let (Some(terminator), Some(service), Some(region), Some(date), Some(access_key)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(format!(
                "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"; got \"{value}\""
            ));
        };
        if terminator != TERMINATOR {
            return Err(format!(
                "incorrect terminal \"{terminator}\". This endpoint uses \"{TERMINATOR}\"."
            ));
        }
        if service != SERVICE {
            return Err(format!(
                "incorrect service \"{service}\". This endpoint belongs to \"{SERVICE}\"."
            ));
        }
        if access_key.is_empty() || region.is_empty() {
            return Err("the Credential has an empty access key or region".to_owned());
        }
        if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("invalid credential date \"{date}\""));
        }
        Ok(Self {
            access_key,
            date,
            region,
        })
    }

    fn scope(&self) -> String {
        format!("{}/{}/{SERVICE}/{TERMINATOR}", self.date, self.region)
    }
}

/// Validates a `SignedHeaders` list; `host` is mandatory so a signature cannot be
/// replayed against another endpoint.
fn parse_signed_headers(value: &str) -> Result<(), String> {
    if value.is_empty() || value.split(';').any(str::is_empty) {
        return Err("SignedHeaders is empty or has an empty entry".to_owned());
    }
    if !value.split(';').any(|name| name == "host") {
        return Err("SignedHeaders must include host".to_owned());
    }
    Ok(())
}

/// The request timestamp as signed, from `x-amz-date` or else `Date`.
fn request_time(headers: &HeaderMap) -> Result<(String, DateTime<Utc>), AuthError> {
    if let Some(value) = headers.get("x-amz-date") {
        let text = value.to_str().map_err(|_| AuthError::MissingDate)?.trim();
        let time = parse_amz_date(text).ok_or(AuthError::MissingDate)?;
        return Ok((text.to_owned(), time));
    }
    let value = headers
        .get(http::header::DATE)
        .ok_or(AuthError::MissingDate)?;
    let text = value.to_str().map_err(|_| AuthError::MissingDate)?;
    let time = DateTime::parse_from_rfc2822(text.trim())
        .map_err(|_| AuthError::MissingDate)?
        .with_timezone(&Utc);
    Ok((amz_date(time), time))
}

/// Parses `20130524T000000Z`.
fn parse_amz_date(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, AMZ_DATE_FORMAT)
        .ok()
        .map(|naive| naive.and_utc())
}

/// Formats a time the way `x-amz-date` carries it.
pub fn amz_date(time: DateTime<Utc>) -> String {
    time.format(AMZ_DATE_FORMAT).to_string()
}

fn parse_expires(text: &str) -> Result<TimeDelta, AuthError> {
    let seconds: u64 = text
        .parse()
        .map_err(|_| malformed_query("X-Amz-Expires should be a number"))?;
    if seconds == 0 {
        return Err(malformed_query(
            "X-Amz-Expires must be non-negative and greater than zero",
        ));
    }
    if seconds > MAX_PRESIGN_EXPIRES {
        return Err(malformed_query(
            "X-Amz-Expires must be less than a week (in seconds) that is 604800",
        ));
    }
    // Bounded by MAX_PRESIGN_EXPIRES above, so the conversion cannot fail.
    i64::try_from(seconds)
        .ok()
        .and_then(TimeDelta::try_seconds)
        .ok_or_else(|| malformed_query("X-Amz-Expires is out of range"))
}

/// The presigned-URL parameters, decoded.
struct PresignParams {
    algorithm: String,
    credential: String,
    date: String,
    expires: String,
    signed_headers: String,
    signature: String,
    content_sha256: Option<String>,
}

impl PresignParams {
    fn parse(raw_query: &str) -> Result<Self, AuthError> {
        let pairs = decoded_query_pairs(raw_query, false);
        let single = |name: &str| -> Result<Option<String>, AuthError> {
            let mut values = pairs
                .iter()
                .filter(|(n, _)| n.as_slice() == name.as_bytes());
            let first = values.next();
            if values.next().is_some() {
                return Err(AuthError::QueryMalformed(format!(
                    "{name} must appear only once"
                )));
            }
            Ok(first.map(|(_, v)| String::from_utf8_lossy(v).into_owned()))
        };
        let required = |name: &str| -> Result<String, AuthError> {
            single(name)?.ok_or_else(|| malformed_query(QUERY_REQUIRED_MSG))
        };
        Ok(Self {
            algorithm: required("X-Amz-Algorithm")?,
            credential: required("X-Amz-Credential")?,
            date: required("X-Amz-Date")?,
            expires: required("X-Amz-Expires")?,
            signed_headers: required("X-Amz-SignedHeaders")?,
            signature: required("X-Amz-Signature")?,
            content_sha256: single("X-Amz-Content-Sha256")?,
        })
    }
}

fn query_has_algorithm(raw_query: &str) -> bool {
    raw_query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("X-Amz-Algorithm"))
}

/// Decodes a 64-hex-digit signature; anything else cannot match.
fn decode_signature(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Percent-decodes one URI component. S3 treats `+` as a literal plus when signing,
/// so only the fallback reading for form-encoding clients maps it to a space.
fn decode_component(text: &str, plus_as_space: bool) -> Vec<u8> {
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
fn decoded_query_pairs(raw_query: &str, plus_as_space: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
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

fn canonical_query_with(raw_query: &str, exclude_signature: bool, plus_as_space: bool) -> String {
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
    let mut out = String::new();
    for name in signed {
        let lower = name.to_ascii_lowercase();
        let values: Vec<String> = headers
            .get_all(lower.as_str())
            .iter()
            .map(|value| normalize_header_value(value.as_bytes()))
            .collect();
        out.push_str(name);
        out.push(':');
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

/// SigV4 "trimall": strip leading/trailing blanks, squeeze inner runs to one space.
fn normalize_header_value(value: &[u8]) -> String {
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

/// Derives `kSigning` = HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}

/// Hex HMAC-SHA256 of a string to sign: the signature itself.
pub fn sign(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// HMAC-SHA256 keyed through `Mac::new` with a pre-padded block: HMAC zero-pads keys
/// up to the block size and hashes longer ones, so this is the same MAC while staying
/// infallible (`new_from_slice` returns a `Result` we would have to unwrap).
fn hmac_for(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as KeyInit>::new(&block.into())
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac_for(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time check of `expected` against HMAC(key, data), so response timing
/// reveals nothing about how much of a forged signature was right.
pub(crate) fn hmac_verify(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    let mut mac = hmac_for(key);
    mac.update(data);
    mac.verify_slice(expected).is_ok()
}

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
    let scope = format!("{date}/{}/{SERVICE}/{TERMINATOR}", request.region);
    let key = signing_key(&credentials.secret_key, date, request.region, SERVICE);
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use std::collections::HashMap;

    const AK: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const HOST: &str = "examplebucket.s3.amazonaws.com";
    const DATE: &str = "20130524T000000Z";

    struct Keys(HashMap<String, String>);

    impl SecretLookup for Keys {
        fn secret_key(&self, access_key: &str) -> Option<String> {
            self.0.get(access_key).cloned()
        }
    }

    fn keys() -> Keys {
        Keys(HashMap::from([(AK.to_owned(), SECRET.to_owned())]))
    }

    fn doc_time() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0)
            .single()
            .expect("valid date")
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

    fn doc_auth(signed_headers: &str, signature: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed_headers},Signature={signature}"
        )
    }

    /// The "GET Object" example of "Signature Calculations for the Authorization
    /// Header: Transferring Payload in a Single Chunk".
    fn get_object_headers(signature: &str) -> HeaderMap {
        headers(&[
            ("host", HOST),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
            (
                "authorization",
                &doc_auth("host;range;x-amz-content-sha256;x-amz-date", signature),
            ),
        ])
    }

    const GET_OBJECT_SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

    #[test]
    fn aws_get_object_example_verifies() {
        let outcome = verify(
            &Method::GET,
            "/test.txt",
            "",
            &get_object_headers(GET_OBJECT_SIG),
            doc_time(),
            &keys(),
        )
        .expect("documented request verifies");
        assert_eq!(outcome.access_key, AK);
        assert_eq!(
            outcome.payload,
            PayloadMode::SignedSha256(EMPTY_SHA256.to_owned())
        );
        assert!(outcome.chunk_signing.is_none());
    }

    #[test]
    fn aws_get_object_example_canonical_pieces() {
        let map = get_object_headers(GET_OBJECT_SIG);
        let names = ["host", "range", "x-amz-content-sha256", "x-amz-date"];
        let canonical = canonical_request(
            "GET",
            &canonical_uri("/test.txt"),
            &canonical_query("", false),
            &canonical_headers(&map, &names),
            &names.join(";"),
            EMPTY_SHA256,
        );
        let scope = "20130524/us-east-1/s3/aws4_request";
        let sts = string_to_sign(DATE, scope, &canonical);
        assert!(sts.ends_with("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"));
        let key = signing_key(SECRET, "20130524", "us-east-1", "s3");
        assert_eq!(sign(&key, &sts), GET_OBJECT_SIG);
    }

    #[test]
    fn tampering_breaks_the_signature() {
        let keys = keys();
        let now = doc_time();
        let map = get_object_headers(GET_OBJECT_SIG);
        let other_path = verify(&Method::GET, "/test2.txt", "", &map, now, &keys);
        assert_eq!(other_path, Err(AuthError::SignatureMismatch));
        let other_method = verify(&Method::HEAD, "/test.txt", "", &map, now, &keys);
        assert_eq!(other_method, Err(AuthError::SignatureMismatch));
        let other_query = verify(&Method::GET, "/test.txt", "x=1", &map, now, &keys);
        assert_eq!(other_query, Err(AuthError::SignatureMismatch));
        let mut changed = map.clone();
        changed.insert("range", HeaderValue::from_static("bytes=0-10"));
        let other_header = verify(&Method::GET, "/test.txt", "", &changed, now, &keys);
        assert_eq!(other_header, Err(AuthError::SignatureMismatch));
        let mut wrong = GET_OBJECT_SIG.to_owned();
        wrong.replace_range(0..1, "0");
        let forged = verify(
            &Method::GET,
            "/test.txt",
            "",
            &get_object_headers(&wrong),
            now,
            &keys,
        );
        assert_eq!(forged, Err(AuthError::SignatureMismatch));
        let short = verify(
            &Method::GET,
            "/test.txt",
            "",
            &get_object_headers("abc"),
            now,
            &keys,
        );
        assert_eq!(short, Err(AuthError::SignatureMismatch));
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let mut map = get_object_headers(GET_OBJECT_SIG);
        map.insert("range", HeaderValue::from_static("  bytes=0-9   "));
        assert!(verify(&Method::GET, "/test.txt", "", &map, doc_time(), &keys()).is_ok());
        assert_eq!(normalize_header_value(b" a   b\t\tc  "), "a b c");
        let multi = headers(&[("x-amz-meta-a", "one"), ("x-amz-meta-a", " two  three ")]);
        assert_eq!(
            canonical_headers(&multi, &["x-amz-meta-a"]),
            "x-amz-meta-a:one,two three\n"
        );
    }

    #[test]
    fn authorization_spacing_is_tolerated() {
        let spaced = format!(
            "AWS4-HMAC-SHA256   Credential={AK}/20130524/us-east-1/s3/aws4_request ,  SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={GET_OBJECT_SIG},"
        );
        let mut map = get_object_headers(GET_OBJECT_SIG);
        map.insert(
            "authorization",
            HeaderValue::from_str(&spaced).expect("value"),
        );
        assert!(verify(&Method::GET, "/test.txt", "", &map, doc_time(), &keys()).is_ok());
    }

    #[test]
    fn aws_put_object_example_with_escaped_key() {
        let map = headers(&[
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("host", HOST),
            (
                "x-amz-content-sha256",
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            ),
            ("x-amz-date", DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                &doc_auth(
                    "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
                ),
            ),
        ]);
        // The SDK sends `%24`; a client sending a raw `$` signed the same canonical URI.
        for path in [
            "/test%24file.text",
            "/test$file.text",
            "/test%24file%2etext",
        ] {
            let outcome = verify(&Method::PUT, path, "", &map, doc_time(), &keys())
                .unwrap_or_else(|e| panic!("{path}: {e:?}"));
            assert_eq!(
                outcome.payload,
                PayloadMode::SignedSha256(
                    "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072".to_owned()
                )
            );
        }
    }

    fn bucket_headers(signature: &str) -> HeaderMap {
        headers(&[
            ("host", HOST),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
            (
                "authorization",
                &doc_auth("host;x-amz-content-sha256;x-amz-date", signature),
            ),
        ])
    }

    #[test]
    fn aws_get_bucket_lifecycle_example_signs_valueless_param() {
        let map =
            bucket_headers("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
        assert!(verify(&Method::GET, "/", "lifecycle", &map, doc_time(), &keys()).is_ok());
        assert!(verify(&Method::GET, "/", "lifecycle=", &map, doc_time(), &keys()).is_ok());
        assert!(verify(&Method::GET, "", "lifecycle", &map, doc_time(), &keys()).is_ok());
    }

    #[test]
    fn aws_list_objects_example_sorts_query() {
        let map =
            bucket_headers("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
        for query in [
            "max-keys=2&prefix=J",
            "prefix=J&max-keys=2",
            "prefix=%4a&max-keys=2",
        ] {
            assert!(
                verify(&Method::GET, "/", query, &map, doc_time(), &keys()).is_ok(),
                "{query}"
            );
        }
    }

    fn presigned_query(signature: &str, expires: &str) -> String {
        format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
        )
    }

    const PRESIGNED_SIG: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

    #[test]
    fn aws_presigned_example_verifies_until_expiry() {
        let map = headers(&[("host", HOST)]);
        let query = presigned_query(PRESIGNED_SIG, "86400");
        let at = |secs: i64| doc_time() + TimeDelta::seconds(secs);
        let ok = verify(&Method::GET, "/test.txt", &query, &map, at(86_400), &keys())
            .expect("valid within its lifetime");
        assert_eq!(ok.payload, PayloadMode::Unsigned);
        assert_eq!(
            verify(&Method::GET, "/test.txt", &query, &map, at(86_401), &keys()),
            Err(AuthError::Expired)
        );
        assert!(verify(&Method::GET, "/test.txt", &query, &map, at(-900), &keys()).is_ok());
        let early = verify(&Method::GET, "/test.txt", &query, &map, at(-901), &keys());
        assert_eq!(early, Err(AuthError::NotYetValid));
        assert_eq!(early.map_err(|e| e.s3_code()), Err("AccessDenied"));
    }

    #[test]
    fn presigned_errors() {
        let map = headers(&[("host", HOST)]);
        let now = doc_time();
        let long = presigned_query(PRESIGNED_SIG, "604801");
        let err = verify(&Method::GET, "/test.txt", &long, &map, now, &keys());
        assert_eq!(
            err.map_err(|e| e.s3_code()),
            Err("AuthorizationQueryParametersError")
        );
        let missing = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z";
        let err = verify(&Method::GET, "/test.txt", missing, &map, now, &keys());
        assert_eq!(
            err.map_err(|e| e.s3_code()),
            Err("AuthorizationQueryParametersError")
        );
        let tampered = presigned_query(PRESIGNED_SIG, "86400") + "&extra=1";
        assert_eq!(
            verify(&Method::GET, "/test.txt", &tampered, &map, now, &keys()),
            Err(AuthError::SignatureMismatch)
        );
        let mut both = map.clone();
        both.insert(
            "authorization",
            HeaderValue::from_static("AWS4-HMAC-SHA256 x"),
        );
        let query = presigned_query(PRESIGNED_SIG, "86400");
        assert_eq!(
            verify(&Method::GET, "/test.txt", &query, &both, now, &keys()),
            Err(AuthError::MultipleMechanisms)
        );
    }

    #[test]
    fn presign_helper_reproduces_aws_example() {
        let creds = Credentials {
            access_key: AK.to_owned(),
            secret_key: SECRET.to_owned(),
        };
        let query = presign_query(
            &PresignRequest {
                method: &Method::GET,
                raw_path: "/test.txt",
                raw_query: "",
                host: HOST,
                time: doc_time(),
                region: "us-east-1",
                expires_secs: 86_400,
            },
            &creds,
        );
        assert_eq!(query, presigned_query(PRESIGNED_SIG, "86400"));
        assert!(!format!("{creds:?}").contains(SECRET));
    }

    #[test]
    fn errors_and_codes() {
        let keys = keys();
        let now = doc_time();
        let anonymous = verify(
            &Method::GET,
            "/",
            "",
            &headers(&[("host", HOST)]),
            now,
            &keys,
        );
        assert_eq!(anonymous, Err(AuthError::Anonymous));
        assert_eq!(AuthError::Anonymous.s3_code(), "AccessDenied");

        let mut v2 = get_object_headers(GET_OBJECT_SIG);
        v2.insert("authorization", HeaderValue::from_static("AWS AKID:abc="));
        let err = verify(&Method::GET, "/test.txt", "", &v2, now, &keys);
        assert_eq!(err, Err(AuthError::UnsupportedAuthorization));

        let skewed = verify(
            &Method::GET,
            "/test.txt",
            "",
            &get_object_headers(GET_OBJECT_SIG),
            now + TimeDelta::minutes(16),
            &keys,
        );
        assert_eq!(skewed, Err(AuthError::TimeTooSkewed));
        assert_eq!(AuthError::TimeTooSkewed.s3_code(), "RequestTimeTooSkewed");

        let nobody = Keys(HashMap::new());
        let unknown = verify(
            &Method::GET,
            "/test.txt",
            "",
            &get_object_headers(GET_OBJECT_SIG),
            now,
            &nobody,
        );
        assert_eq!(unknown.map_err(|e| e.s3_code()), Err("InvalidAccessKeyId"));

        let mut no_sha = get_object_headers(GET_OBJECT_SIG);
        no_sha.remove("x-amz-content-sha256");
        let err = verify(&Method::GET, "/test.txt", "", &no_sha, now, &keys);
        assert_eq!(err, Err(AuthError::MissingContentSha256));

        let mut bad_sha = get_object_headers(GET_OBJECT_SIG);
        bad_sha.insert("x-amz-content-sha256", HeaderValue::from_static("nope"));
        let err = verify(&Method::GET, "/test.txt", "", &bad_sha, now, &keys);
        assert_eq!(err, Err(AuthError::InvalidContentSha256));

        let mut no_host = get_object_headers(GET_OBJECT_SIG);
        no_host.insert(
            "authorization",
            HeaderValue::from_str(&doc_auth("range;x-amz-date", GET_OBJECT_SIG)).expect("value"),
        );
        let err = verify(&Method::GET, "/test.txt", "", &no_host, now, &keys);
        assert_eq!(
            err.map_err(|e| e.s3_code()),
            Err("AuthorizationHeaderMalformed")
        );

        let mut wrong_service = get_object_headers(GET_OBJECT_SIG);
        wrong_service.insert(
            "authorization",
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature={GET_OBJECT_SIG}"
            ))
            .expect("value"),
        );
        let err = verify(&Method::GET, "/test.txt", "", &wrong_service, now, &keys);
        assert_eq!(
            err.map_err(|e| e.s3_code()),
            Err("AuthorizationHeaderMalformed")
        );

        let mut wrong_day = get_object_headers(GET_OBJECT_SIG);
        wrong_day.insert(
            "authorization",
            HeaderValue::from_str(&format!(
                "AWS4-HMAC-SHA256 Credential={AK}/20130525/us-east-1/s3/aws4_request,SignedHeaders=host,Signature={GET_OBJECT_SIG}"
            ))
            .expect("value"),
        );
        let err = verify(&Method::GET, "/test.txt", "", &wrong_day, now, &keys);
        assert_eq!(
            err.map_err(|e| e.s3_code()),
            Err("AuthorizationHeaderMalformed")
        );

        let mut no_date = get_object_headers(GET_OBJECT_SIG);
        no_date.remove("x-amz-date");
        let err = verify(&Method::GET, "/test.txt", "", &no_date, now, &keys);
        assert_eq!(err, Err(AuthError::MissingDate));
        for error in [AuthError::SignatureMismatch, AuthError::UnknownAccessKey] {
            assert!(!error.message().contains(SECRET));
            assert_eq!(error.http_status(), StatusCode::FORBIDDEN);
        }
    }

    /// "Transferring Payload in Multiple Chunks": the seed signature of the example.
    #[test]
    fn aws_streaming_seed_signature() {
        let map = headers(&[
            ("content-encoding", "aws-chunked"),
            ("content-length", "66824"),
            ("host", "s3.amazonaws.com"),
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("x-amz-date", DATE),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            (
                "authorization",
                &doc_auth(
                    "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
                    "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                ),
            ),
        ]);
        let outcome = verify(
            &Method::PUT,
            "/examplebucket/chunkObject.txt",
            "",
            &map,
            doc_time(),
            &keys(),
        )
        .expect("documented seed verifies");
        assert_eq!(outcome.payload, PayloadMode::StreamingSigned);
        let ctx = outcome
            .chunk_signing
            .expect("signed streaming has a context");
        assert_eq!(ctx.scope, "20130524/us-east-1/s3/aws4_request");
        assert_eq!(ctx.amz_date, DATE);
        assert_eq!(
            ctx.seed_signature,
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
        );
        assert_eq!(
            ctx.signing_key,
            signing_key(SECRET, "20130524", "us-east-1", "s3")
        );
        assert!(!format!("{ctx:?}").contains(&hex::encode(ctx.signing_key)));
    }

    /// The trailer variant's seed (`sigv4-streaming-trailers`).
    #[test]
    fn aws_streaming_trailer_seed_signature() {
        let map = headers(&[
            ("content-encoding", "aws-chunked"),
            ("host", "s3.amazonaws.com"),
            ("x-amz-content-sha256", STREAMING_SIGNED_TRAILER),
            ("x-amz-date", DATE),
            ("x-amz-decoded-content-length", "66560"),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-trailer", "x-amz-checksum-crc32c"),
            (
                "authorization",
                &doc_auth(
                    "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
                    "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                ),
            ),
        ]);
        let outcome = verify(
            &Method::PUT,
            "/examplebucket/chunkObject.txt",
            "",
            &map,
            doc_time(),
            &keys(),
        )
        .expect("documented trailer seed verifies");
        assert_eq!(outcome.payload, PayloadMode::StreamingSignedTrailer);
        assert!(outcome.chunk_signing.is_some());
    }

    fn creds() -> Credentials {
        Credentials {
            access_key: AK.to_owned(),
            secret_key: SECRET.to_owned(),
        }
    }

    /// Signs with our client helper and verifies, for awkward paths and queries.
    fn round_trip(
        method: &Method,
        raw_path: &str,
        raw_query: &str,
        region: &str,
    ) -> Result<AuthOutcome, AuthError> {
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
            .single()
            .expect("date");
        let base = headers(&[("host", "localhost:9000"), ("x-amz-meta-note", "a  b")]);
        let signed = sign_request_headers(
            &ClientRequest {
                method,
                raw_path,
                raw_query,
                headers: &base,
                payload_hash: UNSIGNED_PAYLOAD,
                time: now,
                region,
            },
            &creds(),
        );
        let mut sent = base.clone();
        signed.apply(&mut sent).expect("ascii headers");
        verify(method, raw_path, raw_query, &sent, now, &keys())
    }

    #[test]
    fn client_helper_round_trips_awkward_requests() {
        let cases = [
            ("/bucket/a%20key%2Bwith%24odd%2Fchars~", ""),
            ("/bucket/plus+sign", ""),
            (
                "/bucket/%E2%82%AC/%2e%2e/x",
                "prefix=a%2Fb&delimiter=%2F&list-type=2",
            ),
            ("/bucket", "uploads"),
            (
                "/bucket/k",
                "x-id=PutObject&partNumber=1&uploadId=abc%3D%3D",
            ),
            ("/bucket", "location"),
            ("/bucket", "prefix=a+b&empty="),
        ];
        for (path, query) in cases {
            let outcome = round_trip(&Method::PUT, path, query, "us-east-1")
                .unwrap_or_else(|e| panic!("{path}?{query}: {e:?}"));
            assert_eq!(outcome.payload, PayloadMode::Unsigned);
        }
        // s3cmd signs with region `US`; any region in the scope is accepted.
        assert!(round_trip(&Method::GET, "/b/k", "", "US").is_ok());
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical_uri("/a b/c%2fd/%7e$"), "/a%20b/c%2Fd/~%24");
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(uri_encode_path("dir/a b+c"), "dir/a%20b%2Bc");
        assert_eq!(
            canonical_query("b=2&a=1&a=0&uploads", false),
            "a=0&a=1&b=2&uploads="
        );
        assert_eq!(canonical_query("a=b+c", false), "a=b%2Bc");
        assert_eq!(canonical_query("a=b%20c", false), "a=b%20c");
        assert_eq!(canonical_query("X-Amz-Signature=abc&z=1", true), "z=1");
        assert_eq!(canonical_query_with("a=b+c", false, true), "a=b%20c");
    }

    #[test]
    fn plus_as_space_fallback_for_form_encoding_clients() {
        // A client that signed `a b` but sent `a+b` on the wire.
        let now = Utc
            .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
            .single()
            .expect("date");
        let base = headers(&[("host", "h")]);
        let signed = sign_request_headers(
            &ClientRequest {
                method: &Method::GET,
                raw_path: "/b",
                raw_query: "prefix=a%20b",
                headers: &base,
                payload_hash: EMPTY_SHA256,
                time: now,
                region: "us-east-1",
            },
            &creds(),
        );
        let mut sent = base.clone();
        signed.apply(&mut sent).expect("ascii headers");
        assert!(verify(&Method::GET, "/b", "prefix=a+b", &sent, now, &keys()).is_ok());
    }

    #[test]
    fn garbage_never_panics() {
        let keys = keys();
        let now = doc_time();
        let auths = [
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 ",
            "AWS4-HMAC-SHA256 Credential=",
            "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=zz",
            "AWS4-HMAC-SHA256 Credential=//////, SignedHeaders=;, Signature=",
            "AWS4-HMAC-SHA256 ,,,,=,=,",
            "AWS4-HMAC-SHA256Credential=x",
        ];
        for auth in auths {
            let mut map = get_object_headers(GET_OBJECT_SIG);
            map.insert("authorization", HeaderValue::from_str(auth).expect("value"));
            assert!(verify(&Method::GET, "/%", "%&&=&==%zz", &map, now, &keys).is_err());
        }
        let queries = [
            "X-Amz-Algorithm",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=x",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%ff%fe&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=",
        ];
        for query in queries {
            let map = headers(&[("host", HOST)]);
            assert!(verify(&Method::GET, "/", query, &map, now, &keys).is_err());
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_with_long_key() {
        // RFC 4231 test case 6: a 131-byte key is hashed first.
        let key = [0xaa_u8; 131];
        let mac = hmac_sha256(
            &key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
        assert!(hmac_verify(
            &key,
            b"Test Using Larger Than Block-Size Key - Hash Key First",
            &mac
        ));
        assert!(!hmac_verify(&key, b"other", &mac));
    }
}
