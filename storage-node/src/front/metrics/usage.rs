//! Data usage under MinIO's v2 names (cmd/metrics-v2.go `getClusterUsageMetrics`,
//! `getBucketUsageMetrics`): the scanner's last complete figures ([`crate::heal::usage`]),
//! the same on every server, read from the sets' drives and cached for a few seconds so
//! that scrapes of every server do not each read every set's file.
//!
//! Nothing is written before the first scan has finished, as MinIO (its `LastUpdate` is
//! zero then). Cairn has no versioning, so versions equal objects and there are no
//! delete markers. As MinIO's v2 page, at most [`MAX_BUCKETS`] buckets are listed.

use super::{Kind, Page};
use crate::heal::usage::{self, DataUsage};
use crate::objects::ObjectLayer;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// MinIO's `v2MetricsMaxBuckets`.
pub const MAX_BUCKETS: usize = 100;

/// How long loaded figures are served again.
const CACHE_FOR: Duration = Duration::from_secs(2);

/// The last loaded usage.
#[derive(Debug, Default)]
pub struct UsageCache {
    last: Mutex<Option<(Instant, Arc<DataUsage>)>>,
}

impl UsageCache {
    /// The usage, loaded again when the cached copy is older than [`CACHE_FOR`].
    pub async fn get(&self, objects: &ObjectLayer) -> Arc<DataUsage> {
        if let Ok(last) = self.last.lock() {
            if let Some((_, u)) = last.as_ref().filter(|(at, _)| at.elapsed() < CACHE_FOR) {
                return u.clone();
            }
        }
        let fresh = Arc::new(usage::load_current(objects).await);
        if let Ok(mut last) = self.last.lock() {
            *last = Some((Instant::now(), fresh.clone()));
        }
        fresh
    }
}

/// Nanoseconds since the last update, MinIO's `last_activity_nano_seconds`.
fn since_nanos(last_update_ms: i64) -> i64 {
    let now = chrono::Utc::now().timestamp_millis();
    now.saturating_sub(last_update_ms)
        .max(0)
        .saturating_mul(1_000_000)
}

/// The cluster-wide usage (`minio_cluster_usage_*`, `minio_cluster_bucket_total`,
/// `minio_cluster_objects_size_distribution`, `minio_usage_last_activity_nano_seconds`).
pub fn render_cluster(page: &mut Page, usage: &DataUsage, server: &str) {
    let Some(last) = usage.last_update_ms else {
        return;
    };
    let me = [("server", server)];
    page.single(
        "minio_usage_last_activity_nano_seconds",
        Kind::Gauge,
        "Time elapsed (in nano seconds) since last scan activity",
        &me,
        since_nanos(last),
    );
    let objects = usage.objects();
    let series: [(&str, &str, u64); 4] = [
        (
            "minio_cluster_usage_total_bytes",
            "Total cluster usage in bytes",
            usage.size(),
        ),
        (
            "minio_cluster_usage_object_total",
            "Total number of objects in a cluster",
            objects,
        ),
        (
            "minio_cluster_usage_version_total",
            "Total number of versions (includes delete marker) in a cluster",
            objects,
        ),
        (
            "minio_cluster_usage_deletemarker_total",
            "Total number of delete markers in a cluster",
            0,
        ),
    ];
    for (name, help, v) in series {
        page.single(name, Kind::Gauge, help, &me, v);
    }
    let name = "minio_cluster_objects_size_distribution";
    // MinIO's histogram type, written as gauges with a `range` label (collectMetric).
    page.family(
        name,
        Kind::Gauge,
        "Distribution of object sizes across a cluster",
    );
    for (range, n) in usage.histogram() {
        page.sample(name, &[("range", range), ("server", server)], n);
    }
    page.single(
        "minio_cluster_bucket_total",
        Kind::Gauge,
        "Total number of buckets in the cluster",
        &me,
        usage.buckets.len(),
    );
}

/// The per-bucket usage (`minio_bucket_usage_*`, `minio_bucket_objects_size_distribution`).
pub fn render_buckets(page: &mut Page, usage: &DataUsage, server: &str) {
    let Some(last) = usage.last_update_ms else {
        return;
    };
    page.single(
        "minio_bucket_usage_last_activity_nano_seconds",
        Kind::Gauge,
        "Time elapsed (in nano seconds) since last scan activity",
        &[("server", server)],
        since_nanos(last),
    );
    let buckets: Vec<_> = usage.buckets.iter().take(MAX_BUCKETS).collect();
    let series: [(&str, &str); 4] = [
        (
            "minio_bucket_usage_total_bytes",
            "Total bucket size in bytes",
        ),
        ("minio_bucket_usage_object_total", "Total number of objects"),
        (
            "minio_bucket_usage_version_total",
            "Total number of versions (includes delete marker)",
        ),
        (
            "minio_bucket_usage_deletemarker_total",
            "Total number of delete markers",
        ),
    ];
    for (i, (name, help)) in series.iter().enumerate() {
        page.family(name, Kind::Gauge, help);
        for (bucket, b) in &buckets {
            let v = match i {
                0 => b.size,
                1 | 2 => b.objects,
                _ => 0,
            };
            page.sample(name, &[("bucket", bucket), ("server", server)], v);
        }
    }
    let name = "minio_bucket_objects_size_distribution";
    page.family(
        name,
        Kind::Gauge,
        "Distribution of object sizes in the bucket, includes label for the bucket name",
    );
    for (bucket, b) in &buckets {
        for (range, n) in b.histogram() {
            page.sample(
                name,
                &[("bucket", bucket), ("range", range), ("server", server)],
                n,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::heal::usage::BucketUsage;

    #[test]
    fn nothing_before_the_first_scan_then_every_family() {
        let mut page = Page::default();
        let mut usage = DataUsage::default();
        render_cluster(&mut page, &usage, "s:1");
        render_buckets(&mut page, &usage, "s:1");
        assert!(page.out.is_empty());
        let mut b = BucketUsage::default();
        b.add(5);
        b.add(2 << 20);
        usage.buckets.insert("photos".into(), b);
        usage.buckets.insert("empty".into(), BucketUsage::default());
        usage.last_update_ms = Some(chrono::Utc::now().timestamp_millis());
        render_cluster(&mut page, &usage, "s:1");
        render_buckets(&mut page, &usage, "s:1");
        let out = &page.out;
        for line in [
            "minio_cluster_usage_total_bytes{server=\"s:1\"} 2097157\n",
            "minio_cluster_usage_object_total{server=\"s:1\"} 2\n",
            "minio_cluster_bucket_total{server=\"s:1\"} 2\n",
            "minio_cluster_objects_size_distribution{range=\"LESS_THAN_1024_B\",server=\"s:1\"} 1\n",
            "minio_bucket_usage_total_bytes{bucket=\"photos\",server=\"s:1\"} 2097157\n",
            "minio_bucket_usage_object_total{bucket=\"empty\",server=\"s:1\"} 0\n",
            "minio_bucket_objects_size_distribution{bucket=\"photos\",range=\"BETWEEN_1_MB_AND_10_MB\",server=\"s:1\"} 1\n",
            "# TYPE minio_bucket_objects_size_distribution gauge\n",
        ] {
            assert!(out.contains(line), "{line} in\n{out}");
        }
        assert_eq!(
            out.matches("minio_bucket_objects_size_distribution{bucket=\"empty\"")
                .count(),
            11
        );
    }
}
