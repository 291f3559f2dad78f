//! Per-key read/write locks, so that concurrent PUT, DELETE and CompleteMultipartUpload of
//! a key never interleave their commits and a GET never sees its shards removed under it.
//! Inside one process a tokio lock per name; in a distributed deployment a quorum lock
//! over every server ([`crate::cluster::locks`]) is taken after the local one.
//!
//! Names, and the order in which an operation takes them (always this order, so that no
//! two operations wait for each other in a cycle; tokio's locks queue a reader behind a
//! waiting writer, so even shared locks must be ordered):
//!
//! 1. `upload/<id>`: a multipart upload. Parts publish under it shared; complete, abort
//!    and the stale-upload expiry take it exclusively.
//! 2. [`bucket_lock`]: a bucket. Every commit into the bucket (PUT, copy, complete, a
//!    part, a new upload) holds it shared; DeleteBucket and CreateBucket exclusively, so
//!    a bucket is never removed while an object is being committed into it.
//! 3. `<bucket>/<key>`: an object, and `upload/<id>/part.<n>`: one part number.
//!
//! Several names go to the quorum lock service in one request ([`NsLock::lock_all`]), so a
//! commit's bucket lock costs no extra round trip in a cluster.

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

/// A held lock; dropping it releases the quorum grants first, then the local locks.
pub struct Guard {
    _dist: Option<DistGuard>,
    _local: Vec<LocalGuard>,
}

/// Lock name of a bucket; `:` cannot occur in a bucket name, so it never collides with
/// an object's `<bucket>/<key>` or an upload's name.
pub fn bucket_lock(bucket: &str) -> String {
    format!("bucket:{bucket}")
}

/// Lock name of an object.
pub fn key_lock(bucket: &str, key: &str) -> String {
    format!("{bucket}/{key}")
}

/// Lock name of a multipart upload.
pub fn upload_lock(upload_id: &str) -> String {
    format!("upload/{upload_id}")
}

/// Lock name of one part number of a multipart upload.
pub fn part_lock(upload_id: &str, number: u32) -> String {
    format!("upload/{upload_id}/part.{number}")
}

fn lock_error(e: LockError) -> ObjectError {
    match e {
        LockError::Timeout(name) => ObjectError::LockTimeout(name),
        LockError::Invalid(name) => ObjectError::Internal(format!("lock request {name:?}")),
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

    async fn local(
        &self,
        name: &str,
        write: bool,
        deadline: tokio::time::Instant,
    ) -> ObjectResult<LocalGuard> {
        let l = self.entry(name)?;
        let timed_out = |_| ObjectError::LockTimeout(name.to_string());
        if write {
            tokio::time::timeout_at(deadline, l.write_owned())
                .await
                .map(LocalGuard::Write)
                .map_err(timed_out)
        } else {
            tokio::time::timeout_at(deadline, l.read_owned())
                .await
                .map(LocalGuard::Read)
                .map_err(timed_out)
        }
    }

    /// Takes every lock of `names` (name, write), in the order given (see the module
    /// documentation for the order), locally one after the other and then, when
    /// distributed, in one quorum request whose primary name is the last one (the most
    /// specific: a server of an older version honours only that one).
    pub async fn lock_all(&self, names: &[(&str, bool)]) -> ObjectResult<Guard> {
        // One deadline for the whole set, so several names never wait longer than one.
        let deadline = tokio::time::Instant::now() + LOCK_TIMEOUT;
        let mut local = Vec::with_capacity(names.len());
        for (name, write) in names {
            local.push(self.local(name, *write, deadline).await?);
        }
        let dist = match &self.dist {
            Some(d) => {
                let mut remote: Vec<(&str, bool)> = names.to_vec();
                remote.reverse();
                Some(
                    d.lock_all(
                        &remote,
                        deadline.saturating_duration_since(tokio::time::Instant::now()),
                    )
                    .await
                    .map_err(lock_error)?,
                )
            }
            None => None,
        };
        Ok(Guard {
            _dist: dist,
            _local: local,
        })
    }

    pub async fn read(&self, name: &str) -> ObjectResult<Guard> {
        self.lock_all(&[(name, false)]).await
    }

    pub async fn write(&self, name: &str) -> ObjectResult<Guard> {
        self.lock_all(&[(name, true)]).await
    }

    /// The locks of a commit of `key`: its bucket shared, the key exclusively.
    pub async fn commit(&self, bucket: &str, key: &str) -> ObjectResult<Guard> {
        let (b, k) = (bucket_lock(bucket), key_lock(bucket, key));
        self.lock_all(&[(&b, false), (&k, true)]).await
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
