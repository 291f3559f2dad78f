//! `GET` and `POST /cairn/admin/v1/heal`.

use super::types::{DriveHealing, HealProgress, HealStarted, HealTask, HealTotals, Info};
use super::{AdminService, ApiError, HEAL_PATH, PEER_TIMEOUT, json};
use crate::body::RespBody;
use crate::heal::{DriveHealStatus, HealError, HealRequest, HealStatus, TaskState};
use crate::objects::ObjectError;
use futures::future::join_all;
use http::{Method, Response, StatusCode};
use std::collections::HashMap;

pub(crate) fn state_name(s: TaskState) -> &'static str {
    match s {
        TaskState::Queued => "queued",
        TaskState::Running => "running",
        TaskState::Done => "done",
        TaskState::Failed => "failed",
    }
}

/// A drive rebuild as the admin API shows it.
pub(crate) fn drive_healing(server: &str, d: &DriveHealStatus) -> DriveHealing {
    DriveHealing {
        endpoint: d.endpoint.clone(),
        server: server.to_string(),
        pool: d.pool,
        set: d.set,
        state: state_name(d.state).to_string(),
        started: d.started.clone(),
        objects_done: d.objects_done,
        objects_healed: d.objects_healed,
        objects_failed: d.objects_failed,
        objects_total: d.objects_total,
        percent: d.percent,
    }
}

/// True while a drive rebuild is queued or running.
pub(crate) fn is_active(state: &str) -> bool {
    state == "queued" || state == "running"
}

/// This server's heal progress, without asking peers.
pub(crate) fn local_progress(svc: &AdminService, status: &HealStatus) -> HealProgress {
    let task = status.task.as_ref().map(|t| HealTask {
        id: t.id,
        state: state_name(t.state).to_string(),
        bucket: t.request.bucket.clone(),
        prefix: t.request.prefix.clone(),
        deep: t.request.deep,
        started: t.started.clone(),
        finished: t.finished.clone(),
        objects_scanned: t.objects_scanned,
        objects_healed: t.objects_healed,
        objects_failed: t.objects_failed,
        buckets_healed: t.buckets_healed,
        error: t.error.clone(),
    });
    let drives: Vec<DriveHealing> = status
        .drives
        .iter()
        .filter(|d| d.state != TaskState::Done)
        .map(|d| drive_healing(&svc.me, d))
        .collect();
    let task_running = task.as_ref().is_some_and(|t| !t.is_finished());
    HealProgress {
        server: svc.me.clone(),
        running: task_running || drives.iter().any(|d| is_active(&d.state)),
        done: task.as_ref().is_some_and(HealTask::is_finished),
        task,
        objects_scanned: status.objects_scanned,
        objects_healed: status.objects_healed,
        objects_failed: status.objects_failed,
        mrf_queued: status.mrf.queued,
        scanner_running: status.scanner.running,
        drives_healing: drives,
        cluster: HealTotals {
            servers: 1,
            objects_scanned: status.objects_scanned,
            objects_healed: status.objects_healed,
            objects_failed: status.objects_failed,
            mrf_queued: status.mrf.queued,
        },
        servers_unreachable: Vec::new(),
    }
}

/// Adds the drive rebuilds that peers report (their own views).
pub(crate) fn merge_peers(
    progress: &mut HealProgress,
    peers: impl IntoIterator<Item = (String, Result<HealProgress, String>)>,
) {
    for (name, view) in peers {
        match view {
            Ok(p) => {
                let c = &mut progress.cluster;
                c.servers += 1;
                c.objects_scanned += p.objects_scanned;
                c.objects_healed += p.objects_healed;
                c.objects_failed += p.objects_failed;
                c.mrf_queued += p.mrf_queued;
                progress.drives_healing.extend(p.drives_healing);
            }
            Err(_) => progress.servers_unreachable.push(name),
        }
    }
    progress.running |= progress.drives_healing.iter().any(|d| is_active(&d.state));
}

/// `GET /cairn/admin/v1/heal`.
pub(crate) async fn progress(svc: &AdminService, local_only: bool) -> HealProgress {
    let mut p = local_progress(svc, &svc.heal.status());
    if !local_only {
        let views = join_all(svc.peers.iter().map(|(name, c)| async move {
            let r = c
                .json::<HealProgress>(Method::GET, HEAL_PATH, &[("local", "1")], PEER_TIMEOUT)
                .await
                .map_err(|e| e.to_string());
            (name.clone(), r)
        }))
        .await;
        merge_peers(&mut p, views);
    }
    p
}

/// Rebuild progress of drives by endpoint, from peers' info views.
pub(crate) fn healing_by_endpoint(views: &[Info]) -> HashMap<String, DriveHealing> {
    views
        .iter()
        .flat_map(|v| &v.heal.drives_healing)
        .map(|d| (d.endpoint.clone(), d.clone()))
        .collect()
}

/// `POST /cairn/admin/v1/heal?bucket=&prefix=&deep=`.
pub(crate) fn start(
    svc: &AdminService,
    query: &HashMap<String, String>,
) -> Result<Response<RespBody>, ApiError> {
    let bucket = query.get("bucket").filter(|b| !b.is_empty()).cloned();
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    if bucket.is_none() && !prefix.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "a prefix needs a bucket",
        ));
    }
    let deep = match query.get("deep").map(String::as_str) {
        None | Some("" | "0" | "false") => false,
        Some("1" | "true") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                format!("deep must be true or false, not {other:?}"),
            ));
        }
    };
    let req = HealRequest {
        bucket,
        prefix,
        deep,
    };
    match svc.heal.start_heal(req) {
        Ok(id) => Ok(json(
            StatusCode::OK,
            &HealStarted {
                id,
                server: svc.me.clone(),
            },
        )),
        Err(HealError::Busy(id)) => {
            let mut e = ApiError::new(
                StatusCode::CONFLICT,
                "HealAlreadyRunning",
                format!("a heal is already running (task {id})"),
            );
            e.task_id = Some(id);
            Err(e)
        }
        Err(HealError::Object(ObjectError::InvalidBucketName(m))) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidBucketName",
            m,
        )),
        Err(HealError::Shutdown) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the server is shutting down",
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            e.to_string(),
        )),
    }
}
