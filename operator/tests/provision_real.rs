//! Provisioning against a real `cairn` server: the binary of this workspace, started the
//! way the rendered pods start it (`cairn server` with `CAIRN_CONFIG_ENV_FILE` naming a
//! `config.env`, `--certs-dir` holding the operator-generated certificate), reached over
//! HTTPS trusting only the generated tenant CA, with SigV4-signed requests.
//!
//! The binary is `$CAIRN_BIN`, or `target/debug/cairn` built on demand with
//! `cargo build -p cairn --bin cairn`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cairn_operator::crd::{Bucket, CertificateConfig};
use cairn_operator::provision;
use cairn_operator::render::names::Names;
use cairn_operator::tenant::{
    BucketOutcome, Credentials, HttpTenant, TenantApi, TenantEndpoint, TenantError,
};

const USER: &str = "matrix-admin";
const PASSWORD: &str = "provision-test-password";

fn cairn_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("CAIRN_BIN") {
        return PathBuf::from(p);
    }
    let repo = common::repo();
    let mut child = Command::new(env!("CARGO"))
        .args(["build", "-q", "-p", "cairn", "--bin", "cairn"])
        .current_dir(&repo)
        .spawn()
        .expect("run cargo build -p cairn");
    let deadline = Instant::now() + Duration::from_secs(1200);
    loop {
        if let Some(status) = child.try_wait().expect("wait for cargo") {
            assert!(status.success(), "cargo build -p cairn --bin cairn failed");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cargo build -p cairn --bin cairn took more than 20 minutes");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"))
        .join("debug/cairn")
}

/// A running `cairn server`, stopped on drop.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cairn server` on four drives with TLS from the operator's generated material.
fn start(ca_and_cert: &cairn_operator::tls::TlsMaterial) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(certs.join("CAs")).unwrap();
    std::fs::write(certs.join("public.crt"), &ca_and_cert.cert_pem).unwrap();
    std::fs::write(certs.join("private.key"), &ca_and_cert.key_pem).unwrap();
    std::fs::write(certs.join("CAs/ca.crt"), &ca_and_cert.ca_cert_pem).unwrap();
    let config = dir.path().join("config.env");
    std::fs::write(
        &config,
        format!("export MINIO_ROOT_USER=\"{USER}\"\nexport MINIO_ROOT_PASSWORD=\"{PASSWORD}\"\n"),
    )
    .unwrap();
    let drives: Vec<String> = (0..4)
        .map(|i| dir.path().join(format!("export{i}")).display().to_string())
        .collect();
    let mut command = Command::new(cairn_bin());
    command
        .arg("server")
        .args([
            "--address",
            "127.0.0.1:0",
            "--console-address",
            "127.0.0.1:0",
        ])
        .arg("--certs-dir")
        .arg(&certs)
        .args(&drives)
        .env("CAIRN_CONFIG_ENV_FILE", &config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, _) in std::env::vars() {
        if k.starts_with("CAIRN_") || k.starts_with("MINIO_") {
            command.env_remove(k);
        }
    }
    command.env("CAIRN_CONFIG_ENV_FILE", &config);
    let mut child = command.spawn().expect("start cairn server");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("S3 API:") {
                let _ = tx.send(url.trim().to_string());
            }
        }
    });
    let url = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => url,
        Err(_) => {
            let _ = child.kill();
            panic!("cairn server did not print its address within 60 s");
        }
    };
    assert!(url.starts_with("https://"), "{url}");
    let port = url.rsplit(':').next().unwrap().parse().unwrap();
    Server {
        child,
        port,
        _dir: dir,
    }
}

fn endpoint(port: u16, ca: &str, password: &str) -> TenantEndpoint {
    TenantEndpoint {
        // The certificate names `localhost` (certConfig.dnsNames), as it names the Services
        // in a cluster: the client checks the name against it.
        base_url: format!("https://localhost:{port}"),
        ca_pem: Some(ca.to_string()),
        credentials: Credentials {
            access_key: USER.to_string(),
            secret_key: password.to_string(),
        },
        region: "us-east-1".to_string(),
    }
}

fn spec(buckets: &[&str]) -> cairn_operator::crd::TenantSpec {
    let mut spec = common::simple_tenant(&[("pool-0", 1, 4)], "").spec;
    spec.buckets = Some(
        buckets
            .iter()
            .map(|b| Bucket {
                name: b.to_string(),
                ..Bucket::default()
            })
            .collect(),
    );
    spec
}

#[tokio::test]
async fn buckets_are_created_on_a_real_server_over_tls_idempotently() {
    let names = Names {
        tenant: "matrix-minio".into(),
        namespace: "matrix".into(),
        cluster_domain: "cluster.local".into(),
        s3_service: "minio".into(),
    };
    let config = CertificateConfig {
        dns_names: Some(vec!["localhost".into()]),
        ..CertificateConfig::default()
    };
    let material =
        cairn_operator::tls::generate(&names, Some(&config), time::OffsetDateTime::now_utc())
            .unwrap();
    let server = start(&material);
    let api = HttpTenant::new(endpoint(server.port, &material.ca_cert_pem, PASSWORD)).unwrap();

    // Health, as the reconciler reads it.
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match api.cluster_health().await {
            Ok(h) if h.write_ok => break h,
            other if Instant::now() > deadline => panic!("tenant never healthy: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    assert!(health.read_ok);
    assert_eq!(
        health.write_quorum,
        Some(3),
        "4 drives, EC:2: write quorum 3"
    );
    // The admin info endpoint may not exist yet (404 -> None); either way no error.
    match api.admin_info().await.unwrap() {
        None => {}
        Some(info) => assert_eq!(info.drives_online, 4),
    }

    let wanted = ["synapse-media", "synapse-media-li", "postgresql-backups"];
    let report = provision::provision(&api, &spec(&wanted), &[]).await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.created, wanted);
    assert_eq!(report.provisioned, wanted);

    let mut listed = api.list_buckets().await.unwrap();
    listed.sort();
    let mut expected: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);

    // Idempotent: asking again finds them owned already.
    let again = provision::provision(&api, &spec(&wanted), &[]).await;
    assert!(again.failed.is_empty(), "{:?}", again.failed);
    assert!(again.created.is_empty());
    assert_eq!(again.provisioned, wanted);
    assert_eq!(
        api.create_bucket("synapse-media", None).await.unwrap(),
        BucketOutcome::AlreadyOwned
    );
    // What the status already lists is not asked for again.
    let skip = provision::provision(
        &api,
        &spec(&["synapse-media"]),
        &["synapse-media".to_string()],
    )
    .await;
    assert_eq!(skip.provisioned, vec!["synapse-media"]);

    // Wrong credentials: a failure with the server's answer, not a success.
    let wrong = HttpTenant::new(endpoint(
        server.port,
        &material.ca_cert_pem,
        "not-the-password",
    ))
    .unwrap();
    let report = provision::provision(&wrong, &spec(&["other-bucket"]), &[]).await;
    assert_eq!(report.failed.len(), 1);
    match &report.failed[0].1 {
        TenantError::Status { status, .. } => assert_eq!(*status, 403),
        other => panic!("{other:?}"),
    }

    // A client that does not trust the tenant CA cannot talk to it.
    let other_ca =
        cairn_operator::tls::generate(&names, Some(&config), time::OffsetDateTime::now_utc())
            .unwrap()
            .ca_cert_pem;
    let untrusting = HttpTenant::new(endpoint(server.port, &other_ca, PASSWORD)).unwrap();
    assert!(matches!(
        untrusting.cluster_health().await,
        Err(TenantError::Unreachable { .. })
    ));
}
