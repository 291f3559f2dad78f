//! Service accounts: add (returns the generated credentials, the only answer that
//! ever holds a secret), update (204), info, list and delete (204); every body is
//! encrypted.
//!
//! As MinIO: a user manages its *own* service accounts (target user empty or itself)
//! without any admin action; another user's need admin:CreateServiceAccount,
//! admin:UpdateServiceAccount, admin:ListServiceAccounts or admin:RemoveServiceAccount.
//! A service account never creates service accounts, and manages none without those
//! actions.
//!
//! info-service-account of an account without an inline policy answers
//! `impliedPolicy: true` and its parent's effective policy (for root's accounts MinIO's
//! `consoleAdmin`, everything), as MinIO does.

use super::effective::effective_policy;
use super::{Ctx, empty, invalid, time};
use crate::admin::ApiError;
use crate::body::RespBody;
use crate::iam::state::{IamState, ServiceAccount, Status};
use crate::iam::{IamError, Kind, random_key};
use cairn_madmin::types::{
    AddServiceAccountReq, AddServiceAccountResp, Credentials, GO_ZERO_TIME, InfoServiceAccountResp,
    ListServiceAccountsResp, NO_EXPIRY, ServiceAccountInfo, UpdateServiceAccountReq,
};
use http::{Response, StatusCode};
use serde_json::Value;

/// Whether the caller acts on its own accounts (a user, root or a session, not a
/// service account).
fn own(ctx: &Ctx<'_>, parent: &str) -> bool {
    ctx.caller.kind != Kind::ServiceAccount && parent == ctx.caller.user
}

/// A user manages its own service accounts without the admin `action`, as MinIO allows,
/// unless one of its policies explicitly denies that action (as MinIO refuses then too);
/// anyone else needs the action.
fn authorize_for(ctx: &Ctx<'_>, parent: &str, action: &str) -> Result<(), ApiError> {
    if own(ctx, parent) && !super::super::explicitly_denied(&ctx.caller, action) {
        return Ok(());
    }
    ctx.require(action)
}

/// An RFC 3339 expiry; MinIO's "no expiry" spellings give `None`. It must be in the
/// future.
fn expiry(text: Option<&str>) -> Result<Option<i64>, ApiError> {
    let Some(t) = text.filter(|t| !t.is_empty() && *t != NO_EXPIRY && *t != GO_ZERO_TIME) else {
        return Ok(None);
    };
    let ms = chrono::DateTime::parse_from_rfc3339(t)
        .map_err(|e| invalid(format!("expiration {t:?} is not an RFC 3339 time: {e}")))?
        .timestamp_millis();
    if ms <= crate::iam::now_ms() {
        return Err(invalid("the expiration must be in the future"));
    }
    Ok(Some(ms))
}

/// A policy sent as JSON; `null` means none.
fn policy_text(v: &Option<Value>) -> Result<Option<String>, ApiError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        // Some clients send the document as a JSON string.
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(v) => Ok(Some(v.to_string())),
    }
}

fn account(state: &IamState, ak: &str) -> Result<ServiceAccount, ApiError> {
    state
        .service_accounts
        .get(ak)
        .cloned()
        .ok_or_else(|| IamError::NoSuchServiceAccount(ak.to_string()).into())
}

fn expiration_text(ms: Option<i64>) -> Option<String> {
    ms.map(time)
}

pub(super) async fn add(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    if ctx.caller.kind == Kind::ServiceAccount {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "a service account cannot create service accounts",
        ));
    }
    let req: AddServiceAccountReq = ctx.decrypt().await?;
    let parent = if req.target_user.is_empty() {
        ctx.caller.user.clone()
    } else {
        req.target_user.clone()
    };
    authorize_for(ctx, &parent, "admin:CreateServiceAccount")?;
    let access_key = if req.access_key.is_empty() {
        random_key(20)
    } else {
        req.access_key.clone()
    };
    let secret = if req.secret_key.is_empty() {
        random_key(40)
    } else {
        req.secret_key.clone()
    };
    let expiration_ms = expiry(req.expiration.as_deref())?;
    let sa = ServiceAccount {
        parent: parent.clone(),
        secret: secret.clone(),
        status: Status::Enabled,
        policy: policy_text(&req.policy)?,
        name: (!req.name.is_empty()).then(|| req.name.clone()),
        description: (!req.description.is_empty()).then(|| req.description.clone()),
        expiration_ms,
        updated_ms: crate::iam::now_ms(),
    };
    let root = ctx.root().to_string();
    let ak = access_key.clone();
    ctx.svc
        .iam
        .update(move |s, now| {
            let mut sa = sa;
            sa.updated_ms = now;
            s.add_service_account(&root, &ak, sa)
        })
        .await?;
    tracing::info!(access_key = %access_key, parent = %parent, by = %ctx.caller.access_key, "admin: service account added");
    ctx.encrypted(&AddServiceAccountResp {
        credentials: Credentials {
            access_key,
            secret_key: secret,
            session_token: String::new(),
            expiration: expiration_text(expiration_ms),
        },
    })
    .await
}

pub(super) async fn update(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let ak = ctx.required("accessKey")?.to_string();
    let current = account(&ctx.svc.iam.snapshot().state, &ak)?;
    authorize_for(ctx, &current.parent, "admin:UpdateServiceAccount")?;
    let req: UpdateServiceAccountReq = ctx.decrypt().await?;
    let status = match req.new_status.as_str() {
        "" => None,
        s => Some(Status::parse(s)?),
    };
    if !req.new_secret_key.is_empty() {
        crate::iam::state::validate_secret_key(&req.new_secret_key)?;
    }
    // A policy with no statement clears the narrowing (MinIO's `mc admin user svcacct
    // edit --policy` with an empty policy).
    let policy = match &req.new_policy {
        None | Some(Value::Null) => None,
        Some(v)
            if v.get("Statement")
                .is_none_or(|s| s.as_array().is_some_and(Vec::is_empty)) =>
        {
            Some(None)
        }
        v => {
            let text = policy_text(v)?;
            if let Some(t) = &text {
                crate::iam::state::parse_policy(t.as_bytes())?;
            }
            Some(text)
        }
    };
    let new_expiry = match &req.new_expiration {
        None => None,
        Some(t) => Some(expiry(Some(t))?),
    };
    ctx.svc
        .iam
        .update(|s, now| {
            let sa = s.service_account_mut(&ak)?;
            if !req.new_secret_key.is_empty() {
                sa.secret = req.new_secret_key.clone();
            }
            if let Some(st) = status {
                sa.status = st;
            }
            if let Some(p) = policy {
                sa.policy = p;
            }
            if !req.new_name.is_empty() {
                sa.name = Some(req.new_name.clone());
            }
            if !req.new_description.is_empty() {
                sa.description = Some(req.new_description.clone());
            }
            if let Some(e) = new_expiry {
                sa.expiration_ms = e;
            }
            sa.updated_ms = now;
            Ok(())
        })
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub(super) async fn info(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let ak = ctx.required("accessKey")?;
    let snap = ctx.svc.iam.snapshot();
    let sa = account(&snap.state, ak)?;
    authorize_for(ctx, &sa.parent, "admin:ListServiceAccounts")?;
    let parent_status = snap
        .state
        .users
        .get(&sa.parent)
        .map_or(String::new(), |u| u.status.as_str().to_string());
    let resp = InfoServiceAccountResp {
        parent_user: sa.parent.clone(),
        parent_user_status: parent_status,
        account_status: sa.status.on_off().to_string(),
        implied_policy: sa.policy.is_none(),
        policy: sa
            .policy
            .clone()
            .unwrap_or_else(|| effective_policy(&snap.state, ctx.root(), &sa.parent).to_string()),
        name: sa.name.clone().unwrap_or_default(),
        description: sa.description.clone().unwrap_or_default(),
        expiration: expiration_text(sa.expiration_ms),
    };
    ctx.encrypted(&resp).await
}

pub(super) async fn list(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let user = match ctx.q("user").filter(|u| !u.is_empty()) {
        Some(u) => u.to_string(),
        None => ctx.caller.user.clone(),
    };
    authorize_for(ctx, &user, "admin:ListServiceAccounts")?;
    let snap = ctx.svc.iam.snapshot();
    if user != ctx.root() && !snap.state.users.contains_key(&user) {
        return Err(IamError::NoSuchUser(user).into());
    }
    let accounts = snap
        .state
        .service_accounts
        .iter()
        .filter(|(_, sa)| sa.parent == user)
        .map(|(ak, sa)| ServiceAccountInfo {
            parent_user: sa.parent.clone(),
            account_status: sa.status.on_off().to_string(),
            implied_policy: sa.policy.is_none(),
            access_key: ak.clone(),
            name: sa.name.clone().unwrap_or_default(),
            description: sa.description.clone().unwrap_or_default(),
            expiration: expiration_text(sa.expiration_ms),
        })
        .collect();
    ctx.encrypted(&ListServiceAccountsResp { accounts }).await
}

pub(super) async fn delete(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let ak = ctx.required("accessKey")?.to_string();
    let sa = account(&ctx.svc.iam.snapshot().state, &ak)?;
    authorize_for(ctx, &sa.parent, "admin:RemoveServiceAccount")?;
    ctx.svc
        .iam
        .update(|s, _| s.remove_service_account(&ak))
        .await?;
    tracing::info!(access_key = %ak, by = %ctx.caller.access_key, "admin: service account removed");
    Ok(empty(StatusCode::NO_CONTENT))
}
