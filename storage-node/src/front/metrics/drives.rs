//! Capacity, drives and nodes under MinIO's v2 names, from the drive probe cached for a
//! second (`front::drive_state`).
//!
//! The cluster page counts every drive and node of the deployment
//! (`minio_cluster_drive_*`, `minio_cluster_nodes_*`, capacity, health, erasure sets);
//! the node page counts this server's drives (`minio_node_drive_{online,offline}_total`,
//! `minio_node_drive_total`). Both list the space of this server's drives that answer
//! (`minio_node_drive_{free,used,total}_bytes`, labels `drive`, the drive's directory,
//! and `server`): each server reports its own, and a distributed server's cluster page
//! adds its peers' (`super::peers`). A node counts as online when one of its drives
//! answered (this server always does) and, on the cluster page, when it answered the
//! page's question. Erasure sets are labelled `pool` and `set`, both counted from 0 as
//! MinIO does.

use super::{Kind, Page, Scope, authority};
use crate::front::drive_state::{DriveReport, DriveState, SetHealth};
use crate::objects::ObjectLayer;
use std::collections::BTreeMap;

pub fn render(
    page: &mut Page,
    objects: &ObjectLayer,
    state: &DriveState,
    server: &str,
    scope: Scope,
    unreachable: &[String],
) {
    let drives: Vec<&DriveReport> = state.drives.iter().filter(|d| d.local).collect();
    // MinIO's names: these gauges end in `_total`, which promtool's lint flags;
    // dashboards query these names, so they stay.
    match scope {
        Scope::Cluster | Scope::Bucket => cluster(page, objects, state),
        Scope::Node => {
            let online = drives.iter().filter(|d| d.online).count();
            let me = [("server", server)];
            page.single(
                "minio_node_drive_offline_total",
                Kind::Gauge,
                "Total drives offline in this node",
                &me,
                drives.len() - online,
            );
            page.single(
                "minio_node_drive_online_total",
                Kind::Gauge,
                "Total drives online in this node",
                &me,
                online,
            );
            page.single(
                "minio_node_drive_total",
                Kind::Gauge,
                "Total drives in this node",
                &me,
                drives.len(),
            );
        }
    }
    nodes(page, state, server, unreachable);
    per_drive(page, &drives, server);
}

/// This server's own drive series, for a peer's cluster page (`super::peers`).
pub fn render_own(page: &mut Page, state: &DriveState, server: &str) {
    let drives: Vec<&DriveReport> = state.drives.iter().filter(|d| d.local).collect();
    per_drive(page, &drives, server);
}

fn cluster(page: &mut Page, objects: &ObjectLayer, state: &DriveState) {
    let online: usize = state.sets.iter().map(|s| s.online).sum();
    let total: usize = state.sets.iter().map(|s| s.total).sum();
    page.single(
        "minio_cluster_drive_offline_total",
        Kind::Gauge,
        "Total drives offline in this cluster",
        &[],
        total - online,
    );
    page.single(
        "minio_cluster_drive_online_total",
        Kind::Gauge,
        "Total drives online in this cluster",
        &[],
        online,
    );
    page.single(
        "minio_cluster_drive_total",
        Kind::Gauge,
        "Total drives in this cluster",
        &[],
        total,
    );
    let (capacity, free) = (state.capacity, state.free);
    page.single(
        "minio_cluster_capacity_raw_total_bytes",
        Kind::Gauge,
        "Total capacity online in the cluster",
        &[],
        capacity,
    );
    page.single(
        "minio_cluster_capacity_raw_free_bytes",
        Kind::Gauge,
        "Total free capacity online in the cluster",
        &[],
        free,
    );
    // Usable: the data share of the raw space, k / (k + m) of the first set's layout.
    let (usable_total, usable_free) = objects
        .sets()
        .next()
        .map(|s| {
            let frac = s.geometry.data as f64 / s.geometry.total() as f64;
            ((capacity as f64 * frac) as u64, (free as f64 * frac) as u64)
        })
        .unwrap_or((0, 0));
    page.single(
        "minio_cluster_capacity_usable_total_bytes",
        Kind::Gauge,
        "Total usable capacity online in the cluster",
        &[],
        usable_total,
    );
    page.single(
        "minio_cluster_capacity_usable_free_bytes",
        Kind::Gauge,
        "Total free usable capacity online in the cluster",
        &[],
        usable_free,
    );
    let healthy = state.sets.iter().all(|s| s.online >= s.write_quorum);
    page.single(
        "minio_cluster_health_status",
        Kind::Gauge,
        "Get current cluster health status",
        &[],
        u8::from(healthy),
    );
    erasure_sets(page, objects, state);
}

/// Quorums and online drives of every erasure set (MinIO's `getClusterHealthMetrics`).
fn erasure_sets(page: &mut Page, objects: &ObjectLayer, state: &DriveState) {
    let write_quorum = state.sets.iter().map(|s| s.write_quorum).max().unwrap_or(0);
    page.single(
        "minio_cluster_write_quorum",
        Kind::Gauge,
        "Maximum write quorum across all pools and sets",
        &[],
        write_quorum,
    );
    // `state.sets` is in the order of `objects.sets()`: pool by pool, set by set.
    let ids: Vec<(String, String)> = objects
        .pools
        .iter()
        .enumerate()
        .flat_map(|(p, pool)| (0..pool.sets.len()).map(move |s| (p.to_string(), s.to_string())))
        .collect();
    type Pick = fn(&SetHealth) -> usize;
    let families: [(&str, &str, Pick); 4] = [
        (
            "minio_cluster_health_erasure_set_online_drives",
            "Get the count of the online drives in this erasure set",
            |s| s.online,
        ),
        (
            "minio_cluster_health_erasure_set_read_quorum",
            "Get the read quorum for this erasure set",
            |s| s.read_quorum,
        ),
        (
            "minio_cluster_health_erasure_set_status",
            "Get current health status for this erasure set",
            |s| usize::from(s.online >= s.write_quorum),
        ),
        (
            "minio_cluster_health_erasure_set_write_quorum",
            "Get the write quorum for this erasure set",
            |s| s.write_quorum,
        ),
    ];
    for (name, help, pick) in families {
        page.family(name, Kind::Gauge, help);
        for ((pool, set), s) in ids.iter().zip(&state.sets) {
            page.sample(
                name,
                &[("pool", pool.as_str()), ("set", set.as_str())],
                pick(s),
            );
        }
    }
}

/// Nodes online and offline, a node being the `server` of its drives: online when one of
/// its drives answered and it is not among the peers that did not answer the cluster
/// page's question (`unreachable`).
fn nodes(page: &mut Page, state: &DriveState, server: &str, unreachable: &[String]) {
    let mut up: BTreeMap<&str, bool> = BTreeMap::new();
    up.insert(server, true);
    for d in &state.drives {
        *up.entry(node_of(d, server)).or_default() |= d.online;
    }
    for name in unreachable {
        up.insert(name.as_str(), false);
    }
    let online = up.values().filter(|u| **u).count();
    page.single(
        "minio_cluster_nodes_offline_total",
        Kind::Gauge,
        "Total number of MinIO nodes offline",
        &[],
        up.len() - online,
    );
    page.single(
        "minio_cluster_nodes_online_total",
        Kind::Gauge,
        "Total number of MinIO nodes online",
        &[],
        online,
    );
}

fn per_drive(page: &mut Page, drives: &[&DriveReport], server: &str) {
    type Pick = fn(&DriveReport) -> u64;
    let families: [(&str, &str, Pick); 3] = [
        (
            "minio_node_drive_free_bytes",
            "Total storage available on a drive",
            |d| d.free,
        ),
        (
            "minio_node_drive_total_bytes",
            "Total storage on a drive",
            |d| d.total,
        ),
        (
            "minio_node_drive_used_bytes",
            "Total storage used on a drive",
            |d| d.used,
        ),
    ];
    for (name, help, pick) in families {
        page.family(name, Kind::Gauge, help);
        for d in drives.iter().filter(|d| d.online) {
            let labels = [
                ("drive", drive_path(&d.endpoint)),
                ("server", node_of(d, server)),
            ];
            page.sample(name, &labels, pick(d));
        }
    }
}

/// The node of a drive: this server for its own, the endpoint's `host:port` otherwise.
fn node_of<'a>(d: &'a DriveReport, server: &'a str) -> &'a str {
    if d.local {
        return server;
    }
    authority(&d.endpoint).unwrap_or(&d.endpoint)
}

/// The drive's directory (MinIO's `DrivePath`): the path of an endpoint URL, or the
/// endpoint itself standalone.
fn drive_path(endpoint: &str) -> &str {
    match endpoint.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or(rest, |i| &rest[i..]),
        None => endpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(endpoint: &str, local: bool, online: bool) -> DriveReport {
        DriveReport {
            endpoint: endpoint.into(),
            local,
            online,
            total: 100,
            free: 60,
            used: 40,
        }
    }

    #[test]
    fn nodes_and_drives_by_server() {
        let state = DriveState {
            drives: vec![
                drive("http://n1:9000/export0", true, true),
                drive("http://n1:9000/export1", true, false),
                drive("http://n2:9000/export0", false, true),
                drive("http://n3:9000/export0", false, false),
            ],
            ..Default::default()
        };
        let mut page = Page::default();
        nodes(&mut page, &state, "n1:9000", &[]);
        let drives: Vec<&DriveReport> = state.drives.iter().collect();
        per_drive(&mut page, &drives, "n1:9000");
        let out = page.out;
        for line in [
            "minio_cluster_nodes_online_total 2",
            "minio_cluster_nodes_offline_total 1",
            "minio_node_drive_free_bytes{drive=\"/export0\",server=\"n1:9000\"} 60",
            "minio_node_drive_used_bytes{drive=\"/export0\",server=\"n2:9000\"} 40",
            "minio_node_drive_total_bytes{drive=\"/export0\",server=\"n2:9000\"} 100",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
        }
        // Drives that did not answer have no space to report.
        assert!(!out.contains("export1"), "{out}");
        assert!(!out.contains("n3:9000"), "{out}");
        assert_eq!(drive_path("/data/d1"), "/data/d1");
        // A peer whose drives answer but which did not answer the page's question.
        let mut page = Page::default();
        nodes(&mut page, &state, "n1:9000", &["n2:9000".to_string()]);
        assert!(
            page.out.contains("minio_cluster_nodes_offline_total 2\n"),
            "{}",
            page.out
        );
    }
}
