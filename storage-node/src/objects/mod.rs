//! Layer 4: the object layer. Buckets, objects, listings and multipart uploads over
//! pools of erasure sets. It routes each object to one set by a hash of its key and
//! knows drives only through the [`crate::drive::Drive`] trait.

pub mod bucket;
pub mod error;
pub mod ingest;
pub mod list;
pub mod list_versions;
pub mod lock;
pub mod meta;
pub mod multipart;
pub mod placement;
pub mod read;
pub mod retention;
pub mod set;
pub mod system;
#[cfg(test)]
pub(crate) mod test_support;
pub mod upload_list;
pub mod versioning;

pub use error::{ObjectError, ObjectResult};
pub use ingest::{BodyStream, DigestSlot, Digests};

use crate::drive::DriveRef;
use crate::erasure::Geometry;
use crate::heal::mrf::MrfQueue;
use lock::NsLock;
use meta::ObjectMeta;
use set::ErasureSet;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Counters exported as metrics and through the admin API.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Blocks that were rebuilt from parity while reading.
    pub repaired_blocks: AtomicU64,
    /// Objects the heal layer looked at (scanner, MRF, drive rebuild, admin heal).
    pub heal_objects_scanned: AtomicU64,
    /// Objects of which at least one drive was rewritten or a dangling copy removed.
    pub heal_objects_healed: AtomicU64,
    /// Objects whose heal failed (too few good shards, a drive error while writing).
    pub heal_objects_failed: AtomicU64,
    /// Drives being rebuilt right now (a gauge).
    pub heal_drives_healing: AtomicU64,
    /// Lifecycle worker (`crate::lifecycle::worker`): passes completed over the buckets
    /// this server is responsible for.
    pub lifecycle_passes: AtomicU64,
    /// When the last pass ended (ms since the epoch; 0 before the first).
    pub lifecycle_last_pass_ms: AtomicU64,
    /// A pass is running now (a gauge, 0 or 1).
    pub lifecycle_running: AtomicU64,
    /// Current versions expired (removed, or hidden under a delete marker).
    pub lifecycle_objects_expired: AtomicU64,
    /// Noncurrent versions removed.
    pub lifecycle_versions_removed: AtomicU64,
    /// Delete markers removed that hid no version.
    pub lifecycle_delete_markers_removed: AtomicU64,
    /// Incomplete multipart uploads aborted.
    pub lifecycle_uploads_aborted: AtomicU64,
    /// Removals the object layer refused (object lock, quorum, ...): skipped, retried
    /// on the next pass.
    pub lifecycle_skipped: AtomicU64,
}

/// Checksums computed by the S3 layer while the body streamed; read after the body ends.
pub type ChecksumSlot = Arc<Mutex<BTreeMap<String, String>>>;

#[derive(Default)]
pub struct PutOptions {
    /// Stored headers: `content-type`, `cache-control`, `x-amz-meta-*`, ...
    pub headers: BTreeMap<String, String>,
    pub checksums: Option<ChecksumSlot>,
    /// The client's Content-MD5; checked against the MD5 computed for the ETag.
    pub expected_md5: Option<[u8; 16]>,
    /// A conditional write: checked against the current version under the key's
    /// commit lock, so two writers cannot both see their condition hold.
    pub condition: Option<WriteCondition>,
    /// The body's MD5 and ETag when the caller hashes the body itself (it stores other
    /// bytes than the client sent: an encrypted body).
    pub digests: Option<DigestSlot>,
    /// Set when the stored bytes are longer than the client's (encrypted): records the
    /// client's size under [`CONTENT_SIZE_HEADER`].
    pub content_size: Option<multipart::ContentSize>,
    /// The new version's object lock (retention, legal hold), as the S3 layer decided
    /// from the request and the bucket's default.
    pub lock: retention::ObjectLock,
}

/// Stored header with the size of an object as the client sees it, when the stored
/// bytes are longer (encrypted packages): listings, HEAD and ranges use it.
pub const CONTENT_SIZE_HEADER: &str = "x-cairn-internal-content-size";

/// S3's conditional writes (`If-None-Match: *`, `If-Match: <etag>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteCondition {
    /// Only if no object exists under the key.
    IfNoneMatch,
    /// Only if the current object has this ETag (unquoted).
    IfMatch(String),
}

impl PutOptions {
    pub fn checksums(&self) -> BTreeMap<String, String> {
        self.checksums
            .as_ref()
            .and_then(|s| s.lock().ok().map(|m| m.clone()))
            .unwrap_or_default()
    }
}

/// What the S3 layer needs to know about a stored object.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    /// The size the client sees ([`CONTENT_SIZE_HEADER`] when the stored size differs).
    pub size: u64,
    /// Bytes stored (and readable through [`read::ObjectReader`]).
    pub stored_size: u64,
    /// Without quotes.
    pub etag: String,
    pub mod_time_ms: i64,
    pub headers: BTreeMap<String, String>,
    pub checksums: BTreeMap<String, String>,
    /// (part number, size) of a multipart object; one entry for a plain PUT.
    pub parts: Vec<(u32, u64)>,
    /// The checksums of the parts of a multipart object that have some, by part number
    /// (empty for a plain object).
    pub part_checksums: BTreeMap<u32, BTreeMap<String, String>>,
    /// S3's version id of this version (`null` for a version written unversioned).
    pub version_id: String,
    /// Object lock retention of this version, if any.
    pub retention: Option<retention::Retention>,
    /// Whether this version is under legal hold.
    pub legal_hold: bool,
    /// Whether a legal hold (ON or OFF) was ever put on this version.
    pub legal_hold_set: bool,
}

impl ObjectInfo {
    pub fn from_meta(bucket: &str, key: &str, m: &ObjectMeta) -> Self {
        Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
            size: m.content_size(),
            stored_size: m.size,
            etag: m.etag.clone(),
            mod_time_ms: m.mod_time_ms,
            headers: m.headers.clone(),
            checksums: m.checksums.clone(),
            parts: m.parts.iter().map(|p| (p.number, p.size)).collect(),
            // Only multipart objects have part checksums of their own (a plain PUT's one
            // part repeats the object's): listings, which build an ObjectInfo per key,
            // copy nothing more for plain objects.
            part_checksums: match m.etag.contains('-') {
                true => m
                    .parts
                    .iter()
                    .filter(|p| !p.checksums.is_empty())
                    .map(|p| (p.number, p.checksums.clone()))
                    .collect(),
                false => BTreeMap::new(),
            },
            version_id: m.s3_version_id().to_string(),
            retention: m.retention,
            legal_hold: m.legal_hold,
            legal_hold_set: m.legal_hold_set || m.legal_hold,
        }
    }

    pub fn is_multipart(&self) -> bool {
        self.etag.contains('-')
    }
}

/// A pool: the erasure sets built from one endpoint argument.
#[derive(Debug)]
pub struct Pool {
    pub sets: Vec<Arc<ErasureSet>>,
    /// Key of the set hash; from the deployment id so placement differs per deployment.
    pub hash_key: u64,
}

impl Pool {
    pub fn set_for(&self, key: &str) -> &Arc<ErasureSet> {
        let h = xxhash_rust::xxh3::xxh3_64_with_seed(key.as_bytes(), self.hash_key);
        &self.sets[(h % self.sets.len() as u64) as usize]
    }
}

/// A bucket lives on the first pool (callers check it there); a pool added later may not
/// have the bucket's directory yet, which means it holds no object of it.
fn absent_in_added_pool<T>(pool: usize, r: ObjectResult<T>) -> ObjectResult<T> {
    match r {
        Err(ObjectError::NoSuchBucket) if pool > 0 => Err(ObjectError::NoSuchKey),
        other => other,
    }
}

/// The whole namespace: every pool of the deployment.
#[derive(Debug)]
pub struct ObjectLayer {
    pub pools: Vec<Pool>,
    pub metrics: Arc<Metrics>,
    /// Objects that a write, delete or read found incomplete on some drive; the heal
    /// layer's MRF worker drains it.
    pub mrf: Arc<MrfQueue>,
    bucket_cache: bucket::BucketCache,
    versioning_cache: versioning::VersioningCache,
    placement: placement::Placement,
    /// New objects go to the first this-many pools only: while a pool is being added and
    /// some server still runs without it, that server must not miss new objects.
    writable_pools: AtomicUsize,
}

impl ObjectLayer {
    /// Builds the layer from drives grouped as pools → sets → drives.
    pub fn new(pools: Vec<Vec<Vec<DriveRef>>>, parity: usize, hash_key: u64) -> ObjectResult<Self> {
        Self::with_locks(pools, parity, hash_key, NsLock::default())
    }

    /// As [`new`](Self::new), with the given lock service (quorum locks when distributed).
    pub fn with_locks(
        pools: Vec<Vec<Vec<DriveRef>>>,
        parity: usize,
        hash_key: u64,
        locks: NsLock,
    ) -> ObjectResult<Self> {
        let metrics = Arc::new(Metrics::default());
        let locks = Arc::new(locks);
        let mrf = Arc::new(MrfQueue::new(crate::heal::mrf::DEFAULT_CAPACITY));
        let mut out = Vec::new();
        for sets in pools {
            let mut built = Vec::new();
            for (index, drives) in sets.into_iter().enumerate() {
                if drives.is_empty() || parity * 2 > drives.len() {
                    return Err(ObjectError::Internal(format!(
                        "invalid set of {} drives with parity {parity}",
                        drives.len()
                    )));
                }
                let geometry = Geometry::new(drives.len() - parity, parity);
                let mut nearby: Vec<usize> = (0..drives.len()).collect();
                nearby.sort_by_cached_key(|&i| (!drives[i].is_local(), drives[i].endpoint()));
                built.push(Arc::new(ErasureSet {
                    index,
                    drives,
                    geometry,
                    locks: locks.clone(),
                    metrics: metrics.clone(),
                    mrf: mrf.clone(),
                    nearby,
                }));
            }
            if built.is_empty() {
                return Err(ObjectError::Internal("a pool has no erasure set".into()));
            }
            out.push(Pool {
                sets: built,
                hash_key,
            });
        }
        if out.is_empty() {
            return Err(ObjectError::Internal("no pools".into()));
        }
        Ok(Self {
            pools: out,
            metrics,
            mrf,
            bucket_cache: bucket::BucketCache::default(),
            versioning_cache: versioning::VersioningCache::default(),
            placement: placement::Placement::default(),
            writable_pools: AtomicUsize::new(usize::MAX),
        })
    }

    /// Limits new objects to the first `n` pools (at least one); see
    /// [`crate::cluster::expansion`].
    pub fn set_writable_pools(&self, n: usize) {
        self.writable_pools.store(n.max(1), Ordering::Relaxed);
    }

    /// How many pools take new objects now.
    pub fn writable_pools(&self) -> usize {
        self.writable_pools
            .load(Ordering::Relaxed)
            .clamp(1, self.pools.len())
    }

    pub fn sets(&self) -> impl Iterator<Item = &Arc<ErasureSet>> {
        self.pools.iter().flat_map(|p| p.sets.iter())
    }

    /// The set that holds `key` now, or for a new key the set of a pool chosen by free
    /// space. Every pool is searched, so objects written before a pool was added stay
    /// readable; should a key exist in two pools (two servers placed the same new key
    /// at the same moment), the newest copy wins.
    async fn locate(&self, bucket: &str, key: &str) -> ObjectResult<&Arc<ErasureSet>> {
        if self.pools.len() == 1 {
            return Ok(self.pools[0].set_for(key));
        }
        let found = futures::future::join_all(self.pools.iter().map(|pool| async move {
            let set = pool.set_for(key);
            (set, set.resolve_file(bucket, key).await)
        }))
        .await;
        let mut newest: Option<(&Arc<ErasureSet>, i64)> = None;
        for (index, (set, r)) in found.into_iter().enumerate() {
            match absent_in_added_pool(index, r) {
                Ok(r) => {
                    let t = r.file.latest().map_or(0, |m| m.mod_time_ms);
                    if newest.is_none_or(|(_, n)| t > n) {
                        newest = Some((set, t));
                    }
                }
                Err(ObjectError::NoSuchKey) => {}
                Err(e) => return Err(e),
            }
        }
        if let Some((set, _)) = newest {
            return Ok(set);
        }
        let writable = &self.pools[..self.writable_pools()];
        let pool = self.placement.choose(writable, key).await;
        Ok(self.pools[pool].set_for(key))
    }

    /// Every set that holds a copy of `key` (normally one).
    async fn holders(&self, bucket: &str, key: &str) -> ObjectResult<Vec<&Arc<ErasureSet>>> {
        let mut out = Vec::new();
        for (index, pool) in self.pools.iter().enumerate() {
            let set = pool.set_for(key);
            match absent_in_added_pool(index, set.resolve_file(bucket, key).await) {
                Ok(_) => out.push(set),
                Err(ObjectError::NoSuchKey) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Writes a new version of `key` as the bucket's versioning state says.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: BodyStream,
        opts: PutOptions,
    ) -> ObjectResult<ObjectInfo> {
        self.require_bucket(bucket).await?;
        let versioning = self.versioning(bucket).await?;
        let set = self.locate(bucket, key).await?;
        set.put_object(bucket, key, body, opts, versioning).await
    }

    /// Opens the latest version of `key` for reading.
    pub async fn open_object(&self, bucket: &str, key: &str) -> ObjectResult<read::ObjectReader> {
        self.open_version(bucket, key, None).await
    }

    /// Opens version `version` of `key` (S3's id; the latest when `None`).
    pub async fn open_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ObjectResult<read::ObjectReader> {
        let set = self.locate(bucket, key).await?;
        match set.open(bucket, key, version).await {
            Err(ObjectError::NoSuchKey) => {
                self.require_bucket(bucket).await?;
                Err(ObjectError::NoSuchKey)
            }
            other => other,
        }
    }

    pub async fn object_info(&self, bucket: &str, key: &str) -> ObjectResult<ObjectInfo> {
        match self.version_info(bucket, key, None).await {
            Err(ObjectError::DeleteMarker { .. }) => Err(ObjectError::NoSuchKey),
            other => other,
        }
    }

    /// The metadata of version `version` of `key` (the latest when `None`).
    pub async fn version_info(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ObjectResult<ObjectInfo> {
        crate::drive::keypath::validate_key(key)?;
        if let Some(v) = version {
            versioning::validate_version_id(v)?;
        }
        let set = self.locate(bucket, key).await?;
        match set.resolve_version(bucket, key, version).await {
            Ok(r) => Ok(ObjectInfo::from_meta(bucket, key, &r.meta)),
            Err(ObjectError::NoSuchKey) => {
                self.require_bucket(bucket).await?;
                Err(ObjectError::NoSuchKey)
            }
            Err(e) => Err(e),
        }
    }

    /// Changes the stored headers of `key`'s current version without rewriting its data
    /// (an object ACL); see [`ErasureSet::update_headers`].
    pub async fn update_object_headers(
        &self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> bool,
    ) -> ObjectResult<ObjectInfo> {
        crate::drive::keypath::validate_key(key)?;
        let set = self.locate(bucket, key).await?;
        match set.update_headers(bucket, key, change).await {
            Err(ObjectError::NoSuchKey) => {
                self.require_bucket(bucket).await?;
                Err(ObjectError::NoSuchKey)
            }
            other => other,
        }
    }

    /// Changes the metadata of version `version` of `key` (the latest when `None`)
    /// without rewriting its data: `change` edits it under the key's commit lock and
    /// says whether anything changed, or refuses; see [`ErasureSet::update_version`].
    /// Object lock's retention and legal hold are changed this way.
    pub async fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl FnOnce(&mut ObjectMeta) -> ObjectResult<bool>,
    ) -> ObjectResult<ObjectInfo> {
        crate::drive::keypath::validate_key(key)?;
        if let Some(v) = version {
            versioning::validate_version_id(v)?;
        }
        let set = self.locate(bucket, key).await?;
        match set.update_version(bucket, key, version, change).await {
            Err(ObjectError::NoSuchKey) => {
                self.require_bucket(bucket).await?;
                Err(ObjectError::NoSuchKey)
            }
            other => other,
        }
    }

    /// Deletes `key`; deleting a missing key succeeds, as in S3.
    pub async fn delete_object(&self, bucket: &str, key: &str) -> ObjectResult<()> {
        self.delete_version(bucket, key, None).await.map(|_| ())
    }

    /// Deletes `key` as the bucket's versioning state says, or version `version` of
    /// it for good; see [`ErasureSet::delete_object`]. A version under object lock is
    /// not removed ([`ObjectError::ObjectLocked`]); GOVERNANCE retention is never
    /// bypassed here (see [`delete_version_with`](Self::delete_version_with)).
    pub async fn delete_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ObjectResult<set::DeleteOutcome> {
        let opts = set::DeleteOptions::default();
        self.delete_version_with(bucket, key, version, &opts).await
    }

    /// As [`delete_version`](Self::delete_version), with [`set::DeleteOptions`]: a
    /// GOVERNANCE bypass, or a condition on the current version.
    pub async fn delete_version_with(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        opts: &set::DeleteOptions,
    ) -> ObjectResult<set::DeleteOutcome> {
        self.require_bucket(bucket).await?;
        let versioning = self.versioning(bucket).await?;
        let sets = if self.pools.len() == 1 {
            vec![self.pools[0].set_for(key)]
        } else {
            let held = self.holders(bucket, key).await?;
            if held.is_empty()
                && version.is_none()
                && versioning != versioning::Versioning::Unversioned
            {
                // A delete marker for a key that exists nowhere still goes somewhere.
                vec![self.locate(bucket, key).await?]
            } else {
                held
            }
        };
        let mut outcome = set::DeleteOutcome::default();
        for set in sets {
            match set
                .delete_object(bucket, key, version, versioning, opts)
                .await
            {
                Ok(o) => outcome = o,
                Err(ObjectError::NoSuchKey) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(outcome)
    }
}
