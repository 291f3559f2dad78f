//! The bearer token Prometheus scrapes a tenant's metrics with.
//!
//! The servers require MinIO's Prometheus authentication by default
//! (`MINIO_PROMETHEUS_AUTH_TYPE=jwt`): a scrape of `/minio/v2/metrics/...` carries
//! `Authorization: Bearer <token>`, an HS512 JWT whose `sub` is an access key and `iss` is
//! `prometheus`, signed with that key's secret key. The operator issues one from the
//! tenant's root credentials, as `mc admin prometheus generate` does (valid for 100 years),
//! keeps it in the Secret `<tenant>-prometheus-token` (key [`TOKEN_KEY`]), and the
//! ServiceMonitor's `bearerTokenSecret` points at it ([`crate::render::monitor`]).
//!
//! It is not re-issued on every reconcile (the new `exp` would change the Secret each
//! time): the Secret carries a keyed hash of the root credentials that signed it
//! ([`credentials_hash`], annotation [`ANNOTATION_CREDENTIALS_HASH`]), and [`ensure`] keeps
//! the stored token while that hash matches the current credentials. New root credentials
//! (the old token no longer verifies) get a new token. The hash is HMAC-SHA256 under the
//! root secret key, like the users' hashes in the status (`reconcile::users`), so the
//! annotation reveals nothing about the credentials.

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use sha2::Sha256;

use crate::jwt::{self, Claims};
use crate::render::secret_data;
use crate::tenant::Credentials;

/// Key of the token in the Secret.
pub const TOKEN_KEY: &str = "token";
/// Annotation of the Secret with the keyed hash of the credentials that signed the token.
pub const ANNOTATION_CREDENTIALS_HASH: &str = "cairn.dev/credentials-hash";
/// The `iss` MinIO requires of a Prometheus token.
pub const ISSUER: &str = "prometheus";
/// Lifetime of a token: 100 years of 365 days, as `mc admin prometheus generate`.
pub const LIFETIME_SECONDS: i64 = 100 * 365 * 24 * 3600;

/// A token and the hash of the credentials it was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusToken {
    /// The JWT (compact form).
    pub token: String,
    /// [`credentials_hash`] of the signing credentials.
    pub credentials_hash: String,
}

/// 16 hex digits of HMAC-SHA256(secret key, `prometheus-token` NUL access key).
pub fn credentials_hash(credentials: &Credentials) -> String {
    // HMAC takes keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(credentials.secret_key.as_bytes()) else {
        return String::new();
    };
    mac.update(b"prometheus-token\0");
    mac.update(credentials.access_key.as_bytes());
    mac.finalize().into_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A new token for `credentials`, issued at `now` (seconds since the Unix epoch).
pub fn issue(credentials: &Credentials, now: i64) -> PrometheusToken {
    let claims = Claims {
        exp: now.saturating_add(LIFETIME_SECONDS),
        iss: ISSUER,
        sub: &credentials.access_key,
    };
    PrometheusToken {
        token: jwt::sign_hs512(&claims, credentials.secret_key.as_bytes()),
        credentials_hash: credentials_hash(credentials),
    }
}

/// The token to apply: the one of the `stored` Secret while it was signed with
/// `credentials` (same hash, non-empty token), else a new one issued at `now`. The flag
/// says whether it is new.
pub fn ensure(
    credentials: &Credentials,
    stored: Option<&Secret>,
    now: i64,
) -> (PrometheusToken, bool) {
    let hash = credentials_hash(credentials);
    let kept = stored.and_then(|secret| {
        let annotated = secret
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_CREDENTIALS_HASH));
        if annotated != Some(&hash) {
            return None;
        }
        let token = String::from_utf8(secret_data(secret).remove(TOKEN_KEY)?).ok()?;
        (!token.is_empty()).then_some(token)
    });
    match kept {
        Some(token) => (
            PrometheusToken {
                token,
                credentials_hash: hash,
            },
            false,
        ),
        None => (issue(credentials, now), true),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use sha2::Sha512;

    use super::*;

    const NOW: i64 = 1_796_601_600; // 2026-12-07T00:00:00Z

    fn creds(access: &str, secret: &str) -> Credentials {
        Credentials {
            access_key: access.into(),
            secret_key: secret.into(),
        }
    }

    fn stored(token: &PrometheusToken) -> Secret {
        Secret {
            metadata: ObjectMeta {
                annotations: Some(BTreeMap::from([(
                    ANNOTATION_CREDENTIALS_HASH.to_string(),
                    token.credentials_hash.clone(),
                )])),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(
                TOKEN_KEY.to_string(),
                ByteString(token.token.clone().into_bytes()),
            )])),
            ..Secret::default()
        }
    }

    /// Decodes base64url without padding (test-only, written apart from the encoder).
    fn unbase64url(text: &str) -> Vec<u8> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            other => panic!("not base64url: {other}"),
        };
        let mut bits = 0u32;
        let mut count = 0;
        let mut out = Vec::new();
        for c in text.bytes() {
            bits = (bits << 6) | u32::from(value(c));
            count += 6;
            if count >= 8 {
                count -= 8;
                out.push((bits >> count) as u8);
            }
        }
        out
    }

    #[test]
    fn an_issued_token_is_an_hs512_jwt_minio_accepts() {
        let c = creds("matrix-admin", "change-me-please");
        let t = issue(&c, NOW);
        let parts: Vec<&str> = t.token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: serde_json::Value = serde_json::from_slice(&unbase64url(parts[0])).unwrap();
        assert_eq!(header, serde_json::json!({"alg": "HS512", "typ": "JWT"}));
        let claims: serde_json::Value = serde_json::from_slice(&unbase64url(parts[1])).unwrap();
        assert_eq!(
            claims,
            serde_json::json!({"exp": NOW + LIFETIME_SECONDS, "iss": "prometheus", "sub": "matrix-admin"})
        );
        // About a century: what MinIO's own tool issues.
        assert!(claims["exp"].as_i64().unwrap() - NOW > 99 * 365 * 24 * 3600);
        // The signature is HMAC-SHA512 of `header.claims` under the secret key, and only
        // under that key.
        let input = format!("{}.{}", parts[0], parts[1]);
        let signature = unbase64url(parts[2]);
        let verify = |key: &str| {
            let mut mac = Hmac::<Sha512>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(input.as_bytes());
            mac.verify_slice(&signature).is_ok()
        };
        assert!(verify("change-me-please"));
        assert!(!verify("change-me-pleasf"));
        assert_eq!(t.credentials_hash, credentials_hash(&c));
    }

    #[test]
    fn the_stored_token_is_kept_while_the_root_credentials_are_the_same() {
        let c = creds("admin", "sup3r-secret-pw");
        let (first, new) = ensure(&c, None, NOW);
        assert!(new);
        // Later: same credentials, so the stored token, not one with a later expiry.
        let (again, new) = ensure(&c, Some(&stored(&first)), NOW + 3600);
        assert!(!new);
        assert_eq!(again, first);
        assert_ne!(issue(&c, NOW + 3600).token, first.token);
    }

    #[test]
    fn new_root_credentials_or_a_damaged_secret_get_a_new_token() {
        let c = creds("admin", "sup3r-secret-pw");
        let (first, _) = ensure(&c, None, NOW);
        let secret = stored(&first);
        for other in [
            creds("admin", "new-secret-pw"),
            creds("root", "sup3r-secret-pw"),
        ] {
            let (t, new) = ensure(&other, Some(&secret), NOW + 60);
            assert!(new);
            assert_ne!(t.token, first.token);
            assert_ne!(t.credentials_hash, first.credentials_hash);
            assert_eq!(t, issue(&other, NOW + 60));
        }
        // No annotation, or an empty token: issued again.
        let mut unannotated = secret.clone();
        unannotated.metadata.annotations = None;
        assert!(ensure(&c, Some(&unannotated), NOW).1);
        let mut empty = secret.clone();
        empty.data = Some(BTreeMap::from([(
            TOKEN_KEY.to_string(),
            ByteString(vec![]),
        )]));
        assert!(ensure(&c, Some(&empty), NOW).1);
    }

    #[test]
    fn the_hash_is_keyed_and_shows_no_credential() {
        let h = credentials_hash(&creds("admin", "sup3r-secret-pw"));
        assert_eq!(h.len(), 16);
        assert!(h.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(h, credentials_hash(&creds("admin", "sup3r-secret-px")));
        assert_ne!(h, credentials_hash(&creds("admio", "sup3r-secret-pw")));
        assert!(!h.contains("admin"));
    }
}
