//! The upload endpoints the page script calls (`assets/console.js`), each one S3 call
//! with the browser's bytes streamed through (never buffered whole):
//!
//! * `PUT  /api/object?bucket&key` — PutObject, for files up to one part;
//! * `POST /api/multipart/create?bucket&key` — CreateMultipartUpload → `{"uploadId"}`;
//! * `PUT  /api/multipart/part?bucket&key&uploadId&partNumber` — UploadPart → `{"etag"}`;
//! * `POST /api/multipart/complete?bucket&key&uploadId` with
//!   `{"parts":[{"partNumber":1,"etag":"..."}]}` — CompleteMultipartUpload;
//! * `POST /api/multipart/abort?bucket&key&uploadId` — AbortMultipartUpload (cancel).
//!
//! The script sends the CSRF token in `x-csrf-token` (checked before this module) and
//! `Content-Length` with every body; it shows a progress bar per file from the XHR
//! upload events. Answers are JSON; errors are `{"error": "..."}` with the S3 status.

use super::super::backend::{Body, Call};
use super::super::error::{ConsoleError, ConsoleResult};
use super::super::form;
use super::super::xml;
use super::buckets::bucket_name;
use super::{Ctx, json};
use crate::body::RespBody;
use crate::objects::BodyStream;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderName, Method, Response, StatusCode};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::json as j;
use std::time::Duration;

/// A body that sends nothing for this long fails its upload.
const IDLE: Duration = Duration::from_secs(30);
/// S3's largest part (and single PUT).
const MAX_PART: u64 = 5 << 30;
/// Largest completion document read (10,000 parts).
const MAX_COMPLETE: usize = 2 << 20;

pub async fn dispatch(
    ctx: &Ctx<'_>,
    parts: &http::request::Parts,
    body: Incoming,
) -> Response<RespBody> {
    let result = match (&parts.method, parts.uri.path()) {
        (&Method::PUT, "/api/object") => put(ctx, parts, body).await,
        (&Method::POST, "/api/multipart/create") => create(ctx, parts).await,
        (&Method::PUT, "/api/multipart/part") => part(ctx, parts, body).await,
        (&Method::POST, "/api/multipart/complete") => complete(ctx, body).await,
        (&Method::POST, "/api/multipart/abort") => abort(ctx).await,
        _ => Err(ConsoleError::Api {
            status: StatusCode::NOT_FOUND,
            code: "NotFound".into(),
            message: "no such console API".into(),
        }),
    };
    result.unwrap_or_else(|e| {
        tracing::debug!(error = %e, "console upload call failed");
        json(e.status(), &j!({ "error": e.to_string() }))
    })
}

/// The request body as a stream that fails after [`IDLE`] without data.
fn stream(body: Incoming) -> BodyStream {
    let frames = http_body_util::BodyStream::new(body);
    Box::pin(futures::stream::unfold(Some(frames), |state| async move {
        let mut frames = state?;
        loop {
            match tokio::time::timeout(IDLE, frames.next()).await {
                Err(_) => {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the browser sent no upload data for 30 s",
                    );
                    return Some((Err(e), None));
                }
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(std::io::Error::other(e)), None)),
                Ok(Some(Ok(f))) => {
                    if let Ok(data) = f.into_data() {
                        return Some((Ok::<Bytes, std::io::Error>(data), Some(frames)));
                    }
                }
            }
        }
    }))
}

/// The body's declared length, required and at most one part.
fn length(parts: &http::request::Parts) -> ConsoleResult<u64> {
    let n = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| ConsoleError::BadRequest("Content-Length is required".into()))?;
    if n > MAX_PART {
        return Err(ConsoleError::BadRequest(
            "a part or single upload is at most 5 GiB".into(),
        ));
    }
    Ok(n)
}

fn target(ctx: &Ctx<'_>) -> ConsoleResult<(String, String)> {
    let bucket = bucket_name(&ctx.query)?;
    let key = ctx.query.required("key")?.to_string();
    Ok((bucket, key))
}

fn upload_id(ctx: &Ctx<'_>) -> ConsoleResult<String> {
    Ok(ctx.query.required("uploadId")?.to_string())
}

fn content_type(parts: &http::request::Parts) -> Option<String> {
    parts
        .headers
        .get("x-upload-content-type")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() < 256)
        .map(str::to_string)
}

fn etag(answer: &super::super::backend::Answer) -> String {
    answer
        .headers
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

async fn put(
    ctx: &Ctx<'_>,
    parts: &http::request::Parts,
    body: Incoming,
) -> ConsoleResult<Response<RespBody>> {
    let (bucket, key) = target(ctx)?;
    let len = length(parts)?;
    let mut call = Call::object(Method::PUT, &bucket, &key).body(Body::Stream(stream(body), len));
    if let Some(ct) = content_type(parts) {
        call = call.header(http::header::CONTENT_TYPE, ct);
    }
    let answer = ctx.call(call).await?;
    tracing::info!(user = %ctx.session.user, bucket = %bucket, key = %key, bytes = len, "console: object uploaded");
    Ok(json(StatusCode::OK, &j!({ "etag": etag(&answer) })))
}

async fn create(ctx: &Ctx<'_>, parts: &http::request::Parts) -> ConsoleResult<Response<RespBody>> {
    let (bucket, key) = target(ctx)?;
    let mut call = Call::object(Method::POST, &bucket, &key).query("uploads", "");
    if let Some(ct) = content_type(parts) {
        call = call.header(http::header::CONTENT_TYPE, ct);
    }
    let text = ctx.call(call).await?.text();
    let id = xml::text(&text, "UploadId")
        .ok_or_else(|| ConsoleError::Internal("no UploadId in the answer".into()))?;
    Ok(json(StatusCode::OK, &j!({ "uploadId": id })))
}

async fn part(
    ctx: &Ctx<'_>,
    parts: &http::request::Parts,
    body: Incoming,
) -> ConsoleResult<Response<RespBody>> {
    let (bucket, key) = target(ctx)?;
    let id = upload_id(ctx)?;
    let number: u32 = ctx
        .query
        .required("partNumber")?
        .parse()
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| ConsoleError::BadRequest("partNumber is 1 to 10000".into()))?;
    let len = length(parts)?;
    let answer = ctx
        .call(
            Call::object(Method::PUT, &bucket, &key)
                .query("partNumber", number.to_string())
                .query("uploadId", id)
                .body(Body::Stream(stream(body), len)),
        )
        .await?;
    Ok(json(StatusCode::OK, &j!({ "etag": etag(&answer) })))
}

#[derive(Debug, Deserialize)]
struct Completion {
    parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
struct CompletedPart {
    #[serde(rename = "partNumber")]
    part_number: u32,
    etag: String,
}

/// The CompleteMultipartUpload document for `parts`.
fn completion_xml(parts: &[CompletedPart]) -> String {
    let mut x = String::from("<CompleteMultipartUpload>");
    for p in parts {
        x.push_str(&format!(
            "<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>",
            p.part_number,
            xml::escape(&p.etag)
        ));
    }
    x.push_str("</CompleteMultipartUpload>");
    x
}

async fn complete(ctx: &Ctx<'_>, body: Incoming) -> ConsoleResult<Response<RespBody>> {
    let (bucket, key) = target(ctx)?;
    let id = upload_id(ctx)?;
    let raw = form::read_bytes(body, MAX_COMPLETE).await?;
    let done: Completion = serde_json::from_slice(&raw)
        .map_err(|e| ConsoleError::BadRequest(format!("completion document: {e}")))?;
    let answer = ctx
        .call(
            Call::object(Method::POST, &bucket, &key)
                .query("uploadId", id)
                .header(HeaderName::from_static("content-type"), "application/xml")
                .body(Body::Bytes(Bytes::from(completion_xml(&done.parts)))),
        )
        .await?;
    // S3 may answer 200 with an error document once the upload is being assembled.
    let text = answer.text();
    if text.contains("<Error>") {
        return Err(super::super::backend::api_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            text.as_bytes(),
        ));
    }
    tracing::info!(user = %ctx.session.user, bucket = %bucket, key = %key, parts = done.parts.len(), "console: multipart upload completed");
    Ok(json(
        StatusCode::OK,
        &j!({ "etag": xml::text(&text, "ETag").unwrap_or_default() }),
    ))
}

async fn abort(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let (bucket, key) = target(ctx)?;
    let id = upload_id(ctx)?;
    ctx.call(Call::object(Method::DELETE, &bucket, &key).query("uploadId", id))
        .await?;
    tracing::info!(user = %ctx.session.user, bucket = %bucket, key = %key, "console: upload cancelled");
    Ok(json(StatusCode::OK, &j!({ "aborted": true })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completion_documents_escape_etags() {
        let x = completion_xml(&[
            CompletedPart {
                part_number: 1,
                etag: "\"abc\"".into(),
            },
            CompletedPart {
                part_number: 2,
                etag: "<x>".into(),
            },
        ]);
        assert_eq!(
            x,
            "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>&quot;abc&quot;</ETag></Part>\
             <Part><PartNumber>2</PartNumber><ETag>&lt;x&gt;</ETag></Part></CompleteMultipartUpload>"
        );
    }
}
