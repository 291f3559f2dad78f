//! The name an admin call has in the audit log: MinIO's admin handler name as its
//! `adminMiddleware` records it (the Go function name without `Handler`, e.g.
//! `AddUser`, `GetUserInfo`, `SetPolicyForUserOrGroup`), so that audit consumers
//! written for MinIO see the same `api.name`. Cairn's own paths get the name of the
//! MinIO call that does the same (`ServerInfo`, `Heal`, `BackgroundHealStatus`), or
//! MinIO's naming pattern (`KMSKeyReseal`).

use super::{HEAL_PATH, INFO_PATH, V3_SERVER_INFO};
use cairn_madmin::paths::Call;
use http::Method;

/// MinIO's handler name of the admin call at `path`; empty for an unknown path.
pub fn api_name(path: &str, method: &Method) -> &'static str {
    if let Some(call) = Call::from_path(path) {
        return call_name(call);
    }
    match path.trim_end_matches('/') {
        V3_SERVER_INFO | INFO_PATH => "ServerInfo",
        super::usage::PATH => "DataUsageInfo",
        HEAL_PATH if method == Method::POST => "Heal",
        HEAL_PATH => "BackgroundHealStatus",
        super::kms::STATUS_PATH => "KMSStatus",
        super::kms::KEY_STATUS_PATH => "KMSKeyStatus",
        // Cairn's own (re-seals object keys under the current KMS key).
        super::kms::RESEAL_PATH => "KMSKeyReseal",
        _ => "",
    }
}

fn call_name(call: Call) -> &'static str {
    match call {
        Call::AddUser => "AddUser",
        Call::RemoveUser => "RemoveUser",
        Call::UserInfo => "GetUserInfo",
        Call::ListUsers => "ListUsers",
        Call::SetUserStatus => "SetUserStatus",
        Call::UpdateGroupMembers => "UpdateGroupMembers",
        Call::Group => "GetGroup",
        Call::Groups => "ListGroups",
        Call::SetGroupStatus => "SetGroupStatus",
        Call::AddCannedPolicy => "AddCannedPolicy",
        Call::RemoveCannedPolicy => "RemoveCannedPolicy",
        Call::InfoCannedPolicy => "InfoCannedPolicy",
        Call::ListCannedPolicies => "ListCannedPolicies",
        Call::SetUserOrGroupPolicy => "SetPolicyForUserOrGroup",
        Call::AttachPolicy | Call::DetachPolicy => "AttachDetachPolicyBuiltin",
        Call::PolicyEntities => "ListPolicyMappingEntities",
        Call::AddServiceAccount => "AddServiceAccount",
        Call::UpdateServiceAccount => "UpdateServiceAccount",
        Call::InfoServiceAccount => "InfoServiceAccount",
        Call::ListServiceAccounts => "ListServiceAccounts",
        Call::DeleteServiceAccount => "DeleteServiceAccount",
        Call::AccountInfo => "AccountInfo",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minio_handler_names() {
        let get = Method::GET;
        assert_eq!(
            api_name("/minio/admin/v3/add-user", &Method::PUT),
            "AddUser"
        );
        assert_eq!(api_name("/minio/admin/v3/user-info", &get), "GetUserInfo");
        assert_eq!(api_name("/minio/admin/v3/accountinfo", &get), "AccountInfo");
        assert_eq!(api_name("/minio/admin/v3/info", &get), "ServerInfo");
        assert_eq!(
            api_name("/minio/admin/v3/datausageinfo", &get),
            "DataUsageInfo"
        );
        assert_eq!(api_name("/cairn/admin/v1/heal", &Method::POST), "Heal");
        assert_eq!(
            api_name("/minio/admin/v3/kms/key/status", &get),
            "KMSKeyStatus"
        );
        assert_eq!(api_name("/cairn/admin/v1/nope", &get), "");
        for call in Call::ALL {
            assert!(!call_name(call).is_empty());
        }
    }
}
