//! Server-side encryption: a KMS trait with a built-in static key ([`kms`]), per-object
//! keys sealed by it or derived from an SSE-C key ([`keys`]), authenticated encryption
//! in fixed-size packages ([`package`]), the mapping of plaintext ranges onto stored
//! ones ([`range`]), the streams that encrypt a body and decrypt a read ([`stream`]),
//! the encryption record an object keeps in its stored headers ([`record`]) and the key
//! management that S3 requests and admin key rotation share ([`sse`]).
//!
//! This layer knows neither S3 nor the object layer: the S3 layer encrypts a body
//! before it reaches the object layer and decrypts what the object layer reads, so the
//! object layer, erasure coding, healing and bitrot checks see only ciphertext and need
//! no change (MinIO applies its DARE streams at the same place).
//!
//! Cipher: AES-256-GCM from `ring`, chosen by the benchmark in `cairn-bench-rs
//! --ciphers` (bench/results): on these machines (AES-NI, VAES, VPCLMULQDQ) it is the
//! fastest of ring's AES-256-GCM and ChaCha20-Poly1305 and RustCrypto's `aes-gcm`.

pub mod keys;
pub mod kms;
pub mod package;
pub mod range;
pub mod record;
pub mod sse;
pub mod stream;

use ring::rand::{SecureRandom, SystemRandom};

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("encryption failed")]
    Cipher,
    #[error("the encrypted data was modified or does not belong here")]
    Tampered,
    #[error("the key does not match the one the object was encrypted with")]
    KeyMismatch,
    #[error("encrypted object is corrupt: {0}")]
    Corrupt(&'static str),
    #[error("no random numbers from the operating system")]
    Random,
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| CryptoError::Random)?;
    Ok(out)
}
