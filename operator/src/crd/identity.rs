//! The identity part of the Tenant spec: `users` (Secrets with an access key and a secret
//! key, as in MinIO's operator) and `policies` (named IAM policy documents declared with the
//! Tenant). MinIO's operator has only `users[].name` and attaches `consoleAdmin` to every
//! user; Cairn keeps that default and adds the optional `users[].policy` and `policies` so
//! that an application user can be limited to its own buckets. A MinIO Tenant still
//! migrates unchanged: both additions are optional. A policy document may live in a
//! ConfigMap (`policies[].configMapRef`) instead of the Tenant, so that it can be managed
//! apart from it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The policy a user gets when `policy` is not set: MinIO's operator's choice.
pub const DEFAULT_USER_POLICY: &str = "consoleAdmin";

/// The canned policies every MinIO-compatible server has; a user may name one without
/// declaring it in `spec.policies`.
pub const BUILTIN_POLICIES: &[&str] = &[
    "consoleAdmin",
    "readwrite",
    "readonly",
    "writeonly",
    "diagnostics",
];

/// A user created once the tenant is healthy.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TenantUser {
    /// Name of a Secret in the Tenant's namespace with `CONSOLE_ACCESS_KEY` and
    /// `CONSOLE_SECRET_KEY` (the user's access key and secret key).
    pub name: String,
    /// The policy attached to the user: a canned policy of the server (`consoleAdmin`,
    /// `readwrite`, `readonly`, `writeonly`, `diagnostics`) or the name of one of
    /// `spec.policies`. Several names may be given separated by commas. Default
    /// `consoleAdmin`, as MinIO's operator does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.@=+-]+(,[A-Za-z0-9_.@=+-]+)*$"))]
    pub policy: Option<String>,
}

impl TenantUser {
    /// The policy to attach: `policy`, or [`DEFAULT_USER_POLICY`].
    pub fn policy_name(&self) -> &str {
        self.policy
            .as_deref()
            .filter(|p| !p.is_empty())
            .unwrap_or(DEFAULT_USER_POLICY)
    }
}

/// A named IAM policy created on the tenant (`add-canned-policy`) before the users. Its
/// document is given inline (`document`) or read from a ConfigMap key (`configMapRef`),
/// exactly one of the two; a ConfigMap's document is read on every reconcile and a changed
/// one replaces the policy.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.document) != has(self.configMapRef)",
    "message": "give the policy document either inline (document) or as a ConfigMap key (configMapRef), exactly one of the two"
}]))]
pub struct TenantPolicy {
    /// Policy name, as users refer to it in `users[].policy`.
    #[schemars(length(min = 1, max = 128))]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_.@=+-]+$"))]
    pub name: String,
    /// The policy document: AWS IAM policy JSON (`{"Version": "2012-10-17",
    /// "Statement": [...]}`), as a string. Not with `configMapRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 2))]
    pub document: Option<String>,
    /// A key of a ConfigMap in the Tenant's namespace holding the policy document. Not
    /// with `document`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeyRef>,
}

/// Where a policy document is kept: `data[key]` (or `binaryData[key]`, UTF-8) of a
/// ConfigMap in the Tenant's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapKeyRef {
    /// Name of the ConfigMap.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key whose value is the policy document.
    #[schemars(length(min = 1, max = 253))]
    #[schemars(regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}
