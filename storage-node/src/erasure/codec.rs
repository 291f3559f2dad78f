//! Reed-Solomon over GF(2^8) with `reed-solomon-erasure` and its `simd-accel` feature.
//!
//! Chosen by measurement on this machine kind (`bench/`, `../shared/MACHINE.md`): 4+4
//! encode at about 8 GB/s and reconstruction of 4 lost shards at about 9 GB/s per core
//! at every stripe size, where `reed-solomon-simd` pays about 0.2 ms per decode call
//! (0.02 GB/s on 4 KiB stripes) and the pure-Rust build runs at 0.7 GB/s.

use bytes::{Bytes, BytesMut};
use reed_solomon_erasure::galois_8::ReedSolomon;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::bitrot;

#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("invalid erasure geometry {data}+{parity}")]
    Geometry { data: usize, parity: usize },
    #[error("only {have} of {need} shards are readable")]
    TooFewShards { have: usize, need: usize },
    #[error("reed-solomon: {0}")]
    Rs(String),
}

/// A codec for one (data, parity) pair; cheap to clone.
#[derive(Clone)]
pub struct Codec {
    data: usize,
    parity: usize,
    rs: Option<Arc<ReedSolomon>>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Codec({}+{})", self.data, self.parity)
    }
}

impl Codec {
    /// Returns a shared codec; building the encoding matrix once per geometry.
    pub fn get(data: usize, parity: usize) -> Result<Codec, CodecError> {
        static CACHE: OnceLock<Mutex<HashMap<(usize, usize), Codec>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let mut map = cache
            .lock()
            .map_err(|_| CodecError::Rs("codec cache poisoned".into()))?;
        if let Some(c) = map.get(&(data, parity)) {
            return Ok(c.clone());
        }
        if data == 0 || data + parity > 256 {
            return Err(CodecError::Geometry { data, parity });
        }
        let rs = if parity == 0 {
            None
        } else {
            Some(Arc::new(
                ReedSolomon::new(data, parity).map_err(|e| CodecError::Rs(format!("{e:?}")))?,
            ))
        };
        let codec = Codec { data, parity, rs };
        map.insert((data, parity), codec.clone());
        Ok(codec)
    }

    pub fn data(&self) -> usize {
        self.data
    }

    pub fn total(&self) -> usize {
        self.data + self.parity
    }

    /// Encodes one block into `data + parity` stored shard blocks (checksum + shard),
    /// all carved out of a single allocation.
    pub fn encode_block(&self, block: &[u8]) -> Result<Vec<Bytes>, CodecError> {
        let shard = block.len().div_ceil(self.data).max(1);
        let stride = bitrot::HASH_LEN + shard;
        let n = self.total();
        let mut buf = BytesMut::zeroed(stride * n);
        for (i, chunk) in block.chunks(shard).enumerate() {
            let start = i * stride + bitrot::HASH_LEN;
            buf[start..start + chunk.len()].copy_from_slice(chunk);
        }
        if let Some(rs) = &self.rs {
            let mut shards: Vec<&mut [u8]> = buf
                .chunks_mut(stride)
                .map(|c| &mut c[bitrot::HASH_LEN..])
                .collect();
            rs.encode(&mut shards)
                .map_err(|e| CodecError::Rs(format!("{e:?}")))?;
        }
        for c in buf.chunks_mut(stride) {
            let (h, d) = c.split_at_mut(bitrot::HASH_LEN);
            h.copy_from_slice(&bitrot::hash(d));
        }
        let buf = buf.freeze();
        Ok((0..n)
            .map(|i| buf.slice(i * stride..(i + 1) * stride))
            .collect())
    }

    /// Rebuilds the data of one block from verified shard payloads (without checksum)
    /// and returns the first `block_len` bytes.
    pub fn decode_block(
        &self,
        mut shards: Vec<Option<Vec<u8>>>,
        block_len: usize,
    ) -> Result<Bytes, CodecError> {
        let have = shards.iter().filter(|s| s.is_some()).count();
        if have < self.data || shards.len() != self.total() {
            return Err(CodecError::TooFewShards {
                have,
                need: self.data,
            });
        }
        let missing_data = shards[..self.data].iter().any(Option::is_none);
        if missing_data {
            let rs = self.rs.as_ref().ok_or(CodecError::TooFewShards {
                have,
                need: self.data,
            })?;
            rs.reconstruct_data(&mut shards)
                .map_err(|e| CodecError::Rs(format!("{e:?}")))?;
        }
        let mut out = BytesMut::with_capacity(block_len);
        for s in shards.iter().take(self.data).flatten() {
            let take = (block_len - out.len()).min(s.len());
            out.extend_from_slice(&s[..take]);
            if out.len() == block_len {
                break;
            }
        }
        if out.len() != block_len {
            return Err(CodecError::Rs("shards shorter than the block".into()));
        }
        Ok(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn strip(stored: &Bytes) -> Vec<u8> {
        bitrot::verify(stored).expect("checksum").to_vec()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Every geometry a set can use (2 to 16 drives, parity 1 to half the set, and
        /// the single drive without parity) decodes any block after losing any `parity`
        /// shards.
        #[test]
        fn roundtrip_with_losses(
            set in 1usize..=16,
            parity_pick in any::<usize>(),
            len in 0usize..5000,
            seed in any::<u64>(),
        ) {
            let parity = if set == 1 { 0 } else { 1 + parity_pick % (set / 2) };
            prop_assert!(crate::cluster::layout::check_parity(parity, set).is_ok());
            let data = set - parity;
            let codec = Codec::get(data, parity).unwrap();
            let block: Vec<u8> = (0..len).map(|i| (i as u64).wrapping_mul(seed | 1) as u8).collect();
            let stored = codec.encode_block(&block).unwrap();
            prop_assert_eq!(stored.len(), set);
            let mut shards: Vec<Option<Vec<u8>>> = stored.iter().map(|s| Some(strip(s))).collect();
            // Drop `parity` shards chosen by the seed.
            let mut idx: Vec<usize> = (0..set).collect();
            idx.sort_by_key(|i| (*i as u64).wrapping_mul(seed.rotate_left(7) | 1) % 1009);
            for i in idx.iter().take(parity) { shards[*i] = None; }
            let out = codec.decode_block(shards, len).unwrap();
            prop_assert_eq!(&out[..], &block[..]);
        }
    }

    #[test]
    fn too_many_losses_fail() {
        let codec = Codec::get(4, 4).unwrap();
        let stored = codec.encode_block(&[1u8; 4096]).unwrap();
        let mut shards: Vec<Option<Vec<u8>>> = stored.iter().map(|s| Some(strip(s))).collect();
        for s in shards.iter_mut().take(5) {
            *s = None;
        }
        assert!(codec.decode_block(shards, 4096).is_err());
    }
}
