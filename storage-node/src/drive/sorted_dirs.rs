//! The sorted names of a drive's large key directories, kept in memory so that a listing
//! page seeks to its marker instead of reading and sorting the whole directory.
//!
//! A file system returns a directory's entries in hash order, so a walk that wants the
//! 1,000 names after a marker in a flat prefix of a million keys would otherwise read
//! and sort all million on every page (cost growing with the prefix). Here a directory
//! with at least [`LARGE_DIR`] entries is read once, its key segments are kept sorted
//! (front-coded chunks, a few bytes per name for typical keys) and later walks take a
//! range after their marker in O(log n + page).
//!
//! Coherence: this process is the only writer of its drives, and every change of a key
//! directory's entries goes through the drive, which reports it here:
//!
//! 1. A creator reports a name only *after* the directory exists on disk
//!    ([`SortedDirs::note_created`]). A report that reaches a directory still being read
//!    for the cache is kept and applied when the read is installed, so a name created
//!    while the cache is filled is never lost.
//! 2. A name is dropped only under the cache's lock *after* checking that it is absent on
//!    disk ([`SortedDirs::forget`]). A concurrent creator re-reports its name after
//!    creating it, which takes the same lock, so the check and the drop cannot hide it.
//!
//! A stale extra name is harmless (the walk finds no metadata and no directory there and
//! drops it); a missing name would lose a key, and the two rules prevent that.
//!
//! Memory is bounded per *server*, not per drive: every drive of the process shares one
//! [`ListingCache`] (one map, one LRU clock, one byte limit, [`DEFAULT_BUDGET`] unless
//! `CAIRN_LIST_CACHE_SIZE` says otherwise), so eight drives listing the same prefix cannot
//! take eight budgets. The least recently used directory of any drive is dropped first and
//! read again on its next listing. Sorting and encoding a directory happen outside the
//! shared lock, so one drive's fill does not stall the others' pages.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard};

/// Directories with at least this many entries are kept sorted in memory; smaller ones
/// are cheaper to read and sort on every walk than to keep.
pub const LARGE_DIR: usize = 1024;

/// Most bytes of names a server keeps over all its drives unless configured otherwise
/// (`CAIRN_LIST_CACHE_SIZE`); beyond it the least recently used directories are dropped.
/// A flat prefix of a million short keys takes about 4 MiB per drive.
pub const DEFAULT_BUDGET: usize = 64 << 20;

/// The server's budget from its `LIST_CACHE_SIZE` setting: plain bytes or a number with a
/// `K`/`M`/`G` suffix (`KiB`, `MB`, ... read as powers of 1,024). Unset or unreadable
/// keeps [`DEFAULT_BUDGET`] (an unreadable value is logged); `0` turns the cache off.
pub fn budget_from_setting(value: Option<&str>) -> usize {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return DEFAULT_BUDGET;
    };
    let digits = v.bytes().take_while(u8::is_ascii_digit).count();
    let (num, unit) = v.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => Some(0),
        "k" | "kb" | "kib" => Some(10),
        "m" | "mb" | "mib" => Some(20),
        "g" | "gb" | "gib" => Some(30),
        _ => None,
    };
    match (num.parse::<usize>(), shift) {
        (Ok(n), Some(shift)) => n
            .checked_shl(shift)
            .filter(|b| b >> shift == n)
            .unwrap_or(usize::MAX),
        _ => {
            tracing::warn!(
                value = v,
                "LIST_CACHE_SIZE is not a size; using the default"
            );
            DEFAULT_BUDGET
        }
    }
}

/// Names per front-coded chunk; a chunk is re-encoded on every insert or removal.
const CHUNK: usize = 128;

/// A sorted set of names (key segments, at most 255 bytes each) stored as front-coded
/// chunks: every name after a chunk's first stores only how many leading bytes it shares
/// with the one before it and the rest.
#[derive(Debug, Default)]
pub struct NameSet {
    chunks: Vec<Chunk>,
    len: usize,
}

#[derive(Debug)]
struct Chunk {
    first: Box<str>,
    /// `[shared: u8][suffix length: u8][suffix]` per name after the first.
    rest: Vec<u8>,
    count: usize,
}

impl Chunk {
    fn encode(names: &[String]) -> Chunk {
        let mut rest = Vec::new();
        for w in names.windows(2) {
            let (prev, cur) = (w[0].as_bytes(), w[1].as_bytes());
            let shared = prev
                .iter()
                .zip(cur)
                .take(255)
                .take_while(|(a, b)| a == b)
                .count();
            let suffix = &cur[shared..];
            rest.push(shared as u8);
            rest.push(suffix.len().min(255) as u8);
            rest.extend_from_slice(&suffix[..suffix.len().min(255)]);
        }
        rest.shrink_to_fit();
        Chunk {
            first: names.first().map(|s| s.as_str()).unwrap_or("").into(),
            rest,
            count: names.len(),
        }
    }

    fn decode(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.count);
        let mut cur = self.first.as_bytes().to_vec();
        out.push(self.first.to_string());
        let mut i = 0;
        while i + 2 <= self.rest.len() {
            let (shared, n) = (self.rest[i] as usize, self.rest[i + 1] as usize);
            let end = (i + 2 + n).min(self.rest.len());
            cur.truncate(shared);
            cur.extend_from_slice(&self.rest[i + 2..end]);
            i = end;
            // Every name was a `&str` and the shared part ends on a byte where both
            // names agree; a name cut mid-character cannot come back, but never panic.
            out.push(String::from_utf8_lossy(&cur).into_owned());
        }
        out
    }

    fn bytes(&self) -> usize {
        self.first.len() + self.rest.capacity() + std::mem::size_of::<Chunk>()
    }
}

impl NameSet {
    /// Builds the set from names in any order (duplicates are dropped).
    pub fn from_names(mut names: Vec<String>) -> NameSet {
        names.sort_unstable();
        names.dedup();
        NameSet::from_sorted(&names)
    }

    /// Builds the set from sorted names without duplicates (no copy of the list).
    pub fn from_sorted(names: &[String]) -> NameSet {
        let chunks = names.chunks(CHUNK).map(Chunk::encode).collect();
        NameSet {
            chunks,
            len: names.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Approximate heap bytes held.
    pub fn bytes(&self) -> usize {
        self.chunks.iter().map(Chunk::bytes).sum::<usize>() + std::mem::size_of::<NameSet>()
    }

    /// The chunk that holds `name` if it is present, or where it would be inserted.
    fn chunk_for(&self, name: &str) -> usize {
        self.chunks
            .partition_point(|c| &*c.first <= name)
            .saturating_sub(1)
    }

    pub fn contains(&self, name: &str) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        self.chunks[self.chunk_for(name)]
            .decode()
            .binary_search_by(|n| n.as_str().cmp(name))
            .is_ok()
    }

    /// Adds `name`; true when it was not there.
    pub fn insert(&mut self, name: &str) -> bool {
        if self.chunks.is_empty() {
            self.chunks.push(Chunk::encode(&[name.to_string()]));
            self.len = 1;
            return true;
        }
        let i = self.chunk_for(name);
        let mut names = self.chunks[i].decode();
        let Err(at) = names.binary_search_by(|n| n.as_str().cmp(name)) else {
            return false;
        };
        names.insert(at, name.to_string());
        self.len += 1;
        if names.len() > 2 * CHUNK {
            let tail = names.split_off(names.len() / 2);
            self.chunks[i] = Chunk::encode(&names);
            self.chunks.insert(i + 1, Chunk::encode(&tail));
        } else {
            self.chunks[i] = Chunk::encode(&names);
        }
        true
    }

    /// Removes `name`; true when it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let i = self.chunk_for(name);
        let mut names = self.chunks[i].decode();
        let Ok(at) = names.binary_search_by(|n| n.as_str().cmp(name)) else {
            return false;
        };
        names.remove(at);
        self.len -= 1;
        if names.is_empty() {
            self.chunks.remove(i);
        } else {
            self.chunks[i] = Chunk::encode(&names);
        }
        true
    }

    /// Up to `max` names after `from`, in order.
    pub fn range(&self, from: Bound<&str>, max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let start = match from {
            Bound::Included(s) | Bound::Excluded(s) => self.chunk_for(s),
            Bound::Unbounded => 0,
        };
        for chunk in &self.chunks[start.min(self.chunks.len())..] {
            for n in chunk.decode() {
                let wanted = match from {
                    Bound::Included(s) => n.as_str() >= s,
                    Bound::Excluded(s) => n.as_str() > s,
                    Bound::Unbounded => true,
                };
                if wanted {
                    if out.len() == max {
                        return out;
                    }
                    out.push(n);
                }
            }
        }
        out
    }
}

#[derive(Debug)]
enum Slot {
    /// Being read; names created meanwhile, applied when the read is installed.
    Filling(Vec<String>),
    Ready {
        names: NameSet,
        used: u64,
        /// Inode of the directory when it was read: a directory removed and made again
        /// behind the drive's back (a wiped drive) is read afresh, not trusted.
        ino: u64,
    },
}

#[derive(Debug, Default)]
struct State {
    /// Keyed by absolute path, so the drives of a server (distinct roots) share the map.
    dirs: HashMap<PathBuf, Entry>,
    bytes: usize,
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    /// The [`SortedDirs`] (drive) that filled it, for its own byte count.
    owner: u64,
    slot: Slot,
}

/// The sorted directories of all the drives of one server, under one byte limit.
#[derive(Debug)]
pub struct ListingCache {
    state: Mutex<State>,
    /// Held while a directory is read in full for the cache: one such read per server at
    /// a time, so eight drives filling the same million-name directory hold one list of
    /// names in memory, not eight.
    fill_gate: Mutex<()>,
    limit: AtomicUsize,
    next_owner: AtomicU64,
}

/// The process's cache: every [`SortedDirs::default`] (every local drive) shares it.
static SERVER: LazyLock<Arc<ListingCache>> =
    LazyLock::new(|| Arc::new(ListingCache::new(DEFAULT_BUDGET)));

impl ListingCache {
    pub fn new(limit: usize) -> ListingCache {
        ListingCache {
            state: Mutex::new(State::default()),
            fill_gate: Mutex::new(()),
            limit: AtomicUsize::new(limit),
            next_owner: AtomicU64::new(0),
        }
    }

    /// The cache shared by the drives of this server process.
    pub fn server() -> Arc<ListingCache> {
        SERVER.clone()
    }

    /// Sets the byte limit (start-up, from the configuration); directories beyond it are
    /// dropped at the next fill.
    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Ordering::Relaxed);
    }

    pub fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed)
    }

    /// Bytes of names held now, over every drive.
    pub fn bytes(&self) -> usize {
        lock(&self.state).bytes
    }
}

/// One drive's view of a [`ListingCache`] (see the module documentation).
#[derive(Debug)]
pub struct SortedDirs {
    cache: Arc<ListingCache>,
    id: u64,
}

impl Default for SortedDirs {
    /// A drive of this server: shares the server's cache and its budget.
    fn default() -> Self {
        SortedDirs::in_cache(ListingCache::server())
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The decoded key segment a path's last component stands for.
fn segment_of(path: &Path) -> Option<String> {
    super::keypath::decode_entry(path.file_name()?.to_str()?)
}

impl SortedDirs {
    /// A drive's handle on `cache` (tests give drives a cache of their own).
    pub fn in_cache(cache: Arc<ListingCache>) -> SortedDirs {
        let id = cache.next_owner.fetch_add(1, Ordering::Relaxed);
        SortedDirs { cache, id }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.cache.state)
    }

    /// Up to `max` names of `dir` after `from`, or `None` when `dir` is not cached.
    pub fn range(&self, dir: &Path, from: Bound<&str>, max: usize) -> Option<Vec<String>> {
        // Only a cached directory costs a stat (most walks visit small ones); it is made
        // outside the server-wide lock.
        match self.state().dirs.get(dir) {
            Some(Entry {
                slot: Slot::Ready { .. },
                ..
            }) => {}
            _ => return None,
        }
        let current = inode(dir);
        let mut st = self.state();
        st.clock += 1;
        let now = st.clock;
        match st.dirs.get_mut(dir).map(|e| &mut e.slot) {
            Some(Slot::Ready { names, used, ino }) if Some(*ino) == current => {
                *used = now;
                Some(names.range(from, max))
            }
            Some(Slot::Ready { .. }) => {
                if let Some(Entry {
                    slot: Slot::Ready { names, .. },
                    ..
                }) = st.dirs.remove(dir)
                {
                    st.bytes = st.bytes.saturating_sub(names.bytes());
                }
                None
            }
            _ => None,
        }
    }

    /// Whether `name` is in cached directory `dir` (`None` when `dir` is not cached).
    pub fn contains(&self, dir: &Path, name: &str) -> Option<bool> {
        match self.state().dirs.get(dir).map(|e| &e.slot) {
            Some(Slot::Ready { names, .. }) => Some(names.contains(name)),
            _ => None,
        }
    }

    /// Fills the cache for `dir` with what `read` returns (its key segments), unless
    /// another walk is filling it already. Names created while `read` runs are kept.
    /// Returns the names `read` gave, sorted, for the caller's own walk.
    pub fn fill<E>(
        &self,
        dir: &Path,
        read: impl FnOnce() -> Result<Vec<String>, E>,
    ) -> Result<Vec<String>, E> {
        let mine = {
            let mut st = self.state();
            match st.dirs.get(dir) {
                Some(_) => false,
                None => {
                    st.dirs.insert(
                        dir.to_path_buf(),
                        Entry {
                            owner: self.id,
                            slot: Slot::Filling(Vec::new()),
                        },
                    );
                    true
                }
            }
        };
        let gate = self
            .cache
            .fill_gate
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let ino = inode(dir);
        let result = read();
        if !mine {
            return result.map(sorted);
        }
        let names = match result {
            Ok(names) => sorted(names),
            Err(e) => {
                self.state().dirs.remove(dir);
                return Err(e);
            }
        };
        // Sorted and encoded before taking the lock the other drives share.
        let mut set = NameSet::from_sorted(&names);
        drop(gate);
        let limit = self.cache.limit();
        let mut st = self.state();
        let created = match st.dirs.remove(dir).map(|e| e.slot) {
            Some(Slot::Filling(c)) => c,
            _ => Vec::new(),
        };
        for c in &created {
            set.insert(c);
        }
        let size = set.bytes();
        if let (true, Some(ino)) = (size <= limit, ino) {
            st.clock += 1;
            let used = st.clock;
            st.bytes += size;
            st.dirs.insert(
                dir.to_path_buf(),
                Entry {
                    owner: self.id,
                    slot: Slot::Ready {
                        names: set,
                        used,
                        ino,
                    },
                },
            );
            evict(&mut st, dir, limit);
        }
        drop(st);
        if created.is_empty() {
            Ok(names)
        } else {
            let mut names = names;
            names.extend(created);
            Ok(sorted(names))
        }
    }

    /// Reports that every directory from below `stop` down to `dir` exists now (called
    /// after creating them).
    pub fn note_created(&self, dir: &Path, stop: &Path) {
        let mut st = self.state();
        if st.dirs.is_empty() {
            return;
        }
        let mut cur = dir;
        while cur != stop && cur.starts_with(stop) {
            let (Some(parent), Some(name)) = (cur.parent(), segment_of(cur)) else {
                break;
            };
            let mut grown = 0;
            match st.dirs.get_mut(parent).map(|e| &mut e.slot) {
                Some(Slot::Filling(created)) => created.push(name),
                Some(Slot::Ready { names, .. }) => {
                    let before = names.bytes();
                    if names.insert(&name) {
                        grown = names.bytes().saturating_sub(before);
                    }
                }
                None => {}
            }
            st.bytes += grown;
            cur = parent;
        }
    }

    /// Drops `path`'s name from its parent's cached names if `path` is absent on disk
    /// (called after removing it, and by walks that found a name without anything there).
    pub fn forget(&self, path: &Path) {
        let (Some(parent), Some(name)) = (path.parent(), segment_of(path)) else {
            return;
        };
        let mut st = self.state();
        let Some(Slot::Ready { names, .. }) = st.dirs.get_mut(parent).map(|e| &mut e.slot) else {
            return;
        };
        // Checked under the lock: a creator reports after creating, through this lock.
        if std::fs::symlink_metadata(path).is_ok() {
            return;
        }
        let before = names.bytes();
        names.remove(&name);
        let shrunk = before.saturating_sub(names.bytes());
        st.bytes = st.bytes.saturating_sub(shrunk);
    }

    /// Drops every cached directory at or under `dir` (a removed volume).
    pub fn forget_tree(&self, dir: &Path) {
        let mut st = self.state();
        let gone: Vec<PathBuf> = st
            .dirs
            .keys()
            .filter(|p| p.starts_with(dir))
            .cloned()
            .collect();
        for p in gone {
            if let Some(Entry {
                slot: Slot::Ready { names, .. },
                ..
            }) = st.dirs.remove(&p)
            {
                st.bytes = st.bytes.saturating_sub(names.bytes());
            }
        }
    }

    /// Bytes of names this drive holds now (the server's total is
    /// [`ListingCache::bytes`]).
    pub fn bytes(&self) -> usize {
        self.state()
            .dirs
            .values()
            .filter(|e| e.owner == self.id)
            .map(|e| match &e.slot {
                Slot::Ready { names, .. } => names.bytes(),
                Slot::Filling(_) => 0,
            })
            .sum()
    }
}

fn inode(dir: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| m.ino())
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort_unstable();
    names.dedup();
    names
}

/// Drops least recently used directories of any drive (never `keep`) until `limit` holds.
fn evict(st: &mut State, keep: &Path, limit: usize) {
    while st.bytes > limit {
        let victim = st
            .dirs
            .iter()
            .filter(|(p, _)| p.as_path() != keep)
            .filter_map(|(p, e)| match &e.slot {
                Slot::Ready { used, .. } => Some((*used, p.clone())),
                Slot::Filling(_) => None,
            })
            .min();
        let Some((_, p)) = victim else { break };
        if let Some(Entry {
            slot: Slot::Ready { names, .. },
            ..
        }) = st.dirs.remove(&p)
        {
            st.bytes = st.bytes.saturating_sub(names.bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("k{i:07}")).collect()
    }

    /// A drive with a cache of its own (tests run in parallel; the server's is shared).
    fn own_cache() -> SortedDirs {
        SortedDirs::in_cache(Arc::new(ListingCache::new(DEFAULT_BUDGET)))
    }

    /// The drives of a server share one budget: filling a directory on one drive drops
    /// the least recently used directory of another, and the total never passes it.
    #[test]
    fn one_budget_holds_across_the_drives_of_a_server() {
        let tmp = tempfile::tempdir().unwrap();
        let one = NameSet::from_names(names(5_000)).bytes();
        // Room for two directories of 5,000 names, not three.
        let cache = Arc::new(ListingCache::new(one * 5 / 2));
        let drives: Vec<SortedDirs> = (0..3)
            .map(|_| SortedDirs::in_cache(cache.clone()))
            .collect();
        let dirs: Vec<PathBuf> = (0..3)
            .map(|i| {
                let d = tmp.path().join(format!("drive{i}/bucket/flat"));
                std::fs::create_dir_all(&d).unwrap();
                d
            })
            .collect();
        for (drive, dir) in drives.iter().zip(&dirs).take(2) {
            drive.fill(dir, || Ok::<_, ()>(names(5_000))).unwrap();
        }
        assert_eq!(cache.bytes(), 2 * one);
        assert_eq!(drives[0].bytes(), one, "each drive counts its own");
        // Drive 0's directory is used again, so drive 1's is now the least recent.
        assert!(drives[0].range(&dirs[0], Bound::Unbounded, 1).is_some());
        drives[2]
            .fill(&dirs[2], || Ok::<_, ()>(names(5_000)))
            .unwrap();
        assert!(cache.bytes() <= cache.limit(), "{} bytes", cache.bytes());
        assert_eq!(drives[1].range(&dirs[1], Bound::Unbounded, 1), None);
        assert_eq!(drives[1].bytes(), 0);
        assert!(drives[0].range(&dirs[0], Bound::Unbounded, 1).is_some());
        assert!(drives[2].range(&dirs[2], Bound::Unbounded, 1).is_some());
        // A lower limit applies at the next fill: only the newest directory stays.
        cache.set_limit(one * 3 / 2);
        drives[1]
            .fill(&dirs[1], || Ok::<_, ()>(names(5_000)))
            .unwrap();
        assert_eq!(cache.bytes(), one);
        assert!(drives[1].range(&dirs[1], Bound::Unbounded, 1).is_some());
        // A directory larger than the whole budget is not kept at all.
        cache.set_limit(one / 2);
        let got = drives[0]
            .fill(&dirs[0], || Ok::<_, ()>(names(5_000)))
            .unwrap();
        assert_eq!(got.len(), 5_000, "the walk still gets every name");
        assert_eq!(drives[0].range(&dirs[0], Bound::Unbounded, 1), None);
        assert!(cache.bytes() <= one);
    }

    /// Drives read large directories for the cache one at a time, so a server holds one
    /// full list of names at once however many drives fill the same prefix.
    #[test]
    fn one_directory_is_read_for_the_cache_at_a_time() {
        use std::sync::atomic::AtomicUsize;
        let tmp = tempfile::tempdir().unwrap();
        let cache = Arc::new(ListingCache::new(DEFAULT_BUDGET));
        let (active, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for i in 0..4 {
                let drive = SortedDirs::in_cache(cache.clone());
                let dir = tmp.path().join(format!("drive{i}/flat"));
                std::fs::create_dir_all(&dir).unwrap();
                let (active, most) = (&active, &most);
                scope.spawn(move || {
                    drive
                        .fill(&dir, || {
                            let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(30));
                            active.fetch_sub(1, Ordering::SeqCst);
                            Ok::<_, ()>(names(2_000))
                        })
                        .unwrap();
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 1);
        assert_eq!(cache.bytes(), 4 * NameSet::from_names(names(2_000)).bytes());
    }

    #[test]
    fn budget_settings() {
        assert_eq!(budget_from_setting(None), DEFAULT_BUDGET);
        assert_eq!(budget_from_setting(Some("")), DEFAULT_BUDGET);
        assert_eq!(budget_from_setting(Some("1000")), 1000);
        assert_eq!(budget_from_setting(Some("16MiB")), 16 << 20);
        assert_eq!(budget_from_setting(Some("2 GB")), 2 << 30);
        assert_eq!(budget_from_setting(Some("512k")), 512 << 10);
        assert_eq!(budget_from_setting(Some("0")), 0);
        assert_eq!(budget_from_setting(Some("lots")), DEFAULT_BUDGET);
        assert_eq!(budget_from_setting(Some("-5MiB")), DEFAULT_BUDGET);
        assert_eq!(budget_from_setting(Some("5TiB")), DEFAULT_BUDGET);
    }

    #[test]
    fn the_drives_of_a_process_share_its_cache() {
        let (a, b) = (SortedDirs::default(), SortedDirs::default());
        assert!(Arc::ptr_eq(&a.cache, &b.cache));
        assert!(Arc::ptr_eq(&a.cache, &ListingCache::server()));
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn front_coding_round_trips_and_is_compact() {
        let all = names(10_000);
        let set = NameSet::from_names(all.clone());
        assert_eq!(set.len(), 10_000);
        assert_eq!(set.range(Bound::Unbounded, usize::MAX), all);
        // Sequential names share most of their bytes: well under their plain size.
        assert!(set.bytes() < 10_000 * 6, "{} bytes", set.bytes());
    }

    #[test]
    fn ranges_start_after_or_at_the_bound() {
        let set = NameSet::from_names(names(1000));
        assert_eq!(
            set.range(Bound::Excluded("k0000500"), 2),
            vec!["k0000501", "k0000502"]
        );
        assert_eq!(set.range(Bound::Included("k0000500"), 1), vec!["k0000500"]);
        assert_eq!(set.range(Bound::Included("k00005000"), 1), vec!["k0000501"]);
        assert!(set.range(Bound::Excluded("k0000999"), 5).is_empty());
        assert_eq!(set.range(Bound::Included(""), 1), vec!["k0000000"]);
    }

    proptest! {
        #[test]
        fn behaves_like_a_btreeset(
            start in proptest::collection::vec("[a-c~é]{0,4}", 0..300),
            ops in proptest::collection::vec((any::<bool>(), "[a-c~é]{0,4}"), 0..300),
            from in "[a-c~é]{0,4}",
        ) {
            let mut set = NameSet::from_names(start.clone());
            let mut model: BTreeSet<String> = start.into_iter().collect();
            for (add, n) in ops {
                if add {
                    prop_assert_eq!(set.insert(&n), model.insert(n.clone()));
                } else {
                    prop_assert_eq!(set.remove(&n), model.remove(&n));
                }
                prop_assert_eq!(set.len(), model.len());
            }
            let all: Vec<String> = model.iter().cloned().collect();
            prop_assert_eq!(set.range(Bound::Unbounded, usize::MAX), all);
            let after: Vec<String> = model
                .range::<str, _>((Bound::Excluded(from.as_str()), Bound::Unbounded))
                .take(7)
                .cloned()
                .collect();
            prop_assert_eq!(set.range(Bound::Excluded(&from), 7), after);
            prop_assert_eq!(set.contains(&from), model.contains(&from));
        }
    }

    #[test]
    fn names_created_while_filling_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let cache = own_cache();
        let root = dir.path();
        let got = cache
            .fill(root, || {
                // A creator reports while the directory is being read.
                std::fs::create_dir(root.join("late")).unwrap();
                cache.note_created(&root.join("late"), root);
                Ok::<_, ()>(vec!["early".to_string()])
            })
            .unwrap();
        assert_eq!(got, vec!["early", "late"]);
        assert_eq!(cache.contains(root, "late"), Some(true));
    }

    #[test]
    fn a_directory_replaced_behind_the_drive_is_read_again() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        std::fs::create_dir(&d).unwrap();
        let cache = own_cache();
        cache.fill(&d, || Ok::<_, ()>(vec!["x".into()])).unwrap();
        assert!(cache.range(&d, Bound::Unbounded, 1).is_some());
        // Move it aside (its inode stays in use, so the new one gets another number).
        std::fs::rename(&d, dir.path().join("old")).unwrap();
        std::fs::create_dir(&d).unwrap();
        assert_eq!(cache.range(&d, Bound::Unbounded, 1), None);
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_name_is_forgotten_only_when_absent_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("a")).unwrap();
        std::fs::create_dir(root.join("~~t")).unwrap();
        let cache = own_cache();
        cache
            .fill(root, || {
                Ok::<_, ()>(vec!["a".into(), "b".into(), "~t".into()])
            })
            .unwrap();
        cache.forget(&root.join("a"));
        cache.forget(&root.join("b"));
        cache.forget(&root.join("~~t"));
        assert_eq!(
            cache.range(root, Bound::Unbounded, 10),
            Some(vec!["a".to_string(), "~t".to_string()])
        );
        std::fs::create_dir_all(root.join("c/d")).unwrap();
        cache.note_created(&root.join("c/d"), root);
        assert_eq!(cache.contains(root, "c"), Some(true));
        cache.forget_tree(root);
        assert_eq!(cache.contains(root, "c"), None);
        assert_eq!(cache.bytes(), 0);
    }
}
