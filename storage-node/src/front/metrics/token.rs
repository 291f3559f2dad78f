//! MinIO's Prometheus bearer token: a JWT (RFC 7519) signed with HMAC-SHA512 (`HS512`)
//! under the secret key of the access key it names (claim `accessKey`, else `sub`),
//! issued by `prometheus` and valid until `exp`, as `mc admin prometheus generate`
//! makes it and MinIO's `metricsRequestAuthenticate` (cmd/jwt.go) checks it.
//!
//! Built on `hmac` + `sha2` + `base64` + `serde_json`, already in the tree, rather than
//! the `jsonwebtoken` crate: a token is three base64url parts and one MAC, and only HS512
//! is accepted, so there is no `alg` negotiation to get wrong (no `none`, no key
//! confusion). Unlike MinIO, a token without `exp` is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha512;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The `iss` claim MinIO requires.
pub const ISSUER: &str = "prometheus";
/// How long a generated token is valid: 100 years, as MinIO's `mc` makes them.
pub const LONG_VALIDITY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// Longest token looked at: bounds the work an unauthenticated request can cause.
const MAX_LEN: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the bearer token is not a JWT")]
    Malformed,
    #[error("the bearer token is not signed with HS512")]
    Algorithm,
    #[error("the bearer token names no access key")]
    NoAccessKey,
    #[error("the bearer token's signature does not match")]
    Signature,
    #[error("the bearer token has expired or has no expiry")]
    Expired,
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    #[error("the bearer token's issuer is not `prometheus`")]
    Issuer,
}

/// A token whose parts decoded and whose algorithm is HS512, before its signature is
/// checked: the access key tells which secret to check it with.
#[derive(Debug)]
pub struct Unverified<'a> {
    /// `header.claims`, the signed text.
    signed: &'a str,
    mac: Vec<u8>,
    claims: Map<String, Value>,
    pub access_key: String,
}

/// Decodes `token`; nothing in it is trusted until [`Unverified::verify`] says so.
pub fn parse(token: &str) -> Result<Unverified<'_>, TokenError> {
    if token.len() > MAX_LEN {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(mac), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let alg = json_object(header)?
        .get("alg")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if alg.as_deref() != Some("HS512") {
        return Err(TokenError::Algorithm);
    }
    let claims_map = json_object(claims)?;
    let mac = decode(mac)?;
    let access_key = ["accessKey", "sub"]
        .iter()
        .find_map(|k| claims_map.get(*k).and_then(Value::as_str))
        .filter(|k| !k.is_empty())
        .ok_or(TokenError::NoAccessKey)?
        .to_string();
    Ok(Unverified {
        signed: &token[..header.len() + 1 + claims.len()],
        mac,
        claims: claims_map,
        access_key,
    })
}

impl Unverified<'_> {
    /// Checks the signature with `secret` (in constant time), then `exp`, `nbf` and
    /// `iss` against `now` (seconds since the Unix epoch).
    pub fn verify(&self, secret: &str, now: i64) -> Result<(), TokenError> {
        let mut m = mac(secret);
        m.update(self.signed.as_bytes());
        m.verify_slice(&self.mac)
            .map_err(|_| TokenError::Signature)?;
        let time = |name: &str| self.claims.get(name).and_then(Value::as_f64);
        match time("exp") {
            Some(exp) if exp > now as f64 => {}
            _ => return Err(TokenError::Expired),
        }
        if time("nbf").is_some_and(|nbf| nbf > now as f64) {
            return Err(TokenError::NotYetValid);
        }
        if self.claims.get("iss").and_then(Value::as_str) != Some(ISSUER) {
            return Err(TokenError::Issuer);
        }
        Ok(())
    }
}

/// A token for `access_key`, signed with its `secret`, expiring at `exp` (seconds since
/// the Unix epoch). Claims as `mc` writes them: `exp`, `iss`, `sub`, in that order.
pub fn sign_until(access_key: &str, secret: &str, exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#);
    // Written by hand so that the bytes signed do not depend on serde_json's map order.
    let claims = format!(
        r#"{{"exp":{exp},"iss":"{ISSUER}","sub":{}}}"#,
        Value::String(access_key.to_string())
    );
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
    let mut m = mac(secret);
    m.update(signed.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signed}.{sig}")
}

/// A token for `access_key` valid for `valid_for` from now.
pub fn generate(access_key: &str, secret: &str, valid_for: Duration) -> String {
    let exp = now().saturating_add(i64::try_from(valid_for.as_secs()).unwrap_or(i64::MAX));
    sign_until(access_key, secret, exp)
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn mac(secret: &str) -> Hmac<Sha512> {
    match <Hmac<Sha512> as Mac>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    }
}

/// base64url, with or without padding (Go's jwt libraries accept both).
fn decode(part: &str) -> Result<Vec<u8>, TokenError> {
    URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| TokenError::Malformed)
}

fn json_object(part: &str) -> Result<Map<String, Value>, TokenError> {
    match serde_json::from_slice(&decode(part)?) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(TokenError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn claims_token(header: &str, claims: &str, secret: &str) -> String {
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let mut m = mac(secret);
        m.update(signed.as_bytes());
        format!(
            "{signed}.{}",
            URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
        )
    }

    #[test]
    fn signs_as_an_independent_hs512_implementation() {
        // Computed with Python's hmac/hashlib/base64 from the same header and claims.
        let expected = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJleHAiOjQxMDI0NDQ4MDAsImlzcyI6InByb21ldGhldXMiLCJzdWIiOiJ0ZXN0YWRtaW4ifQ.19dXnG916Zn9uLPEoD8bQkILX8bKhR7Yj2rd_ENZOcYf6-yt3-75iJ6QkomSZEmffDzu2AP-M2FS19hpiu1OXw";
        assert_eq!(
            sign_until("testadmin", "testpassword123", 4_102_444_800),
            expected
        );
        let t = parse(expected).unwrap();
        assert_eq!(t.access_key, "testadmin");
        assert_eq!(t.verify("testpassword123", NOW), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_expiry_issuer_and_algorithm() {
        let good = sign_until("ak", "secret", NOW + 60);
        assert_eq!(
            parse(&good).unwrap().verify("other", NOW),
            Err(TokenError::Signature)
        );
        let old = sign_until("ak", "secret", NOW - 1);
        assert_eq!(
            parse(&old).unwrap().verify("secret", NOW),
            Err(TokenError::Expired)
        );
        let h = r#"{"alg":"HS512","typ":"JWT"}"#;
        let no_exp = claims_token(h, r#"{"iss":"prometheus","sub":"ak"}"#, "secret");
        assert_eq!(
            parse(&no_exp).unwrap().verify("secret", NOW),
            Err(TokenError::Expired)
        );
        let iss = claims_token(h, r#"{"exp":1900000000,"iss":"x","sub":"ak"}"#, "secret");
        assert_eq!(
            parse(&iss).unwrap().verify("secret", NOW),
            Err(TokenError::Issuer)
        );
        let nbf = r#"{"exp":1900000000,"nbf":1850000000,"iss":"prometheus","sub":"ak"}"#;
        assert_eq!(
            parse(&claims_token(h, nbf, "secret"))
                .unwrap()
                .verify("secret", NOW),
            Err(TokenError::NotYetValid)
        );
        let c = r#"{"exp":1900000000,"iss":"prometheus","sub":"ak"}"#;
        for alg in ["none", "HS256", "RS512"] {
            let t = claims_token(&format!(r#"{{"alg":"{alg}"}}"#), c, "secret");
            assert_eq!(parse(&t).unwrap_err(), TokenError::Algorithm, "{alg}");
        }
        // MinIO's own tokens name the key in `accessKey`.
        let ak = claims_token(
            h,
            r#"{"exp":1900000000,"iss":"prometheus","accessKey":"k2"}"#,
            "s",
        );
        let t = parse(&ak).unwrap();
        assert_eq!(t.access_key, "k2");
        assert_eq!(t.verify("s", NOW), Ok(()));
    }

    #[test]
    fn tampered_or_garbage_tokens_are_refused() {
        let good = sign_until("ak", "secret", NOW + 60);
        let (head, sig) = good.rsplit_once('.').unwrap();
        let (h, _) = head.split_once('.').unwrap();
        let forged = format!(
            "{h}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(r#"{"exp":9999999999,"iss":"prometheus","sub":"ak"}"#)
        );
        assert_eq!(
            parse(&forged).unwrap().verify("secret", NOW),
            Err(TokenError::Signature)
        );
        let long = "x".repeat(MAX_LEN + 1);
        for bad in ["", "a.b", "a.b.c.d", "!!.!!.!!", long.as_str()] {
            assert!(parse(bad).is_err(), "{bad:.20}");
        }
        let h = r#"{"alg":"HS512"}"#;
        assert_eq!(
            parse(&claims_token(h, r#"{"exp":1900000000,"sub":""}"#, "s")).unwrap_err(),
            TokenError::NoAccessKey
        );
        assert_eq!(
            parse(&claims_token(h, "[1]", "s")).unwrap_err(),
            TokenError::Malformed
        );
    }
}
