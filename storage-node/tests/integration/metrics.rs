//! The Prometheus pages as MinIO's dashboards read them: v2 names and labels after real
//! S3 traffic (per-API requests and errors, TTFB distribution, traffic, drives, nodes,
//! process), MinIO's scrape authentication (a bearer token by default, `public` mode)
//! and `cairn admin prometheus generate`, whose configuration the server accepts.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use base64::Engine;
use cairn::config::PrometheusAuth;
use cairn::front::metrics::{NODE_PATH, PATH, token};
use common::iam::add_user;
use common::{PASSWORD, TestServer, USER};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

const TTFB: &str = "minio_s3_requests_ttfb_seconds_distribution";

async fn scrape(addr: SocketAddr, path: &str, authorization: Option<&str>) -> common::RawResponse {
    let auth = authorization.map_or_else(String::new, |a| format!("authorization: {a}\r\n"));
    common::raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nhost: cairn\r\n{auth}connection: close\r\n\r\n").as_bytes(),
    )
    .await
}

fn root_bearer() -> String {
    format!(
        "Bearer {}",
        token::generate(USER, PASSWORD, Duration::from_secs(600))
    )
}

/// The samples of family `name`: labels and value.
fn samples(page: &str, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    page.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let (labels, value) = match rest.strip_prefix('{') {
                Some(r) => r.split_once("} ")?,
                None => ("", rest.strip_prefix(' ')?),
            };
            let labels: BTreeMap<String, String> = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_string(), v.trim_end_matches('"').to_string()))
                })
                .collect();
            let value: f64 = value.trim().parse().ok()?;
            Some((labels, value))
        })
        .collect()
}

/// The value of the one sample of `name` whose labels include `want`.
fn value(page: &str, name: &str, want: &[(&str, &str)]) -> f64 {
    let found: Vec<f64> = samples(page, name)
        .into_iter()
        .filter(|(l, _)| {
            want.iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .collect();
    assert_eq!(found.len(), 1, "{name} {want:?} in\n{page}");
    found[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_traffic_is_counted_under_minio_names_and_labels() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let body = common::data(100_000, 7);
    for i in 0..3 {
        c.put_object()
            .bucket("bkt")
            .key(format!("k{i}"))
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(common::get_bytes(&c, "bkt", "k0").await, body);
    c.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert!(
        c.get_object()
            .bucket("bkt")
            .key("nope")
            .send()
            .await
            .is_err()
    );

    let r = scrape(srv.addr, NODE_PATH, Some(root_bearer().as_str())).await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap_or("")
            .starts_with("text/plain")
    );
    let page = r.text();
    let server = srv.addr.to_string();
    let me = ("server", server.as_str());
    let api = |name| [("api", name), me];
    assert!(value(&page, "minio_s3_requests_total", &api("putobject")) >= 3.0);
    assert!(value(&page, "minio_s3_requests_total", &api("listobjectsv2")) >= 1.0);
    assert_eq!(
        value(&page, "minio_s3_requests_total", &api("createbucket")),
        1.0
    );
    let gets = value(&page, "minio_s3_requests_total", &api("getobject"));
    assert!(gets >= 2.0);
    assert_eq!(
        value(
            &page,
            "minio_s3_requests_4xx_errors_total",
            &api("getobject")
        ),
        1.0
    );
    assert_eq!(
        value(&page, "minio_s3_requests_errors_total", &api("getobject")),
        1.0
    );
    assert_eq!(
        value(
            &page,
            "minio_s3_requests_5xx_errors_total",
            &api("getobject")
        ),
        0.0
    );
    assert_eq!(
        value(&page, "minio_s3_requests_errors_total", &api("putobject")),
        0.0
    );
    for (labels, _) in samples(&page, "minio_s3_requests_total") {
        let a = &labels["api"];
        assert!(
            a.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()),
            "{a}"
        );
        assert_eq!(labels["server"], server);
    }
    assert!(value(&page, "minio_s3_traffic_received_bytes", &[me]) >= 300_000.0);
    assert!(value(&page, "minio_s3_traffic_sent_bytes", &[me]) >= 100_000.0);
    assert_eq!(value(&page, "minio_s3_requests_inflight_total", &[me]), 0.0);

    // The TTFB distribution: MinIO's buckets, cumulative, `+Inf` = the request count.
    assert!(page.contains(&format!("# TYPE {TTFB} gauge\n")));
    let put: Vec<(String, f64)> = samples(&page, TTFB)
        .into_iter()
        .filter(|(l, _)| l["api"] == "putobject" && l["server"] == server)
        .map(|(l, v)| (l["le"].clone(), v))
        .collect();
    let les: Vec<&str> = put.iter().map(|(le, _)| le.as_str()).collect();
    assert_eq!(
        les,
        [
            "0.050", "0.100", "0.250", "0.500", "1.000", "2.500", "5.000", "10.000", "+Inf"
        ]
    );
    assert!(put.windows(2).all(|w| w[0].1 <= w[1].1), "{put:?}");
    let puts = value(&page, "minio_s3_requests_total", &api("putobject"));
    assert_eq!(put[8].1, puts);

    // This node's drives, by directory and server.
    assert_eq!(value(&page, "minio_node_drive_online_total", &[me]), 4.0);
    assert_eq!(value(&page, "minio_node_drive_offline_total", &[me]), 0.0);
    let totals = samples(&page, "minio_node_drive_total_bytes");
    assert_eq!(totals.len(), 4, "{page}");
    for i in 1..=4 {
        let (labels, total) = totals
            .iter()
            .find(|(l, _)| l["drive"].ends_with(&format!("/d{i}")))
            .unwrap_or_else(|| panic!("drive d{i} in {totals:?}"));
        assert_eq!(labels["server"], server);
        assert!(*total > 0.0);
        let drive = [("drive", labels["drive"].as_str()), me];
        assert!(value(&page, "minio_node_drive_free_bytes", &drive) <= *total);
        assert!(value(&page, "minio_node_drive_used_bytes", &drive) <= *total);
    }

    // The process, from /proc.
    assert!(value(&page, "minio_node_process_resident_memory_bytes", &[me]) > 1e6);
    assert!(value(&page, "minio_node_file_descriptor_open_total", &[me]) > 0.0);
    assert!(value(&page, "minio_node_process_cpu_total_seconds", &[me]) > 0.0);
    let now = token::now() as f64;
    let started = value(&page, "minio_node_process_starttime_seconds", &[me]);
    assert!(started <= now + 1.0 && started > now - 3600.0, "{started}");

    // One HELP and TYPE per family.
    let types: Vec<&str> = page.lines().filter(|l| l.starts_with("# TYPE ")).collect();
    let mut unique = types.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(types.len(), unique.len(), "{types:#?}");

    // The cluster page: the deployment as a whole, and this server's counters.
    let cluster = scrape(srv.addr, PATH, Some(root_bearer().as_str())).await;
    assert_eq!(cluster.status, 200);
    let page = cluster.text();
    assert_eq!(value(&page, "minio_cluster_nodes_online_total", &[]), 1.0);
    assert_eq!(value(&page, "minio_cluster_nodes_offline_total", &[]), 0.0);
    assert_eq!(value(&page, "minio_cluster_drive_online_total", &[]), 4.0);
    assert_eq!(value(&page, "minio_cluster_health_status", &[]), 1.0);
    assert!(value(&page, "minio_cluster_capacity_usable_total_bytes", &[]) > 0.0);
    let set = [("pool", "0"), ("set", "0")];
    assert_eq!(
        value(
            &page,
            "minio_cluster_health_erasure_set_online_drives",
            &set
        ),
        4.0
    );
    assert!(value(&page, "minio_cluster_health_erasure_set_write_quorum", &set) >= 2.0);
    assert_eq!(samples(&page, "minio_node_drive_free_bytes").len(), 4);
    assert!(value(&page, "minio_s3_requests_total", &api("putobject")) >= 3.0);
    promtool_parses(&page).await;
    srv.running.unwrap().stop().await;
}

/// `promtool check metrics`, where installed: rc 1 is a parse error. Its lint (rc 3)
/// flags MinIO's own names and types (gauges ending in `_total`, counters without it,
/// the TTFB distribution's `le` on a gauge), kept for the dashboards.
async fn promtool_parses(page: &str) {
    use tokio::io::AsyncWriteExt;
    let child = tokio::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("promtool is not installed: page not checked");
        return;
    };
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(page.as_bytes()).await.expect("write");
    drop(stdin);
    let out = child.wait_with_output().await.expect("promtool runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(1), "promtool: {stderr}");
    // The three findings MinIO's own names and types produce; anything else is ours.
    let known = [
        "counter metrics should have \"_total\" suffix",
        "non-counter metrics should not have \"_total\" suffix",
        "non-histogram metrics should not have \"le\" label",
    ];
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            known.iter().any(|k| line.contains(k)),
            "unexpected promtool finding: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bearer_token_is_required_by_default() {
    let srv = TestServer::start(4).await;
    let iam = &srv.running.as_ref().unwrap().iam;
    add_user(iam, "scraper", "scraper-secret", &["diagnostics"]).await;
    add_user(iam, "writer", "writer-secret", &["readwrite"]).await;
    for path in [PATH, NODE_PATH] {
        let r = scrape(srv.addr, path, None).await;
        assert_eq!(r.status, 403, "{path}");
        let err: serde_json::Value = serde_json::from_str(&r.text()).expect("JSON error");
        assert_eq!(err["Code"], "AccessDenied");
        assert_eq!(err["Resource"], path);
    }
    let far = token::now() + 3600;
    let refused = [
        "Bearer garbage".to_string(),
        format!(
            "Basic {}",
            token::generate(USER, PASSWORD, Duration::from_secs(60))
        ),
        format!("Bearer {}", token::sign_until(USER, "not-the-secret", far)),
        format!(
            "Bearer {}",
            token::sign_until(USER, PASSWORD, token::now() - 10)
        ),
        format!("Bearer {}", token::sign_until("nosuchkey", "whatever", far)),
        // A user without admin:Prometheus.
        format!(
            "Bearer {}",
            token::sign_until("writer", "writer-secret", far)
        ),
    ];
    for auth in &refused {
        let r = scrape(srv.addr, PATH, Some(auth.as_str())).await;
        assert_eq!(r.status, 403, "{auth}");
        assert!(!r.text().contains("minio_"), "{auth}");
    }
    for auth in [
        root_bearer(),
        format!(
            "Bearer {}",
            token::sign_until("scraper", "scraper-secret", far)
        ),
    ] {
        for path in [PATH, NODE_PATH] {
            let r = scrape(srv.addr, path, Some(auth.as_str())).await;
            assert_eq!(r.status, 200, "{auth} {path}");
            assert!(r.text().contains("minio_s3_requests_inflight_total"));
        }
    }
    srv.running.unwrap().stop().await;
}

#[tokio::test]
async fn public_mode_serves_without_a_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<_> = (1..=4).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.prometheus_auth = PrometheusAuth::Public;
    let running = cairn::server::start(&cfg).await.expect("server starts");
    for auth in [None, Some("Bearer garbage")] {
        for path in [PATH, NODE_PATH] {
            let r = scrape(running.address, path, auth).await;
            assert_eq!(r.status, 200, "{auth:?} {path}");
            assert!(r.text().contains("minio_cluster_nodes_online_total"));
        }
    }
    running.stop().await;
}

async fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env_remove("CAIRN_ROOT_USER")
        .env_remove("CAIRN_ROOT_PASSWORD")
        .env_remove("MINIO_ROOT_USER")
        .env_remove("MINIO_ROOT_PASSWORD")
        .env_remove("CAIRN_ENDPOINT")
        .env_remove("CAIRN_CONFIG_ENV_FILE")
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("cairn admin finishes")
        .expect("cairn runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_scrape_configuration_is_accepted() {
    let srv = TestServer::start(4).await;
    let ep = srv.endpoint.as_str();
    let creds = [("CAIRN_ROOT_USER", USER), ("CAIRN_ROOT_PASSWORD", PASSWORD)];

    let (code, out, err) = cli(
        &["admin", "prometheus", "generate", "--endpoint", ep],
        &creds,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let yaml: serde_json::Value = yaml_serde::from_str(&out).expect("YAML");
    let job = &yaml["scrape_configs"][0];
    assert_eq!(job["job_name"], "minio-job", "{out}");
    assert_eq!(job["metrics_path"], PATH);
    assert_eq!(job["scheme"], "http");
    assert_eq!(job["static_configs"][0]["targets"][0], srv.addr.to_string());
    let bearer = job["bearer_token"].as_str().expect("token");
    // Valid for about 100 years, as `mc` makes them.
    let claims = bearer.split('.').nth(1).expect("claims");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .expect("base64url"),
    )
    .expect("JSON claims");
    let exp = claims["exp"].as_i64().expect("exp");
    assert!(exp > token::now() + 99 * 365 * 86_400, "{claims}");
    assert_eq!(claims["iss"], "prometheus");
    assert_eq!(claims["sub"], USER);
    let r = scrape(srv.addr, PATH, Some(format!("Bearer {bearer}").as_str())).await;
    assert_eq!(r.status, 200);

    let (code, out, err) = cli(
        &[
            "admin",
            "prometheus",
            "generate",
            "node",
            "--json",
            "--job",
            "cairn",
        ],
        &[creds[0], creds[1], ("CAIRN_ENDPOINT", ep)],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let job = &json["scrape_configs"][0];
    assert_eq!(job["job_name"], "cairn");
    assert_eq!(job["metrics_path"], NODE_PATH);
    let bearer = job["bearer_token"].as_str().expect("token");
    let r = scrape(
        srv.addr,
        NODE_PATH,
        Some(format!("Bearer {bearer}").as_str()),
    )
    .await;
    assert_eq!(r.status, 200);

    let (code, _, err) = cli(&["admin", "prometheus", "generate", "--endpoint", ep], &[]).await;
    assert_eq!(code, 2, "{err}");
    srv.running.unwrap().stop().await;
}
