//! Buckets: a directory (volume) on every drive of every set, plus a small metadata
//! record `buckets/<name>.json` in each drive's system volume.
//!
//! Creating and deleting a bucket hold its lock ([`super::lock::bucket_lock`])
//! exclusively, and every commit into the bucket holds it shared: a DeleteBucket never
//! runs while a PUT, a copy, a CompleteMultipartUpload or a part is being committed, and
//! a commit that comes after it finds the bucket's directories gone on the drives and
//! fails with `NoSuchBucket`, leaving nothing behind. So an acknowledged write is either
//! in a bucket that exists, or its bucket's deletion was refused (`BucketNotEmpty`).

use super::error::{ObjectError, ObjectResult};
use super::{ObjectLayer, set::now_ms};
use crate::drive::{DriveError, DriveRef};
use bytes::Bytes;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a positive "bucket exists" answer is reused by this process; saves a stat
/// on every drive for every PUT, at the cost of a short window after a delete.
const CACHE_TTL: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BucketMeta {
    pub name: String,
    pub created_ms: i64,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub object_lock: bool,
    /// When the record last changed (0 for records never changed since creation): of
    /// the records the drives hold, the newest wins.
    #[serde(default)]
    pub updated_ms: i64,
    /// The bucket's sub-resource configurations by name (`policy`, `acl`, ...), each in
    /// the form its API layer stores (the S3 layer's JSON or XML); absent when unset.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct BucketCache {
    seen: Mutex<HashMap<String, Instant>>,
}

impl BucketCache {
    fn fresh(&self, name: &str) -> bool {
        self.seen
            .lock()
            .ok()
            .and_then(|m| m.get(name).map(|t| t.elapsed() < CACHE_TTL))
            .unwrap_or(false)
    }

    fn remember(&self, name: &str) {
        if let Ok(mut m) = self.seen.lock() {
            if m.len() > 10_000 {
                m.clear();
            }
            m.insert(name.to_string(), Instant::now());
        }
    }

    fn forget(&self, name: &str) {
        if let Ok(mut m) = self.seen.lock() {
            m.remove(name);
        }
    }
}

/// S3's bucket naming rules (the current, strict ones).
pub fn validate_bucket_name(name: &str) -> Result<(), ObjectError> {
    let bad = |why: &str| Err(ObjectError::InvalidBucketName(format!("{name:?}: {why}")));
    if name.len() < 3 || name.len() > 63 {
        return bad("bucket names must be between 3 and 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return bad("only lowercase letters, digits, '.' and '-' are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !(first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric()) {
        return bad("bucket names must begin and end with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return bad("adjacent periods or period-hyphen pairs are not allowed");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return bad("bucket names must not be formatted as an IP address");
    }
    if name.starts_with("xn--") || name.ends_with("-s3alias") {
        return bad("reserved prefix or suffix");
    }
    Ok(())
}

/// Path of a bucket's record in every drive's system volume (the heal layer copies it).
pub fn meta_path(name: &str) -> String {
    format!("buckets/{name}.json")
}

impl ObjectLayer {
    /// Holds `name`'s bucket lock exclusively (creation and deletion).
    async fn lock_bucket(&self, name: &str) -> ObjectResult<super::lock::Guard> {
        let set = self
            .sets()
            .next()
            .ok_or_else(|| ObjectError::Internal("no sets".into()))?;
        set.locks.write(&super::lock::bucket_lock(name)).await
    }

    fn all_drives(&self) -> Vec<(usize, DriveRef)> {
        self.sets()
            .enumerate()
            .flat_map(|(i, s)| s.drives.iter().map(move |d| (i, d.clone())))
            .collect()
    }

    /// Checks that every set reached write quorum for a bucket-wide change.
    fn check_each_set<T>(&self, results: &[(usize, Result<T, DriveError>)]) -> ObjectResult<()> {
        for (i, set) in self.sets().enumerate() {
            let ok = results.iter().filter(|(s, r)| *s == i && r.is_ok()).count();
            if ok < set.write_quorum() {
                return Err(ObjectError::WriteQuorum {
                    have: ok,
                    total: set.drives.len(),
                    need: set.write_quorum(),
                });
            }
        }
        Ok(())
    }

    pub async fn make_bucket(&self, name: &str, meta: BucketMeta) -> ObjectResult<()> {
        validate_bucket_name(name)?;
        let _guard = self.lock_bucket(name).await?;
        let drives = self.all_drives();
        let made = join_all(
            drives
                .iter()
                .map(|(i, d)| async move { (*i, d.make_volume(name).await) }),
        )
        .await;
        let exists = made
            .iter()
            .filter(|(_, r)| matches!(r, Err(DriveError::VolumeExists)))
            .count();
        if exists * 2 > drives.len() {
            // Heal drives that missed the bucket, then report it as already there.
            return Err(ObjectError::BucketExists);
        }
        let record = Bytes::from(
            serde_json::to_vec(&BucketMeta {
                created_ms: now_ms(),
                ..meta
            })
            .map_err(|e| ObjectError::Internal(e.to_string()))?,
        );
        let path = meta_path(name);
        let written = join_all(drives.iter().zip(made.iter()).map(|((i, d), (_, r))| {
            let (path, record) = (path.clone(), record.clone());
            async move {
                let r = match r {
                    Ok(()) | Err(DriveError::VolumeExists) => d.write_sys_file(&path, record).await,
                    Err(e) => Err(DriveError::Io(e.to_string())),
                };
                (*i, r)
            }
        }))
        .await;
        if let Err(e) = self.check_each_set(&written) {
            // Undo what we created so a retry starts clean.
            join_all(drives.iter().map(|(_, d)| d.delete_volume(name))).await;
            return Err(e);
        }
        self.bucket_cache.remember(name);
        Ok(())
    }

    /// Reads the bucket record agreed by the drives, or `NoSuchBucket`.
    pub async fn bucket_meta(&self, name: &str) -> ObjectResult<BucketMeta> {
        validate_bucket_name(name).map_err(|_| ObjectError::NoSuchBucket)?;
        let set = self
            .sets()
            .next()
            .ok_or_else(|| ObjectError::Internal("no sets".into()))?;
        let path = meta_path(name);
        let results = join_all(set.drives.iter().map(|d| {
            let path = path.clone();
            async move {
                match d.stat_volume(name).await {
                    Ok(()) => d.read_sys_file(&path).await,
                    Err(e) => Err(e),
                }
            }
        }))
        .await;
        let mut found = Vec::new();
        let mut offline = 0;
        for r in results {
            match r {
                Ok(b) => {
                    if let Ok(m) = serde_json::from_slice::<BucketMeta>(&b) {
                        found.push(m);
                    }
                }
                Err(e) if e.is_not_found() => {}
                Err(_) => offline += 1,
            }
        }
        let need = set.geometry.read_quorum();
        if found.len() >= need {
            // The first creation, in its latest change.
            found.sort_by_key(|m| (m.created_ms, std::cmp::Reverse(m.updated_ms)));
            return found.into_iter().next().ok_or(ObjectError::NoSuchBucket);
        }
        if set.drives.len() - offline < need {
            return Err(ObjectError::ReadQuorum {
                have: set.drives.len() - offline,
                total: set.drives.len(),
                need,
            });
        }
        Err(ObjectError::NoSuchBucket)
    }

    /// Sets (`Some`) or removes (`None`) one configuration of a bucket on every drive,
    /// under the bucket's configuration lock; returns the record as written. Fails
    /// without a write quorum in every set.
    pub async fn set_bucket_config(
        &self,
        name: &str,
        kind: &str,
        value: Option<String>,
    ) -> ObjectResult<BucketMeta> {
        let set = self
            .sets()
            .next()
            .ok_or_else(|| ObjectError::Internal("no sets".into()))?;
        let _guard = set.locks.write(&format!("bucket-config/{name}")).await?;
        let mut meta = self.bucket_meta(name).await?;
        match value {
            Some(v) => meta.config.insert(kind.to_string(), v),
            None => meta.config.remove(kind),
        };
        meta.updated_ms = now_ms().max(meta.updated_ms + 1);
        let record = Bytes::from(
            serde_json::to_vec(&meta).map_err(|e| ObjectError::Internal(e.to_string()))?,
        );
        let path = meta_path(name);
        let drives = self.all_drives();
        let written = join_all(drives.iter().map(|(i, d)| {
            let (path, record) = (path.clone(), record.clone());
            async move {
                let r = match d.stat_volume(name).await {
                    Ok(()) => d.write_sys_file(&path, record).await,
                    Err(e) => Err(e),
                };
                (*i, r)
            }
        }))
        .await;
        self.check_each_set(&written)?;
        if kind == super::versioning::VERSIONING_CONFIG {
            self.versioning_cache.forget(name);
        }
        Ok(meta)
    }

    pub async fn require_bucket(&self, name: &str) -> ObjectResult<()> {
        if self.bucket_cache.fresh(name) {
            return Ok(());
        }
        self.bucket_meta(name).await?;
        self.bucket_cache.remember(name);
        Ok(())
    }

    pub async fn list_buckets(&self) -> ObjectResult<Vec<BucketMeta>> {
        let set = self
            .sets()
            .next()
            .ok_or_else(|| ObjectError::Internal("no sets".into()))?;
        let listed = join_all(set.drives.iter().map(|d| d.list_sys_dir("buckets"))).await;
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut answered = 0;
        for names in listed.into_iter() {
            match names {
                Ok(names) => {
                    answered += 1;
                    for n in names {
                        if let Some(b) = n.strip_suffix(".json") {
                            *counts.entry(b.to_string()).or_default() += 1;
                        }
                    }
                }
                Err(e) if e.is_not_found() => answered += 1,
                Err(_) => {}
            }
        }
        let need = set.geometry.read_quorum();
        if answered < need {
            return Err(ObjectError::ReadQuorum {
                have: answered,
                total: set.drives.len(),
                need,
            });
        }
        let mut names: Vec<String> = counts
            .into_iter()
            .filter(|(_, c)| *c >= need)
            .map(|(n, _)| n)
            .collect();
        names.sort();
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            match self.bucket_meta(&n).await {
                Ok(m) => out.push(m),
                Err(ObjectError::NoSuchBucket) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    pub async fn delete_bucket(&self, name: &str) -> ObjectResult<()> {
        validate_bucket_name(name).map_err(|_| ObjectError::NoSuchBucket)?;
        // Exclusive with every commit into the bucket, which re-checks the bucket's
        // directories on the drives under the shared lock (see the module documentation).
        let _guard = self.lock_bucket(name).await?;
        self.bucket_meta(name).await?;
        let drives = self.all_drives();
        let results = join_all(
            drives
                .iter()
                .map(|(i, d)| async move { (*i, d.delete_volume(name).await) }),
        )
        .await;
        if results
            .iter()
            .any(|(_, r)| matches!(r, Err(DriveError::VolumeNotEmpty)))
        {
            // Put back the volumes we removed so the bucket stays whole.
            join_all(
                drives
                    .iter()
                    .zip(&results)
                    .filter(|(_, (_, r))| r.is_ok())
                    .map(|((_, d), _)| d.make_volume(name)),
            )
            .await;
            return Err(ObjectError::BucketNotEmpty);
        }
        let ok: Vec<(usize, Result<(), DriveError>)> = results
            .into_iter()
            .map(|(i, r)| {
                (
                    i,
                    r.or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) }),
                )
            })
            .collect();
        self.check_each_set(&ok)?;
        let path = meta_path(name);
        join_all(drives.iter().map(|(_, d)| d.delete_sys_path(&path))).await;
        let uploads = format!("multipart/{name}");
        join_all(drives.iter().map(|(_, d)| d.delete_sys_path(&uploads))).await;
        self.bucket_cache.forget(name);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_follow_s3_rules() {
        for ok in ["abc", "synapse-media", "postgresql-backups", "a.b-c", "123"] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "ABC",
            "a_b",
            "-abc",
            "abc-",
            "a..b",
            "192.168.1.1",
            &"a".repeat(64),
            "xn--abc",
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}
