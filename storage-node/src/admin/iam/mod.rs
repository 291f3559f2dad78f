//! MinIO's admin API v3 identity calls (`/minio/admin/v3/...`): routing by
//! [`cairn_madmin::paths::Call`], the request context every handler uses (query, the
//! caller, encrypted bodies keyed by the caller's secret) and the answers. The calls
//! themselves are in `users`, `groups`, `policies`, `service_accounts` and `account`
//! (accountinfo); `effective` merges a user's policies, `bucket_access` tells which of
//! them reach a bucket.
//!
//! Encrypted bodies cost one Argon2id derivation each (~70 ms, 64 MiB): they are
//! opened and sealed on the blocking pool, at most [`super::CRYPT_PERMITS`] at a time,
//! and only for callers whose signature was verified.

mod account;
mod bucket_access;
mod effective;
mod groups;
mod policies;
mod service_accounts;
mod users;

use super::{AdminService, ApiError, Authenticated, json};
use crate::body::RespBody;
use crate::iam::Caller;
use bytes::Bytes;
use cairn_madmin::paths::{Call, Method as CallMethod};
use http::{Method, Response, StatusCode};

/// One identity request, authenticated.
pub(super) struct Ctx<'a> {
    pub svc: &'a AdminService,
    pub caller: Caller,
    secret: String,
    /// Decoded query pairs, in order (some names repeat).
    query: Vec<(String, String)>,
    pub body: Bytes,
}

/// Routes one `/minio/admin/v3/...` request.
pub(super) async fn dispatch(
    svc: &AdminService,
    auth: Authenticated,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<RespBody>, ApiError> {
    let path = parts.uri.path();
    let Some(call) = Call::from_path(path) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "XMinioAdminAPINotImplemented",
            "this admin API call is not implemented",
        ));
    };
    let expected = match call.method() {
        CallMethod::Get => Method::GET,
        CallMethod::Put => Method::PUT,
        CallMethod::Post => Method::POST,
        CallMethod::Delete => Method::DELETE,
    };
    if parts.method != expected {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        ));
    }
    let ctx = Ctx {
        svc,
        caller: auth.caller,
        secret: auth.secret,
        query: parse_pairs(parts.uri.query().unwrap_or("")),
        body,
    };
    for name in call.spec().required_query {
        ctx.required(name)?;
    }
    match call {
        Call::AddUser => users::add(&ctx).await,
        Call::RemoveUser => users::remove(&ctx).await,
        Call::UserInfo => users::info(&ctx),
        Call::ListUsers => users::list(&ctx).await,
        Call::SetUserStatus => users::set_status(&ctx).await,
        Call::UpdateGroupMembers => groups::update_members(&ctx).await,
        Call::Group => groups::info(&ctx),
        Call::Groups => groups::list(&ctx),
        Call::SetGroupStatus => groups::set_status(&ctx).await,
        Call::AddCannedPolicy => policies::add(&ctx).await,
        Call::RemoveCannedPolicy => policies::remove(&ctx).await,
        Call::InfoCannedPolicy => policies::info(&ctx),
        Call::ListCannedPolicies => policies::list(&ctx),
        Call::SetUserOrGroupPolicy => policies::set(&ctx).await,
        Call::AttachPolicy => policies::associate(&ctx, true).await,
        Call::DetachPolicy => policies::associate(&ctx, false).await,
        Call::PolicyEntities => policies::entities(&ctx).await,
        Call::AddServiceAccount => service_accounts::add(&ctx).await,
        Call::UpdateServiceAccount => service_accounts::update(&ctx).await,
        Call::InfoServiceAccount => service_accounts::info(&ctx).await,
        Call::ListServiceAccounts => service_accounts::list(&ctx).await,
        Call::DeleteServiceAccount => service_accounts::delete(&ctx).await,
        Call::AccountInfo => account::info(&ctx).await,
    }
}

/// Query pairs, decoded (`+` is a space), repeated names kept.
fn parse_pairs(raw: &str) -> Vec<(String, String)> {
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

pub(super) fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "XMinioAdminInvalidArgument",
        message,
    )
}

fn bad_json(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "XMinioAdminConfigBadJSON",
        format!("the request body is not valid JSON for this call: {e}"),
    )
}

impl Ctx<'_> {
    /// The last value of query parameter `name`.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable query parameter, empties dropped.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.query
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A query parameter the call needs, non-empty.
    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.q(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| invalid(format!("the query parameter {name:?} is required")))
    }

    pub fn require(&self, action: &str) -> Result<(), ApiError> {
        super::require(&self.caller, action)
    }

    pub fn root(&self) -> &str {
        self.svc.iam.root_user()
    }

    /// Opens the caller's encrypted body and parses its JSON.
    pub async fn decrypt<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        let _permit = self
            .svc
            .crypt_permits
            .acquire()
            .await
            .map_err(|_| internal("crypt semaphore closed"))?;
        let secret = self.secret.clone();
        let body = self.body.clone();
        let plain = tokio::task::spawn_blocking(move || {
            cairn_madmin::crypt::decrypt_with_limit(
                &secret,
                &body,
                cairn_madmin::crypt::MAX_ENCRYPTED_REQUEST_LEN,
            )
        })
        .await
        .map_err(|e| internal(format!("decryption task: {e}")))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "XMinioAdminConfigBadJSON",
                format!("the request body cannot be decrypted with the signer's secret key: {e}"),
            )
        })?;
        serde_json::from_slice(&plain).map_err(bad_json)
    }

    /// Parses a JSON body sent in clear.
    pub fn json_body<T: serde::de::DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(bad_json)
    }

    /// A 200 answer with `value` as JSON encrypted with the caller's secret.
    pub async fn encrypted<T: serde::Serialize>(
        &self,
        value: &T,
    ) -> Result<Response<RespBody>, ApiError> {
        let plain = serde_json::to_vec(value).map_err(|e| internal(e.to_string()))?;
        let _permit = self
            .svc
            .crypt_permits
            .acquire()
            .await
            .map_err(|_| internal("crypt semaphore closed"))?;
        let secret = self.secret.clone();
        let sealed =
            tokio::task::spawn_blocking(move || cairn_madmin::crypt::encrypt(&secret, &plain))
                .await
                .map_err(|e| internal(format!("encryption task: {e}")))?
                .map_err(|e| internal(format!("encryption: {e}")))?;
        let mut r = Response::new(crate::body::full(Bytes::from(sealed)));
        r.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static(cairn_madmin::paths::ENCRYPTED_CONTENT_TYPE),
        );
        Ok(r)
    }
}

fn internal(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
}

/// A success answer without a body.
pub(super) fn empty(status: StatusCode) -> Response<RespBody> {
    let mut r = Response::new(crate::body::full(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// A 200 answer with JSON in clear.
pub(super) fn clear<T: serde::Serialize>(value: &T) -> Response<RespBody> {
    json(StatusCode::OK, value)
}

/// Unix milliseconds as RFC 3339 (MinIO's `updatedAt`).
pub(super) fn time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| cairn_madmin::types::GO_ZERO_TIME.to_string())
}
