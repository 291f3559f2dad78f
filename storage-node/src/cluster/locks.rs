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

use crate::drive::DriveError;
use crate::rpc::client::{CALL_TIMEOUT, PeerClient};
use crate::rpc::{ERROR_HEADER, query};
use crate::body::{RespBody, empty, full};
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
        let now = Instant::now();
        let Ok(mut map) = self.entries.lock() else {
            return false;
        };
        if map.len() >= MAX_ENTRIES {
            map.retain(|_, e| {
                e.expire(now);
                !e.is_free()
            });
            if map.len() >= MAX_ENTRIES {
                return false;
            }
        }
        let e = map.entry(name.to_string()).or_default();
        e.expire(now);
        let until = now + LEASE;
        if write {
            if e.is_free() || e.writer.as_ref().is_some_and(|(w, _)| w == uid) {
                e.writer = Some((uid.to_string(), until));
                return true;
            }
            false
        } else {
            if e.writer.is_none() {
                e.readers.insert(uid.to_string(), until);
                return true;
            }
            false
        }
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
        let (Some(name), Some(uid)) = (q.get("name"), q.get("uid")) else {
            let mut r = Response::new(full(Bytes::from_static(b"missing name or uid")));
            *r.status_mut() = StatusCode::BAD_REQUEST;
            return r;
        };
        let granted = match op {
            "lock/lock" => self.try_lock(name, uid, q.get("write").is_some_and(|w| w == "1")),
            "lock/refresh" => self.refresh(name, uid),
            "lock/unlock" => {
                self.unlock(name, uid);
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

    /// `Ok(true)` granted, `Ok(false)` refused, `Err` unreachable.
    async fn call(&self, op: &str, name: &str, uid: &str, write: bool) -> Result<bool, DriveError> {
        match self {
            Locker::Local(t) => Ok(match op {
                "lock/lock" => t.try_lock(name, uid, write),
                "lock/refresh" => t.refresh(name, uid),
                _ => {
                    t.unlock(name, uid);
                    true
                }
            }),
            Locker::Remote(p) => {
                let q = query(&[
                    ("name", name),
                    ("uid", uid),
                    ("write", if write { "1" } else { "0" }),
                ]);
                let a = p.call(op, &q, Bytes::new(), CALL_TIMEOUT).await?;
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
}

/// Takes quorum locks over every server's table.
#[derive(Debug)]
pub struct DistLocks {
    lockers: Vec<Locker>,
}

/// A held quorum lock; dropping it releases the grants in the background.
pub struct DistGuard {
    name: String,
    uid: String,
    granted: Vec<Locker>,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for DistGuard {
    fn drop(&mut self) {
        self.refresher.abort();
        let (name, uid, granted) = (
            std::mem::take(&mut self.name),
            std::mem::take(&mut self.uid),
            std::mem::take(&mut self.granted),
        );
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(release(granted, name, uid));
        }
    }
}

async fn release(granted: Vec<Locker>, name: String, uid: String) {
    let calls = granted
        .iter()
        .map(|l| l.call("lock/unlock", &name, &uid, false));
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

    /// Locks `name` on a quorum of servers, retrying with jittered backoff while other
    /// holders conflict, for at most `timeout`. Fails at once when too few servers are
    /// reachable for a quorum, rather than waiting for them.
    pub async fn lock(
        &self,
        name: &str,
        write: bool,
        timeout: Duration,
    ) -> Result<DistGuard, LockError> {
        let needed = self.needed(write);
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
                    .map(|l| l.call("lock/lock", name, &uid, write)),
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
                    tokio::spawn(refresh_loop(granted.clone(), name.to_string(), uid.clone()));
                return Ok(DistGuard {
                    name: name.to_string(),
                    uid,
                    granted,
                    refresher,
                });
            }
            release(granted, name.to_string(), uid.clone()).await;
            let reachable = results.iter().filter(|r| r.is_ok()).count();
            if reachable < needed {
                return Err(LockError::NoQuorum {
                    online: reachable,
                    total: self.lockers.len(),
                    needed,
                });
            }
            if started.elapsed() >= timeout {
                return Err(LockError::Timeout(name.to_string()));
            }
            let jitter = Duration::from_millis(rand::random::<u64>() % 10);
            tokio::time::sleep(backoff + jitter).await;
            backoff = (backoff * 2).min(Duration::from_millis(250));
        }
    }
}

async fn refresh_loop(granted: Vec<Locker>, name: String, uid: String) {
    loop {
        tokio::time::sleep(REFRESH_EVERY).await;
        let results = futures::future::join_all(
            granted
                .iter()
                .map(|l| l.call("lock/refresh", &name, &uid, false)),
        )
        .await;
        let kept = results.iter().filter(|r| matches!(r, Ok(true))).count();
        if kept * 2 <= granted.len() {
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
