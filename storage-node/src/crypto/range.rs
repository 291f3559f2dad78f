//! Plaintext byte ranges of an encrypted object mapped onto its stored bytes: which
//! packages of which parts a read needs, so a range GET reads and decrypts only those.

use super::CryptoError;
use super::package::{PACKAGE, SEALED_PACKAGE, plain_len};

/// The packages read from one part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub part_number: u32,
    /// Index of the first package read in the part.
    pub first_package: u32,
    /// The part's whole stored size (tells which package is its last).
    pub part_stored: u64,
    /// Stored bytes read from this part.
    pub stored_len: u64,
}

/// A read of plaintext bytes `first..=last`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Stored bytes to read, inclusive, over the concatenated parts.
    pub stored_first: u64,
    pub stored_last: u64,
    pub segments: Vec<Segment>,
    /// Plaintext bytes to drop from the first package read.
    pub skip: u64,
    /// Plaintext bytes to return.
    pub len: u64,
}

/// Plaintext size of each part, from the stored `(number, size)` list.
pub fn plain_parts(parts: &[(u32, u64)]) -> Result<Vec<(u32, u64)>, CryptoError> {
    parts
        .iter()
        .map(|&(n, s)| plain_len(s).map(|p| (n, p)))
        .collect()
}

/// Plaintext size of the whole object.
pub fn plain_size(parts: &[(u32, u64)]) -> Result<u64, CryptoError> {
    plain_parts(parts).map(|p| p.iter().map(|(_, s)| s).sum())
}

/// Plans the read of plaintext bytes `first..=last` (`first <= last`, within the object).
pub fn plan(parts: &[(u32, u64)], first: u64, last: u64) -> Result<Plan, CryptoError> {
    let mut segments = Vec::new();
    let (mut stored_at, mut plain_at) = (0u64, 0u64);
    let (mut stored_first, mut stored_last, mut skip) = (None, 0u64, 0u64);
    for &(number, stored) in parts {
        let plain = plain_len(stored)?;
        let (part_first, part_end) = (plain_at, plain_at + plain);
        let started = stored_first.is_some();
        let overlaps = plain > 0 && part_end > first && part_first <= last;
        if overlaps || (started && part_first <= last) {
            let (a, b) = if plain == 0 {
                (0, 0)
            } else {
                (
                    first.max(part_first) - part_first,
                    last.min(part_end - 1) - part_first,
                )
            };
            let (pi, pj) = (a / PACKAGE as u64, b / PACKAGE as u64);
            let start = pi * SEALED_PACKAGE as u64;
            let end = ((pj + 1) * SEALED_PACKAGE as u64).min(stored);
            if !started {
                stored_first = Some(stored_at + start);
                skip = a - pi * PACKAGE as u64;
            }
            stored_last = stored_at + end - 1;
            segments.push(Segment {
                part_number: number,
                first_package: u32::try_from(pi)
                    .map_err(|_| CryptoError::Corrupt("part too large"))?,
                part_stored: stored,
                stored_len: end - start,
            });
        }
        stored_at += stored;
        plain_at = part_end;
        if plain_at > last {
            break;
        }
    }
    let stored_first =
        stored_first.ok_or(CryptoError::Corrupt("range outside the encrypted object"))?;
    Ok(Plan {
        stored_first,
        stored_last,
        segments,
        skip,
        len: last - first + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::package::sealed_len;

    #[test]
    fn a_range_inside_one_package_reads_one_package() {
        let parts = [(1, sealed_len(200_000))];
        let p = plan(&parts, 70_000, 70_010).unwrap();
        assert_eq!(p.stored_first, SEALED_PACKAGE as u64);
        assert_eq!(p.stored_last, 2 * SEALED_PACKAGE as u64 - 1);
        assert_eq!(p.skip, 70_000 - PACKAGE as u64);
        assert_eq!(p.len, 11);
        assert_eq!(p.segments.len(), 1);
        assert_eq!(p.segments[0].first_package, 1);
    }

    #[test]
    fn a_range_across_parts_is_one_contiguous_stored_range() {
        let sizes = [5u64 << 20, 5 << 20, 1000];
        let parts: Vec<(u32, u64)> = sizes
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u32 + 1, sealed_len(*s)))
            .collect();
        assert_eq!(plain_size(&parts).unwrap(), sizes.iter().sum::<u64>());
        let p = plan(&parts, (5 << 20) - 10, (10 << 20) + 5).unwrap();
        assert_eq!(p.segments.len(), 3);
        let covered: u64 = p.segments.iter().map(|s| s.stored_len).sum();
        assert_eq!(covered, p.stored_last - p.stored_first + 1);
        assert_eq!(p.segments[1].first_package, 0);
        assert_eq!(p.segments[1].stored_len, parts[1].1);
        assert_eq!(p.stored_last, parts[0].1 + parts[1].1 + parts[2].1 - 1);
    }
}
