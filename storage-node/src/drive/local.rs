//! A drive that is a directory of the local file system.
//!
//! Layout under the drive root:
//!
//! ```text
//! .cairn.sys/format.json            drive identity (cluster::format)
//! .cairn.sys/tmp/<stage>/...        shard files being written
//! .cairn.sys/buckets/<bucket>.json  bucket metadata
//! .cairn.sys/multipart/<bucket>/<upload>/...
//! .cairn.sys/trash/~d.<uuid>/       removed data directories, readable for a while (trash)
//! <bucket>/<key path>/~meta         object metadata (drive::keypath)
//! <bucket>/<key path>/~d.<uuid>/    shard files of one object version
//! ```
//!
//! Writes are atomic: shard files go to the staging area and are renamed into place;
//! metadata is written to a temporary file, fsync'd and renamed over the old one, so a
//! crash leaves either the old or the new object, never a mix. The root is checked on
//! every call and never re-created: a drive whose directory vanished is offline.
//!
//! Durability (with `sync`, the default): a write is acknowledged only after its data, its
//! names and its directories are on stable storage, in this order: shard files fsync'd
//! (`ShardFile::finish`), the staging directory fsync'd, renamed to `~d.<uuid>`, the key
//! directory fsync'd; the metadata temporary file fsync'd, renamed to `~meta`, the key
//! directory fsync'd again. Every directory created on the way (key levels, bucket,
//! system paths) has its parent fsync'd before the publishing rename ([`DirSync`], which
//! also coalesces concurrent fsyncs of one directory). A delete unlinks `~meta`, moves the
//! data directories to the trash and fsyncs the key directory before it returns. After a
//! power cut, an acknowledged write or delete is therefore on every drive that acknowledged
//! it.
//!
//! Arguments may come from peers over the RPC (`drive/remote.rs` on the other side), so
//! they are checked like client input: volume and key names, data directory names (a UUID,
//! [`keypath::validate_data_dir`]), shard file names (`part.<n>`), and read ranges (at most
//! [`MAX_SHARD_READ`] bytes, inside the file) before anything is joined or allocated.

use super::direct::ShardFile;
use super::dirsync::DirSync;
use super::keypath::{self, DATA_PREFIX, DIR_DATA_PREFIX, DIR_META_FILE, META_FILE, ObjectPath};
use super::local_walk;
use super::sorted_dirs::SortedDirs;
use super::trash::{self, Trash};
use super::{
    Drive, DriveError, DriveInfo, NewMeta, SYSTEM_VOLUME, ShardWriter, StageId, WalkEntry,
    WalkOptions,
};
use async_trait::async_trait;
use bytes::Bytes;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// How many times a commit retries when a concurrent delete removed a shared parent
/// directory between `create_dir_all` and `rename`.
const COMMIT_RETRIES: usize = 4;

/// Largest single shard read a drive serves. The object layer reads one stored shard block
/// at a time (at most one erasure block plus its checksum) and the heal layer at most
/// 8 blocks per call, so 16 erasure blocks leave room; a larger length (a peer asking for
/// gigabytes) is refused before any buffer is allocated.
pub const MAX_SHARD_READ: usize = 16 * crate::erasure::BLOCK_SIZE;

#[derive(Debug, Clone)]
pub struct LocalDrive {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// fsync files before acknowledging; off only in the opt-in relaxed mode.
    sync: bool,
    /// The endpoint URL this drive was given as in distributed mode.
    name: Option<String>,
    /// Coalesced directory fsyncs (durability of renames and new directories).
    dirsync: DirSync,
    /// Removed data directories that a streaming GET may still read.
    trash: Trash,
    /// Sorted names of large key directories, so listings seek instead of scanning.
    sorted: SortedDirs,
}

impl LocalDrive {
    pub fn new(root: PathBuf, sync: bool) -> Self {
        Self::build(root, sync, None, trash::GRACE)
    }

    /// A drive of this server named by its endpoint URL in a distributed deployment.
    pub fn with_name(root: PathBuf, sync: bool, name: String) -> Self {
        Self::build(root, sync, Some(name), trash::GRACE)
    }

    fn build(root: PathBuf, sync: bool, name: Option<String>, grace: std::time::Duration) -> Self {
        let trash = Trash::new(root.join(SYSTEM_VOLUME).join(trash::TRASH_DIR), grace);
        Self {
            inner: Arc::new(Inner {
                root,
                sync,
                name,
                dirsync: DirSync::default(),
                trash,
                sorted: SortedDirs::default(),
            }),
        }
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Bytes of sorted directory names this drive keeps for listings (tests check that a
    /// large directory is walked from the cache).
    pub fn listing_cache_bytes(&self) -> usize {
        self.inner.sorted.bytes()
    }

    /// Clears the staging area left by a previous run (writes that never committed) and
    /// the trash (no reader survives a restart), and makes sure the staging area exists.
    /// Does nothing to a drive whose system directory is missing.
    pub fn prepare(&self) {
        let sys = self.inner.sys();
        if !sys.is_dir() {
            return;
        }
        let tmp = self.inner.tmp();
        for dir in [tmp.clone(), self.inner.trash.dir().to_path_buf()] {
            if dir.exists() {
                // Move aside first so a huge leftover does not delay start-up.
                let aside = sys.join(format!("trash-{}", uuid::Uuid::new_v4()));
                let _ = fs::rename(&dir, &aside);
            }
        }
        // Everything set aside now or by an earlier run whose removal was cut short.
        let leftovers: Vec<PathBuf> = fs::read_dir(&sys)
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with("trash-"))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default();
        if !leftovers.is_empty() {
            std::thread::spawn(move || {
                for d in leftovers {
                    let _ = fs::remove_dir_all(d);
                }
            });
        }
        if let Err(e) = fs::create_dir(&tmp) {
            tracing::warn!(drive = %self.inner.root.display(), error = %e, "cannot create staging directory");
        }
    }

    /// Runs blocking file system work off the async threads.
    async fn run<T, F>(&self, f: F) -> Result<T, DriveError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T, DriveError> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            inner.ensure_root()?;
            f(&inner)
        })
        .await
        .map_err(|e| DriveError::Io(format!("drive task failed: {e}")))?
    }
}

fn io_err(e: io::Error) -> DriveError {
    match e.kind() {
        io::ErrorKind::NotFound => DriveError::NotFound,
        _ => DriveError::Io(e.to_string()),
    }
}

fn validate_volume(volume: &str) -> Result<(), DriveError> {
    if volume == super::SYSTEM_OBJECTS_VOLUME {
        return Ok(());
    }
    if volume.is_empty()
        || volume.starts_with('.')
        || volume.contains('/')
        || volume.contains('\0')
        || volume.len() > 63
    {
        return Err(DriveError::InvalidName(format!(
            "invalid volume {volume:?}"
        )));
    }
    Ok(())
}

impl Inner {
    fn sys(&self) -> PathBuf {
        self.root.join(SYSTEM_VOLUME)
    }

    fn tmp(&self) -> PathBuf {
        self.sys().join("tmp")
    }

    /// The drive is online only while its root and system directory exist; this is what
    /// keeps a vanished or replaced mount from being silently re-created.
    fn ensure_root(&self) -> Result<(), DriveError> {
        match fs::metadata(self.sys()) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(DriveError::Offline(format!(
                "{} is not a directory",
                self.sys().display()
            ))),
            Err(e) => Err(DriveError::Offline(format!("{}: {e}", self.root.display()))),
        }
    }

    fn volume_dir(&self, volume: &str) -> Result<PathBuf, DriveError> {
        validate_volume(volume)?;
        Ok(self.root.join(volume))
    }

    fn existing_volume(&self, volume: &str) -> Result<PathBuf, DriveError> {
        let dir = self.volume_dir(volume)?;
        if volume == super::SYSTEM_OBJECTS_VOLUME && !dir.exists() && self.sys().is_dir() {
            // Created on first use, on formatted drives only (an unformatted or
            // replaced drive must not look like one that holds system objects).
            fs::create_dir(&dir).or_else(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => Ok(()),
                _ => Err(io_err(e)),
            })?;
        }
        match fs::metadata(&dir) {
            Ok(m) if m.is_dir() => Ok(dir),
            Ok(_) => Err(DriveError::Corrupt(format!(
                "{} is not a directory",
                dir.display()
            ))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(DriveError::VolumeNotFound),
            Err(e) => Err(DriveError::Io(e.to_string())),
        }
    }

    fn object_dir(
        &self,
        volume: &str,
        key: &str,
    ) -> Result<(PathBuf, PathBuf, ObjectPath), DriveError> {
        let vol = self.existing_volume(volume)?;
        let op = keypath::object_path(key)?;
        let dir = vol.join(&op.dir);
        Ok((vol, dir, op))
    }

    fn sys_path(&self, path: &str) -> Result<PathBuf, DriveError> {
        keypath::validate_sys_path(path)?;
        Ok(self.sys().join(path))
    }

    fn stage_dir(&self, stage: &StageId) -> Result<PathBuf, DriveError> {
        keypath::validate_sys_path(&stage.0)?;
        if stage.0.contains('/') {
            return Err(DriveError::InvalidName("invalid stage id".into()));
        }
        Ok(self.tmp().join(&stage.0))
    }

    /// Makes entry changes in `dir` durable (a no-op in the relaxed mode without sync).
    fn sync_dir(&self, dir: &Path) -> Result<(), DriveError> {
        if self.sync {
            self.dirsync.sync(dir)
        } else {
            Ok(())
        }
    }

    /// Creates `dir` and its missing parents below `stop`, durably (see [`DirSync`]), and
    /// tells the listing cache about them (after they exist, as [`SortedDirs`] requires).
    fn create_dirs(&self, dir: &Path, stop: &Path) -> Result<(), DriveError> {
        self.dirsync.create_all(dir, stop, self.sync)?;
        self.sorted.note_created(dir, stop);
        Ok(())
    }

    /// Moves data directory `path` (named `~d.<uuid>` or `~dd.<uuid>`) to the trash, where
    /// streaming readers still find it for a while ([`trash`]).
    fn trash_data_dir(&self, path: &Path) -> Result<(), DriveError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| DriveError::InvalidName(format!("{}", path.display())))?;
        self.trash.put(path, name).map_err(io_err)
    }

    /// Writes `data` to `target` atomically: temporary file, fsync, rename, fsync of the
    /// directory (so the new name survives a power cut before the caller acknowledges).
    fn write_atomic(&self, target: &Path, data: &[u8]) -> Result<(), DriveError> {
        let tmp = self.tmp().join(format!("{}.tmp", uuid::Uuid::new_v4()));
        let result = (|| {
            let mut f = match File::create(&tmp) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // Staging area removed under us: recreate it, never the root.
                    let _ = fs::create_dir(self.tmp());
                    File::create(&tmp).map_err(|e| DriveError::Io(e.to_string()))?
                }
                Err(e) => return Err(DriveError::Io(e.to_string())),
            };
            f.write_all(data)
                .map_err(|e| DriveError::Io(e.to_string()))?;
            if self.sync {
                f.sync_data().map_err(|e| DriveError::Io(e.to_string()))?;
            }
            drop(f);
            fs::rename(&tmp, target).map_err(io_err)?;
            match target.parent() {
                Some(parent) => self.sync_dir(parent),
                None => Ok(()),
            }
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }

    /// Removes `dir` and its empty parents up to (not including) `stop`, and their names
    /// from the listing cache.
    fn prune_empty_parents(&self, dir: &Path, stop: &Path) {
        let mut cur = Some(dir.to_path_buf());
        while let Some(d) = cur {
            if d == stop || !d.starts_with(stop) {
                break;
            }
            if fs::remove_dir(&d).is_err() {
                break;
            }
            self.sorted.forget(&d);
            cur = d.parent().map(Path::to_path_buf);
        }
    }

    fn commit_object(
        &self,
        volume: &str,
        key: &str,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        meta: &[u8],
    ) -> Result<Option<Bytes>, DriveError> {
        if let Some(dd) = data_dir {
            keypath::validate_data_dir(dd)?;
        }
        let (vol, dir, op) = self.object_dir(volume, key)?;
        let stage_src = match stage {
            Some(s) => Some(self.stage_dir(s)?),
            None => None,
        };
        if let Some(src) = &stage_src {
            // The staged shard files are fsync'd; their names in the staging directory
            // must be too before the directory becomes the object's data.
            self.sync_dir(src)?;
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.create_dirs(&dir, &vol) {
                Ok(()) => {}
                Err(DriveError::NotFound) if attempt < COMMIT_RETRIES => continue,
                Err(e) => return Err(e),
            }
            let meta_path = dir.join(op.meta_file);
            let previous = match fs::read(&meta_path) {
                Ok(b) => Some(Bytes::from(b)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                    return Err(DriveError::Corrupt(e.to_string()));
                }
                Err(e) => return Err(DriveError::Io(e.to_string())),
            };
            if let (Some(src), Some(dd)) = (&stage_src, data_dir) {
                let target = dir.join(format!("{}{dd}", op.data_prefix));
                match fs::rename(src, &target) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < COMMIT_RETRIES => {
                        continue;
                    }
                    Err(e) => return Err(io_err(e)),
                }
                // The data directory's name is durable before any metadata refers to it.
                self.sync_dir(&dir)?;
            }
            match self.write_atomic(&meta_path, meta) {
                Ok(()) => return Ok(previous),
                Err(DriveError::NotFound) if attempt < COMMIT_RETRIES => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn commit_new_meta(&self, volume: &str, key: &str, meta: &[u8]) -> Result<NewMeta, DriveError> {
        let (_vol, dir, op) = self.object_dir(volume, key)?;
        match fs::read(dir.join(op.meta_file)) {
            Ok(held) => return Ok(NewMeta::Held(Bytes::from(held))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            // A file where the key's directory belongs: nothing to write on top of, and
            // what `read_meta` calls not found.
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => {
                return Err(DriveError::NotFound);
            }
            Err(e) => return Err(DriveError::Io(e.to_string())),
        }
        self.commit_object(volume, key, None, None, meta)
            .map(|_| NewMeta::Written)
    }

    fn restore_object(
        &self,
        volume: &str,
        key: &str,
        previous: Option<&[u8]>,
        data_dir: Option<&str>,
    ) -> Result<(), DriveError> {
        if let Some(dd) = data_dir {
            keypath::validate_data_dir(dd)?;
        }
        let (vol, dir, op) = self.object_dir(volume, key)?;
        let meta_path = dir.join(op.meta_file);
        match previous {
            Some(p) => self.write_atomic(&meta_path, p)?,
            None => match fs::remove_file(&meta_path) {
                Ok(()) => self.sync_dir(&dir)?,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(DriveError::Io(e.to_string())),
            },
        }
        if let Some(dd) = data_dir {
            // The version being undone was never acknowledged, so no reader can be on it:
            // removed at once rather than through the trash.
            let _ = fs::remove_dir_all(dir.join(format!("{}{dd}", op.data_prefix)));
        }
        self.prune_empty_parents(&dir, &vol);
        Ok(())
    }

    fn delete_object(&self, volume: &str, key: &str) -> Result<(), DriveError> {
        let (vol, dir, op) = self.object_dir(volume, key)?;
        let meta_path = dir.join(op.meta_file);
        match fs::remove_file(&meta_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(DriveError::NotFound),
            Err(e) if e.kind() == io::ErrorKind::NotADirectory => return Err(DriveError::NotFound),
            Err(e) => return Err(DriveError::Io(e.to_string())),
        }
        if let Ok(rd) = fs::read_dir(&dir) {
            for entry in rd.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(op.data_prefix) {
                    if let Err(e) = self.trash_data_dir(&entry.path()) {
                        tracing::warn!(dir = %entry.path().display(), error = %e, "cannot move data directory to the trash");
                    }
                }
            }
        }
        // The unlinked metadata (and the moved data) stay gone after a power cut once
        // the delete is acknowledged. A DeleteBucket that found this key directory empty
        // may have removed it meanwhile (and fsynced that); the object is gone either way,
        // so only a directory that still exists must sync.
        if let Err(e) = self.sync_dir(&dir) {
            if dir.exists() {
                return Err(e);
            }
        }
        self.prune_empty_parents(&dir, &vol);
        Ok(())
    }

    fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes, DriveError> {
        let (_vol, dir, op) = self.object_dir(volume, key)?;
        match fs::read(dir.join(op.meta_file)) {
            Ok(b) => Ok(Bytes::from(b)),
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.kind() == io::ErrorKind::NotADirectory =>
            {
                Err(DriveError::NotFound)
            }
            Err(e) => Err(DriveError::Io(e.to_string())),
        }
    }

    fn read_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
        name: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, DriveError> {
        keypath::validate_data_dir(data_dir)?;
        keypath::validate_shard_name(name)?;
        if len > MAX_SHARD_READ {
            return Err(DriveError::InvalidName(format!(
                "shard read of {len} bytes exceeds the limit of {MAX_SHARD_READ}"
            )));
        }
        let end = offset
            .checked_add(len as u64)
            .ok_or_else(|| DriveError::InvalidName("shard read range overflows".into()))?;
        let (_vol, dir, op) = self.object_dir(volume, key)?;
        let dd_name = format!("{}{data_dir}", op.data_prefix);
        let f = match File::open(dir.join(&dd_name).join(name)) {
            Ok(f) => f,
            // Removed by an overwrite, delete or heal after the reader resolved this
            // version: its trash copy serves the rest of the stream.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let f = File::open(self.trash.path(&dd_name).join(name)).map_err(io_err)?;
                self.trash.touch(&dd_name);
                f
            }
            Err(e) => return Err(io_err(e)),
        };
        let file_len = f.metadata().map_err(io_err)?.len();
        if end > file_len {
            return Err(DriveError::Corrupt(format!(
                "{name} is truncated: {file_len} bytes, read up to {end}"
            )));
        }
        let buf = read_exact_at_uninit(&f, offset, len).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof => DriveError::Corrupt(format!("{name} is truncated")),
            _ => DriveError::Io(e.to_string()),
        })?;
        Ok(Bytes::from(buf))
    }

    fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<Vec<WalkEntry>, DriveError> {
        let vol = self.existing_volume(volume)?;
        local_walk::walk(&self.sorted, &vol, opts)
    }

    fn read_meta_headers(
        &self,
        volume: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Bytes>>, DriveError> {
        let vol = self.existing_volume(volume)?;
        keys.iter()
            .map(|key| {
                // A key no object can have (a listing passes only walked names) has none.
                let Ok(op) = keypath::object_path(key) else {
                    return Ok(None);
                };
                local_walk::read_meta_header(&vol.join(&op.dir).join(op.meta_file))
                    .map_err(|e| DriveError::Io(e.to_string()))
            })
            .collect()
    }
}

struct LocalShardWriter {
    file: Option<ShardFile>,
}

#[async_trait]
impl ShardWriter for LocalShardWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), DriveError> {
        let mut file = self
            .file
            .take()
            .ok_or_else(|| DriveError::Io("shard writer already failed".into()))?;
        let file = tokio::task::spawn_blocking(move || file.write(&data).map(|()| file))
            .await
            .map_err(|e| DriveError::Io(e.to_string()))??;
        self.file = Some(file);
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<(), DriveError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| DriveError::Io("shard writer already failed".into()))?;
        tokio::task::spawn_blocking(move || file.finish())
            .await
            .map_err(|e| DriveError::Io(e.to_string()))?
    }
}

#[async_trait]
impl Drive for LocalDrive {
    fn endpoint(&self) -> String {
        match &self.inner.name {
            Some(name) => name.clone(),
            None => self.inner.root.display().to_string(),
        }
    }

    async fn info(&self) -> Result<DriveInfo, DriveError> {
        self.run(|inner| {
            let path = std::ffi::CString::new(inner.root.as_os_str().as_encoded_bytes())
                .map_err(|e| DriveError::Io(e.to_string()))?;
            // SAFETY: statvfs writes into the zeroed struct we pass and reads a valid,
            // NUL-terminated path.
            let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
            let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
            if rc != 0 {
                return Err(DriveError::Io(io::Error::last_os_error().to_string()));
            }
            let frsize = st.f_frsize as u64;
            let total = st.f_blocks as u64 * frsize;
            let free = st.f_bavail as u64 * frsize;
            Ok(DriveInfo {
                total,
                free,
                used: total.saturating_sub(st.f_bfree as u64 * frsize),
            })
        })
        .await
    }

    async fn check(&self) -> Result<(), DriveError> {
        self.run(|_| Ok(())).await
    }

    async fn make_volume(&self, volume: &str) -> Result<(), DriveError> {
        let volume = volume.to_string();
        self.run(move |inner| {
            let dir = inner.volume_dir(&volume)?;
            match fs::create_dir(&dir) {
                Ok(()) => inner.sync_dir(&inner.root),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(DriveError::VolumeExists),
                Err(e) => Err(DriveError::Io(e.to_string())),
            }
        })
        .await
    }

    async fn list_volumes(&self) -> Result<Vec<String>, DriveError> {
        self.run(|inner| {
            let mut out = Vec::new();
            for entry in fs::read_dir(&inner.root).map_err(|e| DriveError::Io(e.to_string()))? {
                let entry = entry.map_err(|e| DriveError::Io(e.to_string()))?;
                let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                    continue;
                };
                if !name.starts_with('.') && entry.path().is_dir() {
                    out.push(name);
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError> {
        let volume = volume.to_string();
        self.run(move |inner| inner.existing_volume(&volume).map(|_| ()))
            .await
    }

    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError> {
        let volume = volume.to_string();
        self.run(move |inner| {
            let dir = inner.existing_volume(&volume)?;
            let removed = match fs::remove_dir(&dir) {
                Ok(()) => inner.sync_dir(&inner.root),
                Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => {
                    // Empty key directories left by a crash do not make a bucket
                    // non-empty; any metadata file does.
                    if tree_has_objects(&dir) {
                        Err(DriveError::VolumeNotEmpty)
                    } else {
                        fs::remove_dir_all(&dir).map_err(|e| DriveError::Io(e.to_string()))
                    }
                }
                Err(e) => Err(io_err(e)),
            };
            if removed.is_ok() {
                inner.sorted.forget_tree(&dir);
            }
            removed
        })
        .await
    }

    async fn read_sys_file(&self, path: &str) -> Result<Bytes, DriveError> {
        let path = path.to_string();
        self.run(move |inner| {
            let p = inner.sys_path(&path)?;
            fs::read(p).map(Bytes::from).map_err(io_err)
        })
        .await
    }

    async fn write_sys_file(&self, path: &str, data: Bytes) -> Result<(), DriveError> {
        let path = path.to_string();
        self.run(move |inner| {
            let p = inner.sys_path(&path)?;
            if let Some(parent) = p.parent() {
                inner.create_dirs(parent, &inner.sys())?;
            }
            inner.write_atomic(&p, &data)
        })
        .await
    }

    async fn delete_sys_path(&self, path: &str) -> Result<(), DriveError> {
        let path = path.to_string();
        self.run(move |inner| {
            let p = inner.sys_path(&path)?;
            let meta = fs::symlink_metadata(&p).map_err(io_err)?;
            if meta.is_dir() {
                fs::remove_dir_all(&p).map_err(io_err)
            } else {
                fs::remove_file(&p).map_err(io_err)
            }
        })
        .await
    }

    async fn list_sys_dir(&self, path: &str) -> Result<Vec<String>, DriveError> {
        let path = path.to_string();
        self.run(move |inner| {
            let p = inner.sys_path(&path)?;
            let mut out = Vec::new();
            for entry in fs::read_dir(p).map_err(io_err)? {
                let entry = entry.map_err(|e| DriveError::Io(e.to_string()))?;
                if let Some(name) = entry.file_name().to_str() {
                    out.push(name.to_string());
                }
            }
            out.sort();
            Ok(out)
        })
        .await
    }

    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes, DriveError> {
        let (volume, key) = (volume.to_string(), key.to_string());
        self.run(move |inner| inner.read_meta(&volume, &key)).await
    }

    async fn create_shard(
        &self,
        stage: &StageId,
        name: &str,
    ) -> Result<Box<dyn ShardWriter>, DriveError> {
        let (stage, name) = (stage.clone(), name.to_string());
        let sync = self.inner.sync;
        let file = self
            .run(move |inner| {
                keypath::validate_sys_path(&name)?;
                let dir = inner.stage_dir(&stage)?;
                fs::create_dir_all(&dir).map_err(|e| DriveError::Io(e.to_string()))?;
                let path = dir.join(&name);
                // A retried part may reuse a name inside a fresh stage; never append.
                let _ = fs::remove_file(&path);
                ShardFile::create(&path, sync)
            })
            .await?;
        Ok(Box::new(LocalShardWriter { file: Some(file) }))
    }

    async fn read_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
        name: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, DriveError> {
        let (volume, key, data_dir, name) = (
            volume.to_string(),
            key.to_string(),
            data_dir.to_string(),
            name.to_string(),
        );
        self.run(move |inner| inner.read_shard(&volume, &key, &data_dir, &name, offset, len))
            .await
    }

    async fn commit_object(
        &self,
        volume: &str,
        key: &str,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        meta: Bytes,
    ) -> Result<Option<Bytes>, DriveError> {
        let (volume, key) = (volume.to_string(), key.to_string());
        let stage = stage.cloned();
        let data_dir = data_dir.map(str::to_string);
        self.run(move |inner| {
            inner.commit_object(&volume, &key, stage.as_ref(), data_dir.as_deref(), &meta)
        })
        .await
    }

    async fn commit_new_meta(
        &self,
        volume: &str,
        key: &str,
        meta: Bytes,
    ) -> Result<NewMeta, DriveError> {
        let (volume, key) = (volume.to_string(), key.to_string());
        self.run(move |inner| inner.commit_new_meta(&volume, &key, &meta))
            .await
    }

    async fn restore_object(
        &self,
        volume: &str,
        key: &str,
        previous: Option<Bytes>,
        data_dir: Option<&str>,
    ) -> Result<(), DriveError> {
        let (volume, key) = (volume.to_string(), key.to_string());
        let data_dir = data_dir.map(str::to_string);
        self.run(move |inner| {
            inner.restore_object(&volume, &key, previous.as_deref(), data_dir.as_deref())
        })
        .await
    }

    async fn delete_data_dir(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
    ) -> Result<(), DriveError> {
        let (volume, key, data_dir) = (volume.to_string(), key.to_string(), data_dir.to_string());
        self.run(move |inner| {
            keypath::validate_data_dir(&data_dir)?;
            let (_vol, dir, op) = inner.object_dir(&volume, &key)?;
            // Through the trash: a GET that resolved this version may still stream it.
            inner.trash_data_dir(&dir.join(format!("{}{data_dir}", op.data_prefix)))
        })
        .await
    }

    async fn delete_object(&self, volume: &str, key: &str) -> Result<(), DriveError> {
        let (volume, key) = (volume.to_string(), key.to_string());
        self.run(move |inner| inner.delete_object(&volume, &key))
            .await
    }

    async fn discard_stage(&self, stage: &StageId) -> Result<(), DriveError> {
        let stage = stage.clone();
        self.run(move |inner| {
            let dir = inner.stage_dir(&stage)?;
            match fs::remove_dir_all(dir) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(DriveError::Io(e.to_string())),
            }
        })
        .await
    }

    async fn stage_sys_file(
        &self,
        dir: &str,
        from: &str,
        stage: &StageId,
        to: &str,
    ) -> Result<(), DriveError> {
        let (dir, from, to) = (dir.to_string(), from.to_string(), to.to_string());
        let stage = stage.clone();
        self.run(move |inner| {
            keypath::validate_sys_path(&to)?;
            let src = inner.sys_path(&format!("{dir}/{from}"))?;
            let sdir = inner.stage_dir(&stage)?;
            fs::create_dir_all(&sdir).map_err(|e| DriveError::Io(e.to_string()))?;
            // A hard link, not a move: the upload stays complete until the commit
            // that uses these parts has succeeded.
            let target = sdir.join(to);
            let _ = fs::remove_file(&target);
            fs::hard_link(src, target).map_err(io_err)
        })
        .await
    }

    async fn commit_sys_file(
        &self,
        stage: &StageId,
        from: &str,
        dir: &str,
        name: &str,
    ) -> Result<(), DriveError> {
        let (dir, from, name) = (dir.to_string(), from.to_string(), name.to_string());
        let stage = stage.clone();
        self.run(move |inner| {
            keypath::validate_sys_path(&from)?;
            let src = inner.stage_dir(&stage)?.join(&from);
            let target = inner.sys_path(&format!("{dir}/{name}"))?;
            let parent = target
                .parent()
                .ok_or_else(|| DriveError::InvalidName(format!("invalid system path {dir:?}")))?;
            inner.create_dirs(parent, &inner.sys())?;
            fs::rename(src, &target).map_err(io_err)?;
            // The part is acknowledged to the client after this: its name must be durable.
            inner.sync_dir(parent)?;
            let _ = fs::remove_dir(inner.stage_dir(&stage)?);
            Ok(())
        })
        .await
    }

    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<Vec<WalkEntry>, DriveError> {
        let volume = volume.to_string();
        let opts = opts.clone();
        self.run(move |inner| inner.walk(&volume, &opts)).await
    }

    async fn read_meta_headers(
        &self,
        volume: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Bytes>>, DriveError> {
        let (volume, keys) = (volume.to_string(), keys.to_vec());
        self.run(move |inner| inner.read_meta_headers(&volume, &keys))
            .await
    }
}

/// True when any metadata file exists below `dir` (bounded by the key depth limit).
fn tree_has_objects(dir: &Path) -> bool {
    fn visit(dir: &Path, depth: usize) -> bool {
        if depth > keypath::MAX_KEY_LEN / 2 {
            return true;
        }
        let Ok(rd) = fs::read_dir(dir) else {
            return true;
        };
        for e in rd.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name == META_FILE || name == DIR_META_FILE {
                return true;
            }
            if name.starts_with(DATA_PREFIX) || name.starts_with(DIR_DATA_PREFIX) {
                continue;
            }
            if e.path().is_dir() && visit(&e.path(), depth + 1) {
                return true;
            }
        }
        false
    }
    visit(dir, 0)
}

/// Reads `len` bytes at `offset` into a new buffer that is not zeroed first. Shard reads
/// are the whole read path's data: zeroing the buffer before `pread` overwrites it cost
/// 18 % of a GET's server CPU (perf, 64 MiB GETs; glibc serves these sizes from its heap,
/// so `calloc` must clear them).
fn read_exact_at_uninit(f: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    use std::os::fd::AsRawFd;
    let mut buf: Vec<u8> = Vec::with_capacity(len);
    // Bounded: every pass fills at least one byte or returns.
    while buf.len() < len {
        let filled = buf.len();
        let at = offset
            .checked_add(filled as u64)
            .and_then(|p| libc::off_t::try_from(p).ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "offset too large"))?;
        let spare = &mut buf.spare_capacity_mut()[..len - filled];
        // SAFETY: the kernel writes at most `spare.len()` bytes into memory we own.
        let n = unsafe { libc::pread(f.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len(), at) };
        match n {
            n if n < 0 => {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            // SAFETY: `pread` initialised these `n` bytes after the filled ones.
            n => unsafe { buf.set_len(filled + n as usize) },
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DD: &str = "0b3c2a9e-6f1d-4a57-9a8e-2f0c7d1b5e44";

    /// A formatted-looking drive with bucket `bkt` and object `k` whose data directory
    /// `DD` holds a 100-byte `part.1`.
    fn drive_with_object() -> (tempfile::TempDir, Inner) {
        let root = tempfile::tempdir().unwrap();
        let drive = LocalDrive::new(root.path().to_path_buf(), true);
        fs::create_dir_all(root.path().join(SYSTEM_VOLUME).join("tmp")).unwrap();
        let dd = root.path().join("bkt/k").join(format!("{DATA_PREFIX}{DD}"));
        fs::create_dir_all(&dd).unwrap();
        fs::write(dd.join("part.1"), [7u8; 100]).unwrap();
        let inner = Arc::try_unwrap(drive.inner).unwrap();
        (root, inner)
    }

    #[test]
    fn hostile_read_shard_arguments_are_refused_before_any_allocation() {
        let (_root, d) = drive_with_object();
        assert_eq!(
            &d.read_shard("bkt", "k", DD, "part.1", 10, 20).unwrap()[..],
            &[7u8; 20]
        );
        for dd in ["../../etc", "/etc", "a/b", "..", ""] {
            assert!(
                matches!(
                    d.read_shard("bkt", "k", dd, "part.1", 0, 1),
                    Err(DriveError::InvalidName(_))
                ),
                "{dd:?}"
            );
        }
        for name in ["../../../etc/passwd", "/etc/passwd", "part.1/x", "~meta"] {
            assert!(matches!(
                d.read_shard("bkt", "k", DD, name, 0, 1),
                Err(DriveError::InvalidName(_))
            ));
        }
        // A peer asking for gigabytes gets an error, not an allocation.
        assert!(matches!(
            d.read_shard("bkt", "k", DD, "part.1", 0, usize::MAX),
            Err(DriveError::InvalidName(_))
        ));
        assert!(matches!(
            d.read_shard("bkt", "k", DD, "part.1", u64::MAX, 2),
            Err(DriveError::InvalidName(_))
        ));
        // Within the cap but past the end of the file: refused before allocating too.
        assert!(matches!(
            d.read_shard("bkt", "k", DD, "part.1", 0, MAX_SHARD_READ),
            Err(DriveError::Corrupt(_))
        ));
    }

    #[test]
    fn hostile_data_dirs_in_commit_and_restore_are_refused() {
        let (root, d) = drive_with_object();
        for dd in ["../../etc", "/tmp/x", "../k2", "a/b"] {
            assert!(matches!(
                d.commit_object("bkt", "k", None, Some(dd), b"meta"),
                Err(DriveError::InvalidName(_))
            ));
            assert!(matches!(
                d.restore_object("bkt", "k", None, Some(dd)),
                Err(DriveError::InvalidName(_))
            ));
        }
        // Nothing was touched: the object's data is still there.
        assert!(
            root.path()
                .join("bkt/k")
                .join(format!("{DATA_PREFIX}{DD}/part.1"))
                .exists()
        );
    }

    #[test]
    fn a_deleted_object_stays_readable_from_the_trash() {
        let (root, d) = drive_with_object();
        fs::write(root.path().join("bkt/k").join(META_FILE), b"m").unwrap();
        d.delete_object("bkt", "k").unwrap();
        assert!(!root.path().join("bkt/k").exists());
        assert_eq!(
            &d.read_shard("bkt", "k", DD, "part.1", 0, 100).unwrap()[..],
            &[7u8; 100]
        );
    }
}
