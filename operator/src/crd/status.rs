//! `Tenant.status`: what the operator observed, written only by the operator.
//!
//! The MinIO fields (`currentState`, `healthStatus`, `drivesOnline`, ...) keep their names so
//! dashboards and scripts that read them keep working; `conditions` and
//! `observedGeneration` follow the Kubernetes API conventions so that `kubectl wait
//! --for=condition=Ready` and GitOps tools understand the tenant.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Observed state of a Tenant.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantStatus {
    /// Where the operator is in bringing the tenant up, in words (`Initialized`,
    /// `Provisioning StatefulSets`, `Waiting for Tenant to be healthy`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_state: Option<String>,

    /// `green`: every drive online; `yellow`: some drives offline or healing but every set
    /// has write quorum; `red`: a set lost write quorum, or the tenant does not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_status: Option<HealthStatus>,

    /// Why the tenant has its health status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_message: Option<String>,

    /// Drives that answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drives_online: Option<i32>,

    /// Drives that do not answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drives_offline: Option<i32>,

    /// Drives being rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drives_healing: Option<i32>,

    /// Drives of a set that must acknowledge a write (the smallest over all pools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_quorum: Option<i32>,

    /// State of each pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pools: Option<Vec<PoolStatus>>,

    /// Capacity and usage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<TenantUsage>,

    /// Buckets of `spec.buckets` that exist on the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_buckets: Option<Vec<String>>,

    /// Users of `spec.users` (Secret names) that exist on the tenant with their policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioned_users: Option<Vec<String>>,

    /// Per user Secret, a keyed hash (HMAC-SHA256 under the root secret key, 16 hex
    /// digits) of the access key, secret key and policy last applied: an unchanged Secret
    /// is not sent to the tenant again, and the hash reveals nothing of the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_hashes: Option<BTreeMap<String, String>>,

    /// Per policy of `spec.policies`, the same kind of hash of the document last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_hashes: Option<BTreeMap<String, String>>,

    /// The users this operator created on the tenant: access key to the user Secret that
    /// declared it. A user is removed from the tenant (`remove-user`) once no Secret of
    /// `spec.users` declares its access key any more; users not listed here (made by hand,
    /// or by another tool) are never removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_users: Option<BTreeMap<String, String>>,

    /// The policies of `spec.policies` this operator created on the tenant. One no longer
    /// declared is removed (`remove-canned-policy`) once no user of `spec.users` names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_policies: Option<Vec<String>>,

    /// The server certificate in use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificates: Option<CertificateStatus>,

    /// `Ready`, `Progressing` and `Degraded`, with reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Option<Vec<Condition>>,

    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Health of a tenant, in MinIO's three colours.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Green,
    Yellow,
    Red,
}

/// Observed state of one pool.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolStatus {
    /// Pool name.
    pub name: String,
    /// Its StatefulSet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ss_name: Option<String>,
    /// `PoolNotCreated`, `PoolCreated` or `PoolInitialized` (its servers answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Pods ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_servers: Option<i32>,
    /// Erasure sets, drives per set and parity, for example `1 x 8 drives, EC:4`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<String>,
}

/// Capacity and usage in bytes.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantUsage {
    /// Usable capacity (after parity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<i64>,
    /// Raw capacity of all drives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_capacity: Option<i64>,
    /// Bytes of object data stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<i64>,
    /// Bytes used on the drives.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_usage: Option<i64>,
}

/// The TLS certificate the servers present.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// Whether the operator generates the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_cert_enabled: Option<bool>,
    /// Secret holding the certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// When the server certificate expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<String>,
    /// When the generated CA expires (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_expiry: Option<String>,
}
