//! Server-side encryption requests, refused until Cairn really encrypts.
//!
//! Objects reach the drives in plaintext today. Accepting `x-amz-server-side-encryption:
//! AES256` (barman-cloud's `--encryption AES256`) or an SSE-C key (Synapse's
//! `sse_customer_key`) and answering as if the bytes were encrypted would be a lie the
//! client cannot detect, so every request that asks for server-side encryption is
//! refused with the error MinIO gives when no KMS is configured (`NotImplemented`,
//! 501), before its body is read or anything is written. Nothing about encryption is
//! stored or echoed back either.

use http::{HeaderMap, StatusCode};

use super::error::S3Error;

/// MinIO's wording for `ErrKMSNotConfigured`, which clients and people already know.
pub const KMS_NOT_CONFIGURED: &str = "Server side encryption specified but KMS is not configured";

/// Request header prefixes that ask for server-side encryption: SSE-S3 and SSE-KMS
/// (`x-amz-server-side-encryption`, `-aws-kms-key-id`, `-context`, `-bucket-key-enabled`),
/// SSE-C (`x-amz-server-side-encryption-customer-algorithm`, `-key`, `-key-md5`) and
/// the SSE-C key of a copy source (`x-amz-copy-source-server-side-encryption-customer-*`).
const REQUEST_PREFIXES: &[&str] = &[
    "x-amz-server-side-encryption",
    "x-amz-copy-source-server-side-encryption",
];

/// Whether a header name is one of the server-side encryption headers. Header names in
/// an `http::HeaderMap` are already lower-case.
pub fn is_encryption_header(name: &str) -> bool {
    REQUEST_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix))
}

/// The first server-side encryption header of a request, if it has one.
pub fn requested(headers: &HeaderMap) -> Option<&str> {
    headers
        .keys()
        .map(http::HeaderName::as_str)
        .find(|name| is_encryption_header(name))
}

/// The refusal: MinIO's code, status and message, plus what happened to the request.
pub fn not_configured(what: &str) -> S3Error {
    S3Error::new(
        "NotImplemented",
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "{KMS_NOT_CONFIGURED}: this server does not encrypt objects yet, so requests \
             with {what} are refused and nothing was stored"
        ),
    )
}

/// Refuses a request that carries any server-side encryption header.
pub fn refuse_requested(headers: &HeaderMap) -> Result<(), S3Error> {
    match requested(headers) {
        Some(name) => Err(not_configured(name)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn every_sse_header_is_refused_and_others_pass() {
        for name in [
            "x-amz-server-side-encryption",
            "x-amz-server-side-encryption-aws-kms-key-id",
            "x-amz-server-side-encryption-context",
            "x-amz-server-side-encryption-bucket-key-enabled",
            "x-amz-server-side-encryption-customer-algorithm",
            "x-amz-server-side-encryption-customer-key",
            "x-amz-server-side-encryption-customer-key-md5",
            "x-amz-copy-source-server-side-encryption-customer-algorithm",
            "x-amz-copy-source-server-side-encryption-customer-key",
            "x-amz-copy-source-server-side-encryption-customer-key-md5",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert("x-amz-meta-a", HeaderValue::from_static("1"));
            headers.insert(
                http::HeaderName::from_static(name),
                HeaderValue::from_static("AES256"),
            );
            let err = refuse_requested(&headers).expect_err(name);
            assert_eq!(err.code, "NotImplemented", "{name}");
            assert_eq!(err.status, StatusCode::NOT_IMPLEMENTED, "{name}");
            assert!(err.message.starts_with(KMS_NOT_CONFIGURED), "{name}");
            assert!(err.message.contains(name), "{name}");
        }
        let mut plain = HeaderMap::new();
        plain.insert(
            "x-amz-meta-server-side-encryption",
            HeaderValue::from_static("x"),
        );
        plain.insert("x-amz-copy-source", HeaderValue::from_static("/b/k"));
        assert!(refuse_requested(&plain).is_ok());
    }
}
