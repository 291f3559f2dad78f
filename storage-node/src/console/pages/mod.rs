//! The console's pages: one file per area (`buckets`, `objects`, `upload` for the
//! upload endpoints the page script calls, `identities`, `health`, `login`), the shared
//! layout and answers here. Every page is built with `html!`, so every value is escaped.

pub mod buckets;
pub mod health;
pub mod identities;
pub mod login;
pub mod objects;
pub mod upload;

use super::backend::{Answer, Call, Signer};
use super::error::{ConsoleError, ConsoleResult};
use super::form::Pairs;
use super::html::{Markup, html};
use super::session::Session;
use super::{Console, full};
use crate::body::RespBody;
use crate::remote::Remote;
use http::{HeaderValue, Method, Response, StatusCode};
use hyper::body::Incoming;

/// The page script and style, embedded in the binary.
pub const JS: &str = include_str!("../assets/console.js");
pub const CSS: &str = include_str!("../assets/console.css");

/// One request of a logged-in person.
pub struct Ctx<'a> {
    pub console: &'a Console,
    pub session: &'a Session,
    pub remote: Option<Remote>,
    pub query: Pairs,
    /// The console's `Host` as the browser sent it.
    pub host: String,
}

impl Ctx<'_> {
    /// Makes `call` under the session's credentials and reads the answer; an error
    /// status becomes an error.
    pub async fn call(&self, call: Call<'_>) -> ConsoleResult<Answer> {
        self.console
            .backend
            .call(&Signer::Session(self.session), self.remote, call)
            .await
    }

    /// As [`Self::call`], with an error status returned as an answer.
    pub async fn call_any(&self, call: Call<'_>) -> ConsoleResult<Answer> {
        self.console
            .backend
            .call_any(&Signer::Session(self.session), self.remote, call)
            .await
    }

    /// The hidden form field every state-changing form carries.
    pub fn csrf_field(&self) -> Markup {
        html!(
            "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
            self.session.csrf
        )
    }
}

/// Which main navigation entry a page belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Buckets,
    Identities,
    Health,
    None,
}

/// A whole page in the console's layout.
pub fn page(ctx: &Ctx<'_>, nav: Nav, title: &str, body: Markup) -> Response<RespBody> {
    let item = |target: Nav, href: &str, label: &str| {
        if target == nav {
            html!("<a href=\"{}\" aria-current=\"page\">{}</a>", href, label)
        } else {
            html!("<a href=\"{}\">{}</a>", href, label)
        }
    };
    let header = html!(
        "<header><span class=\"brand\">Cairn console</span>\
         <nav aria-label=\"Main\">{}{}{}</nav>\
         <form method=\"post\" action=\"/logout\" class=\"logout\">{}\
         <span>Signed in as <strong id=\"whoami\">{}</strong></span> \
         <button type=\"submit\">Log out</button></form></header>",
        item(Nav::Buckets, "/buckets", "Buckets"),
        item(Nav::Identities, "/identities", "Identities"),
        item(Nav::Health, "/health", "Health"),
        ctx.csrf_field(),
        ctx.session.user
    );
    document(
        StatusCode::OK,
        title,
        &ctx.session.csrf,
        html!(
            "{}<main id=\"main\"><h1>{}</h1>{}</main>",
            header,
            title,
            body
        ),
    )
}

/// The HTML document around `body`.
pub fn document(status: StatusCode, title: &str, csrf: &str, body: Markup) -> Response<RespBody> {
    let doc = html!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf-token\" content=\"{}\">\
         <title>{} · Cairn console</title>\
         <link rel=\"stylesheet\" href=\"/static/console.css\">\
         <script src=\"/static/console.js\" defer></script></head>\
         <body><a class=\"skip\" href=\"#main\">Skip to content</a>{}</body></html>",
        csrf,
        title,
        body
    );
    let mut r = Response::new(full(doc.into_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

/// An error shown in the layout, with the server's code and message.
pub fn error_page(ctx: &Ctx<'_>, e: &ConsoleError) -> Response<RespBody> {
    let hint = if e.is_denied() {
        html!("<p>Your identity is not allowed to do this.</p>")
    } else {
        Markup::new()
    };
    let mut r = page(
        ctx,
        Nav::None,
        "Something went wrong",
        html!(
            "<p role=\"alert\" class=\"error\">{}</p>{}<p><a href=\"/buckets\">Back to the buckets</a></p>",
            e.to_string(),
            hint
        ),
    );
    *r.status_mut() = e.status();
    r
}

/// A `303 See Other` to `location` (after a form, and to the login page).
pub fn redirect(location: &str) -> Response<RespBody> {
    let mut r = crate::body::empty(StatusCode::SEE_OTHER);
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    r
}

/// A short plain-text answer (for the page script).
pub fn plain(status: StatusCode, text: &str) -> Response<RespBody> {
    let mut r = Response::new(full(text.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// A JSON answer (for the page script).
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<RespBody> {
    let mut r = Response::new(full(value.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An embedded asset.
pub fn asset(body: &'static str, content_type: &'static str) -> Response<RespBody> {
    let mut r = Response::new(full(body));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    r
}

/// Routes a `GET` or a script request of a logged-in person.
pub async fn dispatch(
    ctx: &Ctx<'_>,
    parts: &http::request::Parts,
    body: Incoming,
) -> Response<RespBody> {
    let path = parts.uri.path();
    let result = match (&parts.method, path) {
        (&Method::GET, "/") => Ok(redirect("/buckets")),
        (&Method::GET, "/buckets") => buckets::list(ctx).await,
        (&Method::GET, "/bucket") => buckets::settings(ctx).await,
        (&Method::GET, "/browse") => objects::browse(ctx).await,
        (&Method::GET, "/object") => objects::details(ctx).await,
        (&Method::GET, "/download") => objects::download(ctx).await,
        (&Method::GET, "/identities") => identities::page(ctx).await,
        (&Method::GET, "/health") => health::page(ctx).await,
        (_, p) if p.starts_with("/api/") => {
            return upload::dispatch(ctx, parts, body).await;
        }
        _ => Err(ConsoleError::Api {
            status: StatusCode::NOT_FOUND,
            code: "NotFound".into(),
            message: format!("no console page at {path}"),
        }),
    };
    result.unwrap_or_else(|e| error_page(ctx, &e))
}

/// Routes a submitted form (already CSRF-checked).
pub async fn post_form(ctx: &Ctx<'_>, path: &str, form: Pairs) -> Response<RespBody> {
    let result = match path {
        "/logout" => Ok(login::logout(ctx)),
        "/buckets/create" => buckets::create(ctx, &form).await,
        "/buckets/delete" => buckets::delete(ctx, &form).await,
        "/bucket/versioning" => buckets::set_versioning(ctx, &form).await,
        "/bucket/policy" => buckets::set_policy(ctx, &form).await,
        "/bucket/lifecycle" => buckets::set_lifecycle(ctx, &form).await,
        "/object/delete" => objects::delete(ctx, &form).await,
        "/object/share" => objects::share(ctx, &form).await,
        "/identities/user" => identities::add_user(ctx, &form).await,
        "/identities/user/delete" => identities::remove_user(ctx, &form).await,
        "/identities/policy" => identities::save_policy(ctx, &form).await,
        "/identities/policy/delete" => identities::remove_policy(ctx, &form).await,
        "/identities/group" => identities::save_group(ctx, &form).await,
        _ => Err(ConsoleError::Api {
            status: StatusCode::NOT_FOUND,
            code: "NotFound".into(),
            message: format!("no console action at {path}"),
        }),
    };
    result.unwrap_or_else(|e| error_page(ctx, &e))
}

/// Bytes in a human unit (binary prefixes).
pub fn size(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(20 * 1024 * 1024), "20.0 MiB");
    }
}
