//! The cluster metrics page of a distributed deployment (four servers on 127.0.0.1-4, two
//! drives each): every server's cluster page holds every server's own series (S3
//! requests, process, drive space), each under its `server` label, as MinIO's does, while
//! the node page stays this server's; every server serves the same data usage, which one
//! server's scanner saved on the set's drives; a server that does not answer is counted offline
//! and the scrape waits for it no longer than the peer timeout.

use crate::common;

use cairn::front::metrics::{NODE_PATH, PATH, token};
use cairn::server::Running;
use common::{PASSWORD, USER, client_for, config};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Endpoint list of 4 servers x 2 drives under `root`.
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

async fn start_cluster(root: &Path, port: u16) -> Vec<Running> {
    let eps = endpoints(root, port);
    let starts = (1..=4).map(|n| {
        let mut cfg = config(&[], &format!("127.0.0.{n}:{port}"));
        cfg.drives = eps.clone();
        // A brisk scanner, for the data usage: first pass at once, then every second.
        cfg.heal.scanner_start_delay = Duration::from_millis(100);
        cfg.heal.scanner_cycle = Duration::from_secs(1);
        async move { cairn::server::start(&cfg).await }
    });
    tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(starts))
        .await
        .expect("the servers agree within 60 s")
        .into_iter()
        .map(|r| r.expect("server starts"))
        .collect()
}

async fn scrape(addr: SocketAddr, path: &str) -> String {
    let bearer = token::generate(USER, PASSWORD, Duration::from_secs(600));
    let r = common::raw(
        addr,
        format!(
            "GET {path} HTTP/1.1\r\nhost: cairn\r\nauthorization: Bearer {bearer}\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// Sample lines of family `name` (exactly that name).
fn samples<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    page.lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// The value of the sample of `name` whose label text contains every one of `labels`.
fn value(page: &str, name: &str, labels: &[&str]) -> Option<f64> {
    samples(page, name)
        .into_iter()
        .find(|l| labels.iter().all(|want| l.contains(want)))
        .and_then(|l| l.rsplit_once(' ')?.1.parse().ok())
}

/// The `server` labels of family `name`.
fn server_labels(page: &str, name: &str) -> BTreeSet<String> {
    samples(page, name)
        .into_iter()
        .filter_map(|l| {
            let rest = &l[l.find("server=\"")? + 8..];
            Some(rest[..rest.find('"')?].to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_cluster_page_merges_every_server_and_survives_a_hung_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let servers = start_cluster(dir.path(), port).await;
    let name = |n: usize| format!("127.0.0.{n}:{port}");
    let clients: Vec<_> = servers
        .iter()
        .map(|s| client_for(&format!("http://{}", s.address)))
        .collect();
    clients[0]
        .create_bucket()
        .bucket("merged")
        .send()
        .await
        .expect("bucket");
    // Server n (1-based) takes n PUTs: each server's counter is its own.
    for (i, c) in clients.iter().enumerate() {
        for k in 0..=i {
            c.put_object()
                .bucket("merged")
                .key(format!("s{i}-{k}"))
                .body(common::data(1000, k as u64).into())
                .send()
                .await
                .expect("put");
        }
    }

    let page = scrape(servers[0].address, PATH).await;
    let all: BTreeSet<String> = (1..=4).map(name).collect();
    for n in 1..=4 {
        let put = value(
            &page,
            "minio_s3_requests_total",
            &["api=\"putobject\"", &format!("server=\"{}\"", name(n))],
        );
        assert_eq!(put, Some(n as f64), "server {n} in\n{page}");
    }
    assert_eq!(
        server_labels(&page, "minio_node_process_resident_memory_bytes"),
        all
    );
    assert_eq!(server_labels(&page, "minio_node_drive_total_bytes"), all);
    assert_eq!(samples(&page, "minio_node_drive_total_bytes").len(), 8);
    assert_eq!(
        value(&page, "minio_cluster_nodes_online_total", &[]),
        Some(4.0)
    );
    assert_eq!(
        value(&page, "minio_cluster_nodes_offline_total", &[]),
        Some(0.0)
    );
    // One family, one header: the pages are merged, not concatenated.
    assert_eq!(page.matches("# TYPE minio_s3_requests_total ").count(), 1);
    assert_eq!(
        page.matches("# TYPE minio_node_process_resident_memory_bytes ")
            .count(),
        1
    );
    // The same from another server.
    let page3 = scrape(servers[2].address, PATH).await;
    assert_eq!(
        value(
            &page3,
            "minio_s3_requests_total",
            &["api=\"putobject\"", &format!("server=\"{}\"", name(1))]
        ),
        Some(1.0)
    );
    // The data usage: the one set is scanned by one server and saved on its drives;
    // every server serves the same figures (4 + 3 + 2 + 1 objects of 1000 bytes).
    let deadline = Instant::now() + Duration::from_secs(60);
    for s in &servers {
        loop {
            let page = scrape(s.address, PATH).await;
            let objects = value(
                &page,
                "minio_bucket_usage_object_total",
                &["bucket=\"merged\""],
            );
            if objects == Some(10.0) {
                assert_eq!(
                    value(
                        &page,
                        "minio_bucket_usage_total_bytes",
                        &["bucket=\"merged\""]
                    ),
                    Some(10_000.0)
                );
                // Usage families once, though every server's page was merged in.
                assert_eq!(
                    page.matches("# TYPE minio_bucket_usage_object_total ")
                        .count(),
                    1
                );
                assert_eq!(samples(&page, "minio_cluster_usage_object_total").len(), 1);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "usage not seen on {}: {objects:?}",
                s.address
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    // The node page is this server's alone.
    let node = scrape(servers[0].address, NODE_PATH).await;
    assert_eq!(
        server_labels(&node, "minio_s3_requests_total"),
        BTreeSet::from([name(1)])
    );

    // Server 4 hangs: the others are restarted (new peer connections) while a listener
    // on server 4's address accepts and never answers. It is counted offline, its series
    // are left out, and the scrape waits at most the peer timeout (2 s) for it.
    for s in servers {
        s.stop().await;
    }
    let hung = tokio::net::TcpListener::bind(format!("127.0.0.4:{port}"))
        .await
        .expect("server 4's address");
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((c, _)) = hung.accept().await {
            held.push(c);
        }
    });
    let servers = restart_three(dir.path(), port).await;
    let started = Instant::now();
    let page = scrape(servers[0].address, PATH).await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        value(&page, "minio_cluster_nodes_offline_total", &[]),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        value(&page, "minio_cluster_nodes_online_total", &[]),
        Some(3.0)
    );
    let left: BTreeSet<String> = (1..=3).map(name).collect();
    assert_eq!(
        server_labels(&page, "minio_node_process_resident_memory_bytes"),
        left
    );
    assert_eq!(page.matches("# TYPE minio_s3_requests_total ").count(), 1);
    for s in servers {
        s.stop().await;
    }
    hold.abort();
}

/// Servers 1 to 3 of the deployment under `root` started again (retrying while their
/// addresses are still being released).
async fn restart_three(root: &Path, port: u16) -> Vec<Running> {
    let eps = endpoints(root, port);
    let starts = (1..=3).map(|n| {
        let mut cfg = config(&[], &format!("127.0.0.{n}:{port}"));
        cfg.drives = eps.clone();
        async move {
            let mut last = None;
            for _ in 0..50 {
                match cairn::server::start(&cfg).await {
                    Ok(r) => return r,
                    Err(e) => last = Some(e),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("restart failed: {last:?}");
        }
    });
    tokio::time::timeout(Duration::from_secs(90), futures::future::join_all(starts))
        .await
        .expect("three servers start within 90 s")
}
