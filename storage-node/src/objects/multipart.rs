//! Multipart uploads.
//!
//! An upload lives in `multipart/<bucket>/<upload-id>/` of the system volume of every
//! drive of the key's set: `upload.json` (key, headers, erasure layout) and per part a
//! shard file `part.<n>.<uuid>` with its record `part.<n>.json`. A part re-uploaded
//! under the same number gets a new file, so a retry never mixes shards of two bodies.
//! Completing hard-links the chosen part files into a staged data directory and commits
//! it like a PUT; the upload directory is removed only after that commit succeeded.

use super::error::{ObjectError, ObjectResult};
use super::ingest::{self, BodyStream};
use super::meta::{self, ErasureInfo, ObjectMeta, PartInfo};
use super::set::{BITROT_ALGO, ErasureSet, now_ms};
use super::{ObjectInfo, ObjectLayer, PutOptions};
use crate::drive::{DriveError, StageId, keypath};
use crate::erasure::Geometry;
use bytes::Bytes;
use futures::future::join_all;
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// S3's minimum size of every part but the last.
pub const MIN_PART_SIZE: u64 = 5 << 20;
pub const MAX_PART_NUMBER: u32 = 10_000;

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

fn upload_dir(bucket: &str, upload_id: &str) -> String {
    format!("multipart/{bucket}/{upload_id}")
}

fn valid_upload_id(id: &str) -> ObjectResult<()> {
    uuid::Uuid::parse_str(id)
        .map(|_| ())
        .map_err(|_| ObjectError::NoSuchUpload)
}

/// Reads a JSON record from every drive and returns the value a read quorum agrees on.
async fn quorum_record<T>(set: &ErasureSet, path: &str) -> ObjectResult<Option<T>>
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

    async fn load_upload(
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

    pub async fn new_multipart(
        &self,
        bucket: &str,
        key: &str,
        headers: BTreeMap<String, String>,
        checksum_algorithm: Option<String>,
    ) -> ObjectResult<String> {
        keypath::validate_key(key)?;
        self.require_bucket(bucket).await?;
        let set = self.upload_set(key);
        let upload_id = uuid::Uuid::new_v4().to_string();
        let rec = UploadRecord {
            key: key.to_string(),
            upload_id: upload_id.clone(),
            initiated_ms: now_ms(),
            headers,
            geometry: set.geometry,
            distribution: set.distribution(key),
            checksum_algorithm,
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
            etag: hex::encode(ingested.md5),
            mod_time_ms: now_ms(),
            file: format!("part.{number}.{}", uuid::Uuid::new_v4()),
            checksums: opts.checksums(),
        };
        let record = to_json(&part)?;
        let dir = upload_dir(bucket, upload_id);
        let results = join_all(set.drives.iter().zip(&ingested.written).map(|(d, ok)| {
            let (dir, record, part, stage) = (&dir, record.clone(), &part, &stage);
            async move {
                if !ok {
                    return Err(DriveError::Offline("shard not written".into()));
                }
                d.commit_sys_file(stage, "data", dir, &part.file).await?;
                d.write_sys_file(&format!("{dir}/part.{number}.json"), record)
                    .await
            }
        }))
        .await;
        set.discard(&stage).await;
        let ok = results.iter().filter(|r| r.is_ok()).count();
        if ok < set.write_quorum() {
            return Err(ObjectError::WriteQuorum {
                have: ok,
                total: set.drives.len(),
                need: set.write_quorum(),
            });
        }
        Ok(part)
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
        let (set, _) = self.load_upload(bucket, key, upload_id).await?;
        let _guard = set.locks.write(&format!("upload/{upload_id}")).await?;
        let dir = upload_dir(bucket, upload_id);
        join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
        Ok(())
    }

    pub async fn complete_multipart(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        requested: &[(u32, String)],
    ) -> ObjectResult<ObjectInfo> {
        let (set, rec) = self.load_upload(bucket, key, upload_id).await?;
        let _upload_guard = set.locks.write(&format!("upload/{upload_id}")).await?;
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
            if i + 1 < requested.len() && part.size < MIN_PART_SIZE {
                return Err(ObjectError::EntityTooSmall {
                    number: *num,
                    size: part.size,
                });
            }
            chosen.push(part.clone());
        }
        let mut md5 = Md5::new();
        for p in &chosen {
            let raw = hex::decode(&p.etag).map_err(|e| ObjectError::Internal(e.to_string()))?;
            md5.update(&raw);
        }
        let etag = format!("{}-{}", hex::encode(md5.finalize()), chosen.len());
        let size = chosen.iter().map(|p| p.size).sum();
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
            headers: rec.headers.clone(),
            checksums: BTreeMap::new(),
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
        };
        let files = set.encode_metas(&base, &written, None)?;
        let result = set
            .commit(bucket, key, Some(&stage), Some(&data_dir), files)
            .await;
        if let Err(e) = result {
            set.discard(&stage).await;
            return Err(e);
        }
        join_all(set.drives.iter().map(|d| d.delete_sys_path(&dir))).await;
        Ok(ObjectInfo::from_meta(bucket, key, &base))
    }

    /// In-progress uploads of a bucket, sorted by key then initiation time.
    pub async fn list_uploads(
        &self,
        bucket: &str,
        prefix: &str,
        key_marker: &str,
        upload_id_marker: &str,
        max: usize,
    ) -> ObjectResult<(Vec<UploadRecord>, bool)> {
        self.require_bucket(bucket).await?;
        let dir = format!("multipart/{bucket}");
        let mut uploads = Vec::new();
        for set in self.pools[0].sets.iter() {
            let listings = join_all(set.drives.iter().map(|d| d.list_sys_dir(&dir))).await;
            let mut counts: HashMap<String, usize> = HashMap::new();
            for names in listings.into_iter().flatten() {
                for n in names {
                    *counts.entry(n).or_default() += 1;
                }
            }
            for (id, n) in counts {
                if n < set.geometry.read_quorum() || valid_upload_id(&id).is_err() {
                    continue;
                }
                if let Some(rec) =
                    quorum_record::<UploadRecord>(set, &format!("{dir}/{id}/upload.json")).await?
                {
                    if rec.key.starts_with(prefix) {
                        uploads.push(rec);
                    }
                }
            }
        }
        uploads.sort_by(|a, b| {
            (a.key.as_str(), a.initiated_ms, a.upload_id.as_str()).cmp(&(
                b.key.as_str(),
                b.initiated_ms,
                b.upload_id.as_str(),
            ))
        });
        // Skip what the markers say was already returned.
        let marker_time = uploads
            .iter()
            .find(|u| u.key == key_marker && u.upload_id == upload_id_marker)
            .map(|u| u.initiated_ms);
        uploads.retain(|u| match (key_marker.is_empty(), marker_time) {
            (true, _) => true,
            (false, Some(t)) => {
                u.key.as_str() > key_marker
                    || (u.key == key_marker
                        && (u.initiated_ms, u.upload_id.as_str()) > (t, upload_id_marker))
            }
            (false, None) => u.key.as_str() > key_marker,
        });
        let truncated = uploads.len() > max;
        uploads.truncate(max);
        Ok((uploads, truncated))
    }
}
