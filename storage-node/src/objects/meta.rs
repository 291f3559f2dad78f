//! The per-drive object metadata file (`~meta`), format version 1.
//!
//! ```text
//! bytes 0..8    magic "CAIRNMT1"
//! bytes 8..12   u32 little endian: length N of the JSON header
//! bytes 12..12+N  JSON: ObjectMeta (below)
//! rest          inline shard file of this drive (small objects only), the same
//!               layout as a shard file: per block, 16-byte xxh3-128 + shard bytes
//! ```
//!
//! Every drive of the set holds its own copy; they differ only in `erasure.index` and
//! the inline bytes. Readers pick the version agreed by a read quorum of drives
//! (same `version_id`). JSON keeps the header readable with standard tools and cheap to
//! extend; new fields must be optional so that older files stay readable.

use crate::erasure::Geometry;
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAGIC: &[u8; 8] = b"CAIRNMT1";
const PREFIX_LEN: usize = 12;
/// Refuse absurd header lengths from corrupt files before allocating.
const MAX_HEADER: usize = 16 << 20;

pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectMeta {
    pub format: u32,
    /// Unique per write; drives agree on an object version by this id.
    pub version_id: String,
    pub size: u64,
    /// Quoted-less hex ETag: MD5 of the body, or `md5-of-part-md5s-N` for multipart.
    pub etag: String,
    /// Modification time in milliseconds since the Unix epoch.
    pub mod_time_ms: i64,
    /// Content-Type, Content-Encoding, Cache-Control, ... and `x-amz-meta-*`, by lower-case name.
    pub headers: BTreeMap<String, String>,
    /// Checksums (`crc32`, `crc32c`, `sha256`, ...) as base64, as S3 returns them.
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
    pub erasure: ErasureInfo,
    /// Data directory holding the shard files; `None` when the data is inline.
    pub data_dir: Option<String>,
    pub parts: Vec<PartInfo>,
    /// Counts metadata-only changes of this version (an object ACL set after the
    /// write): copies of one `version_id` may differ in it for a while, and readers take
    /// the highest. Absent (0) in files written before it existed and never changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub meta_version: u64,
}

impl ObjectMeta {
    /// The object's size as clients see it: [`super::CONTENT_SIZE_HEADER`] when the stored
    /// bytes are longer (encrypted), else the stored size.
    pub fn content_size(&self) -> u64 {
        self.headers
            .get(super::CONTENT_SIZE_HEADER)
            .and_then(|v| v.parse().ok())
            .unwrap_or(self.size)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErasureInfo {
    pub geometry: Geometry,
    /// Shard index (0-based) stored on this drive.
    pub index: usize,
    /// `distribution[d]` is the shard index held by drive position `d` of the set.
    pub distribution: Vec<usize>,
    pub bitrot: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PartInfo {
    pub number: u32,
    pub size: u64,
    pub etag: String,
    #[serde(default)]
    pub checksums: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    #[error("metadata file is too short or has a bad magic")]
    Magic,
    #[error("metadata header is truncated")]
    Truncated,
    #[error("metadata header: {0}")]
    Json(#[from] serde_json::Error),
    #[error("metadata format {0} is newer than this server understands")]
    Version(u32),
}

/// Length of magic, length prefix and JSON header, when `head` starts a metadata file.
pub fn header_len(head: &[u8]) -> Option<usize> {
    if head.len() < PREFIX_LEN || &head[..8] != MAGIC {
        return None;
    }
    let n = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
    (n <= MAX_HEADER).then_some(PREFIX_LEN + n)
}

pub fn encode(meta: &ObjectMeta, inline: Option<&[u8]>) -> Result<Bytes, MetaError> {
    let json = serde_json::to_vec(meta)?;
    let inline = inline.unwrap_or_default();
    let mut out = BytesMut::with_capacity(PREFIX_LEN + json.len() + inline.len());
    out.put_slice(MAGIC);
    out.put_u32_le(json.len() as u32);
    out.put_slice(&json);
    out.put_slice(inline);
    Ok(out.freeze())
}

/// Parses a metadata file; returns the header and the inline shard bytes (maybe empty).
pub fn decode(file: &Bytes) -> Result<(ObjectMeta, Bytes), MetaError> {
    let end = header_len(file).ok_or(MetaError::Magic)?;
    if file.len() < end {
        return Err(MetaError::Truncated);
    }
    let meta: ObjectMeta = serde_json::from_slice(&file[PREFIX_LEN..end])?;
    if meta.format > FORMAT_VERSION {
        return Err(MetaError::Version(meta.format));
    }
    Ok((meta, file.slice(end..)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ObjectMeta {
        ObjectMeta {
            format: FORMAT_VERSION,
            version_id: "v1".into(),
            size: 5,
            etag: "abc".into(),
            mod_time_ms: 1,
            headers: BTreeMap::from([("content-type".into(), "text/plain".into())]),
            checksums: BTreeMap::new(),
            erasure: ErasureInfo {
                geometry: Geometry::new(4, 4),
                index: 2,
                distribution: (0..8).collect(),
                bitrot: "xxh3-128".into(),
            },
            data_dir: None,
            parts: vec![],
            meta_version: 0,
        }
    }

    #[test]
    fn roundtrip_with_inline_data() {
        let m = sample();
        let file = encode(&m, Some(b"inline")).unwrap();
        let (back, inline) = decode(&file).unwrap();
        assert_eq!(back, m);
        assert_eq!(&inline[..], b"inline");
        assert_eq!(header_len(&file), Some(file.len() - 6));
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        for bad in [
            &b""[..],
            b"CAIRNMT1",
            b"CAIRNMT1\xff\xff\xff\xff{}",
            b"XXXXXXXX\x02\0\0\0{}",
        ] {
            assert!(decode(&Bytes::copy_from_slice(bad)).is_err());
        }
        let mut truncated = encode(&sample(), None).unwrap().to_vec();
        truncated.truncate(truncated.len() - 3);
        assert!(decode(&Bytes::from(truncated)).is_err());
    }
}
