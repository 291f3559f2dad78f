//! The admin API: Cairn's own (`/cairn/admin/v1/...`) and MinIO's admin API v3 identity
//! calls (`/minio/admin/v3/...`, see `iam`), authenticated with SigV4 exactly as S3
//! requests are (header or presigned query, signed by any IAM identity; an STS session
//! with its `x-amz-security-token`) and authorized through IAM: the caller needs the
//! MinIO admin action of the call (root always may; `consoleAdmin` grants `admin:*`).
//! JSON answers and JSON errors (`{"Code","Message","Resource","RequestId"}`, as MinIO's
//! admin API). Every answer carries an `s3::call::ApiCall` with MinIO's handler name
//! (`api_name`) and the signer, for the audit log.
//!
//! * `info` needs `admin:ServerInfo`, `heal` `admin:Heal`, MinIO's `datausageinfo`
//!   (the scanner's data usage, see `usage`) `admin:DataUsageInfo`.
//! * `GET  /cairn/admin/v1/info` — servers, drives (online, offline, healing), pools and
//!   sets with parity and quorums, usage, heal progress ([`types::Info`]).
//! * `GET  /cairn/admin/v1/heal` — heal progress ([`types::HealProgress`]).
//! * `GET  /cairn/admin/v1/lifecycle` — this server's lifecycle worker
//!   ([`lifecycle::LifecycleStatus`]; needs `admin:ServerInfo`).
//! * `POST /cairn/admin/v1/heal?bucket=B&prefix=P&deep=true` — starts an admin heal
//!   through the heal layer ([`crate::heal::HealState::start_heal`]) and returns its id;
//!   409 `HealAlreadyRunning` (with the running task's id) while one runs.
//!
//! # What a server knows about other servers
//!
//! Whether a drive is online is checked from the answering server (`Drive::check`, over
//! the peer RPC for a peer's drive). Whether a drive is *healing*, and its rebuild
//! progress, is known only to the server holding the drive (its healing marker and its
//! heal layer). So `info` and `heal` ask every peer server for its own view with
//! `?local=1` (signed with the root credentials, over the same scheme and TLS trust as
//! the peer RPC, 3 s deadline) and merge: a peer's view of its own drives wins; a peer
//! that does not answer is listed as offline (or, if its drives still answer the RPC,
//! as online with the error) and its drives keep the state seen over the RPC. Object
//! counts are not reported (no cheap source); the admin heal task shown is the one
//! started on the answering server.

mod api_name;
pub mod cli;
pub mod client;
mod heal;
mod iam;
pub mod iam_cli;
mod info;
pub mod kms;
pub mod kms_cli;
pub mod lifecycle;
pub mod lifecycle_cli;
pub mod prometheus_cli;
mod server_info;
pub mod types;
mod usage;

use crate::body::RespBody;
use crate::drive::DriveRef;
use crate::heal::HealState;
use crate::iam::{Caller, Iam};
use crate::objects::{BodyStream, ObjectLayer};
use crate::s3::auth::sigv4::{self, AuthError, PayloadMode};
use crate::s3::call::ApiCall;
use crate::s3::identity;
use bytes::Bytes;
use client::{AdminClient, TlsTrust};
use futures::StreamExt;
use http::{Method, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use types::ErrorBody;

/// Every Cairn admin path starts with this.
pub const PREFIX: &str = "/cairn/admin/";
/// MinIO's admin API v3 (identity calls), served beside Cairn's own.
pub const V3_PREFIX: &str = "/minio/admin/v3/";
/// MinIO's ServerInfo (`mc admin info`, `MinioAdmin.info()`).
pub const V3_SERVER_INFO: &str = "/minio/admin/v3/info";
pub const INFO_PATH: &str = "/cairn/admin/v1/info";
pub const HEAL_PATH: &str = "/cairn/admin/v1/heal";

/// Admin request bodies are small (an encrypted identity request at most, MinIO's
/// limit); larger ones are refused.
const MAX_BODY: usize = cairn_madmin::crypt::MAX_ENCRYPTED_REQUEST_LEN;
/// Concurrent Argon2 derivations (each ~70 ms of CPU and 64 MiB of memory).
const CRYPT_PERMITS: usize = 2;
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of a question to a peer server.
pub(crate) const PEER_TIMEOUT: Duration = Duration::from_secs(3);

/// True for paths the admin API serves.
pub fn handles(path: &str) -> bool {
    path.starts_with(PREFIX) || path.starts_with(V3_PREFIX)
}

/// What the admin API needs from start-up.
#[derive(Clone)]
pub struct AdminConfig {
    pub root_user: String,
    pub root_password: String,
    pub region: String,
    /// The listen address (`host:port`), the server's name when it has no URL endpoint.
    pub address: String,
    /// How to trust peers' certificates (the peer RPC's TLS settings); `None` for plain
    /// HTTP clusters.
    pub peer_tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("root_user", &self.root_user)
            .field("root_password", &"<redacted>")
            .field("region", &self.region)
            .field("address", &self.address)
            .finish()
    }
}

/// An authenticated admin caller and its secret key (for encrypted bodies; never
/// logged).
pub(crate) struct Authenticated {
    pub caller: Caller,
    pub secret: String,
}

/// Whether `caller` may perform the admin `action` (root and root's unrestricted
/// children always may).
pub(crate) fn allowed(caller: &Caller, action: &str) -> bool {
    if caller.is_owner() {
        return true;
    }
    let mut values = cairn_policy::Values::new();
    caller.describe(&mut values);
    let principal = caller.principal();
    let mut req = cairn_policy::Request::new(action, &values);
    if let Some(p) = principal.as_ref() {
        req = req.with_caller(p);
    }
    caller.is_allowed(&req, None)
}

/// Whether one of `caller`'s own policies (its user's or groups') explicitly denies the
/// admin `action`.
pub(crate) fn explicitly_denied(caller: &Caller, action: &str) -> bool {
    if caller.is_owner() {
        return false;
    }
    let mut values = cairn_policy::Values::new();
    caller.describe(&mut values);
    let principal = caller.principal();
    let mut req = cairn_policy::Request::new(action, &values);
    if let Some(p) = principal.as_ref() {
        req = req.with_caller(p);
    }
    caller
        .policies
        .iter()
        .any(|p| p.evaluate(&req) == cairn_policy::Decision::ExplicitDeny)
}

/// [`allowed`], or the `AccessDenied` answer.
pub(crate) fn require(caller: &Caller, action: &str) -> Result<(), ApiError> {
    if allowed(caller, action) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            format!(
                "Access Denied. ({action} is not allowed for {})",
                caller.access_key
            ),
        ))
    }
}

/// One drive with its place in the layout.
#[derive(Clone)]
pub(crate) struct Slot {
    pub pool: usize,
    pub set: usize,
    pub position: usize,
    pub drive: DriveRef,
}

pub struct AdminService {
    pub(crate) objects: Arc<ObjectLayer>,
    pub(crate) heal: Arc<HealState>,
    pub(crate) cfg: AdminConfig,
    pub(crate) iam: Arc<Iam>,
    /// Bounds concurrent Argon2 work of encrypted bodies.
    pub(crate) crypt_permits: Arc<tokio::sync::Semaphore>,
    /// This server's name: `host:port` of its drives' endpoints.
    pub(crate) me: String,
    pub(crate) distributed: bool,
    /// Every other server, by `host:port`.
    pub(crate) peers: Vec<(String, AdminClient)>,
    /// The deployment id, read from a local drive's format on first use.
    deployment_id: std::sync::OnceLock<String>,
    /// Server-side encryption's KMS, for the KMS status and key rotation calls.
    pub(crate) sse: crate::crypto::sse::Sse,
}

impl std::fmt::Debug for AdminService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminService")
            .field("me", &self.me)
            .field("cfg", &self.cfg)
            .finish()
    }
}

/// `(scheme, host:port)` of a URL endpoint; `None` for a directory.
pub(crate) fn server_of(endpoint: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = endpoint.split_once("://")?;
    let authority = rest.split('/').next().unwrap_or(rest);
    Some((scheme, authority))
}

impl AdminService {
    pub fn new(
        objects: Arc<ObjectLayer>,
        heal: Arc<HealState>,
        iam: Arc<Iam>,
        cfg: AdminConfig,
    ) -> Self {
        let drives: Vec<DriveRef> = objects
            .sets()
            .flat_map(|s| s.drives.iter().cloned())
            .collect();
        let distributed = drives.iter().any(|d| server_of(&d.endpoint()).is_some());
        let me = drives
            .iter()
            .filter(|d| d.is_local())
            .find_map(|d| server_of(&d.endpoint()).map(|(_, a)| a.to_string()))
            .unwrap_or_else(|| cfg.address.clone());
        let mut peers: Vec<(String, AdminClient)> = Vec::new();
        for d in drives.iter().filter(|d| !d.is_local()) {
            let endpoint = d.endpoint();
            let Some((scheme, authority)) = server_of(&endpoint) else {
                continue;
            };
            if authority == me || peers.iter().any(|(n, _)| n == authority) {
                continue;
            }
            let trust = match &cfg.peer_tls {
                Some(c) => TlsTrust::Config(c.clone()),
                None => TlsTrust::System,
            };
            let credentials = sigv4::Credentials {
                access_key: cfg.root_user.clone(),
                secret_key: cfg.root_password.clone(),
            };
            match AdminClient::new(
                &format!("{scheme}://{authority}"),
                credentials,
                &cfg.region,
                &trust,
            ) {
                Ok(c) => peers.push((authority.to_string(), c)),
                Err(e) => {
                    tracing::warn!(server = %authority, error = %e, "admin: cannot build a client for this peer")
                }
            }
        }
        Self {
            objects,
            heal,
            cfg,
            iam,
            crypt_permits: Arc::new(tokio::sync::Semaphore::new(CRYPT_PERMITS)),
            me,
            distributed,
            peers,
            deployment_id: std::sync::OnceLock::new(),
            sse: crate::crypto::sse::Sse::default(),
        }
    }

    /// Serves the KMS calls with `sse`'s KMS (none: they answer 501).
    pub fn with_sse(mut self, sse: crate::crypto::sse::Sse) -> Self {
        self.sse = sse;
        self
    }

    /// The deployment id from the format of the first readable local drive.
    pub(crate) async fn deployment_id(&self) -> Option<String> {
        if let Some(id) = self.deployment_id.get() {
            return Some(id.clone());
        }
        let roots: Vec<std::path::PathBuf> = self
            .slots()
            .iter()
            .filter(|s| s.drive.is_local())
            .filter_map(|s| info::local_root(&s.drive.endpoint()))
            .collect();
        let found = tokio::task::spawn_blocking(move || {
            roots
                .iter()
                .find_map(|r| match crate::cluster::format::inspect_drive(r) {
                    crate::cluster::format::DriveFormatState::Ok(f) => {
                        Some(f.deployment_id.to_string())
                    }
                    _ => None,
                })
        });
        let id = tokio::time::timeout(Duration::from_secs(3), found)
            .await
            .ok()?
            .ok()??;
        Some(self.deployment_id.get_or_init(|| id).clone())
    }

    /// Every drive with its pool, set and position.
    pub(crate) fn slots(&self) -> Vec<Slot> {
        let mut out = Vec::new();
        for (p, pool) in self.objects.pools.iter().enumerate() {
            for set in &pool.sets {
                for (position, drive) in set.drives.iter().enumerate() {
                    out.push(Slot {
                        pool: p,
                        set: set.index,
                        position,
                        drive: drive.clone(),
                    });
                }
            }
        }
        out
    }

    /// The server name of a drive.
    pub(crate) fn server_name(&self, drive: &DriveRef) -> String {
        if drive.is_local() {
            return self.me.clone();
        }
        let ep = drive.endpoint();
        server_of(&ep).map_or(ep.clone(), |(_, a)| a.to_string())
    }

    /// Serves one admin request; never fails: errors become JSON error answers.
    pub async fn handle(
        &self,
        parts: http::request::Parts,
        body: BodyStream,
        request_id: &str,
    ) -> Response<RespBody> {
        let resource = parts.uri.path().to_string();
        // What the audit log records (`crate::audit`): MinIO's handler name and the
        // signer, in the answer's extensions as the S3 layer leaves them.
        let mut call = ApiCall {
            name: api_name::api_name(&resource, &parts.method),
            ..ApiCall::default()
        };
        let mut resp = match self.dispatch(parts, body, &mut call).await {
            Ok(r) => r,
            Err(e) => {
                if e.status.is_server_error() {
                    tracing::warn!(request_id, code = e.code, message = %e.message, "admin request failed");
                } else {
                    tracing::debug!(request_id, code = e.code, message = %e.message, "admin request refused");
                }
                e.response(&resource, request_id)
            }
        };
        if let Ok(v) = http::HeaderValue::from_str(request_id) {
            resp.headers_mut().insert("x-amz-request-id", v);
        }
        resp.extensions_mut().insert(call);
        resp
    }

    async fn dispatch(
        &self,
        parts: http::request::Parts,
        body: BodyStream,
        call: &mut ApiCall,
    ) -> Result<Response<RespBody>, ApiError> {
        let body = read_body(body).await?;
        let auth = self.authenticate(&parts, &body).await?;
        call.access_key.clone_from(&auth.caller.access_key);
        if auth.caller.user != auth.caller.access_key {
            call.parent_user.clone_from(&auth.caller.user);
        }
        if parts.uri.path() == V3_SERVER_INFO {
            if parts.method != Method::GET {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                ));
            }
            require(&auth.caller, "admin:ServerInfo")?;
            return Ok(json(StatusCode::OK, &server_info::serve(self).await));
        }
        if parts.uri.path() == usage::PATH {
            if parts.method != Method::GET {
                return Err(ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "MethodNotAllowed",
                    "The specified method is not allowed against this resource.",
                ));
            }
            require(&auth.caller, "admin:DataUsageInfo")?;
            return Ok(json(StatusCode::OK, &usage::serve(self).await));
        }
        let kms_query = parse_query(parts.uri.query().unwrap_or(""));
        if let Some(r) = kms::dispatch(
            self,
            &auth.caller,
            &parts.method,
            parts.uri.path(),
            &kms_query,
        )
        .await
        {
            return r;
        }
        if parts.uri.path().starts_with(V3_PREFIX) {
            return iam::dispatch(self, auth, &parts, body).await;
        }
        let query = parse_query(parts.uri.query().unwrap_or(""));
        let local = query
            .get("local")
            .is_some_and(|v| matches!(v.as_str(), "1" | "true"));
        let path = parts.uri.path().trim_end_matches('/');
        match (path, &parts.method) {
            (INFO_PATH, &Method::GET) => {
                require(&auth.caller, "admin:ServerInfo")?;
                Ok(json(StatusCode::OK, &info::info(self, local).await))
            }
            (HEAL_PATH, &Method::GET) => {
                require(&auth.caller, "admin:Heal")?;
                Ok(json(StatusCode::OK, &heal::progress(self, local).await))
            }
            (HEAL_PATH, &Method::POST) => {
                require(&auth.caller, "admin:Heal")?;
                heal::start(self, &query)
            }
            (lifecycle::PATH, &Method::GET) => {
                require(&auth.caller, "admin:ServerInfo")?;
                Ok(json(StatusCode::OK, &lifecycle::serve(self).await))
            }
            (INFO_PATH | HEAL_PATH | lifecycle::PATH, _) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )),
            _ => Err(ApiError::new(
                StatusCode::NOT_FOUND,
                "NotFound",
                "no such admin API path",
            )),
        }
    }

    /// SigV4 (header or presigned query) by any IAM identity (`x-amz-security-token`
    /// selects an STS session); a signed payload hash must match the body.
    async fn authenticate(
        &self,
        parts: &http::request::Parts,
        body: &Bytes,
    ) -> Result<Authenticated, ApiError> {
        let raw_query = parts.uri.query().unwrap_or("");
        let token = parts
            .headers
            .get("x-amz-security-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .or_else(|| parse_query(raw_query).get("X-Amz-Security-Token").cloned());
        let (verified, secrets) = identity::verify(&self.iam, token.as_deref(), |secrets| {
            sigv4::verify(
                &parts.method,
                parts.uri.path(),
                raw_query,
                &parts.headers,
                chrono::Utc::now(),
                secrets,
            )
        })
        .await;
        let outcome = match verified {
            Ok(outcome) => outcome,
            Err(e) => {
                return Err(match secrets.token_error() {
                    Some(t) => ApiError::new(t.status, t.code, t.message),
                    None => ApiError::from(e),
                });
            }
        };
        let found = secrets.take_found();
        let Some((secret, caller)) = found.filter(|(_, c)| c.access_key == outcome.access_key)
        else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "InvalidAccessKeyId",
                "The Access Key Id you provided does not exist in our records.",
            ));
        };
        let auth = Authenticated { caller, secret };
        match outcome.payload {
            PayloadMode::Unsigned => Ok(auth),
            PayloadMode::SignedSha256(h) if h == hex::encode(Sha256::digest(body)) => Ok(auth),
            PayloadMode::SignedSha256(_) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )),
            _ => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequest",
                "streaming payloads are not accepted by the admin API",
            )),
        }
    }
}

/// Reads the (small) body whole, with a deadline.
async fn read_body(mut body: BodyStream) -> Result<Bytes, ApiError> {
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ApiError::new(StatusCode::BAD_REQUEST, "IncompleteBody", e.to_string())
            })?;
            if buf.len() + chunk.len() > MAX_BODY {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "EntityTooLarge",
                    "admin request bodies are limited to 256 KiB",
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(BODY_TIMEOUT, read)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "RequestTimeout",
                "body timed out",
            )
        })?
}

/// Decoded query parameters (`+` is a space); the last of repeated names wins.
pub(crate) fn parse_query(raw: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

/// An admin error answer.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub task_id: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            task_id: None,
        }
    }

    fn response(&self, resource: &str, request_id: &str) -> Response<RespBody> {
        json(
            self.status,
            &ErrorBody {
                code: self.code.to_string(),
                message: self.message.clone(),
                resource: resource.to_string(),
                request_id: request_id.to_string(),
                task_id: self.task_id,
            },
        )
    }
}

impl From<crate::iam::IamError> for ApiError {
    /// MinIO's admin code and status; the message never holds a secret.
    fn from(e: crate::iam::IamError) -> Self {
        ApiError::new(e.http_status(), e.admin_code(), e.to_string())
    }
}

impl From<AuthError> for ApiError {
    /// The S3 code and status of the authentication failure: 403 for unsigned requests,
    /// unknown (non-root) keys and bad signatures, 400 for malformed ones.
    fn from(e: AuthError) -> Self {
        ApiError::new(e.http_status(), e.s3_code(), e.message())
    }
}

pub(crate) fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response<RespBody> {
    let body = serde_json::to_vec_pretty(value).unwrap_or_else(|e| {
        format!("{{\"Code\":\"InternalError\",\"Message\":\"{e}\"}}").into_bytes()
    });
    let mut r = Response::new(crate::body::full(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}
