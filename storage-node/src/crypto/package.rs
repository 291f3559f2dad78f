//! The encrypted stream format: a part's plaintext cut into packages of 64 KiB, each
//! sealed on its own with AES-256-GCM, so that a range read decrypts only the packages
//! it touches (MinIO's DARE format works the same way; this layout is Cairn's own).
//!
//! ```text
//! package = stream nonce (8 bytes) | ciphertext (1..=65536 bytes, 0 only for an empty part) | tag (16)
//! nonce   = stream nonce (8) | package sequence number (u32 big endian)
//! aad     = 0x01 for the part's last package, 0x00 otherwise
//! ```
//!
//! The key is the part key ([`super::keys::ObjectKey::part_key`]): one per object
//! version and part number. The stream nonce is random per written part, so a part
//! uploaded twice under one multipart key never reuses a nonce; the sequence number in
//! the nonce makes reordering fail, and the last-package flag makes truncation fail.
//! Every package but the last holds exactly [`PACKAGE`] plaintext bytes and the last
//! holds at least one (none only in an empty part), so sizes map both ways without a
//! table: see [`sealed_len`] and [`plain_len`].

use super::CryptoError;
use bytes::{BufMut, Bytes, BytesMut};
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};

/// Plaintext bytes per package.
pub const PACKAGE: usize = 64 * 1024;
/// Random per-stream nonce stored at the head of every package.
const STREAM_NONCE: usize = 8;
const TAG: usize = 16;
/// Stored bytes a package adds to its plaintext.
pub const OVERHEAD: usize = STREAM_NONCE + TAG;
/// Stored size of a full package.
pub const SEALED_PACKAGE: usize = PACKAGE + OVERHEAD;

/// Stored size of a part of `plain` plaintext bytes.
pub fn sealed_len(plain: u64) -> u64 {
    let packages = plain.div_ceil(PACKAGE as u64).max(1);
    plain + packages * OVERHEAD as u64
}

/// Plaintext size of a stored part of `stored` bytes; an error for sizes no part can have.
pub fn plain_len(stored: u64) -> Result<u64, CryptoError> {
    let packages = stored.div_ceil(SEALED_PACKAGE as u64);
    let last = stored - (packages.saturating_sub(1)) * SEALED_PACKAGE as u64;
    if packages == 0 || last < OVERHEAD as u64 || (packages > 1 && last == OVERHEAD as u64) {
        return Err(CryptoError::Corrupt(
            "encrypted part has an impossible size",
        ));
    }
    Ok(stored - packages * OVERHEAD as u64)
}

fn nonce(stream: &[u8; STREAM_NONCE], seq: u32) -> Nonce {
    let mut n = [0u8; NONCE_LEN];
    n[..STREAM_NONCE].copy_from_slice(stream);
    n[STREAM_NONCE..].copy_from_slice(&seq.to_be_bytes());
    Nonce::assume_unique_for_key(n)
}

fn aad(last: bool) -> Aad<[u8; 1]> {
    Aad::from([u8::from(last)])
}

/// Seals a part's plaintext, package by package, as it arrives.
pub struct Sealer {
    key: LessSafeKey,
    stream: [u8; STREAM_NONCE],
    seq: u32,
    /// Plaintext not yet sealed: at most one package, held back until more arrives,
    /// because only the end of the body tells which package is the last.
    pending: BytesMut,
}

impl Sealer {
    pub fn new(key: LessSafeKey) -> Result<Self, CryptoError> {
        Ok(Self {
            key,
            stream: super::random()?,
            seq: 0,
            pending: BytesMut::with_capacity(PACKAGE),
        })
    }

    fn seal(&mut self, plain: &[u8], last: bool) -> Result<Bytes, CryptoError> {
        let mut out = BytesMut::with_capacity(plain.len() + OVERHEAD);
        out.put_slice(&self.stream);
        out.put_slice(plain);
        let tag = self
            .key
            .seal_in_place_separate_tag(
                nonce(&self.stream, self.seq),
                aad(last),
                &mut out[STREAM_NONCE..],
            )
            .map_err(|_| CryptoError::Cipher)?;
        out.put_slice(tag.as_ref());
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or(CryptoError::Corrupt("part too large to encrypt"))?;
        Ok(out.freeze())
    }

    /// Takes more plaintext; returns the packages it completed (none until a package
    /// is followed by at least one more byte).
    pub fn push(&mut self, mut data: &[u8]) -> Result<Vec<Bytes>, CryptoError> {
        let mut out = Vec::new();
        while !data.is_empty() {
            if self.pending.len() == PACKAGE {
                let full = self.pending.split();
                self.pending.reserve(PACKAGE);
                out.push(self.seal(&full, false)?);
            }
            // Whole packages straight from the input, when more follows them: one copy
            // (into the sealed package) instead of two.
            if self.pending.is_empty() && data.len() > PACKAGE {
                out.push(self.seal(&data[..PACKAGE], false)?);
                data = &data[PACKAGE..];
                continue;
            }
            let take = (PACKAGE - self.pending.len()).min(data.len());
            self.pending.put_slice(&data[..take]);
            data = &data[take..];
        }
        Ok(out)
    }

    /// Seals what is left as the last package (an empty one for an empty part).
    pub fn finish(mut self) -> Result<Bytes, CryptoError> {
        let rest = self.pending.split();
        self.seal(&rest, true)
    }
}

/// Opens the packages of one part, starting at package `seq`.
pub struct Opener {
    key: LessSafeKey,
    seq: u32,
    /// Stored bytes of the part from the next package to the part's end.
    left_in_part: u64,
    stream: Option<[u8; STREAM_NONCE]>,
}

impl Opener {
    /// `first` is the first package read and `part_stored` the part's stored size.
    pub fn new(key: LessSafeKey, first: u32, part_stored: u64) -> Self {
        Self {
            key,
            seq: first,
            left_in_part: part_stored.saturating_sub(first as u64 * SEALED_PACKAGE as u64),
            stream: None,
        }
    }

    /// Stored size of the next package, 0 when the part is done.
    pub fn next_len(&self) -> usize {
        self.left_in_part.min(SEALED_PACKAGE as u64) as usize
    }

    /// Decrypts one whole package in place and returns its plaintext (a view of the same
    /// buffer, no copy); any change to the stored bytes, their order or their number
    /// fails here.
    pub fn open(&mut self, mut package: BytesMut) -> Result<Bytes, CryptoError> {
        let len = package.len();
        let plain_len = self.open_within(&mut package, 0, len, STREAM_NONCE)?;
        Ok(package
            .freeze()
            .slice(STREAM_NONCE..STREAM_NONCE + plain_len))
    }

    /// Decrypts the package stored at `buf[src..src + len]` and writes its plaintext to
    /// `buf[dst..]` in the same pass (`dst <= src + 8`: the plaintext may overwrite the
    /// package's own head and anything before it). Returns the plaintext length. A reader
    /// uses this to lay the packages of one stored chunk end to end as one plaintext run,
    /// without a second copy.
    pub fn open_within(
        &mut self,
        buf: &mut [u8],
        src: usize,
        len: usize,
        dst: usize,
    ) -> Result<usize, CryptoError> {
        let end = src.checked_add(len).filter(|e| *e <= buf.len());
        let (Some(end), true) = (end, dst <= src + STREAM_NONCE) else {
            return Err(CryptoError::Corrupt("encrypted package outside its buffer"));
        };
        if len != self.next_len() || len < OVERHEAD {
            return Err(CryptoError::Corrupt("encrypted package has the wrong size"));
        }
        let mut stream = [0u8; STREAM_NONCE];
        stream.copy_from_slice(&buf[src..src + STREAM_NONCE]);
        // All packages of a part come from one writer: a package spliced in from another
        // upload of the same part number is refused even if it authenticates.
        if self.stream.is_some_and(|s| s != stream) {
            return Err(CryptoError::Tampered);
        }
        self.stream = Some(stream);
        let last = len as u64 == self.left_in_part;
        let plain_len = self
            .key
            .open_within(
                nonce(&stream, self.seq),
                aad(last),
                &mut buf[dst..end],
                (src + STREAM_NONCE - dst)..,
            )
            .map_err(|_| CryptoError::Tampered)?
            .len();
        self.left_in_part -= len as u64;
        self.seq = self.seq.wrapping_add(1);
        Ok(plain_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::aead::{AES_256_GCM, UnboundKey};

    fn key(b: u8) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[b; 32]).unwrap())
    }

    fn seal_all(plain: &[u8], chunk: usize) -> Vec<u8> {
        let mut s = Sealer::new(key(7)).unwrap();
        let mut out = Vec::new();
        for c in plain.chunks(chunk.max(1)) {
            for p in s.push(c).unwrap() {
                out.extend_from_slice(&p);
            }
        }
        out.extend_from_slice(&s.finish().unwrap());
        out
    }

    fn open_all(
        stored: &[u8],
        first: u32,
        part_stored: u64,
        k: u8,
    ) -> Result<Vec<u8>, CryptoError> {
        let mut o = Opener::new(key(k), first, part_stored);
        let mut at = 0;
        let mut out = Vec::new();
        while o.next_len() > 0 {
            let n = o.next_len();
            let pkg = stored
                .get(at..at + n)
                .ok_or(CryptoError::Corrupt("short"))?;
            out.extend_from_slice(&o.open(BytesMut::from(pkg))?);
            at += n;
        }
        Ok(out)
    }

    #[test]
    fn sizes_map_both_ways() {
        for plain in [0u64, 1, 100, 65535, 65536, 65537, 131072, 131073, 10 << 20] {
            let stored = sealed_len(plain);
            assert_eq!(plain_len(stored).unwrap(), plain, "{plain}");
            let data = vec![3u8; plain as usize];
            assert_eq!(seal_all(&data, 7000).len() as u64, stored, "{plain}");
        }
        for bad in [0u64, 5, SEALED_PACKAGE as u64 + OVERHEAD as u64] {
            assert!(plain_len(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trip_and_every_tamper_fails() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let stored = seal_all(&data, 4096);
        assert_eq!(open_all(&stored, 0, stored.len() as u64, 7).unwrap(), data);
        assert!(
            open_all(&stored, 0, stored.len() as u64, 8).is_err(),
            "wrong key"
        );
        for at in [0, 9, 70_000, stored.len() - 1] {
            let mut bad = stored.clone();
            bad[at] ^= 1;
            assert!(
                open_all(&bad, 0, bad.len() as u64, 7).is_err(),
                "flip at {at}"
            );
        }
        // Dropping the last package: the new last one was not sealed as last.
        let cut = 2 * SEALED_PACKAGE;
        assert!(open_all(&stored[..cut], 0, cut as u64, 7).is_err());
        // Swapping two packages.
        let mut swapped = stored.clone();
        let (a, b) = swapped.split_at_mut(SEALED_PACKAGE);
        a.swap_with_slice(&mut b[..SEALED_PACKAGE]);
        assert!(open_all(&swapped, 0, swapped.len() as u64, 7).is_err());
    }

    #[test]
    fn a_read_can_start_at_any_package() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let stored = seal_all(&data, 65536);
        let from = 2 * SEALED_PACKAGE;
        let got = open_all(&stored[from..], 2, stored.len() as u64, 7).unwrap();
        assert_eq!(got, data[2 * PACKAGE..]);
    }

    #[test]
    fn an_empty_part_is_one_sealed_package() {
        let stored = seal_all(&[], 1);
        assert_eq!(stored.len(), OVERHEAD);
        assert!(
            open_all(&stored, 0, stored.len() as u64, 7)
                .unwrap()
                .is_empty()
        );
    }
}
