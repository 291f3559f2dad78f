//! Peer RPC authentication against running servers: a genuine call captured on the wire
//! (built and signed by the real client code) cannot be replayed, nor re-used with another
//! body, nor sent to another server; streamed shard frames are checked one by one; and a
//! server with another `CAIRN_CLUSTER_SECRET` is refused at start-up by name, while the
//! same secret lets servers with different root credentials form a cluster.

use crate::common;

use cairn::config::ServerConfig;
use cairn::drive::Drive;
use cairn::drive::remote::RemoteDrive;
use cairn::rpc::auth::{self, BodyDigest, RpcKey};
use cairn::rpc::chunks::FrameSigner;
use cairn::rpc::client::{ClientTls, PeerClient};
use cairn::server::{Running, StartError};
use common::{PASSWORD, USER, config, raw};
use http::Method;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Endpoints of `servers` servers on 127.0.0.1.. with `per` drives each, under `root`.
fn endpoints(root: &Path, port: u16, servers: usize, per: usize) -> Vec<String> {
    (1..=servers)
        .flat_map(|n| {
            (1..=per).map(move |d| {
                format!(
                    "http://127.0.0.{n}:{port}{}",
                    root.join(format!("n{n}/d{d}")).display()
                )
            })
        })
        .collect()
}

fn server_config(eps: &[String], n: usize, port: u16) -> ServerConfig {
    let mut cfg = config(&[], &format!("127.0.0.{n}:{port}"));
    cfg.drives = eps.to_vec();
    cfg
}

/// One server whose 4 drives are endpoint URLs: a distributed deployment of one, which
/// serves peer RPC.
async fn one_server(root: &Path) -> (Running, u16, Vec<String>) {
    let port = free_port();
    let eps = endpoints(root, port, 1, 4);
    let running = tokio::time::timeout(
        Duration::from_secs(60),
        cairn::server::start(&server_config(&eps, 1, port)),
    )
    .await
    .expect("starts within 60 s")
    .expect("server starts");
    (running, port, eps)
}

fn peer(port: u16, key: RpcKey) -> Arc<PeerClient> {
    PeerClient::new(
        "http",
        &format!("127.0.0.1:{port}"),
        key,
        &ClientTls::default(),
    )
}

/// The raw bytes of a call: what a machine between the servers would capture.
fn wire(port: u16, path: &str, header: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{}: {header}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        auth::HEADER,
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_peer_call_cannot_be_replayed_or_given_another_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, port, eps) = one_server(dir.path()).await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let key = RpcKey::derive(USER, PASSWORD, None);
    let client = peer(port, key.clone());
    let drive_path = dir.path().join("n1/d1").display().to_string();
    let query = cairn::rpc::query(&[("drive", &drive_path), ("path", "probe/replay.bin")]);

    // A genuine call, signed by the client code, sent as captured.
    let (path, signed) = client.sign_call(
        &Method::POST,
        "drive/write_sys_file",
        &query,
        BodyDigest::of(b"original"),
    );
    let first = raw(addr, &wire(port, &path, &signed.header, b"original")).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert!(
        first.header(auth::ANSWER_HEADER).is_some(),
        "answers are signed"
    );

    // The same bytes again: refused as a replay.
    let again = raw(addr, &wire(port, &path, &signed.header, b"original")).await;
    assert_eq!(again.status, 401, "{}", again.text());
    assert!(again.text().contains("replay"), "{}", again.text());

    // A fresh capture re-used with another body: refused, the file keeps its bytes.
    let (path, signed) = client.sign_call(
        &Method::POST,
        "drive/write_sys_file",
        &query,
        BodyDigest::of(b"original"),
    );
    let forged = raw(addr, &wire(port, &path, &signed.header, b"FORGED!!")).await;
    assert_eq!(forged.status, 401, "{}", forged.text());
    assert!(forged.text().contains("body"), "{}", forged.text());

    // The header of another server's call: refused here (every server has the same paths).
    let elsewhere = PeerClient::new(
        "http",
        &format!("127.0.0.2:{port}"),
        key.clone(),
        &ClientTls::default(),
    );
    let (path, signed) = elsewhere.sign_call(
        &Method::POST,
        "drive/write_sys_file",
        &query,
        BodyDigest::of(b"FORGED!!"),
    );
    let moved = raw(addr, &wire(port, &path, &signed.header, b"FORGED!!")).await;
    assert_eq!(moved.status, 401, "{}", moved.text());

    // Through the real client (which checks the answer's signature): the original bytes.
    let remote = RemoteDrive::new(client.clone(), drive_path.clone(), eps[0].clone());
    let stored = remote
        .read_sys_file("probe/replay.bin")
        .await
        .expect("read through the client");
    assert_eq!(stored.as_ref(), b"original");

    // Hostile numbers in the header: refused, and the server keeps answering.
    for header in [
        format!(
            "v2:99999999999999999999:{}:{}:{}",
            "0".repeat(32),
            "0".repeat(64),
            "0".repeat(64)
        ),
        format!(
            "v2:9223372036854775807:{}:{}:{}",
            "0".repeat(32),
            "0".repeat(64),
            "0".repeat(64)
        ),
        format!(
            "v2:-9223372036854775808:{}:{}:{}",
            "0".repeat(32),
            "0".repeat(64),
            "0".repeat(64)
        ),
    ] {
        let r = raw(addr, &wire(port, &path, &header, b"")).await;
        assert!(r.status == 400 || r.status == 401, "{header}: {}", r.status);
    }
    assert!(remote.check().await.is_ok(), "still serving");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_shard_frame_is_refused_before_it_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (running, port, _) = one_server(dir.path()).await;
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    let key = RpcKey::derive(USER, PASSWORD, None);
    let client = peer(port, key.clone());
    let drive_path = dir.path().join("n1/d1").display().to_string();
    let query = cairn::rpc::query(&[
        ("drive", &drive_path),
        ("stage", "0123456789abcdef"),
        ("name", "part.1"),
    ]);

    // Frames for two chunks and the end, signed by the client code.
    let stream = |alter: bool| {
        let (path, signed) = client.sign_call(
            &Method::POST,
            "drive/create_shard",
            &query,
            BodyDigest::Streamed,
        );
        let mut s = FrameSigner::new(key.clone(), signed.signature);
        let mut body = Vec::new();
        for chunk in [&b"first chunk"[..], b"second chunk"] {
            body.extend_from_slice(&s.header(chunk).expect("frame"));
            body.extend_from_slice(chunk);
        }
        body.extend_from_slice(&s.end().expect("end"));
        if alter {
            // A byte of "second chunk", after the first frame and the second's header.
            let at = 36 + 11 + 36 + 3;
            body[at] ^= 0x20;
        }
        wire(port, &path, &signed.header, &body)
    };
    let good = raw(addr, &stream(false)).await;
    assert_eq!(good.status, 200, "{}", good.text());
    let bad = raw(addr, &stream(true)).await;
    assert_eq!(bad.status, 401, "{}", bad.text());
    assert!(bad.text().contains("frame"), "{}", bad.text());
    running.stop().await;
}

/// Starts two servers of one deployment (drives under `dir`, both with the same cluster
/// secret) with `adjust` applied to the second; returns how each start ended, or `None`
/// for one still waiting when the other refused or 30 s passed.
async fn two_servers(
    dir: &Path,
    adjust: impl FnOnce(&mut ServerConfig),
) -> (
    Option<Result<Running, StartError>>,
    Option<Result<Running, StartError>>,
) {
    let port = free_port();
    let eps = endpoints(dir, port, 2, 2);
    let mut one = server_config(&eps, 1, port);
    one.cluster_secret = Some("the-cluster-secret".into());
    let mut two = server_config(&eps, 2, port);
    two.cluster_secret = Some("the-cluster-secret".into());
    adjust(&mut two);
    let a = tokio::spawn(async move { cairn::server::start(&one).await });
    let b = tokio::spawn(async move { cairn::server::start(&two).await });
    let mut handles = [Some(a), Some(b)];
    let mut results: [Option<Result<Running, StartError>>; 2] = [None, None];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Bounded by the deadline; a refusal by either side, or both started, ends it sooner.
    loop {
        for (h, r) in handles.iter_mut().zip(results.iter_mut()) {
            if let Some(done) = h.take_if(|h| h.is_finished()) {
                *r = Some(done.await.expect("join"));
            }
        }
        let refused = results.iter().any(|r| matches!(r, Some(Err(_))));
        let all = results.iter().all(Option::is_some);
        if refused || all || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for h in handles.into_iter().flatten() {
        h.abort();
    }
    let [a, b] = results;
    (a, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cluster_secret_replaces_root_credentials_and_another_secret_is_refused_by_name() {
    // The same secret, other root credentials on the second server: the servers agree
    // (root credentials can rotate without re-keying the cluster).
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_servers(dir.path(), |c| {
        c.root_password = "a-rotated-password".into()
    })
    .await;
    for r in [a, b] {
        let running = r.expect("started within 30 s").expect("server starts");
        running.stop().await;
    }
    // Another secret: refused, naming the peer and the setting.
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = two_servers(dir.path(), |c| {
        c.cluster_secret = Some("another-secret".into())
    })
    .await;
    let refusals: Vec<String> = [a, b]
        .into_iter()
        .flatten()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    assert!(!refusals.is_empty(), "nobody refused the other secret");
    for msg in &refusals {
        assert!(msg.contains("127.0.0."), "names the peer: {msg}");
        assert!(
            msg.contains("CAIRN_CLUSTER_SECRET"),
            "names the setting: {msg}"
        );
    }
}
