//! One webhook target: a bounded queue of serialized entries and the one task that posts
//! them. A request only ever `offer`s an entry, which never waits: when the queue is full
//! the entry is dropped and counted (`minio_audit_failed_messages`). An offer wakes the
//! task only when its entry is the first in the queue or fills a batch, not for every
//! entry: a wake-up per request (a task switch, often a thread unparked) cost more than
//! writing the entry. Entries are copied into the body of the batch they will be posted
//! in, so the request's buffer is freed by the thread that allocated it and a batch is
//! one buffer, not one per entry.
//!
//! The task takes one batch per round (up to `batch_size` entries, waiting at most
//! [`BATCH_LINGER`] for it to fill), posts it with a timeout, and while the receiver is
//! down or refuses (any status but 200, 201, 202, 204, as MinIO accepts) keeps that batch
//! and retries with doubling pauses from [`RETRY_MIN`] to [`RETRY_MAX`]; meanwhile new
//! entries wait in the queue up to its size. The token is sent only in the
//! `Authorization` header, marked sensitive, and never logged.

use super::config::TargetConfig;
use bytes::Bytes;
use http::{HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{Notify, watch};

type Http = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long a batch of more than one entry waits for more entries before it is sent.
pub const BATCH_LINGER: Duration = Duration::from_millis(500);
/// First pause after a failed POST.
pub const RETRY_MIN: Duration = Duration::from_millis(250);
/// Longest pause between two attempts while the receiver is down.
pub const RETRY_MAX: Duration = Duration::from_secs(4);
/// A receiver's answer is read (so the connection can be reused) up to this size.
const MAX_ANSWER: usize = 64 * 1024;
/// The CA bundles tried for `https` endpoints when `SSL_CERT_FILE` is not set.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("audit target {id}: endpoint is not an http(s) URL")]
    Endpoint { id: String },
    #[error("audit target {id}: the auth token is not a valid header value")]
    Token { id: String },
    #[error("audit target {id}: TLS: {message}")]
    Tls { id: String, message: String },
}

/// Counters of one target, shown on the metrics page.
#[derive(Debug, Default)]
pub struct TargetStats {
    /// Entries offered to the target (queued or dropped), MinIO's `total_messages`.
    pub total: AtomicU64,
    /// Entries dropped because the queue was full, MinIO's `failed_messages`.
    pub failed: AtomicU64,
    /// Entries queued or in the batch being sent.
    pub queued: AtomicU64,
    /// Entries the receiver accepted.
    pub delivered: AtomicU64,
    /// POST attempts that failed (no answer in time, connection refused, bad status).
    pub post_errors: AtomicU64,
}

pub struct Target {
    pub id: String,
    queue: Arc<Queue>,
    pub stats: Arc<TargetStats>,
}

/// Room reserved for a batch's body at most; larger batches grow as they fill.
const MAX_BATCH_RESERVE: usize = 1 << 20;

/// The body of one POST being filled: the entries joined by `,`, after a `[` when the
/// target sends arrays.
struct Batch {
    json: Vec<u8>,
    entries: usize,
}

/// The batches waiting for the task, oldest first.
#[derive(Default)]
struct Waiting {
    batches: VecDeque<Batch>,
    entries: usize,
}

/// The entries waiting for the task, and how the task learns of them.
struct Queue {
    waiting: Mutex<Waiting>,
    /// Entries, at most.
    capacity: usize,
    batch_size: usize,
    /// Notified when an entry lands in an empty queue, a batch is full, or the target is
    /// dropped; the task checks the queue after every wake-up.
    ready: Notify,
    closed: AtomicBool,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // Nothing panics while holding the lock; a poisoned queue is still consistent.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn len(&self) -> usize {
        self.lock().entries
    }

    /// Whether the oldest batch holds `batch_size` entries.
    fn front_full(&self) -> bool {
        self.lock()
            .batches
            .front()
            .is_some_and(|b| b.entries >= self.batch_size)
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Appends one entry to the newest batch (or a new one); its entry count, or `None`
    /// when the queue is full.
    fn push(&self, entry: &[u8]) -> Option<(usize, usize)> {
        let mut w = self.lock();
        if w.entries >= self.capacity {
            return None;
        }
        if w.batches
            .back()
            .is_none_or(|b| b.entries >= self.batch_size)
        {
            let mut json = Vec::with_capacity(
                (entry.len() + 1)
                    .saturating_mul(self.batch_size)
                    .saturating_add(2)
                    .min(MAX_BATCH_RESERVE),
            );
            if self.batch_size > 1 {
                json.push(b'[');
            }
            w.batches.push_back(Batch { json, entries: 0 });
        }
        let batch = w.batches.back_mut()?;
        if batch.entries > 0 {
            batch.json.push(b',');
        }
        batch.json.extend_from_slice(entry);
        batch.entries += 1;
        let in_batch = batch.entries;
        w.entries += 1;
        Some((w.entries, in_batch))
    }

    /// The oldest batch's body, ready to post, and its number of entries.
    fn take(&self) -> Option<(Bytes, usize)> {
        let mut w = self.lock();
        let mut batch = w.batches.pop_front()?;
        w.entries -= batch.entries;
        drop(w);
        if self.batch_size > 1 {
            batch.json.push(b']');
        }
        Some((Bytes::from(batch.json), batch.entries))
    }
}

impl Target {
    /// Checks the settings and starts the target's task; it ends when `shutdown` turns
    /// true or the target is dropped.
    pub fn start(cfg: TargetConfig, shutdown: watch::Receiver<bool>) -> Result<Self, TargetError> {
        let id = cfg.id.clone();
        let uri: Uri = cfg
            .endpoint
            .parse()
            .ok()
            .filter(|u: &Uri| matches!(u.scheme_str(), Some("http" | "https")))
            .filter(|u| u.authority().is_some())
            .ok_or_else(|| TargetError::Endpoint { id: id.clone() })?;
        let authorization = match &cfg.authorization {
            Some(a) => {
                let mut v =
                    HeaderValue::from_str(a).map_err(|_| TargetError::Token { id: id.clone() })?;
                v.set_sensitive(true);
                Some(v)
            }
            None => None,
        };
        let client = client(&id)?;
        let queue = Arc::new(Queue {
            waiting: Mutex::new(Waiting::default()),
            capacity: cfg.queue_size,
            batch_size: cfg.batch_size.max(1),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let stats = Arc::new(TargetStats::default());
        let sender = Sender {
            uri,
            authorization,
            client,
            timeout: cfg.http_timeout,
            batch_size: cfg.batch_size,
            id: id.clone(),
            stats: stats.clone(),
        };
        tokio::spawn(sender.run(queue.clone(), shutdown));
        Ok(Self { id, queue, stats })
    }

    /// Queues one serialized entry, or drops and counts it when the queue is full.
    /// Never waits (the lock is held only to push).
    pub fn offer(&self, entry: &[u8]) {
        self.stats.total.fetch_add(1, Ordering::Relaxed);
        match self.queue.push(entry) {
            Some((total, in_batch)) => {
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                if total == 1 || in_batch == self.queue.batch_size {
                    self.queue.ready.notify_one();
                }
            }
            None => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        self.queue.closed.store(true, Ordering::Release);
        self.queue.ready.notify_one();
    }
}

fn client(id: &str) -> Result<Http, TargetError> {
    let mut roots = rustls::RootCertStore::empty();
    let env = std::env::var("SSL_CERT_FILE").ok();
    for path in env
        .iter()
        .map(String::as_str)
        .chain(SYSTEM_BUNDLES.iter().copied())
    {
        let Ok(pem) = std::fs::read(path) else {
            continue;
        };
        let mut reader = pem.as_slice();
        let certs = rustls_pemfile::certs(&mut reader).filter_map(Result::ok);
        let (added, _) = roots.add_parsable_certificates(certs);
        if added > 0 {
            break;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TargetError::Tls {
        id: id.to_string(),
        message: e.to_string(),
    })?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(20))
        .build(connector))
}

/// The target's task: everything it needs to post.
struct Sender {
    uri: Uri,
    authorization: Option<HeaderValue>,
    client: Http,
    timeout: Duration,
    batch_size: usize,
    id: String,
    stats: Arc<TargetStats>,
}

/// Waits until `shutdown` is true (or its sender is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

impl Sender {
    async fn run(self, queue: Arc<Queue>, mut shutdown: watch::Receiver<bool>) {
        let mut down = false;
        loop {
            // A stored notification makes `notified` return at once, so none is lost
            // between a check and the wait.
            while queue.len() == 0 {
                if queue.closed() {
                    return;
                }
                tokio::select! {
                    _ = queue.ready.notified() => {}
                    _ = stopped(&mut shutdown) => return,
                }
            }
            if self.batch_size > 1 {
                let deadline = tokio::time::Instant::now() + BATCH_LINGER;
                while !queue.front_full() && !queue.closed() {
                    tokio::select! {
                        _ = queue.ready.notified() => {}
                        _ = tokio::time::sleep_until(deadline) => break,
                        _ = stopped(&mut shutdown) => return,
                    }
                }
            }
            let Some((body, n)) = queue.take() else {
                continue;
            };
            let n = n as u64;
            let mut pause = RETRY_MIN;
            loop {
                match self.post(body.clone()).await {
                    Ok(()) => {
                        if down {
                            tracing::info!(target_id = %self.id, "audit webhook reachable again");
                            down = false;
                        }
                        self.stats.delivered.fetch_add(n, Ordering::Relaxed);
                        self.stats.queued.fetch_sub(n, Ordering::Relaxed);
                        break;
                    }
                    Err(why) => {
                        self.stats.post_errors.fetch_add(1, Ordering::Relaxed);
                        if !down {
                            tracing::warn!(target_id = %self.id, error = %why, "audit webhook unreachable; retrying, new entries are dropped once the queue is full");
                            down = true;
                        }
                        tokio::select! {
                            _ = tokio::time::sleep(pause) => {}
                            _ = stopped(&mut shutdown) => return,
                        }
                        pause = (pause * 2).min(RETRY_MAX);
                    }
                }
            }
        }
    }

    /// One POST, answer included, within the timeout.
    async fn post(&self, body: Bytes) -> Result<(), String> {
        let mut req = Request::post(self.uri.clone())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("Cairn/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|e| e.to_string())?;
        if let Some(a) = &self.authorization {
            req.headers_mut()
                .insert(http::header::AUTHORIZATION, a.clone());
        }
        let exchange = async {
            let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let _ = Limited::new(resp.into_body(), MAX_ANSWER).collect().await;
            match status.as_u16() {
                200 | 201 | 202 | 204 => Ok(()),
                _ => Err(format!("answered {status}")),
            }
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }
}
