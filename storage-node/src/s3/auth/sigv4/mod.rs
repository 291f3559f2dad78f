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
//!
//! The module is split by concern: [`verify`] checks a request (header or presigned
//! query), `canonical` builds the canonical request both sides hash, `signing` holds
//! the HMAC key derivation, and `client` signs requests the way SDKs do (tests, the
//! admin client).

mod canonical;
mod client;
mod signed_headers;
mod signing;
mod verify;

use std::fmt;

use chrono::TimeDelta;
use http::StatusCode;

pub use canonical::{
    canonical_headers, canonical_query, canonical_request, canonical_uri, string_to_sign,
    uri_encode, uri_encode_path,
};
pub use client::{
    ClientRequest, ClientSignature, Credentials, PresignRequest, presign_query,
    sign_request_headers, sign_request_headers_for,
};
pub use signed_headers::{MAX_CANONICAL_REQUEST, MAX_SIGNED_HEADERS};
pub(crate) use signing::{hmac_sha256, hmac_verify};
pub use signing::{sign, signing_key};
pub use verify::{amz_date, verify, verify_for_services};

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

/// Service name in the credential scope of S3 requests.
const SERVICE: &str = "s3";
/// Services accepted in the scope of STS requests: `sts`, as AWS SDKs sign them, and
/// `s3`, as MinIO also accepts.
pub const STS_SERVICES: &[&str] = &["sts", SERVICE];
/// Fixed last element of the credential scope.
const TERMINATOR: &str = "aws4_request";
/// `X-Amz-Date` / `x-amz-date` layout (ISO 8601 basic format, UTC).
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

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
    /// The canonical request would exceed [`MAX_CANONICAL_REQUEST`]; refused before it
    /// is built.
    #[error("the signed part of the request is too large")]
    CanonicalRequestTooLarge,
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
            Self::CanonicalRequestTooLarge => "RequestHeaderSectionTooLarge",
        }
    }

    /// The HTTP status S3 uses with [`Self::s3_code`].
    pub fn http_status(&self) -> StatusCode {
        match self.s3_code() {
            "AuthorizationHeaderMalformed"
            | "AuthorizationQueryParametersError"
            | "InvalidArgument"
            | "InvalidRequest"
            | "RequestHeaderSectionTooLarge" => StatusCode::BAD_REQUEST,
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
            Self::CanonicalRequestTooLarge => format!(
                "The signed part of this request (path, query and signed headers) exceeds \
                 the {MAX_CANONICAL_REQUEST} bytes this server verifies."
            ),
        }
    }

    /// Whether the request simply carried no credentials, so an anonymous policy
    /// decision applies instead of an authentication failure.
    pub fn is_anonymous(&self) -> bool {
        matches!(self, Self::Anonymous)
    }
}

#[cfg(test)]
mod tests;
