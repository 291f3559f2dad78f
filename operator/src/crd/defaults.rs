//! Effective values of the optional spec fields.
//!
//! Defaults live here, in one place, rather than in `Default` impls or serde defaults: the
//! spec as the person wrote it stays untouched (and round-trips), and the renderer asks for
//! the effective value. The same defaults appear as `default:` in the CRD schema, so
//! `kubectl get tenant -o yaml` shows them too.

use super::spec::{
    LocalCertificateReference, PodManagementPolicy, TenantSpec, VolumeClaimRetentionPolicy,
};

/// Base path of the volume mounts (`/export0`, `/export1`, ...), as MinIO's operator.
pub const DEFAULT_MOUNT_PATH: &str = "/export";

/// Name of the S3 Service, as MinIO's operator, so that existing application configs
/// (`minio.<namespace>.svc.cluster.local`) keep working.
pub const DEFAULT_S3_SERVICE_NAME: &str = "minio";

impl TenantSpec {
    /// The certificate Secret given by the person, if any (the first one: Cairn serves a
    /// single certificate, and validation refuses more than one).
    pub fn external_cert(&self) -> Option<&LocalCertificateReference> {
        self.external_cert_secret.as_ref().and_then(|v| v.first())
    }

    /// Whether the operator generates a CA and server certificate: `requestAutoCert`
    /// (default true) unless an external certificate replaces it.
    pub fn auto_cert(&self) -> bool {
        self.external_cert().is_none() && self.request_auto_cert.unwrap_or(true)
    }

    /// Whether the servers speak HTTPS.
    pub fn tls_enabled(&self) -> bool {
        self.external_cert().is_some() || self.auto_cert()
    }

    /// Base path of the volume mounts, without a trailing slash.
    pub fn mount_path(&self) -> &str {
        self.mount_path
            .as_deref()
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .unwrap_or(DEFAULT_MOUNT_PATH)
    }

    /// Name of the S3 Service.
    pub fn s3_service_name(&self) -> &str {
        self.s3_service_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .unwrap_or(DEFAULT_S3_SERVICE_NAME)
    }

    /// StatefulSet pod management policy (default `Parallel`).
    pub fn pod_management_policy(&self) -> PodManagementPolicy {
        self.pod_management_policy
            .unwrap_or(PodManagementPolicy::Parallel)
    }

    /// Whether to create a ServiceMonitor.
    pub fn prometheus_operator(&self) -> bool {
        self.prometheus_operator.unwrap_or(false)
    }

    /// Name of the configuration Secret, if set and not empty.
    pub fn configuration_secret(&self) -> Option<&str> {
        self.configuration
            .as_ref()
            .map(|c| c.name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// Whether the S3 Service is a LoadBalancer.
    pub fn expose_s3(&self) -> bool {
        self.expose_services
            .as_ref()
            .and_then(|e| e.minio)
            .unwrap_or(false)
    }

    /// Whether the console Service is a LoadBalancer.
    pub fn expose_console(&self) -> bool {
        self.expose_services
            .as_ref()
            .and_then(|e| e.console)
            .unwrap_or(false)
    }

    /// Whether the volumes are deleted with the Tenant (`volumeClaimRetentionPolicy:
    /// Delete`); kept by default.
    pub fn delete_volumes_with_tenant(&self) -> bool {
        self.volume_claim_retention_policy == Some(VolumeClaimRetentionPolicy::Delete)
    }
}
