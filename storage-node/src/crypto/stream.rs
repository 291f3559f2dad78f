//! Body streams: one that seals a plaintext body into packages on its way to the
//! drives, one that opens the packages of a read on its way to the client.

use super::CryptoError;
use super::keys::ObjectKey;
use super::package::{Opener, Sealer};
use super::range::Plan;
use bytes::{Buf, Bytes, BytesMut};
use futures::{Stream, StreamExt};
use std::collections::VecDeque;
use std::pin::Pin;

pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

fn io(e: CryptoError) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, e)
}

/// Encrypts `body` as part `part` of the object keyed by `key`.
pub fn seal(body: ByteStream, key: &ObjectKey, part: u32) -> Result<ByteStream, CryptoError> {
    let sealer = Sealer::new(key.part_key(part)?)?;
    struct State {
        body: ByteStream,
        sealer: Option<Sealer>,
        ready: VecDeque<Bytes>,
    }
    let state = State {
        body,
        sealer: Some(sealer),
        ready: VecDeque::new(),
    };
    Ok(Box::pin(futures::stream::unfold(
        state,
        |mut st| async move {
            loop {
                if let Some(p) = st.ready.pop_front() {
                    return Some((Ok(p), st));
                }
                let sealer = st.sealer.as_mut()?;
                match st.body.next().await {
                    Some(Ok(chunk)) => match sealer.push(&chunk) {
                        Ok(done) => st.ready.extend(done),
                        Err(e) => {
                            st.sealer = None;
                            return Some((Err(io(e)), st));
                        }
                    },
                    Some(Err(e)) => {
                        st.sealer = None;
                        return Some((Err(e), st));
                    }
                    None => {
                        let last = st.sealer.take()?.finish();
                        return Some((last.map_err(io), st));
                    }
                }
            }
        },
    )))
}

/// Decrypts the stored bytes `stored` that `plan` chose, with the part keys of `key`,
/// and yields exactly the plaintext bytes the plan asked for. A package that fails to
/// open ends the stream with an error: no unauthenticated byte is ever passed on.
///
/// The packages that lie whole inside one stored chunk are decrypted where they lie and
/// laid end to end in that chunk's buffer (`Opener::open_within`), so a chunk becomes one
/// plaintext frame without a copy; only a package that straddles two chunks is copied,
/// and goes out as a frame of its own.
pub fn open(stored: ByteStream, key: &ObjectKey, plan: &Plan) -> Result<ByteStream, CryptoError> {
    let mut segments = VecDeque::new();
    for s in &plan.segments {
        let opener = Opener::new(key.part_key(s.part_number)?, s.first_package, s.part_stored);
        segments.push_back((opener, s.stored_len));
    }
    let state = OpenState {
        stored,
        cur: BytesMut::new(),
        read: 0,
        frame: 0..0,
        carry: BytesMut::new(),
        segments,
        skip: plan.skip,
        left: plan.len,
        failed: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        state,
        |mut st| async move {
            if st.failed {
                return None;
            }
            match st.next_frame().await {
                Ok(Some(frame)) => Some((Ok(frame), st)),
                Ok(None) => None,
                Err(e) => {
                    st.failed = true;
                    Some((Err(e), st))
                }
            }
        },
    )))
}

struct OpenState {
    stored: ByteStream,
    /// The stored chunk being opened: `cur[..read]` is consumed, and holds the plaintext
    /// run `cur[frame]` not yet sent.
    cur: BytesMut,
    read: usize,
    frame: std::ops::Range<usize>,
    /// The head of a package that straddles two chunks.
    carry: BytesMut,
    segments: VecDeque<(Opener, u64)>,
    /// Plaintext bytes still to drop before the range, and still to send.
    skip: u64,
    left: u64,
    failed: bool,
}

impl OpenState {
    /// Plaintext bytes `from..to` of a package of `len` bytes that the range keeps.
    fn trim(&mut self, len: usize) -> (usize, usize) {
        let from = (self.skip as usize).min(len);
        self.skip -= from as u64;
        let to = len.min(from + self.left.min(len as u64) as usize);
        self.left -= (to - from) as u64;
        (from, to)
    }

    /// Hands out the plaintext run gathered in `cur`, if any, and drops what was read.
    fn take_frame(&mut self) -> Option<Bytes> {
        let (frame, read) = (std::mem::replace(&mut self.frame, 0..0), self.read);
        self.read = 0;
        let done = self.cur.split_to(read);
        (!frame.is_empty()).then(|| done.freeze().slice(frame))
    }

    async fn next_frame(&mut self) -> std::io::Result<Option<Bytes>> {
        loop {
            let Some((opener, seg_left)) = self.segments.front_mut() else {
                return Ok(self.take_frame());
            };
            let want = (opener.next_len() as u64).min(*seg_left) as usize;
            if self.left == 0 {
                return Ok(self.take_frame());
            }
            if want == 0 {
                self.segments.pop_front();
                continue;
            }
            if self.carry.is_empty() && self.cur.len() - self.read >= want {
                let dst = self.frame.end;
                let plain = opener
                    .open_within(&mut self.cur, self.read, want, dst)
                    .map_err(|e| opened(io(e)))?;
                *seg_left -= want as u64;
                self.read += want;
                let (from, to) = self.trim(plain);
                if self.frame.is_empty() {
                    self.frame = dst + from..dst + to;
                } else if from == 0 {
                    self.frame.end = dst + to;
                } else {
                    // Only the range's first package is trimmed at its head, so this is
                    // not reached in practice; kept correct all the same.
                    self.cur.copy_within(dst + from..dst + to, dst);
                    self.frame.end = dst + to - from;
                }
                if self.frame.is_empty() {
                    // Nothing kept yet: later packages decrypt where they lie.
                    self.frame = self.read..self.read;
                }
                continue;
            }
            if let Some(frame) = self.take_frame() {
                return Ok(Some(frame));
            }
            // The next package is not whole in `cur`: gather it in `carry`.
            let read = std::mem::take(&mut self.read);
            self.cur.advance(read);
            self.frame = 0..0;
            if !self.cur.is_empty() {
                let take = (want - self.carry.len()).min(self.cur.len());
                self.carry.reserve(want - self.carry.len());
                self.carry.extend_from_slice(&self.cur[..take]);
                self.cur.advance(take);
            }
            if self.carry.len() == want {
                let Some((opener, seg_left)) = self.segments.front_mut() else {
                    return Ok(None);
                };
                let plain = opener.open(self.carry.split()).map_err(|e| opened(io(e)))?;
                *seg_left -= want as u64;
                let (from, to) = self.trim(plain.len());
                if from < to {
                    return Ok(Some(plain.slice(from..to)));
                }
                continue;
            }
            if !self.cur.is_empty() {
                continue;
            }
            match self.stored.next().await {
                // A chunk nobody else holds is decrypted where it is (no copy).
                Some(Ok(chunk)) => {
                    self.cur = chunk
                        .try_into_mut()
                        .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                }
                Some(Err(e)) => return Err(e),
                None => {
                    tracing::warn!(have = self.carry.len(), want, "encrypted data ended early");
                    return Err(io(CryptoError::Corrupt("encrypted data ended early")));
                }
            }
        }
    }
}

fn opened(e: std::io::Error) -> std::io::Error {
    tracing::warn!(error = %e, "encrypted package does not open: the read stops");
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::range::plan;
    use proptest::prelude::*;

    fn chunks(data: Vec<u8>, size: usize) -> ByteStream {
        let parts: Vec<std::io::Result<Bytes>> = data
            .chunks(size.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Box::pin(futures::stream::iter(parts))
    }

    async fn collect(s: ByteStream) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut s = s;
        while let Some(c) = s.next().await {
            out.extend_from_slice(&c?);
        }
        Ok(out)
    }

    /// Encrypts `parts` as a multipart object; returns (stored bytes, (number, stored size)).
    async fn encrypt_parts(key: &ObjectKey, parts: &[Vec<u8>]) -> (Vec<u8>, Vec<(u32, u64)>) {
        let mut stored = Vec::new();
        let mut layout = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = i as u32 + 1;
            let sealed = collect(seal(chunks(p.clone(), 5000), key, n).unwrap())
                .await
                .unwrap();
            layout.push((n, sealed.len() as u64));
            stored.extend_from_slice(&sealed);
        }
        (stored, layout)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Any range of any multipart layout decrypts to exactly the plaintext's bytes.
        #[test]
        fn ranges_across_packages_and_parts_match_the_plaintext(
            sizes in proptest::collection::vec(0usize..200_000, 1..4),
            a in 0.0f64..1.0,
            b in 0.0f64..1.0,
            chunk in prop_oneof![1usize..70_000, 65_560usize..1_200_000],
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
            rt.block_on(async {
                let key = ObjectKey::generate().unwrap();
                let parts: Vec<Vec<u8>> = sizes
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| (0..n).map(|j| ((j * 31 + i * 7) % 253) as u8).collect())
                    .collect();
                let plain: Vec<u8> = parts.concat();
                let (stored, layout) = encrypt_parts(&key, &parts).await;
                if plain.is_empty() {
                    return;
                }
                let n = plain.len() as f64;
                let (mut first, mut last) = ((a * n) as u64, (b * n) as u64);
                if first > last {
                    std::mem::swap(&mut first, &mut last);
                }
                let last = last.min(plain.len() as u64 - 1);
                let p = plan(&layout, first, last).unwrap();
                let slice = stored[p.stored_first as usize..=p.stored_last as usize].to_vec();
                let got = collect(open(chunks(slice, chunk), &key, &p).unwrap()).await.unwrap();
                assert_eq!(got, &plain[first as usize..=last as usize]);
            });
        }
    }

    #[tokio::test]
    async fn a_flipped_byte_is_an_error_never_other_bytes() {
        let key = ObjectKey::generate().unwrap();
        let data: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
        let (stored, layout) = encrypt_parts(&key, std::slice::from_ref(&data)).await;
        let p = plan(&layout, 0, data.len() as u64 - 1).unwrap();
        // Chunks smaller than a package (every package gathered from several) and larger
        // (packages opened where they lie, laid end to end).
        let cases = [3usize, 20, 66_000, 140_000, stored.len() - 2]
            .into_iter()
            .flat_map(|at| [(at, 9000), (at, 1 << 20)]);
        for (at, chunk) in cases {
            let mut bad = stored.clone();
            bad[at] ^= 0x40;
            let mut s = open(chunks(bad, chunk), &key, &p).unwrap();
            let mut good_prefix = Vec::new();
            let mut failed = false;
            while let Some(c) = s.next().await {
                match c {
                    Ok(c) => good_prefix.extend_from_slice(&c),
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            assert!(failed, "flip at {at} (chunks of {chunk}) must fail");
            assert_eq!(
                good_prefix,
                data[..good_prefix.len()],
                "only authentic bytes before the error"
            );
        }
    }
}
