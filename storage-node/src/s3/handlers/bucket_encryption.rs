//! Bucket default encryption (Put/Get/DeleteBucketEncryption): a
//! `ServerSideEncryptionConfiguration` with one rule, SSE-S3 (`AES256`) or SSE-KMS
//! (`aws:kms`, optionally naming a key), kept in the bucket's configuration record
//! [`ENCRYPTION_CONFIG`] and applied to every write that names no encryption itself.

use super::super::error::{S3Error, S3Result};
use super::super::sse::request::{self, Requested};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use crate::crypto::kms::Context;
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

/// Name of a bucket's default encryption in its configuration record.
pub const ENCRYPTION_CONFIG: &str = "encryption";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultEncryption {
    /// `AES256` or `aws:kms`.
    pub algorithm: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl DefaultEncryption {
    pub fn from_stored(s: Option<&String>) -> Option<Self> {
        s.and_then(|s| serde_json::from_str(s).ok())
    }

    fn requested(&self) -> Requested {
        match self.algorithm.as_str() {
            "aws:kms" => Requested::Kms {
                key_id: self.kms_key_id.clone(),
                context: Context::new(),
            },
            _ => Requested::S3,
        }
    }

    fn parse_xml(body: &[u8]) -> S3Result<Self> {
        #[derive(Deserialize)]
        struct XConfig {
            #[serde(rename = "Rule", default)]
            rules: Vec<XRule>,
        }
        #[derive(Deserialize)]
        struct XRule {
            #[serde(rename = "ApplyServerSideEncryptionByDefault")]
            default: Option<XDefault>,
        }
        #[derive(Deserialize)]
        struct XDefault {
            #[serde(rename = "SSEAlgorithm")]
            algorithm: String,
            #[serde(rename = "KMSMasterKeyID")]
            key: Option<String>,
        }
        let doc: XConfig = xml::parse(body)?;
        let [rule] = doc.rules.as_slice() else {
            return Err(S3Error::malformed_xml());
        };
        let d = rule.default.as_ref().ok_or_else(S3Error::malformed_xml)?;
        let key = d.key.as_deref().map(str::trim).filter(|k| !k.is_empty());
        match (d.algorithm.as_str(), key) {
            ("AES256", None) => Ok(Self {
                algorithm: "AES256".into(),
                kms_key_id: None,
            }),
            ("AES256", Some(_)) => Err(S3Error::invalid_argument(
                "KMSMasterKeyID is only allowed with SSEAlgorithm aws:kms",
            )),
            ("aws:kms", k) => Ok(Self {
                algorithm: "aws:kms".into(),
                kms_key_id: k.map(request::kms_key_name),
            }),
            _ => Err(S3Error::malformed_xml()),
        }
    }

    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("ServerSideEncryptionConfiguration");
        w.open("Rule")
            .open("ApplyServerSideEncryptionByDefault")
            .elem("SSEAlgorithm", &self.algorithm);
        if let Some(k) = &self.kms_key_id {
            w.elem("KMSMasterKeyID", &format!("arn:aws:kms:{k}"));
        }
        w.close("ApplyServerSideEncryptionByDefault")
            .elem("BucketKeyEnabled", "false")
            .close("Rule");
        w.finish("ServerSideEncryptionConfiguration")
    }
}

/// The encryption a write to `bucket` gets: what its headers ask for, else the bucket's
/// default, else none.
pub async fn for_write(
    s: &S3Service,
    req: &S3Request,
    bucket: &str,
) -> S3Result<Option<Requested>> {
    if let Some(r) = request::requested(&req.headers)? {
        return Ok(Some(r));
    }
    Ok(s.policies
        .auth(s, bucket)
        .await
        .default_encryption
        .as_ref()
        .map(|d| d.requested()))
}

pub async fn get(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    match DefaultEncryption::from_stored(meta.config.get(ENCRYPTION_CONFIG)) {
        Some(c) => Ok(xml_response(StatusCode::OK, c.to_xml())),
        None => Err(S3Error::new(
            "ServerSideEncryptionConfigurationNotFoundError",
            StatusCode::NOT_FOUND,
            "The server side encryption configuration was not found",
        )
        .with("BucketName", bucket)),
    }
}

pub async fn put(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let config = DefaultEncryption::parse_xml(&body)?;
    // A default the server could not apply would fail every later write: refuse it now.
    s.sse.check_kms_key(
        config.kms_key_id.as_deref(),
        "a bucket encryption configuration",
    )?;
    let stored = serde_json::to_string(&config)
        .map_err(|e| S3Error::internal(format!("cannot store the encryption rule: {e}")))?;
    s.set_bucket_config(&bucket, ENCRYPTION_CONFIG, Some(stored))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn delete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    s.set_bucket_config(&bucket, ENCRYPTION_CONFIG, None)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_parse_and_bad_ones_are_refused() {
        let sse_s3 = br#"<ServerSideEncryptionConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"#;
        let c = DefaultEncryption::parse_xml(sse_s3).unwrap();
        assert_eq!(c.algorithm, "AES256");
        assert_eq!(
            DefaultEncryption::parse_xml(c.to_xml().as_bytes()).unwrap(),
            c
        );
        let kms = br#"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>aws:kms</SSEAlgorithm><KMSMasterKeyID>arn:aws:kms:my-key</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>"#;
        let c = DefaultEncryption::parse_xml(kms).unwrap();
        assert_eq!(c.kms_key_id.as_deref(), Some("my-key"));
        assert_eq!(
            DefaultEncryption::parse_xml(c.to_xml().as_bytes()).unwrap(),
            c
        );
        for bad in [
            &b"<ServerSideEncryptionConfiguration></ServerSideEncryptionConfiguration>"[..],
            b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES128</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
            b"<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm><KMSMasterKeyID>k</KMSMasterKeyID></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>",
            b"not xml",
        ] {
            assert!(DefaultEncryption::parse_xml(bad).is_err());
        }
    }
}
