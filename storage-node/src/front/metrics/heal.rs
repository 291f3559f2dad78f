//! Healing and erasure repair counters: MinIO's `minio_heal_objects_*` where MinIO has
//! an equivalent, Cairn's own (`cairn_heal_*`, `cairn_erasure_*`) for the rest, and the
//! drive probe's own counter. Unlabelled, as before: existing alerts match them as they
//! are.

use super::{Kind, Page};
use crate::front::drive_state::DriveStateCache;
use crate::objects::ObjectLayer;
use std::sync::atomic::Ordering;

pub fn render(page: &mut Page, objects: &ObjectLayer, drive_state: &DriveStateCache) {
    let m = &objects.metrics;
    let scanned = m.heal_objects_scanned.load(Ordering::Relaxed);
    let healed = m.heal_objects_healed.load(Ordering::Relaxed);
    let failed = m.heal_objects_failed.load(Ordering::Relaxed);
    let series: [(&str, Kind, &str, u64); 11] = [
        (
            "cairn_erasure_repaired_blocks_total",
            Kind::Counter,
            "Blocks rebuilt from parity while reading",
            m.repaired_blocks.load(Ordering::Relaxed),
        ),
        (
            "cairn_drive_state_refreshes_total",
            Kind::Counter,
            "Probes of every drive for health and metrics (cached for a second)",
            drive_state.refreshes.load(Ordering::Relaxed),
        ),
        (
            "cairn_heal_objects_scanned_total",
            Kind::Counter,
            "Objects checked by the heal layer (scanner, MRF, drive rebuild, admin heal)",
            scanned,
        ),
        (
            "cairn_heal_objects_healed_total",
            Kind::Counter,
            "Objects repaired on at least one drive",
            healed,
        ),
        (
            "cairn_heal_objects_failed_total",
            Kind::Counter,
            "Objects whose heal failed",
            failed,
        ),
        (
            "cairn_heal_drives_healing",
            Kind::Gauge,
            "Drives being rebuilt now",
            m.heal_drives_healing.load(Ordering::Relaxed),
        ),
        (
            "cairn_heal_mrf_queued",
            Kind::Gauge,
            "Objects waiting in the partial-write (MRF) heal queue",
            objects.mrf.len() as u64,
        ),
        (
            "cairn_heal_mrf_dropped_total",
            Kind::Counter,
            "Objects not queued for healing because the MRF queue was full (the scanner heals them)",
            objects.mrf.dropped.load(Ordering::Relaxed),
        ),
        (
            "minio_heal_objects_total",
            Kind::Counter,
            "Objects scanned since server uptime",
            scanned,
        ),
        (
            "minio_heal_objects_heal_total",
            Kind::Counter,
            "Objects healed since server uptime",
            healed,
        ),
        (
            "minio_heal_objects_errors_total",
            Kind::Counter,
            "Objects with healing failed since server uptime",
            failed,
        ),
    ];
    for (name, kind, help, v) in series {
        page.single(name, kind, help, &[], v);
    }
}
