//! Envelope encryption: every object version (and every multipart upload) gets its own
//! random 256-bit object key; the object key is stored sealed, under a key-encryption
//! key that is either a KMS data key (SSE-S3, SSE-KMS) or derived from the client's
//! SSE-C key, and bound to the object's bucket and name so a sealed key copied onto
//! another object does not open. Re-sealing (key rotation) rewrites only this small
//! sealed key, never the object data.

use super::CryptoError;
use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Version tag of the sealed-key layout: `v1:` + base64(nonce | sealed key | tag).
const SEALED_V1: &str = "v1:";

/// A 256-bit key that exists in memory only while a request uses it.
#[derive(Clone)]
pub struct Secret(pub [u8; 32]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Best effort (moves may have left copies): the key does not outlive its use
        // in this value; the fence keeps the writes from being dropped as dead.
        self.0 = [0; 32];
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

fn aead_key(k: &[u8; 32]) -> Result<LessSafeKey, CryptoError> {
    UnboundKey::new(&AES_256_GCM, k)
        .map(LessSafeKey::new)
        .map_err(|_| CryptoError::Cipher)
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Seals 32 bytes under `kek`, bound to `context`; the output is text, for metadata.
pub fn seal(kek: &Secret, plain: &Secret, context: &[u8]) -> Result<String, CryptoError> {
    let nonce: [u8; NONCE_LEN] = super::random()?;
    let mut buf = plain.0.to_vec();
    aead_key(&kek.0)?
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context),
            &mut buf,
        )
        .map_err(|_| CryptoError::Cipher)?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&buf);
    Ok(format!("{SEALED_V1}{}", B64.encode(out)))
}

/// Opens what [`seal`] made; `KeyMismatch` for a wrong key or another context.
pub fn unseal(kek: &Secret, sealed: &str, context: &[u8]) -> Result<Secret, CryptoError> {
    let raw = sealed
        .strip_prefix(SEALED_V1)
        .and_then(|b| B64.decode(b).ok())
        .filter(|r| r.len() == NONCE_LEN + 32 + 16)
        .ok_or(CryptoError::Corrupt("sealed key is malformed"))?;
    let (nonce, rest) = raw.split_at(NONCE_LEN);
    let mut n = [0u8; NONCE_LEN];
    n.copy_from_slice(nonce);
    let mut buf = rest.to_vec();
    let plain = aead_key(&kek.0)?
        .open_in_place(
            Nonce::assume_unique_for_key(n),
            Aad::from(context),
            &mut buf,
        )
        .map_err(|_| CryptoError::KeyMismatch)?;
    let mut out = [0u8; 32];
    out.copy_from_slice(plain);
    Ok(Secret(out))
}

/// The key that encrypts one object version's data.
#[derive(Debug, Clone)]
pub struct ObjectKey(Secret);

/// What a sealed object key is bound to: its bucket and object name.
fn binding(bucket: &str, key: &str) -> Vec<u8> {
    format!("cairn-sse-object-key\0{bucket}\0{key}").into_bytes()
}

impl ObjectKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self(Secret(super::random()?)))
    }

    /// Seals this key under `kek` for the object `bucket/key`.
    pub fn seal(&self, kek: &Secret, bucket: &str, key: &str) -> Result<String, CryptoError> {
        seal(kek, &self.0, &binding(bucket, key))
    }

    pub fn unseal(
        kek: &Secret,
        sealed: &str,
        bucket: &str,
        key: &str,
    ) -> Result<Self, CryptoError> {
        unseal(kek, sealed, &binding(bucket, key)).map(Self)
    }

    /// The AES-256-GCM key of part `number` (1 for a plain PUT): parts never share a key.
    pub fn part_key(&self, number: u32) -> Result<LessSafeKey, CryptoError> {
        let k = hmac_sha256(&self.0.0, &[b"cairn-sse-part-key", &number.to_be_bytes()]);
        aead_key(&k)
    }

    /// An ETag that says nothing about the plaintext to whoever lacks the key (AWS's
    /// SSE-C and SSE-KMS ETags are not the MD5 of the data either): HMAC of the MD5.
    pub fn masked_etag(&self, md5: &[u8; 16]) -> [u8; 16] {
        let mac = hmac_sha256(&self.0.0, &[b"cairn-sse-etag", md5]);
        let mut out = [0u8; 16];
        out.copy_from_slice(&mac[..16]);
        out
    }
}

/// The key-encryption key of an SSE-C object: derived from the client's key, so the
/// server never stores anything that opens the object without it.
pub fn customer_kek(customer_key: &[u8; 32]) -> Secret {
    Secret(hmac_sha256(
        customer_key,
        &[b"cairn-sse-c-key-encryption-key"],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_keys_open_only_with_their_kek_and_object() {
        let ok = ObjectKey::generate().unwrap();
        let kek = customer_kek(&[1; 32]);
        let sealed = ok.seal(&kek, "b", "k").unwrap();
        let back = ObjectKey::unseal(&kek, &sealed, "b", "k").unwrap();
        assert_eq!(back.0.0, ok.0.0);
        let other = customer_kek(&[2; 32]);
        assert!(matches!(
            ObjectKey::unseal(&other, &sealed, "b", "k"),
            Err(CryptoError::KeyMismatch)
        ));
        assert!(ObjectKey::unseal(&kek, &sealed, "b", "k2").is_err());
        assert!(ObjectKey::unseal(&kek, "v1:AAAA", "b", "k").is_err());
    }

    #[test]
    fn part_keys_differ_and_masked_etags_depend_on_the_key() {
        let a = ObjectKey::generate().unwrap();
        let b = ObjectKey::generate().unwrap();
        assert_ne!(a.masked_etag(&[0; 16]), b.masked_etag(&[0; 16]));
        assert_eq!(a.masked_etag(&[5; 16]), a.masked_etag(&[5; 16]));
        // Different part numbers seal differently.
        let mut s1 = crate::crypto::package::Sealer::new(a.part_key(1).unwrap()).unwrap();
        let _ = s1.push(b"x").unwrap();
        let p1 = s1.finish().unwrap();
        let mut o2 =
            crate::crypto::package::Opener::new(a.part_key(2).unwrap(), 0, p1.len() as u64);
        assert!(o2.open(bytes::BytesMut::from(&p1[..])).is_err());
    }
}
