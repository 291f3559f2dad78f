//! A bucket's versioning state (S3's `PutBucketVersioning`): what it is, where it is
//! stored (the bucket record's `versioning` configuration) and a short-lived cache of
//! it, since every write and delete needs it.
//!
//! S3's rules: a bucket starts unversioned; once enabled it can only be suspended, never
//! made unversioned again. Unversioned buckets overwrite and delete keys; enabled ones
//! keep every version and put delete markers on top; suspended ones write and delete the
//! `null` version only, keeping older versions.

use super::ObjectLayer;
use super::error::{ObjectError, ObjectResult};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the configuration in [`super::bucket::BucketMeta::config`].
pub const VERSIONING_CONFIG: &str = "versioning";

/// How long this process reuses a bucket's versioning state it read. A change through
/// this server is seen at once (the entry is forgotten); through another server within
/// this time (S3 itself documents a delay before a change applies everywhere).
const CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    /// S3's `Status` value; `None` for a bucket never versioned.
    pub fn status(self) -> Option<&'static str> {
        match self {
            Versioning::Unversioned => None,
            Versioning::Enabled => Some("Enabled"),
            Versioning::Suspended => Some("Suspended"),
        }
    }

    /// From the stored configuration (absent or unknown: unversioned).
    pub fn from_stored(v: Option<&str>) -> Self {
        match v {
            Some("Enabled") => Versioning::Enabled,
            Some("Suspended") => Versioning::Suspended,
            _ => Versioning::Unversioned,
        }
    }
}

/// A version id S3 can have issued: `null` or one of ours (a UUID). Anything else is
/// malformed (S3's 400 InvalidArgument), not merely unknown.
pub fn validate_version_id(id: &str) -> ObjectResult<()> {
    if id == super::meta::NULL_VERSION || uuid::Uuid::parse_str(id).is_ok() {
        Ok(())
    } else {
        Err(ObjectError::InvalidVersionId)
    }
}

#[derive(Debug, Default)]
pub struct VersioningCache {
    seen: Mutex<HashMap<String, (Instant, Versioning)>>,
}

impl VersioningCache {
    fn get(&self, bucket: &str) -> Option<Versioning> {
        let m = self.seen.lock().ok()?;
        m.get(bucket)
            .filter(|(at, _)| at.elapsed() < CACHE_TTL)
            .map(|(_, v)| *v)
    }

    fn put(&self, bucket: &str, v: Versioning) {
        if let Ok(mut m) = self.seen.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(bucket.to_string(), (Instant::now(), v));
        }
    }

    pub fn forget(&self, bucket: &str) {
        if let Ok(mut m) = self.seen.lock() {
            m.remove(bucket);
        }
    }
}

impl ObjectLayer {
    /// The versioning state of `bucket` (`NoSuchBucket` when it does not exist).
    pub async fn versioning(&self, bucket: &str) -> ObjectResult<Versioning> {
        if let Some(v) = self.versioning_cache.get(bucket) {
            return Ok(v);
        }
        let meta = self.bucket_meta(bucket).await?;
        let v = Versioning::from_stored(meta.config.get(VERSIONING_CONFIG).map(String::as_str));
        self.versioning_cache.put(bucket, v);
        Ok(v)
    }

    /// Sets the versioning state of `bucket`; a bucket cannot go back to unversioned.
    pub async fn set_versioning(&self, bucket: &str, v: Versioning) -> ObjectResult<()> {
        let Some(status) = v.status() else {
            return Err(ObjectError::Internal(
                "a bucket cannot be made unversioned".into(),
            ));
        };
        self.set_bucket_config(bucket, VERSIONING_CONFIG, Some(status.to_string()))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_ids_are_null_or_uuids() {
        assert!(validate_version_id("null").is_ok());
        assert!(validate_version_id("6f1c2a52-3c1e-4b7e-9a55-0d5b8c2e1f00").is_ok());
        for bad in ["", "NULL", "abc", "6f1c2a52-3c1e-4b7e-9a55"] {
            assert!(matches!(
                validate_version_id(bad),
                Err(ObjectError::InvalidVersionId)
            ));
        }
    }

    #[test]
    fn stored_states() {
        assert_eq!(Versioning::from_stored(None), Versioning::Unversioned);
        assert_eq!(
            Versioning::from_stored(Some("Enabled")),
            Versioning::Enabled
        );
        assert_eq!(
            Versioning::from_stored(Some("Suspended")).status(),
            Some("Suspended")
        );
    }
}
