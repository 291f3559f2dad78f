//! Step 5 of a reconcile, the pods: what they run and whether they are ready, and the
//! restarts the planner of [`super::rollout`] decides (outdated pods deleted in a
//! quorum-safe order).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams};
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};

use super::rollout::{self, Plan, PodView, PoolView};
use super::{Context, Error, delete_if_present, tenant_selector};
use crate::crd::Tenant;
use crate::render::{self, names::LABEL_POOL};

/// The tenant's pods, as the planner sees them.
pub(super) async fn observe(
    ctx: &Context,
    namespace: &str,
    tenant: &Tenant,
) -> Result<Vec<PodView>, Error> {
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let pods = pods_api
        .list(&ListParams::default().labels(&tenant_selector(&tenant.name_any())))
        .await?
        .items;
    Ok(pods.iter().filter_map(pod_view).collect())
}

/// Servers ready to serve (not on their way out).
pub(super) fn ready_servers(pods: &[PodView]) -> usize {
    pods.iter().filter(|p| p.ready && !p.terminating).count()
}

/// Deletes the pods the planner says may go now; returns the restart in progress, in words.
pub(super) async fn restart(
    tenant: &Tenant,
    ctx: &Context,
    namespace: &str,
    statefulsets: &[StatefulSet],
    pods: &[PodView],
    write_ok: bool,
) -> Result<Option<String>, Error> {
    let pool_views: Vec<PoolView> = statefulsets.iter().filter_map(pool_view).collect();
    let (pods, endpoints_changed, reason) = match rollout::plan(&pool_views, pods, write_ok) {
        Plan::UpToDate => return Ok(None),
        Plan::Wait(why) => return Ok(Some(why)),
        Plan::Delete {
            pods,
            endpoints_changed,
            reason,
        } => (pods, endpoints_changed, reason),
    };
    let pods_api: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    for pod in &pods {
        delete_if_present(&pods_api, pod, &DeleteParams::default()).await?;
    }
    let reason_code = if endpoints_changed {
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
    Ok(Some(reason))
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
