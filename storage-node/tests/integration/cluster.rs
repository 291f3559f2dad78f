//! Distributed start-up and locking with real servers in this process: four servers on
//! 127.0.0.1-4 (same port), two drives each, one EC:4 set. The failure scenarios with
//! killed processes and network partitions are in e2e/test_cluster.py.

use crate::common;

use cairn::config::ServerConfig;
use cairn::server::{Running, StartError};
use common::{client_for, config, data, get_bytes};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Endpoint list of 4 servers x 2 drives under `root`, explicit (one pool).
fn endpoints(root: &Path, port: u16) -> Vec<String> {
    (1..=4)
        .flat_map(|n| {
            (1..=2).map(move |d| {
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

async fn start_cluster(root: &Path, port: u16) -> Vec<Running> {
    let eps = endpoints(root, port);
    let starts = (1..=4).map(|n| {
        let cfg = server_config(&eps, n, port);
        async move { cairn::server::start(&cfg).await }
    });
    let started = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(starts))
        .await
        .expect("the servers agree within 60 s");
    started
        .into_iter()
        .map(|r| r.expect("server starts"))
        .collect()
}

/// One S3 client per server, and `bucket` created through the first.
async fn clients_with_bucket(servers: &[Running], bucket: &str) -> Vec<aws_sdk_s3::Client> {
    let clients: Vec<_> = servers
        .iter()
        .map(|s| client_for(&format!("http://{}", s.address)))
        .collect();
    clients[0]
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
    clients
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_servers_form_one_namespace_and_serialize_writers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let servers = start_cluster(dir.path(), port).await;
    for s in &servers {
        let p = &s.layout.pools[0];
        assert_eq!((p.drives, p.sets, p.data, p.parity), (8, 1, 4, 4));
        assert!(s.layout.offline.is_empty(), "{:?}", s.layout.offline);
    }
    let clients = clients_with_bucket(&servers, "shared").await;
    let body = data(3 << 20, 7);
    clients[1]
        .put_object()
        .bucket("shared")
        .key("big")
        .body(body.clone().into())
        .send()
        .await
        .expect("put through server 2");
    for c in &clients {
        assert_eq!(get_bytes(c, "shared", "big").await, body);
    }
    // Every drive of every server holds a shard: the set spans the servers.
    for n in 1..=4 {
        for d in 1..=2 {
            let meta: PathBuf = dir.path().join(format!("n{n}/d{d}/shared/big/~meta"));
            assert!(meta.is_file(), "{} missing", meta.display());
        }
    }

    // Concurrent writers of one key through different servers: the quorum lock makes the
    // commits take turns, so the object is exactly one of the bodies, never a mix.
    let bodies: Vec<Vec<u8>> = (0..8).map(|i| data(1 << 20, 100 + i)).collect();
    let puts = bodies.iter().enumerate().map(|(i, b)| {
        let c = clients[i % 4].clone();
        let b = b.clone();
        async move {
            c.put_object()
                .bucket("shared")
                .key("contended")
                .body(b.into())
                .send()
                .await
        }
    });
    for r in futures::future::join_all(puts).await {
        r.expect("every contended put succeeds");
    }
    let got = get_bytes(&clients[3], "shared", "contended").await;
    assert!(
        bodies.contains(&got),
        "contended object is not one of the bodies"
    );
    for c in &clients {
        assert_eq!(get_bytes(c, "shared", "contended").await, got);
    }
    for s in servers {
        s.stop().await;
    }
}

/// Small objects are read without the quorum lock when a write quorum of drives agrees
/// (`ErasureSet::resolve_inline_nearby`). That must not weaken what readers see: while one
/// server overwrites a small key again and again and deletes it at the end, a reader on
/// another server never goes back to an older value, and after every acknowledged write
/// or delete each server returns exactly it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lock_free_small_reads_never_go_back_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let servers = start_cluster(dir.path(), port).await;
    let clients = clients_with_bucket(&servers, "small").await;
    let value = |i: u32| format!("{i:08}").repeat(500).into_bytes();
    let put = |c: aws_sdk_s3::Client, i: u32| async move {
        c.put_object()
            .bucket("small")
            .key("k")
            .body(value(i).into())
            .send()
            .await
            .expect("put");
    };
    put(clients[0].clone(), 0).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (c, stop) = (clients[1].clone(), stop.clone());
        tokio::spawn(async move {
            let mut last = 0u32;
            let mut reads = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let got = get_bytes(&c, "small", "k").await;
                let seen: u32 = std::str::from_utf8(&got[..8])
                    .expect("utf8")
                    .parse()
                    .expect("number");
                assert_eq!(got, value(seen), "a torn value");
                assert!(seen >= last, "read {seen} after {last}");
                last = seen;
                reads += 1;
            }
            reads
        })
    };
    for i in 1..=40 {
        put(clients[0].clone(), i).await;
        for c in &clients[1..] {
            assert_eq!(
                get_bytes(c, "small", "k").await,
                value(i),
                "after write {i}"
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.expect("reader");
    assert!(reads > 0);
    clients[2]
        .delete_object()
        .bucket("small")
        .key("k")
        .send()
        .await
        .expect("delete");
    for c in &clients {
        let r = c.get_object().bucket("small").key("k").send().await;
        assert!(r.is_err(), "a deleted key is gone on every server");
    }
    for s in servers {
        s.stop().await;
    }
}

/// Starts server 1 with the right list and server `n` as `adjust` changes it; whichever
/// notices the difference first refuses to go on (the other may keep waiting). Returns
/// that refusal's message.
async fn refusal(n: usize, adjust: impl FnOnce(&mut ServerConfig)) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let eps = endpoints(dir.path(), port);
    let good = server_config(&eps, 1, port);
    let mut bad = server_config(&eps, n, port);
    adjust(&mut bad);
    let one = tokio::spawn(async move { cairn::server::start(&good).await.map(|_| ()) });
    let other = tokio::spawn(async move { cairn::server::start(&bad).await.map(|_| ()) });
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let err = loop {
        if one.is_finished() || other.is_finished() {
            let done = if one.is_finished() { one } else { other };
            let r = done.await.expect("join");
            break r.expect_err("a server with a mismatching peer cannot start");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nobody refused within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(matches!(err, StartError::Bootstrap(_)), "{err}");
    err.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_with_another_command_line_is_refused_by_name() {
    // Another order of the drives.
    let msg = refusal(2, |c| c.drives.swap(6, 7)).await;
    assert!(msg.contains("127.0.0."), "names the peer: {msg}");
    assert!(msg.contains("order"), "names the difference: {msg}");
    // Another drive list.
    let msg = refusal(2, |c| {
        if let Some(last) = c.drives.last_mut() {
            *last = last.replace("/d2", "/elsewhere");
        }
    })
    .await;
    assert!(msg.contains("elsewhere"), "names the endpoint: {msg}");
    // Another parity.
    let msg = refusal(3, |c| c.storage_class = Some("EC:2".into())).await;
    assert!(msg.contains("EC:2"), "{msg}");
    // Other root credentials: the peer RPC refuses it.
    let msg = refusal(4, |c| c.root_password = "another-password".into()).await;
    assert!(msg.contains("credentials"), "{msg}");
}

/// Issue 13 on a cluster: a flat prefix larger than the drives' sorted-directory threshold,
/// listed page by page through a different server each time (continuation tokens carry no
/// server state), with deletes and new keys between pages; every key present throughout is
/// listed exactly once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_large_prefix_lists_in_order_through_any_server() {
    use futures::StreamExt;
    let root = tempfile::tempdir().expect("tempdir");
    let servers = start_cluster(root.path(), free_port()).await;
    let clients = clients_with_bucket(&servers, "lst").await;
    let keys: Vec<String> = (0..1200).map(|i| format!("wal/{:08}", i * 2)).collect();
    futures::stream::iter(keys.iter().enumerate())
        .for_each_concurrent(16, |(i, k)| {
            let c = clients[i % 4].clone();
            async move {
                c.put_object()
                    .bucket("lst")
                    .key(k)
                    .body(Vec::new().into())
                    .send()
                    .await
                    .expect("put");
            }
        })
        .await;
    let (mut listed, mut token, mut page) = (Vec::<String>::new(), None::<String>, 0usize);
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    loop {
        let c = &clients[page % 4];
        let r = c
            .list_objects_v2()
            .bucket("lst")
            .prefix("wal/")
            .max_keys(97)
            .set_continuation_token(token.clone())
            .send()
            .await
            .expect("list");
        listed.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        if !r.is_truncated().unwrap_or(false) {
            break;
        }
        token = r.next_continuation_token().map(str::to_string);
        // Churn between pages: delete a key ahead and add one between two old keys.
        let gone = format!("wal/{:08}", (page * 211 + 1000) % 2400 / 2 * 2);
        let new = format!("wal/{:08}", page * 190 + 1);
        c.delete_object()
            .bucket("lst")
            .key(&gone)
            .send()
            .await
            .expect("delete");
        c.put_object()
            .bucket("lst")
            .key(&new)
            .body(Vec::new().into())
            .send()
            .await
            .expect("put");
        deleted.push(gone);
        added.push(new);
        page += 1;
    }
    assert!(
        listed.windows(2).all(|w| w[0] < w[1]),
        "in order, no duplicates"
    );
    for k in keys.iter().filter(|k| !deleted.contains(k)) {
        assert!(listed.contains(k), "{k} present throughout but not listed");
    }
    for k in &listed {
        assert!(keys.contains(k) || added.contains(k), "{k} never existed");
    }
    for s in servers {
        s.stop().await;
    }
}
