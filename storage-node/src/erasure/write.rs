//! The write side: blocks in, stored shard blocks out to every drive of the set.

use super::{Codec, CodecError, Geometry};
use crate::drive::{DriveError, ShardWriter};
use futures::future::join_all;

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("write quorum lost: {online} of {total} drives accepted the data, {quorum} needed")]
    Quorum {
        online: usize,
        total: usize,
        quorum: usize,
    },
    #[error(transparent)]
    Codec(#[from] CodecError),
}

/// Encodes blocks and appends each shard to its drive. A drive that fails is dropped
/// for the rest of the write; the write fails as soon as fewer than `write_quorum`
/// drives remain, so a caller never commits an object that cannot be read back.
pub struct ErasureWriter {
    codec: Codec,
    geometry: Geometry,
    /// Indexed by shard number.
    sinks: Vec<Option<Box<dyn ShardWriter>>>,
    errors: Vec<Option<DriveError>>,
}

impl ErasureWriter {
    pub fn new(
        geometry: Geometry,
        sinks: Vec<Option<Box<dyn ShardWriter>>>,
    ) -> Result<Self, WriteError> {
        let codec = Codec::get(geometry.data, geometry.parity)?;
        let n = sinks.len();
        let w = Self {
            codec,
            geometry,
            sinks,
            errors: (0..n).map(|_| None).collect(),
        };
        w.check_quorum()?;
        Ok(w)
    }

    fn online(&self) -> usize {
        self.sinks.iter().filter(|s| s.is_some()).count()
    }

    fn check_quorum(&self) -> Result<(), WriteError> {
        let online = self.online();
        let quorum = self.geometry.write_quorum();
        if online < quorum {
            return Err(WriteError::Quorum {
                online,
                total: self.sinks.len(),
                quorum,
            });
        }
        Ok(())
    }

    /// Encodes and writes one block (at most `block_size` bytes; only the last block of
    /// a part may be shorter).
    pub async fn write_block(&mut self, block: &[u8]) -> Result<(), WriteError> {
        let shards = self.codec.encode_block(block)?;
        let results = join_all(
            self.sinks
                .iter_mut()
                .zip(shards)
                .map(|(sink, shard)| async move {
                    match sink {
                        Some(w) => w.write(shard).await,
                        None => Ok(()),
                    }
                }),
        )
        .await;
        for (i, r) in results.into_iter().enumerate() {
            if let Err(e) = r {
                tracing::warn!(shard = i, error = %e, "shard write failed");
                self.sinks[i] = None;
                self.errors[i] = Some(e);
            }
        }
        self.check_quorum()
    }

    /// Makes every shard durable; returns which shards (by index) were written.
    pub async fn finish(mut self) -> Result<Vec<bool>, WriteError> {
        let sinks = std::mem::take(&mut self.sinks);
        let results = join_all(sinks.into_iter().map(|s| async move {
            match s {
                Some(w) => Some(w.finish().await),
                None => None,
            }
        }))
        .await;
        let written: Vec<bool> = results.iter().map(|r| matches!(r, Some(Ok(())))).collect();
        let online = written.iter().filter(|w| **w).count();
        let quorum = self.geometry.write_quorum();
        if online < quorum {
            return Err(WriteError::Quorum {
                online,
                total: written.len(),
                quorum,
            });
        }
        Ok(written)
    }
}
