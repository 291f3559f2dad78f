//! The lifecycle worker's counters (`crate::lifecycle::worker`): Cairn's own names,
//! unlabelled like the heal counters. Each server reports the buckets whose passes it
//! runs; sum over servers for the deployment.

use super::{Kind, Page};
use crate::objects::ObjectLayer;
use std::sync::atomic::Ordering;

pub fn render(page: &mut Page, objects: &ObjectLayer) {
    let m = &objects.metrics;
    let series: [(&str, Kind, &str, u64); 8] = [
        (
            "cairn_lifecycle_scans_total",
            Kind::Counter,
            "Lifecycle passes completed over the buckets this server is responsible for",
            m.lifecycle_passes.load(Ordering::Relaxed),
        ),
        (
            "cairn_lifecycle_last_scan_timestamp_seconds",
            Kind::Gauge,
            "When the last lifecycle pass ended (Unix seconds; 0 before the first)",
            m.lifecycle_last_pass_ms.load(Ordering::Relaxed) / 1000,
        ),
        (
            "cairn_lifecycle_scan_running",
            Kind::Gauge,
            "1 while a lifecycle pass runs",
            m.lifecycle_running.load(Ordering::Relaxed),
        ),
        (
            "cairn_lifecycle_objects_expired_total",
            Kind::Counter,
            "Current object versions expired by lifecycle rules (removed or hidden under a delete marker)",
            m.lifecycle_objects_expired.load(Ordering::Relaxed),
        ),
        (
            "cairn_lifecycle_versions_removed_total",
            Kind::Counter,
            "Noncurrent versions removed by lifecycle rules",
            m.lifecycle_versions_removed.load(Ordering::Relaxed),
        ),
        (
            "cairn_lifecycle_delete_markers_removed_total",
            Kind::Counter,
            "Expired object delete markers removed by lifecycle rules",
            m.lifecycle_delete_markers_removed.load(Ordering::Relaxed),
        ),
        (
            "cairn_lifecycle_uploads_aborted_total",
            Kind::Counter,
            "Incomplete multipart uploads aborted by lifecycle rules",
            m.lifecycle_uploads_aborted.load(Ordering::Relaxed),
        ),
        (
            "cairn_lifecycle_skipped_total",
            Kind::Counter,
            "Lifecycle removals the object layer refused (object lock, quorum); retried next pass",
            m.lifecycle_skipped.load(Ordering::Relaxed),
        ),
    ];
    for (name, kind, help, v) in series {
        page.single(name, kind, help, &[], v);
    }
}
