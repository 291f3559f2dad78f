//! The two body transformations: a write's plaintext hashed (for Content-MD5 and the
//! ETag) and sealed on its way to the object layer, a read's stored bytes opened on
//! their way to the client.

use super::super::error::S3Error;
use crate::crypto::keys::ObjectKey;
use crate::crypto::{package, range, stream};
use crate::objects::ingest::Md5Pipe;
use crate::objects::read::ObjectReader;
use crate::objects::{BodyStream, DigestSlot, Digests};
use futures::StreamExt;
use std::sync::{Arc, Mutex};

/// The object layer's size mapping for encrypted parts.
pub fn content_size(stored: u64) -> Option<u64> {
    package::plain_len(stored).ok()
}

/// Seals `body` as part `part` under `key`. The returned slot holds the plaintext's
/// MD5 and the ETag (the MD5, or an HMAC of it when `mask_etag`) once the body ended.
pub fn seal(
    body: BodyStream,
    key: &ObjectKey,
    part: u32,
    mask_etag: bool,
) -> Result<(BodyStream, DigestSlot), S3Error> {
    let slot: DigestSlot = Arc::new(Mutex::new(None));
    struct Tee {
        body: BodyStream,
        md5: Option<Md5Pipe>,
        slot: DigestSlot,
        key: ObjectKey,
        mask: bool,
    }
    let tee = Tee {
        body,
        md5: Some(Md5Pipe::start()),
        slot: slot.clone(),
        key: key.clone(),
        mask: mask_etag,
    };
    let hashed = futures::stream::unfold(tee, |mut t| async move {
        let pipe = t.md5.as_ref()?;
        match t.body.next().await {
            Some(Ok(chunk)) => {
                if pipe.feed(chunk.clone()).await.is_err() {
                    t.md5 = None;
                    return Some((Err(std::io::Error::other("md5 worker stopped")), t));
                }
                Some((Ok(chunk), t))
            }
            Some(Err(e)) => {
                t.md5 = None;
                Some((Err(e), t))
            }
            None => {
                let md5 = match t.md5.take()?.finish().await {
                    Ok(m) => m,
                    Err(e) => return Some((Err(std::io::Error::other(e.to_string())), t)),
                };
                let etag = if t.mask { t.key.masked_etag(&md5) } else { md5 };
                if let Ok(mut s) = t.slot.lock() {
                    *s = Some(Digests { md5, etag });
                }
                None
            }
        }
    });
    let sealed =
        stream::seal(Box::pin(hashed), key, part).map_err(|e| S3Error::internal(e.to_string()))?;
    Ok((sealed, slot))
}

/// Streams plaintext bytes `range` (inclusive; the whole object when `None`) of the
/// encrypted object `reader` opened.
pub async fn open(
    reader: ObjectReader,
    key: &ObjectKey,
    range: Option<(u64, u64)>,
) -> Result<BodyStream, S3Error> {
    let size = reader.info.size;
    let (first, last) = match range {
        Some(r) => r,
        None if size == 0 => return Ok(Box::pin(futures::stream::empty())),
        None => (0, size - 1),
    };
    let plan = range::plan(&reader.info.parts, first, last)
        .map_err(|e| S3Error::internal(e.to_string()))?;
    let stored = reader
        .stream(Some((plan.stored_first, plan.stored_last)))
        .await?;
    stream::open(stored, key, &plan).map_err(|e| S3Error::internal(e.to_string()))
}
