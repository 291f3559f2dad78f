//! Follows one request from arrival to the last byte of its answer and then hands its
//! entry to the targets: `Audit::begin` writes the request's part of the entry (client,
//! query, headers) and notes the start time, `Recorder::count` counts the request body's
//! bytes as the handler reads them, and `Recorder::finish` writes the response's part and
//! wraps the response body so that the entry is completed when the body ends, fails or
//! is dropped (a client that hangs up), with the bytes actually sent and the time to the
//! first and last byte, as MinIO measures them. The wrapper passes the body's size hint
//! and end on, so the answer keeps its `Content-Length`.

use super::Audit;
use super::entry::{self, Done};
use crate::body::RespBody;
use crate::objects::BodyStream;
use crate::s3::call::ApiCall;
use bytes::Bytes;
use futures::StreamExt;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

/// Room for a request's part of an entry: a SigV4 request's headers fit.
const REQUEST_PART: usize = 1024;
/// Room for a response's part of an entry.
const RESPONSE_PART: usize = 512;

/// One request being followed. Its part of the entry is written at once (see
/// `entry`): the request's headers are neither copied nor kept.
pub struct Recorder {
    audit: Arc<Audit>,
    started: Instant,
    request: Vec<u8>,
    rx: Arc<AtomicU64>,
}

impl Audit {
    /// Starts following a request; `request_id` is the one the answer carries.
    pub fn begin(self: &Arc<Self>, parts: &http::request::Parts, request_id: &str) -> Recorder {
        let started = Instant::now();
        let mut request = Vec::with_capacity(REQUEST_PART);
        entry::request(
            &mut request,
            parts
                .extensions
                .get::<crate::remote::Remote>()
                .map(|r| r.addr.ip()),
            request_id,
            parts.uri.query().unwrap_or(""),
            &parts.headers,
        );
        Recorder {
            audit: self.clone(),
            started,
            request,
            rx: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Recorder {
    /// The request body, counting the bytes the handler reads.
    pub fn count(&self, body: BodyStream) -> BodyStream {
        let rx = self.rx.clone();
        Box::pin(body.inspect(move |chunk| {
            if let Ok(b) = chunk {
                rx.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        }))
    }

    /// The response, its body wrapped so that the entry is written once it is done.
    /// The S3 facts come from the response's [`ApiCall`], when the S3 layer put one.
    pub fn finish(self, resp: Response<RespBody>) -> Response<RespBody> {
        let call = resp.extensions().get::<ApiCall>();
        let mut response = Vec::with_capacity(RESPONSE_PART);
        entry::api_head(&mut response, call, resp.status().as_u16());
        let api_head = response.len();
        entry::response(&mut response, resp.headers(), call);
        let pending = Pending {
            recorder: self,
            response,
            api_head,
            tx: 0,
            first_byte: None,
        };
        resp.map(|inner| {
            AuditedBody {
                inner,
                pending: Some(Box::new(pending)),
            }
            .boxed_unsync()
        })
    }
}

/// Everything known about the request once its answer has started.
struct Pending {
    recorder: Recorder,
    /// The start of the `api` object (up to `api_head`), then the response's members.
    response: Vec<u8>,
    api_head: usize,
    tx: u64,
    first_byte: Option<std::time::Duration>,
}

impl Pending {
    fn emit(self) {
        let r = self.recorder;
        let done = Done {
            rx: r.rx.load(Ordering::Relaxed),
            tx: self.tx,
            first_byte: self.first_byte,
            response: r.started.elapsed(),
        };
        let (api_head, response) = self.response.split_at(self.api_head);
        let json = entry::assemble(
            &r.audit.deployment_id,
            chrono::Utc::now(),
            api_head,
            &done,
            &r.request,
            response,
        );
        r.audit.submit(&json);
    }
}

/// The response body, counting what is sent; writes the entry at its end or drop.
struct AuditedBody {
    inner: RespBody,
    pending: Option<Box<Pending>>,
}

impl AuditedBody {
    fn done(&mut self) {
        if let Some(p) = self.pending.take() {
            p.emit();
        }
    }
}

impl Body for AuditedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(p)) = (frame.data_ref(), self.pending.as_mut()) {
                    if !data.is_empty() && p.first_byte.is_none() {
                        p.first_byte = Some(p.recorder.started.elapsed());
                    }
                    p.tx += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.done(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for AuditedBody {
    fn drop(&mut self) {
        self.done();
    }
}
