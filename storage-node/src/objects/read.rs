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
/// stops reading never blocks a writer of the key. A clone reads the same version again
/// (the decryption layer's verified second read, see [`ObjectReader::without_bitrot_check`]).
#[derive(Clone)]
pub struct ObjectReader {
    set: Arc<ErasureSet>,
    bucket: String,
    key: String,
    resolved: Arc<Resolved>,
    verify_bitrot: bool,
    in_pieces: bool,
    pub info: ObjectInfo,
}

/// Which bytes of which part to send next.
struct Cursor {
    set: Arc<ErasureSet>,
    bucket: String,
    key: String,
    resolved: Arc<Resolved>,
    verify_bitrot: bool,
    /// Send a healthy block as its data shards, not copied into one buffer.
    in_pieces: bool,
    /// (part index, first byte, last byte inclusive) within each part.
    plan: Vec<(usize, u64, u64)>,
    step: usize,
    reader: Option<(ErasureReader, u64)>,
}

impl Cursor {
    /// The next block's bytes of the range, as one buffer or (`in_pieces`) as the
    /// pieces [`ErasureReader::read_block_pieces`] gives.
    async fn next_chunk(&mut self) -> ObjectResult<Option<Vec<Bytes>>> {
        loop {
            let Some(&(part, first, last)) = self.plan.get(self.step) else {
                return Ok(None);
            };
            if self.reader.is_none() {
                let mut r = self
                    .set
                    .part_reader(&self.bucket, &self.key, &self.resolved, part)?;
                if !self.verify_bitrot {
                    r.skip_bitrot_check();
                }
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
            let pieces = if self.in_pieces {
                reader.read_block_pieces(block).await?
            } else {
                vec![reader.read_block(block).await?]
            };
            let block_start = block * bs;
            let block_len: usize = pieces.iter().map(Bytes::len).sum();
            let from = (*pos - block_start) as usize;
            let to = ((last - block_start + 1) as usize).min(block_len);
            if from >= to {
                return Err(ObjectError::Internal("block shorter than expected".into()));
            }
            *pos = block_start + to as u64;
            return Ok(Some(cut(pieces, from, to)));
        }
    }
}

/// Bytes `from..to` of the concatenation of `pieces`, without copying.
fn cut(pieces: Vec<Bytes>, from: usize, to: usize) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(pieces.len());
    let mut at = 0;
    for p in pieces {
        let (start, end) = (at, at + p.len());
        at = end;
        let (a, b) = (from.max(start), to.min(end));
        if a < b {
            out.push(if a == start && b == end {
                p
            } else {
                p.slice(a - start..b - start)
            });
        }
    }
    out
}

impl ObjectReader {
    pub(crate) fn new(set: Arc<ErasureSet>, bucket: &str, key: &str, resolved: Resolved) -> Self {
        let info = ObjectInfo::from_meta(bucket, key, &resolved.meta);
        Self {
            set,
            bucket: bucket.to_string(),
            key: key.to_string(),
            resolved: Arc::new(resolved),
            verify_bitrot: true,
            in_pieces: false,
            info,
        }
    }

    /// Reads shard blocks without their bitrot checksums
    /// ([`ErasureReader::skip_bitrot_check`]). Only for a caller that authenticates every
    /// byte (the decryption of an encrypted object) and, when that fails, reads again
    /// with a clone of this reader taken before this call, which has the checks.
    pub fn without_bitrot_check(mut self) -> Self {
        self.verify_bitrot = false;
        self
    }

    /// Streams each healthy block as its data shards (about 256 KiB each with 4 data
    /// shards) instead of copying them into one 1 MiB buffer
    /// ([`ErasureReader::read_block_pieces`]). For a consumer that rewrites the bytes
    /// where they lie (decryption in place), for which the copy was pure overhead.
    pub fn in_pieces(mut self) -> Self {
        self.in_pieces = true;
        self
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
            verify_bitrot: self.verify_bitrot,
            in_pieces: self.in_pieces,
            plan,
            step: 0,
            reader: None,
        };
        let head = cursor.next_chunk().await?;
        // One message per block, however many pieces it has, so a block costs the
        // reading task and the client's task one wake-up each, as before pieces.
        let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Vec<Bytes>>>(2);
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
        let queued = std::collections::VecDeque::new();
        Ok(Box::pin(futures::stream::unfold(
            (rx, queued),
            |(mut rx, mut queued)| async move {
                loop {
                    if let Some(piece) = queued.pop_front() {
                        return Some((Ok(piece), (rx, queued)));
                    }
                    match rx.recv().await? {
                        Ok(pieces) => queued.extend(pieces),
                        Err(e) => return Some((Err(e), (rx, queued))),
                    }
                }
            },
        )))
    }
}
