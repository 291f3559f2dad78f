//! Shared helpers of the operator's integration tests: the Matrix example from
//! `manifests/examples/matrix/`, small Tenants built in code, fixed TLS material and a
//! fixed Prometheus token so that renders are deterministic, and a JWT checker.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

pub mod fake_api;

use cairn_operator::crd::Tenant;
use cairn_operator::load;
use cairn_operator::prometheus_token::PrometheusToken;
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

/// A fixed (not real) Prometheus token: rendering only places it.
pub fn fixed_token() -> PrometheusToken {
    PrometheusToken {
        token: "PROMETHEUS.TOKEN.SIGNATURE".into(),
        credentials_hash: "0123456789abcdef".into(),
    }
}

/// What the reconciler would observe on a fresh cluster with the Prometheus Operator.
pub fn observed() -> Observed {
    Observed {
        service_monitor_available: true,
        auto_tls: Some(fixed_tls()),
        prometheus_token: Some(fixed_token()),
        ..Observed::default()
    }
}

/// Decodes base64url without padding (as in JWTs).
pub fn unbase64url(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            other => panic!("not base64url: {other}"),
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// The claims of `token` when it is an HS512 JWT whose signature verifies under `key`
/// (HMAC-SHA512 of `header.claims`); `None` when the signature does not.
pub fn jwt_claims(token: &str, key: &str) -> Option<serde_json::Value> {
    use hmac::{Hmac, Mac};
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "not a compact JWS: {token}");
    let header: serde_json::Value = serde_json::from_slice(&unbase64url(parts[0])).unwrap();
    assert_eq!(header["alg"], "HS512");
    assert_eq!(header["typ"], "JWT");
    let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&unbase64url(parts[2])).ok()?;
    Some(serde_json::from_slice(&unbase64url(parts[1])).unwrap())
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
