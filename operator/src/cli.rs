//! The `render` command: manifests in, every object the operator would create out.
//!
//! Kept out of `main.rs` so that tests drive exactly what the command does. The impure
//! steps are generating auto-TLS certificates (random keys, the current time) and issuing
//! the Prometheus bearer token (its expiry counts from now), as the operator would on first
//! reconcile; `--omit-tls-secrets` leaves the generated Secrets out of the output for
//! review or GitOps, where private keys and tokens do not belong.

use std::collections::BTreeMap;
use std::path::PathBuf;

use thiserror::Error;
use time::OffsetDateTime;

use crate::load::{self, LoadError};
use crate::prometheus_token;
use crate::reconcile::tenant_endpoint;
use crate::render::{self, Observed, RenderError, Rendered, Settings};
use crate::tls::{self, TlsError};

/// Output formats of `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Multi-document YAML, one document per object.
    Yaml,
    /// One JSON `v1/List`.
    Json,
}

/// What `render` was asked to do.
#[derive(Debug, Clone)]
pub struct RenderOptions {
    /// Files, directories, or `-`.
    pub paths: Vec<PathBuf>,
    /// Descend into subdirectories.
    pub recursive: bool,
    /// Namespace of objects that name none.
    pub namespace: String,
    /// Operator settings.
    pub settings: Settings,
    /// Leave the generated Secrets (TLS, Prometheus token) and the CA ConfigMap out of the
    /// output.
    pub omit_tls_secrets: bool,
    /// Whether to render ServiceMonitors (as if the Prometheus Operator CRD is installed).
    pub service_monitor_available: bool,
    /// Output format.
    pub format: Format,
    /// Issue time of generated certificates and of the Prometheus token.
    pub now: OffsetDateTime,
}

/// The text to print and the warnings for standard error.
#[derive(Debug, Clone)]
pub struct RenderOutput {
    /// The objects.
    pub text: String,
    /// Warnings, one per line.
    pub warnings: Vec<String>,
    /// What was rendered, per Tenant.
    pub rendered: Vec<Rendered>,
}

/// Two Tenants would create the same object.
#[derive(Debug, Error)]
#[error(
    "{kind} {namespace}/{name} would be created by both Tenant {first} and Tenant {second}{hint}"
)]
pub struct Conflict {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub first: String,
    pub second: String,
    pub hint: &'static str,
}

/// Why `render` failed.
#[derive(Debug, Error)]
pub enum CliError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "no Tenant found in the given files (looking for apiVersion: cairn.dev/v1alpha1, kind: Tenant)"
    )]
    NoTenants,
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Render(Vec<RenderError>),
    #[error(transparent)]
    Conflict(Box<Conflict>),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot serialize the rendered objects: {0}")]
    Serialize(String),
}

impl CliError {
    /// Exit code: 2 for a problem with the input (the person fixes the files), 1 for a
    /// failure of the tool itself.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Load(_)
            | CliError::NoTenants
            | CliError::Render(_)
            | CliError::Conflict(_) => 2,
            CliError::Tls(_) | CliError::Serialize(_) => 1,
        }
    }
}

/// Runs `render`.
pub fn render(options: &RenderOptions) -> Result<RenderOutput, CliError> {
    let inputs = load::load_paths(&options.paths, options.recursive, &options.namespace)?;
    if inputs.tenants.is_empty() {
        return Err(CliError::NoTenants);
    }
    let mut warnings = inputs.warnings;
    let mut rendered = Vec::new();
    let mut errors = Vec::new();
    for tenant in &inputs.tenants {
        let mut observed = Observed {
            service_monitor_available: options.service_monitor_available,
            ..Observed::default()
        };
        if tenant.spec.auto_cert()
            && let Ok(names) = render::tenant_names(tenant, &options.settings)
        {
            observed.auto_tls = Some(tls::generate(
                &names,
                tenant.spec.cert_config.as_ref(),
                options.now,
            )?);
        }
        if tenant.spec.prometheus_operator()
            && let Ok(names) = render::tenant_names(tenant, &options.settings)
            && let Some(endpoint) = tenant_endpoint(tenant, &names, &inputs.secrets, None)
        {
            observed.prometheus_token = Some(prometheus_token::issue(
                &endpoint.credentials,
                options.now.unix_timestamp(),
            ));
        }
        match render::render(tenant, &inputs.secrets, &observed, &options.settings) {
            Ok(r) => rendered.push(r),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(CliError::Render(errors));
    }
    if options.omit_tls_secrets {
        for r in &mut rendered {
            r.secrets.clear();
            r.config_maps.clear();
        }
    }
    check_conflicts(&rendered)?;
    for r in &rendered {
        warnings.extend(r.warnings.iter().cloned());
    }
    let text = match options.format {
        Format::Yaml => yaml(&rendered),
        Format::Json => json(&rendered),
    }
    .map_err(CliError::Serialize)?;
    Ok(RenderOutput {
        text,
        warnings,
        rendered,
    })
}

/// Refuses two Tenants that would create the same object (for example two tenants in one
/// namespace, both with the default S3 Service name `minio`).
fn check_conflicts(rendered: &[Rendered]) -> Result<(), CliError> {
    let mut owners: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for r in rendered {
        let objects = r
            .objects()
            .map_err(|e| CliError::Serialize(e.to_string()))?;
        for object in objects {
            let field = |path: &[&str]| {
                path.iter()
                    .try_fold(&object, |v, k| v.get(k))
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let key = (
                field(&["kind"]),
                field(&["metadata", "namespace"]),
                field(&["metadata", "name"]),
            );
            if let Some(first) = owners.get(&key) {
                let hint = if key.0 == "Service" {
                    ": give one of them another spec.s3ServiceName"
                } else {
                    ": rename one of them"
                };
                return Err(CliError::Conflict(Box::new(Conflict {
                    kind: key.0,
                    namespace: key.1,
                    name: key.2,
                    first: first.clone(),
                    second: r.tenant.clone(),
                    hint,
                })));
            }
            owners.insert(key, r.tenant.clone());
        }
    }
    Ok(())
}

fn yaml(rendered: &[Rendered]) -> Result<String, String> {
    fn doc<T: serde::Serialize>(out: &mut String, object: &T) -> Result<(), String> {
        out.push_str("---\n");
        out.push_str(&yaml_serde::to_string(object).map_err(|e| e.to_string())?);
        Ok(())
    }
    let mut out = String::new();
    for r in rendered {
        out.push_str(&format!(
            "# Tenant {} (rendered by cairn-operator {})\n",
            r.tenant,
            env!("CARGO_PKG_VERSION")
        ));
        for ((pool, geometry), pdb) in r.geometries.iter().zip(&r.pod_disruption_budgets) {
            let min = pdb
                .spec
                .as_ref()
                .and_then(|s| s.min_available.as_ref())
                .map(|m| match m {
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(i) => {
                        i.to_string()
                    }
                    k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String(s) => {
                        s.clone()
                    }
                })
                .unwrap_or_default();
            out.push_str(&format!(
                "#   pool {pool}: {} servers x {} volumes; {}; minAvailable {min}\n",
                geometry.servers,
                geometry.volumes_per_server,
                geometry.describe()
            ));
        }
        for o in &r.secrets {
            doc(&mut out, o)?;
        }
        for o in &r.config_maps {
            doc(&mut out, o)?;
        }
        for o in &r.services {
            doc(&mut out, o)?;
        }
        for o in &r.stateful_sets {
            doc(&mut out, o)?;
        }
        for o in &r.pod_disruption_budgets {
            doc(&mut out, o)?;
        }
        if let Some(o) = &r.service_monitor {
            doc(&mut out, o)?;
        }
    }
    Ok(out)
}

fn json(rendered: &[Rendered]) -> Result<String, String> {
    let mut items = Vec::new();
    for r in rendered {
        items.extend(r.objects().map_err(|e| e.to_string())?);
    }
    let list = serde_json::json!({ "apiVersion": "v1", "kind": "List", "items": items });
    serde_json::to_string_pretty(&list)
        .map(|s| s + "\n")
        .map_err(|e| e.to_string())
}
