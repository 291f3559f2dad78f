//! MinIO-compatible health endpoints, which load balancers, Kubernetes probes and the
//! operator use unchanged.
//!
//! - `/minio/health/live`: the process serves requests.
//! - `/minio/health/ready`: ready for traffic.
//! - `/minio/health/cluster`: 200 only while every erasure set has write quorum.
//! - `/minio/health/cluster/read`: 200 only while every set has read quorum.
//! - `/minio/health/cluster?maintenance=true`: 412 when taking this server down would
//!   leave a set below write quorum (the operator asks before restarting a pod).
//!
//! Liveness and readiness answer without touching a drive; the cluster checks use the
//! drive state cached for a second (`super::drive_state`).

use super::App;
use crate::body::{RespBody, empty};
use http::{Request, Response, StatusCode};

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
    // Probed at most once a second, shared by concurrent probes (`drive_state`).
    let state = app.drive_state.get(&app.objects).await;
    let sets = &state.sets;
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
