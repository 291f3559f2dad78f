//! Authentication of peer RPC calls. Every server of a deployment derives the same key,
//! from `CAIRN_CLUSTER_SECRET` when it is set and from the root credentials otherwise (the
//! behaviour of earlier versions, so existing deployments keep working), and signs each call
//! with it. A peer with another key is refused with a message that says so, which is how a
//! server started with the wrong secret finds out at start-up.
//!
//! What one signature covers, so that a captured call can neither be replayed nor be
//! re-used with another body or on another server:
//!
//! 1. the method, the server called (`host:port` as the endpoint list names it) and the
//!    path with its query (the operation and all of its arguments);
//! 2. the time in milliseconds: calls more than [`MAX_SKEW_MS`] away from the receiver's
//!    clock are refused;
//! 3. a random 128-bit request id, which the receiver remembers until the time window has
//!    passed ([`super::replay`]) and refuses a second time;
//! 4. the SHA-256 of the body; or, for a streamed shard, the marker `stream`: the body is
//!    then framed, each frame signed with a signature chained to the previous one, the first
//!    one to this signature ([`super::chunks`]), and ends with a signed empty frame.
//!
//! Answers are signed as well ([`RpcKey::sign_answer`]): their status, error code and body
//! hash, bound to the call's signature, so that a machine in the middle of a plain-HTTP
//! connection cannot alter shard data or metadata a peer returns, nor replay an older
//! answer. Without TLS the traffic is still readable; use TLS where the network is shared.
//!
//! Every number in the header is parsed with checked arithmetic: hostile values are refused
//! (401/400), never a panic.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Header of a call: `v2:<unix ms>:<request id, 32 hex>:<body sha256 hex | stream>:<hex HMAC>`.
pub const HEADER: &str = "x-cairn-rpc-auth";
/// Header of an answer: `<hex HMAC>` over the call's signature, status, error code and body.
pub const ANSWER_HEADER: &str = "x-cairn-rpc-answer";
/// Calls older or newer than this are refused (clock skew between servers). It is also how
/// long a request id is remembered.
pub const MAX_SKEW_MS: u64 = 15 * 60 * 1000;
/// The body field of a call whose body is a stream of signed frames.
pub const STREAMED: &str = "stream";
const VERSION: &str = "v2";

pub type HmacSha256 = Hmac<Sha256>;
/// One HMAC-SHA256 value.
pub type Signature = [u8; 32];

/// Why a call was refused; the text goes to the peer's log and back to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing peer authentication")]
    Missing,
    #[error("malformed peer authentication: {0}")]
    Malformed(&'static str),
    #[error(
        "peer authentication version differs (is every server running the same version of cairn?)"
    )]
    Version,
    #[error("peer clock differs by more than 15 minutes")]
    Skew,
    #[error(
        "peer authentication failed: the servers have different root credentials or cluster \
         secrets (CAIRN_CLUSTER_SECRET), or the call was meant for another server"
    )]
    BadSignature,
    #[error("peer authentication failed: request id already used (replayed call)")]
    Replayed,
    #[error(
        "peer call refused: signed before this server started or beyond its replay horizon \
         (replayed call, or the peer's clock is behind; keep the servers' clocks in sync)"
    )]
    Stale,
    #[error("peer authentication failed: the body does not match its signature")]
    BodyMismatch,
    #[error("peer authentication failed: a streamed frame does not match its signature")]
    FrameMismatch,
    #[error("malformed streamed body: {0}")]
    BadFrame(&'static str),
}

impl AuthError {
    /// 400 for what cannot even be parsed, 401 for everything that is parsed and refused.
    pub fn status(&self) -> http::StatusCode {
        match self {
            AuthError::Malformed(_) | AuthError::BadFrame(_) => http::StatusCode::BAD_REQUEST,
            _ => http::StatusCode::UNAUTHORIZED,
        }
    }
}

/// What the body of a call is, as signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyDigest {
    /// A whole body, by its SHA-256.
    Whole([u8; 32]),
    /// A stream of signed frames ([`super::chunks`]).
    Streamed,
}

impl BodyDigest {
    pub fn of(body: &[u8]) -> Self {
        BodyDigest::Whole(Sha256::digest(body).into())
    }

    fn field(&self) -> String {
        match self {
            BodyDigest::Whole(h) => hex::encode(h),
            BodyDigest::Streamed => STREAMED.to_string(),
        }
    }

    fn parse(s: &str) -> Result<Self, AuthError> {
        if s == STREAMED {
            return Ok(BodyDigest::Streamed);
        }
        let mut h = [0u8; 32];
        hex::decode_to_slice(s, &mut h).map_err(|_| AuthError::Malformed("body hash"))?;
        Ok(BodyDigest::Whole(h))
    }
}

/// The parts of a call that its signature covers.
#[derive(Debug, Clone, Copy)]
pub struct CallParts<'a> {
    pub method: &'a str,
    /// `host:port` of the server called, as the endpoint list names it.
    pub target: &'a str,
    pub path_and_query: &'a str,
}

/// A call the receiver accepted the header of. The replay check and the body check remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub time_ms: i64,
    pub id: u128,
    pub body: BodyDigest,
    /// The call's signature: seeds the frame chain and binds the answer.
    pub signature: Signature,
}

impl Verified {
    /// Checks a whole body against the signed hash.
    pub fn check_body(&self, body: &[u8]) -> Result<(), AuthError> {
        match self.body {
            BodyDigest::Whole(h) if constant_time_eq(&h, &Sha256::digest(body)) => Ok(()),
            _ => Err(AuthError::BodyMismatch),
        }
    }
}

/// A call's header value and the signature in it (the caller keeps it to check the answer
/// and, for a stream, to sign the first frame).
#[derive(Debug, Clone)]
pub struct SignedCall {
    pub header: String,
    pub signature: Signature,
}

#[derive(Clone)]
pub struct RpcKey([u8; 32]);

impl std::fmt::Debug for RpcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcKey(..)")
    }
}

/// Whether a refusal (as the caller's error message carries it) means the two servers hold
/// different keys or versions, which no retry can fix: start-up stops on it.
pub fn is_key_mismatch(message: &str) -> bool {
    message.contains(KEY_MISMATCH) || message.contains(VERSION_MISMATCH)
}

const KEY_MISMATCH: &str = "different root credentials or cluster secrets";
const VERSION_MISMATCH: &str = "peer authentication version differs";

/// Compares without an early exit, so timing does not reveal how much of a MAC matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl RpcKey {
    /// The key every server of a deployment computes from the same secret material: the
    /// cluster secret when one is set, else the root credentials.
    pub fn derive(root_user: &str, root_password: &str, cluster_secret: Option<&str>) -> Self {
        let mut h = Sha256::new();
        match cluster_secret {
            Some(secret) => {
                // Another domain prefix: a secret equal to "user\0password" still gives
                // another key than those credentials.
                h.update(b"cairn-rpc-secret-v1\0");
                h.update(secret.as_bytes());
            }
            None => {
                h.update(b"cairn-rpc-v1\0");
                h.update(root_user.as_bytes());
                h.update(b"\0");
                h.update(root_password.as_bytes());
            }
        }
        RpcKey(h.finalize().into())
    }

    /// A fresh HMAC keyed with this key.
    pub fn hmac(&self) -> HmacSha256 {
        // HMAC accepts keys of any length: this cannot fail for a 32-byte key.
        <HmacSha256 as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!())
    }

    fn call_mac(&self, call: &CallParts<'_>, time_ms: i64, id: u128, body: &str) -> Signature {
        let mut mac = self.hmac();
        for part in [
            "cairn-rpc-v2",
            call.method,
            call.target,
            call.path_and_query,
            &time_ms.to_string(),
            &format!("{id:032x}"),
            body,
        ] {
            mac.update(part.as_bytes());
            mac.update(b"\n");
        }
        mac.finalize().into_bytes().into()
    }

    /// Signs a call made now with a fresh request id.
    pub fn sign(&self, call: &CallParts<'_>, body: BodyDigest) -> SignedCall {
        self.sign_at(call, body, now_ms(), rand::random::<u128>())
    }

    /// Signs a call with the given time and id (tests build hostile values with it).
    pub fn sign_at(
        &self,
        call: &CallParts<'_>,
        body: BodyDigest,
        time_ms: i64,
        id: u128,
    ) -> SignedCall {
        let field = body.field();
        let signature = self.call_mac(call, time_ms, id, &field);
        SignedCall {
            header: format!(
                "{VERSION}:{time_ms}:{id:032x}:{field}:{}",
                hex::encode(signature)
            ),
            signature,
        }
    }

    /// Checks a call's header: its form, its time against `now_ms`, and its signature for
    /// one of `targets` (the names of this server). Neither the replay check nor the body
    /// check is done here; the caller does both before acting on the call.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        targets: &[String],
        header: Option<&str>,
        now_ms: i64,
    ) -> Result<Verified, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let mut parts = header.split(':');
        let version = parts.next().unwrap_or_default();
        if version != VERSION {
            // `<digits>:<hex>` is the header of earlier versions.
            return Err(
                if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) {
                    AuthError::Version
                } else {
                    AuthError::Malformed("version")
                },
            );
        }
        let (Some(time), Some(id), Some(body), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(AuthError::Malformed("field count"));
        };
        let time_ms = parse_time(time)?;
        if now_ms.abs_diff(time_ms) > MAX_SKEW_MS {
            return Err(AuthError::Skew);
        }
        // Exactly 32 hex digits: `from_str_radix` alone would also take a leading `+`,
        // a second spelling of a signed header (found by the rpc_frames fuzz target).
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::Malformed("request id"));
        }
        let id = u128::from_str_radix(id, 16).map_err(|_| AuthError::Malformed("request id"))?;
        let digest = BodyDigest::parse(body)?;
        let mut given = [0u8; 32];
        hex::decode_to_slice(mac, &mut given).map_err(|_| AuthError::Malformed("signature"))?;
        for target in targets {
            let call = CallParts {
                method,
                target,
                path_and_query,
            };
            let expected = self.call_mac(&call, time_ms, id, body);
            if constant_time_eq(&expected, &given) {
                return Ok(Verified {
                    time_ms,
                    id,
                    body: digest,
                    signature: expected,
                });
            }
        }
        Err(AuthError::BadSignature)
    }

    /// The signature of an answer to the call signed `call`: covers the status, the error
    /// code (empty when none), whether previous metadata is attached, and the body.
    pub fn sign_answer(
        &self,
        call: &Signature,
        status: u16,
        error_code: &str,
        previous: bool,
        body: &[u8],
    ) -> Signature {
        let mut mac = self.hmac();
        mac.update(b"cairn-rpc-v2-answer\n");
        mac.update(call);
        mac.update(&status.to_be_bytes());
        mac.update(error_code.as_bytes());
        mac.update(b"\n");
        mac.update(&[u8::from(previous)]);
        mac.update(&Sha256::digest(body));
        mac.finalize().into_bytes().into()
    }

    /// Checks an answer's header value against [`Self::sign_answer`].
    pub fn verify_answer(
        &self,
        call: &Signature,
        status: u16,
        error_code: &str,
        previous: bool,
        body: &[u8],
        header: Option<&str>,
    ) -> Result<(), AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let mut given = [0u8; 32];
        hex::decode_to_slice(header, &mut given).map_err(|_| AuthError::Malformed("answer"))?;
        let expected = self.sign_answer(call, status, error_code, previous, body);
        if constant_time_eq(&expected, &given) {
            Ok(())
        } else {
            Err(AuthError::BodyMismatch)
        }
    }
}

/// Parses the time field: decimal digits only (no sign, no spaces), at most 19 of them so
/// that the value fits an `i64`; anything else is malformed, never an overflow.
fn parse_time(s: &str) -> Result<i64, AuthError> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::Malformed("time"));
    }
    s.parse::<i64>().map_err(|_| AuthError::Malformed("time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/cairn/rpc/v1/drive/commit_object?drive=%2Fd1&volume=b&key=k";

    fn call<'a>(target: &'a str, path: &'a str) -> CallParts<'a> {
        CallParts {
            method: "POST",
            target,
            path_and_query: path,
        }
    }

    fn me() -> Vec<String> {
        vec!["127.0.0.1:9000".to_string()]
    }

    fn verify(key: &RpcKey, path: &str, header: &str) -> Result<Verified, AuthError> {
        key.verify("POST", path, &me(), Some(header), now_ms())
    }

    #[test]
    fn same_key_verifies_and_every_signed_part_matters() {
        let a = RpcKey::derive("admin", "password1", None);
        let body = BodyDigest::of(b"meta");
        let s = a.sign(&call("127.0.0.1:9000", PATH), body);
        let v = verify(&a, PATH, &s.header).expect("verifies");
        assert_eq!(v.body, body);
        assert_eq!(v.signature, s.signature);
        assert!(v.check_body(b"meta").is_ok());
        // Other path, method, server, key: refused.
        assert_eq!(
            verify(&a, &PATH.replace("key=k", "key=j"), &s.header),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            a.verify("PUT", PATH, &me(), Some(&s.header), now_ms()),
            Err(AuthError::BadSignature)
        );
        let other_server = vec!["127.0.0.2:9000".to_string()];
        assert_eq!(
            a.verify("POST", PATH, &other_server, Some(&s.header), now_ms()),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            a.verify("POST", PATH, &me(), None, now_ms()),
            Err(AuthError::Missing)
        );
    }

    #[test]
    fn altered_body_is_refused() {
        let a = RpcKey::derive("admin", "password1", None);
        let s = a.sign(&call("127.0.0.1:9000", PATH), BodyDigest::of(b"meta"));
        let v = verify(&a, PATH, &s.header).expect("header verifies");
        assert_eq!(v.check_body(b"other"), Err(AuthError::BodyMismatch));
        assert_eq!(v.check_body(b""), Err(AuthError::BodyMismatch));
        // Swapping the hash in the header breaks the signature.
        let forged = s.header.replace(
            &hex::encode(Sha256::digest(b"meta")),
            &hex::encode(Sha256::digest(b"other")),
        );
        assert_ne!(forged, s.header);
        assert_eq!(verify(&a, PATH, &forged), Err(AuthError::BadSignature));
        // A streamed call has no whole body to check.
        let st = a.sign(&call("127.0.0.1:9000", PATH), BodyDigest::Streamed);
        let v = verify(&a, PATH, &st.header).expect("verifies");
        assert_eq!(v.check_body(b""), Err(AuthError::BodyMismatch));
    }

    #[test]
    fn different_cluster_secret_is_refused() {
        let by_root = RpcKey::derive("admin", "password1", None);
        let other_root = RpcKey::derive("admin", "password2", None);
        let secret = RpcKey::derive("admin", "password1", Some("s3cret-cluster"));
        let other_secret = RpcKey::derive("admin", "password1", Some("other-cluster"));
        // Same secret, other root credentials: the key is the same (credentials can rotate).
        let rotated = RpcKey::derive("admin", "rotated-password", Some("s3cret-cluster"));
        let c = call("127.0.0.1:9000", PATH);
        let body = BodyDigest::of(b"");
        let s = secret.sign(&c, body);
        assert!(verify(&rotated, PATH, &s.header).is_ok());
        assert_eq!(
            verify(&other_secret, PATH, &s.header),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify(&by_root, PATH, &s.header),
            Err(AuthError::BadSignature)
        );
        let r = by_root.sign(&c, body);
        assert_eq!(
            verify(&other_root, PATH, &r.header),
            Err(AuthError::BadSignature)
        );
        // The secret "admin\0password1" is not the root credentials' key.
        let lookalike = RpcKey::derive("x", "y", Some("admin\0password1"));
        assert_eq!(
            verify(&lookalike, PATH, &r.header),
            Err(AuthError::BadSignature)
        );
        assert!(
            AuthError::BadSignature
                .to_string()
                .contains("CAIRN_CLUSTER_SECRET")
        );
    }

    #[test]
    fn skewed_times_are_refused() {
        let a = RpcKey::derive("admin", "password1", None);
        let c = call("127.0.0.1:9000", PATH);
        let body = BodyDigest::of(b"");
        let now = now_ms();
        for t in [now - 3_600_000, now + 3_600_000, 0] {
            let s = a.sign_at(&c, body, t, 7);
            assert_eq!(verify(&a, PATH, &s.header), Err(AuthError::Skew), "{t}");
        }
        let ok = a.sign_at(&c, body, now - 60_000, 7);
        assert!(verify(&a, PATH, &ok.header).is_ok());
    }

    #[test]
    fn hostile_numbers_are_refused_without_overflow() {
        let a = RpcKey::derive("admin", "password1", None);
        let c = call("127.0.0.1:9000", PATH);
        let body = BodyDigest::of(b"");
        // Extreme but parseable times: refused as skew, no overflow in the subtraction,
        // even against extreme clocks.
        for t in [i64::MAX, i64::MAX - 1] {
            let s = a.sign_at(&c, body, t, 1);
            assert_eq!(verify(&a, PATH, &s.header), Err(AuthError::Skew));
            assert_eq!(
                a.verify("POST", PATH, &me(), Some(&s.header), i64::MIN),
                Err(AuthError::Skew)
            );
        }
        let mac = "0".repeat(64);
        let id = "0".repeat(32);
        let hash = "0".repeat(64);
        for time in [
            "-1",
            "-9223372036854775808",
            "9223372036854775808",
            "99999999999999999999999",
            "+5",
            " 5",
            "",
            "1e3",
        ] {
            let h = format!("v2:{time}:{id}:{hash}:{mac}");
            let e = verify(&a, PATH, &h).expect_err(time);
            assert_eq!(e, AuthError::Malformed("time"), "{time}");
            assert_eq!(e.status(), http::StatusCode::BAD_REQUEST);
        }
        let now = now_ms();
        for h in [
            format!("v2:{now}:{}:{hash}:{mac}", "f".repeat(33)),
            format!("v2:{now}:{}:{hash}:{mac}", "g".repeat(32)),
            format!("v2:{now}:{id}:{}:{mac}", "0".repeat(63)),
            format!("v2:{now}:{id}:{hash}:{}", "0".repeat(66)),
            format!("v2:{now}:{id}:{hash}:{mac}:extra"),
            format!("v2:{now}:{id}:{hash}"),
            "v3:1:2:3:4".to_string(),
            String::new(),
        ] {
            assert!(
                matches!(verify(&a, PATH, &h), Err(AuthError::Malformed(_))),
                "{h}"
            );
        }
        // The header of earlier versions: named as a version difference.
        let old = format!("{}:{}", now / 1000, "0".repeat(64));
        assert_eq!(verify(&a, PATH, &old), Err(AuthError::Version));
        assert!(AuthError::Version.to_string().contains("authentication"));
    }

    /// Start-up stops on a key or version mismatch, and only on those: a replay refusal or
    /// a clock problem is retried like an unreachable peer.
    #[test]
    fn only_key_and_version_mismatches_stop_start_up() {
        assert!(is_key_mismatch(&AuthError::BadSignature.to_string()));
        assert!(is_key_mismatch(&AuthError::Version.to_string()));
        for e in [
            AuthError::Missing,
            AuthError::Skew,
            AuthError::Replayed,
            AuthError::Stale,
            AuthError::BodyMismatch,
            AuthError::Malformed("time"),
        ] {
            assert!(!is_key_mismatch(&e.to_string()), "{e}");
        }
    }

    #[test]
    fn answers_are_bound_to_their_call_and_body() {
        let a = RpcKey::derive("admin", "password1", None);
        let s = a.sign(&call("127.0.0.1:9000", PATH), BodyDigest::of(b""));
        let sig = hex::encode(a.sign_answer(&s.signature, 200, "", true, b"shard"));
        assert!(
            a.verify_answer(&s.signature, 200, "", true, b"shard", Some(&sig))
                .is_ok()
        );
        let other = a.sign(&call("127.0.0.1:9000", PATH), BodyDigest::of(b""));
        for (call, status, code, prev, body) in [
            (&s.signature, 200, "", true, &b"shaRd"[..]),
            (&s.signature, 404, "", true, b"shard"),
            (&s.signature, 200, "not_found", true, b"shard"),
            (&s.signature, 200, "", false, b"shard"),
            (&other.signature, 200, "", true, b"shard"),
        ] {
            assert_eq!(
                a.verify_answer(call, status, code, prev, body, Some(&sig)),
                Err(AuthError::BodyMismatch)
            );
        }
        assert_eq!(
            a.verify_answer(&s.signature, 200, "", true, b"shard", None),
            Err(AuthError::Missing)
        );
    }
}
