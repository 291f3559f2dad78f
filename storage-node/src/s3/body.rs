//! Request bodies: `aws-chunked` decoding and integrity checks, applied as the body
//! streams so nothing is buffered whole and a bad body is refused before it is stored.

use super::auth::chunked::{self, ChunkMode};
use super::auth::sigv4::{AuthOutcome, PayloadMode};
use super::checksum;
use super::error::{S3Error, S3Result};
use crate::objects::{BodyStream, ChecksumSlot};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http::HeaderMap;

/// Errors of body handling itself (not of the client's checksums).
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error(
        "Your proposed upload exceeds the maximum allowed size of {0} bytes set by the POST policy"
    )]
    AboveRange(u64),
    #[error(
        "Your proposed upload is smaller than the minimum allowed size of {0} bytes set by the POST policy"
    )]
    BelowRange(u64),
}

impl BodyError {
    pub fn s3_code(&self) -> &'static str {
        match self {
            BodyError::TooLarge(_) | BodyError::AboveRange(_) => "EntityTooLarge",
            BodyError::BelowRange(_) => "EntityTooSmall",
        }
    }
}

/// A decoded body and where its computed checksums will be once it has been read.
pub struct VerifiedBody {
    pub stream: BodyStream,
    pub checksums: ChecksumSlot,
}

fn is_aws_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::CONTENT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.trim().eq_ignore_ascii_case("aws-chunked"))
}

/// The body of a request, decoded and checked as its headers declare. `upload_algorithm`
/// is the checksum algorithm of the multipart upload a part belongs to: the part's
/// checksum is computed with it even when the client sends none, and a part declaring
/// another algorithm is refused, as S3 does.
pub fn verified(
    raw: BodyStream,
    headers: &HeaderMap,
    auth: &AuthOutcome,
    upload_algorithm: Option<checksum::ChecksumAlgorithm>,
) -> S3Result<VerifiedBody> {
    let trailers = chunked::trailer_slot();
    let mode = match (&auth.payload, &auth.chunk_signing) {
        (PayloadMode::StreamingSigned, Some(ctx)) => Some(ChunkMode::Signed(ctx.clone())),
        (PayloadMode::StreamingSignedTrailer, Some(ctx)) => {
            Some(ChunkMode::SignedTrailer(ctx.clone()))
        }
        (PayloadMode::StreamingUnsignedTrailer, _) => Some(ChunkMode::UnsignedTrailer),
        (PayloadMode::StreamingSigned | PayloadMode::StreamingSignedTrailer, None) => {
            return Err(S3Error::internal(
                "streaming signature without signing context",
            ));
        }
        // Some clients mark an unsigned trailer body only by its encoding.
        (PayloadMode::Unsigned, _)
            if is_aws_chunked(headers) && headers.contains_key("x-amz-trailer") =>
        {
            Some(ChunkMode::UnsignedTrailer)
        }
        _ => None,
    };
    let decoded: BodyStream = match mode {
        Some(m) => Box::pin(chunked::decode(raw, m, trailers.clone())),
        None => raw,
    };
    let mut expectations = checksum::expectations_from_headers(headers, &auth.payload, trailers)
        .map_err(|e| S3Error::new(e.s3_code(), e.http_status(), e.message()))?;
    if let Some(want) = upload_algorithm {
        match expectations.checksum_algorithm() {
            None => expectations.requested = Some(want),
            Some(got) if got != want => {
                return Err(S3Error::invalid_request(format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    want.name().to_ascii_lowercase(),
                    got.name().to_ascii_lowercase()
                )));
            }
            Some(_) => {}
        }
    }
    let verifying = checksum::VerifyingStream::new(decoded, expectations);
    let checksums = verifying.computed();
    Ok(VerifiedBody {
        stream: Box::pin(verifying),
        checksums,
    })
}

/// Collects a small body (XML documents), refusing more than `limit` bytes.
pub async fn collect(mut stream: BodyStream, limit: usize) -> S3Result<Bytes> {
    let mut buf = BytesMut::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| S3Error::from(crate::objects::ObjectError::Body(e)))?;
        if buf.len() + chunk.len() > limit {
            return Err(S3Error::from(crate::objects::ObjectError::Body(
                std::io::Error::other(BodyError::TooLarge(limit)),
            )));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
