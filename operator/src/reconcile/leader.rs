//! Leader election with a `coordination.k8s.io/v1` Lease, so that two or more operator
//! replicas can run and exactly one reconciles.
//!
//! The usual client-go protocol: a replica holds the Lease while it renews `renewTime`
//! more often than `leaseDurationSeconds`; another takes it over only once it has not been
//! renewed for that long. Every write carries the `resourceVersion` read, so two replicas
//! racing for an expired Lease cannot both win (one gets 409 Conflict). A leader that
//! cannot renew in time stops leading (the process exits and is restarted as a standby);
//! one that shuts down cleanly releases the Lease so a standby takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Api;
use kube::api::PostParams;

/// Lease settings.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Name of the Lease object.
    pub name: String,
    /// This replica's identity (its pod name).
    pub identity: String,
    /// How long a Lease stays valid without renewal.
    pub duration: Duration,
    /// How often the holder renews, and a standby retries.
    pub renew_every: Duration,
}

impl LeaseConfig {
    pub fn new(name: &str, identity: &str) -> Self {
        Self {
            name: name.to_string(),
            identity: identity.to_string(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_conflict() || s.is_already_exists())
}

/// One attempt to take or keep the Lease; `Ok(true)` when this replica holds it now.
pub async fn try_acquire(
    api: &Api<Lease>,
    cfg: &LeaseConfig,
    now: Timestamp,
) -> Result<bool, kube::Error> {
    let seconds = i32::try_from(cfg.duration.as_secs()).unwrap_or(i32::MAX);
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        let lease = Lease {
            metadata: ObjectMeta {
                name: Some(cfg.name.clone()),
                ..ObjectMeta::default()
            },
            spec: Some(LeaseSpec {
                holder_identity: Some(cfg.identity.clone()),
                lease_duration_seconds: Some(seconds),
                acquire_time: Some(MicroTime(now)),
                renew_time: Some(MicroTime(now)),
                lease_transitions: Some(0),
                ..LeaseSpec::default()
            }),
        };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.clone().unwrap_or_default();
    let mine = holder == cfg.identity;
    let expired = match (&spec.renew_time, spec.lease_duration_seconds) {
        (Some(MicroTime(renewed)), Some(d)) => {
            *renewed + SignedDuration::from_secs(i64::from(d)) < now
        }
        _ => true,
    };
    if !mine && !holder.is_empty() && !expired {
        return Ok(false);
    }
    let mut new_spec = spec.clone();
    new_spec.holder_identity = Some(cfg.identity.clone());
    new_spec.lease_duration_seconds = Some(seconds);
    new_spec.renew_time = Some(MicroTime(now));
    if !mine {
        new_spec.acquire_time = Some(MicroTime(now));
        new_spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
    }
    lease.spec = Some(new_spec);
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(e) if conflict(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the Lease up (when held), so that a standby takes over without waiting.
pub async fn release(api: &Api<Lease>, cfg: &LeaseConfig) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(&cfg.name).await? else {
        return Ok(());
    };
    let Some(spec) = lease.spec.as_mut() else {
        return Ok(());
    };
    if spec.holder_identity.as_deref() != Some(cfg.identity.as_str()) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    match api.replace(&cfg.name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(e) if conflict(&e) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Waits until this replica holds the Lease.
pub async fn acquire(api: &Api<Lease>, cfg: &LeaseConfig) {
    loop {
        match try_acquire(api, cfg, Timestamp::now()).await {
            Ok(true) => return,
            Ok(false) => tracing::debug!("lease {} is held by another replica", cfg.name),
            Err(e) => tracing::warn!("cannot read or take lease {}: {e}", cfg.name),
        }
        tokio::time::sleep(cfg.renew_every).await;
    }
}

/// Renews the Lease until renewal fails for longer than the lease lasts, or another
/// replica took it; then returns (the caller stops leading).
pub async fn keep(api: &Api<Lease>, cfg: &LeaseConfig) {
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(cfg.renew_every).await;
        match tokio::time::timeout(cfg.renew_every, try_acquire(api, cfg, Timestamp::now())).await {
            Ok(Ok(true)) => last_renewed = tokio::time::Instant::now(),
            Ok(Ok(false)) => {
                tracing::error!("lease {} was taken by another replica", cfg.name);
                return;
            }
            Ok(Err(e)) => tracing::warn!("cannot renew lease {}: {e}", cfg.name),
            Err(_) => tracing::warn!("renewing lease {} timed out", cfg.name),
        }
        // Stop a little before the lease runs out, so two leaders never overlap.
        if last_renewed.elapsed() + cfg.renew_every >= cfg.duration {
            tracing::error!("could not renew lease {} in time", cfg.name);
            return;
        }
    }
}
