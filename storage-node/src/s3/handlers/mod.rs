//! One function per S3 operation, grouped by what they act on. `route` decides which
//! operation a request is, from method, bucket/key and sub-resource query parameters.

mod bucket;
mod list;
mod multipart;
mod object;

use super::encryption;
use super::error::{S3Error, S3Result};
use super::{RespBody, S3Request, S3Service};
use http::{Method, Response};

/// Sub-resources of a bucket that Cairn does not implement yet; answered with the
/// "not configured" error S3 gives for a bucket without that configuration, so that
/// tools probing them (s3cmd `info`, consoles) carry on.
const BUCKET_EMPTY_CONFIGS: &[(&str, &str, &str)] = &[
    (
        "policy",
        "NoSuchBucketPolicy",
        "The bucket policy does not exist",
    ),
    ("tagging", "NoSuchTagSet", "The TagSet does not exist"),
    (
        "cors",
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
    ),
    (
        "lifecycle",
        "NoSuchLifecycleConfiguration",
        "The lifecycle configuration does not exist",
    ),
    (
        "website",
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
    ),
    (
        "encryption",
        "ServerSideEncryptionConfigurationNotFoundError",
        "The server side encryption configuration was not found",
    ),
    (
        "object-lock",
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
    ),
    (
        "replication",
        "ReplicationConfigurationNotFoundError",
        "The replication configuration was not found",
    ),
];

/// Sub-resources not implemented at all.
const UNSUPPORTED: &[&str] = &[
    "acl",
    "policy",
    "tagging",
    "cors",
    "lifecycle",
    "website",
    "encryption",
    "object-lock",
    "replication",
    "notification",
    "logging",
    "requestPayment",
    "accelerate",
    "analytics",
    "inventory",
    "metrics",
    "intelligent-tiering",
    "ownershipControls",
    "publicAccessBlock",
    "retention",
    "legal-hold",
    "restore",
    "select",
    "torrent",
    "attributes",
    "versions",
];

fn versioning_check(req: &S3Request) -> S3Result<()> {
    // Buckets are unversioned: the only version id that exists is "null".
    match req.query.get("versionId") {
        None | Some("null") => Ok(()),
        Some(_) => Err(S3Error::invalid_argument("Invalid version id specified")),
    }
}

pub async fn route(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    // Before any handler runs, so a refused request reads no body and writes nothing.
    encryption::refuse_requested(&req.headers)?;
    let m = req.method.clone();
    let has = |q: &str| req.query.has(q);
    match (&req.target.bucket, &req.target.key) {
        (None, _) => match m {
            Method::GET => bucket::list_buckets(s, req).await,
            _ => Err(S3Error::method_not_allowed()),
        },
        (Some(_), None) => {
            if m == Method::GET {
                if has("location") {
                    return bucket::location(s, req).await;
                }
                if has("versioning") {
                    return bucket::versioning(s, req).await;
                }
                if has("acl") {
                    return bucket::acl(s, req).await;
                }
                if has("uploads") {
                    return multipart::list_uploads(s, req).await;
                }
                for (q, code, msg) in BUCKET_EMPTY_CONFIGS {
                    if has(q) {
                        s.objects.require_bucket(req.bucket()?).await?;
                        return Err(S3Error::new(code, http::StatusCode::NOT_FOUND, *msg)
                            .with("BucketName", req.bucket()?));
                    }
                }
                if let Some(q) = UNSUPPORTED.iter().find(|q| has(q)) {
                    return Err(S3Error::not_implemented(&format!("GET ?{q}")));
                }
                if req.query.get("list-type") == Some("2") {
                    return list::list_v2(s, req).await;
                }
                return list::list_v1(s, req).await;
            }
            if m == Method::PUT && has("encryption") {
                // PutBucketEncryption: a default encryption we would not apply.
                s.objects.require_bucket(req.bucket()?).await?;
                return Err(encryption::not_configured(
                    "a bucket encryption configuration",
                ));
            }
            if let Some(q) = UNSUPPORTED.iter().find(|q| has(q)) {
                return Err(S3Error::not_implemented(&format!("{m} ?{q}")));
            }
            match m {
                Method::PUT if has("versioning") => {
                    Err(S3Error::not_implemented("bucket versioning"))
                }
                Method::PUT => bucket::create(s, req).await,
                Method::HEAD => bucket::head(s, req).await,
                Method::DELETE => bucket::delete(s, req).await,
                Method::POST if has("delete") => object::delete_many(s, req).await,
                _ => Err(S3Error::method_not_allowed()),
            }
        }
        (Some(_), Some(_)) => {
            versioning_check(req)?;
            let copy = req.headers.contains_key("x-amz-copy-source");
            let upload = has("uploadId");
            if let Some(q) = UNSUPPORTED.iter().find(|q| has(q)) {
                if !(m == Method::PUT && *q == "acl") {
                    return Err(S3Error::not_implemented(&format!("{m} ?{q}")));
                }
                // Setting a canned ACL is accepted and ignored, as with bucket ACLs.
                return object::acl_accepted(s, req).await;
            }
            match m {
                Method::PUT if upload && copy => multipart::upload_part_copy(s, req).await,
                Method::PUT if upload => multipart::upload_part(s, req).await,
                Method::PUT if copy => object::copy(s, req).await,
                Method::PUT => object::put(s, req).await,
                Method::GET if upload => multipart::list_parts(s, req).await,
                Method::GET => object::get(s, req, false).await,
                Method::HEAD => object::get(s, req, true).await,
                Method::DELETE if upload => multipart::abort(s, req).await,
                Method::DELETE => object::delete(s, req).await,
                Method::POST if has("uploads") => multipart::create(s, req).await,
                Method::POST if upload => multipart::complete(s, req).await,
                _ => Err(S3Error::method_not_allowed()),
            }
        }
    }
}
