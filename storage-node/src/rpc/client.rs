//! The client side of peer RPC: one [`PeerClient`] per peer server, shared by all of that
//! server's remote drives and by the lock and start-up code.
//!
//! A dead or partitioned peer must not slow requests down: the first call that fails at the
//! transport level marks the peer offline, later calls fail at once with
//! [`DriveError::Offline`], and a background probe marks it online again as soon as it
//! answers a ping. Every call has a deadline.
//!
//! Every call is signed with its body ([`auth`]); streamed shard writes frame by frame
//! ([`super::chunks`]). Every answer is checked against the peer's signature before it is
//! used; an answer that does not verify counts as a failed call.

use super::auth::{self, BodyDigest, CallParts, RpcKey, Signature};
use super::chunks::FrameSigner;
use super::{ERROR_HEADER, MAX_ANSWER, PREFIX, PREVIOUS_HEADER};
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
/// Largest metrics page a peer sends.
const MAX_METRICS: usize = 16 << 20;
/// The error code of a refused authentication: such answers come unsigned (the refusing
/// server may not share our key).
const AUTH_CODE: &str = "auth";

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
            // Below the peer's IDLE_TIMEOUT (30 s by default): a pooled connection the
            // server has just closed would fail the call that reuses it.
            .pool_idle_timeout(Duration::from_secs(20))
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

    /// The peer's own metrics series (`node/metrics`), within `deadline`. Unlike drive
    /// calls, a slow or failed answer does not mark the peer offline: a page that takes
    /// long to render says nothing about the peer's drives.
    pub async fn metrics(&self, deadline: Duration) -> Result<String, DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        let ask = async {
            let (req, sig) = self.request(
                Method::POST,
                "node/metrics",
                "",
                empty_body(),
                BodyDigest::of(b""),
            )?;
            let r = self.http.request(req).await.map_err(|e| {
                DriveError::Offline(format!("{}: {}", self.name, transport_error(&e)))
            })?;
            if !r.status().is_success() {
                return Err(self.answer_error(r, &sig).await);
            }
            let (status, headers) = (r.status(), r.headers().clone());
            let body = read_limited(r.into_body(), MAX_METRICS)
                .await
                .map_err(|why| DriveError::Offline(format!("{}: {why}", self.name)))?;
            self.check_answer(&sig, status, &headers, &body)?;
            String::from_utf8(body.to_vec())
                .map_err(|_| DriveError::Io(format!("{}: metrics are not UTF-8", self.name)))
        };
        tokio::time::timeout(deadline, ask)
            .await
            .unwrap_or_else(|_| {
                Err(DriveError::Offline(format!(
                    "{}: no metrics within {deadline:?}",
                    self.name
                )))
            })
    }

    /// Whether the peer answers at all; bypasses the offline state (used by the probe).
    pub async fn ping(&self) -> Result<(), DriveError> {
        let (req, _) = self.request(
            Method::GET,
            "node/ping",
            "",
            empty_body(),
            BodyDigest::of(b""),
        )?;
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

    /// Signs a call to this peer: its path with the query, and the header value that
    /// authenticates it. Public so that tests can capture a genuine call and replay it.
    pub fn sign_call(
        &self,
        method: &Method,
        op: &str,
        query: &str,
        body: BodyDigest,
    ) -> (String, auth::SignedCall) {
        let path = if query.is_empty() {
            format!("{PREFIX}{op}")
        } else {
            format!("{PREFIX}{op}?{query}")
        };
        let call = CallParts {
            method: method.as_str(),
            target: &self.name,
            path_and_query: &path,
        };
        let signed = self.key.sign(&call, body);
        (path, signed)
    }

    fn request(
        &self,
        method: Method,
        op: &str,
        query: &str,
        body: RpcBody,
        digest: BodyDigest,
    ) -> Result<(Request<RpcBody>, Signature), DriveError> {
        let (path, signed) = self.sign_call(&method, op, query, digest);
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(auth::HEADER, signed.header)
            .body(body)
            .map_err(|e| DriveError::Io(format!("cannot build a call to {}: {e}", self.name)))?;
        Ok((req, signed.signature))
    }

    /// Checks an answer's signature; a failure is reported like a failed call.
    fn check_answer(
        &self,
        call: &Signature,
        status: StatusCode,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(), DriveError> {
        let code = headers
            .get(ERROR_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let header = headers
            .get(auth::ANSWER_HEADER)
            .and_then(|v| v.to_str().ok());
        self.key
            .verify_answer(
                call,
                status.as_u16(),
                code,
                headers.contains_key(PREVIOUS_HEADER),
                body,
                header,
            )
            .map_err(|e| {
                DriveError::Offline(format!(
                    "{}: answer not authenticated ({e}); is something between the servers \
                     altering traffic?",
                    self.name
                ))
            })
    }

    /// Sends a call and returns the response head; the body is left to the caller.
    async fn send(
        self: &Arc<Self>,
        op: &str,
        query: &str,
        body: RpcBody,
        digest: BodyDigest,
        deadline: Duration,
    ) -> Result<(Response<Incoming>, Signature), DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        let (req, sig) = self.request(Method::POST, op, query, body, digest)?;
        match tokio::time::timeout(deadline, self.http.request(req)).await {
            Ok(Ok(r)) => Ok((r, sig)),
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
        let digest = BodyDigest::of(&body);
        let (r, sig) = self
            .send(op, query, full_body(body), digest, deadline)
            .await?;
        let status = r.status();
        if !status.is_success() {
            return Err(self.answer_error(r, &sig).await);
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
        self.check_answer(&sig, status, &headers, &body)?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The error a failed answer carries, once its signature is checked. Refused
    /// authentication comes unsigned: the refusing peer may hold another key, and a forger
    /// gains nothing by faking a refusal (it could as well drop the call).
    async fn answer_error(&self, r: Response<Incoming>, call: &Signature) -> DriveError {
        let code = r
            .headers()
            .get(ERROR_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let status = r.status();
        let headers = r.headers().clone();
        let body = tokio::time::timeout(CALL_TIMEOUT, read_limited(r.into_body(), 64 << 10))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let message = String::from_utf8_lossy(&body).into_owned();
        let peer = &self.name;
        if code.is_empty() {
            return DriveError::Offline(format!("{peer} answered {status}: {message}"));
        }
        let checked = if code == AUTH_CODE {
            Ok(())
        } else {
            self.check_answer(call, status, &headers, &body)
        };
        if let Err(e) = checked {
            return e;
        }
        super::error_from_wire(&code, message, peer)
    }

    /// A call that streams its body: returns a sender for the chunks and the pending
    /// answer. The body ends cleanly only through [`StreamCall::finish`]; dropping the call
    /// aborts the body, so the peer discards what it received.
    pub fn stream(self: &Arc<Self>, op: &str, query: &str) -> Result<StreamCall, DriveError> {
        if !self.is_online() {
            return Err(self.offline_error());
        }
        // Two messages per chunk (frame header, data): 8 keeps 4 chunks in flight.
        let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
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
        // Signed now, before the task starts, so that the first frame can chain to it.
        let (req, sig) = self.request(Method::POST, op, query, body, BodyDigest::Streamed)?;
        let me = self.clone();
        let op = op.to_string();
        let task = tokio::spawn(async move {
            // No overall deadline: a large shard takes as long as it takes; each chunk
            // (`StreamCall::send`) and the final answer (`finish`) have their own.
            let r = match tokio::time::timeout(STREAM_LIMIT, me.http.request(req)).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    let why = transport_error(&e);
                    me.mark_offline(why.clone());
                    return Err(DriveError::Offline(format!("{}: {why}", me.name)));
                }
                Err(_) => {
                    let why = format!("no answer to {op} within {STREAM_LIMIT:?}");
                    me.mark_offline(why.clone());
                    return Err(DriveError::Offline(format!("{}: {why}", me.name)));
                }
            };
            if !r.status().is_success() {
                return Err(me.answer_error(r, &sig).await);
            }
            let (status, headers) = (r.status(), r.headers().clone());
            let body =
                match tokio::time::timeout(CALL_TIMEOUT, read_limited(r.into_body(), 64 << 10))
                    .await
                {
                    Ok(Ok(b)) => b,
                    Ok(Err(why)) => return Err(DriveError::Offline(format!("{}: {why}", me.name))),
                    Err(_) => {
                        return Err(DriveError::Offline(format!(
                            "{}: answer to {op} not received within {CALL_TIMEOUT:?}",
                            me.name
                        )));
                    }
                };
            me.check_answer(&sig, status, &headers, &body)
        });
        Ok(StreamCall {
            tx: Some(tx),
            finished,
            task: Some(task),
            peer: self.name.clone(),
            signer: FrameSigner::new(self.key.clone(), sig),
        })
    }
}

pub struct StreamCall {
    tx: Option<tokio::sync::mpsc::Sender<Bytes>>,
    finished: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<Result<(), DriveError>>>,
    peer: String,
    signer: FrameSigner,
}

impl StreamCall {
    /// Sends one chunk as a signed frame.
    pub async fn send(&mut self, data: Bytes) -> Result<(), DriveError> {
        if data.is_empty() {
            // An empty frame is the end marker; there is nothing to send.
            return Ok(());
        }
        let header = self
            .signer
            .header(&data)
            .map_err(|e| DriveError::Io(format!("{}: {e}", self.peer)))?;
        self.push(header).await?;
        self.push(data).await
    }

    async fn push(&mut self, data: Bytes) -> Result<(), DriveError> {
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

    /// Sends the final frame, ends the body cleanly and waits for the peer's answer.
    pub async fn finish(mut self) -> Result<(), DriveError> {
        let end = self
            .signer
            .end()
            .map_err(|e| DriveError::Io(format!("{}: {e}", self.peer)))?;
        self.push(end).await?;
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
