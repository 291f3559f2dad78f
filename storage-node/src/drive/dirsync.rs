//! Durable directory entries: fsync of a directory after a rename, unlink or mkdir in it,
//! with concurrent requests for the same directory coalesced.
//!
//! A rename or a new directory is only durable once the *directory* that holds the entry is
//! fsync'd; fsync of the file alone does not persist its name. Many PUTs of one bucket
//! publish into the same directories (the bucket directory for new keys, a key's directory
//! for overwrites), so each directory has a generation counter: a caller needs an fsync that
//! *started after* its own change. If one is running, it started too early, so the caller
//! waits for it to end and then either finds that a later one already covered it or runs
//! the next one itself, which then covers every caller that queued meanwhile. N concurrent
//! commits to one directory cost about two fsyncs instead of N.
//!
//! Directories created by [`DirSync::create_all`] stay in a "fresh" set until the fsync of
//! their parent succeeded, so a concurrent writer that finds such a directory already in
//! place still makes its entry durable before acknowledging, instead of trusting a mkdir
//! that another thread has not yet persisted.

use super::DriveError;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Longest a caller waits for other callers' fsyncs of the same directory; a drive this
/// slow is failing, and the write fails instead of hanging a request.
const WAIT_LIMIT: Duration = Duration::from_secs(60);

/// Deepest directory chain [`DirSync::create_all`] creates in one call: a key has at most
/// [`super::keypath::MAX_KEY_LEN`] / 2 segments, system paths are shallower.
const MAX_DEPTH: usize = super::keypath::MAX_KEY_LEN / 2 + 8;

#[derive(Debug, Default)]
struct Gen {
    /// Generation of the last fsync that started.
    started: u64,
    /// Generation of the last fsync that ended (successfully or not).
    done: u64,
    /// Highest generation that ended successfully.
    ok: u64,
    running: bool,
    last_error: Option<String>,
}

#[derive(Debug, Default)]
struct DirState {
    progress: Mutex<Gen>,
    cv: Condvar,
}

/// Per-drive coalescing of directory fsyncs.
#[derive(Debug, Default)]
pub struct DirSync {
    dirs: Mutex<HashMap<PathBuf, Arc<DirState>>>,
    /// Directories created but whose entry in the parent is not yet known durable.
    fresh: Mutex<HashSet<PathBuf>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fsync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl DirSync {
    /// Makes every entry change in `dir` made before this call durable.
    pub fn sync(&self, dir: &Path) -> Result<(), DriveError> {
        let state = lock(&self.dirs)
            .entry(dir.to_path_buf())
            .or_default()
            .clone();
        let result = Self::sync_state(&state, dir);
        // Forget the directory once nobody else holds its state (the map and we do).
        let mut dirs = lock(&self.dirs);
        if Arc::strong_count(&state) == 2 {
            dirs.remove(dir);
        }
        result
    }

    fn sync_state(state: &DirState, dir: &Path) -> Result<(), DriveError> {
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut g = lock(&state.progress);
        // The first fsync that starts from now on covers our change.
        let target = g.started + 1;
        loop {
            if g.done >= target {
                return if g.ok >= target {
                    Ok(())
                } else {
                    Err(DriveError::Io(format!(
                        "fsync of {}: {}",
                        dir.display(),
                        g.last_error.as_deref().unwrap_or("failed")
                    )))
                };
            }
            if !g.running {
                g.running = true;
                g.started += 1;
                let mine = g.started;
                drop(g);
                let r = fsync_dir(dir);
                g = lock(&state.progress);
                g.running = false;
                g.done = mine;
                match &r {
                    Ok(()) => g.ok = mine,
                    Err(e) => g.last_error = Some(e.to_string()),
                }
                state.cv.notify_all();
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DriveError::Io(format!(
                    "fsync of {} did not finish within {WAIT_LIMIT:?}",
                    dir.display()
                )));
            }
            g = state
                .cv
                .wait_timeout(g, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// `fs::create_dir_all(dir)` for a `dir` inside `stop` (which must exist), made
    /// durable: the parent of every level that this call created, or found freshly created
    /// by a concurrent call that has not made it durable yet, is fsync'd before returning.
    /// The innermost directory itself is not fsync'd: the caller publishes into it and
    /// fsyncs it then.
    pub fn create_all(&self, dir: &Path, stop: &Path, sync: bool) -> Result<(), DriveError> {
        let rel = dir.strip_prefix(stop).map_err(|_| {
            DriveError::InvalidName(format!(
                "{} is not inside {}",
                dir.display(),
                stop.display()
            ))
        })?;
        let levels: Vec<PathBuf> = rel
            .components()
            .scan(stop.to_path_buf(), |p, c| {
                p.push(c);
                Some(p.clone())
            })
            .collect();
        if levels.len() > MAX_DEPTH {
            return Err(DriveError::InvalidName(format!(
                "{} is too deep",
                dir.display()
            )));
        }
        let mut pending: Vec<PathBuf> = Vec::new();
        for level in &levels {
            let exists = match fs::metadata(level) {
                Ok(m) if m.is_dir() => true,
                Ok(_) => {
                    return Err(DriveError::Corrupt(format!(
                        "{} is not a directory",
                        level.display()
                    )));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => return Err(DriveError::Io(e.to_string())),
            };
            if exists {
                if sync && lock(&self.fresh).contains(level) {
                    pending.push(level.clone());
                }
                continue;
            }
            if sync {
                lock(&self.fresh).insert(level.clone());
            }
            match fs::create_dir(level) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    // A concurrent prune removed a parent: the caller retries.
                    return Err(DriveError::NotFound);
                }
                Err(e) => return Err(DriveError::Io(e.to_string())),
            }
            if sync {
                pending.push(level.clone());
            }
        }
        for level in pending {
            let parent = level.parent().unwrap_or(stop);
            self.sync(parent)?;
            lock(&self.fresh).remove(&level);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_every_level_and_forgets_synced_directories() {
        let root = tempfile::tempdir().unwrap();
        let ds = DirSync::default();
        let dir = root.path().join("a/b/c");
        ds.create_all(&dir, root.path(), true).unwrap();
        assert!(dir.is_dir());
        assert!(lock(&ds.fresh).is_empty());
        assert!(lock(&ds.dirs).is_empty());
        // Existing levels are fine, and a path outside the stop is refused.
        ds.create_all(&dir, root.path(), true).unwrap();
        assert!(
            ds.create_all(Path::new("/etc/x"), root.path(), true)
                .is_err()
        );
    }

    #[test]
    fn a_file_in_the_way_is_corruption_not_a_directory() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("a"), b"x").unwrap();
        let ds = DirSync::default();
        assert!(matches!(
            ds.create_all(&root.path().join("a/b"), root.path(), true),
            Err(DriveError::Corrupt(_))
        ));
    }

    #[test]
    fn concurrent_syncs_of_one_directory_all_succeed_and_leave_no_state() {
        let root = tempfile::tempdir().unwrap();
        let ds = Arc::new(DirSync::default());
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let ds = ds.clone();
                let dir = root.path().to_path_buf();
                std::thread::spawn(move || {
                    fs::write(dir.join(format!("f{i}")), b"x").unwrap();
                    ds.sync(&dir)
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
        assert!(lock(&ds.dirs).is_empty());
    }

    #[test]
    fn a_failed_fsync_is_reported() {
        let ds = DirSync::default();
        assert!(ds.sync(Path::new("/nonexistent/cairn-dirsync")).is_err());
    }
}
