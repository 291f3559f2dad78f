//! Server-side encryption's key management, the same for the S3 API and for admin key
//! rotation: a new object key for a write sealed the way it asks (SSE-S3, SSE-KMS,
//! SSE-C), the object key a read needs, and re-sealing under the KMS's default key.

use super::CryptoError;
use super::keys::{ObjectKey, customer_kek};
use super::kms::{Context, Kms, KmsError};
use super::record::{Kind, Stored};
use std::sync::Arc;

/// An SSE-C key as the client sent it.
#[derive(Clone)]
pub struct CustomerKey {
    pub key: [u8; 32],
    /// Base64 MD5 of the key, echoed in responses.
    pub key_md5: String,
}

impl std::fmt::Debug for CustomerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CustomerKey(md5 {})", self.key_md5)
    }
}

/// The encryption a write asks for.
#[derive(Debug, Clone)]
pub enum Requested {
    S3,
    Kms {
        key_id: Option<String>,
        context: Context,
    },
    C(CustomerKey),
}

#[derive(Debug, thiserror::Error)]
pub enum SseError {
    /// SSE-S3 or SSE-KMS (named by the string) without a KMS.
    #[error("no KMS is configured for {0}")]
    NoKms(&'static str),
    #[error("KMS key '{0}' does not exist")]
    NoSuchKmsKey(String),
    #[error("SSE-C keys are only accepted over TLS")]
    Insecure,
    #[error("the object is encrypted with a customer key that the request does not send")]
    CustomerKeyMissing,
    #[error("the customer key does not match the object's")]
    CustomerKeyMismatch,
    #[error("the request sends a customer key for an object not encrypted with one")]
    NotApplicable,
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    Kms(KmsError),
}

impl From<KmsError> for SseError {
    fn from(e: KmsError) -> Self {
        match e {
            KmsError::NoSuchKey(k) => SseError::NoSuchKmsKey(k),
            other => SseError::Kms(other),
        }
    }
}

/// The encryption a write gets, with the object key that seals its data.
pub struct Sealing {
    pub stored: Stored,
    pub key: ObjectKey,
    /// SSE-C: the client's key MD5, echoed in the answer.
    pub customer_md5: Option<String>,
}

/// An encrypted object's (or upload's) key, opened for a read or another part.
pub struct Opening {
    pub stored: Stored,
    pub key: ObjectKey,
    pub customer_md5: Option<String>,
}

/// Whether the ETag must not be the plaintext's MD5 (AWS: SSE-C and SSE-KMS).
pub fn masks_etag(stored: &Stored) -> bool {
    stored.kind != Kind::S3
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

impl Sse {
    pub fn new(kms: Option<Arc<dyn Kms>>, tls: bool) -> Self {
        Self { kms, tls }
    }

    fn kms(&self, what: &'static str) -> Result<&Arc<dyn Kms>, SseError> {
        self.kms.as_ref().ok_or(SseError::NoKms(what))
    }

    fn check_transport(&self) -> Result<(), SseError> {
        if self.tls {
            Ok(())
        } else {
            Err(SseError::Insecure)
        }
    }

    /// Checks that a KMS exists and knows `key_id` (bucket default encryption names one).
    pub fn check_kms_key(&self, key_id: Option<&str>, what: &'static str) -> Result<(), SseError> {
        let kms = self.kms(what)?;
        match key_id {
            Some(k) if !kms.has_key(k) => Err(SseError::NoSuchKmsKey(k.to_string())),
            _ => Ok(()),
        }
    }

    /// A new object key for `bucket/key`, sealed as `req` asks.
    pub async fn seal_new(
        &self,
        req: &Requested,
        bucket: &str,
        key: &str,
    ) -> Result<Sealing, SseError> {
        let object_key = ObjectKey::generate()?;
        let (kind, key_id, client_context) = match req {
            Requested::C(c) => {
                self.check_transport()?;
                let sealed = object_key.seal(&customer_kek(&c.key), bucket, key)?;
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
            .await?;
        let sealed = object_key.seal(&data_key.plaintext, bucket, key)?;
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
    ) -> Result<Opening, SseError> {
        let object_key = match (stored.kind, customer) {
            (Kind::C, None) => return Err(SseError::CustomerKeyMissing),
            (Kind::C, Some(c)) => {
                self.check_transport()?;
                ObjectKey::unseal(
                    &customer_kek(&c.key),
                    &stored.sealed_object_key,
                    bucket,
                    key,
                )
                .map_err(|_| SseError::CustomerKeyMismatch)?
            }
            (_, Some(_)) => return Err(SseError::NotApplicable),
            (_, None) => {
                let (key_id, sealed_dk) = stored.kms.as_ref().ok_or(CryptoError::Corrupt(
                    "encrypted object without its data key",
                ))?;
                let kms = self.kms("an object encrypted with a KMS key")?;
                let data_key = kms
                    .decrypt_key(
                        key_id,
                        sealed_dk,
                        &kms_context(bucket, key, &stored.context),
                    )
                    .await?;
                ObjectKey::unseal(&data_key, &stored.sealed_object_key, bucket, key)?
            }
        };
        Ok(Opening {
            stored: stored.clone(),
            key: object_key,
            customer_md5: customer.map(|c| c.key_md5.clone()),
        })
    }

    /// Re-seals an object's key under the KMS's default key (rotation): only the
    /// record changes, never the data. `None` when it already uses that key or is an
    /// SSE-C object (whose key only its client has).
    pub async fn reseal(
        &self,
        stored: &Stored,
        bucket: &str,
        key: &str,
    ) -> Result<Option<Stored>, SseError> {
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
            .await?;
        let sealed = opened.key.seal(&data_key.plaintext, bucket, key)?;
        Ok(Some(Stored {
            kms: Some((target, data_key.sealed)),
            sealed_object_key: sealed,
            ..stored.clone()
        }))
    }
}
