//! The checksum of a multipart object, made from its parts' checksums at
//! CompleteMultipartUpload without reading the object again.
//!
//! S3 knows two kinds ([`ChecksumType`]):
//! - `COMPOSITE`: the algorithm applied to the concatenated raw part checksums, written
//!   `<base64>-<parts>`; any algorithm but CRC-64/NVME.
//! - `FULL_OBJECT`: the CRC of the whole object, as if it had been uploaded in one piece;
//!   CRC32, CRC32C and CRC-64/NVME only. It is combined from the part CRCs and sizes with
//!   zlib's `crc32_combine` method (multiply by x^(8·len) modulo the polynomial), which
//!   works for any reflected CRC whose initial value and final xor are all ones.

use super::checksum::{ChecksumAlgorithm, Checksummer, LENIENT_BASE64};
use base64::Engine;

/// How a multipart upload's object checksum is made (`x-amz-checksum-type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumType {
    Composite,
    FullObject,
}

/// Why an upload's checksum settings or its parts' checksums are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MultipartChecksumError {
    /// An invalid combination or value of the settings: `InvalidRequest`.
    #[error("{0}")]
    InvalidRequest(String),
    /// A part checksum that is not base64 of the algorithm's length.
    #[error("invalid {0} checksum of part {1}")]
    InvalidPartChecksum(ChecksumAlgorithm, u32),
}

impl ChecksumType {
    /// Parses `x-amz-checksum-type` (`COMPOSITE`, `FULL_OBJECT`), case-insensitively.
    pub fn parse(name: &str) -> Result<Self, MultipartChecksumError> {
        match name.trim().to_ascii_uppercase().as_str() {
            "COMPOSITE" => Ok(Self::Composite),
            "FULL_OBJECT" => Ok(Self::FullObject),
            _ => Err(MultipartChecksumError::InvalidRequest(
                "Value for x-amz-checksum-type header is invalid.".into(),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Composite => "COMPOSITE",
            Self::FullObject => "FULL_OBJECT",
        }
    }

    /// S3's choice when the client names an algorithm but no type: CRC-64/NVME has only
    /// the full-object kind, every other algorithm defaults to composite.
    pub fn default_for(algo: ChecksumAlgorithm) -> Self {
        match algo {
            ChecksumAlgorithm::Crc64Nvme => Self::FullObject,
            _ => Self::Composite,
        }
    }

    /// Refuses the combinations S3 refuses: full-object SHA and composite CRC-64/NVME.
    pub fn check(self, algo: ChecksumAlgorithm) -> Result<(), MultipartChecksumError> {
        let ok = match self {
            Self::Composite => algo != ChecksumAlgorithm::Crc64Nvme,
            Self::FullObject => is_crc(algo),
        };
        match ok {
            true => Ok(()),
            false => Err(MultipartChecksumError::InvalidRequest(format!(
                "The {} checksum type cannot be used with the {} checksum algorithm.",
                self.name(),
                algo.name().to_ascii_lowercase()
            ))),
        }
    }

    /// The type of a stored object checksum: composite values carry a `-<parts>` suffix.
    pub fn of_value(value: &str) -> Self {
        match value.contains('-') {
            true => Self::Composite,
            false => Self::FullObject,
        }
    }
}

fn is_crc(algo: ChecksumAlgorithm) -> bool {
    matches!(
        algo,
        ChecksumAlgorithm::Crc32 | ChecksumAlgorithm::Crc32c | ChecksumAlgorithm::Crc64Nvme
    )
}

/// One part as the object checksum needs it: its number, its checksum (base64) and the
/// number of bytes the client sent.
#[derive(Debug, Clone)]
pub struct PartChecksum<'a> {
    pub number: u32,
    pub value: &'a str,
    pub size: u64,
}

/// The object checksum of parts in order, as S3 returns it in `x-amz-checksum-<algo>`.
pub fn object_checksum(
    algo: ChecksumAlgorithm,
    ty: ChecksumType,
    parts: &[PartChecksum<'_>],
) -> Result<String, MultipartChecksumError> {
    ty.check(algo)?;
    let mut raws = Vec::with_capacity(parts.len());
    for p in parts {
        let raw = LENIENT_BASE64
            .decode(p.value.trim())
            .ok()
            .filter(|r| r.len() == algo.digest_len())
            .ok_or(MultipartChecksumError::InvalidPartChecksum(algo, p.number))?;
        raws.push(raw);
    }
    let b64 = |raw: &[u8]| base64::engine::general_purpose::STANDARD.encode(raw);
    match ty {
        ChecksumType::Composite => {
            let mut c = Checksummer::new(algo);
            for raw in &raws {
                c.update(raw);
            }
            Ok(format!("{}-{}", c.finish_base64(), parts.len()))
        }
        ChecksumType::FullObject => {
            let (poly, width) = crc_params(algo);
            let mut crc = 0u64;
            for (raw, p) in raws.iter().zip(parts) {
                let next = raw.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
                crc = crc_combine(poly, width, crc, next, p.size);
            }
            let bytes = crc.to_be_bytes();
            Ok(b64(&bytes[8 - width as usize / 8..]))
        }
    }
}

/// Reflected polynomial and width in bits of a CRC algorithm.
fn crc_params(algo: ChecksumAlgorithm) -> (u64, u32) {
    match algo {
        ChecksumAlgorithm::Crc32c => (0x82F6_3B78, 32),
        ChecksumAlgorithm::Crc64Nvme => (0x9A6C_9329_AC4B_C9B5, 64),
        // Only CRCs reach here ([`ChecksumType::check`]); CRC32 is the remaining one.
        _ => (0xEDB8_8320, 32),
    }
}

/// `a(x)·b(x) mod p(x)` in the reflected representation of a `width`-bit CRC.
fn mult_mod_p(poly: u64, width: u32, a: u64, mut b: u64) -> u64 {
    let mut m = 1u64 << (width - 1);
    let mut p = 0u64;
    while m != 0 {
        if a & m != 0 {
            p ^= b;
        }
        m >>= 1;
        b = if b & 1 != 0 { (b >> 1) ^ poly } else { b >> 1 };
    }
    p
}

/// The CRC of `A || B` from `crc(A)`, `crc(B)` and the length of `B` in bytes
/// (zlib's `crc32_combine`, for any width up to 64 bits). O(log len) multiplications.
pub fn crc_combine(poly: u64, width: u32, crc_a: u64, crc_b: u64, len_b: u64) -> u64 {
    let one = 1u64 << (width - 1);
    // x^8 in the reflected representation: x^k is `one >> k`.
    let mut square = one >> 8;
    let mut shift = one;
    let mut n = len_b;
    while n != 0 {
        if n & 1 != 0 {
            shift = mult_mod_p(poly, width, shift, square);
        }
        square = mult_mod_p(poly, width, square, square);
        n >>= 1;
    }
    mult_mod_p(poly, width, shift, crc_a) ^ crc_b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::checksum::encode_checksum;
    use proptest::prelude::*;

    fn parts_of(
        algo: ChecksumAlgorithm,
        data: &[u8],
        cuts: &[usize],
        values: &mut Vec<String>,
    ) -> Vec<(u32, u64)> {
        let mut sizes = Vec::new();
        let mut start = 0;
        for (i, &end) in cuts.iter().chain([data.len()].iter()).enumerate() {
            let end = end.clamp(start, data.len());
            values.push(encode_checksum(algo, &data[start..end]));
            sizes.push((i as u32 + 1, (end - start) as u64));
            start = end;
        }
        sizes
    }

    proptest! {
        /// The combined CRC of any cut of the data into parts is the CRC of the whole.
        #[test]
        fn full_object_equals_whole_crc(
            data in proptest::collection::vec(any::<u8>(), 0..5000),
            mut cuts in proptest::collection::vec(0usize..5000, 0..6),
        ) {
            cuts.sort();
            for algo in [ChecksumAlgorithm::Crc32, ChecksumAlgorithm::Crc32c, ChecksumAlgorithm::Crc64Nvme] {
                let mut values = Vec::new();
                let sizes = parts_of(algo, &data, &cuts, &mut values);
                let parts: Vec<PartChecksum> = sizes
                    .iter()
                    .zip(&values)
                    .map(|((n, s), v)| PartChecksum { number: *n, value: v, size: *s })
                    .collect();
                let got = object_checksum(algo, ChecksumType::FullObject, &parts).unwrap();
                prop_assert_eq!(got, encode_checksum(algo, &data), "{}", algo);
            }
        }
    }

    #[test]
    fn composite_hashes_the_raw_part_checksums() {
        let p1 = encode_checksum(ChecksumAlgorithm::Sha256, b"hello ");
        let p2 = encode_checksum(ChecksumAlgorithm::Sha256, b"world");
        let parts = [
            PartChecksum {
                number: 1,
                value: &p1,
                size: 6,
            },
            PartChecksum {
                number: 2,
                value: &p2,
                size: 5,
            },
        ];
        let got =
            object_checksum(ChecksumAlgorithm::Sha256, ChecksumType::Composite, &parts).unwrap();
        let mut raw = LENIENT_BASE64.decode(&p1).unwrap();
        raw.extend(LENIENT_BASE64.decode(&p2).unwrap());
        let want = format!("{}-2", encode_checksum(ChecksumAlgorithm::Sha256, &raw));
        assert_eq!(got, want);
        assert_eq!(ChecksumType::of_value(&got), ChecksumType::Composite);
    }

    /// Pins the composite construction against an independent computation with
    /// crc32fast: CRC32 of the big-endian part CRCs, then `-<parts>`.
    #[test]
    fn composite_crc32_matches_an_independent_computation() {
        let a = vec![b'a'; 5 << 20];
        let pa = encode_checksum(ChecksumAlgorithm::Crc32, &a);
        let pb = encode_checksum(ChecksumAlgorithm::Crc32, b"b");
        let parts = [
            PartChecksum {
                number: 1,
                value: &pa,
                size: a.len() as u64,
            },
            PartChecksum {
                number: 2,
                value: &pb,
                size: 1,
            },
        ];
        let got =
            object_checksum(ChecksumAlgorithm::Crc32, ChecksumType::Composite, &parts).unwrap();
        let mut h = crc32fast::Hasher::new();
        h.update(&crc32fast::hash(&a).to_be_bytes());
        h.update(&crc32fast::hash(b"b").to_be_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(h.finalize().to_be_bytes());
        assert_eq!(got, format!("{want}-2"));
    }

    #[test]
    fn refused_combinations_and_values() {
        assert!(
            ChecksumType::FullObject
                .check(ChecksumAlgorithm::Sha1)
                .is_err()
        );
        assert!(
            ChecksumType::FullObject
                .check(ChecksumAlgorithm::Sha256)
                .is_err()
        );
        assert!(
            ChecksumType::Composite
                .check(ChecksumAlgorithm::Crc64Nvme)
                .is_err()
        );
        assert!(
            ChecksumType::Composite
                .check(ChecksumAlgorithm::Crc32)
                .is_ok()
        );
        assert!(ChecksumType::parse("full_object").is_ok());
        assert!(ChecksumType::parse("whole").is_err());
        let parts = [PartChecksum {
            number: 3,
            value: "AAAA",
            size: 1,
        }];
        assert_eq!(
            object_checksum(ChecksumAlgorithm::Crc32, ChecksumType::Composite, &parts),
            Err(MultipartChecksumError::InvalidPartChecksum(
                ChecksumAlgorithm::Crc32,
                3
            ))
        );
        assert_eq!(
            ChecksumType::default_for(ChecksumAlgorithm::Crc64Nvme),
            ChecksumType::FullObject
        );
    }
}
