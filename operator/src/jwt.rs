//! HS512 JSON Web Tokens (RFC 7519, compact JWS of RFC 7515), only as far as the operator
//! issues them: the bearer token Prometheus scrapes a tenant with
//! ([`crate::prometheus_token`]).
//!
//! Built on the `hmac` and `sha2` crates the operator already uses, not on a JWT crate: the
//! operator only signs, one algorithm, with claims it writes itself, so a full JWT library
//! (and its dependencies) would buy nothing. The output is byte for byte what MinIO's
//! `mc admin prometheus generate` (Go, jwt-go) writes for the same claims: header
//! `{"alg":"HS512","typ":"JWT"}`, claims in jwt-go's field order, base64url without
//! padding. Tests check it against a token made by an independent implementation (PyJWT),
//! and `operator/tests/validate.sh` verifies a rendered token with PyJWT.

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha512;

/// The claims MinIO reads from a Prometheus bearer token, in the order jwt-go's
/// `StandardClaims` serializes them (`exp`, `iss`, `sub`; the others are left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims<'a> {
    /// Expiry, in seconds since the Unix epoch.
    pub exp: i64,
    /// Issuer: MinIO accepts only `prometheus`.
    pub iss: &'a str,
    /// Subject: the access key whose secret key signs the token.
    pub sub: &'a str,
}

/// The JOSE header of every token issued here.
const HEADER: &str = r#"{"alg":"HS512","typ":"JWT"}"#;

/// `header.claims.signature`, signed with HMAC-SHA512 under `key`.
pub fn sign_hs512(claims: &Claims<'_>, key: &[u8]) -> String {
    // Serializing a struct of integers and strings cannot fail.
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!("{}.{}", base64url(HEADER.as_bytes()), base64url(&payload));
    // HMAC takes keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha512>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(signing_input.as_bytes());
    let signature = mac.finalize().into_bytes();
    format!("{signing_input}.{}", base64url(&signature))
}

/// Base64 with the URL and file name safe alphabet and no padding (RFC 4648 section 5),
/// as JWS requires.
pub fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // A chunk of k bytes carries k + 1 sextets.
        for i in 0..=chunk.len() {
            let sextet = (n >> (18 - 6 * i)) & 0x3f;
            out.push(char::from(ALPHABET[sextet as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc_4648_without_padding() {
        // RFC 4648 section 10 vectors, padding removed.
        for (input, expected) in [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64url(input.as_bytes()), expected, "{input:?}");
        }
        // The URL-safe alphabet: 62 and 63 are `-` and `_`, not `+` and `/`.
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    /// Tokens made by PyJWT 2.15.1 (an independent implementation) for the same claims:
    /// `jwt.encode({"exp": 4102444800, "iss": "prometheus", "sub": SUB}, KEY,
    /// algorithm="HS512")`.
    #[test]
    fn tokens_are_byte_for_byte_what_pyjwt_signs() {
        let vectors = [
            (
                "admin",
                "sup3r-secret-pw",
                "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlzcyI6InByb21ldGhldXMiLCJzdWIiOiJhZG1pbiJ9.P5DRiZGq3zl2OW0gn9Xo7MXMuQZFBZmQeKq0qGlZAOlhL-TcVNvLoVKyyVebBeTS1G0guI5oXNwTQQ462S_zig",
            ),
            (
                "matrix-admin",
                "k",
                "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlzcyI6InByb21ldGhldXMiLCJzdWIiOiJtYXRyaXgtYWRtaW4ifQ.wTxXJ3aU5H5Sh9AkXgQC0DHCFBqW2OZjNk2Yv6s_Kypqg9ctMhDQI9reS75411Ut-ScpDGHtaFZ7Q6dHW7aLCQ",
            ),
        ];
        for (sub, key, expected) in vectors {
            let claims = Claims {
                exp: 4_102_444_800,
                iss: "prometheus",
                sub,
            };
            assert_eq!(sign_hs512(&claims, key.as_bytes()), expected, "{sub}");
        }
    }

    #[test]
    fn the_signature_depends_on_the_key_and_every_claim() {
        let base = Claims {
            exp: 10,
            iss: "prometheus",
            sub: "a",
        };
        let token = sign_hs512(&base, b"key");
        assert_ne!(token, sign_hs512(&base, b"kez"));
        assert_ne!(
            token,
            sign_hs512(
                &Claims {
                    exp: 11,
                    ..base.clone()
                },
                b"key"
            )
        );
        assert_ne!(
            token,
            sign_hs512(
                &Claims {
                    sub: "b",
                    ..base.clone()
                },
                b"key"
            )
        );
        // Three base64url parts; an HS512 signature is 64 bytes, 86 characters.
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].len(), 86);
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
    }
}
