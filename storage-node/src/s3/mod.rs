//! Layer 2: the S3 wire protocol. Authenticates a request, works out what it addresses
//! and which operation it is, and calls the object layer. Nothing below this layer
//! knows about HTTP, XML or SigV4.

pub mod auth;
pub mod authorize;
pub mod body;
pub mod call;
pub mod checksum;
pub mod error;
pub mod handlers;
pub mod headers;
pub mod identity;
pub mod metadata_text;
pub mod multipart_checksum;
pub mod operation;
pub mod owner;
pub mod post_policy;
pub mod request;
pub mod sse;
pub mod sts;
pub mod xml;

use auth::sigv4::{AuthOutcome, PayloadMode};
use authorize::{Access, PolicyCache};
use bytes::Bytes;
use error::{S3Error, S3Result};
use http::{HeaderMap, Method, Response, StatusCode};
use request::{Query, Target};
use std::sync::Arc;

use crate::iam::{Caller, Iam};
use crate::objects::{BodyStream, ObjectLayer};

pub use crate::body::{RespBody, empty, full};

/// Static settings of the S3 endpoint.
#[derive(Debug, Clone)]
pub struct S3Config {
    pub region: String,
    /// Domains for virtual-host-style addressing (`bucket.<domain>`).
    pub domains: Vec<String>,
}

pub struct S3Service {
    pub objects: Arc<ObjectLayer>,
    pub iam: Arc<Iam>,
    pub config: S3Config,
    /// Bucket policies as last read (at most a second old).
    pub policies: PolicyCache,
    /// Server-side encryption: the KMS and whether requests come over TLS.
    pub sse: sse::Sse,
    /// Length of a lifecycle day in ms, for `x-amz-expiration` (see `crate::lifecycle`).
    pub lifecycle_day_ms: i64,
}

impl S3Service {
    pub fn new(objects: Arc<ObjectLayer>, iam: Arc<Iam>, config: S3Config) -> Self {
        Self {
            objects,
            iam,
            config,
            policies: PolicyCache::default(),
            sse: sse::Sse::default(),
            lifecycle_day_ms: crate::lifecycle::LifecycleSettings::default().day_ms(),
        }
    }

    /// Counts lifecycle days of `day_ms` (shortened for tests).
    pub fn with_lifecycle_day(mut self, day_ms: i64) -> Self {
        self.lifecycle_day_ms = day_ms;
        self
    }

    /// Stores (`None`: removes) one of a bucket's configurations (policy, ACL, CORS,
    /// default encryption, ...) and forgets this server's cached copy, so the change
    /// applies here at once (other servers within a second).
    pub async fn set_bucket_config(
        &self,
        bucket: &str,
        name: &str,
        value: Option<String>,
    ) -> Result<(), error::S3Error> {
        self.objects.set_bucket_config(bucket, name, value).await?;
        self.policies.forget(bucket);
        Ok(())
    }

    /// Encrypts with `sse` (SSE-S3 and SSE-KMS need its KMS; SSE-C needs TLS).
    pub fn with_sse(mut self, sse: sse::Sse) -> Self {
        self.sse = sse;
        self
    }
}

/// `x-amz-security-token` (header, or presigned query parameter).
fn security_token<'a>(
    headers: &'a HeaderMap,
    raw_query: &'a str,
) -> Option<std::borrow::Cow<'a, str>> {
    if let Some(t) = headers::header_str(headers, "x-amz-security-token") {
        return Some(std::borrow::Cow::Borrowed(t));
    }
    raw_query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "X-Amz-Security-Token")
            .then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy())
    })
}

/// One authenticated request, as the handlers see it.
pub struct S3Request {
    pub method: Method,
    pub headers: HeaderMap,
    pub target: Target,
    pub query: Query,
    pub auth: AuthOutcome,
    /// Who is calling and the request's policy context.
    pub access: Access,
    pub request_id: String,
    /// In a mutex only so that `&S3Request` is `Sync` across awaits; taken once.
    body: std::sync::Mutex<Option<BodyStream>>,
}

impl S3Request {
    /// The request body, decoded (`aws-chunked`) and verified (payload hash, checksums)
    /// while it streams. Can be taken once.
    pub fn take_body(&mut self) -> S3Result<body::VerifiedBody> {
        self.take_part_body(None)
    }

    /// The body of an UploadPart, whose upload may fix the checksum algorithm
    /// ([`body::verified`]).
    pub fn take_part_body(
        &mut self,
        upload_algorithm: Option<checksum::ChecksumAlgorithm>,
    ) -> S3Result<body::VerifiedBody> {
        let raw = self
            .body
            .get_mut()
            .ok()
            .and_then(Option::take)
            .ok_or_else(|| S3Error::internal("request body already consumed"))?;
        body::verified(raw, &self.headers, &self.auth, upload_algorithm)
    }

    /// Reads a small body (an XML document) whole.
    pub async fn small_body(&mut self, limit: usize) -> S3Result<Bytes> {
        let b = self.take_body()?;
        body::collect(b.stream, limit).await
    }

    pub fn bucket(&self) -> S3Result<&str> {
        self.target
            .bucket
            .as_deref()
            .ok_or_else(|| S3Error::invalid_request("a bucket name is required"))
    }

    pub fn key(&self) -> S3Result<&str> {
        self.target
            .key
            .as_deref()
            .ok_or_else(|| S3Error::invalid_request("an object key is required"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        headers::header_str(&self.headers, name)
    }
}

pub fn xml_response(status: StatusCode, xml: String) -> Response<RespBody> {
    let mut r = Response::new(full(Bytes::from(xml)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/xml"),
    );
    r
}

impl S3Service {
    /// Serves one S3 request; never fails: errors become S3 error responses.
    pub async fn handle(
        &self,
        parts: http::request::Parts,
        body: BodyStream,
        request_id: &str,
    ) -> Response<RespBody> {
        if self.is_sts(&parts) {
            let mut resp = sts::serve(self, parts, body, request_id).await;
            if let Ok(v) = http::HeaderValue::from_str(request_id) {
                resp.headers_mut().insert("x-amz-request-id", v);
            }
            return resp;
        }
        let resource = parts.uri.path().to_string();
        let is_head = parts.method == Method::HEAD;
        // A browser's request: the answer carries the bucket's CORS headers.
        let cors_origin = parts.headers.contains_key(http::header::ORIGIN).then(|| {
            let bucket = request::target(parts.uri.path(), &parts.headers, &self.config.domains)
                .ok()
                .and_then(|t| t.bucket);
            (bucket, parts.method.clone(), parts.headers.clone())
        });
        let mut call = call::ApiCall::default();
        let mut resp = match self.dispatch(parts, body, request_id, &mut call).await {
            Ok(r) => r,
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::warn!(request_id, code = e.code, message = %e.message, "request failed");
                } else {
                    tracing::debug!(request_id, code = e.code, message = %e.message, "request refused");
                }
                let mut r = if is_head || e.status == StatusCode::NOT_MODIFIED {
                    empty(e.status)
                } else {
                    xml_response(e.status, e.to_xml(&resource, request_id))
                };
                for (name, value) in &e.headers {
                    if let Ok(v) = http::HeaderValue::from_str(value) {
                        r.headers_mut().insert(*name, v);
                    }
                }
                if e.code == "SlowDown" {
                    r.headers_mut().insert(
                        http::header::RETRY_AFTER,
                        http::HeaderValue::from_static("1"),
                    );
                }
                r
            }
        };
        if let Some((Some(bucket), method, headers)) = &cors_origin {
            if method != Method::OPTIONS {
                handlers::cors::decorate(self, bucket, method, headers, &mut resp).await;
            }
        }
        if let Ok(v) = http::HeaderValue::from_str(request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        resp.extensions_mut().insert(call);
        resp
    }

    /// Whether the request is an STS call (see [`sts::is_sts_request`]), routed before
    /// any S3 routing.
    fn is_sts(&self, parts: &http::request::Parts) -> bool {
        if parts.method != Method::POST {
            return false;
        }
        let has_bucket = request::target(parts.uri.path(), &parts.headers, &self.config.domains)
            .map_or(true, |t| t.bucket.is_some());
        sts::is_sts_request(
            &parts.method,
            has_bucket,
            &parts.headers,
            parts.uri.query().unwrap_or(""),
        )
    }

    async fn dispatch(
        &self,
        parts: http::request::Parts,
        body: BodyStream,
        request_id: &str,
        call: &mut call::ApiCall,
    ) -> S3Result<Response<RespBody>> {
        let raw_path = parts.uri.path();
        let raw_query = parts.uri.query().unwrap_or("");
        // CORS preflight: browsers send it unsigned; the bucket's rules answer it.
        if parts.method == Method::OPTIONS {
            let target = request::target(raw_path, &parts.headers, &self.config.domains)?;
            let bucket = target.bucket.ok_or_else(S3Error::method_not_allowed)?;
            call.name = "PreflightCors";
            call.bucket.clone_from(&bucket);
            return handlers::cors::preflight(self, &bucket, &parts.headers).await;
        }
        // A form upload carries its credentials in the form, not in headers.
        if handlers::post_object::is_post_object(&parts, &self.config.domains) {
            return handlers::post_object::serve(self, parts, body, request_id, call).await;
        }
        let token = security_token(&parts.headers, raw_query);
        let (verified, secrets) = identity::verify(&self.iam, token.as_deref(), |secrets| {
            auth::verify(
                &parts.method,
                raw_path,
                raw_query,
                &parts.headers,
                &self.config.domains,
                chrono::Utc::now(),
                secrets,
            )
        })
        .await;
        let (auth, caller) = match verified {
            Ok(auth) => {
                let (_, caller) = secrets
                    .take_found()
                    .ok_or_else(|| S3Error::internal("signed request without a caller"))?;
                (auth, caller)
            }
            // Unsigned: allowed only where a bucket policy lets anyone in.
            Err(e) if e.is_anonymous() => (
                AuthOutcome {
                    access_key: String::new(),
                    payload: PayloadMode::Unsigned,
                    chunk_signing: None,
                },
                Caller::anonymous(),
            ),
            Err(e) => return Err(secrets.token_error().unwrap_or_else(|| e.into())),
        };
        call.access_key.clone_from(&auth.access_key);
        if caller.user != auth.access_key {
            call.parent_user.clone_from(&caller.user);
        }
        let target = request::target(raw_path, &parts.headers, &self.config.domains)?;
        call.bucket = target.bucket.clone().unwrap_or_default();
        call.object = target.key.clone().unwrap_or_default();
        let query = Query::parse(raw_query)?;
        let presigned_v4 = query.has("X-Amz-Algorithm");
        let remote = parts.extensions.get::<crate::remote::Remote>();
        let access = Access::new(caller, &parts.headers, &query, remote, presigned_v4);
        let mut req = S3Request {
            method: parts.method,
            headers: parts.headers,
            target,
            query,
            auth,
            access,
            request_id: request_id.to_string(),
            body: std::sync::Mutex::new(Some(body)),
        };
        let op = handlers::operation(&req)?;
        call.name = op.name();
        authorize::check(self, &req.access, &op, &req.target, &req.headers).await?;
        handlers::route_op(self, &mut req, op).await
    }
}
