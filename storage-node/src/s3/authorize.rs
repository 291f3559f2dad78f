//! The one permission check of the S3 API. Every request passes here after its
//! signature is verified and its operation is known, before any handler runs, so no
//! handler can forget it: the caller needs every IAM action of the operation on its
//! resource (and `s3:GetObject` on a copy's source). Root skips all of it (the hot path
//! of the root key costs nothing). Handlers that act on several resources in one
//! request (DeleteObjects' keys, ListBuckets' buckets) check each with [`Access::allows`].
//!
//! The request context holds the condition keys AWS defines for S3 that Cairn can know
//! here: `s3:prefix`, `s3:delimiter`, `s3:max-keys`, `s3:x-amz-acl`, `s3:x-amz-grant-*`,
//! `s3:x-amz-content-sha256`, `s3:x-amz-copy-source`, `s3:x-amz-metadata-directive`,
//! `s3:x-amz-storage-class`, `s3:x-amz-server-side-encryption*`, `s3:object-lock-*`,
//! `s3:versionid`, `s3:signatureversion`, `s3:authType`, `s3:RequestObjectTag/<k>` and
//! `s3:RequestObjectTagKeys` (from `x-amz-tagging`), `aws:SourceIp` (the connection's
//! peer; no proxy header is trusted), `aws:SecureTransport`, `aws:CurrentTime`,
//! `aws:EpochTime`, `aws:Referer`, `aws:UserAgent`, and the caller's `aws:username`,
//! `aws:userid`, `aws:PrincipalType`. `s3:ExistingObjectTag/<k>` is not filled (objects
//! have no tags yet), so conditions on it do not match.

use super::S3Service;
use super::error::{S3Error, S3Result};
use super::operation::{Operation, ResourceLevel};
use super::request::{Query, Target};
use crate::iam::Caller;
use crate::remote::Remote;
use cairn_policy::{Policy, Request, Values};
use http::HeaderMap;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Name of the bucket policy in the bucket's configuration record.
pub const POLICY_CONFIG: &str = "policy";

/// How long a bucket's policy is reused before it is read again: a policy changed
/// through another server is enforced here within this time.
const POLICY_TTL: Duration = Duration::from_secs(1);
/// Cached policies kept at most (one per bucket; the cache is cleared when full).
const POLICY_CACHE_MAX: usize = 10_000;

/// A bucket's policy (or its absence) and when it was read.
type Cached = (Instant, Option<Arc<Policy>>);

/// Bucket policies as last read, per bucket.
#[derive(Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<String, Cached>>,
}

impl PolicyCache {
    /// The bucket's policy, from the cache when fresh. A bucket that does not exist, or
    /// whose record cannot be read, has none (so nothing is granted by it).
    pub async fn get(&self, s: &S3Service, bucket: &str) -> Option<Arc<Policy>> {
        if let Ok(m) = self.entries.lock() {
            if let Some((at, p)) = m.get(bucket) {
                if at.elapsed() < POLICY_TTL {
                    return p.clone();
                }
            }
        }
        let policy = match s.objects.bucket_meta(bucket).await {
            Ok(meta) => meta.config.get(POLICY_CONFIG).and_then(|doc| {
                match Policy::parse_bucket_policy(doc.as_bytes(), bucket) {
                    Ok(p) => Some(Arc::new(p)),
                    Err(e) => {
                        tracing::warn!(bucket, error = %e, "stored bucket policy does not parse");
                        None
                    }
                }
            }),
            Err(_) => None,
        };
        if let Ok(mut m) = self.entries.lock() {
            if m.len() >= POLICY_CACHE_MAX {
                m.clear();
            }
            m.insert(bucket.to_string(), (Instant::now(), policy.clone()));
        }
        policy
    }

    /// Forgets a bucket's policy after this server changed it.
    pub fn forget(&self, bucket: &str) {
        if let Ok(mut m) = self.entries.lock() {
            m.remove(bucket);
        }
    }
}

/// A request's caller and context, kept for the checks handlers make per resource.
pub struct Access {
    pub caller: Caller,
    conditions: Values,
}

impl Access {
    /// The caller and the request context of one request.
    pub fn new(
        caller: Caller,
        headers: &HeaderMap,
        query: &Query,
        remote: Option<&Remote>,
        presigned_v4: bool,
    ) -> Self {
        let mut v = context(headers, query, remote, presigned_v4);
        caller.describe(&mut v);
        Self {
            caller,
            conditions: v,
        }
    }

    /// Whether the caller may do `action` on `bucket` (and `key`), given the bucket's
    /// policy.
    pub fn allows(
        &self,
        action: &str,
        bucket: &str,
        key: Option<&str>,
        bucket_policy: Option<&Policy>,
    ) -> bool {
        if self.caller.is_owner() {
            return true;
        }
        let principal = self.caller.principal();
        let mut req = Request::new(action, &self.conditions).with_bucket(bucket);
        if let Some(k) = key {
            req = req.with_key(k);
        }
        if let Some(p) = principal.as_ref() {
            req = req.with_caller(p);
        }
        self.caller.is_allowed(&req, bucket_policy)
    }
}

fn denied() -> S3Error {
    S3Error::access_denied()
}

/// Checks that the caller may make `op` on `target`. Operations over many resources
/// (DeleteObjects' keys, ListBuckets' list) are checked further by their handlers.
pub async fn check(
    s: &S3Service,
    access: &Access,
    op: &Operation,
    target: &Target,
    headers: &HeaderMap,
) -> S3Result<()> {
    if access.caller.is_owner() {
        return Ok(());
    }
    let bucket = target.bucket.as_deref().unwrap_or("");
    let key = match op.resource_level() {
        ResourceLevel::Object => target.key.as_deref(),
        _ => None,
    };
    // DeleteObjects names its keys in the body: the handler checks each one.
    if matches!(op, Operation::DeleteObjects) {
        return Ok(());
    }
    let policy = if bucket.is_empty() {
        None
    } else {
        s.policies.get(s, bucket).await
    };
    for action in op.iam_actions() {
        if !access.allows(action, bucket, key, policy.as_deref()) {
            return Err(denied());
        }
    }
    if let Some(action) = op.source_action() {
        let (src_bucket, src_key) = super::headers::copy_source(headers)?;
        let src_policy = s.policies.get(s, &src_bucket).await;
        if !access.allows(action, &src_bucket, Some(&src_key), src_policy.as_deref()) {
            return Err(denied());
        }
    }
    Ok(())
}

/// The S3 and global condition keys of a request.
fn context(
    headers: &HeaderMap,
    query: &Query,
    remote: Option<&Remote>,
    presigned_v4: bool,
) -> Values {
    let mut v = Values::new();
    let header = |name: &str| headers.get(name).and_then(|h| h.to_str().ok());
    for (q, key) in [
        ("prefix", "s3:prefix"),
        ("delimiter", "s3:delimiter"),
        ("max-keys", "s3:max-keys"),
        ("versionId", "s3:versionid"),
    ] {
        if let Some(x) = query.get(q) {
            v.insert(key, x);
        }
    }
    for name in [
        "x-amz-acl",
        "x-amz-grant-read",
        "x-amz-grant-write",
        "x-amz-grant-read-acp",
        "x-amz-grant-write-acp",
        "x-amz-grant-full-control",
        "x-amz-content-sha256",
        "x-amz-copy-source",
        "x-amz-metadata-directive",
        "x-amz-storage-class",
        "x-amz-server-side-encryption",
        "x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-customer-algorithm",
        "x-amz-object-lock-mode",
        "x-amz-object-lock-retain-until-date",
        "x-amz-object-lock-legal-hold",
    ] {
        if let Some(x) = header(name) {
            let key = format!("s3:{}", name.replace("x-amz-object-lock-", "object-lock-"));
            v.insert(&key, x);
        }
    }
    if let Some(tagging) = header("x-amz-tagging") {
        let mut keys = Vec::new();
        if let Ok(q) = Query::parse(tagging) {
            for (k, val) in q.iter() {
                v.insert(&format!("s3:RequestObjectTag/{k}"), val);
                keys.push(k.to_string());
            }
        }
        v.set("s3:RequestObjectTagKeys", keys);
    }
    let authorization = header("authorization").unwrap_or("");
    let (version, auth_type) = if presigned_v4 {
        ("AWS4-HMAC-SHA256", "REST-QUERY-STRING")
    } else if authorization.starts_with("AWS4-") {
        ("AWS4-HMAC-SHA256", "REST-HEADER")
    } else if authorization.starts_with("AWS ") {
        ("AWS", "REST-HEADER")
    } else if query.has("Signature") {
        ("AWS", "REST-QUERY-STRING")
    } else {
        ("", "")
    };
    if !version.is_empty() {
        v.insert("s3:signatureversion", version);
        v.insert("s3:authType", auth_type);
    }
    if let Some(r) = remote {
        v.insert("aws:SourceIp", r.addr.ip().to_string());
        v.insert("aws:SecureTransport", if r.secure { "true" } else { "false" });
    }
    let now = chrono::Utc::now();
    v.insert(
        "aws:CurrentTime",
        now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    );
    v.insert("aws:EpochTime", now.timestamp().to_string());
    if let Some(r) = header("referer") {
        v.insert("aws:Referer", r);
    }
    if let Some(ua) = header("user-agent") {
        v.insert("aws:UserAgent", ua);
    }
    v
}
