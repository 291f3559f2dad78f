//! Test harness: a real `cairn` server started in-process on 127.0.0.1 over temporary
//! drive directories, an `aws-sdk-s3` client for it, and a raw HTTP client for requests
//! no SDK would send.
#![allow(dead_code)]

pub mod iam;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use cairn::config::ServerConfig;
use cairn::server::Running;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const USER: &str = "testadmin";
pub const PASSWORD: &str = "testpassword123";

pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub drives: Vec<PathBuf>,
    pub running: Option<Running>,
    pub endpoint: String,
    pub addr: std::net::SocketAddr,
}

pub fn config(drives: &[PathBuf], address: &str) -> ServerConfig {
    let mut cfg = ServerConfig::new(
        drives.iter().map(|d| d.display().to_string()).collect(),
        address,
        USER,
        PASSWORD,
    );
    cfg.domains = vec!["s3.localhost.test".into()];
    cfg
}

impl TestServer {
    /// Starts a server on `n` fresh drive directories.
    pub async fn start(n: usize) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let drives: Vec<PathBuf> = (1..=n).map(|i| dir.path().join(format!("d{i}"))).collect();
        let running = cairn::server::start(&config(&drives, "127.0.0.1:0"))
            .await
            .expect("server starts");
        let addr = running.address;
        TestServer {
            dir,
            drives,
            running: Some(running),
            endpoint: format!("http://{addr}"),
            addr,
        }
    }

    /// Stops and starts the server again on the same drives and port.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        let mut last = None;
        for _ in 0..50 {
            match cairn::server::start(&config(&self.drives, &self.addr.to_string())).await {
                Ok(r) => {
                    self.running = Some(r);
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("restart failed: {last:?}");
    }

    pub fn client(&self) -> aws_sdk_s3::Client {
        client_for(&self.endpoint)
    }
}

pub fn client_for(endpoint: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(USER, PASSWORD, None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub async fn get_bytes(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<u8> {
    c.get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e:?}"))
        .body
        .collect()
        .await
        .expect("body")
        .into_bytes()
        .to_vec()
}

/// The S3 error code of an SDK error.
pub fn code<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> String {
    e.code().unwrap_or("<none>").to_string()
}

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends bytes as they are and reads the whole response (the request must ask for
/// `Connection: close`).
pub async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    parse_response(&buf)
}

/// Sends a request and closes the sending side: the server sees the body end early.
pub async fn raw_then_close(addr: std::net::SocketAddr, request: &[u8]) -> RawResponse {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let _ = s.shutdown().await;
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(20), s.read_to_end(&mut buf)).await;
    parse_response(&buf)
}

pub fn parse_response(buf: &[u8]) -> RawResponse {
    let text = String::from_utf8_lossy(buf);
    let head_end = text.find("\r\n\r\n").unwrap_or(text.len());
    let mut lines = text[..head_end].lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = buf.get(head_end + 4..).unwrap_or_default().to_vec();
    RawResponse {
        status,
        headers,
        body,
    }
}

/// Builds a SigV4-signed raw request (signed payload hash) with `Connection: close`.
pub fn signed_request(
    addr: std::net::SocketAddr,
    method: &str,
    raw_path: &str,
    raw_query: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    secret: &str,
) -> Vec<u8> {
    use cairn::s3::auth::sigv4::{ClientRequest, Credentials, sign_request_headers};
    use sha2::Digest;
    let method: http::Method = method.parse().expect("method");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", addr.to_string().parse().expect("host"));
    for (k, v) in extra {
        headers.insert(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            v.parse().expect("value"),
        );
    }
    let hash = hex::encode(sha2::Sha256::digest(body));
    let sig = sign_request_headers(
        &ClientRequest {
            method: &method,
            raw_path,
            raw_query,
            headers: &headers,
            payload_hash: &hash,
            time: chrono::Utc::now(),
            region: "us-east-1",
        },
        &Credentials {
            access_key: USER.into(),
            secret_key: secret.into(),
        },
    );
    sig.apply(&mut headers).expect("apply");
    let target = if raw_query.is_empty() {
        raw_path.to_string()
    } else {
        format!("{raw_path}?{raw_query}")
    };
    // Header values as raw bytes: a test may send non-ASCII (UTF-8) text.
    let mut bytes = format!("{method} {target} HTTP/1.1\r\n").into_bytes();
    for (k, v) in &headers {
        bytes.extend_from_slice(format!("{k}: ").as_bytes());
        bytes.extend_from_slice(v.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    if !headers.contains_key("content-length") {
        bytes.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"connection: close\r\n\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// Creates bucket `bkt` and puts `obj/<i>` of each size in `sizes` (deterministic bodies);
/// returns the keys with their bodies. Shared by the fault and heal tests.
pub async fn fill_sized(c: &aws_sdk_s3::Client, sizes: &[usize]) -> Vec<(String, Vec<u8>)> {
    c.create_bucket()
        .bucket("bkt")
        .send()
        .await
        .expect("create bucket");
    let mut objects = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let key = format!("obj/{i}");
        let body = data(*size, 100 + i as u64);
        c.put_object()
            .bucket("bkt")
            .key(&key)
            .body(aws_sdk_s3::primitives::ByteStream::from(body.clone()))
            .send()
            .await
            .expect("put");
        objects.push((key, body));
    }
    objects
}

/// Uploads `body` as part 1 of upload `upload_id` and returns the document that
/// completes the upload with it.
pub async fn one_part(
    c: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    body: Vec<u8>,
) -> aws_sdk_s3::types::CompletedMultipartUpload {
    let part = c
        .upload_part()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(1)
        .body(body.into())
        .send()
        .await
        .expect("upload part");
    aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap_or_default())
                .build(),
        )
        .build()
}

/// A server over TLS (a fresh self-signed certificate for 127.0.0.1), optionally with a
/// KMS key (`KMS_SECRET_KEY`'s value); `endpoint` is `https://127.0.0.1:<port>`.
pub struct TlsServer {
    pub server: TestServer,
    pub ca_pem: String,
}

impl TlsServer {
    pub async fn start(n: usize, kms: Option<&str>) -> TlsServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let certs = dir.path().join("certs");
        std::fs::create_dir_all(&certs).expect("certs dir");
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
            .expect("certificate");
        let ca_pem = ck.cert.pem();
        std::fs::write(certs.join("public.crt"), &ca_pem).expect("write cert");
        std::fs::write(certs.join("private.key"), ck.signing_key.serialize_pem())
            .expect("write key");
        let drives: Vec<PathBuf> = (1..=n).map(|i| dir.path().join(format!("d{i}"))).collect();
        let mut cfg = config(&drives, "127.0.0.1:0");
        cfg.certs_dir = Some(certs);
        cfg.kms = kms.map(|k| {
            std::sync::Arc::new(
                cairn::crypto::kms::static_key::StaticKms::parse(k).expect("kms key"),
            )
        });
        let running = cairn::server::start(&cfg).await.expect("server starts");
        let addr = running.address;
        TlsServer {
            server: TestServer {
                dir,
                drives,
                running: Some(running),
                endpoint: format!("https://127.0.0.1:{}", addr.port()),
                addr,
            },
            ca_pem,
        }
    }

    /// Restarts on the same drives, certificate and port with another KMS setting.
    pub async fn restart_with_kms(&mut self, kms: Option<&str>) {
        if let Some(r) = self.server.running.take() {
            r.stop().await;
        }
        let mut cfg = config(&self.server.drives, &self.server.addr.to_string());
        cfg.certs_dir = Some(self.server.dir.path().join("certs"));
        cfg.kms = kms.map(|k| {
            std::sync::Arc::new(
                cairn::crypto::kms::static_key::StaticKms::parse(k).expect("kms key"),
            )
        });
        let mut last = None;
        for _ in 0..50 {
            match cairn::server::start(&cfg).await {
                Ok(r) => {
                    self.server.running = Some(r);
                    return;
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("restart failed: {last:?}");
    }

    /// A root admin API client that trusts this server's certificate.
    pub fn admin(&self) -> cairn::admin::client::AdminClient {
        let ca = self.server.dir.path().join("certs").join("public.crt");
        cairn::admin::client::AdminClient::new(
            &self.server.endpoint,
            cairn::s3::auth::sigv4::Credentials {
                access_key: USER.into(),
                secret_key: PASSWORD.into(),
            },
            "us-east-1",
            &cairn::admin::client::TlsTrust::CaFile(ca),
        )
        .expect("admin client")
    }

    /// An SDK client that trusts this server's certificate.
    pub fn client(&self) -> aws_sdk_s3::Client {
        use aws_smithy_http_client::tls::{
            self, TlsContext, TrustStore, rustls_provider::CryptoMode,
        };
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(
                TlsContext::builder()
                    .with_trust_store(
                        TrustStore::empty().with_pem_certificate(self.ca_pem.as_bytes()),
                    )
                    .build()
                    .expect("tls context"),
            )
            .build_https();
        let conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.server.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(USER, PASSWORD, None, None, "test"))
            .force_path_style(true)
            .http_client(http)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}
