//! Who may read the metrics pages, decided as MinIO decides it (cmd/metrics-router.go,
//! `AuthMiddleware` in cmd/metrics.go, `metricsRequestAuthenticate` in cmd/jwt.go).
//!
//! With `PROMETHEUS_AUTH_TYPE=public` anyone may. With `jwt`, the default, a request
//! carries `Authorization: Bearer <token>` (see `token`; `cairn admin prometheus
//! generate` makes one) whose access key is the root user, a user or a service account
//! (a temporary STS key cannot: it needs its session token), signed with that key's
//! secret, issued by `prometheus` and not expired; the identity needs `admin:Prometheus`
//! (root and root's unrestricted service accounts always have it; the canned
//! `diagnostics` policy grants it). Every refusal is MinIO's answer: 403 AccessDenied
//! in JSON.

use super::token::{self, TokenError};
use crate::body::{RespBody, full};
use crate::config::PrometheusAuth;
use crate::front::App;
use crate::iam::{Caller, IamError};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// The permission to read the metrics, as MinIO's `policy.PrometheusAdminAction`.
pub const PROMETHEUS_ACTION: &str = "admin:Prometheus";

/// Why a metrics request was refused (logged at debug level, never sent back).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    NoToken,
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("the token's access key is refused: {0}")]
    Key(IamError),
    #[error("{0} lacks admin:Prometheus")]
    NotAllowed(String),
}

/// `Ok` when the request may read the metrics.
pub async fn check(app: &App, headers: &HeaderMap) -> Result<(), AuthError> {
    if app.metrics.auth == PrometheusAuth::Public {
        return Ok(());
    }
    let raw = bearer(headers).ok_or(AuthError::NoToken)?;
    // Only a well-formed HS512 token gets as far as an IAM lookup.
    let parsed = token::parse(raw)?;
    let iam = &app.s3.iam;
    let resolved = match iam.resolve(&parsed.access_key, None) {
        // A user created through another server a moment ago (reloads are coalesced).
        Err(IamError::NoSuchUser(_)) if iam.catch_up().await => {
            iam.resolve(&parsed.access_key, None)
        }
        other => other,
    };
    let (secret, caller) = resolved.map_err(AuthError::Key)?;
    parsed.verify(&secret, token::now())?;
    if !allowed(&caller) {
        return Err(AuthError::NotAllowed(caller.access_key));
    }
    Ok(())
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Whether `caller` has `admin:Prometheus` (the same evaluation as the admin API's).
fn allowed(caller: &Caller) -> bool {
    if caller.is_owner() {
        return true;
    }
    let mut values = cairn_policy::Values::new();
    caller.describe(&mut values);
    let principal = caller.principal();
    let mut req = cairn_policy::Request::new(PROMETHEUS_ACTION, &values);
    if let Some(p) = principal.as_ref() {
        req = req.with_caller(p);
    }
    caller.is_allowed(&req, None)
}

/// MinIO's refusal: 403 with an AccessDenied JSON error.
pub fn denied(resource: &str, request_id: &str) -> Response<RespBody> {
    let body = serde_json::json!({
        "Code": "AccessDenied",
        "Message": "Access Denied.",
        "Resource": resource,
        "RequestId": request_id,
    });
    let mut r = Response::new(full(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::FORBIDDEN;
    let headers = r.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-amz-request-id", v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        for (value, want) in [
            ("Bearer abc.def.ghi", Some("abc.def.ghi")),
            ("bearer  abc ", Some("abc")),
            ("Basic dXNlcjpwYXNz", None),
            ("Bearer", None),
            ("Bearer ", None),
        ] {
            h.insert(
                http::header::AUTHORIZATION,
                HeaderValue::from_str(value).unwrap(),
            );
            assert_eq!(bearer(&h), want, "{value:?}");
        }
    }
}
