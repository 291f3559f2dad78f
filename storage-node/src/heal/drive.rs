//! Rebuild of a drive that carries a healing marker (`.cairn.sys/healing.json`).
//!
//! `cluster::format` writes the marker when it gives a wiped or replaced drive its format
//! back: the drive has its identity but none of its data. This module walks every
//! bucket of the drive's set on the *other* drives and heals every object (which writes
//! the drive's shards and metadata), then removes the marker.
//!
//! Progress (bucket and last key done, counts) is written into the marker under
//! `"progress"` every few seconds, next to the fields `cluster::format` reads (it
//! ignores unknown fields), so a restarted server resumes where it stopped instead of
//! starting over. Only drives of this server (`Drive::is_local`) are rebuilt here;
//! every server rebuilds its own.

use super::object::{self, HealMode};
use super::{DriveHealStatus, HealError, HealState, MAX_BATCHES, TaskState, walk::SetWalk};
use crate::cluster::format::{self, HEALING_FILE};
use crate::drive::DriveRef;
use crate::objects::set::ErasureSet;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How often progress is saved into the marker.
const SAVE_EVERY: Duration = Duration::from_secs(5);
/// Objects healed at the same time during a rebuild.
const PARALLEL: usize = 4;
/// Most keys counted for the progress estimate; beyond it the percentage is a guess.
const COUNT_LIMIT: u64 = 10_000_000;

/// The resumable part of the marker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Progress {
    /// Bucket being rebuilt; buckets sort by name and those before it are done.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Last key of `bucket` done.
    #[serde(default)]
    pub last_key: String,
    #[serde(default)]
    pub objects_done: u64,
    #[serde(default)]
    pub objects_healed: u64,
    #[serde(default)]
    pub objects_failed: u64,
    #[serde(default)]
    pub objects_total: u64,
}

/// The marker as JSON, to keep `cluster::format`'s fields untouched.
struct Marker {
    doc: serde_json::Map<String, serde_json::Value>,
    progress: Progress,
}

impl Marker {
    fn parse(bytes: &[u8]) -> Marker {
        let doc: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).unwrap_or_default();
        let progress = doc
            .get("progress")
            .and_then(|p| serde_json::from_value(p.clone()).ok())
            .unwrap_or_default();
        Marker { doc, progress }
    }

    fn encode(&mut self) -> Bytes {
        if let Ok(v) = serde_json::to_value(&self.progress) {
            self.doc.insert("progress".into(), v);
        }
        let mut out = serde_json::to_vec_pretty(&self.doc).unwrap_or_default();
        out.push(b'\n');
        Bytes::from(out)
    }

    fn started(&self) -> Option<String> {
        self.doc
            .get("started")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }
}

/// Looks for drives with a marker now and then every `drive_check_interval`, and
/// rebuilds them one after the other.
pub async fn monitor(state: Arc<HealState>) {
    // The daemon loop ends at shutdown; each round is bounded by the rebuilds it runs.
    loop {
        if state.is_shutting_down() {
            return;
        }
        reformat_replaced(&state).await;
        for (pool, set, pos, drive) in marked_drives(&state).await {
            if state.is_shutting_down() {
                return;
            }
            set_drive_status(&state, &drive, pool, set.index, pos, |_| {});
            state
                .objects
                .metrics
                .heal_drives_healing
                .fetch_add(1, Ordering::Relaxed);
            let r = rebuild(&state, pool, &set, pos).await;
            state
                .objects
                .metrics
                .heal_drives_healing
                .fetch_sub(1, Ordering::Relaxed);
            match r {
                Ok(()) => {
                    tracing::info!(drive = %drive.endpoint(), "drive rebuilt; healing marker removed");
                }
                Err(e) => {
                    tracing::warn!(drive = %drive.endpoint(), error = %e, "drive rebuild stopped; will resume");
                    set_drive_status(&state, &drive, pool, set.index, pos, |s| {
                        s.state = TaskState::Failed
                    });
                }
            }
        }
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(state.config.drive_check_interval) => {}
            _ = state.drive_trigger.notified() => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// The local directory of a drive of this server, from its endpoint: the path itself
/// standalone, the path part of `http(s)://host:port/path` in a distributed deployment.
fn local_root(drive: &DriveRef) -> Option<PathBuf> {
    let ep = drive.endpoint();
    let path = match ep.split_once("://") {
        Some((_, rest)) => rest.find('/').map(|i| rest[i..].to_string())?,
        None => ep,
    };
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// Gives a drive that was replaced by an empty directory while the server runs its
/// format back, with a healing marker, as start-up does (`cluster::format`); the
/// rebuild then picks it up. The format comes from another drive of the same pool, with
/// this position's drive id. Only an existing directory without a format is touched: a
/// missing or unreadable path stays offline.
async fn reformat_replaced(state: &HealState) {
    for pool in &state.objects.pools {
        for set in &pool.sets {
            for (pos, d) in set.drives.iter().enumerate() {
                if !d.is_local() || d.check().await.is_ok() {
                    continue;
                }
                let Some(root) = local_root(d) else {
                    continue;
                };
                let inspect = root.clone();
                let unformatted = tokio::task::spawn_blocking(move || {
                    format::inspect_drive(&inspect) == format::DriveFormatState::Unformatted
                })
                .await
                .unwrap_or(false);
                if !unformatted {
                    continue;
                }
                let Some(reference) = pool_format(pool).await else {
                    tracing::warn!(drive = %d.endpoint(), "replaced drive found, but no other drive's format to copy");
                    continue;
                };
                let Some(this) = reference
                    .sets
                    .get(set.index)
                    .and_then(|s| s.get(pos))
                    .copied()
                else {
                    continue;
                };
                let fmt = format::FormatFile { this, ..reference };
                let target = root.clone();
                let r = tokio::task::spawn_blocking(move || format::reformat(&target, &fmt)).await;
                match r {
                    Ok(Ok(())) => {
                        tracing::warn!(drive = %d.endpoint(), drive_id = %this, "drive was replaced by an empty directory: formatted it and marked it for healing")
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(drive = %d.endpoint(), error = %e, "cannot format replaced drive")
                    }
                    Err(e) => {
                        tracing::warn!(drive = %d.endpoint(), error = %e, "format task failed")
                    }
                }
            }
        }
    }
}

/// A valid format of some online drive of `pool`.
async fn pool_format(pool: &crate::objects::Pool) -> Option<format::FormatFile> {
    for set in &pool.sets {
        for d in &set.drives {
            if let Ok(b) = d.read_sys_file(format::FORMAT_FILE).await {
                if let Ok(f) = serde_json::from_slice::<format::FormatFile>(&b) {
                    if f.validate().is_ok() {
                        return Some(f);
                    }
                }
            }
        }
    }
    None
}

/// Local drives that carry a healing marker.
async fn marked_drives(state: &HealState) -> Vec<(usize, Arc<ErasureSet>, usize, DriveRef)> {
    let mut out = Vec::new();
    for (p, pool) in state.objects.pools.iter().enumerate() {
        for set in &pool.sets {
            for (pos, d) in set.drives.iter().enumerate() {
                if !d.is_local() {
                    continue;
                }
                if d.read_sys_file(HEALING_FILE).await.is_ok() {
                    out.push((p, set.clone(), pos, d.clone()));
                }
            }
        }
    }
    out
}

fn set_drive_status(
    state: &HealState,
    drive: &DriveRef,
    pool: usize,
    set: usize,
    position: usize,
    f: impl FnOnce(&mut DriveHealStatus),
) {
    let Ok(mut drives) = state.drives.lock() else {
        return;
    };
    let endpoint = drive.endpoint();
    let idx = match drives.iter().position(|d| d.endpoint == endpoint) {
        Some(i) => i,
        None => {
            drives.push(DriveHealStatus {
                endpoint,
                pool,
                set,
                position,
                state: TaskState::Queued,
                started: None,
                bucket: None,
                objects_done: 0,
                objects_healed: 0,
                objects_failed: 0,
                objects_total: 0,
                percent: 0.0,
            });
            drives.len() - 1
        }
    };
    f(&mut drives[idx]);
}

fn percent(p: &Progress) -> f64 {
    if p.objects_total == 0 {
        return 0.0;
    }
    (p.objects_done as f64 * 100.0 / p.objects_total as f64).min(99.9)
}

/// Rebuilds drive `pos` of `set`; removes the marker when every bucket was walked.
pub async fn rebuild(
    state: &HealState,
    pool: usize,
    set: &ErasureSet,
    pos: usize,
) -> Result<(), HealError> {
    let drive = set.drives[pos].clone();
    let raw = drive.read_sys_file(HEALING_FILE).await?;
    let mut marker = Marker::parse(&raw);
    tracing::info!(drive = %drive.endpoint(), resume = ?marker.progress.bucket, "rebuilding drive");
    super::heal_buckets(&state.objects).await?;
    let mut buckets = super::bucket_names(&state.objects).await?;
    buckets.sort();
    if marker.progress.objects_total == 0 {
        marker.progress.objects_total = count_objects(set, &buckets, pos).await;
    }
    let started = marker.started();
    let show = |m: &Marker, st: TaskState| {
        let p = m.progress.clone();
        set_drive_status(state, &drive, pool, set.index, pos, |s| {
            s.state = st;
            s.started = started.clone();
            s.bucket = p.bucket.clone();
            s.objects_done = p.objects_done;
            s.objects_healed = p.objects_healed;
            s.objects_failed = p.objects_failed;
            s.objects_total = p.objects_total;
            s.percent = if st == TaskState::Done {
                100.0
            } else {
                percent(&p)
            };
        });
    };
    show(&marker, TaskState::Running);
    let mut last_save = Instant::now();
    for bucket in &buckets {
        if marker.progress.bucket.as_ref().is_some_and(|b| b > bucket) {
            continue; // done before a restart
        }
        let resume = if marker.progress.bucket.as_ref() == Some(bucket) {
            marker.progress.last_key.clone()
        } else {
            String::new()
        };
        marker.progress.bucket = Some(bucket.clone());
        marker.progress.last_key = resume.clone();
        let mut walk = SetWalk::new(set, bucket, "", &resume).skipping(&[pos]);
        for _ in 0..MAX_BATCHES {
            let keys = walk.next_batch().await?;
            if keys.is_empty() {
                break;
            }
            // A few objects at a time: one object's heal is a chain of round trips
            // (read k shards, encode, write one), which leaves the drives idle; results
            // come back in key order, so the saved position stays exact.
            let heals = futures::stream::iter(keys.into_iter().map(|key| async move {
                let r = object::heal_object(set, bucket, &key, HealMode::Normal).await;
                (key, r)
            }))
            .buffered(PARALLEL);
            let mut heals = std::pin::pin!(heals);
            while let Some((key, r)) = heals.next().await {
                if state.is_shutting_down() {
                    save(&drive, &mut marker).await;
                    return Err(HealError::Shutdown);
                }
                state.record(&r);
                let p = &mut marker.progress;
                p.objects_done += 1;
                match &r {
                    Ok(r) if r.changed() => p.objects_healed += 1,
                    Ok(_) => {}
                    Err(e) => {
                        p.objects_failed += 1;
                        tracing::warn!(%bucket, %key, error = %e, "object not rebuilt");
                    }
                }
                p.last_key = key;
                if last_save.elapsed() >= SAVE_EVERY {
                    last_save = Instant::now();
                    // A drive that went away stops the rebuild; it resumes later.
                    drive.check().await?;
                    save(&drive, &mut marker).await;
                    show(&marker, TaskState::Running);
                }
            }
            show(&marker, TaskState::Running);
        }
    }
    drive.check().await?;
    drive.delete_sys_path(HEALING_FILE).await?;
    show(&marker, TaskState::Done);
    let p = &marker.progress;
    tracing::info!(
        drive = %drive.endpoint(),
        objects = p.objects_done,
        healed = p.objects_healed,
        failed = p.objects_failed,
        "drive rebuild complete"
    );
    Ok(())
}

async fn save(drive: &DriveRef, marker: &mut Marker) {
    if let Err(e) = drive.write_sys_file(HEALING_FILE, marker.encode()).await {
        tracing::warn!(drive = %drive.endpoint(), error = %e, "cannot save rebuild progress");
    }
}

/// Keys of the set in `buckets`, counted on the other drives (for the percentage).
async fn count_objects(set: &ErasureSet, buckets: &[String], skip: usize) -> u64 {
    let mut n = 0u64;
    for b in buckets {
        let mut walk = SetWalk::new(set, b, "", "").skipping(&[skip]);
        for _ in 0..MAX_BATCHES {
            match walk.next_batch().await {
                Ok(keys) if !keys.is_empty() => n += keys.len() as u64,
                _ => break,
            }
            if n >= COUNT_LIMIT {
                return n;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_keeps_format_fields_and_round_trips_progress() {
        let raw = br#"{"started":"2026-01-01T00:00:00Z","deployment_id":"5c1c8f0e-0000-4000-8000-000000000000","drive_id":"9b2d0000-0000-4000-8000-000000000000"}"#;
        let mut m = Marker::parse(raw);
        assert_eq!(m.progress, Progress::default());
        m.progress.bucket = Some("b".into());
        m.progress.last_key = "k/1".into();
        m.progress.objects_done = 7;
        let out = m.encode();
        let back = Marker::parse(&out);
        assert_eq!(back.progress, m.progress);
        assert_eq!(back.started().as_deref(), Some("2026-01-01T00:00:00Z"));
        // cluster::format still reads it.
        let parsed: crate::cluster::format::HealingMarker =
            serde_json::from_slice(&out).expect("format reads the marker");
        assert_eq!(parsed.started, "2026-01-01T00:00:00Z");
    }
}
