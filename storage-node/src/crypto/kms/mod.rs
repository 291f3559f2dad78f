//! The KMS: who holds the master keys that seal object keys. One trait, so that an
//! external KMS (KES, Vault transit) can be added as another implementation without
//! the object or S3 layers changing; the built-in one is a static key from the
//! configuration ([`static_key`]), as MinIO's `MINIO_KMS_SECRET_KEY`.

pub mod static_key;

use super::keys::Secret;
use std::collections::BTreeMap;

/// The encryption context a data key is bound to: opening it needs the same context.
pub type Context = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    #[error("KMS key '{0}' does not exist")]
    NoSuchKey(String),
    #[error("the data key does not open with KMS key '{0}' and this context")]
    Unseal(String),
    #[error("KMS: {0}")]
    Internal(String),
}

/// A fresh data key: its plaintext for this request, its sealed form for the metadata.
pub struct DataKey {
    pub plaintext: Secret,
    pub sealed: String,
}

/// What `cairn admin kms status` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KmsStatus {
    /// Implementation name, e.g. `static`.
    pub name: String,
    pub default_key: String,
    pub keys: Vec<String>,
}

#[async_trait::async_trait]
pub trait Kms: Send + Sync + std::fmt::Debug {
    /// The key SSE-S3 and SSE-KMS requests without a key id use.
    fn default_key(&self) -> &str;
    fn has_key(&self, key_id: &str) -> bool;
    /// Generates a data key sealed by `key_id`, bound to `context`.
    async fn generate_key(&self, key_id: &str, context: &Context) -> Result<DataKey, KmsError>;
    /// Opens a data key [`generate_key`](Kms::generate_key) sealed.
    async fn decrypt_key(
        &self,
        key_id: &str,
        sealed: &str,
        context: &Context,
    ) -> Result<Secret, KmsError>;
    async fn status(&self) -> KmsStatus;
}

/// The context serialised the same way every time (sorted keys), as AAD.
pub fn context_bytes(context: &Context) -> Vec<u8> {
    serde_json::to_vec(context).unwrap_or_default()
}
