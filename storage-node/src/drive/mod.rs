//! Layer 6: one trait for a drive.
//!
//! The object layer talks to every drive through [`Drive`] and never knows whether the
//! drive is a local directory ([`local::LocalDrive`]) or, later, a peer's drive reached
//! over the peer RPC. Every operation is one round trip that is complete on its own
//! (for example [`Drive::commit_object`] renames the shards *and* writes the metadata),
//! so a remote implementation needs no extra protocol.

pub mod direct;
pub mod dirsync;
pub mod keypath;
pub mod local;
pub mod local_walk;
pub mod remote;
pub mod sorted_dirs;
pub mod trash;

use async_trait::async_trait;
use bytes::Bytes;
use std::fmt;

/// Why a drive operation failed. `NotFound` is an answer, every other variant makes the
/// drive count as offline for the request.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error("not found")]
    NotFound,
    #[error("volume not found")]
    VolumeNotFound,
    #[error("volume already exists")]
    VolumeExists,
    #[error("volume not empty")]
    VolumeNotEmpty,
    #[error("drive offline: {0}")]
    Offline(String),
    #[error("corrupt: {0}")]
    Corrupt(String),
    #[error("invalid name: {0}")]
    InvalidName(String),
    #[error("I/O error: {0}")]
    Io(String),
}

impl DriveError {
    /// True when the drive answered and the answer is "no such thing"; such an answer
    /// counts towards quorum, unlike a failure.
    pub fn is_not_found(&self) -> bool {
        matches!(self, DriveError::NotFound | DriveError::VolumeNotFound)
    }
}

/// Capacity figures of one drive, for placement by free space and for the admin API.
#[derive(Debug, Clone, Default)]
pub struct DriveInfo {
    pub total: u64,
    pub free: u64,
    pub used: u64,
}

/// One entry of a directory walk used by listings.
#[derive(Debug, Clone)]
pub enum WalkEntry {
    /// An object and the header of its metadata (without inline data); `None` when the
    /// walk's [`WalkHeaders`] did not ask this drive for this key's header (the metadata
    /// file exists: the drive checked).
    Object { key: String, meta: Option<Bytes> },
    /// A common prefix (ends with `/`), only when walking non-recursively.
    Prefix(String),
}

impl WalkEntry {
    pub fn name(&self) -> &str {
        match self {
            WalkEntry::Object { key, .. } => key,
            WalkEntry::Prefix(p) => p,
        }
    }
}

/// Options of a walk: the listing asks each drive for the same window.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    pub prefix: String,
    /// Only entries strictly after this name are returned.
    pub marker: String,
    /// With `false`, sub-directories under the prefix come back as [`WalkEntry::Prefix`].
    pub recursive: bool,
    pub limit: usize,
    /// Whose metadata headers this drive reads. Opening a key's metadata file is most of
    /// a walk's cost per key, and a listing needs a read quorum of agreeing headers, not
    /// every drive's.
    pub headers: WalkHeaders,
}

/// Which walked keys' metadata headers a drive reads; every other key it returns by name
/// (after checking that its metadata file exists, so the names still count copies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WalkHeaders {
    /// Every key's.
    #[default]
    All,
    /// None: names only (the heal scanner's walk).
    None,
    /// Drive `index` of a set of `of` drives is one of the `count` drives that read key
    /// `k`: those at positions `slot(k)`, `slot(k) + 1`, ... (mod `of`), where
    /// [`header_slot`] spreads keys evenly, so each drive reads `count / of` of the page.
    Rotated {
        index: usize,
        of: usize,
        count: usize,
    },
}

impl WalkHeaders {
    /// True when this drive reads `key`'s header.
    pub fn reads(&self, key: &str) -> bool {
        match *self {
            WalkHeaders::All => true,
            WalkHeaders::None => false,
            WalkHeaders::Rotated { index, of, count } => {
                of == 0 || count >= of || (index + of - header_slot(key, of)) % of < count
            }
        }
    }
}

/// The first of the drives (`0..of`) that read `key`'s header in a rotated walk. FNV-1a:
/// stable across processes and versions, because a remote drive computes it too.
pub fn header_slot(key: &str, of: usize) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // `of` is a set's drive count (at most a few dozen): the remainder fits a usize.
    (h % (of.max(1) as u64)) as usize
}

/// What [`Drive::commit_new_meta`] did.
#[derive(Debug)]
pub enum NewMeta {
    /// The drive held no metadata for the key and now holds the new file.
    Written,
    /// The drive already held this metadata file and wrote nothing.
    Held(Bytes),
}

/// Where a staged write lives before it is committed: a unique directory in the
/// drive's temporary area.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageId(pub String);

impl fmt::Display for StageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A file being written on one drive; data goes to the temporary area and becomes
/// visible only through [`Drive::commit_object`] or [`Drive::commit_part`].
#[async_trait]
pub trait ShardWriter: Send {
    async fn write(&mut self, data: Bytes) -> Result<(), DriveError>;
    /// Flush and fsync; after this returns the bytes are durable.
    async fn finish(self: Box<Self>) -> Result<(), DriveError>;
}

/// Name of the system volume that holds multipart uploads and bucket metadata.
pub const SYSTEM_VOLUME: &str = ".cairn.sys";

/// Volume of the deployment's own objects (the IAM state, ...), erasure-coded like any
/// bucket. A dot name, so no S3 request (bucket names cannot start with a dot) and no
/// volume listing reaches it; created on first use on a formatted drive.
pub const SYSTEM_OBJECTS_VOLUME: &str = ".cairn.objects";

#[async_trait]
pub trait Drive: Send + Sync + fmt::Debug {
    /// Human-readable location for logs and the admin API: the path of a standalone
    /// drive, the endpoint URL (`http://host:port/path`) in distributed mode.
    fn endpoint(&self) -> String;
    /// True for a drive of this process, false for a peer's drive reached over RPC. The
    /// maintenance health check and the admin API group drives by server with it.
    fn is_local(&self) -> bool {
        true
    }
    async fn info(&self) -> Result<DriveInfo, DriveError>;
    /// Cheap liveness check: the root exists, is a directory and is formatted.
    async fn check(&self) -> Result<(), DriveError>;

    // Buckets (volumes).
    async fn make_volume(&self, volume: &str) -> Result<(), DriveError>;
    async fn list_volumes(&self) -> Result<Vec<String>, DriveError>;
    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError>;
    /// Removes an empty volume; `VolumeNotEmpty` when it holds an object.
    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError>;

    // Small files in the system volume (bucket metadata, upload records).
    async fn read_sys_file(&self, path: &str) -> Result<Bytes, DriveError>;
    async fn write_sys_file(&self, path: &str, data: Bytes) -> Result<(), DriveError>;
    async fn delete_sys_path(&self, path: &str) -> Result<(), DriveError>;
    async fn list_sys_dir(&self, path: &str) -> Result<Vec<String>, DriveError>;

    // Objects.
    /// The whole metadata file of an object, inline data included.
    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes, DriveError>;
    /// Creates a shard file `name` in the staging directory `stage`.
    async fn create_shard(
        &self,
        stage: &StageId,
        name: &str,
    ) -> Result<Box<dyn ShardWriter>, DriveError>;
    /// Reads `len` bytes at `offset` of shard file `name` of data directory `data_dir`.
    async fn read_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
        name: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, DriveError>;
    /// Makes a staged object visible: moves the staging directory (if any) into the
    /// object as data directory `data_dir` and atomically replaces the metadata.
    /// Returns the previous metadata so that the caller can roll back or clean up.
    async fn commit_object(
        &self,
        volume: &str,
        key: &str,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        meta: Bytes,
    ) -> Result<Option<Bytes>, DriveError>;
    /// Writes metadata `meta` (a version whose bytes are inline: no data directory) for
    /// a key this drive holds no metadata for; when it holds some, writes nothing and
    /// returns what it holds. The caller holds the key's commit lock. A versioned write
    /// of a new key commits this way without first reading the key on every drive, and a
    /// write on top of an existing key reuses what this call read (a local drive checks
    /// and writes in one trip to its I/O thread); this default takes two calls.
    async fn commit_new_meta(
        &self,
        volume: &str,
        key: &str,
        meta: Bytes,
    ) -> Result<NewMeta, DriveError> {
        match self.read_meta(volume, key).await {
            Ok(held) => Ok(NewMeta::Held(held)),
            Err(DriveError::NotFound) => self
                .commit_object(volume, key, None, None, meta)
                .await
                .map(|_| NewMeta::Written),
            Err(e) => Err(e),
        }
    }
    /// Puts back `previous` metadata (or removes the object when `None`) and deletes
    /// data directory `data_dir`; used to undo a commit that missed write quorum.
    async fn restore_object(
        &self,
        volume: &str,
        key: &str,
        previous: Option<Bytes>,
        data_dir: Option<&str>,
    ) -> Result<(), DriveError>;
    /// Removes a data directory that no metadata refers to any more.
    async fn delete_data_dir(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
    ) -> Result<(), DriveError>;
    /// Removes the object: metadata and every data directory.
    async fn delete_object(&self, volume: &str, key: &str) -> Result<(), DriveError>;
    /// Removes a staging directory after a failed or abandoned write.
    async fn discard_stage(&self, stage: &StageId) -> Result<(), DriveError>;
    /// Links file `from` in system path `dir` into staging directory `stage` as `to`;
    /// completing a multipart upload gathers its parts this way.
    async fn stage_sys_file(
        &self,
        dir: &str,
        from: &str,
        stage: &StageId,
        to: &str,
    ) -> Result<(), DriveError>;
    /// Moves a staged shard file into system path `dir` as `name` (multipart parts).
    async fn commit_sys_file(
        &self,
        stage: &StageId,
        from: &str,
        dir: &str,
        name: &str,
    ) -> Result<(), DriveError>;

    // Listing.
    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<Vec<WalkEntry>, DriveError>;
    /// The metadata headers (no inline data) of `keys`, in order; `None` for a key without
    /// metadata on this drive. One call for a whole page's worth of keys, so that a listing
    /// that needs more copies of some keys' headers pays one round trip per drive, not one
    /// per key.
    async fn read_meta_headers(
        &self,
        volume: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Bytes>>, DriveError>;
}

/// A shared handle to a drive.
pub type DriveRef = std::sync::Arc<dyn Drive>;
