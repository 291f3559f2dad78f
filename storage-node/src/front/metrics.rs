//! Prometheus metrics under MinIO's names, so existing dashboards keep working.
//!
//! Every label value comes from a fixed set, never from the request as sent: the
//! method is one of [`METHODS`] or `other`, the status one of five classes. A client
//! that invents methods cannot grow the page or the server's memory.

use super::App;
use crate::body::{RespBody, full};
use bytes::Bytes;
use http::{Method, Response, StatusCode};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub const PATH: &str = "/minio/v2/metrics/cluster";
pub const NODE_PATH: &str = "/minio/v2/metrics/node";

/// The methods counted under their own name (the `api` label); any other is `other`.
pub const METHODS: [&str; 7] = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH"];

/// The `api` label of a method: one of [`METHODS`] or `other`.
pub fn method_label(method: &Method) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method.as_str())
        .copied()
        .unwrap_or("other")
}

/// The status class, 1 to 5 (`1xx` .. `5xx`); hyper only produces 100..=999, and
/// anything above 5xx is counted as 5.
fn status_class(status: StatusCode) -> u8 {
    u8::try_from(status.as_u16() / 100).unwrap_or(5).clamp(1, 5)
}

/// Request counts by method label and status class: at most 8 x 5 entries.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    counts: Mutex<BTreeMap<(&'static str, u8), u64>>,
}

impl HttpMetrics {
    pub fn observe(&self, method: &Method, status: StatusCode, took: Duration) {
        if let Ok(mut m) = self.counts.lock() {
            *m.entry((method_label(method), status_class(status)))
                .or_default() += 1;
        }
        tracing::trace!(took_us = took.as_micros() as u64, "request timed");
    }
}

pub async fn render(app: &App) -> Response<RespBody> {
    let mut out = String::new();
    // Probed at most once a second, shared by concurrent scrapes and health probes.
    let state = app.drive_state.get(&app.objects).await;
    let sets = &state.sets;
    let online: usize = sets.iter().map(|s| s.online).sum();
    let total: usize = sets.iter().map(|s| s.total).sum();
    let (capacity, free) = (state.capacity, state.free);
    let gauge = |out: &mut String, name: &str, help: &str, v: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    };
    gauge(
        &mut out,
        "minio_cluster_drive_online_total",
        "Total drives online in the cluster",
        online as u64,
    );
    gauge(
        &mut out,
        "minio_cluster_drive_offline_total",
        "Total drives offline in the cluster",
        (total - online) as u64,
    );
    gauge(
        &mut out,
        "minio_cluster_drive_total",
        "Total drives in the cluster",
        total as u64,
    );
    gauge(
        &mut out,
        "minio_cluster_capacity_raw_total_bytes",
        "Total capacity online in the cluster",
        capacity,
    );
    gauge(
        &mut out,
        "minio_cluster_capacity_raw_free_bytes",
        "Total free capacity online in the cluster",
        free,
    );
    let (usable_total, usable_free) = app
        .objects
        .sets()
        .next()
        .map(|s| {
            let frac = s.geometry.data as f64 / s.geometry.total() as f64;
            ((capacity as f64 * frac) as u64, (free as f64 * frac) as u64)
        })
        .unwrap_or((0, 0));
    gauge(
        &mut out,
        "minio_cluster_capacity_usable_total_bytes",
        "Total usable capacity online in the cluster",
        usable_total,
    );
    gauge(
        &mut out,
        "minio_cluster_capacity_usable_free_bytes",
        "Total free usable capacity online in the cluster",
        usable_free,
    );
    let healthy = sets.iter().all(|s| s.online >= s.write_quorum);
    gauge(
        &mut out,
        "minio_cluster_health_status",
        "Whether every erasure set has write quorum (1) or not (0)",
        u64::from(healthy),
    );
    let _ = writeln!(
        out,
        "# HELP cairn_erasure_repaired_blocks_total Blocks rebuilt from parity while reading\n# TYPE cairn_erasure_repaired_blocks_total counter\ncairn_erasure_repaired_blocks_total {}",
        app.objects.metrics.repaired_blocks.load(Ordering::Relaxed)
    );
    let _ = writeln!(
        out,
        "# HELP cairn_drive_state_refreshes_total Probes of every drive for health and metrics (cached for a second)\n# TYPE cairn_drive_state_refreshes_total counter\ncairn_drive_state_refreshes_total {}",
        app.drive_state.refreshes.load(Ordering::Relaxed)
    );
    heal_metrics(&mut out, &app.objects);
    if let Some(audit) = &app.audit {
        audit.render_metrics(&mut out);
    }
    let mut by_method: BTreeMap<&'static str, (u64, u64)> = BTreeMap::new();
    if let Ok(m) = app.metrics.counts.lock() {
        for ((method, class), n) in m.iter() {
            let e = by_method.entry(*method).or_default();
            e.0 += n;
            if *class >= 4 {
                e.1 += n;
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP minio_s3_requests_total Total number of S3 requests\n# TYPE minio_s3_requests_total counter"
    );
    for (method, (n, _)) in &by_method {
        let _ = writeln!(out, "minio_s3_requests_total{{api=\"{method}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP minio_s3_requests_errors_total Total number of S3 requests with (4xx and 5xx) errors\n# TYPE minio_s3_requests_errors_total counter"
    );
    for (method, (_, errors)) in &by_method {
        let _ = writeln!(
            out,
            "minio_s3_requests_errors_total{{api=\"{method}\"}} {errors}"
        );
    }
    let mut r = Response::new(full(Bytes::from(out)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// Healing counters under Cairn's names and, where MinIO has an equivalent, MinIO's
/// (`minio_heal_objects_*`), so existing dashboards show them.
fn heal_metrics(out: &mut String, objects: &crate::objects::ObjectLayer) {
    let m = &objects.metrics;
    let scanned = m.heal_objects_scanned.load(Ordering::Relaxed);
    let healed = m.heal_objects_healed.load(Ordering::Relaxed);
    let failed = m.heal_objects_failed.load(Ordering::Relaxed);
    let series: [(&str, &str, &str, u64); 9] = [
        (
            "cairn_heal_objects_scanned_total",
            "counter",
            "Objects checked by the heal layer (scanner, MRF, drive rebuild, admin heal)",
            scanned,
        ),
        (
            "cairn_heal_objects_healed_total",
            "counter",
            "Objects repaired on at least one drive",
            healed,
        ),
        (
            "cairn_heal_objects_failed_total",
            "counter",
            "Objects whose heal failed",
            failed,
        ),
        (
            "cairn_heal_drives_healing",
            "gauge",
            "Drives being rebuilt now",
            m.heal_drives_healing.load(Ordering::Relaxed),
        ),
        (
            "cairn_heal_mrf_queued",
            "gauge",
            "Objects waiting in the partial-write (MRF) heal queue",
            objects.mrf.len() as u64,
        ),
        (
            "cairn_heal_mrf_dropped_total",
            "counter",
            "Objects not queued for healing because the MRF queue was full (the scanner heals them)",
            objects.mrf.dropped.load(Ordering::Relaxed),
        ),
        (
            "minio_heal_objects_total",
            "counter",
            "Objects scanned by self healing",
            scanned,
        ),
        (
            "minio_heal_objects_heal_total",
            "counter",
            "Objects healed by self healing",
            healed,
        ),
        (
            "minio_heal_objects_errors_total",
            "counter",
            "Objects for which self healing failed",
            failed,
        ),
    ];
    for (name, kind, help, v) in series {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invented_methods_share_one_label() {
        let m = HttpMetrics::default();
        for i in 0..1000 {
            let method = Method::from_bytes(format!("X{i}").as_bytes()).unwrap();
            m.observe(
                &method,
                StatusCode::from_u16(100 + i % 900).unwrap(),
                Duration::ZERO,
            );
        }
        m.observe(&Method::GET, StatusCode::OK, Duration::ZERO);
        let counts = m.counts.lock().unwrap();
        assert!(counts.len() <= 6, "{counts:?}");
        assert!(
            counts
                .keys()
                .all(|(l, c)| (*l == "other" || *l == "GET") && (1..=5).contains(c))
        );
        assert_eq!(counts.values().sum::<u64>(), 1001);
    }
}
