//! A small SigV4-signing HTTP(S) client for the admin API, used by `cairn admin` and
//! by a server asking its peers for their own view (`?local=1`).

use super::types::ErrorBody;
use crate::s3::auth::sigv4::{self, ClientRequest, Credentials};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Admin answers are small JSON documents; anything larger is refused.
const MAX_ANSWER: usize = 16 << 20;

type Http = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid endpoint {0:?}: use http(s)://host:port")]
    Endpoint(String),
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("cannot reach {endpoint}: {reason}")]
    Unreachable { endpoint: String, reason: String },
    #[error("{endpoint} did not answer within {secs} s")]
    Timeout { endpoint: String, secs: u64 },
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
        task_id: Option<u64>,
    },
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl ClientError {
    /// True when the server could not be reached at all (as opposed to an answer).
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            ClientError::Unreachable { .. } | ClientError::Timeout { .. }
        )
    }
}

/// How the client checks the server's certificate.
#[derive(Debug, Clone, Default)]
pub enum TlsTrust {
    /// The system's CA bundle (`SSL_CERT_FILE`, or the usual bundle paths).
    #[default]
    System,
    /// The CA certificates (PEM) in this file.
    CaFile(std::path::PathBuf),
    /// Any certificate (`--insecure`).
    Insecure,
    /// A ready configuration (a server's peer TLS settings).
    Config(Arc<rustls::ClientConfig>),
}

pub struct AdminClient {
    scheme: String,
    authority: String,
    credentials: Credentials,
    region: String,
    http: Http,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("endpoint", &self.endpoint())
            .field("credentials", &self.credentials)
            .finish()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn with_roots(roots: rustls::RootCertStore) -> Result<rustls::ClientConfig, ClientError> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn add_pem_file(roots: &mut rustls::RootCertStore, path: &Path) -> Result<usize, ClientError> {
    let data = std::fs::read(path)
        .map_err(|e| ClientError::Tls(format!("cannot read {}: {e}", path.display())))?;
    let mut added = 0;
    for cert in rustls_pemfile::certs(&mut data.as_slice()) {
        let cert = cert.map_err(|e| ClientError::Tls(format!("{}: {e}", path.display())))?;
        if roots.add(cert).is_ok() {
            added += 1;
        }
    }
    Ok(added)
}

const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn tls_config(trust: &TlsTrust) -> Result<rustls::ClientConfig, ClientError> {
    match trust {
        TlsTrust::Config(c) => Ok((**c).clone()),
        TlsTrust::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            if add_pem_file(&mut roots, path)? == 0 {
                return Err(ClientError::Tls(format!(
                    "no certificate in {}",
                    path.display()
                )));
            }
            with_roots(roots)
        }
        TlsTrust::System => {
            let mut roots = rustls::RootCertStore::empty();
            let env = std::env::var("SSL_CERT_FILE").ok();
            for p in env
                .iter()
                .map(String::as_str)
                .chain(SYSTEM_BUNDLES.iter().copied())
            {
                let path = Path::new(p);
                if path.is_file() && add_pem_file(&mut roots, path).unwrap_or(0) > 0 {
                    break;
                }
            }
            with_roots(roots)
        }
        TlsTrust::Insecure => Ok(rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider())))
            .with_no_client_auth()),
    }
}

/// `--insecure`: accepts any server certificate (signatures are still checked, so the
/// handshake itself is sound; the peer's identity is not).
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Percent-encodes a query (keys and values) the way SigV4 canonicalizes it.
pub fn encode_query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                sigv4::uri_encode(k.as_bytes()),
                sigv4::uri_encode(v.as_bytes())
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

impl AdminClient {
    /// `endpoint` is `http(s)://host[:port]` (a path, if any, is ignored).
    pub fn new(
        endpoint: &str,
        credentials: Credentials,
        region: &str,
        trust: &TlsTrust,
    ) -> Result<Self, ClientError> {
        let uri: http::Uri = endpoint
            .trim_end_matches('/')
            .parse()
            .map_err(|_| ClientError::Endpoint(endpoint.to_string()))?;
        let scheme = match uri.scheme_str() {
            Some(s @ ("http" | "https")) => s.to_string(),
            _ => return Err(ClientError::Endpoint(endpoint.to_string())),
        };
        let authority = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .filter(|a| !a.is_empty() && !a.contains('@'))
            .ok_or_else(|| ClientError::Endpoint(endpoint.to_string()))?;
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        http.set_nodelay(true);
        http.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(trust)?)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // Below the servers' default idle timeout (30 s, `config::limits`), so that a
        // pooled connection is never reused just as the server closes it.
        let http = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        Ok(Self {
            scheme,
            authority,
            credentials,
            region: region.to_string(),
            http,
        })
    }

    pub fn endpoint(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// Sends a signed request without a body and returns the status and body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        self.send(method, path, query, Bytes::new(), timeout).await
    }

    /// Sends a signed request with `body` (its SHA-256 signed) and returns the status
    /// and body.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Bytes,
        timeout: Duration,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let raw_query = encode_query(query);
        let mut headers = HeaderMap::new();
        let host = HeaderValue::from_str(&self.authority)
            .map_err(|_| ClientError::Endpoint(self.authority.clone()))?;
        headers.insert(http::header::HOST, host);
        if !body.is_empty() {
            headers.insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static(cairn_madmin::paths::ENCRYPTED_CONTENT_TYPE),
            );
        }
        let payload_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&body));
        let signature = sigv4::sign_request_headers(
            &ClientRequest {
                method: &method,
                raw_path: path,
                raw_query: &raw_query,
                headers: &headers,
                payload_hash: &payload_hash,
                time: chrono::Utc::now(),
                region: &self.region,
            },
            &self.credentials,
        );
        signature
            .apply(&mut headers)
            .map_err(|e| ClientError::Decode(format!("signature header: {e}")))?;
        let uri = if raw_query.is_empty() {
            format!("{}{path}", self.endpoint())
        } else {
            format!("{}{path}?{raw_query}", self.endpoint())
        };
        let mut req = Request::builder()
            .method(method)
            .uri(&uri)
            .body(Full::new(body))
            .map_err(|_| ClientError::Endpoint(uri.clone()))?;
        *req.headers_mut() = headers;
        let timed_out = || ClientError::Timeout {
            endpoint: self.endpoint(),
            secs: timeout.as_secs(),
        };
        let resp = tokio::time::timeout(timeout, self.http.request(req))
            .await
            .map_err(|_| timed_out())?
            .map_err(|e| ClientError::Unreachable {
                endpoint: self.endpoint(),
                reason: error_chain(&e),
            })?;
        let status = resp.status();
        let body = tokio::time::timeout(
            timeout,
            Limited::new(resp.into_body(), MAX_ANSWER).collect(),
        )
        .await
        .map_err(|_| timed_out())?
        .map_err(|e| ClientError::Decode(format!("reading the answer: {e}")))?
        .to_bytes();
        Ok((status, body))
    }

    /// Sends a signed request and decodes a JSON answer; an error answer becomes
    /// [`ClientError::Api`].
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let (status, body) = self.call(method, path, query, timeout).await?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

/// The body of a MinIO admin v3 request ([`AdminClient::v3`]).
#[derive(Debug, Clone)]
pub enum V3Body {
    None,
    /// JSON sent as is.
    Json(Vec<u8>),
    /// JSON encrypted with the client's secret key before it is sent.
    Encrypted(Vec<u8>),
}

impl AdminClient {
    /// Makes one MinIO admin v3 identity call (`/minio/admin/v3/...`), encrypting the
    /// body and decrypting the answer as the call table says (with the client's secret
    /// key, on the blocking pool). Returns the answer's plain bytes; an error answer
    /// becomes [`ClientError::Api`].
    pub async fn v3(
        &self,
        call: cairn_madmin::paths::Call,
        query: &[(&str, &str)],
        body: V3Body,
        timeout: Duration,
    ) -> Result<Bytes, ClientError> {
        let method = match call.method() {
            cairn_madmin::paths::Method::Get => Method::GET,
            cairn_madmin::paths::Method::Put => Method::PUT,
            cairn_madmin::paths::Method::Post => Method::POST,
            cairn_madmin::paths::Method::Delete => Method::DELETE,
        };
        let body = match body {
            V3Body::None => Bytes::new(),
            V3Body::Json(b) => Bytes::from(b),
            V3Body::Encrypted(plain) => {
                let secret = self.credentials.secret_key.clone();
                let sealed = tokio::task::spawn_blocking(move || {
                    cairn_madmin::crypt::encrypt(&secret, &plain)
                })
                .await
                .map_err(|e| ClientError::Decode(format!("encryption task: {e}")))?
                .map_err(|e| ClientError::Decode(format!("encryption: {e}")))?;
                Bytes::from(sealed)
            }
        };
        let (status, answer) = self
            .send(method, &call.path(), query, body, timeout)
            .await?;
        if !status.is_success() {
            return Err(api_error(status, &answer));
        }
        if call.spec().response != cairn_madmin::paths::Body::Encrypted || answer.is_empty() {
            return Ok(answer);
        }
        let secret = self.credentials.secret_key.clone();
        let plain =
            tokio::task::spawn_blocking(move || cairn_madmin::crypt::decrypt(&secret, &answer))
                .await
                .map_err(|e| ClientError::Decode(format!("decryption task: {e}")))?
                .map_err(|e| ClientError::Decode(format!("decrypting the answer: {e}")))?;
        Ok(Bytes::from(plain))
    }

    /// [`Self::v3`] with a JSON answer.
    pub async fn v3_json<T: serde::de::DeserializeOwned>(
        &self,
        call: cairn_madmin::paths::Call,
        query: &[(&str, &str)],
        body: V3Body,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let answer = self.v3(call, query, body, timeout).await?;
        serde_json::from_slice(&answer).map_err(|e| ClientError::Decode(e.to_string()))
    }
}

/// An error answer: the admin JSON error, an S3 XML error, or just the status.
fn api_error(status: StatusCode, body: &[u8]) -> ClientError {
    if let Ok(e) = serde_json::from_slice::<ErrorBody>(body) {
        return ClientError::Api {
            status: status.as_u16(),
            code: e.code,
            message: e.message,
            task_id: e.task_id,
        };
    }
    let text = String::from_utf8_lossy(body);
    let between = |open: &str, close: &str| {
        let start = text.find(open)? + open.len();
        let end = text[start..].find(close)? + start;
        Some(text[start..end].to_string())
    };
    ClientError::Api {
        status: status.as_u16(),
        code: between("<Code>", "</Code>").unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("Error")
                .replace(' ', "")
        }),
        message: between("<Message>", "</Message>").unwrap_or_default(),
        task_id: None,
    }
}

/// The error and its causes, for "cannot reach" messages.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
