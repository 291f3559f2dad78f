//! Sealing of secrets at rest and of session tokens: AES-256-GCM under a key derived
//! from the root credentials, so the IAM state in the system volume (which every drive's
//! owner can read) never holds a usable secret, and a session token cannot be forged or
//! read by its holder. Rotating the root credentials changes the key: the state is
//! re-sealed at start-up when the previous credentials are given (see `Iam::start`);
//! outstanding session tokens become invalid.

use super::error::{IamError, IamResult};
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

const NONCE_LEN: usize = 12;

/// A key derived from root credentials; `Debug` never prints it.
#[derive(Clone)]
pub struct SealKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey").field("id", &self.id).finish()
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for p in parts {
        mac.update(&(p.len() as u64).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl SealKey {
    /// HMAC-SHA256 keyed by a fixed label over the length-prefixed user and password.
    pub fn from_root(user: &str, password: &str) -> Self {
        let key = hmac(
            b"cairn iam seal key v1",
            &[user.as_bytes(), password.as_bytes()],
        );
        let id = hex::encode(&hmac(&key, &[b"key id"])[..8]);
        Self { key, id }
    }

    /// A public name of the key, stored beside sealed data to tell which key sealed it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Seals `plain`, bound to `context` (what the secret belongs to, so sealed values
    /// cannot be swapped between identities). URL-safe base64 of nonce and ciphertext.
    pub fn seal(&self, plain: &[u8], context: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = Aes256Gcm::new((&self.key).into());
        let payload = Payload {
            msg: plain,
            aad: context.as_bytes(),
        };
        // Encryption with a valid key and nonce only fails for inputs over 64 GiB.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        B64.encode(out)
    }

    /// Opens what [`Self::seal`] produced with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> IamResult<Vec<u8>> {
        let raw = B64
            .decode(sealed)
            .map_err(|_| IamError::Sealed("a sealed value is not base64".into()))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(IamError::Sealed("a sealed value is too short".into()));
        }
        let (nonce, ct) = raw.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new((&self.key).into());
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| IamError::Sealed("a sealed value does not open with this key".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_context() {
        let k = SealKey::from_root("admin", "password1");
        let s = k.seal(b"top secret", "user:alice");
        assert!(!s.contains("top secret"));
        assert_eq!(k.open(&s, "user:alice").unwrap(), b"top secret");
        assert!(k.open(&s, "user:bob").is_err());
        let other = SealKey::from_root("admin", "password2");
        assert!(other.open(&s, "user:alice").is_err());
        assert_ne!(k.id(), other.id());
        // Two seals of one value differ (fresh nonce).
        assert_ne!(s, k.seal(b"top secret", "user:alice"));
    }

    #[test]
    fn damaged_values_are_errors_not_panics() {
        let k = SealKey::from_root("a", "b");
        for bad in ["", "!!!", "AAAA", &"A".repeat(40)] {
            assert!(k.open(bad, "x").is_err(), "{bad}");
        }
        assert!(!format!("{k:?}").contains(&hex::encode(k.key)));
    }
}
