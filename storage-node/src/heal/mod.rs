//! Layer 8: healing. Brings every drive of every erasure set back to holding what it
//! should: the quorum version of every object, with good shards, and every bucket.
//!
//! Four ways in, one repair routine ([`object::heal_object`]):
//!
//! * **Repair on read / partial writes (MRF).** The object layer pushes a key onto
//!   [`mrf::MrfQueue`] when a PUT, DELETE or CompleteMultipartUpload succeeded with quorum
//!   but missed a drive, or a GET rebuilt blocks from parity or found a drive without the
//!   current version. A worker heals queued keys at once and retries (with backoff, and
//!   at once when the drive answers again) while a drive is offline.
//! * **Scanner** ([`scanner`]): walks every bucket of every set forever, verifying every
//!   shard block's checksum (deep mode) at a bounded rate (`CAIRN_SCANNER_SPEED`), with
//!   a pause between cycles (`CAIRN_SCANNER_CYCLE`; `CAIRN_SCANNER=off` disables it). In a
//!   cluster each set is scanned by the server holding its first online drive. The same
//!   walk accounts data usage per bucket ([`usage`]), saved on each set's drives.
//! * **Drive rebuild** ([`drive`]): a drive of this server with a healing marker
//!   (`.cairn.sys/healing.json`, written by `cluster::format` when a wiped or replaced
//!   drive was re-formatted) is rebuilt by walking every bucket of its set on the other
//!   drives; progress is saved in the marker, so a restart resumes; the marker is removed
//!   at the end.
//! * **Admin heal**: [`HealState::start_heal`] heals everything, a bucket or a prefix now.
//!
//! Beside healing, the background removes stale multipart uploads
//! ([`stale_uploads`]: `API_STALE_UPLOADS_EXPIRY`, `API_STALE_UPLOADS_CLEANUP_INTERVAL`).
//!
//! # API for the admin endpoint
//!
//! [`HealState`] is created and started by `server::start` and kept in
//! `server::Running::heal`:
//!
//! * [`HealState::start_heal`]`(HealRequest { bucket, prefix, deep })` starts a heal
//!   task in the background and returns its id; only one admin task runs at a time
//!   ([`HealError::Busy`] otherwise; the running task's status is in `status().task`).
//! * [`HealState::status`] returns a [`HealStatus`] (serde-serialisable, snake_case
//!   JSON): totals (objects scanned, healed, failed), the MRF queue, the scanner, every
//!   drive being rebuilt with its percentage, and the latest admin task.
//! * [`HealState::heal_object_now`] heals one key synchronously.
//! * [`HealState::scan_now`] starts a scanner cycle without waiting for the pause.
//! * [`HealState::check_drives_now`] looks for replaced drives and markers now.
//!
//! The same totals are Prometheus metrics (`front::metrics`): `cairn_heal_objects_*`,
//! `cairn_heal_drives_healing`, and MinIO's `minio_heal_objects_*` names.

pub mod drive;
pub mod mrf;
pub mod object;
pub mod scanner;
pub mod stale_uploads;
pub mod usage;
pub mod walk;

use crate::drive::DriveError;
use crate::erasure::read::ReadError;
use crate::objects::set::ErasureSet;
use crate::objects::{ObjectError, ObjectLayer, bucket};
use futures::future::join_all;
use object::{HealMode, ObjectHealResult};
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Debug, thiserror::Error)]
pub enum HealError {
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("reading the healthy shards failed: {0}")]
    Read(#[from] ReadError),
    #[error("only {good} drives hold good shards, {need} are needed to rebuild the others")]
    TooFewShards { good: usize, need: usize },
    #[error("drive: {0}")]
    Drive(#[from] DriveError),
    #[error("{0}")]
    Invalid(String),
    #[error("a heal is already running (task {0})")]
    Busy(u64),
    #[error("the server is shutting down")]
    Shutdown,
}

impl HealError {
    /// True when the heal may succeed later because drives were unreachable.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            HealError::TooFewShards { .. }
                | HealError::Read(_)
                | HealError::Drive(_)
                | HealError::Object(ObjectError::ReadQuorum { .. })
                | HealError::Object(ObjectError::LockTimeout(_))
        )
    }
}

/// Scanner pace presets, named like MinIO's `MINIO_SCANNER_SPEED`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ScannerSpeed {
    /// Objects per second; 0 means no limit.
    pub objects_per_sec: f64,
    /// Shard bytes read per second for verification; 0 means no limit.
    pub bytes_per_sec: u64,
}

impl ScannerSpeed {
    /// `fastest`, `fast`, `default`, `slow`, `slowest`, or a number of objects per
    /// second (with the default byte budget).
    pub fn parse(s: &str) -> Option<ScannerSpeed> {
        let mib = 1u64 << 20;
        let (o, b) = match s.trim().to_ascii_lowercase().as_str() {
            "fastest" => (0.0, 0),
            "fast" => (1000.0, 512 * mib),
            "default" | "" => (100.0, 64 * mib),
            "slow" => (20.0, 16 * mib),
            "slowest" => (5.0, 4 * mib),
            n => {
                let v: f64 = n.parse().ok()?;
                if !v.is_finite() || v < 0.0 {
                    return None;
                }
                (v, 64 * mib)
            }
        };
        Some(ScannerSpeed {
            objects_per_sec: o,
            bytes_per_sec: b,
        })
    }
}

/// Settings of the background tasks.
#[derive(Debug, Clone)]
pub struct HealConfig {
    pub scanner_enabled: bool,
    pub scanner_speed: ScannerSpeed,
    /// Pause between scanner cycles, and before the first one: a server that just
    /// started has better things to do than re-reading every shard.
    pub scanner_cycle: Duration,
    /// Pause before the first cycle after start-up: short, so that the data usage
    /// ([`usage`]) is known soon after a start.
    pub scanner_start_delay: Duration,
    /// How often drives are checked for a healing marker.
    pub drive_check_interval: Duration,
    /// Multipart uploads initiated longer ago are removed (MinIO's
    /// `api.stale_uploads_expiry`).
    pub stale_uploads_expiry: Duration,
    /// How often stale uploads are looked for (MinIO's
    /// `api.stale_uploads_cleanup_interval`).
    pub stale_uploads_cleanup_interval: Duration,
}

impl Default for HealConfig {
    fn default() -> Self {
        Self {
            scanner_enabled: true,
            scanner_speed: ScannerSpeed {
                objects_per_sec: 100.0,
                bytes_per_sec: 64 << 20,
            },
            scanner_cycle: Duration::from_secs(60),
            scanner_start_delay: Duration::from_secs(10),
            drive_check_interval: Duration::from_secs(10),
            stale_uploads_expiry: Duration::from_secs(24 * 3600),
            stale_uploads_cleanup_interval: Duration::from_secs(6 * 3600),
        }
    }
}

impl HealConfig {
    /// Builds the settings from `setting`, which answers a name without its prefix
    /// (`SCANNER_CYCLE`) from the server's one configuration path (`config::Env`: flag,
    /// `CAIRN_*`, `MINIO_*`, then the configuration file). Read: `SCANNER_SPEED` (preset
    /// or objects/s), `SCANNER_CYCLE` (alias `SCANNER_INTERVAL`), `SCANNER_START_DELAY`
    /// (pause before the first cycle; a testing aid), `SCANNER` (`off` disables), `API_STALE_UPLOADS_EXPIRY` and `API_STALE_UPLOADS_CLEANUP_INTERVAL`.
    /// Durations are seconds or Go-style (`90s`, `5m`, `24h`, `1h30m`, `500ms`), as
    /// MinIO reads them; zero is refused for the two upload settings. Bad values are
    /// logged and ignored.
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> Self {
        let mut cfg = HealConfig::default();
        if let Some(v) = setting("SCANNER_SPEED") {
            match ScannerSpeed::parse(&v) {
                Some(s) => cfg.scanner_speed = s,
                None => tracing::warn!(value = %v, "ignoring bad CAIRN_SCANNER_SPEED"),
            }
        }
        if let Some(v) = setting("SCANNER_CYCLE").or_else(|| setting("SCANNER_INTERVAL")) {
            match crate::duration::parse(&v) {
                Some(d) => cfg.scanner_cycle = d,
                None => tracing::warn!(value = %v, "ignoring bad CAIRN_SCANNER_CYCLE"),
            }
        }
        // A testing aid as much as a setting: tests and the e2e tenants set it to a
        // second so that the data usage is there before they look.
        if let Some(v) = setting("SCANNER_START_DELAY") {
            match crate::duration::parse(&v) {
                Some(d) => cfg.scanner_start_delay = d,
                None => tracing::warn!(value = %v, "ignoring bad CAIRN_SCANNER_START_DELAY"),
            }
        }
        if let Some(v) = setting("SCANNER") {
            cfg.scanner_enabled = !matches!(v.trim(), "off" | "0" | "false" | "disable");
        }
        for (name, field) in [
            ("API_STALE_UPLOADS_EXPIRY", &mut cfg.stale_uploads_expiry),
            (
                "API_STALE_UPLOADS_CLEANUP_INTERVAL",
                &mut cfg.stale_uploads_cleanup_interval,
            ),
        ] {
            if let Some(v) = setting(name) {
                match crate::duration::parse(&v).filter(|d| !d.is_zero()) {
                    Some(d) => *field = d,
                    None => tracing::warn!(value = %v, "ignoring bad CAIRN_{name}"),
                }
            }
        }
        cfg
    }
}

/// What to heal now (admin).
#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct HealRequest {
    /// One bucket, or every bucket when `None`.
    #[serde(default)]
    pub bucket: Option<String>,
    /// Only keys under this prefix (with a bucket).
    #[serde(default)]
    pub prefix: String,
    /// Verify every shard block, not just presence and the last block.
    #[serde(default)]
    pub deep: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    Queued,
    Running,
    Done,
    Failed,
}

/// Progress of an admin heal task.
#[derive(Debug, Clone, Serialize)]
pub struct HealTaskStatus {
    pub id: u64,
    pub request: HealRequest,
    pub state: TaskState,
    pub started: String,
    pub finished: Option<String>,
    pub objects_scanned: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    pub buckets_healed: u64,
    pub error: Option<String>,
}

/// Progress of one drive rebuild.
#[derive(Debug, Clone, Serialize)]
pub struct DriveHealStatus {
    pub endpoint: String,
    pub pool: usize,
    pub set: usize,
    /// Position of the drive in its set.
    pub position: usize,
    pub state: TaskState,
    /// When the drive was re-formatted (from the marker).
    pub started: Option<String>,
    pub bucket: Option<String>,
    pub objects_done: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    /// Objects in the set when the rebuild started (counted on the other drives).
    pub objects_total: u64,
    pub percent: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MrfStatus {
    pub queued: usize,
    /// Entries waiting for an offline drive.
    pub waiting: usize,
    pub added: u64,
    pub dropped: u64,
    pub abandoned: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ScannerStatus {
    pub enabled: bool,
    pub objects_per_sec: f64,
    pub bytes_per_sec: u64,
    pub cycle_pause_secs: u64,
    pub running: bool,
    pub cycles_completed: u64,
    pub cycle_started: Option<String>,
    pub last_cycle_finished: Option<String>,
    pub objects_scanned_this_cycle: u64,
}

/// Everything the admin API shows about healing.
#[derive(Debug, Clone, Serialize)]
pub struct HealStatus {
    pub objects_scanned: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    pub drives_healing: u64,
    pub mrf: MrfStatus,
    pub scanner: ScannerStatus,
    pub drives: Vec<DriveHealStatus>,
    pub task: Option<HealTaskStatus>,
}

/// The heal layer of one server: configuration, progress and the handle to start work.
pub struct HealState {
    pub objects: Arc<ObjectLayer>,
    pub config: HealConfig,
    shutdown: watch::Receiver<bool>,
    scanner: Mutex<ScannerStatus>,
    scan_trigger: tokio::sync::Notify,
    drive_trigger: tokio::sync::Notify,
    drives: Mutex<Vec<DriveHealStatus>>,
    task: Mutex<Option<HealTaskStatus>>,
    next_task: AtomicU64,
}

impl std::fmt::Debug for HealState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealState")
            .field("config", &self.config)
            .finish()
    }
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339()
}

impl HealState {
    /// Creates the state without starting anything (tests drive it by hand).
    pub fn new(
        objects: Arc<ObjectLayer>,
        config: HealConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let scanner = ScannerStatus {
            enabled: config.scanner_enabled,
            objects_per_sec: config.scanner_speed.objects_per_sec,
            bytes_per_sec: config.scanner_speed.bytes_per_sec,
            cycle_pause_secs: config.scanner_cycle.as_secs(),
            ..Default::default()
        };
        Arc::new(Self {
            objects,
            config,
            shutdown,
            scanner: Mutex::new(scanner),
            scan_trigger: tokio::sync::Notify::new(),
            drive_trigger: tokio::sync::Notify::new(),
            drives: Mutex::new(Vec::new()),
            task: Mutex::new(None),
            next_task: AtomicU64::new(1),
        })
    }

    /// Creates the state and spawns the MRF worker, the drive monitor and (if enabled)
    /// the scanner. They stop when `shutdown` turns true.
    pub fn start(
        objects: Arc<ObjectLayer>,
        config: HealConfig,
        shutdown: watch::Receiver<bool>,
    ) -> Arc<Self> {
        let state = Self::new(objects, config, shutdown);
        tokio::spawn(mrf_worker(state.clone()));
        tokio::spawn(drive::monitor(state.clone()));
        if state.config.scanner_enabled {
            tokio::spawn(scanner::run(state.clone()));
        }
        tokio::spawn(stale_uploads::run(state.clone()));
        state
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Sleeps for `d` unless shutdown comes first; returns false on shutdown.
    pub(crate) async fn sleep(&self, d: Duration) -> bool {
        let mut rx = self.shutdown.clone();
        if *rx.borrow() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => true,
            _ = rx.changed() => !*rx.borrow(),
        }
    }

    /// Counts one heal in the metrics.
    pub(crate) fn record(&self, r: &Result<ObjectHealResult, HealError>) {
        let m = &self.objects.metrics;
        m.heal_objects_scanned.fetch_add(1, Ordering::Relaxed);
        match r {
            Ok(r) if r.changed() => {
                m.heal_objects_healed.fetch_add(1, Ordering::Relaxed);
            }
            Ok(_) => {}
            Err(_) => {
                m.heal_objects_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Heals `bucket/key` in the set of every pool that may hold it, and counts it.
    pub async fn heal_object_now(
        &self,
        bucket: &str,
        key: &str,
        mode: HealMode,
    ) -> Result<ObjectHealResult, HealError> {
        let mut total = ObjectHealResult::default();
        for pool in &self.objects.pools {
            let set = pool.set_for(key);
            let r = object::heal_object(set, bucket, key, mode).await;
            self.record(&r);
            let r = r?;
            total.exists |= r.exists;
            total.drives_healed += r.drives_healed;
            total.drives_offline += r.drives_offline;
            total.dangling_removed += r.dangling_removed;
            total.bytes_read += r.bytes_read;
            if r.exists {
                total.size = r.size;
            }
        }
        Ok(total)
    }

    /// Sweeps stale multipart uploads now (the sets this server is responsible for)
    /// instead of at the next cleanup interval; returns what was removed.
    pub async fn expire_stale_uploads_now(&self) -> crate::objects::multipart::SweepReport {
        stale_uploads::sweep(self).await
    }

    /// Starts a scanner cycle now instead of after the pause.
    pub fn scan_now(&self) {
        self.scan_trigger.notify_one();
    }

    /// Looks for replaced (empty) drives and healing markers now instead of at the next
    /// `drive_check_interval`.
    pub fn check_drives_now(&self) {
        self.drive_trigger.notify_one();
    }

    /// Starts an admin heal in the background; returns its task id.
    pub fn start_heal(self: &Arc<Self>, req: HealRequest) -> Result<u64, HealError> {
        if self.is_shutting_down() {
            return Err(HealError::Shutdown);
        }
        if let Some(b) = &req.bucket {
            bucket::validate_bucket_name(b)?;
        }
        let id = {
            let mut task = self
                .task
                .lock()
                .map_err(|_| HealError::Invalid("heal task state poisoned".into()))?;
            if let Some(t) = task.as_ref().filter(|t| t.state == TaskState::Running) {
                return Err(HealError::Busy(t.id));
            }
            let id = self.next_task.fetch_add(1, Ordering::Relaxed);
            *task = Some(HealTaskStatus {
                id,
                request: req.clone(),
                state: TaskState::Running,
                started: now_rfc3339(),
                finished: None,
                objects_scanned: 0,
                objects_healed: 0,
                objects_failed: 0,
                buckets_healed: 0,
                error: None,
            });
            id
        };
        let state = self.clone();
        tokio::spawn(async move {
            let result = state.run_task(id, &req).await;
            state.update_task(id, |t| {
                t.finished = Some(now_rfc3339());
                match &result {
                    Ok(()) => t.state = TaskState::Done,
                    Err(e) => {
                        t.state = TaskState::Failed;
                        t.error = Some(e.to_string());
                    }
                }
            });
            match result {
                Ok(()) => tracing::info!(task = id, "admin heal finished"),
                Err(e) => tracing::warn!(task = id, error = %e, "admin heal failed"),
            }
        });
        Ok(id)
    }

    fn update_task(&self, id: u64, f: impl FnOnce(&mut HealTaskStatus)) {
        if let Ok(mut t) = self.task.lock() {
            if let Some(t) = t.as_mut().filter(|t| t.id == id) {
                f(t);
            }
        }
    }

    async fn run_task(&self, id: u64, req: &HealRequest) -> Result<(), HealError> {
        let healed_buckets = heal_buckets(&self.objects).await?;
        self.update_task(id, |t| t.buckets_healed = healed_buckets);
        let buckets = match &req.bucket {
            Some(b) => {
                self.objects.bucket_meta(b).await?;
                vec![b.clone()]
            }
            None => bucket_names(&self.objects).await?,
        };
        let mode = if req.deep {
            HealMode::Deep
        } else {
            HealMode::Normal
        };
        for b in &buckets {
            for set in self.objects.sets() {
                let mut walk = walk::SetWalk::new(set, b, &req.prefix, "");
                for _ in 0..MAX_BATCHES {
                    let keys = walk.next_batch().await?;
                    if keys.is_empty() {
                        break;
                    }
                    for key in keys {
                        if self.is_shutting_down() {
                            return Err(HealError::Shutdown);
                        }
                        let r = object::heal_object(set, b, &key, mode).await;
                        self.record(&r);
                        self.update_task(id, |t| {
                            t.objects_scanned += 1;
                            match &r {
                                Ok(r) if r.changed() => t.objects_healed += 1,
                                Ok(_) => {}
                                Err(_) => t.objects_failed += 1,
                            }
                        });
                        if let Err(e) = r {
                            tracing::warn!(bucket = %b, %key, error = %e, "heal failed");
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The heal layer's progress, for the admin API.
    pub fn status(&self) -> HealStatus {
        let m = &self.objects.metrics;
        let q = &self.objects.mrf;
        HealStatus {
            objects_scanned: m.heal_objects_scanned.load(Ordering::Relaxed),
            objects_healed: m.heal_objects_healed.load(Ordering::Relaxed),
            objects_failed: m.heal_objects_failed.load(Ordering::Relaxed),
            drives_healing: m.heal_drives_healing.load(Ordering::Relaxed),
            mrf: MrfStatus {
                queued: q.len(),
                waiting: q.waiting(),
                added: q.added.load(Ordering::Relaxed),
                dropped: q.dropped.load(Ordering::Relaxed),
                abandoned: q.abandoned.load(Ordering::Relaxed),
            },
            scanner: self.scanner.lock().map(|s| s.clone()).unwrap_or_default(),
            drives: self.drives.lock().map(|d| d.clone()).unwrap_or_default(),
            task: self.task.lock().ok().and_then(|t| t.clone()),
        }
    }
}

/// Upper bound of walk batches of one bucket in one set (1000 keys each): a bound
/// for the loop far above any real bucket.
pub(crate) const MAX_BATCHES: usize = 10_000_000;

/// Names of the buckets a quorum knows.
pub(crate) async fn bucket_names(objects: &ObjectLayer) -> Result<Vec<String>, HealError> {
    Ok(objects
        .list_buckets()
        .await?
        .into_iter()
        .map(|b| b.name)
        .collect())
}

/// Gives every drive of every set every bucket a quorum knows: the directory and the
/// bucket record. Returns how many drives were fixed.
pub async fn heal_buckets(objects: &ObjectLayer) -> Result<u64, HealError> {
    let names = bucket_names(objects).await?;
    let mut fixed = 0;
    for name in names {
        let path = bucket::meta_path(&name);
        let all: Vec<_> = objects
            .sets()
            .flat_map(|s| s.drives.iter().cloned())
            .collect();
        let records = join_all(all.iter().map(|d| d.read_sys_file(&path))).await;
        let Some(record) = records.iter().find_map(|r| r.as_ref().ok()).cloned() else {
            continue;
        };
        let results = join_all(all.iter().zip(&records).map(|(d, rec)| {
            let (name, path, record) = (&name, &path, record.clone());
            async move {
                let mut changed = false;
                match d.stat_volume(name).await {
                    Ok(()) => {}
                    Err(DriveError::VolumeNotFound) => match d.make_volume(name).await {
                        Ok(()) | Err(DriveError::VolumeExists) => changed = true,
                        Err(e) => return Err(e),
                    },
                    Err(e) => return Err(e),
                }
                if matches!(rec, Err(e) if e.is_not_found()) {
                    d.write_sys_file(path, record).await?;
                    changed = true;
                }
                Ok(changed)
            }
        }))
        .await;
        for (d, r) in all.iter().zip(results) {
            match r {
                Ok(true) => {
                    fixed += 1;
                    tracing::info!(drive = %d.endpoint(), bucket = %name, "healed bucket");
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::debug!(drive = %d.endpoint(), bucket = %name, error = %e, "bucket not healed")
                }
            }
        }
    }
    Ok(fixed)
}

/// Drains the MRF queue until shutdown.
async fn mrf_worker(state: Arc<HealState>) {
    let queue = state.objects.mrf.clone();
    // Endpoints of drives that failed the last check.
    let mut offline: HashSet<String> = HashSet::new();
    let mut last_check = tokio::time::Instant::now();
    // The daemon loop ends at shutdown; each round waits at most one second.
    while !state.is_shutting_down() {
        if queue.waiting() > 0 && last_check.elapsed() >= Duration::from_secs(1) {
            last_check = tokio::time::Instant::now();
            if drives_came_back(&state.objects, &mut offline).await {
                tracing::info!("a drive is back: retrying queued heals now");
                queue.wake_all();
            }
        }
        let Some(entry) = queue.next(Duration::from_secs(1)).await else {
            continue;
        };
        if entry.attempts > 0 && waits_for_offline_drive(&state.objects, &entry.key, &offline) {
            // Still away: retrying now would only re-read every drive's metadata. The
            // drive check above wakes the entry when the drive answers again.
            queue.retry(entry);
            continue;
        }
        let r = state
            .heal_object_now(&entry.bucket, &entry.key, HealMode::Normal)
            .await;
        match r {
            Ok(r) if r.complete() => queue.done(&entry),
            Ok(_) => {
                tracing::debug!(bucket = %entry.bucket, key = %entry.key, "heal incomplete, a drive is offline; will retry");
                queue.retry(entry);
            }
            Err(e) if e.is_retryable() => {
                tracing::debug!(bucket = %entry.bucket, key = %entry.key, error = %e, "heal failed; will retry");
                queue.retry(entry);
            }
            Err(e) => {
                tracing::warn!(bucket = %entry.bucket, key = %entry.key, error = %e, "heal failed");
                queue.done(&entry);
            }
        }
    }
}

/// Checks every drive; true when one that was offline at the previous check answers.
async fn drives_came_back(objects: &ObjectLayer, offline: &mut HashSet<String>) -> bool {
    let drives: Vec<_> = objects
        .sets()
        .flat_map(|s: &Arc<ErasureSet>| s.drives.iter().cloned())
        .collect();
    let down: Vec<bool> = join_all(drives.iter().map(|d| async move {
        tokio::time::timeout(Duration::from_secs(2), d.check())
            .await
            .map_or(true, |r| r.is_err())
    }))
    .await;
    let now: HashSet<String> = drives
        .iter()
        .zip(down)
        .filter(|(_, down)| *down)
        .map(|(d, _)| d.endpoint())
        .collect();
    let back = offline.iter().any(|e| !now.contains(e));
    *offline = now;
    back
}

/// True when a set that may hold `key` has a drive in `offline`.
fn waits_for_offline_drive(objects: &ObjectLayer, key: &str, offline: &HashSet<String>) -> bool {
    !offline.is_empty()
        && objects.pools.iter().any(|p| {
            p.set_for(key)
                .drives
                .iter()
                .any(|d| offline.contains(&d.endpoint()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_and_durations_parse() {
        assert_eq!(
            ScannerSpeed::parse("fastest").map(|s| s.objects_per_sec),
            Some(0.0)
        );
        assert_eq!(
            ScannerSpeed::parse("Slow").map(|s| s.objects_per_sec),
            Some(20.0)
        );
        assert_eq!(
            ScannerSpeed::parse("250").map(|s| s.objects_per_sec),
            Some(250.0)
        );
        assert!(ScannerSpeed::parse("-1").is_none());
        assert!(ScannerSpeed::parse("warp").is_none());
    }
}
