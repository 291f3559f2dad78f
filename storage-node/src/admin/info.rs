//! `GET /cairn/admin/v1/info`: servers, drives, pools and sets, usage, heal progress.

use super::heal::{drive_healing, healing_by_endpoint, is_active, local_progress, merge_peers};
use super::types::{
    DriveEntry, DriveHealing, DriveState, Info, PoolEntry, ServerEntry, ServerState, SetEntry,
    Usage,
};
use super::{AdminService, INFO_PATH, PEER_TIMEOUT, Slot};
use crate::cluster::format;
use crate::heal::{HealStatus, TaskState};
use futures::future::join_all;
use http::Method;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// Deadline of one drive's check and capacity question.
const DRIVE_TIMEOUT: Duration = Duration::from_secs(3);

/// The directory of a drive of this server: the endpoint itself standalone, its path
/// part in a distributed deployment.
pub(crate) fn local_root(endpoint: &str) -> Option<PathBuf> {
    let path = match endpoint.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| rest[i..].to_string())?,
        None => endpoint.to_string(),
    };
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Asks one drive: does it answer, how full is it, is it healing (own drives only).
async fn probe(svc: &AdminService, slot: &Slot, heal: &HealStatus) -> DriveEntry {
    let d = &slot.drive;
    let endpoint = d.endpoint();
    let mut entry = DriveEntry {
        endpoint: endpoint.clone(),
        server: svc.server_name(d),
        pool: slot.pool,
        set: slot.set,
        position: slot.position,
        state: DriveState::Online,
        total: 0,
        free: 0,
        used: 0,
        healing: None,
        error: None,
    };
    match tokio::time::timeout(DRIVE_TIMEOUT, d.check()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            entry.state = DriveState::Offline;
            entry.error = Some(e.to_string());
            return entry;
        }
        Err(_) => {
            entry.state = DriveState::Offline;
            entry.error = Some("no answer within 3 s".into());
            return entry;
        }
    }
    match tokio::time::timeout(DRIVE_TIMEOUT, d.info()).await {
        Ok(Ok(i)) => {
            entry.total = i.total;
            entry.free = i.free;
            entry.used = i.used;
        }
        Ok(Err(e)) => entry.error = Some(format!("capacity unknown: {e}")),
        Err(_) => entry.error = Some("capacity unknown: no answer within 3 s".into()),
    }
    if d.is_local() {
        let status = heal.drives.iter().find(|h| h.endpoint == endpoint);
        let rebuilding =
            status.is_some_and(|h| matches!(h.state, TaskState::Queued | TaskState::Running));
        let marker = match local_root(&endpoint) {
            Some(root) => {
                let path = format::healing_path(&root);
                tokio::time::timeout(DRIVE_TIMEOUT, tokio::fs::try_exists(path))
                    .await
                    .is_ok_and(|r| r.unwrap_or(false))
            }
            None => false,
        };
        if rebuilding || marker {
            entry.state = DriveState::Healing;
            entry.healing = Some(match status {
                Some(h) => drive_healing(&svc.me, h),
                None => DriveHealing {
                    endpoint: endpoint.clone(),
                    server: svc.me.clone(),
                    pool: slot.pool,
                    set: slot.set,
                    state: "queued".into(),
                    started: None,
                    objects_done: 0,
                    objects_healed: 0,
                    objects_failed: 0,
                    objects_total: 0,
                    percent: 0.0,
                },
            });
        }
    }
    entry
}

/// `GET /cairn/admin/v1/info`; with `local_only`, this server's drives only and no
/// questions to peers.
pub(crate) async fn info(svc: &AdminService, local_only: bool) -> Info {
    let slots: Vec<Slot> = svc
        .slots()
        .into_iter()
        .filter(|s| !local_only || s.drive.is_local())
        .collect();
    let heal = svc.heal.status();
    let probes = join_all(slots.iter().map(|s| probe(svc, s, &heal)));
    let asked = async {
        if local_only {
            return Vec::new();
        }
        join_all(svc.peers.iter().map(|(name, c)| async move {
            let r = c
                .json::<Info>(Method::GET, INFO_PATH, &[("local", "1")], PEER_TIMEOUT)
                .await
                .map_err(|e| e.to_string());
            (name.clone(), r)
        }))
        .await
    };
    let (mut drives, views) = tokio::join!(probes, asked);

    // A peer's view of its own drives wins over what the RPC shows from here.
    let answered: Vec<Info> = views
        .iter()
        .filter_map(|(_, v)| v.as_ref().ok().cloned())
        .collect();
    let theirs: HashMap<&str, &DriveEntry> = answered
        .iter()
        .flat_map(|v| &v.drives)
        .map(|d| (d.endpoint.as_str(), d))
        .collect();
    let rebuilds = healing_by_endpoint(&answered);
    for d in drives.iter_mut() {
        if let Some(t) = theirs.get(d.endpoint.as_str()) {
            d.state = t.state;
            d.total = t.total;
            d.free = t.free;
            d.used = t.used;
            d.error = t.error.clone();
            d.healing = t
                .healing
                .clone()
                .or_else(|| rebuilds.get(&d.endpoint).cloned());
        }
    }

    // Servers, in the order their drives first appear.
    let mut servers: Vec<ServerEntry> = Vec::new();
    for d in &drives {
        let idx = match servers.iter().position(|s| s.endpoint == d.server) {
            Some(i) => i,
            None => {
                servers.push(ServerEntry {
                    endpoint: d.server.clone(),
                    state: ServerState::Offline,
                    local: d.server == svc.me,
                    drives: 0,
                    drives_online: 0,
                    drives_healing: 0,
                    error: None,
                });
                servers.len() - 1
            }
        };
        let s = &mut servers[idx];
        s.drives += 1;
        if d.state != DriveState::Offline {
            s.drives_online += 1;
        }
        if d.state == DriveState::Healing {
            s.drives_healing += 1;
        }
    }
    for s in servers.iter_mut() {
        let view = views.iter().find(|(n, _)| *n == s.endpoint).map(|(_, v)| v);
        s.state = match view {
            _ if s.local => ServerState::Online,
            Some(Ok(_)) => ServerState::Online,
            Some(Err(e)) => {
                s.error = Some(e.clone());
                if s.drives_online > 0 {
                    ServerState::Online
                } else {
                    ServerState::Offline
                }
            }
            None if s.drives_online > 0 => ServerState::Online,
            None => ServerState::Offline,
        };
    }

    // Pools and sets.
    let mut pools = Vec::new();
    for (p, pool) in svc.objects.pools.iter().enumerate() {
        let first = pool.sets.first();
        let data = first.map_or(0, |s| s.geometry.data);
        let parity = first.map_or(0, |s| s.geometry.parity);
        let set_health = pool
            .sets
            .iter()
            .map(|set| {
                let online = drives
                    .iter()
                    .filter(|d| d.pool == p && d.set == set.index && d.state != DriveState::Offline)
                    .count();
                SetEntry {
                    index: set.index,
                    drives_online: online,
                    read_quorum: online >= set.geometry.data,
                    write_quorum: online >= set.write_quorum(),
                }
            })
            .collect();
        pools.push(PoolEntry {
            index: p,
            drives: pool.sets.iter().map(|s| s.drives.len()).sum(),
            sets: pool.sets.len(),
            set_size: data + parity,
            data,
            parity,
            read_quorum: data,
            write_quorum: first.map_or(0, |s| s.write_quorum()),
            set_health,
        });
    }

    // Usage over the drives that answered; usable = the data shards' share.
    let mut usage = Usage {
        drives_total: drives.len(),
        ..Usage::default()
    };
    for d in &drives {
        match d.state {
            DriveState::Offline => {
                usage.drives_offline += 1;
                continue;
            }
            DriveState::Healing => usage.drives_healing += 1,
            DriveState::Online => {}
        }
        usage.drives_online += 1;
        usage.raw_capacity += d.total;
        usage.raw_free += d.free;
        usage.raw_used += d.used;
        if let Some(pool) = pools.get(d.pool).filter(|p| p.set_size > 0) {
            let share = |v: u64| {
                u64::try_from(u128::from(v) * pool.data as u128 / pool.set_size as u128)
                    .unwrap_or(u64::MAX)
            };
            usage.usable_capacity += share(d.total);
            usage.usable_free += share(d.free);
        }
    }

    let mut progress = local_progress(svc, &heal);
    if !local_only {
        merge_peers(
            &mut progress,
            views.into_iter().map(|(n, v)| (n, v.map(|i| i.heal))),
        );
    }
    progress.running |= progress.drives_healing.iter().any(|d| is_active(&d.state));

    Info {
        mode: if svc.distributed {
            "distributed".into()
        } else {
            "standalone".into()
        },
        deployment_id: svc.deployment_id().await,
        server: svc.me.clone(),
        region: svc.cfg.region.clone(),
        local_only,
        servers,
        pools,
        drives,
        usage,
        heal: progress,
    }
}
