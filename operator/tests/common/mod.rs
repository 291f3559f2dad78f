//! Shared helpers of the operator's integration tests: the Matrix example from
//! `manifests/examples/matrix/`, small Tenants built in code, and fixed TLS material so
//! that renders are deterministic.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod fake_api;

use cairn_operator::crd::Tenant;
use cairn_operator::load;
use cairn_operator::render::{self, Observed, RenderError, Rendered, Settings};
use cairn_operator::tls::TlsMaterial;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, Secret, Service};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The Matrix example's Tenant and Secrets, read the way `cairn-operator render` reads them.
pub fn matrix() -> (Tenant, Vec<Secret>) {
    let inputs = load::load_paths(
        &[repo().join("manifests/examples/matrix")],
        false,
        "default",
    )
    .unwrap();
    assert!(inputs.warnings.is_empty(), "{:?}", inputs.warnings);
    assert_eq!(inputs.tenants.len(), 1);
    (inputs.tenants[0].clone(), inputs.secrets)
}

/// Fixed (not real) certificate material: rendering only places it.
pub fn fixed_tls() -> TlsMaterial {
    TlsMaterial {
        ca_cert_pem: "CA CERT".into(),
        ca_key_pem: "CA KEY".into(),
        cert_pem: "SERVER CERT".into(),
        key_pem: "SERVER KEY".into(),
    }
}

/// What the reconciler would observe on a fresh cluster with the Prometheus Operator.
pub fn observed() -> Observed {
    Observed {
        service_monitor_available: true,
        auto_tls: Some(fixed_tls()),
        ..Observed::default()
    }
}

pub fn render(tenant: &Tenant, secrets: &[Secret]) -> Result<Rendered, RenderError> {
    render::render(tenant, secrets, &observed(), &Settings::default())
}

pub fn render_matrix() -> Rendered {
    let (tenant, secrets) = matrix();
    render(&tenant, &secrets).unwrap()
}

/// A Tenant from YAML text (namespace `ns` unless given).
pub fn tenant(yaml: &str) -> Tenant {
    let mut inputs = load::Inputs::default();
    load::load_str(yaml, "test", "ns", &mut inputs).unwrap();
    assert!(inputs.warnings.is_empty(), "{:?}", inputs.warnings);
    inputs.tenants.remove(0)
}

/// A configuration Secret `name` in `ns` with the given config.env.
pub fn config_secret(ns: &str, name: &str, config_env: &str) -> Secret {
    let mut inputs = load::Inputs::default();
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\nstringData:\n  config.env: {}\n",
        serde_json::to_string(config_env).unwrap()
    );
    load::load_str(&yaml, "test", ns, &mut inputs).unwrap();
    inputs.secrets.remove(0)
}

/// The usual good configuration Secret `t-env` in `ns`.
pub fn good_config(ns: &str) -> Secret {
    config_secret(
        ns,
        "t-env",
        "export MINIO_ROOT_USER=\"admin\"\nexport MINIO_ROOT_PASSWORD=\"sup3r-secret-pw\"\n",
    )
}

/// A Tenant `t` in `ns` with `t-env` as configuration and the given pools YAML (a list
/// of `[name, servers, volumes]`) plus extra spec lines.
pub fn simple_tenant(pools: &[(&str, i32, i32)], extra_spec: &str) -> Tenant {
    let mut yaml = String::from(
        "apiVersion: cairn.dev/v1alpha1\nkind: Tenant\nmetadata: {name: t, namespace: ns}\nspec:\n  configuration: {name: t-env}\n  pools:\n",
    );
    for (name, servers, volumes) in pools {
        yaml.push_str(&format!(
            "  - name: {name}\n    servers: {servers}\n    volumesPerServer: {volumes}\n    volumeClaimTemplate:\n      spec: {{resources: {{requests: {{storage: 10Gi}}}}}}\n"
        ));
    }
    yaml.push_str(extra_spec);
    tenant(&yaml)
}

pub fn container(sts: &StatefulSet) -> &Container {
    &sts.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
}

pub fn args(sts: &StatefulSet) -> Vec<String> {
    container(sts).args.clone().unwrap()
}

pub fn service<'a>(r: &'a Rendered, name: &str) -> &'a Service {
    r.services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Service {name}"))
}

/// `(name, port, targetPort)` of a Service's ports.
pub fn ports(s: &Service) -> Vec<(String, i32, String)> {
    s.spec
        .as_ref()
        .unwrap()
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .map(|p| {
            let target = match p.target_port.as_ref().unwrap() {
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => i.to_string(),
                k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => s.clone(),
            };
            (p.name.clone().unwrap(), p.port, target)
        })
        .collect()
}

/// Whether every label of `selector` is in `labels`.
pub fn selects(selector: &BTreeMap<String, String>, labels: &BTreeMap<String, String>) -> bool {
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

pub fn min_available(r: &Rendered, index: usize) -> i32 {
    match r.pod_disruption_budgets[index]
        .spec
        .as_ref()
        .unwrap()
        .min_available
        .as_ref()
        .unwrap()
    {
        k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => *i,
        other => panic!("minAvailable {other:?}"),
    }
}
