//! One StatefulSet per pool: `<tenant>-<pool>`, running `cairn server`.
//!
//! What each pod gets, and why:
//! * `volumesPerServer` claims `data0..dataN-1`, mounted at `<mountPath>0..` (`/export0`,
//!   ...): one drive each, kept when the StatefulSet is deleted or scaled (the objects live
//!   there).
//! * `command: [cairn, server]` with the listen addresses, the certificate directory and the
//!   endpoint argument of *every* pool ([`super::endpoints`]): all servers must agree on
//!   the whole deployment.
//! * The configuration Secret mounted as a file at [`CONFIG_FILE`], named by
//!   `CAIRN_CONFIG_ENV_FILE`: the credentials and storage class never appear in the pod
//!   spec, and the server reads the same `config.env` format MinIO does.
//! * The certificate (generated `<tenant>-tls` or `externalCertSecret`) projected into
//!   [`CERTS_DIR`] as `public.crt`/`private.key`, its CA and any extra CAs under `CAs/`,
//!   where the server looks for them.
//! * Liveness on `/minio/health/live` and readiness on `/minio/health/ready`, over HTTPS
//!   when TLS is on (the kubelet does not verify the certificate).
//! * A non-root, read-only-root-filesystem security context, with an emptyDir for `/tmp`.
//! * `enableServiceLinks: false`: the S3 Service is called `minio`, and Kubernetes would
//!   otherwise inject `MINIO_PORT=tcp://...`-style variables into the pods, in the very
//!   namespace of names the server reads its settings from.
//! * No service account token: the server never calls the Kubernetes API.
//! * The configuration hash annotation ([`super::hash`]) to roll pods on a change; the
//!   update strategy is `OnDelete` because the operator rolls the pods itself, waiting for
//!   cluster health between them (`crate::reconcile::rollout`).
//! * Unless the pool sets its own affinity, a preferred anti-affinity that spreads the
//!   pool's servers over nodes: two servers on one node fail together, which erasure coding
//!   counts on not happening. Preferred, not required, so small clusters still schedule.

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, HTTPGetAction,
    KeyToPath, LocalObjectReference, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ProjectedVolumeSource, SeccompProfile, SecretProjection, SecretVolumeSource, SecurityContext,
    Volume, VolumeMount, VolumeProjection, WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names::{ANNOTATION_CONFIG_HASH, pool_labels, pool_selector};
use super::{CONFIG_ENV_KEY, Context, TlsMode};
use crate::crd::{LocalCertificateReference, Pool};

/// The server's S3 port in the container.
pub const S3_PORT: i32 = 9000;
/// Name of the S3 container port; Services and probes refer to it by name.
pub const S3_PORT_NAME: &str = "s3";
/// Name of the console container port.
pub const CONSOLE_PORT_NAME: &str = "console";
/// Directory of the mounted configuration Secret.
pub const CONFIG_DIR: &str = "/etc/cairn/config";
/// The mounted `config.env`, named by `CAIRN_CONFIG_ENV_FILE`.
pub const CONFIG_FILE: &str = "/etc/cairn/config/config.env";
/// The server's `--certs-dir`: `public.crt`, `private.key`, `CAs/`.
pub const CERTS_DIR: &str = "/etc/cairn/certs";
/// User and group the server runs as by default.
pub const DEFAULT_UID: i64 = 1000;
/// Name of the server container.
pub const CONTAINER_NAME: &str = "cairn";
/// `0440`: the mounted secrets are readable by the server's group only.
const SECRET_FILE_MODE: i32 = 0o440;

/// Console port: 9443 with TLS, 9090 without, as MinIO's operator.
pub fn console_port(tls: bool) -> i32 {
    if tls { 9443 } else { 9090 }
}

/// The StatefulSet of `pool`.
pub(crate) fn statefulset(ctx: &Context<'_>, pool: &Pool) -> StatefulSet {
    let tenant = &ctx.names.tenant;
    let name = ctx.names.statefulset(&pool.name);
    let volumes = usize::try_from(pool.volumes_per_server).unwrap_or(0);

    // Operator labels last: they win over the pool's, since the selectors depend on them.
    let mut labels = pool.labels.clone().unwrap_or_default();
    labels.extend(pool_labels(tenant, &pool.name));
    let mut pod_annotations = pool.annotations.clone().unwrap_or_default();
    pod_annotations.insert(ANNOTATION_CONFIG_HASH.to_string(), ctx.config_hash.clone());

    let mut metadata = ctx.meta(name, labels.clone());
    metadata.annotations = pool.annotations.clone();

    StatefulSet {
        metadata,
        spec: Some(StatefulSetSpec {
            replicas: Some(pool.servers),
            service_name: Some(ctx.names.headless_service()),
            pod_management_policy: Some(
                ctx.tenant.spec.pod_management_policy().as_str().to_string(),
            ),
            selector: LabelSelector {
                match_labels: Some(pool_selector(tenant, &pool.name)),
                ..LabelSelector::default()
            },
            update_strategy: Some(StatefulSetUpdateStrategy {
                // The operator restarts the pods itself, one at a time and only while the
                // tenant has write quorum (`/minio/health/cluster`), also when a pool is
                // added: see `crate::reconcile::rollout`. The StatefulSet's own
                // RollingUpdate only waits for a pod's readiness.
                type_: Some("OnDelete".to_string()),
                ..StatefulSetUpdateStrategy::default()
            }),
            persistent_volume_claim_retention_policy: Some(
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some("Retain".to_string()),
                    when_scaled: Some("Retain".to_string()),
                },
            ),
            volume_claim_templates: Some(
                (0..volumes).map(|i| claim_template(ctx, pool, i)).collect(),
            ),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    annotations: Some(pod_annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(ctx, pool, volumes)),
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// Claim template `data<i>`: the pool's template with its name, the tenant's labels, and
/// `ReadWriteOnce` when it names no access mode.
fn claim_template(ctx: &Context<'_>, pool: &Pool, index: usize) -> PersistentVolumeClaim {
    let template = &pool.volume_claim_template;
    let mut labels = template.metadata.labels.clone().unwrap_or_default();
    labels.extend(pool_labels(&ctx.names.tenant, &pool.name));
    let mut spec: PersistentVolumeClaimSpec = template.spec.clone().unwrap_or_default();
    if spec.access_modes.as_ref().is_none_or(Vec::is_empty) {
        spec.access_modes = Some(vec!["ReadWriteOnce".to_string()]);
    }
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(format!("data{index}")),
            labels: Some(labels),
            annotations: template.metadata.annotations.clone(),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

fn pod_spec(ctx: &Context<'_>, pool: &Pool, volumes: usize) -> PodSpec {
    let spec = &ctx.tenant.spec;
    let mut pod_volumes = Vec::new();
    if let Some(config) = spec.configuration_secret() {
        pod_volumes.push(Volume {
            name: "configuration".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(config.to_string()),
                items: Some(vec![KeyToPath {
                    key: CONFIG_ENV_KEY.to_string(),
                    path: CONFIG_ENV_KEY.to_string(),
                    mode: None,
                }]),
                default_mode: Some(SECRET_FILE_MODE),
                optional: None,
            }),
            ..Volume::default()
        });
    }
    if let Some(certs) = certs_volume(ctx) {
        pod_volumes.push(certs);
    }
    pod_volumes.push(Volume {
        name: "tmp".to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    });

    PodSpec {
        containers: vec![container(ctx, pool, volumes)],
        volumes: Some(pod_volumes),
        service_account_name: spec.service_account_name.clone(),
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        priority_class_name: spec.priority_class_name.clone(),
        image_pull_secrets: spec
            .image_pull_secret
            .clone()
            .filter(|s| !s.name.is_empty())
            .map(|s: LocalObjectReference| vec![s]),
        node_selector: pool.node_selector.clone(),
        affinity: Some(
            pool.affinity
                .clone()
                .unwrap_or_else(|| spread_over_nodes(&ctx.names.tenant, &pool.name)),
        ),
        tolerations: pool.tolerations.clone(),
        topology_spread_constraints: pool.topology_spread_constraints.clone(),
        security_context: Some(
            pool.security_context
                .clone()
                .unwrap_or_else(default_pod_security_context),
        ),
        ..PodSpec::default()
    }
}

fn container(ctx: &Context<'_>, pool: &Pool, volumes: usize) -> Container {
    let spec = &ctx.tenant.spec;
    let tls = ctx.tls.enabled();
    let mut args = vec![
        "--address".to_string(),
        format!(":{S3_PORT}"),
        "--console-address".to_string(),
        format!(":{}", console_port(tls)),
    ];
    if tls {
        args.push("--certs-dir".to_string());
        args.push(CERTS_DIR.to_string());
    }
    args.extend(ctx.endpoints.iter().cloned());

    let mut env = vec![EnvVar {
        name: "CAIRN_CONFIG_ENV_FILE".to_string(),
        value: Some(CONFIG_FILE.to_string()),
        value_from: None,
    }];
    env.extend(spec.env.iter().flatten().cloned());

    let mut mounts: Vec<VolumeMount> = (0..volumes)
        .map(|i| VolumeMount {
            name: format!("data{i}"),
            mount_path: format!("{}{i}", spec.mount_path()),
            ..VolumeMount::default()
        })
        .collect();
    mounts.push(VolumeMount {
        name: "configuration".to_string(),
        mount_path: CONFIG_DIR.to_string(),
        read_only: Some(true),
        ..VolumeMount::default()
    });
    if tls {
        mounts.push(VolumeMount {
            name: "certs".to_string(),
            mount_path: CERTS_DIR.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    mounts.push(VolumeMount {
        name: "tmp".to_string(),
        mount_path: "/tmp".to_string(),
        ..VolumeMount::default()
    });

    Container {
        name: CONTAINER_NAME.to_string(),
        image: Some(
            spec.image
                .clone()
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| ctx.settings.default_image.clone()),
        ),
        image_pull_policy: spec.image_pull_policy.map(|p| p.as_str().to_string()),
        command: Some(vec!["cairn".to_string(), "server".to_string()]),
        args: Some(args),
        env: Some(env),
        ports: Some(vec![
            ContainerPort {
                name: Some(S3_PORT_NAME.to_string()),
                container_port: S3_PORT,
                protocol: Some("TCP".to_string()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some(CONSOLE_PORT_NAME.to_string()),
                container_port: console_port(tls),
                protocol: Some("TCP".to_string()),
                ..ContainerPort::default()
            },
        ]),
        volume_mounts: Some(mounts),
        liveness_probe: Some(probe("/minio/health/live", tls, 10, 6)),
        readiness_probe: Some(probe("/minio/health/ready", tls, 5, 3)),
        resources: pool.resources.clone(),
        security_context: Some(
            pool.container_security_context
                .clone()
                .unwrap_or_else(default_container_security_context),
        ),
        ..Container::default()
    }
}

fn probe(path: &str, tls: bool, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_string()),
            port: IntOrString::String(S3_PORT_NAME.to_string()),
            scheme: Some(if tls { "HTTPS" } else { "HTTP" }.to_string()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(5),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// The `certs` volume: the certificate and key as the server expects them, plus CAs.
fn certs_volume(ctx: &Context<'_>) -> Option<Volume> {
    let spec = &ctx.tenant.spec;
    let item = |key: &str, path: &str| KeyToPath {
        key: key.to_string(),
        path: path.to_string(),
        mode: None,
    };
    let projection = |name: &str, items: Vec<KeyToPath>, optional: bool| VolumeProjection {
        secret: Some(SecretProjection {
            name: name.to_string(),
            items: Some(items),
            optional: optional.then_some(true),
        }),
        ..VolumeProjection::default()
    };
    let mut sources = match &ctx.tls {
        TlsMode::Off => return None,
        TlsMode::Auto(_) => vec![projection(
            &ctx.names.tls_secret(),
            vec![
                item("tls.crt", "public.crt"),
                item("tls.key", "private.key"),
                item("ca.crt", "CAs/ca.crt"),
            ],
            false,
        )],
        TlsMode::External(reference) => {
            if uses_tls_keys(reference) {
                vec![
                    projection(
                        &reference.name,
                        vec![
                            item("tls.crt", "public.crt"),
                            item("tls.key", "private.key"),
                        ],
                        false,
                    ),
                    // cert-manager adds the issuing CA as `ca.crt`; other issuers may not.
                    projection(&reference.name, vec![item("ca.crt", "CAs/ca.crt")], true),
                ]
            } else {
                vec![projection(
                    &reference.name,
                    vec![
                        item("public.crt", "public.crt"),
                        item("private.key", "private.key"),
                    ],
                    false,
                )]
            }
        }
    };
    for ca in spec.external_ca_cert_secret.iter().flatten() {
        let key = if uses_tls_keys(ca) {
            "ca.crt"
        } else {
            "public.crt"
        };
        sources.push(projection(
            &ca.name,
            vec![item(key, &format!("CAs/{}.crt", ca.name))],
            false,
        ));
    }
    Some(Volume {
        name: "certs".to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            default_mode: Some(SECRET_FILE_MODE),
        }),
        ..Volume::default()
    })
}

/// Whether a certificate Secret uses the `tls.crt`/`tls.key`/`ca.crt` keys (Kubernetes TLS
/// and cert-manager Secrets) rather than MinIO's `public.crt`/`private.key`.
fn uses_tls_keys(reference: &LocalCertificateReference) -> bool {
    reference
        .type_
        .as_deref()
        .is_some_and(|t| t == "kubernetes.io/tls" || t.starts_with("cert-manager.io/"))
}

fn spread_over_nodes(tenant: &str, pool: &str) -> Affinity {
    Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(pool_selector(tenant, pool)),
                            ..LabelSelector::default()
                        }),
                        topology_key: "kubernetes.io/hostname".to_string(),
                        ..PodAffinityTerm::default()
                    },
                },
            ]),
            ..PodAntiAffinity::default()
        }),
        ..Affinity::default()
    }
}

fn default_pod_security_context() -> PodSecurityContext {
    PodSecurityContext {
        run_as_user: Some(DEFAULT_UID),
        run_as_group: Some(DEFAULT_UID),
        run_as_non_root: Some(true),
        fs_group: Some(DEFAULT_UID),
        fs_group_change_policy: Some("OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_string(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

fn default_container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            ..Capabilities::default()
        }),
        ..SecurityContext::default()
    }
}
