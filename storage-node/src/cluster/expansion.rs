//! Adding a pool while the deployment keeps serving: servers restart one by one with the
//! longer endpoint list (the operator's rolling order), so for a while some run with the
//! new pool and some without it.
//!
//! That is safe because of three rules. Start-up accepts a peer whose list extends ours
//! or is extended by ours (the pools both know must be identical, see
//! `bootstrap::difference`). Quorum locks live on the servers of the first pool only, so
//! every server takes them from the same tables whatever its list (as MinIO does). And a
//! server puts no new object in a pool that an answering peer does not know: otherwise a
//! server still running the old list would answer `NoSuchKey` for it. This module keeps
//! the last rule up to date: it asks the peers again until every one knows every pool,
//! then opens the new pools to new objects and copies the buckets onto them.
//!
//! A peer that never answers does not hold the expansion back (a dead server must not stop
//! a pool from filling); the operator only restarts the next server once all are ready.

use super::bootstrap::{PeerCheck, check_peers};
use crate::objects::ObjectLayer;
use crate::rpc::client::PeerClient;
use crate::rpc::wire;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How often the peers are asked again while a pool is held back.
const RECHECK: Duration = Duration::from_secs(2);
/// How often the "held back" message repeats.
const REPORT_EVERY: Duration = Duration::from_secs(30);

/// How many pools take new objects: those every answering peer was started with.
pub fn writable_pools(ours: usize, peers: &BTreeMap<String, usize>) -> usize {
    peers.values().copied().fold(ours, usize::min).max(1)
}

/// Applies what start-up learnt and, when a peer lacks a pool, keeps asking until it has
/// it. Returns at once when nothing is held back.
pub fn follow(
    objects: Arc<ObjectLayer>,
    peers: BTreeMap<String, Arc<PeerClient>>,
    node: wire::NodeInfo,
    first_look: PeerCheck,
    mut shutdown: watch::Receiver<bool>,
) {
    let ours = objects.pools.len();
    let mut known = first_look.pool_counts;
    let writable = writable_pools(ours, &known);
    objects.set_writable_pools(writable);
    if writable >= ours {
        return;
    }
    tokio::spawn(async move {
        let mut last_report: Option<tokio::time::Instant> = None;
        loop {
            let writable = writable_pools(ours, &known);
            objects.set_writable_pools(writable);
            if writable >= ours {
                tracing::info!(
                    pools = ours,
                    "every server runs with every pool: new objects go to all pools"
                );
                if let Err(e) = crate::heal::heal_buckets(&objects).await {
                    tracing::warn!(error = %e, "cannot copy buckets to the new pools yet; the scanner retries");
                }
                return;
            }
            if last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
                last_report = Some(tokio::time::Instant::now());
                let behind: Vec<&String> = known
                    .iter()
                    .filter(|(_, n)| **n < ours)
                    .map(|(name, _)| name)
                    .collect();
                tracing::info!(
                    ?behind,
                    "pool(s) {}..{ours} take no new objects until these servers restart with them",
                    writable + 1
                );
            }
            tokio::select! {
                _ = tokio::time::sleep(RECHECK) => {}
                _ = shutdown.changed() => return,
            }
            match check_peers(&peers, &node).await {
                Ok(look) => known.extend(look.pool_counts),
                Err(e) => tracing::warn!(error = %e, "a peer's endpoint list no longer fits"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_open_when_every_answering_peer_knows_them() {
        let mut peers = BTreeMap::new();
        assert_eq!(
            writable_pools(2, &peers),
            2,
            "nobody answered: nothing holds back"
        );
        peers.insert("a:9000".to_string(), 2);
        peers.insert("b:9000".to_string(), 1);
        assert_eq!(writable_pools(2, &peers), 1);
        peers.insert("b:9000".to_string(), 2);
        assert_eq!(writable_pools(2, &peers), 2);
        peers.insert("c:9000".to_string(), 3);
        assert_eq!(
            writable_pools(2, &peers),
            2,
            "a peer ahead of us changes nothing"
        );
        assert_eq!(writable_pools(1, &BTreeMap::new()), 1);
    }
}
