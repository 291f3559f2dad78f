//! Body streams: one that seals a plaintext body into packages on its way to the
//! drives, one that opens the packages of a read on its way to the client.

use super::CryptoError;
use super::keys::ObjectKey;
use super::package::{Opener, Sealer};
use super::range::Plan;
use bytes::{Bytes, BytesMut};
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
pub fn open(stored: ByteStream, key: &ObjectKey, plan: &Plan) -> Result<ByteStream, CryptoError> {
    let mut segments = VecDeque::new();
    for s in &plan.segments {
        let opener = Opener::new(key.part_key(s.part_number)?, s.first_package, s.part_stored);
        segments.push_back((opener, s.stored_len));
    }
    struct State {
        stored: ByteStream,
        buf: BytesMut,
        segments: VecDeque<(Opener, u64)>,
        skip: u64,
        left: u64,
        failed: bool,
    }
    let state = State {
        stored,
        buf: BytesMut::new(),
        segments,
        skip: plan.skip,
        left: plan.len,
        failed: false,
    };
    Ok(Box::pin(futures::stream::unfold(
        state,
        |mut st| async move {
            loop {
                if st.left == 0 || st.failed {
                    return None;
                }
                let (opener, seg_left) = st.segments.front_mut()?;
                let want = (opener.next_len() as u64).min(*seg_left) as usize;
                if want == 0 {
                    st.segments.pop_front();
                    continue;
                }
                while st.buf.len() < want {
                    match st.stored.next().await {
                        // A chunk nobody else holds is decrypted where it is (no copy).
                        Some(Ok(chunk)) if st.buf.is_empty() => {
                            st.buf = chunk
                                .try_into_mut()
                                .unwrap_or_else(|shared| BytesMut::from(&shared[..]));
                        }
                        Some(Ok(chunk)) => st.buf.extend_from_slice(&chunk),
                        Some(Err(e)) => {
                            st.failed = true;
                            return Some((Err(e), st));
                        }
                        None => {
                            tracing::warn!(have = st.buf.len(), want, "encrypted data ended early");
                            st.failed = true;
                            let e = io(CryptoError::Corrupt("encrypted data ended early"));
                            return Some((Err(e), st));
                        }
                    }
                }
                let package = st.buf.split_to(want);
                let plain = match opener.open(package) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::warn!(error = %e, "encrypted package does not open: the read stops");
                        st.failed = true;
                        return Some((Err(io(e)), st));
                    }
                };
                *seg_left -= want as u64;
                let from = (st.skip as usize).min(plain.len());
                st.skip -= from as u64;
                let to = plain.len().min(from + st.left as usize);
                if from == to {
                    continue;
                }
                st.left -= (to - from) as u64;
                // One frame per package: joining packages into larger frames costs a copy of
                // every byte and measured no faster (bench/sse.sh).
                return Some((Ok(plain.slice(from..to)), st));
            }
        },
    )))
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
            chunk in 1usize..70_000,
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
        for at in [3usize, 20, 66_000, stored.len() - 2] {
            let mut bad = stored.clone();
            bad[at] ^= 0x40;
            let mut s = open(chunks(bad, 9000), &key, &p).unwrap();
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
            assert!(failed, "flip at {at} must fail");
            assert_eq!(
                good_prefix,
                data[..good_prefix.len()],
                "only authentic bytes before the error"
            );
        }
    }
}
