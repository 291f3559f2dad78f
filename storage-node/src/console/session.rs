//! Console sessions. After a login the browser holds one cookie: the session (who logged
//! in, the temporary credentials STS `AssumeRole` issued, their expiry and the session's
//! CSRF token) sealed with AES-256-GCM under a key derived from the root credentials
//! (`iam::seal`), so every server of a deployment opens it and none keeps state per
//! session. The cookie is `HttpOnly`, `SameSite=Strict`, `Path=/`, and over TLS
//! `Secure` with the `__Host-` prefix; it never reaches JavaScript, a URL or storage.
//!
//! A session ends at its credentials' expiry, at logout (the cookie is cleared and its
//! id revoked on this server until it would have expired), or when the root
//! credentials change (the key changes with them, as for STS tokens).

use crate::iam::seal::SealKey;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;

/// What a sealed session cookie is bound to (see `SealKey::seal`).
const CONTEXT: &str = "console session";
/// Cookies longer than this are refused before any decryption.
pub const MAX_COOKIE: usize = 6 * 1024;
/// Revoked ids remembered at most (the oldest are dropped first; they expire anyway).
const MAX_REVOKED: usize = 10_000;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    #[error("no session")]
    Missing,
    #[error("the session cookie was not issued by this deployment")]
    Invalid,
    #[error("the session expired")]
    Expired,
    #[error("the session was ended")]
    Revoked,
}

/// One logged-in person.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Random id, for revocation at logout.
    pub sid: String,
    /// The access key that logged in (root or a user).
    pub user: String,
    /// The temporary credentials every action is signed with.
    pub access_key: String,
    pub secret_key: String,
    pub token: String,
    pub expires_ms: i64,
    /// The token every state-changing request must carry (`csrf`).
    pub csrf: String,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sid", &self.sid)
            .field("user", &self.user)
            .field("access_key", &self.access_key)
            .field("expires_ms", &self.expires_ms)
            .finish_non_exhaustive()
    }
}

/// Seals, opens and revokes sessions.
pub struct Sessions {
    key: SealKey,
    revoked: Mutex<HashMap<String, i64>>,
}

impl Sessions {
    pub fn new(key: SealKey) -> Self {
        Self {
            key,
            revoked: Mutex::new(HashMap::new()),
        }
    }

    /// The cookie value that carries `session`.
    pub fn seal(&self, session: &Session) -> String {
        // A struct of strings and integers always serializes.
        let json = serde_json::to_vec(session).unwrap_or_default();
        self.key.seal(&json, CONTEXT)
    }

    /// The session a cookie value carries, if it is ours, unexpired at `now_ms` and not
    /// revoked.
    pub fn open(&self, cookie: &str, now_ms: i64) -> Result<Session, SessionError> {
        if cookie.is_empty() {
            return Err(SessionError::Missing);
        }
        if cookie.len() > MAX_COOKIE {
            return Err(SessionError::Invalid);
        }
        let plain = self
            .key
            .open(cookie, CONTEXT)
            .map_err(|_| SessionError::Invalid)?;
        let session: Session = serde_json::from_slice(&plain).map_err(|_| SessionError::Invalid)?;
        if session.expires_ms <= now_ms {
            return Err(SessionError::Expired);
        }
        if self
            .revoked
            .lock()
            .map(|r| r.contains_key(&session.sid))
            .unwrap_or(true)
        {
            return Err(SessionError::Revoked);
        }
        Ok(session)
    }

    /// Ends `session` on this server (logout).
    pub fn revoke(&self, session: &Session, now_ms: i64) {
        if let Ok(mut r) = self.revoked.lock() {
            r.retain(|_, expires| *expires > now_ms);
            if r.len() >= MAX_REVOKED {
                if let Some(oldest) = r.iter().min_by_key(|(_, e)| **e).map(|(k, _)| k.clone()) {
                    r.remove(&oldest);
                }
            }
            r.insert(session.sid.clone(), session.expires_ms);
        }
    }
}

/// The session cookie's name: `__Host-` prefixed over TLS (the browser then insists on
/// `Secure`, `Path=/` and no `Domain`).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-cairn-console"
    } else {
        "cairn-console"
    }
}

/// The `Set-Cookie` value that stores `value` for `max_age_secs`.
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age_secs: i64) -> String {
    format!(
        "{name}={value}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age_secs.max(0),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that deletes cookie `name`.
pub fn clear_cookie(name: &str, secure: bool) -> String {
    set_cookie(name, "", secure, 0)
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A random identifier (128 bits, hex).
pub fn random_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions() -> Sessions {
        Sessions::new(SealKey::from_root("root", "rootpassword"))
    }

    fn session(expires_ms: i64) -> Session {
        Session {
            sid: random_id(),
            user: "alice".into(),
            access_key: "STSKEY".into(),
            secret_key: "sts-secret-value".into(),
            token: "cairn1.token".into(),
            expires_ms,
            csrf: "c".repeat(64),
        }
    }

    #[test]
    fn a_sealed_session_opens_until_it_expires_and_hides_its_secrets() {
        let s = sessions();
        let one = session(10_000);
        let cookie = s.seal(&one);
        assert!(!cookie.contains("sts-secret-value") && !cookie.contains("alice"));
        assert!(
            cookie
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
            "cookie-safe characters only: {cookie}"
        );
        assert_eq!(s.open(&cookie, 9_999), Ok(one));
        assert_eq!(s.open(&cookie, 10_000), Err(SessionError::Expired));
        assert!(!format!("{:?}", session(1)).contains("sts-secret-value"));
    }

    #[test]
    fn foreign_tampered_and_revoked_cookies_are_refused() {
        let s = sessions();
        let one = session(10_000);
        let cookie = s.seal(&one);
        let other = Sessions::new(SealKey::from_root("root", "otherpassword"));
        assert_eq!(other.open(&cookie, 0), Err(SessionError::Invalid));
        let mut bytes = cookie.clone().into_bytes();
        let i = bytes.len() / 2;
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(s.open(&tampered, 0), Err(SessionError::Invalid));
        assert_eq!(s.open("", 0), Err(SessionError::Missing));
        assert_eq!(
            s.open(&"a".repeat(MAX_COOKIE + 1), 0),
            Err(SessionError::Invalid)
        );
        s.revoke(&one, 0);
        assert_eq!(s.open(&cookie, 0), Err(SessionError::Revoked));
        // Another session of the same person is unaffected.
        let two = session(10_000);
        assert_eq!(s.open(&s.seal(&two), 0), Ok(two));
    }

    #[test]
    fn cookies_are_http_only_strict_and_secure_over_tls() {
        let c = set_cookie(cookie_name(true), "v", true, 60);
        assert_eq!(
            c,
            "__Host-cairn-console=v; Path=/; Max-Age=60; HttpOnly; SameSite=Strict; Secure"
        );
        let plain = set_cookie(cookie_name(false), "v", false, 60);
        assert!(!plain.contains("Secure") && plain.contains("HttpOnly"));
        assert!(clear_cookie("n", false).contains("Max-Age=0"));
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            http::HeaderValue::from_static("a=1; cairn-console=xyz; b=2"),
        );
        assert_eq!(cookie(&h, "cairn-console"), Some("xyz"));
        assert_eq!(cookie(&h, "missing"), None);
    }
}
