//! Reading Tenants and Secrets from manifest files, as `kubectl apply -f` takes them: files,
//! directories (their `.yaml`, `.yml` and `.json` files), `-` for standard input,
//! multi-document YAML, and `kind: List`.
//!
//! Objects of other kinds (Namespaces, kustomizations, ...) are skipped, so a whole
//! manifests directory can be given. A MinIO Tenant (`minio.min.io`) is refused with the
//! one-line change that makes it a Cairn Tenant. Fields a Cairn Tenant does not have are
//! reported, because the API server would drop them silently.

use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::core::v1::Secret;
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::crd::{API_VERSION, GROUP, Tenant};

/// Tenants and Secrets read from the inputs.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Tenants, in input order, each with a namespace.
    pub tenants: Vec<Tenant>,
    /// Secrets, in input order, each with a namespace.
    pub secrets: Vec<Secret>,
    /// Things a person should know (ignored fields).
    pub warnings: Vec<String>,
}

/// Why the inputs cannot be read.
#[derive(Debug, Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no .yaml, .yml or .json files in this directory")]
    EmptyDirectory { path: String },
    #[error("{origin}: {message}")]
    Document { origin: String, message: String },
}

/// Reads every path; `-` is standard input. Objects without a namespace get
/// `default_namespace`.
pub fn load_paths(
    paths: &[PathBuf],
    recursive: bool,
    default_namespace: &str,
) -> Result<Inputs, LoadError> {
    let mut inputs = Inputs::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| LoadError::Read {
                    path: "standard input".to_string(),
                    source,
                })?;
            load_str(&text, "standard input", default_namespace, &mut inputs)?;
        } else if path.is_dir() {
            let files = manifest_files(path, recursive)?;
            if files.is_empty() {
                return Err(LoadError::EmptyDirectory {
                    path: path.display().to_string(),
                });
            }
            for file in files {
                load_file(&file, default_namespace, &mut inputs)?;
            }
        } else {
            load_file(path, default_namespace, &mut inputs)?;
        }
    }
    Ok(inputs)
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> LoadError + '_ {
    move |source| LoadError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// The manifest files of a directory, sorted by name (as kubectl reads them).
fn manifest_files(dir: &Path, recursive: bool) -> Result<Vec<PathBuf>, LoadError> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(read_error(dir))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            if recursive {
                files.extend(manifest_files(&entry, true)?);
            }
        } else if entry
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            files.push(entry);
        }
    }
    Ok(files)
}

fn load_file(path: &Path, default_namespace: &str, inputs: &mut Inputs) -> Result<(), LoadError> {
    let text = std::fs::read_to_string(path).map_err(read_error(path))?;
    load_str(
        &text,
        &path.display().to_string(),
        default_namespace,
        inputs,
    )
}

/// Reads the documents of one YAML (or JSON) text; `origin` names it in messages.
pub fn load_str(
    text: &str,
    origin: &str,
    default_namespace: &str,
    inputs: &mut Inputs,
) -> Result<(), LoadError> {
    for (index, document) in yaml_serde::Deserializer::from_str(text).enumerate() {
        let at = format!("{origin}: document {}", index + 1);
        let value = yaml_serde::Value::deserialize(document).map_err(|e| LoadError::Document {
            origin: at.clone(),
            message: format!("not valid YAML: {e}"),
        })?;
        let json = serde_json::to_value(&value).map_err(|e| LoadError::Document {
            origin: at.clone(),
            message: format!("cannot be read as a Kubernetes object: {e}"),
        })?;
        load_value(json, &at, default_namespace, inputs)?;
    }
    Ok(())
}

fn load_value(
    value: Value,
    at: &str,
    default_namespace: &str,
    inputs: &mut Inputs,
) -> Result<(), LoadError> {
    if value.is_null() {
        return Ok(());
    }
    let bad = |message: String| LoadError::Document {
        origin: at.to_string(),
        message,
    };
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = value.get("kind").and_then(Value::as_str).unwrap_or("");
    let group = api_version.split_once('/').map_or("", |(g, _)| g);
    match (api_version, kind) {
        ("v1", "List") => {
            let items = value
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for (i, item) in items.into_iter().enumerate() {
                load_value(
                    item,
                    &format!("{at}, item {}", i + 1),
                    default_namespace,
                    inputs,
                )?;
            }
        }
        (API_VERSION, "Tenant") => {
            let mut tenant: Tenant = serde_json::from_value(value.clone())
                .map_err(|e| bad(format!("not a valid Tenant: {e}")))?;
            if tenant
                .metadata
                .namespace
                .as_deref()
                .is_none_or(str::is_empty)
            {
                tenant.metadata.namespace = Some(default_namespace.to_string());
            }
            let who = format!(
                "Tenant {}/{}",
                tenant.metadata.namespace.as_deref().unwrap_or_default(),
                tenant.metadata.name.as_deref().unwrap_or("(no name)")
            );
            if let (Some(given), Ok(kept)) = (value.get("spec"), serde_json::to_value(&tenant.spec))
            {
                let mut ignored = Vec::new();
                dropped_fields(given, &kept, "spec", &mut ignored);
                inputs.warnings.extend(ignored.into_iter().map(|field| {
                    format!("{who}: `{field}` is not a field of a Cairn Tenant and is ignored")
                }));
            }
            inputs.tenants.push(tenant);
        }
        (_, "Tenant") if group == GROUP => {
            return Err(bad(format!(
                "{api_version} is not a version of the Tenant this operator knows; use {API_VERSION}"
            )));
        }
        (_, "Tenant") if group == "minio.min.io" => {
            return Err(bad(format!(
                "this is a MinIO Tenant ({api_version}); to run it on Cairn change its apiVersion to \
                 {API_VERSION} (the spec fields keep their meaning)"
            )));
        }
        ("v1", "Secret") => {
            let mut secret: Secret = serde_json::from_value(value)
                .map_err(|e| bad(format!("not a valid Secret: {e}")))?;
            if secret
                .metadata
                .namespace
                .as_deref()
                .is_none_or(str::is_empty)
            {
                secret.metadata.namespace = Some(default_namespace.to_string());
            }
            inputs.secrets.push(secret);
        }
        _ => {}
    }
    Ok(())
}

/// Paths of the fields in `given` that do not survive a round trip through the Rust types
/// (`kept`): the ones a Cairn Tenant does not have. Null values are not reported.
fn dropped_fields(given: &Value, kept: &Value, path: &str, out: &mut Vec<String>) {
    match (given, kept) {
        (Value::Object(given), Value::Object(kept)) => {
            for (key, value) in given {
                let child = format!("{path}.{key}");
                match kept.get(key) {
                    None if !value.is_null() => out.push(child),
                    None => {}
                    Some(kept_value) => dropped_fields(value, kept_value, &child, out),
                }
            }
        }
        (Value::Array(given), Value::Array(kept)) => {
            for (i, (g, k)) in given.iter().zip(kept).enumerate() {
                dropped_fields(g, k, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = r#"
apiVersion: cairn.dev/v1alpha1
kind: Tenant
metadata: {name: t}
spec:
  configuration: {name: t-env}
  kes: {image: x}
  pools:
    - name: p
      servers: 4
      volumesPerServer: 1
      sideCars: {}
      volumeClaimTemplate:
        spec: {resources: {requests: {storage: 1Gi}}}
"#;

    #[test]
    fn reads_documents_lists_and_defaults_the_namespace() {
        let text = format!(
            "{TENANT}\n---\n# only a comment\n---\napiVersion: v1\nkind: List\nitems:\n- \
             {{apiVersion: v1, kind: Secret, metadata: {{name: s, namespace: other}}, stringData: {{a: b}}}}\n\
             ---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: x}}\n"
        );
        let mut inputs = Inputs::default();
        load_str(&text, "x.yaml", "dflt", &mut inputs).unwrap();
        assert_eq!(inputs.tenants.len(), 1);
        assert_eq!(
            inputs.tenants[0].metadata.namespace.as_deref(),
            Some("dflt")
        );
        assert_eq!(inputs.secrets.len(), 1);
        assert_eq!(
            inputs.secrets[0].metadata.namespace.as_deref(),
            Some("other")
        );
        assert_eq!(
            inputs.warnings,
            vec![
                "Tenant dflt/t: `spec.kes` is not a field of a Cairn Tenant and is ignored",
                "Tenant dflt/t: `spec.pools[0].sideCars` is not a field of a Cairn Tenant and is ignored",
            ]
        );
    }

    #[test]
    fn a_minio_tenant_gets_the_one_line_fix() {
        let text = TENANT.replace("cairn.dev/v1alpha1", "minio.min.io/v2");
        let err = load_str(&text, "m.yaml", "d", &mut Inputs::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("m.yaml: document 1: this is a MinIO Tenant (minio.min.io/v2); to run it on Cairn change its apiVersion to cairn.dev/v1alpha1"),
            "{err}"
        );
    }

    #[test]
    fn bad_documents_say_where() {
        let err = load_str("a: [1\n", "bad.yaml", "d", &mut Inputs::default()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("bad.yaml: document 1: not valid YAML"),
            "{err}"
        );
        let wrong = TENANT.replace("servers: 4", "servers: four");
        let err = load_str(&wrong, "w.yaml", "d", &mut Inputs::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("w.yaml: document 1: not a valid Tenant"),
            "{err}"
        );
    }
}
