//! Monitoring objects of a Tenant with `prometheusOperator: true`: the ServiceMonitor and
//! the Secret with the bearer token it scrapes with.

mod common;

use cairn_operator::render::{self, Observed, RenderError, Settings};
use common::*;
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;

fn token_secret<'a>(r: &'a render::Rendered, name: &str) -> &'a Secret {
    r.secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no Secret {name}"))
}

#[test]
fn the_token_secret_holds_the_issued_token_and_the_credentials_hash() {
    let (mut tenant, secrets) = matrix();
    tenant.metadata.uid = Some("0c5b-uid".into());
    let r = render(&tenant, &secrets).unwrap();
    let s = token_secret(&r, "matrix-minio-prometheus-token");
    assert_eq!(s.metadata.namespace.as_deref(), Some("matrix"));
    assert_eq!(s.type_.as_deref(), Some("Opaque"));
    let data = s.data.as_ref().unwrap();
    assert_eq!(data.keys().collect::<Vec<_>>(), ["token"]);
    assert_eq!(data["token"].0, fixed_token().token.as_bytes());
    assert!(s.string_data.is_none());
    assert_eq!(
        s.metadata.annotations.as_ref().unwrap()["cairn.dev/credentials-hash"],
        fixed_token().credentials_hash
    );
    // Owned by the Tenant (garbage-collected with it) and labelled as the operator's, so
    // the operator's Secret watch sees it.
    let labels = s.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "cairn-operator");
    assert_eq!(labels["cairn.dev/tenant"], "matrix-minio");
    let owners = s.metadata.owner_references.as_ref().unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "Tenant");
    assert_eq!(owners[0].controller, Some(true));
    assert_eq!(owners[0].uid, "0c5b-uid");
}

#[test]
fn the_service_monitor_scrapes_over_tls_with_the_bearer_token() {
    let r = render_matrix();
    let monitor = r.service_monitor.as_ref().unwrap();
    let endpoints = monitor["spec"]["endpoints"].as_array().unwrap();
    assert_eq!(endpoints.len(), 1);
    assert_eq!(
        endpoints[0],
        json!({
            "port": "https-s3",
            "path": "/minio/v2/metrics/cluster",
            "scheme": "https",
            "interval": "30s",
            "bearerTokenSecret": {"name": "matrix-minio-prometheus-token", "key": "token"},
            "tlsConfig": {
                "serverName": "minio.matrix.svc.cluster.local",
                "ca": {"secret": {"name": "matrix-minio-ca", "key": "ca.crt"}},
            },
        })
    );
}

#[test]
fn plain_http_and_external_certificates_scrape_with_the_token_too() {
    let plain = simple_tenant(
        &[("p", 4, 1)],
        "  requestAutoCert: false\n  prometheusOperator: true\n",
    );
    let r = render::render(
        &plain,
        &[good_config("ns")],
        &observed(),
        &Settings::default(),
    )
    .unwrap();
    let endpoint = &r.service_monitor.as_ref().unwrap()["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "http");
    assert!(endpoint.get("tlsConfig").is_none());
    assert_eq!(
        endpoint["bearerTokenSecret"],
        json!({"name": "t-prometheus-token", "key": "token"})
    );
    token_secret(&r, "t-prometheus-token");

    let external = simple_tenant(
        &[("p", 4, 2)],
        "  prometheusOperator: true\n  externalCertSecret:\n  - name: t-cert\n    type: cert-manager.io/v1\n",
    );
    let cert = config_secret("ns", "t-cert", "unused");
    let r = render::render(
        &external,
        &[good_config("ns"), cert],
        &observed(),
        &Settings::default(),
    )
    .unwrap();
    let endpoint = &r.service_monitor.as_ref().unwrap()["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "https");
    assert_eq!(endpoint["tlsConfig"]["ca"]["secret"]["name"], "t-cert");
    assert_eq!(endpoint["bearerTokenSecret"]["name"], "t-prometheus-token");
    // The only generated Secret is the token (the certificate is the person's).
    let names: Vec<_> = r.secrets.iter().map(|s| s.metadata.name.clone()).collect();
    assert_eq!(names, [Some("t-prometheus-token".to_string())]);
}

#[test]
fn without_the_service_monitor_crd_the_token_secret_is_still_made() {
    let (tenant, secrets) = matrix();
    let observed = Observed {
        service_monitor_available: false,
        ..observed()
    };
    let r = render::render(&tenant, &secrets, &observed, &Settings::default()).unwrap();
    assert!(r.service_monitor.is_none());
    token_secret(&r, "matrix-minio-prometheus-token");
}

#[test]
fn monitoring_without_an_issued_token_is_an_error_and_no_monitoring_needs_none() {
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  requestAutoCert: false\n  prometheusOperator: true\n",
    );
    let observed = Observed {
        service_monitor_available: true,
        ..Observed::default()
    };
    let err =
        render::render(&t, &[good_config("ns")], &observed, &Settings::default()).unwrap_err();
    assert!(
        matches!(&err, RenderError::MissingPrometheusToken(t) if t == "ns/t"),
        "{err}"
    );
    assert!(err.to_string().contains("prometheusOperator"), "{err}");

    let off = simple_tenant(&[("p", 4, 1)], "  requestAutoCert: false\n");
    let r = render::render(&off, &[good_config("ns")], &observed, &Settings::default()).unwrap();
    assert!(r.secrets.is_empty());
    assert!(r.service_monitor.is_none());
}
