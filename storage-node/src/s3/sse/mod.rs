//! Server-side encryption at the S3 layer: which encryption a write gets (its headers,
//! else the bucket's default), the object key that seals it, the key a read needs
//! (SSE-C: the client's key again), and the headers that answer.
//!
//! Bodies are sealed here before the object layer stores them and opened here after it
//! reads them ([`body`]); the object layer, erasure coding and healing see ciphertext.

pub mod body;
pub mod request;
pub mod stored;

use super::error::S3Error;
use crate::crypto::CryptoError;
use crate::crypto::keys::{ObjectKey, customer_kek};
use crate::crypto::kms::{Context, Kms, KmsError};
use http::{HeaderMap, HeaderValue, StatusCode};
use request::{CustomerKey, Requested};
use std::sync::Arc;
use stored::{Kind, Stored};

/// The encryption a write gets, with the object key that seals its data.
pub struct Sealing {
    pub stored: Stored,
    pub key: ObjectKey,
    /// SSE-C: the client's key MD5, echoed in the answer.
    pub customer_md5: Option<String>,
}

impl Sealing {
    /// Whether the ETag must not be the plaintext's MD5 (AWS: SSE-C and SSE-KMS).
    pub fn masks_etag(&self) -> bool {
        self.stored.kind != Kind::S3
    }
}

/// What an encrypted object's read needs.
pub struct Opening {
    pub stored: Stored,
    pub key: ObjectKey,
    pub customer_md5: Option<String>,
}

impl Opening {
    pub fn masks_etag(&self) -> bool {
        self.stored.kind != Kind::S3
    }
}

/// The server's encryption settings: its KMS (none configured: SSE-S3 and SSE-KMS are
/// refused) and whether requests arrive over TLS (SSE-C requires it, as AWS does).
#[derive(Debug, Clone, Default)]
pub struct Sse {
    pub kms: Option<Arc<dyn Kms>>,
    pub tls: bool,
}

/// The KMS context of an object's data key: the object it belongs to (as MinIO binds
/// it), plus an SSE-KMS client's own context.
fn kms_context(bucket: &str, key: &str, client: &Context) -> Context {
    let mut c = client.clone();
    c.insert("bucket".into(), format!("{bucket}/{key}"));
    c
}

fn crypto_error(e: CryptoError) -> S3Error {
    S3Error::internal(e.to_string())
}

fn kms_error(e: KmsError) -> S3Error {
    match e {
        KmsError::NoSuchKey(k) => S3Error::new(
            "KMS.NotFoundException",
            StatusCode::BAD_REQUEST,
            format!("Invalid keyId: KMS key '{k}' does not exist"),
        ),
        other => S3Error::internal(other.to_string()),
    }
}

/// Wrong or missing SSE-C key on an SSE-C object.
fn customer_key_mismatch() -> S3Error {
    S3Error::new(
        "AccessDenied",
        StatusCode::FORBIDDEN,
        "The provided SSE-C key does not match the key the object was encrypted with",
    )
}

impl Sse {
    pub fn new(kms: Option<Arc<dyn Kms>>, tls: bool) -> Self {
        Self { kms, tls }
    }

    fn kms(&self, what: &str) -> Result<&Arc<dyn Kms>, S3Error> {
        self.kms
            .as_ref()
            .ok_or_else(|| request::kms_not_configured(what))
    }

    /// SSE-C keys travel in the clear inside the request: only over TLS.
    pub fn check_customer_transport(&self, key: Option<&CustomerKey>) -> Result<(), S3Error> {
        if key.is_some() && !self.tls {
            return Err(S3Error::invalid_request(
                "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
            ));
        }
        Ok(())
    }

    /// Checks that a KMS key exists (bucket default encryption names one).
    pub fn check_kms_key(&self, key_id: Option<&str>, what: &str) -> Result<(), S3Error> {
        let kms = self.kms(what)?;
        match key_id {
            Some(k) if !kms.has_key(k) => Err(kms_error(KmsError::NoSuchKey(k.to_string()))),
            _ => Ok(()),
        }
    }

    /// A new object key for `bucket/key`, sealed as `req` asks.
    pub async fn seal_new(
        &self,
        req: &Requested,
        bucket: &str,
        key: &str,
    ) -> Result<Sealing, S3Error> {
        let object_key = ObjectKey::generate().map_err(crypto_error)?;
        let (kind, key_id, client_context) = match req {
            Requested::C(c) => {
                self.check_customer_transport(Some(c))?;
                let sealed = object_key
                    .seal(&customer_kek(&c.key), bucket, key)
                    .map_err(crypto_error)?;
                return Ok(Sealing {
                    stored: Stored {
                        kind: Kind::C,
                        kms: None,
                        context: Context::new(),
                        sealed_object_key: sealed,
                    },
                    key: object_key,
                    customer_md5: Some(c.key_md5.clone()),
                });
            }
            Requested::S3 => (Kind::S3, None, Context::new()),
            Requested::Kms { key_id, context } => (Kind::Kms, key_id.clone(), context.clone()),
        };
        let kms = self.kms(match kind {
            Kind::S3 => "x-amz-server-side-encryption: AES256",
            _ => "x-amz-server-side-encryption: aws:kms",
        })?;
        let key_id = key_id.unwrap_or_else(|| kms.default_key().to_string());
        let data_key = kms
            .generate_key(&key_id, &kms_context(bucket, key, &client_context))
            .await
            .map_err(kms_error)?;
        let sealed = object_key
            .seal(&data_key.plaintext, bucket, key)
            .map_err(crypto_error)?;
        Ok(Sealing {
            stored: Stored {
                kind,
                kms: Some((key_id, data_key.sealed)),
                context: client_context,
                sealed_object_key: sealed,
            },
            key: object_key,
            customer_md5: None,
        })
    }

    /// The object key of an encrypted object (or upload) `bucket/key`; SSE-C needs the
    /// client's key, `customer`.
    pub async fn open(
        &self,
        stored: &Stored,
        customer: Option<&CustomerKey>,
        bucket: &str,
        key: &str,
    ) -> Result<Opening, S3Error> {
        let object_key = match (stored.kind, customer) {
            (Kind::C, None) => {
                return Err(S3Error::invalid_request(
                    "The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.",
                ));
            }
            (Kind::C, Some(c)) => {
                self.check_customer_transport(Some(c))?;
                ObjectKey::unseal(
                    &customer_kek(&c.key),
                    &stored.sealed_object_key,
                    bucket,
                    key,
                )
                .map_err(|_| customer_key_mismatch())?
            }
            (_, Some(_)) => {
                return Err(S3Error::invalid_request(
                    "The encryption parameters are not applicable to this object.",
                ));
            }
            (_, None) => {
                let (key_id, sealed_dk) = stored
                    .kms
                    .as_ref()
                    .ok_or_else(|| S3Error::internal("encrypted object without its data key"))?;
                let kms = self.kms("an object encrypted with a KMS key")?;
                let data_key = kms
                    .decrypt_key(
                        key_id,
                        sealed_dk,
                        &kms_context(bucket, key, &stored.context),
                    )
                    .await
                    .map_err(kms_error)?;
                ObjectKey::unseal(&data_key, &stored.sealed_object_key, bucket, key)
                    .map_err(crypto_error)?
            }
        };
        Ok(Opening {
            stored: stored.clone(),
            key: object_key,
            customer_md5: customer.map(|c| c.key_md5.clone()),
        })
    }

    /// Re-seals an object's key under the KMS's default key (rotation): only the
    /// record changes. `None` when it already uses that key or is not KMS-sealed.
    pub async fn reseal(
        &self,
        stored: &Stored,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Stored>, S3Error> {
        let kms = self.kms("key rotation")?;
        let Some((key_id, _)) = &stored.kms else {
            return Ok(None);
        };
        let target = kms.default_key().to_string();
        if *key_id == target {
            return Ok(None);
        }
        let opened = self.open(stored, None, bucket, key).await?;
        let data_key = kms
            .generate_key(&target, &kms_context(bucket, key, &stored.context))
            .await
            .map_err(kms_error)?;
        let sealed = opened
            .key
            .seal(&data_key.plaintext, bucket, key)
            .map_err(crypto_error)?;
        Ok(Some(Stored {
            kms: Some((target, data_key.sealed)),
            sealed_object_key: sealed,
            ..stored.clone()
        }))
    }
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
