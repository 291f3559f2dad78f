//! The one permission check of the S3 API. Every request passes here after its
//! signature is verified and its operation is known, before any handler runs, so no
//! handler can forget it: the caller needs every IAM action of the operation on its
//! resource (and `s3:GetObject` on a copy's source). Root skips all of it (the hot path
//! of the root key costs nothing). Handlers that act on several resources in one
//! request (DeleteObjects' keys, ListBuckets' buckets) check each with [`permitted`].
//!
//! [`permitted`] is the decision: IAM or the bucket policy allows, or else an ACL grant
//! (handlers/acl.rs) allows and no policy explicitly denies. The bucket's public access
//! block (IgnorePublicAcls, RestrictPublicBuckets) and ownership controls
//! (BucketOwnerEnforced: ACLs ignored) are applied here; they are read with the policy
//! from the bucket's configuration record into one cached [`BucketAuth`].
//!
//! The request context holds the condition keys AWS defines for S3 that Cairn can know
//! here: `s3:prefix`, `s3:delimiter`, `s3:max-keys`, `s3:x-amz-acl`, `s3:x-amz-grant-*`,
//! `s3:x-amz-content-sha256`, `s3:x-amz-copy-source`, `s3:x-amz-metadata-directive`,
//! `s3:x-amz-storage-class`, `s3:x-amz-server-side-encryption*`, `s3:object-lock-*`,
//! `s3:versionid`, `s3:signatureversion`, `s3:authType`, `s3:RequestObjectTag/<k>` and
//! `s3:RequestObjectTagKeys` (from `x-amz-tagging`), `aws:SourceIp` (the connection's
//! peer; no proxy header is trusted), `aws:SecureTransport`, `aws:CurrentTime`,
//! `aws:EpochTime`, `aws:Referer`, `aws:UserAgent`, and the caller's `aws:username`,
//! `aws:userid`, `aws:PrincipalType`, and `s3:ExistingObjectTag/<k>` (the addressed
//! object's tags, read only when a policy that applies names that key).

use super::S3Service;
use super::error::{S3Error, S3Result};
use super::handlers::acl::{ACL_CONFIG, Acl, OBJECT_ACL_HEADER, permission_for};
use super::handlers::bucket_encryption::{DefaultEncryption, ENCRYPTION_CONFIG};
use super::handlers::bucket_policy;
use super::handlers::cors::{CORS_CONFIG, CorsConfig};
use super::handlers::object_lock::{DefaultRetention, LOCK_CONFIG};
use super::handlers::public_access::{
    BUCKET_OWNER_ENFORCED, OWNERSHIP_CONFIG, PUBLIC_ACCESS_CONFIG, PublicAccessBlock,
};
use super::handlers::tagging::Tags;
use super::operation::{Operation, ResourceLevel};
use super::owner::Owner;
use super::request::{Query, Target};
use crate::iam::{Caller, Kind};
use crate::remote::Remote;
use cairn_policy::{Decision, Policy, Request, Values};
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

/// What the permission check needs of a bucket's configuration record, read at once.
#[derive(Debug, Default)]
pub struct BucketAuth {
    pub policy: Option<Arc<Policy>>,
    /// Whether the policy grants anything to everyone (RestrictPublicBuckets).
    pub policy_public: bool,
    pub acl: Acl,
    pub public_access: PublicAccessBlock,
    /// OwnershipControls `BucketOwnerEnforced`: ACLs are disabled.
    pub owner_enforced: bool,
    /// Who created the bucket (FULL_CONTROL through its ACL).
    pub owner: Owner,
    /// The bucket's CORS rules, for preflight requests and `Origin` answers.
    pub cors: Option<Arc<CorsConfig>>,
    /// The bucket's default encryption, applied to writes that name none.
    pub default_encryption: Option<DefaultEncryption>,
    /// The bucket's lifecycle rules, for `x-amz-expiration` on object answers.
    pub lifecycle: Option<Arc<crate::lifecycle::config::LifecycleConfig>>,
    /// The bucket was created with object lock (its writes take lock headers).
    pub object_lock: bool,
    /// The bucket's default retention, applied to new versions that name none.
    pub lock_default: Option<DefaultRetention>,
}

/// A bucket's authorization settings and when they were read.
type Cached = (Instant, Arc<BucketAuth>);

/// Bucket policies (and ACL, public access block, ownership) as last read, per bucket.
#[derive(Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<String, Cached>>,
}

impl PolicyCache {
    /// The bucket's policy, from the cache when fresh. A bucket that does not exist, or
    /// whose record cannot be read, has none (so nothing is granted by it).
    pub async fn get(&self, s: &S3Service, bucket: &str) -> Option<Arc<Policy>> {
        self.auth(s, bucket).await.policy.clone()
    }

    /// The bucket's authorization settings, from the cache when fresh.
    pub async fn auth(&self, s: &S3Service, bucket: &str) -> Arc<BucketAuth> {
        if let Ok(m) = self.entries.lock() {
            if let Some((at, a)) = m.get(bucket) {
                if at.elapsed() < POLICY_TTL {
                    return a.clone();
                }
            }
        }
        let auth = match s.objects.bucket_meta(bucket).await {
            Ok(meta) => Arc::new(read_auth(&meta.config, bucket, meta.object_lock)),
            // Not cached: a bucket created a moment later (through any server) must
            // show its owner and settings at once.
            Err(_) => return Arc::new(BucketAuth::default()),
        };
        if let Ok(mut m) = self.entries.lock() {
            if m.len() >= POLICY_CACHE_MAX {
                m.clear();
            }
            m.insert(bucket.to_string(), (Instant::now(), auth.clone()));
        }
        auth
    }

    /// Forgets a bucket's settings after this server changed them.
    pub fn forget(&self, bucket: &str) {
        if let Ok(mut m) = self.entries.lock() {
            m.remove(bucket);
        }
    }
}

fn read_auth(
    config: &std::collections::BTreeMap<String, String>,
    bucket: &str,
    object_lock: bool,
) -> BucketAuth {
    let policy = config.get(POLICY_CONFIG).and_then(|doc| {
        match Policy::parse_bucket_policy(doc.as_bytes(), bucket) {
            Ok(p) => Some(Arc::new(p)),
            Err(e) => {
                tracing::warn!(bucket, error = %e, "stored bucket policy does not parse");
                None
            }
        }
    });
    BucketAuth {
        policy_public: policy.as_deref().is_some_and(bucket_policy::is_public),
        policy,
        acl: Acl::from_stored(config.get(ACL_CONFIG)),
        public_access: PublicAccessBlock::from_stored(config.get(PUBLIC_ACCESS_CONFIG)),
        owner_enforced: config
            .get(OWNERSHIP_CONFIG)
            .is_some_and(|r| r == BUCKET_OWNER_ENFORCED),
        owner: Owner::of_bucket(config),
        cors: CorsConfig::from_stored(config.get(CORS_CONFIG)).map(Arc::new),
        default_encryption: DefaultEncryption::from_stored(config.get(ENCRYPTION_CONFIG)),
        lifecycle: crate::lifecycle::config::LifecycleConfig::from_stored(
            config.get(crate::lifecycle::LIFECYCLE_CONFIG),
        )
        .map(Arc::new),
        object_lock,
        lock_default: DefaultRetention::from_stored(config.get(LOCK_CONFIG)),
    }
}

/// A request's caller and context, kept for the checks handlers make per resource.
#[derive(Clone)]
pub struct Access {
    pub caller: Caller,
    conditions: Values,
}

impl Access {
    /// The caller and the request context of one request. An owner (root) is never
    /// evaluated, so its context is not built: the root key's hot path stays free.
    pub fn new(
        caller: Caller,
        headers: &HeaderMap,
        query: &Query,
        remote: Option<&Remote>,
        presigned_v4: bool,
    ) -> Self {
        if caller.is_owner() {
            return Self {
                caller,
                conditions: Values::new(),
            };
        }
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

    /// Whether some policy explicitly denies the action (or a service account's or
    /// session's narrowing policy does not allow it): then no ACL grant can allow it.
    fn denied_outright(
        &self,
        action: &str,
        bucket: &str,
        key: Option<&str>,
        bucket_policy: Option<&Policy>,
    ) -> bool {
        let principal = self.caller.principal();
        let mut req = Request::new(action, &self.conditions).with_bucket(bucket);
        if let Some(k) = key {
            req = req.with_key(k);
        }
        if let Some(p) = principal.as_ref() {
            req = req.with_caller(p);
        }
        bucket_policy.is_some_and(|p| p.evaluate_resource(&req) == Decision::ExplicitDeny)
            || self
                .caller
                .policies
                .iter()
                .any(|p| p.evaluate(&req) == Decision::ExplicitDeny)
            || self
                .caller
                .narrowing
                .as_ref()
                .is_some_and(|p| p.evaluate(&req) != Decision::Allow)
    }
}

/// Whether the caller may do `action` on `bucket` (and `key`): IAM or the bucket
/// policy allows it, or an ACL grant does and no policy denies it. Honours the bucket's
/// public access block (IgnorePublicAcls, RestrictPublicBuckets) and ownership controls
/// (BucketOwnerEnforced ignores ACLs). Reads the object's ACL only when the policies
/// did not allow and an object ACL could.
pub async fn permitted(
    s: &S3Service,
    access: &Access,
    action: &str,
    bucket: &str,
    key: Option<&str>,
) -> bool {
    if access.caller.is_owner() {
        return true;
    }
    let auth = s.policies.auth(s, bucket).await;
    let anonymous = access.caller.kind == Kind::Anonymous;
    // RestrictPublicBuckets: a public policy grants nothing to unsigned callers (all
    // signed callers belong to this deployment).
    let restricted = anonymous && auth.public_access.restrict_public_buckets && auth.policy_public;
    let policy = auth.policy.as_deref();
    if !restricted && access.allows(action, bucket, key, policy) {
        return true;
    }
    if auth.owner_enforced || access.denied_outright(action, bucket, key, policy) {
        return false;
    }
    let Some((needed, on_object)) = permission_for(action) else {
        return false;
    };
    let ignore_public = auth.public_access.ignore_public_acls;
    let caller_owner = Owner::of_caller(&access.caller);
    if !on_object {
        return caller_owner.as_ref() == Some(&auth.owner)
            || auth.acl.grants(&access.caller, needed, ignore_public);
    }
    let Some(key) = key else {
        return false;
    };
    match s.objects.object_info(bucket, key).await {
        Ok(info) => {
            caller_owner.is_some_and(|o| o == Owner::of_object(&info.headers))
                || Acl::from_stored(info.headers.get(OBJECT_ACL_HEADER)).grants(
                    &access.caller,
                    needed,
                    ignore_public,
                )
        }
        Err(_) => false,
    }
}

fn denied() -> S3Error {
    S3Error::access_denied()
}

const EXISTING_TAG: &[u8] = b"s3:ExistingObjectTag/";

/// Whether a policy that may apply to this caller and bucket has a condition on
/// `s3:ExistingObjectTag/...`: only then are the object's tags read (a quorum read of
/// its metadata).
async fn mentions_existing_tags(s: &S3Service, access: &Access, bucket: &str) -> bool {
    let mentions = |p: &Policy| {
        p.raw()
            .windows(EXISTING_TAG.len())
            .any(|w| w == EXISTING_TAG)
    };
    if access.caller.policies.iter().any(|p| mentions(p))
        || access.caller.narrowing.as_deref().is_some_and(mentions)
    {
        return true;
    }
    !bucket.is_empty()
        && s.policies
            .get(s, bucket)
            .await
            .as_deref()
            .is_some_and(mentions)
}

impl Access {
    /// This access with the tags of object `key` as `s3:ExistingObjectTag/<k>` (none when
    /// the object does not exist).
    async fn with_object_tags(&self, s: &S3Service, bucket: &str, key: &str) -> Access {
        let mut out = self.clone();
        if let Ok(info) = s.objects.object_info(bucket, key).await {
            for (k, v) in Tags::of_object(&info.headers).0 {
                out.conditions
                    .insert(&format!("s3:ExistingObjectTag/{k}"), v);
            }
        }
        out
    }
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
    let tagged;
    let access = match key {
        Some(k) if mentions_existing_tags(s, access, bucket).await => {
            tagged = access.with_object_tags(s, bucket, k).await;
            &tagged
        }
        _ => access,
    };
    for action in op.iam_actions() {
        let ok = if bucket.is_empty() {
            access.allows(action, bucket, key, None)
        } else {
            permitted(s, access, action, bucket, key).await
        };
        if !ok {
            return Err(denied());
        }
    }
    if let Some(action) = op.source_action() {
        let (src_bucket, src_key, _) = super::headers::copy_source(headers)?;
        if !permitted(s, access, action, &src_bucket, Some(&src_key)).await {
            return Err(denied());
        }
    }
    for action in header_actions(op, headers)? {
        if !permitted(s, access, action, bucket, key).await {
            return Err(denied());
        }
    }
    Ok(())
}

/// Actions a request needs besides its operation's because of what its headers set,
/// as AWS documents them: an ACL set with a write needs `s3:PutObjectAcl` (objects) or
/// `s3:PutBucketAcl` (buckets), ownership controls with CreateBucket need
/// `s3:PutBucketOwnershipControls`, tags with a write `s3:PutObjectTagging`. An ACL
/// that grants nothing (`private`, and `bucket-owner-*`, which only give the bucket's
/// owner what it already controls) needs nothing more: rclone and s3cmd send
/// `x-amz-acl: private` with every write, and a write-only user must still write.
fn header_actions(op: &Operation, headers: &HeaderMap) -> S3Result<Vec<&'static str>> {
    let grants_something = || -> S3Result<bool> {
        let canned = headers.get("x-amz-acl").and_then(|v| v.to_str().ok());
        if canned.is_some_and(|c| c.trim().starts_with("bucket-owner-")) {
            return Ok(false);
        }
        Ok(Acl::from_headers(headers)?.is_some_and(|a| !a.grants.is_empty()))
    };
    let mut out = Vec::new();
    match op {
        Operation::PutObject | Operation::CopyObject { .. } | Operation::CreateMultipartUpload => {
            if grants_something()? {
                out.push("s3:PutObjectAcl");
            }
            if headers.contains_key("x-amz-tagging") {
                out.push("s3:PutObjectTagging");
            }
        }
        Operation::CreateBucket => {
            if grants_something()? {
                out.push("s3:PutBucketAcl");
            }
            if headers.contains_key("x-amz-object-ownership") {
                out.push("s3:PutBucketOwnershipControls");
            }
        }
        _ => {}
    }
    Ok(out)
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
        v.insert(
            "aws:SecureTransport",
            if r.secure { "true" } else { "false" },
        );
    }
    let now = chrono::Utc::now();
    // `YYYY-MM-DDThh:mm:ssZ`, without parsing a format string per request.
    v.insert(
        "aws:CurrentTime",
        now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
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
