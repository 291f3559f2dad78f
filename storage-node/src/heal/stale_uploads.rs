//! The stale-upload expiry: multipart uploads nobody completed or aborted hold their
//! parts on the drives forever, so every `API_STALE_UPLOADS_CLEANUP_INTERVAL` (6 h, as
//! MinIO) this worker removes uploads initiated longer than `API_STALE_UPLOADS_EXPIRY`
//! ago (24 h, as MinIO's `api.stale_uploads_expiry`) and upload directories left without
//! their `upload.json`. The sweep itself is [`crate::objects::ObjectLayer::sweep_uploads`].
//!
//! Once per deployment: like the scanner, each set is swept by the server that holds its
//! first online drive ([`super::scanner::scans_here`]).

use super::HealState;
use crate::objects::multipart::SweepReport;
use std::sync::Arc;

/// The worker: sweeps after every interval until shutdown.
pub async fn run(state: Arc<HealState>) {
    let mut shutdown = state.shutdown.clone();
    // The daemon loop ends at shutdown; every wait is bounded by the interval.
    loop {
        tokio::select! {
            _ = tokio::time::sleep(state.config.stale_uploads_cleanup_interval) => {}
            _ = shutdown.changed() => {}
        }
        if state.is_shutting_down() {
            return;
        }
        sweep(&state).await;
    }
}

/// One sweep of the sets this server is responsible for; returns what it removed.
pub async fn sweep(state: &HealState) -> SweepReport {
    let mut total = SweepReport::default();
    for set in state.objects.sets() {
        if !super::scanner::scans_here(set).await {
            continue;
        }
        match state
            .objects
            .sweep_uploads(set, state.config.stale_uploads_expiry)
            .await
        {
            Ok(r) => total.add(r),
            Err(e) => {
                tracing::warn!(set = set.index, error = %e, "stale upload sweep of a set failed")
            }
        }
    }
    if total != SweepReport::default() {
        tracing::info!(
            expired = total.expired,
            orphaned = total.orphaned,
            "stale multipart uploads removed"
        );
    }
    total
}
