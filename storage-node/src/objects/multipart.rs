//! Multipart uploads.
//!
//! An upload lives in `multipart/<bucket>/<upload-id>/` of the system volume of every
//! drive of the key's set: `upload.json` (key, headers, erasure layout) and per part a
//! shard file `part.<n>.<uuid>` with its record `part.<n>.json`. A part re-uploaded
//! under the same number gets a new file, so a retry never mixes shards of two bodies;
//! the file it replaces is removed once the new record is in place, so one file per part
//! number remains.
//!
//! A part is staged first and published under the upload's lock (shared; complete, abort
//! and the expiry take it exclusively), and only to drives whose `upload.json` is still
//! there: an upload aborted while a part streamed is never re-created. Completing
//! hard-links the chosen part files into a staged data directory and commits it like a
//! PUT; the upload directory is removed only after that commit succeeded. Uploads older
//! than the stale-upload expiry, and upload directories without a quorum `upload.json`,
//! are removed by [`ObjectLayer::sweep_uploads`] (run by `heal::stale_uploads`).

use super::error::{ObjectError, ObjectResult};
use super::ingest::{self, BodyStream};
use super::lock::{bucket_lock, part_lock, upload_lock};
use super::meta::{self, ErasureInfo, ObjectMeta, PartInfo};
use super::set::{BITROT_ALGO, ErasureSet, now_ms};
use super::{ObjectInfo, ObjectLayer, PutOptions, WriteCondition};
use crate::drive::{DriveError, StageId, keypath};
use crate::erasure::Geometry;
use bytes::Bytes;
use futures::future::join_all;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// S3's minimum size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
pub const MAX_PART_NUMBER: u32 = 10_000;
/// S3's largest object: 5 TiB. CompleteMultipartUpload refuses parts that sum beyond it.
pub const MAX_OBJECT_SIZE: u64 = 5 << 40;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    pub key: String,
    pub upload_id: String,
    pub initiated_ms: i64,
    pub headers: BTreeMap<String, String>,
    pub geometry: Geometry,
    pub distribution: Vec<usize>,
    #[serde(default)]
    pub checksum_algorithm: Option<String>,
    /// How the object checksum is made from the parts' (`COMPOSITE`, `FULL_OBJECT`);
    /// absent for records written before it was recorded, which read as composite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checksum_type: Option<String>,
    /// Set once the upload completed: the record stays (without parts) until the upload
    /// would have expired, so that a client retrying CompleteMultipartUpload after a
    /// timeout gets the same answer instead of `NoSuchUpload`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed: Option<Completion>,
    /// Object lock of the object the upload makes (request headers or the bucket's
    /// default, decided at creation); applied when it completes.
    #[serde(
        default,
        skip_serializing_if = "super::retention::ObjectLock::is_empty"
    )]
    pub lock: super::retention::ObjectLock,
}

/// What a completion produced, to answer its retries.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Completion {
    /// The object version it committed.
    pub version_id: String,
    /// The parts it was asked for: (number, ETag without quotes).
    pub parts: Vec<(u32, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartRecord {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    pub mod_time_ms: i64,
    pub file: String,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
}

pub(super) fn upload_dir(bucket: &str, upload_id: &str) -> String {
    format!("multipart/{bucket}/{upload_id}")
}

/// Size of the object the parts make, or `EntityTooLarge` beyond [`MAX_OBJECT_SIZE`]
/// (recorded sizes come from the drives: summed without overflow).
/// The client-visible size of a part from its stored size, for uploads whose parts are
/// stored transformed (encrypted); `None` for a size no such part can have.
pub type ContentSize = fn(u64) -> Option<u64>;

/// The object checksums (algorithm to value) of an upload completed from the chosen
/// parts, or why the parts cannot complete it; the S3 layer knows the algorithms.
pub type ObjectChecksums<'a> = dyn Fn(&UploadRecord, &[PartRecord]) -> ObjectResult<BTreeMap<String, String>>
    + Send
    + Sync
    + 'a;

/// How a CompleteMultipartUpload is carried out, beyond the parts it names.
pub struct CompleteOptions<'a> {
    /// `If-Match` / `If-None-Match`, checked under the key's commit lock.
    pub condition: Option<&'a WriteCondition>,
    /// For uploads whose parts are stored transformed (encrypted).
    pub content_size: Option<ContentSize>,
    pub object_checksums: &'a ObjectChecksums<'a>,
}

/// Requested parts as recorded: ETags without quotes or spaces.
fn normalized(requested: &[(u32, String)]) -> Vec<(u32, String)> {
    requested
        .iter()
        .map(|(n, e)| (*n, e.trim().trim_matches('"').to_string()))
        .collect()
}

/// A retried CompleteMultipartUpload: the same answer when it asks for the same parts
/// and the version it committed is still the key's current one; else the upload is gone.
async fn completed_again(
    set: &ErasureSet,
    bucket: &str,
    key: &str,
    done: &Completion,
    requested: &[(u32, String)],
) -> ObjectResult<ObjectInfo> {
    if normalized(requested) != done.parts {
        return Err(ObjectError::NoSuchUpload);
    }
    match set.resolve(bucket, key).await {
        Ok(r) if r.meta.version_id == done.version_id => {
            Ok(ObjectInfo::from_meta(bucket, key, &r.meta))
        }
        Ok(_) | Err(ObjectError::NoSuchKey) => Err(ObjectError::NoSuchUpload),
        Err(e) => Err(e),
    }
}

pub fn completed_size(parts: &[PartRecord]) -> ObjectResult<u64> {
    parts
        .iter()
        .try_fold(0u64, |sum, p| sum.checked_add(p.size))
        .filter(|&size| size <= MAX_OBJECT_SIZE)
        .ok_or(ObjectError::EntityTooLarge)
}

/// True for the name of a part's shard file, `part.<number>.<uuid>`: what a part record
/// read from a drive may name before it is removed as replaced.
fn is_part_file(name: &str, number: u32) -> bool {
    name.strip_prefix(&format!("part.{number}."))
        .is_some_and(|rest| uuid::Uuid::parse_str(rest).is_ok())
}

fn valid_upload_id(id: &str) -> ObjectResult<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ObjectError::NoSuchUpload)
}

/// Reads a JSON record from every drive and returns the value a read quorum agrees on.
pub(super) async fn quorum_record<T>(set: &ErasureSet, path: &str) -> ObjectResult<Option<T>>
where
    T: for<'de> Deserialize<'de> + PartialEq + Clone,
{
    let results = join_all(set.drives.iter().map(|d| d.read_sys_file(path))).await;
    let mut values: Vec<(T, usize)> = Vec::new();
    let mut offline = 0;
    for r in results {
        match r {
            Ok(b) => {
                if let Ok(v) = serde_json::from_slice::<T>(&b) {
                    match values.iter_mut().find(|(x, _)| *x == v) {
                        Some((_, n)) => *n += 1,
                        None => values.push((v, 1)),
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(_) => offline += 1,
        }
    }
    let need = set.geometry.read_quorum();
    if let Some((v, _)) = values.iter().find(|(_, n)| *n >= need) {
        return Ok(Some(v.clone()));
    }
    if set.drives.len() - offline < need {
        return Err(ObjectError::ReadQuorum {
            have: set.drives.len() - offline,
            total: set.drives.len(),
            need,
        });
    }
    Ok(None)
}

impl PartialEq for UploadRecord {
    fn eq(&self, other: &Self) -> bool {
        self.upload_id == other.upload_id && self.key == other.key
    }
}

fn to_json<T: Serialize>(v: &T) -> ObjectResult<Bytes> {
    serde_json::to_vec(v)
        .map(Bytes::from)
        .map_err(|e| ObjectError::Internal(e.to_string()))
}

impl ObjectLayer {
    fn upload_set(&self, key: &str) -> &Arc<ErasureSet> {
        self.pools[0].set_for(key)
    }

    /// An upload in progress (a completed one does not exist any more for parts, listings
    /// and aborts).
    async fn load_upload(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ObjectResult<(&Arc<ErasureSet>, UploadRecord)> {
        match self.load_upload_record(bucket, key, upload_id).await? {
            (_, rec) if rec.completed.is_some() => Err(ObjectError::NoSuchUpload),
            found => Ok(found),
        }
    }

    /// An upload's record, in progress or completed.
    async fn load_upload_record(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ObjectResult<(&Arc<ErasureSet>, UploadRecord)> {
        valid_upload_id(upload_id)?;
        self.require_bucket(bucket).await?;
        let set = self.upload_set(key);
        let path = format!("{}/upload.json", upload_dir(bucket, upload_id));
        match quorum_record::<UploadRecord>(set, &path).await? {
            Some(rec) if rec.key == key => Ok((set, rec)),
            _ => Err(ObjectError::NoSuchUpload),
        }
    }

    /// The stored headers of an upload: what CreateMultipartUpload recorded (owner,
    /// metadata, encryption), which its parts and completion follow.
    pub async fn upload_headers(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ObjectResult<BTreeMap<String, String>> {
        Ok(self.upload_record(bucket, key, upload_id).await?.headers)
    }

    /// The record of an upload in progress (or just completed).
    pub async fn upload_record(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ObjectResult<UploadRecord> {
        Ok(self.load_upload_record(bucket, key, upload_id).await?.1)
    }

    /// Starts an upload of `key`; its object will carry `headers` and `lock`.
    pub async fn new_multipart(
        &self,
        bucket: &str,
        key: &str,
        headers: BTreeMap<String, String>,
        checksum: Option<(String, String)>,
        lock: super::retention::ObjectLock,
    ) -> ObjectResult<String> {
        keypath::validate_key(key)?;
        self.require_bucket(bucket).await?;
        let set = self.upload_set(key);
        let upload_id = uuid::Uuid::new_v4().to_string();
        // The expiry must not take the half-written directory for an orphan, nor may the
        // bucket go away while the record is written: check it again under its lock.
        let (ul, bl) = (upload_lock(&upload_id), bucket_lock(bucket));
        let _guard = set.locks.lock_all(&[(&ul, true), (&bl, false)]).await?;
        self.bucket_meta(bucket).await?;
        let rec = UploadRecord {
            key: key.to_string(),
            upload_id: upload_id.clone(),
            initiated_ms: now_ms(),
            headers,
            geometry: set.geometry,
            distribution: set.distribution(key),
            checksum_algorithm: checksum.as_ref().map(|c| c.0.clone()),
            checksum_type: checksum.map(|c| c.1),
            completed: None,
            lock,
        };
        let body = to_json(&rec)?;
        let path = format!("{}/upload.json", upload_dir(bucket, &upload_id));
        let results = join_all(
            set.drives
                .iter()
                .map(|d| d.write_sys_file(&path, body.clone())),
        )
        .await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok < set.write_quorum() {
            let dir = upload_dir(bucket, &upload_id);
            join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
            return Err(ObjectError::WriteQuorum {
                have: ok,
                total: set.drives.len(),
                need: set.write_quorum(),
            });
        }
        super::upload_list::index(set, bucket, &rec).await;
        Ok(upload_id)
    }

    pub async fn put_part(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        number: u32,
        body: BodyStream,
        opts: PutOptions,
    ) -> ObjectResult<PartRecord> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(ObjectError::InvalidPart(format!(
                "part number must be an integer between 1 and {MAX_PART_NUMBER}"
            )));
        }
        let (set, rec) = self.load_upload(bucket, key, upload_id).await?;
        let stage = StageId(uuid::Uuid::new_v4().to_string());
        let ingested = match ingest::ingest(
            body,
            opts.digests.clone(),
            &set.drives,
            &rec.distribution,
            rec.geometry,
            &stage,
            "data",
            false,
        )
        .await
        {
            Ok(i) => i,
            Err(e) => {
                set.discard(&stage).await;
                return Err(e);
            }
        };
        if opts.expected_md5.is_some_and(|m| m != ingested.md5) {
            set.discard(&stage).await;
            return Err(ObjectError::BadDigest);
        }
        let part = PartRecord {
            number,
            size: ingested.size,
            etag: hex::encode(ingested.etag),
            mod_time_ms: now_ms(),
            file: format!("part.{number}.{}", uuid::Uuid::new_v4()),
            checksums: opts.checksums(),
        };
        let result = self
            .publish_part(set, bucket, upload_id, &part, &stage, &ingested.written)
            .await;
        set.discard(&stage).await;
        result.map(|()| part)
    }

    /// Moves a staged part into its upload on every drive that wrote its shard and still
    /// holds the upload's record, and removes the file of the part it replaces.
    async fn publish_part(
        &self,
        set: &ErasureSet,
        bucket: &str,
        upload_id: &str,
        part: &PartRecord,
        stage: &StageId,
        written: &[bool],
    ) -> ObjectResult<()> {
        let number = part.number;
        let (ul, bl, pl) = (
            upload_lock(upload_id),
            bucket_lock(bucket),
            part_lock(upload_id, number),
        );
        let _guard = set
            .locks
            .lock_all(&[(&ul, false), (&bl, false), (&pl, true)])
            .await?;
        let dir = upload_dir(bucket, upload_id);
        // Under the lock no abort, completion, expiry or DeleteBucket runs: a drive that
        // has the record now keeps it until the part is published.
        let upload_path = format!("{dir}/upload.json");
        let records = join_all(set.drives.iter().map(|d| d.read_sys_file(&upload_path))).await;
        let holds: Vec<bool> = records
            .iter()
            .map(|r| {
                r.as_ref().is_ok_and(|b| {
                    serde_json::from_slice::<UploadRecord>(b)
                        .is_ok_and(|u| u.upload_id == upload_id)
                })
            })
            .collect();
        if holds.iter().filter(|h| **h).count() < set.geometry.read_quorum() {
            return Err(ObjectError::NoSuchUpload);
        }
        let record = to_json(part)?;
        let record_path = format!("{dir}/part.{number}.json");
        let results = join_all(set.drives.iter().zip(written.iter().zip(&holds)).map(
            |(d, (wrote, holds))| {
                let (dir, record, record_path) = (&dir, record.clone(), &record_path);
                async move {
                    if !(*wrote && *holds) {
                        return Err(DriveError::Offline("shard not written".into()));
                    }
                    let replaced = d
                        .read_sys_file(record_path)
                        .await
                        .ok()
                        .and_then(|b| serde_json::from_slice::<PartRecord>(&b).ok())
                        .map(|p| p.file)
                        .filter(|f| *f != part.file && is_part_file(f, number));
                    d.commit_sys_file(stage, "data", dir, &part.file).await?;
                    if let Err(e) = d.write_sys_file(record_path, record).await {
                        let _ = d.delete_sys_path(&format!("{dir}/{}", part.file)).await;
                        return Err(e);
                    }
                    if let Some(old) = replaced {
                        if let Err(e) = d.delete_sys_path(&format!("{dir}/{old}")).await {
                            tracing::debug!(drive = %d.endpoint(), error = %e, "replaced part file not removed");
                        }
                    }
                    Ok(())
                }
            },
        ))
        .await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok < set.write_quorum() {
            return Err(ObjectError::WriteQuorum {
                have: ok,
                total: set.drives.len(),
                need: set.write_quorum(),
            });
        }
        Ok(())
    }

    /// Records of the parts a read quorum of drives agrees on, by part number.
    async fn part_records(
        &self,
        set: &ErasureSet,
        bucket: &str,
        upload_id: &str,
    ) -> ObjectResult<BTreeMap<u32, PartRecord>> {
        let dir = upload_dir(bucket, upload_id);
        let listings = join_all(set.drives.iter().map(|d| d.list_sys_dir(&dir))).await;
        let mut counts: HashMap<u32, usize> = HashMap::new();
        for names in listings.into_iter().flatten() {
            for n in names {
                let num = n
                    .strip_prefix("part.")
                    .and_then(|r| r.strip_suffix(".json"))
                    .and_then(|r| r.parse::<u32>().ok());
                if let Some(num) = num {
                    *counts.entry(num).or_default() += 1;
                }
            }
        }
        let need = set.geometry.read_quorum();
        let mut out = BTreeMap::new();
        for (num, n) in counts {
            if n < need {
                continue;
            }
            if let Some(rec) =
                quorum_record::<PartRecord>(set, &format!("{dir}/part.{num}.json")).await?
            {
                out.insert(num, rec);
            }
        }
        Ok(out)
    }

    pub async fn list_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        marker: u32,
        max: usize,
    ) -> ObjectResult<(UploadRecord, Vec<PartRecord>, bool)> {
        let (set, rec) = self.load_upload(bucket, key, upload_id).await?;
        let parts = self.part_records(set, bucket, upload_id).await?;
        let mut list: Vec<PartRecord> = parts.into_values().filter(|p| p.number > marker).collect();
        let truncated = list.len() > max;
        list.truncate(max);
        Ok((rec, list, truncated))
    }

    pub async fn abort_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
    ) -> ObjectResult<()> {
        let (set, rec) = self.load_upload(bucket, key, upload_id).await?;
        let _guard = set.locks.write(&upload_lock(upload_id)).await?;
        let dir = upload_dir(bucket, upload_id);
        join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
        super::upload_list::unindex(set, bucket, &rec).await;
        Ok(())
    }

    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: &[(u32, String)],
        opts: CompleteOptions<'_>,
    ) -> ObjectResult<ObjectInfo> {
        let CompleteOptions {
            condition,
            content_size,
            object_checksums,
        } = opts;
        let (set, _) = self.load_upload_record(bucket, key, upload_id).await?;
        let _upload_guard = set.locks.write(&upload_lock(upload_id)).await?;
        // Read again under the lock: a concurrent completion may have just finished.
        let (set, rec) = self.load_upload_record(bucket, key, upload_id).await?;
        if let Some(done) = &rec.completed {
            return completed_again(set, bucket, key, done, requested).await;
        }
        if requested.is_empty() {
            return Err(ObjectError::InvalidPart(
                "you must specify at least one part".into(),
            ));
        }
        if requested.windows(2).any(|w| w[0].0 >= w[1].0) {
            return Err(ObjectError::InvalidPartOrder);
        }
        let stored = self.part_records(set, bucket, upload_id).await?;
        let mut chosen = Vec::with_capacity(requested.len());
        for (i, (num, etag)) in requested.iter().enumerate() {
            let want = etag.trim().trim_matches('"');
            let part = stored.get(num).filter(|p| p.etag == want).ok_or_else(|| {
                ObjectError::InvalidPart(format!(
                    "part {num} was not found or its ETag does not match"
                ))
            })?;
            // S3's minimum is on the client's bytes, not on what is stored (encrypted
            // parts are stored a little longer).
            let client_size = content_size.map_or(Some(part.size), |of| of(part.size));
            let client_size = client_size.unwrap_or(part.size);
            if i + 1 < requested.len() && client_size < MIN_PART_SIZE {
                return Err(ObjectError::EntityTooSmall {
                    number: *num,
                    size: client_size,
                });
            }
            chosen.push(part.clone());
        }
        let size = completed_size(&chosen)?;
        let checksums = object_checksums(&rec, &chosen)?;
        let mut headers = rec.headers.clone();
        if let Some(of_part) = content_size {
            let mut total = 0u64;
            for p in &chosen {
                total += of_part(p.size).ok_or_else(|| {
                    ObjectError::Internal(format!("part {} has an impossible size", p.number))
                })?;
            }
            headers.insert(super::CONTENT_SIZE_HEADER.into(), total.to_string());
        }
        let mut md5 = Md5::new();
        for p in &chosen {
            let raw = hex::decode(&p.etag).map_err(|e| ObjectError::Internal(e.to_string()))?;
            md5.update(&raw);
        }
        let etag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
        let stage = StageId(uuid::Uuid::new_v4().to_string());
        let data_dir = uuid::Uuid::new_v4().to_string();
        let dir = upload_dir(bucket, upload_id);
        let staged = join_all(set.drives.iter().map(|d| {
            let (dir, stage, chosen) = (&dir, &stage, &chosen);
            async move {
                for (i, p) in chosen.iter().enumerate() {
                    d.stage_sys_file(dir, &p.file, stage, &format!("part.{}", i + 1))
                        .await?;
                }
                Ok::<(), DriveError>(())
            }
        }))
        .await;
        let written: Vec<bool> = staged.iter().map(|r| r.is_ok()).collect();
        let base = ObjectMeta {
            format: meta::FORMAT_VERSION,
            version_id: uuid::Uuid::new_v4().to_string(),
            size,
            etag,
            mod_time_ms: now_ms(),
            headers,
            checksums,
            erasure: ErasureInfo {
                geometry: rec.geometry,
                index: 0,
                distribution: rec.distribution.clone(),
                bitrot: BITROT_ALGO.to_string(),
            },
            data_dir: Some(data_dir.clone()),
            parts: chosen
                .iter()
                .map(|p| PartInfo {
                    number: p.number,
                    size: p.size,
                    etag: p.etag.clone(),
                    checksums: p.checksums.clone(),
                })
                .collect(),
            meta_version: 0,
            null_version: true,
            delete_marker: false,
            retention: rec.lock.retention,
            legal_hold: rec.lock.legal_hold,
            legal_hold_set: rec.lock.legal_hold_set,
        };
        let versioning = self.versioning(bucket).await?;
        let result = set
            .commit_version(
                bucket,
                key,
                Some(&stage),
                base,
                &written,
                None,
                condition,
                versioning,
            )
            .await;
        let base = match result {
            Ok(committed) => committed,
            Err(e) => {
                set.discard(&stage).await;
                return Err(e);
            }
        };
        join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
        super::upload_list::unindex(set, bucket, &rec).await;
        // The record of the completion, for retries (best effort: without it a retry
        // gets NoSuchUpload, as before).
        let done = UploadRecord {
            completed: Some(Completion {
                version_id: base.version_id.clone(),
                parts: normalized(requested),
            }),
            ..rec
        };
        if let Ok(body) = to_json(&done) {
            let path = format!("{dir}/upload.json");
            join_all(
                set.drives
                    .iter()
                    .map(|d| d.write_sys_file(&path, body.clone())),
            )
            .await;
        }
        Ok(ObjectInfo::from_meta(bucket, key, &base))
    }

    /// In-progress uploads of a bucket, sorted by key then initiation time; a page reads
    /// only the records it returns (`upload_list`).
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
        max: usize,
    ) -> ObjectResult<(Vec<UploadRecord>, bool)> {
        let page = super::upload_list::Page {
            prefix,
            key_marker,
            upload_id_marker,
            max,
        };
        self.list_upload_page(bucket, page).await
    }
}

/// What one sweep of a set's uploads removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Uploads initiated longer ago than the expiry.
    pub expired: u64,
    /// Upload directories without an `upload.json` a read quorum agrees on, or of a
    /// bucket that no longer exists.
    pub orphaned: u64,
}

impl SweepReport {
    pub fn add(&mut self, other: SweepReport) {
        self.expired += other.expired;
        self.orphaned += other.orphaned;
    }
}

/// Every name any drive of `set` lists under system path `dir`.
async fn listed_anywhere(set: &ErasureSet, dir: &str) -> BTreeSet<String> {
    join_all(set.drives.iter().map(|d| d.list_sys_dir(dir)))
        .await
        .into_iter()
        .flatten()
        .flatten()
        .collect()
}

impl ObjectLayer {
    /// Removes from the drives of `set` every upload initiated more than `expiry` ago,
    /// every upload directory without an `upload.json` that a read quorum agrees on (a
    /// crash, an initiation that failed, an abort that missed a drive), and the uploads
    /// of buckets that no longer exist. Each upload is decided under its exclusive lock,
    /// so no part is being published and no completion runs meanwhile; an upload whose
    /// drives are too few to tell is left for the next sweep.
    pub async fn sweep_uploads(
        &self,
        set: &ErasureSet,
        expiry: Duration,
    ) -> ObjectResult<SweepReport> {
        let expiry_ms = i64::try_from(expiry.as_millis()).unwrap_or(i64::MAX);
        let cutoff = now_ms().saturating_sub(expiry_ms);
        let mut report = SweepReport::default();
        for bucket in listed_anywhere(set, "multipart").await {
            if super::bucket::validate_bucket_name(&bucket).is_err() {
                continue;
            }
            let ids = listed_anywhere(set, &format!("multipart/{bucket}")).await;
            if let Err(ObjectError::NoSuchBucket) = self.bucket_meta(&bucket).await {
                let _guard = set.locks.write(&bucket_lock(&bucket)).await?;
                if let Err(ObjectError::NoSuchBucket) = self.bucket_meta(&bucket).await {
                    let dir = format!("multipart/{bucket}");
                    join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
                    report.orphaned += ids.len() as u64;
                    tracing::info!(%bucket, uploads = ids.len(), "removed uploads of a deleted bucket");
                }
                continue;
            }
            for id in ids {
                if valid_upload_id(&id).is_err() {
                    continue;
                }
                let _guard = set.locks.write(&upload_lock(&id)).await?;
                let dir = upload_dir(&bucket, &id);
                let path = format!("{dir}/upload.json");
                match quorum_record::<UploadRecord>(set, &path).await {
                    Ok(Some(rec)) if rec.initiated_ms > cutoff => continue,
                    Ok(Some(rec)) => {
                        report.expired += 1;
                        tracing::info!(%bucket, key = %rec.key, upload_id = %id, "stale upload expired");
                    }
                    Ok(None) => {
                        report.orphaned += 1;
                        tracing::info!(%bucket, upload_id = %id, "upload directory without a record removed");
                    }
                    Err(e) => {
                        tracing::debug!(%bucket, upload_id = %id, error = %e, "upload left for the next sweep");
                        continue;
                    }
                }
                join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(number: u32, size: u64) -> PartRecord {
        PartRecord {
            number,
            size,
            etag: String::new(),
            mod_time_ms: 0,
            file: format!("part.{number}.{}", uuid::Uuid::nil()),
            checksums: BTreeMap::new(),
        }
    }

    #[test]
    fn completed_size_refuses_objects_over_5_tib() {
        let gib = 1u64 << 30;
        // 1,024 parts of 5 GiB: exactly 5 TiB is allowed.
        let max: Vec<PartRecord> = (1..=1024).map(|n| part(n, 5 * gib)).collect();
        assert_eq!(completed_size(&max).unwrap(), MAX_OBJECT_SIZE);
        let mut over = max.clone();
        over.push(part(1025, 1));
        assert!(matches!(
            completed_size(&over),
            Err(ObjectError::EntityTooLarge)
        ));
        // Sizes recorded on a drive are not trusted to sum without overflow.
        let huge = vec![part(1, u64::MAX), part(2, u64::MAX)];
        assert!(matches!(
            completed_size(&huge),
            Err(ObjectError::EntityTooLarge)
        ));
        assert_eq!(completed_size(&[part(1, 10)]).unwrap(), 10);
    }

    #[test]
    fn only_part_files_of_the_number_count_as_replaced() {
        let id = uuid::Uuid::new_v4();
        assert!(is_part_file(&format!("part.3.{id}"), 3));
        assert!(!is_part_file(&format!("part.33.{id}"), 3));
        assert!(!is_part_file("part.3.json", 3));
        assert!(!is_part_file("upload.json", 3));
        assert!(!is_part_file(&format!("part.3.{id}/../../x"), 3));
    }
}
