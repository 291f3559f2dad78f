//! Bodies encrypted once by minio-py 7.2.20 (`minio.crypto.encrypt`, the client CLIENTS.md
//! tested) with its random salt and nonce pinned, so the format stays checked on machines
//! without Python: our decrypt must read them, and our encrypt with the same salt and
//! nonce must produce the very same bytes.
//!
//! They were made with `os.urandom` replaced to return the nonce and then the salt below
//! (minio-py draws them in that order); the large ones are pinned by length and SHA-256.

use super::*;
use sha2::{Digest, Sha256};

const SALT: [u8; SALT_LEN] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
    26, 27, 28, 29, 30, 31,
];
const NONCE: [u8; NONCE_LEN] = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7];

/// (secret key, plaintext, ciphertext in hex) from minio-py.
const SMALL: &[(&str, &str, &str)] = &[
    (
        "minio123",
        r#"{"status": "enabled", "secretKey": "s3cr3t-Key/9"}"#,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00a0a1a2a3a4a5a6a7\
         e632c9629bfbdc3f3dea2c8aae9e343912696ad6ad664343ab2e7e4e3e3c00aa139d922a1f05d54ec4\
         c8ccdb8f2af7669ef8d04cad69ce64cceac00d8242f97308c2",
    ),
    (
        "p\u{e4}ssw\u{f6}rd-\u{e9}t\u{e9}",
        r#"{"policies": ["readwrite"], "user": "alice"}"#,
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00a0a1a2a3a4a5a6a7\
         4e86f5c7edef867063d05e2d986b4215895f99361d7f4a0fca0d8e842abfc06276dc92263c85a2f9e4\
         cb60184d1d7fcda37e5a2aed979d453dd5578e",
    ),
];

fn from_hex(s: &str) -> Vec<u8> {
    let clean: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    clean
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[test]
fn minio_py_small_bodies_decrypt_and_re_encrypt_identically() {
    for (secret, plain, hex) in SMALL {
        let expected = from_hex(hex);
        assert_eq!(decrypt(secret, &expected).unwrap(), plain.as_bytes());
        let ours = encrypt_parts(
            Algorithm::Argon2idAesGcm,
            secret,
            &SALT,
            &NONCE,
            plain.as_bytes(),
        )
        .unwrap();
        assert_eq!(ours, expected, "secret {secret:?}");
    }
}

/// Two full packages and a partial one, and exactly one full package (which sio-go and
/// minio-py both seal as the single, final package).
#[test]
fn minio_py_multi_package_bodies_match() {
    let cases: [(Vec<u8>, usize, &str); 2] = [
        (
            (0..2 * PACKAGE_LEN + 100)
                .map(|i| ((i * 7) % 251) as u8)
                .collect(),
            32957,
            "b18409d85324af6a67933ab2e12638f6d66b7262ce24c7819f3ee8c922c438f4",
        ),
        (
            (0..PACKAGE_LEN).map(|i| ((i * 13) % 251) as u8).collect(),
            16441,
            "b2a51034d4364392dcc3e59885d81c107f8127765d8c3aacd50b6ae9277ddc58",
        ),
    ];
    for (plain, len, sha) in cases {
        let ours =
            encrypt_parts(Algorithm::Argon2idAesGcm, "minio123", &SALT, &NONCE, &plain).unwrap();
        assert_eq!(ours.len(), len);
        let digest: String = Sha256::digest(&ours)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(digest, sha);
        assert_eq!(decrypt("minio123", &ours).unwrap(), plain);
    }
}

/// minio-py 7.2.20 encrypts an empty payload as the bare 41-byte header, with no final
/// package; madmin-go's DecryptData refuses that and so do we. (Its later releases emit
/// one empty final package, as madmin-go does.) No admin call sends an empty body.
#[test]
fn minio_py_empty_body_is_refused_like_madmin_go() {
    let bare = from_hex(
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f00a0a1a2a3a4a5a6a7",
    );
    assert_eq!(
        decrypt("minio123", &bare),
        Err(CryptError::Truncated { len: 41 })
    );
}
