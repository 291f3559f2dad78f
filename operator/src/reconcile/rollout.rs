//! Restarts driven by the operator (the StatefulSets use the `OnDelete` update strategy).
//!
//! The StatefulSet controller's own RollingUpdate waits only for each new pod's readiness,
//! which says nothing about the erasure sets. Here a pod whose template is outdated (its
//! `controller-revision-hash` differs from the StatefulSet's `updateRevision`) is deleted
//! by the operator, and the StatefulSet controller recreates it from the new template:
//!
//! * **Same endpoint list** (image, env, resources, configuration or certificate change):
//!   one pod at a time, and only while every pod of the tenant is present and ready *and*
//!   `/minio/health/cluster` answers 200 (every set has write quorum). Then the highest
//!   ordinal of the first pool with outdated pods goes. The next pod waits for the next
//!   reconcile, which comes a few seconds later.
//! * **Changed endpoint list** (a pool was added): the same order, one pod at a time. A
//!   `cairn` server accepts peers whose endpoint list extends its own or is extended by it,
//!   takes its locks on the first pool's servers whatever its list, and puts no new object
//!   in a pool that a peer does not know yet (`cairn::cluster::expansion`). So the new
//!   pool's pods start first (they count among "every pod present and ready"), then the old
//!   pods are restarted with the new list one by one while the tenant keeps write quorum;
//!   the new pool takes new objects once the last old pod has restarted.

/// A pod as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodView {
    pub name: String,
    /// Pool (from the `cairn.dev/pool` label).
    pub pool: String,
    /// Ordinal (the number after the last `-`).
    pub ordinal: u32,
    /// `controller-revision-hash` label.
    pub revision: Option<String>,
    /// Phase Running.
    pub running: bool,
    /// Condition Ready is True.
    pub ready: bool,
    /// Has a deletion timestamp.
    pub terminating: bool,
    /// The endpoint arguments of its `cairn` container (`http(s)://...`).
    pub endpoints: Vec<String>,
}

/// A pool's StatefulSet as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolView {
    pub name: String,
    pub replicas: u32,
    /// `status.updateRevision`.
    pub update_revision: Option<String>,
    /// `status.observedGeneration >= metadata.generation`: the revision is up to date.
    pub observed: bool,
    /// Endpoint arguments of the template.
    pub endpoints: Vec<String>,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Every pod runs the current template.
    UpToDate,
    /// Pods are outdated, but it is not safe or not possible to restart one now.
    Wait(String),
    /// Delete these pods now.
    Delete {
        pods: Vec<String>,
        /// Whether they restart with a changed endpoint list (a pool was added).
        endpoints_changed: bool,
        reason: String,
    },
}

impl Plan {
    /// Whether a restart is under way (pods outdated).
    pub fn in_progress(&self) -> bool {
        !matches!(self, Plan::UpToDate)
    }
}

/// The endpoint arguments among a container's arguments.
pub fn endpoint_args(args: &[String]) -> Vec<String> {
    args.iter()
        .filter(|a| a.starts_with("http://") || a.starts_with("https://"))
        .cloned()
        .collect()
}

/// Decides which pods to delete. `write_ok` is `/minio/health/cluster` answering 200.
pub fn plan(pools: &[PoolView], pods: &[PodView], write_ok: bool) -> Plan {
    if let Some(p) = pools.iter().find(|p| !p.observed) {
        return Plan::Wait(format!(
            "waiting for the StatefulSet controller to observe pool `{}`",
            p.name
        ));
    }
    let outdated: Vec<&PodView> = pods
        .iter()
        .filter(|pod| {
            pools.iter().any(|pool| {
                pool.name == pod.pool
                    && pool.update_revision.is_some()
                    && pod.revision.is_some()
                    && pod.revision != pool.update_revision
            })
        })
        .collect();
    if outdated.is_empty() {
        return Plan::UpToDate;
    }
    if let Some(t) = pods.iter().find(|p| p.terminating) {
        return Plan::Wait(format!("pod {} is terminating", t.name));
    }
    let pool_of = |pod: &PodView| pools.iter().find(|p| p.name == pod.pool);
    let changed = |pod: &PodView| pool_of(pod).is_some_and(|pool| pool.endpoints != pod.endpoints);
    let expected: u32 = pools.iter().map(|p| p.replicas).sum();
    let present = u32::try_from(pods.len()).unwrap_or(u32::MAX);
    if present < expected {
        return Plan::Wait(format!(
            "{present} of {expected} pods exist; waiting for all before restarting the next one"
        ));
    }
    if let Some(p) = pods.iter().find(|p| !p.ready) {
        return Plan::Wait(format!(
            "pod {} is not ready; waiting before restarting the next one",
            p.name
        ));
    }
    if !write_ok {
        return Plan::Wait(
            "the tenant has no write quorum (/minio/health/cluster); waiting before restarting \
             the next pod"
                .to_string(),
        );
    }
    // First pool in spec order with outdated pods, highest ordinal first (as a
    // StatefulSet's own rolling update goes).
    let victim = pools
        .iter()
        .find_map(|pool| {
            outdated
                .iter()
                .filter(|p| p.pool == pool.name)
                .max_by_key(|p| p.ordinal)
        })
        .copied();
    let Some(victim) = victim else {
        return Plan::UpToDate;
    };
    let endpoints_changed = changed(victim);
    let reason = if endpoints_changed {
        format!(
            "pool added: {} of {expected} pods still run with the old endpoint list; restarting \
             {} with the new one while the tenant has write quorum",
            outdated.iter().filter(|p| changed(p)).count(),
            victim.name
        )
    } else {
        format!(
            "rolling restart: {} of {expected} pods outdated; restarting {} while the tenant \
             has write quorum",
            outdated.len(),
            victim.name
        )
    };
    Plan::Delete {
        pods: vec![victim.name.clone()],
        endpoints_changed,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, replicas: u32, rev: &str, endpoints: &[&str]) -> PoolView {
        PoolView {
            name: name.into(),
            replicas,
            update_revision: Some(rev.into()),
            observed: true,
            endpoints: endpoints.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn pod(pool: &str, i: u32, rev: &str, endpoints: &[&str]) -> PodView {
        PodView {
            name: format!("t-{pool}-{i}"),
            pool: pool.into(),
            ordinal: i,
            revision: Some(rev.into()),
            running: true,
            ready: true,
            terminating: false,
            endpoints: endpoints.iter().map(|s| s.to_string()).collect(),
        }
    }

    const A: &[&str] = &["https://a"];
    const AB: &[&str] = &["https://a", "https://b"];

    #[test]
    fn nothing_to_do_when_every_pod_is_current() {
        let pools = [pool("p0", 2, "r2", A)];
        let pods = [pod("p0", 0, "r2", A), pod("p0", 1, "r2", A)];
        assert_eq!(plan(&pools, &pods, true), Plan::UpToDate);
        assert!(!plan(&pools, &pods, false).in_progress());
    }

    #[test]
    fn rolling_restart_goes_one_pod_at_a_time_and_only_with_write_quorum() {
        let pools = [pool("p0", 4, "r2", A)];
        let mut pods: Vec<PodView> = (0..4).map(|i| pod("p0", i, "r1", A)).collect();
        match plan(&pools, &pods, true) {
            Plan::Delete {
                pods: p,
                endpoints_changed,
                ..
            } => {
                assert_eq!(p, vec!["t-p0-3"]);
                assert!(!endpoints_changed);
            }
            other => panic!("{other:?}"),
        }
        // No quorum: wait.
        assert!(matches!(plan(&pools, &pods, false), Plan::Wait(m) if m.contains("write quorum")));
        // The restarted pod is back but not ready yet: wait.
        pods[3] = pod("p0", 3, "r2", A);
        pods[3].ready = false;
        assert!(matches!(plan(&pools, &pods, true), Plan::Wait(m) if m.contains("t-p0-3")));
        // Ready again: next one.
        pods[3].ready = true;
        assert!(
            matches!(plan(&pools, &pods, true), Plan::Delete { pods, .. } if pods == vec!["t-p0-2"])
        );
        // A pod still terminating: wait.
        pods[2].terminating = true;
        assert!(matches!(plan(&pools, &pods, true), Plan::Wait(m) if m.contains("terminating")));
        // A missing pod: wait.
        pods.remove(2);
        assert!(matches!(plan(&pools, &pods, true), Plan::Wait(m) if m.contains("3 of 4")));
    }

    #[test]
    fn an_unobserved_statefulset_is_waited_for() {
        let mut p = pool("p0", 1, "r2", A);
        p.observed = false;
        assert!(matches!(
            plan(&[p], &[pod("p0", 0, "r1", A)], true),
            Plan::Wait(_)
        ));
    }

    #[test]
    fn adding_a_pool_restarts_the_old_pods_one_by_one_after_the_new_ones_are_ready() {
        let pools = [pool("p0", 2, "r2", AB), pool("p1", 2, "s1", AB)];
        let mut pods = vec![
            pod("p0", 0, "r1", A),
            pod("p0", 1, "r1", A),
            pod("p1", 0, "s1", AB),
        ];
        // The new pool's second pod does not exist yet, then is not ready yet.
        assert!(matches!(plan(&pools, &pods, true), Plan::Wait(m) if m.contains("3 of 4")));
        pods.push(pod("p1", 1, "s1", AB));
        pods[3].ready = false;
        assert!(matches!(plan(&pools, &pods, true), Plan::Wait(m) if m.contains("t-p1-1")));
        pods[3].ready = true;
        assert!(matches!(plan(&pools, &pods, false), Plan::Wait(m) if m.contains("write quorum")));
        match plan(&pools, &pods, true) {
            Plan::Delete {
                pods: p,
                endpoints_changed,
                reason,
            } => {
                assert_eq!(p, vec!["t-p0-1"]);
                assert!(endpoints_changed);
                assert!(reason.contains("2 of 4"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // t-p0-1 came back with the new list: then t-p0-0, the last one.
        pods[1] = pod("p0", 1, "r2", AB);
        assert!(matches!(
            plan(&pools, &pods, true),
            Plan::Delete { pods, endpoints_changed: true, .. } if pods == vec!["t-p0-0"]
        ));
        pods[0] = pod("p0", 0, "r2", AB);
        assert_eq!(plan(&pools, &pods, true), Plan::UpToDate);
    }
}
