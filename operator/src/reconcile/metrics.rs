//! The operator's own metrics and health, served on one port (`--metrics-address`):
//! `/metrics` (Prometheus text format), `/healthz` (the process and its controller loop
//! are alive) and `/readyz` (this replica leads, or waits for the lease as a standby: both
//! are ready states, so a standby is not restarted).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Upper bounds (seconds) of the reconcile duration histogram.
const BUCKETS: [f64; 8] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Counters and gauges, updated by the controller.
#[derive(Debug, Default)]
pub struct Metrics {
    reconciles: AtomicU64,
    failures: AtomicU64,
    controller_errors: AtomicU64,
    pods_restarted: AtomicU64,
    duration_micros: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
    leader: AtomicBool,
    running: AtomicBool,
}

impl Metrics {
    pub fn reconciled(&self, took: Duration) {
        self.reconciles.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.duration_micros.fetch_add(micros, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                count.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    pub fn reconcile_failed(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
    pub fn controller_error(&self) {
        self.controller_errors.fetch_add(1, Ordering::Relaxed);
    }
    pub fn pods_restarted(&self, n: usize) {
        self.pods_restarted
            .fetch_add(u64::try_from(n).unwrap_or(0), Ordering::Relaxed);
    }
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let count = get(&self.reconciles);
        let mut out = String::new();
        let mut metric = |name: &str, kind: &str, help: &str, lines: Vec<String>| {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        };
        metric(
            "cairn_operator_reconciliations_total",
            "counter",
            "Tenant reconciliations run.",
            vec![format!("cairn_operator_reconciliations_total {count}")],
        );
        metric(
            "cairn_operator_reconcile_errors_total",
            "counter",
            "Tenant reconciliations that failed and were requeued with backoff.",
            vec![format!(
                "cairn_operator_reconcile_errors_total {}",
                get(&self.failures)
            )],
        );
        metric(
            "cairn_operator_controller_errors_total",
            "counter",
            "Errors of the controller machinery (watches, queue).",
            vec![format!(
                "cairn_operator_controller_errors_total {}",
                get(&self.controller_errors)
            )],
        );
        metric(
            "cairn_operator_pods_restarted_total",
            "counter",
            "Server pods deleted by the operator to roll them to a new template.",
            vec![format!(
                "cairn_operator_pods_restarted_total {}",
                get(&self.pods_restarted)
            )],
        );
        let mut lines: Vec<String> = BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(b, c)| {
                format!(
                    "cairn_operator_reconcile_duration_seconds_bucket{{le=\"{b}\"}} {}",
                    get(c)
                )
            })
            .collect();
        lines.push(format!(
            "cairn_operator_reconcile_duration_seconds_bucket{{le=\"+Inf\"}} {count}"
        ));
        lines.push(format!(
            "cairn_operator_reconcile_duration_seconds_sum {}",
            get(&self.duration_micros) as f64 / 1e6
        ));
        lines.push(format!(
            "cairn_operator_reconcile_duration_seconds_count {count}"
        ));
        metric(
            "cairn_operator_reconcile_duration_seconds",
            "histogram",
            "Time one Tenant reconciliation took.",
            lines,
        );
        metric(
            "cairn_operator_leader",
            "gauge",
            "1 when this replica holds the leader lease.",
            vec![format!(
                "cairn_operator_leader {}",
                u8::from(self.leader.load(Ordering::Relaxed))
            )],
        );
        out
    }
}

fn respond(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

/// Answers one request.
pub fn handle(metrics: &Metrics, path: &str) -> Response<Full<Bytes>> {
    match path {
        "/metrics" => respond(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        ),
        "/healthz" | "/livez" => {
            if metrics.is_running() {
                respond(StatusCode::OK, "text/plain", "ok\n".to_string())
            } else {
                respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "stopped\n".to_string(),
                )
            }
        }
        "/readyz" => respond(StatusCode::OK, "text/plain", "ok\n".to_string()),
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found\n".to_string(),
        ),
    }
}

/// Binds `address` and serves until the task is dropped. Returns the bound address.
pub async fn serve(
    address: SocketAddr,
    metrics: Arc<Metrics>,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(address).await?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let metrics = metrics.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let response = handle(&metrics, req.uri().path());
                    async move { Ok::<_, std::convert::Infallible>(response) }
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .timer(hyper_util::rt::TokioTimer::new())
                    .header_read_timeout(Duration::from_secs(10))
                    .serve_connection(TokioIo::new(stream), service);
                let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
            });
        }
    });
    Ok((bound, task))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_and_health() {
        let m = Metrics::default();
        m.reconciled(Duration::from_millis(30));
        m.reconciled(Duration::from_secs(3));
        m.reconcile_failed();
        m.set_leader(true);
        let text = m.render();
        assert!(text.contains("cairn_operator_reconciliations_total 2\n"));
        assert!(text.contains("cairn_operator_reconcile_errors_total 1\n"));
        assert!(text.contains("cairn_operator_reconcile_duration_seconds_bucket{le=\"0.05\"} 1\n"));
        assert!(text.contains("cairn_operator_reconcile_duration_seconds_bucket{le=\"5\"} 2\n"));
        assert!(text.contains("cairn_operator_leader 1\n"));
        assert_eq!(
            handle(&m, "/healthz").status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        m.set_running(true);
        assert_eq!(handle(&m, "/healthz").status(), StatusCode::OK);
        assert_eq!(handle(&m, "/nope").status(), StatusCode::NOT_FOUND);
    }
}
