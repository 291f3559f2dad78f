//! MinIO-compatible health endpoints, which load balancers, Kubernetes probes and the
//! operator use unchanged.
//!
//! - `/minio/health/live`: the process serves requests.
//! - `/minio/health/ready`: ready for traffic.
//! - `/minio/health/cluster`: 200 only while every erasure set has write quorum.
//! - `/minio/health/cluster/read`: 200 only while every set has read quorum.
//! - `/minio/health/cluster?maintenance=true`: 412 when taking this server down would
//!   leave a set below write quorum (the operator asks before restarting a pod).

use super::App;
use crate::body::{RespBody, empty};
use futures::future::join_all;
use http::{Request, Response, StatusCode};
use std::time::Duration;

/// A drive that does not answer a health probe in this time counts as offline.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Online drives of a set and the quorums it needs.
#[derive(Debug, Clone, Copy)]
pub struct SetHealth {
    pub online: usize,
    /// Online drives that are not this server's.
    pub online_elsewhere: usize,
    pub total: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
}

/// Health of every set, in set order.
pub async fn set_health(app: &App) -> Vec<SetHealth> {
    let mut out = Vec::new();
    for set in app.objects.sets() {
        let checks = join_all(
            set.drives
                .iter()
                .map(|d| tokio::time::timeout(PROBE_TIMEOUT, d.check())),
        )
        .await;
        let up = |r: &Result<Result<(), _>, _>| matches!(r, Ok(Ok(())));
        let online = checks.iter().filter(|r| up(r)).count();
        let online_elsewhere = checks
            .iter()
            .zip(&set.drives)
            .filter(|(r, d)| up(r) && !d.is_local())
            .count();
        out.push(SetHealth {
            online,
            online_elsewhere,
            total: set.drives.len(),
            read_quorum: set.geometry.read_quorum(),
            write_quorum: set.write_quorum(),
        });
    }
    out
}

pub async fn route<B>(app: &App, req: &Request<B>) -> Option<Response<RespBody>> {
    let path = req.uri().path().trim_end_matches('/');
    let read_only = match path {
        "/minio/health/live" | "/minio/health/ready" => return Some(empty(StatusCode::OK)),
        "/minio/health/cluster" => false,
        "/minio/health/cluster/read" => true,
        _ => return None,
    };
    let maintenance = !read_only
        && req
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .any(|p| p.eq_ignore_ascii_case("maintenance=true"));
    let sets = set_health(app).await;
    let ok = sets.iter().all(|s| {
        if read_only {
            s.online >= s.read_quorum
        } else {
            s.online >= s.write_quorum
        }
    });
    let write_quorum = sets.iter().map(|s| s.write_quorum).max().unwrap_or(0);
    let status = if !ok {
        StatusCode::SERVICE_UNAVAILABLE
    } else if maintenance && sets.iter().any(|s| s.online_elsewhere < s.write_quorum) {
        // Healthy now, but not without this server's drives.
        StatusCode::PRECONDITION_FAILED
    } else {
        StatusCode::OK
    };
    let mut r = empty(status);
    if let Ok(v) = http::HeaderValue::from_str(&write_quorum.to_string()) {
        r.headers_mut().insert("x-minio-write-quorum", v);
    }
    Some(r)
}
