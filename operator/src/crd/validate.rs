//! Checks of a Tenant that the CRD schema cannot express, with messages that say what to
//! change.
//!
//! The schema (with its CEL rules) catches what the API server can check alone; this
//! catches the rest before anything is created: the erasure geometry the server would
//! refuse, a parity above half a set, a `config.env` without credentials, names that
//! overflow Kubernetes limits, a changed pool shape. All problems are collected, not just
//! the first, so one round of fixes is enough.

use std::collections::BTreeSet;
use std::fmt;

use thiserror::Error;

use super::pool::Pool;
use super::spec::TenantSpec;
use crate::config_env::{self, SECRET_NAMES, ServerSettings};
use crate::geometry::Geometry;

/// Longest StatefulSet name: Kubernetes puts `<name>-<revision hash>` in a label of at
/// most 63 characters, and the hash takes up to 11 of them.
pub const MAX_STATEFULSET_NAME: usize = 52;

/// Label prefix the operator owns; pool labels may not set these keys, since the
/// StatefulSet and Service selectors rely on them.
pub const OWNED_LABEL_PREFIX: &str = "cairn.dev/";

/// Environment names the operator sets itself.
pub const OWNED_ENV: &[&str] = &["CAIRN_CONFIG_ENV_FILE", "MINIO_CONFIG_ENV_FILE"];

/// One thing wrong with a Tenant: where, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Field path, for example `spec.pools[0].servers`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl Problem {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every problem found in one Tenant.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("Tenant {tenant} is not valid:{}", list(.problems))]
pub struct ValidationErrors {
    /// `namespace/name` of the Tenant.
    pub tenant: String,
    /// The problems, in field order.
    pub problems: Vec<Problem>,
}

fn list(problems: &[Problem]) -> String {
    problems.iter().map(|p| format!("\n  - {p}")).collect()
}

/// The configuration Secret's `config.env`, as the caller found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigInput<'a> {
    /// The text of `config.env`.
    Text(&'a str),
    /// The Secret named by `spec.configuration.name` was not found.
    SecretMissing,
    /// The Secret has no `config.env` key.
    KeyMissing,
    /// `config.env` is not UTF-8.
    NotUtf8,
}

/// A pool as it exists in the cluster (from its StatefulSet), to refuse shape changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingPool {
    /// Pool name.
    pub name: String,
    /// Replicas of its StatefulSet.
    pub servers: usize,
    /// Volume claim templates of its StatefulSet.
    pub volumes_per_server: usize,
}

/// What validation learned that rendering needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validated {
    /// The erasure geometry of each pool, in spec order.
    pub geometries: Vec<Geometry>,
}

/// Validates a Tenant named `name` in `namespace`.
pub fn validate(
    name: &str,
    namespace: &str,
    spec: &TenantSpec,
    config: ConfigInput<'_>,
    existing: &[ExistingPool],
) -> Result<Validated, ValidationErrors> {
    let mut problems = Vec::new();
    check_names(name, spec, &mut problems);
    let settings = check_config(spec, config, &mut problems);
    let geometries = check_pools(name, spec, settings.as_ref(), existing, &mut problems);
    check_env(spec, &mut problems);
    check_tls(spec, &mut problems);
    check_buckets_and_users(spec, &mut problems);
    if problems.is_empty() {
        Ok(Validated { geometries })
    } else {
        Err(ValidationErrors {
            tenant: format!("{namespace}/{name}"),
            problems,
        })
    }
}

/// RFC 1123 label: what Kubernetes requires of most names.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// RFC 1035 label: a DNS label that starts with a letter, as Service names must.
pub fn is_dns1035_label(s: &str) -> bool {
    is_dns_label(s) && s.starts_with(|c: char| c.is_ascii_lowercase())
}

fn check_names(name: &str, spec: &TenantSpec, problems: &mut Vec<Problem>) {
    if !is_dns1035_label(name) {
        problems.push(Problem::new(
            "metadata.name",
            format!(
                "`{name}` cannot be used: the Services `<tenant>-hl` and `<tenant>-console` need a \
                 name of lowercase letters, digits and `-` that starts with a letter"
            ),
        ));
    } else if name.len() + "-console".len() > 63 {
        problems.push(Problem::new(
            "metadata.name",
            format!(
                "`{name}` is {} characters; at most 55 fit in the Service name `<tenant>-console`",
                name.len()
            ),
        ));
    }
    if let Some(mount) = &spec.mount_path {
        let ok = mount.starts_with('/')
            && mount.trim_end_matches('/').len() > 1
            && !mount.split('/').any(|seg| seg == ".." || seg == ".")
            && !mount.chars().any(char::is_whitespace);
        if !ok {
            problems.push(Problem::new(
                "spec.mountPath",
                format!(
                    "`{mount}` is not usable: give an absolute directory other than `/`, such as \
                     `/export` (volumes are mounted at `<mountPath>0`, `<mountPath>1`, ...)"
                ),
            ));
        }
    }
    let s3 = spec.s3_service_name();
    if !is_dns1035_label(s3) {
        problems.push(Problem::new(
            "spec.s3ServiceName",
            format!(
                "`{s3}` is not a valid Service name (lowercase letters, digits and `-`, starting \
                 with a letter, at most 63)"
            ),
        ));
    } else if s3 == format!("{name}-hl") || s3 == format!("{name}-console") {
        problems.push(Problem::new(
            "spec.s3ServiceName",
            format!("`{s3}` is the name of another Service of this tenant; choose another"),
        ));
    }
}

fn check_config(
    spec: &TenantSpec,
    config: ConfigInput<'_>,
    problems: &mut Vec<Problem>,
) -> Option<ServerSettings> {
    const FIELD: &str = "spec.configuration.name";
    let Some(secret) = spec.configuration_secret() else {
        problems.push(Problem::new(
            FIELD,
            "required: name a Secret whose `config.env` key holds `export MINIO_ROOT_USER=\"...\"` \
             and `export MINIO_ROOT_PASSWORD=\"...\"` (or the CAIRN_* names)",
        ));
        return None;
    };
    let text = match config {
        ConfigInput::Text(text) => text,
        ConfigInput::SecretMissing => {
            problems.push(Problem::new(
                FIELD,
                format!(
                    "Secret `{secret}` does not exist in the Tenant's namespace; create it with a \
                     `config.env` key holding the root credentials"
                ),
            ));
            return None;
        }
        ConfigInput::KeyMissing => {
            problems.push(Problem::new(
                FIELD,
                format!(
                    "Secret `{secret}` has no `config.env` key; put the root credentials there as \
                     `export MINIO_ROOT_USER=\"...\"` lines"
                ),
            ));
            return None;
        }
        ConfigInput::NotUtf8 => {
            problems.push(Problem::new(
                FIELD,
                format!("`config.env` of Secret `{secret}` is not UTF-8 text"),
            ));
            return None;
        }
    };
    let entries = match config_env::parse(text) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(Problem::new(FIELD, format!("Secret `{secret}`: {e}")));
            return None;
        }
    };
    let env: Vec<(String, String)> = spec
        .env
        .iter()
        .flatten()
        .filter_map(|e| e.value.as_ref().map(|v| (e.name.clone(), v.clone())))
        .collect();
    let settings = ServerSettings::resolve(&entries, &env);
    match &settings.root_user {
        None => problems.push(Problem::new(
            FIELD,
            format!(
                "`config.env` of Secret `{secret}` sets no root user: add \
                 `export MINIO_ROOT_USER=\"...\"` (or CAIRN_ROOT_USER)"
            ),
        )),
        Some(user) if user.chars().count() < 3 => problems.push(Problem::new(
            FIELD,
            format!(
                "the root user in `config.env` of Secret `{secret}` is shorter than 3 characters"
            ),
        )),
        Some(_) => {}
    }
    match &settings.root_password {
        None => problems.push(Problem::new(
            FIELD,
            format!(
                "`config.env` of Secret `{secret}` sets no root password: add \
                 `export MINIO_ROOT_PASSWORD=\"...\"` (or CAIRN_ROOT_PASSWORD), at least 8 characters"
            ),
        )),
        Some(pw) if pw.chars().count() < 8 => problems.push(Problem::new(
            FIELD,
            format!(
                "the root password in `config.env` of Secret `{secret}` is shorter than 8 characters"
            ),
        )),
        Some(_) => {}
    }
    if let Some(problem) = settings
        .kms_secret_key
        .as_deref()
        .and_then(config_env::kms_key_problem)
    {
        problems.push(Problem::new(
            FIELD,
            format!("MINIO_KMS_SECRET_KEY in `config.env` of Secret `{secret}` {problem}"),
        ));
    }
    Some(settings)
}

fn check_pools(
    tenant: &str,
    spec: &TenantSpec,
    settings: Option<&ServerSettings>,
    existing: &[ExistingPool],
    problems: &mut Vec<Problem>,
) -> Vec<Geometry> {
    if spec.pools.is_empty() {
        problems.push(Problem::new(
            "spec.pools",
            "at least one pool is required, for example `{name: pool-0, servers: 4, volumesPerServer: 2, ...}`",
        ));
        return Vec::new();
    }
    let total_servers: i64 = spec.pools.iter().map(|p| i64::from(p.servers.max(0))).sum();
    let distributed = total_servers > 1;
    let storage_class = settings.and_then(|s| s.storage_class.as_deref());
    let mut seen = BTreeSet::new();
    let mut geometries = Vec::new();
    for (i, pool) in spec.pools.iter().enumerate() {
        let field = format!("spec.pools[{i}]");
        check_pool_name(tenant, pool, &field, &mut seen, problems);
        let (servers, volumes) = (pool.servers, pool.volumes_per_server);
        if servers < 1 {
            problems.push(Problem::new(
                format!("{field}.servers"),
                format!("{servers} servers: a pool needs at least 1"),
            ));
        }
        if volumes < 1 {
            problems.push(Problem::new(
                format!("{field}.volumesPerServer"),
                format!("{volumes} volumes per server: a pool needs at least 1"),
            ));
        }
        if servers < 1 || volumes < 1 {
            continue;
        }
        let drives = i64::from(servers) * i64::from(volumes);
        if distributed && drives < 4 {
            problems.push(Problem::new(
                field.clone(),
                format!(
                    "{servers} servers x {volumes} volumes = {drives} drives; with more than one \
                     server (distributed mode) every pool needs at least 4 drives so that erasure \
                     coding survives a lost server: raise servers or volumesPerServer"
                ),
            ));
            continue;
        }
        // Both are at least 1 and at most i32::MAX here, so the conversions cannot fail.
        let (servers, volumes) = (
            usize::try_from(servers).unwrap_or(1),
            usize::try_from(volumes).unwrap_or(1),
        );
        match Geometry::plan(servers, volumes, storage_class) {
            Ok(g) => geometries.push(g),
            Err(e) => {
                let source = if storage_class.is_some() {
                    " (storage class from MINIO_STORAGE_CLASS_STANDARD in config.env or spec.env)"
                } else {
                    ""
                };
                problems.push(Problem::new(field.clone(), format!("{e}{source}")));
            }
        }
        check_claim(pool, &field, problems);
        check_pool_labels(pool, &field, problems);
        if let Some(old) = existing.iter().find(|e| e.name == pool.name)
            && (old.servers != servers || old.volumes_per_server != volumes)
        {
            problems.push(Problem::new(
                field.clone(),
                format!(
                    "pool `{}` exists with {} servers x {} volumes and cannot become {servers} x \
                     {volumes}: the erasure layout on its drives depends on its shape. Restore the \
                     old values, and add a new pool to grow the tenant",
                    pool.name, old.servers, old.volumes_per_server
                ),
            ));
        }
    }
    for old in existing {
        if !spec.pools.iter().any(|p| p.name == old.name) {
            problems.push(Problem::new(
                "spec.pools",
                format!(
                    "pool `{}` exists ({} servers x {} volumes) but is no longer in the spec; \
                     removing a pool would lose the objects on it and is not supported: put it back",
                    old.name, old.servers, old.volumes_per_server
                ),
            ));
        }
    }
    geometries
}

fn check_pool_name(
    tenant: &str,
    pool: &Pool,
    field: &str,
    seen: &mut BTreeSet<String>,
    problems: &mut Vec<Problem>,
) {
    let name = &pool.name;
    if !is_dns_label(name) {
        problems.push(Problem::new(
            format!("{field}.name"),
            format!("`{name}` is not a valid pool name: use lowercase letters, digits and `-`"),
        ));
    } else if tenant.len() + 1 + name.len() > MAX_STATEFULSET_NAME {
        problems.push(Problem::new(
            format!("{field}.name"),
            format!(
                "the StatefulSet name `{tenant}-{name}` is {} characters; at most {MAX_STATEFULSET_NAME} \
                 fit (Kubernetes adds a revision hash to it in a 63-character label): shorten the \
                 tenant or pool name",
                tenant.len() + 1 + name.len()
            ),
        ));
    }
    if !seen.insert(name.clone()) {
        problems.push(Problem::new(
            format!("{field}.name"),
            format!("pool name `{name}` is used twice; every pool needs its own name"),
        ));
    }
}

fn check_claim(pool: &Pool, field: &str, problems: &mut Vec<Problem>) {
    let storage = pool
        .volume_claim_template
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"));
    if storage.is_none() {
        problems.push(Problem::new(
            format!("{field}.volumeClaimTemplate.spec.resources.requests.storage"),
            "required: the size of one drive, for example `500Gi`",
        ));
    }
}

fn check_pool_labels(pool: &Pool, field: &str, problems: &mut Vec<Problem>) {
    for key in pool.labels.iter().flat_map(|l| l.keys()) {
        if key.starts_with(OWNED_LABEL_PREFIX) {
            problems.push(Problem::new(
                format!("{field}.labels"),
                format!(
                    "`{key}` is set by the operator (the selectors use it); choose another label key"
                ),
            ));
        }
    }
}

fn check_env(spec: &TenantSpec, problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, var) in spec.env.iter().flatten().enumerate() {
        let field = format!("spec.env[{i}]");
        let name = var.name.as_str();
        if !seen.insert(name) {
            problems.push(Problem::new(
                field.clone(),
                format!("`{name}` is set twice; keep one"),
            ));
        }
        if SECRET_NAMES.contains(&name) && var.value.is_some() {
            problems.push(Problem::new(
                field.clone(),
                format!(
                    "`{name}` is a credential and would be stored in clear in the pod spec: move it \
                     to `config.env` in the configuration Secret, or use valueFrom.secretKeyRef"
                ),
            ));
        }
        if OWNED_ENV.contains(&name) {
            problems.push(Problem::new(
                field,
                format!(
                    "`{name}` is set by the operator (it points at the mounted configuration \
                     Secret); remove it"
                ),
            ));
        }
    }
}

fn check_tls(spec: &TenantSpec, problems: &mut Vec<Problem>) {
    let certs = spec.external_cert_secret.as_deref().unwrap_or_default();
    if certs.len() > 1 {
        problems.push(Problem::new(
            "spec.externalCertSecret",
            format!(
                "{} Secrets given; Cairn serves one certificate: give one Secret whose certificate \
                 covers every name the tenant is reached by",
                certs.len()
            ),
        ));
    }
    for (list, field) in [
        (certs, "spec.externalCertSecret"),
        (
            spec.external_ca_cert_secret.as_deref().unwrap_or_default(),
            "spec.externalCaCertSecret",
        ),
    ] {
        for (i, c) in list.iter().enumerate() {
            if !is_dns_subdomain(&c.name) {
                problems.push(Problem::new(
                    format!("{field}[{i}].name"),
                    format!("`{}` is not a valid Secret name", c.name),
                ));
            }
        }
    }
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn check_buckets_and_users(spec: &TenantSpec, problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, bucket) in spec.buckets.iter().flatten().enumerate() {
        let field = format!("spec.buckets[{i}]");
        let name = bucket.name.as_str();
        if !is_bucket_name(name) {
            problems.push(Problem::new(
                format!("{field}.name"),
                format!(
                    "`{name}` is not a valid bucket name: 3 to 63 lowercase letters, digits, `.` and \
                     `-`, starting and ending with a letter or digit, not shaped like an IP address"
                ),
            ));
        }
        if !seen.insert(name) {
            problems.push(Problem::new(
                format!("{field}.name"),
                format!("bucket `{name}` is listed twice"),
            ));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, user) in spec.users.iter().flatten().enumerate() {
        if !is_dns_subdomain(&user.name) {
            problems.push(Problem::new(
                format!("spec.users[{i}].name"),
                format!(
                    "`{}` is not a valid Secret name; name a Secret with CONSOLE_ACCESS_KEY and \
                     CONSOLE_SECRET_KEY",
                    user.name
                ),
            ));
        } else if !seen.insert(user.name.as_str()) {
            problems.push(Problem::new(
                format!("spec.users[{i}].name"),
                format!("Secret `{}` is listed twice", user.name),
            ));
        }
    }
    check_policies(spec, problems);
}

/// `spec.policies`: unique names, and each document given exactly once, inline as a JSON
/// object (the server checks the policy grammar itself and its error becomes the
/// `UsersProvisioned` condition) or as a ConfigMap key (read, and checked the same way,
/// during provisioning).
fn check_policies(spec: &TenantSpec, problems: &mut Vec<Problem>) {
    let mut seen = BTreeSet::new();
    for (i, policy) in spec.policies.iter().flatten().enumerate() {
        let field = format!("spec.policies[{i}]");
        if !seen.insert(policy.name.as_str()) {
            problems.push(Problem::new(
                format!("{field}.name"),
                format!("policy `{}` is listed twice", policy.name),
            ));
        }
        match (&policy.document, &policy.config_map_ref) {
            (Some(_), Some(_)) | (None, None) => problems.push(Problem::new(
                field.clone(),
                format!(
                    "policy `{}` needs its document either inline (document) or as a ConfigMap \
                     key (configMapRef: {{name, key}}), exactly one of the two",
                    policy.name
                ),
            )),
            (Some(document), None) => {
                if let Some(message) = policy_document_problem(document) {
                    problems.push(Problem::new(format!("{field}.document"), message));
                }
            }
            (None, Some(reference)) => {
                if !is_dns_subdomain(&reference.name) {
                    problems.push(Problem::new(
                        format!("{field}.configMapRef.name"),
                        format!("`{}` is not a valid ConfigMap name", reference.name),
                    ));
                }
                if !is_config_map_key(&reference.key) {
                    problems.push(Problem::new(
                        format!("{field}.configMapRef.key"),
                        format!(
                            "`{}` is not a valid ConfigMap key: 1 to 253 letters, digits, `-`, \
                             `_` and `.`",
                            reference.key
                        ),
                    ));
                }
            }
        }
    }
}

/// What is wrong with a policy document, if anything: it must be a JSON object.
pub fn policy_document_problem(document: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(document) {
        Ok(serde_json::Value::Object(_)) => None,
        Ok(_) => Some("the policy document must be a JSON object with `Statement`".to_string()),
        Err(e) => Some(format!("the policy document is not valid JSON: {e}")),
    }
}

/// A key of a ConfigMap's `data`: letters, digits, `-`, `_` and `.`, not `.` or `..`.
fn is_config_map_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// S3 bucket naming rules (the ones that matter for path- and virtual-host-style access).
pub fn is_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    (3..=63).contains(&name.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && first.is_ascii_alphanumeric()
        && last.is_ascii_alphanumeric()
        && !name.contains("..")
        && !name.contains(".-")
        && !name.contains("-.")
        && name.parse::<std::net::Ipv4Addr>().is_err()
}
