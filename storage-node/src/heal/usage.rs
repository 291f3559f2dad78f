//! Data-usage accounting, as MinIO's data scanner keeps its usage cache: per bucket the
//! number of objects, their total size and MinIO's object-size histogram.
//!
//! 1. The scanner ([`super::scanner`]) walks one erasure set at a time and, for every
//!    object it heals, adds the size of the quorum version to a [`SetUsage`]
//!    ([`SetUsage::add`]); every bucket a quorum knows gets an entry, empty or not.
//! 2. When the walk of a set over every bucket is complete, the set's usage is written
//!    (JSON, [`USAGE_PATH`] in the system volume) to every drive of that set, with the
//!    time of completion ([`save`]). An incomplete walk (set unreachable, shutdown)
//!    writes nothing, so the file always describes one complete pass.
//! 3. Any server reads the usage of the whole deployment ([`load`]): each set's file
//!    from whichever of its drives answers first with the newest copy (local or over the
//!    peer RPC, 2 s per drive), summed over sets. `last_update` is the oldest set's scan,
//!    so it says how old the least fresh figure is; buckets that no longer exist are
//!    left out.
//!
//! Why per set: in a cluster each set is scanned by one server (the holder of its first
//! online drive), so no server sees every object; a file on the set's own drives is
//! written by whoever scanned it and read by everyone.

use crate::objects::ObjectLayer;
use crate::objects::set::ErasureSet;
use bytes::Bytes;
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Where a set's usage lives, in the system volume of each of its drives (MinIO keeps
/// its cache at `.minio.sys/buckets/.usage.json`; `buckets/` here holds bucket records).
pub const USAGE_PATH: &str = "usage/data-usage.json";

/// Deadline of one drive's answer when loading.
const READ_TIMEOUT: Duration = Duration::from_secs(2);

const KIB: u64 = 1024;
const MIB: u64 = 1024 * 1024;

/// MinIO's object-size intervals (`ObjectsHistogramIntervals`, cmd/object-api-datatypes.go):
/// name, first and last size in bytes, inclusive. `BETWEEN_1024B_AND_1_MB` overlaps the
/// four intervals before it: MinIO counts an object in the first interval that holds its
/// size and reports that one as their sum (`sizeHistogram.toMap`).
pub const SIZE_RANGES: [(&str, u64, u64); 11] = [
    ("LESS_THAN_1024_B", 0, KIB - 1),
    ("BETWEEN_1024_B_AND_64_KB", KIB, 64 * KIB - 1),
    ("BETWEEN_64_KB_AND_256_KB", 64 * KIB, 256 * KIB - 1),
    ("BETWEEN_256_KB_AND_512_KB", 256 * KIB, 512 * KIB - 1),
    ("BETWEEN_512_KB_AND_1_MB", 512 * KIB, MIB - 1),
    ("BETWEEN_1024B_AND_1_MB", KIB, MIB - 1),
    ("BETWEEN_1_MB_AND_10_MB", MIB, 10 * MIB - 1),
    ("BETWEEN_10_MB_AND_64_MB", 10 * MIB, 64 * MIB - 1),
    ("BETWEEN_64_MB_AND_128_MB", 64 * MIB, 128 * MIB - 1),
    ("BETWEEN_128_MB_AND_512_MB", 128 * MIB, 512 * MIB - 1),
    ("GREATER_THAN_512_MB", 512 * MIB, u64::MAX),
];

/// Index of the summed interval in [`SIZE_RANGES`].
const SUMMED: usize = 5;

/// The usage of one bucket (in one set, or summed).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketUsage {
    pub objects: u64,
    pub size: u64,
    /// Objects per interval of [`SIZE_RANGES`] where each object is counted once (the
    /// summed interval stays 0 here; [`BucketUsage::histogram`] fills it).
    pub counts: Vec<u64>,
}

impl BucketUsage {
    /// Counts one object of `size` bytes.
    pub fn add(&mut self, size: u64) {
        self.objects += 1;
        self.size = self.size.saturating_add(size);
        self.counts.resize(SIZE_RANGES.len(), 0);
        if let Some(i) = SIZE_RANGES
            .iter()
            .position(|(_, lo, hi)| (*lo..=*hi).contains(&size))
        {
            self.counts[i] += 1;
        }
    }

    fn merge(&mut self, other: &BucketUsage) {
        self.objects += other.objects;
        self.size = self.size.saturating_add(other.size);
        self.counts.resize(SIZE_RANGES.len(), 0);
        for (i, c) in other.counts.iter().take(SIZE_RANGES.len()).enumerate() {
            self.counts[i] += c;
        }
    }

    /// Every interval's name and count, in MinIO's order, as MinIO reports them.
    pub fn histogram(&self) -> Vec<(&'static str, u64)> {
        let count = |i: usize| self.counts.get(i).copied().unwrap_or(0);
        SIZE_RANGES
            .iter()
            .enumerate()
            .map(|(i, (name, _, _))| {
                let n = if i == SUMMED {
                    (1..SUMMED).map(count).sum()
                } else {
                    count(i)
                };
                (*name, n)
            })
            .collect()
    }
}

/// One set's usage after one complete scan.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SetUsage {
    /// When the scan of the set completed, milliseconds since the Unix epoch.
    pub last_update_ms: i64,
    pub buckets: BTreeMap<String, BucketUsage>,
}

impl SetUsage {
    /// Makes `bucket` known (with no objects yet).
    pub fn bucket(&mut self, bucket: &str) {
        self.buckets.entry(bucket.to_string()).or_default();
    }

    /// Counts one object of `bucket`.
    pub fn add(&mut self, bucket: &str, size: u64) {
        self.buckets
            .entry(bucket.to_string())
            .or_default()
            .add(size);
    }
}

/// The usage of the deployment: what MinIO's `DataUsageInfo` holds.
#[derive(Debug, Clone, Default)]
pub struct DataUsage {
    /// The oldest completed set scan that went into these figures (milliseconds since
    /// the Unix epoch); `None` before any set was scanned.
    pub last_update_ms: Option<i64>,
    pub buckets: BTreeMap<String, BucketUsage>,
    /// Sets whose usage was read, and all sets.
    pub sets_scanned: usize,
    pub sets_total: usize,
}

impl DataUsage {
    pub fn objects(&self) -> u64 {
        self.buckets.values().map(|b| b.objects).sum()
    }

    pub fn size(&self) -> u64 {
        self.buckets.values().map(|b| b.size).sum()
    }

    /// The histogram summed over buckets.
    pub fn histogram(&self) -> Vec<(&'static str, u64)> {
        let mut all = BucketUsage::default();
        for b in self.buckets.values() {
            all.merge(b);
        }
        all.histogram()
    }
}

/// Writes `usage` of `set` to every drive of the set that answers; true when one did.
pub async fn save(set: &ErasureSet, usage: &SetUsage) -> bool {
    let body = match serde_json::to_vec(usage) {
        Ok(b) => Bytes::from(b),
        Err(e) => {
            tracing::warn!(error = %e, "cannot encode the data usage");
            return false;
        }
    };
    let writes =
        join_all(set.drives.iter().map(|d| {
            tokio::time::timeout(READ_TIMEOUT, d.write_sys_file(USAGE_PATH, body.clone()))
        }))
        .await;
    writes.iter().any(|w| matches!(w, Ok(Ok(()))))
}

/// The newest usage file among `set`'s drives, if one answers with one.
async fn load_set(set: &ErasureSet) -> Option<SetUsage> {
    let reads = join_all(
        set.drives
            .iter()
            .map(|d| tokio::time::timeout(READ_TIMEOUT, d.read_sys_file(USAGE_PATH))),
    )
    .await;
    reads
        .into_iter()
        .filter_map(|r| r.ok()?.ok())
        .filter_map(|b| serde_json::from_slice::<SetUsage>(&b).ok())
        .max_by_key(|u| u.last_update_ms)
}

/// The deployment's usage from every set's last complete scan, limited to `existing`
/// buckets (every bucket a scan saw when `None`).
pub async fn load(objects: &ObjectLayer, existing: Option<&BTreeSet<String>>) -> DataUsage {
    let sets: Vec<_> = objects.sets().collect();
    let found = join_all(sets.iter().map(|s| load_set(s))).await;
    let mut usage = DataUsage {
        sets_total: sets.len(),
        ..Default::default()
    };
    for set in found.into_iter().flatten() {
        usage.sets_scanned += 1;
        usage.last_update_ms = Some(
            usage
                .last_update_ms
                .map_or(set.last_update_ms, |t| t.min(set.last_update_ms)),
        );
        for (name, b) in &set.buckets {
            if existing.is_some_and(|e| !e.contains(name)) {
                continue;
            }
            usage.buckets.entry(name.clone()).or_default().merge(b);
        }
    }
    usage
}

/// [`load`] limited to the buckets a quorum knows now (all scanned ones if the bucket
/// list cannot be read).
pub async fn load_current(objects: &ObjectLayer) -> DataUsage {
    match objects.list_buckets().await {
        Ok(list) => {
            let names: BTreeSet<String> = list.into_iter().map(|b| b.name).collect();
            load(objects, Some(&names)).await
        }
        Err(e) => {
            tracing::debug!(error = %e, "data usage: cannot list buckets");
            load(objects, None).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fall_in_minio_intervals() {
        let mut b = BucketUsage::default();
        for size in [
            0,
            1023,
            1024,
            64 * KIB,
            300 * KIB,
            MIB - 1,
            MIB,
            10 * MIB,
            64 * MIB,
            128 * MIB,
            512 * MIB,
        ] {
            b.add(size);
        }
        let h: BTreeMap<_, _> = b.histogram().into_iter().collect();
        assert_eq!(h["LESS_THAN_1024_B"], 2);
        assert_eq!(h["BETWEEN_1024_B_AND_64_KB"], 1);
        assert_eq!(h["BETWEEN_64_KB_AND_256_KB"], 1);
        assert_eq!(h["BETWEEN_256_KB_AND_512_KB"], 1);
        assert_eq!(h["BETWEEN_512_KB_AND_1_MB"], 1);
        // The sum of the four above, as MinIO reports it.
        assert_eq!(h["BETWEEN_1024B_AND_1_MB"], 4);
        assert_eq!(h["BETWEEN_1_MB_AND_10_MB"], 1);
        assert_eq!(h["BETWEEN_10_MB_AND_64_MB"], 1);
        assert_eq!(h["BETWEEN_64_MB_AND_128_MB"], 1);
        assert_eq!(h["BETWEEN_128_MB_AND_512_MB"], 1);
        assert_eq!(h["GREATER_THAN_512_MB"], 1);
        assert_eq!(b.objects, 11);
        assert_eq!(h.len(), 11);
    }

    #[test]
    fn sets_merge_and_files_round_trip() {
        let mut a = SetUsage::default();
        a.bucket("empty");
        a.add("b", 10);
        let json = serde_json::to_vec(&a).unwrap();
        let back: SetUsage = serde_json::from_slice(&json).unwrap();
        let mut sum = BucketUsage::default();
        sum.merge(&back.buckets["b"]);
        sum.merge(&back.buckets["b"]);
        assert_eq!((sum.objects, sum.size), (2, 20));
        assert_eq!(back.buckets["empty"], BucketUsage::default());
        assert_eq!(sum.histogram()[0], ("LESS_THAN_1024_B", 2));
    }
}
