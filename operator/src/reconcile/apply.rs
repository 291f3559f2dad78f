//! Step 4 of a reconcile: server-side apply of every rendered object (field manager
//! `cairn-operator`, forced, each with the Tenant as controlling owner), in dependency
//! order: Secrets, ConfigMaps, Services, StatefulSets (growing volume claims first, see
//! [`super::volumes`]), PodDisruptionBudgets, the ServiceMonitor.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, Patch, PatchParams,
};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::inputs::Inputs;
use super::ownership::controlled_by;
use super::{Context, Error, delete_if_present, status, volumes};
use crate::crd::Tenant;
use crate::render::Rendered;
use crate::render::names::MANAGER;

/// What applying changed, for the later steps and the status.
pub(super) struct Applied {
    /// The StatefulSets as applied (those being replaced are left out).
    pub statefulsets: Vec<StatefulSet>,
    /// Why grown volumes cannot be expanded.
    pub expansion_problem: Option<String>,
    /// Volume expansion under way.
    pub expansion_pending: Option<String>,
    /// `Some(true)`: ServiceMonitor applied; `Some(false)`: its CRD is missing; `None`: not
    /// asked for.
    pub monitor: Option<bool>,
}

pub(super) fn apply_params() -> PatchParams {
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

/// Applies everything `rendered` holds.
pub(super) async fn apply_all(
    tenant: &Tenant,
    ctx: &Context,
    inputs: &Inputs,
    rendered: &Rendered,
) -> Result<Applied, Error> {
    let (client, namespace) = (&ctx.client, inputs.namespace.as_str());
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    for s in &rendered.secrets {
        apply(&secrets_api, s).await?;
    }
    certificate_event(tenant, ctx, inputs).await;
    let cm_api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    for c in &rendered.config_maps {
        apply(&cm_api, c).await?;
    }
    let svc_api: Api<Service> = Api::namespaced(client.clone(), namespace);
    for s in &rendered.services {
        apply(&svc_api, s).await?;
    }
    let mut applied = apply_statefulsets(tenant, ctx, inputs, rendered).await?;
    let pdb_api: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), namespace);
    for p in &rendered.pod_disruption_budgets {
        apply(&pdb_api, p).await?;
    }
    applied.monitor = apply_service_monitor(tenant, ctx, inputs, rendered).await?;
    Ok(applied)
}

/// Says that a certificate was issued (the pods restart to load it).
async fn certificate_event(tenant: &Tenant, ctx: &Context, inputs: &Inputs) {
    let Some((why, new_ca)) = &inputs.tls_note else {
        return;
    };
    let what = if *new_ca {
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

/// Applies each pool's StatefulSet; an existing one keeps its (immutable) claim templates,
/// and grown volumes are expanded first.
async fn apply_statefulsets(
    tenant: &Tenant,
    ctx: &Context,
    inputs: &Inputs,
    rendered: &Rendered,
) -> Result<Applied, Error> {
    let (client, namespace) = (&ctx.client, inputs.namespace.as_str());
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let pvc_api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    let mut applied = Applied {
        statefulsets: Vec::new(),
        expansion_problem: None,
        expansion_pending: None,
        monitor: None,
    };
    for desired in &rendered.stateful_sets {
        let sts_name = desired.name_any();
        let existing = inputs
            .statefulsets
            .iter()
            .find(|s| s.name_any() == sts_name);
        let mut object = desired.clone();
        if let Some(existing) = existing {
            match volumes::expand(client, &pvc_api, &sts_api, existing, desired).await? {
                volumes::Expansion::None => {}
                volumes::Expansion::Refused(message) => {
                    applied.expansion_problem = Some(message);
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
                    applied.expansion_pending = Some(message);
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
        applied.statefulsets.push(apply(&sts_api, &object).await?);
    }
    Ok(applied)
}

pub(super) fn service_monitor_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("monitoring.coreos.com", "v1", "ServiceMonitor"),
        "servicemonitors",
    )
}

/// Applies the ServiceMonitor when asked for and possible, deletes the one this operator
/// applied when `prometheusOperator` was turned off, and warns once when its CRD is
/// missing. Returns the `monitor` of [`Applied`].
async fn apply_service_monitor(
    tenant: &Tenant,
    ctx: &Context,
    inputs: &Inputs,
    rendered: &Rendered,
) -> Result<Option<bool>, Error> {
    let wanted = tenant.spec.prometheus_operator();
    let available = inputs.observed.service_monitor_available;
    let sm_api: Api<DynamicObject> = Api::namespaced_with(
        ctx.client.clone(),
        &inputs.namespace,
        &service_monitor_resource(),
    );
    let name = inputs.names.service_monitor();
    if available && let Some(sm) = &rendered.service_monitor {
        sm_api
            .patch(&name, &apply_params(), &Patch::Apply(sm))
            .await?;
    }
    let previous = tenant
        .status
        .as_ref()
        .and_then(|s| status::find(s, status::MONITORING));
    if !wanted && previous.is_some_and(|c| c.status == "True") {
        // prometheusOperator was turned off: the ServiceMonitor this operator applied goes
        // (once: the Monitoring condition disappears with this reconcile's status), unless
        // another controller has taken the name since.
        let uid = tenant.uid().ok_or(Error::Missing("uid"))?;
        let current = sm_api.get_metadata_opt(&name).await?;
        if current.is_some_and(|m| controlled_by(m.meta(), &uid)) {
            delete_if_present(&sm_api, &name, &DeleteParams::default()).await?;
        }
    }
    if wanted && !available && previous.is_none_or(|c| c.status != "False") {
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
    Ok(wanted.then_some(available))
}
