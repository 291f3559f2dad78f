//! Talking to a running tenant: its health endpoints, its admin info endpoint, the S3
//! API for buckets and MinIO's admin API v3 for policies and users ([`admin`]), which it
//! creates, updates and removes.
//!
//! [`TenantApi`] is what the reconciler and the provisioner use; [`HttpTenant`] implements
//! it over HTTP(S) (rustls, trusting only the tenant's CA when TLS is on), every request
//! signed with SigV4 ([`sigv4`]) when it needs credentials and bounded by a timeout. Tests
//! substitute their own implementation.
//!
//! The admin info endpoint (`/cairn/admin/v1/info`) is optional: a server that answers 404
//! (or 501) there simply has none yet, and the health is then derived from the health
//! endpoints and the pods alone.

pub mod admin;
pub mod sigv4;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde::Deserialize;
use thiserror::Error;

pub use sigv4::Credentials;

/// Longest time one request to a tenant may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request to a tenant failed.
#[derive(Debug, Error)]
pub enum TenantError {
    #[error("invalid tenant URL {0}")]
    Url(String),
    #[error("the tenant CA certificate is not valid PEM: {0}")]
    Ca(String),
    #[error("cannot reach the tenant at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the tenant at {url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("the tenant answered {status} to {what}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("the tenant's {what} answer is not valid: {message}")]
    Decode { what: String, message: String },
}

/// What the health endpoints said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterHealth {
    /// `/minio/health/cluster` answered 200: every erasure set has write quorum.
    pub write_ok: bool,
    /// `/minio/health/cluster/read` answered 200: every set has read quorum.
    pub read_ok: bool,
    /// The write quorum the server reported (`x-minio-write-quorum`), if any.
    pub write_quorum: Option<i32>,
}

/// Drive counts from the admin info endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminInfo {
    pub drives_online: i32,
    pub drives_offline: i32,
    pub drives_healing: i32,
    /// Usable capacity in bytes, when reported.
    pub capacity: Option<i64>,
    /// Raw capacity of all drives in bytes, when reported.
    pub raw_capacity: Option<i64>,
    /// Bytes used on the drives, when reported.
    pub raw_usage: Option<i64>,
    /// Bytes of object data, when reported.
    pub usage: Option<i64>,
}

/// Outcome of creating one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketOutcome {
    /// The bucket was created.
    Created,
    /// It existed already and belongs to the root user (`BucketAlreadyOwnedByYou`).
    AlreadyOwned,
}

/// What the operator asks of a running tenant.
pub trait TenantApi: Send + Sync {
    /// The cluster health endpoints.
    fn cluster_health(&self) -> BoxFuture<'_, Result<ClusterHealth, TenantError>>;
    /// The admin info endpoint; `Ok(None)` when the server has none (404/501).
    fn admin_info(&self) -> BoxFuture<'_, Result<Option<AdminInfo>, TenantError>>;
    /// Creates a bucket (idempotent); `object_lock` creates it with S3 Object Lock
    /// (`x-amz-bucket-object-lock-enabled: true`, which also enables versioning). An
    /// existing bucket is left as it is.
    fn create_bucket<'a>(
        &'a self,
        name: &'a str,
        region: Option<&'a str>,
        object_lock: bool,
    ) -> BoxFuture<'a, Result<BucketOutcome, TenantError>>;
    /// Names of the buckets (ListBuckets).
    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, TenantError>>;
    /// Creates or replaces the IAM policy `name` (admin API `add-canned-policy`).
    fn add_canned_policy<'a>(
        &'a self,
        name: &'a str,
        document: &'a [u8],
    ) -> BoxFuture<'a, Result<(), TenantError>>;
    /// Creates the user, or gives an existing one this secret key and enables it (admin
    /// API `add-user`).
    fn add_user<'a>(
        &'a self,
        access_key: &'a str,
        secret_key: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>>;
    /// Makes `policy` (comma-separated names) the user's policies (admin API
    /// `set-user-or-group-policy`).
    fn set_user_policy<'a>(
        &'a self,
        access_key: &'a str,
        policy: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>>;
    /// Removes the user (admin API `remove-user`); `Ok(false)` when it did not exist.
    fn remove_user<'a>(&'a self, access_key: &'a str) -> BoxFuture<'a, Result<bool, TenantError>>;
    /// Removes the IAM policy `name` (admin API `remove-canned-policy`); `Ok(false)` when
    /// it did not exist.
    fn remove_canned_policy<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, TenantError>>;
}

/// Where and how to reach a tenant.
#[derive(Debug, Clone)]
pub struct TenantEndpoint {
    /// `https://minio.<ns>.svc.cluster.local:9000` or `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// PEM of the CA that signed the server certificate (HTTPS only).
    pub ca_pem: Option<String>,
    /// Root credentials.
    pub credentials: Credentials,
    /// Signing region (`us-east-1` unless the configuration says otherwise).
    pub region: String,
}

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// [`TenantApi`] over HTTP(S).
#[derive(Clone)]
pub struct HttpTenant {
    endpoint: Arc<TenantEndpoint>,
    base: Uri,
    client: HyperClient<Connector, Full<Bytes>>,
    timeout: Duration,
}

impl std::fmt::Debug for HttpTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTenant")
            .field("base_url", &self.endpoint.base_url)
            .finish_non_exhaustive()
    }
}

impl HttpTenant {
    /// A client for `endpoint`. With HTTPS, only the given CA is trusted (or, without one,
    /// the system's roots are not consulted either: a tenant with TLS always has a CA).
    pub fn new(endpoint: TenantEndpoint) -> Result<Self, TenantError> {
        let base: Uri = endpoint
            .base_url
            .trim_end_matches('/')
            .parse()
            .map_err(|_| TenantError::Url(endpoint.base_url.clone()))?;
        if base.host().is_none() {
            return Err(TenantError::Url(endpoint.base_url.clone()));
        }
        let mut roots = rustls::RootCertStore::empty();
        if let Some(pem) = &endpoint.ca_pem {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| TenantError::Ca(e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| TenantError::Ca(e.to_string()))?;
                any = true;
            }
            if !any {
                return Err(TenantError::Ca("no certificate in it".to_string()));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TenantError::Ca(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            endpoint: Arc::new(endpoint),
            base,
            client,
            timeout: REQUEST_TIMEOUT,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!(
            "{}{}",
            self.endpoint.base_url.trim_end_matches('/'),
            sigv4::canonical_path(path)
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(
                &query
                    .iter()
                    .map(|(k, v)| {
                        if v.is_empty() {
                            sigv4::encode(k)
                        } else {
                            format!("{}={}", sigv4::encode(k), sigv4::encode(v))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            );
        }
        url
    }

    /// Sends one request; `signed` adds SigV4 headers. Returns status and body.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        signed: bool,
    ) -> Result<(StatusCode, Bytes), TenantError> {
        self.send_with(method, path, query, &[], body, signed).await
    }

    /// As [`send`](Self::send), with extra request `headers` (signed when `signed`).
    async fn send_with(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
        body: Vec<u8>,
        signed: bool,
    ) -> Result<(StatusCode, Bytes), TenantError> {
        let url = self.url(path, query);
        let mut builder = Request::builder().method(method.clone()).uri(&url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if signed {
            let host = match (self.base.host(), self.base.port_u16()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_string(),
                (None, _) => return Err(TenantError::Url(url)),
            };
            let payload = sigv4::sha256_hex(&body);
            let headers = sigv4::sign(
                &sigv4::Request {
                    method: method.as_str(),
                    host: &host,
                    path,
                    query,
                    payload_sha256: &payload,
                    headers,
                },
                &self.endpoint.credentials,
                &self.endpoint.region,
                "s3",
                time::OffsetDateTime::now_utc(),
            );
            for (name, value) in headers {
                builder = builder.header(name, value);
            }
        }
        let request = builder
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| TenantError::Url(format!("{url}: {e}")))?;
        let seconds = self.timeout.as_secs();
        let exchange = async {
            let response =
                self.client
                    .request(request)
                    .await
                    .map_err(|e| TenantError::Unreachable {
                        url: url.clone(),
                        message: error_chain(&e),
                    })?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| TenantError::Unreachable {
                    url: url.clone(),
                    message: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, TenantError>((status, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(TenantError::Timeout { url, seconds }),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}

/// The `<Code>` of an S3 XML error body.
pub fn s3_error_code(body: &[u8]) -> Option<String> {
    xml_values(&String::from_utf8_lossy(body), "Code")
        .into_iter()
        .next()
}

/// The text of every `<tag>...</tag>` in `xml` (no nesting of the same tag; enough for
/// S3's flat answers).
fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(unescape(&after[..end]));
        rest = &after[end + close.len()..];
    }
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

impl TenantApi for HttpTenant {
    fn cluster_health(&self) -> BoxFuture<'_, Result<ClusterHealth, TenantError>> {
        Box::pin(async move {
            let probe = |path: &'static str| async move {
                let url = self.url(path, &[]);
                let request = Request::get(&url)
                    .body(Full::new(Bytes::new()))
                    .map_err(|e| TenantError::Url(format!("{url}: {e}")))?;
                let exchange = self.client.request(request);
                match tokio::time::timeout(self.timeout, exchange).await {
                    Err(_) => Err(TenantError::Timeout {
                        url,
                        seconds: self.timeout.as_secs(),
                    }),
                    Ok(Err(e)) => Err(TenantError::Unreachable {
                        url,
                        message: error_chain(&e),
                    }),
                    Ok(Ok(response)) => {
                        let quorum = response
                            .headers()
                            .get("x-minio-write-quorum")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<i32>().ok());
                        Ok((response.status() == StatusCode::OK, quorum))
                    }
                }
            };
            let (write_ok, write_quorum) = probe("/minio/health/cluster").await?;
            let (read_ok, _) = probe("/minio/health/cluster/read").await?;
            Ok(ClusterHealth {
                write_ok,
                read_ok,
                write_quorum,
            })
        })
    }

    fn admin_info(&self) -> BoxFuture<'_, Result<Option<AdminInfo>, TenantError>> {
        Box::pin(async move {
            let (status, body) = self
                .send(Method::GET, "/cairn/admin/v1/info", &[], Vec::new(), true)
                .await?;
            match status {
                StatusCode::OK => parse_admin_info(&body).map(Some),
                StatusCode::NOT_FOUND | StatusCode::NOT_IMPLEMENTED => Ok(None),
                other => Err(TenantError::Status {
                    what: "GET /cairn/admin/v1/info".to_string(),
                    status: other.as_u16(),
                    body: snippet(&body),
                }),
            }
        })
    }

    fn create_bucket<'a>(
        &'a self,
        name: &'a str,
        region: Option<&'a str>,
        object_lock: bool,
    ) -> BoxFuture<'a, Result<BucketOutcome, TenantError>> {
        Box::pin(async move {
            let body = match region.filter(|r| !r.is_empty() && *r != "us-east-1") {
                Some(r) => format!(
                    "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                     <LocationConstraint>{r}</LocationConstraint></CreateBucketConfiguration>"
                )
                .into_bytes(),
                None => Vec::new(),
            };
            let path = format!("/{name}");
            let lock: &[(&str, &str)] = if object_lock {
                &[("x-amz-bucket-object-lock-enabled", "true")]
            } else {
                &[]
            };
            let (status, body) = self
                .send_with(Method::PUT, &path, &[], lock, body, true)
                .await?;
            if status.is_success() {
                return Ok(BucketOutcome::Created);
            }
            if status == StatusCode::CONFLICT
                && s3_error_code(&body).as_deref() == Some("BucketAlreadyOwnedByYou")
            {
                return Ok(BucketOutcome::AlreadyOwned);
            }
            Err(TenantError::Status {
                what: format!("PUT /{name} (create bucket)"),
                status: status.as_u16(),
                body: snippet(&body),
            })
        })
    }

    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, TenantError>> {
        Box::pin(async move {
            let (status, body) = self.send(Method::GET, "/", &[], Vec::new(), true).await?;
            if !status.is_success() {
                return Err(TenantError::Status {
                    what: "GET / (list buckets)".to_string(),
                    status: status.as_u16(),
                    body: snippet(&body),
                });
            }
            Ok(xml_values(&String::from_utf8_lossy(&body), "Name"))
        })
    }

    fn add_canned_policy<'a>(
        &'a self,
        name: &'a str,
        document: &'a [u8],
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        Box::pin(self.put_canned_policy(name, document))
    }

    fn add_user<'a>(
        &'a self,
        access_key: &'a str,
        secret_key: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        Box::pin(self.put_user(access_key, secret_key))
    }

    fn set_user_policy<'a>(
        &'a self,
        access_key: &'a str,
        policy: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        Box::pin(self.put_user_policy(access_key, policy))
    }

    fn remove_user<'a>(&'a self, access_key: &'a str) -> BoxFuture<'a, Result<bool, TenantError>> {
        Box::pin(self.delete_user(access_key))
    }

    fn remove_canned_policy<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, TenantError>> {
        Box::pin(self.delete_canned_policy(name))
    }
}

/// Reads the admin info JSON. Two shapes are understood, so that the operator does not
/// depend on the exact layout the server settles on:
/// * counts at the top level (`drivesOnline`, `drivesOffline`, `drivesHealing`, in camel
///   or snake case), optionally `usage` numbers;
/// * MinIO's `servers[].drives[].state` (`ok`/`online`, `offline`, `healing`...), counted.
pub fn parse_admin_info(body: &[u8]) -> Result<AdminInfo, TenantError> {
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Drive {
        state: Option<String>,
        healing: Option<bool>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Server {
        drives: Vec<Drive>,
        disks: Vec<Drive>,
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| TenantError::Decode {
            what: "admin info".to_string(),
            message: e.to_string(),
        })?;
    let number = |v: &serde_json::Value, names: &[&str]| -> Option<i64> {
        names
            .iter()
            .find_map(|n| v.get(*n).and_then(serde_json::Value::as_i64))
    };
    // Cairn's own shape keeps the counts in `usage` (storage-node/src/admin/types.rs).
    let roots = [
        Some(&value),
        value.get("usage"),
        value.get("drives"),
        value.get("info"),
    ];
    let mut info = AdminInfo::default();
    let mut found = false;
    for root in roots.into_iter().flatten() {
        if let Some(online) = number(root, &["drivesOnline", "drives_online", "online"]) {
            info.drives_online = i32::try_from(online).unwrap_or(i32::MAX);
            info.drives_offline = i32::try_from(
                number(root, &["drivesOffline", "drives_offline", "offline"]).unwrap_or(0),
            )
            .unwrap_or(i32::MAX);
            info.drives_healing = i32::try_from(
                number(root, &["drivesHealing", "drives_healing", "healing"]).unwrap_or(0),
            )
            .unwrap_or(i32::MAX);
            found = true;
            break;
        }
    }
    if !found && let Some(servers) = value.get("servers") {
        let servers: Vec<Server> =
            serde_json::from_value(servers.clone()).map_err(|e| TenantError::Decode {
                what: "admin info".to_string(),
                message: e.to_string(),
            })?;
        for drive in servers.iter().flat_map(|s| s.drives.iter().chain(&s.disks)) {
            let state = drive.state.as_deref().unwrap_or("").to_ascii_lowercase();
            if drive.healing == Some(true) || state.contains("heal") {
                info.drives_healing += 1;
                info.drives_online += 1;
            } else if state == "ok" || state == "online" {
                info.drives_online += 1;
            } else {
                info.drives_offline += 1;
            }
        }
        found = true;
    }
    if !found {
        return Err(TenantError::Decode {
            what: "admin info".to_string(),
            message: "no drive counts (drivesOnline or servers[].drives[]) in it".to_string(),
        });
    }
    let usage = value.get("usage").unwrap_or(&value);
    info.capacity = number(usage, &["capacity", "usableCapacity", "usable_capacity"]);
    info.raw_capacity = number(usage, &["rawCapacity", "raw_capacity"]);
    info.raw_usage = number(usage, &["rawUsage", "raw_usage", "raw_used"]);
    info.usage = number(usage, &["usage", "size", "objectsSize"])
        .filter(|_| value.get("usage").is_some_and(serde_json::Value::is_object));
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_info_of_cairns_own_endpoint() {
        // The shape of storage-node/src/admin/types.rs `Info`.
        let cairn = br#"{"mode": "distributed", "servers": [{"drives": 2, "drives_online": 2}],
            "pools": [{"sets": 1, "drives": 8}], "drives": [{"state": "online"}],
            "usage": {"raw_capacity": 800, "raw_free": 500, "raw_used": 300,
                      "usable_capacity": 400, "usable_free": 250, "drives_total": 8,
                      "drives_online": 7, "drives_offline": 1, "drives_healing": 2}}"#;
        let info = parse_admin_info(cairn).unwrap();
        assert_eq!(
            (info.drives_online, info.drives_offline, info.drives_healing),
            (7, 1, 2)
        );
        assert_eq!(info.capacity, Some(400));
        assert_eq!(info.raw_capacity, Some(800));
        assert_eq!(info.raw_usage, Some(300));
    }

    #[test]
    fn admin_info_counts_and_minio_shapes() {
        let flat = br#"{"drivesOnline": 7, "drivesOffline": 1, "drivesHealing": 0,
                        "usage": {"capacity": 100, "rawCapacity": 200, "usage": 5}}"#;
        let info = parse_admin_info(flat).unwrap();
        assert_eq!(
            (info.drives_online, info.drives_offline, info.drives_healing),
            (7, 1, 0)
        );
        assert_eq!(info.capacity, Some(100));
        assert_eq!(info.raw_capacity, Some(200));
        assert_eq!(info.usage, Some(5));

        let minio = br#"{"servers": [{"drives": [{"state": "ok"}, {"state": "offline"}]},
                                     {"drives": [{"state": "ok", "healing": true}, {"state": "ok"}]}]}"#;
        let info = parse_admin_info(minio).unwrap();
        assert_eq!(
            (info.drives_online, info.drives_offline, info.drives_healing),
            (3, 1, 1)
        );
        assert!(parse_admin_info(b"{}").is_err());
        assert!(parse_admin_info(b"not json").is_err());
    }

    #[test]
    fn s3_error_codes_are_read() {
        let body = b"<?xml version=\"1.0\"?><Error><Code>BucketAlreadyOwnedByYou</Code>\
                     <Message>yours</Message></Error>";
        assert_eq!(
            s3_error_code(body).as_deref(),
            Some("BucketAlreadyOwnedByYou")
        );
        assert_eq!(
            xml_values("<a><Name>x&amp;y</Name><Name>z</Name></a>", "Name"),
            vec!["x&y", "z"]
        );
    }
}
