//! Step 6b of a reconcile, after the buckets: the policies of `spec.policies` and the users
//! of `spec.users`, created through MinIO's admin API v3 once the tenant has write quorum.
//!
//! For each policy, `add-canned-policy` with its document; then for each user Secret,
//! `CONSOLE_ACCESS_KEY`/`CONSOLE_SECRET_KEY` are read, `add-user` (an upsert) sets the
//! secret key and `set-user-or-group-policy` attaches `users[].policy` (default
//! `consoleAdmin`, as MinIO's operator).
//!
//! Idempotence without calling the tenant on every reconcile: the status keeps, per policy
//! and per user Secret, a keyed hash ([`applied_hash`]: HMAC-SHA256 under the root secret
//! key, so the status reveals nothing about a user's key) of what was last applied. A
//! policy or user whose hash is unchanged is not sent again; a changed Secret, policy name
//! or document (or a new root secret) is re-applied. What this does not notice: a user
//! deleted on the tenant by hand (re-created when its Secret changes, or by clearing
//! `status.userHashes`). Users removed from the spec, and the old access key of a Secret
//! whose `CONSOLE_ACCESS_KEY` changed, are left on the tenant, as MinIO's operator does.
//! Secret values are never logged nor put into Events or conditions.

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::events::EventType;
use sha2::Sha256;

use super::inputs::Inputs;
use super::status::{self, UserProblem, UsersObservation};
use super::{Context, Error, health};
use crate::crd::{Tenant, TenantStatus};
use crate::render::secret_data;
use crate::tenant::TenantApi;

/// Keys of a user Secret, as MinIO's operator reads them.
pub const ACCESS_KEY: &str = "CONSOLE_ACCESS_KEY";
pub const SECRET_KEY: &str = "CONSOLE_SECRET_KEY";

/// Condition reasons.
pub const SECRET_MISSING: &str = "SecretMissing";
pub const KEYS_MISSING: &str = "KeysMissing";
pub const ADMIN_API_ERROR: &str = "AdminApiError";

/// 16 hex digits of HMAC-SHA256(`root_secret`, the NUL-joined `parts`).
pub fn applied_hash(root_secret: &str, parts: &[&str]) -> String {
    // HMAC takes keys of any length; the error branch cannot happen.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(root_secret.as_bytes()) else {
        return String::new();
    };
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            mac.update(&[0]);
        }
        mac.update(part.as_bytes());
    }
    mac.finalize().into_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The identity part of the previous status.
fn previous(
    tenant: &Tenant,
) -> (
    Vec<String>,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
) {
    let s: Option<&TenantStatus> = tenant.status.as_ref();
    (
        s.and_then(|s| s.provisioned_users.clone())
            .unwrap_or_default(),
        s.and_then(|s| s.user_hashes.clone()).unwrap_or_default(),
        s.and_then(|s| s.policy_hashes.clone()).unwrap_or_default(),
    )
}

/// Provisions policies and users when `write_ok`; otherwise reports what the status knew.
pub(super) async fn provision(
    tenant: &Tenant,
    ctx: &Context,
    inputs: &Inputs,
    write_ok: bool,
) -> Result<Option<UsersObservation>, Error> {
    let spec = &tenant.spec;
    let users: Vec<_> = spec
        .users
        .iter()
        .flatten()
        .filter(|u| !u.name.is_empty())
        .collect();
    let policies: Vec<_> = spec.policies.iter().flatten().collect();
    if users.is_empty() && policies.is_empty() {
        return Ok(None);
    }
    let (old_users, old_user_hashes, old_policy_hashes) = previous(tenant);
    let wanted: BTreeSet<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let mut obs = UsersObservation {
        wanted: users.len(),
        provisioned: old_users
            .into_iter()
            .filter(|u| wanted.contains(u.as_str()))
            .collect(),
        user_hashes: old_user_hashes
            .iter()
            .filter(|(k, _)| wanted.contains(k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        policy_hashes: old_policy_hashes
            .iter()
            .filter(|(k, _)| policies.iter().any(|p| &p.name == *k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..UsersObservation::default()
    };
    if !write_ok {
        return Ok(Some(obs));
    }
    let auto_tls = inputs.observed.auto_tls.as_ref();
    let endpoint = health::tenant_endpoint(tenant, &inputs.names, &inputs.secrets, auto_tls);
    let connected = endpoint
        .ok_or_else(|| "no root credentials in the configuration Secret".to_string())
        .and_then(|e| {
            let root = e.credentials.secret_key.clone();
            ctx.connector
                .connect(e)
                .map(|api| (api, root))
                .map_err(|e| e.to_string())
        });
    let (api, root) = match connected {
        Ok(c) => c,
        Err(message) => {
            obs.problems
                .push(UserProblem::new(ADMIN_API_ERROR, message));
            return Ok(Some(obs));
        }
    };
    let mut run = Run {
        api: api.as_ref(),
        root: &root,
        obs,
        failed_policies: BTreeSet::new(),
        changed_policies: Vec::new(),
        changed_users: Vec::new(),
    };
    for policy in &policies {
        run.policy(&policy.name, &policy.document).await;
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &inputs.namespace);
    // The provisioned list is rebuilt in spec order from this pass.
    run.obs.provisioned.clear();
    for user in &users {
        let secret = secrets.get_opt(&user.name).await?;
        run.user(&user.name, secret.as_ref(), user.policy_name())
            .await;
    }
    report(tenant, ctx, &run).await;
    Ok(Some(run.obs))
}

/// One provisioning pass against a connected tenant.
struct Run<'a> {
    api: &'a dyn TenantApi,
    root: &'a str,
    obs: UsersObservation,
    failed_policies: BTreeSet<String>,
    changed_policies: Vec<String>,
    changed_users: Vec<String>,
}

impl Run<'_> {
    async fn policy(&mut self, name: &str, document: &str) {
        let hash = applied_hash(self.root, &["policy", name, document]);
        if self.obs.policy_hashes.get(name) == Some(&hash) {
            return;
        }
        match self.api.add_canned_policy(name, document.as_bytes()).await {
            Ok(()) => {
                self.obs.policy_hashes.insert(name.to_string(), hash);
                self.changed_policies.push(name.to_string());
            }
            Err(e) => {
                self.obs.policy_hashes.remove(name);
                self.failed_policies.insert(name.to_string());
                self.obs.problems.push(UserProblem::new(
                    ADMIN_API_ERROR,
                    format!("policy {name}: {e}"),
                ));
            }
        }
    }

    async fn user(&mut self, name: &str, secret: Option<&Secret>, policy: &str) {
        let Some(secret) = secret else {
            self.fail(
                name,
                SECRET_MISSING,
                format!("user Secret {name} does not exist"),
            );
            return;
        };
        let data = secret_data(secret);
        let key = |k: &str| {
            data.get(k)
                .and_then(|v| String::from_utf8(v.clone()).ok())
                .filter(|v| !v.is_empty())
        };
        let (Some(access_key), Some(secret_key)) = (key(ACCESS_KEY), key(SECRET_KEY)) else {
            let missing: Vec<&str> = [ACCESS_KEY, SECRET_KEY]
                .into_iter()
                .filter(|k| key(k).is_none())
                .collect();
            self.fail(
                name,
                KEYS_MISSING,
                format!(
                    "user Secret {name} has no (or an empty or non-UTF-8) {}",
                    missing.join(" and ")
                ),
            );
            return;
        };
        if let Some(p) = policy
            .split(',')
            .find(|p| self.failed_policies.contains(*p))
        {
            self.fail(
                name,
                ADMIN_API_ERROR,
                format!("user Secret {name}: its policy {p} could not be created"),
            );
            return;
        }
        let hash = applied_hash(self.root, &["user", &access_key, &secret_key, policy]);
        if self.obs.user_hashes.get(name) == Some(&hash) {
            self.obs.provisioned.push(name.to_string());
            return;
        }
        let applied = async {
            self.api.add_user(&access_key, &secret_key).await?;
            self.api.set_user_policy(&access_key, policy).await
        }
        .await;
        match applied {
            Ok(()) => {
                self.obs.user_hashes.insert(name.to_string(), hash);
                self.obs.provisioned.push(name.to_string());
                self.changed_users.push(format!("{access_key} ({policy})"));
            }
            Err(e) => self.fail(
                name,
                ADMIN_API_ERROR,
                format!("user Secret {name} (access key {access_key}): {e}"),
            ),
        }
    }

    /// A user that is not provisioned: forgotten in the status, so the next pass retries.
    fn fail(&mut self, name: &str, reason: &'static str, message: String) {
        self.obs.user_hashes.remove(name);
        self.obs.problems.push(UserProblem::new(reason, message));
    }
}

/// Events: what changed (Normal), and a failure when its message is new (Warning).
async fn report(tenant: &Tenant, ctx: &Context, run: &Run<'_>) {
    if !run.changed_policies.is_empty() {
        ctx.event(
            tenant,
            EventType::Normal,
            "PoliciesApplied",
            "AddCannedPolicy",
            format!(
                "created or updated policy(ies) {}",
                run.changed_policies.join(", ")
            ),
        )
        .await;
    }
    if !run.changed_users.is_empty() {
        ctx.event(
            tenant,
            EventType::Normal,
            "UsersApplied",
            "AddUser",
            format!(
                "created or updated user(s) {}",
                run.changed_users.join(", ")
            ),
        )
        .await;
    }
    if run.obs.problems.is_empty() {
        return;
    }
    let message = status::users_problem_message(&run.obs.problems);
    let already = tenant
        .status
        .as_ref()
        .and_then(|s| status::find(s, status::USERS_PROVISIONED))
        .is_some_and(|c| c.message == message);
    if !already {
        ctx.event(
            tenant,
            EventType::Warning,
            "UserProvisioningFailed",
            "AddUser",
            message,
        )
        .await;
    }
}
