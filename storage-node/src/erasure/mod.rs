//! Layer 5: streaming Reed-Solomon erasure coding with a bitrot checksum per shard block.
//!
//! An object body is cut into blocks of [`BLOCK_SIZE`]; each block into `data` shards
//! plus `parity` shards. Shard `i` of every block is appended to shard file `i`, each
//! shard block preceded by its checksum ([`bitrot`]), so a reader can verify any block
//! on its own and reconstruct it from any `data` good shards.

pub mod bitrot;
pub mod codec;
pub mod read;
pub mod write;

pub use codec::{Codec, CodecError};

/// Erasure block size: 1 MiB, as MinIO uses; large enough for sequential drive I/O,
/// small enough that a ranged GET reads little extra.
pub const BLOCK_SIZE: usize = 1 << 20;

/// The shape of one object's erasure coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Geometry {
    pub data: usize,
    pub parity: usize,
    pub block_size: usize,
}

impl Geometry {
    pub fn new(data: usize, parity: usize) -> Self {
        Self {
            data,
            parity,
            block_size: BLOCK_SIZE,
        }
    }

    pub fn total(&self) -> usize {
        self.data + self.parity
    }

    /// Bytes of one shard for a block of `block_len` bytes (the last block is shorter).
    pub fn shard_len(&self, block_len: usize) -> usize {
        block_len.div_ceil(self.data.max(1))
    }

    /// Bytes of a block's shard on disk, checksum included.
    pub fn stored_shard_len(&self, block_len: usize) -> usize {
        bitrot::HASH_LEN + self.shard_len(block_len)
    }

    /// Size of a whole shard file for a part of `size` bytes.
    pub fn shard_file_size(&self, size: u64) -> u64 {
        let bs = self.block_size as u64;
        let full = size / bs;
        let rem = (size % bs) as usize;
        let mut n = full * self.stored_shard_len(self.block_size) as u64;
        if rem > 0 {
            n += self.stored_shard_len(rem) as u64;
        }
        n
    }

    /// Read quorum: any `data` shards rebuild a block.
    pub fn read_quorum(&self) -> usize {
        self.data
    }

    /// Write quorum: the rule of `cluster::layout`, shared so both always agree.
    pub fn write_quorum(&self) -> usize {
        crate::cluster::layout::write_quorum(self.data, self.parity)
    }
}
