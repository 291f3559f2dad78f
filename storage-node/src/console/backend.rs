//! How the console acts: every action is an ordinary S3, STS or admin request, signed
//! with SigV4 under the session's temporary credentials (or, for the login itself, the
//! keys the person typed) and served in-process by the S3 port's application
//! (`front::App::dispatch`): the same authentication, permission check, metrics and
//! audit as a request from the network, so the console can never do more than the
//! identity may. Requests carry the browser's address (`remote::Remote`) for policy
//! conditions and the audit log.

use super::error::{ConsoleError, ConsoleResult};
use super::session::Session;
use super::xml;
use crate::body::RespBody;
use crate::front::Front;
use crate::objects::BodyStream;
use crate::remote::Remote;
use crate::s3::auth::sigv4::{self, ClientRequest, Credentials, UNSIGNED_PAYLOAD};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// How long a request without a streamed body may take, answer included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request with a streamed body (an upload of up to one 5 GiB part) may take;
/// a stalled browser is cut off sooner by the upload's idle timeout.
pub const STREAM_TIMEOUT: Duration = Duration::from_secs(3600);
/// Largest answer read whole (listings, XML and JSON documents).
const MAX_ANSWER: usize = 8 << 20;

/// Who signs a request.
pub enum Signer<'a> {
    /// A logged-in session: its temporary credentials and token.
    Session(&'a Session),
    /// The keys typed into the login form (`AssumeRole` only).
    Login {
        access_key: &'a str,
        secret: &'a str,
    },
}

/// A request body.
pub enum Body {
    Empty,
    /// A whole body; its SHA-256 is signed.
    Bytes(Bytes),
    /// A streamed body of the given length, sent `UNSIGNED-PAYLOAD` (uploads).
    Stream(BodyStream, u64),
}

/// One request to make.
pub struct Call<'a> {
    pub method: Method,
    pub bucket: Option<&'a str>,
    pub key: Option<&'a str>,
    /// A path used as it is when neither bucket nor key is given (`/`, admin paths).
    pub path: &'a str,
    pub query: Vec<(&'a str, String)>,
    pub headers: Vec<(HeaderName, String)>,
    pub body: Body,
    /// The credential scope's service (`s3`, or `sts` for the login).
    pub service: &'a str,
}

impl<'a> Call<'a> {
    pub fn new(method: Method, path: &'a str) -> Self {
        Self {
            method,
            bucket: None,
            key: None,
            path,
            query: Vec::new(),
            headers: Vec::new(),
            body: Body::Empty,
            service: "s3",
        }
    }

    pub fn bucket(method: Method, bucket: &'a str) -> Self {
        Self {
            bucket: Some(bucket),
            ..Self::new(method, "/")
        }
    }

    pub fn object(method: Method, bucket: &'a str, key: &'a str) -> Self {
        Self {
            bucket: Some(bucket),
            key: Some(key),
            ..Self::new(method, "/")
        }
    }

    pub fn query(mut self, name: &'a str, value: impl Into<String>) -> Self {
        self.query.push((name, value.into()));
        self
    }

    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// The raw (encoded) path.
    fn raw_path(&self) -> String {
        match (self.bucket, self.key) {
            (Some(b), Some(k)) => format!(
                "/{}/{}",
                sigv4::uri_encode(b.as_bytes()),
                sigv4::uri_encode_path(k)
            ),
            (Some(b), None) => format!("/{}", sigv4::uri_encode(b.as_bytes())),
            _ => self.path.to_string(),
        }
    }
}

/// Request counters per API.
pub type Stats = std::collections::BTreeMap<String, crate::front::metrics::s3::ApiStats>;

/// An answer read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The S3 port's application, reached in-process.
pub struct Backend {
    front: Arc<Front>,
    region: String,
    /// The `Host` the requests are signed for (the S3 port's address).
    host: String,
}

impl Backend {
    pub fn new(front: Arc<Front>, region: String, host: String) -> Self {
        Self {
            front,
            region,
            host,
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// This server's S3 request counters per API and its traffic (bytes received,
    /// sent), the metrics' source, once started.
    pub fn api_stats(&self) -> Option<(Stats, (u64, u64))> {
        self.front
            .app
            .get()
            .map(|app| (app.metrics.s3.apis(), app.metrics.s3.traffic()))
    }

    /// Sends `call` signed by `signer` and returns the answer as it streams.
    pub async fn send(
        &self,
        signer: &Signer<'_>,
        remote: Option<Remote>,
        call: Call<'_>,
    ) -> ConsoleResult<Response<RespBody>> {
        let app = self
            .front
            .app
            .get()
            .cloned()
            .ok_or(ConsoleError::Starting)?;
        let raw_path = call.raw_path();
        let raw_query = crate::admin::client::encode_query(
            &call
                .query
                .iter()
                .map(|(k, v)| (*k, v.as_str()))
                .collect::<Vec<_>>(),
        );
        let mut headers = HeaderMap::new();
        let bad = |what: &str| ConsoleError::BadRequest(format!("invalid {what}"));
        headers.insert(
            http::header::HOST,
            HeaderValue::from_str(&self.host).map_err(|_| bad("host"))?,
        );
        for (name, value) in &call.headers {
            headers.insert(
                name.clone(),
                HeaderValue::from_str(value).map_err(|_| bad(name.as_str()))?,
            );
        }
        let (access_key, secret) = match signer {
            Signer::Session(s) => {
                headers.insert(
                    "x-amz-security-token",
                    HeaderValue::from_str(&s.token).map_err(|_| bad("session"))?,
                );
                (s.access_key.as_str(), s.secret_key.as_str())
            }
            Signer::Login { access_key, secret } => (*access_key, *secret),
        };
        let (payload_hash, body): (String, BodyStream) = match call.body {
            Body::Empty => (
                sigv4::EMPTY_SHA256.to_string(),
                Box::pin(futures::stream::empty()),
            ),
            Body::Bytes(b) => {
                headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(b.len()));
                (
                    hex::encode(Sha256::digest(&b)),
                    Box::pin(futures::stream::once(async move { Ok(b) })),
                )
            }
            Body::Stream(s, len) => {
                headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
                (UNSIGNED_PAYLOAD.to_string(), s)
            }
        };
        let signature = sigv4::sign_request_headers_for(
            &ClientRequest {
                method: &call.method,
                raw_path: &raw_path,
                raw_query: &raw_query,
                headers: &headers,
                payload_hash: &payload_hash,
                time: chrono::Utc::now(),
                region: &self.region,
            },
            &Credentials {
                access_key: access_key.to_string(),
                secret_key: secret.to_string(),
            },
            call.service,
        );
        signature
            .apply(&mut headers)
            .map_err(|_| bad("signature"))?;
        let uri = if raw_query.is_empty() {
            raw_path
        } else {
            format!("{raw_path}?{raw_query}")
        };
        let (mut parts, ()) = http::Request::builder()
            .method(call.method)
            .uri(&uri)
            .body(())
            .map_err(|_| bad("path"))?
            .into_parts();
        parts.headers = headers;
        if let Some(r) = remote {
            parts.extensions.insert(r);
        }
        Ok(app.dispatch(parts, body).await)
    }

    /// Sends `call` and reads the whole answer (within [`CALL_TIMEOUT`], or
    /// [`STREAM_TIMEOUT`] for a streamed body); an error status
    /// becomes [`ConsoleError::Api`].
    pub async fn call(
        &self,
        signer: &Signer<'_>,
        remote: Option<Remote>,
        call: Call<'_>,
    ) -> ConsoleResult<Answer> {
        let answer = self.call_any(signer, remote, call).await?;
        if !answer.status.is_success() {
            return Err(api_error(answer.status, &answer.body));
        }
        Ok(answer)
    }

    /// As [`Self::call`], but an error status is returned as an answer.
    pub async fn call_any(
        &self,
        signer: &Signer<'_>,
        remote: Option<Remote>,
        call: Call<'_>,
    ) -> ConsoleResult<Answer> {
        let limit = if matches!(call.body, Body::Stream(..)) {
            STREAM_TIMEOUT
        } else {
            CALL_TIMEOUT
        };
        let work = async {
            let resp = self.send(signer, remote, call).await?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| ConsoleError::Internal(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| ConsoleError::Timeout(limit.as_secs()))?
    }
}

/// An error answer: S3's or STS's XML, the admin API's JSON, or just the status.
pub fn api_error(status: StatusCode, body: &[u8]) -> ConsoleError {
    let text = String::from_utf8_lossy(body);
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |n: &str| v.get(n).and_then(|x| x.as_str()).unwrap_or("").to_string();
        return ConsoleError::Api {
            status,
            code: field("Code"),
            message: field("Message"),
        };
    }
    ConsoleError::Api {
        status,
        code: xml::text(&text, "Code").unwrap_or_else(|| {
            status
                .canonical_reason()
                .unwrap_or("Error")
                .replace(' ', "")
        }),
        message: xml::text(&text, "Message").unwrap_or_default(),
    }
}
