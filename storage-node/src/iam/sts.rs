//! Temporary credentials (STS `AssumeRole`): self-contained session tokens. The token is
//! the session itself (access key, secret, parent user, expiry, optional session
//! policy) sealed under the IAM key, so every server checks it without shared state and
//! without a write per session; its holder can neither read nor forge it. A session
//! ends at its expiry, when its parent is disabled or removed, or when the root
//! credentials (and with them the key) change.

use super::error::{IamError, IamResult};
use super::seal::SealKey;
use serde::{Deserialize, Serialize};

/// AWS's bounds for `DurationSeconds` (15 minutes to 12 hours; MinIO allows up to
/// 365 days for some flows, AssumeRole keeps AWS's 12 hours).
pub const MIN_DURATION_SECS: i64 = 900;
pub const MAX_DURATION_SECS: i64 = 43_200;
/// Default when `DurationSeconds` is absent, as AWS.
pub const DEFAULT_DURATION_SECS: i64 = 3_600;
/// AWS limits an inline session policy to 2,048 characters.
pub const MAX_SESSION_POLICY: usize = 2_048;

const PREFIX: &str = "cairn1.";
const CONTEXT: &str = "sts session";
/// Tokens longer than this are refused before any decryption work.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    pub access_key: String,
    pub secret: String,
    /// The user (or root) that assumed the role.
    pub parent: String,
    pub expires_ms: i64,
    /// Session policy that narrows the parent's permissions.
    #[serde(default)]
    pub policy: Option<String>,
}

/// The token that carries `session`.
pub fn issue(key: &SealKey, session: &Session) -> String {
    // A struct of strings and integers always serializes.
    let json = serde_json::to_vec(session).unwrap_or_default();
    format!("{PREFIX}{}", key.seal(&json, CONTEXT))
}

/// The session a token carries, if the token is ours and unexpired at `now_ms`.
pub fn open(key: &SealKey, token: &str, now_ms: i64) -> IamResult<Session> {
    let denied = |why: &str| IamError::InvalidToken(why.to_string());
    if token.len() > MAX_TOKEN_LEN {
        return Err(denied("too long"));
    }
    let sealed = token
        .strip_prefix(PREFIX)
        .ok_or_else(|| denied("not issued by this deployment"))?;
    let plain = key
        .open(sealed, CONTEXT)
        .map_err(|_| denied("not issued by this deployment"))?;
    let session: Session = serde_json::from_slice(&plain).map_err(|_| denied("damaged"))?;
    if session.expires_ms <= now_ms {
        return Err(IamError::ExpiredToken);
    }
    Ok(session)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_ms: i64) -> Session {
        Session {
            access_key: "STSKEY".into(),
            secret: "sts-secret".into(),
            parent: "alice".into(),
            expires_ms,
            policy: None,
        }
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let key = SealKey::from_root("root", "rootpass");
        let t = issue(&key, &session(2_000));
        assert!(!t.contains("sts-secret"));
        assert_eq!(open(&key, &t, 1_000).unwrap(), session(2_000));
        assert!(matches!(open(&key, &t, 2_000), Err(IamError::ExpiredToken)));
    }

    #[test]
    fn foreign_or_tampered_tokens_are_refused() {
        let key = SealKey::from_root("root", "rootpass");
        let t = issue(&key, &session(2_000));
        let other = SealKey::from_root("root", "newpass");
        assert!(matches!(
            open(&other, &t, 1_000),
            Err(IamError::InvalidToken(_))
        ));
        let mut bytes = t.clone().into_bytes();
        let last = bytes.len() - 3;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert!(open(&key, &tampered, 1_000).is_err());
        assert!(open(&key, "garbage", 1_000).is_err());
        assert!(open(&key, &"x".repeat(MAX_TOKEN_LEN + 1), 1_000).is_err());
    }
}
