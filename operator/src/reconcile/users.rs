//! Step 6b of a reconcile, after the buckets: the policies of `spec.policies` and the users
//! of `spec.users`, created through MinIO's admin API v3 once the tenant has write quorum,
//! and those the operator created but no longer declares removed.
//!
//! For each policy, `add-canned-policy` with its document (inline, or read from a ConfigMap
//! key: [`super::policy_source`]); then for each user Secret, `CONSOLE_ACCESS_KEY`/
//! `CONSOLE_SECRET_KEY` are read, `add-user` (an upsert) sets the secret key and
//! `set-user-or-group-policy` attaches `users[].policy` (default `consoleAdmin`, as MinIO's
//! operator). Last, `remove-user` for users of `status.managedUsers` no Secret declares any
//! more (an entry removed from `spec.users`, or a Secret whose `CONSOLE_ACCESS_KEY`
//! changed), then `remove-canned-policy` for policies of `status.managedPolicies` neither
//! declared nor named by a user ([`super::identity_cleanup`] decides). Only what the
//! operator applied is listed there, so users and policies made by hand are never removed
//! (but one a Secret or `spec.policies` declares is applied, and from then on managed).
//!
//! Idempotence without calling the tenant on every reconcile: the status keeps, per policy
//! and per user Secret, a keyed hash ([`applied_hash`]: HMAC-SHA256 under the root secret
//! key, so the status reveals nothing about a user's key) of what was last applied. A
//! policy or user whose hash is unchanged is not sent again; a changed Secret, policy name
//! or document (or ConfigMap key, or a new root secret) is re-applied. What this does not
//! notice: a user deleted on the tenant by hand (re-created when its Secret changes, or by
//! clearing `status.userHashes`). A removal that fails stays listed and is retried; one
//! the server answers 404 is done. Secret values are never logged nor put into Events or
//! conditions.

use std::collections::{BTreeMap, BTreeSet};

use hmac::{Hmac, Mac};
use k8s_openapi::api::core::v1::Secret;
use kube::api::Api;
use kube::runtime::events::EventType;
use sha2::Sha256;

use super::identity_cleanup::{Declared, policies_to_remove, users_to_remove};
use super::inputs::Inputs;
use super::policy_source::Sources;
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
#[derive(Default)]
struct Previous {
    users: Vec<String>,
    user_hashes: BTreeMap<String, String>,
    policy_hashes: BTreeMap<String, String>,
    managed_users: BTreeMap<String, String>,
    managed_policies: BTreeSet<String>,
}

fn previous(tenant: &Tenant) -> Previous {
    let Some(s): Option<&TenantStatus> = tenant.status.as_ref() else {
        return Previous::default();
    };
    let policy_hashes = s.policy_hashes.clone().unwrap_or_default();
    // Every policy with a hash was applied by the operator: a status written before
    // `managedPolicies` existed still says which ones.
    let managed_policies = s
        .managed_policies
        .iter()
        .flatten()
        .chain(policy_hashes.keys())
        .cloned()
        .collect();
    Previous {
        users: s.provisioned_users.clone().unwrap_or_default(),
        user_hashes: s.user_hashes.clone().unwrap_or_default(),
        policy_hashes,
        managed_users: s.managed_users.clone().unwrap_or_default(),
        managed_policies,
    }
}

/// Provisions policies and users when `write_ok`, and removes what is no longer declared;
/// otherwise reports what the status knew.
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
    let old = previous(tenant);
    if users.is_empty()
        && policies.is_empty()
        && old.managed_users.is_empty()
        && old.managed_policies.is_empty()
    {
        return Ok(None);
    }
    let wanted: BTreeSet<&str> = users.iter().map(|u| u.name.as_str()).collect();
    let mut obs = UsersObservation {
        wanted: users.len(),
        provisioned: old
            .users
            .into_iter()
            .filter(|u| wanted.contains(u.as_str()))
            .collect(),
        user_hashes: old
            .user_hashes
            .into_iter()
            .filter(|(k, _)| wanted.contains(k.as_str()))
            .collect(),
        policy_hashes: old
            .policy_hashes
            .into_iter()
            .filter(|(k, _)| policies.iter().any(|p| &p.name == k))
            .collect(),
        managed_users: old.managed_users,
        managed_policies: old.managed_policies,
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
        declared: Declared {
            policies: policies.iter().map(|p| p.name.clone()).collect(),
            user_policies: users
                .iter()
                .flat_map(|u| u.policy_name().split(','))
                .map(str::to_string)
                .collect(),
            ..Declared::default()
        },
        changes: Changes::default(),
    };
    let mut sources = Sources::new(Api::namespaced(ctx.client.clone(), &inputs.namespace));
    for policy in &policies {
        match sources.document(policy).await? {
            Ok(document) => run.policy(&policy.name, &document).await,
            Err(problem) => run.policy_failed(&policy.name, problem),
        }
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &inputs.namespace);
    // The provisioned list is rebuilt in spec order from this pass.
    run.obs.provisioned.clear();
    for user in &users {
        let secret = secrets.get_opt(&user.name).await?;
        run.user(&user.name, secret.as_ref(), user.policy_name())
            .await;
    }
    run.remove_undeclared().await;
    report(tenant, ctx, &run).await;
    Ok(Some(run.obs))
}

/// What a pass changed on the tenant, for the Events.
#[derive(Default)]
struct Changes {
    policies: Vec<String>,
    users: Vec<String>,
    removed_users: Vec<String>,
    removed_policies: Vec<String>,
}

/// One provisioning pass against a connected tenant.
struct Run<'a> {
    api: &'a dyn TenantApi,
    root: &'a str,
    obs: UsersObservation,
    failed_policies: BTreeSet<String>,
    /// Access keys and Secrets seen this pass, for the removals.
    declared: Declared,
    changes: Changes,
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
                self.obs.managed_policies.insert(name.to_string());
                self.changes.policies.push(name.to_string());
            }
            Err(e) => self.policy_failed(
                name,
                UserProblem::new(ADMIN_API_ERROR, format!("policy {name}: {e}")),
            ),
        }
    }

    /// A policy that is not applied: forgotten in the hashes (the next pass retries), and
    /// its users are not provisioned.
    fn policy_failed(&mut self, name: &str, problem: UserProblem) {
        self.obs.policy_hashes.remove(name);
        self.failed_policies.insert(name.to_string());
        self.obs.problems.push(problem);
    }

    async fn user(&mut self, name: &str, secret: Option<&Secret>, policy: &str) {
        let Some(secret) = secret else {
            self.declared.unread_secrets.insert(name.to_string());
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
            self.declared.unread_secrets.insert(name.to_string());
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
        self.declared.access_keys.insert(access_key.clone());
        if let Some(p) = policy
            .split(',')
            .find(|p| self.failed_policies.contains(*p))
        {
            self.fail(
                name,
                ADMIN_API_ERROR,
                format!("user Secret {name}: its policy {p} could not be applied"),
            );
            return;
        }
        let hash = applied_hash(self.root, &["user", &access_key, &secret_key, policy]);
        if self.obs.user_hashes.get(name) == Some(&hash) {
            // Applied earlier (perhaps before `managedUsers` existed): the operator's.
            self.obs
                .managed_users
                .insert(access_key.clone(), name.to_string());
            self.obs.provisioned.push(name.to_string());
            return;
        }
        if let Err(e) = self.api.add_user(&access_key, &secret_key).await {
            self.fail_admin(name, &access_key, e);
            return;
        }
        self.obs
            .managed_users
            .insert(access_key.clone(), name.to_string());
        match self.api.set_user_policy(&access_key, policy).await {
            Ok(()) => {
                self.obs.user_hashes.insert(name.to_string(), hash);
                self.obs.provisioned.push(name.to_string());
                self.changes.users.push(format!("{access_key} ({policy})"));
            }
            Err(e) => self.fail_admin(name, &access_key, e),
        }
    }

    fn fail_admin(&mut self, name: &str, access_key: &str, e: crate::tenant::TenantError) {
        self.fail(
            name,
            ADMIN_API_ERROR,
            format!("user Secret {name} (access key {access_key}): {e}"),
        );
    }

    /// A user that is not provisioned: forgotten in the status, so the next pass retries.
    fn fail(&mut self, name: &str, reason: &'static str, message: String) {
        self.obs.user_hashes.remove(name);
        self.obs.problems.push(UserProblem::new(reason, message));
    }

    /// Removes the users, then the policies, that the operator created and nothing
    /// declares any more. A failed removal stays listed, so the next pass retries it.
    async fn remove_undeclared(&mut self) {
        for access_key in users_to_remove(&self.obs.managed_users, &self.declared) {
            match self.api.remove_user(&access_key).await {
                Ok(_) => {
                    self.obs.managed_users.remove(&access_key);
                    self.changes.removed_users.push(access_key);
                }
                Err(e) => self.obs.problems.push(UserProblem::new(
                    ADMIN_API_ERROR,
                    format!("removing user {access_key}: {e}"),
                )),
            }
        }
        for name in policies_to_remove(&self.obs.managed_policies, &self.declared) {
            match self.api.remove_canned_policy(&name).await {
                Ok(_) => {
                    self.obs.managed_policies.remove(&name);
                    self.changes.removed_policies.push(name);
                }
                Err(e) => self.obs.problems.push(UserProblem::new(
                    ADMIN_API_ERROR,
                    format!("removing policy {name}: {e}"),
                )),
            }
        }
    }
}

/// Events: what changed (Normal), and a failure when its message is new (Warning).
async fn report(tenant: &Tenant, ctx: &Context, run: &Run<'_>) {
    let changes = [
        (
            &run.changes.policies,
            "PoliciesApplied",
            "AddCannedPolicy",
            "created or updated policy(ies)",
        ),
        (
            &run.changes.users,
            "UsersApplied",
            "AddUser",
            "created or updated user(s)",
        ),
        (
            &run.changes.removed_users,
            "UsersRemoved",
            "RemoveUser",
            "removed user(s) no longer declared:",
        ),
        (
            &run.changes.removed_policies,
            "PoliciesRemoved",
            "RemoveCannedPolicy",
            "removed policy(ies) no longer declared:",
        ),
    ];
    for (names, reason, action, words) in changes {
        if !names.is_empty() {
            let note = format!("{words} {}", names.join(", "));
            ctx.event(tenant, EventType::Normal, reason, action, note)
                .await;
        }
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
