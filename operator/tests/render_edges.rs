//! Rendering beyond the reference deployment: several pools, no TLS, a single server,
//! external certificates, custom names.

mod common;

use cairn_operator::render::{self, Observed, Settings};
use common::*;

#[test]
fn every_pool_carries_the_same_full_endpoint_list() {
    let t = simple_tenant(&[("pool-0", 4, 2), ("pool-1", 8, 1)], "");
    let r = render(&t, &[good_config("ns")]).unwrap();
    let want = [
        "https://t-pool-0-{0...3}.t-hl.ns.svc.cluster.local/export{0...1}",
        "https://t-pool-1-{0...7}.t-hl.ns.svc.cluster.local/export{0...0}",
    ];
    assert_eq!(r.stateful_sets.len(), 2);
    for sts in &r.stateful_sets {
        let a = args(sts);
        assert_eq!(&a[a.len() - 2..], want, "{:?}", sts.metadata.name);
    }
    let names: Vec<_> = r
        .stateful_sets
        .iter()
        .map(|s| s.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["t-pool-0", "t-pool-1"]);
    assert_eq!(r.stateful_sets[1].spec.as_ref().unwrap().replicas, Some(8));
    // Each pool has its own budget: 8 x 1 with EC:4 (wq 5) may lose 3 servers.
    assert_eq!(r.pod_disruption_budgets.len(), 2);
    assert_eq!(min_available(&r, 0), 3);
    assert_eq!(min_available(&r, 1), 5);
    assert_eq!(
        r.pod_disruption_budgets[1].metadata.name.as_deref(),
        Some("t-pool-1")
    );
    // One set of Services for all pools.
    assert_eq!(r.services.len(), 3);
}

#[test]
fn tls_off_speaks_http_everywhere() {
    let t = simple_tenant(
        &[("p", 4, 1)],
        "  requestAutoCert: false\n  prometheusOperator: true\n",
    );
    let observed = Observed {
        service_monitor_available: true,
        prometheus_token: Some(fixed_token()),
        ..Observed::default()
    };
    let r = render::render(&t, &[good_config("ns")], &observed, &Settings::default()).unwrap();
    let sts = &r.stateful_sets[0];
    assert_eq!(
        args(sts),
        [
            "--address",
            ":9000",
            "--console-address",
            ":9090",
            "http://t-p-{0...3}.t-hl.ns.svc.cluster.local/export{0...0}"
        ]
    );
    let c = container(sts);
    assert_eq!(
        c.liveness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .scheme
            .as_deref(),
        Some("HTTP")
    );
    assert_eq!(
        c.readiness_probe
            .as_ref()
            .unwrap()
            .http_get
            .as_ref()
            .unwrap()
            .scheme
            .as_deref(),
        Some("HTTP")
    );
    assert!(
        c.volume_mounts
            .as_ref()
            .unwrap()
            .iter()
            .all(|m| m.name != "certs")
    );
    let pod = sts.spec.as_ref().unwrap().template.spec.as_ref().unwrap();
    assert!(
        pod.volumes
            .as_ref()
            .unwrap()
            .iter()
            .all(|v| v.name != "certs")
    );
    // No certificate Secrets: the only generated Secret is the Prometheus token.
    let generated: Vec<_> = r.secrets.iter().map(|s| s.metadata.name.clone()).collect();
    assert_eq!(generated, [Some("t-prometheus-token".to_string())]);
    assert!(r.config_maps.is_empty());
    let s = |n: &str, p: i32, t: &str| (n.to_string(), p, t.to_string());
    assert_eq!(
        ports(service(&r, "minio")),
        [s("http-minio", 80, "s3"), s("http-s3", 9000, "s3")]
    );
    assert_eq!(
        ports(service(&r, "t-console")),
        [s("http-console", 9090, "console")]
    );
    let endpoint = &r.service_monitor.as_ref().unwrap()["spec"]["endpoints"][0];
    assert_eq!(endpoint["scheme"], "http");
    assert_eq!(endpoint["port"], "http-s3");
    assert!(endpoint.get("tlsConfig").is_none());
}

#[test]
fn auto_tls_without_material_is_an_error_not_a_plain_http_tenant() {
    let t = simple_tenant(&[("p", 4, 1)], "");
    let err = render::render(
        &t,
        &[good_config("ns")],
        &Observed::default(),
        &Settings::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("auto TLS"), "{err}");
}

#[test]
fn one_server_with_four_volumes() {
    let t = simple_tenant(&[("solo", 1, 4)], "  requestAutoCert: false\n");
    let r = render::render(
        &t,
        &[good_config("ns")],
        &Observed::default(),
        &Settings::default(),
    )
    .unwrap();
    assert_eq!(
        args(&r.stateful_sets[0]).last().unwrap(),
        "http://t-solo-{0...0}.t-hl.ns.svc.cluster.local/export{0...3}"
    );
    let g = &r.geometries[0].1;
    assert_eq!((g.set_size, g.parity, g.write_quorum()), (4, 2, 3));
    // One server can never go: the budget is the whole pool, and rendering says so.
    assert_eq!(min_available(&r, 0), 1);
    assert_eq!(r.warnings.len(), 1);
    assert!(
        r.warnings[0].contains("cannot lose a server"),
        "{}",
        r.warnings[0]
    );
    // A single server with a single drive is a valid (if fragile) tenant too.
    let single = simple_tenant(&[("solo", 1, 1)], "  requestAutoCert: false\n");
    let r = render::render(
        &single,
        &[good_config("ns")],
        &Observed::default(),
        &Settings::default(),
    )
    .unwrap();
    assert_eq!(
        args(&r.stateful_sets[0]).last().unwrap(),
        "http://t-solo-{0...0}.t-hl.ns.svc.cluster.local/export{0...0}"
    );
}

/// A projected Secret: name, `(key, path)` items, optional.
type Projection = (String, Vec<(String, String)>, Option<bool>);

#[test]
fn external_cert_manager_secret_replaces_auto_tls() {
    let t = simple_tenant(
        &[("p", 4, 2)],
        "  externalCertSecret:\n  - name: t-cert\n    type: cert-manager.io/v1\n  externalCaCertSecret:\n  - name: corp-ca\n    type: kubernetes.io/tls\n",
    );
    let cert = config_secret("ns", "t-cert", "unused");
    // Rendered without auto TLS material: the external Secret is used instead.
    let r = render::render(
        &t,
        &[good_config("ns"), cert.clone()],
        &Observed::default(),
        &Settings::default(),
    )
    .unwrap();
    assert!(r.secrets.is_empty(), "no generated Secrets");
    assert!(args(&r.stateful_sets[0]).contains(&"--certs-dir".to_string()));
    assert!(
        args(&r.stateful_sets[0])
            .last()
            .unwrap()
            .starts_with("https://")
    );
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
    let sources: Vec<Projection> = certs
        .projected
        .as_ref()
        .unwrap()
        .sources
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| {
            let s = s.secret.as_ref().unwrap();
            let items = s
                .items
                .as_ref()
                .unwrap()
                .iter()
                .map(|i| (i.key.clone(), i.path.clone()))
                .collect();
            (s.name.clone(), items, s.optional)
        })
        .collect();
    let kv = |k: &str, p: &str| (k.to_string(), p.to_string());
    assert_eq!(
        sources,
        [
            (
                "t-cert".to_string(),
                vec![kv("tls.crt", "public.crt"), kv("tls.key", "private.key")],
                None
            ),
            (
                "t-cert".to_string(),
                vec![kv("ca.crt", "CAs/ca.crt")],
                Some(true)
            ),
            (
                "corp-ca".to_string(),
                vec![kv("ca.crt", "CAs/corp-ca.crt")],
                None
            ),
        ]
    );
    // A renewed external certificate rolls the pods.
    let hash = |r: &render::Rendered| {
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
    };
    let renewed = config_secret("ns", "t-cert", "renewed");
    let r2 = render::render(
        &t,
        &[good_config("ns"), renewed],
        &Observed::default(),
        &Settings::default(),
    )
    .unwrap();
    assert_ne!(hash(&r), hash(&r2));
}

#[test]
fn external_minio_style_secret_uses_public_crt_and_private_key() {
    let t = simple_tenant(&[("p", 4, 2)], "  externalCertSecret:\n  - name: legacy\n");
    let r = render::render(
        &t,
        &[good_config("ns")],
        &Observed::default(),
        &Settings::default(),
    )
    .unwrap();
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
    let sources = certs.projected.as_ref().unwrap().sources.as_ref().unwrap();
    assert_eq!(sources.len(), 1);
    let keys: Vec<_> = sources[0]
        .secret
        .as_ref()
        .unwrap()
        .items
        .as_ref()
        .unwrap()
        .iter()
        .map(|i| i.key.as_str())
        .collect();
    assert_eq!(keys, ["public.crt", "private.key"]);
}

#[test]
fn spec_options_reach_the_objects() {
    let t = simple_tenant(
        &[("p", 4, 2)],
        r#"  image: registry.example/cairn:1.2.3
  imagePullPolicy: Always
  imagePullSecret: {name: regcred}
  mountPath: /data
  s3ServiceName: objects
  serviceAccountName: cairn-sa
  priorityClassName: storage-critical
  podManagementPolicy: OrderedReady
  exposeServices: {minio: true}
  serviceMetadata:
    minioServiceLabels: {team: storage}
    minioServiceAnnotations: {lb.example/internal: "true"}
    consoleServiceAnnotations: {a: b}
  env:
  - {name: CAIRN_LOG, value: debug}
  - name: MINIO_REGION
    valueFrom: {configMapKeyRef: {name: region, key: region}}
"#,
    );
    let r = render(&t, &[good_config("ns")]).unwrap();
    let sts = &r.stateful_sets[0];
    let c = container(sts);
    assert_eq!(c.image.as_deref(), Some("registry.example/cairn:1.2.3"));
    assert_eq!(c.image_pull_policy.as_deref(), Some("Always"));
    let env: Vec<&str> = c
        .env
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    assert_eq!(env, ["CAIRN_CONFIG_ENV_FILE", "CAIRN_LOG", "MINIO_REGION"]);
    assert!(
        args(sts)
            .last()
            .unwrap()
            .ends_with(".svc.cluster.local/data{0...1}")
    );
    let mounts: Vec<&str> = c
        .volume_mounts
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.mount_path.as_str())
        .collect();
    assert!(mounts.contains(&"/data0") && mounts.contains(&"/data1"));
    let spec = sts.spec.as_ref().unwrap();
    assert_eq!(spec.pod_management_policy.as_deref(), Some("OrderedReady"));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.service_account_name.as_deref(), Some("cairn-sa"));
    assert_eq!(pod.priority_class_name.as_deref(), Some("storage-critical"));
    assert_eq!(pod.image_pull_secrets.as_ref().unwrap()[0].name, "regcred");
    let s3 = service(&r, "objects");
    assert_eq!(
        s3.spec.as_ref().unwrap().type_.as_deref(),
        Some("LoadBalancer")
    );
    assert_eq!(s3.metadata.labels.as_ref().unwrap()["team"], "storage");
    assert_eq!(
        s3.metadata.annotations.as_ref().unwrap()["lb.example/internal"],
        "true"
    );
    let console = service(&r, "t-console");
    assert_eq!(
        console.spec.as_ref().unwrap().type_.as_deref(),
        Some("ClusterIP")
    );
    assert_eq!(console.metadata.annotations.as_ref().unwrap()["a"], "b");
}

#[test]
fn pool_scheduling_and_security_overrides_are_kept() {
    let t = simple_tenant(&[("p", 4, 2)], "");
    let mut t = t;
    let pool = &mut t.spec.pools[0];
    pool.node_selector = Some([("disk".to_string(), "nvme".to_string())].into());
    pool.labels = Some([("team".to_string(), "storage".to_string())].into());
    pool.annotations = Some([("note".to_string(), "x".to_string())].into());
    pool.security_context = Some(k8s_openapi::api::core::v1::PodSecurityContext {
        run_as_user: Some(4242),
        ..Default::default()
    });
    pool.affinity = Some(k8s_openapi::api::core::v1::Affinity::default());
    let r = render(&t, &[good_config("ns")]).unwrap();
    let spec = r.stateful_sets[0].spec.as_ref().unwrap();
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(pod.node_selector.as_ref().unwrap()["disk"], "nvme");
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_user,
        Some(4242)
    );
    assert_eq!(
        pod.affinity,
        Some(k8s_openapi::api::core::v1::Affinity::default())
    );
    let meta = spec.template.metadata.as_ref().unwrap();
    assert_eq!(meta.labels.as_ref().unwrap()["team"], "storage");
    assert_eq!(meta.labels.as_ref().unwrap()["cairn.dev/pool"], "p");
    assert_eq!(meta.annotations.as_ref().unwrap()["note"], "x");
    assert!(
        meta.annotations
            .as_ref()
            .unwrap()
            .contains_key("cairn.dev/config-hash")
    );
}

#[test]
fn cluster_domain_and_default_image_come_from_the_operator() {
    let t = simple_tenant(&[("p", 4, 1)], "  requestAutoCert: false\n");
    let settings = Settings {
        cluster_domain: "corp.internal".into(),
        default_image: "mirror/cairn:9".into(),
    };
    let r = render::render(&t, &[good_config("ns")], &Observed::default(), &settings).unwrap();
    assert_eq!(
        args(&r.stateful_sets[0]).last().unwrap(),
        "http://t-p-{0...3}.t-hl.ns.svc.corp.internal/export{0...0}"
    );
    assert_eq!(
        container(&r.stateful_sets[0]).image.as_deref(),
        Some("mirror/cairn:9")
    );
}

#[test]
fn validate_sh_fixtures_render() {
    let dir = repo().join("operator/tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let inputs =
            cairn_operator::load::load_paths(std::slice::from_ref(&path), false, "default")
                .unwrap();
        for tenant in &inputs.tenants {
            let r = render(tenant, &inputs.secrets)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            // Every StatefulSet of a tenant runs with the same endpoint list.
            let lists: Vec<Vec<String>> = r.stateful_sets.iter().map(args).collect();
            assert!(lists.windows(2).all(|w| w[0] == w[1]), "{}", path.display());
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
}
