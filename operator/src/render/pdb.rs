//! One PodDisruptionBudget per pool, sized from the erasure geometry.
//!
//! A voluntary disruption (node drain, cluster upgrade) must never take an erasure set
//! below write quorum, or writes to it fail until the pods return. Sets are spread evenly
//! over the pool's servers, so a server that goes down costs each set the drives the set
//! has on it. [`Geometry::servers_tolerated`] finds the largest number of servers whose
//! worst-case loss still leaves every set at write quorum; `minAvailable` is the rest.
//! For the Matrix example (4 servers x 2 drives, one set of 8, EC:4, write quorum 5):
//! one server down costs the set 2 drives (6 left), two cost 4 (4 left, below 5), so one
//! server may go and `minAvailable` is 3.
//!
//! Pools are independent (an object lives in one pool), so each pool gets its own budget.
//! A pool that cannot lose any server gets `minAvailable` equal to its size, which blocks
//! every eviction: that is the truth about such a pool, and rendering warns about it.
//!
//! `unhealthyPodEvictionPolicy: AlwaysAllow` lets a drain evict a pod that is not ready
//! anyway (crash-looping, stuck): it serves nothing, so evicting it cannot lower
//! availability, and without it a single broken pod would block every drain.

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use super::names::{pool_labels, pool_selector};
use crate::crd::Pool;
use crate::geometry::Geometry;

/// `minAvailable` of a pool: its servers less those it can lose at once.
pub fn min_available(geometry: &Geometry) -> usize {
    geometry.servers - geometry.servers_tolerated().min(geometry.servers)
}

/// The PodDisruptionBudget `<tenant>-<pool>`.
pub(crate) fn pod_disruption_budget(
    ctx: &Context<'_>,
    pool: &Pool,
    geometry: &Geometry,
) -> PodDisruptionBudget {
    let tenant = &ctx.names.tenant;
    let min = i32::try_from(min_available(geometry)).unwrap_or(i32::MAX);
    PodDisruptionBudget {
        metadata: ctx.meta(
            ctx.names.statefulset(&pool.name),
            pool_labels(tenant, &pool.name),
        ),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(min)),
            selector: Some(LabelSelector {
                match_labels: Some(pool_selector(tenant, &pool.name)),
                ..LabelSelector::default()
            }),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_string()),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}
