//! The client side of peer RPC: one [`PeerClient`] per peer server, shared by all of that
//! server's remote drives and by the lock and start-up code.
//!
//! A dead or partitioned peer must not slow requests down: the first call that fails at the
//! transport level marks the peer offline, later calls fail at once with
//! [`DriveError::Offline`], and a background probe marks it online again as soon as it
//! answers a ping. Every call has a deadline.

use super::auth::{self, RpcKey};
use super::{ERROR_HEADER, PREFIX};
use crate::drive::DriveError;
use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody, combinators::UnsyncBoxBody};
use hyper::body::{Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Deadline of a call without bulk data.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline of a call that moves shard data, and of each chunk of a streamed write.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound of one streamed write, far above any real shard transfer.
const STREAM_LIMIT: Duration = Duration::from_secs(6 * 3600);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
/// Answers larger than this are refused instead of buffered.
const MAX_ANSWER: usize = 256 << 20;

pub type RpcBody = UnsyncBoxBody<Bytes, std::io::Error>;
type Http = Client<hyper_rustls::HttpsConnector<HttpConnector>, RpcBody>;

/// TLS settings of the peer client: the CAs that sign peer certificates.
#[derive(Clone, Default)]
pub struct ClientTls {
    pub config: Option<Arc<rustls::ClientConfig>>,
}

#[derive(Debug)]
pub struct PeerClient {
    /// `host:port` of the peer, for messages.
    pub name: String,
    base: String,
    key: RpcKey,
    http: Http,
    online: AtomicBool,
    probing: AtomicBool,
    last_error: Mutex<String>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.config.is_some() {
            "ClientTls(on)"
        } else {
            "ClientTls(off)"
        })
    }
}

fn connector(tls: &ClientTls) -> hyper_rustls::HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    http.set_nodelay(true);
    http.enforce_http(false);
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    match &tls.config {
        Some(cfg) => builder
            .with_tls_config((**cfg).clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http),
        None => builder
            .with_tls_config(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map(|b| {
                    b.with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                })
                .unwrap_or_else(|_| {
                    rustls::ClientConfig::builder()
                        .with_root_certificates(rustls::RootCertStore::empty())
                        .with_no_client_auth()
                }),
            )
            .https_or_http()
            .enable_http1()
            .wrap_connector(http),
    }
}

/// The outcome of a call whose answer is fully read.
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl PeerClient {
    /// `scheme` is `http` or `https`, `host_port` the peer's `host:port`.
    pub fn new(scheme: &str, host_port: &str, key: RpcKey, tls: &ClientTls) -> Arc<Self> {
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build(connector(tls));
        Arc::new(PeerClient {
            name: host_port.to_string(),
            base: format!("{scheme}://{host_port}"),
            key,
            http,
            online: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
        })
    }

    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Why the peer is offline, for messages.
    pub fn last_error(&self) -> String {
        self.last_error
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }

    fn offline_error(&self) -> DriveError {
        DriveError::Offline(format!(
            "server {} is unreachable: {}",
            self.name,
            self.last_error()
        ))
    }

    /// Records a transport failure and starts probing the peer until it answers.
    fn mark_offline(self: &Arc<Self>, why: String) {
        if let Ok(mut e) = self.last_error.lock() {
            *e = why.clone();
        }
        if self.online.swap(false, Ordering::Relaxed) {
            tracing::warn!(peer = %self.name, error = %why, "peer server offline");
        }
        if !self.probing.swap(true, Ordering::AcqRel) {
            let me = self.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PROBE_INTERVAL).await;
                    if me.ping().await.is_ok() {
                        me.online.store(true, Ordering::Relaxed);
                        me.probing.store(false, Ordering::Release);
                        tracing::info!(peer = %me.name, "peer server back online");
                        return;
                    }
                    if Arc::strong_count(&me) == 1 {
                        return; // nobody uses this client any more
                    }
                }
            });
        }
    }

    /// Whether the peer answers at all; bypasses the offline state (used by the probe).
    pub async fn ping(&self) -> Result<(), DriveError> {
        let req = self.request(Method::GET, "node/ping", "", empty_body())?;
        match tokio::time::timeout(CALL_TIMEOUT, self.http.request(req)).await {
            // Any answer means the server is reachable; a refusal (other credentials)
            // then surfaces on the real call with its reason.
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(DriveError::Offline(format!("{}: {e}", self.name))),
            Err(_) => Err(DriveError::Offline(format!(
                "{}: ping timed out",
                self.name
            ))),
        }
    }

    fn request(
        &self,
        method: Method,
        op: &str,
        query: &str,
        body: RpcBody,
    ) -> Result<Request<RpcBody>, DriveError> {
        let path = if query.is_empty() {
            format!("{PREFIX}{op}")
        } else {
            format!("{PREFIX}{op}?{query}")
        };
        let sig = self.key.sign(method.as_str(), &path);
        Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(auth::HEADER, sig)
            .body(body)
            .map_err(|e| DriveError::Io(format!("cannot build a call to {}: {e}", self.name)))
    }

    /// Sends a call and returns the response head; the body is left to the caller.
    async fn send(
        self: &Arc<Self>,
        op: &str,
        query: &str,
        body: RpcBody,
        deadline: Duration,
    ) -> Result<Response<Incoming>, DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        let req = self.request(Method::POST, op, query, body)?;
        match tokio::time::timeout(deadline, self.http.request(req)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                let why = transport_error(&e);
                self.mark_offline(why.clone());
                Err(DriveError::Offline(format!("{}: {why}", self.name)))
            }
            Err(_) => {
                let why = format!("no answer to {op} within {deadline:?}");
                self.mark_offline(why.clone());
                Err(DriveError::Offline(format!("{}: {why}", self.name)))
            }
        }
    }

    /// A call with a small or bulk body whose whole answer is read, within `deadline`.
    pub async fn call(
        self: &Arc<Self>,
        op: &str,
        query: &str,
        body: Bytes,
        deadline: Duration,
    ) -> Result<Answer, DriveError> {
        let started = tokio::time::Instant::now();
        let r = self.send(op, query, full_body(body), deadline).await?;
        let status = r.status();
        if !status.is_success() {
            return Err(answer_error(r, &self.name).await);
        }
        let headers = r.headers().clone();
        let left = deadline.saturating_sub(started.elapsed());
        let body = match tokio::time::timeout(left, read_limited(r.into_body(), MAX_ANSWER)).await {
            Ok(Ok(b)) => b,
            Ok(Err(why)) => {
                self.mark_offline(why.clone());
                return Err(DriveError::Offline(format!("{}: {why}", self.name)));
            }
            Err(_) => {
                let why = format!("answer to {op} not received within {deadline:?}");
                self.mark_offline(why.clone());
                return Err(DriveError::Offline(format!("{}: {why}", self.name)));
            }
        };
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A call that streams its body: returns a sender for the chunks and the pending
    /// answer. The body ends cleanly only through [`StreamCall::finish`]; dropping the call
    /// aborts the body, so the peer discards what it received.
    pub fn stream(self: &Arc<Self>, op: &str, query: &str) -> Result<StreamCall, DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
        let finished = Arc::new(AtomicBool::new(false));
        let done = finished.clone();
        let frames =
            futures::stream::unfold((rx, done, false), |(mut rx, done, ended)| async move {
                if ended {
                    return None;
                }
                match rx.recv().await {
                    Some(b) => Some((Ok(Frame::data(b)), (rx, done, false))),
                    None if done.load(Ordering::Acquire) => None,
                    None => Some((
                        Err(std::io::Error::other("write abandoned")),
                        (rx, done, true),
                    )),
                }
            });
        let body = BodyExt::boxed_unsync(StreamBody::new(frames.boxed()));
        let me = self.clone();
        let (op, query) = (op.to_string(), query.to_string());
        let task = tokio::spawn(async move {
            // No overall deadline: a large shard takes as long as it takes; each chunk
            // (`StreamCall::send`) and the final answer (`finish`) have their own.
            let r = me.send(&op, &query, body, STREAM_LIMIT).await?;
            if !r.status().is_success() {
                return Err(answer_error(r, &me.name).await);
            }
            Ok(())
        });
        Ok(StreamCall {
            tx: Some(tx),
            finished,
            task: Some(task),
            peer: self.name.clone(),
        })
    }
}

pub struct StreamCall {
    tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
    finished: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<Result<(), DriveError>>>,
    peer: String,
}

impl StreamCall {
    pub async fn send(&mut self, data: Bytes) -> Result<(), DriveError> {
        let Some(tx) = &self.tx else {
            return Err(DriveError::Io("write already finished".into()));
        };
        match tokio::time::timeout(DATA_TIMEOUT, tx.send(data)).await {
            Ok(Ok(())) => Ok(()),
            // The request ended early: its task holds the reason.
            Ok(Err(_)) => Err(self.outcome().await.err().unwrap_or_else(|| {
                DriveError::Offline(format!("{}: write ended early", self.peer))
            })),
            Err(_) => Err(DriveError::Offline(format!(
                "{}: shard write stalled for {DATA_TIMEOUT:?}",
                self.peer
            ))),
        }
    }

    /// Ends the body cleanly and waits for the peer's answer.
    pub async fn finish(mut self) -> Result<(), DriveError> {
        self.finished.store(true, Ordering::Release);
        self.tx = None;
        self.outcome().await
    }

    async fn outcome(&mut self) -> Result<(), DriveError> {
        self.tx = None;
        let Some(task) = self.task.take() else {
            return Err(DriveError::Io("write already finished".into()));
        };
        match tokio::time::timeout(DATA_TIMEOUT, task).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => Err(DriveError::Io(format!("{}: {e}", self.peer))),
            Err(_) => Err(DriveError::Offline(format!(
                "{}: no answer to a finished write within {DATA_TIMEOUT:?}",
                self.peer
            ))),
        }
    }
}

impl Drop for StreamCall {
    fn drop(&mut self) {
        // `finished` stays false: the body stream ends with an error, hyper aborts the
        // request and the peer never commits a partial shard.
        self.tx = None;
    }
}

fn empty_body() -> RpcBody {
    full_body(Bytes::new())
}

pub fn full_body(b: Bytes) -> RpcBody {
    http_body_util::Full::new(b)
        .map_err(|never| match never {})
        .boxed_unsync()
}

fn transport_error(e: &hyper_util::client::legacy::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    let mut depth = 0;
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
        depth += 1;
        if depth > 4 {
            break;
        }
    }
    msg
}

async fn read_limited(body: Incoming, limit: usize) -> Result<Bytes, String> {
    let collected = http_body_util::Limited::new(body, limit)
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?;
    Ok(collected.to_bytes())
}

/// The error a failed answer carries.
async fn answer_error(r: Response<Incoming>, peer: &str) -> DriveError {
    let code = r
        .headers()
        .get(ERROR_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let status = r.status();
    let body = tokio::time::timeout(CALL_TIMEOUT, read_limited(r.into_body(), 64 << 10))
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let message = String::from_utf8_lossy(&body).into_owned();
    if code.is_empty() {
        return DriveError::Offline(format!("{peer} answered {status}: {message}"));
    }
    super::error_from_wire(&code, message, peer)
}
