//! The operator's tenant client and provisioning code against the pods of
//! `e2e/test_operator_pods.py`: ignored by `cargo test`; that test builds this binary and runs
//! it inside its application network namespace (where the Service and pod DNS names resolve)
//! with `--ignored --exact against_running_pods --nocapture` and:
//!
//! - `CAIRN_E2E_INPUT`: the files `cairn-operator render` was given (Tenant and Secrets);
//! - `CAIRN_E2E_CA_FILE`: the CA the render published (what the operator holds in memory);
//! - `CAIRN_E2E_PROVISION`: `1` to provision the Tenant's buckets, policies and users.
//!
//! The endpoint, credentials and region come from `reconcile::tenant_endpoint`, as in the
//! controller. Buckets are provisioned by `provision::provision`; policies and users by the
//! controller's own reconcile (`reconcile::reconcile`) against the in-test Kubernetes API of
//! `common::fake_api` holding the inputs, with pods marked ready after its first pass, and its
//! tenant client trusting the CA of `CAIRN_E2E_CA_FILE` (the pods' CA, not the one the fake
//! reconcile generates). It prints one line `E2E-RESULT {json}` with what the operator would
//! see: the health, the admin info's drive counts, the bucket report, and per user Secret the
//! access key, policy and whether the reconcile provisioned it, with the `UsersProvisioned`
//! condition and the policies it applied.

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cairn_operator::crd::Tenant;
use cairn_operator::load;
use cairn_operator::provision;
use cairn_operator::reconcile::metrics::Metrics;
use cairn_operator::reconcile::{self, Context, TenantConnector, tenant_endpoint};
use cairn_operator::render::names::Names;
use cairn_operator::render::{Settings, secret_data};
use cairn_operator::tenant::{HttpTenant, TenantApi, TenantEndpoint, TenantError};
use common::fake_api::FakeApi;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{Value, json};

/// The controller's tenant client, trusting the pods' CA when one is given (the URL and
/// the root credentials are the reconciler's own).
struct PodsCa(Option<String>);

impl TenantConnector for PodsCa {
    fn connect(&self, mut endpoint: TenantEndpoint) -> Result<Arc<dyn TenantApi>, TenantError> {
        if let Some(ca) = &self.0 {
            endpoint.ca_pem = Some(ca.clone());
        }
        Ok(Arc::new(HttpTenant::new(endpoint)?))
    }
}

/// Runs the controller's reconcile on `tenant` and `secrets` held by the fake Kubernetes
/// API: a first pass applies the StatefulSets, their pods are then made Running and ready
/// (the real ones are), and a second pass probes the tenant and provisions buckets,
/// policies and users. Returns the Tenant as stored, with its status.
async fn reconcile_with_ready_pods(
    tenant: &Tenant,
    secrets: &[Secret],
    connector: Arc<dyn TenantConnector>,
) -> Tenant {
    let (api, client) = FakeApi::start();
    api.set_service_monitor_crd(true);
    let ns = tenant.metadata.namespace.clone().unwrap();
    let name = tenant.metadata.name.clone().unwrap();
    for s in secrets {
        let mut v = serde_json::to_value(s).unwrap();
        v["apiVersion"] = json!("v1");
        v["kind"] = json!("Secret");
        let path = format!(
            "/api/v1/namespaces/{}/secrets/{}",
            s.metadata.namespace.as_deref().unwrap_or(&ns),
            s.metadata.name.as_deref().unwrap()
        );
        api.insert(&path, v);
    }
    let tenant_path = format!("/apis/cairn.dev/v1alpha1/namespaces/{ns}/tenants/{name}");
    let mut t = serde_json::to_value(tenant).unwrap();
    t["metadata"]["generation"] = json!(1);
    api.insert(&tenant_path, t);
    let ctx = Arc::new(Context::with_connector(
        client,
        Settings::default(),
        Arc::new(Metrics::default()),
        connector,
    ));
    let stored = |api: &FakeApi| -> Tenant {
        serde_json::from_value(api.get(&tenant_path).unwrap()).unwrap()
    };
    reconcile::reconcile(Arc::new(stored(&api)), ctx.clone())
        .await
        .expect("first reconcile");
    for path in api.paths(&format!("/apis/apps/v1/namespaces/{ns}/statefulsets/")) {
        let sts = api.get(&path).unwrap();
        let sts_name = sts["metadata"]["name"].as_str().unwrap();
        let mut labels = sts["spec"]["template"]["metadata"]["labels"].clone();
        labels["controller-revision-hash"] = sts["status"]["updateRevision"].clone();
        for i in 0..sts["spec"]["replicas"].as_i64().unwrap() {
            let pod = format!("{sts_name}-{i}");
            api.insert(
                &format!("/api/v1/namespaces/{ns}/pods/{pod}"),
                json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod, "namespace": ns, "labels": labels},
                    "spec": {"containers": [{"name": "cairn",
                        "args": sts["spec"]["template"]["spec"]["containers"][0]["args"]}]},
                    "status": {"phase": "Running",
                               "conditions": [{"type": "Ready", "status": "True"}]}
                }),
            );
        }
    }
    reconcile::reconcile(Arc::new(stored(&api)), ctx.clone())
        .await
        .expect("second reconcile");
    stored(&api)
}

/// Per user Secret of the spec: its access key (from the Secret), policy, and whether the
/// reconcile provisioned it; then the `UsersProvisioned` condition and the applied policies.
fn users_view(tenant: &Tenant, secrets: &[Secret], stored: &Tenant) -> (Value, Value, Value) {
    let status = stored.status.clone().unwrap_or_default();
    let provisioned = status.provisioned_users.unwrap_or_default();
    let hashes = status.user_hashes.unwrap_or_default();
    let users: Vec<Value> = tenant
        .spec
        .users
        .iter()
        .flatten()
        .map(|u| {
            let access_key = secrets
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(u.name.as_str()))
                .map(secret_data)
                .and_then(|d| d.get("CONSOLE_ACCESS_KEY").cloned())
                .map(|v| String::from_utf8_lossy(&v).into_owned());
            json!({
                "secret": u.name,
                "access_key": access_key,
                "policy": u.policy_name(),
                "provisioned": provisioned.contains(&u.name) && hashes.contains_key(&u.name),
            })
        })
        .collect();
    let condition = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "UsersProvisioned")
        .map(|c| json!({"status": c.status, "reason": c.reason, "message": c.message}));
    let policies: Vec<&String> = status
        .policy_hashes
        .iter()
        .flatten()
        .map(|(k, _)| k)
        .collect();
    (json!(users), json!(condition), json!(policies))
}

#[tokio::test]
#[ignore = "run by e2e/test_operator_pods.py inside its application network namespace"]
async fn against_running_pods() {
    let input = PathBuf::from(std::env::var("CAIRN_E2E_INPUT").expect("CAIRN_E2E_INPUT"));
    let inputs = load::load_paths(&[input], false, "default").expect("load the inputs");
    let tenant = inputs.tenants.first().expect("a Tenant in the inputs");
    let names = Names {
        tenant: tenant.metadata.name.clone().unwrap(),
        namespace: tenant.metadata.namespace.clone().unwrap(),
        cluster_domain: "cluster.local".into(),
        s3_service: tenant.spec.s3_service_name().to_string(),
    };
    let mut endpoint = tenant_endpoint(tenant, &names, &inputs.secrets, None)
        .expect("an endpoint with root credentials from the configuration Secret");
    if let Ok(ca) = std::env::var("CAIRN_E2E_CA_FILE") {
        endpoint.ca_pem = Some(std::fs::read_to_string(ca).expect("read the CA"));
    }
    let url = endpoint.base_url.clone();
    let ca = endpoint.ca_pem.clone();
    let api = HttpTenant::new(endpoint).expect("client");

    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        match api.cluster_health().await {
            Ok(h) => break h,
            Err(e) if Instant::now() > deadline => panic!("{url}: no health answer: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
        }
    };
    let info = api.admin_info().await.expect("admin info");
    let (mut created, mut provisioned, mut failed) = (vec![], vec![], vec![]);
    let (mut users, mut users_condition, mut policies) = (json!([]), Value::Null, json!([]));
    if std::env::var("CAIRN_E2E_PROVISION").as_deref() == Ok("1") {
        let report = provision::provision(&api, &tenant.spec, &[]).await;
        created = report.created;
        provisioned = report.provisioned;
        failed = report
            .failed
            .iter()
            .map(|(b, e)| format!("{b}: {e}"))
            .collect();
        let connector = Arc::new(PodsCa(ca));
        let stored = reconcile_with_ready_pods(tenant, &inputs.secrets, connector).await;
        (users, users_condition, policies) = users_view(tenant, &inputs.secrets, &stored);
    }
    let mut buckets = api.list_buckets().await.expect("list buckets");
    buckets.sort();
    let result = serde_json::json!({
        "url": url,
        "write_ok": health.write_ok,
        "read_ok": health.read_ok,
        "write_quorum": health.write_quorum,
        "drives_online": info.as_ref().map(|i| i.drives_online),
        "drives_offline": info.as_ref().map(|i| i.drives_offline),
        "created": created,
        "provisioned": provisioned,
        "failed": failed,
        "users": users,
        "users_condition": users_condition,
        "policies": policies,
        "buckets": buckets,
    });
    println!("E2E-RESULT {result}");
}
