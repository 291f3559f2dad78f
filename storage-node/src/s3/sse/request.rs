//! What a request asks for: SSE-S3 (`x-amz-server-side-encryption: AES256`), SSE-KMS
//! (`aws:kms`, with an optional key id and encryption context) or SSE-C (the
//! customer's key and its MD5), checked with the errors S3 gives.

use super::super::error::S3Error;
use crate::crypto::kms::Context;
pub use crate::crypto::sse::{CustomerKey, Requested};
use base64::Engine;
use http::{HeaderMap, StatusCode};
use md5::{Digest, Md5};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

pub const SSE: &str = "x-amz-server-side-encryption";
pub const KMS_KEY_ID: &str = "x-amz-server-side-encryption-aws-kms-key-id";
pub const KMS_CONTEXT: &str = "x-amz-server-side-encryption-context";
const BUCKET_KEY: &str = "x-amz-server-side-encryption-bucket-key-enabled";
pub const C_ALGORITHM: &str = "x-amz-server-side-encryption-customer-algorithm";
pub const C_KEY: &str = "x-amz-server-side-encryption-customer-key";
pub const C_KEY_MD5: &str = "x-amz-server-side-encryption-customer-key-md5";
const COPY_PREFIX: &str = "x-amz-copy-source-server-side-encryption-customer-";

/// Whether a header name is one of the server-side encryption headers (they are never
/// stored as object metadata). Header names in an `http::HeaderMap` are lower-case.
pub fn is_encryption_header(name: &str) -> bool {
    name.starts_with(SSE) || name.starts_with("x-amz-copy-source-server-side-encryption")
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
}

fn bad(message: &str) -> S3Error {
    S3Error::invalid_argument(message)
}

/// The SSE-C key under `prefix` (`x-amz-server-side-encryption-customer-` or the copy
/// source's), if the request names one.
fn customer_key(h: &HeaderMap, prefix: &str) -> Result<Option<CustomerKey>, S3Error> {
    let algo = header(h, &format!("{prefix}algorithm"));
    let key = header(h, &format!("{prefix}key"));
    let md5 = header(h, &format!("{prefix}key-md5"));
    match (algo, key, md5) {
        (None, None, None) => Ok(None),
        (Some(a), _, _) if a != "AES256" => Err(S3Error::new(
            "InvalidEncryptionAlgorithmError",
            StatusCode::BAD_REQUEST,
            "The encryption request you specified is not valid. The valid value is AES256.",
        )),
        (None, _, _) => Err(bad(
            "Requests specifying Server Side Encryption with Customer provided keys must provide a valid encryption algorithm.",
        )),
        (Some(_), None, _) => Err(bad(
            "Requests specifying Server Side Encryption with Customer provided keys must provide an appropriate secret key.",
        )),
        (Some(_), Some(_), None) => Err(bad(
            "Requests specifying Server Side Encryption with Customer provided keys must provide the client calculated MD5 of the secret key.",
        )),
        (Some(_), Some(k), Some(m)) => {
            let raw: [u8; 32] = B64
                .decode(k)
                .ok()
                .and_then(|r| r.try_into().ok())
                .ok_or_else(|| bad("The secret key was invalid for the specified algorithm."))?;
            let got = B64.encode(Md5::digest(raw));
            if got != m {
                return Err(bad(
                    "The calculated MD5 hash of the key did not match the hash that was provided.",
                ));
            }
            Ok(Some(CustomerKey {
                key: raw,
                key_md5: got,
            }))
        }
    }
}

/// The SSE-C key of the request itself (GET, HEAD, PUT, UploadPart...).
pub fn request_customer_key(h: &HeaderMap) -> Result<Option<CustomerKey>, S3Error> {
    customer_key(h, "x-amz-server-side-encryption-customer-")
}

/// The SSE-C key of a copy's source.
pub fn copy_source_key(h: &HeaderMap) -> Result<Option<CustomerKey>, S3Error> {
    customer_key(h, COPY_PREFIX)
}

/// The encryption a write asks for in its headers.
pub fn requested(h: &HeaderMap) -> Result<Option<Requested>, S3Error> {
    let c = request_customer_key(h)?;
    let sse = header(h, SSE);
    let key_id = header(h, KMS_KEY_ID).filter(|k| !k.is_empty());
    let context = header(h, KMS_CONTEXT);
    if let Some(v) = header(h, BUCKET_KEY) {
        if !v.eq_ignore_ascii_case("true") && !v.eq_ignore_ascii_case("false") {
            return Err(bad(
                "x-amz-server-side-encryption-bucket-key-enabled must be true or false",
            ));
        }
    }
    match (sse, c) {
        (Some(_), Some(_)) => Err(bad(
            "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
        )),
        (None, Some(c)) => Ok(Some(Requested::C(c))),
        (None, None) if key_id.is_some() || context.is_some() => Err(bad(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        )),
        (None, None) => Ok(None),
        (Some("AES256"), None) if key_id.is_some() || context.is_some() => Err(bad(
            "Server Side Encryption with AWS KMS managed key requires HTTP header x-amz-server-side-encryption : aws:kms",
        )),
        (Some("AES256"), None) => Ok(Some(Requested::S3)),
        (Some("aws:kms"), None) => Ok(Some(Requested::Kms {
            key_id: key_id.map(kms_key_name),
            context: match context {
                None => Context::new(),
                Some(c) => parse_context(c)?,
            },
        })),
        (Some(_), None) => Err(bad("The encryption method specified is not supported")),
    }
}

/// A key id as clients send it: a bare name, or an ARN ending in `key/<name>` or
/// `:<name>` (MinIO answers with `arn:aws:kms:<name>`).
pub fn kms_key_name(id: &str) -> String {
    let id = id.trim();
    let id = id.strip_prefix("arn:aws:kms:").unwrap_or(id);
    id.rsplit_once("key/")
        .map(|(_, k)| k)
        .unwrap_or(id)
        .to_string()
}

/// `x-amz-server-side-encryption-context`: base64 of a JSON object of strings.
fn parse_context(b64: &str) -> Result<Context, S3Error> {
    let invalid = || bad("The encryption context must be base64 of a JSON object of string values");
    let raw = B64.decode(b64).map_err(|_| invalid())?;
    if raw.len() > 8192 {
        return Err(invalid());
    }
    let ctx: Context = serde_json::from_slice(&raw).map_err(|_| invalid())?;
    if ctx.contains_key("bucket") {
        return Err(bad(
            "The encryption context must not use the reserved key 'bucket'",
        ));
    }
    Ok(ctx)
}

/// MinIO's wording for `ErrKMSNotConfigured`, which clients and people already know.
pub const KMS_NOT_CONFIGURED: &str = "Server side encryption specified but KMS is not configured";

/// The refusal of SSE-S3 and SSE-KMS (and bucket default encryption) without a KMS:
/// MinIO's code, status and message, and what happened to the request.
pub fn kms_not_configured(what: &str) -> S3Error {
    S3Error::new(
        "NotImplemented",
        StatusCode::NOT_IMPLEMENTED,
        format!(
            "{KMS_NOT_CONFIGURED}: this server has no KMS key (set MINIO_KMS_SECRET_KEY or \
             CAIRN_KMS_SECRET_KEY), so requests with {what} are refused and nothing was stored"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn c_headers(key: &[u8; 32]) -> Vec<(&'static str, String)> {
        vec![
            (C_ALGORITHM, "AES256".into()),
            (C_KEY, B64.encode(key)),
            (C_KEY_MD5, B64.encode(Md5::digest(key))),
        ]
    }

    #[test]
    fn each_form_parses_and_bad_ones_get_s3s_errors() {
        assert!(requested(&HeaderMap::new()).unwrap().is_none());
        assert!(matches!(
            requested(&headers(&[(SSE, "AES256")])).unwrap(),
            Some(Requested::S3)
        ));
        let ctx = B64.encode(r#"{"app":"barman"}"#);
        match requested(&headers(&[
            (SSE, "aws:kms"),
            (KMS_KEY_ID, "arn:aws:kms:us-east-1:1234:key/my-key"),
            (KMS_CONTEXT, &ctx),
        ]))
        .unwrap()
        {
            Some(Requested::Kms { key_id, context }) => {
                assert_eq!(key_id.as_deref(), Some("my-key"));
                assert_eq!(context.get("app").map(String::as_str), Some("barman"));
            }
            other => panic!("{other:?}"),
        }
        let c = c_headers(&[9; 32]);
        let pairs: Vec<(&'static str, &str)> = c.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert!(matches!(
            requested(&headers(&pairs)).unwrap(),
            Some(Requested::C(_))
        ));
        for bad in [
            vec![(SSE, "AES128")],
            vec![(KMS_KEY_ID, "k")],
            vec![(SSE, "AES256"), (KMS_KEY_ID, "k")],
            vec![(SSE, "aws:kms"), (KMS_CONTEXT, "notbase64!")],
            vec![(C_ALGORITHM, "AES256")],
            vec![
                (C_ALGORITHM, "AES256"),
                (C_KEY, "c2hvcnQ="),
                (C_KEY_MD5, "x"),
            ],
            vec![
                (C_ALGORITHM, "AES256"),
                (C_KEY, pairs[1].1),
                (C_KEY_MD5, "AAAAAAAAAAAAAAAAAAAAAA=="),
            ],
            vec![(SSE, "AES256"), pairs[0], pairs[1], pairs[2]],
        ] {
            assert!(requested(&headers(&bad)).is_err(), "{bad:?}");
        }
        let e = requested(&headers(&[(C_ALGORITHM, "AES128"), pairs[1], pairs[2]])).unwrap_err();
        assert_eq!(e.code, "InvalidEncryptionAlgorithmError");
    }

    #[test]
    fn encryption_headers_are_recognised() {
        for name in [
            SSE,
            KMS_KEY_ID,
            KMS_CONTEXT,
            BUCKET_KEY,
            C_ALGORITHM,
            C_KEY,
            C_KEY_MD5,
        ] {
            assert!(is_encryption_header(name));
        }
        assert!(is_encryption_header(
            "x-amz-copy-source-server-side-encryption-customer-key"
        ));
        assert!(!is_encryption_header("x-amz-meta-server-side-encryption"));
    }
}
