//! Audit log webhooks against a real HTTP receiver started in the test: the entries of
//! PUT, GET and LIST with MinIO's fields, admin API and STS calls under MinIO's names, the bearer token, batching, no secrets in
//! entries, and a receiver that stalls or is gone: requests keep their speed, drops are
//! counted on the metrics page, and entries flow again once the receiver is back.

use crate::common;

use aws_sdk_s3::operation::RequestId;
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use cairn::audit::{AuditConfig, TargetConfig};
use common::{PASSWORD, TestServer, USER};
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
struct Post {
    authorization: Option<String>,
    content_type: Option<String>,
    body: Value,
}

impl Post {
    /// The entries of the POST: the array's items, or the one object.
    fn entries(&self) -> Vec<Value> {
        match &self.body {
            Value::Array(a) => a.clone(),
            v => vec![v.clone()],
        }
    }
}

/// A webhook receiver on a fixed address that records every POST and answers 200.
struct Receiver {
    addr: SocketAddr,
    posts: Arc<Mutex<Vec<Post>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start(addr: &str) -> Receiver {
        let listener = TcpListener::bind(addr).await.expect("receiver binds");
        let addr = listener.local_addr().expect("address");
        let posts = Arc::new(Mutex::new(Vec::new()));
        let seen = posts.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |req: http::Request<hyper::body::Incoming>| {
                            let seen = seen.clone();
                            async move {
                                let header = |n: http::header::HeaderName| {
                                    req.headers()
                                        .get(n)
                                        .and_then(|v| v.to_str().ok())
                                        .map(str::to_string)
                                };
                                let authorization = header(http::header::AUTHORIZATION);
                                let content_type = header(http::header::CONTENT_TYPE);
                                let bytes = req.into_body().collect().await?.to_bytes();
                                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                                seen.lock().unwrap().push(Post {
                                    authorization,
                                    content_type,
                                    body,
                                });
                                Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::new())))
                            }
                        },
                    );
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Receiver { addr, posts, task }
    }

    fn entries(&self) -> Vec<Value> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .flat_map(Post::entries)
            .collect()
    }

    /// Waits until an entry matching `pred` arrived.
    async fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(e) = self.entries().into_iter().find(|e| pred(e)) {
                return e;
            }
            assert!(
                Instant::now() < deadline,
                "no entry for {what}; got {:#?}",
                self.entries()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn stop(self) {
        self.task.abort();
    }
}

/// A receiver that accepts connections and never answers.
async fn stalled_receiver(addr: &str) -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind(addr).await.expect("binds");
    let addr = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

fn target(id: &str, receiver: SocketAddr, batch_size: usize, queue_size: usize) -> TargetConfig {
    TargetConfig {
        id: id.into(),
        endpoint: format!("http://{receiver}/audit"),
        authorization: cairn::audit::config::authorization("s3cr3t-token"),
        batch_size,
        queue_size,
        http_timeout: Duration::from_secs(1),
    }
}

async fn server_with(targets: Vec<TargetConfig>) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<std::path::PathBuf> =
        (1..=4).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.audit = AuditConfig { targets };
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

fn api<'a>(e: &'a Value, field: &str) -> &'a Value {
    &e["api"][field]
}

fn is_api(e: &Value, name: &str, object: &str) -> bool {
    e["api"]["name"] == name && (object.is_empty() || e["api"]["object"] == object)
}

async fn metric(addr: SocketAddr, name: &str, id: &str) -> u64 {
    let token = cairn::front::metrics::token::generate(USER, PASSWORD, Duration::from_secs(600));
    let page = common::raw(
        addr,
        format!(
            "GET /minio/v2/metrics/cluster HTTP/1.1\r\nhost: cairn\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await
    .text();
    let prefix = format!("{name}{{target_id=\"{id}\"}} ");
    page.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{page}"))
}

#[tokio::test]
async fn put_get_and_list_are_recorded_with_minio_fields() {
    let receiver = Receiver::start("127.0.0.1:0").await;
    let srv = server_with(vec![target("1", receiver.addr, 1, 1000)]).await;
    let c = srv.client();
    c.create_bucket().bucket("audited").send().await.unwrap();
    let put = c
        .put_object()
        .bucket("audited")
        .key("dir/k.txt")
        .body(ByteStream::from_static(b"hello audit"))
        .send()
        .await
        .unwrap();
    let got = common::get_bytes(&c, "audited", "dir/k.txt").await;
    assert_eq!(got, b"hello audit");
    let list = c.list_objects_v2().bucket("audited").send().await.unwrap();

    let e = receiver
        .wait_for("PutObject", |e| is_api(e, "PutObject", "dir/k.txt"))
        .await;
    assert_eq!(e["version"], "1");
    assert_eq!(e["trigger"], "incoming");
    assert!(
        e["deploymentid"].as_str().is_some_and(|d| d.len() == 36),
        "{e}"
    );
    assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
    assert_eq!(api(&e, "bucket"), "audited");
    assert_eq!(api(&e, "statusCode"), 200);
    assert_eq!(api(&e, "status"), "OK");
    assert_eq!(api(&e, "rx"), 11);
    assert!(
        api(&e, "timeToResponse")
            .as_str()
            .is_some_and(|t| t.ends_with("ns"))
    );
    assert_eq!(e["accessKey"], USER);
    assert_eq!(e["remotehost"], "127.0.0.1");
    assert_eq!(e["requestID"].as_str(), put.request_id());
    assert!(e["userAgent"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(e["requestHeader"]["X-Amz-Date"].is_string(), "{e}");
    assert!(e["requestHeader"].get("Authorization").is_none(), "{e}");
    assert_eq!(
        e["responseHeader"]["X-Amz-Request-Id"].as_str(),
        put.request_id()
    );
    // ETag as MinIO records it: without quotes.
    assert_eq!(
        e["responseHeader"]["Etag"]
            .as_str()
            .map(|s| format!("\"{s}\"")),
        put.e_tag().map(str::to_string)
    );

    let e = receiver
        .wait_for("GetObject", |e| is_api(e, "GetObject", "dir/k.txt"))
        .await;
    assert_eq!(api(&e, "statusCode"), 200);
    assert_eq!(api(&e, "tx"), 11);
    assert_eq!(api(&e, "rx"), 0);
    assert!(api(&e, "timeToFirstByte").as_str().is_some(), "{e}");

    let e = receiver
        .wait_for("ListObjectsV2", |e| is_api(e, "ListObjectsV2", ""))
        .await;
    assert_eq!(api(&e, "bucket"), "audited");
    assert!(api(&e, "object").is_null(), "{e}");
    assert!(api(&e, "tx").as_u64().is_some_and(|n| n > 100), "{e}");
    assert_eq!(e["requestID"].as_str(), list.request_id());
    assert_eq!(e["requestQuery"]["list-type"], "2");

    receiver
        .wait_for("CreateBucket", |e| is_api(e, "CreateBucket", ""))
        .await;
    let posts = receiver.posts.lock().unwrap().clone();
    for p in &posts {
        assert_eq!(p.authorization.as_deref(), Some("Bearer s3cr3t-token"));
        assert_eq!(p.content_type.as_deref(), Some("application/json"));
        assert!(
            p.body.is_object(),
            "batch size 1 posts single objects: {p:?}"
        );
    }
    assert_eq!(
        metric(srv.addr, "minio_audit_failed_messages", "1").await,
        0
    );
    assert!(metric(srv.addr, "minio_audit_total_messages", "1").await >= 4);
    receiver.stop();
}

#[tokio::test]
async fn errors_are_recorded_without_secret_headers() {
    let receiver = Receiver::start("127.0.0.1:0").await;
    let srv = server_with(vec![target("S", receiver.addr, 1, 1000)]).await;
    srv.client()
        .create_bucket()
        .bucket("sec")
        .send()
        .await
        .unwrap();
    // SSE-C is refused (only over TLS), and the entry must not carry the key.
    let req = common::signed_request(
        srv.addr,
        "PUT",
        "/sec/ssec",
        "",
        &[
            ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
            (
                "x-amz-server-side-encryption-customer-key",
                "U1NFQ0tFWVNTRUNLRVlTU0VDS0VZU1NFQ0tFWTEy",
            ),
        ],
        b"x",
        PASSWORD,
    );
    let resp = common::raw(srv.addr, &req).await;
    assert_eq!(resp.status, 400, "{}", resp.text());
    let e = receiver
        .wait_for("refused PutObject", |e| is_api(e, "PutObject", "ssec"))
        .await;
    assert_eq!(api(&e, "statusCode"), 400);
    assert_eq!(e["requestID"].as_str(), resp.header("x-amz-request-id"));
    // A session token that the server does not know.
    let req = common::signed_request(
        srv.addr,
        "GET",
        "/sec",
        "list-type=2",
        &[("x-amz-security-token", "SESSIONTOKENSECRET")],
        b"",
        PASSWORD,
    );
    let resp = common::raw(srv.addr, &req).await;
    assert!(resp.status >= 400, "{}", resp.text());
    let rid = resp
        .header("x-amz-request-id")
        .expect("request id")
        .to_string();
    let e = receiver
        .wait_for("refused token", |e| e["requestID"] == rid.as_str())
        .await;
    assert_eq!(api(&e, "statusCode"), resp.status);
    let all = serde_json::to_string(&receiver.entries()).unwrap();
    for secret in [
        "U1NFQ0tFWVNTRUNLRVlTU0VDS0VZU1NFQ0tFWTEy",
        "SESSIONTOKENSECRET",
        "AWS4-HMAC-SHA256 Credential",
        "s3cr3t-token",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    assert!(all.contains("X-Amz-Server-Side-Encryption-Customer-Algorithm"));
    receiver.stop();
}

#[tokio::test]
async fn admin_and_sts_calls_are_recorded_under_minio_names_without_secrets() {
    use cairn::admin::client::{AdminClient, TlsTrust, V3Body};
    use cairn_madmin::paths::Call;
    use cairn_madmin::types::{AddOrUpdateUserReq, Status};
    let receiver = Receiver::start("127.0.0.1:0").await;
    let srv = server_with(vec![target("A", receiver.addr, 1, 1000)]).await;
    let admin = AdminClient::new(
        &srv.endpoint,
        cairn::s3::auth::sigv4::Credentials {
            access_key: USER.into(),
            secret_key: PASSWORD.into(),
        },
        "us-east-1",
        &TlsTrust::System,
    )
    .expect("client");
    let t = Duration::from_secs(20);
    let new_secret = "N3wUs3rS3cretKey!";
    let req = AddOrUpdateUserReq {
        secret_key: new_secret.into(),
        policy: String::new(),
        status: Status::Enabled,
    };
    admin
        .v3(
            Call::AddUser,
            &[("accessKey", "audited-user")],
            V3Body::Encrypted(serde_json::to_vec(&req).unwrap()),
            t,
        )
        .await
        .expect("add-user");
    admin
        .v3(Call::ListUsers, &[], V3Body::None, t)
        .await
        .expect("list-users");
    let (status, _) = admin
        .call(http::Method::GET, "/minio/admin/v3/info", &[], t)
        .await
        .expect("info");
    assert_eq!(status, 200);
    // Refused: a user without admin rights asks for the user list.
    let weak = AdminClient::new(
        &srv.endpoint,
        cairn::s3::auth::sigv4::Credentials {
            access_key: "audited-user".into(),
            secret_key: new_secret.into(),
        },
        "us-east-1",
        &TlsTrust::System,
    )
    .expect("client");
    assert!(
        weak.v3(Call::ListUsers, &[], V3Body::None, t)
            .await
            .is_err()
    );
    let creds = common::iam::assume_role(srv.addr, USER, PASSWORD, "&DurationSeconds=900").await;

    let e = receiver
        .wait_for("AddUser", |e| is_api(e, "AddUser", ""))
        .await;
    assert_eq!(api(&e, "statusCode"), 200);
    assert_eq!(e["accessKey"], USER);
    assert_eq!(e["requestQuery"]["accessKey"], "audited-user");
    assert!(api(&e, "rx").as_u64().is_some_and(|n| n > 0), "{e}");
    let e = receiver
        .wait_for("ListUsers", |e| {
            is_api(e, "ListUsers", "") && e["accessKey"] == USER
        })
        .await;
    assert_eq!(api(&e, "status"), "OK");
    let e = receiver
        .wait_for("refused ListUsers", |e| {
            is_api(e, "ListUsers", "") && e["accessKey"] == "audited-user"
        })
        .await;
    assert_eq!(api(&e, "statusCode"), 403);
    receiver
        .wait_for("ServerInfo", |e| is_api(e, "ServerInfo", ""))
        .await;
    let e = receiver
        .wait_for("AssumeRole", |e| is_api(e, "AssumeRole", ""))
        .await;
    assert_eq!(api(&e, "statusCode"), 200);
    assert_eq!(e["accessKey"], USER);
    assert!(api(&e, "tx").as_u64().is_some_and(|n| n > 100), "{e}");

    let all = serde_json::to_string(&receiver.entries()).unwrap();
    for secret in [
        new_secret,
        PASSWORD,
        creds.secret.as_str(),
        creds.token.as_str(),
        "AWS4-HMAC-SHA256 Credential",
    ] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
    receiver.stop();
}

#[tokio::test]
async fn batches_are_json_arrays() {
    let receiver = Receiver::start("127.0.0.1:0").await;
    let srv = server_with(vec![target("B", receiver.addr, 4, 1000)]).await;
    let c = srv.client();
    c.create_bucket().bucket("batched").send().await.unwrap();
    for i in 0..7 {
        c.put_object()
            .bucket("batched")
            .key(format!("k{i}"))
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
    }
    for i in 0..7 {
        let key = format!("k{i}");
        receiver
            .wait_for(&key, |e| is_api(e, "PutObject", &key))
            .await;
    }
    let posts = receiver.posts.lock().unwrap().clone();
    assert!(posts.iter().all(|p| p.body.is_array()), "{posts:?}");
    assert!(posts.iter().all(|p| p.entries().len() <= 4), "{posts:?}");
    assert!(
        posts.iter().any(|p| p.entries().len() > 1),
        "quick requests share a POST: {posts:?}"
    );
    assert_eq!(receiver.entries().len(), 8);
    receiver.stop();
}

#[tokio::test]
async fn a_receiver_that_is_down_costs_requests_nothing_and_drops_are_counted() {
    // The receiver first accepts connections and never answers (every POST times out),
    // then is gone, then comes back on the same address.
    let (addr, stalled) = stalled_receiver("127.0.0.1:0").await;
    let queue = 5;
    // A POST waits 3 s for an answer: a request that waited for one would be obvious.
    let mut t = target("down", addr, 1, queue);
    t.http_timeout = Duration::from_secs(3);
    let srv = server_with(vec![t]).await;
    let c = srv.client();
    c.create_bucket().bucket("down").send().await.unwrap();
    let n = 40;
    let started = Instant::now();
    for i in 0..n {
        let t = Instant::now();
        c.put_object()
            .bucket("down")
            .key(format!("k{i}"))
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
        assert!(
            t.elapsed() < Duration::from_millis(2500),
            "request {i} waited for the audit receiver: {:?}",
            t.elapsed()
        );
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(20), "{took:?}");
    // An entry is handed over when its response body is done, just after the client has
    // the answer.
    tokio::time::sleep(Duration::from_millis(200)).await;
    // 41 entries: the queue holds 5, the sender retries one more, the rest are dropped.
    let failed = metric(srv.addr, "minio_audit_failed_messages", "down").await;
    assert!(
        failed >= (n + 1 - queue as u64 - 1) && failed <= n + 1 - queue as u64,
        "{failed}"
    );
    assert_eq!(
        metric(srv.addr, "minio_audit_total_messages", "down").await,
        n + 1
    );
    assert_eq!(
        metric(srv.addr, "minio_audit_target_queue_length", "down").await,
        n + 1 - failed
    );

    // Gone: connections are refused; requests still succeed at once.
    stalled.abort();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = Instant::now();
    c.put_object()
        .bucket("down")
        .key("while-gone")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_millis(2500));
    let deadline = Instant::now() + Duration::from_secs(5);
    while metric(srv.addr, "cairn_audit_post_errors_total", "down").await == 0 {
        assert!(Instant::now() < deadline, "failed POSTs are not counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Back: the queued entries and new ones arrive.
    let receiver = Receiver::start(&addr.to_string()).await;
    let queued_key = receiver
        .wait_for("a queued entry", |e| is_api(e, "PutObject", ""))
        .await;
    assert!(queued_key["api"]["object"].is_string());
    c.put_object()
        .bucket("down")
        .key("after")
        .body(ByteStream::from_static(b"v"))
        .send()
        .await
        .unwrap();
    receiver
        .wait_for("a new entry", |e| is_api(e, "PutObject", "after"))
        .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(srv.addr, "minio_audit_target_queue_length", "down").await != 0 {
        assert!(Instant::now() < deadline, "queue never drained");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let delivered = metric(srv.addr, "cairn_audit_delivered_messages_total", "down").await;
    let total = metric(srv.addr, "minio_audit_total_messages", "down").await;
    let failed = metric(srv.addr, "minio_audit_failed_messages", "down").await;
    assert_eq!(delivered + failed, total);
    assert_eq!(receiver.entries().len() as u64, delivered);
    receiver.stop();
}

/// An audited response keeps its exact size hint and its whole body, and each request
/// queues exactly one entry, for a 4 KiB GET signed as the AWS SDKs sign it. (This was an
/// ignored timing measurement; its figure, 4.5-5.2 us per entry, is in
/// bench/results/2026-12-07-audit-cost.md. Timing belongs in benchmarks, so only the
/// behaviour is asserted here and the test always runs.)
#[tokio::test]
async fn audited_responses_keep_their_size_and_queue_one_entry_each() {
    use cairn::body::full;
    use cairn::s3::call::ApiCall;
    let n: u32 = 200;
    // Nothing listens on port 9: entries stay queued (the queue holds all of them).
    let mut t = target("cost", "127.0.0.1:9".parse().unwrap(), 100, n as usize + 1);
    t.authorization = None;
    let audit = cairn::audit::Audit::start(
        &AuditConfig { targets: vec![t] },
        "d1e2a3d4-0000-4000-8000-000000000000".into(),
        tokio::sync::watch::channel(false).1,
    )
    .map(Arc::new)
    .expect("target");
    let req = http::Request::get("/bench/object-00001")
        .header("host", "127.0.0.1:9000")
        .header("user-agent", "aws-sdk-rust/1.3.0 os/linux lang/rust/1.85.0")
        .header("x-amz-user-agent", "aws-sdk-rust/1.3.0 api/s3/1.60.0 os/linux")
        .header("x-amz-date", "20261207T070000Z")
        .header("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        .header("amz-sdk-invocation-id", "5a0c9b8e-5d8e-4c4e-9d0a-3f1b2c3d4e5f")
        .header("amz-sdk-request", "attempt=1; max=3")
        .header("authorization", "AWS4-HMAC-SHA256 Credential=AKIA/20261207/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
        .body(())
        .unwrap();
    let (mut parts, ()) = req.into_parts();
    parts.extensions.insert(cairn::remote::Remote {
        addr: "127.0.0.1:40000".parse().unwrap(),
        secure: false,
    });
    let data = Bytes::from(vec![7u8; 4096]);
    let call = ApiCall {
        name: "GetObject",
        bucket: "bench".into(),
        object: "object-00001".into(),
        access_key: "benchroot".into(),
        parent_user: String::new(),
    };
    let respond = || {
        let mut r = http::Response::new(full(data.clone()));
        let h = r.headers_mut();
        h.insert(
            "etag",
            "\"bd2ce06f7733eee0010348acbe975be4\"".parse().unwrap(),
        );
        h.insert(
            "last-modified",
            "Mon, 07 Dec 2026 06:49:55 GMT".parse().unwrap(),
        );
        h.insert("accept-ranges", "bytes".parse().unwrap());
        h.insert("content-type", "binary/octet-stream".parse().unwrap());
        h.insert("content-length", "4096".parse().unwrap());
        h.insert("x-amz-request-id", "C0E441200000000001".parse().unwrap());
        r.extensions_mut().insert(call.clone());
        r
    };
    for i in 0..n {
        let rec = audit.begin(&parts, &format!("C0E4412{i:011}"));
        let resp = rec.finish(respond());
        assert_eq!(http_body::Body::size_hint(resp.body()).exact(), Some(4096));
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, data);
    }
    let stats = &audit.targets()[0].stats;
    assert_eq!(
        stats.queued.load(std::sync::atomic::Ordering::Relaxed),
        u64::from(n)
    );
    assert_eq!(stats.failed.load(std::sync::atomic::Ordering::Relaxed), 0);
}
