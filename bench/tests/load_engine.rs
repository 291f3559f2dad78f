//! End-to-end test of the load engine against a tiny in-process HTTP/1.1 server, so that the
//! counting (ops, errors, body lengths, cleanup) is checked without any real S3 server.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use cairn_bench::load::{CellSpec, Op, RunConfig, Runner};
use cairn_bench::s3::{ClientConfig, S3Client};
use cairn_bench::sigv4::{Credentials, Signer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake server saw, and how it misbehaves.
#[derive(Default)]
struct Fake {
    puts: AtomicU64,
    gets: AtomicU64,
    deletes: AtomicU64,
    unsigned: AtomicU64,
    /// Bytes returned for every GET.
    get_len: AtomicU64,
}

async fn serve_conn(mut sock: TcpStream, fake: Arc<Fake>) {
    let mut buf = Vec::new();
    loop {
        // Read one request head.
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            let mut chunk = [0u8; 65536];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        buf.drain(..head_end + 4);
        let method = head.split(' ').next().unwrap_or("").to_string();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if !head.contains("authorization: aws4-hmac-sha256 credential=ak/") {
            fake.unsigned.fetch_add(1, Ordering::Relaxed);
        }
        // Read and drop the body.
        while buf.len() < len {
            let mut chunk = [0u8; 65536];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        buf.drain(..len);
        let resp: Vec<u8> = match method.as_str() {
            "get" => {
                fake.gets.fetch_add(1, Ordering::Relaxed);
                let n = fake.get_len.load(Ordering::Relaxed) as usize;
                let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
                r.extend(std::iter::repeat_n(b'x', n));
                r
            }
            "put" => {
                fake.puts.fetch_add(1, Ordering::Relaxed);
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()
            }
            "delete" => {
                fake.deletes.fetch_add(1, Ordering::Relaxed);
                b"HTTP/1.1 204 No Content\r\n\r\n".to_vec()
            }
            _ => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
        };
        if sock.write_all(&resp).await.is_err() {
            return;
        }
    }
}

async fn start_fake() -> (String, Arc<Fake>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = Arc::new(Fake::default());
    let f = fake.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve_conn(sock, f.clone()));
        }
    });
    (format!("http://{addr}"), fake)
}

fn runner(endpoint: &str, get_keys: usize) -> Runner {
    runner_with(endpoint, get_keys, None)
}

fn runner_with(endpoint: &str, get_keys: usize, put_keys: Option<u64>) -> Runner {
    let signer = Signer::new(
        Credentials {
            access_key: "ak".into(),
            secret_key: "sk".into(),
        },
        "us-east-1",
        "s3",
    );
    let client = S3Client::new(
        &ClientConfig {
            endpoint: endpoint.into(),
            timeout: Duration::from_secs(10),
            max_idle: 8,
        },
        signer,
    )
    .unwrap();
    Runner::new(
        client,
        RunConfig {
            bucket: "b".into(),
            prefix: "t".into(),
            get_keys,
            put_keys,
            read_fraction: 0.5,
            cleanup: true,
            server_pid: Some(std::process::id()),
            progress_every: Duration::from_secs(60),
        },
        1 << 20,
        Arc::new(AtomicBool::new(false)),
    )
}

fn spec(op: Op, size: u64, concurrency: usize, count: u64) -> CellSpec {
    CellSpec {
        op,
        size,
        concurrency,
        duration: Some(Duration::from_secs(30)),
        count: Some(count),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_cell_counts_and_cleans_up() {
    let (endpoint, fake) = start_fake().await;
    let mut r = runner(&endpoint, 2);
    let res = r.run_cell(&spec(Op::Put, 100_000, 4, 25)).await.unwrap();
    assert_eq!(res.ops, 25);
    assert_eq!(res.errors, 0);
    assert!(!res.had_errors());
    assert!(res.p50_ms.is_some() && res.p99_ms >= res.p50_ms);
    // The "server" is this process, so its CPU and RSS columns are filled in.
    assert!(res.server_peak_rss_mib.is_some());
    assert_eq!(fake.puts.load(Ordering::Relaxed), 25);
    assert_eq!(
        fake.deletes.load(Ordering::Relaxed),
        25,
        "cleanup deletes every PUT"
    );
    assert_eq!(fake.unsigned.load(Ordering::Relaxed), 0);
}

/// With `put_keys` the PUTs overwrite: each worker cycles over that many keys, and the
/// clean-up deletes each key once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_cell_overwrites_with_put_keys() {
    let (endpoint, fake) = start_fake().await;
    let mut r = runner_with(&endpoint, 2, Some(3));
    // One worker: how requests spread over several is up to the scheduler.
    let res = r.run_cell(&spec(Op::Put, 1000, 1, 20)).await.unwrap();
    assert_eq!((res.ops, res.errors), (20, 0));
    assert_eq!(fake.puts.load(Ordering::Relaxed), 20);
    assert_eq!(fake.deletes.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_cell_checks_body_length() {
    let (endpoint, fake) = start_fake().await;
    fake.get_len.store(4096, Ordering::Relaxed);
    let mut r = runner(&endpoint, 3);
    let ok = r.run_cell(&spec(Op::Get, 4096, 2, 10)).await.unwrap();
    assert_eq!((ok.ops, ok.errors), (10, 0));
    // 3 preload PUTs; 10 timed GETs plus the read-back after preloading.
    assert_eq!(fake.puts.load(Ordering::Relaxed), 3);
    assert_eq!(fake.gets.load(Ordering::Relaxed), 11);

    // A server that returns short bodies: every GET is an error, and the message says why.
    fake.get_len.store(100, Ordering::Relaxed);
    let bad = r.run_cell(&spec(Op::Get, 4096, 2, 6)).await.unwrap();
    assert_eq!((bad.ops, bad.errors), (0, 6));
    assert!(bad.had_errors());
    assert!(
        bad.first_errors[0].contains("expected 4096"),
        "{:?}",
        bad.first_errors
    );

    assert_eq!(r.cleanup_preloaded().await, 0);
    assert_eq!(fake.deletes.load(Ordering::Relaxed), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_endpoint_counts_errors_and_stops() {
    // Bind then drop a listener, so the port is very likely closed.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut r = runner(&format!("http://{addr}"), 1);
    let res = r.run_cell(&spec(Op::Put, 1000, 2, 4)).await.unwrap();
    assert_eq!((res.ops, res.errors), (0, 4));
}
