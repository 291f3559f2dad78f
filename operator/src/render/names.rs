//! Names and labels of everything the operator creates for a tenant.
//!
//! Names follow MinIO's operator (`<tenant>-<pool>`, `<tenant>-hl`, `minio`,
//! `<tenant>-console`, `<tenant>-tls`) so that application configs and runbooks written for
//! a MinIO tenant keep working. Labels carry the tenant and pool so that several tenants can
//! share a namespace: every selector includes `cairn.dev/tenant`.

use std::collections::BTreeMap;

/// Label with the tenant name, on every object and pod; part of every selector.
pub const LABEL_TENANT: &str = "cairn.dev/tenant";
/// Label with the pool name, on a pool's StatefulSet, pods and PDB; part of their selectors.
pub const LABEL_POOL: &str = "cairn.dev/pool";
/// Label telling the tenant's Services apart, so that a ServiceMonitor picks exactly one.
pub const LABEL_SERVICE: &str = "cairn.dev/service";
/// Pod annotation with the hash of the configuration and certificates: when either
/// changes, the pod template changes and the StatefulSet rolls the pods.
pub const ANNOTATION_CONFIG_HASH: &str = "cairn.dev/config-hash";
/// The operator's field manager and `app.kubernetes.io/managed-by` value.
pub const MANAGER: &str = "cairn-operator";

/// Names of one tenant's objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// Tenant name.
    pub tenant: String,
    /// Tenant namespace.
    pub namespace: String,
    /// Cluster DNS domain, usually `cluster.local`.
    pub cluster_domain: String,
    /// S3 Service name.
    pub s3_service: String,
}

impl Names {
    /// StatefulSet (and PodDisruptionBudget) of a pool: `<tenant>-<pool>`; its pods are
    /// `<tenant>-<pool>-<i>`.
    pub fn statefulset(&self, pool: &str) -> String {
        format!("{}-{pool}", self.tenant)
    }

    /// Headless Service that gives every pod a DNS name: `<tenant>-hl`.
    pub fn headless_service(&self) -> String {
        format!("{}-hl", self.tenant)
    }

    /// Console Service: `<tenant>-console`.
    pub fn console_service(&self) -> String {
        format!("{}-console", self.tenant)
    }

    /// Secret with the server certificate, key and CA certificate (`kubernetes.io/tls`),
    /// mounted by the pods: `<tenant>-tls`.
    pub fn tls_secret(&self) -> String {
        format!("{}-tls", self.tenant)
    }

    /// Secret and ConfigMap with only the CA certificate (`ca.crt`), for clients to trust
    /// (CloudNativePG's `endpointCA`, Synapse, Prometheus): `<tenant>-ca`.
    pub fn ca_public(&self) -> String {
        format!("{}-ca", self.tenant)
    }

    /// Secret with the CA certificate and private key, read only by the operator to issue
    /// server certificates: `<tenant>-ca-key`.
    pub fn ca_key_secret(&self) -> String {
        format!("{}-ca-key", self.tenant)
    }

    /// Secret with the bearer token the ServiceMonitor scrapes with (key `token`):
    /// `<tenant>-prometheus-token`.
    pub fn prometheus_token_secret(&self) -> String {
        format!("{}-prometheus-token", self.tenant)
    }

    /// ServiceMonitor: `<tenant>`.
    pub fn service_monitor(&self) -> String {
        self.tenant.clone()
    }

    /// `<service>.<namespace>.svc.<domain>`.
    pub fn service_fqdn(&self, service: &str) -> String {
        format!("{service}.{}.svc.{}", self.namespace, self.cluster_domain)
    }

    /// Every name a client may use for a Service: `svc`, `svc.ns`, `svc.ns.svc`,
    /// `svc.ns.svc.<domain>`.
    pub fn service_dns_names(&self, service: &str) -> Vec<String> {
        let ns = &self.namespace;
        vec![
            service.to_string(),
            format!("{service}.{ns}"),
            format!("{service}.{ns}.svc"),
            self.service_fqdn(service),
        ]
    }
}

/// Labels on every object of the tenant.
pub fn tenant_labels(tenant: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "cairn".to_string()),
        ("app.kubernetes.io/instance".to_string(), tenant.to_string()),
        (
            "app.kubernetes.io/managed-by".to_string(),
            MANAGER.to_string(),
        ),
        (LABEL_TENANT.to_string(), tenant.to_string()),
    ])
}

/// Selector of every server pod of the tenant (all pools): what the Services select.
pub fn tenant_selector(tenant: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(LABEL_TENANT.to_string(), tenant.to_string())])
}

/// Selector of the pods of one pool: what its StatefulSet and PDB select.
pub fn pool_selector(tenant: &str, pool: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_TENANT.to_string(), tenant.to_string()),
        (LABEL_POOL.to_string(), pool.to_string()),
    ])
}

/// Labels of a pool's StatefulSet, pods and PDB.
pub fn pool_labels(tenant: &str, pool: &str) -> BTreeMap<String, String> {
    let mut labels = tenant_labels(tenant);
    labels.insert(
        "app.kubernetes.io/component".to_string(),
        "server".to_string(),
    );
    labels.extend(pool_selector(tenant, pool));
    labels
}
