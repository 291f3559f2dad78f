//! Data usage, as MinIO's scanner reports it: after objects of known sizes are written
//! into two buckets, the scanner's figures on the metrics pages (`/cluster` and
//! `/bucket`: per-bucket bytes, objects and MinIO's size ranges, cluster totals and the
//! bucket count), in the admin API's accountinfo and datausageinfo, exactly; a delete
//! is seen by the next scan; the figures survive a restart (they are on the drives).

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use cairn::admin::client::{AdminClient, TlsTrust};
use cairn::front::metrics::{BUCKET_PATH, PATH, token};
use cairn::s3::auth::sigv4::Credentials;
use cairn_madmin::paths::Call;
use cairn_madmin::types::AccountInfo;
use common::{PASSWORD, TestServer, USER};
use http::Method;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

/// A server whose scanner starts at once, runs unpaced and pauses 1 s between cycles.
async fn start_fast(n: usize) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<PathBuf> = (1..=n).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.heal = cairn::heal::HealConfig::from_settings(|name| match name {
        "SCANNER_START_DELAY" => Some("100ms".into()),
        "SCANNER_CYCLE" => Some("1s".into()),
        "SCANNER_SPEED" => Some("fastest".into()),
        _ => None,
    });
    let running = cairn::server::start(&cfg).await.expect("server starts");
    let addr = running.address;
    TestServer {
        dir,
        drives,
        running: Some(running),
        endpoint: format!("http://{addr}"),
        addr,
    }
}

async fn scrape(srv: &TestServer, path: &str) -> String {
    let bearer = token::generate(USER, PASSWORD, Duration::from_secs(600));
    let r = common::raw(
        srv.addr,
        format!(
            "GET {path} HTTP/1.1\r\nhost: cairn\r\nauthorization: Bearer {bearer}\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// Every sample of family `name` (exactly that name), by its labels without `server`.
fn family(page: &str, name: &str) -> BTreeMap<String, f64> {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (n, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if n != name {
                return None;
            }
            let labels: Vec<&str> = labels
                .split(',')
                .filter(|p| !p.is_empty() && !p.starts_with("server="))
                .collect();
            Some((labels.join(","), value.parse().ok()?))
        })
        .collect()
}

fn admin(srv: &TestServer) -> AdminClient {
    AdminClient::new(
        &srv.endpoint,
        Credentials {
            access_key: USER.into(),
            secret_key: PASSWORD.into(),
        },
        "us-east-1",
        &TlsTrust::System,
    )
    .expect("client")
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, size: usize) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(common::data(size, size as u64)))
        .send()
        .await
        .expect("put");
}

/// Scans again (now) until `page_ok` holds for the cluster page, for up to 60 s.
async fn scan_until(srv: &TestServer, what: &str, page_ok: impl Fn(&str) -> bool) -> String {
    let heal = srv.running.as_ref().expect("running").heal.clone();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let page = scrape(srv, PATH).await;
        if page_ok(&page) {
            return page;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: not seen in\n{page}"
        );
        heal.scan_now();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

const PHOTOS: [usize; 9] = [
    0,
    100,
    1023,
    1024,
    70_000,
    300_000,
    600_000,
    1 << 20,
    3 << 20,
];
const LOGS: [usize; 3] = [10, 2000, 11 << 20];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scanner_usage_is_served_as_minio_serves_it() {
    let mut srv = start_fast(4).await;
    let c = srv.client();
    for b in ["photos", "logs", "empty"] {
        c.create_bucket().bucket(b).send().await.expect("bucket");
    }
    for (i, size) in PHOTOS.iter().enumerate() {
        put(&c, "photos", &format!("p/{i}"), *size).await;
    }
    for (i, size) in LOGS.iter().enumerate() {
        put(&c, "logs", &format!("l{i}"), *size).await;
    }
    let photos_bytes: usize = PHOTOS.iter().sum();
    let logs_bytes: usize = LOGS.iter().sum();
    let total = (photos_bytes + logs_bytes) as f64;
    let page = scan_until(&srv, "every object", |p| {
        family(p, "minio_cluster_usage_object_total").get("") == Some(&12.0)
    })
    .await;

    let bytes = family(&page, "minio_bucket_usage_total_bytes");
    assert_eq!(bytes["bucket=\"photos\""], photos_bytes as f64);
    assert_eq!(bytes["bucket=\"logs\""], logs_bytes as f64);
    assert_eq!(bytes["bucket=\"empty\""], 0.0);
    let objects = family(&page, "minio_bucket_usage_object_total");
    assert_eq!(objects["bucket=\"photos\""], 9.0);
    assert_eq!(objects["bucket=\"logs\""], 3.0);
    assert_eq!(objects["bucket=\"empty\""], 0.0);
    assert_eq!(family(&page, "minio_cluster_usage_total_bytes")[""], total);
    assert_eq!(family(&page, "minio_cluster_bucket_total")[""], 3.0);

    let dist = family(&page, "minio_bucket_objects_size_distribution");
    let range = |bucket: &str, range: &str| dist[&format!("bucket=\"{bucket}\",range=\"{range}\"")];
    // 0, 100, 1023 | 1024 | 70000 | 300000 | 600000 | 1 MiB, 3 MiB.
    assert_eq!(range("photos", "LESS_THAN_1024_B"), 3.0);
    assert_eq!(range("photos", "BETWEEN_1024_B_AND_64_KB"), 1.0);
    assert_eq!(range("photos", "BETWEEN_64_KB_AND_256_KB"), 1.0);
    assert_eq!(range("photos", "BETWEEN_256_KB_AND_512_KB"), 1.0);
    assert_eq!(range("photos", "BETWEEN_512_KB_AND_1_MB"), 1.0);
    assert_eq!(range("photos", "BETWEEN_1024B_AND_1_MB"), 4.0);
    assert_eq!(range("photos", "BETWEEN_1_MB_AND_10_MB"), 2.0);
    assert_eq!(range("photos", "BETWEEN_10_MB_AND_64_MB"), 0.0);
    assert_eq!(range("logs", "LESS_THAN_1024_B"), 1.0);
    assert_eq!(range("logs", "BETWEEN_1024B_AND_1_MB"), 1.0);
    assert_eq!(range("logs", "BETWEEN_10_MB_AND_64_MB"), 1.0);
    assert_eq!(range("logs", "GREATER_THAN_512_MB"), 0.0);
    assert_eq!(dist.len(), 3 * 11, "eleven ranges per bucket: {dist:?}");
    let cluster = family(&page, "minio_cluster_objects_size_distribution");
    assert_eq!(cluster["range=\"LESS_THAN_1024_B\""], 4.0);
    assert_eq!(cluster["range=\"BETWEEN_1_MB_AND_10_MB\""], 2.0);
    assert!(page.contains("# TYPE minio_bucket_usage_total_bytes gauge\n"));
    let since = family(&page, "minio_usage_last_activity_nano_seconds")[""];
    assert!((0.0..120e9).contains(&since), "{since}");

    // The bucket page: the same per-bucket figures, none of the node's.
    let bucket_page = scrape(&srv, BUCKET_PATH).await;
    assert_eq!(
        family(&bucket_page, "minio_bucket_usage_total_bytes")["bucket=\"photos\""],
        photos_bytes as f64
    );
    assert!(!bucket_page.contains("minio_s3_requests_total"));
    assert!(!bucket_page.contains("minio_cluster_usage_total_bytes"));

    // accountinfo: sizes, counts and the histogram per bucket.
    let a = admin(&srv);
    let raw = a
        .v3(
            Call::AccountInfo,
            &[],
            cairn::admin::client::V3Body::None,
            T,
        )
        .await
        .expect("accountinfo");
    let info: AccountInfo = serde_json::from_slice(&raw).expect("AccountInfo");
    let by_name: BTreeMap<_, _> = info.buckets.iter().map(|b| (b.name.as_str(), b)).collect();
    assert_eq!(by_name["photos"].size, photos_bytes as u64);
    assert_eq!(by_name["photos"].objects, 9);
    assert_eq!(by_name["logs"].size, logs_bytes as u64);
    assert_eq!(by_name["logs"].objects, 3);
    assert_eq!((by_name["empty"].size, by_name["empty"].objects), (0, 0));
    let hist = by_name["photos"]
        .object_histogram
        .clone()
        .unwrap_or_default();
    assert_eq!(hist.get("BETWEEN_1024B_AND_1_MB"), Some(&4));
    assert_eq!(hist.get("LESS_THAN_1024_B"), Some(&3));

    // ServerInfo (`mc admin info`): objects and usage from the same figures.
    let (status, body) = a
        .call(Method::GET, "/minio/admin/v3/info", &[], T)
        .await
        .expect("info");
    assert_eq!(status.as_u16(), 200);
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["objects"]["count"], 12);
    assert_eq!(v["usage"]["size"], photos_bytes + logs_bytes);
    assert_eq!(v["buckets"]["count"], 3);

    // datausageinfo, MinIO's JSON.
    let v: serde_json::Value = a
        .json(Method::GET, "/minio/admin/v3/datausageinfo", &[], T)
        .await
        .expect("datausageinfo");
    assert_eq!(v["objectsCount"], 12);
    assert_eq!(v["objectsTotalSize"], photos_bytes + logs_bytes);
    assert_eq!(v["bucketsCount"], 3);
    assert_eq!(v["bucketsUsageInfo"]["logs"]["objectsCount"], 3);
    assert_eq!(v["bucketsUsageInfo"]["logs"]["size"], logs_bytes);

    // A delete and a removed bucket are seen by the next scan.
    c.delete_object()
        .bucket("logs")
        .key("l2")
        .send()
        .await
        .expect("delete");
    c.delete_bucket()
        .bucket("empty")
        .send()
        .await
        .expect("delete bucket");
    let page = scan_until(&srv, "the delete", |p| {
        family(p, "minio_cluster_usage_object_total").get("") == Some(&11.0)
    })
    .await;
    assert_eq!(
        family(&page, "minio_bucket_usage_total_bytes")["bucket=\"logs\""],
        (logs_bytes - (11 << 20)) as f64
    );
    assert_eq!(family(&page, "minio_cluster_bucket_total")[""], 2.0);
    assert!(!family(&page, "minio_bucket_usage_object_total").contains_key("bucket=\"empty\""));

    // On the drives: a restarted server (whose scanner waits 10 s) serves them at once.
    srv.restart().await;
    let page = scrape(&srv, PATH).await;
    assert_eq!(
        family(&page, "minio_cluster_usage_object_total").get(""),
        Some(&11.0),
        "{page}"
    );
}

#[tokio::test]
async fn no_usage_before_the_first_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<PathBuf> = (1..=4).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.heal.scanner_enabled = false;
    let running = cairn::server::start(&cfg).await.expect("server starts");
    let addr = running.address;
    let srv = TestServer {
        dir,
        drives,
        running: Some(running),
        endpoint: format!("http://{addr}"),
        addr,
    };
    srv.client()
        .create_bucket()
        .bucket("bkt")
        .send()
        .await
        .expect("bucket");
    let page = scrape(&srv, PATH).await;
    assert!(!page.contains("minio_bucket_usage"), "{page}");
    assert!(!page.contains("minio_cluster_usage"), "{page}");
    // The node's own families are still there.
    assert!(page.contains("minio_cluster_drive_total"), "{page}");
    let v: serde_json::Value = admin(&srv)
        .json(Method::GET, "/minio/admin/v3/datausageinfo", &[], T)
        .await
        .expect("datausageinfo");
    assert_eq!(v["lastUpdate"], "0001-01-01T00:00:00Z");
    assert_eq!(v["objectsCount"], 0);
}
