//! Log in and log out. The login form posts the access key and secret key; the console
//! asks STS `AssumeRole` for one hour of temporary credentials, signed with those keys
//! (an ordinary STS call: verified, authorized and audited like any other), and keeps
//! them in the sealed session cookie. The typed secret is used for that one signature
//! and never stored or logged. Failed logins count towards the rate limit
//! (`rate_limit`), which answers `429` without asking IAM once reached.

use super::super::backend::{Body, Call, Signer};
use super::super::error::ConsoleError;
use super::super::html::{Markup, html};
use super::super::session::{self, Session};
use super::super::{Console, csrf, form, now_ms, xml};
use super::{Ctx, document, redirect};
use crate::body::RespBody;
use crate::remote::Remote;
use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode};
use hyper::body::Incoming;
use std::time::Instant;

/// Length of a console session (the STS credentials' lifetime).
pub const SESSION_SECS: i64 = 3600;
/// How long the login form stays valid.
const LOGIN_FORM_SECS: i64 = 900;

/// The login page, with its pre-login CSRF token (in a cookie and in the form). A
/// well-formed token the browser already holds is kept: a second load of the page (a
/// redirect of the browser's own `/favicon.ico` request, another tab) must not
/// invalidate a form already shown.
pub fn form(
    console: &Console,
    parts: &http::request::Parts,
    error: Option<(StatusCode, &str)>,
) -> Response<RespBody> {
    let token = session::cookie(&parts.headers, csrf::LOGIN_COOKIE)
        .filter(|t| csrf::well_formed(t))
        .map_or_else(csrf::new_token, str::to_string);
    let (status, message) = match error {
        Some((s, m)) => (s, html!("<p role=\"alert\" class=\"error\">{}</p>", m)),
        None => (StatusCode::OK, Markup::new()),
    };
    let body = html!(
        "<main id=\"main\" class=\"login\"><h1>Cairn console</h1>{}\
         <form method=\"post\" action=\"/login\" aria-label=\"Log in\">\
         <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
         <label for=\"access_key\">Access key</label>\
         <input id=\"access_key\" name=\"access_key\" autocomplete=\"username\" required autofocus>\
         <label for=\"secret_key\">Secret key</label>\
         <input id=\"secret_key\" name=\"secret_key\" type=\"password\" autocomplete=\"current-password\" required>\
         <button type=\"submit\" id=\"login\">Log in</button></form>\
         <p class=\"hint\">Root or any user. Service accounts cannot log in.</p></main>",
        message,
        token
    );
    let mut r = document(status, "Log in", "", body);
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(
        csrf::LOGIN_COOKIE,
        &token,
        console.secure,
        LOGIN_FORM_SECS,
    )) {
        r.headers_mut().append(http::header::SET_COOKIE, v);
    }
    r
}

/// The login form's answer.
pub async fn submit(
    console: &Console,
    parts: http::request::Parts,
    body: Incoming,
) -> Response<RespBody> {
    let fields = match form::read(body).await {
        Ok(f) => f,
        Err(e) => return form(console, &parts, Some((e.status(), &e.to_string()))),
    };
    let host = super::super::request_host(&parts);
    let expected = session::cookie(&parts.headers, csrf::LOGIN_COOKIE).unwrap_or("");
    if !csrf::same_origin(&parts.headers, &host)
        || !csrf::matches(expected, fields.get(csrf::FIELD))
    {
        return form(
            console,
            &parts,
            Some((
                StatusCode::FORBIDDEN,
                "The login form expired or came from another site; please try again.",
            )),
        );
    }
    let access_key = fields.get("access_key").unwrap_or("").trim().to_string();
    let secret = fields.get("secret_key").unwrap_or("").to_string();
    if access_key.is_empty() || secret.is_empty() {
        return form(
            console,
            &parts,
            Some((
                StatusCode::BAD_REQUEST,
                "Enter an access key and a secret key.",
            )),
        );
    }
    let remote = parts.extensions.get::<Remote>().copied();
    let address = remote.map_or_else(String::new, |r| r.addr.ip().to_string());
    if let Err(wait) = console.limiter.check(&address, &access_key, Instant::now()) {
        tracing::warn!(access_key = %access_key, client = %address, "console login refused: too many failed attempts");
        let mut r = form(
            console,
            &parts,
            Some((
                StatusCode::TOO_MANY_REQUESTS,
                "Too many failed logins. Wait a few minutes and try again.",
            )),
        );
        r.headers_mut().insert(
            http::header::RETRY_AFTER,
            HeaderValue::from(wait.as_secs().max(1)),
        );
        return r;
    }
    match assume_role(console, remote, &access_key, &secret).await {
        Ok(creds) => {
            console.limiter.succeeded(&access_key);
            tracing::info!(user = %access_key, client = %address, "console login");
            let session = Session {
                sid: session::random_id(),
                user: access_key,
                access_key: creds.access_key,
                secret_key: creds.secret_key,
                token: creds.token,
                expires_ms: creds.expires_ms,
                csrf: csrf::new_token(),
            };
            let max_age = (session.expires_ms - now_ms()) / 1000;
            let cookie = console.sessions.seal(&session);
            let mut r = redirect("/buckets");
            for c in [
                session::set_cookie(
                    session::cookie_name(console.secure),
                    &cookie,
                    console.secure,
                    max_age,
                ),
                session::clear_cookie(csrf::LOGIN_COOKIE, console.secure),
            ] {
                if let Ok(v) = HeaderValue::from_str(&c) {
                    r.headers_mut().append(http::header::SET_COOKIE, v);
                }
            }
            r
        }
        Err(e) => {
            let (status, message) = match &e {
                ConsoleError::Api { status, code, .. } if status.is_client_error() => {
                    console
                        .limiter
                        .failed(&address, &access_key, Instant::now());
                    tracing::warn!(access_key = %access_key, client = %address, code = %code, "console login failed");
                    (
                        StatusCode::UNAUTHORIZED,
                        if code == "AccessDenied" && status.as_u16() == 403 {
                            "This identity cannot log in (wrong keys, a disabled user, or a service account)."
                        } else {
                            "Wrong access key or secret key."
                        },
                    )
                }
                other => {
                    tracing::warn!(error = %other, "console login: STS did not answer");
                    (other.status(), "The server could not log you in right now.")
                }
            };
            form(console, &parts, Some((status, message)))
        }
    }
}

/// Temporary credentials from STS.
struct StsCredentials {
    access_key: String,
    secret_key: String,
    token: String,
    expires_ms: i64,
}

async fn assume_role(
    console: &Console,
    remote: Option<Remote>,
    access_key: &str,
    secret: &str,
) -> Result<StsCredentials, ConsoleError> {
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&DurationSeconds={SESSION_SECS}&RoleSessionName=console"
    );
    let mut call = Call::new(Method::POST, "/")
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(Body::Bytes(Bytes::from(body)));
    call.service = "sts";
    let answer = console
        .backend
        .call(&Signer::Login { access_key, secret }, remote, call)
        .await?;
    let text = answer.text();
    let field = |name: &str| {
        xml::text(&text, name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConsoleError::Internal(format!("AssumeRole answered without {name}")))
    };
    let expiration = field("Expiration")?;
    let expires_ms = chrono::DateTime::parse_from_rfc3339(&expiration)
        .map(|t| t.timestamp_millis())
        .unwrap_or_else(|_| now_ms() + SESSION_SECS * 1000);
    Ok(StsCredentials {
        access_key: field("AccessKeyId")?,
        secret_key: field("SecretAccessKey")?,
        token: field("SessionToken")?,
        expires_ms,
    })
}

/// Ends the session: revoked on this server, the cookie cleared.
pub fn logout(ctx: &Ctx<'_>) -> Response<RespBody> {
    ctx.console.sessions.revoke(ctx.session, now_ms());
    tracing::info!(user = %ctx.session.user, "console logout");
    let mut r = redirect("/login");
    let secure = ctx.console.secure;
    if let Ok(v) =
        HeaderValue::from_str(&session::clear_cookie(session::cookie_name(secure), secure))
    {
        r.headers_mut().append(http::header::SET_COOKIE, v);
    }
    r
}
