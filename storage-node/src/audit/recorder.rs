//! Follows one request from arrival to the last byte of its answer and then hands its
//! entry to the targets: `Audit::begin` notes the request (headers, query, client,
//! start time), `Recorder::count` counts the request body's bytes as the handler reads
//! them, and `Recorder::finish` wraps the response body so that the entry is written
//! when the body ends, fails or is dropped (a client that hangs up), with the bytes
//! actually sent and the time to the first and last byte, as MinIO measures them.

use super::Audit;
use super::entry::{self, Api, Entry};
use crate::body::RespBody;
use crate::objects::BodyStream;
use crate::s3::call::ApiCall;
use bytes::Bytes;
use futures::StreamExt;
use http::Response;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

/// One request being followed.
pub struct Recorder {
    audit: Arc<Audit>,
    started: Instant,
    request_id: String,
    remotehost: String,
    user_agent: String,
    request_query: BTreeMap<String, String>,
    request_header: BTreeMap<String, String>,
    rx: Arc<AtomicU64>,
}

impl Audit {
    /// Starts following a request; `request_id` is the one the answer carries.
    pub fn begin(self: &Arc<Self>, parts: &http::request::Parts, request_id: &str) -> Recorder {
        Recorder {
            audit: self.clone(),
            started: Instant::now(),
            request_id: request_id.to_string(),
            remotehost: parts
                .extensions
                .get::<crate::remote::Remote>()
                .map(|r| r.addr.ip().to_string())
                .unwrap_or_default(),
            user_agent: parts
                .headers
                .get(http::header::USER_AGENT)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .unwrap_or_default(),
            request_query: entry::query(parts.uri.query().unwrap_or("")),
            request_header: entry::headers(&parts.headers),
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
        let call = resp
            .extensions()
            .get::<ApiCall>()
            .cloned()
            .unwrap_or_default();
        let status = resp.status().as_u16();
        let mut response_header = entry::headers(resp.headers());
        response_header.remove("Set-Cookie");
        if let Some(etag) = response_header.get_mut("Etag") {
            *etag = etag.trim_matches('"').to_string();
        }
        let pending = Pending {
            recorder: self,
            call,
            status,
            response_header,
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
    call: ApiCall,
    status: u16,
    response_header: BTreeMap<String, String>,
    tx: u64,
    first_byte: Option<std::time::Duration>,
}

impl Pending {
    fn emit(self) {
        let r = self.recorder;
        let took = r.started.elapsed();
        let (time_to_response, time_to_response_in_ns) = entry::nanos(took);
        let (time_to_first_byte, time_to_first_byte_in_ns) =
            self.first_byte.map(entry::nanos).unwrap_or_default();
        let e = Entry {
            version: entry::VERSION,
            deploymentid: r.audit.deployment_id.clone(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            event: "incoming",
            trigger: "incoming",
            api: Api {
                name: self.call.name.to_string(),
                bucket: self.call.bucket,
                object: self.call.object,
                status: entry::status_text(self.status),
                status_code: self.status,
                rx: r.rx.load(Ordering::Relaxed),
                tx: self.tx,
                time_to_first_byte,
                time_to_first_byte_in_ns,
                time_to_response,
                time_to_response_in_ns,
            },
            remotehost: r.remotehost,
            request_id: r.request_id,
            user_agent: r.user_agent,
            request_query: r.request_query,
            request_header: r.request_header,
            response_header: self.response_header,
            access_key: self.call.access_key,
            parent_user: self.call.parent_user,
        };
        r.audit.submit(&e);
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
