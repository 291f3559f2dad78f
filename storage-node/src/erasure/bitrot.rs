//! Bitrot checksum of each shard block.
//!
//! xxh3-128 was chosen by the benchmark in `bench/` (`cairn-bench-rs`): about 21 GB/s
//! per core on this machine kind against 11.8 GB/s for HighwayHash-256 and 6 GB/s for
//! BLAKE3 (see `../shared/MACHINE.md`), and 128 bits make an undetected random
//! corruption practically impossible. It protects against corruption, not against an
//! adversary who can write the drive.

pub const HASH_LEN: usize = 16;

pub fn hash(data: &[u8]) -> [u8; HASH_LEN] {
    xxhash_rust::xxh3::xxh3_128(data).to_le_bytes()
}

/// Splits a stored shard block into checksum and data and verifies it.
pub fn verify(stored: &[u8]) -> Option<&[u8]> {
    if stored.len() < HASH_LEN {
        return None;
    }
    let (h, data) = stored.split_at(HASH_LEN);
    (hash(data).as_slice() == h).then_some(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_a_flipped_bit() {
        let data = vec![7u8; 1000];
        let mut stored = hash(&data).to_vec();
        stored.extend_from_slice(&data);
        assert_eq!(verify(&stored), Some(&data[..]));
        stored[HASH_LEN + 500] ^= 1;
        assert_eq!(verify(&stored), None);
        assert_eq!(verify(&stored[..3]), None);
    }
}
