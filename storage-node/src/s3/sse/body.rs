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
///
/// The first read skips the erasure layer's bitrot checksums: AES-GCM authenticates
/// every package, so a corrupt shard cannot pass unnoticed, and the hash was about a
/// fifth of what decryption added to a 64 MiB GET (bench/results, `ab.sh sse`). If that
/// read fails anywhere (a package does not open, a shard is unreadable), the rest of
/// the range is read once more with the checksums, which find the bad shard, rebuild
/// its blocks from parity and queue it for healing; the client gets one uninterrupted
/// body. Only bytes that opened are ever sent, so what went out before the failure is
/// authentic and the second read starts right after it.
///
/// Each healthy erasure block comes as its data shards, decrypted in their own buffers
/// (no copy into a block buffer first); only a package that straddles two shards is
/// copied.
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
    // The packages are opened where they lie in each data shard's buffer: see
    // `ObjectReader::in_pieces`.
    let reader = reader.in_pieces();
    let verified = reader.clone();
    let fast = open_range(reader.without_bitrot_check(), key, first, last).await;
    let fast = match fast {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                error = %e.message,
                "encrypted read without bitrot checks failed: reading with them"
            );
            return open_range(verified, key, first, last).await;
        }
    };
    struct Retry {
        body: BodyStream,
        sent: u64,
        /// What the verified read needs; taken when it starts (there is one).
        verified: Option<(ObjectReader, ObjectKey, u64, u64)>,
        failed: bool,
    }
    let retry = Retry {
        body: fast,
        sent: 0,
        verified: Some((verified, key.clone(), first, last)),
        failed: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        retry,
        |mut r| async move {
            if r.failed {
                return None;
            }
            loop {
                match r.body.next().await {
                    Some(Ok(frame)) => {
                        r.sent += frame.len() as u64;
                        return Some((Ok(frame), r));
                    }
                    None => return None,
                    Some(Err(e)) => {
                        let Some((reader, key, first, last)) = r.verified.take() else {
                            r.failed = true;
                            return Some((Err(e), r));
                        };
                        if first + r.sent > last {
                            // Every byte of the range went out authenticated already.
                            return None;
                        }
                        tracing::warn!(
                            error = %e,
                            sent = r.sent,
                            "encrypted read without bitrot checks failed: reading the rest with them"
                        );
                        match open_range(reader, &key, first + r.sent, last).await {
                            Ok(body) => r.body = body,
                            Err(e) => {
                                r.failed = true;
                                return Some((Err(std::io::Error::other(e.message)), r));
                            }
                        }
                    }
                }
            }
        },
    )))
}

/// Reads and opens plaintext bytes `first..=last` (within the object).
async fn open_range(
    reader: ObjectReader,
    key: &ObjectKey,
    first: u64,
    last: u64,
) -> Result<BodyStream, S3Error> {
    let plan = range::plan(&reader.info.parts, first, last)
        .map_err(|e| S3Error::internal(e.to_string()))?;
    let stored = reader
        .stream(Some((plan.stored_first, plan.stored_last)))
        .await?;
    stream::open(stored, key, &plan).map_err(|e| S3Error::internal(e.to_string()))
}
