//! `Tenant.spec.pools[]`: one StatefulSet of identical servers.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, PersistentVolumeClaim, PodSecurityContext, ResourceRequirements, SecurityContext,
    Toleration, TopologySpreadConstraint,
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// A pool of `servers` pods with `volumesPerServer` volumes each. The drives of a pool are
/// split into erasure sets; an object lives in exactly one pool.
///
/// `servers` and `volumesPerServer` cannot change once the pool exists: the erasure layout
/// written on the drives depends on them. Grow a tenant by adding a pool, or by growing the
/// volumes (`volumeClaimTemplate` storage) when the StorageClass allows expansion.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Pool {
    /// Pool name, unique in the tenant; the StatefulSet is `<tenant>-<name>`.
    #[schemars(length(min = 1, max = 63))]
    #[schemars(regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"))]
    pub name: String,

    /// Number of server pods.
    #[schemars(range(min = 1, max = 1024))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "servers of an existing pool cannot change (the erasure layout on its drives depends on it); add a new pool to grow the tenant"
    }]))]
    pub servers: i32,

    /// Number of persistent volumes (drives) per server.
    #[schemars(range(min = 1, max = 256))]
    #[schemars(extend("x-kubernetes-validations" = [{
        "rule": "self == oldSelf",
        "message": "volumesPerServer of an existing pool cannot change (the erasure layout on its drives depends on it); add a new pool to grow the tenant"
    }]))]
    pub volumes_per_server: i32,

    /// Template of every volume's PersistentVolumeClaim: StorageClass, access modes and
    /// `resources.requests.storage` (the size of one drive).
    #[schemars(schema_with = "claim_template_schema")]
    pub volume_claim_template: PersistentVolumeClaim,

    /// CPU and memory of the server container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Node labels the pods must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,

    /// Node and pod (anti-)affinity of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,

    /// Taints the pods tolerate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,

    /// How the pods spread over zones and nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_spread_constraints: Option<Vec<TopologySpreadConstraint>>,

    /// Pod security context. Default: non-root user and group 1000, fsGroup 1000, the
    /// runtime's seccomp profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<PodSecurityContext>,

    /// Container security context. Default: non-root, read-only root file system, no
    /// privilege escalation, all capabilities dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_security_context: Option<SecurityContext>,

    /// Annotations of the StatefulSet and its pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,

    /// Labels of the StatefulSet and its pods (the operator's own labels take precedence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Schema of `volumeClaimTemplate`: a PersistentVolumeClaim whose `metadata` may be left
/// out and that has no `status`. k8s-openapi describes a stored claim, where `metadata` is
/// required; in a template it is optional (MinIO's CRD agrees), and without this the API
/// server would refuse every Tenant whose template has no `metadata`.
fn claim_template_schema(generator: &mut SchemaGenerator) -> Schema {
    let mut schema = PersistentVolumeClaim::json_schema(generator);
    if let Some(object) = schema.as_object_mut() {
        if let Some(serde_json::Value::Array(required)) = object.get_mut("required") {
            required.retain(|field| field != "metadata");
        }
        if object
            .get("required")
            .and_then(serde_json::Value::as_array)
            .is_some_and(Vec::is_empty)
        {
            object.remove("required");
        }
        if let Some(serde_json::Value::Object(properties)) = object.get_mut("properties") {
            properties.remove("status");
        }
    }
    schema
}
