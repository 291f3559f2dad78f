//! Named policies and their attachments: add/remove/info/list-canned-policy (MinIO's
//! canned policies are built in and read-only), set-user-or-group-policy (replaces),
//! attach and detach (encrypted both ways) and policy-entities (encrypted).

use super::{Ctx, clear, empty, invalid, time};
use crate::admin::ApiError;
use crate::body::RespBody;
use crate::iam::IamError;
use crate::iam::state::{IamState, PolicyChange, PolicyTarget, split_policy_names};
use cairn_madmin::types::{
    CannedPolicies, GroupPolicyEntities, PolicyAssociationReq, PolicyAssociationResp,
    PolicyEntities, PolicyEntitiesResult, PolicyInfo, UserPolicyEntities,
};
use http::{Response, StatusCode};
use serde_json::Value;

/// The text of a stored or canned policy.
pub(super) fn document(state: &IamState, name: &str) -> Option<Vec<u8>> {
    if let Some(p) = state.policies.get(name) {
        return Some(p.document.clone().into_bytes());
    }
    cairn_policy::canned(name).map(|p| p.raw().to_vec())
}

fn as_value(doc: &[u8]) -> Value {
    serde_json::from_slice(doc).unwrap_or(Value::Null)
}

pub(super) async fn add(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:CreatePolicy")?;
    let name = ctx.required("name")?.to_string();
    if ctx.body.is_empty() {
        return Err(invalid("the policy document is missing"));
    }
    let doc = ctx.body.clone();
    ctx.svc
        .iam
        .update(|s, now| s.set_policy(&name, &doc, now))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub(super) async fn remove(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:DeletePolicy")?;
    let name = ctx.required("name")?.to_string();
    ctx.svc.iam.update(|s, _| s.remove_policy(&name)).await?;
    Ok(empty(StatusCode::OK))
}

/// The bare document, or (`v=2`) a `PolicyInfo` with its dates.
pub(super) fn info(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:GetPolicy")?;
    let name = ctx.required("name")?;
    let snap = ctx.svc.iam.snapshot();
    let doc =
        document(&snap.state, name).ok_or_else(|| IamError::NoSuchPolicy(name.to_string()))?;
    match ctx.q("v").unwrap_or("") {
        "" => Ok(clear(&as_value(&doc))),
        "2" => {
            let stored = snap.state.policies.get(name);
            Ok(clear(&PolicyInfo {
                policy_name: name.to_string(),
                policy: as_value(&doc),
                create_date: stored.map(|p| time(p.created_ms)),
                update_date: stored.map(|p| time(p.updated_ms)),
            }))
        }
        other => Err(invalid(format!(
            "unsupported policy info version {other:?}"
        ))),
    }
}

pub(super) fn list(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:ListUserPolicies")?;
    let snap = ctx.svc.iam.snapshot();
    let mut out = CannedPolicies::new();
    for name in cairn_policy::CANNED {
        if let Some(doc) = document(&snap.state, name) {
            out.insert((*name).to_string(), as_value(&doc));
        }
    }
    for (name, p) in &snap.state.policies {
        out.insert(name.clone(), as_value(p.document.as_bytes()));
    }
    Ok(clear(&out))
}

/// `set-user-or-group-policy`: replaces the entity's policies with `policyName`
/// (comma-separated).
pub(super) async fn set(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:AttachUserOrGroupPolicy")?;
    let names = split_policy_names(ctx.q("policyName").unwrap_or(""));
    let entity = ctx.required("userOrGroup")?.to_string();
    let target = match ctx.required("isGroup")? {
        "true" => PolicyTarget::Group(entity),
        "false" => PolicyTarget::User(entity),
        other => {
            return Err(invalid(format!(
                "isGroup {other:?} is neither true nor false"
            )));
        }
    };
    ctx.svc
        .iam
        .update(|s, now| s.change_policies(&target, &names, PolicyChange::Replace, now))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub(super) async fn associate(ctx: &Ctx<'_>, attach: bool) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:AttachUserOrGroupPolicy")?;
    let req: PolicyAssociationReq = ctx.decrypt().await?;
    req.validate().map_err(invalid)?;
    let target = if req.user.is_empty() {
        PolicyTarget::Group(req.group.clone())
    } else {
        PolicyTarget::User(req.user.clone())
    };
    let change = if attach {
        PolicyChange::Attach
    } else {
        PolicyChange::Detach
    };
    let names = req.policies.clone();
    let (changed, now) = ctx
        .svc
        .iam
        .update(|s, now| {
            let before = match &target {
                PolicyTarget::User(u) => s.users.get(u).map(|u| u.policies.clone()),
                PolicyTarget::Group(g) => s.groups.get(g).map(|g| g.policies.clone()),
            }
            .unwrap_or_default();
            s.change_policies(&target, &names, change, now)?;
            let changed: Vec<String> = names
                .iter()
                .filter(|n| before.contains(n) != attach)
                .cloned()
                .collect();
            Ok((changed, now))
        })
        .await?;
    let (policies_attached, policies_detached) = if attach {
        (changed, Vec::new())
    } else {
        (Vec::new(), changed)
    };
    ctx.encrypted(&PolicyAssociationResp {
        policies_attached,
        policies_detached,
        updated_at: time(now),
    })
    .await
}

/// Who has which policies: filtered by `user`, `group` and `policy` (each repeatable);
/// everything when no filter is given.
pub(super) async fn entities(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    ctx.require("admin:ListUserPolicies")?;
    let snap = ctx.svc.iam.snapshot();
    let s = &snap.state;
    let (mut users, mut groups, mut policies) =
        (ctx.all("user"), ctx.all("group"), ctx.all("policy"));
    if users.is_empty() && groups.is_empty() && policies.is_empty() {
        users = s
            .users
            .iter()
            .filter(|(_, u)| !u.policies.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        groups = s
            .groups
            .iter()
            .filter(|(_, g)| !g.policies.is_empty())
            .map(|(n, _)| n.clone())
            .collect();
        policies = s
            .users
            .values()
            .flat_map(|u| u.policies.iter())
            .chain(s.groups.values().flat_map(|g| g.policies.iter()))
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
    }
    let group_entry = |g: &str| {
        s.groups.get(g).map(|grp| GroupPolicyEntities {
            group: g.to_string(),
            policies: grp.policies.clone(),
        })
    };
    let user_mappings = users
        .iter()
        .filter_map(|u| {
            let user = s.users.get(u)?;
            Some(UserPolicyEntities {
                user: u.clone(),
                policies: user.policies.clone(),
                member_of_mappings: s
                    .groups_of(u)
                    .iter()
                    .filter_map(|g| group_entry(g))
                    .filter(|g| !g.policies.is_empty())
                    .collect(),
            })
        })
        .collect();
    let group_mappings = groups.iter().filter_map(|g| group_entry(g)).collect();
    let policy_mappings = policies
        .iter()
        .map(|p| PolicyEntities {
            policy: p.clone(),
            users: s
                .users
                .iter()
                .filter(|(_, u)| u.policies.contains(p))
                .map(|(n, _)| n.clone())
                .collect(),
            groups: s
                .groups
                .iter()
                .filter(|(_, g)| g.policies.contains(p))
                .map(|(n, _)| n.clone())
                .collect(),
        })
        .collect();
    ctx.encrypted(&PolicyEntitiesResult {
        timestamp: time(crate::iam::now_ms()),
        user_mappings,
        group_mappings,
        policy_mappings,
    })
    .await
}
