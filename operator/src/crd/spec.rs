//! `Tenant.spec`: what a person asks for.
//!
//! Field names and meanings mirror MinIO's `minio.min.io/v2` Tenant wherever the meaning is
//! the same, so a MinIO Tenant moves over by changing `apiVersion` only. Fields MinIO has and
//! Cairn does not support yet (KES, sidecars, features, ...) are left out on purpose: the
//! API server prunes them, and `cairn-operator render` warns about each one it ignores.
//! Every field is optional on the Rust side except `pools`, so that the operator never
//! writes a defaulted value back into a person's spec; the effective values come from the
//! accessors in `super::defaults`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, LocalObjectReference};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::identity::{TenantPolicy, TenantUser};
use super::pool::Pool;
use super::status::TenantStatus;

/// A Cairn storage cluster: one or more pools of servers, each server with the same number
/// of persistent volumes, erasure coded together and served as one S3 endpoint.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "cairn.dev",
    version = "v1alpha1",
    kind = "Tenant",
    namespaced,
    status = "TenantStatus",
    shortname = "cten",
    category = "cairn",
    derive = "PartialEq",
    doc = "A Cairn Tenant: erasure-coded S3-compatible object storage made of pools of servers with persistent volumes. Field names follow MinIO's minio.min.io/v2 Tenant.",
    printcolumn = r#"{"name": "State", "type": "string", "jsonPath": ".status.currentState"}"#,
    printcolumn = r#"{"name": "Health", "type": "string", "jsonPath": ".status.healthStatus"}"#,
    printcolumn = r#"{"name": "Drives online", "type": "integer", "jsonPath": ".status.drivesOnline"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [
    {
        "rule": "has(self.configuration) && has(self.configuration.name) && size(self.configuration.name) > 0",
        "message": "spec.configuration.name must name a Secret whose config.env holds the root credentials (export MINIO_ROOT_USER=\"...\" and export MINIO_ROOT_PASSWORD=\"...\", or the CAIRN_* names)",
        "fieldPath": ".configuration",
        "reason": "FieldValueRequired"
    },
    {
        "rule": "self.pools.all(p, p.servers * p.volumesPerServer >= 4) || (size(self.pools) == 1 && self.pools[0].servers == 1)",
        "message": "with more than one server (distributed mode) every pool needs at least 4 drives (servers x volumesPerServer), so that erasure coding can survive a lost server",
        "fieldPath": ".pools"
    }
]))]
pub struct TenantSpec {
    /// The server pools. Each pool is a StatefulSet `<tenant>-<pool>` of `servers` pods with
    /// `volumesPerServer` volumes each; all pools together form one deployment. Grow a tenant
    /// by adding a pool (the existing pools keep their shape).
    #[schemars(length(min = 1, max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub pools: Vec<Pool>,

    /// Container image of the `cairn` server. Defaults to the operator's `--default-image`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// Pull policy of the server image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<ImagePullPolicy>,

    /// Secret used to pull the server image from a private registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<LocalObjectReference>,

    /// Secret with a `config.env` key of `export NAME="value"` lines: the root credentials
    /// (`MINIO_ROOT_USER`/`MINIO_ROOT_PASSWORD` or `CAIRN_ROOT_USER`/`CAIRN_ROOT_PASSWORD`) and
    /// settings such as `MINIO_STORAGE_CLASS_STANDARD="EC:4"`. Mounted into the pods as a file,
    /// so the values never appear in the pod spec.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configuration: Option<LocalObjectReference>,

    /// Extra environment variables of the server container. Secrets do not belong here: put
    /// credentials in the configuration Secret, or use `valueFrom.secretKeyRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,

    /// Generate a private CA and a server certificate for the tenant and serve HTTPS
    /// (default true). Ignored when `externalCertSecret` is set; with neither, the tenant
    /// serves plain HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = true))]
    pub request_auto_cert: Option<bool>,

    /// Subject and extra names of the generated server certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_config: Option<CertificateConfig>,

    /// A Secret with the server certificate (for example one made by cert-manager) to use
    /// instead of the generated one. Cairn serves one certificate, so give one Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_cert_secret: Option<Vec<LocalCertificateReference>>,

    /// Secrets with extra CA certificates the servers trust when talking to each other (for
    /// example the CA that signed `externalCertSecret`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_ca_cert_secret: Option<Vec<LocalCertificateReference>>,

    /// Where the volumes are mounted: volume `i` of a server is mounted at `<mountPath><i>`
    /// (`/export0`, `/export1`, ...). Default `/export`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "/export"))]
    #[schemars(regex(pattern = r"^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$"))]
    pub mount_path: Option<String>,

    /// Buckets created once the tenant is healthy; existing buckets are left alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<Vec<Bucket>>,

    /// Secrets with `CONSOLE_ACCESS_KEY` and `CONSOLE_SECRET_KEY`, each one user created once
    /// the tenant is healthy, with the policy `policy` (default `consoleAdmin`). A changed
    /// Secret updates the user; a user the operator created is removed from the tenant
    /// when its entry leaves this list (or its Secret's `CONSOLE_ACCESS_KEY` changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<TenantUser>>,

    /// IAM policies created once the tenant is healthy (before the users), for
    /// `users[].policy` to name. A changed document (inline or in its ConfigMap) replaces
    /// the policy; one the operator created is removed from the tenant when it leaves this
    /// list and no user names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Vec<TenantPolicy>>,

    /// Create a Prometheus Operator ServiceMonitor that scrapes `/minio/v2/metrics/cluster`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_operator: Option<bool>,

    /// Make the S3 and/or console Services of type LoadBalancer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose_services: Option<ExposeServices>,

    /// Extra labels and annotations of the S3 and console Services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_metadata: Option<ServiceMetadata>,

    /// Name of the S3 Service. Default `minio`, the name MinIO's operator uses, so that
    /// application configs such as `https://minio.<namespace>.svc.cluster.local` keep working.
    /// Set it when two tenants share a namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"))]
    pub s3_service_name: Option<String>,

    /// PriorityClass of the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,

    /// ServiceAccount of the server pods (the server does not call the Kubernetes API, so its
    /// token is not mounted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,

    /// How the StatefulSets start pods. Default `Parallel`: the servers of a pool wait for
    /// each other at start-up, so starting them one by one would never finish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Parallel"))]
    pub pod_management_policy: Option<PodManagementPolicy>,

    /// What happens to the volumes (PersistentVolumeClaims) when the Tenant is deleted.
    /// `Retain` (default, as MinIO's operator): they stay, with the objects on them, and a
    /// Tenant of the same name and shape picks them up again. `Delete`: the operator
    /// deletes them (a finalizer holds the Tenant until it has), which destroys the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Retain"))]
    pub volume_claim_retention_policy: Option<VolumeClaimRetentionPolicy>,
}

/// Whether a deleted Tenant's volumes are kept.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum VolumeClaimRetentionPolicy {
    /// Keep the PersistentVolumeClaims (and the data).
    Retain,
    /// Delete the PersistentVolumeClaims with the Tenant.
    Delete,
}

/// When the kubelet pulls the server image.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ImagePullPolicy {
    Always,
    IfNotPresent,
    Never,
}

impl ImagePullPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// StatefulSet pod management policy.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum PodManagementPolicy {
    Parallel,
    OrderedReady,
}

impl PodManagementPolicy {
    /// The Kubernetes spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Parallel => "Parallel",
            Self::OrderedReady => "OrderedReady",
        }
    }
}

/// Attributes of the generated server certificate (MinIO's `certConfig`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateConfig {
    /// Subject common name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// Subject organization names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization_name: Option<Vec<String>>,
    /// Extra DNS names, added to the pod and Service names the operator always includes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_names: Option<Vec<String>>,
}

/// A Secret holding a certificate (MinIO's `LocalCertificateReference`).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LocalCertificateReference {
    /// Name of the Secret.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Secret type. `kubernetes.io/tls` and cert-manager Secrets hold `tls.crt`/`tls.key`
    /// (and `ca.crt`); any other type is read as MinIO's `public.crt`/`private.key`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// A bucket created when the tenant becomes healthy.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// Bucket name (S3 rules: 3 to 63 lowercase letters, digits, `.` and `-`).
    #[schemars(length(min = 3, max = 63))]
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"))]
    pub name: String,
    /// Region recorded for the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Create the bucket with S3 Object Lock (versioning enabled for good, retention and
    /// legal hold available). Only applies when the operator creates the bucket: an
    /// existing bucket is not changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_lock: Option<bool>,
}

/// Which Services become LoadBalancers.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposeServices {
    /// The S3 Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minio: Option<bool>,
    /// The console Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<bool>,
}

/// Extra metadata of the Services, as MinIO names it.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMetadata {
    /// Labels added to the S3 Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minio_service_labels: Option<BTreeMap<String, String>>,
    /// Annotations added to the S3 Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minio_service_annotations: Option<BTreeMap<String, String>>,
    /// Labels added to the console Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_service_labels: Option<BTreeMap<String, String>>,
    /// Annotations added to the console Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_service_annotations: Option<BTreeMap<String, String>>,
}
