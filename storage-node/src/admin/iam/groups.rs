//! Groups: update-group-members (add creates the group; remove with no members deletes
//! an empty group), group, groups and set-group-status. Bodies travel in clear.

use super::{Ctx, clear, empty, invalid, time};
use crate::admin::ApiError;
use crate::body::RespBody;
use crate::iam::IamError;
use crate::iam::state::Status;
use cairn_madmin::types::{self as mt, GroupAddRemove, GroupDesc, GroupList};
use http::{Response, StatusCode};

pub(super) async fn update_members(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let req: GroupAddRemove = ctx.json_body()?;
    ctx.require(if req.is_remove {
        "admin:RemoveUserFromGroup"
    } else {
        "admin:AddUserToGroup"
    })?;
    if req.group.is_empty() {
        return Err(invalid("a group name is required"));
    }
    let status = match req.status {
        mt::Status::Enabled => Some(Status::Enabled),
        mt::Status::Disabled => Some(Status::Disabled),
        mt::Status::Unset => None,
    };
    ctx.svc
        .iam
        .update(|s, now| {
            s.update_group_members(&req.group, &req.members, req.is_remove, status, now)
        })
        .await?;
    Ok(empty(StatusCode::OK))
}

pub(super) fn info(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:GetGroup")?;
    let name = ctx.required("group")?;
    let snap = ctx.svc.iam.snapshot();
    let g = snap
        .state
        .groups
        .get(name)
        .ok_or_else(|| IamError::NoSuchGroup(name.to_string()))?;
    Ok(clear(&GroupDesc {
        name: name.to_string(),
        status: g.status.as_str().to_string(),
        members: g.members.iter().cloned().collect(),
        policy: g.policies.join(","),
        updated_at: time(g.updated_ms),
    }))
}

pub(super) fn list(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:ListGroups")?;
    let snap = ctx.svc.iam.snapshot();
    let list: GroupList = snap.state.groups.keys().cloned().collect();
    Ok(clear(&list))
}

pub(super) async fn set_status(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let group = ctx.required("group")?.to_string();
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
        Status::Enabled => "admin:EnableGroup",
        Status::Disabled => "admin:DisableGroup",
    })?;
    ctx.svc
        .iam
        .update(|s, now| s.set_group_status(&group, status, now))
        .await?;
    Ok(empty(StatusCode::OK))
}
