//! The Tenant's status, computed from what one reconcile observed: a pure function, so the
//! rules (health colours, conditions, states) are unit-tested without an API server.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

use crate::crd::{CertificateStatus, HealthStatus, PoolStatus, TenantStatus, TenantUsage};
use crate::tenant::{AdminInfo, ClusterHealth};

/// Condition types.
pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
/// Whether the ServiceMonitor asked for by `prometheusOperator` exists.
pub const MONITORING: &str = "Monitoring";
/// Whether the users of `spec.users` exist.
pub const USERS_PROVISIONED: &str = "UsersProvisioned";
/// Whether the buckets of `spec.buckets` exist.
pub const BUCKETS_PROVISIONED: &str = "BucketsProvisioned";
/// Whether grown volume claims could be expanded.
pub const VOLUMES_EXPANDED: &str = "VolumesExpanded";
/// Reason of the conditions when an object the Tenant would apply belongs to another.
pub const OBJECT_OWNED_BY_OTHER: &str = "ObjectOwnedByOther";

/// What one reconcile learned, as input to [`compute`].
#[derive(Debug, Clone, Default)]
pub struct Observation {
    pub generation: Option<i64>,
    /// The validation message when the spec is refused.
    pub invalid: Option<String>,
    /// Which objects of the Tenant's exist under another controller (nothing was applied).
    pub conflict: Option<String>,
    /// Per pool: name, StatefulSet, servers, ready servers, volumes per server, erasure.
    pub pools: Vec<PoolObservation>,
    /// `None`: not asked (no server ready); `Some(Err)`: the tenant did not answer.
    pub health: Option<Result<ClusterHealth, String>>,
    /// Drive counts from the admin info endpoint, when the server has one.
    pub admin: Option<AdminInfo>,
    /// The smallest write quorum of the pools' geometry.
    pub geometry_write_quorum: Option<i32>,
    /// A restart in progress, in words.
    pub rollout: Option<String>,
    /// `Some(true)`: ServiceMonitor applied; `Some(false)`: its CRD is missing; `None`: not
    /// asked for.
    pub monitor: Option<bool>,
    /// Volume expansion problem.
    pub volume_expansion: Option<String>,
    /// Volume expansion under way (claims patched, waiting for the resize).
    pub volume_expansion_pending: Option<String>,
    /// Buckets of the spec.
    pub buckets_wanted: Vec<String>,
    /// Buckets that exist.
    pub buckets_provisioned: Vec<String>,
    /// Buckets that failed, with the error.
    pub bucket_failures: Vec<String>,
    /// Policies and users of the spec; `None` when the spec has none.
    pub users: Option<UsersObservation>,
    pub certificates: Option<CertificateStatus>,
}

/// What the users step ([`super::users`]) found.
#[derive(Debug, Clone, Default)]
pub struct UsersObservation {
    /// Users of the spec.
    pub wanted: usize,
    /// User Secrets whose user exists with its policy, in spec order.
    pub provisioned: Vec<String>,
    /// Per user Secret, the hash of what was applied.
    pub user_hashes: BTreeMap<String, String>,
    /// Per policy, the hash of the document applied.
    pub policy_hashes: BTreeMap<String, String>,
    /// Users the operator created: access key to user Secret (`status.managedUsers`).
    pub managed_users: BTreeMap<String, String>,
    /// Policies the operator created (`status.managedPolicies`).
    pub managed_policies: std::collections::BTreeSet<String>,
    /// What went wrong, in order.
    pub problems: Vec<UserProblem>,
}

/// One policy or user that could not be provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProblem {
    /// The condition reason (`SecretMissing`, `KeysMissing`, `AdminApiError`).
    pub reason: &'static str,
    pub message: String,
}

impl UserProblem {
    pub fn new(reason: &'static str, message: String) -> Self {
        Self { reason, message }
    }
}

/// The message of `UsersProvisioned=False`: every problem, in order.
pub fn users_problem_message(problems: &[UserProblem]) -> String {
    problems
        .iter()
        .map(|p| p.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// One pool, observed.
#[derive(Debug, Clone, Default)]
pub struct PoolObservation {
    pub name: String,
    pub statefulset: String,
    pub servers: i32,
    pub exists: bool,
    pub ready: i32,
    pub volumes_per_server: i32,
    pub erasure: String,
}

impl Observation {
    fn servers(&self) -> i32 {
        self.pools.iter().map(|p| p.servers).sum()
    }
    fn ready(&self) -> i32 {
        self.pools.iter().map(|p| p.ready.min(p.servers)).sum()
    }
    fn drives(&self) -> i32 {
        self.pools
            .iter()
            .map(|p| p.servers * p.volumes_per_server)
            .sum()
    }
}

fn condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if ok { "True" } else { "False" }.to_string(),
        reason: reason.to_string(),
        message,
        observed_generation: generation,
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
    }
}

/// The new status. `previous` supplies the `lastTransitionTime` of conditions whose status
/// did not change; `now` is used for those that did.
pub fn compute(obs: &Observation, previous: Option<&TenantStatus>, now: Timestamp) -> TenantStatus {
    let mut status = TenantStatus {
        observed_generation: obs.generation,
        provisioned_buckets: previous.and_then(|p| p.provisioned_buckets.clone()),
        certificates: obs.certificates.clone(),
        ..TenantStatus::default()
    };
    set_identity(&mut status, obs, previous);
    if let Some(refusal) = Refusal::of(obs) {
        status.current_state = Some(refusal.state.to_string());
        status.health_status = previous.and_then(|p| p.health_status);
        status.health_message = previous.and_then(|p| p.health_message.clone());
        let conditions = refusal.conditions(obs.generation);
        status.conditions = Some(keep_transition_times(conditions, previous, now));
        return status;
    }
    status.pools = Some(pool_statuses(obs));
    let drives = Drives::of(obs);
    set_capacity(&mut status, obs, &drives);
    let health = Health::of(obs, &drives);
    status.health_status = Some(health.colour);
    status.health_message = Some(health.message.clone());
    let pending: Vec<&String> = obs
        .buckets_wanted
        .iter()
        .filter(|b| !obs.buckets_provisioned.contains(b))
        .collect();
    if !obs.buckets_provisioned.is_empty() || !obs.buckets_wanted.is_empty() {
        status.provisioned_buckets = Some(obs.buckets_provisioned.clone());
    }
    status.current_state = Some(current_state(obs, &health, &pending));

    let progressing = progressing(obs, &health, &pending);
    let mut conditions = vec![
        ready_condition(obs, &health, progressing.as_ref(), &pending),
        progressing_condition(progressing.as_ref(), obs.generation),
        degraded_condition(obs, &health, &drives),
    ];
    conditions.extend(feature_conditions(obs, &pending));
    status.conditions = Some(keep_transition_times(conditions, previous, now));
    status
}

/// The provisioned users, the hashes of what was applied and what the operator created:
/// from this reconcile when it looked at users, else carried over (a refused spec changes
/// nothing on the tenant).
fn set_identity(status: &mut TenantStatus, obs: &Observation, previous: Option<&TenantStatus>) {
    let non_empty = |m: &BTreeMap<String, String>| (!m.is_empty()).then(|| m.clone());
    match &obs.users {
        Some(u) => {
            status.provisioned_users = (u.wanted > 0).then(|| u.provisioned.clone());
            status.user_hashes = non_empty(&u.user_hashes);
            status.policy_hashes = non_empty(&u.policy_hashes);
            status.managed_users = non_empty(&u.managed_users);
            status.managed_policies = (!u.managed_policies.is_empty())
                .then(|| u.managed_policies.iter().cloned().collect());
        }
        None if obs.invalid.is_some() || obs.conflict.is_some() => {
            status.provisioned_users = previous.and_then(|p| p.provisioned_users.clone());
            status.user_hashes = previous.and_then(|p| p.user_hashes.clone());
            status.policy_hashes = previous.and_then(|p| p.policy_hashes.clone());
            status.managed_users = previous.and_then(|p| p.managed_users.clone());
            status.managed_policies = previous.and_then(|p| p.managed_policies.clone());
        }
        None => {}
    }
}

/// A reconcile that applied nothing: the spec is refused, or an object the Tenant would
/// apply belongs to another controller.
struct Refusal<'a> {
    state: &'static str,
    reason: &'static str,
    message: &'a str,
    /// The Progressing message: what has to happen first.
    waiting: &'static str,
}

impl<'a> Refusal<'a> {
    fn of(obs: &'a Observation) -> Option<Refusal<'a>> {
        if let Some(message) = &obs.invalid {
            return Some(Refusal {
                state: "Invalid spec",
                reason: "InvalidSpec",
                message,
                waiting: "nothing is changed until the spec is fixed",
            });
        }
        obs.conflict.as_deref().map(|message| Refusal {
            state: "Object owned by another controller",
            reason: OBJECT_OWNED_BY_OTHER,
            message,
            waiting: "nothing is applied while another controller owns one of the Tenant's \
                      object names",
        })
    }

    /// Ready and Progressing false, Degraded true, all saying why.
    fn conditions(&self, generation: Option<i64>) -> Vec<Condition> {
        let message = self.message.to_string();
        vec![
            condition(READY, false, self.reason, message.clone(), generation),
            condition(
                PROGRESSING,
                false,
                self.reason,
                self.waiting.to_string(),
                generation,
            ),
            condition(DEGRADED, true, self.reason, message, generation),
        ]
    }
}

fn pool_statuses(obs: &Observation) -> Vec<PoolStatus> {
    obs.pools
        .iter()
        .map(|p| PoolStatus {
            name: p.name.clone(),
            ss_name: Some(p.statefulset.clone()),
            state: Some(
                if !p.exists {
                    "PoolNotCreated"
                } else if p.ready >= p.servers {
                    "PoolInitialized"
                } else {
                    "PoolCreated"
                }
                .to_string(),
            ),
            ready_servers: Some(p.ready),
            erasure: Some(p.erasure.clone()),
        })
        .collect()
}

/// Drive counts: from the admin endpoint when there is one, else from pod readiness.
struct Drives {
    total: i32,
    online: i32,
    offline: i32,
    healing: i32,
    /// Counted from pod readiness (the server has no admin info endpoint).
    estimated: bool,
}

impl Drives {
    fn of(obs: &Observation) -> Drives {
        let total = obs.drives();
        match &obs.admin {
            Some(a) => Drives {
                total,
                online: a.drives_online,
                offline: a.drives_offline,
                healing: a.drives_healing,
                estimated: false,
            },
            None => {
                let online: i32 = obs
                    .pools
                    .iter()
                    .map(|p| p.ready.min(p.servers) * p.volumes_per_server)
                    .sum();
                Drives {
                    total,
                    online,
                    offline: total - online,
                    healing: 0,
                    estimated: true,
                }
            }
        }
    }
}

/// Drives, usage and write quorum.
fn set_capacity(status: &mut TenantStatus, obs: &Observation, drives: &Drives) {
    status.drives_online = Some(drives.online);
    status.drives_offline = Some(drives.offline);
    status.drives_healing = Some(drives.healing);
    if let Some(a) = &obs.admin
        && (a.capacity.is_some() || a.raw_capacity.is_some())
    {
        status.usage = Some(TenantUsage {
            capacity: a.capacity,
            raw_capacity: a.raw_capacity,
            usage: a.usage,
            raw_usage: a.raw_usage,
        });
    }
    let health_quorum = obs
        .health
        .as_ref()
        .and_then(|h| h.as_ref().ok())
        .and_then(|h| h.write_quorum);
    status.write_quorum = health_quorum.or(obs.geometry_write_quorum);
}

/// The health colour and its explanation.
struct Health {
    colour: HealthStatus,
    message: String,
    /// Every erasure set has write quorum.
    write_ok: bool,
}

impl Health {
    fn of(obs: &Observation, d: &Drives) -> Health {
        let (servers, ready) = (obs.servers(), obs.ready());
        let (total, offline, healing) = (d.total, d.offline, d.healing);
        let note = if d.estimated {
            " (drive counts from pod readiness: the server has no admin info endpoint)"
        } else {
            ""
        };
        let (colour, message) = match &obs.health {
            None => (
                HealthStatus::Red,
                format!("no server is ready yet ({ready} of {servers})"),
            ),
            Some(Err(e)) => (
                HealthStatus::Red,
                format!("the tenant does not answer: {e}"),
            ),
            Some(Ok(h)) if !h.write_ok && h.read_ok => (
                HealthStatus::Red,
                "write quorum lost in at least one erasure set; reads are still served".to_string(),
            ),
            Some(Ok(h)) if !h.write_ok => (
                HealthStatus::Red,
                "read and write quorum lost in at least one erasure set".to_string(),
            ),
            Some(Ok(_)) if offline > 0 || healing > 0 || ready < servers => (
                HealthStatus::Yellow,
                format!(
                    "every erasure set has write quorum; {offline} of {total} drives offline, \
                     {healing} healing, {ready} of {servers} servers ready{note}"
                ),
            ),
            Some(Ok(_)) => (
                HealthStatus::Green,
                format!("all {total} drives online, {servers} servers ready{note}"),
            ),
        };
        Health {
            colour,
            message,
            write_ok: matches!(&obs.health, Some(Ok(h)) if h.write_ok),
        }
    }
}

/// `currentState`, most pressing first.
fn current_state(obs: &Observation, health: &Health, pending: &[&String]) -> String {
    let (servers, ready) = (obs.servers(), obs.ready());
    let created = obs.pools.iter().all(|p| p.exists);
    if !created || ready < servers && obs.health.is_none() {
        "Provisioning StatefulSets".to_string()
    } else if let Some(r) = &obs.rollout {
        format!("Restarting pods: {r}")
    } else if let Some(p) = &obs.volume_expansion_pending {
        format!("Expanding volumes: {p}")
    } else if !health.write_ok {
        "Waiting for Tenant to be healthy".to_string()
    } else if !pending.is_empty() {
        "Provisioning buckets".to_string()
    } else {
        "Initialized".to_string()
    }
}

/// What is in flight (reason and message), most pressing first; `None` when settled.
fn progressing(
    obs: &Observation,
    health: &Health,
    pending: &[&String],
) -> Option<(&'static str, String)> {
    let (servers, ready) = (obs.servers(), obs.ready());
    let created = obs.pools.iter().all(|p| p.exists);
    if !created || ready < servers {
        Some((
            "ServersStarting",
            format!("{ready} of {servers} servers ready"),
        ))
    } else if let Some(r) = &obs.rollout {
        Some(("RollingRestart", r.clone()))
    } else if let Some(p) = &obs.volume_expansion_pending {
        Some(("ExpandingVolumes", p.clone()))
    } else if !health.write_ok {
        Some(("WaitingForHealth", health.message.clone()))
    } else if !pending.is_empty() && obs.bucket_failures.is_empty() {
        Some((
            "ProvisioningBuckets",
            format!("creating {} bucket(s)", pending.len()),
        ))
    } else {
        None
    }
}

fn progressing_condition(
    progressing: Option<&(&'static str, String)>,
    generation: Option<i64>,
) -> Condition {
    match progressing {
        Some((reason, message)) => {
            condition(PROGRESSING, true, reason, message.clone(), generation)
        }
        None => condition(
            PROGRESSING,
            false,
            "Stable",
            "every object is applied and every pod is current".to_string(),
            generation,
        ),
    }
}

/// Degraded: the first known problem, most serious first.
fn degraded_condition(obs: &Observation, health: &Health, drives: &Drives) -> Condition {
    let degraded = match (&obs.health, health.colour) {
        (Some(_), HealthStatus::Red) => Some(("QuorumLost", health.message.clone())),
        (Some(Ok(_)), HealthStatus::Yellow) if drives.offline > 0 || drives.healing > 0 => {
            Some(("DrivesOffline", health.message.clone()))
        }
        _ => None,
    }
    .or_else(|| {
        obs.volume_expansion
            .clone()
            .map(|m| ("VolumeExpansionNotSupported", m))
    })
    .or_else(|| {
        (!obs.bucket_failures.is_empty())
            .then(|| ("BucketProvisioningFailed", obs.bucket_failures.join("; ")))
    })
    .or_else(|| {
        (obs.monitor == Some(false)).then(|| ("ServiceMonitorCRDMissing", monitor_missing()))
    });
    match degraded {
        Some((reason, message)) => condition(DEGRADED, true, reason, message, obs.generation),
        None => condition(
            DEGRADED,
            false,
            "AsExpected",
            "no known problem".to_string(),
            obs.generation,
        ),
    }
}

/// Ready: serving with write quorum, every server up, nothing in flight.
fn ready_condition(
    obs: &Observation,
    health: &Health,
    progressing: Option<&(&'static str, String)>,
    pending: &[&String],
) -> Condition {
    let generation = obs.generation;
    if let Some((reason, message)) = progressing {
        condition(READY, false, reason, message.clone(), generation)
    } else if !pending.is_empty() {
        condition(
            READY,
            false,
            "BucketProvisioningFailed",
            obs.bucket_failures.join("; "),
            generation,
        )
    } else {
        condition(
            READY,
            true,
            "TenantHealthy",
            health.message.clone(),
            generation,
        )
    }
}

/// The conditions of optional features, present only when the spec asks for them (or
/// something about them went wrong): monitoring, buckets, users, volume growth.
fn feature_conditions(obs: &Observation, pending: &[&String]) -> Vec<Condition> {
    let generation = obs.generation;
    let mut conditions = Vec::new();
    conditions.extend(obs.monitor.map(|available| {
        if available {
            condition(
                MONITORING,
                true,
                "ServiceMonitorApplied",
                "the ServiceMonitor scrapes /minio/v2/metrics/cluster".to_string(),
                generation,
            )
        } else {
            condition(
                MONITORING,
                false,
                "ServiceMonitorCRDMissing",
                monitor_missing(),
                generation,
            )
        }
    }));
    if !obs.buckets_wanted.is_empty() {
        conditions.push(buckets_condition(obs, pending));
    }
    conditions.extend(
        obs.users
            .as_ref()
            .and_then(|u| users_condition(u, generation)),
    );
    if let Some(m) = &obs.volume_expansion {
        conditions.push(condition(
            VOLUMES_EXPANDED,
            false,
            "StorageClassNotExpandable",
            m.clone(),
            generation,
        ));
    } else if let Some(m) = &obs.volume_expansion_pending {
        conditions.push(condition(
            VOLUMES_EXPANDED,
            false,
            "Expanding",
            m.clone(),
            generation,
        ));
    }
    conditions
}

/// `UsersProvisioned`, when the spec has users or a policy failed: true when every user
/// exists with its policy; false with the first problem's reason, or `WaitingForHealth`.
fn users_condition(users: &UsersObservation, generation: Option<i64>) -> Option<Condition> {
    if let Some(first) = users.problems.first() {
        return Some(condition(
            USERS_PROVISIONED,
            false,
            first.reason,
            users_problem_message(&users.problems),
            generation,
        ));
    }
    if users.wanted == 0 {
        return None;
    }
    Some(if users.provisioned.len() == users.wanted {
        condition(
            USERS_PROVISIONED,
            true,
            "UsersCreated",
            format!("{} user(s) exist with their policies", users.wanted),
            generation,
        )
    } else {
        condition(
            USERS_PROVISIONED,
            false,
            "WaitingForHealth",
            "users are created once the tenant has write quorum".to_string(),
            generation,
        )
    })
}

fn buckets_condition(obs: &Observation, pending: &[&String]) -> Condition {
    let generation = obs.generation;
    if pending.is_empty() {
        condition(
            BUCKETS_PROVISIONED,
            true,
            "BucketsCreated",
            format!("{} bucket(s) exist", obs.buckets_wanted.len()),
            generation,
        )
    } else if !obs.bucket_failures.is_empty() {
        condition(
            BUCKETS_PROVISIONED,
            false,
            "BucketProvisioningFailed",
            obs.bucket_failures.join("; "),
            generation,
        )
    } else {
        condition(
            BUCKETS_PROVISIONED,
            false,
            "WaitingForHealth",
            "buckets are created once the tenant has write quorum".to_string(),
            generation,
        )
    }
}

fn monitor_missing() -> String {
    "prometheusOperator is true but the ServiceMonitor CRD (monitoring.coreos.com/v1) is not \
     installed, so no ServiceMonitor was created; install the Prometheus Operator or scrape \
     /minio/v2/metrics/cluster another way"
        .to_string()
}

/// Sets `lastTransitionTime`: the previous one when the condition's status is unchanged,
/// `now` otherwise.
fn keep_transition_times(
    mut conditions: Vec<Condition>,
    previous: Option<&TenantStatus>,
    now: Timestamp,
) -> Vec<Condition> {
    let old = previous.and_then(|p| p.conditions.as_ref());
    for c in &mut conditions {
        c.last_transition_time = old
            .and_then(|o| {
                o.iter()
                    .find(|p| p.type_ == c.type_ && p.status == c.status)
            })
            .map(|p| p.last_transition_time.clone())
            .unwrap_or(Time(now));
    }
    conditions
}

/// The condition of `type_` in `status`, if any.
pub fn find<'a>(status: &'a TenantStatus, type_: &str) -> Option<&'a Condition> {
    status
        .conditions
        .as_ref()
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pools(ready: i32) -> Vec<PoolObservation> {
        vec![PoolObservation {
            name: "pool-0".into(),
            statefulset: "t-pool-0".into(),
            servers: 4,
            exists: true,
            ready,
            volumes_per_server: 2,
            erasure: "1 set x 8 drives, EC:4 (write quorum 5)".into(),
        }]
    }

    fn healthy() -> Option<Result<ClusterHealth, String>> {
        Some(Ok(ClusterHealth {
            write_ok: true,
            read_ok: true,
            write_quorum: Some(5),
        }))
    }

    fn get<'a>(s: &'a TenantStatus, t: &str) -> &'a Condition {
        find(s, t).unwrap_or_else(|| panic!("no {t} condition"))
    }

    #[test]
    fn green_and_ready_when_every_server_is_up_and_buckets_exist() {
        let obs = Observation {
            generation: Some(3),
            pools: pools(4),
            health: healthy(),
            buckets_wanted: vec!["a".into()],
            buckets_provisioned: vec!["a".into()],
            ..Observation::default()
        };
        let s = compute(&obs, None, Timestamp::UNIX_EPOCH);
        assert_eq!(s.health_status, Some(HealthStatus::Green));
        assert_eq!(s.current_state.as_deref(), Some("Initialized"));
        assert_eq!((s.drives_online, s.drives_offline), (Some(8), Some(0)));
        assert_eq!(s.write_quorum, Some(5));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, PROGRESSING).status, "False");
        assert_eq!(get(&s, DEGRADED).status, "False");
        assert_eq!(get(&s, BUCKETS_PROVISIONED).status, "True");
        assert!(s.health_message.unwrap().contains("pod readiness"));
    }

    #[test]
    fn yellow_with_a_drive_offline_red_without_quorum() {
        let obs = Observation {
            pools: pools(4),
            health: healthy(),
            admin: Some(AdminInfo {
                drives_online: 7,
                drives_offline: 1,
                ..AdminInfo::default()
            }),
            ..Observation::default()
        };
        let s = compute(&obs, None, Timestamp::UNIX_EPOCH);
        assert_eq!(s.health_status, Some(HealthStatus::Yellow));
        assert_eq!(get(&s, DEGRADED).reason, "DrivesOffline");
        assert_eq!(get(&s, READY).status, "True");

        let obs = Observation {
            pools: pools(2),
            health: Some(Ok(ClusterHealth {
                write_ok: false,
                read_ok: true,
                write_quorum: None,
            })),
            geometry_write_quorum: Some(5),
            ..Observation::default()
        };
        let s = compute(&obs, None, Timestamp::UNIX_EPOCH);
        assert_eq!(s.health_status, Some(HealthStatus::Red));
        assert_eq!(s.write_quorum, Some(5));
        assert_eq!(get(&s, DEGRADED).reason, "QuorumLost");
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, PROGRESSING).reason, "ServersStarting");
    }

    #[test]
    fn invalid_spec_and_other_conditions() {
        let obs = Observation {
            invalid: Some("spec.pools[0]: bad".into()),
            ..Observation::default()
        };
        let s = compute(&obs, None, Timestamp::UNIX_EPOCH);
        assert_eq!(get(&s, READY).reason, "InvalidSpec");
        assert_eq!(get(&s, DEGRADED).message, "spec.pools[0]: bad");

        let obs = Observation {
            pools: pools(4),
            health: healthy(),
            monitor: Some(false),
            users: Some(UsersObservation {
                wanted: 1,
                problems: vec![UserProblem::new(
                    "SecretMissing",
                    "user Secret synapse-user does not exist".into(),
                )],
                ..UsersObservation::default()
            }),
            volume_expansion: Some("StorageClass standard does not allow expansion".into()),
            ..Observation::default()
        };
        let s = compute(&obs, None, Timestamp::UNIX_EPOCH);
        assert_eq!(get(&s, MONITORING).reason, "ServiceMonitorCRDMissing");
        assert!(get(&s, USERS_PROVISIONED).message.contains("synapse-user"));
        assert_eq!(get(&s, USERS_PROVISIONED).reason, "SecretMissing");
        assert_eq!(
            get(&s, VOLUMES_EXPANDED).reason,
            "StorageClassNotExpandable"
        );
        assert_eq!(get(&s, DEGRADED).reason, "VolumeExpansionNotSupported");
    }

    #[test]
    fn an_object_owned_by_another_makes_ready_false_and_keeps_the_health() {
        let healthy_before = compute(
            &Observation {
                pools: pools(4),
                health: healthy(),
                ..Observation::default()
            },
            None,
            Timestamp::UNIX_EPOCH,
        );
        let obs = Observation {
            conflict: Some("Service minio is controlled by Tenant other (uid u1)".into()),
            ..Observation::default()
        };
        let s = compute(&obs, Some(&healthy_before), Timestamp::UNIX_EPOCH);
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, READY).reason, OBJECT_OWNED_BY_OTHER);
        assert!(get(&s, READY).message.contains("Service minio"));
        assert_eq!(get(&s, DEGRADED).status, "True");
        assert_eq!(get(&s, PROGRESSING).status, "False");
        assert_eq!(s.health_status, Some(HealthStatus::Green));
    }

    #[test]
    fn what_the_operator_created_is_written_and_survives_a_refused_spec() {
        let obs = Observation {
            pools: pools(4),
            health: healthy(),
            users: Some(UsersObservation {
                managed_users: [("synapse".to_string(), "synapse-user".to_string())].into(),
                managed_policies: ["media-rw".to_string()].into(),
                ..UsersObservation::default()
            }),
            ..Observation::default()
        };
        let s = compute(&obs, None, Timestamp::UNIX_EPOCH);
        assert_eq!(
            s.managed_users,
            Some([("synapse".to_string(), "synapse-user".to_string())].into())
        );
        assert_eq!(
            s.managed_policies.as_deref(),
            Some(&["media-rw".to_string()][..])
        );

        // A refused spec provisions nothing, and forgets nothing.
        let refused = Observation {
            invalid: Some("spec.policies[0]: bad".into()),
            ..Observation::default()
        };
        let kept = compute(&refused, Some(&s), Timestamp::UNIX_EPOCH);
        assert_eq!(kept.managed_users, s.managed_users);
        assert_eq!(kept.managed_policies, s.managed_policies);

        // Everything removed: the fields go.
        let emptied = Observation {
            users: Some(UsersObservation::default()),
            ..obs
        };
        let s = compute(&emptied, Some(&s), Timestamp::UNIX_EPOCH);
        assert_eq!((s.managed_users, s.managed_policies), (None, None));
    }

    #[test]
    fn transition_times_survive_unchanged_statuses() {
        let obs = Observation {
            pools: pools(4),
            health: healthy(),
            ..Observation::default()
        };
        let t1 = Timestamp::from_second(1_000).unwrap();
        let t2 = Timestamp::from_second(2_000).unwrap();
        let first = compute(&obs, None, t1);
        let second = compute(&obs, Some(&first), t2);
        assert_eq!(get(&second, READY).last_transition_time, Time(t1));
        let broken = Observation {
            health: Some(Err("refused".into())),
            ..obs
        };
        let third = compute(&broken, Some(&second), t2);
        assert_eq!(get(&third, READY).last_transition_time, Time(t2));
        assert_eq!(third.health_status, Some(HealthStatus::Red));
    }
}
