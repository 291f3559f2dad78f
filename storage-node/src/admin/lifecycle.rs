//! `GET /cairn/admin/v1/lifecycle`: what this server's lifecycle worker has done since
//! it started (passes, objects expired, versions and delete markers removed, uploads
//! aborted, removals refused) and how many buckets have lifecycle rules. The counters
//! are this server's: in a cluster each bucket's pass runs on one server
//! (`crate::lifecycle::worker`), so ask each server for its share.

use super::AdminService;
use crate::lifecycle::LIFECYCLE_CONFIG;
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;

pub const PATH: &str = "/cairn/admin/v1/lifecycle";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LifecycleStatus {
    pub server: String,
    /// Buckets with a lifecycle configuration (`None` when the buckets could not be read).
    pub buckets_with_rules: Option<usize>,
    pub running: bool,
    pub passes: u64,
    /// When the last pass ended (RFC 3339), if one did.
    pub last_pass: Option<String>,
    pub objects_expired: u64,
    pub versions_removed: u64,
    pub delete_markers_removed: u64,
    pub uploads_aborted: u64,
    /// Removals the object layer refused (object lock, quorum): retried next pass.
    pub skipped: u64,
}

pub(crate) async fn serve(svc: &AdminService) -> LifecycleStatus {
    let m = &svc.objects.metrics;
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let last = get(&m.lifecycle_last_pass_ms);
    let buckets_with_rules = svc.objects.list_buckets().await.ok().map(|b| {
        b.iter()
            .filter(|b| b.config.contains_key(LIFECYCLE_CONFIG))
            .count()
    });
    LifecycleStatus {
        server: svc.me.clone(),
        buckets_with_rules,
        running: get(&m.lifecycle_running) > 0,
        passes: get(&m.lifecycle_passes),
        last_pass: (last > 0)
            .then(|| i64::try_from(last).ok())
            .flatten()
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        objects_expired: get(&m.lifecycle_objects_expired),
        versions_removed: get(&m.lifecycle_versions_removed),
        delete_markers_removed: get(&m.lifecycle_delete_markers_removed),
        uploads_aborted: get(&m.lifecycle_uploads_aborted),
        skipped: get(&m.lifecycle_skipped),
    }
}
