//! Buckets: the list (with the scanner's size and object counts when the identity may
//! read them), create (with versioning and object lock), delete, and one bucket's
//! settings: versioning, object lock, encryption, anonymous access and bucket policy,
//! lifecycle rules. Each is the S3 call a client would make.

use super::super::backend::{Body, Call};
use super::super::error::{ConsoleError, ConsoleResult};
use super::super::form::{Pairs, link};
use super::super::html::{Markup, html};
use super::super::xml;
use super::{Ctx, Nav, page, redirect, size};
use crate::body::RespBody;
use bytes::Bytes;
use http::{HeaderName, Method, Response, StatusCode};

/// The bucket name of a form or query, checked as S3 names are (3-63 characters of
/// lower-case letters, digits, dots and hyphens).
pub fn bucket_name(p: &Pairs) -> ConsoleResult<String> {
    let b = p.required("bucket")?.trim();
    let ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-');
    if ok {
        Ok(b.to_string())
    } else {
        Err(ConsoleError::BadRequest(format!(
            "{b:?} is not a bucket name: use 3 to 63 lower-case letters, digits, dots and hyphens"
        )))
    }
}

/// MinIO's data usage call (admin API), answered from the scanner's last pass.
const USAGE_PATH: &str = "/minio/admin/v3/datausageinfo";

/// The scanner's figures per bucket (objects, bytes), when the identity may read them.
async fn usage(ctx: &Ctx<'_>) -> Option<serde_json::Value> {
    let answer = ctx.call(Call::new(Method::GET, USAGE_PATH)).await.ok()?;
    serde_json::from_slice(&answer.body).ok()
}

/// A form that opens a bucket by name, for identities that may not list buckets.
fn open_by_name() -> Markup {
    html!(
        "<form method=\"get\" action=\"/browse\" id=\"open-bucket\">\
         <label for=\"open-name\">Open a bucket by name</label>\
         <input id=\"open-name\" name=\"bucket\" required>\
         <button type=\"submit\">Open</button></form>"
    )
}

pub async fn list(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let answer = match ctx.call(Call::new(Method::GET, "/")).await {
        Ok(a) => a,
        Err(e) if e.is_denied() => {
            let body = html!(
                "<p id=\"no-buckets\">This identity may not list buckets (s3:ListAllMyBuckets).</p>{}",
                open_by_name()
            );
            return Ok(page(ctx, Nav::Buckets, "Buckets", body));
        }
        Err(e) => return Err(e),
    };
    let text = answer.text();
    let usage = usage(ctx).await;
    let mut rows = Markup::new();
    let mut count = 0;
    for b in xml::elements(&text, "Bucket") {
        let Some(name) = xml::text(b, "Name") else {
            continue;
        };
        count += 1;
        let created = xml::text(b, "CreationDate").unwrap_or_default();
        let figures = usage
            .as_ref()
            .and_then(|u| u.get("bucketsUsageInfo"))
            .and_then(|m| m.get(&name));
        let objects = figures
            .and_then(|f| f.get("objectsCount"))
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| "—".to_string(), |n| n.to_string());
        let bytes = figures
            .and_then(|f| f.get("size"))
            .and_then(serde_json::Value::as_u64)
            .map_or_else(|| "—".to_string(), size);
        rows.push(html!(
            "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td><a href=\"{}\">Settings</a> \
             <form method=\"post\" action=\"/buckets/delete\" class=\"inline\" data-confirm=\"Delete bucket {}? It must be empty.\">{}\
             <input type=\"hidden\" name=\"bucket\" value=\"{}\">\
             <button type=\"submit\" aria-label=\"Delete bucket {}\">Delete</button></form></td></tr>",
            link("/browse", &[("bucket", &name)]),
            name,
            created,
            objects,
            bytes,
            link("/bucket", &[("bucket", &name)]),
            name,
            ctx.csrf_field(),
            name,
            name
        ));
    }
    let updated = usage
        .as_ref()
        .and_then(|u| u.get("lastUpdate"))
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.starts_with("0001"))
        .map(|t| html!("<p class=\"hint\">Sizes and counts from the scanner, as of {}.</p>", t))
        .unwrap_or_else(|| {
            html!("<p class=\"hint\">Sizes and counts appear after the scanner's first pass (or are not visible to this identity).</p>")
        });
    let table = if count == 0 {
        html!("<p id=\"no-buckets\">No buckets yet.</p>")
    } else {
        html!(
            "<table id=\"buckets\"><caption>{} buckets</caption><thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">Created</th><th scope=\"col\">Objects</th><th scope=\"col\">Size</th>\
             <th scope=\"col\">Actions</th></tr></thead><tbody>{}</tbody></table>{}",
            count,
            rows,
            updated
        )
    };
    let create = html!(
        "<section aria-labelledby=\"create-h\"><h2 id=\"create-h\">Create a bucket</h2>\
         <form method=\"post\" action=\"/buckets/create\" id=\"create-bucket\">{}\
         <label for=\"new-bucket\">Name</label>\
         <input id=\"new-bucket\" name=\"bucket\" required minlength=\"3\" maxlength=\"63\" \
         pattern=\"[a-z0-9][a-z0-9.\\-]*[a-z0-9]\" aria-describedby=\"new-bucket-hint\">\
         <span id=\"new-bucket-hint\" class=\"hint\">3–63 lower-case letters, digits, dots, hyphens.</span>\
         <label><input type=\"checkbox\" name=\"versioning\" value=\"1\"> Versioning</label>\
         <label><input type=\"checkbox\" name=\"lock\" value=\"1\"> Object lock (implies versioning)</label>\
         <button type=\"submit\">Create bucket</button></form></section>",
        ctx.csrf_field()
    );
    Ok(page(
        ctx,
        Nav::Buckets,
        "Buckets",
        html!("{}{}", table, create),
    ))
}

const VERSIONING_XML: &str = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>{}</Status></VersioningConfiguration>";

fn versioning_body(status: &str) -> Bytes {
    Bytes::from(VERSIONING_XML.replace("{}", status))
}

pub async fn create(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    let lock = form.checked("lock");
    let mut call = Call::bucket(Method::PUT, &bucket);
    if lock {
        call = call.header(
            HeaderName::from_static("x-amz-bucket-object-lock-enabled"),
            "true",
        );
    }
    ctx.call(call).await?;
    if form.checked("versioning") && !lock {
        ctx.call(
            Call::bucket(Method::PUT, &bucket)
                .query("versioning", "")
                .body(Body::Bytes(versioning_body("Enabled"))),
        )
        .await?;
    }
    tracing::info!(user = %ctx.session.user, bucket = %bucket, "console: bucket created");
    Ok(redirect("/buckets"))
}

pub async fn delete(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    ctx.call(Call::bucket(Method::DELETE, &bucket)).await?;
    tracing::info!(user = %ctx.session.user, bucket = %bucket, "console: bucket deleted");
    Ok(redirect("/buckets"))
}

/// A bucket sub-resource's document, `None` when the bucket has none (`404`).
async fn sub_resource(ctx: &Ctx<'_>, bucket: &str, name: &str) -> ConsoleResult<Option<String>> {
    let answer = ctx
        .call_any(Call::bucket(Method::GET, bucket).query(name, ""))
        .await?;
    match answer.status {
        s if s.is_success() => Ok(Some(answer.text())),
        StatusCode::NOT_FOUND
            if xml::text(&answer.text(), "Code").as_deref() != Some("NoSuchBucket") =>
        {
            Ok(None)
        }
        s => Err(super::super::backend::api_error(s, &answer.body)),
    }
}

pub async fn settings(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(&ctx.query)?;
    let versioning = sub_resource(ctx, &bucket, "versioning").await?;
    let status = versioning
        .as_deref()
        .and_then(|x| xml::text(x, "Status"))
        .unwrap_or_else(|| "Off".to_string());
    let lock = sub_resource(ctx, &bucket, "object-lock")
        .await
        .ok()
        .flatten();
    let lock_text = lock_summary(lock.as_deref());
    let encryption = sub_resource(ctx, &bucket, "encryption")
        .await
        .ok()
        .flatten();
    let encryption_text = encryption
        .as_deref()
        .and_then(|x| xml::text(x, "SSEAlgorithm"))
        .map_or_else(
            || "None (objects are encrypted only when a request asks)".to_string(),
            |a| format!("Default {a}"),
        );
    let policy = sub_resource(ctx, &bucket, "policy")
        .await?
        .unwrap_or_default();
    let lifecycle = sub_resource(ctx, &bucket, "lifecycle")
        .await?
        .unwrap_or_default();
    let access = anonymous_access(&policy);
    let option = |value: &str, label: &str| {
        if value == access {
            html!("<option value=\"{}\" selected>{}</option>", value, label)
        } else {
            html!("<option value=\"{}\">{}</option>", value, label)
        }
    };
    let versioning_form = html!(
        "<form method=\"post\" action=\"/bucket/versioning\" class=\"inline\">{}\
         <input type=\"hidden\" name=\"bucket\" value=\"{}\">\
         <button type=\"submit\" name=\"status\" value=\"Enabled\">Enable</button> \
         <button type=\"submit\" name=\"status\" value=\"Suspended\">Suspend</button></form>",
        ctx.csrf_field(),
        bucket
    );
    let body = html!(
        "<p><a href=\"{}\">Browse objects</a></p>\
         <dl class=\"facts\"><dt>Versioning</dt><dd id=\"versioning\">{} {}</dd>\
         <dt>Object lock</dt><dd id=\"object-lock\">{}</dd>\
         <dt>Encryption</dt><dd id=\"encryption\">{}</dd></dl>\
         <section aria-labelledby=\"access-h\"><h2 id=\"access-h\">Anonymous access and bucket policy</h2>\
         <form method=\"post\" action=\"/bucket/policy\">{}<input type=\"hidden\" name=\"bucket\" value=\"{}\">\
         <label for=\"access\">Anonymous access</label><select id=\"access\" name=\"access\">{}{}{}{}</select>\
         <label for=\"policy\">Bucket policy (JSON; used when access is “Custom policy”)</label>\
         <textarea id=\"policy\" name=\"policy\" rows=\"10\" data-json=\"policy\" spellcheck=\"false\">{}</textarea>\
         <p class=\"json-status\" aria-live=\"polite\"></p>\
         <button type=\"submit\">Save access</button></form></section>\
         <section aria-labelledby=\"lc-h\"><h2 id=\"lc-h\">Lifecycle rules</h2>\
         <form method=\"post\" action=\"/bucket/lifecycle\">{}<input type=\"hidden\" name=\"bucket\" value=\"{}\">\
         <label for=\"lifecycle\">LifecycleConfiguration XML (empty removes every rule)</label>\
         <textarea id=\"lifecycle\" name=\"lifecycle\" rows=\"8\" spellcheck=\"false\">{}</textarea>\
         <button type=\"submit\">Save lifecycle</button></form></section>",
        link("/browse", &[("bucket", &bucket)]),
        status,
        versioning_form,
        lock_text,
        encryption_text,
        ctx.csrf_field(),
        bucket,
        option("private", "Private"),
        option("download", "Public read (download)"),
        option("public", "Public read and write"),
        option("custom", "Custom policy"),
        policy,
        ctx.csrf_field(),
        bucket,
        lifecycle
    );
    Ok(page(ctx, Nav::Buckets, &format!("Bucket {bucket}"), body))
}

/// The object lock configuration in words: off, or on with its default retention.
fn lock_summary(config: Option<&str>) -> String {
    let Some(x) =
        config.filter(|x| xml::text(x, "ObjectLockEnabled").as_deref() == Some("Enabled"))
    else {
        return "Off".to_string();
    };
    let period = xml::text(x, "Days")
        .map(|d| format!("{d} days"))
        .or_else(|| xml::text(x, "Years").map(|y| format!("{y} years")));
    match (xml::text(x, "Mode"), period) {
        (Some(mode), Some(period)) => format!("Enabled; default retention {mode} for {period}"),
        _ => "Enabled; no default retention".to_string(),
    }
}

/// Which preset a bucket policy is: `private` (none), `download`, `public`, `custom`.
fn anonymous_access(policy: &str) -> &'static str {
    if policy.trim().is_empty() {
        return "private";
    }
    let parsed: Option<serde_json::Value> = serde_json::from_str(policy).ok();
    let Some(parsed) = parsed else {
        return "custom";
    };
    let bucket = parsed
        .pointer("/Statement/0/Resource/0")
        .and_then(serde_json::Value::as_str)
        .and_then(|r| r.strip_prefix("arn:aws:s3:::"))
        .unwrap_or("");
    for preset in ["download", "public"] {
        if preset_policy(bucket, preset).as_ref() == Some(&parsed) {
            return preset;
        }
    }
    "custom"
}

/// The bucket policy of an anonymous-access preset.
fn preset_policy(bucket: &str, preset: &str) -> Option<serde_json::Value> {
    let (bucket_actions, object_actions): (&[&str], &[&str]) = match preset {
        "download" => (
            &["s3:GetBucketLocation", "s3:ListBucket"],
            &["s3:GetObject"],
        ),
        "public" => (
            &[
                "s3:GetBucketLocation",
                "s3:ListBucket",
                "s3:ListBucketMultipartUploads",
            ],
            &[
                "s3:AbortMultipartUpload",
                "s3:DeleteObject",
                "s3:GetObject",
                "s3:ListMultipartUploadParts",
                "s3:PutObject",
            ],
        ),
        _ => return None,
    };
    Some(serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": bucket_actions,
             "Resource": [format!("arn:aws:s3:::{bucket}")]},
            {"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": object_actions,
             "Resource": [format!("arn:aws:s3:::{bucket}/*")]}
        ]
    }))
}

pub async fn set_versioning(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    let status = match form.get("status") {
        Some("Enabled") => "Enabled",
        Some("Suspended") => "Suspended",
        _ => {
            return Err(ConsoleError::BadRequest(
                "status must be Enabled or Suspended".into(),
            ));
        }
    };
    ctx.call(
        Call::bucket(Method::PUT, &bucket)
            .query("versioning", "")
            .body(Body::Bytes(versioning_body(status))),
    )
    .await?;
    Ok(redirect(&link("/bucket", &[("bucket", &bucket)])))
}

pub async fn set_policy(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    let access = form.get("access").unwrap_or("custom");
    let document = match access {
        "private" => None,
        "custom" => {
            let text = form.get("policy").unwrap_or("").trim().to_string();
            if text.is_empty() {
                None
            } else {
                cairn_policy::Policy::parse_bucket_policy(text.as_bytes(), &bucket).map_err(
                    |e| ConsoleError::BadRequest(format!("the bucket policy is not valid: {e}")),
                )?;
                Some(text)
            }
        }
        preset => Some(
            preset_policy(&bucket, preset)
                .ok_or_else(|| ConsoleError::BadRequest(format!("unknown access {preset:?}")))?
                .to_string(),
        ),
    };
    match document {
        Some(doc) => {
            ctx.call(
                Call::bucket(Method::PUT, &bucket)
                    .query("policy", "")
                    .body(Body::Bytes(Bytes::from(doc))),
            )
            .await?;
        }
        None => {
            ctx.call(Call::bucket(Method::DELETE, &bucket).query("policy", ""))
                .await?;
        }
    }
    tracing::info!(user = %ctx.session.user, bucket = %bucket, access, "console: bucket policy set");
    Ok(redirect(&link("/bucket", &[("bucket", &bucket)])))
}

pub async fn set_lifecycle(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    let text = form.get("lifecycle").unwrap_or("").trim().to_string();
    if text.is_empty() {
        ctx.call(Call::bucket(Method::DELETE, &bucket).query("lifecycle", ""))
            .await?;
    } else {
        let md5 = {
            use base64::Engine;
            use md5::Digest;
            base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(text.as_bytes()))
        };
        ctx.call(
            Call::bucket(Method::PUT, &bucket)
                .query("lifecycle", "")
                .header(HeaderName::from_static("content-md5"), md5)
                .body(Body::Bytes(Bytes::from(text))),
        )
        .await?;
    }
    Ok(redirect(&link("/bucket", &[("bucket", &bucket)])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_lock_is_summarised() {
        assert_eq!(lock_summary(None), "Off");
        let on = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>";
        assert_eq!(
            lock_summary(Some(&format!("{on}</ObjectLockConfiguration>"))),
            "Enabled; no default retention"
        );
        let years = format!(
            "{on}<Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years>\
             </DefaultRetention></Rule></ObjectLockConfiguration>"
        );
        assert_eq!(
            lock_summary(Some(&years)),
            "Enabled; default retention COMPLIANCE for 2 years"
        );
    }

    #[test]
    fn presets_are_recognised_and_names_checked() {
        let p = preset_policy("media", "download").unwrap().to_string();
        assert_eq!(anonymous_access(&p), "download");
        let p = preset_policy("media", "public").unwrap().to_string();
        assert_eq!(anonymous_access(&p), "public");
        assert_eq!(anonymous_access(""), "private");
        assert_eq!(
            anonymous_access("{\"Version\":\"2012-10-17\",\"Statement\":[]}"),
            "custom"
        );
        assert!(cairn_policy::Policy::parse_bucket_policy(p.as_bytes(), "media").is_ok());
        let ok = Pairs::parse("bucket=my-bucket.1");
        assert_eq!(bucket_name(&ok).unwrap(), "my-bucket.1");
        for bad in ["bucket=ab", "bucket=Upper", "bucket=a%2Fb%2Fc", "x=1"] {
            assert!(bucket_name(&Pairs::parse(bad)).is_err(), "{bad}");
        }
    }
}
