//! Cross-site request forgery defences for the console's state-changing requests
//! (every `POST`, `PUT` and `DELETE`):
//!
//! 1. The session cookie is `SameSite=Strict`, so another site's page cannot send it.
//! 2. The request must carry the session's random token, in the `x-csrf-token` header
//!    (the page's JavaScript reads it from a `<meta>` tag) or the `csrf` form field;
//!    the token lives inside the sealed cookie, so a page that cannot read the console
//!    cannot know it. Compared in constant time.
//! 3. A request whose `Origin` (or, without it, `Referer`) names another origin is
//!    refused outright.
//!
//! The login form has no session yet: it gets the same token scheme from a short-lived
//! pre-login cookie (double submit).

use http::HeaderMap;

/// Header carrying the token (uploads and other script requests).
pub const HEADER: &str = "x-csrf-token";
/// Form field carrying the token.
pub const FIELD: &str = "csrf";
/// The pre-login cookie that carries the login form's token.
pub const LOGIN_COOKIE: &str = "cairn-console-login";

/// A fresh token (256 bits, hex).
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// Whether `t` looks like a token of [`new_token`] (64 lower-case hex digits).
pub fn well_formed(t: &str) -> bool {
    t.len() == 64
        && t.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Whether `given` is the session's token `expected` (constant time; empty never
/// matches).
pub fn matches(expected: &str, given: Option<&str>) -> bool {
    let Some(given) = given else {
        return false;
    };
    if expected.is_empty() || expected.len() != given.len() {
        return false;
    }
    expected
        .bytes()
        .zip(given.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Whether the request's `Origin` (or `Referer`), when present, is the console itself
/// (`host` is the request's `Host`). Browsers send `Origin` on every cross-origin and
/// every `POST` request.
pub fn same_origin(headers: &HeaderMap, host: &str) -> bool {
    let header = |name: http::header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let source = match header(http::header::ORIGIN) {
        Some(o) if o != "null" => o,
        Some(_) => return false,
        None => match header(http::header::REFERER) {
            Some(r) => r,
            None => return true,
        },
    };
    let authority = source
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
        .unwrap_or("");
    !host.is_empty() && authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_match_only_exactly() {
        let t = new_token();
        assert_eq!(t.len(), 64);
        assert!(well_formed(&t) && !well_formed("xyz") && !well_formed(&t.to_uppercase()));
        assert_ne!(t, new_token());
        assert!(matches(&t, Some(&t)));
        assert!(!matches(&t, None));
        assert!(!matches(&t, Some("")));
        assert!(!matches(&t, Some(&t[..63])));
        let mut other = t.clone().into_bytes();
        other[10] = if other[10] == b'0' { b'1' } else { b'0' };
        assert!(!matches(&t, Some(std::str::from_utf8(&other).unwrap())));
        assert!(!matches("", Some("")));
    }

    #[test]
    fn cross_origin_requests_are_refused() {
        let mut h = HeaderMap::new();
        assert!(
            same_origin(&h, "127.0.0.1:9090"),
            "no Origin: same-site form"
        );
        h.insert(
            http::header::ORIGIN,
            "http://127.0.0.1:9090".parse().unwrap(),
        );
        assert!(same_origin(&h, "127.0.0.1:9090"));
        assert!(!same_origin(&h, "127.0.0.1:9091"));
        h.insert(
            http::header::ORIGIN,
            "https://evil.example".parse().unwrap(),
        );
        assert!(!same_origin(&h, "127.0.0.1:9090"));
        h.insert(http::header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h, "127.0.0.1:9090"));
        let mut r = HeaderMap::new();
        r.insert(
            http::header::REFERER,
            "https://console.example/buckets?x=1".parse().unwrap(),
        );
        assert!(same_origin(&r, "console.example"));
        assert!(!same_origin(&r, "other.example"));
    }
}
