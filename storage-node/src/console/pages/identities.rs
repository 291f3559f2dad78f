//! Identities, as far as the logged-in identity may see and change them: users (add
//! with policies, remove), groups (members and policy), policies (a JSON editor, checked
//! by the page script while typing and by the policy parser before saving) and service
//! accounts (listed). Each action is one call of MinIO's admin API v3, whose bodies are
//! encrypted with the caller's secret key (madmin's format): here the session's
//! temporary secret.

use super::super::backend::{Body, Call};
use super::super::error::{ConsoleError, ConsoleResult};
use super::super::form::{Pairs, link};
use super::super::html::{Markup, html};
use super::{Ctx, Nav, redirect};
use crate::body::RespBody;
use bytes::Bytes;
use cairn_madmin::paths::Call as AdminCall;
use cairn_madmin::types::{AddOrUpdateUserReq, GroupAddRemove, Status, UserList};
use http::{Method, Response};
use std::collections::BTreeMap;

/// The body of an admin v3 call.
enum V3Body {
    None,
    Json(Vec<u8>),
    Encrypted(Vec<u8>),
}

fn method(call: AdminCall) -> Method {
    match call.method() {
        cairn_madmin::paths::Method::Get => Method::GET,
        cairn_madmin::paths::Method::Put => Method::PUT,
        cairn_madmin::paths::Method::Post => Method::POST,
        cairn_madmin::paths::Method::Delete => Method::DELETE,
    }
}

/// One admin v3 call under the session, its answer decrypted when the call table says
/// it is encrypted.
async fn v3(
    ctx: &Ctx<'_>,
    call: AdminCall,
    query: &[(&'static str, &str)],
    body: V3Body,
) -> ConsoleResult<Bytes> {
    let secret = ctx.session.secret_key.clone();
    let crypt = |e: String| ConsoleError::Internal(format!("admin body encryption: {e}"));
    let body = match body {
        V3Body::None => Body::Empty,
        V3Body::Json(b) => Body::Bytes(Bytes::from(b)),
        V3Body::Encrypted(plain) => {
            let secret = secret.clone();
            let sealed =
                tokio::task::spawn_blocking(move || cairn_madmin::crypt::encrypt(&secret, &plain))
                    .await
                    .map_err(|e| crypt(e.to_string()))?
                    .map_err(|e| crypt(e.to_string()))?;
            Body::Bytes(Bytes::from(sealed))
        }
    };
    let path = call.path();
    let mut request = Call::new(method(call), &path).body(body);
    for (k, v) in query {
        request = request.query(k, v.to_string());
    }
    if call.spec().request == cairn_madmin::paths::Body::Encrypted {
        request = request.header(
            http::header::CONTENT_TYPE,
            cairn_madmin::paths::ENCRYPTED_CONTENT_TYPE,
        );
    }
    let answer = ctx.call(request).await?;
    if call.spec().response != cairn_madmin::paths::Body::Encrypted || answer.body.is_empty() {
        return Ok(answer.body);
    }
    let sealed = answer.body;
    let plain = tokio::task::spawn_blocking(move || cairn_madmin::crypt::decrypt(&secret, &sealed))
        .await
        .map_err(|e| crypt(e.to_string()))?
        .map_err(|e| crypt(e.to_string()))?;
    Ok(Bytes::from(plain))
}

/// A section's content, or why this identity cannot see it.
fn or_denied(r: ConsoleResult<Markup>) -> Markup {
    match r {
        Ok(m) => m,
        Err(e) if e.is_denied() => {
            html!("<p class=\"hint\">Not visible to this identity.</p>")
        }
        Err(e) => html!("<p role=\"alert\" class=\"error\">{}</p>", e.to_string()),
    }
}

async fn policies(ctx: &Ctx<'_>) -> ConsoleResult<BTreeMap<String, serde_json::Value>> {
    let raw = v3(ctx, AdminCall::ListCannedPolicies, &[], V3Body::None).await?;
    serde_json::from_slice(&raw).map_err(|e| ConsoleError::Internal(format!("policy list: {e}")))
}

async fn users_section(ctx: &Ctx<'_>, policy_names: &[String]) -> ConsoleResult<Markup> {
    let raw = v3(ctx, AdminCall::ListUsers, &[], V3Body::None).await?;
    let users: UserList = serde_json::from_slice(&raw)
        .map_err(|e| ConsoleError::Internal(format!("user list: {e}")))?;
    let rows = Markup::concat(users.iter().map(|(name, u)| {
        html!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>\
             <form method=\"post\" action=\"/identities/user/delete\" class=\"inline\" data-confirm=\"Remove user {}?\">{}\
             <input type=\"hidden\" name=\"access_key\" value=\"{}\">\
             <button type=\"submit\" aria-label=\"Remove user {}\">Remove</button></form></td></tr>",
            name,
            u.status.as_str(),
            u.policy_name,
            u.member_of.join(", "),
            name,
            ctx.csrf_field(),
            name,
            name
        )
    }));
    let choices = Markup::concat(policy_names.iter().map(|p| {
        html!(
            "<label><input type=\"checkbox\" name=\"policy\" value=\"{}\"> {}</label>",
            p,
            p
        )
    }));
    Ok(html!(
        "<table id=\"users\"><thead><tr><th scope=\"col\">Access key</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Policies</th><th scope=\"col\">Groups</th><th scope=\"col\">Actions</th></tr></thead>\
         <tbody>{}</tbody></table>\
         <h3>Add or update a user</h3><form method=\"post\" action=\"/identities/user\" id=\"add-user\">{}\
         <label for=\"user-key\">Access key</label><input id=\"user-key\" name=\"access_key\" required minlength=\"3\" autocomplete=\"off\">\
         <label for=\"user-secret\">Secret key</label><input id=\"user-secret\" name=\"secret_key\" type=\"password\" required minlength=\"8\" autocomplete=\"new-password\">\
         <fieldset><legend>Policies</legend>{}</fieldset>\
         <button type=\"submit\">Save user</button></form>",
        rows,
        ctx.csrf_field(),
        choices
    ))
}

async fn groups_section(ctx: &Ctx<'_>) -> ConsoleResult<Markup> {
    let raw = v3(ctx, AdminCall::Groups, &[], V3Body::None).await?;
    let names: Vec<String> = serde_json::from_slice(&raw).unwrap_or_default();
    let mut rows = Markup::new();
    for g in &names {
        let raw = v3(ctx, AdminCall::Group, &[("group", g)], V3Body::None).await?;
        let d: cairn_madmin::types::GroupDesc = serde_json::from_slice(&raw)
            .map_err(|e| ConsoleError::Internal(format!("group: {e}")))?;
        rows.push(html!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            d.name,
            d.status,
            d.members.join(", "),
            d.policy
        ));
    }
    Ok(html!(
        "<table id=\"groups\"><thead><tr><th scope=\"col\">Group</th><th scope=\"col\">Status</th>\
         <th scope=\"col\">Members</th><th scope=\"col\">Policies</th></tr></thead><tbody>{}</tbody></table>\
         <h3>Add members to a group</h3><form method=\"post\" action=\"/identities/group\">{}\
         <label for=\"group-name\">Group</label><input id=\"group-name\" name=\"group\" required>\
         <label for=\"group-members\">Members (comma-separated access keys)</label><input id=\"group-members\" name=\"members\">\
         <label for=\"group-policy\">Policy (optional)</label><input id=\"group-policy\" name=\"policy\">\
         <button type=\"submit\">Save group</button></form>",
        rows,
        ctx.csrf_field()
    ))
}

async fn service_accounts_section(ctx: &Ctx<'_>) -> ConsoleResult<Markup> {
    let raw = v3(ctx, AdminCall::ListServiceAccounts, &[], V3Body::None).await?;
    let list: cairn_madmin::types::ListServiceAccountsResp = serde_json::from_slice(&raw)
        .map_err(|e| ConsoleError::Internal(format!("service accounts: {e}")))?;
    let rows = Markup::concat(list.accounts.iter().map(|a| {
        html!(
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            a.access_key,
            a.parent_user,
            a.account_status
        )
    }));
    Ok(html!(
        "<table id=\"service-accounts\"><thead><tr><th scope=\"col\">Access key</th><th scope=\"col\">Parent</th>\
         <th scope=\"col\">Status</th></tr></thead><tbody>{}</tbody></table>",
        rows
    ))
}

pub async fn page(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let listed = policies(ctx).await;
    let names: Vec<String> = listed
        .as_ref()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let users = or_denied(users_section(ctx, &names).await);
    let groups = or_denied(groups_section(ctx).await);
    let accounts = or_denied(service_accounts_section(ctx).await);
    let editing = ctx.query.get("policy").unwrap_or("").to_string();
    let policy_list = or_denied(listed.map(|m| {
        Markup::concat(m.keys().map(|name| {
            html!(
                "<li><a href=\"{}\">{}</a> \
                 <form method=\"post\" action=\"/identities/policy/delete\" class=\"inline\" data-confirm=\"Remove policy {}?\">{}\
                 <input type=\"hidden\" name=\"name\" value=\"{}\">\
                 <button type=\"submit\" aria-label=\"Remove policy {}\">Remove</button></form></li>",
                link("/identities", &[("policy", name)]),
                name,
                name,
                ctx.csrf_field(),
                name,
                name
            )
        }))
    }));
    let document = if editing.is_empty() {
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \
         \"Action\": [\"s3:GetObject\", \"s3:ListBucket\"],\n      \
         \"Resource\": [\"arn:aws:s3:::bucket\", \"arn:aws:s3:::bucket/*\"]\n    }\n  ]\n}"
            .to_string()
    } else {
        let raw = v3(
            ctx,
            AdminCall::InfoCannedPolicy,
            &[("name", &editing)],
            V3Body::None,
        )
        .await
        .unwrap_or_default();
        serde_json::from_slice::<serde_json::Value>(&raw)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_default()
    };
    let editor = html!(
        "<form method=\"post\" action=\"/identities/policy\" id=\"policy-editor\">{}\
         <label for=\"policy-name\">Policy name</label><input id=\"policy-name\" name=\"name\" required value=\"{}\">\
         <label for=\"policy-doc\">Policy document (JSON)</label>\
         <textarea id=\"policy-doc\" name=\"document\" rows=\"16\" data-json=\"policy\" spellcheck=\"false\" \
         aria-describedby=\"policy-status\">{}</textarea>\
         <p id=\"policy-status\" class=\"json-status\" aria-live=\"polite\"></p>\
         <button type=\"submit\">Save policy</button></form>",
        ctx.csrf_field(),
        editing,
        document
    );
    let body = html!(
        "<section aria-labelledby=\"users-h\"><h2 id=\"users-h\">Users</h2>{}</section>\
         <section aria-labelledby=\"policies-h\"><h2 id=\"policies-h\">Policies</h2><ul id=\"policies\">{}</ul>\
         <h3>Edit a policy</h3>{}</section>\
         <section aria-labelledby=\"groups-h\"><h2 id=\"groups-h\">Groups</h2>{}</section>\
         <section aria-labelledby=\"sa-h\"><h2 id=\"sa-h\">Service accounts</h2>{}</section>",
        users,
        policy_list,
        editor,
        groups,
        accounts
    );
    Ok(super::page(ctx, Nav::Identities, "Identities", body))
}

pub async fn add_user(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let access_key = form.required("access_key")?.trim().to_string();
    let secret = form.required("secret_key")?.to_string();
    let policies: Vec<&str> = form
        .0
        .iter()
        .filter(|(k, v)| k == "policy" && !v.is_empty())
        .map(|(_, v)| v.as_str())
        .collect();
    let req = AddOrUpdateUserReq {
        secret_key: secret,
        policy: policies.join(","),
        status: Status::Enabled,
    };
    let plain = serde_json::to_vec(&req).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    v3(
        ctx,
        AdminCall::AddUser,
        &[("accessKey", &access_key)],
        V3Body::Encrypted(plain),
    )
    .await?;
    tracing::info!(user = %ctx.session.user, added = %access_key, "console: user saved");
    Ok(redirect("/identities"))
}

pub async fn remove_user(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let access_key = form.required("access_key")?.to_string();
    v3(
        ctx,
        AdminCall::RemoveUser,
        &[("accessKey", &access_key)],
        V3Body::None,
    )
    .await?;
    tracing::info!(user = %ctx.session.user, removed = %access_key, "console: user removed");
    Ok(redirect("/identities"))
}

/// Checks a policy document as the server will (the same parser) before saving it.
pub fn validate_policy(document: &str) -> ConsoleResult<()> {
    cairn_policy::Policy::parse(document.as_bytes())
        .map(|_| ())
        .map_err(|e| ConsoleError::BadRequest(format!("the policy is not valid: {e}")))
}

pub async fn save_policy(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let name = form.required("name")?.trim().to_string();
    let document = form.required("document")?.to_string();
    validate_policy(&document)?;
    v3(
        ctx,
        AdminCall::AddCannedPolicy,
        &[("name", &name)],
        V3Body::Json(document.into_bytes()),
    )
    .await?;
    tracing::info!(user = %ctx.session.user, policy = %name, "console: policy saved");
    Ok(redirect(&link("/identities", &[("policy", &name)])))
}

pub async fn remove_policy(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let name = form.required("name")?.to_string();
    v3(
        ctx,
        AdminCall::RemoveCannedPolicy,
        &[("name", &name)],
        V3Body::None,
    )
    .await?;
    Ok(redirect("/identities"))
}

pub async fn save_group(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let group = form.required("group")?.trim().to_string();
    let members: Vec<String> = form
        .get("members")
        .unwrap_or("")
        .split(',')
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    let req = GroupAddRemove {
        group: group.clone(),
        members,
        status: Status::Unset,
        is_remove: false,
    };
    let plain = serde_json::to_vec(&req).map_err(|e| ConsoleError::Internal(e.to_string()))?;
    v3(ctx, AdminCall::UpdateGroupMembers, &[], V3Body::Json(plain)).await?;
    if let Some(policy) = form.get("policy").map(str::trim).filter(|p| !p.is_empty()) {
        v3(
            ctx,
            AdminCall::SetUserOrGroupPolicy,
            &[
                ("policyName", policy),
                ("userOrGroup", &group),
                ("isGroup", "true"),
            ],
            V3Body::None,
        )
        .await?;
    }
    Ok(redirect("/identities"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_validated_before_saving() {
        assert!(
            validate_policy(
                "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\
             \"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::b/*\"]}]}"
            )
            .is_ok()
        );
        assert!(validate_policy("{not json").is_err());
        assert!(
            validate_policy("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Maybe\"}]}")
                .is_err()
        );
    }
}
