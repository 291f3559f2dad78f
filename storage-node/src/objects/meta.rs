//! The per-drive object metadata file (`~meta`): every version of one key.
//!
//! Format 2 (written now) holds the key's whole version list, newest first, as MinIO's
//! `xl.meta` does:
//!
//! ```text
//! bytes 0..8      magic "CAIRNMT2"
//! bytes 8..12     u32 little endian: length N of the JSON header
//! bytes 12..12+N  JSON: {"format":2, "write_id":"<uuid>", "versions":[ObjectMeta, ...],
//!                        "inline":[len, ...]}   (versions newest first)
//! rest            the inline shard bytes of the versions, concatenated in version
//!                 order; `inline[i]` bytes belong to `versions[i]` (0 for a version
//!                 with a data directory and for a delete marker). Each is laid out
//!                 like a shard file: per block, 16-byte xxh3-128 + shard bytes
//! ```
//!
//! Each version ([`ObjectMeta`]) has its own `version_id` (a UUID, unique per write),
//! its own data directory `~d.<data_dir>` or inline bytes, and two flags: `null_version`
//! (S3's version id is then `null`: written while the bucket was unversioned or
//! suspended) and `delete_marker` (a version without data: S3's delete marker). A key
//! whose last version is removed has no `~meta` file at all.
//!
//! Every drive of the set holds its own copy; copies differ only in each version's
//! `erasure.index` and inline bytes. `write_id` changes with every commit of the file
//! (a new version, a removed version, a metadata change): readers and heal pick the
//! file a read quorum of drives agrees on by it ([`super::set::pick_file`]), so a drive
//! that missed any change of the version list is outvoted and healed as a whole.
//!
//! Format 1 (`CAIRNMT1`, files written before versioning) held one version: the JSON
//! header *is* that version's `ObjectMeta` and the rest is its inline shard. It still
//! reads: as a file with that single version, marked `null_version`, whose `write_id`
//! is the version's `version_id` (so format-1 copies of one write still agree, and the
//! highest `meta_version` among them wins as before). The walk that lists keys reads only
//! the header ([`header_len`] knows both magics). JSON keeps the header readable with
//! standard tools; new fields must be optional so that older files stay readable.
//!
//! Object lock added two such optional fields to each version, `retention`
//! (`{"mode":"GOVERNANCE"|"COMPLIANCE","until_ms":<ms>}`) and `legal_hold` (`true`),
//! written only when set: files without them read as versions with no retention and no
//! legal hold, and the format number stays 2. Changing them is a metadata-only commit of
//! the file (a new `write_id`), like an object ACL. A third, `legal_hold_set` (`true`),
//! records that a legal hold was ever put on the version (ON or OFF), so that
//! GetObjectLegalHold can answer `NoSuchObjectLockConfiguration` for one that never had
//! one; older files without it read as never set unless `legal_hold` is `true`.

use crate::erasure::Geometry;
use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

const MAGIC_V1: &[u8; 8] = b"CAIRNMT1";
const MAGIC: &[u8; 8] = b"CAIRNMT2";
const PREFIX_LEN: usize = 12;
/// Refuse absurd header lengths from corrupt files before allocating.
const MAX_HEADER: usize = 16 << 20;

/// The format written now; [`ObjectMeta::format`] of every version written.
pub const FORMAT_VERSION: u32 = 2;
/// S3's version id of a version written without versioning (or while suspended).
pub const NULL_VERSION: &str = "null";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectMeta {
    pub format: u32,
    /// Unique per write of a version (a UUID); S3's version id unless `null_version`.
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
    /// write). Format-1 copies of one `version_id` may differ in it for a while, and
    /// readers take the highest. Absent (0) when never changed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub meta_version: u64,
    /// S3 knows this version as `null` (unversioned or suspended bucket, or a format-1
    /// file from before versioning).
    #[serde(default, skip_serializing_if = "is_false")]
    pub null_version: bool,
    /// A delete marker: a version without data.
    #[serde(default, skip_serializing_if = "is_false")]
    pub delete_marker: bool,
    /// S3 Object Lock retention of this version (mode and retain-until date); absent
    /// (and so in every file written before object lock) means none. See
    /// [`super::retention`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<super::retention::Retention>,
    /// S3 Object Lock legal hold of this version; absent means off.
    #[serde(default, skip_serializing_if = "is_false")]
    pub legal_hold: bool,
    /// A legal hold was put on this version, ON or OFF (GetObjectLegalHold of a version
    /// that never had one answers `NoSuchObjectLockConfiguration`, as S3 does); absent in
    /// files written before it was recorded, which read as never set unless on.
    #[serde(default, skip_serializing_if = "is_false")]
    pub legal_hold_set: bool,
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

    /// The version id S3 clients see: `null` or the UUID.
    pub fn s3_version_id(&self) -> &str {
        if self.null_version {
            NULL_VERSION
        } else {
            &self.version_id
        }
    }

    /// Whether S3's version id `id` names this version.
    pub fn is_named(&self, id: &str) -> bool {
        if id == NULL_VERSION {
            self.null_version
        } else {
            !self.null_version && self.version_id == id
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
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

/// One version of a key with this drive's inline shard bytes (empty when none).
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub meta: ObjectMeta,
    pub inline: Bytes,
}

/// One drive's metadata file of a key: every version, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaFile {
    /// Changes with every commit of the file; drives agree on a file by it.
    pub write_id: String,
    pub versions: Vec<Version>,
}

impl MetaFile {
    /// The newest version (files always hold at least one).
    pub fn latest(&self) -> Option<&ObjectMeta> {
        self.versions.first().map(|v| &v.meta)
    }

    /// The version S3 calls `id`.
    pub fn find(&self, id: &str) -> Option<&Version> {
        self.versions.iter().find(|v| v.meta.is_named(id))
    }

    /// Sum of the versions' `meta_version`s: of copies with one `write_id`, the highest
    /// carries the latest metadata-only change (format-1 files).
    pub fn meta_generation(&self) -> u64 {
        self.versions
            .iter()
            .fold(0u64, |a, v| a.saturating_add(v.meta.meta_version))
    }

    /// Data directories this file refers to.
    pub fn data_dirs(&self) -> impl Iterator<Item = &str> {
        self.versions
            .iter()
            .filter_map(|v| v.meta.data_dir.as_deref())
    }
}

/// The JSON header of format 2.
#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    write_id: String,
    versions: Vec<ObjectMeta>,
    #[serde(default)]
    inline: Vec<u64>,
}

/// Only the format number, to refuse newer files before parsing the rest.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
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
    #[error("metadata file holds no version")]
    Empty,
}

/// Length of magic, length prefix and JSON header, when `head` starts a metadata file
/// (of either format).
pub fn header_len(head: &[u8]) -> Option<usize> {
    if head.len() < PREFIX_LEN || (&head[..8] != MAGIC && &head[..8] != MAGIC_V1) {
        return None;
    }
    let n = u32::from_le_bytes([head[8], head[9], head[10], head[11]]) as usize;
    (n <= MAX_HEADER).then_some(PREFIX_LEN + n)
}

/// Whether `head` starts a file in the current format (format 2).
pub fn is_current_format(head: &[u8]) -> bool {
    head.starts_with(MAGIC)
}

/// The `write_id` of a metadata file (header) without parsing its JSON: the header starts
/// `{"format":2,"write_id":"<id>"` (format 2, fields in declaration order) or
/// `{"format":1,"version_id":"<id>"` (format 1, whose write id is its version id). `None`
/// when the bytes do not start that way; callers then decode the whole header. Listings
/// use it to group the drives' copies of a key cheaply.
pub fn peek_write_id(head: &[u8]) -> Option<&str> {
    let end = header_len(head)?.min(head.len());
    let json = head.get(PREFIX_LEN..end)?;
    let lead: &[u8] = if &head[..8] == MAGIC {
        br#"{"format":2,"write_id":""#
    } else {
        br#"{"format":1,"version_id":""#
    };
    let rest = json.strip_prefix(lead)?;
    let close = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    if rest[close] != b'"' {
        return None;
    }
    std::str::from_utf8(&rest[..close]).ok()
}

/// Encodes a file in format 2.
pub fn encode(file: &MetaFile) -> Result<Bytes, MetaError> {
    if file.versions.is_empty() {
        return Err(MetaError::Empty);
    }
    let header = Header {
        format: FORMAT_VERSION,
        write_id: file.write_id.clone(),
        versions: file.versions.iter().map(|v| v.meta.clone()).collect(),
        inline: file
            .versions
            .iter()
            .map(|v| v.inline.len() as u64)
            .collect(),
    };
    let json = serde_json::to_vec(&header)?;
    let inline: usize = file.versions.iter().map(|v| v.inline.len()).sum();
    let mut out = BytesMut::with_capacity(PREFIX_LEN + json.len() + inline);
    out.put_slice(MAGIC);
    out.put_u32_le(json.len() as u32);
    out.put_slice(&json);
    for v in &file.versions {
        out.put_slice(&v.inline);
    }
    Ok(out.freeze())
}

/// Parses a whole metadata file (either format), inline bytes included.
pub fn decode(file: &Bytes) -> Result<MetaFile, MetaError> {
    parse(file, true)
}

/// Parses only the header of a metadata file (what the listing walk returns): the
/// versions' inline bytes are left empty.
pub fn decode_header(head: &Bytes) -> Result<MetaFile, MetaError> {
    parse(head, false)
}

fn parse(file: &Bytes, with_inline: bool) -> Result<MetaFile, MetaError> {
    let end = header_len(file).ok_or(MetaError::Magic)?;
    if file.len() < end {
        return Err(MetaError::Truncated);
    }
    let json = &file[PREFIX_LEN..end];
    let format = serde_json::from_slice::<FormatOnly>(json)?.format;
    if format > FORMAT_VERSION {
        return Err(MetaError::Version(format));
    }
    if &file[..8] == MAGIC_V1 {
        let mut meta: ObjectMeta = serde_json::from_slice(json)?;
        meta.null_version = true;
        let inline = if with_inline {
            file.slice(end..)
        } else {
            Bytes::new()
        };
        return Ok(MetaFile {
            write_id: meta.version_id.clone(),
            versions: vec![Version { meta, inline }],
        });
    }
    let h: Header = serde_json::from_slice(json)?;
    if h.versions.is_empty() {
        return Err(MetaError::Empty);
    }
    let mut at = end;
    let mut versions = Vec::with_capacity(h.versions.len());
    for (i, meta) in h.versions.into_iter().enumerate() {
        let len = h.inline.get(i).copied().unwrap_or(0);
        let inline = if with_inline {
            let len = usize::try_from(len).map_err(|_| MetaError::Truncated)?;
            let stop = at.checked_add(len).ok_or(MetaError::Truncated)?;
            if stop > file.len() {
                return Err(MetaError::Truncated);
            }
            let b = file.slice(at..stop);
            at = stop;
            b
        } else {
            Bytes::new()
        };
        versions.push(Version { meta, inline });
    }
    Ok(MetaFile {
        write_id: h.write_id,
        versions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(id: &str) -> ObjectMeta {
        ObjectMeta {
            format: FORMAT_VERSION,
            version_id: id.into(),
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
            null_version: false,
            delete_marker: false,
            retention: None,
            legal_hold: false,
            legal_hold_set: false,
        }
    }

    fn three_versions() -> MetaFile {
        let mut marker = sample("v3");
        marker.delete_marker = true;
        let mut big = sample("v2");
        big.data_dir = Some("dd".into());
        big.retention = Some(super::super::retention::Retention {
            mode: super::super::retention::RetentionMode::Compliance,
            until_ms: 2_000_000_000_000,
        });
        let mut null = sample("v1");
        null.null_version = true;
        null.legal_hold = true;
        MetaFile {
            write_id: "w".into(),
            versions: vec![
                Version {
                    meta: marker,
                    inline: Bytes::new(),
                },
                Version {
                    meta: big,
                    inline: Bytes::new(),
                },
                Version {
                    meta: null,
                    inline: Bytes::from_static(b"inline"),
                },
            ],
        }
    }

    #[test]
    fn roundtrip_of_every_kind_of_version() {
        let f = three_versions();
        let bytes = encode(&f).unwrap();
        assert_eq!(&bytes[..8], b"CAIRNMT2");
        let back = decode(&bytes).unwrap();
        assert_eq!(back, f);
        // Object lock fields are written only where set.
        let json = String::from_utf8_lossy(&bytes);
        assert_eq!(json.matches("\"retention\"").count(), 1);
        assert_eq!(json.matches("\"legal_hold\":true").count(), 1);
        assert_eq!(header_len(&bytes), Some(bytes.len() - 6));
        assert_eq!(back.find("null").unwrap().meta.version_id, "v1");
        assert_eq!(
            back.find("v2").unwrap().meta.data_dir.as_deref(),
            Some("dd")
        );
        assert!(
            back.find("v1").is_none(),
            "a null version is not named by its uuid"
        );
        assert!(back.latest().unwrap().delete_marker);
        assert_eq!(back.data_dirs().collect::<Vec<_>>(), vec!["dd"]);
        assert_eq!(peek_write_id(&bytes), Some("w"));
        // The listing walk reads only the header.
        let head = bytes.slice(..header_len(&bytes).unwrap());
        let h = decode_header(&head).unwrap();
        assert_eq!(h.versions.len(), 3);
        assert!(h.versions.iter().all(|v| v.inline.is_empty()));
    }

    /// A file as format 1 wrote it (before versioning): one version, inline shard after
    /// the JSON header.
    const FORMAT_1_FILE: &[u8] = b"CAIRNMT1\xcc\x01\x00\x00{\"format\":1,\"version_id\":\"6f1c2a52-3c1e-4b7e-9a55-0d5b8c2e1f00\",\"size\":5,\"etag\":\"5d41402abc4b2a76b9719d911017c592\",\"mod_time_ms\":1764000000000,\"headers\":{\"content-type\":\"text/plain\",\"x-amz-meta-a\":\"b\"},\"checksums\":{},\"erasure\":{\"geometry\":{\"data\":2,\"parity\":2,\"block_size\":1048576},\"index\":1,\"distribution\":[3,0,1,2],\"bitrot\":\"xxh3-128\"},\"data_dir\":null,\"parts\":[{\"number\":1,\"size\":5,\"etag\":\"5d41402abc4b2a76b9719d911017c592\",\"checksums\":{}}],\"meta_version\":2}SHARD";

    #[test]
    fn format_1_files_read_as_a_single_null_version() {
        let bytes = Bytes::from_static(FORMAT_1_FILE);
        assert_eq!(header_len(&bytes), Some(bytes.len() - 5));
        assert_eq!(
            peek_write_id(&bytes),
            Some("6f1c2a52-3c1e-4b7e-9a55-0d5b8c2e1f00")
        );
        let f = decode(&bytes).unwrap();
        assert_eq!(f.write_id, "6f1c2a52-3c1e-4b7e-9a55-0d5b8c2e1f00");
        assert_eq!(f.versions.len(), 1);
        let v = &f.versions[0];
        assert!(v.meta.null_version && !v.meta.delete_marker);
        assert_eq!(v.meta.s3_version_id(), "null");
        assert_eq!(v.meta.size, 5);
        assert_eq!(v.meta.meta_version, 2);
        assert_eq!(f.meta_generation(), 2);
        assert_eq!(v.meta.erasure.index, 1);
        assert_eq!(v.meta.headers["x-amz-meta-a"], "b");
        // Written before object lock: no retention, no legal hold.
        assert!(v.meta.retention.is_none() && !v.meta.legal_hold);
        assert_eq!(&v.inline[..], b"SHARD");
        assert!(f.find("null").is_some());
        // Rewritten, it becomes format 2 and keeps its meaning.
        let again = decode(&encode(&f).unwrap()).unwrap();
        assert_eq!(again, f);
        let head = bytes.slice(..header_len(&bytes).unwrap());
        assert!(decode_header(&head).unwrap().versions[0].inline.is_empty());
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        for bad in [
            &b""[..],
            b"CAIRNMT1",
            b"CAIRNMT2",
            b"CAIRNMT2\xff\xff\xff\xff{}",
            b"XXXXXXXX\x02\0\0\0{}",
            b"CAIRNMT2\x02\0\0\0{}",
            b"CAIRNMT2\x35\0\0\0{\"format\":2,\"write_id\":\"w\",\"versions\":[],\"inline\":[]}",
            b"CAIRNMT2\x0c\0\0\0{\"format\":9}",
        ] {
            assert!(decode(&Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
            let _ = peek_write_id(bad);
        }
        let mut truncated = encode(&three_versions()).unwrap().to_vec();
        truncated.truncate(truncated.len() - 3);
        assert!(decode(&Bytes::from(truncated)).is_err());
        let empty = MetaFile {
            write_id: "w".into(),
            versions: vec![],
        };
        assert!(encode(&empty).is_err());
    }
}
