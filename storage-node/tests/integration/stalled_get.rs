//! A GET whose client stops reading must neither block writers of the key nor see bytes of
//! another version: the version is resolved under the key's lock, the lock is released
//! before the body streams, and a data directory removed by an overwrite or delete stays
//! readable in the drive's trash (`drive::trash`). One server with 8 local drives, and four
//! servers of two drives each, where most shards are read from peers over the RPC.

use crate::common;

use cairn::config::ServerConfig;
use cairn::server::Running;
use common::{PASSWORD, TestServer, client_for, config, data, signed_request};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SIZE: usize = 32 << 20;
/// Far below the 30 s lock timeout, after which a writer blocked by the reader would fail
/// with SlowDown: a write that needs longer is waiting for the stalled reader.
const WRITE_BOUND: Duration = Duration::from_secs(20);

/// A GET of which only the response head has been read.
struct StalledGet {
    stream: TcpStream,
    /// Body bytes that arrived together with the head.
    body: Vec<u8>,
    content_length: usize,
}

async fn start_get(addr: SocketAddr, bucket: &str, key: &str) -> StalledGet {
    let req = signed_request(
        addr,
        "GET",
        &format!("/{bucket}/{key}"),
        "",
        &[],
        b"",
        PASSWORD,
    );
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(&req).await.expect("send GET");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // The head is a few hundred bytes; read in small pieces only until it is complete.
    let head_end = loop {
        let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut chunk))
            .await
            .expect("response head within 30 s")
            .expect("read head");
        assert!(n > 0, "connection closed before the head");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        assert!(buf.len() < 64 * 1024, "head too long");
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "GET failed: {head}");
    let content_length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .expect("content-length");
    StalledGet {
        stream,
        body: buf[head_end + 4..].to_vec(),
        content_length,
    }
}

impl StalledGet {
    /// Reads the rest of the body; a cut connection ends it early (an error).
    async fn resume(mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(120), self.stream.read_to_end(&mut rest))
            .await
            .expect("body ends within 120 s");
        self.body.extend_from_slice(&rest);
        self.body
    }
}

/// Overwrites and deletes `key` through `writer` while `get` stalls, then checks what the
/// stalled reader gets: the old bytes intact, never bytes of the new version.
async fn overwrite_and_delete_under_stalled_get(
    get: StalledGet,
    writer: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    old: &[u8],
) {
    assert_eq!(get.content_length, old.len());
    assert!(
        get.body.len() < old.len() / 2,
        "the reader was meant to stall early, got {} bytes with the head",
        get.body.len()
    );
    let new = data(SIZE, 2);
    let put = tokio::time::timeout(
        WRITE_BOUND,
        writer
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from(new))
            .send(),
    )
    .await
    .expect("the overwrite did not wait for the stalled reader");
    put.expect("overwrite while a GET stalls");
    let del = tokio::time::timeout(
        WRITE_BOUND,
        writer.delete_object().bucket(bucket).key(key).send(),
    )
    .await
    .expect("the delete did not wait for the stalled reader");
    del.expect("delete while a GET stalls");
    let gone = writer.get_object().bucket(bucket).key(key).send().await;
    assert!(gone.is_err(), "the key is deleted for new readers");

    let body = get.resume().await;
    assert_eq!(
        body.len(),
        old.len(),
        "the stalled reader got a cut body instead of its version"
    );
    assert!(
        body == old,
        "the stalled reader got bytes that are not its version"
    );
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: Vec<u8>) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(aws_sdk_s3::primitives::ByteStream::from(body))
        .send()
        .await
        .expect("put");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_get_blocks_no_writer_and_keeps_its_version_on_local_drives() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("bkt")
        .send()
        .await
        .expect("bucket");
    let old = data(SIZE, 1);
    put(&c, "bkt", "big", old.clone()).await;

    let get = start_get(srv.addr, "bkt", "big").await;
    overwrite_and_delete_under_stalled_get(get, &c, "bkt", "big", &old).await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Four servers on 127.0.0.1-4 (same port), two drives each: one EC:4 set of 8 drives.
async fn start_cluster(root: &Path, port: u16) -> Vec<Running> {
    let eps: Vec<String> = (1..=4)
        .flat_map(|n| {
            (1..=2).map(move |d| {
                format!(
                    "http://127.0.0.{n}:{port}{}",
                    root.join(format!("n{n}/d{d}")).display()
                )
            })
        })
        .collect();
    let starts = (1..=4).map(|n| {
        let mut cfg: ServerConfig = config(&[], &format!("127.0.0.{n}:{port}"));
        cfg.drives = eps.clone();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_get_blocks_no_writer_and_keeps_its_version_on_remote_drives() {
    let root = tempfile::tempdir().expect("tempdir");
    let servers = start_cluster(root.path(), free_port()).await;
    let reader_addr = servers[0].address;
    let writer = client_for(&format!("http://{}", servers[1].address));
    writer
        .create_bucket()
        .bucket("bkt")
        .send()
        .await
        .expect("bucket");
    let old = data(SIZE, 1);
    put(&writer, "bkt", "big", old.clone()).await;

    // Served by server 1, which reads six of the eight drives from its peers.
    let get = start_get(reader_addr, "bkt", "big").await;
    overwrite_and_delete_under_stalled_get(get, &writer, "bkt", "big", &old).await;
    for s in servers {
        s.stop().await;
    }
}
