//! The admin API and `cairn admin`: info on 8 drives (EC:4) with a drive going offline,
//! root-only SigV4 (unsigned, unknown key and wrong secret get 403), an admin heal that
//! repairs objects whose files were deleted from one drive, and the CLI's output and
//! exit codes against a running server.

use crate::common;

use cairn::admin::client::{AdminClient, ClientError, TlsTrust};
use cairn::admin::types::{DriveState, HealProgress, HealStarted, Info, ServerState};
use cairn::s3::auth::sigv4::Credentials;
use common::{PASSWORD, TestServer, USER, data};
use http::Method;
use std::time::{Duration, Instant};

const INFO: &str = "/cairn/admin/v1/info";
const HEAL: &str = "/cairn/admin/v1/heal";
const T: Duration = Duration::from_secs(10);

fn admin(srv: &TestServer, user: &str, secret: &str) -> AdminClient {
    AdminClient::new(
        &srv.endpoint,
        Credentials {
            access_key: user.into(),
            secret_key: secret.into(),
        },
        "us-east-1",
        &TlsTrust::System,
    )
    .expect("client")
}

fn root(srv: &TestServer) -> AdminClient {
    admin(srv, USER, PASSWORD)
}

async fn put_objects(srv: &TestServer, n: usize) {
    let c = srv.client();
    c.create_bucket()
        .bucket("bkt")
        .send()
        .await
        .expect("bucket");
    for i in 0..n {
        c.put_object()
            .bucket("bkt")
            .key(format!("dir/obj-{i}"))
            .body(data(1000 + i * 40_000, i as u64).into())
            .send()
            .await
            .expect("put");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_shows_layout_and_offline_drive() {
    let srv = TestServer::start(8).await;
    let c = root(&srv);
    let info: Info = c.json(Method::GET, INFO, &[], T).await.expect("info");
    assert_eq!(info.mode, "standalone");
    assert!(
        info.deployment_id.as_deref().is_some_and(|d| d.len() == 36),
        "{info:?}"
    );
    assert_eq!(info.drives.len(), 8);
    assert_eq!(info.servers.len(), 1);
    assert_eq!(info.servers[0].state, ServerState::Online);
    assert_eq!(info.pools.len(), 1);
    let p = &info.pools[0];
    assert_eq!((p.sets, p.set_size, p.data, p.parity), (1, 8, 4, 4));
    assert_eq!((p.read_quorum, p.write_quorum), (4, 5));
    assert!(
        info.drives
            .iter()
            .all(|d| d.state == DriveState::Online && d.total > 0)
    );
    assert_eq!(info.usage.drives_online, 8);
    assert!(info.usage.raw_capacity > 0 && info.usage.usable_capacity <= info.usage.raw_capacity);

    // A drive whose directory disappears is reported offline; the set keeps quorum.
    std::fs::remove_dir_all(&srv.drives[7]).expect("remove drive");
    let info: Info = c.json(Method::GET, INFO, &[], T).await.expect("info");
    let gone = srv.drives[7].display().to_string();
    let d = info
        .drives
        .iter()
        .find(|d| d.endpoint == gone)
        .expect("drive listed");
    assert_eq!(d.state, DriveState::Offline, "{d:?}");
    assert!(d.error.is_some());
    assert_eq!(info.usage.drives_offline, 1);
    assert_eq!(info.servers[0].drives_online, 7);
    let set = &info.pools[0].set_health[0];
    assert_eq!(set.drives_online, 7);
    assert!(set.write_quorum && set.read_quorum);

    // The human rendering names the offline drive.
    let text = cairn::admin::cli::render_info(&info);
    assert!(text.contains("OFFLINE") && text.contains("EC:4"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_root_signed_requests_are_accepted() {
    let srv = TestServer::start(8).await;
    // Unsigned.
    let r = common::raw(
        srv.addr,
        format!(
            "GET {INFO} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON error");
    assert_eq!(body["Code"], "AccessDenied");
    // Unknown access key, and the root key with a wrong secret.
    for (user, secret, code) in [
        ("someone", PASSWORD, "InvalidAccessKeyId"),
        (USER, "wrong-password", "SignatureDoesNotMatch"),
    ] {
        match admin(&srv, user, secret)
            .json::<Info>(Method::GET, INFO, &[], T)
            .await
        {
            Err(ClientError::Api {
                status, code: c, ..
            }) => {
                assert_eq!((status, c.as_str()), (403, code))
            }
            other => panic!("{user}: expected 403, got {other:?}"),
        }
        let r = admin(&srv, user, secret)
            .call(Method::POST, HEAL, &[], T)
            .await
            .expect("answer");
        assert_eq!(r.0.as_u16(), 403);
    }
    // Root: unknown paths are 404, wrong methods 405.
    let c = root(&srv);
    let (s, _) = c
        .call(Method::GET, "/cairn/admin/v1/nope", &[], T)
        .await
        .expect("answer");
    assert_eq!(s.as_u16(), 404);
    let (s, _) = c.call(Method::DELETE, INFO, &[], T).await.expect("answer");
    assert_eq!(s.as_u16(), 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_heal_repairs_deleted_shards_with_progress() {
    let srv = TestServer::start(8).await;
    put_objects(&srv, 6).await;
    // Delete every file of the bucket's objects on one drive.
    let victim = srv.drives[2].join("bkt");
    std::fs::remove_dir_all(victim.join("dir")).expect("delete shards");
    let c = root(&srv);

    // A prefix without a bucket is refused.
    let (s, _) = c
        .call(Method::POST, HEAL, &[("prefix", "dir/")], T)
        .await
        .expect("answer");
    assert_eq!(s.as_u16(), 400);

    let started: HealStarted = c
        .json(
            Method::POST,
            HEAL,
            &[("bucket", "bkt"), ("prefix", "dir/")],
            T,
        )
        .await
        .expect("heal starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    let task = loop {
        let p: HealProgress = c.json(Method::GET, HEAL, &[], T).await.expect("progress");
        let t = p.task.clone().expect("task reported");
        assert_eq!(t.id, started.id);
        if t.is_finished() {
            assert!(p.done && !p.running, "{p:?}");
            break t;
        }
        assert!(Instant::now() < deadline, "heal did not finish: {p:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(task.state, "done", "{task:?}");
    assert_eq!(task.objects_scanned, 6);
    assert_eq!(task.objects_healed, 6);
    assert_eq!(task.objects_failed, 0);
    for i in 0..6 {
        assert!(
            victim.join(format!("dir/obj-{i}")).exists(),
            "obj-{i} healed back"
        );
    }
    // The info document carries the same progress.
    let info: Info = c.json(Method::GET, INFO, &[], T).await.expect("info");
    assert_eq!(info.heal.task.map(|t| t.objects_healed), Some(6));
    assert!(info.heal.objects_healed >= 6);
}

/// Runs the built `cairn` binary with the root credentials in its environment.
async fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.args(args)
        .env_remove("CAIRN_ROOT_USER")
        .env_remove("CAIRN_ROOT_PASSWORD")
        .env_remove("MINIO_ROOT_USER")
        .env_remove("MINIO_ROOT_PASSWORD")
        .env_remove("CAIRN_ENDPOINT")
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
async fn cli_info_and_heal_exit_codes() {
    let srv = TestServer::start(8).await;
    put_objects(&srv, 2).await;
    std::fs::remove_dir_all(srv.drives[0].join("bkt").join("dir")).expect("delete shards");
    let ep = srv.endpoint.as_str();
    let creds = [("CAIRN_ROOT_USER", USER), ("CAIRN_ROOT_PASSWORD", PASSWORD)];

    let (code, out, err) = cli(&["admin", "info", "--json", "--endpoint", ep], &creds).await;
    assert_eq!(code, 0, "{err}");
    let info: Info = serde_json::from_str(&out).expect("JSON info");
    assert_eq!(info.drives.len(), 8);

    let (code, out, err) = cli(
        &["admin", "info"],
        &[creds[0], creds[1], ("CAIRN_ENDPOINT", ep)],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("EC:4") && out.contains("online"), "{out}");

    let minio = [("MINIO_ROOT_USER", USER), ("MINIO_ROOT_PASSWORD", PASSWORD)];
    let (code, out, err) = cli(
        &["admin", "heal", "--bucket", "bkt", "--endpoint", ep],
        &minio,
    )
    .await;
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("2 healed"), "{out}");
    assert!(srv.drives[0].join("bkt/dir/obj-1").exists());

    let (code, out, err) = cli(
        &["admin", "heal", "--no-wait", "--json", "--endpoint", ep],
        &creds,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"id\""), "{out}");

    // Wrong secret: an error answer (1); no credentials or a bad flag: usage (2);
    // nobody listening: unreachable (3).
    let bad = [
        ("CAIRN_ROOT_USER", USER),
        ("CAIRN_ROOT_PASSWORD", "not-the-password"),
    ];
    let (code, _, err) = cli(&["admin", "info", "--endpoint", ep], &bad).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    assert!(!err.contains("not-the-password"));
    let (code, _, _) = cli(&["admin", "info", "--endpoint", ep], &[]).await;
    assert_eq!(code, 2);
    let (code, _, _) = cli(
        &["admin", "heal", "--prefix", "x", "--endpoint", ep],
        &creds,
    )
    .await;
    assert_eq!(code, 2);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
    let dead = format!("http://{}", closed.local_addr().expect("addr"));
    drop(closed);
    let (code, _, err) = cli(&["admin", "info", "--endpoint", &dead], &creds).await;
    assert_eq!(code, 3, "{err}");
}

/// Four in-process servers on 127.0.0.1-4, two drives each: every server's admin API
/// shows the whole cluster, with each drive under its own server.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn distributed_info_merges_every_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let eps: Vec<String> = (1..=4)
        .flat_map(|n| {
            let root = dir.path().to_path_buf();
            (1..=2).map(move |d| {
                format!(
                    "http://127.0.0.{n}:{port}{}",
                    root.join(format!("n{n}/d{d}")).display()
                )
            })
        })
        .collect();
    let starts = (1..=4).map(|n| {
        let mut cfg = common::config(&[], &format!("127.0.0.{n}:{port}"));
        cfg.drives = eps.clone();
        async move { cairn::server::start(&cfg).await }
    });
    let servers: Vec<_> =
        tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(starts))
            .await
            .expect("servers agree")
            .into_iter()
            .map(|r| r.expect("server starts"))
            .collect();
    let client = |n: usize| {
        AdminClient::new(
            &format!("http://127.0.0.{n}:{port}"),
            Credentials {
                access_key: USER.into(),
                secret_key: PASSWORD.into(),
            },
            "us-east-1",
            &TlsTrust::System,
        )
        .expect("client")
    };
    let mut ids = Vec::new();
    for n in [1, 3] {
        let info: Info = client(n)
            .json(Method::GET, INFO, &[], T)
            .await
            .expect("info");
        assert_eq!(info.mode, "distributed");
        assert_eq!(info.server, format!("127.0.0.{n}:{port}"));
        assert_eq!(info.servers.len(), 4, "{:?}", info.servers);
        for s in &info.servers {
            assert_eq!(s.state, ServerState::Online, "{s:?}");
            assert_eq!((s.drives, s.drives_online), (2, 2));
            assert_eq!(s.local, s.endpoint == info.server);
        }
        for d in &info.drives {
            assert!(
                d.endpoint.starts_with(&format!("http://{}/", d.server)),
                "{d:?}"
            );
            assert_eq!(d.state, DriveState::Online);
        }
        assert_eq!(info.pools[0].set_health[0].drives_online, 8);
        assert_eq!(info.heal.cluster.servers, 4);
        ids.push(info.deployment_id.expect("deployment id"));
        // A server's own view lists only its drives.
        let own: Info = client(n)
            .json(Method::GET, INFO, &[("local", "1")], T)
            .await
            .expect("local info");
        assert!(own.local_only);
        assert_eq!(own.drives.len(), 2);
    }
    assert_eq!(ids[0], ids[1]);
    for s in servers {
        s.stop().await;
    }
}

/// MinIO's ServerInfo at `/minio/admin/v3/info`, as `mc admin info` and minio-py's
/// `MinioAdmin.info()` read it: madmin's field names, the drives and their state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minio_server_info_describes_the_deployment() {
    let srv = TestServer::start(8).await;
    srv.client()
        .create_bucket()
        .bucket("one")
        .send()
        .await
        .expect("bucket");
    let c = root(&srv);
    let (status, body) = c
        .call(Method::GET, "/minio/admin/v3/info", &[], T)
        .await
        .expect("answer");
    assert_eq!(status.as_u16(), 200, "{}", String::from_utf8_lossy(&body));
    let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(v["mode"], "online");
    assert_eq!(v["buckets"]["count"], 1);
    let backend = &v["backend"];
    assert_eq!(backend["backendType"], "Erasure");
    assert_eq!(backend["onlineDisks"], 8);
    assert_eq!(backend["offlineDisks"], 0);
    assert_eq!(backend["standardSCParity"], 4);
    assert_eq!(backend["totalSets"], serde_json::json!([1]));
    assert_eq!(backend["totalDrivesPerSet"], serde_json::json!([8]));
    let servers = v["servers"].as_array().expect("servers");
    assert_eq!(servers.len(), 1);
    assert_eq!(servers[0]["state"], "online");
    let drives = servers[0]["drives"].as_array().expect("drives");
    assert_eq!(drives.len(), 8);
    assert!(
        drives
            .iter()
            .all(|d| d["state"] == "ok" && d["totalspace"].as_u64() > Some(0))
    );
    let positions: Vec<u64> = drives
        .iter()
        .filter_map(|d| d["disk_index"].as_u64())
        .collect();
    assert_eq!(positions, (0..8).collect::<Vec<u64>>());

    // A drive taken away shows offline.
    std::fs::remove_dir_all(&srv.drives[3]).expect("remove drive");
    let v: serde_json::Value = serde_json::from_slice(
        &c.call(Method::GET, "/minio/admin/v3/info", &[], T)
            .await
            .expect("answer")
            .1,
    )
    .expect("json");
    assert_eq!(v["backend"]["offlineDisks"], 1, "{v}");
    // Only with admin:ServerInfo, and only GET.
    let (s, _) = admin(&srv, "nobody", "nobody-secret")
        .call(Method::GET, "/minio/admin/v3/info", &[], T)
        .await
        .expect("answer");
    assert_eq!(s.as_u16(), 403);
    let (s, _) = c
        .call(Method::POST, "/minio/admin/v3/info", &[], T)
        .await
        .expect("answer");
    assert_eq!(s.as_u16(), 405);
}
