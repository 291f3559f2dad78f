//! Server-side encryption at the S3 layer: the headers a request sends
//! ([`request`]), the bodies sealed and opened around the object layer ([`body`]), S3's
//! errors for the key management in [`crate::crypto::sse`], and the headers that answer.

pub mod body;
pub mod request;

use super::error::S3Error;
use crate::crypto::record::{Kind, Stored};
use crate::crypto::sse::SseError;
use http::{HeaderMap, HeaderValue, StatusCode};

pub use crate::crypto::sse::{Opening, Sealing, Sse, masks_etag};

impl From<SseError> for S3Error {
    fn from(e: SseError) -> Self {
        match e {
            SseError::NoKms(what) => request::kms_not_configured(what),
            SseError::NoSuchKmsKey(k) => S3Error::new(
                "KMS.NotFoundException",
                StatusCode::BAD_REQUEST,
                format!("Invalid keyId: KMS key '{k}' does not exist"),
            ),
            SseError::Insecure => S3Error::invalid_request(
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
            ),
            SseError::CustomerKeyMissing => S3Error::invalid_request(
                "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
            ),
            SseError::CustomerKeyMismatch => S3Error::new(
                "AccessDenied",
                StatusCode::FORBIDDEN,
                "The provided SSE-C key does not match the key the object was encrypted with",
            ),
            SseError::NotApplicable => S3Error::invalid_request(
                "The encryption parameters are not applicable to this object.",
            ),
            other => S3Error::internal(other.to_string()),
        }
    }
}

impl From<crate::crypto::CryptoError> for S3Error {
    fn from(e: crate::crypto::CryptoError) -> Self {
        S3Error::internal(e.to_string())
    }
}

/// A copy's stored headers: the source's, without its encryption record or its
/// plaintext size (the copy gets its own, or none).
pub fn strip_for_copy(h: &mut std::collections::BTreeMap<String, String>) {
    crate::crypto::record::strip(h);
    h.remove(crate::objects::CONTENT_SIZE_HEADER);
}

/// The headers that tell a client how its object is encrypted.
pub fn response_headers(h: &mut HeaderMap, stored: &Stored, customer_md5: Option<&str>) {
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    match stored.kind {
        Kind::S3 => put(request::SSE, "AES256"),
        Kind::Kms => {
            put(request::SSE, "aws:kms");
            if let Some((id, _)) = &stored.kms {
                put(request::KMS_KEY_ID, &format!("arn:aws:kms:{id}"));
            }
        }
        Kind::C => {
            put(request::C_ALGORITHM, "AES256");
            if let Some(m) = customer_md5 {
                put(request::C_KEY_MD5, m);
            }
        }
    }
}
