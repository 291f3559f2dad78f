//! Per-key read/write locks inside one process, so that concurrent PUT, DELETE and
//! CompleteMultipartUpload of a key never interleave their commits and a GET never sees
//! its shards removed under it. The distributed issue replaces this with quorum locks
//! behind the same interface.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::error::{ObjectError, ObjectResult};

/// How long a request waits for a lock before answering 503.
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Default, Debug)]
pub struct NsLock {
    map: Mutex<HashMap<String, Arc<RwLock<()>>>>,
}

pub enum Guard {
    Read(#[allow(dead_code)] OwnedRwLockReadGuard<()>),
    Write(#[allow(dead_code)] OwnedRwLockWriteGuard<()>),
}

impl NsLock {
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
        tokio::time::timeout(LOCK_TIMEOUT, l.read_owned())
            .await
            .map(Guard::Read)
            .map_err(|_| ObjectError::LockTimeout(name.to_string()))
    }

    pub async fn write(&self, name: &str) -> ObjectResult<Guard> {
        let l = self.entry(name)?;
        tokio::time::timeout(LOCK_TIMEOUT, l.write_owned())
            .await
            .map(Guard::Write)
            .map_err(|_| ObjectError::LockTimeout(name.to_string()))
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
