//! The sio-go stream format (github.com/secure-io/sio-go, the package madmin-go's
//! `EncryptData` uses): a plaintext cut into packages of `buf_size` bytes, each sealed with
//! one AEAD key under its own nonce, so packages cannot be reordered, dropped or cut off
//! without the AEAD noticing.
//!
//! For an AEAD with an N-byte nonce the caller gives an (N - 4)-byte nonce prefix. Then:
//!
//! 1. `tag0` = the AEAD tag of an empty plaintext with associated data `user_ad` under the
//!    nonce `prefix || le32(0)`. It binds every package to the stream's associated data.
//! 2. Package `i` (counted from 1) is `AEAD.Seal(nonce = prefix || le32(i),
//!    ad = flag || tag0, plaintext[i])`: ciphertext then 16-byte tag. `flag` is `0x80` on
//!    the last package and `0x00` on the others, so a stream cut at a package boundary
//!    does not authenticate.
//! 3. Every package but the last holds exactly `buf_size` plaintext bytes; the last holds
//!    1..=`buf_size` bytes, or 0 when the whole plaintext is empty (a lone final package
//!    of just a tag). A reader therefore knows a package is the last one when fewer than
//!    `buf_size + 16 + 1` bytes remain, which is how sio-go's `DecReader` decides it.
//!
//! madmin uses `buf_size` = 16 KiB and no associated data. The functions take both as
//! parameters so the unit tests can use small packages.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::generic_array::typenum::Unsigned;

/// Flag byte of the associated data of the last package of a stream.
const FINAL_FLAG: u8 = 0x80;

/// Why a stream could not be sealed or opened. The caller maps these to its public error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StreamError {
    /// A package failed its AEAD check, or the stream is shorter than one tag.
    NotAuthentic,
    /// The plaintext needs more packages than a 32-bit sequence number counts.
    TooManyPackages,
    /// The nonce prefix does not leave exactly 4 bytes of the AEAD's nonce for the counter.
    BadNonceLength,
    /// The AEAD refused to seal (it only does so for inputs far beyond a package).
    SealFailed,
}

/// Tag length of the AEAD, in bytes (16 for every algorithm madmin uses).
fn tag_len<A: AeadInPlace>() -> usize {
    A::TagSize::USIZE
}

/// The per-stream state shared by sealing and opening: the nonce whose last 4 bytes count
/// packages, and the associated data `flag || tag0`.
struct StreamState<A: AeadInPlace> {
    nonce: GenericArray<u8, A::NonceSize>,
    prefix_len: usize,
    associated_data: Vec<u8>,
}

impl<A: AeadInPlace> StreamState<A> {
    fn new(aead: &A, nonce_prefix: &[u8], user_ad: &[u8]) -> Result<Self, StreamError> {
        let mut nonce = GenericArray::<u8, A::NonceSize>::default();
        if nonce_prefix.len() + 4 != nonce.len() {
            return Err(StreamError::BadNonceLength);
        }
        nonce[..nonce_prefix.len()].copy_from_slice(nonce_prefix);
        // The counter bytes are already 0: tag0 is sealed under `prefix || le32(0)`.
        let tag0 = aead
            .encrypt_in_place_detached(&nonce, user_ad, &mut [])
            .map_err(|_| StreamError::SealFailed)?;
        let mut associated_data = Vec::with_capacity(1 + tag0.len());
        associated_data.push(0x00);
        associated_data.extend_from_slice(&tag0);
        Ok(Self {
            nonce,
            prefix_len: nonce_prefix.len(),
            associated_data,
        })
    }

    /// Sets the nonce and flag for package `seq` (1-based).
    fn select(&mut self, seq: u32, last: bool) {
        self.nonce[self.prefix_len..].copy_from_slice(&seq.to_le_bytes());
        self.associated_data[0] = if last { FINAL_FLAG } else { 0x00 };
    }
}

/// Number of bytes `seal` appends for `plaintext_len` bytes of plaintext.
pub(crate) fn sealed_len<A: AeadInPlace>(plaintext_len: usize, buf_size: usize) -> usize {
    let packages = plaintext_len.div_ceil(buf_size).max(1);
    plaintext_len.saturating_add(packages.saturating_mul(tag_len::<A>()))
}

/// Encrypts `plaintext` as a stream of packages and appends it to `out`.
pub(crate) fn seal<A: AeadInPlace>(
    aead: &A,
    nonce_prefix: &[u8],
    user_ad: &[u8],
    buf_size: usize,
    plaintext: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), StreamError> {
    let buf_size = buf_size.max(1);
    let mut state = StreamState::new(aead, nonce_prefix, user_ad)?;
    let packages = plaintext.len().div_ceil(buf_size).max(1);
    // Sequence numbers run from 1; sio-go refuses to go past u32::MAX.
    if u32::try_from(packages).is_err() {
        return Err(StreamError::TooManyPackages);
    }
    out.reserve(sealed_len::<A>(plaintext.len(), buf_size));
    let mut seq: u32 = 0;
    let mut rest = plaintext;
    loop {
        let take = rest.len().min(buf_size);
        let (chunk, tail) = rest.split_at(take);
        let last = tail.is_empty();
        seq = seq.checked_add(1).ok_or(StreamError::TooManyPackages)?;
        state.select(seq, last);
        let start = out.len();
        out.extend_from_slice(chunk);
        let tag = aead
            .encrypt_in_place_detached(&state.nonce, &state.associated_data, &mut out[start..])
            .map_err(|_| StreamError::SealFailed)?;
        out.extend_from_slice(&tag);
        if last {
            return Ok(());
        }
        rest = tail;
    }
}

/// Number of plaintext bytes in a stream of `sealed_len` bytes, if that length is possible.
pub(crate) fn opened_len<A: AeadInPlace>(sealed_len: usize, buf_size: usize) -> Option<usize> {
    let package = buf_size.max(1) + tag_len::<A>();
    let full = sealed_len.saturating_sub(1) / package;
    let last = sealed_len - full * package;
    last.checked_sub(tag_len::<A>())
        .map(|last_plain| full * buf_size.max(1) + last_plain)
}

/// Decrypts a stream of packages and appends the plaintext to `out`. On error `out` may
/// hold a prefix of authentic plaintext; callers must discard it.
pub(crate) fn open<A: AeadInPlace>(
    aead: &A,
    nonce_prefix: &[u8],
    user_ad: &[u8],
    buf_size: usize,
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), StreamError> {
    let buf_size = buf_size.max(1);
    let package = buf_size + tag_len::<A>();
    let plaintext_len = opened_len::<A>(sealed.len(), buf_size).ok_or(StreamError::NotAuthentic)?;
    let mut state = StreamState::new(aead, nonce_prefix, user_ad)?;
    out.reserve_exact(plaintext_len);
    let mut seq: u32 = 0;
    let mut rest = sealed;
    loop {
        // Like sio-go's DecReader: a package is the last one when no byte follows it.
        let last = rest.len() <= package;
        let take = rest.len().min(package);
        let (pkg, tail) = rest.split_at(take);
        let Some(body_len) = pkg.len().checked_sub(tag_len::<A>()) else {
            return Err(StreamError::NotAuthentic);
        };
        let (body, tag) = pkg.split_at(body_len);
        let tag =
            GenericArray::from_exact_iter(tag.iter().copied()).ok_or(StreamError::NotAuthentic)?;
        seq = seq.checked_add(1).ok_or(StreamError::TooManyPackages)?;
        state.select(seq, last);
        let start = out.len();
        out.extend_from_slice(body);
        aead.decrypt_in_place_detached(
            &state.nonce,
            &state.associated_data,
            &mut out[start..],
            &tag,
        )
        .map_err(|_| StreamError::NotAuthentic)?;
        if last {
            return Ok(());
        }
        rest = tail;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes_gcm::aead::KeyInit;
    use aes_gcm::{Aes128Gcm, Aes256Gcm};
    use chacha20poly1305::ChaCha20Poly1305;

    fn aes() -> Aes256Gcm {
        Aes256Gcm::new(&GenericArray::from([7u8; 32]))
    }

    fn sealed(aead: &Aes256Gcm, buf: usize, plain: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        seal(aead, &[1; 8], b"", buf, plain, &mut out).unwrap();
        out
    }

    fn opened(aead: &Aes256Gcm, buf: usize, data: &[u8]) -> Result<Vec<u8>, StreamError> {
        let mut out = Vec::new();
        open(aead, &[1; 8], b"", buf, data, &mut out).map(|()| out)
    }

    #[test]
    fn package_layout_matches_sio_go() {
        let a = aes();
        // Empty plaintext: one final package holding only a tag.
        assert_eq!(sealed(&a, 16, b"").len(), 16);
        // Exactly one full package: still one package (sio-go's writer keeps a full
        // buffer until Close, which seals it as the final one).
        assert_eq!(sealed(&a, 16, &[0; 16]).len(), 32);
        assert_eq!(sealed(&a, 16, &[0; 17]).len(), 16 + 16 + 1 + 16);
        assert_eq!(sealed(&a, 16, &[0; 32]).len(), 64);
        for n in 0..100 {
            assert_eq!(
                sealed(&a, 16, &vec![9; n]).len(),
                sealed_len::<Aes256Gcm>(n, 16)
            );
            assert_eq!(
                opened_len::<Aes256Gcm>(sealed_len::<Aes256Gcm>(n, 16), 16),
                Some(n)
            );
        }
    }

    #[test]
    fn round_trips_at_every_boundary() {
        let a = aes();
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 160, 161] {
            let plain: Vec<u8> = (0..n).map(|i| i as u8).collect();
            assert_eq!(
                opened(&a, 16, &sealed(&a, 16, &plain)).unwrap(),
                plain,
                "n={n}"
            );
        }
    }

    #[test]
    fn reordered_dropped_truncated_or_flipped_packages_fail() {
        let a = aes();
        let plain = vec![5u8; 40]; // packages of 16, 16, 8 plaintext bytes
        let s = sealed(&a, 16, &plain);
        assert_eq!(s.len(), 32 + 32 + 24);
        // Swap the first two packages.
        let mut swapped = s[32..64].to_vec();
        swapped.extend_from_slice(&s[..32]);
        swapped.extend_from_slice(&s[64..]);
        assert_eq!(opened(&a, 16, &swapped), Err(StreamError::NotAuthentic));
        // Drop the middle package.
        let mut dropped = s[..32].to_vec();
        dropped.extend_from_slice(&s[64..]);
        assert_eq!(opened(&a, 16, &dropped), Err(StreamError::NotAuthentic));
        // Cut at a package boundary: the new last package was sealed as non-final.
        assert_eq!(opened(&a, 16, &s[..64]), Err(StreamError::NotAuthentic));
        // Cut inside a package, and shorter than a tag.
        assert_eq!(opened(&a, 16, &s[..70]), Err(StreamError::NotAuthentic));
        assert_eq!(opened(&a, 16, &s[..10]), Err(StreamError::NotAuthentic));
        assert_eq!(opened(&a, 16, &[]), Err(StreamError::NotAuthentic));
        // Extra bytes after the final package.
        let mut longer = s.clone();
        longer.push(0);
        assert_eq!(opened(&a, 16, &longer), Err(StreamError::NotAuthentic));
        // One flipped bit anywhere.
        for i in 0..s.len() {
            let mut bad = s.clone();
            bad[i] ^= 1;
            assert_eq!(
                opened(&a, 16, &bad),
                Err(StreamError::NotAuthentic),
                "byte {i}"
            );
        }
    }

    #[test]
    fn nonce_prefix_and_associated_data_are_bound() {
        let a = aes();
        let s = sealed(&a, 16, b"hello");
        let mut out = Vec::new();
        assert_eq!(
            open(&a, &[2; 8], b"", 16, &s, &mut out),
            Err(StreamError::NotAuthentic)
        );
        assert_eq!(
            open(&a, &[1; 8], b"x", 16, &s, &mut out),
            Err(StreamError::NotAuthentic)
        );
        assert_eq!(
            open(&a, &[1; 7], b"", 16, &s, &mut out),
            Err(StreamError::BadNonceLength)
        );
    }

    /// The same code serves any AEAD with a 12-byte nonce (AES-128-GCM is what sio-go's
    /// own test vectors use; ChaCha20-Poly1305 is madmin's id 1).
    #[test]
    fn generic_over_aead_and_nonce_size() {
        let a = Aes128Gcm::new(&GenericArray::from([3u8; 16]));
        let c = ChaCha20Poly1305::new(&GenericArray::from([4u8; 32]));
        let mut out = Vec::new();
        seal(&a, &[0; 8], b"ad", 16, &[1; 33], &mut out).unwrap();
        let mut back = Vec::new();
        open(&a, &[0; 8], b"ad", 16, &out, &mut back).unwrap();
        assert_eq!(back, vec![1; 33]);
        out.clear();
        back.clear();
        seal(&c, &[0; 8], b"", 16, &[2; 33], &mut out).unwrap();
        open(&c, &[0; 8], b"", 16, &out, &mut back).unwrap();
        assert_eq!(back, vec![2; 33]);
    }
}
