//! Users: add-user (create or update, encrypted body), remove-user, user-info (never
//! the secret), list-users (encrypted; `bucket=B` lists only the users whose policies
//! grant something on B) and set-user-status.

use super::bucket_access::grants_bucket;
use super::effective::policy_names;
use super::{Ctx, clear, empty, invalid, time};
use crate::admin::ApiError;
use crate::body::RespBody;
use crate::iam::state::{IamState, Status, split_policy_names};
use cairn_madmin::types::{self as mt, AddOrUpdateUserReq, UserAuthInfo, UserInfo, UserList};
use http::{Response, StatusCode};

pub(super) fn wire_status(s: Status) -> mt::Status {
    match s {
        Status::Enabled => mt::Status::Enabled,
        Status::Disabled => mt::Status::Disabled,
    }
}

/// The user as user-info shows it: no secret.
fn describe(state: &IamState, name: &str) -> Option<UserInfo> {
    let u = state.users.get(name)?;
    Some(UserInfo {
        auth_info: Some(UserAuthInfo {
            auth_type: "builtin".into(),
            ..Default::default()
        }),
        secret_key: String::new(),
        policy_name: u.policies.join(","),
        status: wire_status(u.status),
        member_of: state.groups_of(name),
        updated_at: time(u.updated_ms),
    })
}

pub(super) async fn add(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:CreateUser")?;
    let ak = ctx.required("accessKey")?.to_string();
    if ak == ctx.caller.access_key {
        return Err(invalid("a caller cannot change its own user with add-user"));
    }
    let req: AddOrUpdateUserReq = ctx.decrypt().await?;
    let status = match req.status {
        mt::Status::Enabled => Some(Status::Enabled),
        mt::Status::Disabled => Some(Status::Disabled),
        mt::Status::Unset => None,
    };
    let policies = (!req.policy.is_empty()).then(|| split_policy_names(&req.policy));
    let root = ctx.root().to_string();
    ctx.svc
        .iam
        .update(|s, now| s.set_user(&root, &ak, &req.secret_key, status, policies, now))
        .await?;
    tracing::info!(access_key = %ak, by = %ctx.caller.access_key, "admin: user added or updated");
    Ok(empty(StatusCode::OK))
}

pub(super) async fn remove(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:DeleteUser")?;
    let ak = ctx.required("accessKey")?.to_string();
    if ak == ctx.caller.user {
        return Err(invalid("a user cannot remove itself"));
    }
    ctx.svc.iam.update(|s, _| s.remove_user(&ak)).await?;
    tracing::info!(access_key = %ak, by = %ctx.caller.access_key, "admin: user removed");
    Ok(empty(StatusCode::OK))
}

/// A user may read its own information; others need admin:GetUser.
pub(super) fn info(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let ak = ctx.required("accessKey")?;
    let own = ak == ctx.caller.user && ctx.caller.kind == crate::iam::Kind::User;
    if !own {
        ctx.require("admin:GetUser")?;
    }
    let snap = ctx.svc.iam.snapshot();
    let info = describe(&snap.state, ak)
        .ok_or_else(|| ApiError::from(crate::iam::IamError::NoSuchUser(ak.to_string())))?;
    Ok(clear(&info))
}

/// Every user, or (`bucket=B`, MinIO's ListBucketUsers) only those with a policy that
/// grants something on B, each showing only those policies.
pub(super) async fn list(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:ListUsers")?;
    let snap = ctx.svc.iam.snapshot();
    let bucket = ctx.q("bucket").filter(|b| !b.is_empty());
    let mut list = UserList::new();
    for name in snap.state.users.keys() {
        let Some(mut info) = describe(&snap.state, name) else {
            continue;
        };
        if let Some(b) = bucket {
            let granting: Vec<String> = policy_names(&snap.state, name)
                .into_iter()
                .filter(|p| snap.policy(p).is_some_and(|p| grants_bucket(p, name, b)))
                .collect();
            if granting.is_empty() {
                continue;
            }
            info.policy_name = granting.join(",");
        }
        list.insert(name.clone(), info);
    }
    ctx.encrypted(&list).await
}

pub(super) async fn set_status(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let ak = ctx.required("accessKey")?.to_string();
    let status = match ctx.required("status")? {
        "enabled" => Status::Enabled,
        "disabled" => Status::Disabled,
        other => {
            return Err(invalid(format!(
                "status {other:?} is neither enabled nor disabled"
            )));
        }
    };
    ctx.require(match status {
        Status::Enabled => "admin:EnableUser",
        Status::Disabled => "admin:DisableUser",
    })?;
    if ak == ctx.caller.user {
        return Err(invalid("a user cannot change its own status"));
    }
    ctx.svc
        .iam
        .update(|s, now| s.set_user_status(&ak, status, now))
        .await?;
    Ok(empty(StatusCode::OK))
}
