//! The cluster page of a distributed deployment merges every server's own series, as
//! MinIO's cluster collector merges its peers' (`GetClusterMetrics`): each peer is asked
//! over the peer RPC (`node/metrics`) for its S3 requests, errors, traffic, time to first
//! byte, process and drive space, each labelled with its `server`, and its families are
//! merged into this server's page.
//!
//! Bounded: the peers are asked at once, each within [`PEER_TIMEOUT`]; a peer marked
//! offline by the peer RPC fails at once. A peer that does not answer is left out and
//! counted offline in `minio_cluster_nodes_offline_total`; the scrape never waits longer.
//! A slow answer does not mark the peer offline for data calls.

use super::{Page, drives};
use crate::front::{App, Front};
use crate::rpc::client::PeerClient;
use crate::rpc::server::NodeMetrics;
use futures::future::join_all;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// How long a peer has to answer.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// The other servers of the deployment (none standalone).
#[derive(Debug, Default)]
pub struct Peers {
    clients: OnceLock<Vec<Arc<PeerClient>>>,
}

/// What the peers answered: their series, and the names of those that did not answer.
#[derive(Debug, Default)]
pub struct PeerSeries {
    pub pages: Vec<String>,
    pub unreachable: Vec<String>,
}

impl Peers {
    /// Asks every peer for its own series.
    pub async fn ask(&self) -> PeerSeries {
        let Some(clients) = self.clients.get() else {
            return PeerSeries::default();
        };
        let answers = join_all(clients.iter().map(|c| c.metrics(PEER_TIMEOUT))).await;
        let mut out = PeerSeries::default();
        for (c, a) in clients.iter().zip(answers) {
            match a {
                Ok(page) => out.pages.push(page),
                Err(e) => {
                    tracing::debug!(peer = %c.name, error = %e, "metrics: peer did not answer");
                    out.unreachable.push(c.name.clone());
                }
            }
        }
        out
    }
}

/// Connects a distributed server's metrics to its peers: the cluster page asks `peers`,
/// and this server answers their `node/metrics` calls with `app`'s own series.
pub fn connect(front: &Front, app: &Arc<App>, peers: Vec<Arc<PeerClient>>) {
    let _ = app.metrics.peers.clients.set(peers);
    if let Some(rpc) = &front.rpc {
        rpc.serve_metrics(app.clone());
    }
}

#[async_trait::async_trait]
impl NodeMetrics for App {
    async fn own_series(&self) -> String {
        let mut page = Page::default();
        let server = self.metrics.server.as_str();
        let state = self.drive_state.get(&self.objects).await;
        drives::render_own(&mut page, &state, server);
        self.metrics.s3.render(&mut page, server);
        super::process::render(&mut page, server);
        page.out
    }
}

/// One family of a page: its `# HELP`/`# TYPE` lines and its samples.
#[derive(Debug, Default)]
struct Family {
    head: Vec<String>,
    samples: Vec<String>,
}

/// `pages` merged family by family: the first page's order, families only the others
/// have at the end, every family's samples together (as the text format requires).
/// Samples that a page repeats exactly (the same series from two servers cannot be, they
/// differ in `server`) are kept once.
pub fn merge(pages: &[&str]) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut families: HashMap<String, Family> = HashMap::new();
    for page in pages {
        let mut current = String::new();
        for line in page.lines().filter(|l| !l.trim().is_empty()) {
            let name = if let Some(rest) = line
                .strip_prefix("# HELP ")
                .or_else(|| line.strip_prefix("# TYPE "))
            {
                rest.split(' ').next().unwrap_or("").to_string()
            } else if line.starts_with('#') {
                continue;
            } else {
                let series = line.split(['{', ' ']).next().unwrap_or("");
                // A sample belongs to the family declared before it when it is that
                // family's (a histogram's `_bucket` too); else to its own name.
                if !current.is_empty() && series.starts_with(current.as_str()) {
                    current.clone()
                } else {
                    series.to_string()
                }
            };
            current.clone_from(&name);
            let f = families.entry(name.clone()).or_insert_with(|| {
                order.push(name.clone());
                Family::default()
            });
            if line.starts_with('#') {
                if f.head.len() < 2 && !f.head.iter().any(|h| h == line) {
                    f.head.push(line.to_string());
                }
            } else if !f.samples.iter().any(|s| s == line) {
                f.samples.push(line.to_string());
            }
        }
    }
    let mut out = String::new();
    for name in order {
        if let Some(f) = families.get(&name) {
            for l in f.head.iter().chain(&f.samples) {
                out.push_str(l);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_merge_with_samples_together() {
        let a = "# HELP m_total Requests\n# TYPE m_total counter\nm_total{server=\"a\"} 1\n\
                 # HELP g Gauge\n# TYPE g gauge\ng 5\n";
        let b = "# HELP m_total Requests\n# TYPE m_total counter\nm_total{server=\"b\"} 2\n\
                 # HELP only_b B\n# TYPE only_b gauge\nonly_b{server=\"b\"} 3\n";
        assert_eq!(
            merge(&[a, b]),
            "# HELP m_total Requests\n# TYPE m_total counter\nm_total{server=\"a\"} 1\n\
             m_total{server=\"b\"} 2\n# HELP g Gauge\n# TYPE g gauge\ng 5\n\
             # HELP only_b B\n# TYPE only_b gauge\nonly_b{server=\"b\"} 3\n"
        );
        assert_eq!(merge(&[a]), a);
    }
}
