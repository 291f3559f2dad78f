//! The generated CustomResourceDefinition: kept in `crds/`, shaped as documented, and its
//! CEL rules evaluated the way the API server evaluates them.

mod common;

use cairn_operator::crd;
use common::*;
use serde_json::{Value, json};

const REGENERATE: &str = "cargo run -p cairn-operator -- crd > crds/cairn.dev_tenants.yaml";

#[test]
fn crds_directory_holds_the_current_crd() {
    let path = repo().join("crds/cairn.dev_tenants.yaml");
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    let current = crd::crd_yaml().unwrap();
    assert!(
        on_disk == current,
        "{} is stale (the Tenant types changed): regenerate it with `{REGENERATE}` from the \
         repository root, and commit it",
        path.display()
    );
}

fn crd_json() -> Value {
    serde_json::to_value(crd::crd()).unwrap()
}

fn schema() -> Value {
    crd_json()["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

#[test]
fn crd_names_subresources_and_columns() {
    let c = crd_json();
    assert_eq!(c["metadata"]["name"], "tenants.cairn.dev");
    assert_eq!(c["spec"]["group"], "cairn.dev");
    assert_eq!(c["spec"]["scope"], "Namespaced");
    assert_eq!(c["spec"]["names"]["kind"], "Tenant");
    assert_eq!(c["spec"]["names"]["shortNames"], json!(["cten"]));
    let v = &c["spec"]["versions"][0];
    assert_eq!(v["name"], "v1alpha1");
    assert_eq!(v["served"], true);
    assert_eq!(v["storage"], true);
    assert_eq!(v["subresources"]["status"], json!({}));
    let columns: Vec<(&str, &str)> = v["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["jsonPath"].as_str().unwrap()))
        .collect();
    assert_eq!(
        columns,
        [
            ("State", ".status.currentState"),
            ("Health", ".status.healthStatus"),
            ("Drives online", ".status.drivesOnline"),
            ("Age", ".metadata.creationTimestamp"),
        ]
    );
}

#[test]
fn schema_defaults_and_list_semantics() {
    let spec = &schema()["properties"]["spec"]["properties"];
    assert_eq!(spec["requestAutoCert"]["default"], true);
    assert_eq!(spec["mountPath"]["default"], "/export");
    assert_eq!(spec["podManagementPolicy"]["default"], "Parallel");
    assert_eq!(spec["pools"]["x-kubernetes-list-type"], "map");
    assert_eq!(spec["pools"]["x-kubernetes-list-map-keys"], json!(["name"]));
    assert_eq!(spec["pools"]["minItems"], 1);
    // A claim template needs no metadata (k8s-openapi marks it required for stored claims).
    let template = &spec["pools"]["items"]["properties"]["volumeClaimTemplate"];
    assert!(template["properties"].get("metadata").is_some());
    assert!(template["properties"].get("status").is_none());
    assert!(
        !template
            .get("required")
            .is_some_and(|r| r.as_array().unwrap().contains(&json!("metadata")))
    );
    let status = &schema()["properties"]["status"]["properties"];
    for field in [
        "currentState",
        "healthStatus",
        "drivesOnline",
        "drivesOffline",
        "drivesHealing",
        "writeQuorum",
        "pools",
        "usage",
        "provisionedBuckets",
        "certificates",
        "conditions",
        "observedGeneration",
    ] {
        assert!(status.get(field).is_some(), "status.{field}");
    }
    // (kube adds `null` to the enum of an optional field.)
    let health: Vec<&Value> = status["healthStatus"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| !v.is_null())
        .collect();
    assert_eq!(health, [&json!("green"), &json!("yellow"), &json!("red")]);
}

/// The Matrix example as the API server would receive it.
fn matrix_json() -> Value {
    serde_json::to_value(matrix().0).unwrap()
}

fn messages(result: Result<(), kube_cel::ValidationErrors>) -> Vec<String> {
    match result {
        Ok(()) => Vec::new(),
        Err(e) => e.into_vec().into_iter().map(|e| e.message).collect(),
    }
}

#[test]
fn every_cel_rule_compiles_and_fits_the_cost_budget() {
    let compiled = kube_cel::compile_schema(&schema());
    assert!(
        !compiled.has_errors(),
        "{:?}",
        compiled.compilation_errors()
    );
    let text = serde_json::to_string(&schema()).unwrap();
    let rules = text.matches("x-kubernetes-validations").count();
    assert!(rules >= 3, "{rules} rule lists");
    // The spec-level rules iterate over pools: bounded by maxItems, so cheap.
    let spec_schema = kube_cel::compile_schema(&schema()["properties"]["spec"]);
    for rule in schema()["properties"]["spec"]["x-kubernetes-validations"]
        .as_array()
        .unwrap()
    {
        let warnings = kube_cel::estimate_rule_cost(rule["rule"].as_str().unwrap(), &spec_schema);
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}

#[test]
fn cel_rules_accept_the_matrix_example() {
    assert_eq!(
        messages(kube_cel::validate(&schema(), &matrix_json(), None)),
        Vec::<String>::new()
    );
    // An unchanged update passes the transition rules too.
    let m = matrix_json();
    assert_eq!(
        messages(kube_cel::validate(&schema(), &m, Some(&m))),
        Vec::<String>::new()
    );
}

#[test]
fn cel_rules_refuse_a_changed_pool_shape() {
    let old = matrix_json();
    let mut new = old.clone();
    new["spec"]["pools"][0]["servers"] = json!(6);
    new["spec"]["pools"][0]["volumesPerServer"] = json!(4);
    let m = messages(kube_cel::validate(&schema(), &new, Some(&old)));
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].starts_with("servers of an existing pool cannot change"),
        "{m:?}"
    );
    assert!(
        m[1].starts_with("volumesPerServer of an existing pool cannot change"),
        "{m:?}"
    );
    // Adding a pool is how a tenant grows, and is allowed.
    let mut grown = old.clone();
    let mut pool = old["spec"]["pools"][0].clone();
    pool["name"] = json!("pool-1");
    grown["spec"]["pools"].as_array_mut().unwrap().push(pool);
    assert_eq!(
        messages(kube_cel::validate(&schema(), &grown, Some(&old))),
        Vec::<String>::new()
    );
}

#[test]
fn cel_rules_refuse_small_distributed_pools_and_a_missing_configuration() {
    let mut small = matrix_json();
    small["spec"]["pools"][0]["servers"] = json!(3);
    small["spec"]["pools"][0]["volumesPerServer"] = json!(1);
    let m = messages(kube_cel::validate(&schema(), &small, None));
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("every pool needs at least 4 drives"), "{m:?}");

    let mut single = matrix_json();
    single["spec"]["pools"][0]["servers"] = json!(1);
    single["spec"]["pools"][0]["volumesPerServer"] = json!(1);
    assert_eq!(
        messages(kube_cel::validate(&schema(), &single, None)),
        Vec::<String>::new()
    );

    let mut unconfigured = matrix_json();
    unconfigured["spec"]
        .as_object_mut()
        .unwrap()
        .remove("configuration");
    let m = messages(kube_cel::validate(&schema(), &unconfigured, None));
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with("spec.configuration.name must name a Secret"),
        "{m:?}"
    );
}

#[test]
fn cel_rules_want_a_policy_document_inline_or_from_a_config_map_not_both() {
    let referenced = json!({"name": "media-rw",
        "configMapRef": {"name": "policies", "key": "media-rw.json"}});
    let mut tenant = matrix_json();
    tenant["spec"]["policies"][0] = referenced.clone();
    assert_eq!(
        messages(kube_cel::validate(&schema(), &tenant, None)),
        Vec::<String>::new()
    );
    let mut both = referenced.clone();
    both["document"] = json!("{\"Statement\": []}");
    let mut neither = referenced;
    neither.as_object_mut().unwrap().remove("configMapRef");
    for policy in [both, neither] {
        let mut tenant = matrix_json();
        tenant["spec"]["policies"][0] = policy.clone();
        let m = messages(kube_cel::validate(&schema(), &tenant, None));
        assert_eq!(m.len(), 1, "{policy}: {m:?}");
        assert!(
            m[0].starts_with(
                "give the policy document either inline (document) or as a ConfigMap key"
            ),
            "{m:?}"
        );
    }
}
