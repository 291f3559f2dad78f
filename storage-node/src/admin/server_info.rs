//! `GET /minio/admin/v3/info`: MinIO's ServerInfo (madmin's `InfoMessage`), as `mc admin
//! info`, minio-py's `MinioAdmin.info()` and MinIO's console read it, built from this
//! server's own view (`info::info`). Field names and types follow madmin-go's
//! `info-commands.go`. Objects, versions and the usage size are the scanner's data usage
//! (`crate::heal::usage`), as MinIO takes them from its usage cache (zero before the
//! first scan); what Cairn does not track (delete markers, memory statistics) is left out
//! or zero, as MinIO leaves out what it lacks.

use super::types::{DriveState, Info, ServerState};
use super::{AdminService, info};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The InfoMessage for `info` (one server's merged view of the deployment).
pub(crate) fn info_message(
    info: &Info,
    buckets: usize,
    usage: &crate::heal::usage::DataUsage,
    region: &str,
) -> Value {
    let scheme_of = |endpoint: &str| {
        endpoint
            .split_once("://")
            .map_or("http", |(s, _)| s)
            .to_string()
    };
    let mut servers = Vec::with_capacity(info.servers.len());
    for s in &info.servers {
        let drives: Vec<Value> = info
            .drives
            .iter()
            .filter(|d| d.server == s.endpoint)
            .map(|d| {
                let path = d
                    .endpoint
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|i| rest[i..].to_string()))
                    .unwrap_or_else(|| d.endpoint.clone());
                json!({
                    "endpoint": d.endpoint,
                    "path": path,
                    "state": match d.state {
                        DriveState::Online | DriveState::Healing => "ok",
                        DriveState::Offline => "offline",
                    },
                    "healing": d.state == DriveState::Healing,
                    "totalspace": d.total,
                    "usedspace": d.used,
                    "availspace": d.free,
                    "pool_index": d.pool,
                    "set_index": d.set,
                    "disk_index": d.position,
                })
            })
            .collect();
        let pools: Vec<usize> = {
            let mut p: Vec<usize> = info
                .drives
                .iter()
                .filter(|d| d.server == s.endpoint)
                .map(|d| d.pool)
                .collect();
            p.sort_unstable();
            p.dedup();
            p
        };
        let first_drive = info.drives.iter().find(|d| d.server == s.endpoint);
        servers.push(json!({
            "state": match s.state {
                ServerState::Online => "online",
                ServerState::Offline => "offline",
            },
            "endpoint": s.endpoint,
            "scheme": first_drive.map_or_else(|| "http".to_string(), |d| scheme_of(&d.endpoint)),
            "version": env!("CARGO_PKG_VERSION"),
            "commitID": "",
            "network": {},
            "drives": drives,
            "poolNumber": pools.first().map_or(1, |p| p + 1),
            "poolNumbers": pools.iter().map(|p| p + 1).collect::<Vec<_>>(),
            "mem_stats": {},
        }));
    }
    // pools[pool][set] = {id, rawUsage, rawCapacity, usage, objectsCount, ...}.
    let mut pools: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for p in &info.pools {
        for set in &p.set_health {
            let drives = info
                .drives
                .iter()
                .filter(|d| d.pool == p.index && d.set == set.index);
            let (capacity, used) = drives.fold((0u64, 0u64), |(c, u), d| (c + d.total, u + d.used));
            pools.entry(p.index.to_string()).or_default().insert(
                set.index.to_string(),
                json!({
                    "id": set.index,
                    "rawUsage": used,
                    "rawCapacity": capacity,
                    "healDisks": 0,
                }),
            );
        }
    }
    json!({
        "mode": "online",
        "region": region,
        "deploymentID": info.deployment_id.clone().unwrap_or_default(),
        "buckets": {"count": buckets},
        "objects": {"count": usage.objects()},
        "versions": {"count": usage.objects()},
        "deletemarkers": {"count": 0},
        "usage": {"size": usage.size()},
        "services": {},
        "backend": {
            "backendType": "Erasure",
            "onlineDisks": info.usage.drives_online,
            "offlineDisks": info.usage.drives_offline,
            "standardSCParity": info.pools.first().map_or(0, |p| p.parity),
            "rrSCParity": info.pools.first().map_or(0, |p| p.parity),
            "totalSets": info.pools.iter().map(|p| p.sets).collect::<Vec<_>>(),
            "totalDrivesPerSet": info.pools.iter().map(|p| p.set_size).collect::<Vec<_>>(),
        },
        "servers": servers,
        "pools": pools,
    })
}

/// Answers `GET /minio/admin/v3/info`.
pub(crate) async fn serve(svc: &AdminService) -> Value {
    let merged = info::info(svc, false).await;
    let buckets = svc.objects.list_buckets().await.map_or(0, |b| b.len());
    let usage = crate::heal::usage::load_current(&svc.objects).await;
    info_message(&merged, buckets, &usage, &svc.cfg.region)
}
