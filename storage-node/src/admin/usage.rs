//! MinIO's `GET /minio/admin/v3/datausageinfo` (`mc admin info`'s usage, the console's
//! dashboard): the scanner's last complete data usage ([`crate::heal::usage`]) in
//! MinIO's `DataUsageInfo` JSON (cmd/data-usage-utils.go). Needs `admin:DataUsageInfo`.
//!
//! `lastUpdate` is the oldest set scan that went into the figures (Go's zero time before
//! any scan). Cairn has no versioning or replication: versions equal objects, delete
//! markers and replication figures are 0; capacity is left out (`omitempty` in MinIO).

use super::AdminService;
use crate::heal::usage::{BucketUsage, DataUsage};
use serde::Serialize;
use std::collections::BTreeMap;

pub const PATH: &str = "/minio/admin/v3/datausageinfo";

#[derive(Debug, Serialize)]
pub struct BucketUsageInfo {
    pub size: u64,
    #[serde(rename = "objectsCount")]
    pub objects_count: u64,
    #[serde(rename = "objectsSizesHistogram")]
    pub objects_sizes_histogram: BTreeMap<String, u64>,
    #[serde(rename = "versionsCount")]
    pub versions_count: u64,
    #[serde(rename = "deleteMarkersCount")]
    pub delete_markers_count: u64,
}

#[derive(Debug, Serialize)]
pub struct DataUsageInfo {
    #[serde(rename = "lastUpdate")]
    pub last_update: String,
    #[serde(rename = "objectsCount")]
    pub objects_count: u64,
    #[serde(rename = "versionsCount")]
    pub versions_count: u64,
    #[serde(rename = "deleteMarkersCount")]
    pub delete_markers_count: u64,
    #[serde(rename = "objectsTotalSize")]
    pub objects_total_size: u64,
    #[serde(rename = "bucketsCount")]
    pub buckets_count: u64,
    #[serde(rename = "bucketsUsageInfo")]
    pub buckets_usage: BTreeMap<String, BucketUsageInfo>,
    /// Deprecated in MinIO, still sent.
    #[serde(rename = "bucketsSizes")]
    pub bucket_sizes: BTreeMap<String, u64>,
}

fn bucket(b: &BucketUsage) -> BucketUsageInfo {
    BucketUsageInfo {
        size: b.size,
        objects_count: b.objects,
        objects_sizes_histogram: b
            .histogram()
            .into_iter()
            .map(|(r, n)| (r.to_string(), n))
            .collect(),
        versions_count: b.objects,
        delete_markers_count: 0,
    }
}

/// MinIO's answer for `usage`.
pub fn info(usage: &DataUsage) -> DataUsageInfo {
    let last_update = usage
        .last_update_ms
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(
            || "0001-01-01T00:00:00Z".to_string(),
            |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        );
    DataUsageInfo {
        last_update,
        objects_count: usage.objects(),
        versions_count: usage.objects(),
        delete_markers_count: 0,
        objects_total_size: usage.size(),
        buckets_count: usage.buckets.len() as u64,
        buckets_usage: usage
            .buckets
            .iter()
            .map(|(n, b)| (n.clone(), bucket(b)))
            .collect(),
        bucket_sizes: usage
            .buckets
            .iter()
            .map(|(n, b)| (n.clone(), b.size))
            .collect(),
    }
}

/// The deployment's usage now.
pub async fn serve(svc: &AdminService) -> DataUsageInfo {
    info(&crate::heal::usage::load_current(&svc.objects).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minio_field_names_and_zero_time() {
        let mut usage = DataUsage::default();
        let v = serde_json::to_value(info(&usage)).unwrap();
        assert_eq!(v["lastUpdate"], "0001-01-01T00:00:00Z");
        let mut b = BucketUsage::default();
        b.add(2000);
        usage.buckets.insert("a".into(), b);
        usage.last_update_ms = Some(0);
        let v = serde_json::to_value(info(&usage)).unwrap();
        assert_eq!(v["lastUpdate"], "1970-01-01T00:00:00.000Z");
        assert_eq!(v["objectsCount"], 1);
        assert_eq!(v["objectsTotalSize"], 2000);
        assert_eq!(v["bucketsCount"], 1);
        assert_eq!(v["bucketsUsageInfo"]["a"]["size"], 2000);
        assert_eq!(
            v["bucketsUsageInfo"]["a"]["objectsSizesHistogram"]["BETWEEN_1024B_AND_1_MB"],
            1
        );
        assert_eq!(v["bucketsSizes"]["a"], 2000);
    }
}
