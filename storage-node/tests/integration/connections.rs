//! Connection limits of the HTTP front, against a real server over raw sockets: silent
//! and slow clients are disconnected, idle HTTP/1 and HTTP/2 connections are closed, the
//! connection cap answers `503 SlowDown` (health probes still answered), a client that
//! stops reading a response is disconnected, metric labels stay bounded whatever the
//! method, and concurrent health probes share one probe of the drives.
//!
//! Timeouts are set short here; every wait for the server is generous (several times
//! the timeout), so the assertions are about what happens, not how fast.

use crate::common;

use cairn::front::Limits;
use cairn::server::Running;
use common::{PASSWORD, parse_response, signed_request};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the server to close a connection it should close.
const GENEROUS: Duration = Duration::from_secs(20);

struct Server {
    _dir: tempfile::TempDir,
    running: Running,
    addr: SocketAddr,
}

async fn start(limits: Limits) -> Server {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<_> = (1..=4).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.front = limits;
    let running = cairn::server::start(&cfg).await.expect("server starts");
    let addr = running.address;
    Server {
        _dir: dir,
        running,
        addr,
    }
}

/// Reads until the server closes the connection; `None` if it did not within
/// [`GENEROUS`]. A reset counts as closed.
async fn closed_by_server(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    match tokio::time::timeout(GENEROUS, s.read_to_end(&mut buf)).await {
        Ok(_) => Some(buf),
        Err(_) => None,
    }
}

fn health_request() -> &'static [u8] {
    b"GET /minio/health/live HTTP/1.1\r\nhost: cairn\r\n\r\n"
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_header_timeout() {
    let srv = start(Limits {
        read_header_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    let got = closed_by_server(&mut s).await;
    assert_eq!(
        got,
        Some(Vec::new()),
        "a socket that sends nothing stays open"
    );
    srv.running.stop().await;
}

#[tokio::test]
async fn a_slow_header_client_is_closed() {
    let srv = start(Limits {
        read_header_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let s = TcpStream::connect(srv.addr).await.expect("connect");
    let (mut rd, mut wr) = s.into_split();
    wr.write_all(b"GET /minio/health/live HTTP/1.1\r\nhost: cairn\r\n")
        .await
        .expect("write");
    // One header byte every 200 ms, never finishing the head.
    let dribble = tokio::spawn(async move {
        for _ in 0..500 {
            if wr.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(GENEROUS, rd.read_to_end(&mut buf)).await;
    dribble.abort();
    assert!(
        closed.is_ok(),
        "a client dribbling its headers is never closed"
    );
    assert!(
        buf.is_empty() || parse_response(&buf).status == 408,
        "unexpected answer {:?}",
        String::from_utf8_lossy(&buf)
    );
    srv.running.stop().await;
}

#[tokio::test]
async fn an_idle_http1_keep_alive_connection_is_closed() {
    let srv = start(Limits {
        idle_timeout: Duration::from_secs(1),
        read_header_timeout: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    s.write_all(health_request()).await.expect("write");
    let got = closed_by_server(&mut s).await.expect("closed when idle");
    assert_eq!(parse_response(&got).status, 200);
    srv.running.stop().await;
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed() {
    let srv = start(Limits {
        idle_timeout: Duration::from_secs(1),
        read_header_timeout: Duration::from_secs(60),
        ..Limits::default()
    })
    .await;
    let tcp = TcpStream::connect(srv.addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(tcp),
    )
    .await
    .expect("h2 handshake");
    let conn = tokio::spawn(conn);
    let req = http::Request::get(format!("http://{}/minio/health/live", srv.addr))
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .expect("request");
    let resp = sender.send_request(req).await.expect("h2 request");
    assert_eq!(resp.status(), 200);
    drop(resp);
    let ended = tokio::time::timeout(GENEROUS, conn).await;
    assert!(ended.is_ok(), "an idle HTTP/2 connection is never closed");
    srv.running.stop().await;
}

/// Opens a socket and checks it is accepted (the server is alive on it).
async fn silent(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("connect")
}

#[tokio::test]
async fn the_connection_cap_answers_slow_down_and_closes() {
    let srv = start(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let mut held = vec![silent(srv.addr).await, silent(srv.addr).await];
    // Let the server count them before the next one.
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Over the cap: S3 requests get SlowDown and the connection closes...
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    s.write_all(b"GET /bucket/key HTTP/1.1\r\nhost: cairn\r\n\r\n")
        .await
        .expect("write");
    let got = closed_by_server(&mut s)
        .await
        .expect("closed after SlowDown");
    let r = parse_response(&got);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains("<Code>SlowDown</Code>"), "{}", r.text());

    // ...but health probes are still answered.
    let mut h = TcpStream::connect(srv.addr).await.expect("connect");
    h.write_all(health_request()).await.expect("write");
    let got = closed_by_server(&mut h)
        .await
        .expect("closed after answering");
    assert_eq!(parse_response(&got).status, 200);

    // Beyond the headroom the server answers SlowDown without reading anything.
    for _ in 0..cairn::front::limits::HEALTH_HEADROOM {
        held.push(silent(srv.addr).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    let got = closed_by_server(&mut s).await.expect("refused and closed");
    let r = parse_response(&got);
    assert_eq!(r.status, 503);
    assert!(r.text().contains("<Code>SlowDown</Code>"), "{}", r.text());

    // Closing the held connections frees their slots.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut s = TcpStream::connect(srv.addr).await.expect("connect");
    s.write_all(b"GET /bucket/key HTTP/1.1\r\nhost: cairn\r\nconnection: close\r\n\r\n")
        .await
        .expect("write");
    let got = closed_by_server(&mut s).await.expect("answered");
    let r = parse_response(&got);
    assert!(!r.text().contains("SlowDown"), "{}", r.text());
    srv.running.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_a_get_is_disconnected() {
    const SIZE: usize = 32 << 20;
    let srv = start(Limits {
        send_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let c = common::client_for(&format!("http://{}", srv.addr));
    c.create_bucket()
        .bucket("big")
        .send()
        .await
        .expect("bucket");
    c.put_object()
        .bucket("big")
        .key("obj")
        .body(aws_sdk_s3::primitives::ByteStream::from(common::data(
            SIZE, 7,
        )))
        .send()
        .await
        .expect("put");

    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    // A small receive buffer, so that most of the body stays on the server's side.
    sock.set_recv_buffer_size(64 << 10).expect("rcvbuf");
    let mut s = sock.connect(srv.addr).await.expect("connect");
    let req = signed_request(srv.addr, "GET", "/big/obj", "", &[], b"", PASSWORD);
    s.write_all(&req).await.expect("write");
    // Read nothing for several send timeouts.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let got = closed_by_server(&mut s).await;
    let got = got.expect("the connection is closed");
    assert!(
        got.len() < SIZE,
        "the whole body ({} bytes) was still sent to a client that stopped reading",
        got.len()
    );
    // The server still serves others.
    let body = common::get_bytes(&c, "big", "obj").await;
    assert_eq!(body.len(), SIZE);
    srv.running.stop().await;
}

/// The value of an unlabelled metric line.
fn metric(page: &str, name: &str) -> u64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics page"))
}

/// A GET with the root's metrics bearer token (the metrics pages need one).
async fn get(addr: SocketAddr, path: &str) -> common::RawResponse {
    let token =
        cairn::front::metrics::token::generate(common::USER, PASSWORD, Duration::from_secs(600));
    common::raw(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nhost: cairn\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
}

#[tokio::test]
async fn garbage_methods_do_not_grow_the_metrics_page() {
    let srv = start(Limits::default()).await;
    for i in 0..1000 {
        let req = format!("XMETHOD{i} /bkt/k HTTP/1.1\r\nhost: cairn\r\nconnection: close\r\n\r\n");
        let r = common::raw(srv.addr, req.as_bytes()).await;
        assert!(r.status >= 400, "method {i}: {}", r.status);
    }
    let page = get(srv.addr, "/minio/v2/metrics/cluster").await.text();
    let series: Vec<&str> = page
        .lines()
        .filter(|l| l.starts_with("minio_s3_requests_"))
        .collect();
    // Refused before they named an S3 operation: counted, never under a label of
    // their own.
    assert!(series.len() <= 8, "{series:#?}");
    assert!(!page.to_ascii_lowercase().contains("xmethod"), "{page}");
    let refused: u64 = series
        .iter()
        .filter(|l| l.starts_with("minio_s3_requests_rejected_"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
        .sum();
    assert_eq!(refused, 1000, "{series:#?}");
    srv.running.stop().await;
}

#[tokio::test]
async fn concurrent_health_probes_share_one_drive_probe() {
    const PROBES: usize = 64;
    let srv = start(Limits::default()).await;
    let before = metric(
        &get(srv.addr, "/minio/v2/metrics/cluster").await.text(),
        "cairn_drive_state_refreshes_total",
    );
    let started = Instant::now();
    let probes = (0..PROBES).map(|_| get(srv.addr, "/minio/health/cluster"));
    let answers = futures::future::join_all(probes).await;
    let took = started.elapsed();
    assert!(answers.iter().all(|r| r.status == 200));
    let after = metric(
        &get(srv.addr, "/minio/v2/metrics/cluster").await.text(),
        "cairn_drive_state_refreshes_total",
    );
    // At most one probe of the drives per second (the cache's age), plus one for the
    // metrics request that reads the counter.
    let allowed = took.as_secs() + 2;
    assert!(
        after - before <= allowed,
        "{PROBES} health probes in {took:?} made {} drive probes",
        after - before
    );
    srv.running.stop().await;
}
