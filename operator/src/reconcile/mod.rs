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
//!    Warning Event, and nothing is applied;
//! 4. server-side apply of every object (field manager `cairn-operator`, forced, each with
//!    the Tenant as controlling owner); grown volume claims are expanded ([`volumes`]);
//! 5. pods: the planner of [`rollout`] deletes outdated pods in a quorum-safe order;
//! 6. health from the tenant's `/minio/health/cluster[/read]` and, when the server has it,
//!    `/cairn/admin/v1/info`; once it has write quorum, buckets are created;
//! 7. status (server-side apply on the status subresource), then requeue: soon while
//!    anything is in flight, every [`HEALTH_INTERVAL`] otherwise.
//!
//! Errors requeue with an exponential backoff per Tenant ([`backoff`]).

pub mod leader;
pub mod metrics;
pub mod rollout;
pub mod status;
pub mod tls;
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
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use crate::config_env::{self, ServerSettings};
use crate::crd::validate::ExistingPool;
use crate::crd::{API_VERSION, Tenant, TenantStatus};
use crate::provision;
use crate::render::names::{LABEL_POOL, LABEL_TENANT, MANAGER};
use crate::render::{self, CONFIG_ENV_KEY, Observed, RenderError, Settings, secret_data};
use crate::tenant::{
    AdminInfo, ClusterHealth, Credentials, HttpTenant, TenantApi, TenantEndpoint, TenantError,
};
use rollout::{Plan, PodView, PoolView};
use status::{Observation, PoolObservation};

/// Finalizer put on Tenants whose volumes are deleted with them.
pub const FINALIZER: &str = "cairn.dev/delete-volumes";
/// How often a settled tenant's health is refreshed.
pub const HEALTH_INTERVAL: Duration = Duration::from_secs(30);
/// How soon a tenant with something in flight is looked at again.
pub const BUSY_INTERVAL: Duration = Duration::from_secs(5);
/// How soon a refused spec is looked at again (a change of the spec or of a watched
/// Secret triggers a reconcile earlier).
pub const INVALID_INTERVAL: Duration = Duration::from_secs(300);

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

fn apply_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

/// Server-side apply of one typed object.
async fn apply<K>(api: &Api<K>, object: &K) -> Result<K, Error>
where
    K: Resource + Clone + Serialize + DeserializeOwned + std::fmt::Debug,
{
    let name = object
        .meta()
        .name
        .clone()
        .ok_or(Error::Missing("object name"))?;
    Ok(api
        .patch(&name, &apply_params(), &Patch::Apply(object))
        .await?)
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

fn service_monitor_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
        "servicemonitors",
    )
}

/// Whether the ServiceMonitor CRD is installed (API discovery, which every authenticated
/// client may read).
async fn service_monitor_available(client: &Client) -> Result<bool, Error> {
    match client
        .list_api_group_resources("monitoring.coreos.com/v1")
        .await
    {
        Ok(list) => Ok(list.resources.iter().any(|r| r.kind == "ServiceMonitor")),
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

async fn reconcile_inner(tenant: &Tenant, ctx: &Context) -> Result<Action, Error> {
    let client = &ctx.client;
    let namespace = tenant.namespace().ok_or(Error::Missing("namespace"))?;
    let name = tenant.name_any();
    let tenants: Api<Tenant> = Api::namespaced(client.clone(), &namespace);

    if tenant.meta().deletion_timestamp.is_some() {
        return cleanup(tenant, ctx, &tenants).await;
    }
    sync_finalizer(tenant, &tenants).await?;

    let spec = &tenant.spec;
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
    let names = render::tenant_names(tenant, &ctx.settings)?;

    // Secrets the rendering reads.
    let mut wanted: Vec<String> = Vec::new();
    wanted.extend(spec.configuration_secret().map(str::to_string));
    wanted.extend(spec.external_cert().map(|c| c.name.clone()));
    wanted.extend(
        spec.external_ca_cert_secret
            .iter()
            .flatten()
            .map(|c| c.name.clone()),
    );
    let mut secrets = Vec::new();
    for secret_name in &wanted {
        if let Some(s) = secrets_api.get_opt(secret_name).await? {
            secrets.push(s);
        }
    }

    // The pools that exist, to refuse shape changes.
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), &namespace);
    let existing_sts = sts_api
        .list(&ListParams::default().labels(&tenant_selector(&name)))
        .await?
        .items;
    let existing_pools: Vec<ExistingPool> = existing_sts
        .iter()
        .filter(|s| s.meta().deletion_timestamp.is_none())
        .filter_map(|s| {
            let pool = s.labels().get(LABEL_POOL)?.clone();
            let spec = s.spec.as_ref()?;
            Some(ExistingPool {
                name: pool,
                servers: usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0),
                volumes_per_server: spec.volume_claim_templates.as_ref().map_or(0, Vec::len),
            })
        })
        .collect();

    let monitor_available = if spec.prometheus_operator() {
        service_monitor_available(client).await?
    } else {
        false
    };

    // Certificates.
    let mut certificates = None;
    let mut auto_tls = None;
    let mut tls_note = None;
    if spec.auto_cert() {
        let ca_key = secrets_api.get_opt(&names.ca_key_secret()).await?;
        let current = secrets_api.get_opt(&names.tls_secret()).await?;
        let ensured = tls::ensure(
            &names,
            spec.cert_config.as_ref(),
            ca_key.as_ref().map(secret_data).as_ref(),
            current.as_ref().map(secret_data).as_ref(),
            time::OffsetDateTime::now_utc(),
        )?;
        certificates = Some(ensured.status.clone());
        tls_note = ensured.issued.clone().map(|why| (why, ensured.new_ca));
        auto_tls = Some(ensured.material);
    }

    let observed = Observed {
        existing_pools,
        service_monitor_available: monitor_available,
        auto_tls,
    };
    let rendered = match render::render(tenant, &secrets, &observed, &ctx.settings) {
        Ok(r) => r,
        Err(RenderError::Invalid(errors)) => {
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
            patch_status(
                &tenants,
                &name,
                status::compute(&obs, previous, Timestamp::now()),
            )
            .await?;
            return Ok(Action::requeue(INVALID_INTERVAL));
        }
        Err(e) => return Err(e.into()),
    };
    for w in &rendered.warnings {
        tracing::info!(tenant = %key(tenant), "{w}");
    }

    // Apply.
    for s in &rendered.secrets {
        apply(&secrets_api, s).await?;
    }
    if let Some((why, new_ca)) = tls_note {
        let what = if new_ca {
            "a new CA and server certificate"
        } else {
            "a new server certificate"
        };
        ctx.event(
            tenant,
            EventType::Normal,
            "CertificateIssued",
            "IssueCertificate",
            format!("issued {what} ({why}); the pods restart to load it"),
        )
        .await;
    }
    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), &namespace);
    for c in &rendered.config_maps {
        apply(&cm_api, c).await?;
    }
    let svc_api: Api<Service> = Api::namespaced(client.clone(), &namespace);
    for s in &rendered.services {
        apply(&svc_api, s).await?;
    }

    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &namespace);
    let mut applied_sts = Vec::new();
    let mut expansion_problem = None;
    let mut expansion_pending = None;
    for desired in &rendered.stateful_sets {
        let sts_name = desired.name_any();
        let existing = existing_sts.iter().find(|s| s.name_any() == sts_name);
        let mut object = desired.clone();
        if let Some(existing) = existing {
            match volumes::expand(client, &pvc_api, &sts_api, existing, desired).await? {
                volumes::Expansion::None => {}
                volumes::Expansion::Refused(message) => {
                    expansion_problem = Some(message);
                }
                volumes::Expansion::Replacing { message, started } => {
                    if started {
                        ctx.event(
                            tenant,
                            EventType::Normal,
                            "VolumesExpanded",
                            "ExpandVolumes",
                            message.clone(),
                        )
                        .await;
                    }
                    expansion_pending = Some(message);
                    // The StatefulSet is being replaced; it is applied again next time.
                    continue;
                }
            }
            // volumeClaimTemplates cannot change on an existing StatefulSet: keep its own.
            if let (Some(o), Some(e)) = (object.spec.as_mut(), existing.spec.as_ref()) {
                o.volume_claim_templates = e.volume_claim_templates.clone();
            }
        } else {
            ctx.event(
                tenant,
                EventType::Normal,
                "PoolCreated",
                "CreateStatefulSet",
                format!("created StatefulSet {sts_name}"),
            )
            .await;
        }
        applied_sts.push(apply(&sts_api, &object).await?);
    }
    let pdb_api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), &namespace);
    for p in &rendered.pod_disruption_budgets {
        apply(&pdb_api, p).await?;
    }
    let monitor = if spec.prometheus_operator() {
        Some(monitor_available)
    } else {
        None
    };
    if monitor_available {
        let sm_api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &service_monitor_resource());
        if let Some(sm) = &rendered.service_monitor {
            sm_api
                .patch(&names.service_monitor(), &apply_params(), &Patch::Apply(sm))
                .await?;
        }
    }
    let monitor_was_applied = tenant
        .status
        .as_ref()
        .and_then(|s| status::find(s, status::MONITORING))
        .is_some_and(|c| c.status == "True");
    if !spec.prometheus_operator() && monitor_was_applied {
        // prometheusOperator was turned off: the ServiceMonitor this operator applied goes
        // (once: the Monitoring condition disappears with this reconcile's status).
        let sm_api: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), &namespace, &service_monitor_resource());
        delete_if_present(&sm_api, &names.service_monitor(), &DeleteParams::default()).await?;
    }
    if spec.prometheus_operator() && !monitor_available {
        let already = tenant
            .status
            .as_ref()
            .and_then(|s| status::find(s, status::MONITORING))
            .is_some_and(|c| c.status == "False");
        if !already {
            ctx.event(
                tenant,
                EventType::Warning,
                "ServiceMonitorCRDMissing",
                "CreateServiceMonitor",
                "prometheusOperator is true but the ServiceMonitor CRD (monitoring.coreos.com/v1) \
                 is not installed; no ServiceMonitor was created"
                    .to_string(),
            )
            .await;
        }
    }

    // Pods and restarts.
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let pods = pods_api
        .list(&ListParams::default().labels(&tenant_selector(&name)))
        .await?
        .items;
    let pod_views: Vec<PodView> = pods.iter().filter_map(pod_view).collect();
    let pool_views: Vec<PoolView> = applied_sts.iter().filter_map(pool_view).collect();
    let ready_servers = pod_views
        .iter()
        .filter(|p| p.ready && !p.terminating)
        .count();

    // Health.
    let (health, admin) = if ready_servers > 0 {
        probe_health(ctx, tenant, &names, &secrets, observed.auto_tls.as_ref()).await
    } else {
        (None, None)
    };
    let write_ok = matches!(&health, Some(Ok(h)) if h.write_ok);

    let plan = rollout::plan(&pool_views, &pod_views, write_ok);
    let rollout_message = match &plan {
        Plan::UpToDate => None,
        Plan::Wait(why) => Some(why.clone()),
        Plan::Delete {
            pods,
            endpoints_changed,
            reason,
        } => {
            for pod in pods {
                delete_if_present(&pods_api, pod, &DeleteParams::default()).await?;
            }
            let reason_code = if *endpoints_changed {
                "TopologyRestart"
            } else {
                "RollingRestart"
            };
            ctx.event(
                tenant,
                EventType::Normal,
                reason_code,
                "RestartPods",
                format!("{reason}: deleted {}", pods.join(", ")),
            )
            .await;
            ctx.metrics.pods_restarted(pods.len());
            Some(reason.clone())
        }
    };

    // Provisioning, once the tenant has write quorum.
    let already: Vec<String> = tenant
        .status
        .as_ref()
        .and_then(|s| s.provisioned_buckets.clone())
        .unwrap_or_default();
    let wanted_buckets: Vec<String> = spec
        .buckets
        .iter()
        .flatten()
        .map(|b| b.name.clone())
        .collect();
    let mut provisioned: Vec<String> = already
        .iter()
        .filter(|b| wanted_buckets.contains(b))
        .cloned()
        .collect();
    let mut bucket_failures = Vec::new();
    let users_not_supported: Vec<String> = spec
        .users
        .iter()
        .flatten()
        .map(|u| u.name.clone())
        .filter(|n| !n.is_empty())
        .collect();
    if write_ok && let Ok(api) = connect(ctx, tenant, &names, &secrets, observed.auto_tls.as_ref())
    {
        let report = provision::provision(api.as_ref(), spec, &already).await;
        // One Event per pass: the recorder folds Events of the same reason into a series
        // that keeps only the first message.
        if !report.created.is_empty() {
            ctx.event(
                tenant,
                EventType::Normal,
                "BucketsCreated",
                "CreateBucket",
                format!("created bucket(s) {}", report.created.join(", ")),
            )
            .await;
        }
        for (bucket, e) in &report.failed {
            bucket_failures.push(format!("bucket {bucket}: {e}"));
        }
        if !bucket_failures.is_empty() {
            ctx.event(
                tenant,
                EventType::Warning,
                "BucketCreationFailed",
                "CreateBucket",
                format!("cannot create {}", bucket_failures.join("; ")),
            )
            .await;
        }
        provisioned = report.provisioned;
    }

    // Status.
    let pools = tenant
        .spec
        .pools
        .iter()
        .zip(&rendered.geometries)
        .map(|(pool, (_, geometry))| {
            let sts = names.statefulset(&pool.name);
            PoolObservation {
                name: pool.name.clone(),
                exists: applied_sts.iter().any(|s| s.name_any() == sts),
                ready: i32::try_from(
                    pod_views
                        .iter()
                        .filter(|p| p.pool == pool.name && p.ready && !p.terminating)
                        .count(),
                )
                .unwrap_or(i32::MAX),
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
    let obs = Observation {
        generation: tenant.meta().generation,
        invalid: None,
        pools,
        health,
        admin,
        geometry_write_quorum,
        rollout: rollout_message,
        monitor,
        volume_expansion: expansion_problem,
        volume_expansion_pending: expansion_pending,
        buckets_wanted: wanted_buckets,
        buckets_provisioned: provisioned,
        bucket_failures,
        users_not_supported,
        certificates,
    };
    let previous = tenant.status.as_ref();
    let new_status = status::compute(&obs, previous, Timestamp::now());
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
    patch_status(&tenants, &name, new_status).await?;
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

fn pod_view(pod: &Pod) -> Option<PodView> {
    let name = pod.name_any();
    let pool = pod.labels().get(LABEL_POOL)?.clone();
    let ordinal = name.rsplit('-').next()?.parse().ok()?;
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    let args = pod
        .spec
        .as_ref()
        .and_then(|s| {
            s.containers
                .iter()
                .find(|c| c.name == render::statefulset::CONTAINER_NAME)
        })
        .and_then(|c| c.args.clone())
        .unwrap_or_default();
    Some(PodView {
        ordinal,
        pool,
        revision: pod.labels().get("controller-revision-hash").cloned(),
        running: status.and_then(|s| s.phase.as_deref()) == Some("Running"),
        ready,
        terminating: pod.meta().deletion_timestamp.is_some(),
        endpoints: rollout::endpoint_args(&args),
        name,
    })
}

fn pool_view(sts: &StatefulSet) -> Option<PoolView> {
    let pool = sts.labels().get(LABEL_POOL)?.clone();
    let spec = sts.spec.as_ref()?;
    let status = sts.status.as_ref();
    let args = spec
        .template
        .spec
        .as_ref()
        .and_then(|s| {
            s.containers
                .iter()
                .find(|c| c.name == render::statefulset::CONTAINER_NAME)
        })
        .and_then(|c| c.args.clone())
        .unwrap_or_default();
    Some(PoolView {
        name: pool,
        replicas: u32::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0),
        update_revision: status.and_then(|s| s.update_revision.clone()),
        observed: status.and_then(|s| s.observed_generation).unwrap_or(-1)
            >= sts.meta().generation.unwrap_or(0),
        endpoints: rollout::endpoint_args(&args),
    })
}

/// How the operator reaches the tenant: its S3 Service, with the tenant's CA and the root
/// credentials of the configuration Secret.
pub fn tenant_endpoint(
    tenant: &Tenant,
    names: &render::names::Names,
    secrets: &[Secret],
    auto_tls: Option<&crate::tls::TlsMaterial>,
) -> Option<TenantEndpoint> {
    let spec = &tenant.spec;
    let config = spec
        .configuration_secret()
        .and_then(|n| render::secrets::find(secrets, &names.namespace, n))
        .map(secret_data)?;
    let text = String::from_utf8(config.get(CONFIG_ENV_KEY)?.clone()).ok()?;
    let file = config_env::parse(&text).ok()?;
    let literal_env: Vec<(String, String)> = spec
        .env
        .iter()
        .flatten()
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect();
    let settings = ServerSettings::resolve(&file, &literal_env);
    let region = ["CAIRN_REGION", "MINIO_REGION", "MINIO_SITE_REGION"]
        .iter()
        .find_map(|k| {
            literal_env
                .iter()
                .chain(file.iter())
                .find(|(n, v)| n == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "us-east-1".to_string());
    let ca_pem = if let Some(m) = auto_tls {
        Some(m.ca_cert_pem.clone())
    } else if let Some(external) = spec.external_cert() {
        let mut pems = Vec::new();
        for (secret, keys) in std::iter::once((external.name.as_str(), ["ca.crt", "ca.crt"])).chain(
            spec.external_ca_cert_secret
                .iter()
                .flatten()
                .map(|c| (c.name.as_str(), ["ca.crt", "public.crt"])),
        ) {
            if let Some(s) = render::secrets::find(secrets, &names.namespace, secret) {
                let data = secret_data(s);
                if let Some(pem) = keys.iter().find_map(|k| data.get(*k)) {
                    pems.push(String::from_utf8_lossy(pem).to_string());
                }
            }
        }
        Some(pems.join("\n"))
    } else {
        None
    };
    let scheme = if spec.tls_enabled() { "https" } else { "http" };
    Some(TenantEndpoint {
        base_url: format!(
            "{scheme}://{}:{}",
            names.service_fqdn(&names.s3_service),
            render::statefulset::S3_PORT
        ),
        ca_pem,
        credentials: Credentials {
            access_key: settings.root_user?,
            secret_key: settings.root_password?,
        },
        region,
    })
}

fn connect(
    ctx: &Context,
    tenant: &Tenant,
    names: &render::names::Names,
    secrets: &[Secret],
    auto_tls: Option<&crate::tls::TlsMaterial>,
) -> Result<Arc<dyn TenantApi>, TenantError> {
    let endpoint = tenant_endpoint(tenant, names, secrets, auto_tls).ok_or_else(|| {
        TenantError::Url("no root credentials in the configuration Secret".to_string())
    })?;
    ctx.connector.connect(endpoint)
}

async fn probe_health(
    ctx: &Context,
    tenant: &Tenant,
    names: &render::names::Names,
    secrets: &[Secret],
    auto_tls: Option<&crate::tls::TlsMaterial>,
) -> (Option<Result<ClusterHealth, String>>, Option<AdminInfo>) {
    let api = match connect(ctx, tenant, names, secrets, auto_tls) {
        Ok(api) => api,
        Err(e) => return (Some(Err(e.to_string())), None),
    };
    match api.cluster_health().await {
        Err(e) => (Some(Err(e.to_string())), None),
        Ok(h) => {
            let admin = match api.admin_info().await {
                Ok(info) => info,
                Err(e) => {
                    tracing::info!(tenant = %key(tenant), "admin info unavailable: {e}");
                    None
                }
            };
            (Some(Ok(h)), admin)
        }
    }
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
    let owned = watcher::Config::default().labels("app.kubernetes.io/managed-by=cairn-operator");
    let controller = Controller::new(tenants, watcher::Config::default());
    let store = controller.store();
    // A Secret a Tenant references (configuration, certificates, users) changes: reconcile
    // it, so that a new password or certificate rolls the pods.
    let secret_mapper = move |secret: Secret| {
        let (name, ns) = (secret.name_any(), secret.namespace());
        store
            .state()
            .iter()
            .filter(|t| t.namespace() == ns && references(t, &name))
            .map(|t| ObjectRef::from_obj(t.as_ref()))
            .collect::<Vec<_>>()
    };
    let pods_owned = match &scope {
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
        .owns(cms, owned)
        .watches(secrets, watcher::Config::default(), secret_mapper)
        .watches(
            pods_owned,
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

/// Whether `tenant` reads the Secret `name` (or owns it: generated certificates).
fn references(tenant: &Tenant, name: &str) -> bool {
    let spec = &tenant.spec;
    let t = tenant.name_any();
    spec.configuration_secret() == Some(name)
        || spec.external_cert().is_some_and(|c| c.name == name)
        || spec
            .external_ca_cert_secret
            .iter()
            .flatten()
            .any(|c| c.name == name)
        || spec.users.iter().flatten().any(|u| u.name == name)
        || [format!("{t}-tls"), format!("{t}-ca"), format!("{t}-ca-key")]
            .contains(&name.to_string())
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
