//! Layer 1: the HTTP front. Accepts connections (HTTP/1.1 and HTTP/2, TLS with
//! rustls) within the connection limits (`limits`, `listener`), gives every request an
//! id, and routes by path: peer RPC (`/cairn/rpc/v1/...`), health, metrics, mounted
//! routes (the admin API, `/cairn/admin/v1/...`, see `route`), S3. S3 calls are recorded
//! in the audit log when a webhook is configured (`crate::audit`).

pub mod activity;
pub mod drive_state;
pub mod health;
pub mod listener;
pub mod metrics;
pub mod route;
pub mod tls;

/// The front's settings are resolved with the others in `config`.
pub use crate::config::limits::{self, Limits};
pub use listener::serve;
pub use route::Route;

use crate::objects::{BodyStream, ObjectLayer};
use crate::rpc::server::RpcService;
use crate::s3::{RespBody, S3Service};
use bytes::Bytes;
use futures::StreamExt;
use http::{Request, Response};
use http_body_util::BodyStream as FrameStream;
use hyper::body::Incoming;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tracing::Instrument;

pub struct App {
    pub s3: S3Service,
    pub objects: Arc<ObjectLayer>,
    /// S3 counters, the `server` label and who may read the metrics pages.
    pub metrics: metrics::Metrics,
    /// Drive and peer state for health and metrics, probed at most once a second.
    pub drive_state: drive_state::DriveStateCache,
    /// APIs mounted beside S3 (the admin API), asked in order before S3.
    routes: Vec<Arc<dyn Route>>,
    /// A request body that delivers nothing for this long fails its request.
    receive_timeout: Duration,
    next_id: AtomicU64,
    node_tag: u32,
    /// The audit log, when a webhook is configured: every S3 call is recorded.
    pub audit: Option<Arc<crate::audit::Audit>>,
}

impl App {
    pub fn new(s3: S3Service, objects: Arc<ObjectLayer>) -> Self {
        Self {
            s3,
            objects,
            metrics: metrics::Metrics::default(),
            drive_state: drive_state::DriveStateCache::default(),
            routes: Vec::new(),
            receive_timeout: Limits::default().receive_timeout,
            next_id: AtomicU64::new(1),
            node_tag: rand::random(),
            audit: None,
        }
    }

    /// Records every S3 call in `audit` (see `crate::audit`).
    pub fn with_audit(mut self, audit: Option<crate::audit::Audit>) -> Self {
        self.audit = audit.map(Arc::new);
        self
    }

    /// Serves the metrics pages to readers `auth` lets in, naming this server after its
    /// drives' endpoints or, standalone, after `address` (see `metrics::server_name`).
    pub fn with_metrics(mut self, auth: crate::config::PrometheusAuth, address: &str) -> Self {
        self.metrics.auth = auth;
        self.metrics.server = metrics::server_name(&self.objects, address);
        self
    }

    /// Serves `route`'s paths (before S3).
    pub fn mount(mut self, route: Arc<dyn Route>) -> Self {
        self.routes.push(route);
        self
    }

    /// Applies the request-body part of the connection limits.
    pub fn with_limits(mut self, limits: &Limits) -> Self {
        self.receive_timeout = limits.receive_timeout;
        self
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
            if let Some(scope) = metrics::Scope::of(path) {
                return metrics::serve(&self, req.headers(), scope, path, &id).await;
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
            let body = body_stream(body, self.receive_timeout);
            self.route(parts, body, &id).await
        }
        .instrument(span)
        .await
    }

    /// Serves one signed S3 or admin request made inside this process (the console acts
    /// this way, under its session's credentials): the same routing, permission checks,
    /// metrics and audit as a request from the network.
    pub async fn dispatch(
        self: Arc<Self>,
        parts: http::request::Parts,
        body: BodyStream,
    ) -> Response<RespBody> {
        let id = self.request_id();
        let span = tracing::info_span!("req", id = %id, method = %parts.method, path = %parts.uri.path(), via = "console");
        self.route(parts, body, &id).instrument(span).await
    }

    /// Mounted APIs, then S3.
    async fn route(
        &self,
        parts: http::request::Parts,
        body: BodyStream,
        id: &str,
    ) -> Response<RespBody> {
        // Mounted APIs (the admin API: SigV4, JSON), audited as S3 calls are: the
        // route names the call in the answer's `ApiCall`.
        if let Some(route) = self.routes.iter().find(|r| r.handles(parts.uri.path())) {
            let recorder = self.audit.as_ref().map(|a| a.begin(&parts, id));
            let mut body = body;
            if let Some(r) = &recorder {
                body = r.count(body);
            }
            let resp = route.handle(parts, body, id).await;
            return match recorder {
                Some(r) => r.finish(resp),
                None => resp,
            };
        }
        let started = std::time::Instant::now();
        let inflight = self.metrics.s3.start();
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
        let recorder = self.audit.as_ref().map(|a| a.begin(&parts, id));
        let mut body = self.metrics.s3.count_received(body);
        if let Some(r) = &recorder {
            body = r.count(body);
        }
        let mut resp = self.s3.handle(parts, body, id).await;
        let ttfb = started.elapsed();
        if expects_continue && (empty_body || !resp.status().is_success()) {
            resp.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
        }
        let resp = self.metrics.s3.finish(resp, ttfb, inflight);
        tracing::debug!(status = resp.status().as_u16(), "done");
        match recorder {
            Some(r) => r.finish(resp),
            None => resp,
        }
    }
}

/// The request body as a stream of data chunks; HTTP trailers are not used by S3. A
/// client that sends no body bytes for `idle` has its request failed, so a stalled
/// upload cannot hold a connection, buffers and staging files forever.
fn body_stream(body: Incoming, idle: Duration) -> BodyStream {
    let frames = FrameStream::new(body);
    Box::pin(futures::stream::unfold(
        Some(frames),
        move |state| async move {
            let mut frames = state?;
            loop {
                match tokio::time::timeout(idle, frames.next()).await {
                    Err(_) => {
                        let e = std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("no request body data received for {idle:?}"),
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
        },
    ))
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

    /// True for requests a full server still answers (see `limits::HEALTH_HEADROOM`):
    /// health probes, and peer RPC, which is authenticated and which the cluster needs.
    pub fn answers_when_full<B>(req: &Request<B>) -> bool {
        let path = req.uri().path();
        path.starts_with("/minio/health/") || RpcService::handles(path)
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
