//! Streaming an object (or a byte range of it) out of its erasure set.

use super::ObjectInfo;
use super::error::{ObjectError, ObjectResult};
use super::ingest::BodyStream;
use super::set::{ErasureSet, Resolved};
use crate::erasure::read::ErasureReader;
use bytes::Bytes;
use std::sync::Arc;

/// An object opened for reading. It holds no lock: the version was resolved under the
/// key's read lock (see [`ErasureSet::open`]), and its data directories stay readable, in
/// the drives' trash if an overwrite or delete removes them meanwhile, so a client that
/// stops reading never blocks a writer of the key.
pub struct ObjectReader {
    set: Arc<ErasureSet>,
    bucket: String,
    key: String,
    resolved: Resolved,
    pub info: ObjectInfo,
}

/// Which bytes of which part to send next.
struct Cursor {
    set: Arc<ErasureSet>,
    bucket: String,
    key: String,
    resolved: Resolved,
    /// (part index, first byte, last byte inclusive) within each part.
    plan: Vec<(usize, u64, u64)>,
    step: usize,
    reader: Option<(ErasureReader, u64)>,
}

impl Cursor {
    async fn next_chunk(&mut self) -> ObjectResult<Option<Bytes>> {
        loop {
            let Some(&(part, first, last)) = self.plan.get(self.step) else {
                return Ok(None);
            };
            if self.reader.is_none() {
                let r = self
                    .set
                    .part_reader(&self.bucket, &self.key, &self.resolved, part)?;
                self.reader = Some((r, first));
            }
            let Some((reader, pos)) = self.reader.as_mut() else {
                return Ok(None);
            };
            if *pos > last {
                if let Some((r, _)) = self.reader.take() {
                    self.set
                        .count_repair(&self.bucket, &self.key, r.repaired_blocks);
                }
                self.step += 1;
                continue;
            }
            let bs = self.resolved.meta.erasure.geometry.block_size as u64;
            let block = *pos / bs;
            let data = reader.read_block(block).await?;
            let block_start = block * bs;
            let from = (*pos - block_start) as usize;
            let to = ((last - block_start + 1) as usize).min(data.len());
            if from >= to {
                return Err(ObjectError::Internal("block shorter than expected".into()));
            }
            *pos = block_start + to as u64;
            return Ok(Some(data.slice(from..to)));
        }
    }
}

impl ObjectReader {
    pub(crate) fn new(set: Arc<ErasureSet>, bucket: &str, key: &str, resolved: Resolved) -> Self {
        let info = ObjectInfo::from_meta(bucket, key, &resolved.meta);
        Self {
            set,
            bucket: bucket.to_string(),
            key: key.to_string(),
            resolved,
            info,
        }
    }

    /// Streams bytes `first..=last` (the whole object when `None`). The first block is
    /// read before returning, so a lost quorum becomes an S3 error, not a cut body.
    pub async fn stream(self, range: Option<(u64, u64)>) -> ObjectResult<BodyStream> {
        let size = self.info.stored_size;
        let (first, last) = match range {
            Some(r) => r,
            None if size == 0 => return Ok(Box::pin(futures::stream::empty())),
            None => (0, size - 1),
        };
        let mut plan = Vec::new();
        let mut offset = 0u64;
        for (i, p) in self.resolved.meta.parts.iter().enumerate() {
            let (start, end) = (offset, offset + p.size);
            offset = end;
            if p.size == 0 || end <= first || start > last {
                continue;
            }
            plan.push((i, first.max(start) - start, last.min(end - 1) - start));
        }
        let mut cursor = Cursor {
            set: self.set,
            bucket: self.bucket,
            key: self.key,
            resolved: self.resolved,
            plan,
            step: 0,
            reader: None,
        };
        let head = cursor.next_chunk().await?;
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
        tokio::spawn(async move {
            let mut next = head;
            while let Some(chunk) = next {
                if tx.send(Ok(chunk)).await.is_err() {
                    return; // client went away
                }
                next = match cursor.next_chunk().await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(error = %e, "object read failed mid-stream");
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        return;
                    }
                };
            }
        });
        Ok(Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        })))
    }
}
