//! The controller: for every Tenant, apply what [`crate::render`] decides, restart pods
//! safely, expand volumes, provision buckets, and report status, conditions and Events.
//!
//! One reconcile of a Tenant, in order:
//! 1. deletion: when the Tenant is being deleted and `volumeClaimRetentionPolicy: Delete`
//!    put the finalizer on it, delete its StatefulSets and volume claims, then drop the
//!    finalizer (everything else it owns goes by owner-reference garbage collection);
//! 2. read what rendering depends on: the configuration and certificate Secrets, the pools'
//!    StatefulSets (to refuse shape changes), whether the ServiceMonitor CRD exists, the
//!    generated CA and certificate ([`tls`]);
//! 3. render; a refused spec becomes the `InvalidSpec` reason of the conditions and a
//!    Warning Event, and nothing is applied; then every rendered object is looked up, and
//!    if one exists that this Tenant does not control (another Tenant's `minio` Service, a
//!    Secret made by hand), nothing is applied either ([`ownership`]);
//! 4. server-side apply of every object (field manager `cairn-operator`, forced, each with
//!    the Tenant as controlling owner); grown volume claims are expanded ([`volumes`]);
//! 5. pods: the planner of [`rollout`] deletes outdated pods in a quorum-safe order;
//! 6. health from the tenant's `/minio/health/cluster[/read]` and, when the server has it,
//!    `/cairn/admin/v1/info`; once it has write quorum, buckets are created, then the
//!    policies and users ([`users`], through MinIO's admin API v3), and those the operator
//!    created but no longer declares are removed;
//! 7. status (server-side apply on the status subresource), then requeue: soon while
//!    anything is in flight, every [`HEALTH_INTERVAL`] otherwise.
//!
//! Errors requeue with an exponential backoff per Tenant ([`backoff`]).

mod apply;
mod buckets;
mod health;
mod identity_cleanup;
mod inputs;
pub mod leader;
pub mod metrics;
pub mod ownership;
mod pods;
mod policy_source;
pub mod rollout;
pub mod status;
pub mod tls;
mod users;
pub mod volumes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, ObjectReference, PersistentVolumeClaim, Pod, Secret, Service,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use thiserror::Error;

use crate::crd::{API_VERSION, Tenant, TenantStatus};
use crate::render::names::{LABEL_TENANT, MANAGER};
use crate::render::{self, RenderError, Rendered, Settings};
use crate::tenant::{HttpTenant, TenantApi, TenantEndpoint, TenantError};
use apply::apply_params;
pub use health::tenant_endpoint;
use status::{Observation, PoolObservation};

/// Finalizer put on Tenants whose volumes are deleted with them.
pub const FINALIZER: &str = "cairn.dev/delete-volumes";
/// How often a settled tenant's health is refreshed.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(30);
/// How soon a tenant with something in flight is looked at again.
pub const BUSY_INTERVAL: Duration = Duration::from_secs(5);
/// How soon a refused spec is looked at again (a change of the spec triggers a reconcile
/// earlier; a referenced Secret is not watched, so one created or fixed later is seen at
/// the latest this much later).
pub const INVALID_INTERVAL: Duration = Duration::from_secs(60);

/// Why a reconcile failed; it is retried with backoff.
#[derive(Debug, Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot generate the tenant's certificates: {0}")]
    Tls(#[from] crate::tls::TlsError),
    #[error("cannot serialize an object: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("Tenant has no {0}")]
    Missing(&'static str),
    /// An object the Tenant would apply exists and is controlled by something else.
    #[error("{0}")]
    ObjectOwnedByOther(String),
}

/// Makes the [`TenantApi`] of a tenant (HTTP in production, fakes in tests).
pub trait TenantConnector: Send + Sync {
    fn connect(&self, endpoint: TenantEndpoint) -> Result<Arc<dyn TenantApi>, TenantError>;
}

/// [`TenantConnector`] over HTTP(S).
pub struct HttpConnector;

impl TenantConnector for HttpConnector {
    fn connect(&self, endpoint: TenantEndpoint) -> Result<Arc<dyn TenantApi>, TenantError> {
        Ok(Arc::new(HttpTenant::new(endpoint)?))
    }
}

/// Shared by every reconcile.
pub struct Context {
    pub client: Client,
    pub settings: Settings,
    pub recorder: Recorder,
    pub connector: Arc<dyn TenantConnector>,
    pub metrics: Arc<metrics::Metrics>,
    /// Consecutive failures per Tenant (`namespace/name`), for the backoff.
    pub failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    /// A context with the HTTP tenant connector.
    pub fn new(client: Client, settings: Settings, metrics: Arc<metrics::Metrics>) -> Self {
        Self::with_connector(client, settings, metrics, Arc::new(HttpConnector))
    }

    /// A context with any tenant connector.
    pub fn with_connector(
        client: Client,
        settings: Settings,
        metrics: Arc<metrics::Metrics>,
        connector: Arc<dyn TenantConnector>,
    ) -> Self {
        let reporter = Reporter {
            controller: MANAGER.to_string(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            settings,
            connector,
            metrics,
            failures: Mutex::new(HashMap::new()),
        }
    }

    async fn event(
        &self,
        tenant: &Tenant,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let reference: ObjectReference = tenant.object_ref(&());
        let event = Event {
            type_,
            reason: reason.to_string(),
            note: Some(note.chars().take(1000).collect()),
            action: action.to_string(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            tracing::warn!(tenant = %tenant.name_any(), "cannot publish event {reason}: {e}");
        }
    }
}

/// Requeue delay after `failures` consecutive failures: 5 s doubling to at most 5 min.
pub fn backoff(failures: u32) -> Duration {
    let exp = failures.saturating_sub(1).min(6);
    Duration::from_secs(5u64 << exp).min(Duration::from_secs(300))
}

/// The error policy of the controller: log, count, and requeue with [`backoff`].
pub fn error_policy(tenant: Arc<Tenant>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = key(&tenant);
    let n = {
        let mut failures = ctx
            .failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = failures.entry(key.clone()).or_insert(0);
        *n = n.saturating_add(1);
        *n
    };
    ctx.metrics.reconcile_failed();
    let delay = backoff(n);
    tracing::warn!(tenant = %key, failures = n, "reconcile failed, retrying in {delay:?}: {error}");
    Action::requeue(delay)
}

fn key(tenant: &Tenant) -> String {
    format!(
        "{}/{}",
        tenant.namespace().unwrap_or_default(),
        tenant.name_any()
    )
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.is_not_found())
}

/// Deletes `name`; an object already gone is no error. True when this call deleted it.
async fn delete_if_present<K>(
    api: &Api<K>,
    name: &str,
    params: &DeleteParams,
) -> Result<bool, Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, params).await {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

fn tenant_selector(tenant: &str) -> String {
    format!("{LABEL_TENANT}={tenant}")
}

/// Reconciles one Tenant.
pub async fn reconcile(tenant: Arc<Tenant>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let result = reconcile_inner(&tenant, &ctx).await;
    ctx.metrics.reconciled(started.elapsed());
    if result.is_ok() {
        ctx.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&key(&tenant));
    }
    result
}

/// One reconcile, as the list of steps of this module's documentation.
async fn reconcile_inner(tenant: &Tenant, ctx: &Context) -> Result<Action, Error> {
    let namespace = tenant.namespace().ok_or(Error::Missing("namespace"))?;
    let tenants: Api<Tenant> = Api::namespaced(ctx.client.clone(), &namespace);
    // 1. Deletion, and the finalizer that volumeClaimRetentionPolicy asks for.
    if tenant.meta().deletion_timestamp.is_some() {
        return cleanup(tenant, ctx, &tenants).await;
    }
    sync_finalizer(tenant, &tenants).await?;
    // 2. What rendering depends on.
    let inputs = inputs::read(tenant, ctx, &namespace).await?;
    // 3. Render; a refused spec is reported and nothing is applied.
    let Some(rendered) = render_or_refuse(tenant, ctx, &tenants, &inputs).await? else {
        return Ok(Action::requeue(INVALID_INTERVAL));
    };
    // 3b. Nothing is applied over an object that something else controls.
    refuse_foreign_objects(tenant, ctx, &tenants, &inputs, &rendered).await?;
    // 4. Apply.
    let applied = apply::apply_all(tenant, ctx, &inputs, &rendered).await?;
    // 5. Pods, 6. health, then restarts (which need write quorum).
    let pods = pods::observe(ctx, &namespace, tenant).await?;
    let (health, admin) = probe_if_serving(tenant, ctx, &inputs, &pods).await;
    let write_ok = matches!(&health, Some(Ok(h)) if h.write_ok);
    let rollout = pods::restart(
        tenant,
        ctx,
        &namespace,
        &applied.statefulsets,
        &pods,
        write_ok,
    )
    .await?;
    // 6. Buckets, once the tenant has write quorum.
    let buckets = buckets::provision(tenant, ctx, &inputs, write_ok).await;
    // 6b. Policies and users, after the buckets.
    let users = users::provision(tenant, ctx, &inputs, write_ok).await?;
    // 7. Status, then requeue.
    let obs = Observation {
        health,
        admin,
        rollout,
        users,
        ..observation(tenant, &rendered, &applied, &pods, buckets, &inputs)
    };
    report_status(tenant, ctx, &tenants, &obs).await
}

/// Renders the tenant's objects. A refused spec becomes the `InvalidSpec` reason of the
/// conditions and a Warning Event (once per message), and `None`.
async fn render_or_refuse(
    tenant: &Tenant,
    ctx: &Context,
    tenants: &Api<Tenant>,
    inputs: &inputs::Inputs,
) -> Result<Option<Rendered>, Error> {
    let errors = match render::render(tenant, &inputs.secrets, &inputs.observed, &ctx.settings) {
        Ok(rendered) => {
            for w in &rendered.warnings {
                tracing::info!(tenant = %key(tenant), "{w}");
            }
            return Ok(Some(rendered));
        }
        Err(RenderError::Invalid(errors)) => errors,
        Err(e) => return Err(e.into()),
    };
    let message = errors
        .problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let previous = tenant.status.as_ref();
    let already = previous
        .and_then(|s| status::find(s, status::READY))
        .is_some_and(|c| c.reason == "InvalidSpec" && c.message == message);
    if !already {
        ctx.event(
            tenant,
            EventType::Warning,
            "InvalidSpec",
            "Validate",
            message.clone(),
        )
        .await;
    }
    let obs = Observation {
        generation: tenant.meta().generation,
        invalid: Some(message),
        ..Observation::default()
    };
    let new_status = status::compute(&obs, previous, Timestamp::now());
    patch_status(tenants, &tenant.name_any(), new_status).await?;
    Ok(None)
}

/// Looks up every rendered object; when one exists and is controlled by something other
/// than this Tenant, reports it (the `ObjectOwnedByOther` reason of the conditions, a
/// Warning Event once per message) and fails, so that nothing is applied and the
/// reconcile backs off.
async fn refuse_foreign_objects(
    tenant: &Tenant,
    ctx: &Context,
    tenants: &Api<Tenant>,
    inputs: &inputs::Inputs,
    rendered: &Rendered,
) -> Result<(), Error> {
    let uid = tenant.uid().ok_or(Error::Missing("uid"))?;
    let conflicts = ownership::conflicts(ctx, &inputs.namespace, rendered, &uid).await?;
    if conflicts.is_empty() {
        return Ok(());
    }
    let message = ownership::message(&conflicts);
    let previous = tenant.status.as_ref();
    let already = previous
        .and_then(|s| status::find(s, status::READY))
        .is_some_and(|c| c.reason == ownership::REASON && c.message == message);
    if !already {
        ctx.event(
            tenant,
            EventType::Warning,
            ownership::REASON,
            "Apply",
            message.clone(),
        )
        .await;
    }
    let obs = Observation {
        generation: tenant.meta().generation,
        conflict: Some(message.clone()),
        certificates: previous.and_then(|p| p.certificates.clone()),
        ..Observation::default()
    };
    let new_status = status::compute(&obs, previous, Timestamp::now());
    patch_status(tenants, &tenant.name_any(), new_status).await?;
    Err(Error::ObjectOwnedByOther(message))
}

/// The tenant's health, asked only when at least one server is ready.
async fn probe_if_serving(
    tenant: &Tenant,
    ctx: &Context,
    inputs: &inputs::Inputs,
    pods: &[rollout::PodView],
) -> health::Health {
    if pods::ready_servers(pods) == 0 {
        return (None, None);
    }
    let auto_tls = inputs.observed.auto_tls.as_ref();
    health::probe(ctx, tenant, &inputs.names, &inputs.secrets, auto_tls).await
}

/// What this reconcile observed, for the status (health, admin info and rollout are
/// filled in by the caller).
fn observation(
    tenant: &Tenant,
    rendered: &Rendered,
    applied: &apply::Applied,
    pods: &[rollout::PodView],
    buckets: buckets::Buckets,
    inputs: &inputs::Inputs,
) -> Observation {
    let pools = tenant
        .spec
        .pools
        .iter()
        .zip(&rendered.geometries)
        .map(|(pool, (_, geometry))| {
            let sts = inputs.names.statefulset(&pool.name);
            let ready = pods
                .iter()
                .filter(|p| p.pool == pool.name && p.ready && !p.terminating)
                .count();
            PoolObservation {
                name: pool.name.clone(),
                exists: applied.statefulsets.iter().any(|s| s.name_any() == sts),
                ready: i32::try_from(ready).unwrap_or(i32::MAX),
                statefulset: sts,
                servers: pool.servers,
                volumes_per_server: pool.volumes_per_server,
                erasure: geometry.describe(),
            }
        })
        .collect();
    let geometry_write_quorum = rendered
        .geometries
        .iter()
        .map(|(_, g)| i32::try_from(g.write_quorum()).unwrap_or(i32::MAX))
        .min();
    Observation {
        generation: tenant.meta().generation,
        pools,
        geometry_write_quorum,
        monitor: applied.monitor,
        volume_expansion: applied.expansion_problem.clone(),
        volume_expansion_pending: applied.expansion_pending.clone(),
        buckets_wanted: buckets.wanted,
        buckets_provisioned: buckets.provisioned,
        bucket_failures: buckets.failures,
        certificates: inputs.certificates.clone(),
        ..Observation::default()
    }
}

/// Writes the status computed from `obs` (with an Event when the health colour changed)
/// and decides when to look again: soon while anything is in flight, every
/// [`HEALTH_INTERVAL`] otherwise.
async fn report_status(
    tenant: &Tenant,
    ctx: &Context,
    tenants: &Api<Tenant>,
    obs: &Observation,
) -> Result<Action, Error> {
    let previous = tenant.status.as_ref();
    let new_status = status::compute(obs, previous, Timestamp::now());
    if previous.and_then(|p| p.health_status) != new_status.health_status
        && let Some(h) = new_status.health_status
    {
        let type_ = if h == crate::crd::HealthStatus::Green {
            EventType::Normal
        } else {
            EventType::Warning
        };
        ctx.event(
            tenant,
            type_,
            "HealthChanged",
            "CheckHealth",
            format!(
                "health is {}: {}",
                serde_json::to_value(h)?.as_str().unwrap_or("unknown"),
                new_status.health_message.clone().unwrap_or_default()
            ),
        )
        .await;
    }
    let busy = status::find(&new_status, status::PROGRESSING).is_some_and(|c| c.status == "True");
    patch_status(tenants, &tenant.name_any(), new_status).await?;
    Ok(Action::requeue(if busy {
        BUSY_INTERVAL
    } else {
        HEALTH_INTERVAL
    }))
}

/// Writes the status subresource (server-side apply, so only the operator's fields).
async fn patch_status(api: &Api<Tenant>, name: &str, status: TenantStatus) -> Result<(), Error> {
    let body = serde_json::json!({
        "apiVersion": API_VERSION,
        "kind": "Tenant",
        "status": status,
    });
    api.patch_status(name, &apply_params(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

/// Adds or removes [`FINALIZER`] to match `volumeClaimRetentionPolicy`.
async fn sync_finalizer(tenant: &Tenant, api: &Api<Tenant>) -> Result<(), Error> {
    let has = tenant.finalizers().iter().any(|f| f == FINALIZER);
    let wants = tenant.spec.delete_volumes_with_tenant();
    if has == wants {
        return Ok(());
    }
    let mut finalizers: Vec<String> = tenant
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    if wants {
        finalizers.push(FINALIZER.to_string());
    }
    set_finalizers(tenant, api, finalizers).await
}

/// Replaces the finalizers, guarded by the resourceVersion read (a concurrent change makes
/// the patch fail with 409 and the reconcile retry).
async fn set_finalizers(
    tenant: &Tenant,
    api: &Api<Tenant>,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let patch = serde_json::json!({
        "metadata": {
            "resourceVersion": tenant.resource_version(),
            "finalizers": finalizers,
        }
    });
    api.patch(
        &tenant.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

/// A Tenant being deleted: with the finalizer, delete the StatefulSets (so no pod holds a
/// claim), then the claims, then release the Tenant. Without it there is nothing to do:
/// owner references take care of the rest and the claims stay.
async fn cleanup(tenant: &Tenant, ctx: &Context, tenants: &Api<Tenant>) -> Result<Action, Error> {
    if !tenant.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(Action::await_change());
    }
    let namespace = tenant.namespace().ok_or(Error::Missing("namespace"))?;
    let selector = tenant_selector(&tenant.name_any());
    let sts_api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &namespace);
    for sts in sts_api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items
    {
        if sts.meta().deletion_timestamp.is_none() {
            delete_if_present(&sts_api, &sts.name_any(), &DeleteParams::background()).await?;
        }
    }
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    let claims = pvc_api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    let mut deleted = Vec::new();
    for claim in &claims {
        if claim.meta().deletion_timestamp.is_some() {
            continue;
        }
        if delete_if_present(&pvc_api, &claim.name_any(), &DeleteParams::background()).await? {
            deleted.push(claim.name_any());
        }
    }
    if !deleted.is_empty() {
        ctx.event(
            tenant,
            EventType::Normal,
            "VolumesDeleted",
            "DeleteVolumes",
            format!(
                "volumeClaimRetentionPolicy is Delete: deleted {} volume claim(s): {}",
                deleted.len(),
                deleted.join(", ")
            ),
        )
        .await;
    }
    let finalizers: Vec<String> = tenant
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    set_finalizers(tenant, tenants, finalizers).await?;
    Ok(Action::await_change())
}

/// Where the controller looks for Tenants.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every namespace.
    All,
    /// One namespace.
    Namespace(String),
}

/// Runs the controller for `scope` until the process is told to stop.
pub async fn run(client: Client, settings: Settings, scope: Scope, metrics: Arc<metrics::Metrics>) {
    let ctx = Arc::new(Context::new(client.clone(), settings, metrics.clone()));
    let (tenants, sts, svc, secrets, pdbs, cms) = match &scope {
        Scope::All => (
            Api::<Tenant>::all(client.clone()),
            Api::<StatefulSet>::all(client.clone()),
            Api::<Service>::all(client.clone()),
            Api::<Secret>::all(client.clone()),
            Api::<PodDisruptionBudget>::all(client.clone()),
            Api::<ConfigMap>::all(client.clone()),
        ),
        Scope::Namespace(ns) => (
            Api::<Tenant>::namespaced(client.clone(), ns),
            Api::<StatefulSet>::namespaced(client.clone(), ns),
            Api::<Service>::namespaced(client.clone(), ns),
            Api::<Secret>::namespaced(client.clone(), ns),
            Api::<PodDisruptionBudget>::namespaced(client.clone(), ns),
            Api::<ConfigMap>::namespaced(client.clone(), ns),
        ),
    };
    // Only the operator's own objects (its label) are watched: a change to one of them
    // reconciles its owner. Secrets a Tenant merely references (configuration, external
    // certificates) are not watched at all, only read by name during a reconcile, which
    // happens at least every HEALTH_INTERVAL (INVALID_INTERVAL for a refused spec).
    let owned = watcher::Config::default().labels(&owned_selector());
    let controller = Controller::new(tenants, watcher::Config::default());
    let pods = match &scope {
        Scope::All => Api::<Pod>::all(client.clone()),
        Scope::Namespace(ns) => Api::<Pod>::namespaced(client.clone(), ns),
    };
    // Pod readiness drives the rolling restart and the health: map pods to their tenant.
    let pod_mapper = |pod: Pod| {
        let tenant = pod.labels().get(LABEL_TENANT).cloned();
        let ns = pod.namespace();
        tenant
            .zip(ns)
            .map(|(t, ns)| ObjectRef::<Tenant>::new(&t).within(&ns))
    };
    controller
        .owns(sts, owned.clone())
        .owns(svc, owned.clone())
        .owns(pdbs, owned.clone())
        .owns(cms, owned.clone())
        .owns(secrets, owned)
        .watches(
            pods,
            watcher::Config::default().labels(LABEL_TENANT),
            pod_mapper,
        )
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| {
            let metrics = metrics.clone();
            async move {
                match result {
                    Ok((object, _)) => tracing::debug!("reconciled {object}"),
                    Err(e) => {
                        metrics.controller_error();
                        tracing::warn!("controller: {e}");
                    }
                }
            }
        })
        .await;
}

/// The label selector of every object the operator creates
/// (`app.kubernetes.io/managed-by=cairn-operator`, set by [`crate::render`]).
pub fn owned_selector() -> String {
    format!("app.kubernetes.io/managed-by={MANAGER}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(10));
        assert_eq!(backoff(4), Duration::from_secs(40));
        assert_eq!(backoff(7), Duration::from_secs(300));
        assert_eq!(backoff(1000), Duration::from_secs(300));
    }
}
