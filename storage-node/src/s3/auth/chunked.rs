//! Decoding of `Content-Encoding: aws-chunked` request bodies, as a streaming adapter.
//!
//! The wire format is `hex-size[;chunk-signature=sig]\r\n<data>\r\n`, repeated, ending
//! with a zero-size chunk, then (trailer modes) `name:value\r\n` trailer lines, an
//! optional `x-amz-trailer-signature:sig\r\n`, and a closing `\r\n`.
//!
//! In the signed modes every chunk's signature chains from the previous one, so a
//! chunk's data is held back until its signature has been checked: nothing unverified
//! ever reaches the object layer. Pieces are zero-copy slices of what the transport
//! delivered, and a chunk is capped at [`MAX_CHUNK_SIZE`], which bounds memory. In the
//! unsigned-trailer mode data streams straight through.
//!
//! Errors surface as an [`io::Error`] wrapping a [`ChunkError`]; use
//! [`ChunkError::from_io`] to recover it and map it to an S3 error code.

use std::collections::VecDeque;
use std::error::Error as StdError;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, HeaderName, HeaderValue};
use sha2::{Digest, Sha256};

use super::sigv4::{EMPTY_SHA256, SigningContext, hmac_sha256, hmac_verify};

/// Largest chunk we accept. SDKs use 64 KiB to 1 MiB; the cap bounds what a signed
/// chunk can make us hold before its signature is checked.
pub const MAX_CHUNK_SIZE: u64 = 16 * 1024 * 1024;
/// Longest chunk-header or trailer line, excluding its CRLF.
pub const MAX_LINE: usize = 4096;
/// Most trailer lines accepted; S3 sends one checksum (plus the signature).
const MAX_TRAILERS: usize = 32;
/// Blank lines tolerated between the final chunk and the first trailer: AWS's own
/// documentation example puts one there, real SDKs do not.
const MAX_BLANKS_BEFORE_TRAILERS: usize = 1;
const TRAILER_SIGNATURE: &str = "x-amz-trailer-signature";

/// Where the decoder leaves the parsed trailing headers, once the body has been read
/// to the end; shared with the checksum verifier, which runs after the decoder.
pub type TrailerSlot = Arc<Mutex<Option<HeaderMap>>>;

/// A fresh, empty [`TrailerSlot`].
pub fn trailer_slot() -> TrailerSlot {
    Arc::new(Mutex::new(None))
}

/// Which `aws-chunked` flavour to expect, from `x-amz-content-sha256`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkMode {
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed, no trailers.
    Signed(SigningContext),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: signed chunks and trailers.
    SignedTrailer(SigningContext),
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: no signatures; trailers optional.
    UnsignedTrailer,
}

impl ChunkMode {
    fn signing(&self) -> Option<&SigningContext> {
        match self {
            Self::Signed(ctx) | Self::SignedTrailer(ctx) => Some(ctx),
            Self::UnsignedTrailer => None,
        }
    }

    fn allows_trailers(&self) -> bool {
        !matches!(self, Self::Signed(_))
    }
}

/// What went wrong in an `aws-chunked` body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The framing is not `aws-chunked` as specified.
    #[error("malformed aws-chunked body: {0}")]
    Malformed(&'static str),
    /// A chunk declared more than [`MAX_CHUNK_SIZE`] bytes.
    #[error("chunk of {0} bytes exceeds the {MAX_CHUNK_SIZE}-byte limit")]
    ChunkTooLarge(u64),
    /// A chunk header or trailer line longer than [`MAX_LINE`].
    #[error("aws-chunked header line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A chunk or trailer signature is absent in a signed mode.
    #[error("chunk signature missing")]
    MissingSignature,
    /// A chunk or trailer signature does not match.
    #[error("chunk signature does not match")]
    SignatureMismatch,
    /// The body ended before the final zero-size chunk.
    #[error("the body ended before the final chunk")]
    Incomplete,
}

impl ChunkError {
    /// The S3 error code to answer with.
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::MissingSignature | Self::SignatureMismatch => "SignatureDoesNotMatch",
            Self::Incomplete => "IncompleteBody",
            Self::Malformed(_) | Self::ChunkTooLarge(_) | Self::LineTooLong => "InvalidRequest",
        }
    }

    /// The HTTP status S3 uses with [`Self::s3_code`]: signature failures are 403.
    pub fn http_status(&self) -> http::StatusCode {
        match self {
            Self::MissingSignature | Self::SignatureMismatch => http::StatusCode::FORBIDDEN,
            _ => http::StatusCode::BAD_REQUEST,
        }
    }

    /// A client-facing message.
    pub fn message(&self) -> String {
        match self {
            Self::MissingSignature | Self::SignatureMismatch => "The request signature we calculated does not match the signature you provided. Check your key and signing method.".to_owned(),
            Self::Incomplete => {
                "You did not provide the number of bytes specified by the Content-Length HTTP header.".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// The [`ChunkError`] inside an error yielded by [`ChunkedDecoder`], if any (it
    /// may instead be a transport error passed through unchanged).
    pub fn from_io(error: &io::Error) -> Option<&ChunkError> {
        error.get_ref()?.downcast_ref::<ChunkError>()
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            Self::Incomplete => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// Wraps `inner` (the raw request body) to yield the decoded payload.
pub fn decode<S, E>(inner: S, mode: ChunkMode, trailers: TrailerSlot) -> ChunkedDecoder<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    ChunkedDecoder {
        inner,
        parser: Parser::new(mode, trailers),
        finished: false,
    }
}

/// Stream adapter returned by [`decode`]. Requires `S: Unpin` to be polled;
/// `Box::pin` other bodies first.
pub struct ChunkedDecoder<S> {
    inner: S,
    parser: Parser,
    finished: bool,
}

impl<S, E> Stream for ChunkedDecoder<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<Box<dyn StdError + Send + Sync>>,
{
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(piece) = this.parser.ready.pop_front() {
                return Poll::Ready(Some(Ok(piece)));
            }
            if this.finished {
                return Poll::Ready(None);
            }
            let step = match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => {
                    this.parser.feed(bytes).map_err(ChunkError::into_io)
                }
                Poll::Ready(Some(Err(error))) => Err(transport_error(error)),
                Poll::Ready(None) => {
                    this.finished = true;
                    this.parser.finish().map_err(ChunkError::into_io)
                }
            };
            if let Err(error) = step {
                // Fuse: nothing after a failure, not even already-decoded data, so a
                // caller that ignores the error still cannot commit a partial body.
                this.finished = true;
                this.parser.ready.clear();
                return Poll::Ready(Some(Err(error)));
            }
        }
    }
}

/// Passes transport errors through, unwrapping ones that already are `io::Error`.
fn transport_error<E: Into<Box<dyn StdError + Send + Sync>>>(error: E) -> io::Error {
    match error.into().downcast::<io::Error>() {
        Ok(io_error) => *io_error,
        Err(other) => io::Error::other(other),
    }
}

/// Where the parser is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a `size;extensions` line.
    Header,
    /// Inside a chunk's data, with this many bytes to go.
    Data { remaining: u64 },
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the final chunk: trailer lines, then a blank line.
    Trailer,
    /// The body is complete.
    Done,
}

/// The push parser behind [`ChunkedDecoder`]: fed raw bytes, it queues decoded
/// pieces in `ready`.
struct Parser {
    mode: ChunkMode,
    state: State,
    /// Partial header/trailer line carried across transport frames.
    line: Vec<u8>,
    /// Signature the current chunk must carry (signed modes).
    expected: Option<[u8; 32]>,
    /// Signature of the previous chunk (hex), which the next one chains from.
    previous: String,
    hasher: Sha256,
    /// Data of the current signed chunk, held until its signature checks out.
    held: Vec<Bytes>,
    ready: VecDeque<Bytes>,
    trailers: HeaderMap,
    /// `name:value\n` per trailer: what the trailer signature covers.
    canonical_trailers: Vec<u8>,
    trailer_signature: Option<String>,
    blanks: usize,
    slot: TrailerSlot,
}

impl Parser {
    fn new(mode: ChunkMode, slot: TrailerSlot) -> Self {
        let previous = mode
            .signing()
            .map(|ctx| ctx.seed_signature.to_ascii_lowercase())
            .unwrap_or_default();
        Self {
            mode,
            state: State::Header,
            line: Vec::new(),
            expected: None,
            previous,
            hasher: Sha256::new(),
            held: Vec::new(),
            ready: VecDeque::new(),
            trailers: HeaderMap::new(),
            canonical_trailers: Vec::new(),
            trailer_signature: None,
            blanks: 0,
            slot,
        }
    }

    /// Consumes one transport frame.
    fn feed(&mut self, mut input: Bytes) -> Result<(), ChunkError> {
        while !input.is_empty() {
            match self.state {
                State::Header | State::DataEnd | State::Trailer => {
                    if let Some(line) = self.take_line(&mut input)? {
                        self.on_line(&line)?;
                    }
                }
                State::Data { remaining } => self.take_data(&mut input, remaining)?,
                State::Done => {
                    // Tolerate stray line ends after the body; anything else is not
                    // part of an aws-chunked payload.
                    if input.iter().any(|b| !matches!(b, b'\r' | b'\n')) {
                        return Err(ChunkError::Malformed("data after the final chunk"));
                    }
                    input.clear();
                }
            }
        }
        Ok(())
    }

    /// Called at end of input. A missing final CRLF (some SDKs) is tolerated.
    fn finish(&mut self) -> Result<(), ChunkError> {
        match self.state {
            State::Done => Ok(()),
            State::Trailer => {
                if !self.line.is_empty() {
                    let line = std::mem::take(&mut self.line);
                    let line = line.strip_suffix(b"\r").unwrap_or(&line).to_vec();
                    self.on_line(&line)?;
                }
                if self.state == State::Trailer {
                    self.complete()?;
                }
                Ok(())
            }
            State::Header | State::Data { .. } | State::DataEnd => Err(ChunkError::Incomplete),
        }
    }

    /// Accumulates up to the next LF; returns the line without its CR/LF once whole.
    fn take_line(&mut self, input: &mut Bytes) -> Result<Option<Vec<u8>>, ChunkError> {
        let newline = input.iter().position(|&b| b == b'\n');
        let take = newline.map_or(input.len(), |at| at + 1);
        let piece = input.split_to(take);
        // +2 leaves room for the CRLF itself.
        if self.line.len() + piece.len() > MAX_LINE + 2 {
            return Err(ChunkError::LineTooLong);
        }
        self.line.extend_from_slice(&piece);
        if newline.is_none() {
            return Ok(None);
        }
        let mut line = std::mem::take(&mut self.line);
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > MAX_LINE {
            return Err(ChunkError::LineTooLong);
        }
        Ok(Some(line))
    }

    fn on_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        match self.state {
            State::Header => self.on_chunk_header(line),
            State::DataEnd if line.is_empty() => {
                self.state = State::Header;
                Ok(())
            }
            State::DataEnd => Err(ChunkError::Malformed("chunk data not followed by CRLF")),
            State::Trailer => self.on_trailer_line(line),
            State::Data { .. } | State::Done => Ok(()),
        }
    }

    fn on_chunk_header(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        let header = parse_chunk_header(line)?;
        if header.size > MAX_CHUNK_SIZE {
            return Err(ChunkError::ChunkTooLarge(header.size));
        }
        self.expected = match (&self.mode, header.signature) {
            (ChunkMode::UnsignedTrailer, _) => None,
            (_, Some(signature)) => Some(signature),
            (_, None) => return Err(ChunkError::MissingSignature),
        };
        if header.size == 0 {
            self.verify_chunk()?;
            self.state = State::Trailer;
        } else {
            self.state = State::Data {
                remaining: header.size,
            };
        }
        Ok(())
    }

    fn take_data(&mut self, input: &mut Bytes, remaining: u64) -> Result<(), ChunkError> {
        let available = u64::try_from(input.len()).unwrap_or(u64::MAX);
        let count = remaining.min(available);
        // `count <= input.len()`, so it fits in usize.
        let piece = input.split_to(usize::try_from(count).unwrap_or(input.len()));
        let remaining = remaining - count;
        if self.mode.signing().is_some() {
            self.hasher.update(&piece);
            self.held.push(piece);
        } else {
            self.ready.push_back(piece);
        }
        if remaining == 0 {
            self.verify_chunk()?;
            self.ready.extend(self.held.drain(..));
            self.state = State::DataEnd;
        } else {
            self.state = State::Data { remaining };
        }
        Ok(())
    }

    /// Checks the current chunk's signature (no-op when unsigned) and advances the
    /// chain.
    fn verify_chunk(&mut self) -> Result<(), ChunkError> {
        let digest = self.hasher.finalize_reset();
        let (Some(ctx), Some(expected)) = (self.mode.signing(), self.expected.take()) else {
            return Ok(());
        };
        let to_sign = chunk_string_to_sign(ctx, &self.previous, &hex::encode(digest));
        if !hmac_verify(&ctx.signing_key, to_sign.as_bytes(), &expected) {
            return Err(ChunkError::SignatureMismatch);
        }
        self.previous = hex::encode(expected);
        Ok(())
    }

    fn on_trailer_line(&mut self, line: &[u8]) -> Result<(), ChunkError> {
        if line.is_empty() {
            let nothing_yet = self.trailers.is_empty() && self.trailer_signature.is_none();
            if nothing_yet
                && self.mode.allows_trailers()
                && self.blanks < MAX_BLANKS_BEFORE_TRAILERS
            {
                self.blanks += 1;
                return Ok(());
            }
            return self.complete();
        }
        if !self.mode.allows_trailers() {
            return Err(ChunkError::Malformed("trailers in a mode without trailers"));
        }
        if self.trailer_signature.is_some() {
            return Err(ChunkError::Malformed("trailer after the trailer signature"));
        }
        let (name, value) = parse_trailer_line(line)?;
        if name == TRAILER_SIGNATURE {
            self.trailer_signature = Some(value.to_owned());
            return Ok(());
        }
        if self.trailers.len() >= MAX_TRAILERS {
            return Err(ChunkError::Malformed("too many trailers"));
        }
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ChunkError::Malformed("invalid trailer name"))?;
        let header_value = HeaderValue::from_str(value)
            .map_err(|_| ChunkError::Malformed("invalid trailer value"))?;
        self.canonical_trailers
            .extend_from_slice(format!("{name}:{value}\n").as_bytes());
        self.trailers.append(header_name, header_value);
        Ok(())
    }

    /// Verifies the trailer signature (signed-trailer mode) and publishes the
    /// trailers; the body is then complete.
    fn complete(&mut self) -> Result<(), ChunkError> {
        if let ChunkMode::SignedTrailer(ctx) = &self.mode {
            match &self.trailer_signature {
                Some(signature) => {
                    let mut provided = [0u8; 32];
                    hex::decode_to_slice(signature, &mut provided)
                        .map_err(|_| ChunkError::SignatureMismatch)?;
                    let to_sign =
                        trailer_string_to_sign(ctx, &self.previous, &self.canonical_trailers);
                    if !hmac_verify(&ctx.signing_key, to_sign.as_bytes(), &provided) {
                        return Err(ChunkError::SignatureMismatch);
                    }
                }
                None if !self.trailers.is_empty() => return Err(ChunkError::MissingSignature),
                None => {}
            }
        }
        let trailers = std::mem::take(&mut self.trailers);
        match self.slot.lock() {
            Ok(mut slot) => *slot = Some(trailers),
            Err(poisoned) => *poisoned.into_inner() = Some(trailers),
        }
        self.state = State::Done;
        Ok(())
    }
}

/// A parsed `size[;chunk-signature=...]` line.
struct ChunkHeader {
    size: u64,
    signature: Option<[u8; 32]>,
}

fn parse_chunk_header(line: &[u8]) -> Result<ChunkHeader, ChunkError> {
    let text =
        std::str::from_utf8(line).map_err(|_| ChunkError::Malformed("non-ASCII chunk header"))?;
    let mut parts = text.split(';');
    let size_text = parts.next().unwrap_or_default().trim();
    if size_text.is_empty() || size_text.len() > 16 {
        return Err(ChunkError::Malformed("invalid chunk size"));
    }
    let size = u64::from_str_radix(size_text, 16)
        .map_err(|_| ChunkError::Malformed("invalid chunk size"))?;
    let mut signature = None;
    for extension in parts {
        let (name, value) = extension.split_once('=').unwrap_or((extension, ""));
        if name.trim() == "chunk-signature" {
            let mut decoded = [0u8; 32];
            hex::decode_to_slice(value.trim(), &mut decoded)
                .map_err(|_| ChunkError::SignatureMismatch)?;
            signature = Some(decoded);
        }
    }
    Ok(ChunkHeader { size, signature })
}

/// Splits `name:value`, lower-casing the name and trimming the value.
fn parse_trailer_line(line: &[u8]) -> Result<(String, &str), ChunkError> {
    let text = std::str::from_utf8(line).map_err(|_| ChunkError::Malformed("non-ASCII trailer"))?;
    let (name, value) = text
        .split_once(':')
        .ok_or(ChunkError::Malformed("trailer without a colon"))?;
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(ChunkError::Malformed("trailer with an empty name"));
    }
    Ok((name, value.trim()))
}

fn chunk_string_to_sign(ctx: &SigningContext, previous: &str, chunk_hash_hex: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256-PAYLOAD\n{}\n{}\n{previous}\n{EMPTY_SHA256}\n{chunk_hash_hex}",
        ctx.amz_date, ctx.scope
    )
}

fn trailer_string_to_sign(ctx: &SigningContext, previous: &str, canonical: &[u8]) -> String {
    format!(
        "AWS4-HMAC-SHA256-TRAILER\n{}\n{}\n{previous}\n{}",
        ctx.amz_date,
        ctx.scope,
        hex::encode(Sha256::digest(canonical))
    )
}

/// Client side: the signature of one chunk chained from `previous` (hex).
pub fn chunk_signature(ctx: &SigningContext, previous: &str, chunk: &[u8]) -> String {
    let to_sign = chunk_string_to_sign(ctx, previous, &hex::encode(Sha256::digest(chunk)));
    hex::encode(hmac_sha256(&ctx.signing_key, to_sign.as_bytes()))
}

/// Client side: the trailer signature over `trailers` chained from `previous`.
pub fn trailer_signature(
    ctx: &SigningContext,
    previous: &str,
    trailers: &[(&str, &str)],
) -> String {
    let canonical: String = trailers
        .iter()
        .map(|(name, value)| format!("{}:{}\n", name.to_ascii_lowercase(), value.trim()))
        .collect();
    let to_sign = trailer_string_to_sign(ctx, previous, canonical.as_bytes());
    hex::encode(hmac_sha256(&ctx.signing_key, to_sign.as_bytes()))
}

/// Client side: encodes `data` as an `aws-chunked` body the way AWS SDKs do, for
/// tests and the benchmark client. `chunk_size` 0 means one chunk.
pub fn encode(
    data: &[u8],
    chunk_size: usize,
    mode: &ChunkMode,
    trailers: &[(&str, &str)],
) -> Vec<u8> {
    let size = if chunk_size == 0 {
        data.len().max(1)
    } else {
        chunk_size
    };
    let mut out = Vec::with_capacity(data.len() + data.len() / size * 100 + 256);
    let signing = mode.signing();
    let mut previous = signing
        .map(|ctx| ctx.seed_signature.clone())
        .unwrap_or_default();
    let mut write_chunk = |out: &mut Vec<u8>, chunk: &[u8]| {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if let Some(ctx) = signing {
            previous = chunk_signature(ctx, &previous, chunk);
            out.extend_from_slice(format!(";chunk-signature={previous}").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(chunk);
        if !chunk.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
    };
    for chunk in data.chunks(size) {
        write_chunk(&mut out, chunk);
    }
    write_chunk(&mut out, &[]);
    if mode.allows_trailers() {
        for (name, value) in trailers {
            out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        }
        if let ChunkMode::SignedTrailer(ctx) = mode {
            let signature = trailer_signature(ctx, &previous, trailers);
            out.extend_from_slice(format!("{TRAILER_SIGNATURE}:{signature}\r\n").as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::auth::sigv4::signing_key;
    use futures::channel::mpsc;
    use futures::executor::block_on;
    use futures::{FutureExt, StreamExt, stream};
    use proptest::prelude::*;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
    const SIGS: [&str; 3] = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ];
    const TRAILER_SEED: &str = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e";
    const TRAILER_SIGS: [&str; 3] = [
        "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
        "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
        "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
    ];
    const TRAILER_SIG: &str = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435";

    fn ctx(seed: &str) -> SigningContext {
        SigningContext {
            signing_key: signing_key(SECRET, "20130524", "us-east-1", "s3"),
            amz_date: "20130524T000000Z".to_owned(),
            scope: "20130524/us-east-1/s3/aws4_request".to_owned(),
            seed_signature: seed.to_owned(),
        }
    }

    /// The body of the AWS chunked-upload example: 64 KiB + 1 KiB of `a`.
    fn doc_body(sigs: [&str; 3], between: &[u8], trailer: &[u8]) -> Vec<u8> {
        let mut body = format!("10000;chunk-signature={}\r\n", sigs[0]).into_bytes();
        body.extend_from_slice(&[b'a'; 65_536]);
        body.extend_from_slice(format!("\r\n400;chunk-signature={}\r\n", sigs[1]).as_bytes());
        body.extend_from_slice(&[b'a'; 1024]);
        body.extend_from_slice(format!("\r\n0;chunk-signature={}\r\n", sigs[2]).as_bytes());
        body.extend_from_slice(between);
        body.extend_from_slice(trailer);
        body
    }

    /// Feeds `body` in pieces of the given sizes (cycled) and collects the output.
    fn run(
        body: &[u8],
        splits: &[usize],
        mode: ChunkMode,
    ) -> (Result<Vec<u8>, io::Error>, TrailerSlot) {
        let mut frames = Vec::new();
        let mut at = 0;
        let mut sizes = splits.iter().copied().filter(|&s| s > 0).cycle();
        while at < body.len() {
            let size = sizes.next().unwrap_or(body.len());
            let end = (at + size).min(body.len());
            frames.push(Ok::<_, io::Error>(Bytes::copy_from_slice(&body[at..end])));
            at = end;
        }
        let slot = trailer_slot();
        let decoder = decode(stream::iter(frames), mode, slot.clone());
        let result = block_on(decoder.collect::<Vec<_>>()).into_iter().try_fold(
            Vec::new(),
            |mut out, piece| {
                out.extend_from_slice(&piece?);
                Ok(out)
            },
        );
        (result, slot)
    }

    fn chunk_error(result: Result<Vec<u8>, io::Error>) -> ChunkError {
        let error = result.expect_err("decoding must fail");
        ChunkError::from_io(&error).cloned().expect("a ChunkError")
    }

    fn trailer(slot: &TrailerSlot, name: &str) -> Option<String> {
        let guard = slot.lock().ok()?;
        let value = guard.as_ref()?.get(name)?;
        value.to_str().ok().map(str::to_owned)
    }

    /// The server moves bodies across tasks; the adapter must not stop that.
    #[test]
    fn decoder_is_send_and_sync_over_a_boxed_body() {
        fn assert_send_sync<T: Send + Sync>() {}
        type Body = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send + Sync>>;
        assert_send_sync::<ChunkedDecoder<Body>>();
    }

    #[test]
    fn aws_documented_signatures_are_produced() {
        let ctx = ctx(SEED);
        let first = chunk_signature(&ctx, SEED, &[b'a'; 65_536]);
        assert_eq!(first, SIGS[0]);
        let second = chunk_signature(&ctx, &first, &[b'a'; 1024]);
        assert_eq!(second, SIGS[1]);
        assert_eq!(chunk_signature(&ctx, &second, b""), SIGS[2]);
        let signed = encode(&[b'a'; 66_560], 65_536, &ChunkMode::Signed(ctx), &[]);
        assert_eq!(signed, doc_body(SIGS, b"", b"\r\n"));
        assert_eq!(signed.len(), 66_824, "the documented Content-Length");
    }

    #[test]
    fn aws_documented_chunked_body_decodes() {
        let body = doc_body(SIGS, b"", b"\r\n");
        for split in [1, 7, 100, 4096, 65_536, 65_600, body.len()] {
            let (result, slot) = run(&body, &[split], ChunkMode::Signed(ctx(SEED)));
            assert_eq!(
                result.expect("decodes"),
                vec![b'a'; 66_560],
                "split {split}"
            );
            assert!(trailer(&slot, "x-amz-checksum-crc32c").is_none());
        }
        // Without the final CRLF (some SDKs).
        let short = doc_body(SIGS, b"", b"");
        let (result, _) = run(&short, &[333], ChunkMode::Signed(ctx(SEED)));
        assert_eq!(result.expect("lenient").len(), 66_560);
    }

    #[test]
    fn aws_documented_trailer_body_decodes_in_both_layouts() {
        let ctx = ctx(TRAILER_SEED);
        let lines =
            format!("x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{TRAILER_SIG}\r\n");
        assert_eq!(
            trailer_signature(
                &ctx,
                TRAILER_SIGS[2],
                &[("x-amz-checksum-crc32c", "sOO8/Q==")]
            ),
            TRAILER_SIG
        );
        // As SDKs send it, and as the AWS page prints it (blank line before the
        // trailers, no closing CRLF).
        let sdk = doc_body(TRAILER_SIGS, b"", format!("{lines}\r\n").as_bytes());
        let doc = doc_body(TRAILER_SIGS, b"\r\n", lines.as_bytes());
        assert_eq!(
            encode(
                &[b'a'; 66_560],
                65_536,
                &ChunkMode::SignedTrailer(ctx.clone()),
                &[("x-amz-checksum-crc32c", "sOO8/Q==")]
            ),
            sdk
        );
        for body in [sdk, doc] {
            for split in [1, 13, 65_540, body.len()] {
                let (result, slot) = run(&body, &[split], ChunkMode::SignedTrailer(ctx.clone()));
                assert_eq!(result.expect("decodes").len(), 66_560);
                assert_eq!(
                    trailer(&slot, "x-amz-checksum-crc32c").as_deref(),
                    Some("sOO8/Q==")
                );
            }
        }
    }

    #[test]
    fn tampered_trailer_or_missing_trailer_signature_is_rejected() {
        let ctx = ctx(TRAILER_SEED);
        let forged = doc_body(
            TRAILER_SIGS,
            b"",
            format!(
                "x-amz-checksum-crc32c:AAAAAA==\r\nx-amz-trailer-signature:{TRAILER_SIG}\r\n\r\n"
            )
            .as_bytes(),
        );
        let (result, slot) = run(&forged, &[4096], ChunkMode::SignedTrailer(ctx.clone()));
        assert_eq!(chunk_error(result), ChunkError::SignatureMismatch);
        assert!(
            slot.lock().map(|s| s.is_none()).unwrap_or(false),
            "no trailers published"
        );
        let unsigned = doc_body(TRAILER_SIGS, b"", b"x-amz-checksum-crc32c:sOO8/Q==\r\n\r\n");
        let (result, _) = run(&unsigned, &[4096], ChunkMode::SignedTrailer(ctx));
        assert_eq!(chunk_error(result), ChunkError::MissingSignature);
    }

    #[test]
    fn bad_chunk_signature_releases_no_data() {
        let mut body = doc_body(SIGS, b"", b"\r\n");
        body[100] = b'b';
        let slot = trailer_slot();
        let frames = body
            .chunks(1000)
            .map(|c| Ok::<_, io::Error>(Bytes::copy_from_slice(c)));
        let items = block_on(
            decode(
                stream::iter(frames.collect::<Vec<_>>()),
                ChunkMode::Signed(ctx(SEED)),
                slot,
            )
            .collect::<Vec<_>>(),
        );
        assert_eq!(items.len(), 1, "only the error, no unverified data");
        let error = items
            .into_iter()
            .next()
            .and_then(Result::err)
            .expect("an error");
        assert_eq!(
            ChunkError::from_io(&error),
            Some(&ChunkError::SignatureMismatch)
        );
        assert_eq!(
            ChunkError::SignatureMismatch.s3_code(),
            "SignatureDoesNotMatch"
        );
    }

    #[test]
    fn wrong_seed_reordered_or_truncated_chains_fail() {
        let body = doc_body(SIGS, b"", b"\r\n");
        let (result, _) = run(&body, &[65_536], ChunkMode::Signed(ctx(TRAILER_SEED)));
        assert_eq!(chunk_error(result), ChunkError::SignatureMismatch);
        // Dropping the final chunk is an incomplete body, never a silent success.
        let cut = body.len() - 90;
        let (result, _) = run(&body[..cut], &[65_536], ChunkMode::Signed(ctx(SEED)));
        assert_eq!(chunk_error(result), ChunkError::Incomplete);
        let unsigned = b"3\r\nabc\r\n0\r\n\r\n";
        let (result, _) = run(unsigned, &[5], ChunkMode::Signed(ctx(SEED)));
        assert_eq!(chunk_error(result), ChunkError::MissingSignature);
    }

    #[test]
    fn unsigned_trailer_body_streams_and_publishes_trailers() {
        let body = b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:NSRBwg==\r\n\r\n";
        for split in 1..body.len() {
            let (result, slot) = run(body, &[split], ChunkMode::UnsignedTrailer);
            assert_eq!(result.expect("decodes"), b"abc");
            assert_eq!(
                trailer(&slot, "x-amz-checksum-crc32").as_deref(),
                Some("NSRBwg==")
            );
        }
        let encoded = encode(
            b"abc",
            0,
            &ChunkMode::UnsignedTrailer,
            &[("x-amz-checksum-crc32", "NSRBwg==")],
        );
        assert_eq!(encoded, body);
        // No trailers at all, and no closing CRLF.
        let (result, slot) = run(b"3\r\nabc\r\n0\r\n", &[2], ChunkMode::UnsignedTrailer);
        assert_eq!(result.expect("decodes"), b"abc");
        assert!(
            slot.lock()
                .map(|s| s.as_ref().is_some_and(HeaderMap::is_empty))
                .unwrap_or(false)
        );
    }

    #[test]
    fn unsigned_data_is_released_before_the_chunk_ends_but_signed_is_not() {
        let (tx, rx) = mpsc::unbounded::<Result<Bytes, io::Error>>();
        let mut decoder = decode(rx, ChunkMode::UnsignedTrailer, trailer_slot());
        tx.unbounded_send(Ok(Bytes::from_static(b"a\r\nhello")))
            .ok();
        let first = decoder.next().now_or_never().flatten().and_then(Result::ok);
        assert_eq!(first.as_deref(), Some(&b"hello"[..]));

        let (tx, rx) = mpsc::unbounded::<Result<Bytes, io::Error>>();
        let mut decoder = decode(rx, ChunkMode::Signed(ctx(SEED)), trailer_slot());
        let body = doc_body(SIGS, b"", b"\r\n");
        tx.unbounded_send(Ok(Bytes::copy_from_slice(&body[..60_000])))
            .ok();
        assert!(
            decoder.next().now_or_never().is_none(),
            "held until verified"
        );
        tx.unbounded_send(Ok(Bytes::copy_from_slice(&body[60_000..])))
            .ok();
        drop(tx);
        let total: usize = block_on(decoder.collect::<Vec<_>>())
            .into_iter()
            .map(|piece| piece.map(|b| b.len()).unwrap_or(0))
            .sum();
        assert_eq!(total, 66_560);
    }

    #[test]
    fn limits_and_malformed_framing() {
        let huge = format!("{:x}\r\n", MAX_CHUNK_SIZE + 1);
        let (result, _) = run(huge.as_bytes(), &[3], ChunkMode::UnsignedTrailer);
        assert_eq!(
            chunk_error(result),
            ChunkError::ChunkTooLarge(MAX_CHUNK_SIZE + 1)
        );
        let long = vec![b'1'; MAX_LINE + 10];
        let (result, _) = run(&long, &[1000], ChunkMode::UnsignedTrailer);
        assert_eq!(chunk_error(result), ChunkError::LineTooLong);
        let cases: [&[u8]; 8] = [
            b"zz\r\nabc\r\n0\r\n\r\n",
            b"3\r\nabcX\r\n0\r\n\r\n",
            b"\r\n",
            b"3\r\nabc\r\n0\r\n\r\ngarbage",
            b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n",
            b"3\r\nabc\r\n0\r\nbad name:x\r\n\r\n",
            b"11111111111111111\r\n",
            b"3\r\nab",
        ];
        for body in cases {
            let (result, _) = run(body, &[2], ChunkMode::UnsignedTrailer);
            let error = chunk_error(result);
            assert!(
                matches!(error.s3_code(), "InvalidRequest" | "IncompleteBody"),
                "{body:?}: {error:?}"
            );
        }
        let (result, _) = run(b"", &[1], ChunkMode::UnsignedTrailer);
        assert_eq!(chunk_error(result), ChunkError::Incomplete);
    }

    #[test]
    fn transport_errors_pass_through() {
        let frames = vec![
            Ok(Bytes::from_static(b"3\r\nab")),
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset")),
        ];
        let items = block_on(
            decode(
                stream::iter(frames),
                ChunkMode::UnsignedTrailer,
                trailer_slot(),
            )
            .collect::<Vec<_>>(),
        );
        let error = items.into_iter().find_map(Result::err).expect("error");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
        assert!(ChunkError::from_io(&error).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Any fragmentation of the transport yields the same payload and trailers.
        #[test]
        fn fragmentation_does_not_matter(
            data in prop::collection::vec(any::<u8>(), 0..20_000),
            chunk in 1usize..9000,
            splits in prop::collection::vec(1usize..3000, 1..12),
            signed in any::<bool>(),
        ) {
            let mode = if signed { ChunkMode::SignedTrailer(ctx(SEED)) } else { ChunkMode::UnsignedTrailer };
            let body = encode(&data, chunk, &mode, &[("x-amz-checksum-crc32", "AAAAAA==")]);
            let (result, slot) = run(&body, &splits, mode);
            prop_assert_eq!(result.expect("decodes"), data);
            let value = trailer(&slot, "x-amz-checksum-crc32");
            prop_assert_eq!(value.as_deref(), Some("AAAAAA=="));
        }

        /// Arbitrary bytes never panic, whatever the mode.
        #[test]
        fn garbage_never_panics(
            body in prop::collection::vec(any::<u8>(), 0..600),
            split in 1usize..64,
        ) {
            let _ = run(&body, &[split], ChunkMode::UnsignedTrailer);
            let _ = run(&body, &[split], ChunkMode::SignedTrailer(ctx(SEED)));
        }

        /// Flipping any byte of a signed body is detected (or it is framing damage).
        #[test]
        fn any_flipped_byte_is_rejected(at in 0usize..2300, bit in 0u8..8) {
            let data: Vec<u8> = (0..2000u32).map(|n| (n % 251) as u8).collect();
            let body = encode(&data, 700, &ChunkMode::Signed(ctx(SEED)), &[]);
            let mut damaged = body.clone();
            let at = at % body.len();
            damaged[at] ^= 1 << bit;
            let (result, _) = run(&damaged, &[97], ChunkMode::Signed(ctx(SEED)));
            // Hex digits may flip case (`a` <-> `A`) and still decode identically.
            if let Ok(out) = result {
                prop_assert_eq!(out, data);
            }
        }
    }
}
