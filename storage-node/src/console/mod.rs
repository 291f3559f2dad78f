//! Layer 0, beside the front: the web console on its own port (`--console-address`,
//! `:9090`), over HTTPS with the S3 port's certificates when `--certs-dir` has them.
//! Server-rendered HTML (`html`, `pages`) with a little JavaScript and CSS embedded in
//! the binary (`assets`); nothing is fetched at run time.
//!
//! A person logs in with an access key and secret key (root or a user); the console asks
//! STS `AssumeRole` for temporary credentials under that identity and keeps them in a
//! sealed, `HttpOnly`, `SameSite=Strict` cookie (`session`). Every page and action is
//! then an ordinary S3 or admin request signed with those credentials and served
//! in-process by the S3 port's application (`backend`), so the console can never do more
//! than the identity may. State-changing requests are CSRF-checked (`csrf`), logins are
//! rate-limited (`rate_limit`) and, being STS calls, audited like every API call.
//!
//! Flow of one request: the listener (`front::listener`, shared with the S3 port)
//! → [`Console::serve`]: static assets and the login page need no session; everything
//! else opens the session cookie (else: to the login page), checks CSRF on
//! `POST`/`PUT`/`DELETE`, and goes to its page in `pages`.

pub mod backend;
pub mod csrf;
pub mod error;
pub mod form;
pub mod html;
pub mod pages;
pub mod rate_limit;
pub mod session;
pub mod xml;

use crate::body::RespBody;
use crate::front::Front;
use crate::iam::seal::SealKey;
use crate::remote::Remote;
use backend::Backend;
use bytes::Bytes;
use error::ConsoleError;
use http::{HeaderValue, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use std::sync::Arc;

/// The console's settings, resolved by start-up.
#[derive(Clone)]
pub struct ConsoleConfig {
    pub root_user: String,
    pub root_password: String,
    pub region: String,
    /// Whether the console port serves TLS.
    pub secure: bool,
    /// The S3 port's address (`host:port`): requests are signed for it, and share links
    /// point at its port.
    pub s3_address: std::net::SocketAddr,
}

impl std::fmt::Debug for ConsoleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleConfig")
            .field("root_user", &self.root_user)
            .field("secure", &self.secure)
            .field("s3_address", &self.s3_address)
            .finish_non_exhaustive()
    }
}

/// The console: what its listener serves.
pub struct Console {
    pub(crate) backend: Backend,
    pub(crate) sessions: session::Sessions,
    pub(crate) limiter: rate_limit::LoginLimiter,
    pub(crate) secure: bool,
    pub(crate) s3_address: std::net::SocketAddr,
}

impl crate::front::listener::Handler for Console {
    fn handle(
        &self,
        req: Request<Incoming>,
    ) -> impl std::future::Future<Output = Response<RespBody>> + Send {
        self.serve(req)
    }
}

/// The key sessions are sealed with: derived from the root credentials, so every server
/// of the deployment shares it; distinct from the STS tokens' key by its context.
fn session_key(cfg: &ConsoleConfig) -> SealKey {
    SealKey::from_root(&format!("console:{}", cfg.root_user), &cfg.root_password)
}

impl Console {
    pub fn new(front: Arc<Front>, cfg: &ConsoleConfig) -> Self {
        Self {
            backend: Backend::new(front, cfg.region.clone(), cfg.s3_address.to_string()),
            sessions: session::Sessions::new(session_key(cfg)),
            limiter: rate_limit::LoginLimiter::new(rate_limit::Limits::default()),
            secure: cfg.secure,
            s3_address: cfg.s3_address,
        }
    }

    /// Answers one request; never fails.
    pub async fn serve(&self, req: Request<Incoming>) -> Response<RespBody> {
        use tracing::Instrument;
        let span = tracing::info_span!("console", method = %req.method(), path = %req.uri().path());
        async move {
            let mut resp = self.route(req).await;
            security_headers(resp.headers_mut(), self.secure);
            resp
        }
        .instrument(span)
        .await
    }

    async fn route(&self, req: Request<Incoming>) -> Response<RespBody> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path().to_string();
        match (&parts.method, path.as_str()) {
            (&Method::GET, "/static/console.js") => {
                return pages::asset(pages::JS, "text/javascript; charset=utf-8");
            }
            (&Method::GET, "/static/console.css") => {
                return pages::asset(pages::CSS, "text/css; charset=utf-8");
            }
            (&Method::GET, "/login") => return pages::login::form(self, &parts, None),
            // Browsers ask for it on their own; it must not redirect to the login page.
            (&Method::GET, "/favicon.ico") => {
                return crate::body::empty(StatusCode::NO_CONTENT);
            }
            (&Method::POST, "/login") => return pages::login::submit(self, parts, body).await,
            _ => {}
        }
        let now = now_ms();
        let cookie =
            session::cookie(&parts.headers, session::cookie_name(self.secure)).unwrap_or("");
        let session = match self.sessions.open(cookie, now) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(reason = %e, "no console session");
                return if parts.method == Method::GET {
                    pages::redirect("/login")
                } else {
                    pages::plain(StatusCode::UNAUTHORIZED, "log in first")
                };
            }
        };
        let remote = parts.extensions.get::<Remote>().copied();
        let host = request_host(&parts);
        let query = form::Pairs::parse(parts.uri.query().unwrap_or(""));
        let ctx = pages::Ctx {
            console: self,
            session: &session,
            remote,
            query,
            host,
        };
        let changes = !matches!(parts.method, Method::GET | Method::HEAD);
        if changes && !csrf::same_origin(&parts.headers, &ctx.host) {
            tracing::warn!(user = %session.user, "console request from another origin refused");
            return pages::error_page(&ctx, &ConsoleError::Forbidden);
        }
        let is_form = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if changes && is_form {
            let form = match form::read(body).await {
                Ok(f) => f,
                Err(e) => return pages::error_page(&ctx, &e),
            };
            if !csrf::matches(&session.csrf, form.get(csrf::FIELD)) {
                tracing::warn!(user = %session.user, "console form without its CSRF token refused");
                return pages::error_page(&ctx, &ConsoleError::Forbidden);
            }
            return pages::post_form(&ctx, &path, form).await;
        }
        if changes {
            let token = parts
                .headers
                .get(csrf::HEADER)
                .and_then(|v| v.to_str().ok());
            if !csrf::matches(&session.csrf, token) {
                tracing::warn!(user = %session.user, "console request without its CSRF token refused");
                return pages::plain(StatusCode::FORBIDDEN, "CSRF check failed");
            }
        }
        pages::dispatch(&ctx, &parts, body).await
    }
}

/// The host the browser addressed: `Host` in HTTP/1.1, `:authority` in HTTP/2 (which
/// browsers speak over TLS).
pub(crate) fn request_host(parts: &http::request::Parts) -> String {
    parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_string()))
        .unwrap_or_default()
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Headers on every console answer: a strict Content-Security-Policy (only this
/// origin's script and style, no framing, forms only to itself), no sniffing, no
/// referrer, no caching; HSTS over TLS.
fn security_headers(h: &mut http::HeaderMap, secure: bool) {
    let set = |h: &mut http::HeaderMap, name: &'static str, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    // Not `no-referrer`: with it browsers send `Origin: null` on form posts, which the
    // CSRF origin check must refuse. `same-origin` keeps the referrer inside the console.
    set(h, "referrer-policy", "same-origin");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(h, "cache-control", "no-store");
    if secure {
        set(h, "strict-transport-security", "max-age=31536000");
    }
}

/// A whole body from a string.
pub(crate) fn full(s: impl Into<Bytes>) -> RespBody {
    crate::body::full(s.into())
}

/// Binds the console's address and serves it until `shutdown` fires; the address it
/// listens on (port 0 picks one).
pub async fn start(
    front: Arc<Front>,
    cfg: &ConsoleConfig,
    address: &str,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: crate::front::Limits,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let console = Arc::new(Console::new(front, cfg));
    tokio::spawn(crate::front::listener::serve(
        listener, tls, console, limits, shutdown,
    ));
    Ok(bound)
}
