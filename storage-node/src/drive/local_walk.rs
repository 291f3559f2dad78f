//! The listing walk of a local drive: a forward-only, depth-first walk in S3 key order
//! that starts at the listing's marker without reading what comes before it.
//!
//! Each directory is visited from a seek point computed from the marker and the prefix:
//!
//! 1. Keys under directory `rel` after marker `m` start at segment `ms`, `m`'s next segment.
//!    Large directories come sorted from [`SortedDirs`] (a range after `ms`, O(log n +
//!    page)); small ones are read and sorted (bounded by [`sorted_dirs::LARGE_DIR`]).
//! 2. An object `x` sorts as `x`, the keys under it as `x/...`, so keys such as `x!`
//!    (`!` < `/`) fall between `x` and `x/`. A subtree therefore waits in a small heap
//!    until the next segment sorts after it, and the subtrees of segments *before* `ms`
//!    that still sort after the marker (the prefixes `ms[..j]` where `ms[j]` < `/`) are
//!    looked up one by one instead of scanning from them.
//! 3. A segment past the prefix ends the directory.
//!
//! Metadata (the header only, never inline data) is read just for the keys returned, so a
//! page costs the same in a prefix of ten keys as in one of a million; and only for the
//! keys [`WalkOptions::headers`] gives this drive: the others are returned by name after
//! a `stat` of their metadata file (a listing reads a quorum of headers, not all of them).

use super::keypath::{self, DIR_META_FILE, META_FILE};
use super::sorted_dirs::{self, SortedDirs};
use super::{DriveError, WalkEntry, WalkOptions};
use bytes::Bytes;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::{self, File};
use std::io::{self, Read};
use std::ops::Bound;
use std::path::{Path, PathBuf};

/// Walks volume directory `vol` as `opts` asks.
pub fn walk(
    sorted: &SortedDirs,
    vol: &Path,
    opts: &WalkOptions,
) -> Result<Vec<WalkEntry>, DriveError> {
    // Start in the deepest directory that the prefix fully names.
    let start_rel = match opts.prefix.rfind('/') {
        Some(i) => &opts.prefix[..=i],
        None => "",
    };
    let mut start = vol.to_path_buf();
    if let Some(body) = start_rel.strip_suffix('/') {
        for seg in body.split('/') {
            // No stored key has an empty, `.` or `..` segment (keypath::validate_key),
            // so such a prefix (`/`, `a//`) names nothing.
            if seg.is_empty() || seg == "." || seg == ".." {
                return Ok(Vec::new());
            }
            start.push(keypath::encode_segment(seg));
        }
    }
    let mut out = Vec::new();
    let mut walker = Walker {
        opts,
        sorted,
        out: &mut out,
    };
    walker.dir(&start, None, start_rel, 0)?;
    Ok(out)
}

struct Walker<'a> {
    opts: &'a WalkOptions,
    sorted: &'a SortedDirs,
    out: &'a mut Vec<WalkEntry>,
}

impl Walker<'_> {
    fn full(&self) -> bool {
        self.out.len() >= self.opts.limit
    }

    fn wanted_key(&self, key: &str) -> bool {
        key.starts_with(&self.opts.prefix) && key > self.opts.marker.as_str()
    }

    /// A subtree `p/` can hold wanted keys only if it overlaps the prefix and is not
    /// entirely at or before the marker.
    fn wanted_subtree(&self, p: &str) -> bool {
        let overlaps = p.starts_with(&self.opts.prefix) || self.opts.prefix.starts_with(p);
        let before_marker = p <= self.opts.marker.as_str() && !self.opts.marker.starts_with(p);
        overlaps && !before_marker
    }

    /// Where to start in directory `rel`: `None` when nothing in it is wanted, else the
    /// first segment to read and the earlier segments whose subtrees may still be wanted.
    fn seek(&self, rel: &str) -> Option<(Option<String>, Vec<String>)> {
        let m = self.opts.marker.as_str();
        let (mut from, candidates) = match m.strip_prefix(rel) {
            Some(mr) => {
                let ms = mr.split('/').next().unwrap_or("");
                // `.` and `..` name no key (and would name this directory or its parent).
                let candidates = ms
                    .bytes()
                    .enumerate()
                    .filter(|(j, b)| *j > 0 && *b < b'/')
                    .map(|(j, _)| ms[..j].to_string())
                    .filter(|c| c != "." && c != "..")
                    .collect();
                (Some(ms.to_string()), candidates)
            }
            None if m < rel => (None, Vec::new()),
            // Every key under `rel` sorts before the marker.
            None => return None,
        };
        if let Some(pr) = self.opts.prefix.strip_prefix(rel) {
            if from.as_deref().is_none_or(|f| f < pr) {
                from = Some(pr.to_string());
            }
        }
        Some((from.filter(|f| !f.is_empty()), candidates))
    }

    /// True once key `key` of this directory sorts after every key of the prefix.
    fn past_prefix(&self, key: &str) -> bool {
        key > self.opts.prefix.as_str() && !key.starts_with(&self.opts.prefix)
    }

    /// Walks directory `dir` (key prefix `rel`); `at` is the same directory as a name in
    /// its open parent, when the parent is open.
    fn dir(
        &mut self,
        dir: &Path,
        at: Option<(&DirFd, &str)>,
        rel: &str,
        depth: usize,
    ) -> Result<(), DriveError> {
        if depth > keypath::MAX_KEY_LEN / 2 || self.full() {
            return Ok(());
        }
        let Some((from, candidates)) = self.seek(rel) else {
            return Ok(());
        };
        if depth > 0 && no_subdirectories(dir, at) {
            // Every key under `rel` is a directory, so a key directory without
            // subdirectories (a leaf: most of them) can hold only its folder marker. One
            // stat instead of reading the directory, for every key a recursive walk passes.
            if self.wanted_key(rel) {
                let marker = at.map(|(d, name)| (d, format!("{name}/{DIR_META_FILE}")));
                let marker = marker.as_ref().map(|(d, r)| (*d, r.as_str()));
                if let Some(e) = self.object(rel, &dir.join(DIR_META_FILE), marker)? {
                    self.out.push(e);
                }
            }
            return Ok(());
        }
        let batch = (self.opts.limit - self.out.len() + 1).clamp(16, 4096);
        let mut children = Children::open(self.sorted, dir, from.as_deref(), batch)?;
        // Lookups below resolve from here (a failed open falls back to whole paths).
        let own = DirFd::open(dir);
        let own = own.as_ref();
        // A folder marker `rel` (ending in `/`) sorts before everything under it.
        if !rel.is_empty() && children.may_have_dir_marker() && self.wanted_key(rel) {
            let marker = own.map(|d| (d, DIR_META_FILE));
            if let Some(e) = self.object(rel, &dir.join(DIR_META_FILE), marker)? {
                self.out.push(e);
            }
        }
        // Subtrees waiting for their place: (key `rel/seg/`, seg).
        let mut pending: BinaryHeap<Reverse<(String, String)>> = BinaryHeap::new();
        for c in candidates {
            let p = format!("{rel}{c}/");
            if self.wanted_subtree(&p) && dir.join(keypath::encode_segment(&c)).is_dir() {
                pending.push(Reverse((p, c)));
            }
        }
        while !self.full() {
            let Some(seg) = children.next(self.sorted)? else {
                break;
            };
            let key = format!("{rel}{seg}");
            if self.past_prefix(&key) {
                break;
            }
            while let Some(Reverse((p, _))) = pending.peek() {
                if p.as_str() > key.as_str() || self.full() {
                    break;
                }
                if let Some(Reverse((p, s))) = pending.pop() {
                    self.subtree(dir, own, &p, &s, depth)?;
                }
            }
            if self.full() {
                break;
            }
            let enc = keypath::encode_segment(&seg);
            let path = dir.join(&enc);
            if self.wanted_key(&key) {
                let meta = own.map(|d| (d, format!("{enc}/{META_FILE}")));
                let meta = meta.as_ref().map(|(d, r)| (*d, r.as_str()));
                match self.object(&key, &path.join(META_FILE), meta)? {
                    Some(e) => self.out.push(e),
                    None if children.is_cached() => self.sorted.forget(&path),
                    None => {}
                }
            }
            let p = format!("{key}/");
            if self.wanted_subtree(&p) {
                pending.push(Reverse((p, seg)));
            }
        }
        while let Some(Reverse((p, s))) = pending.pop() {
            if self.full() {
                break;
            }
            self.subtree(dir, own, &p, &s, depth)?;
        }
        Ok(())
    }

    /// Key `key`'s entry if its metadata file `meta` (also `at`, from an open directory)
    /// exists: with the header when this drive reads it ([`WalkOptions::headers`]), else
    /// by name after a `stat`, which costs a fraction of opening and reading the file.
    fn object(
        &self,
        key: &str,
        meta: &Path,
        at: Option<(&DirFd, &str)>,
    ) -> Result<Option<WalkEntry>, DriveError> {
        let header = if self.opts.headers.reads(key) {
            let file = match at {
                Some((d, rel)) => d.open_file(rel),
                None => File::open(meta),
            };
            match read_header_of(file).map_err(io_err)? {
                Some(h) => Some(h),
                None => return Ok(None),
            }
        } else {
            let file = match at {
                Some((d, rel)) => d.stat(rel).map(|st| is_file(&st)),
                None => fs::metadata(meta).map(|m| m.is_file()),
            };
            if !exists(file).map_err(io_err)? {
                return Ok(None);
            }
            None
        };
        Ok(Some(WalkEntry::Object {
            key: key.to_string(),
            meta: header,
        }))
    }

    /// Visits subtree `p` (segment `seg` of `dir`): descends when recursive or still inside
    /// the prefix, else reports it as a common prefix if anything is under it.
    fn subtree(
        &mut self,
        dir: &Path,
        own: Option<&DirFd>,
        p: &str,
        seg: &str,
        depth: usize,
    ) -> Result<(), DriveError> {
        let enc = keypath::encode_segment(seg);
        let path = dir.join(&enc);
        if self.opts.recursive || self.opts.prefix.len() >= p.len() {
            self.dir(&path, own.map(|d| (d, enc.as_str())), p, depth + 1)
        } else {
            if p > self.opts.marker.as_str() && has_entries(&path) {
                self.out.push(WalkEntry::Prefix(p.to_string()));
            }
            Ok(())
        }
    }
}

fn io_err(e: io::Error) -> DriveError {
    DriveError::Io(e.to_string())
}

/// True when `dir` certainly has no subdirectory: its link count is 2 (itself and its
/// entry in the parent). File systems that do not count subdirectory links (btrfs reports
/// 1, ext4 1 past 65,000 subdirectories) answer false, and the directory is read.
fn no_subdirectories(dir: &Path, at: Option<(&DirFd, &str)>) -> bool {
    use std::os::unix::fs::MetadataExt;
    match at {
        Some((d, name)) => d.stat(name).is_ok_and(|st| {
            FileType::from_raw_mode(st.st_mode) == FileType::Directory && st.st_nlink == 2
        }),
        None => fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.nlink() == 2),
    }
}

/// A directory of the walk held open, so that the `stat`s and `open`s of its keys
/// resolve one or two path components from it (`fstatat`, `openat`) instead of the whole
/// path from `/`: path lookup was the largest cost of a listing page (perf, 100,000 flat
/// keys: about a quarter of the server's CPU in the kernel's path walk).
struct DirFd(File);

impl DirFd {
    fn open(path: &Path) -> Option<DirFd> {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(path)
            .ok()
            .map(DirFd)
    }

    /// `stat` of `rel` (relative to this directory), following symbolic links as
    /// [`fs::metadata`] does.
    fn stat(&self, rel: &str) -> io::Result<Stat> {
        no_nul(rel)?;
        Ok(rustix::fs::statat(&self.0, rel, AtFlags::empty())?)
    }

    /// Opens file `rel` (relative to this directory) for reading.
    fn open_file(&self, rel: &str) -> io::Result<File> {
        no_nul(rel)?;
        let fd = rustix::fs::openat(
            &self.0,
            rel,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(File::from(fd))
    }
}

/// A name with a NUL byte names no file (the system call would refuse it as invalid).
fn no_nul(rel: &str) -> io::Result<()> {
    if rel.contains('\0') {
        return Err(io::Error::from(io::ErrorKind::NotFound));
    }
    Ok(())
}

fn is_file(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::RegularFile
}

/// The key segments of one directory in order, from a seek point on.
enum Children {
    /// Read from the file system and sorted (small directories).
    Listed {
        names: std::vec::IntoIter<String>,
        dir_marker: bool,
    },
    /// Taken batch by batch from [`SortedDirs`] (large directories).
    Cached {
        dir: PathBuf,
        batch: std::vec::IntoIter<String>,
        last: Option<String>,
        size: usize,
    },
}

impl Children {
    fn open(
        sorted: &SortedDirs,
        dir: &Path,
        from: Option<&str>,
        size: usize,
    ) -> Result<Children, DriveError> {
        let bound = from.map_or(Bound::Unbounded, Bound::Included);
        if let Some(batch) = sorted.range(dir, bound, size) {
            return Ok(Children::Cached {
                dir: dir.to_path_buf(),
                last: batch.last().cloned(),
                batch: batch.into_iter(),
                size,
            });
        }
        // Reading stops at the threshold: a large directory is read in full only under
        // the cache's watch (one copy of its names at a time, one such read per server).
        let (mut names, dir_marker) = read_segments(dir, Some(sorted_dirs::LARGE_DIR))?;
        if names.len() >= sorted_dirs::LARGE_DIR {
            drop(names);
            // Read again under the cache's watch, so names created meanwhile are kept.
            let all = sorted.fill(dir, || read_segments(dir, None).map(|(n, _)| n))?;
            if let Some(batch) = sorted.range(dir, bound, size) {
                drop(all);
                return Ok(Children::Cached {
                    dir: dir.to_path_buf(),
                    last: batch.last().cloned(),
                    batch: batch.into_iter(),
                    size,
                });
            }
            // Not kept (above the budget): this walk goes on from its own copy.
            names = all;
        } else {
            names.sort_unstable();
        }
        Ok(Self::listed_from(names, dir_marker, bound))
    }

    fn listed_from(names: Vec<String>, dir_marker: bool, from: Bound<&str>) -> Children {
        let start = match from {
            Bound::Included(f) => names.partition_point(|n| n.as_str() < f),
            Bound::Excluded(f) => names.partition_point(|n| n.as_str() <= f),
            Bound::Unbounded => 0,
        };
        let mut names = names.into_iter();
        if start > 0 {
            names.nth(start - 1);
        }
        Children::Listed { names, dir_marker }
    }

    fn is_cached(&self) -> bool {
        matches!(self, Children::Cached { .. })
    }

    /// False only when the directory was read and holds no folder marker.
    fn may_have_dir_marker(&self) -> bool {
        match self {
            Children::Listed { dir_marker, .. } => *dir_marker,
            Children::Cached { .. } => true,
        }
    }

    fn next(&mut self, sorted: &SortedDirs) -> Result<Option<String>, DriveError> {
        match self {
            Children::Listed { names, .. } => Ok(names.next()),
            Children::Cached {
                dir,
                batch,
                last,
                size,
            } => {
                if let Some(n) = batch.next() {
                    return Ok(Some(n));
                }
                let Some(after) = last.clone() else {
                    return Ok(None);
                };
                match sorted.range(dir, Bound::Excluded(&after), *size) {
                    Some(more) => {
                        *last = more.last().cloned();
                        *batch = more.into_iter();
                        Ok(batch.next())
                    }
                    None => {
                        // Dropped from the cache meanwhile: read the directory instead.
                        let (mut names, dir_marker) = read_segments(dir, None)?;
                        names.sort_unstable();
                        *self = Self::listed_from(names, dir_marker, Bound::Excluded(&after));
                        self.next(sorted)
                    }
                }
            }
        }
    }
}

/// The key segments of directory `dir` (decoded, unordered) and whether it holds a folder
/// marker; a missing directory is empty. With `limit`, reading stops once that many
/// segments are found (the folder marker is then unknown: false).
fn read_segments(dir: &Path, limit: Option<usize>) -> Result<(Vec<String>, bool), DriveError> {
    let rd = match fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            return Ok((Vec::new(), false));
        }
        Err(e) => return Err(io_err(e)),
    };
    let mut names = Vec::new();
    let mut dir_marker = false;
    for entry in rd {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name == DIR_META_FILE {
            dir_marker = true;
        } else if let Some(seg) = keypath::decode_entry(name) {
            names.push(seg);
            if limit.is_some_and(|l| names.len() >= l) {
                break;
            }
        }
    }
    Ok((names, dir_marker))
}

/// Reads only the JSON header of a metadata file, skipping any inline data, so that
/// listings stay cheap even for small objects stored inline.
pub fn read_meta_header(path: &Path) -> io::Result<Option<Bytes>> {
    read_header_of(File::open(path))
}

/// [`read_meta_header`] of a file being opened; a missing file has none.
fn read_header_of(open: io::Result<File>) -> io::Result<Option<Bytes>> {
    let mut f = match open {
        Ok(f) => f,
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    let mut head = vec![0u8; 4096];
    let mut filled = 0;
    while filled < head.len() {
        let n = f.read(&mut head[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    head.truncate(filled);
    let needed = crate::objects::meta::header_len(&head).unwrap_or(filled);
    if needed > filled {
        let mut rest = vec![0u8; needed - filled];
        f.read_exact(&mut rest)?;
        head.extend_from_slice(&rest);
    } else {
        head.truncate(needed);
    }
    Ok(Some(Bytes::from(head)))
}

/// The answer of a "is it a file" check; a missing path (or one under a file) is not.
fn exists(is_file: io::Result<bool>) -> io::Result<bool> {
    match is_file {
        Ok(f) => Ok(f),
        Err(e)
            if e.kind() == io::ErrorKind::NotFound || e.kind() == io::ErrorKind::NotADirectory =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// True when a key directory holds anything under it besides its own object.
fn has_entries(dir: &Path) -> bool {
    let Ok(rd) = fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name == DIR_META_FILE || keypath::decode_entry(&name).is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::super::local::LocalDrive;
    use super::super::{Drive, SYSTEM_VOLUME, WalkEntry, WalkOptions};
    use bytes::Bytes;

    /// A drive with bucket `b` holding `keys` (metadata = the key's bytes).
    async fn drive_with(keys: &[String]) -> (tempfile::TempDir, LocalDrive) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(SYSTEM_VOLUME).join("tmp")).unwrap();
        let d = LocalDrive::new(dir.path().to_path_buf(), false);
        d.make_volume("b").await.unwrap();
        for k in keys {
            put(&d, k).await;
        }
        (dir, d)
    }

    async fn put(d: &LocalDrive, key: &str) {
        d.commit_object("b", key, None, None, Bytes::from(key.to_string()))
            .await
            .unwrap();
    }

    fn opts(prefix: &str, marker: &str, recursive: bool, limit: usize) -> WalkOptions {
        WalkOptions {
            prefix: prefix.into(),
            marker: marker.into(),
            recursive,
            limit,
            headers: Default::default(),
        }
    }

    fn names(entries: &[WalkEntry]) -> Vec<String> {
        entries.iter().map(|e| e.name().to_string()).collect()
    }

    /// What a recursive walk must return: keys under `prefix` after `marker`, in byte order.
    fn expected(keys: &[String], prefix: &str, marker: &str, limit: usize) -> Vec<String> {
        let mut v: Vec<String> = keys
            .iter()
            .filter(|k| k.starts_with(prefix) && k.as_str() > marker)
            .cloned()
            .collect();
        v.sort();
        v.dedup();
        v.truncate(limit);
        v
    }

    #[tokio::test]
    async fn keys_between_an_object_and_its_subtree_keep_byte_order() {
        let keys: Vec<String> = [
            ".-", "..-", "a", "a!", "a-b", "a/c", "a/c!", "a/c/d", "a.", "a0", "b/", "b/x", "c/",
            "d/e/",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (_t, d) = drive_with(&keys).await;
        for marker in [
            "", ".-", "..-", "a", "a!", "a!z", "a-", "a-b", "a.", "a/", "a/c", "a/c!", "a0", "b",
            "b/",
        ] {
            let got = d.walk("b", &opts("", marker, true, 100)).await.unwrap();
            assert_eq!(
                names(&got),
                expected(&keys, "", marker, 100),
                "marker {marker:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_prefix_with_an_empty_segment_names_nothing() {
        let keys: Vec<String> = ["a/b", "b/a/c"].iter().map(|s| s.to_string()).collect();
        let (_t, d) = drive_with(&keys).await;
        for prefix in ["/", "/b", "a//", "//"] {
            let got = d.walk("b", &opts(prefix, "", true, 100)).await.unwrap();
            assert!(got.is_empty(), "prefix {prefix:?} listed {:?}", names(&got));
        }
    }

    #[tokio::test]
    async fn a_large_directory_is_walked_from_the_marker_and_follows_changes() {
        let mut keys: Vec<String> = (0..1500).map(|i| format!("big/k{i:05}")).collect();
        keys.push("big/k00010!".into());
        keys.push("big/k00010/under".into());
        let (_t, d) = drive_with(&keys).await;
        // First walk fills the cache; later ones seek in it.
        for (marker, limit) in [
            ("", 7),
            ("big/k00010", 4),
            ("big/k00010!", 2),
            ("big/k01400", 200),
        ] {
            let got = d
                .walk("b", &opts("big/", marker, true, limit))
                .await
                .unwrap();
            assert_eq!(
                names(&got),
                expected(&keys, "big/", marker, limit),
                "{marker:?}"
            );
        }
        assert!(d.listing_cache_bytes() > 0, "the directory is cached");
        // Writes and deletes after the cache was filled are seen.
        put(&d, "big/k00500x").await;
        keys.push("big/k00500x".into());
        d.delete_object("b", "big/k00501").await.unwrap();
        keys.retain(|k| k != "big/k00501");
        let got = d
            .walk("b", &opts("big/", "big/k00499", true, 4))
            .await
            .unwrap();
        assert_eq!(
            names(&got),
            ["big/k00500", "big/k00500x", "big/k00502", "big/k00503"]
        );
        // The whole directory, page by page, equals the model.
        let mut marker = String::new();
        let mut all = Vec::new();
        loop {
            let got = d
                .walk("b", &opts("big/", &marker, true, 333))
                .await
                .unwrap();
            if got.is_empty() {
                break;
            }
            marker = got.last().map(|e| e.name().to_string()).unwrap_or_default();
            all.extend(names(&got));
        }
        assert_eq!(all, expected(&keys, "big/", "", usize::MAX));
        // A prefix inside the directory starts at it and stops after it.
        let got = d
            .walk("b", &opts("big/k0001", "", true, 100))
            .await
            .unwrap();
        assert_eq!(names(&got), expected(&keys, "big/k0001", "", 100));
        // Non-recursive: the key with children is an object and a common prefix.
        let got = d
            .walk("b", &opts("big/", "big/k00009", false, 3))
            .await
            .unwrap();
        assert_eq!(names(&got), ["big/k00010", "big/k00010!", "big/k00010/"]);
        assert!(matches!(got[2], WalkEntry::Prefix(_)));
    }

    #[tokio::test]
    async fn a_rotated_walk_reads_a_share_of_the_headers_and_names_every_key() {
        use super::super::WalkHeaders;
        let mut keys: Vec<String> = (0..1100).map(|i| format!("big/k{i:05}")).collect();
        keys.extend((0..50).map(|i| format!("s/k{i:02}")));
        keys.push("s/dir/under".into());
        keys.push("s/folder/".into());
        let (_t, d) = drive_with(&keys).await;
        for prefix in ["big/", "s/"] {
            let want = expected(&keys, prefix, "", usize::MAX);
            // Over the eight drives of a set, each key is read by exactly five.
            let mut reads = vec![0; want.len()];
            for index in 0..8 {
                let mut o = opts(prefix, "", true, 5000);
                o.headers = WalkHeaders::Rotated {
                    index,
                    of: 8,
                    count: 5,
                };
                let got = d.walk("b", &o).await.unwrap();
                assert_eq!(names(&got), want, "{prefix} drive {index}");
                for (n, e) in got.iter().enumerate() {
                    let WalkEntry::Object { key, meta } = e else {
                        panic!("{e:?} is no object");
                    };
                    assert_eq!(meta.is_some(), o.headers.reads(key));
                    if let Some(m) = meta {
                        assert_eq!(m, &Bytes::from(key.clone()), "the header of {key}");
                        reads[n] += 1;
                    }
                }
            }
            assert!(reads.iter().all(|r| *r == 5), "{prefix}: {reads:?}");
            // Names only: every key, no header; a directory without metadata (`s/dir`)
            // is no key.
            let mut o = opts(prefix, "", true, 5000);
            o.headers = WalkHeaders::None;
            let got = d.walk("b", &o).await.unwrap();
            assert_eq!(names(&got), want);
            assert!(
                got.iter()
                    .all(|e| matches!(e, WalkEntry::Object { meta: None, .. }))
            );
        }
        // The batched read: headers in order, none for a key without metadata.
        let ask: Vec<String> = ["s/k03", "s/dir", "nope", "s/folder/", "big/k01099"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = d.read_meta_headers("b", &ask).await.unwrap();
        let want: Vec<Option<Bytes>> = vec![
            Some(Bytes::from("s/k03")),
            None,
            None,
            Some(Bytes::from("s/folder/")),
            Some(Bytes::from("big/k01099")),
        ];
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_removed_volume_forgets_its_directories() {
        let keys: Vec<String> = (0..1100).map(|i| format!("k{i:05}")).collect();
        let (_t, d) = drive_with(&keys).await;
        assert_eq!(d.walk("b", &opts("", "", true, 3)).await.unwrap().len(), 3);
        for k in &keys {
            d.delete_object("b", k).await.unwrap();
        }
        d.delete_volume("b").await.unwrap();
        d.make_volume("b").await.unwrap();
        put(&d, "new").await;
        let got = d.walk("b", &opts("", "", true, 10)).await.unwrap();
        assert_eq!(names(&got), ["new"]);
    }
}
