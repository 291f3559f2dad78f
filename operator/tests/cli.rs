//! The `cairn-operator` binary as a person runs it: output, messages and exit codes.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::repo;

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cairn-operator"))
        .args(args)
        .current_dir(repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// `kind name` of every YAML document.
fn kinds(yaml: &str) -> Vec<String> {
    use serde::Deserialize;
    yaml_serde::Deserializer::from_str(yaml)
        .map(|d| serde_json::Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .map(|v| {
            format!(
                "{} {}",
                v["kind"].as_str().unwrap(),
                v["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn renders_the_matrix_example_directory() {
    let out = run(&["render", "-f", "manifests/examples/matrix/"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "");
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("# Tenant matrix/matrix-minio"),
        "{stdout}"
    );
    assert!(stdout.contains("#   pool pool-0: 4 servers x 2 volumes; 1 set x 8 drives, EC:4 (write quorum 5); minAvailable 3\n"));
    assert_eq!(
        kinds(&stdout),
        [
            "Secret matrix-minio-tls",
            "Secret matrix-minio-ca",
            "Secret matrix-minio-ca-key",
            "Secret matrix-minio-prometheus-token",
            "ConfigMap matrix-minio-ca",
            "Service matrix-minio-hl",
            "Service minio",
            "Service matrix-minio-console",
            "StatefulSet matrix-minio-pool-0",
            "PodDisruptionBudget matrix-minio-pool-0",
            "ServiceMonitor matrix-minio",
        ]
    );
}

#[test]
fn omit_tls_secrets_and_json_output() {
    let out = run(
        &[
            "render",
            "-f",
            "manifests/examples/matrix/tenant.yaml",
            "-f",
            "manifests/examples/matrix/secrets.yaml",
            "--omit-tls-secrets",
            "-o",
            "json",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    let kinds: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Service",
            "Service",
            "Service",
            "StatefulSet",
            "PodDisruptionBudget",
            "ServiceMonitor"
        ]
    );
}

#[test]
fn reads_standard_input_and_defaults_the_namespace() {
    let tenant =
        std::fs::read_to_string(repo().join("manifests/examples/matrix/tenant.yaml")).unwrap();
    let secrets =
        std::fs::read_to_string(repo().join("manifests/examples/matrix/secrets.yaml")).unwrap();
    let input = format!(
        "{}\n---\n{}",
        tenant.replace("namespace: matrix", ""),
        secrets.replace("namespace: matrix", "")
    );
    let out = run(
        &[
            "render",
            "-f",
            "-",
            "-n",
            "storage",
            "--no-service-monitor",
            "--omit-tls-secrets",
        ],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("https://matrix-minio-pool-0-{0...3}.matrix-minio-hl.storage.svc.cluster.local/export{0...1}"));
    assert!(!stdout.contains("ServiceMonitor"));
    assert!(text(&out.stderr).contains("warning: Tenant storage/matrix-minio: prometheusOperator is true but the ServiceMonitor CRD"));
}

#[test]
fn bad_input_exits_2_with_a_message() {
    let out = run(&["render", "-f", "does/not/exist.yaml"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("error: cannot read does/not/exist.yaml"),
        "{}",
        text(&out.stderr)
    );

    let out = run(
        &["render", "-f", "manifests/examples/matrix/tenant.yaml"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("Tenant matrix/matrix-minio is not valid:\n  - spec.configuration.name: Secret `matrix-minio-env` does not exist"),
        "{err}"
    );

    let out = run(
        &["render", "-f", "manifests/examples/matrix/secrets.yaml"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no Tenant found"),
        "{}",
        text(&out.stderr)
    );

    let minio = std::fs::read_to_string(repo().join("manifests/examples/matrix/tenant.yaml"))
        .unwrap()
        .replace("cairn.dev/v1alpha1", "minio.min.io/v2");
    let out = run(&["render", "-f", "-"], Some(&minio));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("change its apiVersion to cairn.dev/v1alpha1"),
        "{}",
        text(&out.stderr)
    );

    let out = run(&["render"], None);
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit 2 too");
}

#[test]
fn two_tenants_sharing_the_default_s3_service_name_conflict() {
    let tenant =
        std::fs::read_to_string(repo().join("manifests/examples/matrix/tenant.yaml")).unwrap();
    let second = tenant.replace("name: matrix-minio\n", "name: other-minio\n");
    let input = format!("{tenant}\n---\n{second}");
    let out = run(
        &[
            "render",
            "-f",
            "-",
            "-f",
            "manifests/examples/matrix/secrets.yaml",
        ],
        Some(&input),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "Service matrix/minio would be created by both Tenant matrix/matrix-minio and Tenant matrix/other-minio: give one of them another spec.s3ServiceName"
        ),
        "{}",
        text(&out.stderr)
    );
    let fixed = format!(
        "{tenant}\n---\n{}",
        second.replacen("\nspec:\n", "\nspec:\n  s3ServiceName: other-s3\n", 1)
    );
    let out = run(
        &[
            "render",
            "-f",
            "-",
            "-f",
            "manifests/examples/matrix/secrets.yaml",
        ],
        Some(&fixed),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

#[test]
fn crd_command_prints_the_crds_file() {
    let out = run(&["crd"], None);
    assert_eq!(out.status.code(), Some(0));
    let on_disk = std::fs::read_to_string(repo().join("crds/cairn.dev_tenants.yaml")).unwrap();
    assert_eq!(text(&out.stdout), on_disk);
}

#[test]
fn help_explains_the_commands() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "crd",
        "render",
        "Get started:",
        "cairn-operator render -f manifests/examples/matrix/",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
    let out = run(&["render", "--help"], None);
    let help = text(&out.stdout);
    for needle in [
        "--filename",
        "Exit status: 0",
        "--omit-tls-secrets",
        "--cluster-domain",
    ] {
        assert!(help.contains(needle), "{needle} in {help}");
    }
}

#[test]
fn the_rendered_prometheus_token_is_signed_with_the_root_credentials() {
    let out = run(
        &["render", "-f", "manifests/examples/matrix/", "-o", "json"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let items = list["items"].as_array().unwrap();
    let secret = items
        .iter()
        .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "matrix-minio-prometheus-token")
        .expect("token Secret rendered");
    let secret: k8s_openapi::api::core::v1::Secret =
        serde_json::from_value(secret.clone()).unwrap();
    let token = String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap();
    // The root credentials of manifests/examples/matrix/secrets.yaml.
    let claims = common::jwt_claims(&token, "CHANGE-ME-root-password").expect("signature verifies");
    assert_eq!(claims["sub"], "matrix-admin");
    assert_eq!(claims["iss"], "prometheus");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (now + 99 * 365 * 86400..=now + 100 * 365 * 86400 + 60).contains(&exp),
        "exp {exp}"
    );
    assert!(common::jwt_claims(&token, "CHANGE-ME-root-passwore").is_none());
    // The ServiceMonitor points at it.
    let monitor = items
        .iter()
        .find(|o| o["kind"] == "ServiceMonitor")
        .unwrap();
    assert_eq!(
        monitor["spec"]["endpoints"][0]["bearerTokenSecret"],
        serde_json::json!({"name": "matrix-minio-prometheus-token", "key": "token"})
    );
}
