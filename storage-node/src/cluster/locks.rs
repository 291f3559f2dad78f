//! Quorum locks across the servers of a deployment, so that concurrent PUT, DELETE and
//! CompleteMultipartUpload of one key on different servers never interleave their commits.
//!
//! Every server keeps a [`LockTable`]. To lock a name, a server asks every table (its own
//! directly, the others over RPC) and holds the lock once a majority granted it: a write
//! lock needs `n/2 + 1` grants, a read lock `n/2` (two majorities of writers always
//! overlap; a reader and a writer always overlap too). Grants are leases: the holder
//! refreshes them while it works, and a table forgets a grant whose holder stopped
//! refreshing (it died or was cut off), so a dead server never blocks a key for longer
//! than [`LEASE`]. Locks are only taken after the process-local lock on the same name, so
//! the network sees one contender per server at most.
//!
//! One request may lock several names at once, all or nothing on each table
//! ([`DistLocks::lock_all`]): a commit locks its key for writing and its bucket for
//! reading (so that DeleteBucket, which locks the bucket for writing, never runs during a
//! commit) in the one round trip the key lock alone took before. The first name travels
//! as `name`/`write` as it always did, the others as a JSON list in `also`; a server that
//! predates `also` grants the first name only, so callers put the key lock first.

use crate::body::{RespBody, empty, full};
use crate::drive::DriveError;
use crate::rpc::client::{CALL_TIMEOUT, PeerClient};
use crate::rpc::{ERROR_HEADER, query};
use bytes::Bytes;
use http::{Response, StatusCode};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a grant lives without a refresh.
pub const LEASE: Duration = Duration::from_secs(20);
/// How often a holder refreshes its grants.
const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// Upper bound of names a table holds; beyond it new grants are refused (503 upstream).
const MAX_ENTRIES: usize = 1 << 20;
/// Most names one request may lock besides the first (a peer-supplied list is bounded).
pub const MAX_ALSO: usize = 4;

#[derive(Debug, Default)]
struct Entry {
    writer: Option<(String, Instant)>,
    readers: HashMap<String, Instant>,
}

impl Entry {
    fn expire(&mut self, now: Instant) {
        if self.writer.as_ref().is_some_and(|(_, t)| *t <= now) {
            self.writer = None;
        }
        self.readers.retain(|_, t| *t > now);
    }

    fn is_free(&self) -> bool {
        self.writer.is_none() && self.readers.is_empty()
    }
}

/// The grants this server has handed out.
#[derive(Debug, Default)]
pub struct LockTable {
    entries: Mutex<HashMap<String, Entry>>,
}

impl LockTable {
    /// Grants `uid` the lock on `name` if nobody conflicting holds it.
    pub fn try_lock(&self, name: &str, uid: &str, write: bool) -> bool {
        self.try_lock_all(&[(name, write)], uid)
    }

    /// Grants `uid` every lock of `names` (name, write) if none conflicts, else none.
    pub fn try_lock_all(&self, names: &[(&str, bool)], uid: &str) -> bool {
        let now = Instant::now();
        let Ok(mut map) = self.entries.lock() else {
            return false;
        };
        if map.len() + names.len() > MAX_ENTRIES {
            map.retain(|_, e| {
                e.expire(now);
                !e.is_free()
            });
            if map.len() + names.len() > MAX_ENTRIES {
                return false;
            }
        }
        let grantable = names.iter().all(|(name, write)| {
            let Some(e) = map.get_mut(*name) else {
                return true;
            };
            e.expire(now);
            if *write {
                e.is_free() || e.writer.as_ref().is_some_and(|(w, _)| w == uid)
            } else {
                e.writer.is_none()
            }
        });
        if !grantable {
            return false;
        }
        let until = now + LEASE;
        for (name, write) in names {
            let e = map.entry((*name).to_string()).or_default();
            if *write {
                e.writer = Some((uid.to_string(), until));
            } else {
                e.readers.insert(uid.to_string(), until);
            }
        }
        true
    }

    /// Extends the lease of `uid` on `name`; false when it no longer holds it.
    pub fn refresh(&self, name: &str, uid: &str) -> bool {
        let now = Instant::now();
        let Ok(mut map) = self.entries.lock() else {
            return false;
        };
        let Some(e) = map.get_mut(name) else {
            return false;
        };
        e.expire(now);
        let until = now + LEASE;
        if let Some((w, t)) = &mut e.writer {
            if w == uid {
                *t = until;
                return true;
            }
        }
        if let Some(t) = e.readers.get_mut(uid) {
            *t = until;
            return true;
        }
        false
    }

    pub fn unlock(&self, name: &str, uid: &str) {
        let Ok(mut map) = self.entries.lock() else {
            return;
        };
        if let Some(e) = map.get_mut(name) {
            if e.writer.as_ref().is_some_and(|(w, _)| w == uid) {
                e.writer = None;
            }
            e.readers.remove(uid);
            if e.is_free() {
                map.remove(name);
            }
        }
    }

    /// Number of names locked now (for tests and metrics).
    pub fn held(&self) -> usize {
        let now = Instant::now();
        self.entries.lock().map_or(0, |mut m| {
            m.retain(|_, e| {
                e.expire(now);
                !e.is_free()
            });
            m.len()
        })
    }

    /// Serves `lock/lock`, `lock/refresh` and `lock/unlock` from peers.
    pub async fn handle(
        &self,
        op: &str,
        q: &HashMap<String, String>,
        _body: hyper::body::Incoming,
    ) -> Response<RespBody> {
        let bad = |why: &'static str| {
            let mut r = Response::new(full(Bytes::from_static(why.as_bytes())));
            *r.status_mut() = StatusCode::BAD_REQUEST;
            r
        };
        let (Some(name), Some(uid)) = (q.get("name"), q.get("uid")) else {
            return bad("missing name or uid");
        };
        let also: Vec<(String, bool)> = match q.get("also") {
            None => Vec::new(),
            Some(a) => match serde_json::from_str::<Vec<(String, bool)>>(a) {
                Ok(v) if v.len() <= MAX_ALSO => v,
                _ => return bad("bad also list"),
            },
        };
        let mut names: Vec<(&str, bool)> = vec![(name, q.get("write").is_some_and(|w| w == "1"))];
        names.extend(also.iter().map(|(n, w)| (n.as_str(), *w)));
        let granted = match op {
            "lock/lock" => self.try_lock_all(&names, uid),
            // Every name refreshed, or the holder learns that it lost one.
            "lock/refresh" => names
                .iter()
                .fold(true, |ok, (n, _)| self.refresh(n, uid) && ok),
            "lock/unlock" => {
                for (n, _) in &names {
                    self.unlock(n, uid);
                }
                true
            }
            _ => {
                let mut r = empty(StatusCode::NOT_FOUND);
                r.headers_mut()
                    .insert(ERROR_HEADER, http::HeaderValue::from_static("unknown"));
                return r;
            }
        };
        // Always 200: a refusal is an answer, not a failure of the server.
        Response::new(full(Bytes::from_static(if granted { b"1" } else { b"0" })))
    }
}

/// One lock table of the deployment: this server's, or a peer's over RPC.
#[derive(Debug, Clone)]
pub enum Locker {
    Local(Arc<LockTable>),
    Remote(Arc<PeerClient>),
}

impl Locker {
    fn is_online(&self) -> bool {
        match self {
            Locker::Local(_) => true,
            Locker::Remote(p) => p.is_online(),
        }
    }

    /// `Ok(true)` granted, `Ok(false)` refused, `Err` unreachable. `names` is never
    /// empty; the first is the primary name (see the module documentation).
    async fn call(
        &self,
        op: &str,
        names: &[(String, bool)],
        uid: &str,
    ) -> Result<bool, DriveError> {
        match self {
            Locker::Local(t) => Ok(match op {
                "lock/lock" => {
                    let borrowed: Vec<(&str, bool)> =
                        names.iter().map(|(n, w)| (n.as_str(), *w)).collect();
                    t.try_lock_all(&borrowed, uid)
                }
                "lock/refresh" => names
                    .iter()
                    .fold(true, |ok, (n, _)| t.refresh(n, uid) && ok),
                _ => {
                    for (n, _) in names {
                        t.unlock(n, uid);
                    }
                    true
                }
            }),
            Locker::Remote(p) => {
                let Some(((name, write), also)) = names.split_first() else {
                    return Ok(true);
                };
                let also = if also.is_empty() {
                    None
                } else {
                    Some(
                        serde_json::to_string(also)
                            .map_err(|e| DriveError::Io(format!("lock names: {e}")))?,
                    )
                };
                let mut pairs = vec![
                    ("name", name.as_str()),
                    ("uid", uid),
                    ("write", if *write { "1" } else { "0" }),
                ];
                if let Some(a) = &also {
                    pairs.push(("also", a.as_str()));
                }
                let a = p
                    .call(op, &query(&pairs), Bytes::new(), CALL_TIMEOUT)
                    .await?;
                Ok(a.body.as_ref() == b"1")
            }
        }
    }
}

/// Why a quorum lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("lock quorum unavailable: {online} of {total} servers reachable, {needed} needed")]
    NoQuorum {
        online: usize,
        total: usize,
        needed: usize,
    },
    #[error("timed out waiting for the lock on {0}")]
    Timeout(String),
    /// No name, or more than one request may carry.
    #[error("invalid set of lock names starting with {0:?}")]
    Invalid(String),
}

/// Takes quorum locks over every server's table.
#[derive(Debug)]
pub struct DistLocks {
    lockers: Vec<Locker>,
}

/// A held quorum lock; dropping it releases the grants in the background.
pub struct DistGuard {
    names: Vec<(String, bool)>,
    uid: String,
    granted: Vec<Locker>,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for DistGuard {
    fn drop(&mut self) {
        self.refresher.abort();
        let (names, uid, granted) = (
            std::mem::take(&mut self.names),
            std::mem::take(&mut self.uid),
            std::mem::take(&mut self.granted),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(release(granted, names, uid));
        }
    }
}

async fn release(granted: Vec<Locker>, names: Vec<(String, bool)>, uid: String) {
    let calls = granted.iter().map(|l| l.call("lock/unlock", &names, &uid));
    let _ = futures::future::join_all(calls).await;
}

impl DistLocks {
    pub fn new(lockers: Vec<Locker>) -> Self {
        Self { lockers }
    }

    fn needed(&self, write: bool) -> usize {
        let n = self.lockers.len();
        if write { n / 2 + 1 } else { n.div_ceil(2) }
    }

    /// Locks `name` on a quorum of servers; see [`lock_all`](Self::lock_all).
    pub async fn lock(
        &self,
        name: &str,
        write: bool,
        timeout: Duration,
    ) -> Result<DistGuard, LockError> {
        self.lock_all(&[(name, write)], timeout).await
    }

    /// Locks every name of `names` (name, write; at most `1 + MAX_ALSO`, the first is the
    /// primary) on a quorum of servers in one request per server, retrying with jittered
    /// backoff while other holders conflict, for at most `timeout`. The quorum is a
    /// writer's when any name is written. Fails at once when too few servers are
    /// reachable for a quorum, rather than waiting for them.
    pub async fn lock_all(
        &self,
        names: &[(&str, bool)],
        timeout: Duration,
    ) -> Result<DistGuard, LockError> {
        let label = names
            .first()
            .map(|(n, _)| n.to_string())
            .unwrap_or_default();
        if names.is_empty() || names.len() > 1 + MAX_ALSO {
            return Err(LockError::Invalid(label));
        }
        let names: Vec<(String, bool)> = names.iter().map(|(n, w)| (n.to_string(), *w)).collect();
        let needed = self.needed(names.iter().any(|(_, w)| *w));
        let uid = uuid::Uuid::new_v4().simple().to_string();
        let started = Instant::now();
        let mut backoff = Duration::from_millis(5);
        loop {
            let online = self.lockers.iter().filter(|l| l.is_online()).count();
            if online < needed {
                return Err(LockError::NoQuorum {
                    online,
                    total: self.lockers.len(),
                    needed,
                });
            }
            let results = futures::future::join_all(
                self.lockers
                    .iter()
                    .map(|l| l.call("lock/lock", &names, &uid)),
            )
            .await;
            let granted: Vec<Locker> = self
                .lockers
                .iter()
                .zip(&results)
                .filter(|(_, r)| matches!(r, Ok(true)))
                .map(|(l, _)| l.clone())
                .collect();
            if granted.len() >= needed {
                let refresher =
                    tokio::spawn(refresh_loop(granted.clone(), names.clone(), uid.clone()));
                return Ok(DistGuard {
                    names,
                    uid,
                    granted,
                    refresher,
                });
            }
            release(granted, names.clone(), uid.clone()).await;
            let reachable = results.iter().filter(|r| r.is_ok()).count();
            if reachable < needed {
                return Err(LockError::NoQuorum {
                    online: reachable,
                    total: self.lockers.len(),
                    needed,
                });
            }
            if started.elapsed() >= timeout {
                return Err(LockError::Timeout(label));
            }
            let jitter = Duration::from_millis(rand::random::<u64>() % 10);
            tokio::time::sleep(backoff + jitter).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }
}

async fn refresh_loop(granted: Vec<Locker>, names: Vec<(String, bool)>, uid: String) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let results =
            futures::future::join_all(granted.iter().map(|l| l.call("lock/refresh", &names, &uid)))
                .await;
        let kept = results.iter().filter(|r| matches!(r, Ok(true))).count();
        if kept * 2 <= granted.len() {
            let name = names.first().map(|(n, _)| n.as_str()).unwrap_or_default();
            tracing::warn!(%name, kept, "quorum lock lease lost on most servers");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_grants_and_refuses() {
        let t = LockTable::default();
        assert!(t.try_lock("k", "a", true));
        assert!(!t.try_lock("k", "b", true));
        assert!(!t.try_lock("k", "b", false));
        assert!(t.try_lock("k", "a", true), "re-entrant for the same holder");
        assert!(t.refresh("k", "a"));
        assert!(!t.refresh("k", "b"));
        t.unlock("k", "a");
        assert!(t.try_lock("k", "r1", false));
        assert!(t.try_lock("k", "r2", false));
        assert!(!t.try_lock("k", "w", true));
        t.unlock("k", "r1");
        t.unlock("k", "r2");
        assert!(t.try_lock("k", "w", true));
        assert_eq!(t.held(), 1);
    }

    #[test]
    fn table_grants_several_names_all_or_nothing() {
        let t = LockTable::default();
        // Two commits in one bucket: different keys, the bucket shared.
        assert!(t.try_lock_all(&[("b/k1", true), ("bucket:b", false)], "c1"));
        assert!(t.try_lock_all(&[("b/k2", true), ("bucket:b", false)], "c2"));
        // DeleteBucket waits for both.
        assert!(!t.try_lock("bucket:b", "del", true));
        t.unlock("b/k1", "c1");
        t.unlock("bucket:b", "c1");
        t.unlock("b/k2", "c2");
        t.unlock("bucket:b", "c2");
        assert!(t.try_lock("bucket:b", "del", true));
        // A commit refused on the bucket takes nothing, not even its free key.
        assert!(!t.try_lock_all(&[("b/k3", true), ("bucket:b", false)], "c3"));
        assert!(
            t.try_lock("b/k3", "other", true),
            "refused request left no grant"
        );
    }

    #[tokio::test]
    async fn bucket_writer_excludes_commits_across_servers() {
        let tables: Vec<Arc<LockTable>> = (0..4).map(|_| Arc::new(LockTable::default())).collect();
        let locks = DistLocks::new(tables.iter().cloned().map(Locker::Local).collect());
        let commit = locks
            .lock_all(
                &[("b/k", true), ("bucket:b", false)],
                Duration::from_millis(200),
            )
            .await
            .unwrap();
        let other_key = locks
            .lock_all(
                &[("b/j", true), ("bucket:b", false)],
                Duration::from_millis(200),
            )
            .await
            .unwrap();
        let delete = locks
            .lock("bucket:b", true, Duration::from_millis(100))
            .await;
        assert!(matches!(delete, Err(LockError::Timeout(_))));
        drop((commit, other_key));
        let delete = locks
            .lock("bucket:b", true, Duration::from_secs(2))
            .await
            .unwrap();
        let commit = locks
            .lock_all(
                &[("b/k", true), ("bucket:b", false)],
                Duration::from_millis(100),
            )
            .await;
        assert!(
            commit.is_err(),
            "no commit while the bucket is being deleted"
        );
        drop(delete);
        assert!(
            locks
                .lock_all(
                    &[("b/k", true), ("bucket:b", false)],
                    Duration::from_secs(2)
                )
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn quorum_of_local_tables() {
        let tables: Vec<Arc<LockTable>> = (0..4).map(|_| Arc::new(LockTable::default())).collect();
        let locks = DistLocks::new(tables.iter().cloned().map(Locker::Local).collect());
        let g = locks
            .lock("b/k", true, Duration::from_millis(200))
            .await
            .unwrap();
        // A second writer cannot get a majority while the first holds it.
        let second = locks.lock("b/k", true, Duration::from_millis(100)).await;
        assert!(matches!(second, Err(LockError::Timeout(_))));
        let reader = locks.lock("b/k", false, Duration::from_millis(100)).await;
        assert!(reader.is_err());
        drop(g);
        // Release happens in the background.
        let mut ok = false;
        for _ in 0..100 {
            if tables.iter().all(|t| t.held() == 0) {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(ok, "grants released");
        let r1 = locks
            .lock("b/k", false, Duration::from_millis(100))
            .await
            .unwrap();
        let r2 = locks
            .lock("b/k", false, Duration::from_millis(100))
            .await
            .unwrap();
        drop((r1, r2));
    }
}
