//! HMAC-SHA256 and the SigV4 key derivation (`kSigning`), shared by verification,
//! the client helpers, chunk signatures and SigV2.

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::TERMINATOR;

type HmacSha256 = Hmac<Sha256>;

/// Derives `kSigning` = HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}

/// Hex HMAC-SHA256 of a string to sign: the signature itself.
pub fn sign(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// HMAC-SHA256 keyed through `Mac::new` with a pre-padded block: HMAC zero-pads keys
/// up to the block size and hashes longer ones, so this is the same MAC while staying
/// infallible (`new_from_slice` returns a `Result` we would have to unwrap).
pub(super) fn hmac_for(key: &[u8]) -> HmacSha256 {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    <HmacSha256 as KeyInit>::new(&block.into())
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = hmac_for(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// Constant-time check of `expected` against HMAC(key, data), so response timing
/// reveals nothing about how much of a forged signature was right.
pub(crate) fn hmac_verify(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    let mut mac = hmac_for(key);
    mac.update(data);
    mac.verify_slice(expected).is_ok()
}
