//! The built-in KMS: master keys given in the configuration as MinIO's
//! `MINIO_KMS_SECRET_KEY=<key-name>:<base64 of 32 bytes>` (or `CAIRN_KMS_SECRET_KEY`).
//! Cairn accepts a comma-separated list so that keys can be rotated: the first key is
//! the default for new objects, the others still open what they sealed until
//! `cairn admin kms reseal` has moved every object key to the default.

use super::{Context, DataKey, Kms, KmsError, KmsStatus, context_bytes};
use crate::crypto::keys::{Secret, seal, unseal};
use base64::Engine;

#[derive(Debug, thiserror::Error)]
pub enum StaticKeyError {
    #[error("KMS secret key must be '<key-name>:<base64 of 32 bytes>', got an entry without ':'")]
    Format,
    #[error(
        "KMS key name '{0}' is empty or has characters other than letters, digits, '-', '_' and '.'"
    )]
    Name(String),
    #[error("KMS key '{0}' is not base64 of exactly 32 bytes")]
    Key(String),
    #[error("KMS key '{0}' is given twice")]
    Duplicate(String),
}

#[derive(Debug)]
pub struct StaticKms {
    /// (name, key); the first is the default.
    keys: Vec<(String, Secret)>,
}

impl StaticKms {
    /// Parses the setting's value.
    pub fn parse(value: &str) -> Result<Self, StaticKeyError> {
        let mut keys: Vec<(String, Secret)> = Vec::new();
        for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, b64) = entry.split_once(':').ok_or(StaticKeyError::Format)?;
            let name = name.trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            {
                return Err(StaticKeyError::Name(name.to_string()));
            }
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| StaticKeyError::Key(name.to_string()))?;
            let key: [u8; 32] = raw
                .try_into()
                .map_err(|_| StaticKeyError::Key(name.to_string()))?;
            if keys.iter().any(|(n, _)| n == name) {
                return Err(StaticKeyError::Duplicate(name.to_string()));
            }
            keys.push((name.to_string(), Secret(key)));
        }
        if keys.is_empty() {
            return Err(StaticKeyError::Format);
        }
        Ok(Self { keys })
    }

    fn key(&self, id: &str) -> Result<&Secret, KmsError> {
        self.keys
            .iter()
            .find(|(n, _)| n == id)
            .map(|(_, k)| k)
            .ok_or_else(|| KmsError::NoSuchKey(id.to_string()))
    }
}

/// The AAD of a data key: the key's name and the context, so a data key sealed for one
/// object or under one key name does not open for another.
fn aad(key_id: &str, context: &Context) -> Vec<u8> {
    let mut a = format!("cairn-static-kms\0{key_id}\0").into_bytes();
    a.extend_from_slice(&context_bytes(context));
    a
}

#[async_trait::async_trait]
impl Kms for StaticKms {
    fn default_key(&self) -> &str {
        self.keys
            .first()
            .map(|(n, _)| n.as_str())
            .unwrap_or_default()
    }

    fn has_key(&self, key_id: &str) -> bool {
        self.key(key_id).is_ok()
    }

    async fn generate_key(&self, key_id: &str, context: &Context) -> Result<DataKey, KmsError> {
        let master = self.key(key_id)?;
        let plaintext =
            Secret(crate::crypto::random().map_err(|e| KmsError::Internal(e.to_string()))?);
        let sealed = seal(master, &plaintext, &aad(key_id, context))
            .map_err(|e| KmsError::Internal(e.to_string()))?;
        Ok(DataKey { plaintext, sealed })
    }

    async fn decrypt_key(
        &self,
        key_id: &str,
        sealed: &str,
        context: &Context,
    ) -> Result<Secret, KmsError> {
        let master = self.key(key_id)?;
        unseal(master, sealed, &aad(key_id, context))
            .map_err(|_| KmsError::Unseal(key_id.to_string()))
    }

    async fn status(&self) -> KmsStatus {
        KmsStatus {
            name: "static".into(),
            default_key: self.default_key().to_string(),
            keys: self.keys.iter().map(|(n, _)| n.clone()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "my-key:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=";
    const K2: &str = "new-key:bmV3MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXY=";

    #[tokio::test]
    async fn data_keys_open_with_their_key_and_context_only() {
        let kms = StaticKms::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(kms.default_key(), "new-key");
        let ctx = Context::from([("bucket".into(), "b/k".into())]);
        let dk = kms.generate_key("my-key", &ctx).await.unwrap();
        let back = kms.decrypt_key("my-key", &dk.sealed, &ctx).await.unwrap();
        assert_eq!(back.0, dk.plaintext.0);
        assert!(kms.decrypt_key("new-key", &dk.sealed, &ctx).await.is_err());
        let other = Context::from([("bucket".into(), "b/other".into())]);
        assert!(kms.decrypt_key("my-key", &dk.sealed, &other).await.is_err());
        assert!(matches!(
            kms.generate_key("nope", &ctx).await,
            Err(KmsError::NoSuchKey(_))
        ));
    }

    #[test]
    fn bad_settings_are_refused_with_the_reason() {
        assert!(StaticKms::parse("nokey").is_err());
        assert!(matches!(
            StaticKms::parse("k:c2hvcnQ="),
            Err(StaticKeyError::Key(_))
        ));
        assert!(matches!(
            StaticKms::parse(&format!("{K1},{K1}")),
            Err(StaticKeyError::Duplicate(_))
        ));
        assert!(matches!(
            StaticKms::parse("bad name:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE="),
            Err(StaticKeyError::Name(_))
        ));
        assert!(StaticKms::parse(K1).is_ok());
    }
}
