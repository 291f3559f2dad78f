//! The read side: verified shard blocks in, object bytes out, reconstructing from
//! parity whenever a shard is missing, unreadable or fails its checksum.
//!
//! A reader whose caller authenticates the bytes itself (encrypted objects: AES-GCM
//! checks every package) may skip the checksums ([`ErasureReader::skip_bitrot_check`]);
//! the caller then reads again with them when its own check fails, which finds the bad
//! shard and rebuilds from parity.

use super::{Codec, CodecError, Geometry, bitrot};
use crate::drive::DriveRef;
use bytes::Bytes;
use futures::future::join_all;

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("read quorum lost: {good} of {total} shards readable, {quorum} needed")]
    Quorum {
        good: usize,
        total: usize,
        quorum: usize,
    },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Where one shard of a part can be read from.
#[derive(Debug, Clone)]
pub enum ShardSource {
    Drive {
        drive: DriveRef,
        volume: String,
        key: String,
        data_dir: String,
        file: String,
    },
    /// Small objects keep their shard inside the metadata file.
    Inline(Bytes),
    Missing,
}

impl ShardSource {
    async fn read(&self, offset: u64, len: usize) -> Option<Bytes> {
        match self {
            ShardSource::Drive {
                drive,
                volume,
                key,
                data_dir,
                file,
            } => match drive
                .read_shard(volume, key, data_dir, file, offset, len)
                .await
            {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::debug!(drive = %drive.endpoint(), error = %e, "shard read failed");
                    None
                }
            },
            ShardSource::Inline(b) => {
                let start = usize::try_from(offset).ok()?;
                let end = start.checked_add(len)?;
                (end <= b.len()).then(|| b.slice(start..end))
            }
            ShardSource::Missing => None,
        }
    }
}

/// Reads blocks of one erasure-coded part. Shards found bad are remembered and skipped
/// for the following blocks; `repaired` counts blocks that needed parity.
pub struct ErasureReader {
    codec: Codec,
    geometry: Geometry,
    size: u64,
    sources: Vec<ShardSource>,
    bad: Vec<bool>,
    /// Checks each shard block against its bitrot checksum (the default).
    verify: bool,
    pub repaired_blocks: u64,
}

impl ErasureReader {
    pub fn new(
        geometry: Geometry,
        size: u64,
        sources: Vec<ShardSource>,
    ) -> Result<Self, ReadError> {
        let codec = Codec::get(geometry.data, geometry.parity)?;
        let bad = sources
            .iter()
            .map(|s| matches!(s, ShardSource::Missing))
            .collect();
        Ok(Self {
            codec,
            geometry,
            size,
            sources,
            bad,
            verify: true,
            repaired_blocks: 0,
        })
    }

    /// Takes shard blocks as read, without their bitrot checksums: a corrupt shard is
    /// then passed on, not rebuilt from parity. Only for a caller that authenticates
    /// every byte it gets and reads again with checks when that fails: the hash costs
    /// about 5 % of the server's CPU per large GET (xxh3-128 over every data shard,
    /// bench/results/2026-12-07-*-sse.md), which AES-GCM makes redundant.
    pub fn skip_bitrot_check(&mut self) {
        self.verify = false;
    }

    pub fn block_count(&self) -> u64 {
        self.size.div_ceil(self.geometry.block_size as u64)
    }

    /// Shards that failed so far (for healing).
    pub fn bad_shards(&self) -> &[bool] {
        &self.bad
    }

    /// Reads, verifies and if needed reconstructs block `index`, as one buffer.
    pub async fn read_block(&mut self, index: u64) -> Result<Bytes, ReadError> {
        let mut pieces = self.read_block_pieces(index).await?;
        if pieces.len() == 1 {
            if let Some(only) = pieces.pop() {
                return Ok(only);
            }
        }
        // Healthy: the data shards are the block, no reconstruction and one copy.
        let len = pieces.iter().map(Bytes::len).sum();
        let mut out = bytes::BytesMut::with_capacity(len);
        for p in &pieces {
            out.extend_from_slice(p);
        }
        Ok(out.freeze())
    }

    /// Block `index` as consecutive pieces: when every data shard is good, the data
    /// shards themselves (cut to the block's length), so a caller that works on each
    /// piece where it lies (decryption in place) skips the copy into one block buffer,
    /// a 1 MiB memcpy per MiB read; after a reconstruction, the rebuilt block.
    pub async fn read_block_pieces(&mut self, index: u64) -> Result<Vec<Bytes>, ReadError> {
        let bs = self.geometry.block_size as u64;
        let start = index * bs;
        let block_len = (self.size.saturating_sub(start)).min(bs) as usize;
        let stored_len = self.geometry.stored_shard_len(block_len);
        let offset = index * self.geometry.stored_shard_len(self.geometry.block_size) as u64;
        let total = self.sources.len();
        let k = self.geometry.data;
        let mut shards: Vec<Option<Bytes>> = vec![None; total];
        let mut good = 0;
        // Data shards first: a healthy read never touches parity.
        let mut candidates: Vec<usize> = (0..total).filter(|i| !self.bad[*i]).collect();
        candidates.sort_by_key(|i| (*i >= k, *i));
        let mut next = 0;
        while good < k {
            let want = k - good;
            let batch: Vec<usize> = candidates.iter().skip(next).take(want).copied().collect();
            if batch.is_empty() {
                return Err(ReadError::Quorum {
                    good,
                    total,
                    quorum: k,
                });
            }
            next += batch.len();
            let reads = join_all(
                batch
                    .iter()
                    .map(|i| self.sources[*i].read(offset, stored_len)),
            )
            .await;
            for (i, r) in batch.iter().zip(reads) {
                let verify = self.verify;
                let usable = r.filter(|b| {
                    if verify {
                        bitrot::verify(b).is_some()
                    } else {
                        b.len() == stored_len
                    }
                });
                match usable {
                    Some(stored) => {
                        shards[*i] = Some(stored.slice(bitrot::HASH_LEN..));
                        good += 1;
                    }
                    None => {
                        tracing::warn!(
                            shard = i,
                            block = index,
                            "shard missing or corrupt, using parity"
                        );
                        self.bad[*i] = true;
                    }
                }
            }
        }
        if shards[..k].iter().all(Option::is_some) {
            let mut pieces = Vec::with_capacity(k);
            let mut left = block_len;
            for s in shards[..k].iter().flatten() {
                if left == 0 {
                    break;
                }
                let take = left.min(s.len());
                pieces.push(s.slice(..take));
                left -= take;
            }
            if left != 0 {
                return Err(CodecError::Rs("shards shorter than the block".into()).into());
            }
            return Ok(pieces);
        }
        self.repaired_blocks += 1;
        let owned = shards.into_iter().map(|s| s.map(|b| b.to_vec())).collect();
        Ok(vec![self.codec.decode_block(owned, block_len)?])
    }
}
