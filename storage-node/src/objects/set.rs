//! One erasure set: the drives that together hold every shard of the objects hashed to
//! it, with the quorum rules for reading, writing and deleting.

use super::error::{ObjectError, ObjectResult};
use super::ingest::{self, BodyStream};
use super::lock::NsLock;
use super::meta::{self, ErasureInfo, MetaFile, ObjectMeta, PartInfo};
use super::versioning::Versioning;
use super::{Metrics, ObjectInfo, PutOptions, WriteCondition};
use crate::drive::{DriveError, DriveRef, NewMeta, StageId, keypath};
use crate::erasure::Geometry;
use crate::erasure::read::{ErasureReader, ShardSource};
use bytes::Bytes;
use futures::future::join_all;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub const BITROT_ALGO: &str = "xxh3-128";

#[derive(Debug)]
pub struct ErasureSet {
    pub index: usize,
    pub drives: Vec<DriveRef>,
    pub geometry: Geometry,
    pub locks: Arc<NsLock>,
    pub metrics: Arc<Metrics>,
    /// Where writes and reads that found a drive behind report the key for healing.
    pub mrf: Arc<crate::heal::mrf::MrfQueue>,
    /// Drive positions, this server's own first, then the others grouped by server: the
    /// order of the lock-free look at small objects.
    pub nearby: Vec<usize>,
}

/// The agreed version of an object and, per drive position, that drive's copy of it
/// (`None` where the drive is offline, lacks the object or disagrees on its file).
pub struct Resolved {
    pub meta: ObjectMeta,
    pub copies: Vec<Option<(ObjectMeta, Bytes)>>,
}

impl Resolved {
    /// Where to read shard files of part file `file`, indexed by shard number.
    pub fn sources(
        &self,
        set: &ErasureSet,
        bucket: &str,
        key: &str,
        file: &str,
    ) -> Vec<ShardSource> {
        let mut out = vec![ShardSource::Missing; self.meta.erasure.geometry.total()];
        for (pos, copy) in self.copies.iter().enumerate() {
            let Some((m, inline)) = copy else { continue };
            let Some(slot) = out.get_mut(m.erasure.index) else {
                continue;
            };
            *slot = match &m.data_dir {
                None => ShardSource::Inline(inline.clone()),
                Some(dd) => ShardSource::Drive {
                    drive: set.drives[pos].clone(),
                    volume: bucket.to_string(),
                    key: key.to_string(),
                    data_dir: dd.clone(),
                    file: file.to_string(),
                },
            };
        }
        out
    }
}

/// The metadata file of a key a read quorum agrees on, and per drive position that
/// drive's copy of it (`None` where the drive is offline, lacks the key, or holds
/// another file: it missed a change).
pub struct ResolvedFile {
    pub file: MetaFile,
    pub copies: Vec<Option<MetaFile>>,
}

impl ResolvedFile {
    /// The version S3 calls `id` (the latest when `None`) with every agreeing drive's
    /// copy of it. The latest being a delete marker, or `id` naming one, is
    /// [`ObjectError::DeleteMarker`].
    pub fn version(&self, id: Option<&str>) -> ObjectResult<Resolved> {
        let found = match id {
            None => self.file.versions.first(),
            Some(id) => self.file.find(id),
        };
        let Some(v) = found else {
            return Err(match id {
                None => ObjectError::NoSuchKey,
                Some(_) => ObjectError::NoSuchVersion,
            });
        };
        if v.meta.delete_marker {
            return Err(ObjectError::DeleteMarker {
                version_id: v.meta.s3_version_id().to_string(),
                by_id: id.is_some(),
            });
        }
        let wanted = v.meta.version_id.as_str();
        let copies = self
            .copies
            .iter()
            .map(|c| {
                c.as_ref()?
                    .versions
                    .iter()
                    .find(|cv| cv.meta.version_id == wanted)
                    .map(|cv| (cv.meta.clone(), cv.inline.clone()))
            })
            .collect();
        Ok(Resolved {
            meta: v.meta.clone(),
            copies,
        })
    }

    /// The latest version unless it is a delete marker.
    pub fn current(&self) -> Option<&ObjectMeta> {
        self.file.latest().filter(|m| !m.delete_marker)
    }
}

/// The file a read quorum agrees on among `files` (one per drive that answered with
/// readable metadata): the most common `write_id`, ties going to the newest latest
/// version; returns it with its count and the quorum it needs (the data shards of its
/// latest version's geometry). Shared by reads, listings and the heal layer, so that all
/// pick the same file.
pub fn pick_file<'a>(
    files: impl Iterator<Item = &'a MetaFile>,
    default_quorum: usize,
) -> Option<(String, usize, usize)> {
    let mut groups: HashMap<&str, (usize, i64, usize)> = HashMap::new();
    for f in files {
        let Some(latest) = f.latest() else { continue };
        let e = groups.entry(f.write_id.as_str()).or_insert((
            0,
            latest.mod_time_ms,
            latest.erasure.geometry.data,
        ));
        e.0 += 1;
    }
    groups
        .iter()
        .max_by_key(|(_, (count, time, _))| (*count, *time))
        .map(|(v, (count, _, data))| {
            let quorum = if *data == 0 { default_quorum } else { *data };
            (v.to_string(), *count, quorum)
        })
}

/// How a delete is carried out.
/// How [`ErasureSet::commit_if_new`] ended.
enum NewKey {
    /// The key was new and the version is committed.
    Committed(ObjectMeta),
    /// The key exists (or may): the file the drives agree on, read along the way.
    Exists(ObjectResult<ResolvedFile>),
}

#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// Remove a version under unexpired GOVERNANCE retention (the caller asked for it and
    /// holds `s3:BypassGovernanceRetention`).
    pub bypass_governance: bool,
    /// Delete only while the key's current version is still this one
    /// (`PreconditionFailed` otherwise): the lifecycle worker's expiry must not remove a
    /// version written after it decided.
    pub if_current: Option<CurrentVersion>,
}

/// The identity of a key's current version as a reader saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentVersion {
    pub etag: String,
    pub mod_time_ms: i64,
}

/// What a delete did, for the `x-amz-version-id` and `x-amz-delete-marker` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteOutcome {
    /// The version removed or the delete marker made (S3's id); `None` unversioned.
    pub version_id: Option<String>,
    /// A delete marker was made, or the version removed was one.
    pub delete_marker: bool,
}

/// How many agreeing drives prove a version committed and newest without a lock: a write
/// quorum, which also overlaps every other write quorum and holds enough shards to decode.
fn quorum_look(g: Geometry) -> usize {
    g.write_quorum()
        .max((g.total() + 1).saturating_sub(g.write_quorum()))
        .max(g.read_quorum())
}

/// Whether `condition` holds for `current`, the key's current version (`None`: no
/// object, or a delete marker on top); the caller holds the key's commit lock.
fn check_condition(current: Option<&ObjectMeta>, condition: &WriteCondition) -> ObjectResult<()> {
    match (condition, current) {
        (WriteCondition::IfNoneMatch, None) => Ok(()),
        (WriteCondition::IfNoneMatch, Some(_)) => Err(ObjectError::PreconditionFailed),
        (WriteCondition::IfMatch(_), None) => Err(ObjectError::NoSuchKey),
        (WriteCondition::IfMatch(etag), Some(m)) if *etag == m.etag => Ok(()),
        (WriteCondition::IfMatch(_), Some(_)) => Err(ObjectError::PreconditionFailed),
    }
}

/// Refuses to remove `m` for good while object lock protects it.
fn locked(m: &ObjectMeta, bypass_governance: bool) -> ObjectResult<()> {
    match super::retention::deletion_blocked(m, now_ms(), bypass_governance) {
        Some(why) => Err(ObjectError::ObjectLocked(why)),
        None => Ok(()),
    }
}

/// Version `new` as the drive at `pos` of the set stores it: with that drive's shard
/// index and its inline shard, if the data is inline.
fn drive_version(new: &ObjectMeta, pos: usize, inline: Option<&[Bytes]>) -> meta::Version {
    let mut m = new.clone();
    m.erasure.index = new.erasure.distribution.get(pos).copied().unwrap_or(0);
    let inline = inline
        .and_then(|s| s.get(m.erasure.index))
        .cloned()
        .unwrap_or_default();
    meta::Version { meta: m, inline }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl ErasureSet {
    /// Which shard each drive position holds: a rotation chosen by the key, so that data
    /// shards of different objects land on different drives.
    pub fn distribution(&self, key: &str) -> Vec<usize> {
        let n = self.drives.len();
        let start = (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % n as u64) as usize;
        (0..n).map(|pos| (pos + n - start) % n).collect()
    }

    pub fn write_quorum(&self) -> usize {
        self.geometry.write_quorum()
    }

    /// Reads every drive's metadata file of `key` and picks the one a read quorum
    /// agrees on.
    pub async fn resolve_file(&self, bucket: &str, key: &str) -> ObjectResult<ResolvedFile> {
        let results = join_all(self.drives.iter().map(|d| d.read_meta(bucket, key))).await;
        self.resolve_read(bucket, key, results)
    }

    /// Picks the file a read quorum agrees on from what each drive answered to reading
    /// `key`'s metadata (in drive order).
    fn resolve_read(
        &self,
        bucket: &str,
        key: &str,
        results: Vec<Result<Bytes, DriveError>>,
    ) -> ObjectResult<ResolvedFile> {
        let mut parsed: Vec<Option<MetaFile>> = Vec::with_capacity(results.len());
        let mut offline = 0;
        let mut bucket_missing = 0;
        let mut absent = 0;
        for (pos, r) in results.into_iter().enumerate() {
            match r {
                Ok(file) => match meta::decode(&file) {
                    Ok(m) => parsed.push(Some(m)),
                    Err(e) => {
                        tracing::warn!(drive = %self.drives[pos].endpoint(), %bucket, %key, error = %e, "corrupt metadata");
                        parsed.push(None);
                    }
                },
                Err(DriveError::NotFound) => {
                    absent += 1;
                    parsed.push(None);
                }
                Err(DriveError::VolumeNotFound) => {
                    absent += 1;
                    bucket_missing += 1;
                    parsed.push(None);
                }
                Err(DriveError::InvalidName(m)) => {
                    return Err(ObjectError::Internal(format!("invalid name: {m}")));
                }
                Err(e) => {
                    tracing::debug!(drive = %self.drives[pos].endpoint(), error = %e, "drive offline for read");
                    offline += 1;
                    parsed.push(None);
                }
            }
        }
        let best = pick_file(parsed.iter().flatten(), self.geometry.data);
        let best_count = best.as_ref().map_or(0, |(_, count, _)| *count);
        let total = self.drives.len();
        let responded = total - offline;
        if let Some((write_id, count, quorum)) = best {
            if count >= quorum {
                let copies: Vec<Option<MetaFile>> = parsed
                    .into_iter()
                    .map(|c| c.filter(|f| f.write_id == write_id))
                    .collect();
                // A metadata-only change of a format-1 file may not have reached every
                // copy yet.
                let file = copies
                    .iter()
                    .flatten()
                    .max_by_key(|f| f.meta_generation())
                    .cloned()
                    .ok_or_else(|| ObjectError::Internal("quorum without copies".into()))?;
                return Ok(ResolvedFile { file, copies });
            }
        }
        if responded < self.geometry.read_quorum() {
            return Err(ObjectError::ReadQuorum {
                have: responded,
                total,
                need: self.geometry.read_quorum(),
            });
        }
        if bucket_missing >= self.geometry.read_quorum() {
            return Err(ObjectError::NoSuchBucket);
        }
        // Copies that agree on no file: a committed version (on a write quorum of
        // drives) may still be among the drives that did not say "absent" (offline, or
        // holding an unfinished write a server died in). Only enough absent drives prove
        // the key does not exist; otherwise the answer is unknown, not NoSuchKey, so a
        // reader retries instead of seeing an existing key vanish.
        let found = parsed.iter().flatten().count();
        if found > 0 && absent + self.write_quorum() <= total {
            return Err(ObjectError::ReadQuorum {
                have: best_count,
                total,
                need: self.geometry.read_quorum(),
            });
        }
        Err(ObjectError::NoSuchKey)
    }

    /// The version S3 calls `id` of `key` (its latest when `None`).
    pub async fn resolve_version(
        &self,
        bucket: &str,
        key: &str,
        id: Option<&str>,
    ) -> ObjectResult<Resolved> {
        self.resolve_file(bucket, key).await?.version(id)
    }

    /// The latest version of `key`; a key whose latest version is a delete marker is
    /// `NoSuchKey` here.
    pub async fn resolve(&self, bucket: &str, key: &str) -> ObjectResult<Resolved> {
        match self.resolve_version(bucket, key, None).await {
            Err(ObjectError::DeleteMarker { .. }) => Err(ObjectError::NoSuchKey),
            other => other,
        }
    }

    /// The lock-free look of [`open`](Self::open) at an inline object: the metadata of a
    /// write quorum of drives, this server's own first. When they all hold the same file
    /// (one `write_id`) whose latest version is inline, that file was committed (a commit
    /// that fails leaves it on fewer drives, and rolls it back) and no newer acknowledged
    /// write or delete exists (any write quorum overlaps this one), so it is the answer,
    /// without the quorum lock and with half the remote calls of a full look. `None`:
    /// look the usual way.
    async fn resolve_inline_nearby(&self, bucket: &str, key: &str) -> Option<Resolved> {
        let n = self.drives.len();
        let want = quorum_look(self.geometry);
        if want >= n {
            return None;
        }
        let look = &self.nearby[..want];
        let own = look
            .iter()
            .take_while(|&&i| self.drives[i].is_local())
            .count();
        let (near, far) = look.split_at(own);
        // Own drives answer first and in-process: when they show a large object (or none),
        // the remote calls are not made at all, so large GETs pay nothing for this look.
        let inline_copy = |r: Result<Bytes, DriveError>| {
            let f = meta::decode(&r.ok()?).ok()?;
            let latest = f.latest()?;
            (latest.data_dir.is_none() && !latest.delete_marker).then_some(f)
        };
        let mut found = Vec::with_capacity(want);
        for r in join_all(near.iter().map(|&i| self.drives[i].read_meta(bucket, key))).await {
            found.push(inline_copy(r)?);
        }
        for r in join_all(far.iter().map(|&i| self.drives[i].read_meta(bucket, key))).await {
            found.push(inline_copy(r)?);
        }
        let first = found.first().cloned()?;
        let mut copies: Vec<Option<MetaFile>> = vec![None; n];
        for (&pos, f) in self.nearby.iter().zip(found) {
            if f.write_id != first.write_id || f.meta_generation() != first.meta_generation() {
                return None;
            }
            copies[pos] = Some(f);
        }
        // Quorums of the object's own geometry (the storage class may have changed since).
        if want < quorum_look(first.latest()?.erasure.geometry) {
            return None;
        }
        ResolvedFile {
            file: first,
            copies,
        }
        .version(None)
        .ok()
    }

    /// Writes a new version of `key` from `body`: it replaces the key's `null` version
    /// (unversioned and suspended buckets) or goes on top of the others (enabled).
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: BodyStream,
        opts: PutOptions,
        versioning: Versioning,
    ) -> ObjectResult<ObjectInfo> {
        keypath::validate_key(key)?;
        let geometry = self.geometry;
        let distribution = self.distribution(key);
        let stage = StageId(uuid::Uuid::new_v4().to_string());
        let data_dir = uuid::Uuid::new_v4().to_string();
        let ingested = ingest::ingest(
            body,
            opts.digests.clone(),
            &self.drives,
            &distribution,
            geometry,
            &stage,
            "part.1",
            true,
        )
        .await;
        let ingested = match ingested {
            Ok(i) => i,
            Err(e) => {
                self.discard(&stage).await;
                return Err(e);
            }
        };
        if let Some(expected) = opts.expected_md5 {
            if expected != ingested.md5 {
                self.discard(&stage).await;
                return Err(ObjectError::BadDigest);
            }
        }
        let etag = hex::encode(ingested.etag);
        let checksums = opts.checksums();
        let mut headers = opts.headers;
        if let Some(of) = opts.content_size {
            let Some(n) = of(ingested.size) else {
                self.discard(&stage).await;
                return Err(ObjectError::Internal(
                    "stored body has an impossible size".into(),
                ));
            };
            headers.insert(super::CONTENT_SIZE_HEADER.into(), n.to_string());
        }
        let base = ObjectMeta {
            format: meta::FORMAT_VERSION,
            version_id: uuid::Uuid::new_v4().to_string(),
            size: ingested.size,
            etag,
            mod_time_ms: now_ms(),
            headers,
            checksums: checksums.clone(),
            erasure: ErasureInfo {
                geometry,
                index: 0,
                distribution: distribution.clone(),
                bitrot: BITROT_ALGO.to_string(),
            },
            data_dir: ingested.inline.is_none().then(|| data_dir.clone()),
            parts: vec![PartInfo {
                number: 1,
                size: ingested.size,
                etag: hex::encode(ingested.etag),
                checksums,
            }],
            meta_version: 0,
            null_version: true,
            delete_marker: false,
            retention: opts.lock.retention,
            legal_hold: opts.lock.legal_hold,
            legal_hold_set: opts.lock.legal_hold_set,
        };
        let stage_ref = ingested.inline.is_none().then_some(&stage);
        let result = self
            .commit_version(
                bucket,
                key,
                stage_ref,
                base,
                &ingested.written,
                ingested.inline.as_deref(),
                opts.condition.as_ref(),
                versioning,
            )
            .await;
        if result.is_err() {
            self.discard(&stage).await;
        }
        Ok(ObjectInfo::from_meta(bucket, key, &result?))
    }

    pub async fn discard(&self, stage: &StageId) {
        join_all(self.drives.iter().map(|d| d.discard_stage(stage))).await;
    }

    /// Commits `new` (its shards staged as `stage` on the drives `written` marks, or
    /// inline as `inline[shard]`) as the newest version of `key`, under the key's commit
    /// lock, after checking `condition`. Unversioned buckets overwrite the key: the new
    /// file holds only this version (as before versioning, without reading first).
    /// Otherwise the agreed file is read and the version goes on top of it, replacing its
    /// `null` version unless versioning is enabled; drives that disagree on the file get
    /// nothing (heal brings them up to date). Returns the version as committed.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_version(
        &self,
        bucket: &str,
        key: &str,
        stage: Option<&StageId>,
        mut new: ObjectMeta,
        written: &[bool],
        inline: Option<&[Bytes]>,
        condition: Option<&WriteCondition>,
        versioning: Versioning,
    ) -> ObjectResult<ObjectMeta> {
        // The key exclusively and its bucket shared, so DeleteBucket cannot remove the
        // bucket's directories during the commit (drives answer VolumeNotFound after it).
        let guard = self.locks.commit(bucket, key).await?;
        new.null_version = versioning != Versioning::Enabled;
        let fast = versioning != Versioning::Unversioned
            && condition.is_none()
            && stage.is_none()
            && new.data_dir.is_none();
        let current = if fast {
            match self.commit_if_new(bucket, key, &new, written, inline).await {
                NewKey::Committed(v) => {
                    drop(guard);
                    return Ok(v);
                }
                NewKey::Exists(current) => current.map(Some),
            }
        } else if versioning == Versioning::Unversioned && condition.is_none() {
            Ok(None)
        } else {
            self.resolve_file(bucket, key).await.map(Some)
        };
        let current = match current {
            Ok(r) => r,
            Err(ObjectError::NoSuchKey) => None,
            Err(e) => return Err(e),
        };
        if let Some(c) = condition {
            check_condition(current.as_ref().and_then(ResolvedFile::current), c)?;
        }
        let base = match versioning {
            Versioning::Unversioned => None,
            _ => Some(current.as_ref()),
        };
        let data_dir = new.data_dir.clone();
        let version = new.clone();
        let edit = |versions: &mut Vec<meta::Version>, pos: usize| {
            if new.null_version {
                versions.retain(|v| !v.meta.null_version);
            }
            versions.insert(0, drive_version(&new, pos, inline));
        };
        self.commit_edit(
            bucket,
            key,
            guard,
            base,
            Some(written),
            stage,
            data_dir.as_deref(),
            edit,
        )
        .await?;
        Ok(version)
    }

    /// The fast way of a versioned write of an inline version (no data directory) when
    /// `key` is new: each drive writes a file holding just `new` if it holds no file for
    /// the key ([`Drive::commit_new_meta`](crate::drive::Drive::commit_new_meta)), so
    /// the write costs one trip per drive instead of reading every drive first. The
    /// caller holds the key's commit lock.
    ///
    /// With write quorum of drives that had no file the key had no version with a read
    /// quorum either: the minority that refused holds files a quorum dropped (a delete
    /// they missed), which the normal path would overwrite and healing (queued here)
    /// replaces. Below write quorum the drives that wrote are put back to no file and the
    /// key as the drives hold it (what the refusing drives returned) sends the caller the
    /// normal way, writing on top of it: an overwrite costs the same two trips per drive
    /// as without this path.
    async fn commit_if_new(
        &self,
        bucket: &str,
        key: &str,
        new: &ObjectMeta,
        written: &[bool],
        inline: Option<&[Bytes]>,
    ) -> NewKey {
        let write_id = uuid::Uuid::new_v4().to_string();
        let mut files: Vec<Option<Bytes>> = Vec::with_capacity(self.drives.len());
        for pos in 0..self.drives.len() {
            if !written.get(pos).copied().unwrap_or(false) {
                files.push(None);
                continue;
            }
            let file = MetaFile {
                write_id: write_id.clone(),
                versions: vec![drive_version(new, pos, inline)],
            };
            match meta::encode(&file) {
                Ok(f) => files.push(Some(f)),
                Err(e) => return NewKey::Exists(Err(ObjectError::Internal(e.to_string()))),
            }
        }
        let results = join_all(self.drives.iter().zip(&files).map(|(d, f)| async move {
            match f {
                Some(f) => Some(d.commit_new_meta(bucket, key, f.clone()).await),
                None => None,
            }
        }))
        .await;
        let created = results
            .iter()
            .filter(|r| matches!(r, Some(Ok(NewMeta::Written))))
            .count();
        if created >= self.write_quorum() {
            if created < self.drives.len() {
                self.mrf.push(bucket, key);
            }
            return NewKey::Committed(new.clone());
        }
        // Put back the drives that wrote, then resolve the key from what the others
        // answered: a drive put back held nothing, a drive that held a file returned it,
        // and only the drives left out of the write are read again.
        let reads = join_all(self.drives.iter().zip(results).map(|(d, r)| async move {
            match r {
                Some(Ok(NewMeta::Written)) => {
                    if let Err(e) = d.restore_object(bucket, key, None, None).await {
                        tracing::warn!(drive = %d.endpoint(), error = %e, "rollback failed");
                    }
                    Err(DriveError::NotFound)
                }
                Some(Ok(NewMeta::Held(held))) => Ok(held),
                Some(Err(e)) => Err(e),
                None => d.read_meta(bucket, key).await,
            }
        }))
        .await;
        NewKey::Exists(self.resolve_read(bucket, key, reads))
    }

    /// Writes a changed version list of `key` on every drive, the caller holding the
    /// key's commit lock (`guard`, released before the clean-up). Each drive's list is
    /// `edit(list, position)` of its own copy of `base`'s agreed file (its shard indexes
    /// and inline bytes); an empty list where `base` is `None` (a new key, or an
    /// unversioned overwrite); nothing on drives that disagree with `base` or that
    /// `written` leaves out. An edit that leaves no version removes the key from every
    /// drive. Below write quorum every drive that did commit is rolled back, so a failed
    /// change leaves the previous file in place.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_edit(
        &self,
        bucket: &str,
        key: &str,
        guard: super::lock::Guard,
        base: Option<Option<&ResolvedFile>>,
        written: Option<&[bool]>,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        edit: impl Fn(&mut Vec<meta::Version>, usize),
    ) -> ObjectResult<()> {
        let write_id = uuid::Uuid::new_v4().to_string();
        let mut files: Vec<Option<Bytes>> = Vec::with_capacity(self.drives.len());
        let mut new_dirs: Vec<Vec<String>> = Vec::with_capacity(self.drives.len());
        let mut emptied = false;
        for pos in 0..self.drives.len() {
            new_dirs.push(Vec::new());
            if written.is_some_and(|w| !w.get(pos).copied().unwrap_or(false)) {
                files.push(None);
                continue;
            }
            let mut versions = match base {
                None | Some(None) => Vec::new(),
                Some(Some(r)) => match r.copies.get(pos) {
                    Some(Some(f)) => f.versions.clone(),
                    _ => {
                        files.push(None);
                        continue;
                    }
                },
            };
            edit(&mut versions, pos);
            if versions.is_empty() {
                emptied = true;
                files.push(None);
                continue;
            }
            let file = MetaFile {
                write_id: write_id.clone(),
                versions,
            };
            new_dirs[pos] = file.data_dirs().map(str::to_string).collect();
            files.push(Some(
                meta::encode(&file).map_err(|e| ObjectError::Internal(e.to_string()))?,
            ));
        }
        if emptied {
            return self.delete_everywhere(bucket, key, guard).await;
        }
        let results = self
            .commit_files(bucket, key, stage, data_dir, &files)
            .await;
        let ok = results.iter().filter(|r| matches!(r, Some(Ok(_)))).count();
        let total = self.drives.len();
        let need = self.write_quorum();
        let bucket_missing = results
            .iter()
            .filter(|r| matches!(r, Some(Err(DriveError::VolumeNotFound))))
            .count();
        if ok < need {
            self.roll_back(bucket, key, &results, data_dir).await;
            drop(guard);
            if bucket_missing >= need.min(total - ok) && bucket_missing > 0 && ok == 0 {
                return Err(ObjectError::NoSuchBucket);
            }
            return Err(ObjectError::WriteQuorum {
                have: ok,
                total,
                need,
            });
        }
        drop(guard);
        if ok < total {
            // Committed with quorum but not everywhere: heal the drives that missed it.
            self.mrf.push(bucket, key);
        }
        if let Some(stage) = stage {
            // Drives that took the shards but not the file (they disagreed on it).
            let skipped = files
                .iter()
                .zip(written.unwrap_or_default())
                .any(|(f, w)| *w && f.is_none());
            if skipped {
                self.discard(stage).await;
            }
        }
        // Data directories no version refers to any more are unreachable for new
        // readers now. A GET that resolved such a version before this commit may still
        // be streaming it (GETs do not hold the lock across the body): the drive moves
        // the directory to its trash, where that reader still finds it (`drive::trash`).
        join_all(
            self.drives
                .iter()
                .zip(results)
                .zip(new_dirs)
                .map(|((d, r), keep)| async move {
                    let Some(Ok(Some(prev))) = r else { return };
                    let Ok(old) = meta::decode(&prev) else { return };
                    for dd in old.data_dirs() {
                        if !keep.iter().any(|k| k == dd) {
                            let _ = d.delete_data_dir(bucket, key, dd).await;
                        }
                    }
                }),
        )
        .await;
        Ok(())
    }

    /// Removes `key` (every version and data directory) from every drive; the caller
    /// holds the key's lock (`guard`).
    async fn delete_everywhere(
        &self,
        bucket: &str,
        key: &str,
        guard: super::lock::Guard,
    ) -> ObjectResult<()> {
        let results = join_all(self.drives.iter().map(|d| d.delete_object(bucket, key))).await;
        drop(guard);
        let ok = results.iter().filter(|r| r.is_ok()).count();
        let not_found = results
            .iter()
            .filter(|r| matches!(r, Err(e) if e.is_not_found()))
            .count();
        let bucket_missing = results
            .iter()
            .filter(|r| matches!(r, Err(DriveError::VolumeNotFound)))
            .count();
        let need = self.write_quorum();
        if ok + not_found < need {
            return Err(ObjectError::WriteQuorum {
                have: ok + not_found,
                total: self.drives.len(),
                need,
            });
        }
        if bucket_missing >= need {
            return Err(ObjectError::NoSuchBucket);
        }
        if ok == 0 {
            return Err(ObjectError::NoSuchKey);
        }
        if ok + not_found < self.drives.len() {
            // A drive that missed the delete still has the object: heal removes it.
            self.mrf.push(bucket, key);
        }
        Ok(())
    }

    /// Commits `files[pos]` on the drive at `pos` (none where it is `None`); each drive
    /// answers with the metadata it replaced.
    async fn commit_files(
        &self,
        bucket: &str,
        key: &str,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        files: &[Option<Bytes>],
    ) -> Vec<Option<Result<Option<Bytes>, DriveError>>> {
        join_all(self.drives.iter().zip(files).map(|(d, f)| async move {
            match f {
                Some(f) => Some(
                    d.commit_object(bucket, key, stage, data_dir, f.clone())
                        .await,
                ),
                None => None,
            }
        }))
        .await
    }

    /// Undoes a commit that missed write quorum on the drives that took it: their
    /// previous metadata goes back, and `data_dir` (the commit's own, if any) goes.
    async fn roll_back(
        &self,
        bucket: &str,
        key: &str,
        results: &[Option<Result<Option<Bytes>, DriveError>>],
        data_dir: Option<&str>,
    ) {
        join_all(self.drives.iter().zip(results).map(|(d, r)| async move {
            if let Some(Ok(previous)) = r {
                if let Err(e) = d
                    .restore_object(bucket, key, previous.clone(), data_dir)
                    .await
                {
                    tracing::warn!(drive = %d.endpoint(), error = %e, "rollback failed");
                }
            }
        }))
        .await;
    }

    /// Changes the stored headers of the current version of `key` without rewriting its
    /// data: `change` edits them and says whether anything changed; see
    /// [`update_version`](Self::update_version).
    pub async fn update_headers(
        &self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> bool,
    ) -> ObjectResult<ObjectInfo> {
        let r = self
            .update_version(bucket, key, None, |m| Ok(change(&mut m.headers)))
            .await;
        match r {
            // A key whose latest version is a delete marker has no current version.
            Err(ObjectError::DeleteMarker { by_id: false, .. }) => Err(ObjectError::NoSuchKey),
            r => r,
        }
    }

    /// Changes the metadata of the version S3 calls `version` (the latest when `None`;
    /// a delete marker is [`ObjectError::DeleteMarker`]) without rewriting its data:
    /// `change` edits a copy under the key's commit lock and says whether anything
    /// changed, or refuses (its error is returned and nothing is written). Every agreeing
    /// copy of the file is rewritten with its own shard indexes and inline data, under the
    /// key's commit lock; below write quorum the copies that changed are put back. The
    /// version id, ETag and modification time stay; only the headers and the lock fields
    /// (retention, legal hold) of the copy are taken.
    pub async fn update_version(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        change: impl FnOnce(&mut ObjectMeta) -> ObjectResult<bool>,
    ) -> ObjectResult<ObjectInfo> {
        keypath::validate_key(key)?;
        let guard = self.locks.commit(bucket, key).await?;
        let resolved = self.resolve_file(bucket, key).await?;
        let target = resolved.version(version)?.meta;
        let mut changed = target.clone();
        if !change(&mut changed)? {
            return Ok(ObjectInfo::from_meta(bucket, key, &target));
        }
        changed.meta_version = target.meta_version.saturating_add(1);
        let edit = |versions: &mut Vec<meta::Version>, _pos: usize| {
            for v in versions.iter_mut() {
                if v.meta.version_id == changed.version_id {
                    v.meta.headers = changed.headers.clone();
                    v.meta.retention = changed.retention;
                    v.meta.legal_hold = changed.legal_hold;
                    v.meta.legal_hold_set = changed.legal_hold_set;
                    v.meta.meta_version = changed.meta_version;
                }
            }
        };
        self.commit_edit(
            bucket,
            key,
            guard,
            Some(Some(&resolved)),
            None,
            None,
            None,
            edit,
        )
        .await?;
        Ok(ObjectInfo::from_meta(bucket, key, &changed))
    }

    /// Deletes `key` as S3 does under `versioning`: without `version`, an unversioned
    /// bucket removes the key (every drive's file and data), a versioned one puts a
    /// delete marker on top (a suspended one in place of the `null` version); with
    /// `version`, that version alone is removed for good, with its data. Removing a
    /// version that does not exist succeeds, as in S3. A version that object lock
    /// protects ([`super::retention::deletion_blocked`]) is not removed, by id or as the
    /// `null` version a suspended bucket's delete marker replaces; checked under the
    /// key's commit lock, so a concurrent retention change cannot slip between.
    pub async fn delete_object(
        &self,
        bucket: &str,
        key: &str,
        version: Option<&str>,
        versioning: Versioning,
        opts: &DeleteOptions,
    ) -> ObjectResult<DeleteOutcome> {
        let bypass_governance = opts.bypass_governance;
        keypath::validate_key(key)?;
        if let Some(v) = version {
            super::versioning::validate_version_id(v)?;
        }
        let guard = self.locks.commit(bucket, key).await?;
        if let Some(want) = &opts.if_current {
            // Under the commit lock: a write that replaced the version the caller saw
            // is not deleted in its place.
            let current = match self.resolve_file(bucket, key).await {
                Ok(r) => r.file.latest().cloned(),
                Err(ObjectError::NoSuchKey) => None,
                Err(e) => return Err(e),
            };
            let same = current.as_ref().is_some_and(|m| {
                !m.delete_marker && m.etag == want.etag && m.mod_time_ms == want.mod_time_ms
            });
            if !same {
                return Err(ObjectError::PreconditionFailed);
            }
        }
        if versioning == Versioning::Unversioned && version.is_none_or(|v| v == meta::NULL_VERSION)
        {
            self.delete_everywhere(bucket, key, guard).await?;
            return Ok(DeleteOutcome::default());
        }
        let current = match self.resolve_file(bucket, key).await {
            Ok(r) => Some(r),
            Err(ObjectError::NoSuchKey) => None,
            Err(e) => return Err(e),
        };
        match version {
            None => {
                let mut marker = ObjectMeta {
                    format: meta::FORMAT_VERSION,
                    version_id: uuid::Uuid::new_v4().to_string(),
                    size: 0,
                    etag: String::new(),
                    mod_time_ms: now_ms(),
                    headers: BTreeMap::new(),
                    checksums: BTreeMap::new(),
                    erasure: ErasureInfo {
                        geometry: self.geometry,
                        index: 0,
                        distribution: self.distribution(key),
                        bitrot: BITROT_ALGO.to_string(),
                    },
                    data_dir: None,
                    parts: Vec::new(),
                    meta_version: 0,
                    null_version: versioning != Versioning::Enabled,
                    delete_marker: true,
                    retention: None,
                    legal_hold: false,
                    legal_hold_set: false,
                };
                if marker.null_version {
                    let replaced = current
                        .as_ref()
                        .and_then(|c| c.file.find(meta::NULL_VERSION));
                    if let Some(v) = replaced {
                        locked(&v.meta, bypass_governance)?;
                    }
                }
                if let Some(t) = current.as_ref().and_then(|c| c.file.latest()) {
                    // Newer than what it hides, even with a clock behind.
                    marker.mod_time_ms = marker.mod_time_ms.max(t.mod_time_ms + 1);
                }
                let edit = |versions: &mut Vec<meta::Version>, pos: usize| {
                    if marker.null_version {
                        versions.retain(|v| !v.meta.null_version);
                    }
                    let mut m = marker.clone();
                    m.erasure.index = m.erasure.distribution.get(pos).copied().unwrap_or(0);
                    versions.insert(
                        0,
                        meta::Version {
                            meta: m,
                            inline: Bytes::new(),
                        },
                    );
                };
                self.commit_edit(
                    bucket,
                    key,
                    guard,
                    Some(current.as_ref()),
                    None,
                    None,
                    None,
                    edit,
                )
                .await?;
                Ok(DeleteOutcome {
                    version_id: Some(marker.s3_version_id().to_string()),
                    delete_marker: true,
                })
            }
            Some(id) => {
                let Some(found) = current.as_ref().and_then(|c| c.file.find(id)) else {
                    return Ok(DeleteOutcome {
                        version_id: Some(id.to_string()),
                        delete_marker: false,
                    });
                };
                locked(&found.meta, bypass_governance)?;
                let gone = found.meta.version_id.clone();
                let outcome = DeleteOutcome {
                    version_id: Some(id.to_string()),
                    delete_marker: found.meta.delete_marker,
                };
                let edit = |versions: &mut Vec<meta::Version>, _pos: usize| {
                    versions.retain(|v| v.meta.version_id != gone);
                };
                self.commit_edit(
                    bucket,
                    key,
                    guard,
                    Some(current.as_ref()),
                    None,
                    None,
                    None,
                    edit,
                )
                .await?;
                Ok(outcome)
            }
        }
    }

    /// Opens an object for reading: the version is resolved under the key's read lock,
    /// which is released before the body streams, so a client that stops reading blocks no
    /// writer. The data it then reads cannot change under it: data directories are
    /// immutable (`~d.<uuid>`, a new one per version), and one removed by an overwrite,
    /// delete or heal stays readable in the drive's trash for a grace period longer than
    /// the send-idle timeout (`drive::trash`); after that a stalled reader gets an error,
    /// never bytes of another version.
    pub async fn open(
        self: &Arc<Self>,
        bucket: &str,
        key: &str,
        version: Option<&str>,
    ) -> ObjectResult<super::read::ObjectReader> {
        keypath::validate_key(key)?;
        if let Some(v) = version {
            super::versioning::validate_version_id(v)?;
        }
        // An inline object's bytes arrive with its metadata: a look without the lock that
        // finds an inline version agreed by a read quorum already holds everything it will
        // return, and no commit can delete it from under us. In a distributed deployment
        // that saves the quorum lock's round trips to every server on most small GETs.
        // Anything else (shards in data directories that an overwrite may delete, no
        // quorum yet, not found) is looked at again under the read lock.
        if self.locks.is_distributed() && version.is_none() {
            if let Some(resolved) = self.resolve_inline_nearby(bucket, key).await {
                return Ok(super::read::ObjectReader::new(
                    self.clone(),
                    bucket,
                    key,
                    resolved,
                ));
            }
        }
        let guard = self.locks.read(&format!("{bucket}/{key}")).await?;
        let resolved = self.resolve_version(bucket, key, version).await;
        drop(guard);
        let resolved = resolved?;
        if resolved.copies.iter().any(Option::is_none) {
            // A drive lacks this version (offline, missed a write, or wiped): heal it.
            self.mrf.push(bucket, key);
        }
        Ok(super::read::ObjectReader::new(
            self.clone(),
            bucket,
            key,
            resolved,
        ))
    }

    /// Counts blocks a read rebuilt from parity and has the object healed, since a
    /// shard it needed was missing or corrupt.
    pub fn count_repair(&self, bucket: &str, key: &str, blocks: u64) {
        if blocks > 0 {
            self.metrics
                .repaired_blocks
                .fetch_add(blocks, Ordering::Relaxed);
            self.mrf.push(bucket, key);
        }
    }

    /// An erasure reader for one part of a resolved object.
    pub fn part_reader(
        &self,
        bucket: &str,
        key: &str,
        resolved: &Resolved,
        part_index: usize,
    ) -> ObjectResult<ErasureReader> {
        let part = resolved
            .meta
            .parts
            .get(part_index)
            .ok_or_else(|| ObjectError::Internal("part index out of range".into()))?;
        let file = format!("part.{}", part_index + 1);
        let sources = resolved.sources(self, bucket, key, &file);
        Ok(ErasureReader::new(
            resolved.meta.erasure.geometry,
            part.size,
            sources,
        )?)
    }
}

#[cfg(test)]
#[path = "commit_new_tests.rs"]
mod commit_new_tests;
