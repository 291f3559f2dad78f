//! Start-up of a distributed deployment: find our own drives among the endpoint URLs, wait
//! for the other servers, check that they were started with the same endpoints and parity,
//! and agree on one format per pool.
//!
//! Agreement needs no leader election. When no drive of a pool has a format yet, the server
//! that owns the pool's first endpoint creates the formats and writes them to every drive
//! (over RPC for the others), once every drive of the pool is reachable; everyone else waits
//! until they see them. When formats exist, every server checks them exactly as a single
//! server checks its own drives (same deployment, same sets, each drive at its position)
//! as soon as at least half of the pool's drives answer, re-formats its own wiped drives and
//! marks them for healing. Nothing here depends on which server starts first.

use super::endpoints::{Endpoint, PoolSpec};
use super::format::{self, DriveFormatState, DriveStatus, FormatError, FormatFile};
use super::identity::Identity;
use super::layout;
use super::locks::{LockTable, Locker};
use crate::drive::DriveRef;
use crate::drive::local::LocalDrive;
use crate::drive::remote::RemoteDrive;
use crate::rpc::client::{CALL_TIMEOUT, ClientTls, PeerClient};
use crate::rpc::{auth::RpcKey, wire};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How often start-up looks at the peers again while waiting.
const RETRY: Duration = Duration::from_millis(500);
/// How long start-up waits for a peer to finish formatting its drives before it reports
/// them offline.
const FORMAT_GRACE: Duration = Duration::from_secs(10);
/// How often the "waiting for ..." message repeats.
const REPORT_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "none of the endpoints is this server (listening on port {port}): give this server's \
         host name or address in the endpoint list, or --address with the address and port \
         the list uses"
    )]
    NotInList { port: u16 },
    #[error("server {peer} was started with a different command line: {difference}")]
    Mismatch { peer: String, difference: String },
    #[error("pool {pool}: {source}")]
    Format {
        pool: usize,
        #[source]
        source: FormatError,
    },
    #[error("pool {pool}: {source}")]
    Layout {
        pool: usize,
        #[source]
        source: layout::LayoutError,
    },
    #[error("pool {pool}: {reason}")]
    Other { pool: usize, reason: String },
}

/// One drive slot of a pool, in format position order.
#[derive(Debug, Clone)]
pub struct Slot {
    pub endpoint: Endpoint,
    pub drive: DriveRef,
    /// The directory, when the drive is ours.
    pub local: Option<PathBuf>,
    /// The peer's drive, when it is not.
    pub remote: Option<RemoteDrive>,
}

/// One pool, drives in the order of the format (sets are consecutive chunks).
#[derive(Debug)]
pub struct PoolPlan {
    pub slots: Vec<Slot>,
    pub set_size: usize,
    pub parity: usize,
}

/// Everything start-up found out.
#[derive(Debug)]
pub struct Cluster {
    pub pools: Vec<PoolPlan>,
    /// Every other server, by `host:port`.
    pub peers: BTreeMap<String, Arc<PeerClient>>,
    /// This server's own `host:port` names in the endpoint list: peer calls are signed for
    /// the name they were sent to, and only calls signed for one of these are accepted.
    pub names: Vec<String>,
    pub node: wire::NodeInfo,
}

/// What a server says about itself to peers.
pub fn node_info(specs: &[PoolSpec], parity: Option<usize>) -> wire::NodeInfo {
    wire::NodeInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        pools: specs
            .iter()
            .map(|p| p.endpoints.iter().map(ToString::to_string).collect())
            .collect(),
        parity,
    }
}

/// Resolves which endpoints are ours (waiting for DNS up to `dns_wait`), and builds a
/// drive for every endpoint: local directories for ours, remote drives for the others.
pub async fn plan(
    specs: &[PoolSpec],
    me: &Identity,
    storage_class: Option<&str>,
    key: &RpcKey,
    tls: &ClientTls,
    dns_wait: Duration,
) -> Result<Cluster, BootstrapError> {
    let parity_setting = storage_class
        .map(layout::parse_storage_class)
        .transpose()
        .map_err(|source| BootstrapError::Layout { pool: 1, source })?;
    // Host:port of every endpoint, ours or not.
    let started = Instant::now();
    let mut mine: BTreeMap<String, bool> = BTreeMap::new();
    loop {
        let mut unresolved = Vec::new();
        for ep in specs.iter().flat_map(|p| &p.endpoints) {
            let Some(hp) = ep.host_port(me.port) else {
                continue;
            };
            if mine.contains_key(&hp) {
                continue;
            }
            match me.is_mine(ep).await {
                Some(v) => {
                    mine.insert(hp, v);
                }
                None => unresolved.push(hp),
            }
        }
        let any_mine = mine.values().any(|v| *v);
        if unresolved.is_empty() || (any_mine && started.elapsed() >= dns_wait) {
            // Names that never resolve are peers that are not up yet.
            for hp in unresolved {
                mine.insert(hp, false);
            }
            break;
        }
        if started.elapsed() >= dns_wait && !any_mine {
            return Err(BootstrapError::NotInList { port: me.port });
        }
        tracing::info!(names = ?unresolved, "waiting for host names to resolve");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if !mine.values().any(|v| *v) {
        return Err(BootstrapError::NotInList { port: me.port });
    }
    let mut peers: BTreeMap<String, Arc<PeerClient>> = BTreeMap::new();
    let mut pools = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        let pool = index + 1;
        let servers = spec.server_count(me.port);
        let geometry = layout::plan(spec.endpoints.len(), servers, storage_class)
            .map_err(|source| BootstrapError::Layout { pool, source })?;
        let members = layout::set_members(&spec.server_indexes(me.port), geometry.set_size)
            .map_err(|source| BootstrapError::Layout { pool, source })?;
        let mut slots = Vec::new();
        for i in members.into_iter().flatten() {
            let ep = spec.endpoints[i].clone();
            let name = ep.to_string();
            let (hp, path, scheme) = match &ep {
                Endpoint::Url { scheme, path, .. } => (
                    ep.host_port(me.port).unwrap_or_default(),
                    path.clone(),
                    *scheme,
                ),
                Endpoint::Local { path } => {
                    let local = LocalDrive::new(path.clone(), true);
                    local.prepare();
                    slots.push(Slot {
                        endpoint: ep.clone(),
                        drive: Arc::new(local),
                        local: Some(path.clone()),
                        remote: None,
                    });
                    continue;
                }
            };
            if mine.get(&hp).copied().unwrap_or(false) {
                let root = PathBuf::from(&path);
                let local = LocalDrive::with_name(root.clone(), true, name);
                // Staging left by a crash goes before peers can write new stages.
                local.prepare();
                slots.push(Slot {
                    endpoint: ep,
                    drive: Arc::new(local),
                    local: Some(root),
                    remote: None,
                });
            } else {
                let peer = peers
                    .entry(hp.clone())
                    .or_insert_with(|| PeerClient::new(scheme.as_str(), &hp, key.clone(), tls))
                    .clone();
                let remote = RemoteDrive::new(peer, path, name);
                slots.push(Slot {
                    endpoint: ep,
                    drive: Arc::new(remote.clone()),
                    local: None,
                    remote: Some(remote),
                });
            }
        }
        pools.push(PoolPlan {
            slots,
            set_size: geometry.set_size,
            parity: geometry.parity,
        });
    }
    let names = mine
        .iter()
        .filter(|(_, ours)| **ours)
        .map(|(hp, _)| hp.clone())
        .collect();
    Ok(Cluster {
        pools,
        peers,
        names,
        node: node_info(specs, parity_setting),
    })
}

/// The lock tables of the servers of the first pool: every server takes its quorum locks
/// there, whatever pools it was started with, so servers with and without a newly added
/// pool still exclude each other.
pub fn first_pool_lockers(cluster: &Cluster, me: &Identity, own: Arc<LockTable>) -> Vec<Locker> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for slot in cluster
        .pools
        .first()
        .map(|p| p.slots.as_slice())
        .unwrap_or_default()
    {
        let Some(hp) = slot.endpoint.host_port(me.port) else {
            continue;
        };
        if !seen.insert(hp.clone()) {
            continue;
        }
        if slot.local.is_some() {
            out.push(Locker::Local(own.clone()));
        } else if let Some(peer) = cluster.peers.get(&hp) {
            out.push(Locker::Remote(peer.clone()));
        }
    }
    out
}

/// Why a peer's start-up information differs from ours, in words.
///
/// A peer that lists more or fewer pools than we do, with the pools we share identical, is
/// not a difference: it is a server already restarted with an added pool, or one not yet
/// restarted (see [`super::expansion`]). Servers restart one by one when a pool is added.
fn difference(mine: &wire::NodeInfo, theirs: &wire::NodeInfo) -> Option<String> {
    for (i, (a, b)) in mine.pools.iter().zip(&theirs.pools).enumerate() {
        if a != b {
            let only_here: Vec<&String> = a.iter().filter(|e| !b.contains(e)).collect();
            let only_there: Vec<&String> = b.iter().filter(|e| !a.contains(e)).collect();
            return Some(if only_here.is_empty() && only_there.is_empty() {
                format!("pool {} lists the same endpoints in another order", i + 1)
            } else {
                format!(
                    "pool {} endpoints differ: only here {only_here:?}, only there {only_there:?}",
                    i + 1
                )
            });
        }
    }
    if mine.parity != theirs.parity {
        let show = |p: Option<usize>| p.map_or("default".to_string(), |p| format!("EC:{p}"));
        return Some(format!(
            "storage class {} there, {} here",
            show(theirs.parity),
            show(mine.parity)
        ));
    }
    None
}

/// What the peers said at one look.
#[derive(Debug, Default)]
pub struct PeerCheck {
    /// Peers that did not answer.
    pub missing: Vec<String>,
    /// How many pools each answering peer was started with.
    pub pool_counts: BTreeMap<String, usize>,
}

/// Asks every peer for its start-up information. A peer started differently is a fatal
/// error.
pub async fn check_peers(
    peers: &BTreeMap<String, Arc<PeerClient>>,
    node: &wire::NodeInfo,
) -> Result<PeerCheck, BootstrapError> {
    let calls = peers.iter().map(|(name, peer)| async move {
        let r = peer
            .call("node/info", "", bytes::Bytes::new(), CALL_TIMEOUT)
            .await;
        (name.clone(), r)
    });
    let mut out = PeerCheck::default();
    for (name, r) in futures::future::join_all(calls).await {
        match r {
            Ok(a) => {
                let theirs: wire::NodeInfo =
                    serde_json::from_slice(&a.body).map_err(|e| BootstrapError::Mismatch {
                        peer: name.clone(),
                        difference: format!("unreadable start-up information: {e}"),
                    })?;
                if let Some(difference) = difference(node, &theirs) {
                    return Err(BootstrapError::Mismatch {
                        peer: name,
                        difference,
                    });
                }
                out.pool_counts.insert(name, theirs.pools.len());
            }
            // Other keys or versions: no retry helps. Other refusals (clock, replay
            // horizon) are retried like a peer that is not up yet.
            Err(crate::drive::DriveError::Offline(m)) if crate::rpc::auth::is_key_mismatch(&m) => {
                return Err(BootstrapError::Mismatch {
                    peer: name,
                    difference: m,
                });
            }
            Err(_) => out.missing.push(name),
        }
    }
    Ok(out)
}

/// The format state of every slot of a pool; `None` for a drive that did not answer.
async fn gather(pool: &PoolPlan) -> Vec<Option<wire::DriveFormat>> {
    let calls = pool.slots.iter().map(|s| async move {
        if let Some(root) = &s.local {
            let root = root.clone();
            tokio::task::spawn_blocking(move || wire::DriveFormat {
                healing: format::healing_path(&root).exists(),
                state: format::inspect_drive(&root),
            })
            .await
            .ok()
        } else if let Some(remote) = &s.remote {
            remote.read_format().await.ok()
        } else {
            None
        }
    });
    futures::future::join_all(calls).await
}

/// The outcome of start-up for one pool.
#[derive(Debug)]
pub struct PoolOutcome {
    pub format: FormatFile,
    pub statuses: Vec<DriveStatus>,
    pub notices: Vec<String>,
}

/// Waits for the peers and agrees on the formats of every pool. `wait_limit` bounds the
/// wait (`None`: wait as long as it takes, as a server in a cluster should).
pub async fn agree(
    cluster: &Cluster,
    wait_limit: Option<Duration>,
) -> Result<Vec<PoolOutcome>, BootstrapError> {
    let started = Instant::now();
    let mut last_report: Option<Instant> = None;
    let mut deployment: Option<Uuid> = None;
    let mut outcomes = Vec::new();
    for (index, pool) in cluster.pools.iter().enumerate() {
        let number = index + 1;
        loop {
            let missing = check_peers(&cluster.peers, &cluster.node).await?.missing;
            let states = gather(pool).await;
            let patient = started.elapsed() < FORMAT_GRACE;
            match decide(
                number,
                pool,
                &states,
                deployment,
                missing.is_empty(),
                patient,
            )
            .await?
            {
                Decision::Done(outcome) => {
                    deployment = Some(outcome.format.deployment_id);
                    outcomes.push(outcome);
                    break;
                }
                Decision::Wait(why) => {
                    if last_report.is_none_or(|t| t.elapsed() >= REPORT_EVERY) {
                        last_report = Some(Instant::now());
                        if missing.is_empty() {
                            tracing::info!("pool {number}: {why}");
                        } else {
                            tracing::info!(
                                "waiting for {} more server(s): {} ({why})",
                                missing.len(),
                                missing.join(", ")
                            );
                        }
                    }
                }
            }
            if wait_limit.is_some_and(|l| started.elapsed() >= l) {
                return Err(BootstrapError::Other {
                    pool: number,
                    reason: "gave up waiting for the other servers".into(),
                });
            }
            tokio::time::sleep(RETRY).await;
        }
    }
    Ok(outcomes)
}

enum Decision {
    Done(PoolOutcome),
    Wait(String),
}

async fn decide(
    number: usize,
    pool: &PoolPlan,
    states: &[Option<wire::DriveFormat>],
    deployment: Option<Uuid>,
    all_servers: bool,
    patient: bool,
) -> Result<Decision, BootstrapError> {
    let total = pool.slots.len();
    let answered = states.iter().filter(|s| s.is_some()).count();
    let formatted = states
        .iter()
        .filter(|s| matches!(s, Some(d) if matches!(d.state, DriveFormatState::Ok(_))))
        .count();
    if formatted == 0 {
        let untouched = states.iter().all(|s| {
            matches!(s, Some(d) if matches!(d.state, DriveFormatState::Unformatted | DriveFormatState::Missing))
        });
        if !(untouched && all_servers) {
            return Ok(Decision::Wait(format!(
                "new deployment: {answered} of {total} drives answered, all are needed to create it"
            )));
        }
        // The owner of the pool's first endpoint creates it (the first slot: drives are
        // dealt over the servers starting with the first endpoint); the others wait.
        if pool.slots.first().is_none_or(|s| s.local.is_none()) {
            return Ok(Decision::Wait(
                "waiting for the server of the first drive to create the deployment".into(),
            ));
        }
        let formats = format::new_formats(total, pool.set_size, pool.parity, deployment);
        for (slot, f) in pool.slots.iter().zip(&formats) {
            let result = if let Some(root) = &slot.local {
                let (root, f) = (root.clone(), f.clone());
                tokio::task::spawn_blocking(move || format::write_fresh(&root, &f))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
            } else if let Some(remote) = &slot.remote {
                remote
                    .write_format(&wire::WriteFormat { format: f.clone() })
                    .await
                    .map_err(|e| e.to_string())
            } else {
                Err("no drive".into())
            };
            if let Err(e) = result {
                return Err(BootstrapError::Other {
                    pool: number,
                    reason: format!("cannot format {}: {e}", slot.endpoint),
                });
            }
        }
        tracing::info!(
            "pool {number}: formatted {total} drives as deployment {}: {} set(s) of {} drives, EC:{}",
            formats[0].deployment_id,
            total / pool.set_size.max(1),
            pool.set_size,
            pool.parity
        );
        return Ok(Decision::Wait("formats written".into()));
    }
    // An unformatted drive next to formatted ones is, right after a new deployment, one
    // the first server has not reached yet: give it a moment rather than starting with the
    // drive reported offline (a peer's) or re-formatted for healing (ours). A drive that
    // was really wiped only waits these seconds longer. A drive directory that does not
    // exist yet is the same case: writing the format creates it (CI saw a peer's second
    // drive reported `Missing` by a server that looked between the first server's writes).
    let unformatted = states.iter().any(|s| {
        matches!(s, Some(d) if matches!(d.state, DriveFormatState::Unformatted | DriveFormatState::Missing))
    });
    if unformatted && all_servers && patient {
        return Ok(Decision::Wait(
            "the first server is still writing the formats".into(),
        ));
    }
    if formatted * 2 < total {
        return Ok(Decision::Wait(format!(
            "{formatted} of {total} drives have a format, at least half are needed"
        )));
    }
    // Check the formats found as a single server checks its own drives; unreachable
    // drives take no part.
    let names: Vec<PathBuf> = pool
        .slots
        .iter()
        .map(|s| PathBuf::from(s.endpoint.to_string()))
        .collect();
    let known: Vec<DriveFormatState> = states
        .iter()
        .map(|s| match s {
            Some(d) => d.state.clone(),
            None => DriveFormatState::IoError("server unreachable".into()),
        })
        .collect();
    let reference = format::reference_format(&names, &known, pool.set_size).map_err(|source| {
        BootstrapError::Format {
            pool: number,
            source,
        }
    })?;
    if let Some(d) = deployment {
        if reference.deployment_id != d {
            return Err(BootstrapError::Other {
                pool: number,
                reason: format!(
                    "its drives belong to deployment {}, pool 1 to {d}",
                    reference.deployment_id
                ),
            });
        }
    }
    let mut notices = Vec::new();
    let mut statuses = Vec::with_capacity(total);
    for (i, (slot, state)) in pool.slots.iter().zip(states).enumerate() {
        let status = match state {
            None => DriveStatus::Offline("server unreachable".into()),
            Some(d) => match (&d.state, &slot.local) {
                (DriveFormatState::Ok(f), _) if d.healing => DriveStatus::Healing(f.clone()),
                (DriveFormatState::Ok(f), _) => DriveStatus::Online(f.clone()),
                (DriveFormatState::Unformatted, Some(root)) => {
                    let f = FormatFile {
                        this: reference.sets[i / pool.set_size][i % pool.set_size],
                        ..reference.clone()
                    };
                    let (root, f2) = (root.clone(), f.clone());
                    match tokio::task::spawn_blocking(move || format::reformat(&root, &f2)).await {
                        Ok(Ok(())) => {
                            notices.push(format!(
                                "drive {} has no format while the others do: it was wiped or \
                                 replaced; restored its format and marked it for healing",
                                slot.endpoint
                            ));
                            DriveStatus::Healing(f)
                        }
                        Ok(Err(e)) => DriveStatus::Offline(format!("cannot re-format: {e}")),
                        Err(e) => DriveStatus::Offline(format!("cannot re-format: {e}")),
                    }
                }
                (DriveFormatState::Unformatted, None) => {
                    DriveStatus::Offline("not formatted yet (its server formats it)".into())
                }
                (other, _) => DriveStatus::Offline(format!("{other:?}")),
            },
        };
        if let DriveStatus::Offline(why) = &status {
            notices.push(format!("drive {} is offline: {why}", slot.endpoint));
        }
        statuses.push(status);
    }
    Ok(Decision::Done(PoolOutcome {
        format: reference,
        statuses,
        notices,
    }))
}

/// Distinct servers of the deployment, ours included, as `host:port`, for messages.
pub fn servers(cluster: &Cluster, me: &Identity) -> BTreeSet<String> {
    cluster
        .pools
        .iter()
        .flat_map(|p| &p.slots)
        .filter_map(|s| s.endpoint.host_port(me.port))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(pools: &[&[&str]], parity: Option<usize>) -> wire::NodeInfo {
        wire::NodeInfo {
            version: "test".into(),
            pools: pools
                .iter()
                .map(|p| p.iter().map(|e| (*e).to_string()).collect())
                .collect(),
            parity,
        }
    }

    /// Right after a new deployment, a peer's drive whose directory the first server has not
    /// created yet answers `Missing` next to formatted drives: a server must wait for it
    /// (within the grace) rather than start with the drive offline.
    #[tokio::test]
    async fn a_missing_drive_next_to_fresh_formats_is_waited_for() {
        let dir = tempfile::tempdir().expect("tempdir");
        let slots: Vec<Slot> = (0..4)
            .map(|i| {
                let path = dir.path().join(format!("d{i}"));
                let drive: DriveRef = Arc::new(LocalDrive::new(path.clone(), false));
                Slot {
                    endpoint: Endpoint::parse(&format!("http://peer:9000{}", path.display()))
                        .expect("endpoint"),
                    drive,
                    local: None,
                    remote: None,
                }
            })
            .collect();
        let pool = PoolPlan {
            slots,
            set_size: 4,
            parity: 2,
        };
        let formats = format::new_formats(4, 4, 2, None);
        let mut states: Vec<Option<wire::DriveFormat>> = formats
            .iter()
            .map(|f| {
                Some(wire::DriveFormat {
                    state: DriveFormatState::Ok(f.clone()),
                    healing: false,
                })
            })
            .collect();
        states[3] = Some(wire::DriveFormat {
            state: DriveFormatState::Missing,
            healing: false,
        });
        let patient = decide(1, &pool, &states, None, true, true).await;
        assert!(
            matches!(patient, Ok(Decision::Wait(_))),
            "waits in the grace"
        );
        match decide(1, &pool, &states, None, true, false).await {
            Ok(Decision::Done(out)) => {
                assert!(matches!(out.statuses[3], DriveStatus::Offline(_)));
                assert!(matches!(out.statuses[0], DriveStatus::Online(_)));
            }
            _ => panic!("after the grace the pool starts with the drive offline"),
        }
    }

    #[test]
    fn an_added_pool_is_not_a_difference_but_a_changed_one_is() {
        let old = info(&[&["http://a/1", "http://b/1"]], None);
        let grown = info(
            &[&["http://a/1", "http://b/1"], &["http://c/1", "http://d/1"]],
            None,
        );
        assert_eq!(difference(&old, &grown), None);
        assert_eq!(difference(&grown, &old), None);
        let other = info(
            &[&["http://a/1", "http://b/1"], &["http://c/1", "http://e/1"]],
            None,
        );
        let d = difference(&grown, &other).unwrap_or_default();
        assert!(d.contains("pool 2") && d.contains("http://e/1"), "{d}");
        let reordered = info(&[&["http://b/1", "http://a/1"]], None);
        let d = difference(&old, &reordered).unwrap_or_default();
        assert!(d.contains("another order"), "{d}");
        let parity = info(&[&["http://a/1", "http://b/1"]], Some(1));
        let d = difference(&old, &parity).unwrap_or_default();
        assert!(d.contains("EC:1"), "{d}");
    }
}
