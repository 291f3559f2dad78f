//! Server-side SigV4 verification: parses the `Authorization` header or the presigned
//! query, checks dates, expiry and the signed-header list, then recomputes and compares
//! the signature in constant time.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use http::{HeaderMap, Method};

use super::canonical::{
    canonical_headers_within, canonical_query_with, canonical_request, canonical_uri,
    decoded_query_pairs, string_to_sign,
};
use super::signed_headers::{MAX_CANONICAL_REQUEST, check_request_line, parse_signed_headers};
use super::signing::{hmac_verify, signing_key};
use super::{
    ALGORITHM, AMZ_DATE_FORMAT, AuthError, AuthOutcome, MAX_CLOCK_SKEW, MAX_PRESIGN_EXPIRES,
    PayloadMode, SERVICE, SecretLookup, SigningContext, TERMINATOR, UNSIGNED_PAYLOAD,
};

const QUERY_REQUIRED_MSG: &str = "Query-string authentication version 4 requires the \
     X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, \
     and X-Amz-Expires parameters.";

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
    verify_for_services(
        method,
        raw_path,
        raw_query,
        headers,
        now,
        secrets,
        &[SERVICE],
    )
}

/// As [`verify`], accepting any of `services` in the credential scope (S3 requests
/// accept only `s3`; STS requests also `sts`, see [`super::STS_SERVICES`]).
pub fn verify_for_services(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
    services: &[&str],
) -> Result<AuthOutcome, AuthError> {
    let request = Request {
        method,
        raw_path,
        raw_query,
        headers,
        services,
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
pub(super) struct Request<'a> {
    method: &'a Method,
    raw_path: &'a str,
    raw_query: &'a str,
    headers: &'a HeaderMap,
    /// Services accepted in the credential scope.
    services: &'a [&'a str],
}

/// The signature, scope and signed-header list shared by both authentication styles,
/// after parsing and date checks, ready for the signature comparison.
pub(super) struct Claim<'a> {
    credential: Credential<'a>,
    amz_date: String,
    signed_headers: &'a str,
    /// `signed_headers` split, checked against the request (see `signed_headers.rs`).
    signed_names: Vec<&'a str>,
    signature: &'a str,
    payload_line: &'a str,
}

pub(super) fn malformed_header(detail: &str) -> AuthError {
    AuthError::HeaderMalformed(detail.to_owned())
}

pub(super) fn malformed_query(detail: &str) -> AuthError {
    AuthError::QueryMalformed(detail.to_owned())
}

pub(super) fn verify_header_auth(
    request: &Request<'_>,
    authorization: &str,
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let fields = parse_authorization(authorization)?;
    let credential = Credential::parse(fields.credential, request.services)
        .map_err(|detail| malformed_header(&detail))?;
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
    let signed_names =
        parse_signed_headers(fields.signed_headers, request.headers, malformed_header)?;
    let claim = Claim {
        credential,
        amz_date,
        signed_headers: fields.signed_headers,
        signed_names,
        signature: fields.signature,
        payload_line,
    };
    check_claim(request, &claim, payload, false, secrets)
}

pub(super) fn verify_presigned(
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
    let credential = Credential::parse(&params.credential, request.services)
        .map_err(|detail| malformed_query(&detail))?;
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
    let signed_names =
        parse_signed_headers(&params.signed_headers, request.headers, malformed_query)?;
    let claim = Claim {
        credential,
        amz_date: params.date.clone(),
        signed_headers: &params.signed_headers,
        signed_names,
        signature: &params.signature,
        payload_line,
    };
    check_claim(request, &claim, payload, true, secrets)
}

/// Looks up the secret, recomputes the signature and builds the outcome.
pub(super) fn check_claim(
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
    let key = signing_key(
        &secret,
        credential.date,
        credential.region,
        credential.service,
    );
    let scope = credential.scope();
    let provided = decode_signature(claim.signature).ok_or(AuthError::SignatureMismatch)?;
    if !signature_matches(request, claim, presigned, &key, &scope, &provided)? {
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
/// docs); each is a full HMAC comparison in constant time. No canonical request longer
/// than [`MAX_CANONICAL_REQUEST`] is built: the request is refused instead.
pub(super) fn signature_matches(
    request: &Request<'_>,
    claim: &Claim<'_>,
    presigned: bool,
    key: &[u8; 32],
    scope: &str,
    provided: &[u8; 32],
) -> Result<bool, AuthError> {
    check_request_line(request.raw_path, request.raw_query)?;
    let headers =
        canonical_headers_within(request.headers, &claim.signed_names, MAX_CANONICAL_REQUEST)
            .ok_or(AuthError::CanonicalRequestTooLarge)?;
    let method = request.method.as_str();
    let uris = uri_candidates(request.raw_path);
    let queries = query_candidates(request.raw_query, presigned);
    let fixed = method.len() + headers.len() + claim.signed_headers.len();
    let fixed = fixed + claim.payload_line.len() + 5;
    for uri in &uris {
        for query in &queries {
            if fixed + uri.len() + query.len() > MAX_CANONICAL_REQUEST {
                return Err(AuthError::CanonicalRequestTooLarge);
            }
            let canonical = canonical_request(
                method,
                uri,
                query,
                &headers,
                claim.signed_headers,
                claim.payload_line,
            );
            let to_sign = string_to_sign(&claim.amz_date, scope, &canonical);
            if hmac_verify(key, to_sign.as_bytes(), provided) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// The canonical URI, plus the exact wire form for clients that sign what they send.
pub(super) fn uri_candidates(raw_path: &str) -> Vec<String> {
    let canonical = canonical_uri(raw_path);
    if raw_path.is_empty() || raw_path == canonical {
        vec![canonical]
    } else {
        vec![canonical, raw_path.to_owned()]
    }
}

/// The canonical query, plus a `+`-means-space reading for clients that form-encode.
pub(super) fn query_candidates(raw_query: &str, exclude_signature: bool) -> Vec<String> {
    let literal = canonical_query_with(raw_query, exclude_signature, false);
    let mut candidates = vec![literal];
    if raw_query.contains('+') {
        candidates.push(canonical_query_with(raw_query, exclude_signature, true));
    }
    candidates
}

/// The three fields of a SigV4 `Authorization` header.
pub(super) struct AuthorizationFields<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`,
/// tolerating any spacing around the commas and a trailing comma.
pub(super) fn parse_authorization(value: &str) -> Result<AuthorizationFields<'_>, AuthError> {
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
pub(super) struct Credential<'a> {
    access_key: &'a str,
    date: &'a str,
    region: &'a str,
    /// One of the services the request may be signed for.
    service: &'a str,
}

impl<'a> Credential<'a> {
    /// Any non-empty region is accepted: the signature binds whatever region the
    /// client put in its scope (s3cmd uses `US`), and we serve every region.
    fn parse(value: &'a str, services: &[&str]) -> Result<Self, String> {
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
        if !services.contains(&service) {
            let expected = services.first().copied().unwrap_or(SERVICE);
            return Err(format!(
                "incorrect service \"{service}\". This endpoint belongs to \"{expected}\"."
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
            service,
        })
    }

    fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{TERMINATOR}",
            self.date, self.region, self.service
        )
    }
}

/// The request timestamp as signed, from `x-amz-date` or else `Date`.
pub(super) fn request_time(headers: &HeaderMap) -> Result<(String, DateTime<Utc>), AuthError> {
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
pub(super) fn parse_amz_date(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, AMZ_DATE_FORMAT)
        .ok()
        .map(|naive| naive.and_utc())
}

/// Formats a time the way `x-amz-date` carries it.
pub fn amz_date(time: DateTime<Utc>) -> String {
    time.format(AMZ_DATE_FORMAT).to_string()
}

pub(super) fn parse_expires(text: &str) -> Result<TimeDelta, AuthError> {
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
pub(super) struct PresignParams {
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

pub(super) fn query_has_algorithm(raw_query: &str) -> bool {
    raw_query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("X-Amz-Algorithm"))
}

/// Decodes a 64-hex-digit signature; anything else cannot match.
pub(super) fn decode_signature(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}
