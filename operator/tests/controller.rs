//! Controller tests against a mocked API server at the HTTP level (`common::fake_api`):
//! the real reconcile function with a real `kube::Client`, every request it sends checked
//! (method, path, field manager, content type, owner references, bodies), and a fake
//! tenant behind the `TenantApi` trait for the health and S3 calls.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cairn_operator::crd::Tenant;
use cairn_operator::reconcile::metrics::Metrics;
use cairn_operator::reconcile::{self, Context, TenantConnector, leader};
use cairn_operator::render::Settings;
use cairn_operator::tenant::{
    AdminInfo, BucketOutcome, ClusterHealth, TenantApi, TenantEndpoint, TenantError,
};
use common::fake_api::{FakeApi, Recorded};
use futures::future::BoxFuture;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::runtime::controller::Action;
use serde_json::{Value, json};

// ---- a fake tenant ----------------------------------------------------------------------

#[derive(Default)]
struct TenantState {
    write_ok: bool,
    unreachable: bool,
    admin: Option<AdminInfo>,
    buckets: BTreeSet<String>,
    /// Users created: access key to secret key.
    users: std::collections::BTreeMap<String, String>,
    /// Policies created: name to document.
    policies: std::collections::BTreeMap<String, String>,
    /// add-user fails with 500.
    admin_error: bool,
    /// remove-user and remove-canned-policy fail with 500.
    remove_error: bool,
    calls: Vec<String>,
}

#[derive(Clone, Default)]
struct FakeTenant(Arc<Mutex<TenantState>>);

impl FakeTenant {
    fn state(&self) -> std::sync::MutexGuard<'_, TenantState> {
        self.0.lock().unwrap()
    }
    fn take_calls(&self) -> Vec<String> {
        std::mem::take(&mut self.state().calls)
    }
}

impl TenantApi for FakeTenant {
    fn cluster_health(&self) -> BoxFuture<'_, Result<ClusterHealth, TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls.push("health".into());
            if s.unreachable {
                return Err(TenantError::Unreachable {
                    url: "https://minio".into(),
                    message: "connection refused".into(),
                });
            }
            Ok(ClusterHealth {
                write_ok: s.write_ok,
                read_ok: s.write_ok,
                write_quorum: Some(5),
            })
        })
    }
    fn admin_info(&self) -> BoxFuture<'_, Result<Option<AdminInfo>, TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls.push("admin".into());
            Ok(s.admin.clone())
        })
    }
    fn create_bucket<'a>(
        &'a self,
        name: &'a str,
        _region: Option<&'a str>,
        object_lock: bool,
    ) -> BoxFuture<'a, Result<BucketOutcome, TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            let lock = if object_lock { " with object lock" } else { "" };
            s.calls.push(format!("create {name}{lock}"));
            if s.buckets.insert(name.to_string()) {
                Ok(BucketOutcome::Created)
            } else {
                Ok(BucketOutcome::AlreadyOwned)
            }
        })
    }
    fn list_buckets(&self) -> BoxFuture<'_, Result<Vec<String>, TenantError>> {
        Box::pin(async move { Ok(self.state().buckets.iter().cloned().collect()) })
    }
    fn add_canned_policy<'a>(
        &'a self,
        name: &'a str,
        document: &'a [u8],
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls.push(format!("add-canned-policy {name}"));
            serde_json::from_slice::<Value>(document).map_err(|e| TenantError::Status {
                what: format!("policy {name}"),
                status: 400,
                body: e.to_string(),
            })?;
            s.policies.insert(
                name.to_string(),
                String::from_utf8_lossy(document).into_owned(),
            );
            Ok(())
        })
    }
    fn add_user<'a>(
        &'a self,
        access_key: &'a str,
        secret_key: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls.push(format!("add-user {access_key}"));
            if s.admin_error {
                return Err(TenantError::Status {
                    what: format!("PUT /minio/admin/v3/add-user (user {access_key})"),
                    status: 500,
                    body: "XMinioAdminError".into(),
                });
            }
            s.users
                .insert(access_key.to_string(), secret_key.to_string());
            Ok(())
        })
    }
    fn set_user_policy<'a>(
        &'a self,
        access_key: &'a str,
        policy: &'a str,
    ) -> BoxFuture<'a, Result<(), TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls
                .push(format!("set-user-policy {access_key} {policy}"));
            Ok(())
        })
    }
    fn remove_user<'a>(&'a self, access_key: &'a str) -> BoxFuture<'a, Result<bool, TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls.push(format!("remove-user {access_key}"));
            if s.remove_error {
                return Err(TenantError::Status {
                    what: format!("DELETE /minio/admin/v3/remove-user (user {access_key})"),
                    status: 500,
                    body: "XMinioAdminError".into(),
                });
            }
            Ok(s.users.remove(access_key).is_some())
        })
    }
    fn remove_canned_policy<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<bool, TenantError>> {
        Box::pin(async move {
            let mut s = self.state();
            s.calls.push(format!("remove-canned-policy {name}"));
            if s.remove_error {
                return Err(TenantError::Status {
                    what: format!("DELETE /minio/admin/v3/remove-canned-policy (policy {name})"),
                    status: 500,
                    body: "XMinioAdminError".into(),
                });
            }
            Ok(s.policies.remove(name).is_some())
        })
    }
}

struct Connector {
    tenant: FakeTenant,
    endpoints: Mutex<Vec<TenantEndpoint>>,
}

impl TenantConnector for Connector {
    fn connect(&self, endpoint: TenantEndpoint) -> Result<Arc<dyn TenantApi>, TenantError> {
        self.endpoints.lock().unwrap().push(endpoint);
        Ok(Arc::new(self.tenant.clone()))
    }
}

// ---- harness ------------------------------------------------------------------------------

struct Harness {
    api: FakeApi,
    ctx: Arc<Context>,
    tenant: FakeTenant,
    connector: Arc<Connector>,
    ns: String,
    name: String,
}

const MATRIX: &str = "matrix-minio";

fn secret_json(secret: &k8s_openapi::api::core::v1::Secret) -> Value {
    let mut v = serde_json::to_value(secret).unwrap();
    v["apiVersion"] = json!("v1");
    v["kind"] = json!("Secret");
    v
}

impl Harness {
    /// The fake API server holding the Tenant and its Secrets.
    fn new(tenant: &Tenant, secrets: &[k8s_openapi::api::core::v1::Secret]) -> Harness {
        let (api, client) = FakeApi::start();
        api.set_service_monitor_crd(true);
        let ns = tenant.metadata.namespace.clone().unwrap();
        let name = tenant.metadata.name.clone().unwrap();
        for s in secrets {
            let path = format!(
                "/api/v1/namespaces/{}/secrets/{}",
                s.metadata.namespace.as_deref().unwrap(),
                s.metadata.name.as_deref().unwrap()
            );
            api.insert(&path, secret_json(s));
        }
        let mut t = serde_json::to_value(tenant).unwrap();
        t["metadata"]["generation"] = json!(1);
        api.insert(
            &format!("/apis/cairn.dev/v1alpha1/namespaces/{ns}/tenants/{name}"),
            t,
        );
        let fake_tenant = FakeTenant::default();
        let connector = Arc::new(Connector {
            tenant: fake_tenant.clone(),
            endpoints: Mutex::new(Vec::new()),
        });
        let ctx = Arc::new(Context::with_connector(
            client,
            Settings::default(),
            Arc::new(Metrics::default()),
            connector.clone(),
        ));
        Harness {
            api,
            ctx,
            tenant: fake_tenant,
            connector,
            ns,
            name,
        }
    }

    fn matrix() -> Harness {
        let (tenant, secrets) = common::matrix();
        Harness::new(&tenant, &secrets)
    }

    fn tenant_path(&self) -> String {
        format!(
            "/apis/cairn.dev/v1alpha1/namespaces/{}/tenants/{}",
            self.ns, self.name
        )
    }

    /// The Tenant as stored (with status).
    fn stored(&self) -> Tenant {
        serde_json::from_value(self.api.get(&self.tenant_path()).unwrap()).unwrap()
    }

    /// Edits the stored Tenant's spec (bumping its generation).
    fn edit(&self, f: impl FnOnce(&mut Value)) {
        let mut v = self.api.get(&self.tenant_path()).unwrap();
        f(&mut v["spec"]);
        let g = v["metadata"]["generation"].as_i64().unwrap();
        v["metadata"]["generation"] = json!(g + 1);
        self.api.insert(&self.tenant_path(), v);
    }

    async fn reconcile(&self) -> Result<Action, reconcile::Error> {
        reconcile::reconcile(Arc::new(self.stored()), self.ctx.clone()).await
    }

    /// Adds another Tenant beside the harness's own; returns its path.
    fn insert_tenant(&self, tenant: &Tenant) -> String {
        let ns = tenant.metadata.namespace.clone().unwrap();
        let name = tenant.metadata.name.clone().unwrap();
        let path = format!("/apis/cairn.dev/v1alpha1/namespaces/{ns}/tenants/{name}");
        let mut t = serde_json::to_value(tenant).unwrap();
        t["metadata"]["generation"] = json!(1);
        self.api.insert(&path, t);
        path
    }

    fn p(&self, rest: &str) -> String {
        if let Some(group_path) = rest.strip_prefix("apps:") {
            format!("/apis/apps/v1/namespaces/{}/{group_path}", self.ns)
        } else if let Some(r) = rest.strip_prefix("policy:") {
            format!("/apis/policy/v1/namespaces/{}/{r}", self.ns)
        } else if let Some(r) = rest.strip_prefix("events") {
            format!("/apis/events.k8s.io/v1/namespaces/{}/events{r}", self.ns)
        } else if let Some(r) = rest.strip_prefix("monitoring:") {
            format!("/apis/monitoring.coreos.com/v1/namespaces/{}/{r}", self.ns)
        } else if let Some(r) = rest.strip_prefix("tenant") {
            format!("{}{r}", self.tenant_path())
        } else {
            format!("/api/v1/namespaces/{}/{rest}", self.ns)
        }
    }

    fn sts(&self, pool: &str) -> Value {
        self.api
            .get(&self.p(&format!("apps:statefulsets/{}-{pool}", self.name)))
            .unwrap()
    }

    /// Creates the pods of `pool` as the StatefulSet controller would from its current
    /// template: revision label, arguments, Running, ready or not.
    fn add_pods(&self, pool: &str, ready: bool) {
        let sts = self.sts(pool);
        let revision = sts["status"]["updateRevision"].clone();
        let args = sts["spec"]["template"]["spec"]["containers"][0]["args"].clone();
        let replicas = sts["spec"]["replicas"].as_i64().unwrap();
        for i in 0..replicas {
            self.add_pod(pool, i, revision.clone(), args.clone(), ready);
        }
    }

    fn add_pod(&self, pool: &str, i: i64, revision: Value, args: Value, ready: bool) {
        let name = format!("{}-{pool}-{i}", self.name);
        self.api.insert(
            &self.p(&format!("pods/{name}")),
            json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": self.ns, "labels": {
                    "cairn.dev/tenant": self.name, "cairn.dev/pool": pool,
                    "controller-revision-hash": revision}},
                "spec": {"containers": [{"name": "cairn", "args": args}]},
                "status": {"phase": "Running", "conditions": [
                    {"type": "Ready", "status": if ready { "True" } else { "False" }}]}
            }),
        );
    }
}

/// Paths of the DELETE requests, in order.
fn delete_paths(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path.clone())
        .collect()
}

fn lines(requests: &[Recorded]) -> Vec<String> {
    requests.iter().map(Recorded::line).collect()
}

fn condition<'a>(
    tenant: &'a Tenant,
    type_: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    tenant
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == type_))
        .unwrap_or_else(|| panic!("no {type_} condition in {:?}", tenant.status))
}

fn event_reasons(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
        .map(|r| {
            r.body.as_ref().unwrap()["reason"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Every apply: forced, field manager cairn-operator, and (but for the status) owned by
/// the Tenant as its controller.
fn check_applies(requests: &[Recorded], tenant_uid: &str) {
    for r in requests
        .iter()
        .filter(|r| r.method == "PATCH" && !r.path.ends_with("/tenants"))
    {
        if !r.is_apply() {
            continue;
        }
        assert_eq!(
            r.param("fieldManager").as_deref(),
            Some("cairn-operator"),
            "{}",
            r.line()
        );
        assert_eq!(r.param("force").as_deref(), Some("true"), "{}", r.line());
        let body = r.body.as_ref().unwrap();
        if r.path.ends_with("/status") {
            assert_eq!(body["apiVersion"], "cairn.dev/v1alpha1");
            assert_eq!(body["kind"], "Tenant");
            continue;
        }
        let owners = body["metadata"]["ownerReferences"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no owner", r.line()));
        assert_eq!(owners.len(), 1, "{}", r.line());
        assert_eq!(owners[0]["kind"], "Tenant");
        assert_eq!(owners[0]["apiVersion"], "cairn.dev/v1alpha1");
        assert_eq!(owners[0]["uid"], tenant_uid, "{}", r.line());
        assert_eq!(owners[0]["controller"], true);
        assert_eq!(
            body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "cairn-operator",
            "{}",
            r.line()
        );
        assert!(
            r.path.ends_with(body["metadata"]["name"].as_str().unwrap()),
            "{}",
            r.line()
        );
    }
}

// ---- tests --------------------------------------------------------------------------------

#[tokio::test]
async fn create_applies_every_object_then_waits_for_the_servers() {
    let h = Harness::matrix();
    let uid = h.stored().metadata.uid.unwrap();
    let action = h.reconcile().await.unwrap();
    assert_eq!(action, Action::requeue(reconcile::BUSY_INTERVAL));
    let requests = h.api.take_requests();
    assert_eq!(
        lines(&requests),
        vec![
            format!("GET {}", h.p("secrets/matrix-minio-env")),
            format!("GET {}", h.p("apps:statefulsets")),
            "GET /apis/monitoring.coreos.com/v1".to_string(),
            format!("GET {}", h.p("secrets/matrix-minio-ca-key")),
            format!("GET {}", h.p("secrets/matrix-minio-tls")),
            // The stored Prometheus token, kept while the root credentials are the same.
            format!("GET {}", h.p("secrets/matrix-minio-prometheus-token")),
            // Each object is looked up before it is applied: nothing of another owner's
            // is taken over.
            format!("GET {}", h.p("secrets/matrix-minio-tls")),
            format!("GET {}", h.p("secrets/matrix-minio-ca")),
            format!("GET {}", h.p("secrets/matrix-minio-ca-key")),
            format!("GET {}", h.p("secrets/matrix-minio-prometheus-token")),
            format!("GET {}", h.p("configmaps/matrix-minio-ca")),
            format!("GET {}", h.p("services/matrix-minio-hl")),
            format!("GET {}", h.p("services/minio")),
            format!("GET {}", h.p("services/matrix-minio-console")),
            format!("GET {}", h.p("apps:statefulsets/matrix-minio-pool-0")),
            format!(
                "GET {}",
                h.p("policy:poddisruptionbudgets/matrix-minio-pool-0")
            ),
            format!("GET {}", h.p("monitoring:servicemonitors/matrix-minio")),
            format!("PATCH {}", h.p("secrets/matrix-minio-tls")),
            format!("PATCH {}", h.p("secrets/matrix-minio-ca")),
            format!("PATCH {}", h.p("secrets/matrix-minio-ca-key")),
            format!("PATCH {}", h.p("secrets/matrix-minio-prometheus-token")),
            format!("POST {}", h.p("events")),
            format!("PATCH {}", h.p("configmaps/matrix-minio-ca")),
            format!("PATCH {}", h.p("services/matrix-minio-hl")),
            format!("PATCH {}", h.p("services/minio")),
            format!("PATCH {}", h.p("services/matrix-minio-console")),
            format!("POST {}", h.p("events")),
            format!("PATCH {}", h.p("apps:statefulsets/matrix-minio-pool-0")),
            format!(
                "PATCH {}",
                h.p("policy:poddisruptionbudgets/matrix-minio-pool-0")
            ),
            format!("PATCH {}", h.p("monitoring:servicemonitors/matrix-minio")),
            format!("GET {}", h.p("pods")),
            format!("POST {}", h.p("events")),
            format!("PATCH {}", h.p("tenant/status")),
        ]
    );
    // Lists are selected by the tenant's label.
    assert_eq!(
        requests[1].param("labelSelector").as_deref(),
        Some("cairn.dev%2Ftenant%3Dmatrix-minio")
    );
    check_applies(&requests, &uid);
    assert_eq!(
        event_reasons(&requests),
        vec!["CertificateIssued", "PoolCreated", "HealthChanged"]
    );
    // Events are about the Tenant.
    let first_event = requests.iter().position(|r| r.method == "POST").unwrap();
    let event = requests[first_event].body.as_ref().unwrap();
    assert_eq!(event["regarding"]["kind"], "Tenant");
    assert_eq!(event["regarding"]["name"], MATRIX);
    assert_eq!(event["reportingController"], "cairn-operator");

    // The StatefulSet: OnDelete (the operator rolls), the matrix endpoint, no credentials.
    let sts = requests
        .iter()
        .find(|r| r.is_apply() && r.path.contains("/statefulsets/"))
        .unwrap()
        .body
        .as_ref()
        .unwrap();
    assert_eq!(sts["spec"]["updateStrategy"]["type"], "OnDelete");
    let args = sts["spec"]["template"]["spec"]["containers"][0]["args"].to_string();
    assert!(args.contains(
        "https://matrix-minio-pool-0-{0...3}.matrix-minio-hl.matrix.svc.cluster.local/export{0...1}"
    ));
    assert!(!sts.to_string().contains("CHANGE-ME"));
    // The generated CA and certificate are real PEM.
    let tls = requests
        .iter()
        .find(|r| r.is_apply() && r.path.ends_with("/secrets/matrix-minio-tls"))
        .unwrap()
        .body
        .as_ref()
        .unwrap();
    assert_eq!(tls["type"], "kubernetes.io/tls");
    assert!(tls["data"]["tls.crt"].as_str().unwrap().len() > 100);

    // Status: no server yet.
    let t = h.stored();
    let status = t.status.as_ref().unwrap();
    assert_eq!(
        status.current_state.as_deref(),
        Some("Provisioning StatefulSets")
    );
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(status.drives_online, Some(0));
    assert_eq!(status.drives_offline, Some(8));
    assert_eq!(status.write_quorum, Some(5));
    assert_eq!(condition(&t, "Ready").status, "False");
    assert_eq!(condition(&t, "Progressing").reason, "ServersStarting");
    assert_eq!(condition(&t, "Monitoring").status, "True");
    assert_eq!(condition(&t, "UsersProvisioned").status, "False");
    assert_eq!(condition(&t, "UsersProvisioned").reason, "WaitingForHealth");
    // No user Secret is read before the tenant has write quorum.
    assert!(
        !requests
            .iter()
            .any(|r| r.path.ends_with("/secrets/matrix-minio-synapse-user"))
    );
    assert!(status.certificates.as_ref().unwrap().expiry.is_some());
    // No server ready: the tenant was not called.
    assert!(h.tenant.take_calls().is_empty());
}

/// `buckets[].objectLock: true` is passed on to the tenant: the bucket is created with
/// object lock (the HTTP client sends `x-amz-bucket-object-lock-enabled: true`).
#[tokio::test]
async fn object_lock_buckets_are_created_with_object_lock() {
    let (mut tenant, secrets) = common::matrix();
    if let Some(b) = tenant.spec.buckets.as_mut().and_then(|b| b.get_mut(2)) {
        b.object_lock = Some(true);
    }
    let h = Harness::new(&tenant, &secrets);
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.reconcile().await.unwrap();
    let calls = h.tenant.take_calls();
    let creates: Vec<&str> = calls
        .iter()
        .map(String::as_str)
        .filter(|c| c.starts_with("create "))
        .collect();
    assert_eq!(
        creates,
        vec![
            "create synapse-media",
            "create synapse-media-li",
            "create postgresql-backups with object lock",
        ]
    );
}

#[tokio::test]
async fn healthy_tenant_gets_its_buckets_and_a_second_pass_changes_nothing() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.api.take_requests();

    let action = h.reconcile().await.unwrap();
    assert_eq!(action, Action::requeue(reconcile::HEALTH_INTERVAL));
    let first = h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        vec![
            "health",
            "admin",
            "create synapse-media",
            "create synapse-media-li",
            "create postgresql-backups",
            "add-canned-policy synapse-media-readwrite",
            "add-canned-policy postgresql-backups-readwrite",
            "add-user synapse",
            "set-user-policy synapse synapse-media-readwrite",
            "add-user cloudnative-pg",
            "set-user-policy cloudnative-pg postgresql-backups-readwrite",
        ]
    );
    assert_eq!(
        event_reasons(&first),
        vec![
            "BucketsCreated",
            "PoliciesApplied",
            "UsersApplied",
            "HealthChanged"
        ]
    );
    let created = first
        .iter()
        .find(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| b["reason"] == "BucketsCreated")
        })
        .unwrap();
    assert_eq!(
        created.body.as_ref().unwrap()["note"],
        "created bucket(s) synapse-media, synapse-media-li, postgresql-backups"
    );
    // The operator reaches the tenant through the S3 Service, trusting the tenant CA,
    // with the root credentials of config.env.
    let endpoint = h
        .connector
        .endpoints
        .lock()
        .unwrap()
        .last()
        .cloned()
        .unwrap();
    assert_eq!(
        endpoint.base_url,
        "https://minio.matrix.svc.cluster.local:9000"
    );
    assert_eq!(endpoint.credentials.access_key, "matrix-admin");
    let ca = h.api.get(&h.p("configmaps/matrix-minio-ca")).unwrap();
    assert_eq!(endpoint.ca_pem.as_deref(), ca["data"]["ca.crt"].as_str());

    let t = h.stored();
    let status = t.status.as_ref().unwrap();
    assert_eq!(
        status.health_status,
        Some(cairn_operator::crd::HealthStatus::Green)
    );
    assert_eq!(status.current_state.as_deref(), Some("Initialized"));
    assert_eq!(status.drives_online, Some(8));
    assert_eq!(
        status.provisioned_buckets.as_deref(),
        Some(
            &[
                "synapse-media".to_string(),
                "synapse-media-li".into(),
                "postgresql-backups".into()
            ][..]
        )
    );
    assert_eq!(condition(&t, "Ready").status, "True");
    assert_eq!(condition(&t, "Ready").reason, "TenantHealthy");
    assert_eq!(condition(&t, "Progressing").status, "False");
    assert_eq!(condition(&t, "Degraded").status, "False");
    assert_eq!(condition(&t, "BucketsProvisioned").status, "True");
    assert_eq!(condition(&t, "UsersProvisioned").status, "True");
    let ready_since = condition(&t, "Ready").last_transition_time.clone();

    // Again: the same applies, no event, no bucket call, no pod deleted, status unchanged.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.reconcile().await.unwrap();
    let second = h.api.take_requests();
    assert!(
        event_reasons(&second).is_empty(),
        "{:?}",
        event_reasons(&second)
    );
    assert!(
        !second
            .iter()
            .any(|r| r.method == "DELETE" || r.method == "POST")
    );
    // Unchanged Secrets: read again, but nothing is sent to the admin API.
    assert_eq!(h.tenant.take_calls(), vec!["health", "admin"]);
    let applied = |rs: &[Recorded]| -> Vec<(String, Value)> {
        rs.iter()
            .filter(|r| r.is_apply() && !r.path.ends_with("/status"))
            .map(|r| (r.path.clone(), r.body.clone().unwrap()))
            .collect()
    };
    assert_eq!(
        applied(&first),
        applied(&second),
        "the second pass applied something else"
    );
    let t2 = h.stored();
    assert_eq!(condition(&t2, "Ready").last_transition_time, ready_since);
    assert_eq!(
        t2.status.as_ref().unwrap().certificates,
        status.certificates
    );
}

/// The requests of a reconcile of a healthy tenant, from the first user Secret read on.
fn user_secret_reads(requests: &[Recorded]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| {
            r.method == "GET"
                && r.path.contains("/secrets/matrix-minio-")
                && r.path.ends_with("-user")
        })
        .map(Recorded::line)
        .collect()
}

#[tokio::test]
async fn users_are_created_with_their_policies_and_updated_when_their_secret_changes() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.api.take_requests();
    h.tenant.take_calls();

    // The CloudNativePG Secret is missing: the Synapse user is still created.
    let cnpg = h.p("secrets/matrix-minio-cnpg-user");
    let cnpg_secret = h.api.get(&cnpg).unwrap();
    h.api.remove(&cnpg);
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert_eq!(
        user_secret_reads(&requests),
        vec![
            format!("GET {}", h.p("secrets/matrix-minio-synapse-user")),
            format!("GET {cnpg}"),
        ]
    );
    let calls = h.tenant.take_calls();
    assert_eq!(
        calls[calls.len() - 4..],
        [
            "add-canned-policy synapse-media-readwrite",
            "add-canned-policy postgresql-backups-readwrite",
            "add-user synapse",
            "set-user-policy synapse synapse-media-readwrite",
        ]
    );
    assert_eq!(
        h.tenant.state().users.get("synapse").map(String::as_str),
        Some("CHANGE-ME-synapse-secret-key")
    );
    // The status patch says which user is missing, and why; no secret in it.
    let status_patch = requests
        .iter()
        .rfind(|r| r.is_apply() && r.path == h.p("tenant/status"))
        .unwrap();
    let body = status_patch.body.as_ref().unwrap().to_string();
    assert!(
        !body.contains("CHANGE-ME"),
        "a secret leaked into the status"
    );
    let t = h.stored();
    let users = condition(&t, "UsersProvisioned");
    assert_eq!(
        (users.status.as_str(), users.reason.as_str()),
        ("False", "SecretMissing")
    );
    assert_eq!(
        users.message,
        "user Secret matrix-minio-cnpg-user does not exist"
    );
    let status = t.status.as_ref().unwrap();
    assert_eq!(
        status.provisioned_users.as_deref(),
        Some(&["matrix-minio-synapse-user".to_string()][..])
    );
    let hashes = status.user_hashes.clone().unwrap();
    assert_eq!(hashes.len(), 1);
    assert_eq!(hashes["matrix-minio-synapse-user"].len(), 16);
    assert!(event_reasons(&requests).contains(&"UserProvisioningFailed".to_string()));

    // The Secret appears without CONSOLE_SECRET_KEY: KeysMissing.
    let mut partial = cnpg_secret.clone();
    partial["stringData"]
        .as_object_mut()
        .unwrap()
        .remove("CONSOLE_SECRET_KEY");
    h.api.insert(&cnpg, partial);
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(h.tenant.take_calls(), vec!["health", "admin"]);
    let users = condition(&h.stored(), "UsersProvisioned").clone();
    assert_eq!(users.reason, "KeysMissing");
    assert!(
        users.message.contains("CONSOLE_SECRET_KEY"),
        "{}",
        users.message
    );

    // Complete: only the new user is sent; the condition turns true.
    h.api.insert(&cnpg, cnpg_secret.clone());
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        vec![
            "health",
            "admin",
            "add-user cloudnative-pg",
            "set-user-policy cloudnative-pg postgresql-backups-readwrite"
        ]
    );
    // (The UsersApplied Event of this pass joins the series of the first one: a PATCH.)
    assert!(
        requests
            .iter()
            .any(|r| r.method == "PATCH" && r.path.contains("/events/"))
    );
    let t = h.stored();
    assert_eq!(condition(&t, "UsersProvisioned").status, "True");
    assert_eq!(condition(&t, "UsersProvisioned").reason, "UsersCreated");

    // A rotated secret key re-applies that user only.
    let mut rotated = cnpg_secret.clone();
    rotated["stringData"]["CONSOLE_SECRET_KEY"] = json!("rotated-secret-key");
    h.api.insert(&cnpg, rotated);
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        vec![
            "health",
            "admin",
            "add-user cloudnative-pg",
            "set-user-policy cloudnative-pg postgresql-backups-readwrite"
        ]
    );
    assert_eq!(
        h.tenant
            .state()
            .users
            .get("cloudnative-pg")
            .map(String::as_str),
        Some("rotated-secret-key")
    );

    // The admin API fails: AdminApiError, and the next pass tries again.
    let mut again = cnpg_secret;
    again["stringData"]["CONSOLE_SECRET_KEY"] = json!("third-secret-key");
    h.api.insert(&cnpg, again);
    h.tenant.state().admin_error = true;
    h.reconcile().await.unwrap();
    h.api.take_requests();
    let users = condition(&h.stored(), "UsersProvisioned").clone();
    assert_eq!(users.reason, "AdminApiError");
    assert!(
        users.message.contains("access key cloudnative-pg"),
        "{}",
        users.message
    );
    assert!(!users.message.contains("third-secret-key"));
    h.tenant.state().admin_error = false;
    h.tenant.take_calls();
    h.reconcile().await.unwrap();
    assert_eq!(
        h.tenant.take_calls()[2..],
        [
            "add-user cloudnative-pg",
            "set-user-policy cloudnative-pg postgresql-backups-readwrite"
        ]
    );
    assert_eq!(condition(&h.stored(), "UsersProvisioned").status, "True");
}

/// A Matrix harness whose tenant is healthy and provisioned once; requests, tenant calls
/// and status are those after that first provisioning pass.
async fn provisioned_matrix() -> Harness {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.reconcile().await.unwrap();
    h.api.take_requests();
    h.tenant.take_calls();
    h
}

fn managed_users(t: &Tenant) -> Vec<(String, String)> {
    t.status
        .as_ref()
        .and_then(|s| s.managed_users.clone())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

fn managed_policies(t: &Tenant) -> Vec<String> {
    t.status
        .as_ref()
        .and_then(|s| s.managed_policies.clone())
        .unwrap_or_default()
}

/// The notes of the Events with `reason`.
fn event_notes(requests: &[Recorded], reason: &str) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/events"))
        .filter_map(|r| r.body.as_ref())
        .filter(|b| b["reason"] == reason)
        .map(|b| b["note"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn users_and_policies_no_longer_declared_are_removed_once_and_only_the_operators() {
    let h = provisioned_matrix().await;
    let t = h.stored();
    assert_eq!(
        managed_users(&t),
        [
            (
                "cloudnative-pg".to_string(),
                "matrix-minio-cnpg-user".to_string()
            ),
            ("synapse".into(), "matrix-minio-synapse-user".into()),
        ]
    );
    assert_eq!(
        managed_policies(&t),
        ["postgresql-backups-readwrite", "synapse-media-readwrite"]
    );
    // A user made by hand on the tenant: never the operator's to remove.
    h.tenant
        .state()
        .users
        .insert("hand-made".into(), "by-hand".into());

    // The CloudNativePG user and its policy leave the spec: both removed, user first.
    h.edit(|spec| {
        spec["users"].as_array_mut().unwrap().remove(1);
        spec["policies"].as_array_mut().unwrap().remove(1);
    });
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        [
            "health",
            "admin",
            "remove-user cloudnative-pg",
            "remove-canned-policy postgresql-backups-readwrite"
        ]
    );
    assert_eq!(
        event_notes(&requests, "UsersRemoved"),
        ["removed user(s) no longer declared: cloudnative-pg"]
    );
    assert_eq!(
        event_notes(&requests, "PoliciesRemoved"),
        ["removed policy(ies) no longer declared: postgresql-backups-readwrite"]
    );
    let users: Vec<String> = h.tenant.state().users.keys().cloned().collect();
    assert_eq!(users, ["hand-made", "synapse"]);
    let t = h.stored();
    assert_eq!(
        managed_users(&t),
        [(
            "synapse".to_string(),
            "matrix-minio-synapse-user".to_string()
        )]
    );
    assert_eq!(managed_policies(&t), ["synapse-media-readwrite"]);
    assert_eq!(condition(&t, "UsersProvisioned").status, "True");

    // Again: nothing to remove, nothing sent.
    h.reconcile().await.unwrap();
    assert!(event_reasons(&h.api.take_requests()).is_empty());
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);

    // The Secret of a declared user disappears: its user stays (its key is unknown).
    let synapse = h.p("secrets/matrix-minio-synapse-user");
    let synapse_secret = h.api.get(&synapse).unwrap();
    h.api.remove(&synapse);
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);
    assert_eq!(
        condition(&h.stored(), "UsersProvisioned").reason,
        "SecretMissing"
    );
    assert_eq!(managed_users(&h.stored()).len(), 1);

    // Back with another access key: the new user is created, the old one removed.
    let mut renamed = synapse_secret.clone();
    renamed["stringData"]["CONSOLE_ACCESS_KEY"] = json!("synapse-2");
    h.api.insert(&synapse, renamed);
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        [
            "health",
            "admin",
            "add-user synapse-2",
            "set-user-policy synapse-2 synapse-media-readwrite",
            "remove-user synapse"
        ]
    );
    assert_eq!(
        managed_users(&h.stored()),
        [(
            "synapse-2".to_string(),
            "matrix-minio-synapse-user".to_string()
        )]
    );

    // A policy left out of spec.policies stays while a user still names it.
    h.edit(|spec| {
        spec.as_object_mut().unwrap().remove("policies");
    });
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);
    assert_eq!(managed_policies(&h.stored()), ["synapse-media-readwrite"]);

    // Removal fails: reported, kept in the status, retried by the next pass.
    h.edit(|spec| {
        spec.as_object_mut().unwrap().remove("users");
    });
    h.tenant.state().remove_error = true;
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        [
            "health",
            "admin",
            "remove-user synapse-2",
            "remove-canned-policy synapse-media-readwrite"
        ]
    );
    let t = h.stored();
    let users = condition(&t, "UsersProvisioned");
    assert_eq!(
        (users.status.as_str(), users.reason.as_str()),
        ("False", "AdminApiError")
    );
    assert!(
        users.message.starts_with("removing user synapse-2: "),
        "{}",
        users.message
    );
    assert_eq!(managed_users(&t).len(), 1);
    assert_eq!(managed_policies(&t), ["synapse-media-readwrite"]);

    h.tenant.state().remove_error = false;
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        [
            "health",
            "admin",
            "remove-user synapse-2",
            "remove-canned-policy synapse-media-readwrite"
        ]
    );
    let t = h.stored();
    assert!(managed_users(&t).is_empty());
    assert!(managed_policies(&t).is_empty());
    let users: Vec<String> = h.tenant.state().users.keys().cloned().collect();
    assert_eq!(users, ["hand-made"]);
    assert!(h.tenant.state().policies.is_empty());

    // Nothing declared, nothing managed: the tenant's identities are not touched again.
    h.reconcile().await.unwrap();
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);
}

#[tokio::test]
async fn a_policy_from_a_config_map_is_read_each_pass_and_reapplied_when_it_changes() {
    let h = Harness::matrix();
    let cm_path = h.p("configmaps/matrix-policies");
    let config_map = |document: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "matrix-policies", "namespace": h.ns},
               "data": {"synapse.json": document}})
    };
    let first = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["s3:*"], "Resource": ["arn:aws:s3:::synapse-media/*"]}]}"#;
    h.api.insert(&cm_path, config_map(first));
    h.edit(|spec| {
        spec["policies"][0] = json!({"name": "synapse-media-readwrite",
            "configMapRef": {"name": "matrix-policies", "key": "synapse.json"}});
    });
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.api.take_requests();
    h.tenant.take_calls();

    let cm_reads = |requests: &[Recorded]| -> Vec<String> {
        requests
            .iter()
            .filter(|r| r.path.contains("/configmaps/matrix-policies"))
            .map(Recorded::line)
            .collect()
    };
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert_eq!(cm_reads(&requests), [format!("GET {cm_path}")]);
    let calls = h.tenant.take_calls();
    assert_eq!(
        calls[calls.len() - 6..calls.len() - 4],
        [
            "add-canned-policy synapse-media-readwrite",
            "add-canned-policy postgresql-backups-readwrite",
        ]
    );
    assert_eq!(h.tenant.state().policies["synapse-media-readwrite"], first);
    assert_eq!(condition(&h.stored(), "UsersProvisioned").status, "True");

    // Unchanged: read again, nothing sent.
    h.reconcile().await.unwrap();
    assert_eq!(cm_reads(&h.api.take_requests()), [format!("GET {cm_path}")]);
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);

    // Changed: the policy alone is applied again.
    let second = r#"{"Version": "2012-10-17", "Statement": []}"#;
    h.api.insert(&cm_path, config_map(second));
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        [
            "health",
            "admin",
            "add-canned-policy synapse-media-readwrite"
        ]
    );
    assert_eq!(h.tenant.state().policies["synapse-media-readwrite"], second);

    // Gone: a condition says so; the policy and its user stay on the tenant.
    h.api.remove(&cm_path);
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert_eq!(cm_reads(&requests), [format!("GET {cm_path}")]);
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);
    let t = h.stored();
    let users = condition(&t, "UsersProvisioned");
    assert_eq!(
        (users.status.as_str(), users.reason.as_str()),
        ("False", "ConfigMapMissing")
    );
    assert_eq!(
        users.message,
        "policy synapse-media-readwrite: ConfigMap matrix-policies does not exist; \
         user Secret matrix-minio-synapse-user: its policy synapse-media-readwrite could not \
         be applied"
    );
    assert!(event_reasons(&requests).contains(&"UserProvisioningFailed".to_string()));
    assert_eq!(
        managed_policies(&t),
        ["postgresql-backups-readwrite", "synapse-media-readwrite"]
    );

    // A key that is not a policy document: InvalidPolicyDocument.
    let mut broken = config_map(second);
    broken["data"]["synapse.json"] = json!("[1, 2]");
    h.api.insert(&cm_path, broken);
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(h.tenant.take_calls(), ["health", "admin"]);
    let reason = condition(&h.stored(), "UsersProvisioned").reason.clone();
    assert_eq!(reason, "InvalidPolicyDocument");

    // Back: the policy, then its user, are applied again.
    h.api.insert(&cm_path, config_map(first));
    h.reconcile().await.unwrap();
    h.api.take_requests();
    assert_eq!(
        h.tenant.take_calls(),
        [
            "health",
            "admin",
            "add-canned-policy synapse-media-readwrite",
            "add-user synapse",
            "set-user-policy synapse synapse-media-readwrite"
        ]
    );
    assert_eq!(condition(&h.stored(), "UsersProvisioned").status, "True");
}

#[tokio::test]
async fn admin_info_gives_drive_counts_and_yellow_health() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    {
        let mut s = h.tenant.state();
        s.write_ok = true;
        s.admin = Some(AdminInfo {
            drives_online: 7,
            drives_offline: 1,
            drives_healing: 0,
            capacity: Some(4 << 40),
            raw_capacity: Some(8 << 40),
            ..AdminInfo::default()
        });
    }
    h.reconcile().await.unwrap();
    let t = h.stored();
    let status = t.status.as_ref().unwrap();
    assert_eq!(
        status.health_status,
        Some(cairn_operator::crd::HealthStatus::Yellow)
    );
    assert_eq!(
        (status.drives_online, status.drives_offline),
        (Some(7), Some(1))
    );
    assert_eq!(status.usage.as_ref().unwrap().raw_capacity, Some(8 << 40));
    assert_eq!(condition(&t, "Degraded").reason, "DrivesOffline");

    // The tenant stops answering: red, and a Warning event.
    h.tenant.state().unreachable = true;
    h.api.take_requests();
    h.reconcile().await.unwrap();
    let t = h.stored();
    assert_eq!(
        t.status.as_ref().unwrap().health_status,
        Some(cairn_operator::crd::HealthStatus::Red)
    );
    assert!(
        t.status
            .as_ref()
            .unwrap()
            .health_message
            .as_deref()
            .unwrap()
            .contains("connection refused")
    );
    let requests = h.api.take_requests();
    let health_event = requests
        .iter()
        .find(|r| {
            r.body
                .as_ref()
                .is_some_and(|b| b["reason"] == "HealthChanged")
        })
        .unwrap();
    assert_eq!(health_event.body.as_ref().unwrap()["type"], "Warning");
}

#[tokio::test]
async fn image_change_rolls_one_pod_at_a_time_only_with_write_quorum() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.reconcile().await.unwrap();
    let old_revision = h.sts("pool-0")["status"]["updateRevision"].clone();

    h.edit(|spec| spec["image"] = json!("registry.example/cairn:2"));
    h.tenant.state().write_ok = false;
    h.api.take_requests();
    let action = h.reconcile().await.unwrap();
    assert_eq!(action, Action::requeue(reconcile::BUSY_INTERVAL));
    let requests = h.api.take_requests();
    assert_ne!(h.sts("pool-0")["status"]["updateRevision"], old_revision);
    assert!(
        !requests.iter().any(|r| r.method == "DELETE"),
        "no quorum, no restart"
    );
    let t = h.stored();
    assert_eq!(condition(&t, "Progressing").reason, "RollingRestart");
    assert!(
        condition(&t, "Progressing")
            .message
            .contains("write quorum")
    );
    assert_eq!(t.status.as_ref().unwrap().observed_generation, Some(2));

    // With quorum: exactly the highest ordinal goes.
    h.tenant.state().write_ok = true;
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    let deletes = delete_paths(&requests);
    assert_eq!(deletes, vec![h.p("pods/matrix-minio-pool-0-3")]);
    assert!(event_reasons(&requests).contains(&"RollingRestart".to_string()));

    // The pod comes back from the new template but is not ready yet: nothing more.
    let sts = h.sts("pool-0");
    let args = sts["spec"]["template"]["spec"]["containers"][0]["args"].clone();
    h.add_pod(
        "pool-0",
        3,
        sts["status"]["updateRevision"].clone(),
        args.clone(),
        false,
    );
    h.reconcile().await.unwrap();
    assert!(!h.api.take_requests().iter().any(|r| r.method == "DELETE"));
    // Ready: the next one.
    h.add_pod(
        "pool-0",
        3,
        sts["status"]["updateRevision"].clone(),
        args,
        true,
    );
    h.reconcile().await.unwrap();
    let deletes = delete_paths(&h.api.take_requests());
    assert_eq!(deletes, vec![h.p("pods/matrix-minio-pool-0-2")]);
}

#[tokio::test]
async fn configuration_secret_change_changes_the_template_hash() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    let before =
        h.sts("pool-0")["spec"]["template"]["metadata"]["annotations"]["cairn.dev/config-hash"]
            .clone();
    let path = h.p("secrets/matrix-minio-env");
    let mut secret = h.api.get(&path).unwrap();
    secret["stringData"]["config.env"] = json!(
        "export MINIO_ROOT_USER=\"matrix-admin\"\nexport MINIO_ROOT_PASSWORD=\"a-new-password-123\"\nexport MINIO_STORAGE_CLASS_STANDARD=\"EC:4\"\n"
    );
    h.api.insert(&path, secret);
    h.reconcile().await.unwrap();
    let after =
        h.sts("pool-0")["spec"]["template"]["metadata"]["annotations"]["cairn.dev/config-hash"]
            .clone();
    assert_ne!(before, after);
}

/// The token and credentials hash of the last apply of the Prometheus token Secret.
fn applied_token(h: &Harness, requests: &[Recorded]) -> (String, String) {
    let path = h.p("secrets/matrix-minio-prometheus-token");
    let body = requests
        .iter()
        .rev()
        .find(|r| r.is_apply() && r.path == path)
        .expect("the token Secret is applied")
        .body
        .clone()
        .unwrap();
    let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(body).unwrap();
    assert_eq!(secret.type_.as_deref(), Some("Opaque"));
    let token = String::from_utf8(secret.data.unwrap()["token"].0.clone()).unwrap();
    let hash = secret.metadata.annotations.unwrap()["cairn.dev/credentials-hash"].clone();
    (token, hash)
}

#[tokio::test]
async fn the_prometheus_token_is_issued_once_and_again_when_the_root_credentials_change() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    let first = h.api.take_requests();
    check_applies(&first, &h.stored().metadata.uid.unwrap());
    let (token, hash) = applied_token(&h, &first);
    assert!(
        h.api
            .get(&h.p("secrets/matrix-minio-prometheus-token"))
            .is_some()
    );
    // What `mc admin prometheus generate` makes: signed with the root secret key, for the
    // root access key, issuer prometheus, valid for about a century.
    let claims = common::jwt_claims(&token, "CHANGE-ME-root-password")
        .expect("the token verifies under the root secret key");
    assert_eq!(claims["sub"], "matrix-admin");
    assert_eq!(claims["iss"], "prometheus");
    let now = Timestamp::now().as_second();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (now + 99 * 365 * 86400..=now + 100 * 365 * 86400 + 60).contains(&exp),
        "exp {exp}"
    );
    // The ServiceMonitor scrapes with it.
    let monitor = first
        .iter()
        .find(|r| r.is_apply() && r.path.contains("/servicemonitors/"))
        .unwrap();
    assert_eq!(
        monitor.body.as_ref().unwrap()["spec"]["endpoints"][0]["bearerTokenSecret"],
        json!({"name": "matrix-minio-prometheus-token", "key": "token"})
    );

    // A later pass keeps the stored token (a new one would carry a later expiry).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    h.reconcile().await.unwrap();
    let second = h.api.take_requests();
    assert_eq!(applied_token(&h, &second), (token.clone(), hash.clone()));

    // New root credentials: the old token no longer verifies, so a new one is issued,
    // signed with the new secret key, and the Secret carries the new hash.
    let path = h.p("secrets/matrix-minio-env");
    let mut config = h.api.get(&path).unwrap();
    config["stringData"]["config.env"] = json!(
        "export MINIO_ROOT_USER=\"matrix-admin\"\nexport MINIO_ROOT_PASSWORD=\"a-new-password-123\"\nexport MINIO_STORAGE_CLASS_STANDARD=\"EC:4\"\n"
    );
    h.api.insert(&path, config);
    h.reconcile().await.unwrap();
    let third = h.api.take_requests();
    let (new_token, new_hash) = applied_token(&h, &third);
    assert_ne!(new_token, token);
    assert_ne!(new_hash, hash);
    assert_eq!(
        common::jwt_claims(&new_token, "a-new-password-123").unwrap()["sub"],
        "matrix-admin"
    );
    assert!(common::jwt_claims(&new_token, "CHANGE-ME-root-password").is_none());
    let stored = h
        .api
        .get(&h.p("secrets/matrix-minio-prometheus-token"))
        .unwrap();
    assert_eq!(
        stored["metadata"]["annotations"]["cairn.dev/credentials-hash"],
        new_hash
    );
    // And kept again from then on.
    h.reconcile().await.unwrap();
    assert_eq!(
        applied_token(&h, &h.api.take_requests()),
        (new_token, new_hash)
    );
}

#[tokio::test]
async fn adding_a_pool_restarts_the_old_pods_one_by_one_once_the_new_ones_are_ready() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.add_pods("pool-0", true);
    h.tenant.state().write_ok = true;
    h.reconcile().await.unwrap();

    h.edit(|spec| {
        let mut pool = spec["pools"][0].clone();
        pool["name"] = json!("pool-1");
        spec["pools"].as_array_mut().unwrap().push(pool);
    });
    h.api.take_requests();
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert!(lines(&requests).contains(&format!(
        "PATCH {}",
        h.p("apps:statefulsets/matrix-minio-pool-1")
    )));
    assert!(lines(&requests).contains(&format!(
        "PATCH {}",
        h.p("policy:poddisruptionbudgets/matrix-minio-pool-1")
    )));
    assert!(
        !requests.iter().any(|r| r.method == "DELETE"),
        "new pool not running yet"
    );
    // Both StatefulSets carry both endpoints, in spec order.
    for pool in ["pool-0", "pool-1"] {
        let args = h.sts(pool)["spec"]["template"]["spec"]["containers"][0]["args"].clone();
        let endpoints: Vec<&str> = args
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .filter(|a| a.starts_with("https://"))
            .collect();
        assert_eq!(endpoints.len(), 2, "{pool}: {endpoints:?}");
        assert!(endpoints[1].contains("matrix-minio-pool-1-{0...3}"));
    }
    let t = h.stored();
    assert_eq!(condition(&t, "Progressing").status, "True");

    h.add_pods("pool-1", false);
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert!(
        !requests.iter().any(|r| r.method == "DELETE"),
        "new pool not ready yet"
    );
    h.add_pods("pool-1", true);
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    let deletes = delete_paths(&requests);
    assert_eq!(deletes, vec![h.p("pods/matrix-minio-pool-0-3")]);
    assert!(event_reasons(&requests).contains(&"TopologyRestart".to_string()));
}

#[tokio::test]
async fn refused_spec_changes_become_a_condition_and_one_event() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    h.edit(|spec| spec["pools"][0]["servers"] = json!(6));
    h.api.take_requests();
    let action = h.reconcile().await.unwrap();
    assert_eq!(action, Action::requeue(reconcile::INVALID_INTERVAL));
    let requests = h.api.take_requests();
    // Nothing applied: only reads, the event and the status.
    assert!(
        requests
            .iter()
            .filter(|r| r.method == "PATCH")
            .all(|r| r.path.ends_with("/status"))
    );
    assert_eq!(event_reasons(&requests), vec!["InvalidSpec"]);
    let warning = requests
        .iter()
        .find(|r| r.method == "POST")
        .unwrap()
        .body
        .clone()
        .unwrap();
    assert_eq!(warning["type"], "Warning");
    assert!(
        warning["note"]
            .as_str()
            .unwrap()
            .contains("cannot become 6 x 2")
    );
    let t = h.stored();
    assert_eq!(condition(&t, "Ready").reason, "InvalidSpec");
    assert_eq!(condition(&t, "Degraded").status, "True");
    assert_eq!(
        t.status.as_ref().unwrap().current_state.as_deref(),
        Some("Invalid spec")
    );
    assert_eq!(h.sts("pool-0")["spec"]["replicas"], 4);

    // Same problem again: no second event.
    h.reconcile().await.unwrap();
    assert!(event_reasons(&h.api.take_requests()).is_empty());
}

#[tokio::test]
async fn api_errors_fail_the_reconcile_and_back_off() {
    let h = Harness::matrix();
    h.api.fail("PATCH", "/statefulsets/", 500, 2);
    let t = Arc::new(h.stored());
    let err = reconcile::reconcile(t.clone(), h.ctx.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("injected failure"), "{err}");
    assert_eq!(
        reconcile::error_policy(t.clone(), &err, h.ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    let err = reconcile::reconcile(t.clone(), h.ctx.clone())
        .await
        .unwrap_err();
    assert_eq!(
        reconcile::error_policy(t.clone(), &err, h.ctx.clone()),
        Action::requeue(Duration::from_secs(10))
    );
    // It recovers, and the backoff starts over.
    reconcile::reconcile(t.clone(), h.ctx.clone())
        .await
        .unwrap();
    h.api.fail("GET", "/secrets/matrix-minio-env", 503, 1);
    let err = reconcile::reconcile(Arc::new(h.stored()), h.ctx.clone())
        .await
        .unwrap_err();
    assert_eq!(
        reconcile::error_policy(t, &err, h.ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    assert!(
        h.ctx
            .metrics
            .render()
            .contains("cairn_operator_reconcile_errors_total 3\n")
    );
}

#[tokio::test]
async fn missing_service_monitor_crd_is_a_condition_not_an_error() {
    let h = Harness::matrix();
    h.api.set_service_monitor_crd(false);
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert!(!requests.iter().any(|r| r.path.contains("servicemonitors")));
    assert!(event_reasons(&requests).contains(&"ServiceMonitorCRDMissing".to_string()));
    let t = h.stored();
    assert_eq!(condition(&t, "Monitoring").status, "False");
    assert_eq!(
        condition(&t, "Monitoring").reason,
        "ServiceMonitorCRDMissing"
    );
    // Once reported, not repeated.
    h.reconcile().await.unwrap();
    assert!(
        !event_reasons(&h.api.take_requests()).contains(&"ServiceMonitorCRDMissing".to_string())
    );
}

#[tokio::test]
async fn turning_prometheus_off_deletes_the_service_monitor_once() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    assert!(
        h.api
            .get(&h.p("monitoring:servicemonitors/matrix-minio"))
            .is_some()
    );
    assert_eq!(condition(&h.stored(), "Monitoring").status, "True");
    h.edit(|spec| spec["prometheusOperator"] = json!(false));
    h.api.take_requests();
    h.reconcile().await.unwrap();
    let deletes = delete_paths(&h.api.take_requests());
    assert_eq!(
        deletes,
        vec![h.p("monitoring:servicemonitors/matrix-minio")]
    );
    assert!(
        h.api
            .get(&h.p("monitoring:servicemonitors/matrix-minio"))
            .is_none()
    );
    let t = h.stored();
    assert!(
        t.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().all(|c| c.type_ != "Monitoring")),
        "no Monitoring condition once prometheusOperator is off"
    );
    h.reconcile().await.unwrap();
    assert!(!h.api.take_requests().iter().any(|r| r.method == "DELETE"));
}

fn add_claims(h: &Harness, size: &str, class: &str) {
    for server in 0..4 {
        for volume in 0..2 {
            let name = format!("data{volume}-matrix-minio-pool-0-{server}");
            h.api.insert(
                &h.p(&format!("persistentvolumeclaims/{name}")),
                json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": name, "namespace": h.ns, "labels": {
                           "cairn.dev/tenant": h.name, "cairn.dev/pool": "pool-0"}},
                       "spec": {"storageClassName": class, "accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": size}}}}),
            );
        }
    }
}

#[tokio::test]
async fn grown_volumes_are_expanded_when_the_storage_class_allows() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    add_claims(&h, "500Gi", "standard");
    h.api.insert(
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard"}, "provisioner": "x", "allowVolumeExpansion": true}),
    );
    h.edit(|spec| {
        spec["pools"][0]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] =
            json!("600Gi")
    });
    h.api.take_requests();
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    let patched: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.contains("persistentvolumeclaims"))
        .collect();
    assert_eq!(patched.len(), 8);
    for r in &patched {
        assert_eq!(
            r.content_type.as_deref(),
            Some("application/merge-patch+json")
        );
        assert_eq!(
            r.body.as_ref().unwrap()["spec"]["resources"]["requests"]["storage"],
            "600Gi"
        );
    }
    let delete = requests.iter().find(|r| r.method == "DELETE").unwrap();
    assert_eq!(delete.path, h.p("apps:statefulsets/matrix-minio-pool-0"));
    assert_eq!(delete.body.as_ref().unwrap()["propagationPolicy"], "Orphan");
    assert!(event_reasons(&requests).contains(&"VolumesExpanded".to_string()));
    assert_eq!(
        condition(&h.stored(), "VolumesExpanded").reason,
        "Expanding"
    );
    // Next pass: the StatefulSet is re-created with the new template.
    h.reconcile().await.unwrap();
    assert_eq!(
        h.sts("pool-0")["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
        "600Gi"
    );
}

#[tokio::test]
async fn grown_volumes_without_expansion_support_keep_the_old_template_and_say_why() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    add_claims(&h, "500Gi", "standard");
    h.api.insert(
        "/apis/storage.k8s.io/v1/storageclasses/standard",
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
               "metadata": {"name": "standard"}, "provisioner": "x"}),
    );
    h.edit(|spec| {
        spec["pools"][0]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] =
            json!("600Gi")
    });
    h.api.take_requests();
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("persistentvolumeclaims/") || r.method == "DELETE")
    );
    // The StatefulSet is applied with its existing (immutable) claim templates.
    let sts_apply = requests
        .iter()
        .find(|r| r.is_apply() && r.path.contains("/statefulsets/"))
        .unwrap();
    assert_eq!(
        sts_apply.body.as_ref().unwrap()["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]
            ["storage"],
        "500Gi"
    );
    let t = h.stored();
    assert_eq!(
        condition(&t, "VolumesExpanded").reason,
        "StorageClassNotExpandable"
    );
    assert!(
        condition(&t, "VolumesExpanded")
            .message
            .contains("StorageClass standard")
    );
    assert_eq!(
        condition(&t, "Degraded").reason,
        "VolumeExpansionNotSupported"
    );
}

#[tokio::test]
async fn deletion_keeps_volumes_unless_the_policy_says_delete() {
    // Retain (default): no finalizer, and deletion is left to garbage collection.
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    assert!(h.stored().metadata.finalizers.is_none());
    h.api.take_requests();
    let mut deleting = h.stored();
    deleting.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
    );
    let action = reconcile::reconcile(Arc::new(deleting), h.ctx.clone())
        .await
        .unwrap();
    assert_eq!(action, Action::await_change());
    assert!(h.api.take_requests().is_empty());

    // Delete: the finalizer goes on, and on deletion the claims go, then the finalizer.
    let h = Harness::matrix();
    h.edit(|spec| spec["volumeClaimRetentionPolicy"] = json!("Delete"));
    h.reconcile().await.unwrap();
    let requests = h.api.take_requests();
    let finalizer = requests
        .iter()
        .find(|r| r.content_type.as_deref() == Some("application/merge-patch+json"))
        .unwrap();
    assert_eq!(finalizer.path, h.tenant_path());
    assert_eq!(
        finalizer.body.as_ref().unwrap()["metadata"]["finalizers"],
        json!(["cairn.dev/delete-volumes"])
    );
    assert!(finalizer.body.as_ref().unwrap()["metadata"]["resourceVersion"].is_string());
    add_claims(&h, "500Gi", "standard");
    let mut deleting = h.stored();
    assert_eq!(
        deleting.metadata.finalizers.as_deref(),
        Some(&["cairn.dev/delete-volumes".to_string()][..])
    );
    deleting.metadata.deletion_timestamp = Some(
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
    );
    reconcile::reconcile(Arc::new(deleting), h.ctx.clone())
        .await
        .unwrap();
    let requests = h.api.take_requests();
    let deletes = delete_paths(&requests);
    assert_eq!(deletes[0], h.p("apps:statefulsets/matrix-minio-pool-0"));
    assert_eq!(deletes.len(), 1 + 8);
    assert!(
        deletes[1..]
            .iter()
            .all(|d| d.contains("/persistentvolumeclaims/data"))
    );
    assert!(event_reasons(&requests).contains(&"VolumesDeleted".to_string()));
    let last = requests.last().unwrap();
    assert_eq!(last.method, "PATCH");
    assert_eq!(
        last.body.as_ref().unwrap()["metadata"]["finalizers"],
        json!([])
    );
    assert!(h.api.paths(&h.p("persistentvolumeclaims/")).is_empty());
}

#[tokio::test]
async fn leader_election_hands_over_only_after_the_lease_expires() {
    let (api, client) = FakeApi::start();
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, "cairn-system");
    let a = leader::LeaseConfig::new("cairn-operator", "pod-a");
    let b = leader::LeaseConfig::new("cairn-operator", "pod-b");
    let t0 = Timestamp::now();
    assert!(leader::try_acquire(&leases, &a, t0).await.unwrap());
    assert!(!leader::try_acquire(&leases, &b, t0).await.unwrap());
    // A renews; B still cannot take it.
    let t1 = t0 + SignedDuration::from_secs(5);
    assert!(leader::try_acquire(&leases, &a, t1).await.unwrap());
    assert!(
        !leader::try_acquire(&leases, &b, t1 + SignedDuration::from_secs(10))
            .await
            .unwrap()
    );
    // A stops renewing; after 15 s B takes over.
    assert!(
        leader::try_acquire(&leases, &b, t1 + SignedDuration::from_secs(16))
            .await
            .unwrap()
    );
    let lease = api
        .get("/apis/coordination.k8s.io/v1/namespaces/cairn-system/leases/cairn-operator")
        .unwrap();
    assert_eq!(lease["spec"]["holderIdentity"], "pod-b");
    assert_eq!(lease["spec"]["leaseTransitions"], 1);
    assert_eq!(lease["spec"]["leaseDurationSeconds"], 15);
    let requests = api.take_requests();
    assert_eq!(
        requests
            .iter()
            .map(|r| r.method.as_str())
            .collect::<Vec<_>>(),
        vec!["GET", "POST", "GET", "GET", "PUT", "GET", "GET", "PUT"]
    );
    // A write with a stale resourceVersion loses (two replicas racing).
    api.fail("PUT", "/leases/", 409, 1);
    assert!(
        !leader::try_acquire(&leases, &b, t1 + SignedDuration::from_secs(17))
            .await
            .unwrap()
    );
    // Release hands it back at once.
    leader::release(&leases, &b).await.unwrap();
    assert!(
        leader::try_acquire(&leases, &a, t1 + SignedDuration::from_secs(18))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn metrics_and_health_are_served_over_http() {
    let metrics = Arc::new(Metrics::default());
    metrics.set_running(true);
    metrics.reconciled(Duration::from_millis(20));
    let (addr, task) = reconcile::metrics::serve("127.0.0.1:0".parse().unwrap(), metrics)
        .await
        .unwrap();
    let get = |path: &'static str| async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut out = String::new();
        tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
            .await
            .unwrap()
            .unwrap();
        out
    };
    let m = get("/metrics").await;
    assert!(m.starts_with("HTTP/1.1 200"), "{m}");
    assert!(m.contains("cairn_operator_reconciliations_total 1"));
    assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
    assert!(get("/missing").await.starts_with("HTTP/1.1 404"));
    task.abort();
}

// ---- ownership: nothing is taken over -----------------------------------------------------

/// Asserts the refusal: `Ready=False` with `ObjectOwnedByOther` naming `what` and `owner`,
/// one Warning Event saying the same, and no apply but the status.
fn assert_refused(requests: &[Recorded], tenant: &Tenant, what: &str, owner: &str) {
    let ready = condition(tenant, "Ready");
    assert_eq!(ready.status, "False");
    assert_eq!(ready.reason, "ObjectOwnedByOther");
    assert!(ready.message.contains(what), "{}", ready.message);
    assert!(ready.message.contains(owner), "{}", ready.message);
    assert_eq!(condition(tenant, "Degraded").status, "True");
    assert_eq!(event_reasons(requests), vec!["ObjectOwnedByOther"]);
    let event = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/events"))
        .and_then(|r| r.body.clone())
        .unwrap();
    assert_eq!(event["type"], "Warning");
    let note = event["note"].as_str().unwrap();
    assert!(note.contains(what) && note.contains(owner), "{note}");
    let applied: Vec<String> = requests
        .iter()
        .filter(|r| {
            r.method != "GET" && !r.path.ends_with("/status") && !r.path.ends_with("/events")
        })
        .map(Recorded::line)
        .collect();
    assert!(
        applied.is_empty(),
        "changed despite the refusal: {applied:?}"
    );
}

#[tokio::test]
async fn a_second_tenant_does_not_take_over_the_first_tenants_s3_service() {
    let h = Harness::matrix();
    h.reconcile().await.unwrap();
    let first_uid = h.stored().metadata.uid.unwrap();
    let service = h.api.get(&h.p("services/minio")).unwrap();
    // A second Tenant in the same namespace, with the same default S3 Service name `minio`.
    let (mut second, _) = common::matrix();
    second.metadata.name = Some("second".into());
    let second_path = h.insert_tenant(&second);
    let stored_second =
        || -> Tenant { serde_json::from_value(h.api.get(&second_path).unwrap()).unwrap() };
    h.api.take_requests();

    let t = Arc::new(stored_second());
    let err = reconcile::reconcile(t.clone(), h.ctx.clone())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Service minio"), "{err}");
    let requests = h.api.take_requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "PATCH" && r.path == h.p("services/minio")),
        "the first Tenant's Service was patched"
    );
    assert_refused(
        &requests,
        &stored_second(),
        "Service minio",
        &format!("Tenant matrix-minio (uid {first_uid})"),
    );
    // The Service still belongs to the first Tenant, unchanged.
    assert_eq!(h.api.get(&h.p("services/minio")).unwrap(), service);
    // Retried with backoff; the same refusal is not announced again.
    assert_eq!(
        reconcile::error_policy(t, &err, h.ctx.clone()),
        Action::requeue(Duration::from_secs(5))
    );
    reconcile::reconcile(Arc::new(stored_second()), h.ctx.clone())
        .await
        .unwrap_err();
    assert!(event_reasons(&h.api.take_requests()).is_empty());
    // The first Tenant is not disturbed.
    h.reconcile().await.unwrap();
}

#[tokio::test]
async fn an_unowned_secret_with_the_certificate_name_is_not_adopted() {
    let h = Harness::matrix();
    let path = h.p("secrets/matrix-minio-tls");
    h.api.insert(
        &path,
        json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
               "metadata": {"name": "matrix-minio-tls", "namespace": h.ns},
               "data": {"tls.crt": "Zm9yZWlnbg==", "tls.key": "Zm9yZWlnbg=="}}),
    );
    let before = h.api.get(&path).unwrap();
    let err = h.reconcile().await.unwrap_err();
    assert!(err.to_string().contains("Secret matrix-minio-tls"), "{err}");
    let requests = h.api.take_requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "PATCH" && r.path == path),
        "the Secret was adopted"
    );
    assert_refused(
        &requests,
        &h.stored(),
        "Secret matrix-minio-tls",
        "no controller",
    );
    assert_eq!(h.api.get(&path).unwrap(), before);
    // Nothing else was created either: no StatefulSet, no Service.
    assert!(h.api.paths(&h.p("apps:statefulsets/")).is_empty());
    assert!(h.api.paths(&h.p("services/")).is_empty());
    // Once the other Secret is gone, the Tenant proceeds.
    h.api.remove(&path);
    h.reconcile().await.unwrap();
    let adopted = h.api.get(&path).unwrap();
    assert_eq!(
        adopted["metadata"]["ownerReferences"][0]["uid"],
        h.stored().metadata.uid.unwrap()
    );
}

// ---- watches: only the operator's objects, only the watched namespaces ---------------------

/// Runs the controller against the fake until it has opened a watch of each of the 7
/// kinds it watches; returns every request it made.
async fn controller_requests(scope: reconcile::Scope) -> Vec<Recorded> {
    let (api, client) = FakeApi::start();
    let metrics = Arc::new(Metrics::default());
    let run = reconcile::run(client, Settings::default(), scope, metrics);
    let kinds = [
        "tenants",
        "statefulsets",
        "services",
        "poddisruptionbudgets",
        "configmaps",
        "secrets",
        "pods",
    ];
    let watching = |rs: &[Recorded]| {
        kinds.iter().all(|k| {
            rs.iter().any(|r| {
                r.path.ends_with(&format!("/{k}")) && r.param("watch").as_deref() == Some("true")
            })
        })
    };
    let all_watched = async {
        while !watching(&api.requests()) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // The controller runs until every watch is open (then it is dropped), at most 20 s.
    let waited = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            () = run => false,
            () = all_watched => true,
        }
    })
    .await;
    let requests = api.take_requests();
    assert_eq!(
        waited,
        Ok(true),
        "not every kind was watched: {:?}",
        lines(&requests)
    );
    requests
}

fn selector(r: &Recorded) -> Option<String> {
    r.param("labelSelector")
        .map(|s| s.replace("%2F", "/").replace("%3D", "="))
}

#[tokio::test]
async fn the_controller_lists_and_watches_only_its_own_secrets() {
    let requests = controller_requests(reconcile::Scope::All).await;
    let secrets: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.path.ends_with("/secrets"))
        .collect();
    // A list, then a watch, both of the operator's label only.
    assert!(secrets.len() >= 2, "{:?}", lines(&requests));
    for r in &secrets {
        assert_eq!(r.method, "GET");
        assert_eq!(
            selector(r).as_deref(),
            Some("app.kubernetes.io/managed-by=cairn-operator"),
            "{}?{}",
            r.path,
            r.query
        );
    }
    // So are the other objects it creates; pods by their tenant label.
    for r in requests.iter().filter(|r| r.method == "GET") {
        let kind = r.path.rsplit('/').next().unwrap();
        let want = match kind {
            "tenants" => None,
            "pods" => Some("cairn.dev/tenant".to_string()),
            _ => Some("app.kubernetes.io/managed-by=cairn-operator".to_string()),
        };
        assert_eq!(selector(r), want, "{}?{}", r.path, r.query);
    }
    // No Secret is read by name outside a reconcile.
    assert!(!requests.iter().any(|r| r.path.contains("/secrets/")));
}

#[tokio::test]
async fn with_a_watched_namespace_every_request_stays_in_it() {
    let requests = controller_requests(reconcile::Scope::Namespace("matrix".into())).await;
    for r in &requests {
        assert!(
            r.path.starts_with("/api/v1/namespaces/matrix/")
                || r.path.contains("/namespaces/matrix/"),
            "a request outside the watched namespace: {} {}?{}",
            r.method,
            r.path,
            r.query
        );
    }
    let secrets: Vec<&Recorded> = requests
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/matrix/secrets")
        .collect();
    assert!(secrets.len() >= 2);
    assert!(
        secrets
            .iter()
            .all(|r| selector(r).as_deref() == Some("app.kubernetes.io/managed-by=cairn-operator"))
    );
}
