//! Per-key read/write locks, so that concurrent PUT, DELETE and CompleteMultipartUpload of
//! a key never interleave their commits and a GET never sees its shards removed under it.
//! Inside one process a tokio lock per name; in a distributed deployment a quorum lock
//! over every server ([`crate::cluster::locks`]) is taken after the local one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::error::{ObjectError, ObjectResult};
use crate::cluster::locks::{DistGuard, DistLocks, LockError};

/// How long a request waits for a lock before answering 503.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default, Debug)]
pub struct NsLock {
    map: Mutex<HashMap<String, Arc<RwLock<()>>>>,
    dist: Option<Arc<DistLocks>>,
}

enum LocalGuard {
    Read(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Write(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

/// A held lock; dropping it releases the quorum grants first, then the local lock.
pub struct Guard {
    _dist: Option<DistGuard>,
    _local: LocalGuard,
}

fn lock_error(e: LockError) -> ObjectError {
    match e {
        LockError::Timeout(name) => ObjectError::LockTimeout(name),
        q @ LockError::NoQuorum { .. } => ObjectError::LockQuorum(q.to_string()),
    }
}

impl NsLock {
    /// Locks that also take a quorum lock over the servers of a deployment.
    pub fn distributed(dist: Arc<DistLocks>) -> Self {
        Self {
            map: Mutex::default(),
            dist: Some(dist),
        }
    }

    /// Whether locks cost round trips to other servers.
    pub fn is_distributed(&self) -> bool {
        self.dist.is_some()
    }

    async fn dist(&self, name: &str, write: bool, local: LocalGuard) -> ObjectResult<Guard> {
        let dist = match &self.dist {
            Some(d) => Some(
                d.lock(name, write, LOCK_TIMEOUT)
                    .await
                    .map_err(lock_error)?,
            ),
            None => None,
        };
        Ok(Guard {
            _dist: dist,
            _local: local,
        })
    }

    fn entry(&self, name: &str) -> ObjectResult<Arc<RwLock<()>>> {
        let mut map = self
            .map
            .lock()
            .map_err(|_| ObjectError::Internal("lock table poisoned".into()))?;
        if map.len() > 4096 {
            // Forget locks nobody holds or waits for.
            map.retain(|_, l| Arc::strong_count(l) > 1);
        }
        Ok(map
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(RwLock::new(())))
            .clone())
    }

    pub async fn read(&self, name: &str) -> ObjectResult<Guard> {
        let l = self.entry(name)?;
        let local = tokio::time::timeout(LOCK_TIMEOUT, l.read_owned())
            .await
            .map(LocalGuard::Read)
            .map_err(|_| ObjectError::LockTimeout(name.to_string()))?;
        self.dist(name, false, local).await
    }

    pub async fn write(&self, name: &str) -> ObjectResult<Guard> {
        let l = self.entry(name)?;
        let local = tokio::time::timeout(LOCK_TIMEOUT, l.write_owned())
            .await
            .map(LocalGuard::Write)
            .map_err(|_| ObjectError::LockTimeout(name.to_string()))?;
        self.dist(name, true, local).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writers_exclude_readers() {
        let ns = NsLock::default();
        let w = ns.write("b/k").await.unwrap();
        let blocked = tokio::time::timeout(Duration::from_millis(50), ns.read("b/k")).await;
        assert!(blocked.is_err(), "read must wait for the writer");
        let _other = ns.write("b/other").await.unwrap();
        drop(w);
        let _r1 = ns.read("b/k").await.unwrap();
        let _r2 = ns.read("b/k").await.unwrap();
    }
}
