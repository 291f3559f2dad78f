//! Turns a request body into erasure-coded shards: reads the stream, cuts it into
//! blocks, hashes the ETag's MD5 on a separate thread (MD5 is the most expensive step of
//! a PUT on this machine, about 1.7 ms per MiB, so it overlaps with encoding and drive
//! writes) and either keeps a small object inline or streams it to shard files.

use super::error::{ObjectError, ObjectResult};
use crate::drive::{DriveRef, ShardWriter, StageId};
use crate::erasure::write::ErasureWriter;
use crate::erasure::{Codec, Geometry};
use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt, future::join_all};
use md5::{Digest, Md5};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

pub type BodyStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// Objects up to this size live inside their metadata files: one file per drive
/// instead of two, which halves the fsyncs of a small PUT.
pub const INLINE_LIMIT: u64 = 128 * 1024;

/// Largest object accepted in one PUT (S3's limit is 5 GiB).
pub const MAX_PUT_SIZE: u64 = 5 << 30;

pub struct Ingested {
    pub size: u64,
    /// MD5 of the body as the client sent it (checked against Content-MD5).
    pub md5: [u8; 16],
    /// The ETag to record: `md5`, unless the caller gave another.
    pub etag: [u8; 16],
    /// For inline objects: the stored shard (checksum + data) of every shard index.
    pub inline: Option<Vec<Bytes>>,
    /// For streamed objects: which drive positions hold their shard.
    pub written: Vec<bool>,
}

/// The MD5 and ETag of a body that the caller hashed itself, because what reaches this
/// layer is not what the client sent (an encrypted body): set by the caller's stream
/// before it ends, read here once the body has ended.
pub type DigestSlot = Arc<Mutex<Option<Digests>>>;

#[derive(Debug, Clone, Copy)]
pub struct Digests {
    pub md5: [u8; 16],
    pub etag: [u8; 16],
}

/// Receives body chunks and feeds a background MD5 thread.
pub struct Md5Pipe {
    tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
    handle: tokio::task::JoinHandle<[u8; 16]>,
}

impl Md5Pipe {
    pub fn start() -> Self {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(8);
        let handle = tokio::task::spawn_blocking(move || {
            let mut h = Md5::new();
            while let Some(b) = rx.blocking_recv() {
                h.update(&b);
            }
            h.finalize().into()
        });
        Self {
            tx: Some(tx),
            handle,
        }
    }

    pub async fn feed(&self, b: Bytes) -> ObjectResult<()> {
        match &self.tx {
            Some(tx) => tx
                .send(b)
                .await
                .map_err(|_| ObjectError::Internal("md5 worker stopped".into())),
            None => Ok(()),
        }
    }

    pub async fn finish(mut self) -> ObjectResult<[u8; 16]> {
        self.tx.take();
        self.handle
            .await
            .map_err(|e| ObjectError::Internal(format!("md5 worker: {e}")))
    }
}

/// Reads from `body` until `buf` holds `want` bytes or the body ends.
async fn fill(
    body: &mut futures::stream::Fuse<BodyStream>,
    buf: &mut BytesMut,
    want: usize,
) -> ObjectResult<bool> {
    while buf.len() < want {
        match body.next().await {
            Some(Ok(chunk)) => buf.extend_from_slice(&chunk),
            Some(Err(e)) => return Err(ObjectError::Body(e)),
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Opens one shard writer per drive position; drives that fail are left out.
async fn open_writers(
    drives: &[DriveRef],
    distribution: &[usize],
    stage: &StageId,
    file: &str,
) -> Vec<Option<Box<dyn ShardWriter>>> {
    let opened = join_all(drives.iter().map(|d| d.create_shard(stage, file))).await;
    // Re-index by shard number: the writer of shard s is the drive at position d with
    // distribution[d] == s.
    let mut by_shard: Vec<Option<Box<dyn ShardWriter>>> = (0..drives.len()).map(|_| None).collect();
    for (pos, w) in opened.into_iter().enumerate() {
        match w {
            Ok(w) => {
                if let Some(slot) = distribution.get(pos).and_then(|s| by_shard.get_mut(*s)) {
                    *slot = Some(w);
                }
            }
            Err(e) => {
                tracing::warn!(drive = %drives[pos].endpoint(), error = %e, "drive unavailable for write")
            }
        }
    }
    by_shard
}

/// How the body's MD5 and ETag are known.
enum Hashing {
    Here(Md5Pipe),
    Given(DigestSlot),
}

impl Hashing {
    fn new(given: Option<DigestSlot>) -> Self {
        match given {
            Some(slot) => Self::Given(slot),
            None => Self::Here(Md5Pipe::start()),
        }
    }

    async fn feed(&self, b: &Bytes) -> ObjectResult<()> {
        match self {
            Self::Here(p) => p.feed(b.clone()).await,
            Self::Given(_) => Ok(()),
        }
    }

    async fn finish(self) -> ObjectResult<Digests> {
        match self {
            Self::Here(p) => {
                let md5 = p.finish().await?;
                Ok(Digests { md5, etag: md5 })
            }
            Self::Given(slot) => slot
                .lock()
                .ok()
                .and_then(|d| *d)
                .ok_or_else(|| ObjectError::Internal("body ended without its digests".into())),
        }
    }
}

/// Consumes `body` and writes it. With `allow_inline`, a body of at most
/// [`INLINE_LIMIT`] bytes is returned encoded instead of written. `digests` is set when
/// the caller hashes the body itself.
#[allow(clippy::too_many_arguments)]
pub async fn ingest(
    body: BodyStream,
    digests: Option<DigestSlot>,
    drives: &[DriveRef],
    distribution: &[usize],
    geometry: Geometry,
    stage: &StageId,
    file: &str,
    allow_inline: bool,
) -> ObjectResult<Ingested> {
    // Fused: the body may be asked for more after it ended (short bodies).
    let mut body = body.fuse();
    let md5 = Hashing::new(digests);
    let bs = geometry.block_size;
    let mut buf = BytesMut::with_capacity(bs);
    let first_limit = if allow_inline {
        INLINE_LIMIT as usize + 1
    } else {
        bs
    };
    let more = fill(&mut body, &mut buf, first_limit).await?;
    if !more && allow_inline {
        let block = buf.split().freeze();
        md5.feed(&block).await?;
        let codec = Codec::get(geometry.data, geometry.parity)
            .map_err(|e| ObjectError::Internal(e.to_string()))?;
        let shards = codec
            .encode_block(&block)
            .map_err(|e| ObjectError::Internal(e.to_string()))?;
        let d = md5.finish().await?;
        return Ok(Ingested {
            size: block.len() as u64,
            md5: d.md5,
            etag: d.etag,
            inline: Some(shards),
            written: vec![true; drives.len()],
        });
    }
    let sinks = open_writers(drives, distribution, stage, file).await;
    let mut writer = ErasureWriter::new(geometry, sinks)?;
    let mut size: u64 = 0;
    loop {
        let more = fill(&mut body, &mut buf, bs).await?;
        while buf.len() >= bs || (!more && !buf.is_empty()) {
            let take = buf.len().min(bs);
            let block = buf.split_to(take).freeze();
            size += block.len() as u64;
            if size > MAX_PUT_SIZE {
                return Err(ObjectError::EntityTooLarge);
            }
            md5.feed(&block).await?;
            writer.write_block(&block).await?;
            if buf.capacity() < bs {
                buf.reserve(bs);
            }
        }
        if !more {
            break;
        }
    }
    let by_shard = writer.finish().await?;
    // Back to drive positions.
    let written = distribution
        .iter()
        .map(|s| by_shard.get(*s).copied().unwrap_or(false))
        .collect();
    let d = md5.finish().await?;
    Ok(Ingested {
        size,
        md5: d.md5,
        etag: d.etag,
        inline: None,
        written,
    })
}
