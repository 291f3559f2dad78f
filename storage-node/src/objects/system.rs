//! Objects of the deployment itself (the IAM state, ...): stored in the drives' system
//! objects volume (`.cairn.objects`) as ordinary erasure-coded objects, so every server
//! reads the same bytes with the same quorum rules, but out of S3's reach (a dot name is
//! not a valid bucket name, so no request can address it). They always live in the first pool, in
//! the set their key hashes to: a pool added later never holds one.

use super::error::{ObjectError, ObjectResult};
use super::lock::Guard;
use super::set::ErasureSet;
use super::{ObjectInfo, ObjectLayer, PutOptions};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use std::sync::Arc;

/// The volume that holds system objects, as a bucket name of the object layer.
pub const SYSTEM_BUCKET: &str = crate::drive::SYSTEM_OBJECTS_VOLUME;

impl ObjectLayer {
    fn system_set(&self, key: &str) -> ObjectResult<&Arc<ErasureSet>> {
        self.pools
            .first()
            .map(|p| p.set_for(key))
            .ok_or_else(|| ObjectError::Internal("no pools".into()))
    }

    /// Writes `key` whole (a new version replaces the old one atomically).
    pub async fn put_system_object(&self, key: &str, data: Bytes) -> ObjectResult<ObjectInfo> {
        let body: super::BodyStream = Box::pin(futures::stream::once(async move { Ok(data) }));
        self.system_set(key)?
            .put_object(
                SYSTEM_BUCKET,
                key,
                body,
                PutOptions::default(),
                super::versioning::Versioning::Unversioned,
            )
            .await
    }

    /// Reads `key` whole; `NoSuchKey` when it does not exist, `Internal` when it is
    /// larger than `limit` (a system object is small; a huge one is damage).
    pub async fn get_system_object(
        &self,
        key: &str,
        limit: usize,
    ) -> ObjectResult<(ObjectInfo, Bytes)> {
        let reader = self.system_set(key)?.open(SYSTEM_BUCKET, key, None).await?;
        let info = reader.info.clone();
        if info.size > limit as u64 {
            return Err(ObjectError::Internal(format!(
                "system object {key} is {} bytes, over the {limit} expected",
                info.size
            )));
        }
        let mut stream = reader.stream(None).await?;
        let mut buf = BytesMut::with_capacity(info.size as usize);
        // Bounded: the stream ends after `info.size` bytes, which is at most `limit`.
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| ObjectError::Internal(e.to_string()))?;
            if buf.len() + chunk.len() > limit {
                return Err(ObjectError::Internal(format!(
                    "system object {key} grew past {limit} bytes while read"
                )));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok((info, buf.freeze()))
    }

    /// The metadata of `key` (size, ETag, time) without its data: a cheap way to see
    /// whether another server changed it.
    pub async fn system_object_info(&self, key: &str) -> ObjectResult<ObjectInfo> {
        let set = self.system_set(key)?;
        let r = set.resolve(SYSTEM_BUCKET, key).await?;
        Ok(ObjectInfo::from_meta(SYSTEM_BUCKET, key, &r.meta))
    }

    /// An exclusive deployment-wide lock named `name` (distributed when the deployment
    /// is), for read-modify-write cycles of system objects. Not the key's own lock,
    /// which the write inside the cycle takes.
    pub async fn lock_system(&self, name: &str) -> ObjectResult<Guard> {
        self.system_set(name)?
            .locks
            .write(&format!("system/{name}"))
            .await
    }
}
