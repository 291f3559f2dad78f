//! The reference deployment: `manifests/examples/matrix/` rendered object by object.

mod common;

use std::collections::BTreeMap;

use cairn_operator::render::{self, Observed, Settings};
use common::*;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

const ENDPOINT: &str =
    "https://matrix-minio-pool-0-{0...3}.matrix-minio-hl.matrix.svc.cluster.local/export{0...1}";

#[test]
fn objects_have_the_minio_operator_names() {
    let r = render_matrix();
    let names = |v: &Vec<serde_json::Value>| -> Vec<String> {
        v.iter()
            .map(|o| {
                format!(
                    "{} {}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["namespace"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(
        names(&r.objects().unwrap()),
        vec![
            "Secret matrix/matrix-minio-tls",
            "Secret matrix/matrix-minio-ca",
            "Secret matrix/matrix-minio-ca-key",
            "Secret matrix/matrix-minio-prometheus-token",
            "ConfigMap matrix/matrix-minio-ca",
            "Service matrix/matrix-minio-hl",
            "Service matrix/minio",
            "Service matrix/matrix-minio-console",
            "StatefulSet matrix/matrix-minio-pool-0",
            "PodDisruptionBudget matrix/matrix-minio-pool-0",
            "ServiceMonitor matrix/matrix-minio",
        ]
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn statefulset_runs_cairn_server_with_the_exact_endpoint_list() {
    let r = render_matrix();
    let sts = &r.stateful_sets[0];
    let spec = sts.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(4));
    assert_eq!(spec.service_name.as_deref(), Some("matrix-minio-hl"));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    let c = container(sts);
    assert_eq!(c.command.as_ref().unwrap(), &["cairn", "server"]);
    assert_eq!(
        args(sts),
        [
            "--address",
            ":9000",
            "--console-address",
            ":9443",
            "--certs-dir",
            "/etc/cairn/certs",
            ENDPOINT
        ]
    );
    assert_eq!(c.image.as_deref(), Some(render::DEFAULT_IMAGE));
}

#[test]
fn credentials_never_appear_in_the_pod_spec() {
    let (tenant, secrets) = matrix();
    let r = render(&tenant, &secrets).unwrap();
    let sts = serde_json::to_string(&r.stateful_sets[0]).unwrap();
    for secret in [
        "matrix-admin",
        "CHANGE-ME-root-password",
        "EC:4",
        "CHANGE-ME",
    ] {
        assert!(
            !sts.contains(secret),
            "{secret} leaked into the StatefulSet"
        );
    }
    let c = container(&r.stateful_sets[0]);
    let env = c.env.as_ref().unwrap();
    assert_eq!(env.len(), 1);
    assert_eq!(env[0].name, "CAIRN_CONFIG_ENV_FILE");
    assert_eq!(
        env[0].value.as_deref(),
        Some("/etc/cairn/config/config.env")
    );
    // ...which is the configuration Secret, mounted read-only, key config.env.
    let pod = r.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let config = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "configuration")
        .unwrap();
    let source = config.secret.as_ref().unwrap();
    assert_eq!(source.secret_name.as_deref(), Some("matrix-minio-env"));
    let item = &source.items.as_ref().unwrap()[0];
    assert_eq!(
        (item.key.as_str(), item.path.as_str()),
        ("config.env", "config.env")
    );
    let mount = c
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.name == "configuration")
        .unwrap();
    assert_eq!(mount.mount_path, "/etc/cairn/config");
    assert_eq!(mount.read_only, Some(true));
}

#[test]
fn probes_use_the_health_endpoints_over_https() {
    let r = render_matrix();
    let c = container(&r.stateful_sets[0]);
    for (probe, path) in [
        (c.liveness_probe.as_ref().unwrap(), "/minio/health/live"),
        (c.readiness_probe.as_ref().unwrap(), "/minio/health/ready"),
    ] {
        let get = probe.http_get.as_ref().unwrap();
        assert_eq!(get.path.as_deref(), Some(path));
        assert_eq!(get.scheme.as_deref(), Some("HTTPS"));
        assert_eq!(get.port, IntOrString::String("s3".into()));
    }
    let s3 = c
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.name.as_deref() == Some("s3"))
        .unwrap();
    assert_eq!(s3.container_port, 9000);
}

#[test]
fn pod_disruption_budget_keeps_write_quorum() {
    let r = render_matrix();
    assert_eq!(min_available(&r, 0), 3);
    let (pool, g) = &r.geometries[0];
    assert_eq!(pool, "pool-0");
    assert_eq!(
        (g.set_size, g.data, g.parity, g.write_quorum()),
        (8, 4, 4, 5)
    );
    let pdb = r.pod_disruption_budgets[0].spec.as_ref().unwrap();
    assert_eq!(
        pdb.selector.as_ref().unwrap().match_labels,
        r.stateful_sets[0]
            .spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
    );
}

#[test]
fn volume_claims_and_mounts() {
    let r = render_matrix();
    let spec = r.stateful_sets[0].spec.as_ref().unwrap();
    let claims = spec.volume_claim_templates.as_ref().unwrap();
    assert_eq!(claims.len(), 2);
    for (i, claim) in claims.iter().enumerate() {
        assert_eq!(
            claim.metadata.name.as_deref(),
            Some(format!("data{i}").as_str())
        );
        let s = claim.spec.as_ref().unwrap();
        assert_eq!(s.storage_class_name.as_deref(), Some("standard"));
        assert_eq!(
            s.access_modes.as_deref(),
            Some(&["ReadWriteOnce".to_string()][..])
        );
        let storage = &s.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"];
        assert_eq!(storage.0, "500Gi");
    }
    let retention = spec
        .persistent_volume_claim_retention_policy
        .as_ref()
        .unwrap();
    assert_eq!(retention.when_deleted.as_deref(), Some("Retain"));
    let mounts: Vec<(String, String)> = container(&r.stateful_sets[0])
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| (m.name.clone(), m.mount_path.clone()))
        .collect();
    for want in [
        ("data0", "/export0"),
        ("data1", "/export1"),
        ("certs", "/etc/cairn/certs"),
        ("tmp", "/tmp"),
    ] {
        assert!(
            mounts.contains(&(want.0.to_string(), want.1.to_string())),
            "{want:?} in {mounts:?}"
        );
    }
}

#[test]
fn labels_and_selectors_agree() {
    let r = render_matrix();
    let spec = r.stateful_sets[0].spec.as_ref().unwrap();
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .unwrap()
        .labels
        .clone()
        .unwrap();
    let sts_selector = spec.selector.match_labels.clone().unwrap();
    assert!(selects(&sts_selector, &pod_labels));
    for svc in &r.services {
        let selector = svc.spec.as_ref().unwrap().selector.clone().unwrap();
        assert!(selects(&selector, &pod_labels), "{:?}", svc.metadata.name);
        assert_eq!(selector["cairn.dev/tenant"], "matrix-minio");
    }
    let hl = service(&r, "matrix-minio-hl");
    let hl_spec = hl.spec.as_ref().unwrap();
    assert_eq!(hl_spec.cluster_ip.as_deref(), Some("None"));
    assert_eq!(hl_spec.publish_not_ready_addresses, Some(true));
    // The ServiceMonitor selects the S3 Service and no other.
    let monitor = r.service_monitor.as_ref().unwrap();
    let wanted: BTreeMap<String, String> =
        serde_json::from_value(monitor["spec"]["selector"]["matchLabels"].clone()).unwrap();
    let selected: Vec<&str> = r
        .services
        .iter()
        .filter(|s| selects(&wanted, s.metadata.labels.as_ref().unwrap()))
        .map(|s| s.metadata.name.as_deref().unwrap())
        .collect();
    assert_eq!(selected, ["minio"]);
    let endpoint = &monitor["spec"]["endpoints"][0];
    let port = endpoint["port"].as_str().unwrap();
    assert!(ports(service(&r, "minio")).iter().any(|p| p.0 == port));
    assert_eq!(endpoint["path"], "/minio/v2/metrics/cluster");
    assert_eq!(endpoint["scheme"], "https");
    assert_eq!(
        endpoint["tlsConfig"]["ca"]["secret"]["name"],
        "matrix-minio-ca"
    );
}

#[test]
fn services_listen_where_minio_and_the_matrix_configs_expect() {
    let r = render_matrix();
    let s = |n: &str, p: i32, t: &str| (n.to_string(), p, t.to_string());
    assert_eq!(
        ports(service(&r, "minio")),
        [s("https-minio", 443, "s3"), s("https-s3", 9000, "s3")]
    );
    assert_eq!(
        ports(service(&r, "matrix-minio-hl")),
        [s("https-minio", 9000, "s3")]
    );
    assert_eq!(
        ports(service(&r, "matrix-minio-console")),
        [s("https-console", 9443, "console")]
    );
    let console_port = container(&r.stateful_sets[0])
        .ports
        .as_ref()
        .unwrap()
        .iter()
        .find(|p| p.name.as_deref() == Some("console"))
        .unwrap()
        .container_port;
    assert_eq!(console_port, 9443);
}

#[test]
fn tls_secrets_hold_what_pods_and_clients_mount() {
    let r = render_matrix();
    let keys = |name: &str| -> Vec<String> {
        let s = r
            .secrets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap();
        s.data.as_ref().unwrap().keys().cloned().collect()
    };
    assert_eq!(keys("matrix-minio-tls"), ["ca.crt", "tls.crt", "tls.key"]);
    assert_eq!(keys("matrix-minio-ca"), ["ca.crt"]);
    assert_eq!(keys("matrix-minio-ca-key"), ["ca.crt", "ca.key"]);
    assert_eq!(r.config_maps[0].data.as_ref().unwrap()["ca.crt"], "CA CERT");
    let pod = r.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let certs = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "certs")
        .unwrap();
    let source = &certs.projected.as_ref().unwrap().sources.as_ref().unwrap()[0];
    let secret = source.secret.as_ref().unwrap();
    assert_eq!(secret.name, "matrix-minio-tls");
    let items: Vec<(String, String)> = secret
        .items
        .as_ref()
        .unwrap()
        .iter()
        .map(|i| (i.key.clone(), i.path.clone()))
        .collect();
    assert_eq!(
        items,
        [
            ("tls.crt".to_string(), "public.crt".to_string()),
            ("tls.key".into(), "private.key".into()),
            ("ca.crt".into(), "CAs/ca.crt".into())
        ]
    );
}

#[test]
fn pods_run_unprivileged_with_a_read_only_root() {
    let r = render_matrix();
    let pod = r.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap();
    let psc = pod.security_context.as_ref().unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(1000));
    let csc = container(&r.stateful_sets[0])
        .security_context
        .as_ref()
        .unwrap();
    assert_eq!(csc.read_only_root_filesystem, Some(true));
    assert_eq!(csc.allow_privilege_escalation, Some(false));
    assert_eq!(
        csc.capabilities.as_ref().unwrap().drop.as_deref(),
        Some(&["ALL".to_string()][..])
    );
    let tmp = pod
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "tmp")
        .unwrap();
    assert!(tmp.empty_dir.is_some());
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.enable_service_links, Some(false));
}

fn config_hash(r: &render::Rendered) -> String {
    r.stateful_sets[0]
        .spec
        .as_ref()
        .unwrap()
        .template
        .metadata
        .as_ref()
        .unwrap()
        .annotations
        .as_ref()
        .unwrap()["cairn.dev/config-hash"]
        .clone()
}

#[test]
fn config_hash_rolls_pods_on_configuration_or_certificate_change() {
    let (tenant, secrets) = matrix();
    let base = config_hash(&render(&tenant, &secrets).unwrap());
    assert_eq!(base.len(), 64);
    assert_eq!(
        base,
        config_hash(&render(&tenant, &secrets).unwrap()),
        "deterministic"
    );

    let mut changed: Vec<Secret> = secrets.clone();
    let env = changed
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some("matrix-minio-env"))
        .unwrap();
    let text = env
        .string_data
        .as_mut()
        .unwrap()
        .get_mut("config.env")
        .unwrap();
    *text = text.replace("CHANGE-ME-root-password", "a-new-root-password");
    assert_ne!(base, config_hash(&render(&tenant, &changed).unwrap()));

    let mut observed = observed();
    observed.auto_tls.as_mut().unwrap().cert_pem = "RENEWED".into();
    let renewed = render::render(&tenant, &secrets, &observed, &Settings::default()).unwrap();
    assert_ne!(base, config_hash(&renewed));

    // A Secret the pods do not read (a user's) changes nothing.
    let mut users = secrets.clone();
    users
        .iter_mut()
        .find(|s| s.metadata.name.as_deref() == Some("matrix-minio-synapse-user"))
        .unwrap()
        .string_data
        .as_mut()
        .unwrap()
        .insert("CONSOLE_SECRET_KEY".into(), "other".into());
    assert_eq!(base, config_hash(&render(&tenant, &users).unwrap()));
}

#[test]
fn objects_are_owned_by_the_tenant_when_it_exists_in_the_cluster() {
    let (mut tenant, secrets) = matrix();
    assert!(
        render(&tenant, &secrets)
            .unwrap()
            .objects()
            .unwrap()
            .iter()
            .all(|o| o["metadata"].get("ownerReferences").is_none())
    );
    tenant.metadata.uid = Some("0c5b-uid".into());
    let r = render(&tenant, &secrets).unwrap();
    for o in r.objects().unwrap() {
        let owner = &o["metadata"]["ownerReferences"][0];
        assert_eq!(owner["kind"], "Tenant", "{}", o["kind"]);
        assert_eq!(owner["apiVersion"], "cairn.dev/v1alpha1");
        assert_eq!(owner["name"], "matrix-minio");
        assert_eq!(owner["uid"], "0c5b-uid");
        assert_eq!(owner["controller"], true);
    }
}

#[test]
fn without_the_service_monitor_crd_there_is_a_warning_instead() {
    let (tenant, secrets) = matrix();
    let observed = Observed {
        service_monitor_available: false,
        ..observed()
    };
    let r = render::render(&tenant, &secrets, &observed, &Settings::default()).unwrap();
    assert!(r.service_monitor.is_none());
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("ServiceMonitor CRD (monitoring.coreos.com/v1) is not installed"),
        "{}",
        r.warnings[0]
    );
}
