//! JSON bodies of the identity calls, with the field names, omissions and null handling of
//! madmin-go (user-commands.go, group-commands.go, policy-commands.go, idp-commands.go)
//! and of what minio-py's `MinioAdmin` sends.
//!
//! Rules carried over from Go's encoding/json, so either side reads the other:
//! - a field tagged `omitempty` in madmin-go is left out when empty here too
//!   (`skip_serializing_if`); untagged fields are always written;
//! - Go writes a nil slice as `null` and clients (minio-py) send `null` for unset keys, so
//!   lists and strings read `null` as empty ([`null_as_default`]); missing fields are empty;
//! - unknown fields are ignored (minio-py adds `status` to add-service-account);
//! - timestamps are Go `time.Time` text, RFC 3339 with optional fractional seconds; a
//!   `time.Time` that is not a pointer is never omitted, and its zero value is
//!   [`GO_ZERO_TIME`]. Service accounts without expiry carry `1970-01-01T00:00:00Z` in
//!   MinIO ([`NO_EXPIRY`]).
//!
//! Which of these bodies travel encrypted is in [`crate::paths`].

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

mod account;
pub use account::*;

/// Go's zero `time.Time` as encoding/json writes it.
pub const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// The expiration MinIO gives service accounts that never expire (madmin-go's
/// `timeSentinel`, Unix time 0).
pub const NO_EXPIRY: &str = "1970-01-01T00:00:00Z";

/// Reads `null` as the type's default, the way Go leaves a field empty on `null`.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn go_zero_time() -> String {
    GO_ZERO_TIME.to_owned()
}

/// Status of a user or a group (`madmin.AccountStatus`, `madmin.GroupStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "enabled")]
    Enabled,
    #[serde(rename = "disabled")]
    Disabled,
    /// Go's empty string: sent by change-my-password and by group updates that leave the
    /// status alone. A server keeps the current status.
    #[default]
    #[serde(rename = "")]
    Unset,
}

impl Status {
    /// The query-string form (`set-user-status?status=`, `set-group-status?status=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Enabled => "enabled",
            Status::Disabled => "disabled",
            Status::Unset => "",
        }
    }
}

/// Body of add-user (encrypted): `madmin.AddOrUpdateUserReq`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddOrUpdateUserReq {
    #[serde(
        rename = "secretKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_key: String,
    /// Comma-separated policy names to attach; empty keeps the current ones.
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: Status,
}

/// How a user authenticates (`madmin.UserAuthInfo`): "builtin" for ours.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct UserAuthInfo {
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub auth_type: String,
    #[serde(
        rename = "authServer",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub auth_server: String,
    #[serde(
        rename = "authServerUserID",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub auth_server_user_id: String,
}

/// Response of user-info (plain) and each value of list-users (encrypted):
/// `madmin.UserInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserInfo {
    #[serde(
        rename = "userAuthInfo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub auth_info: Option<UserAuthInfo>,
    /// MinIO leaves it out of listings; never send another user's secret.
    #[serde(
        rename = "secretKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_key: String,
    /// Comma-separated policy names.
    #[serde(
        rename = "policyName",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub policy_name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: Status,
    #[serde(
        rename = "memberOf",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub member_of: Vec<String>,
    #[serde(rename = "updatedAt", default = "go_zero_time")]
    pub updated_at: String,
}

/// Response of list-users (encrypted): access key to user.
pub type UserList = BTreeMap<String, UserInfo>;

/// Body of update-group-members (plain): `madmin.GroupAddRemove`. With `is_remove` and no
/// members it removes the group itself (MinIO refuses if the group still has members).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct GroupAddRemove {
    #[serde(default, deserialize_with = "null_as_default")]
    pub group: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub members: Vec<String>,
    #[serde(rename = "groupStatus", default, deserialize_with = "null_as_default")]
    pub status: Status,
    #[serde(rename = "isRemove", default, deserialize_with = "null_as_default")]
    pub is_remove: bool,
}

/// Response of group (plain): `madmin.GroupDesc`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDesc {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// "enabled" or "disabled" (a plain string in madmin-go).
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub members: Vec<String>,
    /// Comma-separated policy names.
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy: String,
    #[serde(rename = "updatedAt", default = "go_zero_time")]
    pub updated_at: String,
}

/// Response of groups (plain): the group names.
pub type GroupList = Vec<String>;

/// Body of idp/builtin/policy/attach and .../detach (encrypted):
/// `madmin.PolicyAssociationReq`. Exactly one of `user` and `group` is set.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PolicyAssociationReq {
    #[serde(default, deserialize_with = "null_as_default")]
    pub policies: Vec<String>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub group: String,
    /// LDAP only.
    #[serde(
        rename = "configName",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub config_name: String,
}

impl PolicyAssociationReq {
    /// madmin-go's `IsValid`: the reason a request is malformed, if it is.
    pub fn validate(&self) -> Result<(), &'static str> {
        if self.policies.is_empty() {
            return Err("no policy names were given");
        }
        if self.policies.iter().any(String::is_empty) {
            return Err("an empty policy name was given");
        }
        match (self.user.is_empty(), self.group.is_empty()) {
            (true, true) => Err("no user or group association was given"),
            (false, false) => Err("either a group or a user association must be given, not both"),
            _ => Ok(()),
        }
    }
}

/// Response of attach/detach (encrypted, status 200): `madmin.PolicyAssociationResp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyAssociationResp {
    #[serde(
        rename = "policiesAttached",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policies_attached: Vec<String>,
    #[serde(
        rename = "policiesDetached",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policies_detached: Vec<String>,
    #[serde(rename = "updatedAt", default = "go_zero_time")]
    pub updated_at: String,
}

/// Response of idp/builtin/policy-entities (encrypted): `madmin.PolicyEntitiesResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntitiesResult {
    #[serde(default = "go_zero_time")]
    pub timestamp: String,
    #[serde(
        rename = "userMappings",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub user_mappings: Vec<UserPolicyEntities>,
    #[serde(
        rename = "groupMappings",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub group_mappings: Vec<GroupPolicyEntities>,
    #[serde(
        rename = "policyMappings",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub policy_mappings: Vec<PolicyEntities>,
}

/// A user and the policies attached to it directly and through its groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserPolicyEntities {
    #[serde(default, deserialize_with = "null_as_default")]
    pub user: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub policies: Vec<String>,
    #[serde(
        rename = "memberOfMappings",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub member_of_mappings: Vec<GroupPolicyEntities>,
}

/// A group and its policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPolicyEntities {
    #[serde(default, deserialize_with = "null_as_default")]
    pub group: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub policies: Vec<String>,
}

/// A policy and the users and groups it is attached to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyEntities {
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub users: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub groups: Vec<String>,
}

/// Response of info-canned-policy with `v=2` (plain): `madmin.PolicyInfo`. Without `v`,
/// MinIO answers with the policy document alone. Go field names, no JSON tags; both dates
/// are left out when zero.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PolicyInfo {
    #[serde(rename = "PolicyName", default, deserialize_with = "null_as_default")]
    pub policy_name: String,
    #[serde(rename = "Policy", default)]
    pub policy: Value,
    #[serde(
        rename = "CreateDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub create_date: Option<String>,
    #[serde(
        rename = "UpdateDate",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub update_date: Option<String>,
}

/// Response of list-canned-policies (plain): policy name to policy document.
pub type CannedPolicies = BTreeMap<String, Value>;

/// Body of add-service-account (encrypted): `madmin.AddServiceAccountReq`. Every field
/// is optional: no access or secret key means the server generates them, no target user
/// means the caller, no policy means the parent's policies apply.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AddServiceAccountReq {
    /// A policy document (JSON object), not its text. `null` reads as none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Value>,
    #[serde(
        rename = "targetUser",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub target_user: String,
    #[serde(
        rename = "accessKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub access_key: String,
    #[serde(
        rename = "secretKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_key: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
    /// OpenID/LDAP only.
    #[serde(
        rename = "configName",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub config_name: String,
}

/// Credentials returned by add-service-account (`madmin.Credentials`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Credentials {
    #[serde(
        rename = "accessKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub access_key: String,
    #[serde(
        rename = "secretKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub secret_key: String,
    #[serde(
        rename = "sessionToken",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub session_token: String,
    /// Go writes its zero time when there is none; a missing field reads the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// Response of add-service-account (encrypted): `madmin.AddServiceAccountResp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AddServiceAccountResp {
    pub credentials: Credentials,
}

/// Body of update-service-account (encrypted): `madmin.UpdateServiceAccountReq`. Empty
/// fields leave the account's value alone.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct UpdateServiceAccountReq {
    #[serde(rename = "newPolicy", default, skip_serializing_if = "Option::is_none")]
    pub new_policy: Option<Value>,
    #[serde(
        rename = "newSecretKey",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub new_secret_key: String,
    /// "on" or "off" (MinIO's service-account statuses; not "enabled").
    #[serde(
        rename = "newStatus",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub new_status: String,
    #[serde(
        rename = "newName",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub new_name: String,
    #[serde(
        rename = "newDescription",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub new_description: String,
    #[serde(
        rename = "newExpiration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub new_expiration: Option<String>,
}

/// Response of info-service-account (encrypted): `madmin.InfoServiceAccountResp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InfoServiceAccountResp {
    #[serde(rename = "parentUser", default, deserialize_with = "null_as_default")]
    pub parent_user: String,
    #[serde(
        rename = "parentUserStatus",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub parent_user_status: String,
    /// "on" or "off".
    #[serde(
        rename = "accountStatus",
        default,
        deserialize_with = "null_as_default"
    )]
    pub account_status: String,
    /// True when the account has no policy of its own and inherits its parent's.
    #[serde(
        rename = "impliedPolicy",
        default,
        deserialize_with = "null_as_default"
    )]
    pub implied_policy: bool,
    /// The effective policy document as JSON **text** (a Go string, not an object).
    #[serde(default, deserialize_with = "null_as_default")]
    pub policy: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// One entry of list-service-accounts: `madmin.ServiceAccountInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ServiceAccountInfo {
    #[serde(rename = "parentUser", default, deserialize_with = "null_as_default")]
    pub parent_user: String,
    #[serde(
        rename = "accountStatus",
        default,
        deserialize_with = "null_as_default"
    )]
    pub account_status: String,
    #[serde(
        rename = "impliedPolicy",
        default,
        deserialize_with = "null_as_default"
    )]
    pub implied_policy: bool,
    #[serde(rename = "accessKey", default, deserialize_with = "null_as_default")]
    pub access_key: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub name: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}

/// Response of list-service-accounts (encrypted): `madmin.ListServiceAccountsResp`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ListServiceAccountsResp {
    #[serde(default, deserialize_with = "null_as_default")]
    pub accounts: Vec<ServiceAccountInfo>,
}

/// The JSON error body of every admin call (MinIO's `APIErrorResponse`, read by
/// madmin-go as `ErrorResponse`); minio-py shows it to the user as text.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ErrorResponse {
    #[serde(rename = "Code", default, deserialize_with = "null_as_default")]
    pub code: String,
    #[serde(rename = "Message", default, deserialize_with = "null_as_default")]
    pub message: String,
    #[serde(
        rename = "Key",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub key: String,
    #[serde(
        rename = "BucketName",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub bucket_name: String,
    /// The request path.
    #[serde(rename = "Resource", default, deserialize_with = "null_as_default")]
    pub resource: String,
    #[serde(
        rename = "Region",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub region: String,
    #[serde(rename = "RequestId", default, deserialize_with = "null_as_default")]
    pub request_id: String,
    #[serde(rename = "HostId", default, deserialize_with = "null_as_default")]
    pub host_id: String,
}

#[cfg(test)]
mod tests;
