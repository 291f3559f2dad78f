//! The Prometheus Operator ServiceMonitor (`monitoring.coreos.com/v1`).
//!
//! It is built as untyped JSON: its CRD is not part of the Kubernetes API, and the
//! operator applies it only when that CRD is installed. It selects the S3 Service alone
//! (by its `cairn.dev/service: s3` label; the headless Service selects the same pods and
//! would double every series) and scrapes `/minio/v2/metrics/cluster` on the 9000 port of
//! every server, with the scheme of the tenant. With TLS, Prometheus verifies the servers
//! against the tenant's CA and asks for the S3 Service's name, which every generated
//! certificate carries; pod IPs are not in certificates.
//!
//! The servers require MinIO's Prometheus authentication (a bearer JWT), so Prometheus
//! sends the token of the Secret `<tenant>-prometheus-token` (`bearerTokenSecret`), which
//! is rendered here too from the token the reconciler issued or kept
//! ([`crate::prometheus_token`]).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

use super::names::{LABEL_SERVICE, LABEL_TENANT, tenant_labels};
use super::{Context, TlsMode};
use crate::prometheus_token::{ANNOTATION_CREDENTIALS_HASH, PrometheusToken, TOKEN_KEY};

/// Path of the cluster metrics, as MinIO names it (dashboards use it).
pub const METRICS_PATH: &str = "/minio/v2/metrics/cluster";

/// The ServiceMonitor `<tenant>`.
pub(crate) fn service_monitor(ctx: &Context<'_>) -> Value {
    let names = &ctx.names;
    let tls = ctx.tls.enabled();
    let scheme = if tls { "https" } else { "http" };
    let mut endpoint = json!({
        "port": format!("{scheme}-s3"),
        "path": METRICS_PATH,
        "scheme": scheme,
        "interval": "30s",
        "bearerTokenSecret": { "name": names.prometheus_token_secret(), "key": TOKEN_KEY },
    });
    let ca = match &ctx.tls {
        TlsMode::Off => None,
        TlsMode::Auto(_) => Some((names.ca_public(), "ca.crt".to_string())),
        // cert-manager and kubernetes.io/tls Secrets carry the issuing CA as `ca.crt`;
        // otherwise Prometheus must already trust the issuer.
        TlsMode::External(reference) => reference
            .type_
            .as_deref()
            .filter(|t| *t == "kubernetes.io/tls" || t.starts_with("cert-manager.io/"))
            .map(|_| (reference.name.clone(), "ca.crt".to_string())),
    };
    if tls {
        let mut tls_config = json!({ "serverName": names.service_fqdn(&names.s3_service) });
        if let Some((secret, key)) = ca {
            tls_config["ca"] = json!({ "secret": { "name": secret, "key": key } });
        }
        endpoint["tlsConfig"] = tls_config;
    }
    let selector: BTreeMap<&str, &str> =
        BTreeMap::from([(LABEL_TENANT, names.tenant.as_str()), (LABEL_SERVICE, "s3")]);
    let metadata = ctx.meta(names.service_monitor(), tenant_labels(&names.tenant));
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata,
        "spec": {
            "selector": { "matchLabels": selector },
            "namespaceSelector": { "matchNames": [names.namespace] },
            "endpoints": [endpoint],
        },
    })
}

/// The Secret `<tenant>-prometheus-token` with the bearer token (key `token`) and the
/// keyed hash of the root credentials that signed it (annotation), Opaque.
pub(crate) fn prometheus_token_secret(ctx: &Context<'_>, token: &PrometheusToken) -> Secret {
    let mut metadata = ctx.meta(
        ctx.names.prometheus_token_secret(),
        tenant_labels(&ctx.names.tenant),
    );
    metadata.annotations = Some(BTreeMap::from([(
        ANNOTATION_CREDENTIALS_HASH.to_string(),
        token.credentials_hash.clone(),
    )]));
    Secret {
        metadata,
        type_: Some("Opaque".to_string()),
        data: Some(BTreeMap::from([(
            TOKEN_KEY.to_string(),
            ByteString(token.token.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}
