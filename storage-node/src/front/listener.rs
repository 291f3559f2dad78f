//! The accept loop and the life of one connection, with the limits of
//! [`super::limits::Limits`]:
//!
//! 1. Accept, and count the connection. Up to the cap it is served normally; up to
//!    [`HEALTH_HEADROOM`] more are served in overload mode (health probes and peer RPC
//!    answered, everything else `503 SlowDown`, then closed); beyond that the server
//!    writes `503 SlowDown` without reading a request and closes.
//! 2. TLS handshake, bounded by the handshake timeout.
//! 3. hyper serves HTTP/1.1 or HTTP/2 (read from the first bytes), with hyper's HTTP/1
//!    header-read timeout and HTTP/2 keep-alive pings. Beside it a watchdog closes the
//!    connection when no complete request arrived within the header timeout (this also
//!    covers a socket that never sends the bytes that tell the HTTP version), when no
//!    request was in flight for the idle timeout (HTTP/2: GOAWAY first), or when a
//!    response body waited longer than the send timeout for the client to read.

use super::activity::{Activity, Verdict};
use super::limits::{HEALTH_HEADROOM, Limits};
use crate::body::RespBody;
use crate::s3::error::S3Error;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// How long an idle connection being closed may take to finish (HTTP/2 GOAWAY).
const CLOSE_GRACE: Duration = Duration::from_secs(5);
/// How long a refused connection (beyond the headroom) is given to take its answer.
const REFUSE_TIME: Duration = Duration::from_secs(1);

/// Counts open connections; one slot per connection, released when dropped.
struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// Over the cap, within the headroom.
    Overloaded,
}

/// What a listener serves: the S3 port's [`super::Front`], or the console.
pub trait Handler: Send + Sync + 'static {
    /// Answers one request; never fails (errors are answers).
    fn handle(
        &self,
        req: Request<Incoming>,
    ) -> impl std::future::Future<Output = Response<RespBody>> + Send;

    /// True for requests still answered when the connection is over the cap.
    fn answers_when_full(&self, _req: &Request<Incoming>) -> bool {
        false
    }
}

impl Handler for super::Front {
    fn handle(
        &self,
        req: Request<Incoming>,
    ) -> impl std::future::Future<Output = Response<RespBody>> + Send {
        super::Front::handle(self, req)
    }

    fn answers_when_full(&self, req: &Request<Incoming>) -> bool {
        super::Front::answers_when_full(req)
    }
}

/// Accepts connections until `shutdown` fires.
pub async fn serve<H: Handler>(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    front: Arc<H>,
    limits: Limits,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let cap = limits.effective_cap(super::limits::raise_open_files_limit());
    if cap < limits.max_connections {
        tracing::warn!(
            configured = limits.max_connections,
            cap,
            "the open-file limit is too low for CAIRN_MAX_CONNECTIONS: lowering the connection cap"
        );
    }
    let limits = Arc::new(limits);
    let open = Arc::new(AtomicUsize::new(0));
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
        let n = open.fetch_add(1, Ordering::AcqRel) + 1;
        let slot = Slot(open.clone());
        let mode = if n <= cap {
            Mode::Normal
        } else if n <= cap + HEALTH_HEADROOM {
            tracing::debug!(%peer, open = n, cap, "connection over the cap: overload mode");
            Mode::Overloaded
        } else {
            tracing::debug!(%peer, open = n, cap, "connection refused: too many open");
            tokio::spawn(refuse(stream, tls.is_none(), slot));
            continue;
        };
        tokio::spawn(connection(
            stream,
            peer,
            tls.clone(),
            front.clone(),
            limits.clone(),
            mode,
            slot,
        ));
    }
}

/// The S3 answer to a client the server has no room for.
fn slow_down(resource: &str) -> Response<RespBody> {
    let id = format!("{:016X}", rand::random::<u64>());
    let xml = S3Error::new(
        "SlowDown",
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many open connections; please reduce your request rate.",
    )
    .to_xml(resource, &id);
    let mut r = crate::s3::xml_response(StatusCode::SERVICE_UNAVAILABLE, xml);
    r.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static("1"),
    );
    r
}

/// Beyond the headroom: a canned `503 SlowDown` (plain HTTP only; a TLS client would
/// need a handshake first), then close. The request, if any, is drained briefly so the
/// close does not reset the answer away.
async fn refuse(mut stream: TcpStream, plain: bool, _slot: Slot) {
    if !plain {
        return;
    }
    let answer = async {
        let xml = S3Error::new(
            "SlowDown",
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many open connections; please reduce your request rate.",
        )
        .to_xml("/", "");
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/xml\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            xml.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(xml.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            if stream.read(&mut sink).await? == 0 {
                break;
            }
        }
        Ok::<_, std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSE_TIME, answer).await;
}

async fn connection<H: Handler>(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    front: Arc<H>,
    limits: Arc<Limits>,
    mode: Mode,
    _slot: Slot,
) {
    match tls {
        Some(acceptor) => {
            match tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(stream)).await
            {
                Ok(Ok(s)) => serve_io(TokioIo::new(s), peer, true, front, &limits, mode).await,
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        }
        None => serve_io(TokioIo::new(stream), peer, false, front, &limits, mode).await,
    }
}

/// Serves one connection until it ends or the watchdog closes it.
async fn serve_io<I, H: Handler>(
    io: I,
    peer: SocketAddr,
    secure: bool,
    front: Arc<H>,
    limits: &Limits,
    mode: Mode,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut req: Request<Incoming>| {
            let front = front.clone();
            let activity = activity.clone();
            req.extensions_mut()
                .insert(crate::remote::Remote { addr: peer, secure });
            async move {
                let in_flight = activity.begin();
                let resp = if mode == Mode::Overloaded && !front.answers_when_full(&req) {
                    slow_down(req.uri().path())
                } else {
                    front.handle(req).await
                };
                Ok::<_, std::convert::Infallible>(resp.map(|b| activity.track(b, in_flight)))
            }
        })
    };
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.read_header_timeout)
        // A client may shut its write side once the request is sent (`nc -N`, some
        // proxies); without this hyper drops the request mid-flight on that EOF, a race
        // with the handler. A partial request head followed by EOF still closes.
        .half_close(true)
        // In overload mode, one answer and the connection closes.
        .keep_alive(mode == Mode::Normal);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_timeout);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let verdict = tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
            return;
        }
        v = watchdog(&activity, limits) => v,
    };
    match verdict {
        // Dropped at once: waiting for a client that does not read is the problem.
        Verdict::SendStalled => {
            tracing::info!(%peer, "closing: the client stopped reading a response");
        }
        // HTTP/2 clients get a GOAWAY; a connection still busy after the grace is dropped.
        Verdict::Idle | Verdict::NoRequest | Verdict::Open => {
            tracing::debug!(%peer, ?verdict, "closing the connection");
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, conn).await;
        }
    }
}

/// Resolves when the connection should close, and why.
async fn watchdog(activity: &Activity, l: &Limits) -> Verdict {
    let shortest = l
        .read_header_timeout
        .min(l.idle_timeout)
        .min(l.send_timeout);
    let tick = (shortest / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        let v = activity.check(l.read_header_timeout, l.idle_timeout, l.send_timeout);
        if v != Verdict::Open {
            return v;
        }
    }
}
