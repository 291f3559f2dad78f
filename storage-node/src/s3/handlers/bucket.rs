//! Bucket operations.

use super::super::authorize;
use super::super::error::{S3Error, S3Result};
use super::super::headers::iso_date;
use super::super::owner::{BUCKET_OWNER_CONFIG, Owner};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use super::acl::{ACL_CONFIG, Acl};
use super::public_access;
use crate::objects::bucket::BucketMeta;
use crate::objects::versioning::Versioning;
use http::{Response, StatusCode};
use std::collections::BTreeMap;

/// All buckets for the owner; for anyone else (who passed the s3:ListAllMyBuckets
/// check) the buckets it may list or locate, as MinIO does.
pub async fn list_buckets(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let mut buckets = s.objects.list_buckets().await?;
    if !req.access.caller.is_owner() {
        let mut visible = Vec::with_capacity(buckets.len());
        for b in buckets {
            let mut seen = false;
            for action in ["s3:ListBucket", "s3:GetBucketLocation"] {
                if authorize::permitted(s, &req.access, action, &b.name, None).await {
                    seen = true;
                    break;
                }
            }
            if seen {
                visible.push(b);
            }
        }
        buckets = visible;
    }
    // As on S3, the owner named is the requester.
    let mut w = XmlWriter::new("ListAllMyBucketsResult");
    Owner::of_caller(&req.access.caller)
        .unwrap_or_else(Owner::root)
        .write(&mut w, "Owner");
    w.open("Buckets");
    for b in &buckets {
        w.open("Bucket")
            .elem("Name", &b.name)
            .elem("CreationDate", &iso_date(b.created_ms))
            .close("Bucket");
    }
    w.close("Buckets");
    Ok(xml_response(
        StatusCode::OK,
        w.finish("ListAllMyBucketsResult"),
    ))
}

pub async fn create(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let mut region = None;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let cfg: xml::CreateBucketConfiguration = xml::parse(&body)?;
        region = cfg.location_constraint.filter(|r| !r.is_empty());
    }
    if let Some(r) = &region {
        if r != &s.config.region && !(s.config.region == "us-east-1" && r == "US") {
            return Err(S3Error::new(
                "InvalidLocationConstraint",
                StatusCode::BAD_REQUEST,
                format!(
                    "The specified location-constraint {r:?} is not valid; this server's region is {}",
                    s.config.region
                ),
            ));
        }
    }
    // A new bucket has no public access block yet; its ownership controls may come
    // with the request (`x-amz-object-ownership`), and then disable its ACL.
    let mut config = BTreeMap::new();
    if let Some(user) =
        Owner::of_caller(&req.access.caller).and_then(|o| o.stored().map(str::to_string))
    {
        config.insert(BUCKET_OWNER_CONFIG.to_string(), user);
    }
    let mut acl = Acl::from_headers(&req.headers)?;
    if let Some(rule) = req.header("x-amz-object-ownership") {
        let rule = public_access::ownership_rule(rule)?;
        if rule == public_access::BUCKET_OWNER_ENFORCED {
            let private = matches!(
                req.header("x-amz-acl").map(str::trim),
                None | Some("private" | "bucket-owner-full-control")
            );
            if !private || acl.as_ref().is_some_and(|a| !a.grants.is_empty()) {
                return Err(super::acl::not_supported());
            }
            acl = None;
        }
        config.insert(
            public_access::OWNERSHIP_CONFIG.to_string(),
            rule.to_string(),
        );
    }
    if let Some(a) = acl.and_then(|a| a.to_stored()) {
        config.insert(ACL_CONFIG.to_string(), a);
    }
    let object_lock = req
        .header("x-amz-bucket-object-lock-enabled")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if object_lock {
        // Object lock needs every version kept: versioning is enabled for good.
        config.insert(
            crate::objects::versioning::VERSIONING_CONFIG.to_string(),
            Versioning::Enabled
                .status()
                .unwrap_or("Enabled")
                .to_string(),
        );
    }
    s.objects
        .make_bucket(
            &bucket,
            BucketMeta {
                name: bucket.clone(),
                created_ms: 0,
                region,
                object_lock,
                config,
                ..Default::default()
            },
        )
        .await?;
    // The check of this request cached the bucket as absent (no owner, no ACL).
    s.policies.forget(&bucket);
    let mut r = empty(StatusCode::OK);
    if let Ok(v) = http::HeaderValue::from_str(&format!("/{bucket}")) {
        r.headers_mut().insert(http::header::LOCATION, v);
    }
    Ok(r)
}

pub async fn head(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    s.objects.bucket_meta(req.bucket()?).await?;
    let mut r = empty(StatusCode::OK);
    if let Ok(v) = http::HeaderValue::from_str(&s.config.region) {
        r.headers_mut().insert("x-amz-bucket-region", v);
    }
    Ok(r)
}

pub async fn delete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    s.objects.delete_bucket(req.bucket()?).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn location(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    s.objects.bucket_meta(req.bucket()?).await?;
    // us-east-1 is reported as an empty constraint, as S3 does.
    let region = if s.config.region == "us-east-1" {
        ""
    } else {
        s.config.region.as_str()
    };
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
        xml::escape(region)
    );
    Ok(xml_response(StatusCode::OK, xml))
}

/// GetBucketVersioning: `Status` once versioning was ever set, nothing before.
pub async fn versioning(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    s.objects.bucket_meta(bucket).await?;
    let state = s.objects.versioning(bucket).await?;
    let mut w = XmlWriter::new("VersioningConfiguration");
    if let Some(status) = state.status() {
        w.elem("Status", status);
    }
    Ok(xml_response(
        StatusCode::OK,
        w.finish("VersioningConfiguration"),
    ))
}

/// The PutBucketVersioning document.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VersioningConfiguration {
    #[serde(default)]
    status: Option<String>,
    #[serde(default, rename = "MfaDelete")]
    mfa_delete: Option<String>,
}

/// PutBucketVersioning: `Enabled` or `Suspended`. MFA delete is refused (Cairn has no
/// MFA devices); a document without `Status` changes nothing.
pub async fn put_versioning(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let doc: VersioningConfiguration = xml::parse(&body)?;
    match doc.mfa_delete.as_deref().map(str::trim) {
        None | Some("Disabled") => {}
        Some("Enabled") => {
            return Err(S3Error::not_implemented(
                "MFA Delete (MfaDelete Enabled in PutBucketVersioning)",
            ));
        }
        Some(_) => return Err(S3Error::malformed_xml()),
    }
    let state = match doc.status.as_deref().map(str::trim) {
        None => return Ok(empty(StatusCode::OK)),
        Some("Enabled") => Versioning::Enabled,
        Some("Suspended") => Versioning::Suspended,
        Some(_) => return Err(S3Error::malformed_xml()),
    };
    if state == Versioning::Suspended && s.objects.bucket_meta(&bucket).await?.object_lock {
        return Err(S3Error::new(
            "InvalidBucketState",
            StatusCode::CONFLICT,
            "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.",
        ));
    }
    s.set_bucket_config(
        &bucket,
        crate::objects::versioning::VERSIONING_CONFIG,
        state.status().map(str::to_string),
    )
    .await?;
    Ok(empty(StatusCode::OK))
}
