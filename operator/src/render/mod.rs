//! Desired state: a Tenant (plus the Secrets it references and what was observed in the
//! cluster) in, every Kubernetes object the operator wants to exist out.
//!
//! Everything the operator creates is decided here, by pure functions with no I/O, so that
//! it is unit-tested object by object and printable for review (`cairn-operator render`).
//! The reconcile layer only applies what this returns and reports what it observes.
//!
//! Design choices that shape the output (each explained where it is made):
//! * the S3 Service answers on both MinIO's port (443 with TLS, 80 without) and on 9000
//!   ([`services`]);
//! * each pool's PodDisruptionBudget lets go only as many servers as keep every erasure set
//!   at write quorum ([`pdb`]);
//! * credentials reach the server only as a mounted `config.env` file, and a hash of that
//!   file and of the certificates in the pod template rolls the pods when either changes
//!   ([`statefulset`], [`hash`]).

pub mod endpoints;
pub mod hash;
pub mod monitor;
pub mod names;
pub mod pdb;
pub mod secrets;
pub mod services;
pub mod statefulset;

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use thiserror::Error;

use crate::crd::validate::{self, ConfigInput, ExistingPool, ValidationErrors};
use crate::crd::{LocalCertificateReference, Tenant};
use crate::geometry::Geometry;
use crate::prometheus_token::PrometheusToken;
use crate::tls::TlsMaterial;
pub use endpoints::pool_endpoint;
use names::Names;
pub use secrets::secret_data;

/// The server image when neither the Tenant nor the operator names one. A placeholder
/// until images are published: the image build tags `cairn:<version>`.
pub const DEFAULT_IMAGE: &str = concat!("cairn:", env!("CARGO_PKG_VERSION"));

/// Key of the configuration Secret that holds the environment file.
pub const CONFIG_ENV_KEY: &str = "config.env";

/// Operator-wide settings (flags of the operator, not fields of a Tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Cluster DNS domain used in the pod names of the endpoint list and certificates.
    pub cluster_domain: String,
    /// Image used when a Tenant names none.
    pub default_image: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            cluster_domain: "cluster.local".to_string(),
            default_image: DEFAULT_IMAGE.to_string(),
        }
    }
}

/// What the reconciler observed in the cluster that changes the rendering.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Pools that already have a StatefulSet, with their shape, to refuse shape changes.
    pub existing_pools: Vec<ExistingPool>,
    /// Whether the `monitoring.coreos.com/v1` ServiceMonitor CRD is installed.
    pub service_monitor_available: bool,
    /// The tenant's CA and server certificate, when auto TLS is on. The tls layer makes or
    /// renews them; rendering only places them.
    pub auto_tls: Option<TlsMaterial>,
    /// The bearer token of the ServiceMonitor, when `prometheusOperator` is on. The
    /// reconciler issues or keeps it ([`crate::prometheus_token`]); rendering only places
    /// it.
    pub prometheus_token: Option<PrometheusToken>,
}

/// Every object the operator wants for one Tenant, by kind, in apply order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rendered {
    /// `namespace/name` of the Tenant.
    pub tenant: String,
    /// Generated Secrets: the TLS ones (auto TLS) and the Prometheus bearer token
    /// (`prometheusOperator`).
    pub secrets: Vec<Secret>,
    /// The CA certificate for clients (auto TLS only).
    pub config_maps: Vec<ConfigMap>,
    /// Headless, S3 and console Services.
    pub services: Vec<Service>,
    /// One StatefulSet per pool, in spec order.
    pub stateful_sets: Vec<StatefulSet>,
    /// One PodDisruptionBudget per pool, in spec order.
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    /// The ServiceMonitor, as an untyped object (its CRD is not part of k8s-openapi).
    pub service_monitor: Option<serde_json::Value>,
    /// Each pool's name and erasure geometry, in spec order.
    pub geometries: Vec<(String, Geometry)>,
    /// Things a person should know that do not stop the rendering.
    pub warnings: Vec<String>,
}

impl Rendered {
    /// All objects as JSON values, in apply order: Secrets and ConfigMaps first (the pods
    /// mount them), then Services (the pods resolve each other through them), StatefulSets,
    /// PodDisruptionBudgets, and the ServiceMonitor.
    pub fn objects(&self) -> Result<Vec<serde_json::Value>, serde_json::Error> {
        let mut out = Vec::new();
        for s in &self.secrets {
            out.push(serde_json::to_value(s)?);
        }
        for c in &self.config_maps {
            out.push(serde_json::to_value(c)?);
        }
        for s in &self.services {
            out.push(serde_json::to_value(s)?);
        }
        for s in &self.stateful_sets {
            out.push(serde_json::to_value(s)?);
        }
        for p in &self.pod_disruption_budgets {
            out.push(serde_json::to_value(p)?);
        }
        if let Some(m) = &self.service_monitor {
            out.push(m.clone());
        }
        Ok(out)
    }
}

/// Why a Tenant cannot be rendered.
#[derive(Debug, Error)]
pub enum RenderError {
    #[error("a Tenant has no metadata.name")]
    MissingName,
    #[error("Tenant {0} has no metadata.namespace")]
    MissingNamespace(String),
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("Tenant {0} uses auto TLS (requestAutoCert) but no certificate was generated for it")]
    MissingTlsMaterial(String),
    #[error(
        "Tenant {0} has prometheusOperator: true but no Prometheus bearer token was issued for it"
    )]
    MissingPrometheusToken(String),
}

/// How the servers get their certificate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TlsMode {
    /// Plain HTTP.
    Off,
    /// The operator's CA and certificate, in `<tenant>-tls`.
    Auto(TlsMaterial),
    /// A Secret the person provides.
    External(LocalCertificateReference),
}

impl TlsMode {
    pub(crate) fn enabled(&self) -> bool {
        !matches!(self, TlsMode::Off)
    }
}

/// What the object builders share.
pub(crate) struct Context<'a> {
    pub tenant: &'a Tenant,
    pub names: Names,
    pub tls: TlsMode,
    pub owner: Option<OwnerReference>,
    pub settings: &'a Settings,
    /// All pools' endpoint arguments, in spec order.
    pub endpoints: Vec<String>,
    /// Hash of the configuration and certificates.
    pub config_hash: String,
}

impl Context<'_> {
    /// Metadata of an object of the tenant: name, namespace, labels, owner.
    pub(crate) fn meta(&self, name: String, labels: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.names.namespace.clone()),
            labels: Some(labels),
            owner_references: self.owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        }
    }
}

/// The names of a Tenant's objects; fails when it has no name or namespace.
pub fn tenant_names(tenant: &Tenant, settings: &Settings) -> Result<Names, RenderError> {
    let name = tenant
        .metadata
        .name
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or(RenderError::MissingName)?;
    let namespace = tenant
        .metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| RenderError::MissingNamespace(name.clone()))?;
    Ok(Names {
        tenant: name,
        namespace,
        cluster_domain: settings.cluster_domain.clone(),
        s3_service: tenant.spec.s3_service_name().to_string(),
    })
}

/// Renders every object for `tenant`.
///
/// `secrets` are Secrets of the cluster (any namespace; only those of the Tenant's
/// namespace that it references are used): the configuration Secret is required, an
/// external certificate Secret is hashed when present.
pub fn render(
    tenant: &Tenant,
    secrets: &[Secret],
    observed: &Observed,
    settings: &Settings,
) -> Result<Rendered, RenderError> {
    let names = tenant_names(tenant, settings)?;
    let (name, namespace) = (names.tenant.clone(), names.namespace.clone());
    let spec = &tenant.spec;

    let config_secret = spec
        .configuration_secret()
        .and_then(|n| secrets::find(secrets, &namespace, n));
    let config_data = config_secret.map(secret_data);
    let config_input = match (&config_data, spec.configuration_secret()) {
        (_, None) | (None, Some(_)) => ConfigInput::SecretMissing,
        (Some(data), Some(_)) => match data.get(CONFIG_ENV_KEY) {
            None => ConfigInput::KeyMissing,
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => ConfigInput::Text(text),
                Err(_) => ConfigInput::NotUtf8,
            },
        },
    };
    let validated = validate::validate(
        &name,
        &namespace,
        spec,
        config_input,
        &observed.existing_pools,
    )?;

    let tls = if let Some(external) = spec.external_cert() {
        TlsMode::External(external.clone())
    } else if spec.auto_cert() {
        TlsMode::Auto(
            observed
                .auto_tls
                .clone()
                .ok_or_else(|| RenderError::MissingTlsMaterial(format!("{namespace}/{name}")))?,
        )
    } else {
        TlsMode::Off
    };

    let endpoints = spec
        .pools
        .iter()
        .zip(&validated.geometries)
        .map(|(pool, g)| {
            pool_endpoint(
                &names,
                &pool.name,
                g.servers,
                g.volumes_per_server,
                spec.mount_path(),
                tls.enabled(),
            )
        })
        .collect();

    let mut hasher = hash::ConfigHasher::default();
    if let Some(data) = &config_data {
        hasher.add_map("configuration", data);
    }
    match &tls {
        TlsMode::Off => {}
        TlsMode::Auto(material) => hasher.add("auto-tls", material.cert_pem.as_bytes()),
        TlsMode::External(reference) => {
            if let Some(s) = secrets::find(secrets, &namespace, &reference.name) {
                hasher.add_map("external-cert", &secret_data(s));
            }
        }
    }
    for ca in spec.external_ca_cert_secret.iter().flatten() {
        if let Some(s) = secrets::find(secrets, &namespace, &ca.name) {
            hasher.add_map(&format!("external-ca/{}", ca.name), &secret_data(s));
        }
    }

    let ctx = Context {
        tenant,
        names,
        tls,
        owner: tenant.controller_owner_ref(&()),
        settings,
        endpoints,
        config_hash: hasher.finish(),
    };

    let mut rendered = Rendered {
        tenant: format!("{namespace}/{name}"),
        geometries: spec
            .pools
            .iter()
            .map(|p| p.name.clone())
            .zip(validated.geometries.iter().cloned())
            .collect(),
        ..Rendered::default()
    };
    if let TlsMode::Auto(material) = &ctx.tls {
        rendered.secrets = secrets::tls_secrets(&ctx, material);
        rendered.config_maps = vec![secrets::ca_config_map(&ctx, material)];
    }
    rendered.services = services::services(&ctx);
    for (pool, geometry) in spec.pools.iter().zip(&validated.geometries) {
        rendered
            .stateful_sets
            .push(statefulset::statefulset(&ctx, pool));
        rendered
            .pod_disruption_budgets
            .push(pdb::pod_disruption_budget(&ctx, pool, geometry));
        if geometry.servers_tolerated() == 0 {
            rendered.warnings.push(format!(
                "Tenant {}: pool `{}` ({}) cannot lose a server without losing write quorum, so \
                 its PodDisruptionBudget blocks every voluntary eviction (node drains wait); to \
                 allow maintenance, raise the parity (MINIO_STORAGE_CLASS_STANDARD) or spread the \
                 pool over more servers",
                rendered.tenant,
                pool.name,
                geometry.describe()
            ));
        }
    }
    if spec.prometheus_operator() {
        // The token Secret is made even without the ServiceMonitor CRD: any Prometheus can
        // scrape with it.
        let token = observed
            .prometheus_token
            .as_ref()
            .ok_or_else(|| RenderError::MissingPrometheusToken(rendered.tenant.clone()))?;
        rendered
            .secrets
            .push(monitor::prometheus_token_secret(&ctx, token));
        if observed.service_monitor_available {
            rendered.service_monitor = Some(monitor::service_monitor(&ctx));
        } else {
            rendered.warnings.push(format!(
                "Tenant {}: prometheusOperator is true but the ServiceMonitor CRD \
                 (monitoring.coreos.com/v1) is not installed; no ServiceMonitor is created",
                rendered.tenant
            ));
        }
    }
    Ok(rendered)
}
