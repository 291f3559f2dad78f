//! The state of every drive (this server's and its peers'), as health probes and the
//! metrics page report it, cached for [`MAX_AGE`].
//!
//! Health and metrics answer unauthenticated requests; without the cache each one
//! would send a check and an info call to every drive of the deployment, so a client
//! looping on `/minio/health/cluster` would multiply into peer RPC traffic. With it, a
//! refresh happens at most once per `MAX_AGE`, one at a time: requests that arrive
//! during a refresh wait for it and share its result. Each probe is bounded by
//! [`PROBE_TIMEOUT`], so no request waits longer than one refresh.

use crate::drive::DriveRef;
use crate::objects::ObjectLayer;
use futures::future::join_all;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long a probed state is served before the next probe.
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// A drive that does not answer a probe in this time counts as offline.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Online drives of a set and the quorums it needs.
#[derive(Debug, Clone, Copy)]
pub struct SetHealth {
    pub online: usize,
    /// Online drives that are not this server's.
    pub online_elsewhere: usize,
    pub total: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
}

/// One probe of every drive.
#[derive(Debug, Clone, Default)]
pub struct DriveState {
    /// Every set, in set order.
    pub sets: Vec<SetHealth>,
    /// Raw capacity and free bytes of the drives that answered.
    pub capacity: u64,
    pub free: u64,
    /// Every drive, in set order (the per-drive metrics).
    pub drives: Vec<DriveReport>,
}

/// One drive as probed.
#[derive(Debug, Clone)]
pub struct DriveReport {
    /// `Drive::endpoint`: the directory standalone, the URL in a cluster.
    pub endpoint: String,
    /// A drive of this server (not reached over peer RPC).
    pub local: bool,
    pub online: bool,
    /// Space of the drive's file system; zero when the drive did not answer.
    pub total: u64,
    pub free: u64,
    pub used: u64,
}

/// The cached [`DriveState`].
#[derive(Debug, Default)]
pub struct DriveStateCache {
    current: tokio::sync::Mutex<Option<(Instant, Arc<DriveState>)>>,
    /// Probes made (each one calls every drive); a metric, so the cache can be seen
    /// working.
    pub refreshes: AtomicU64,
}

impl DriveStateCache {
    /// The state at most [`MAX_AGE`] old, probing the drives if needed.
    pub async fn get(&self, objects: &ObjectLayer) -> Arc<DriveState> {
        // Held across the probe: one refresh at a time, later callers share it. The
        // probe is bounded by PROBE_TIMEOUT per drive, in parallel, so is this wait.
        let mut slot = self.current.lock().await;
        if let Some((at, state)) = slot.as_ref() {
            if at.elapsed() < MAX_AGE {
                return state.clone();
            }
        }
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(probe(objects).await);
        *slot = Some((Instant::now(), state.clone()));
        state
    }
}

/// Checks every drive once (liveness and space), in parallel.
async fn probe(objects: &ObjectLayer) -> DriveState {
    let sets: Vec<_> = objects.sets().collect();
    let per_set = join_all(sets.iter().map(|set| probe_set(&set.drives))).await;
    let mut out = DriveState::default();
    for (set, drives) in sets.iter().zip(per_set) {
        let online = drives.iter().filter(|d| d.online).count();
        let online_elsewhere = drives.iter().filter(|d| d.online && !d.local).count();
        for d in &drives {
            out.capacity += d.total;
            out.free += d.free;
        }
        out.drives.extend(drives);
        out.sets.push(SetHealth {
            online,
            online_elsewhere,
            total: set.drives.len(),
            read_quorum: set.geometry.read_quorum(),
            write_quorum: set.write_quorum(),
        });
    }
    out
}

async fn probe_set(drives: &[DriveRef]) -> Vec<DriveReport> {
    join_all(drives.iter().map(|d| async move {
        let (check, info) = futures::join!(
            tokio::time::timeout(PROBE_TIMEOUT, d.check()),
            tokio::time::timeout(PROBE_TIMEOUT, d.info())
        );
        let (total, free, used) = match info {
            Ok(Ok(i)) => (i.total, i.free, i.used),
            _ => (0, 0, 0),
        };
        DriveReport {
            endpoint: d.endpoint(),
            online: matches!(check, Ok(Ok(()))),
            local: d.is_local(),
            total,
            free,
            used,
        }
    }))
    .await
}
