//! One erasure set: the drives that together hold every shard of the objects hashed to
//! it, with the quorum rules for reading, writing and deleting.

use super::error::{ObjectError, ObjectResult};
use super::ingest::{self, BodyStream};
use super::lock::NsLock;
use super::meta::{self, ErasureInfo, ObjectMeta, PartInfo};
use super::{Metrics, ObjectInfo, PutOptions, WriteCondition};
use crate::drive::{DriveError, DriveRef, StageId, keypath};
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
/// (`None` where the drive is offline, lacks the object or holds another version).
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

/// The version a read quorum agrees on among `metas` (one per drive that answered with
/// readable metadata): the most common `version_id`, ties going to the newest, and only
/// if at least `data` shards of its geometry agree. Shared by reads and the heal layer,
/// so that both always pick the same version.
pub fn pick_version<'a>(
    metas: impl Iterator<Item = &'a ObjectMeta>,
    default_quorum: usize,
) -> Option<(String, usize, usize)> {
    let mut groups: HashMap<&str, (usize, i64, usize)> = HashMap::new();
    for m in metas {
        let e = groups.entry(m.version_id.as_str()).or_insert((
            0,
            m.mod_time_ms,
            m.erasure.geometry.data,
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

/// How many agreeing drives prove a version committed and newest without a lock: a write
/// quorum, which also overlaps every other write quorum and holds enough shards to decode.
fn quorum_look(g: Geometry) -> usize {
    g.write_quorum()
        .max((g.total() + 1).saturating_sub(g.write_quorum()))
        .max(g.read_quorum())
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

    /// Reads every drive's metadata of `key` and picks the version a read quorum agrees on.
    pub async fn resolve(&self, bucket: &str, key: &str) -> ObjectResult<Resolved> {
        let results = join_all(self.drives.iter().map(|d| d.read_meta(bucket, key))).await;
        let mut parsed: Vec<Option<(ObjectMeta, Bytes)>> = Vec::with_capacity(results.len());
        let mut offline = 0;
        let mut bucket_missing = 0;
        for (pos, r) in results.into_iter().enumerate() {
            match r {
                Ok(file) => match meta::decode(&file) {
                    Ok(m) => parsed.push(Some(m)),
                    Err(e) => {
                        tracing::warn!(drive = %self.drives[pos].endpoint(), %bucket, %key, error = %e, "corrupt metadata");
                        parsed.push(None);
                    }
                },
                Err(DriveError::NotFound) => parsed.push(None),
                Err(DriveError::VolumeNotFound) => {
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
        let best = pick_version(parsed.iter().flatten().map(|(m, _)| m), self.geometry.data);
        let total = self.drives.len();
        let responded = total - offline;
        if let Some((version, count, quorum)) = best {
            if count >= quorum {
                let copies: Vec<Option<(ObjectMeta, Bytes)>> = parsed
                    .into_iter()
                    .map(|c| c.filter(|(m, _)| m.version_id == version))
                    .collect();
                // A metadata-only change may not have reached every copy yet.
                let meta = copies
                    .iter()
                    .flatten()
                    .max_by_key(|(m, _)| m.meta_version)
                    .map(|(m, _)| m.clone())
                    .ok_or_else(|| ObjectError::Internal("quorum without copies".into()))?;
                return Ok(Resolved { meta, copies });
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
        Err(ObjectError::NoSuchKey)
    }

    /// The lock-free look of [`open`](Self::open) at an inline object: the metadata of a
    /// write quorum of drives, this server's own first. When they all hold the same inline
    /// version, that version was committed (a commit that fails leaves it on fewer drives,
    /// and rolls it back) and no newer acknowledged write or delete exists (any write
    /// quorum overlaps this one), so it is the answer, without the quorum lock and with
    /// half the remote calls of a full look. `None`: look the usual way.
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
            let (m, inline) = meta::decode(&r.ok()?).ok()?;
            m.data_dir.is_none().then_some((m, inline))
        };
        let mut found = Vec::with_capacity(want);
        for r in join_all(near.iter().map(|&i| self.drives[i].read_meta(bucket, key))).await {
            found.push(inline_copy(r)?);
        }
        for r in join_all(far.iter().map(|&i| self.drives[i].read_meta(bucket, key))).await {
            found.push(inline_copy(r)?);
        }
        let first = found.first().map(|(m, _)| m.clone());
        let mut copies: Vec<Option<(ObjectMeta, Bytes)>> = vec![None; n];
        for (&pos, (m, inline)) in self.nearby.iter().zip(found) {
            if first
                .as_ref()
                .is_some_and(|f| f.version_id != m.version_id || f.meta_version != m.meta_version)
            {
                return None;
            }
            copies[pos] = Some((m, inline));
        }
        let meta = first?;
        // Quorums of the object's own geometry (the storage class may have changed since).
        if want < quorum_look(meta.erasure.geometry) {
            return None;
        }
        Some(Resolved { meta, copies })
    }

    /// Writes a new version of `key` from `body`.
    pub async fn put_object(
        &self,
        bucket: &str,
        key: &str,
        body: BodyStream,
        opts: PutOptions,
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
        };
        let files = self.encode_metas(&base, &ingested.written, ingested.inline.as_deref())?;
        let stage_ref = ingested.inline.is_none().then_some(&stage);
        let result = self
            .commit(
                bucket,
                key,
                stage_ref,
                base.data_dir.as_deref(),
                files,
                opts.condition.as_ref(),
            )
            .await;
        if result.is_err() {
            self.discard(&stage).await;
        }
        result?;
        Ok(ObjectInfo::from_meta(bucket, key, &base))
    }

    /// One metadata file per drive position (`None` for drives without their shard).
    pub fn encode_metas(
        &self,
        base: &ObjectMeta,
        written: &[bool],
        inline: Option<&[Bytes]>,
    ) -> ObjectResult<Vec<Option<Bytes>>> {
        let mut files = Vec::with_capacity(self.drives.len());
        for (pos, ok) in written.iter().enumerate() {
            if !ok {
                files.push(None);
                continue;
            }
            let mut m = base.clone();
            m.erasure.index = base.erasure.distribution[pos];
            let inline_shard = inline.and_then(|s| s.get(m.erasure.index)).map(|b| &b[..]);
            files.push(Some(
                meta::encode(&m, inline_shard).map_err(|e| ObjectError::Internal(e.to_string()))?,
            ));
        }
        Ok(files)
    }

    pub async fn discard(&self, stage: &StageId) {
        join_all(self.drives.iter().map(|d| d.discard_stage(stage))).await;
    }

    /// Commits metadata (and staged data) on every drive under the key's write lock.
    /// Below write quorum every drive that did commit is rolled back, so a failed write
    /// leaves the previous version in place.
    pub async fn commit(
        &self,
        bucket: &str,
        key: &str,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        files: Vec<Option<Bytes>>,
        condition: Option<&WriteCondition>,
    ) -> ObjectResult<()> {
        // The key exclusively and its bucket shared, so DeleteBucket cannot remove the
        // bucket's directories during the commit (drives answer VolumeNotFound after it).
        let guard = self.locks.commit(bucket, key).await?;
        if let Some(c) = condition {
            self.check_condition(bucket, key, c).await?;
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
        // Old data directories are unreachable for new readers now. A GET that resolved
        // the old version before this commit may still be streaming it (GETs do not hold the
        // lock across the body): the drive moves the directory to its trash, where that
        // reader still finds it (`drive::trash`).
        join_all(self.drives.iter().zip(results).map(|(d, r)| async move {
            if let Some(Ok(Some(prev))) = r {
                if let Ok((m, _)) = meta::decode(&prev) {
                    if let Some(old) = m.data_dir.filter(|o| Some(o.as_str()) != data_dir) {
                        let _ = d.delete_data_dir(bucket, key, &old).await;
                    }
                }
            }
        }))
        .await;
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

    /// Whether `condition` holds for the current version of `key`; the caller holds the
    /// key's commit lock.
    async fn check_condition(
        &self,
        bucket: &str,
        key: &str,
        condition: &WriteCondition,
    ) -> ObjectResult<()> {
        let current = match self.resolve(bucket, key).await {
            Ok(r) => Some(r.meta),
            Err(ObjectError::NoSuchKey) => None,
            Err(e) => return Err(e),
        };
        match (condition, current) {
            (WriteCondition::IfNoneMatch, None) => Ok(()),
            (WriteCondition::IfNoneMatch, Some(_)) => Err(ObjectError::PreconditionFailed),
            (WriteCondition::IfMatch(_), None) => Err(ObjectError::NoSuchKey),
            (WriteCondition::IfMatch(etag), Some(m)) if *etag == m.etag => Ok(()),
            (WriteCondition::IfMatch(_), Some(_)) => Err(ObjectError::PreconditionFailed),
        }
    }

    /// Changes the stored headers of the current version of `key` without rewriting its
    /// data: `change` edits them and says whether anything changed. Every copy of the
    /// version is rewritten with its own shard index and inline data, under the key's
    /// commit lock; below write quorum the copies that changed are put back. The
    /// version id, ETag and modification time stay.
    pub async fn update_headers(
        &self,
        bucket: &str,
        key: &str,
        change: impl FnOnce(&mut BTreeMap<String, String>) -> bool,
    ) -> ObjectResult<ObjectInfo> {
        keypath::validate_key(key)?;
        let guard = self.locks.commit(bucket, key).await?;
        let resolved = self.resolve(bucket, key).await?;
        let mut latest = resolved.meta.clone();
        if !change(&mut latest.headers) {
            return Ok(ObjectInfo::from_meta(bucket, key, &resolved.meta));
        }
        latest.meta_version = resolved.meta.meta_version.saturating_add(1);
        let mut files = Vec::with_capacity(self.drives.len());
        for copy in &resolved.copies {
            files.push(match copy {
                Some((m, inline)) => {
                    let mut m2 = latest.clone();
                    m2.erasure.index = m.erasure.index;
                    let inline = (!inline.is_empty()).then_some(&inline[..]);
                    Some(
                        meta::encode(&m2, inline)
                            .map_err(|e| ObjectError::Internal(e.to_string()))?,
                    )
                }
                None => None,
            });
        }
        let data_dir = latest.data_dir.as_deref();
        let results = self.commit_files(bucket, key, None, data_dir, &files).await;
        let ok = results.iter().filter(|r| matches!(r, Some(Ok(_)))).count();
        let need = self.write_quorum();
        if ok < need {
            // Put the old metadata back; the data directory is shared, so it stays.
            self.roll_back(bucket, key, &results, None).await;
            return Err(ObjectError::WriteQuorum {
                have: ok,
                total: self.drives.len(),
                need,
            });
        }
        drop(guard);
        if ok < self.drives.len() {
            self.mrf.push(bucket, key);
        }
        Ok(ObjectInfo::from_meta(bucket, key, &latest))
    }

    pub async fn delete_object(&self, bucket: &str, key: &str) -> ObjectResult<()> {
        keypath::validate_key(key)?;
        let _guard = self.locks.write(&format!("{bucket}/{key}")).await?;
        let results = join_all(self.drives.iter().map(|d| d.delete_object(bucket, key))).await;
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
    ) -> ObjectResult<super::read::ObjectReader> {
        keypath::validate_key(key)?;
        // An inline object's bytes arrive with its metadata: a look without the lock that
        // finds an inline version agreed by a read quorum already holds everything it will
        // return, and no commit can delete it from under us. In a distributed deployment
        // that saves the quorum lock's round trips to every server on most small GETs.
        // Anything else (shards in data directories that an overwrite may delete, no
        // quorum yet, not found) is looked at again under the read lock.
        if self.locks.is_distributed() {
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
        let resolved = self.resolve(bucket, key).await;
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
