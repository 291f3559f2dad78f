//! Prometheus metrics under MinIO's v2 names, types, help texts and labels
//! (cmd/metrics-v2.go), so that existing dashboards and alerts keep working.
//!
//! Two pages, as MinIO serves them:
//! - `/minio/v2/metrics/cluster`: the deployment as this server sees it (capacity,
//!   drives and nodes online, health, erasure sets), plus this server's own series
//!   (its drives' space, S3 requests, traffic, time to first byte, process, healing,
//!   audit).
//! - `/minio/v2/metrics/node`: this server only (its drives, S3 counters, process).
//! - `/minio/v2/metrics/bucket`: per-bucket data usage (also on the cluster page, with
//!   the cluster's totals; see `usage`).
//!
//! In a distributed deployment the cluster page also merges every peer's own series
//! (asked over the peer RPC, see `peers`), as MinIO's does: a Prometheus that scrapes
//! every server's cluster page (the operator's ServiceMonitor) sees each server's series
//! from every target and takes the `max by (server, ...)` before summing.
//!
//! Who may read them is `auth`'s decision (a bearer token by default, see `token`).
//! Every label value comes from a fixed set, never from the request as sent: `api` is
//! an S3 operation's name, `drive` and `server` come from the configured endpoints.
//! A client that sends invented methods or paths cannot grow the page.
//!
//! Files by concept: `s3` (requests, errors, traffic, TTFB), `drives` (capacity,
//! drives, nodes), `process` (`/proc`), `heal` (healing and erasure repair counters),
//! `usage` (the scanner's data usage per bucket and in total), `peers` (the other
//! servers' series on the cluster page).

pub mod auth;
pub mod drives;
pub mod heal;
pub mod lifecycle;
pub mod peers;
pub mod process;
pub mod s3;
pub mod token;
pub mod usage;

use super::App;
use crate::body::{RespBody, full};
use crate::config::PrometheusAuth;
use crate::objects::ObjectLayer;
use bytes::Bytes;
use http::{HeaderMap, Response};
use std::fmt::Write;

pub const PATH: &str = "/minio/v2/metrics/cluster";
pub const NODE_PATH: &str = "/minio/v2/metrics/node";
pub const BUCKET_PATH: &str = "/minio/v2/metrics/bucket";

/// What the front keeps for the metrics pages.
#[derive(Debug, Default)]
pub struct Metrics {
    /// S3 requests, errors, traffic and time to first byte of this server.
    pub s3: s3::S3Metrics,
    /// This server's name, the `server` label (see [`server_name`]).
    pub server: String,
    /// Who may read the pages.
    pub auth: PrometheusAuth,
    /// The scanner's data usage, read from the drives at most every few seconds.
    pub usage: usage::UsageCache,
    /// The other servers, asked for their own series on the cluster page.
    pub peers: peers::Peers,
}

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Node,
    Bucket,
}

impl Scope {
    /// The page served at `path`, if any.
    pub fn of(path: &str) -> Option<Scope> {
        match path {
            PATH => Some(Scope::Cluster),
            NODE_PATH => Some(Scope::Node),
            BUCKET_PATH => Some(Scope::Bucket),
            _ => None,
        }
    }
}

/// Answers a metrics request: refused (403, as MinIO) without a valid bearer token
/// unless the pages are public, else the page of `scope`.
pub async fn serve(
    app: &App,
    headers: &HeaderMap,
    scope: Scope,
    resource: &str,
    request_id: &str,
) -> Response<RespBody> {
    if let Err(e) = auth::check(app, headers).await {
        tracing::debug!(error = %e, "metrics request refused");
        return auth::denied(resource, request_id);
    }
    let page = render(app, scope).await;
    let mut r = Response::new(full(Bytes::from(page)));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// The text of the page of `scope`.
pub async fn render(app: &App, scope: Scope) -> String {
    let mut page = Page::default();
    let server = app.metrics.server.as_str();
    if scope != Scope::Node {
        let usage = app.metrics.usage.get(&app.objects).await;
        if scope == Scope::Cluster {
            usage::render_cluster(&mut page, &usage, server);
        }
        usage::render_buckets(&mut page, &usage, server);
    }
    if scope == Scope::Bucket {
        return page.out;
    }
    // Probed at most once a second, shared by concurrent scrapes and health probes;
    // the peers are asked meanwhile (cluster page only).
    let ask = async {
        match scope {
            Scope::Cluster => app.metrics.peers.ask().await,
            _ => peers::PeerSeries::default(),
        }
    };
    let (state, peer_series) = tokio::join!(app.drive_state.get(&app.objects), ask);
    drives::render(
        &mut page,
        &app.objects,
        &state,
        server,
        scope,
        &peer_series.unreachable,
    );
    app.metrics.s3.render(&mut page, server);
    process::render(&mut page, server);
    heal::render(&mut page, &app.objects, &app.drive_state);
    lifecycle::render(&mut page, &app.objects);
    if let Some(audit) = &app.audit {
        audit.render_metrics(&mut page.out);
    }
    if peer_series.pages.is_empty() {
        return page.out;
    }
    let mut all: Vec<&str> = vec![page.out.as_str()];
    all.extend(peer_series.pages.iter().map(String::as_str));
    peers::merge(&all)
}

/// The name of this server in the `server` label, as MinIO's `globalLocalNodeName`:
/// the `host:port` of its drives' endpoints in a cluster; standalone, the listening
/// address, with `127.0.0.1` for an unspecified host.
pub fn server_name(objects: &ObjectLayer, address: &str) -> String {
    let from_endpoints = objects
        .sets()
        .flat_map(|s| s.drives.iter())
        .filter(|d| d.is_local())
        .find_map(|d| authority(&d.endpoint()).map(str::to_owned));
    from_endpoints.unwrap_or_else(|| match address.rsplit_once(':') {
        Some((host, port)) if host.is_empty() || host == "0.0.0.0" || host == "[::]" => {
            format!("127.0.0.1:{port}")
        }
        _ => address.to_string(),
    })
}

/// `host:port` of an endpoint URL; `None` for a plain directory.
pub(crate) fn authority(endpoint: &str) -> Option<&str> {
    let (_, rest) = endpoint.split_once("://")?;
    rest.split('/').next()
}

/// A page being written in the Prometheus text format (0.0.4).
#[derive(Debug, Default)]
pub struct Page {
    pub out: String,
}

/// A metric type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Page {
    /// The `# HELP` and `# TYPE` lines of a family; once per family, before its samples.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; `labels` are written in the order given (MinIO sorts them by name
    /// and puts `server` last).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{k}=\"{}\"", escape(v));
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }

    /// A family with a single sample.
    pub fn single(
        &mut self,
        name: &str,
        kind: Kind,
        help: &str,
        labels: &[(&str, &str)],
        value: impl std::fmt::Display,
    ) {
        self.family(name, kind, help);
        self.sample(name, labels, value);
    }
}

/// A label value escaped as the text format requires.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_label_values() {
        let mut p = Page::default();
        p.single(
            "m_total",
            Kind::Counter,
            "Help",
            &[("drive", "/a\"b\\c\nd"), ("server", "h:1")],
            3,
        );
        assert_eq!(
            p.out,
            "# HELP m_total Help\n# TYPE m_total counter\nm_total{drive=\"/a\\\"b\\\\c\\nd\",server=\"h:1\"} 3\n"
        );
    }

    #[test]
    fn endpoints_and_paths() {
        assert_eq!(authority("http://n1:9000/export0"), Some("n1:9000"));
        assert_eq!(authority("/data/d1"), None);
        assert_eq!(Scope::of(PATH), Some(Scope::Cluster));
        assert_eq!(Scope::of(NODE_PATH), Some(Scope::Node));
        assert_eq!(Scope::of("/minio/v2/metrics/bucket"), Some(Scope::Bucket));
        assert_eq!(Scope::of("/minio/v2/metrics/resource"), None);
    }
}
