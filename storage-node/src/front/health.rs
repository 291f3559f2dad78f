//! MinIO-compatible health endpoints, which load balancers, Kubernetes probes and the
//! operator use unchanged.
//!
//! - `/minio/health/live`: the process serves requests.
//! - `/minio/health/ready`: ready for traffic.
//! - `/minio/health/cluster`: 200 only while every erasure set has write quorum.
//! - `/minio/health/cluster/read`: 200 only while every set has read quorum.

use super::App;
use crate::s3::{RespBody, empty};
use futures::future::join_all;
use http::{Request, Response, StatusCode};
use std::time::Duration;

/// A drive that does not answer a health probe in this time counts as offline.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Online drives per set, in set order, with each set's read and write quorum.
pub async fn set_health(app: &App) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    for set in app.objects.sets() {
        let checks = join_all(
            set.drives
                .iter()
                .map(|d| tokio::time::timeout(PROBE_TIMEOUT, d.check())),
        )
        .await;
        let online = checks.iter().filter(|r| matches!(r, Ok(Ok(())))).count();
        out.push((
            online,
            set.drives.len(),
            set.geometry.read_quorum(),
            set.write_quorum(),
        ));
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
    let sets = set_health(app).await;
    let ok = sets.iter().all(|(online, _, rq, wq)| {
        if read_only {
            online >= rq
        } else {
            online >= wq
        }
    });
    let write_quorum = sets.iter().map(|s| s.3).max().unwrap_or(0);
    let mut r = empty(if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    });
    if let Ok(v) = http::HeaderValue::from_str(&write_quorum.to_string()) {
        r.headers_mut().insert("x-minio-write-quorum", v);
    }
    Some(r)
}
