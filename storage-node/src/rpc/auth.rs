//! Authentication of peer RPC calls. Every server of a deployment derives the same key from
//! the root credentials (or from `CAIRN_CLUSTER_SECRET` when set), and signs each call's
//! method, path, query and time with it. A peer with other credentials is refused with a
//! message that says so, which is how a server started with the wrong secret finds out.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Header carrying `<unix seconds>:<hex HMAC>`.
pub const HEADER: &str = "x-cairn-rpc-auth";
/// Calls older or newer than this are refused (clock skew between servers).
const MAX_SKEW_SECS: i64 = 15 * 60;

#[derive(Clone)]
pub struct RpcKey([u8; 32]);

impl std::fmt::Debug for RpcKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RpcKey(..)")
    }
}

impl RpcKey {
    /// The key every server of a deployment computes from the same secret material.
    pub fn derive(root_user: &str, root_password: &str, cluster_secret: Option<&str>) -> Self {
        let mut h = Sha256::new();
        h.update(b"cairn-rpc-v1\0");
        match cluster_secret {
            Some(secret) => h.update(secret.as_bytes()),
            None => {
                h.update(root_user.as_bytes());
                h.update(b"\0");
                h.update(root_password.as_bytes());
            }
        }
        RpcKey(h.finalize().into())
    }

    fn mac(&self, method: &str, path_and_query: &str, time: i64) -> String {
        // A 32-byte key is always a valid HMAC key.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(method.as_bytes());
        mac.update(b"\n");
        mac.update(path_and_query.as_bytes());
        mac.update(b"\n");
        mac.update(time.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The header value for a call made now.
    pub fn sign(&self, method: &str, path_and_query: &str) -> String {
        let now = chrono::Utc::now().timestamp();
        format!("{now}:{}", self.mac(method, path_and_query, now))
    }

    /// Checks a header value; the error says why, for the peer's log.
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        header: Option<&str>,
    ) -> Result<(), &'static str> {
        let header = header.ok_or("missing peer authentication")?;
        let (time, mac) = header
            .split_once(':')
            .ok_or("malformed peer authentication")?;
        let time: i64 = time.parse().map_err(|_| "malformed peer authentication")?;
        if (chrono::Utc::now().timestamp() - time).abs() > MAX_SKEW_SECS {
            return Err("peer clock differs by more than 15 minutes");
        }
        let expected = self.mac(method, path_and_query, time);
        if expected.len() == mac.len()
            && expected
                .bytes()
                .zip(mac.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
        {
            Ok(())
        } else {
            Err(
                "peer authentication failed: the servers have different root credentials or cluster secrets",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_secret_verifies_other_does_not() {
        let a = RpcKey::derive("admin", "password1", None);
        let b = RpcKey::derive("admin", "password2", None);
        let h = a.sign("POST", "/cairn/rpc/v1/drive/read_meta?x=1");
        assert!(
            a.verify("POST", "/cairn/rpc/v1/drive/read_meta?x=1", Some(&h))
                .is_ok()
        );
        assert!(
            b.verify("POST", "/cairn/rpc/v1/drive/read_meta?x=1", Some(&h))
                .is_err()
        );
        assert!(
            a.verify("POST", "/cairn/rpc/v1/drive/read_meta?x=2", Some(&h))
                .is_err()
        );
        assert!(
            a.verify("GET", "/cairn/rpc/v1/drive/read_meta?x=1", Some(&h))
                .is_err()
        );
        assert!(a.verify("POST", "/x", None).is_err());
        let secret = RpcKey::derive("admin", "password1", Some("s3cret-cluster"));
        let h = secret.sign("POST", "/p");
        assert!(secret.verify("POST", "/p", Some(&h)).is_ok());
        assert!(a.verify("POST", "/p", Some(&h)).is_err());
    }

    #[test]
    fn old_calls_are_refused() {
        let a = RpcKey::derive("admin", "password1", None);
        let old = chrono::Utc::now().timestamp() - 3600;
        let h = format!("{old}:{}", a.mac("POST", "/p", old));
        assert_eq!(
            a.verify("POST", "/p", Some(&h)),
            Err("peer clock differs by more than 15 minutes")
        );
    }
}
