//! Signed frames of a streamed call body (shard writes), as SigV4's streaming payloads:
//! each frame carries its length and a signature over the previous frame's signature (the
//! call's own signature for the first), its length and its bytes. The body ends with a
//! signed empty frame, so a stream cut short is told apart from a complete one. The receiver
//! buffers one frame and checks it before it acts on a byte of it; frames cannot be altered,
//! reordered, dropped, repeated or moved to another call.
//!
//! Frame layout: `u32` length (big-endian), 32-byte HMAC-SHA256, then `length` bytes.

use super::auth::{AuthError, RpcKey, Signature};
use bytes::{Buf, Bytes, BytesMut};
use hmac::Mac;

/// Length of a frame header.
pub const HEADER_LEN: usize = 4 + 32;
/// Largest frame a receiver accepts (shard chunks are at most one erasure block).
pub const MAX_FRAME: usize = 16 << 20;

fn frame_mac(key: &RpcKey, previous: &Signature, data: &[u8]) -> Result<Signature, AuthError> {
    let len = u32::try_from(data.len()).map_err(|_| AuthError::BadFrame("frame too large"))?;
    let mut mac = key.hmac();
    mac.update(b"cairn-rpc-v2-frame\n");
    mac.update(previous);
    mac.update(&len.to_be_bytes());
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// The sending side: turns chunks into frame headers, chaining signatures.
#[derive(Debug)]
pub struct FrameSigner {
    key: RpcKey,
    previous: Signature,
}

impl FrameSigner {
    /// `call` is the signature of the call whose body this is.
    pub fn new(key: RpcKey, call: Signature) -> Self {
        Self {
            key,
            previous: call,
        }
    }

    /// The header to send before `data`.
    pub fn header(&mut self, data: &[u8]) -> Result<Bytes, AuthError> {
        if data.len() > MAX_FRAME {
            return Err(AuthError::BadFrame("frame too large"));
        }
        let sig = frame_mac(&self.key, &self.previous, data)?;
        self.previous = sig;
        let mut h = BytesMut::with_capacity(HEADER_LEN);
        // Fits: checked against MAX_FRAME above.
        h.extend_from_slice(&(data.len() as u32).to_be_bytes());
        h.extend_from_slice(&sig);
        Ok(h.freeze())
    }

    /// The final, empty frame.
    pub fn end(&mut self) -> Result<Bytes, AuthError> {
        self.header(&[])
    }
}

/// The receiving side: collects bytes as they arrive and yields verified frames.
#[derive(Debug)]
pub struct FrameReader {
    key: RpcKey,
    previous: Signature,
    buf: BytesMut,
    ended: bool,
}

impl FrameReader {
    pub fn new(key: RpcKey, call: Signature) -> Self {
        Self {
            key,
            previous: call,
            buf: BytesMut::new(),
            ended: false,
        }
    }

    /// Adds bytes received. Data after the final frame is refused.
    pub fn push(&mut self, data: &[u8]) -> Result<(), AuthError> {
        if self.ended && !data.is_empty() {
            return Err(AuthError::BadFrame("data after the final frame"));
        }
        self.buf.extend_from_slice(data);
        // Check a length as soon as it is known, before buffering a hostile amount.
        self.frame_len()?;
        Ok(())
    }

    fn frame_len(&self) -> Result<Option<usize>, AuthError> {
        let Some(len) = self.buf.get(..4) else {
            return Ok(None);
        };
        let mut be = [0u8; 4];
        be.copy_from_slice(len);
        let len = usize::try_from(u32::from_be_bytes(be))
            .map_err(|_| AuthError::BadFrame("frame too large"))?;
        if len > MAX_FRAME {
            return Err(AuthError::BadFrame("frame too large"));
        }
        Ok(Some(len))
    }

    /// The next complete, verified frame with data, if one is buffered. The final frame is
    /// consumed here and yields nothing.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, AuthError> {
        if self.ended {
            return Ok(None);
        }
        let Some(len) = self.frame_len()? else {
            return Ok(None);
        };
        let total = HEADER_LEN
            .checked_add(len)
            .ok_or(AuthError::BadFrame("frame too large"))?;
        if self.buf.len() < total {
            return Ok(None);
        }
        let mut frame = self.buf.split_to(total);
        let mut given = [0u8; 32];
        given.copy_from_slice(&frame[4..HEADER_LEN]);
        frame.advance(HEADER_LEN);
        let expected = frame_mac(&self.key, &self.previous, &frame)?;
        if !super::auth::constant_time_eq(&expected, &given) {
            return Err(AuthError::FrameMismatch);
        }
        self.previous = expected;
        if frame.is_empty() {
            self.ended = true;
            if !self.buf.is_empty() {
                return Err(AuthError::BadFrame("data after the final frame"));
            }
            return Ok(None);
        }
        Ok(Some(frame.freeze()))
    }

    /// Called when the body ended: it must have ended with the final frame.
    pub fn finish(&self) -> Result<(), AuthError> {
        if self.ended && self.buf.is_empty() {
            Ok(())
        } else {
            Err(AuthError::BadFrame("body ended before its final frame"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> RpcKey {
        RpcKey::derive("admin", "password1", None)
    }

    /// Frames for `chunks`, then the final frame, as one byte string.
    fn stream(key: &RpcKey, call: Signature, chunks: &[&[u8]]) -> Vec<u8> {
        let mut s = FrameSigner::new(key.clone(), call);
        let mut out = Vec::new();
        for c in chunks {
            out.extend_from_slice(&s.header(c).unwrap());
            out.extend_from_slice(c);
        }
        out.extend_from_slice(&s.end().unwrap());
        out
    }

    /// Feeds `bytes` in pieces of `step` and collects verified frames.
    fn read(
        key: &RpcKey,
        call: Signature,
        bytes: &[u8],
        step: usize,
    ) -> Result<Vec<u8>, AuthError> {
        let mut r = FrameReader::new(key.clone(), call);
        let mut out = Vec::new();
        for piece in bytes.chunks(step) {
            r.push(piece)?;
            while let Some(f) = r.next_frame()? {
                out.extend_from_slice(&f);
            }
        }
        r.finish()?;
        Ok(out)
    }

    #[test]
    fn frames_round_trip_however_the_bytes_are_split() {
        let k = key();
        let call = [7u8; 32];
        let s = stream(&k, call, &[b"hello ", b"shard ", &[0u8; 5000]]);
        for step in [1, 3, 36, 37, 1000, s.len()] {
            let got = read(&k, call, &s, step).expect("verifies");
            assert_eq!(got.len(), 12 + 5000);
            assert_eq!(&got[..12], b"hello shard ");
        }
    }

    #[test]
    fn altered_chunk_is_refused() {
        let k = key();
        let call = [7u8; 32];
        let s = stream(&k, call, &[b"first", b"second"]);
        // Flip one data byte of the second frame.
        let mut bad = s.clone();
        let at = HEADER_LEN + 5 + HEADER_LEN + 2;
        bad[at] ^= 1;
        assert_eq!(read(&k, call, &bad, 7), Err(AuthError::FrameMismatch));
        // Another call's signature, another key: refused from the first frame.
        assert_eq!(read(&k, [8u8; 32], &s, 7), Err(AuthError::FrameMismatch));
        let other = RpcKey::derive("admin", "password2", None);
        assert_eq!(read(&other, call, &s, 7), Err(AuthError::FrameMismatch));
        // Frames swapped: the chain breaks.
        let a = stream(&k, call, &[b"aaaa", b"bbbb"]);
        let mut swapped = a[HEADER_LEN + 4..2 * (HEADER_LEN + 4)].to_vec();
        swapped.extend_from_slice(&a[..HEADER_LEN + 4]);
        swapped.extend_from_slice(&a[2 * (HEADER_LEN + 4)..]);
        assert_eq!(read(&k, call, &swapped, 100), Err(AuthError::FrameMismatch));
    }

    #[test]
    fn truncated_or_extended_streams_are_refused() {
        let k = key();
        let call = [7u8; 32];
        let s = stream(&k, call, &[b"first", b"second"]);
        // Without the final frame.
        let cut = &s[..s.len() - HEADER_LEN];
        assert_eq!(
            read(&k, call, cut, 100),
            Err(AuthError::BadFrame("body ended before its final frame"))
        );
        // Cut inside a frame.
        assert!(read(&k, call, &s[..HEADER_LEN + 2], 100).is_err());
        // Bytes after the final frame.
        let mut long = s.clone();
        long.push(0);
        assert_eq!(
            read(&k, call, &long, 100),
            Err(AuthError::BadFrame("data after the final frame"))
        );
    }

    #[test]
    fn hostile_frame_lengths_are_refused_before_buffering() {
        let k = key();
        for len in [u32::MAX, (MAX_FRAME + 1) as u32] {
            let mut r = FrameReader::new(k.clone(), [0u8; 32]);
            let mut h = len.to_be_bytes().to_vec();
            h.extend_from_slice(&[0u8; 32]);
            assert_eq!(r.push(&h), Err(AuthError::BadFrame("frame too large")));
        }
        let mut s = FrameSigner::new(k, [0u8; 32]);
        assert!(s.header(&vec![0u8; MAX_FRAME + 1]).is_err());
    }
}
