//! The operator's tenant client and provisioning code against the pods of
//! `e2e/test_operator_pods.py`: ignored by `cargo test`; that test builds this binary and runs
//! it inside its application network namespace (where the Service and pod DNS names resolve)
//! with `--ignored --exact against_running_pods --nocapture` and:
//!
//! - `CAIRN_E2E_INPUT`: the files `cairn-operator render` was given (Tenant and Secrets);
//! - `CAIRN_E2E_CA_FILE`: the CA the render published (what the operator holds in memory);
//! - `CAIRN_E2E_PROVISION`: `1` to provision the Tenant's buckets and users.
//!
//! The endpoint, credentials and region come from `reconcile::tenant_endpoint`, as in the
//! controller. It prints one line `E2E-RESULT {json}` with what the operator would see: the
//! health, the admin info's drive counts and the provisioning report.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use cairn_operator::load;
use cairn_operator::provision;
use cairn_operator::reconcile::tenant_endpoint;
use cairn_operator::render::names::Names;
use cairn_operator::tenant::{HttpTenant, TenantApi};

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
    let (mut created, mut provisioned, mut failed, mut users) = (vec![], vec![], vec![], vec![]);
    if std::env::var("CAIRN_E2E_PROVISION").as_deref() == Ok("1") {
        let report = provision::provision(&api, &tenant.spec, &[]).await;
        created = report.created;
        provisioned = report.provisioned;
        failed = report
            .failed
            .iter()
            .map(|(b, e)| format!("{b}: {e}"))
            .collect();
        // This program provisions buckets only (users need the admin API's add-user, which
        // the server does not serve yet): the spec's users are reported as not provisioned,
        // under the key e2e/test_operator_pods.py reads.
        users = tenant
            .spec
            .users
            .iter()
            .flatten()
            .map(|u| u.name.clone())
            .collect();
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
        "users_not_supported": users,
        "buckets": buckets,
    });
    println!("E2E-RESULT {result}");
}
