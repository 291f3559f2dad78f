//! Objects: browse a bucket by prefix (1000-key S3 pages cut to 100 rows, with a link to
//! the next page), one object's details (metadata, tags, versions, retention and legal
//! hold), download (streamed, always as an attachment so that a stored HTML page can
//! never run in the console's origin), delete (a version, or the current object), and a
//! presigned share link with an expiry. Uploads are in `upload`.

use super::super::backend::Call;
use super::super::error::{ConsoleError, ConsoleResult};
use super::super::form::{Pairs, link};
use super::super::html::{Markup, html};
use super::super::{now_ms, xml};
use super::buckets::bucket_name;
use super::{Ctx, Nav, page, redirect, size};
use crate::body::RespBody;
use crate::s3::auth::sigv4::{self, Credentials, PresignRequest};
use http::{HeaderValue, Method, Response};

/// Rows per page of the object browser.
pub const PAGE_SIZE: usize = 100;

fn key_of(p: &Pairs) -> ConsoleResult<String> {
    Ok(p.required("key")?.to_string())
}

/// The parent prefix of a key or prefix (`a/b/c` → `a/b/`).
fn parent(key: &str) -> &str {
    match key.trim_end_matches('/').rfind('/') {
        Some(i) => &key[..=i],
        None => "",
    }
}

pub async fn browse(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(&ctx.query)?;
    let prefix = ctx.query.get("prefix").unwrap_or("").to_string();
    let mut call = Call::bucket(Method::GET, &bucket)
        .query("list-type", "2")
        .query("delimiter", "/")
        .query("max-keys", PAGE_SIZE.to_string())
        .query("prefix", prefix.clone());
    if let Some(token) = ctx.query.get("token").filter(|t| !t.is_empty()) {
        call = call.query("continuation-token", token.to_string());
    }
    let text = ctx.call(call).await?.text();
    let mut rows = Markup::new();
    for p in xml::elements(&text, "CommonPrefixes") {
        let Some(sub) = xml::text(p, "Prefix") else {
            continue;
        };
        let label = sub
            .strip_prefix(prefix.as_str())
            .unwrap_or(&sub)
            .to_string();
        rows.push(html!(
            "<tr><td><a class=\"folder\" href=\"{}\">{}</a></td><td>folder</td><td></td><td></td></tr>",
            link("/browse", &[("bucket", &bucket), ("prefix", &sub)]),
            label
        ));
    }
    for c in xml::elements(&text, "Contents") {
        let Some(key) = xml::text(c, "Key") else {
            continue;
        };
        if key == prefix {
            continue;
        }
        let label = key
            .strip_prefix(prefix.as_str())
            .unwrap_or(&key)
            .to_string();
        let bytes = xml::text(c, "Size")
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let modified = xml::text(c, "LastModified").unwrap_or_default();
        rows.push(html!(
            "<tr><td><a href=\"{}\">{}</a></td><td class=\"num\">{}</td><td>{}</td>\
             <td><a href=\"{}\" download aria-label=\"Download {}\">Download</a> \
             <form method=\"post\" action=\"/object/delete\" class=\"inline\" data-confirm=\"Delete {}?\">{}\
             <input type=\"hidden\" name=\"bucket\" value=\"{}\"><input type=\"hidden\" name=\"key\" value=\"{}\">\
             <button type=\"submit\" aria-label=\"Delete {}\">Delete</button></form></td></tr>",
            link("/object", &[("bucket", &bucket), ("key", &key)]),
            label,
            size(bytes),
            modified,
            link("/download", &[("bucket", &bucket), ("key", &key)]),
            key,
            key,
            ctx.csrf_field(),
            bucket,
            key,
            key
        ));
    }
    let mut crumbs = html!(
        "<a href=\"{}\">{}</a>",
        link("/browse", &[("bucket", &bucket)]),
        bucket
    );
    let mut acc = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        acc.push_str(part);
        acc.push('/');
        crumbs.push(html!(
            " / <a href=\"{}\">{}</a>",
            link("/browse", &[("bucket", &bucket), ("prefix", &acc)]),
            part
        ));
    }
    let next = match xml::text(&text, "NextContinuationToken")
        .filter(|_| xml::text(&text, "IsTruncated").as_deref() == Some("true"))
    {
        Some(token) => html!(
            "<p><a rel=\"next\" href=\"{}\">Next page</a></p>",
            link(
                "/browse",
                &[("bucket", &bucket), ("prefix", &prefix), ("token", &token)]
            )
        ),
        None => Markup::new(),
    };
    let listing = if rows.as_str().is_empty() {
        html!("<p id=\"empty\">Nothing here yet.</p>")
    } else {
        html!(
            "<table id=\"objects\"><caption>Objects under {}</caption><thead><tr><th scope=\"col\">Name</th>\
             <th scope=\"col\">Size</th><th scope=\"col\">Last modified</th><th scope=\"col\">Actions</th>\
             </tr></thead><tbody>{}</tbody></table>",
            if prefix.is_empty() {
                "/".to_string()
            } else {
                prefix.clone()
            },
            rows
        )
    };
    let upload = html!(
        "<section aria-labelledby=\"upload-h\"><h2 id=\"upload-h\">Upload</h2>\
         <div id=\"uploader\" data-bucket=\"{}\" data-prefix=\"{}\">\
         <label for=\"upload-files\">Files</label><input type=\"file\" id=\"upload-files\" multiple>\
         <label for=\"upload-folder\">Or a folder</label><input type=\"file\" id=\"upload-folder\" webkitdirectory>\
         <button type=\"button\" id=\"upload-start\">Upload</button>\
         <ul id=\"upload-list\" aria-live=\"polite\"></ul></div></section>",
        bucket,
        prefix
    );
    let body = html!(
        "<nav aria-label=\"Path\" class=\"crumbs\">{}</nav><p><a href=\"{}\">Bucket settings</a></p>{}{}{}",
        crumbs,
        link("/bucket", &[("bucket", &bucket)]),
        listing,
        next,
        upload
    );
    Ok(page(
        ctx,
        Nav::Buckets,
        &format!("Objects in {bucket}"),
        body,
    ))
}

pub async fn details(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(&ctx.query)?;
    let key = key_of(&ctx.query)?;
    let head = ctx.call(Call::object(Method::HEAD, &bucket, &key)).await?;
    let header = |n: &str| {
        head.headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let mut facts = Markup::new();
    for (label, name) in [
        ("Size", "content-length"),
        ("Content type", "content-type"),
        ("ETag", "etag"),
        ("Last modified", "last-modified"),
        ("Version", "x-amz-version-id"),
        ("Encryption", "x-amz-server-side-encryption"),
        ("Retention mode", "x-amz-object-lock-mode"),
        ("Retain until", "x-amz-object-lock-retain-until-date"),
        ("Legal hold", "x-amz-object-lock-legal-hold"),
    ] {
        let v = header(name);
        if !v.is_empty() {
            facts.push(html!("<dt>{}</dt><dd>{}</dd>", label, v));
        }
    }
    for (name, value) in &head.headers {
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            facts.push(html!(
                "<dt>Metadata {}</dt><dd>{}</dd>",
                meta,
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            ));
        }
    }
    let tags = ctx
        .call_any(Call::object(Method::GET, &bucket, &key).query("tagging", ""))
        .await
        .ok()
        .filter(|a| a.status.is_success())
        .map(|a| {
            let t = a.text();
            Markup::concat(xml::elements(&t, "Tag").iter().map(|tag| {
                html!(
                    "<li>{} = {}</li>",
                    xml::text(tag, "Key").unwrap_or_default(),
                    xml::text(tag, "Value").unwrap_or_default()
                )
            }))
        })
        .unwrap_or_default();
    let versions_xml = ctx
        .call_any(
            Call::bucket(Method::GET, &bucket)
                .query("versions", "")
                .query("prefix", key.clone()),
        )
        .await
        .ok()
        .filter(|a| a.status.is_success())
        .map(|a| a.text())
        .unwrap_or_default();
    let mut versions = Markup::new();
    for (kind, entries) in [
        ("object", xml::elements(&versions_xml, "Version")),
        (
            "delete marker",
            xml::elements(&versions_xml, "DeleteMarker"),
        ),
    ] {
        for v in entries {
            if xml::text(v, "Key").as_deref() != Some(key.as_str()) {
                continue;
            }
            let id = xml::text(v, "VersionId").unwrap_or_default();
            let download = if kind == "object" {
                html!(
                    "<a href=\"{}\">Download</a> ",
                    link(
                        "/download",
                        &[("bucket", &bucket), ("key", &key), ("versionId", &id)]
                    )
                )
            } else {
                Markup::new()
            };
            versions.push(html!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}\
                 <form method=\"post\" action=\"/object/delete\" class=\"inline\" data-confirm=\"Delete this version for good?\">{}\
                 <input type=\"hidden\" name=\"bucket\" value=\"{}\"><input type=\"hidden\" name=\"key\" value=\"{}\">\
                 <input type=\"hidden\" name=\"versionId\" value=\"{}\">\
                 <button type=\"submit\" aria-label=\"Delete version {}\">Delete version</button></form></td></tr>",
                id,
                kind,
                xml::text(v, "LastModified").unwrap_or_default(),
                if xml::text(v, "IsLatest").as_deref() == Some("true") { "latest" } else { "" },
                download,
                ctx.csrf_field(),
                bucket,
                key,
                id,
                id
            ));
        }
    }
    let versions = if versions.as_str().is_empty() {
        html!("<p>No versions listed.</p>")
    } else {
        html!(
            "<table id=\"versions\"><thead><tr><th scope=\"col\">Version</th><th scope=\"col\">Kind</th>\
             <th scope=\"col\">Modified</th><th scope=\"col\">Latest</th><th scope=\"col\">Actions</th></tr></thead>\
             <tbody>{}</tbody></table>",
            versions
        )
    };
    let body = html!(
        "<p><a href=\"{}\">Back to {}</a> · <a href=\"{}\" download>Download</a></p>\
         <dl class=\"facts\" id=\"object-facts\">{}</dl>\
         <h2>Tags</h2><ul id=\"tags\">{}</ul>\
         <h2>Versions</h2>{}\
         <section aria-labelledby=\"share-h\"><h2 id=\"share-h\">Share</h2>\
         <form method=\"post\" action=\"/object/share\">{}\
         <input type=\"hidden\" name=\"bucket\" value=\"{}\"><input type=\"hidden\" name=\"key\" value=\"{}\">\
         <label for=\"expires\">Link valid for</label><select id=\"expires\" name=\"expires\">\
         <option value=\"900\">15 minutes</option><option value=\"3600\" selected>1 hour</option>\
         <option value=\"86400\">1 day</option><option value=\"604800\">7 days</option></select>\
         <button type=\"submit\">Create share link</button></form>\
         <p class=\"hint\">A link made in the console is signed with the session's temporary \
         credentials and ends with the session at the latest.</p></section>",
        link("/browse", &[("bucket", &bucket), ("prefix", parent(&key))]),
        bucket,
        link("/download", &[("bucket", &bucket), ("key", &key)]),
        facts,
        tags,
        versions,
        ctx.csrf_field(),
        bucket,
        key
    );
    Ok(page(ctx, Nav::Buckets, &key, body))
}

/// `filename` for `Content-Disposition`: the key's last segment, quoted-string safe,
/// and the exact name in `filename*`.
fn disposition(key: &str) -> String {
    let name = key
        .rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or("download");
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{}",
        sigv4::uri_encode(name.as_bytes())
    )
}

pub async fn download(ctx: &Ctx<'_>) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(&ctx.query)?;
    let key = key_of(&ctx.query)?;
    let mut call = Call::object(Method::GET, &bucket, &key);
    if let Some(v) = ctx.query.get("versionId").filter(|v| !v.is_empty()) {
        call = call.query("versionId", v.to_string());
    }
    let resp = ctx
        .console
        .backend
        .send(
            &super::super::backend::Signer::Session(ctx.session),
            ctx.remote,
            call,
        )
        .await?;
    if !resp.status().is_success() {
        let status = resp.status();
        let body = http_body_util::BodyExt::collect(http_body_util::Limited::new(
            resp.into_body(),
            64 * 1024,
        ))
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
        return Err(super::super::backend::api_error(status, &body));
    }
    let (parts, body) = resp.into_parts();
    let mut out = Response::new(body);
    if let Some(len) = parts.headers.get(http::header::CONTENT_LENGTH) {
        out.headers_mut()
            .insert(http::header::CONTENT_LENGTH, len.clone());
    }
    out.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = HeaderValue::from_str(&disposition(&key)) {
        out.headers_mut()
            .insert(http::header::CONTENT_DISPOSITION, v);
    }
    out.headers_mut().insert(
        "content-security-policy",
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(out)
}

pub async fn delete(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    let key = key_of(form)?;
    let mut call = Call::object(Method::DELETE, &bucket, &key);
    let version = form.get("versionId").filter(|v| !v.is_empty());
    if let Some(v) = version {
        call = call.query("versionId", v.to_string());
    }
    ctx.call(call).await?;
    tracing::info!(user = %ctx.session.user, bucket = %bucket, key = %key, version = version.unwrap_or(""), "console: object deleted");
    Ok(match version {
        Some(_) => redirect(&link("/object", &[("bucket", &bucket), ("key", &key)])),
        None => redirect(&link(
            "/browse",
            &[("bucket", &bucket), ("prefix", parent(&key))],
        )),
    })
}

/// A presigned `GET` link of at most `expires` seconds (and never beyond the session).
pub async fn share(ctx: &Ctx<'_>, form: &Pairs) -> ConsoleResult<Response<RespBody>> {
    let bucket = bucket_name(form)?;
    let key = key_of(form)?;
    let wanted: u64 = form
        .get("expires")
        .and_then(|e| e.parse().ok())
        .unwrap_or(3600)
        .clamp(1, sigv4::MAX_PRESIGN_EXPIRES);
    let left = u64::try_from((ctx.session.expires_ms - now_ms()) / 1000).unwrap_or(0);
    if left == 0 {
        return Err(ConsoleError::BadRequest("the session has expired".into()));
    }
    let expires = wanted.min(left);
    let console_host = ctx
        .host
        .rsplit_once(':')
        .map_or(ctx.host.as_str(), |(h, _)| h);
    let host = format!("{console_host}:{}", ctx.console.s3_address.port());
    let raw_path = format!(
        "/{}/{}",
        sigv4::uri_encode(bucket.as_bytes()),
        sigv4::uri_encode_path(&key)
    );
    let token_query = format!(
        "X-Amz-Security-Token={}",
        sigv4::uri_encode(ctx.session.token.as_bytes())
    );
    let query = sigv4::presign_query(
        &PresignRequest {
            method: &Method::GET,
            raw_path: &raw_path,
            raw_query: &token_query,
            host: &host,
            time: chrono::Utc::now(),
            region: ctx.console.backend.region(),
            expires_secs: expires,
        },
        &Credentials {
            access_key: ctx.session.access_key.clone(),
            secret_key: ctx.session.secret_key.clone(),
        },
    );
    let scheme = if ctx.console.secure { "https" } else { "http" };
    let url = format!("{scheme}://{host}{raw_path}?{query}");
    let body = html!(
        "<p>Anyone with this link can download <strong>{}</strong> for {} (until the \
         session ends, if sooner).</p>\
         <label for=\"share-url\">Share link</label>\
         <textarea id=\"share-url\" readonly rows=\"4\">{}</textarea>\
         <p><a href=\"{}\">Back to the object</a></p>",
        key,
        super::super::pages::objects::duration_text(expires),
        url,
        link("/object", &[("bucket", &bucket), ("key", &key)])
    );
    Ok(page(ctx, Nav::Buckets, "Share link", body))
}

/// `3600` → "1 h 0 min".
pub fn duration_text(secs: u64) -> String {
    if secs >= 3600 {
        format!("{} h {} min", secs / 3600, (secs % 3600) / 60)
    } else {
        format!("{} min", secs.div_ceil(60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_attachment_names() {
        assert_eq!(parent("a/b/c"), "a/b/");
        assert_eq!(parent("a/b/"), "a/");
        assert_eq!(parent("c"), "");
        assert_eq!(
            disposition("dir/ré\"port.html"),
            "attachment; filename=\"r__port.html\"; filename*=UTF-8''r%C3%A9%22port.html"
        );
        assert_eq!(duration_text(900), "15 min");
        assert_eq!(duration_text(5400), "1 h 30 min");
    }
}
