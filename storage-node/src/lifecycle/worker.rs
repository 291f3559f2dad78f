//! The lifecycle worker: from server start until shutdown, every
//! [`LifecycleSettings::interval`] it applies the rules of every bucket that has a
//! lifecycle configuration.
//!
//! Once per deployment: a bucket's pass is run by the server that holds the first
//! online drive of the erasure set its name hashes to, the same rule by which the heal
//! scanner divides sets ([`crate::heal::scanner::scans_here`]), so one server acts on
//! it, and another takes over while that one is down.
//!
//! A bucket's pass, per distinct rule prefix:
//!
//! 1. Page through ListObjectVersions (1,000 versions a page, never the whole bucket in
//!    memory), following each key's versions newest first to learn what [`eval`] needs
//!    (is it current, when did it become noncurrent, how many noncurrent versions are
//!    newer, is a delete marker alone).
//! 2. Act on a page's decisions only after the next page is read: a removed version
//!    must not be the marker the next page starts from.
//! 3. Expire a current version only if it is still the one evaluated (same
//!    modification time and ETag, checked just before): an unversioned bucket removes
//!    it, a versioned one puts a delete marker on top. Remove noncurrent versions and
//!    lone delete markers by version id.
//! 4. Page through the incomplete multipart uploads the same way and abort the due ones.
//!
//! The object layer decides whether a removal is allowed (object lock): a refusal, like
//! any other error of one removal, is logged, counted (`lifecycle_skipped`) and the pass
//! goes on; the next pass tries again. Every loop is bounded and every call to the
//! object layer has a deadline. Progress is in [`crate::objects::Metrics`] (`lifecycle_*`).

use super::config::LifecycleConfig;
use super::eval::{self, Action, VersionFacts};
use super::{LIFECYCLE_CONFIG, LifecycleSettings};
use crate::objects::list_versions::{VersionEntry, VersionParams};
use crate::objects::meta::ObjectMeta;
use crate::objects::set::{CurrentVersion, DeleteOptions, now_ms};
use crate::objects::versioning::Versioning;
use crate::objects::{ObjectError, ObjectLayer};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// Versions (and uploads) read per page.
const PAGE: usize = 1000;
/// Pages read per prefix in one pass at most (a billion versions); the next pass
/// starts again from the beginning.
const MAX_PAGES: usize = 1_000_000;
/// Deadline of one call to the object layer.
const OP_TIMEOUT: Duration = Duration::from_secs(60);
/// The first pass comes at most this long after start-up.
const FIRST_PASS_MAX_DELAY: Duration = Duration::from_secs(60);

/// Starts the worker; it ends when `shutdown` turns true.
pub fn start(
    objects: Arc<ObjectLayer>,
    settings: LifecycleSettings,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tracing::info!(
        day_secs = settings.day.as_secs(),
        interval_secs = settings.interval.as_secs(),
        "lifecycle worker started"
    );
    tokio::spawn(run(objects, settings, shutdown))
}

async fn run(
    objects: Arc<ObjectLayer>,
    settings: LifecycleSettings,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut pause = settings.interval.min(FIRST_PASS_MAX_DELAY);
    // The daemon loop ends at shutdown; every wait is bounded by the interval.
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            return;
        }
        pause = settings.interval;
        pass(&objects, &settings, &shutdown).await;
    }
}

/// One pass over every bucket with a lifecycle configuration that this server is
/// responsible for.
pub async fn pass(
    objects: &ObjectLayer,
    settings: &LifecycleSettings,
    shutdown: &watch::Receiver<bool>,
) {
    let m = &objects.metrics;
    m.lifecycle_running.store(1, Ordering::Relaxed);
    match timed(objects.list_buckets()).await {
        Ok(buckets) => {
            for b in buckets {
                if *shutdown.borrow() {
                    break;
                }
                let Some(config) = LifecycleConfig::from_stored(b.config.get(LIFECYCLE_CONFIG))
                else {
                    continue;
                };
                if !runs_here(objects, &b.name).await {
                    continue;
                }
                let ctx = Bucket {
                    objects,
                    name: &b.name,
                    config: &config,
                    day_ms: settings.day_ms(),
                    page: PAGE,
                    shutdown,
                };
                if let Err(e) = ctx.apply().await {
                    tracing::warn!(bucket = %b.name, error = %e, "lifecycle pass of a bucket ended early");
                }
            }
            m.lifecycle_passes.fetch_add(1, Ordering::Relaxed);
            m.lifecycle_last_pass_ms
                .store(u64::try_from(now_ms()).unwrap_or(0), Ordering::Relaxed);
        }
        Err(e) => tracing::warn!(error = %e, "lifecycle pass: cannot list buckets"),
    }
    m.lifecycle_running.store(0, Ordering::Relaxed);
}

/// Whether this server runs `bucket`'s pass (see the module documentation).
async fn runs_here(objects: &ObjectLayer, bucket: &str) -> bool {
    match objects.pools.first() {
        Some(pool) => crate::heal::scanner::scans_here(pool.set_for(bucket)).await,
        None => false,
    }
}

/// Runs one call to the object layer under [`OP_TIMEOUT`].
async fn timed<T>(f: impl Future<Output = Result<T, ObjectError>>) -> Result<T, ObjectError> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r,
        Err(_) => Err(ObjectError::Internal(
            "lifecycle: the object layer did not answer in time".into(),
        )),
    }
}

/// The prefixes to list so that every key a rule may match is seen once: the rules'
/// prefixes without those inside another (just `""` when a rule has none).
fn scan_prefixes<'a>(rules: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut all: Vec<&str> = rules.collect();
    all.sort_unstable();
    let mut out: Vec<String> = Vec::new();
    for p in all {
        if !out.iter().any(|q| p.starts_with(q.as_str())) {
            out.push(p.to_string());
        }
    }
    out
}

/// Something to do once the next page has been read.
enum Task {
    /// Expire the current version if it is still this one.
    ExpireCurrent {
        key: String,
        mod_time_ms: i64,
        etag: String,
    },
    /// Remove a version by its S3 id; `marker` says which counter it goes to.
    Remove {
        key: String,
        version_id: String,
        marker: bool,
    },
}

/// What has been seen of the key whose versions are being read.
#[derive(Default)]
struct KeyState {
    key: String,
    /// Versions of the key seen so far.
    seen: usize,
    /// Noncurrent versions seen so far.
    noncurrent: usize,
    /// Modification time of the version seen last (the successor of the next one).
    prev_mod_ms: Option<i64>,
    /// The current version, decided once it is known whether another version follows.
    current: Option<ObjectMeta>,
}

struct Bucket<'a> {
    objects: &'a ObjectLayer,
    name: &'a str,
    config: &'a LifecycleConfig,
    day_ms: i64,
    /// Versions or uploads read per page ([`PAGE`]; smaller in tests).
    page: usize,
    shutdown: &'a watch::Receiver<bool>,
}

impl Bucket<'_> {
    async fn apply(&self) -> Result<(), ObjectError> {
        if self.config.acts_on_versions() {
            let versioning = timed(self.objects.versioning(self.name)).await?;
            let prefixes = scan_prefixes(
                self.config
                    .rules
                    .iter()
                    .filter(|r| r.enabled && (r.expiration.is_some() || r.noncurrent.is_some()))
                    .map(|r| r.filter.prefix.as_str()),
            );
            for p in &prefixes {
                self.versions(p, versioning).await?;
            }
        }
        if self.config.acts_on_uploads() {
            let prefixes = scan_prefixes(
                self.config
                    .rules
                    .iter()
                    .filter(|r| r.enabled && r.abort_upload_days.is_some())
                    .map(|r| r.filter.prefix.as_str()),
            );
            for p in &prefixes {
                self.uploads(p).await?;
            }
        }
        Ok(())
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Steps 1-3 of the module documentation under `prefix`.
    async fn versions(&self, prefix: &str, versioning: Versioning) -> Result<(), ObjectError> {
        let mut params = VersionParams {
            prefix: prefix.to_string(),
            max_keys: self.page,
            ..Default::default()
        };
        let mut state = KeyState::default();
        let mut due: Vec<Task> = Vec::new();
        for _ in 0..MAX_PAGES {
            if self.stopping() {
                break;
            }
            let page = timed(self.objects.list_versions(self.name, &params)).await;
            // The previous page's work, now that this page's start is fixed.
            self.run(std::mem::take(&mut due), versioning).await;
            let page = page?;
            let now = now_ms();
            for e in page.versions {
                self.step(&mut state, e, now, versioning, &mut due);
            }
            let next = (
                page.next_key_marker.unwrap_or_default(),
                page.next_version_id_marker.unwrap_or_default(),
            );
            if !page.truncated
                || (next.0 == params.key_marker && next.1 == params.version_id_marker)
            {
                break;
            }
            (params.key_marker, params.version_id_marker) = next;
        }
        self.finish_key(&mut state, now_ms(), &mut due);
        self.run(due, versioning).await;
        Ok(())
    }

    /// Follows one listed version; queues what the rules decide for it.
    fn step(
        &self,
        s: &mut KeyState,
        e: VersionEntry,
        now: i64,
        versioning: Versioning,
        due: &mut Vec<Task>,
    ) {
        if e.key != s.key || e.is_latest {
            self.finish_key(s, now, due);
            *s = KeyState {
                key: e.key.clone(),
                ..KeyState::default()
            };
        }
        let mod_ms = e.meta.mod_time_ms;
        if e.is_latest {
            s.current = Some(e.meta);
        } else {
            // Another version follows the current one: it is not alone.
            if let Some(cur) = s.current.take() {
                self.decide_current(&s.key, &cur, false, now, due);
            }
            let tags = eval::tags_of(&e.meta.headers);
            let facts = VersionFacts {
                key: &e.key,
                size: if e.meta.delete_marker {
                    0
                } else {
                    e.meta.content_size()
                },
                tags: &tags,
                mod_time_ms: mod_ms,
                is_latest: false,
                delete_marker: e.meta.delete_marker,
                noncurrent_since_ms: s.prev_mod_ms,
                newer_noncurrent: s.noncurrent,
                only_version: false,
            };
            // Only a bucket that has had versioning has noncurrent versions to remove; an
            // unversioned one never names versions (removing `null` there removes the key).
            if versioning != Versioning::Unversioned {
                if let Action::RemoveNoncurrent(_) =
                    eval::decide(self.config, &facts, now, self.day_ms)
                {
                    due.push(Task::Remove {
                        key: e.key.clone(),
                        version_id: e.meta.s3_version_id().to_string(),
                        marker: false,
                    });
                }
            }
            s.noncurrent += 1;
        }
        s.seen += 1;
        s.prev_mod_ms = Some(mod_ms);
    }

    /// The key's versions are all seen: decide its current version if still pending.
    fn finish_key(&self, s: &mut KeyState, now: i64, due: &mut Vec<Task>) {
        if let Some(cur) = s.current.take() {
            let key = s.key.clone();
            self.decide_current(&key, &cur, s.seen == 1, now, due);
        }
    }

    fn decide_current(
        &self,
        key: &str,
        m: &ObjectMeta,
        alone: bool,
        now: i64,
        due: &mut Vec<Task>,
    ) {
        let tags = eval::tags_of(&m.headers);
        let facts = VersionFacts {
            key,
            size: if m.delete_marker { 0 } else { m.content_size() },
            tags: &tags,
            mod_time_ms: m.mod_time_ms,
            is_latest: true,
            delete_marker: m.delete_marker,
            noncurrent_since_ms: None,
            newer_noncurrent: 0,
            only_version: alone,
        };
        match eval::decide(self.config, &facts, now, self.day_ms) {
            Action::ExpireCurrent(_) => due.push(Task::ExpireCurrent {
                key: key.to_string(),
                mod_time_ms: m.mod_time_ms,
                etag: m.etag.clone(),
            }),
            Action::RemoveDeleteMarker(_) => due.push(Task::Remove {
                key: key.to_string(),
                version_id: m.s3_version_id().to_string(),
                marker: true,
            }),
            Action::RemoveNoncurrent(_) | Action::Keep => {}
        }
    }

    async fn run(&self, tasks: Vec<Task>, versioning: Versioning) {
        let m = &self.objects.metrics;
        for t in tasks {
            if self.stopping() {
                return;
            }
            match t {
                Task::ExpireCurrent {
                    key,
                    mod_time_ms,
                    etag,
                } => {
                    // Still the version evaluated? A client may have overwritten it.
                    match timed(self.objects.version_info(self.name, &key, None)).await {
                        Ok(i) if i.mod_time_ms == mod_time_ms && i.etag == etag => {}
                        _ => continue,
                    }
                    // Checked again under the key's commit lock by the delete itself.
                    let opts = DeleteOptions {
                        if_current: Some(CurrentVersion {
                            etag: etag.clone(),
                            mod_time_ms,
                        }),
                        ..Default::default()
                    };
                    let delete = self
                        .objects
                        .delete_version_with(self.name, &key, None, &opts);
                    match timed(delete).await {
                        // Overwritten since it was evaluated: the new version is not due.
                        Err(ObjectError::PreconditionFailed) => {}
                        Ok(_) => {
                            m.lifecycle_objects_expired.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(
                                bucket = self.name,
                                key,
                                ?versioning,
                                "lifecycle: expired"
                            );
                        }
                        Err(e) => self.refused(&key, None, &e),
                    }
                }
                Task::Remove {
                    key,
                    version_id,
                    marker,
                } => {
                    match timed(
                        self.objects
                            .delete_version(self.name, &key, Some(&version_id)),
                    )
                    .await
                    {
                        Ok(_) if marker => {
                            m.lifecycle_delete_markers_removed
                                .fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(_) => {
                            m.lifecycle_versions_removed.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => self.refused(&key, Some(&version_id), &e),
                    }
                }
            }
        }
    }

    fn refused(&self, key: &str, version: Option<&str>, e: &ObjectError) {
        self.objects
            .metrics
            .lifecycle_skipped
            .fetch_add(1, Ordering::Relaxed);
        tracing::info!(bucket = self.name, key, version, error = %e, "lifecycle: removal refused, skipped");
    }

    /// Step 4: aborts the due incomplete uploads under `prefix`.
    async fn uploads(&self, prefix: &str) -> Result<(), ObjectError> {
        let (mut key_marker, mut id_marker) = (String::new(), String::new());
        let mut due: Vec<(String, String)> = Vec::new();
        for _ in 0..MAX_PAGES {
            if self.stopping() {
                break;
            }
            let page = timed(self.objects.list_uploads(
                self.name,
                prefix,
                &key_marker,
                &id_marker,
                self.page,
            ))
            .await;
            self.abort(std::mem::take(&mut due)).await;
            let (uploads, truncated) = page?;
            let now = now_ms();
            let next = uploads.last().map(|u| (u.key.clone(), u.upload_id.clone()));
            for u in uploads {
                if eval::abort_upload(self.config, &u.key, u.initiated_ms, now, self.day_ms)
                    .is_some()
                {
                    due.push((u.key, u.upload_id));
                }
            }
            match next {
                Some(n) if truncated && n != (key_marker.clone(), id_marker.clone()) => {
                    (key_marker, id_marker) = n;
                }
                _ => break,
            }
        }
        self.abort(due).await;
        Ok(())
    }

    async fn abort(&self, uploads: Vec<(String, String)>) {
        for (key, id) in uploads {
            if self.stopping() {
                return;
            }
            match timed(self.objects.abort_multipart(self.name, &key, &id)).await {
                Ok(()) => {
                    self.objects
                        .metrics
                        .lifecycle_uploads_aborted
                        .fetch_add(1, Ordering::Relaxed);
                }
                Err(ObjectError::NoSuchUpload) => {}
                Err(e) => self.refused(&key, Some(&id), &e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_listed_once() {
        let p = |v: &[&str]| scan_prefixes(v.iter().copied());
        assert_eq!(p(&["logs/", "logs/a/", "tmp/"]), vec!["logs/", "tmp/"]);
        assert_eq!(p(&["x", "", "y"]), vec![""]);
        assert!(p(&[]).is_empty());
    }

    use crate::lifecycle::config::{Expiration, Filter, FilterShape, NoncurrentExpiration, Rule};
    use crate::objects::PutOptions;

    use crate::objects::test_support::layer;

    async fn put(layer: &ObjectLayer, b: &str, key: &str) -> String {
        let body = bytes::Bytes::from_static(b"data");
        let stream: crate::objects::BodyStream =
            Box::pin(futures::stream::iter(vec![Ok::<_, std::io::Error>(body)]));
        let info = layer
            .put_object(b, key, stream, PutOptions::default())
            .await
            .unwrap();
        info.version_id
    }

    fn rule(id: &str, prefix: &str) -> Rule {
        Rule {
            id: id.into(),
            enabled: true,
            filter: Filter {
                shape: FilterShape::Prefix,
                prefix: prefix.into(),
                tags: vec![],
                size_gt: None,
                size_lt: None,
            },
            expiration: None,
            noncurrent: None,
            abort_upload_days: None,
        }
    }

    /// (key, S3 version id, delete marker) of every version, newest first per key.
    async fn all(layer: &ObjectLayer, b: &str) -> Vec<(String, String, bool)> {
        let p = VersionParams {
            max_keys: 1000,
            ..Default::default()
        };
        let l = layer.list_versions(b, &p).await.unwrap();
        l.versions
            .into_iter()
            .map(|v| {
                (
                    v.key,
                    v.meta.s3_version_id().to_string(),
                    v.meta.delete_marker,
                )
            })
            .collect()
    }

    /// Runs one bucket's pass with pages of two, so that keys straddle pages and
    /// removals happen while the listing goes on.
    async fn apply(layer: &ObjectLayer, b: &str, config: &LifecycleConfig) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (_tx, rx) = watch::channel(false);
        let ctx = Bucket {
            objects: layer,
            name: b,
            config,
            day_ms: 1,
            page: 2,
            shutdown: &rx,
        };
        ctx.apply().await.unwrap();
    }

    /// The expiry's delete is conditional on the version the worker evaluated: a key
    /// overwritten in between keeps its new version, in unversioned and versioned
    /// buckets alike.
    #[tokio::test]
    async fn expiry_spares_a_version_written_after_the_decision() {
        let (_dir, layer) = layer(&["plain", "ver"]).await;
        layer
            .set_versioning("ver", Versioning::Enabled)
            .await
            .unwrap();
        for b in ["plain", "ver"] {
            put(&layer, b, "k").await;
            let seen = layer.version_info(b, "k", None).await.unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
            put(&layer, b, "k").await;
            let stale = DeleteOptions {
                if_current: Some(CurrentVersion {
                    etag: seen.etag.clone(),
                    mod_time_ms: seen.mod_time_ms,
                }),
                ..Default::default()
            };
            let r = layer.delete_version_with(b, "k", None, &stale).await;
            assert!(
                matches!(r, Err(ObjectError::PreconditionFailed)),
                "{b}: {r:?}"
            );
            let now = layer.version_info(b, "k", None).await.unwrap();
            assert_ne!(
                now.mod_time_ms, seen.mod_time_ms,
                "{b}: the new version stays"
            );
            let fresh = DeleteOptions {
                if_current: Some(CurrentVersion {
                    etag: now.etag.clone(),
                    mod_time_ms: now.mod_time_ms,
                }),
                ..Default::default()
            };
            layer
                .delete_version_with(b, "k", None, &fresh)
                .await
                .unwrap();
            assert!(
                layer.version_info(b, "k", None).await.is_err(),
                "{b}: expired"
            );
        }
    }

    #[tokio::test]
    async fn small_pages_keep_per_key_state_across_pages() {
        let (_dir, layer) = layer(&["ver"]).await;
        layer
            .set_versioning("ver", Versioning::Enabled)
            .await
            .unwrap();
        let ids: Vec<String> = {
            let mut v = Vec::new();
            for _ in 0..5 {
                v.push(put(&layer, "ver", "k").await);
            }
            v
        };
        layer.delete_version("ver", "lone", None).await.unwrap();
        put(&layer, "ver", "covered").await;
        layer.delete_version("ver", "covered", None).await.unwrap();
        for _ in 0..3 {
            put(&layer, "ver", "m").await;
        }
        let mut nc = rule("nc", "k");
        nc.noncurrent = Some(NoncurrentExpiration {
            days: 1,
            newer_versions: Some(2),
        });
        let mut dm = rule("dm", "");
        dm.expiration = Some(Expiration::DeleteMarker(true));
        let config = LifecycleConfig {
            rules: vec![nc, dm],
        };
        apply(&layer, "ver", &config).await;
        let left = all(&layer, "ver").await;
        let k: Vec<&str> = left
            .iter()
            .filter(|v| v.0 == "k")
            .map(|v| v.1.as_str())
            .collect();
        let want: Vec<&str> = ids[2..].iter().rev().map(String::as_str).collect();
        assert_eq!(k, want, "current and the two newest noncurrent versions");
        assert!(!left.iter().any(|v| v.0 == "lone"), "{left:?}");
        assert_eq!(left.iter().filter(|v| v.0 == "covered").count(), 2);
        assert_eq!(left.iter().filter(|v| v.0 == "m").count(), 3);
        let m = &layer.metrics;
        assert_eq!(m.lifecycle_versions_removed.load(Ordering::Relaxed), 2);
        assert_eq!(
            m.lifecycle_delete_markers_removed.load(Ordering::Relaxed),
            1
        );
        // A second pass changes nothing.
        apply(&layer, "ver", &config).await;
        assert_eq!(all(&layer, "ver").await, left);
    }

    #[tokio::test]
    async fn small_pages_expire_objects_and_abort_uploads() {
        let (_dir, layer) = layer(&["plain"]).await;
        for i in 0..5 {
            put(&layer, "plain", &format!("t/{i}")).await;
        }
        put(&layer, "plain", "keep").await;
        for i in 0..3 {
            layer
                .new_multipart(
                    "plain",
                    &format!("t/u{i}"),
                    Default::default(),
                    None,
                    Default::default(),
                )
                .await
                .unwrap();
        }
        layer
            .new_multipart(
                "plain",
                "keep-upload",
                Default::default(),
                None,
                Default::default(),
            )
            .await
            .unwrap();
        let mut r = rule("t", "t/");
        r.expiration = Some(Expiration::Days(1));
        r.abort_upload_days = Some(1);
        let config = LifecycleConfig { rules: vec![r] };
        apply(&layer, "plain", &config).await;
        let left: Vec<String> = all(&layer, "plain")
            .await
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert_eq!(left, vec!["keep"]);
        let (uploads, _) = layer.list_uploads("plain", "", "", "", 100).await.unwrap();
        let keys: Vec<&str> = uploads.iter().map(|u| u.key.as_str()).collect();
        assert_eq!(keys, vec!["keep-upload"]);
        let m = &layer.metrics;
        assert_eq!(m.lifecycle_objects_expired.load(Ordering::Relaxed), 5);
        assert_eq!(m.lifecycle_uploads_aborted.load(Ordering::Relaxed), 3);
    }
}
