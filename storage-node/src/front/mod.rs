//! Layer 1: the HTTP front. Accepts connections (HTTP/1.1 and HTTP/2, TLS with
//! rustls), gives every request an id, and routes by path: health, metrics, S3.

pub mod health;
pub mod metrics;
pub mod tls;

use crate::objects::{BodyStream, ObjectLayer};
use crate::rpc::server::RpcService;
use crate::s3::{RespBody, S3Service};
use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response};
use http_body_util::BodyStream as FrameStream;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

/// A client that does not finish its TLS handshake or request head in this time is
/// dropped, so idle or malicious connections cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

pub struct App {
    pub s3: S3Service,
    pub objects: Arc<ObjectLayer>,
    pub metrics: metrics::HttpMetrics,
    /// The admin API (`/cairn/admin/v1/...`), set by start-up once the heal layer runs.
    pub admin: std::sync::OnceLock<Arc<crate::admin::AdminService>>,
    next_id: AtomicU64,
    node_tag: u32,
}

impl App {
    pub fn new(s3: S3Service, objects: Arc<ObjectLayer>) -> Self {
        Self {
            s3,
            objects,
            metrics: metrics::HttpMetrics::default(),
            admin: std::sync::OnceLock::new(),
            next_id: AtomicU64::new(1),
            node_tag: rand::random(),
        }
    }

    /// Request ids are unique per process start and sortable, like S3's.
    fn request_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{:08X}{:010X}", self.node_tag, n)
    }

    pub async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<RespBody> {
        let id = self.request_id();
        let span =
            tracing::info_span!("req", id = %id, method = %req.method(), path = %req.uri().path());
        async move {
            let path = req.uri().path();
            if let Some(r) = health::route(&self, &req).await {
                return r;
            }
            if path == metrics::PATH || path == metrics::NODE_PATH {
                return metrics::render(&self).await;
            }
            let (mut parts, body) = req.into_parts();
            // HTTP/2 carries the host in `:authority`; SigV4 signs it as `host`.
            if !parts.headers.contains_key(http::header::HOST) {
                if let Some(v) = parts
                    .uri
                    .authority()
                    .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok())
                {
                    parts.headers.insert(http::header::HOST, v);
                }
            }
            // Admin API: root-only SigV4, JSON (see `crate::admin`).
            if crate::admin::handles(parts.uri.path()) {
                return match self.admin.get() {
                    Some(admin) => admin.handle(parts, body_stream(body), &id).await,
                    None => crate::body::empty(http::StatusCode::SERVICE_UNAVAILABLE),
                };
            }
            let method = parts.method.clone();
            let started = std::time::Instant::now();
            // botocore mishandles a final answer to `Expect: 100-continue` that came
            // without an interim 100 (hyper sends none when the body is empty or was
            // never read) and then misreads the next response on that connection:
            // close the connection in exactly those cases.
            let expects_continue = parts
                .headers
                .get(http::header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            let empty_body = parts
                .headers
                .get(http::header::CONTENT_LENGTH)
                .is_some_and(|v| v.as_bytes() == b"0");
            let mut resp = self.s3.handle(parts, body_stream(body), &id).await;
            if expects_continue && (empty_body || !resp.status().is_success()) {
                resp.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
            }
            self.metrics
                .observe(&method, resp.status(), started.elapsed());
            tracing::debug!(status = resp.status().as_u16(), "done");
            resp
        }
        .instrument(span)
        .await
    }
}

/// A client that sends no body bytes for this long has its request failed, so a stalled
/// upload cannot hold a connection, buffers and staging files forever.
const BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// The request body as a stream of data chunks; HTTP trailers are not used by S3.
fn body_stream(body: Incoming) -> BodyStream {
    let frames = FrameStream::new(body);
    Box::pin(futures::stream::unfold(Some(frames), |state| async move {
        let mut frames = state?;
        loop {
            match tokio::time::timeout(BODY_IDLE_TIMEOUT, frames.next()).await {
                Err(_) => {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no request body data received for 60 seconds",
                    );
                    return Some((Err(e), None));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(std::io::Error::other(e)), None)),
                Ok(Some(Ok(f))) => {
                    if let Ok(data) = f.into_data() {
                        return Some((Ok::<Bytes, std::io::Error>(data), Some(frames)));
                    }
                }
            }
        }
    }))
}

/// What the listener serves: peer RPC from the first moment (peers need it to agree on
/// the formats), the S3 application once start-up has built it.
pub struct Front {
    pub app: std::sync::OnceLock<Arc<App>>,
    pub rpc: Option<Arc<RpcService>>,
}

impl Front {
    pub fn new(rpc: Option<Arc<RpcService>>) -> Self {
        Self {
            app: std::sync::OnceLock::new(),
            rpc,
        }
    }

    /// A front that serves `app` right away (standalone servers, tests).
    pub fn with_app(app: Arc<App>) -> Self {
        let f = Self::new(None);
        let _ = f.app.set(app);
        f
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response<RespBody> {
        if let Some(rpc) = &self.rpc {
            if RpcService::handles(req.uri().path()) {
                return rpc.handle(req).await;
            }
        }
        match self.app.get() {
            Some(app) => app.clone().handle(req).await,
            None if req.uri().path().trim_end_matches('/') == "/minio/health/live" => {
                crate::body::empty(http::StatusCode::OK)
            }
            None => {
                let mut r = crate::body::empty(http::StatusCode::SERVICE_UNAVAILABLE);
                r.headers_mut().insert(
                    http::header::RETRY_AFTER,
                    http::HeaderValue::from_static("1"),
                );
                r
            }
        }
    }
}

/// Accepts connections until `shutdown` fires.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Arc<Front>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        // Small responses must not wait for delayed ACKs (Nagle).
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(app.handle(req).await) }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(true);
            let result = match tls {
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(s)) => builder.serve_connection(TokioIo::new(s), service).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    }
                }
                None => {
                    builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
}
