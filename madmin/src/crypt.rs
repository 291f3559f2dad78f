//! madmin's encrypted request and response bodies, byte-compatible with madmin-go's
//! `EncryptData`/`DecryptData` (encrypt.go) and minio-py's `minio/crypto.py`.
//!
//! Layout of an encrypted body:
//!
//! ```text
//! salt (32) | AEAD id (1) | nonce (8) | sio-go stream of 16 KiB packages, each + 16-byte tag
//! ```
//!
//! The key is 32 bytes derived from the caller's **secret key** (the one that signed the
//! request) and the salt. The id says how:
//!
//! | id | key derivation | AEAD |
//! |----|----------------|------|
//! | 0  | Argon2id, t=1, m=64 MiB, p=4, version 0x13 | AES-256-GCM |
//! | 1  | Argon2id, same parameters | ChaCha20-Poly1305 |
//! | 2  | PBKDF2-HMAC-SHA256, 8192 rounds (madmin-go in FIPS mode) | AES-256-GCM |
//!
//! The stream format is in [`stream`]: the 8-byte nonce is the prefix of each package's
//! 12-byte AEAD nonce, the last 4 bytes count packages, and the last package is flagged,
//! so packages cannot be reordered, dropped or cut off.
//!
//! **Cost.** Argon2id with m=64 MiB allocates 64 MiB and computes for about 70 ms on this
//! project's 2-core machine (70 ms per encrypt, PBKDF2 1.3 ms, from one run of `cargo run
//! -p cairn-madmin --example kdf_cost`, dependencies at opt-level 2; the `argon2` crate
//! computes the 4 lanes on one thread). Every
//! [`encrypt`] and every [`decrypt`] with id 0 or 1 pays it once. A server must therefore
//! bound how many run at once (a semaphore sized to the memory it can spare, and
//! `spawn_blocking` so the async workers stay free); madmin-go serialises them behind one
//! mutex. [`decrypt`] checks the size limit, length and id before deriving the key, so a
//! malformed or oversized body is refused without paying for Argon2.

mod stream;
#[cfg(test)]
mod vectors;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use argon2::{Argon2, Params, Version};
use chacha20poly1305::ChaCha20Poly1305;
use rand::RngCore;
use zeroize::Zeroizing;

use stream::StreamError;

/// Length of the random salt that starts an encrypted body.
pub const SALT_LEN: usize = 32;
/// Length of the random stream nonce after the AEAD id.
pub const NONCE_LEN: usize = 8;
/// Length of the header: salt, AEAD id, nonce.
pub const HEADER_LEN: usize = SALT_LEN + 1 + NONCE_LEN;
/// Plaintext bytes per package (sio-go's `BufSize`).
pub const PACKAGE_LEN: usize = 16 * 1024;
/// AEAD tag after each package.
pub const TAG_LEN: usize = 16;
/// Shortest possible encrypted body: a header and one empty final package.
pub const MIN_ENCRYPTED_LEN: usize = HEADER_LEN + TAG_LEN;
/// Largest encrypted request body MinIO's admin handlers accept (`maxEConfigJSONSize` in
/// cmd/admin-handlers.go, 256 KiB of plaintext plus overhead); a server should refuse
/// larger request bodies before reading them.
pub const MAX_ENCRYPTED_REQUEST_LEN: usize = 262_272;
/// Limit [`decrypt`] applies: large enough for any listing of users or service accounts
/// a client asks for, small enough that a hostile body costs little memory.
pub const DEFAULT_DECRYPT_LIMIT: usize = 16 << 20;

/// Argon2id parameters of madmin-go (`argon2idTime`, `argon2idMemory` in KiB,
/// `argon2idThreads`) and minio-py (`time_cost`, `memory_cost`, `parallelism`).
const ARGON2_TIME: u32 = 1;
const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
const ARGON2_LANES: u32 = 4;
/// PBKDF2 rounds of madmin-go's FIPS variant (`pbkdf2Cost`).
const PBKDF2_ROUNDS: u32 = 8192;

/// How the key is derived and which AEAD seals the packages: byte 32 of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Id 0: Argon2id key, AES-256-GCM. What [`encrypt`], madmin-go on CPUs with AES
    /// instructions, and minio-py send.
    Argon2idAesGcm,
    /// Id 1: Argon2id key, ChaCha20-Poly1305. madmin-go sends it on CPUs without AES
    /// instructions.
    Argon2idChaCha20Poly1305,
    /// Id 2: PBKDF2-HMAC-SHA256 key, AES-256-GCM. madmin-go sends it in FIPS mode. minio-py
    /// cannot read it.
    Pbkdf2AesGcm,
}

impl Algorithm {
    /// The id byte written in the header.
    pub fn id(self) -> u8 {
        match self {
            Algorithm::Argon2idAesGcm => 0,
            Algorithm::Argon2idChaCha20Poly1305 => 1,
            Algorithm::Pbkdf2AesGcm => 2,
        }
    }

    /// The algorithm of a header id byte, if madmin-go knows it.
    pub fn from_id(id: u8) -> Option<Self> {
        match id {
            0 => Some(Algorithm::Argon2idAesGcm),
            1 => Some(Algorithm::Argon2idChaCha20Poly1305),
            2 => Some(Algorithm::Pbkdf2AesGcm),
            _ => None,
        }
    }
}

/// Why a body could not be encrypted or decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptError {
    /// The encrypted body is longer than the caller's limit; nothing was derived or
    /// allocated.
    #[error("encrypted body of {len} bytes is over the limit of {limit} bytes")]
    TooLarge { len: usize, limit: usize },
    /// The body is shorter than a header and one tag, so it cannot be a madmin body.
    #[error("encrypted body of {len} bytes is shorter than the {MIN_ENCRYPTED_LEN}-byte minimum")]
    Truncated { len: usize },
    /// Byte 32 names no algorithm madmin-go knows.
    #[error("encrypted body names unknown algorithm id {0}")]
    UnknownAlgorithm(u8),
    /// A package failed its AEAD check: the secret key is wrong, or the body was modified,
    /// cut short, extended, or had packages reordered or dropped.
    #[error(
        "encrypted body is not authentic: wrong secret key, or modified, cut or reordered data"
    )]
    NotAuthentic,
    /// The plaintext needs more packages than the 32-bit counter allows (64 TiB).
    #[error("plaintext of {len} bytes is too large to encrypt")]
    PlaintextTooLarge { len: usize },
    /// Argon2 refused its parameters or ran out of memory.
    #[error("key derivation failed: {0}")]
    KeyDerivation(String),
    /// The AEAD refused to seal a package (not expected for package-sized input).
    #[error("encryption failed")]
    Encryption,
}

impl CryptError {
    fn from_stream(e: StreamError, plaintext_len: usize) -> Self {
        match e {
            StreamError::NotAuthentic => CryptError::NotAuthentic,
            StreamError::TooManyPackages => CryptError::PlaintextTooLarge { len: plaintext_len },
            // Both AEADs take 12-byte nonces and the header carries 8: unreachable, but a
            // typed error rather than a panic.
            StreamError::BadNonceLength | StreamError::SealFailed => CryptError::Encryption,
        }
    }
}

/// Whether `data` looks like an encrypted body (madmin-go's `IsEncrypted`): longer than a
/// salt, with a known id byte. A hint only; it does not authenticate anything.
pub fn is_encrypted(data: &[u8]) -> bool {
    data.len() > SALT_LEN && Algorithm::from_id(data[SALT_LEN]).is_some()
}

/// Encrypts `plaintext` for a peer that knows `secret_key`, with Argon2id and AES-256-GCM
/// (id 0), a fresh random salt and nonce. Costs one Argon2id derivation (see the module
/// doc: about 70 ms and 64 MiB).
pub fn encrypt(secret_key: &str, plaintext: &[u8]) -> Result<Vec<u8>, CryptError> {
    encrypt_with(Algorithm::Argon2idAesGcm, secret_key, plaintext)
}

/// Encrypts with a chosen algorithm: for tests, and for peers that only accept PBKDF2
/// (madmin-go in FIPS mode reads all three ids, minio-py only 0 and 1).
pub fn encrypt_with(
    algorithm: Algorithm,
    secret_key: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptError> {
    let mut salt = [0u8; SALT_LEN];
    let mut nonce = [0u8; NONCE_LEN];
    let mut rng = rand::rng();
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut nonce);
    encrypt_parts(algorithm, secret_key, &salt, &nonce, plaintext)
}

/// Encrypts with a given salt and nonce. Reusing a salt and nonce with the same secret
/// key breaks the AEAD: only tests pin them.
fn encrypt_parts(
    algorithm: Algorithm,
    secret_key: &str,
    salt: &[u8; SALT_LEN],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptError> {
    let key = derive_key(algorithm, secret_key, salt)?;
    let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(stream::sealed_len::<Aes256Gcm>(
        plaintext.len(),
        PACKAGE_LEN,
    )));
    out.extend_from_slice(salt);
    out.push(algorithm.id());
    out.extend_from_slice(nonce);
    let sealed = match algorithm {
        Algorithm::Argon2idAesGcm | Algorithm::Pbkdf2AesGcm => {
            let aead = Aes256Gcm::new(key.as_ref().into());
            stream::seal(&aead, nonce, &[], PACKAGE_LEN, plaintext, &mut out)
        }
        Algorithm::Argon2idChaCha20Poly1305 => {
            let aead = ChaCha20Poly1305::new(key.as_ref().into());
            stream::seal(&aead, nonce, &[], PACKAGE_LEN, plaintext, &mut out)
        }
    };
    sealed.map_err(|e| CryptError::from_stream(e, plaintext.len()))?;
    Ok(out)
}

/// Decrypts a body encrypted with `secret_key`, refusing bodies over
/// [`DEFAULT_DECRYPT_LIMIT`]. Accepts every id madmin-go's `DecryptData` accepts (0, 1, 2).
pub fn decrypt(secret_key: &str, data: &[u8]) -> Result<Vec<u8>, CryptError> {
    decrypt_with_limit(secret_key, data, DEFAULT_DECRYPT_LIMIT)
}

/// Decrypts a body of at most `limit` bytes (a server reading requests should pass
/// [`MAX_ENCRYPTED_REQUEST_LEN`]). The size, length and id are checked before the key is
/// derived; the only allocation beyond the key derivation is the plaintext, which is
/// smaller than `data`.
pub fn decrypt_with_limit(
    secret_key: &str,
    data: &[u8],
    limit: usize,
) -> Result<Vec<u8>, CryptError> {
    if data.len() > limit {
        return Err(CryptError::TooLarge {
            len: data.len(),
            limit,
        });
    }
    if data.len() < MIN_ENCRYPTED_LEN {
        return Err(CryptError::Truncated { len: data.len() });
    }
    let (salt, rest) = data.split_at(SALT_LEN);
    let (id, rest) = rest.split_at(1);
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let algorithm = Algorithm::from_id(id[0]).ok_or(CryptError::UnknownAlgorithm(id[0]))?;
    let key = derive_key(algorithm, secret_key, salt)?;
    let mut out = Vec::new();
    let opened = match algorithm {
        Algorithm::Argon2idAesGcm | Algorithm::Pbkdf2AesGcm => {
            let aead = Aes256Gcm::new(key.as_ref().into());
            stream::open(&aead, nonce, &[], PACKAGE_LEN, sealed, &mut out)
        }
        Algorithm::Argon2idChaCha20Poly1305 => {
            let aead = ChaCha20Poly1305::new(key.as_ref().into());
            stream::open(&aead, nonce, &[], PACKAGE_LEN, sealed, &mut out)
        }
    };
    opened.map_err(|e| CryptError::from_stream(e, 0))?;
    Ok(out)
}

/// The 32-byte key of `algorithm` for `secret_key` and `salt`, wiped when dropped.
fn derive_key(
    algorithm: Algorithm,
    secret_key: &str,
    salt: &[u8],
) -> Result<Zeroizing<[u8; 32]>, CryptError> {
    let mut key = Zeroizing::new([0u8; 32]);
    match algorithm {
        Algorithm::Argon2idAesGcm | Algorithm::Argon2idChaCha20Poly1305 => {
            let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_TIME, ARGON2_LANES, Some(32))
                .map_err(|e| CryptError::KeyDerivation(e.to_string()))?;
            Argon2::new(argon2::Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_into(secret_key.as_bytes(), salt, key.as_mut())
                .map_err(|e| CryptError::KeyDerivation(e.to_string()))?;
        }
        Algorithm::Pbkdf2AesGcm => {
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                secret_key.as_bytes(),
                salt,
                PBKDF2_ROUNDS,
                key.as_mut(),
            );
        }
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "minio123";

    #[test]
    fn round_trip_every_algorithm_and_size() {
        for alg in [
            Algorithm::Argon2idAesGcm,
            Algorithm::Argon2idChaCha20Poly1305,
            Algorithm::Pbkdf2AesGcm,
        ] {
            for n in [
                0,
                1,
                PACKAGE_LEN - 1,
                PACKAGE_LEN,
                PACKAGE_LEN + 1,
                3 * PACKAGE_LEN + 5,
            ] {
                let plain: Vec<u8> = (0..n).map(|i| (i * 31) as u8).collect();
                let enc = encrypt_with(alg, SECRET, &plain).unwrap();
                assert_eq!(enc[SALT_LEN], alg.id());
                assert_eq!(
                    enc.len(),
                    HEADER_LEN + n + n.div_ceil(PACKAGE_LEN).max(1) * TAG_LEN,
                    "{alg:?} n={n}"
                );
                assert!(is_encrypted(&enc));
                assert_eq!(decrypt(SECRET, &enc).unwrap(), plain, "{alg:?} n={n}");
            }
        }
    }

    #[test]
    fn fresh_salt_and_nonce_each_time() {
        let a = encrypt(SECRET, b"same").unwrap();
        let b = encrypt(SECRET, b"same").unwrap();
        assert_ne!(a[..HEADER_LEN], b[..HEADER_LEN]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_key_is_not_authentic() {
        let enc = encrypt(SECRET, b"{\"status\":\"enabled\"}").unwrap();
        assert_eq!(decrypt("minio124", &enc), Err(CryptError::NotAuthentic));
    }

    #[test]
    fn header_errors_are_typed_and_checked_before_the_kdf() {
        assert_eq!(decrypt(SECRET, &[]), Err(CryptError::Truncated { len: 0 }));
        assert_eq!(
            decrypt(SECRET, &[0; MIN_ENCRYPTED_LEN - 1]),
            Err(CryptError::Truncated {
                len: MIN_ENCRYPTED_LEN - 1
            })
        );
        let mut bad_id = vec![0u8; MIN_ENCRYPTED_LEN];
        bad_id[SALT_LEN] = 3;
        assert_eq!(
            decrypt(SECRET, &bad_id),
            Err(CryptError::UnknownAlgorithm(3))
        );
        assert_eq!(
            decrypt_with_limit(SECRET, &[0; 100], 99),
            Err(CryptError::TooLarge {
                len: 100,
                limit: 99
            })
        );
        // A body exactly at the limit is read.
        let enc = encrypt_with(Algorithm::Pbkdf2AesGcm, SECRET, b"x").unwrap();
        assert_eq!(decrypt_with_limit(SECRET, &enc, enc.len()).unwrap(), b"x");
    }

    #[test]
    fn changed_id_salt_nonce_or_body_is_refused() {
        let plain = vec![7u8; 2 * PACKAGE_LEN + 10];
        let enc = encrypt_with(Algorithm::Pbkdf2AesGcm, SECRET, &plain).unwrap();
        // Salt and nonce bytes change the key or nonces.
        for i in [0, SALT_LEN - 1, SALT_LEN + 1, HEADER_LEN - 1] {
            let mut bad = enc.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                decrypt(SECRET, &bad),
                Err(CryptError::NotAuthentic),
                "byte {i}"
            );
        }
        // Another known id: another key or cipher.
        let mut other = enc.clone();
        other[SALT_LEN] = Algorithm::Argon2idAesGcm.id();
        assert_eq!(decrypt(SECRET, &other), Err(CryptError::NotAuthentic));
        // Cut at the end of the first package: that package was not sealed as the last.
        let first = HEADER_LEN + PACKAGE_LEN + TAG_LEN;
        assert_eq!(
            decrypt(SECRET, &enc[..first]),
            Err(CryptError::NotAuthentic)
        );
        // Cut a byte short, or a byte added.
        assert_eq!(
            decrypt(SECRET, &enc[..enc.len() - 1]),
            Err(CryptError::NotAuthentic)
        );
        let mut longer = enc.clone();
        longer.push(0);
        assert_eq!(decrypt(SECRET, &longer), Err(CryptError::NotAuthentic));
        // The two full packages swapped.
        let mut swapped = enc[..HEADER_LEN].to_vec();
        swapped.extend_from_slice(&enc[first..2 * first - HEADER_LEN]);
        swapped.extend_from_slice(&enc[HEADER_LEN..first]);
        swapped.extend_from_slice(&enc[2 * first - HEADER_LEN..]);
        assert_eq!(swapped.len(), enc.len());
        assert_eq!(decrypt(SECRET, &swapped), Err(CryptError::NotAuthentic));
    }

    #[test]
    fn is_encrypted_matches_madmin_go() {
        assert!(!is_encrypted(&[0; 32]));
        assert!(is_encrypted(&[0; 33]));
        let mut d = [0u8; 33];
        d[32] = 2;
        assert!(is_encrypted(&d));
        d[32] = 3;
        assert!(!is_encrypted(&d));
        assert!(!is_encrypted(
            b"{\"policy\":\"readwrite\",\"status\":\"enabled\"}"
        ));
    }
}
