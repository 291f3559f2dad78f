//! S3 request metrics of this server under MinIO's v2 names: requests, errors (all,
//! 4xx, 5xx) and time to first byte per API, requests in flight, requests refused
//! before they named an API, and bytes received and sent.
//!
//! The `api` label is the operation's name as the S3 layer reports it in the response's
//! `ApiCall` (`Operation::name`, a fixed table), lower-cased as MinIO's (`putobject`,
//! `listobjectsv2`). A request refused before it was routed (a bad signature, an
//! unknown method) has no API: it is counted once in `requests_rejected_auth_total` or
//! `requests_rejected_invalid_total`, never under a label of its own, so invented
//! methods and paths cannot grow the page.
//!
//! Time to first byte is the time until the S3 layer hands the front its response
//! (status and headers); the body streams after it.

use super::{Kind, Page};
use crate::body::RespBody;
use crate::objects::BodyStream;
use crate::s3::call::ApiCall;
use futures::StreamExt;
use http::{Response, StatusCode};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of MinIO's time-to-first-byte buckets, in seconds (cmd/metrics.go,
/// `s3_ttfb_seconds`).
pub const TTFB_BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// One API's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiStats {
    pub requests: u64,
    pub errors_4xx: u64,
    pub errors_5xx: u64,
    /// Requests answered within each bound of [`TTFB_BUCKETS`] (not cumulative).
    pub ttfb: [u64; TTFB_BUCKETS.len()],
}

#[derive(Debug, Default)]
pub struct S3Metrics {
    /// By `Operation::name`: at most one entry per operation of the S3 API.
    apis: Mutex<BTreeMap<&'static str, ApiStats>>,
    inflight: Arc<AtomicU64>,
    received: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
    rejected_auth: AtomicU64,
    rejected_invalid: AtomicU64,
}

/// A request in flight: counted until this is dropped, which happens once its
/// response body is sent (or the connection is gone). It also counts the bytes sent.
#[derive(Debug)]
pub struct InFlight {
    inflight: Arc<AtomicU64>,
    sent: Arc<AtomicU64>,
}

impl InFlight {
    fn sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl S3Metrics {
    /// Counts a request in flight from now.
    pub fn start(&self) -> InFlight {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        InFlight {
            inflight: self.inflight.clone(),
            sent: self.sent.clone(),
        }
    }

    /// The request body, counting the bytes the handler reads.
    pub fn count_received(&self, body: BodyStream) -> BodyStream {
        let received = self.received.clone();
        Box::pin(body.inspect(move |chunk| {
            if let Ok(b) = chunk {
                received.fetch_add(b.len() as u64, Ordering::Relaxed);
            }
        }))
    }

    /// Records the answer (its API from the `ApiCall` extension, status and time to
    /// first byte) and wraps its body so that the bytes sent are counted and the
    /// request stays in flight until the body is done.
    pub fn finish(
        &self,
        resp: Response<RespBody>,
        ttfb: Duration,
        inflight: InFlight,
    ) -> Response<RespBody> {
        let name = resp.extensions().get::<ApiCall>().map_or("", |c| c.name);
        self.observe(name, resp.status(), ttfb);
        resp.map(|inner| Counted { inner, inflight }.boxed_unsync())
    }

    /// Counts one answer of the API `name` (empty when the request named none).
    pub fn observe(&self, name: &'static str, status: StatusCode, ttfb: Duration) {
        let code = status.as_u16();
        // hyper passes any status up to 999; above 5xx counts as a server error.
        let (client_error, server_error) = ((400..500).contains(&code), code >= 500);
        if name.is_empty() {
            let counter = match status {
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => &self.rejected_auth,
                _ if client_error || server_error => &self.rejected_invalid,
                // Answered without an S3 operation (an STS call): no API to count it by.
                _ => return,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let secs = ttfb.as_secs_f64();
        if let Ok(mut apis) = self.apis.lock() {
            let s = apis.entry(name).or_default();
            s.requests += 1;
            s.errors_4xx += u64::from(client_error);
            s.errors_5xx += u64::from(server_error);
            if let Some(i) = TTFB_BUCKETS.iter().position(|b| secs <= *b) {
                s.ttfb[i] += 1;
            }
        }
    }

    /// S3 bytes received and sent since start (the traffic counters of the page).
    pub fn traffic(&self) -> (u64, u64) {
        (
            self.received.load(Ordering::Relaxed),
            self.sent.load(Ordering::Relaxed),
        )
    }

    /// A copy of the per-API counters, keyed by MinIO's lower-case API label.
    pub fn apis(&self) -> BTreeMap<String, ApiStats> {
        self.apis
            .lock()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn render(&self, page: &mut Page, server: &str) {
        let apis = self.apis();
        type Pick = fn(&ApiStats) -> u64;
        let per_api: [(&str, &str, Pick); 4] = [
            (
                "minio_s3_requests_total",
                "Total number of S3 requests",
                |s| s.requests,
            ),
            (
                "minio_s3_requests_errors_total",
                "Total number of S3 requests with (4xx and 5xx) errors",
                |s| s.errors_4xx + s.errors_5xx,
            ),
            (
                "minio_s3_requests_4xx_errors_total",
                "Total number of S3 requests with (4xx) errors",
                |s| s.errors_4xx,
            ),
            (
                "minio_s3_requests_5xx_errors_total",
                "Total number of S3 requests with (5xx) errors",
                |s| s.errors_5xx,
            ),
        ];
        for (name, help, pick) in per_api {
            page.family(name, Kind::Counter, help);
            for (api, s) in &apis {
                page.sample(name, &[("api", api.as_str()), ("server", server)], pick(s));
            }
        }
        let me = [("server", server)];
        // MinIO's names: gauges ending in `_total`, counters without it. promtool's lint
        // flags both; dashboards query these names, so they stay.
        page.single(
            "minio_s3_requests_inflight_total",
            Kind::Gauge,
            "Total number of S3 requests currently in flight",
            &me,
            self.inflight.load(Ordering::Relaxed),
        );
        page.single(
            "minio_s3_requests_rejected_auth_total",
            Kind::Counter,
            "Total number of S3 requests rejected for auth failure",
            &me,
            self.rejected_auth.load(Ordering::Relaxed),
        );
        page.single(
            "minio_s3_requests_rejected_invalid_total",
            Kind::Counter,
            "Total number of invalid S3 requests",
            &me,
            self.rejected_invalid.load(Ordering::Relaxed),
        );
        page.single(
            "minio_s3_traffic_received_bytes",
            Kind::Counter,
            "Total number of s3 bytes received",
            &me,
            self.received.load(Ordering::Relaxed),
        );
        page.single(
            "minio_s3_traffic_sent_bytes",
            Kind::Counter,
            "Total number of s3 bytes sent",
            &me,
            self.sent.load(Ordering::Relaxed),
        );
        render_ttfb(page, &apis, server);
    }
}

/// MinIO's TTFB distribution: typed `gauge` (as MinIO declares it), one cumulative
/// sample per bucket with `le` written as `%.3f` and a `+Inf` bucket, so that
/// `histogram_quantile` works on it as on MinIO's. promtool's lint flags an `le` label
/// on a gauge; the dashboards expect exactly this, so it stays.
fn render_ttfb(page: &mut Page, apis: &BTreeMap<String, ApiStats>, server: &str) {
    const NAME: &str = "minio_s3_requests_ttfb_seconds_distribution";
    page.family(
        NAME,
        Kind::Gauge,
        "Distribution of time to first byte across API calls",
    );
    for (api, s) in apis {
        let mut cumulative = 0;
        for (bound, n) in TTFB_BUCKETS.iter().zip(s.ttfb) {
            cumulative += n;
            let le = format!("{bound:.3}");
            page.sample(
                NAME,
                &[
                    ("api", api.as_str()),
                    ("le", le.as_str()),
                    ("server", server),
                ],
                cumulative,
            );
        }
        page.sample(
            NAME,
            &[("api", api.as_str()), ("le", "+Inf"), ("server", server)],
            s.requests,
        );
    }
}

/// An answer's body, counting the bytes sent. It passes on the inner body's size and
/// end, so hyper still sends `Content-Length` (a body mapped with `map_frame` loses its
/// size hint and goes out chunked, and a chunked error answer to an upload that was not
/// read can be cut short by the connection's close).
struct Counted {
    inner: RespBody,
    inflight: InFlight,
}

impl http_body::Body for Counted {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let std::task::Poll::Ready(Some(Ok(frame))) = &polled {
            if let Some(data) = frame.data_ref() {
                self.inflight.sent(data.len());
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_without_an_api_share_two_counters() {
        let m = S3Metrics::default();
        for i in 0..1000u16 {
            let status = StatusCode::from_u16(100 + i % 900).unwrap();
            m.observe("", status, Duration::ZERO);
        }
        m.observe("GetObject", StatusCode::OK, Duration::ZERO);
        let apis = m.apis();
        assert_eq!(apis.keys().collect::<Vec<_>>(), ["getobject"]);
        let refused =
            m.rejected_auth.load(Ordering::Relaxed) + m.rejected_invalid.load(Ordering::Relaxed);
        // 400..=999 are errors: 600 of the 1000 statuses.
        assert_eq!(refused, 600);
        assert_eq!(m.rejected_auth.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn statuses_and_ttfb_buckets() {
        let m = S3Metrics::default();
        let ms = Duration::from_millis;
        m.observe("PutObject", StatusCode::OK, ms(10));
        m.observe("PutObject", StatusCode::NOT_FOUND, ms(50));
        m.observe("PutObject", StatusCode::SERVICE_UNAVAILABLE, ms(700));
        m.observe("PutObject", StatusCode::OK, Duration::from_secs(11));
        let s = &m.apis()["putobject"];
        assert_eq!((s.requests, s.errors_4xx, s.errors_5xx), (4, 1, 1));
        // 10 ms and 50 ms in `le=0.050`, 700 ms in `le=1.000`, 11 s only in `+Inf`.
        assert_eq!(s.ttfb, [2, 0, 0, 0, 1, 0, 0, 0]);
        let mut page = Page::default();
        m.render(&mut page, "n1:9000");
        let out = page.out;
        for line in [
            "minio_s3_requests_total{api=\"putobject\",server=\"n1:9000\"} 4",
            "minio_s3_requests_errors_total{api=\"putobject\",server=\"n1:9000\"} 2",
            "minio_s3_requests_ttfb_seconds_distribution{api=\"putobject\",le=\"0.050\",server=\"n1:9000\"} 2",
            "minio_s3_requests_ttfb_seconds_distribution{api=\"putobject\",le=\"0.500\",server=\"n1:9000\"} 2",
            "minio_s3_requests_ttfb_seconds_distribution{api=\"putobject\",le=\"10.000\",server=\"n1:9000\"} 3",
            "minio_s3_requests_ttfb_seconds_distribution{api=\"putobject\",le=\"+Inf\",server=\"n1:9000\"} 4",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
        }
    }

    #[tokio::test]
    async fn in_flight_until_the_body_is_sent() {
        let m = S3Metrics::default();
        let guard = m.start();
        assert_eq!(m.inflight.load(Ordering::Relaxed), 1);
        let resp = Response::new(crate::body::full(bytes::Bytes::from_static(b"hello")));
        let resp = m.finish(resp, Duration::ZERO, guard);
        assert_eq!(m.inflight.load(Ordering::Relaxed), 1);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"hello");
        assert_eq!(m.sent.load(Ordering::Relaxed), 5);
        assert_eq!(m.inflight.load(Ordering::Relaxed), 0);
    }
}
