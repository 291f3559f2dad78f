//! Each identity call of MinIO's admin API v3: path, HTTP method, query parameters, which
//! bodies are encrypted and the success status, as MinIO's router (cmd/admin-router.go)
//! and handlers (cmd/admin-handlers-users.go) define them and madmin-go and minio-py call
//! them. The table in the crate doc is this file in prose.
//!
//! A server routes with [`Call::from_path`] (then checks [`Call::method`], answering 405
//! otherwise); a client builds `ADMIN_PREFIX + "/" + call.name()` plus the query names.

/// Prefix of every admin v3 path. (madmin-go releases since 2025 default to `/v4/` unless
/// `MADMIN_API_VERSION=v3`; mc and minio-py 7.2 use v3.)
pub const ADMIN_PREFIX: &str = "/minio/admin/v3";

/// Content-Type MinIO requires on attach/detach requests (and minio-py sends on all).
pub const ENCRYPTED_CONTENT_TYPE: &str = "application/octet-stream";

/// Query parameter names.
pub mod query {
    /// The user or service account a call is about.
    pub const ACCESS_KEY: &str = "accessKey";
    /// "enabled" or "disabled" in set-user-status and set-group-status.
    pub const STATUS: &str = "status";
    pub const GROUP: &str = "group";
    /// A canned policy's name.
    pub const NAME: &str = "name";
    /// `v=2` asks info-canned-policy for a `PolicyInfo` instead of the bare document.
    pub const VERSION: &str = "v";
    pub const POLICY_NAME: &str = "policyName";
    pub const USER_OR_GROUP: &str = "userOrGroup";
    /// "true" or "false".
    pub const IS_GROUP: &str = "isGroup";
    /// list-service-accounts' parent user; policy-entities' filter (repeatable).
    pub const USER: &str = "user";
    /// policy-entities' filter (repeatable).
    pub const POLICY: &str = "policy";
    /// "true" adds per-prefix usage to accountinfo.
    pub const PREFIX_USAGE: &str = "prefix-usage";
    /// Restricts list-users and list-canned-policies to those with access to a bucket.
    pub const BUCKET: &str = "bucket";
}

/// HTTP method of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// What a request or a successful response carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// Nothing (an empty body).
    None,
    /// JSON as is.
    Json,
    /// JSON encrypted with the requester's secret key ([`crate::crypt`]).
    Encrypted,
}

/// One identity call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    AddUser,
    RemoveUser,
    UserInfo,
    ListUsers,
    SetUserStatus,
    UpdateGroupMembers,
    Group,
    Groups,
    SetGroupStatus,
    AddCannedPolicy,
    RemoveCannedPolicy,
    InfoCannedPolicy,
    ListCannedPolicies,
    SetUserOrGroupPolicy,
    AttachPolicy,
    DetachPolicy,
    PolicyEntities,
    AddServiceAccount,
    UpdateServiceAccount,
    InfoServiceAccount,
    ListServiceAccounts,
    DeleteServiceAccount,
    AccountInfo,
}

/// Everything about a call that is on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallSpec {
    pub call: Call,
    /// The path after [`ADMIN_PREFIX`] and its slash.
    pub name: &'static str,
    pub method: Method,
    /// Query parameters MinIO's router requires (it answers 404 without them).
    pub required_query: &'static [&'static str],
    /// Query parameters that may be given.
    pub optional_query: &'static [&'static str],
    pub request: Body,
    /// The [`crate::types`] type (or document) of the request body, if any.
    pub request_type: Option<&'static str>,
    pub response: Body,
    /// The [`crate::types`] type of the response body, if any.
    pub response_type: Option<&'static str>,
    /// Status of success. Clients check it exactly: madmin-go wants 204 where given here,
    /// and accepts 201 or 204 with no body from older servers on attach/detach.
    pub success_status: u16,
}

use Body::{Encrypted, Json};
use query::*;

const fn spec(call: Call, name: &'static str, method: Method) -> CallSpec {
    CallSpec {
        call,
        name,
        method,
        required_query: &[],
        optional_query: &[],
        request: Body::None,
        request_type: None,
        response: Body::None,
        response_type: None,
        success_status: 200,
    }
}

/// In the order of [`Call::ALL`] (a test checks it).
const SPECS: [CallSpec; 23] = [
    CallSpec {
        required_query: &[ACCESS_KEY],
        request: Encrypted,
        request_type: Some("AddOrUpdateUserReq"),
        ..spec(Call::AddUser, "add-user", Method::Put)
    },
    CallSpec {
        required_query: &[ACCESS_KEY],
        ..spec(Call::RemoveUser, "remove-user", Method::Delete)
    },
    CallSpec {
        required_query: &[ACCESS_KEY],
        response: Json,
        response_type: Some("UserInfo"),
        ..spec(Call::UserInfo, "user-info", Method::Get)
    },
    CallSpec {
        optional_query: &[BUCKET],
        response: Encrypted,
        response_type: Some("UserList"),
        ..spec(Call::ListUsers, "list-users", Method::Get)
    },
    CallSpec {
        required_query: &[ACCESS_KEY, STATUS],
        ..spec(Call::SetUserStatus, "set-user-status", Method::Put)
    },
    CallSpec {
        request: Json,
        request_type: Some("GroupAddRemove"),
        ..spec(
            Call::UpdateGroupMembers,
            "update-group-members",
            Method::Put,
        )
    },
    CallSpec {
        required_query: &[GROUP],
        response: Json,
        response_type: Some("GroupDesc"),
        ..spec(Call::Group, "group", Method::Get)
    },
    CallSpec {
        response: Json,
        response_type: Some("GroupList"),
        ..spec(Call::Groups, "groups", Method::Get)
    },
    CallSpec {
        required_query: &[GROUP, STATUS],
        ..spec(Call::SetGroupStatus, "set-group-status", Method::Put)
    },
    CallSpec {
        required_query: &[NAME],
        request: Json,
        request_type: Some("policy document"),
        ..spec(Call::AddCannedPolicy, "add-canned-policy", Method::Put)
    },
    CallSpec {
        required_query: &[NAME],
        ..spec(
            Call::RemoveCannedPolicy,
            "remove-canned-policy",
            Method::Delete,
        )
    },
    CallSpec {
        required_query: &[NAME],
        optional_query: &[VERSION],
        response: Json,
        response_type: Some("PolicyInfo (v=2), else the policy document"),
        ..spec(Call::InfoCannedPolicy, "info-canned-policy", Method::Get)
    },
    CallSpec {
        optional_query: &[BUCKET],
        response: Json,
        response_type: Some("CannedPolicies"),
        ..spec(
            Call::ListCannedPolicies,
            "list-canned-policies",
            Method::Get,
        )
    },
    CallSpec {
        required_query: &[POLICY_NAME, USER_OR_GROUP, IS_GROUP],
        ..spec(
            Call::SetUserOrGroupPolicy,
            "set-user-or-group-policy",
            Method::Put,
        )
    },
    CallSpec {
        request: Encrypted,
        request_type: Some("PolicyAssociationReq"),
        response: Encrypted,
        response_type: Some("PolicyAssociationResp"),
        ..spec(
            Call::AttachPolicy,
            "idp/builtin/policy/attach",
            Method::Post,
        )
    },
    CallSpec {
        request: Encrypted,
        request_type: Some("PolicyAssociationReq"),
        response: Encrypted,
        response_type: Some("PolicyAssociationResp"),
        ..spec(
            Call::DetachPolicy,
            "idp/builtin/policy/detach",
            Method::Post,
        )
    },
    CallSpec {
        optional_query: &[USER, GROUP, POLICY],
        response: Encrypted,
        response_type: Some("PolicyEntitiesResult"),
        ..spec(
            Call::PolicyEntities,
            "idp/builtin/policy-entities",
            Method::Get,
        )
    },
    CallSpec {
        request: Encrypted,
        request_type: Some("AddServiceAccountReq"),
        response: Encrypted,
        response_type: Some("AddServiceAccountResp"),
        ..spec(Call::AddServiceAccount, "add-service-account", Method::Put)
    },
    CallSpec {
        required_query: &[ACCESS_KEY],
        request: Encrypted,
        request_type: Some("UpdateServiceAccountReq"),
        success_status: 204,
        ..spec(
            Call::UpdateServiceAccount,
            "update-service-account",
            Method::Post,
        )
    },
    CallSpec {
        required_query: &[ACCESS_KEY],
        response: Encrypted,
        response_type: Some("InfoServiceAccountResp"),
        ..spec(
            Call::InfoServiceAccount,
            "info-service-account",
            Method::Get,
        )
    },
    CallSpec {
        optional_query: &[USER],
        response: Encrypted,
        response_type: Some("ListServiceAccountsResp"),
        ..spec(
            Call::ListServiceAccounts,
            "list-service-accounts",
            Method::Get,
        )
    },
    CallSpec {
        required_query: &[ACCESS_KEY],
        success_status: 204,
        ..spec(
            Call::DeleteServiceAccount,
            "delete-service-account",
            Method::Delete,
        )
    },
    CallSpec {
        optional_query: &[PREFIX_USAGE],
        response: Json,
        response_type: Some("AccountInfo"),
        ..spec(Call::AccountInfo, "accountinfo", Method::Get)
    },
];

impl Call {
    /// Every call, in table order.
    pub const ALL: [Call; 23] = [
        Call::AddUser,
        Call::RemoveUser,
        Call::UserInfo,
        Call::ListUsers,
        Call::SetUserStatus,
        Call::UpdateGroupMembers,
        Call::Group,
        Call::Groups,
        Call::SetGroupStatus,
        Call::AddCannedPolicy,
        Call::RemoveCannedPolicy,
        Call::InfoCannedPolicy,
        Call::ListCannedPolicies,
        Call::SetUserOrGroupPolicy,
        Call::AttachPolicy,
        Call::DetachPolicy,
        Call::PolicyEntities,
        Call::AddServiceAccount,
        Call::UpdateServiceAccount,
        Call::InfoServiceAccount,
        Call::ListServiceAccounts,
        Call::DeleteServiceAccount,
        Call::AccountInfo,
    ];

    /// Everything on the wire about this call.
    pub fn spec(self) -> &'static CallSpec {
        &SPECS[self as usize]
    }

    /// The path after `/minio/admin/v3/`, e.g. `add-user`.
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The full path, e.g. `/minio/admin/v3/add-user`.
    pub fn path(self) -> String {
        format!("{ADMIN_PREFIX}/{}", self.name())
    }

    pub fn method(self) -> Method {
        self.spec().method
    }

    /// The call a request path names, whatever its method (so a server can answer 405 for
    /// a wrong one). `None` for paths outside these calls.
    pub fn from_path(path: &str) -> Option<Call> {
        let name = path.strip_prefix(ADMIN_PREFIX)?.strip_prefix('/')?;
        Call::ALL.into_iter().find(|c| c.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_call_order_and_names_are_unique() {
        for (i, call) in Call::ALL.into_iter().enumerate() {
            assert_eq!(SPECS[i].call, call);
            assert_eq!(call.spec().call, call);
            assert_eq!(Call::from_path(&call.path()), Some(call));
        }
        let mut names: Vec<_> = SPECS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SPECS.len());
    }

    #[test]
    fn routes_only_exact_v3_paths() {
        assert_eq!(
            Call::from_path("/minio/admin/v3/add-user"),
            Some(Call::AddUser)
        );
        assert_eq!(
            Call::from_path("/minio/admin/v3/idp/builtin/policy/attach"),
            Some(Call::AttachPolicy)
        );
        assert_eq!(Call::from_path("/minio/admin/v3/add-user/"), None);
        assert_eq!(Call::from_path("/minio/admin/v4/add-user"), None);
        assert_eq!(Call::from_path("/minio/admin/v3add-user"), None);
        assert_eq!(
            Call::from_path("/minio/admin/v3/idp/builtin/policy/x"),
            None
        );
        assert_eq!(Call::from_path("/minio/admin/v3/info"), None);
    }

    /// The facts clients depend on, spelled out against madmin-go and minio-py.
    #[test]
    fn wire_facts() {
        let s = Call::AddUser.spec();
        assert_eq!(
            (s.method, s.request, s.required_query),
            (Method::Put, Encrypted, &[ACCESS_KEY][..])
        );
        // user-info answers in clear; list-users encrypts.
        assert_eq!(Call::UserInfo.spec().response, Json);
        assert_eq!(Call::ListUsers.spec().response, Encrypted);
        // Group membership and canned policies travel in clear.
        assert_eq!(Call::UpdateGroupMembers.spec().request, Json);
        assert_eq!(Call::AddCannedPolicy.spec().request, Json);
        // attach/detach: POST, encrypted both ways.
        for c in [Call::AttachPolicy, Call::DetachPolicy] {
            let s = c.spec();
            assert_eq!(
                (s.method, s.request, s.response),
                (Method::Post, Encrypted, Encrypted)
            );
        }
        // Service accounts: everything with a body is encrypted; update and delete are 204.
        for c in [
            Call::AddServiceAccount,
            Call::UpdateServiceAccount,
            Call::InfoServiceAccount,
            Call::ListServiceAccounts,
        ] {
            let s = c.spec();
            assert!(s.request == Encrypted || s.response == Encrypted, "{c:?}");
            assert_ne!(s.request, Json);
            assert_ne!(s.response, Json);
        }
        assert_eq!(Call::UpdateServiceAccount.spec().success_status, 204);
        assert_eq!(Call::UpdateServiceAccount.method(), Method::Post);
        assert_eq!(Call::DeleteServiceAccount.spec().success_status, 204);
        assert_eq!(Call::DeleteServiceAccount.method(), Method::Delete);
        assert_eq!(Call::AddServiceAccount.spec().success_status, 200);
        assert_eq!(
            Call::SetUserOrGroupPolicy.spec().required_query,
            &["policyName", "userOrGroup", "isGroup"]
        );
        assert_eq!(Call::InfoCannedPolicy.spec().optional_query, &["v"]);
        assert_eq!(Method::Delete.as_str(), "DELETE");
    }
}
