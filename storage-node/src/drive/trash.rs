//! Deferred removal of data directories, so that a GET streaming an old version survives
//! an overwrite, a delete or a heal of its key.
//!
//! A GET resolves the version under the key's read lock and then releases the lock before
//! streaming (a client that stops reading must not block writers). The data directory it
//! reads (`~d.<uuid>`) is immutable, but a later overwrite or delete removes it. Instead of
//! deleting, the drive moves it here, to `.cairn.sys/trash/<~d.uuid>` on the same file
//! system (one rename), and a shard read that no longer finds the directory in the key
//! falls back to this copy. This works the same for a local reader and for a peer's reader
//! (whose `read_shard` RPC lands on this drive), without handles kept across calls.
//!
//! An entry is purged once it has not been read for [`GRACE`]: longer than the send-idle
//! timeout of response bodies, so a reader that is still allowed to stream finds its data;
//! a reader idle longer has been cut off anyway (or, for a trickle that reads the same
//! 1 MiB block for longer than that, gets an error, never other bytes). Everything in the
//! trash is removed at start-up: no reader survives a restart.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long an unused data directory stays readable after its removal.
pub const GRACE: Duration = Duration::from_secs(5 * 60);

/// Name of the trash directory inside the system volume.
pub const TRASH_DIR: &str = "trash";

#[derive(Debug)]
struct State {
    /// Entry name → last time it was moved here or read.
    entries: HashMap<String, Instant>,
    purger_running: bool,
}

#[derive(Debug)]
struct Shared {
    dir: PathBuf,
    grace: Duration,
    state: Mutex<State>,
}

/// The trash of one drive.
#[derive(Debug, Clone)]
pub struct Trash {
    shared: Arc<Shared>,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Trash {
    pub fn new(dir: PathBuf, grace: Duration) -> Self {
        Self {
            shared: Arc::new(Shared {
                dir,
                grace,
                state: Mutex::new(State {
                    entries: HashMap::new(),
                    purger_running: false,
                }),
            }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// Where entry `name` lives while it is in the trash.
    pub fn path(&self, name: &str) -> PathBuf {
        self.shared.dir.join(name)
    }

    /// Moves directory `src` into the trash as `name` (a `~d.<uuid>` name, unique per
    /// version). When the trash already holds that name (the same version removed twice,
    /// e.g. healed back and deleted again), the older copy keeps serving readers and `src`
    /// is removed at once.
    pub fn put(&self, src: &Path, name: &str) -> io::Result<()> {
        let target = self.path(name);
        let moved = match fs::rename(src, &target) {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !self.shared.dir.is_dir() => {
                match fs::create_dir(&self.shared.dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(e),
                }
                fs::rename(src, &target)?;
                true
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
            Err(_) if target.exists() => false,
            Err(e) => return Err(e),
        };
        if !moved {
            fs::remove_dir_all(src)?;
        }
        lock(&self.shared.state)
            .entries
            .insert(name.to_string(), Instant::now());
        self.ensure_purger();
        Ok(())
    }

    /// Records a read of entry `name`, which restarts its grace period.
    pub fn touch(&self, name: &str) {
        if let Some(t) = lock(&self.shared.state).entries.get_mut(name) {
            *t = Instant::now();
        }
    }

    /// Removes everything in the trash now (start-up).
    pub fn clear(&self) {
        lock(&self.shared.state).entries.clear();
        let Ok(rd) = fs::read_dir(&self.shared.dir) else {
            return;
        };
        for e in rd.flatten() {
            let _ = fs::remove_dir_all(e.path());
        }
    }

    fn ensure_purger(&self) {
        {
            let mut st = lock(&self.shared.state);
            if st.purger_running {
                return;
            }
            st.purger_running = true;
        }
        let shared = self.shared.clone();
        let spawned = std::thread::Builder::new()
            .name("cairn-trash".into())
            .spawn(move || purge_loop(&shared));
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "cannot start the trash purger; retried on the next removal");
            lock(&self.shared.state).purger_running = false;
        }
    }

    /// Purges the entries whose grace period ended; returns how many are left.
    fn purge_expired(shared: &Shared) -> usize {
        let now = Instant::now();
        let expired: Vec<String> = {
            let mut st = lock(&shared.state);
            let names: Vec<String> = st
                .entries
                .iter()
                .filter(|(_, t)| now.duration_since(**t) >= shared.grace)
                .map(|(n, _)| n.clone())
                .collect();
            for n in &names {
                st.entries.remove(n);
            }
            names
        };
        for name in expired {
            match fs::remove_dir_all(shared.dir.join(&name)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(dir = %shared.dir.display(), %name, error = %e, "cannot purge trash entry")
                }
            }
        }
        lock(&shared.state).entries.len()
    }
}

/// Runs while the trash holds entries: wakes up a few times per grace period and purges
/// what expired; ends (and is started again by the next removal) once the trash is empty.
fn purge_loop(shared: &Shared) {
    let tick = (shared.grace / 4).clamp(Duration::from_millis(10), Duration::from_secs(30));
    loop {
        std::thread::sleep(tick);
        Trash::purge_expired(shared);
        let mut st = lock(&shared.state);
        if st.entries.is_empty() {
            st.purger_running = false;
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with_file(root: &Path, name: &str) -> PathBuf {
        let d = root.join(name);
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("part.1"), name.as_bytes()).unwrap();
        d
    }

    #[test]
    fn a_removed_directory_stays_readable_until_its_grace_ends() {
        let root = tempfile::tempdir().unwrap();
        let trash = Trash::new(root.path().join("trash"), Duration::from_millis(300));
        let src = dir_with_file(root.path(), "~d.a");
        trash.put(&src, "~d.a").unwrap();
        assert!(!src.exists());
        assert_eq!(
            fs::read(trash.path("~d.a").join("part.1")).unwrap(),
            b"~d.a"
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while trash.path("~d.a").exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!trash.path("~d.a").exists(), "purged after its grace");
    }

    #[test]
    fn the_same_name_twice_keeps_the_first_copy() {
        let root = tempfile::tempdir().unwrap();
        let trash = Trash::new(root.path().join("trash"), Duration::from_secs(3600));
        let first = dir_with_file(root.path(), "~d.b");
        trash.put(&first, "~d.b").unwrap();
        let again = dir_with_file(root.path(), "~d.b");
        trash.put(&again, "~d.b").unwrap();
        assert!(!again.exists());
        assert!(trash.path("~d.b").join("part.1").exists());
        trash.clear();
        assert!(!trash.path("~d.b").exists());
    }
}
