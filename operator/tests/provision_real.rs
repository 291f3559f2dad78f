//! Provisioning against a real `cairn` server: the binary of this workspace, started the
//! way the rendered pods start it (`cairn server` with `CAIRN_CONFIG_ENV_FILE` naming a
//! `config.env`, `--certs-dir` holding the operator-generated certificate), reached over
//! HTTPS trusting only the generated tenant CA, with SigV4-signed requests.
//!
//! Users and policies go through the reconciler's own step (`reconcile::reconcile` against
//! the in-test Kubernetes API of `common::fake_api`, holding the Matrix example's Tenant and
//! Secrets, its tenant calls redirected to this server): then each application user signs
//! S3 requests with its Secret's keys and is allowed on its own buckets only.
//!
//! The binary is `$CAIRN_BIN`, or `target/debug/cairn` built on demand with
//! `cargo build -p cairn --bin cairn`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use cairn_operator::crd::{Bucket, CertificateConfig, Tenant};
use cairn_operator::provision;
use cairn_operator::reconcile::metrics::Metrics;
use cairn_operator::reconcile::{self, Context, TenantConnector};
use cairn_operator::render::Settings;
use cairn_operator::render::names::Names;
use cairn_operator::render::secret_data;
use cairn_operator::tenant::{
    AdminInfo, BucketOutcome, ClusterHealth, Credentials, HttpTenant, TenantApi, TenantEndpoint,
    TenantError, s3_error_code, sigv4,
};
use common::fake_api::FakeApi;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full};
use k8s_openapi::api::core::v1::Secret;
use rustls_pki_types::pem::PemObject;
use serde_json::json;

const USER: &str = "matrix-admin";
const PASSWORD: &str = "provision-test-password";
/// The root password of the Matrix example's configuration Secret.
const MATRIX_PASSWORD: &str = "CHANGE-ME-root-password";

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
    start_with_root(ca_and_cert, PASSWORD)
}

/// [`start`] with `password` as the root user's.
fn start_with_root(ca_and_cert: &cairn_operator::tls::TlsMaterial, password: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(certs.join("CAs")).unwrap();
    std::fs::write(certs.join("public.crt"), &ca_and_cert.cert_pem).unwrap();
    std::fs::write(certs.join("private.key"), &ca_and_cert.key_pem).unwrap();
    std::fs::write(certs.join("CAs/ca.crt"), &ca_and_cert.ca_cert_pem).unwrap();
    let config = dir.path().join("config.env");
    std::fs::write(
        &config,
        format!("export MINIO_ROOT_USER=\"{USER}\"\nexport MINIO_ROOT_PASSWORD=\"{password}\"\n"),
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
        api.create_bucket("synapse-media", None, false)
            .await
            .unwrap(),
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

    // `objectLock: true`: the bucket is made with object lock (and versioning) on.
    assert_eq!(
        api.create_bucket("locked-bucket", None, true)
            .await
            .unwrap(),
        BucketOutcome::Created
    );
    let root = endpoint(server.port, &material.ca_cert_pem, PASSWORD).credentials;
    for (bucket, status, wanted) in [
        (
            "locked-bucket",
            200,
            "<ObjectLockEnabled>Enabled</ObjectLockEnabled>",
        ),
        ("synapse-media", 404, "ObjectLockConfigurationNotFoundError"),
    ] {
        let path = format!("/{bucket}");
        let query = [("object-lock", "")];
        let (st, answer) = s3(
            server.port,
            &material.ca_cert_pem,
            &root,
            "GET",
            &path,
            &query,
            b"",
        )
        .await;
        assert_eq!(st, status, "{answer}");
        assert!(answer.contains(wanted), "{answer}");
    }

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

// ---- users and policies through the reconciler --------------------------------------------

/// Sends the reconciler's tenant calls to the test's server: its URL, trusting its CA (the
/// endpoint's credentials, from the configuration Secret, are kept).
/// Every identity call is logged (`add-canned-policy <name>`, `add-user <key>`,
/// `set-user-policy <key> <policy>`), so a test sees what was sent.
struct Redirect {
    base_url: String,
    ca_pem: String,
    identity_calls: Arc<Mutex<Vec<String>>>,
}

impl TenantConnector for Redirect {
    fn connect(&self, mut endpoint: TenantEndpoint) -> Result<Arc<dyn TenantApi>, TenantError> {
        endpoint.base_url = self.base_url.clone();
        endpoint.ca_pem = Some(self.ca_pem.clone());
        Ok(Arc::new(Logged {
            inner: HttpTenant::new(endpoint)?,
            calls: self.identity_calls.clone(),
        }))
    }
}

/// [`HttpTenant`], logging the identity calls it passes on.
struct Logged {
    inner: HttpTenant,
    calls: Arc<Mutex<Vec<String>>>,
}

impl Logged {
    fn log(&self, call: String) {
        self.calls.lock().unwrap().push(call);
    }
}

impl TenantApi for Logged {
    fn cluster_health(&self) -> BoxFuture<'_, Result<ClusterHealth, TenantError>> {
        self.inner.cluster_health()
    }

    fn admin_info(&self) -> BoxFuture<'_, Result<Option<AdminInfo>, TenantError>> {
        self.inner.admin_info()
    }

    fn create_bucket<'a>(
        &'a self,
        name: &'a str,
        region: Option<&'a str>,
        object_lock: bool,
    ) -> BoxFuture<'a, Result<BucketOutcome, TenantError>> {
        self.inner.create_bucket(name, region, object_lock)
    }

    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, TenantError>> {
        self.inner.list_buckets()
    }

    fn add_canned_policy<'a>(
        &'a self,
        name: &'a str,
        document: &'a [u8],
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        self.log(format!("add-canned-policy {name}"));
        self.inner.add_canned_policy(name, document)
    }

    fn add_user<'a>(
        &'a self,
        access_key: &'a str,
        secret_key: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        self.log(format!("add-user {access_key}"));
        self.inner.add_user(access_key, secret_key)
    }

    fn set_user_policy<'a>(
        &'a self,
        access_key: &'a str,
        policy: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        self.log(format!("set-user-policy {access_key} {policy}"));
        self.inner.set_user_policy(access_key, policy)
    }

    fn remove_user<'a>(&'a self, access_key: &'a str) -> BoxFuture<'a, Result<bool, TenantError>> {
        self.log(format!("remove-user {access_key}"));
        self.inner.remove_user(access_key)
    }

    fn remove_canned_policy<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, TenantError>> {
        self.log(format!("remove-canned-policy {name}"));
        self.inner.remove_canned_policy(name)
    }
}

/// Runs the controller's reconcile on `tenant` and `secrets` held by the fake Kubernetes
/// API: a first pass applies the StatefulSets, their pods are then made Running and ready
/// (as the StatefulSet controller and kubelet would), and a second pass probes the tenant
/// and provisions buckets, policies and users. Returns the Tenant as stored, with status.
async fn reconcile_with_ready_pods(
    tenant: &Tenant,
    secrets: &[Secret],
    connector: Arc<dyn TenantConnector>,
) -> Tenant {
    reconcile_with_config_maps(tenant, secrets, &[], connector).await
}

/// [`reconcile_with_ready_pods`], the API also holding `config_maps` (JSON objects).
async fn reconcile_with_config_maps(
    tenant: &Tenant,
    secrets: &[Secret],
    config_maps: &[serde_json::Value],
    connector: Arc<dyn TenantConnector>,
) -> Tenant {
    let (api, client) = FakeApi::start();
    api.set_service_monitor_crd(true);
    let ns = tenant.metadata.namespace.clone().unwrap();
    let name = tenant.metadata.name.clone().unwrap();
    for cm in config_maps {
        let cm_name = cm["metadata"]["name"].as_str().unwrap();
        api.insert(
            &format!("/api/v1/namespaces/{ns}/configmaps/{cm_name}"),
            cm.clone(),
        );
    }
    for s in secrets {
        let mut v = serde_json::to_value(s).unwrap();
        v["apiVersion"] = json!("v1");
        v["kind"] = json!("Secret");
        let path = format!(
            "/api/v1/namespaces/{}/secrets/{}",
            s.metadata.namespace.as_deref().unwrap(),
            s.metadata.name.as_deref().unwrap()
        );
        api.insert(&path, v);
    }
    let tenant_path = format!("/apis/cairn.dev/v1alpha1/namespaces/{ns}/tenants/{name}");
    let mut t = serde_json::to_value(tenant).unwrap();
    t["metadata"]["generation"] = json!(1);
    api.insert(&tenant_path, t);
    let ctx = Arc::new(Context::with_connector(
        client,
        Settings::default(),
        Arc::new(Metrics::default()),
        connector,
    ));
    let stored = |api: &FakeApi| -> Tenant {
        serde_json::from_value(api.get(&tenant_path).unwrap()).unwrap()
    };
    reconcile::reconcile(Arc::new(stored(&api)), ctx.clone())
        .await
        .expect("first reconcile");
    let statefulsets = api.paths(&format!("/apis/apps/v1/namespaces/{ns}/statefulsets/"));
    assert!(
        !statefulsets.is_empty(),
        "the first pass applies StatefulSets"
    );
    for path in statefulsets {
        let sts = api.get(&path).unwrap();
        let sts_name = sts["metadata"]["name"].as_str().unwrap();
        let mut labels = sts["spec"]["template"]["metadata"]["labels"].clone();
        labels["controller-revision-hash"] = sts["status"]["updateRevision"].clone();
        for i in 0..sts["spec"]["replicas"].as_i64().unwrap() {
            let pod = format!("{sts_name}-{i}");
            api.insert(
                &format!("/api/v1/namespaces/{ns}/pods/{pod}"),
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": labels},
                    "spec": {"containers": [{"name": "cairn",
                        "args": sts["spec"]["template"]["spec"]["containers"][0]["args"]}]},
                    "status": {"phase": "Running",
                               "conditions": [{"type": "Ready", "status": "True"}]}
                }),
            );
        }
    }
    reconcile::reconcile(Arc::new(stored(&api)), ctx.clone())
        .await
        .expect("second reconcile");
    stored(&api)
}

/// The `(access key, secret key)` of a user Secret, as the reconciler reads it.
fn user_keys(secrets: &[Secret], name: &str) -> Credentials {
    let secret = secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Secret {name}"));
    let data = secret_data(secret);
    let text = |k: &str| String::from_utf8(data[k].clone()).unwrap();
    Credentials {
        access_key: text("CONSOLE_ACCESS_KEY"),
        secret_key: text("CONSOLE_SECRET_KEY"),
    }
}

/// One S3 request to `https://localhost:port`, SigV4-signed with `creds` by the operator's
/// signer, trusting only `ca`: the status and body.
async fn s3(
    port: u16,
    ca: &str,
    creds: &Credentials,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build::<_, Full<Bytes>>(https);
    let host = format!("localhost:{port}");
    let payload = sigv4::sha256_hex(body);
    let headers = sigv4::sign(
        &sigv4::Request {
            method,
            host: &host,
            path,
            query,
            payload_sha256: &payload,
            headers: &[],
        },
        creds,
        "us-east-1",
        "s3",
        time::OffsetDateTime::now_utc(),
    );
    let mut url = format!("https://{host}{}", sigv4::canonical_path(path));
    if !query.is_empty() {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{}={}", sigv4::encode(k), sigv4::encode(v)))
            .collect();
        url = format!("{url}?{}", q.join("&"));
    }
    let mut request = http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        request = request.header(k, v);
    }
    let request = request
        .body(Full::new(Bytes::copy_from_slice(body)))
        .unwrap();
    let response = client.request(request).await.expect("S3 request");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The `<Code>` of an S3 error answer.
fn code(body: &str) -> String {
    s3_error_code(body.as_bytes()).unwrap_or_else(|| format!("no <Code> in {body:?}"))
}

#[tokio::test]
async fn matrix_users_and_policies_are_provisioned_and_confine_each_user_to_its_buckets() {
    let (tenant, secrets) = common::matrix();
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
    let ca = material.ca_cert_pem.clone();
    // The root user of the Matrix configuration Secret, which the reconciler signs with.
    let server = start_with_root(&material, MATRIX_PASSWORD);
    let root = HttpTenant::new(endpoint(server.port, &ca, MATRIX_PASSWORD)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match root.cluster_health().await {
            Ok(h) if h.write_ok => break,
            other if Instant::now() > deadline => panic!("tenant never healthy: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }

    let connector = Arc::new(Redirect {
        base_url: format!("https://localhost:{}", server.port),
        ca_pem: ca.clone(),
        identity_calls: Arc::new(Mutex::new(Vec::new())),
    });
    let stored = reconcile_with_ready_pods(&tenant, &secrets, connector.clone()).await;
    // Policies first, then each user with its policy, in spec order.
    assert_eq!(
        std::mem::take(&mut *connector.identity_calls.lock().unwrap()),
        [
            "add-canned-policy synapse-media-readwrite",
            "add-canned-policy postgresql-backups-readwrite",
            "add-user synapse",
            "set-user-policy synapse synapse-media-readwrite",
            "add-user cloudnative-pg",
            "set-user-policy cloudnative-pg postgresql-backups-readwrite",
        ]
    );
    let status = stored.status.clone().expect("a status");
    let condition = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "UsersProvisioned")
        .expect("a UsersProvisioned condition");
    assert_eq!(
        (condition.status.as_str(), condition.reason.as_str()),
        ("True", "UsersCreated"),
        "{}",
        condition.message
    );
    let user_secrets = ["matrix-minio-synapse-user", "matrix-minio-cnpg-user"];
    assert_eq!(
        status.provisioned_users.as_deref(),
        Some(&user_secrets.map(String::from)[..])
    );
    let hashed: Vec<&String> = status
        .user_hashes
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        hashed,
        ["matrix-minio-cnpg-user", "matrix-minio-synapse-user"]
    );
    let policies: Vec<&String> = status
        .policy_hashes
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        policies,
        ["postgresql-backups-readwrite", "synapse-media-readwrite"]
    );
    let mut listed = root.list_buckets().await.unwrap();
    listed.sort();
    assert_eq!(
        listed,
        ["postgresql-backups", "synapse-media", "synapse-media-li"]
    );

    // Each user, with the keys of its Secret: read-write on its buckets, nothing else.
    let cases: [(&str, &[&str], &str); 2] = [
        (
            "matrix-minio-synapse-user",
            &["synapse-media", "synapse-media-li"],
            "postgresql-backups",
        ),
        (
            "matrix-minio-cnpg-user",
            &["postgresql-backups"],
            "synapse-media",
        ),
    ];
    let port = server.port;
    for (secret, own, other) in cases {
        let creds = user_keys(&secrets, secret);
        let who = &creds.access_key;
        for bucket in own {
            let key = format!("/{bucket}/from-{who}/object");
            let body = format!("written by {who} into {bucket}");
            let (st, answer) = s3(port, &ca, &creds, "PUT", &key, &[], body.as_bytes()).await;
            assert_eq!(st, 200, "{who} PUT {key}: {answer}");
            let (st, answer) = s3(port, &ca, &creds, "GET", &key, &[], b"").await;
            assert_eq!(
                (st, answer.as_str()),
                (200, body.as_str()),
                "{who} GET {key}"
            );
            let (st, answer) = s3(
                port,
                &ca,
                &creds,
                "GET",
                &format!("/{bucket}"),
                &[("list-type", "2")],
                b"",
            )
            .await;
            assert_eq!(st, 200, "{who} lists {bucket}: {answer}");
            assert!(
                answer.contains(&format!("<Key>from-{who}/object</Key>")),
                "{who} lists {bucket}: {answer}"
            );
        }
        let denied = [
            (
                "PUT",
                format!("/{other}/from-{who}"),
                vec![],
                b"no".as_slice(),
            ),
            (
                "GET",
                format!("/{other}"),
                vec![("list-type", "2")],
                b"".as_slice(),
            ),
            ("PUT", format!("/{who}-own-bucket"), vec![], b"".as_slice()),
            ("DELETE", format!("/{}", own[0]), vec![], b"".as_slice()),
        ];
        for (method, path, query, body) in denied {
            let (st, answer) = s3(port, &ca, &creds, method, &path, &query, body).await;
            assert_eq!(
                (st, code(&answer)),
                (403, "AccessDenied".to_string()),
                "{who} {method} {path}"
            );
        }
        // The secret key is the Secret's: another one does not sign.
        let wrong = Credentials {
            access_key: creds.access_key.clone(),
            secret_key: "not-the-secret-key".into(),
        };
        let (st, answer) = s3(port, &ca, &wrong, "GET", &format!("/{}", own[0]), &[], b"").await;
        assert_eq!(
            (st, code(&answer)),
            (403, "SignatureDoesNotMatch".to_string())
        );
    }
    // The other user's object is not visible across: synapse cannot read CloudNativePG's.
    let synapse = user_keys(&secrets, "matrix-minio-synapse-user");
    let (st, answer) = s3(
        port,
        &ca,
        &synapse,
        "GET",
        "/postgresql-backups/from-cloudnative-pg/object",
        &[],
        b"",
    )
    .await;
    assert_eq!((st, code(&answer)), (403, "AccessDenied".to_string()));

    // A second reconcile sends nothing again (the hashes match) and keeps the status.
    let again = reconcile_with_ready_pods(&stored, &secrets, connector.clone()).await;
    assert!(connector.identity_calls.lock().unwrap().is_empty());
    let again_status = again.status.clone().unwrap();
    assert_eq!(again_status.user_hashes, status.user_hashes);
    assert_eq!(again_status.provisioned_users, status.provisioned_users);

    // The CloudNativePG user and its policy leave the spec, and Synapse's policy moves to a
    // ConfigMap (same document): the user, then the policy, are removed from the server;
    // the moved policy, unchanged, is not sent again.
    let mut reduced = again.clone();
    let policies = reduced.spec.policies.as_mut().unwrap();
    let document = policies[0].document.take().unwrap();
    policies[0].config_map_ref = Some(cairn_operator::crd::ConfigMapKeyRef {
        name: "matrix-policies".into(),
        key: "synapse.json".into(),
    });
    policies.truncate(1);
    reduced.spec.users.as_mut().unwrap().truncate(1);
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "matrix-policies", "namespace": "matrix"},
        "data": {"synapse.json": document}});
    let removed = reconcile_with_config_maps(
        &reduced,
        &secrets,
        std::slice::from_ref(&config_map),
        connector.clone(),
    )
    .await;
    assert_eq!(
        std::mem::take(&mut *connector.identity_calls.lock().unwrap()),
        [
            "remove-user cloudnative-pg",
            "remove-canned-policy postgresql-backups-readwrite"
        ]
    );
    let removed_status = removed.status.clone().unwrap();
    assert_eq!(
        removed_status.managed_users,
        Some(
            [("synapse".to_string(), user_secrets[0].to_string())]
                .into_iter()
                .collect()
        )
    );
    assert_eq!(
        removed_status.managed_policies.as_deref(),
        Some(&["synapse-media-readwrite".to_string()][..])
    );
    // The server no longer knows CloudNativePG's key, nor the policy (a second removal
    // finds nothing); Synapse still writes to its bucket.
    let cnpg = user_keys(&secrets, "matrix-minio-cnpg-user");
    let (st, answer) = s3(port, &ca, &cnpg, "GET", "/postgresql-backups", &[], b"").await;
    assert_eq!((st, code(&answer)), (403, "InvalidAccessKeyId".to_string()));
    assert!(!root.remove_user("cloudnative-pg").await.unwrap());
    assert!(
        !root
            .remove_canned_policy("postgresql-backups-readwrite")
            .await
            .unwrap()
    );
    let (st, answer) = s3(
        port,
        &ca,
        &synapse,
        "PUT",
        "/synapse-media/after-removal",
        &[],
        b"still here",
    )
    .await;
    assert_eq!(st, 200, "{answer}");

    // Once more: nothing to apply or remove.
    reconcile_with_config_maps(&removed, &secrets, &[config_map], connector.clone()).await;
    assert!(connector.identity_calls.lock().unwrap().is_empty());
}
