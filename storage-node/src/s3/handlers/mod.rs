//! One function per S3 operation, grouped by what they act on. `route` works out the
//! operation (`Operation::from_request`) and dispatches on it; `route_op` dispatches an
//! operation already worked out, so that it can be authorized first.

pub mod acl;
mod attributes;
mod bucket;
pub mod bucket_encryption;
pub mod bucket_policy;
pub mod cors;
pub mod lifecycle;
mod list;
mod list_versions;
mod multipart;
mod object;
pub mod object_lock;
pub mod post_object;
pub mod public_access;
mod snowball;
pub mod tagging;

use super::error::{S3Error, S3Result};
use super::operation::Operation;
use super::{RespBody, S3Request, S3Service};
use http::{Method, Response, StatusCode};

/// The operation `req` is: the routing decision, made once.
pub fn operation(req: &S3Request) -> S3Result<Operation> {
    Operation::from_request(&req.method, &req.target, &req.query, &req.headers)
}

/// Works out the operation and serves it.
pub async fn route(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    refuse_unsupported(s, req)?;
    let op = operation(req)?;
    refuse_version(req, &op)?;
    dispatch(s, req, op).await
}

/// Serves `op`, which must be `operation(req)`; for a caller that has checked the
/// operation (authorization) before it is served.
pub async fn route_op(
    s: &S3Service,
    req: &mut S3Request,
    op: Operation,
) -> S3Result<Response<RespBody>> {
    refuse_unsupported(s, req)?;
    refuse_version(req, &op)?;
    dispatch(s, req, op).await
}

/// Requests Cairn refuses whatever the operation. Before any handler runs, so a refused
/// request reads no body and writes nothing.
fn refuse_unsupported(s: &S3Service, req: &S3Request) -> S3Result<()> {
    // An SSE-C key sent in the clear is refused before anything else looks at it.
    if !s.sse.tls
        && req.headers.keys().any(|k| {
            let k = k.as_str();
            k.starts_with("x-amz-server-side-encryption-customer-")
                || k.starts_with("x-amz-copy-source-server-side-encryption-customer-")
        })
    {
        return Err(S3Error::invalid_request(
            "Requests specifying Server Side Encryption with Customer provided keys must be made over a secure connection.",
        ));
    }
    Ok(())
}

/// A malformed `versionId` is refused (400), and one other than `null` on an object
/// operation that does not act on versions yet (501), before anything is read.
fn refuse_version(req: &S3Request, op: &Operation) -> S3Result<()> {
    if req.target.bucket.is_some() && req.target.key.is_some() {
        if let Some(v) = req.query.get("versionId") {
            crate::objects::versioning::validate_version_id(v)?;
            // GET, HEAD, DELETE and GetObjectAttributes read or remove any version, and
            // tagging and object lock act on any; the other object operations (ACLs,
            // torrents) act on the latest version only, which `null` may name.
            let by_version = matches!(
                op,
                Operation::GetObject { .. }
                    | Operation::HeadObject { .. }
                    | Operation::DeleteObject { .. }
                    | Operation::GetObjectAttributes { .. }
                    | Operation::GetObjectTagging { .. }
                    | Operation::PutObjectTagging { .. }
                    | Operation::DeleteObjectTagging { .. }
                    | Operation::GetObjectRetention
                    | Operation::PutObjectRetention
                    | Operation::GetObjectLegalHold
                    | Operation::PutObjectLegalHold
            );
            if !by_version && v != crate::objects::meta::NULL_VERSION {
                return Err(S3Error::not_implemented(&format!(
                    "{} of a version other than null",
                    op.name()
                )));
            }
        }
    }
    Ok(())
}

async fn dispatch(
    s: &S3Service,
    req: &mut S3Request,
    op: Operation,
) -> S3Result<Response<RespBody>> {
    use Operation as O;
    match op {
        O::ListBuckets => bucket::list_buckets(s, req).await,
        O::CreateBucket => bucket::create(s, req).await,
        O::HeadBucket => bucket::head(s, req).await,
        O::DeleteBucket => bucket::delete(s, req).await,
        O::GetBucketLocation => bucket::location(s, req).await,
        O::GetBucketVersioning => bucket::versioning(s, req).await,
        O::PutBucketVersioning => bucket::put_versioning(s, req).await,
        O::ListObjectVersions => list_versions::list(s, req).await,
        O::GetBucketAcl => acl::get_bucket(s, req).await,
        O::PutBucketAcl => acl::put_bucket(s, req).await,
        O::GetObjectAcl { .. } => acl::get_object(s, req).await,
        O::PutObjectAcl { .. } => acl::put_object(s, req).await,
        O::GetBucketPolicy => bucket_policy::get(s, req).await,
        O::PutBucketPolicy => bucket_policy::put(s, req).await,
        O::DeleteBucketPolicy => bucket_policy::delete(s, req).await,
        O::GetBucketPolicyStatus => bucket_policy::status(s, req).await,
        O::GetPublicAccessBlock => public_access::get_block(s, req).await,
        O::PutPublicAccessBlock => public_access::put_block(s, req).await,
        O::DeletePublicAccessBlock => public_access::delete_block(s, req).await,
        O::GetBucketOwnershipControls => public_access::get_ownership(s, req).await,
        O::PutBucketOwnershipControls => public_access::put_ownership(s, req).await,
        O::DeleteBucketOwnershipControls => public_access::delete_ownership(s, req).await,
        O::GetBucketCors => cors::get(s, req).await,
        O::PutBucketCors => cors::put(s, req).await,
        O::DeleteBucketCors => cors::delete(s, req).await,
        O::GetBucketLifecycleConfiguration => lifecycle::get(s, req).await,
        O::PutBucketLifecycleConfiguration => lifecycle::put(s, req).await,
        O::DeleteBucketLifecycle => lifecycle::delete(s, req).await,
        O::GetBucketEncryption => bucket_encryption::get(s, req).await,
        O::PutBucketEncryption => bucket_encryption::put(s, req).await,
        O::DeleteBucketEncryption => bucket_encryption::delete(s, req).await,
        O::GetBucketTagging => tagging::get_bucket(s, req).await,
        O::PutBucketTagging => tagging::put_bucket(s, req).await,
        O::DeleteBucketTagging => tagging::delete_bucket(s, req).await,
        O::GetObjectTagging { .. } => tagging::get_object(s, req).await,
        O::PutObjectTagging { .. } => tagging::put_object(s, req).await,
        O::DeleteObjectTagging { .. } => tagging::delete_object(s, req).await,
        O::GetObjectLockConfiguration => object_lock::get_config(s, req).await,
        O::PutObjectLockConfiguration => object_lock::put_config(s, req).await,
        O::GetObjectRetention => object_lock::get_retention(s, req).await,
        O::PutObjectRetention => object_lock::put_retention(s, req).await,
        O::GetObjectLegalHold => object_lock::get_legal_hold(s, req).await,
        O::PutObjectLegalHold => object_lock::put_legal_hold(s, req).await,
        O::ListObjects => list::list_v1(s, req).await,
        O::ListObjectsV2 => list::list_v2(s, req).await,
        O::ListMultipartUploads => multipart::list_uploads(s, req).await,
        O::DeleteObjects => object::delete_many(s, req).await,

        O::PutObject => object::put(s, req).await,
        O::CopyObject { .. } => object::copy(s, req).await,
        O::GetObject { .. } => object::get(s, req, false).await,
        O::GetObjectAttributes { .. } => attributes::get(s, req).await,
        O::HeadObject { .. } => object::get(s, req, true).await,
        O::DeleteObject { .. } => object::delete(s, req).await,

        O::CreateMultipartUpload => multipart::create(s, req).await,
        O::UploadPart => multipart::upload_part(s, req).await,
        O::UploadPartCopy { .. } => multipart::upload_part_copy(s, req).await,
        O::CompleteMultipartUpload => multipart::complete(s, req).await,
        O::AbortMultipartUpload => multipart::abort(s, req).await,
        O::ListParts => multipart::list_parts(s, req).await,

        // Bucket configurations Cairn does not implement yet: the "not configured" error
        // S3 gives for a bucket without one, so that tools probing them (s3cmd `info`,
        // consoles) carry on.
        O::GetBucketWebsite => {
            let msg = "The specified bucket does not have a website configuration";
            not_configured(s, req, "NoSuchWebsiteConfiguration", msg).await
        }
        O::GetBucketReplication => {
            let code = "ReplicationConfigurationNotFoundError";
            let msg = "The replication configuration was not found";
            not_configured(s, req, code, msg).await
        }
        // Browser form uploads are served before header authentication
        // (`post_object::serve`); one cannot reach here.
        O::PostObject => Err(S3Error::method_not_allowed()),
        other => Err(not_implemented(&req.method, other)),
    }
}

/// The error S3 gives for a bucket without the configuration asked for (404), once the
/// bucket is known to exist.
async fn not_configured(
    s: &S3Service,
    req: &S3Request,
    code: &'static str,
    message: &str,
) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    s.objects.require_bucket(bucket).await?;
    Err(S3Error::new(code, StatusCode::NOT_FOUND, message).with("BucketName", bucket))
}

/// 501 for an operation Cairn does not implement, naming method and sub-resource
/// (`GET ?analytics is not implemented`).
fn not_implemented(method: &Method, op: Operation) -> S3Error {
    match op.sub_resource() {
        Some(q) => S3Error::not_implemented(&format!("{method} ?{q}")),
        None => S3Error::not_implemented(op.name()),
    }
}
