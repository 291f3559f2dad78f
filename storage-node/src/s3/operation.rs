//! Which S3 operation a request is, decided once from method, bucket/key, sub-resource
//! query parameters and a few headers, so that routing, authorization, logs and metrics
//! all name the same thing (as Garage's `Endpoint` in src/api/s3/router.rs).
//!
//! `Operation::from_request` is the routing decision; `handlers::route` dispatches on
//! it. Every operation of the S3 API for general purpose buckets has a variant, also
//! the ones Cairn answers with an error, so that an authorization check sees the
//! operation the client asked for. Directory-bucket operations (`CreateSession`,
//! `RenameObject`, `ListDirectoryBuckets`) and S3 Metadata tables are not S3 API that
//! Cairn speaks and have none.
//!
//! The IAM action(s) of each operation follow "Required permissions for Amazon S3 API
//! operations" and the Service Authorization Reference for Amazon S3: e.g. HeadBucket
//! needs `s3:ListBucket`, DeleteBucketCors `s3:PutBucketCORS`, and naming a version
//! (`?versionId=`) turns `s3:GetObject` into `s3:GetObjectVersion`.

use super::error::{S3Error, S3Result};
use super::headers::header_str;
use super::request::{Query, Target};
use http::{HeaderMap, Method};

/// What an operation's IAM actions are evaluated against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceLevel {
    /// No bucket: `arn:aws:s3:::*` (ListBuckets).
    Service,
    /// The bucket: `arn:aws:s3:::bucket`.
    Bucket,
    /// An object: `arn:aws:s3:::bucket/key`. For DeleteObjects and PostObject the keys
    /// are in the body (the XML list, the form's `key` field), not in the target.
    Object,
}

/// One S3 API operation, named as in the AWS S3 API reference. Bucket and key are in
/// `Target`; a field is kept only where it changes the IAM action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ListBuckets,

    CreateBucket,
    HeadBucket,
    DeleteBucket,
    GetBucketLocation,
    ListObjects,
    ListObjectsV2,
    ListObjectVersions,
    ListMultipartUploads,
    /// `POST /bucket?delete`: s3:DeleteObject is required for each key of the body.
    DeleteObjects,
    /// A browser form upload (`POST /bucket`, `multipart/form-data`).
    PostObject,
    GetBucketVersioning,
    PutBucketVersioning,
    GetBucketPolicy,
    PutBucketPolicy,
    DeleteBucketPolicy,
    GetBucketPolicyStatus,
    GetBucketAcl,
    PutBucketAcl,
    GetBucketTagging,
    PutBucketTagging,
    DeleteBucketTagging,
    GetBucketCors,
    PutBucketCors,
    DeleteBucketCors,
    GetBucketLifecycleConfiguration,
    PutBucketLifecycleConfiguration,
    DeleteBucketLifecycle,
    GetBucketEncryption,
    PutBucketEncryption,
    DeleteBucketEncryption,
    GetObjectLockConfiguration,
    PutObjectLockConfiguration,
    GetBucketOwnershipControls,
    PutBucketOwnershipControls,
    DeleteBucketOwnershipControls,
    GetPublicAccessBlock,
    PutPublicAccessBlock,
    DeletePublicAccessBlock,
    GetBucketReplication,
    PutBucketReplication,
    DeleteBucketReplication,
    GetBucketNotificationConfiguration,
    PutBucketNotificationConfiguration,
    GetBucketLogging,
    PutBucketLogging,
    GetBucketWebsite,
    PutBucketWebsite,
    DeleteBucketWebsite,
    GetBucketRequestPayment,
    PutBucketRequestPayment,
    GetBucketAccelerateConfiguration,
    PutBucketAccelerateConfiguration,
    GetBucketAnalyticsConfiguration,
    ListBucketAnalyticsConfigurations,
    PutBucketAnalyticsConfiguration,
    DeleteBucketAnalyticsConfiguration,
    GetBucketInventoryConfiguration,
    ListBucketInventoryConfigurations,
    PutBucketInventoryConfiguration,
    DeleteBucketInventoryConfiguration,
    GetBucketMetricsConfiguration,
    ListBucketMetricsConfigurations,
    PutBucketMetricsConfiguration,
    DeleteBucketMetricsConfiguration,
    GetBucketIntelligentTieringConfiguration,
    ListBucketIntelligentTieringConfigurations,
    PutBucketIntelligentTieringConfiguration,
    DeleteBucketIntelligentTieringConfiguration,

    PutObject,
    /// `source_version`: `x-amz-copy-source` names a version (`?versionId=`).
    CopyObject {
        source_version: bool,
    },
    /// `version`: the request names a version (`?versionId=`), here and below.
    GetObject {
        version: bool,
    },
    HeadObject {
        version: bool,
    },
    DeleteObject {
        version: bool,
    },
    GetObjectAcl {
        version: bool,
    },
    PutObjectAcl {
        version: bool,
    },
    GetObjectTagging {
        version: bool,
    },
    PutObjectTagging {
        version: bool,
    },
    DeleteObjectTagging {
        version: bool,
    },
    GetObjectAttributes {
        version: bool,
    },
    GetObjectTorrent {
        version: bool,
    },
    GetObjectRetention,
    PutObjectRetention,
    GetObjectLegalHold,
    PutObjectLegalHold,
    RestoreObject,
    SelectObjectContent,

    CreateMultipartUpload,
    UploadPart,
    UploadPartCopy {
        source_version: bool,
    },
    CompleteMultipartUpload,
    AbortMultipartUpload,
    ListParts,
}

/// Sub-resource query parameters in the order routing has always tried them: when a
/// request names several, the first one here decides. A bucket GET looks at
/// `location`, `versioning`, `acl` and `uploads` first, and at `policyStatus` after.
const SUB_RESOURCES: &[&str] = &[
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

/// One line of the operation table.
struct Row {
    name: &'static str,
    level: ResourceLevel,
    /// The query parameter naming the sub-resource, if the operation has one.
    sub_resource: Option<&'static str>,
    actions: &'static [&'static str],
}

const fn row(
    name: &'static str,
    level: ResourceLevel,
    sub_resource: Option<&'static str>,
    actions: &'static [&'static str],
) -> Row {
    Row {
        name,
        level,
        sub_resource,
        actions,
    }
}

impl Operation {
    /// The routing decision. Errors are those routing has always given: 405
    /// `MethodNotAllowed` for a method the target does not take, 501 `NotImplemented`
    /// for a sub-resource with a method that is no S3 operation (`GET /b/k?policy`).
    pub fn from_request(
        method: &Method,
        target: &Target,
        query: &Query,
        headers: &HeaderMap,
    ) -> S3Result<Operation> {
        match (&target.bucket, &target.key) {
            (None, _) if method == Method::GET => Ok(Operation::ListBuckets),
            (None, _) => Err(S3Error::method_not_allowed()),
            (Some(_), None) => bucket_operation(method, query, headers),
            (Some(_), Some(_)) => object_operation(method, query, headers),
        }
    }

    /// The AWS operation name, for logs, metrics and audit.
    pub fn name(&self) -> &'static str {
        self.row().name
    }

    /// The IAM actions the caller needs, all of them, on the resource `resource_level`
    /// names. A copy needs `source_action` on its source as well.
    pub fn iam_actions(&self) -> &'static [&'static str] {
        self.row().actions
    }

    /// The action needed on the source object of a copy, a second check against
    /// `arn:aws:s3:::<source bucket>/<source key>` from `x-amz-copy-source`.
    pub fn source_action(&self) -> Option<&'static str> {
        match self {
            Operation::CopyObject { source_version }
            | Operation::UploadPartCopy { source_version } => Some(if *source_version {
                "s3:GetObjectVersion"
            } else {
                "s3:GetObject"
            }),
            _ => None,
        }
    }

    pub fn resource_level(&self) -> ResourceLevel {
        self.row().level
    }

    /// The sub-resource query parameter (`acl`, `tagging`, ...) the operation is
    /// addressed by, if any.
    pub fn sub_resource(&self) -> Option<&'static str> {
        self.row().sub_resource
    }

    /// The table: name, resource level, sub-resource and IAM actions of each operation.
    fn row(&self) -> Row {
        use Operation as O;
        use ResourceLevel::{Bucket, Object, Service};
        match *self {
            O::ListBuckets => row("ListBuckets", Service, None, &["s3:ListAllMyBuckets"]),

            O::CreateBucket => row("CreateBucket", Bucket, None, &["s3:CreateBucket"]),
            O::HeadBucket => row("HeadBucket", Bucket, None, &["s3:ListBucket"]),
            O::DeleteBucket => row("DeleteBucket", Bucket, None, &["s3:DeleteBucket"]),
            O::GetBucketLocation => row(
                "GetBucketLocation",
                Bucket,
                Some("location"),
                &["s3:GetBucketLocation"],
            ),
            O::ListObjects => row("ListObjects", Bucket, None, &["s3:ListBucket"]),
            O::ListObjectsV2 => row("ListObjectsV2", Bucket, None, &["s3:ListBucket"]),
            O::ListObjectVersions => row(
                "ListObjectVersions",
                Bucket,
                Some("versions"),
                &["s3:ListBucketVersions"],
            ),
            O::ListMultipartUploads => row(
                "ListMultipartUploads",
                Bucket,
                Some("uploads"),
                &["s3:ListBucketMultipartUploads"],
            ),
            O::DeleteObjects => row(
                "DeleteObjects",
                Object,
                Some("delete"),
                &["s3:DeleteObject"],
            ),
            O::PostObject => row("PostObject", Object, None, &["s3:PutObject"]),
            O::GetBucketVersioning => row(
                "GetBucketVersioning",
                Bucket,
                Some("versioning"),
                &["s3:GetBucketVersioning"],
            ),
            O::PutBucketVersioning => row(
                "PutBucketVersioning",
                Bucket,
                Some("versioning"),
                &["s3:PutBucketVersioning"],
            ),
            O::GetBucketPolicy => row(
                "GetBucketPolicy",
                Bucket,
                Some("policy"),
                &["s3:GetBucketPolicy"],
            ),
            O::PutBucketPolicy => row(
                "PutBucketPolicy",
                Bucket,
                Some("policy"),
                &["s3:PutBucketPolicy"],
            ),
            O::DeleteBucketPolicy => row(
                "DeleteBucketPolicy",
                Bucket,
                Some("policy"),
                &["s3:DeleteBucketPolicy"],
            ),
            O::GetBucketPolicyStatus => row(
                "GetBucketPolicyStatus",
                Bucket,
                Some("policyStatus"),
                &["s3:GetBucketPolicyStatus"],
            ),
            O::GetBucketAcl => row("GetBucketAcl", Bucket, Some("acl"), &["s3:GetBucketAcl"]),
            O::PutBucketAcl => row("PutBucketAcl", Bucket, Some("acl"), &["s3:PutBucketAcl"]),
            O::GetBucketTagging => row(
                "GetBucketTagging",
                Bucket,
                Some("tagging"),
                &["s3:GetBucketTagging"],
            ),
            O::PutBucketTagging => row(
                "PutBucketTagging",
                Bucket,
                Some("tagging"),
                &["s3:PutBucketTagging"],
            ),
            O::DeleteBucketTagging => row(
                "DeleteBucketTagging",
                Bucket,
                Some("tagging"),
                &["s3:PutBucketTagging"],
            ),
            O::GetBucketCors => row("GetBucketCors", Bucket, Some("cors"), &["s3:GetBucketCORS"]),
            O::PutBucketCors => row("PutBucketCors", Bucket, Some("cors"), &["s3:PutBucketCORS"]),
            O::DeleteBucketCors => row(
                "DeleteBucketCors",
                Bucket,
                Some("cors"),
                &["s3:PutBucketCORS"],
            ),
            O::GetBucketLifecycleConfiguration => row(
                "GetBucketLifecycleConfiguration",
                Bucket,
                Some("lifecycle"),
                &["s3:GetLifecycleConfiguration"],
            ),
            O::PutBucketLifecycleConfiguration => row(
                "PutBucketLifecycleConfiguration",
                Bucket,
                Some("lifecycle"),
                &["s3:PutLifecycleConfiguration"],
            ),
            O::DeleteBucketLifecycle => row(
                "DeleteBucketLifecycle",
                Bucket,
                Some("lifecycle"),
                &["s3:PutLifecycleConfiguration"],
            ),
            O::GetBucketEncryption => row(
                "GetBucketEncryption",
                Bucket,
                Some("encryption"),
                &["s3:GetEncryptionConfiguration"],
            ),
            O::PutBucketEncryption => row(
                "PutBucketEncryption",
                Bucket,
                Some("encryption"),
                &["s3:PutEncryptionConfiguration"],
            ),
            O::DeleteBucketEncryption => row(
                "DeleteBucketEncryption",
                Bucket,
                Some("encryption"),
                &["s3:PutEncryptionConfiguration"],
            ),
            O::GetObjectLockConfiguration => row(
                "GetObjectLockConfiguration",
                Bucket,
                Some("object-lock"),
                &["s3:GetBucketObjectLockConfiguration"],
            ),
            O::PutObjectLockConfiguration => row(
                "PutObjectLockConfiguration",
                Bucket,
                Some("object-lock"),
                &["s3:PutBucketObjectLockConfiguration"],
            ),
            O::GetBucketOwnershipControls => row(
                "GetBucketOwnershipControls",
                Bucket,
                Some("ownershipControls"),
                &["s3:GetBucketOwnershipControls"],
            ),
            O::PutBucketOwnershipControls => row(
                "PutBucketOwnershipControls",
                Bucket,
                Some("ownershipControls"),
                &["s3:PutBucketOwnershipControls"],
            ),
            O::DeleteBucketOwnershipControls => row(
                "DeleteBucketOwnershipControls",
                Bucket,
                Some("ownershipControls"),
                &["s3:PutBucketOwnershipControls"],
            ),
            O::GetPublicAccessBlock => row(
                "GetPublicAccessBlock",
                Bucket,
                Some("publicAccessBlock"),
                &["s3:GetBucketPublicAccessBlock"],
            ),
            O::PutPublicAccessBlock => row(
                "PutPublicAccessBlock",
                Bucket,
                Some("publicAccessBlock"),
                &["s3:PutBucketPublicAccessBlock"],
            ),
            O::DeletePublicAccessBlock => row(
                "DeletePublicAccessBlock",
                Bucket,
                Some("publicAccessBlock"),
                &["s3:PutBucketPublicAccessBlock"],
            ),
            O::GetBucketReplication => row(
                "GetBucketReplication",
                Bucket,
                Some("replication"),
                &["s3:GetReplicationConfiguration"],
            ),
            O::PutBucketReplication => row(
                "PutBucketReplication",
                Bucket,
                Some("replication"),
                &["s3:PutReplicationConfiguration"],
            ),
            O::DeleteBucketReplication => row(
                "DeleteBucketReplication",
                Bucket,
                Some("replication"),
                &["s3:PutReplicationConfiguration"],
            ),
            O::GetBucketNotificationConfiguration => row(
                "GetBucketNotificationConfiguration",
                Bucket,
                Some("notification"),
                &["s3:GetBucketNotification"],
            ),
            O::PutBucketNotificationConfiguration => row(
                "PutBucketNotificationConfiguration",
                Bucket,
                Some("notification"),
                &["s3:PutBucketNotification"],
            ),
            O::GetBucketLogging => row(
                "GetBucketLogging",
                Bucket,
                Some("logging"),
                &["s3:GetBucketLogging"],
            ),
            O::PutBucketLogging => row(
                "PutBucketLogging",
                Bucket,
                Some("logging"),
                &["s3:PutBucketLogging"],
            ),
            O::GetBucketWebsite => row(
                "GetBucketWebsite",
                Bucket,
                Some("website"),
                &["s3:GetBucketWebsite"],
            ),
            O::PutBucketWebsite => row(
                "PutBucketWebsite",
                Bucket,
                Some("website"),
                &["s3:PutBucketWebsite"],
            ),
            O::DeleteBucketWebsite => row(
                "DeleteBucketWebsite",
                Bucket,
                Some("website"),
                &["s3:DeleteBucketWebsite"],
            ),
            O::GetBucketRequestPayment => row(
                "GetBucketRequestPayment",
                Bucket,
                Some("requestPayment"),
                &["s3:GetBucketRequestPayment"],
            ),
            O::PutBucketRequestPayment => row(
                "PutBucketRequestPayment",
                Bucket,
                Some("requestPayment"),
                &["s3:PutBucketRequestPayment"],
            ),
            O::GetBucketAccelerateConfiguration => row(
                "GetBucketAccelerateConfiguration",
                Bucket,
                Some("accelerate"),
                &["s3:GetAccelerateConfiguration"],
            ),
            O::PutBucketAccelerateConfiguration => row(
                "PutBucketAccelerateConfiguration",
                Bucket,
                Some("accelerate"),
                &["s3:PutAccelerateConfiguration"],
            ),
            O::GetBucketAnalyticsConfiguration => row(
                "GetBucketAnalyticsConfiguration",
                Bucket,
                Some("analytics"),
                &["s3:GetAnalyticsConfiguration"],
            ),
            O::ListBucketAnalyticsConfigurations => row(
                "ListBucketAnalyticsConfigurations",
                Bucket,
                Some("analytics"),
                &["s3:GetAnalyticsConfiguration"],
            ),
            O::PutBucketAnalyticsConfiguration => row(
                "PutBucketAnalyticsConfiguration",
                Bucket,
                Some("analytics"),
                &["s3:PutAnalyticsConfiguration"],
            ),
            O::DeleteBucketAnalyticsConfiguration => row(
                "DeleteBucketAnalyticsConfiguration",
                Bucket,
                Some("analytics"),
                &["s3:PutAnalyticsConfiguration"],
            ),
            O::GetBucketInventoryConfiguration => row(
                "GetBucketInventoryConfiguration",
                Bucket,
                Some("inventory"),
                &["s3:GetInventoryConfiguration"],
            ),
            O::ListBucketInventoryConfigurations => row(
                "ListBucketInventoryConfigurations",
                Bucket,
                Some("inventory"),
                &["s3:GetInventoryConfiguration"],
            ),
            O::PutBucketInventoryConfiguration => row(
                "PutBucketInventoryConfiguration",
                Bucket,
                Some("inventory"),
                &["s3:PutInventoryConfiguration"],
            ),
            O::DeleteBucketInventoryConfiguration => row(
                "DeleteBucketInventoryConfiguration",
                Bucket,
                Some("inventory"),
                &["s3:PutInventoryConfiguration"],
            ),
            O::GetBucketMetricsConfiguration => row(
                "GetBucketMetricsConfiguration",
                Bucket,
                Some("metrics"),
                &["s3:GetMetricsConfiguration"],
            ),
            O::ListBucketMetricsConfigurations => row(
                "ListBucketMetricsConfigurations",
                Bucket,
                Some("metrics"),
                &["s3:GetMetricsConfiguration"],
            ),
            O::PutBucketMetricsConfiguration => row(
                "PutBucketMetricsConfiguration",
                Bucket,
                Some("metrics"),
                &["s3:PutMetricsConfiguration"],
            ),
            O::DeleteBucketMetricsConfiguration => row(
                "DeleteBucketMetricsConfiguration",
                Bucket,
                Some("metrics"),
                &["s3:PutMetricsConfiguration"],
            ),
            O::GetBucketIntelligentTieringConfiguration => row(
                "GetBucketIntelligentTieringConfiguration",
                Bucket,
                Some("intelligent-tiering"),
                &["s3:GetIntelligentTieringConfiguration"],
            ),
            O::ListBucketIntelligentTieringConfigurations => row(
                "ListBucketIntelligentTieringConfigurations",
                Bucket,
                Some("intelligent-tiering"),
                &["s3:GetIntelligentTieringConfiguration"],
            ),
            O::PutBucketIntelligentTieringConfiguration => row(
                "PutBucketIntelligentTieringConfiguration",
                Bucket,
                Some("intelligent-tiering"),
                &["s3:PutIntelligentTieringConfiguration"],
            ),
            O::DeleteBucketIntelligentTieringConfiguration => row(
                "DeleteBucketIntelligentTieringConfiguration",
                Bucket,
                Some("intelligent-tiering"),
                &["s3:PutIntelligentTieringConfiguration"],
            ),

            O::PutObject => row("PutObject", Object, None, &["s3:PutObject"]),
            O::CopyObject { .. } => row("CopyObject", Object, None, &["s3:PutObject"]),
            O::GetObject { version } => row(
                "GetObject",
                Object,
                None,
                pick(version, &["s3:GetObjectVersion"], &["s3:GetObject"]),
            ),
            O::HeadObject { version } => row(
                "HeadObject",
                Object,
                None,
                pick(version, &["s3:GetObjectVersion"], &["s3:GetObject"]),
            ),
            O::DeleteObject { version } => row(
                "DeleteObject",
                Object,
                None,
                pick(version, &["s3:DeleteObjectVersion"], &["s3:DeleteObject"]),
            ),
            O::GetObjectAcl { version } => row(
                "GetObjectAcl",
                Object,
                Some("acl"),
                pick(version, &["s3:GetObjectVersionAcl"], &["s3:GetObjectAcl"]),
            ),
            O::PutObjectAcl { version } => row(
                "PutObjectAcl",
                Object,
                Some("acl"),
                pick(version, &["s3:PutObjectVersionAcl"], &["s3:PutObjectAcl"]),
            ),
            O::GetObjectTagging { version } => row(
                "GetObjectTagging",
                Object,
                Some("tagging"),
                pick(
                    version,
                    &["s3:GetObjectVersionTagging"],
                    &["s3:GetObjectTagging"],
                ),
            ),
            O::PutObjectTagging { version } => row(
                "PutObjectTagging",
                Object,
                Some("tagging"),
                pick(
                    version,
                    &["s3:PutObjectVersionTagging"],
                    &["s3:PutObjectTagging"],
                ),
            ),
            O::DeleteObjectTagging { version } => row(
                "DeleteObjectTagging",
                Object,
                Some("tagging"),
                pick(
                    version,
                    &["s3:DeleteObjectVersionTagging"],
                    &["s3:DeleteObjectTagging"],
                ),
            ),
            // The API reference asks for both the read and the attributes action.
            O::GetObjectAttributes { version } => row(
                "GetObjectAttributes",
                Object,
                Some("attributes"),
                pick(
                    version,
                    &["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"],
                    &["s3:GetObject", "s3:GetObjectAttributes"],
                ),
            ),
            O::GetObjectTorrent { version } => row(
                "GetObjectTorrent",
                Object,
                Some("torrent"),
                pick(
                    version,
                    &["s3:GetObjectVersionTorrent"],
                    &["s3:GetObjectTorrent"],
                ),
            ),
            O::GetObjectRetention => row(
                "GetObjectRetention",
                Object,
                Some("retention"),
                &["s3:GetObjectRetention"],
            ),
            O::PutObjectRetention => row(
                "PutObjectRetention",
                Object,
                Some("retention"),
                &["s3:PutObjectRetention"],
            ),
            O::GetObjectLegalHold => row(
                "GetObjectLegalHold",
                Object,
                Some("legal-hold"),
                &["s3:GetObjectLegalHold"],
            ),
            O::PutObjectLegalHold => row(
                "PutObjectLegalHold",
                Object,
                Some("legal-hold"),
                &["s3:PutObjectLegalHold"],
            ),
            O::RestoreObject => row(
                "RestoreObject",
                Object,
                Some("restore"),
                &["s3:RestoreObject"],
            ),
            O::SelectObjectContent => row(
                "SelectObjectContent",
                Object,
                Some("select"),
                &["s3:GetObject"],
            ),

            O::CreateMultipartUpload => row(
                "CreateMultipartUpload",
                Object,
                Some("uploads"),
                &["s3:PutObject"],
            ),
            O::UploadPart => row("UploadPart", Object, Some("uploadId"), &["s3:PutObject"]),
            O::UploadPartCopy { .. } => row(
                "UploadPartCopy",
                Object,
                Some("uploadId"),
                &["s3:PutObject"],
            ),
            O::CompleteMultipartUpload => row(
                "CompleteMultipartUpload",
                Object,
                Some("uploadId"),
                &["s3:PutObject"],
            ),
            O::AbortMultipartUpload => row(
                "AbortMultipartUpload",
                Object,
                Some("uploadId"),
                &["s3:AbortMultipartUpload"],
            ),
            O::ListParts => row(
                "ListParts",
                Object,
                Some("uploadId"),
                &["s3:ListMultipartUploadParts"],
            ),
        }
    }
}

fn pick(
    version: bool,
    with_version: &'static [&'static str],
    without: &'static [&'static str],
) -> &'static [&'static str] {
    if version { with_version } else { without }
}

fn first_sub_resource(query: &Query) -> Option<&'static str> {
    SUB_RESOURCES.iter().copied().find(|q| query.has(q))
}

/// A sub-resource with a method that is no S3 operation.
fn no_such_operation(method: &Method, sub_resource: &str) -> S3Error {
    S3Error::not_implemented(&format!("{method} ?{sub_resource}"))
}

fn bucket_operation(method: &Method, query: &Query, headers: &HeaderMap) -> S3Result<Operation> {
    use Operation as O;
    let has = |q: &str| query.has(q);
    if method == Method::GET {
        if has("location") {
            return Ok(O::GetBucketLocation);
        }
        if has("versioning") {
            return Ok(O::GetBucketVersioning);
        }
        if has("acl") {
            return Ok(O::GetBucketAcl);
        }
        if has("uploads") {
            return Ok(O::ListMultipartUploads);
        }
    }
    if method == Method::PUT && has("encryption") {
        return Ok(O::PutBucketEncryption);
    }
    if let Some(q) = first_sub_resource(query) {
        return bucket_sub_resource(method, q, query).ok_or_else(|| no_such_operation(method, q));
    }
    match *method {
        Method::GET if has("policyStatus") => Ok(O::GetBucketPolicyStatus),
        Method::GET if query.get("list-type") == Some("2") => Ok(O::ListObjectsV2),
        Method::GET => Ok(O::ListObjects),
        Method::PUT if has("versioning") => Ok(O::PutBucketVersioning),
        Method::PUT => Ok(O::CreateBucket),
        Method::HEAD => Ok(O::HeadBucket),
        Method::DELETE => Ok(O::DeleteBucket),
        Method::POST if has("delete") => Ok(O::DeleteObjects),
        Method::POST if is_form(headers) => Ok(O::PostObject),
        _ => Err(S3Error::method_not_allowed()),
    }
}

fn bucket_sub_resource(method: &Method, q: &str, query: &Query) -> Option<Operation> {
    use Operation as O;
    // Without `id` the GET of these lists every configuration.
    let one = query.has("id");
    Some(match (method.as_str(), q) {
        ("GET", "acl") => O::GetBucketAcl,
        ("PUT", "acl") => O::PutBucketAcl,
        ("GET", "policy") => O::GetBucketPolicy,
        ("PUT", "policy") => O::PutBucketPolicy,
        ("DELETE", "policy") => O::DeleteBucketPolicy,
        ("GET", "tagging") => O::GetBucketTagging,
        ("PUT", "tagging") => O::PutBucketTagging,
        ("DELETE", "tagging") => O::DeleteBucketTagging,
        ("GET", "cors") => O::GetBucketCors,
        ("PUT", "cors") => O::PutBucketCors,
        ("DELETE", "cors") => O::DeleteBucketCors,
        ("GET", "lifecycle") => O::GetBucketLifecycleConfiguration,
        ("PUT", "lifecycle") => O::PutBucketLifecycleConfiguration,
        ("DELETE", "lifecycle") => O::DeleteBucketLifecycle,
        ("GET", "website") => O::GetBucketWebsite,
        ("PUT", "website") => O::PutBucketWebsite,
        ("DELETE", "website") => O::DeleteBucketWebsite,
        ("GET", "encryption") => O::GetBucketEncryption,
        ("PUT", "encryption") => O::PutBucketEncryption,
        ("DELETE", "encryption") => O::DeleteBucketEncryption,
        ("GET", "object-lock") => O::GetObjectLockConfiguration,
        ("PUT", "object-lock") => O::PutObjectLockConfiguration,
        ("GET", "replication") => O::GetBucketReplication,
        ("PUT", "replication") => O::PutBucketReplication,
        ("DELETE", "replication") => O::DeleteBucketReplication,
        ("GET", "notification") => O::GetBucketNotificationConfiguration,
        ("PUT", "notification") => O::PutBucketNotificationConfiguration,
        ("GET", "logging") => O::GetBucketLogging,
        ("PUT", "logging") => O::PutBucketLogging,
        ("GET", "requestPayment") => O::GetBucketRequestPayment,
        ("PUT", "requestPayment") => O::PutBucketRequestPayment,
        ("GET", "accelerate") => O::GetBucketAccelerateConfiguration,
        ("PUT", "accelerate") => O::PutBucketAccelerateConfiguration,
        ("GET", "analytics") if one => O::GetBucketAnalyticsConfiguration,
        ("GET", "analytics") => O::ListBucketAnalyticsConfigurations,
        ("PUT", "analytics") => O::PutBucketAnalyticsConfiguration,
        ("DELETE", "analytics") => O::DeleteBucketAnalyticsConfiguration,
        ("GET", "inventory") if one => O::GetBucketInventoryConfiguration,
        ("GET", "inventory") => O::ListBucketInventoryConfigurations,
        ("PUT", "inventory") => O::PutBucketInventoryConfiguration,
        ("DELETE", "inventory") => O::DeleteBucketInventoryConfiguration,
        ("GET", "metrics") if one => O::GetBucketMetricsConfiguration,
        ("GET", "metrics") => O::ListBucketMetricsConfigurations,
        ("PUT", "metrics") => O::PutBucketMetricsConfiguration,
        ("DELETE", "metrics") => O::DeleteBucketMetricsConfiguration,
        ("GET", "intelligent-tiering") if one => O::GetBucketIntelligentTieringConfiguration,
        ("GET", "intelligent-tiering") => O::ListBucketIntelligentTieringConfigurations,
        ("PUT", "intelligent-tiering") => O::PutBucketIntelligentTieringConfiguration,
        ("DELETE", "intelligent-tiering") => O::DeleteBucketIntelligentTieringConfiguration,
        ("GET", "ownershipControls") => O::GetBucketOwnershipControls,
        ("PUT", "ownershipControls") => O::PutBucketOwnershipControls,
        ("DELETE", "ownershipControls") => O::DeleteBucketOwnershipControls,
        ("GET", "publicAccessBlock") => O::GetPublicAccessBlock,
        ("PUT", "publicAccessBlock") => O::PutPublicAccessBlock,
        ("DELETE", "publicAccessBlock") => O::DeletePublicAccessBlock,
        ("GET", "versions") => O::ListObjectVersions,
        _ => return None,
    })
}

fn object_operation(method: &Method, query: &Query, headers: &HeaderMap) -> S3Result<Operation> {
    use Operation as O;
    let version = query.has("versionId");
    if let Some(q) = first_sub_resource(query) {
        return object_sub_resource(method, q, version).ok_or_else(|| no_such_operation(method, q));
    }
    let upload = query.has("uploadId");
    let copy = headers.contains_key("x-amz-copy-source");
    // `?versionId=` right after the path, the one form `headers::copy_source` reads.
    let source_version = header_str(headers, "x-amz-copy-source")
        .and_then(|c| c.split_once('?'))
        .is_some_and(|(_, q)| q.starts_with("versionId="));
    match *method {
        Method::PUT if upload && copy => Ok(O::UploadPartCopy { source_version }),
        Method::PUT if upload => Ok(O::UploadPart),
        Method::PUT if copy => Ok(O::CopyObject { source_version }),
        Method::PUT => Ok(O::PutObject),
        Method::GET if upload => Ok(O::ListParts),
        Method::GET => Ok(O::GetObject { version }),
        Method::HEAD => Ok(O::HeadObject { version }),
        Method::DELETE if upload => Ok(O::AbortMultipartUpload),
        Method::DELETE => Ok(O::DeleteObject { version }),
        Method::POST if query.has("uploads") => Ok(O::CreateMultipartUpload),
        Method::POST if upload => Ok(O::CompleteMultipartUpload),
        _ => Err(S3Error::method_not_allowed()),
    }
}

fn object_sub_resource(method: &Method, q: &str, version: bool) -> Option<Operation> {
    use Operation as O;
    Some(match (method.as_str(), q) {
        ("GET", "acl") => O::GetObjectAcl { version },
        ("PUT", "acl") => O::PutObjectAcl { version },
        ("GET", "tagging") => O::GetObjectTagging { version },
        ("PUT", "tagging") => O::PutObjectTagging { version },
        ("DELETE", "tagging") => O::DeleteObjectTagging { version },
        ("GET", "attributes") => O::GetObjectAttributes { version },
        ("GET", "torrent") => O::GetObjectTorrent { version },
        ("GET", "retention") => O::GetObjectRetention,
        ("PUT", "retention") => O::PutObjectRetention,
        ("GET", "legal-hold") => O::GetObjectLegalHold,
        ("PUT", "legal-hold") => O::PutObjectLegalHold,
        ("POST", "restore") => O::RestoreObject,
        ("POST", "select") => O::SelectObjectContent,
        _ => return None,
    })
}

/// A browser form upload: `Content-Type: multipart/form-data; boundary=...`.
fn is_form(headers: &HeaderMap) -> bool {
    const FORM: &str = "multipart/form-data";
    header_str(headers, "content-type")
        .and_then(|v| v.trim_start().get(..FORM.len()))
        .is_some_and(|p| p.eq_ignore_ascii_case(FORM))
}

#[cfg(test)]
mod tests {
    use super::super::request;
    use super::*;
    use Operation as O;
    use http::header::{HOST, HeaderName};

    const DOMAIN: &str = "s3.example.com";

    /// `"GET /b/k?acl"` is path-style (Host 127.0.0.1:9000); `"GET b.s3.example.com/k?acl"`
    /// puts the host first, virtual-host style when it is `<bucket>.s3.example.com`.
    fn parse(line: &str, headers: &[(&str, &str)]) -> S3Result<Operation> {
        let (method, rest) = line.split_once(' ').expect("method");
        let (host, path_query) = match rest.find('/') {
            Some(0) => ("127.0.0.1:9000", rest),
            Some(i) => rest.split_at(i),
            None => panic!("no path in {line}"),
        };
        let (path, raw_query) = path_query.split_once('?').unwrap_or((path_query, ""));
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().unwrap());
        for (k, v) in headers {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let target = request::target(path, &h, &[DOMAIN.to_string()]).unwrap();
        let query = Query::parse(raw_query).unwrap();
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        Operation::from_request(&method, &target, &query, &h)
    }

    const NONE: &[(&str, &str)] = &[];
    const COPY: &[(&str, &str)] = &[("x-amz-copy-source", "/src/dir/o")];
    const COPY_V: &[(&str, &str)] = &[("x-amz-copy-source", "/src/o?versionId=null")];
    const FORM: &[(&str, &str)] = &[("content-type", "multipart/form-data; boundary=xx")];

    /// Request, headers, operation name, IAM actions.
    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        &'static str,
        &'static [&'static str],
    );

    #[rustfmt::skip]
    const CASES: &[Case] = &[
        ("GET /", NONE, "ListBuckets", &["s3:ListAllMyBuckets"]),
        ("GET s3.example.com/", NONE, "ListBuckets", &["s3:ListAllMyBuckets"]),

        ("PUT /b", NONE, "CreateBucket", &["s3:CreateBucket"]),
        ("PUT b.s3.example.com/", NONE, "CreateBucket", &["s3:CreateBucket"]),
        ("HEAD /b", NONE, "HeadBucket", &["s3:ListBucket"]),
        ("HEAD b.s3.example.com/", NONE, "HeadBucket", &["s3:ListBucket"]),
        ("DELETE /b/", NONE, "DeleteBucket", &["s3:DeleteBucket"]),
        ("GET /b?location", NONE, "GetBucketLocation", &["s3:GetBucketLocation"]),
        ("GET /b", NONE, "ListObjects", &["s3:ListBucket"]),
        ("GET /b?list-type=1", NONE, "ListObjects", &["s3:ListBucket"]),
        ("GET b.s3.example.com/?prefix=a&list-type=2", NONE, "ListObjectsV2", &["s3:ListBucket"]),
        ("GET /b?list-type=2", NONE, "ListObjectsV2", &["s3:ListBucket"]),
        ("GET /b?versions", NONE, "ListObjectVersions", &["s3:ListBucketVersions"]),
        ("GET /b?uploads", NONE, "ListMultipartUploads", &["s3:ListBucketMultipartUploads"]),
        ("POST /b?delete", NONE, "DeleteObjects", &["s3:DeleteObject"]),
        ("POST b.s3.example.com/?delete", NONE, "DeleteObjects", &["s3:DeleteObject"]),
        ("POST /b", FORM, "PostObject", &["s3:PutObject"]),
        ("POST b.s3.example.com/", FORM, "PostObject", &["s3:PutObject"]),
        ("GET /b?versioning", NONE, "GetBucketVersioning", &["s3:GetBucketVersioning"]),
        ("PUT /b?versioning", NONE, "PutBucketVersioning", &["s3:PutBucketVersioning"]),
        ("GET /b?policy", NONE, "GetBucketPolicy", &["s3:GetBucketPolicy"]),
        ("PUT /b?policy", NONE, "PutBucketPolicy", &["s3:PutBucketPolicy"]),
        ("DELETE /b?policy", NONE, "DeleteBucketPolicy", &["s3:DeleteBucketPolicy"]),
        ("GET /b?policyStatus", NONE, "GetBucketPolicyStatus", &["s3:GetBucketPolicyStatus"]),
        ("GET /b?acl", NONE, "GetBucketAcl", &["s3:GetBucketAcl"]),
        ("GET b.s3.example.com/?acl", NONE, "GetBucketAcl", &["s3:GetBucketAcl"]),
        ("PUT /b?acl", NONE, "PutBucketAcl", &["s3:PutBucketAcl"]),
        ("GET /b?tagging", NONE, "GetBucketTagging", &["s3:GetBucketTagging"]),
        ("PUT /b?tagging", NONE, "PutBucketTagging", &["s3:PutBucketTagging"]),
        ("DELETE /b?tagging", NONE, "DeleteBucketTagging", &["s3:PutBucketTagging"]),
        ("GET /b?cors", NONE, "GetBucketCors", &["s3:GetBucketCORS"]),
        ("PUT /b?cors", NONE, "PutBucketCors", &["s3:PutBucketCORS"]),
        ("DELETE /b?cors", NONE, "DeleteBucketCors", &["s3:PutBucketCORS"]),
        ("GET /b?lifecycle", NONE, "GetBucketLifecycleConfiguration", &["s3:GetLifecycleConfiguration"]),
        ("PUT /b?lifecycle", NONE, "PutBucketLifecycleConfiguration", &["s3:PutLifecycleConfiguration"]),
        ("DELETE /b?lifecycle", NONE, "DeleteBucketLifecycle", &["s3:PutLifecycleConfiguration"]),
        ("GET /b?encryption", NONE, "GetBucketEncryption", &["s3:GetEncryptionConfiguration"]),
        ("PUT /b?encryption", NONE, "PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
        ("DELETE /b?encryption", NONE, "DeleteBucketEncryption", &["s3:PutEncryptionConfiguration"]),
        ("GET /b?object-lock", NONE, "GetObjectLockConfiguration", &["s3:GetBucketObjectLockConfiguration"]),
        ("PUT /b?object-lock", NONE, "PutObjectLockConfiguration", &["s3:PutBucketObjectLockConfiguration"]),
        ("GET /b?ownershipControls", NONE, "GetBucketOwnershipControls", &["s3:GetBucketOwnershipControls"]),
        ("PUT /b?ownershipControls", NONE, "PutBucketOwnershipControls", &["s3:PutBucketOwnershipControls"]),
        ("DELETE /b?ownershipControls", NONE, "DeleteBucketOwnershipControls", &["s3:PutBucketOwnershipControls"]),
        ("GET /b?publicAccessBlock", NONE, "GetPublicAccessBlock", &["s3:GetBucketPublicAccessBlock"]),
        ("PUT /b?publicAccessBlock", NONE, "PutPublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
        ("DELETE /b?publicAccessBlock", NONE, "DeletePublicAccessBlock", &["s3:PutBucketPublicAccessBlock"]),
        ("GET /b?replication", NONE, "GetBucketReplication", &["s3:GetReplicationConfiguration"]),
        ("PUT /b?replication", NONE, "PutBucketReplication", &["s3:PutReplicationConfiguration"]),
        ("DELETE /b?replication", NONE, "DeleteBucketReplication", &["s3:PutReplicationConfiguration"]),
        ("GET /b?notification", NONE, "GetBucketNotificationConfiguration", &["s3:GetBucketNotification"]),
        ("PUT /b?notification", NONE, "PutBucketNotificationConfiguration", &["s3:PutBucketNotification"]),
        ("GET /b?logging", NONE, "GetBucketLogging", &["s3:GetBucketLogging"]),
        ("PUT /b?logging", NONE, "PutBucketLogging", &["s3:PutBucketLogging"]),
        ("GET /b?website", NONE, "GetBucketWebsite", &["s3:GetBucketWebsite"]),
        ("PUT /b?website", NONE, "PutBucketWebsite", &["s3:PutBucketWebsite"]),
        ("DELETE /b?website", NONE, "DeleteBucketWebsite", &["s3:DeleteBucketWebsite"]),
        ("GET /b?requestPayment", NONE, "GetBucketRequestPayment", &["s3:GetBucketRequestPayment"]),
        ("PUT /b?requestPayment", NONE, "PutBucketRequestPayment", &["s3:PutBucketRequestPayment"]),
        ("GET /b?accelerate", NONE, "GetBucketAccelerateConfiguration", &["s3:GetAccelerateConfiguration"]),
        ("PUT /b?accelerate", NONE, "PutBucketAccelerateConfiguration", &["s3:PutAccelerateConfiguration"]),
        ("GET /b?analytics&id=a", NONE, "GetBucketAnalyticsConfiguration", &["s3:GetAnalyticsConfiguration"]),
        ("GET /b?analytics", NONE, "ListBucketAnalyticsConfigurations", &["s3:GetAnalyticsConfiguration"]),
        ("PUT /b?analytics&id=a", NONE, "PutBucketAnalyticsConfiguration", &["s3:PutAnalyticsConfiguration"]),
        ("DELETE /b?analytics&id=a", NONE, "DeleteBucketAnalyticsConfiguration", &["s3:PutAnalyticsConfiguration"]),
        ("GET /b?inventory&id=i", NONE, "GetBucketInventoryConfiguration", &["s3:GetInventoryConfiguration"]),
        ("GET /b?inventory", NONE, "ListBucketInventoryConfigurations", &["s3:GetInventoryConfiguration"]),
        ("PUT /b?inventory&id=i", NONE, "PutBucketInventoryConfiguration", &["s3:PutInventoryConfiguration"]),
        ("DELETE /b?inventory&id=i", NONE, "DeleteBucketInventoryConfiguration", &["s3:PutInventoryConfiguration"]),
        ("GET /b?metrics&id=m", NONE, "GetBucketMetricsConfiguration", &["s3:GetMetricsConfiguration"]),
        ("GET /b?metrics", NONE, "ListBucketMetricsConfigurations", &["s3:GetMetricsConfiguration"]),
        ("PUT /b?metrics&id=m", NONE, "PutBucketMetricsConfiguration", &["s3:PutMetricsConfiguration"]),
        ("DELETE /b?metrics&id=m", NONE, "DeleteBucketMetricsConfiguration", &["s3:PutMetricsConfiguration"]),
        ("GET /b?intelligent-tiering&id=t", NONE, "GetBucketIntelligentTieringConfiguration", &["s3:GetIntelligentTieringConfiguration"]),
        ("GET /b?intelligent-tiering", NONE, "ListBucketIntelligentTieringConfigurations", &["s3:GetIntelligentTieringConfiguration"]),
        ("PUT /b?intelligent-tiering&id=t", NONE, "PutBucketIntelligentTieringConfiguration", &["s3:PutIntelligentTieringConfiguration"]),
        ("DELETE /b?intelligent-tiering&id=t", NONE, "DeleteBucketIntelligentTieringConfiguration", &["s3:PutIntelligentTieringConfiguration"]),

        ("PUT /b/k", NONE, "PutObject", &["s3:PutObject"]),
        ("PUT b.s3.example.com/a/b/c", NONE, "PutObject", &["s3:PutObject"]),
        ("PUT /b/k", COPY, "CopyObject", &["s3:PutObject"]),
        ("PUT b.s3.example.com/k", COPY_V, "CopyObject", &["s3:PutObject"]),
        ("GET /b/k", NONE, "GetObject", &["s3:GetObject"]),
        ("GET b.s3.example.com/dir/k?partNumber=1", NONE, "GetObject", &["s3:GetObject"]),
        ("GET /b/k?versionId=null", NONE, "GetObject", &["s3:GetObjectVersion"]),
        ("HEAD /b/k", NONE, "HeadObject", &["s3:GetObject"]),
        ("HEAD /b/k?versionId=null", NONE, "HeadObject", &["s3:GetObjectVersion"]),
        ("DELETE /b/k", NONE, "DeleteObject", &["s3:DeleteObject"]),
        ("DELETE /b/k?versionId=null", NONE, "DeleteObject", &["s3:DeleteObjectVersion"]),
        ("GET /b/k?acl", NONE, "GetObjectAcl", &["s3:GetObjectAcl"]),
        ("GET b.s3.example.com/k?acl", NONE, "GetObjectAcl", &["s3:GetObjectAcl"]),
        ("GET /b/k?acl&versionId=null", NONE, "GetObjectAcl", &["s3:GetObjectVersionAcl"]),
        ("PUT /b/k?acl", NONE, "PutObjectAcl", &["s3:PutObjectAcl"]),
        ("PUT /b/k?acl&versionId=null", NONE, "PutObjectAcl", &["s3:PutObjectVersionAcl"]),
        ("GET /b/k?tagging", NONE, "GetObjectTagging", &["s3:GetObjectTagging"]),
        ("GET /b/k?tagging&versionId=null", NONE, "GetObjectTagging", &["s3:GetObjectVersionTagging"]),
        ("PUT /b/k?tagging", NONE, "PutObjectTagging", &["s3:PutObjectTagging"]),
        ("PUT /b/k?tagging&versionId=null", NONE, "PutObjectTagging", &["s3:PutObjectVersionTagging"]),
        ("DELETE /b/k?tagging", NONE, "DeleteObjectTagging", &["s3:DeleteObjectTagging"]),
        ("DELETE /b/k?tagging&versionId=null", NONE, "DeleteObjectTagging", &["s3:DeleteObjectVersionTagging"]),
        ("GET /b/k?retention", NONE, "GetObjectRetention", &["s3:GetObjectRetention"]),
        ("PUT /b/k?retention", NONE, "PutObjectRetention", &["s3:PutObjectRetention"]),
        ("GET /b/k?legal-hold", NONE, "GetObjectLegalHold", &["s3:GetObjectLegalHold"]),
        ("PUT /b/k?legal-hold", NONE, "PutObjectLegalHold", &["s3:PutObjectLegalHold"]),
        ("GET /b/k?attributes", NONE, "GetObjectAttributes", &["s3:GetObject", "s3:GetObjectAttributes"]),
        ("GET /b/k?attributes&versionId=null", NONE, "GetObjectAttributes", &["s3:GetObjectVersion", "s3:GetObjectVersionAttributes"]),
        ("POST /b/k?restore", NONE, "RestoreObject", &["s3:RestoreObject"]),
        ("POST /b/k?select&select-type=2", NONE, "SelectObjectContent", &["s3:GetObject"]),
        ("GET /b/k?torrent", NONE, "GetObjectTorrent", &["s3:GetObjectTorrent"]),
        ("GET /b/k?torrent&versionId=null", NONE, "GetObjectTorrent", &["s3:GetObjectVersionTorrent"]),

        ("POST /b/k?uploads", NONE, "CreateMultipartUpload", &["s3:PutObject"]),
        ("POST b.s3.example.com/k?uploads", NONE, "CreateMultipartUpload", &["s3:PutObject"]),
        ("PUT /b/k?partNumber=1&uploadId=u", NONE, "UploadPart", &["s3:PutObject"]),
        ("PUT /b/k?partNumber=1&uploadId=u", COPY, "UploadPartCopy", &["s3:PutObject"]),
        ("PUT /b/k?partNumber=1&uploadId=u", COPY_V, "UploadPartCopy", &["s3:PutObject"]),
        ("POST /b/k?uploadId=u", NONE, "CompleteMultipartUpload", &["s3:PutObject"]),
        ("DELETE /b/k?uploadId=u", NONE, "AbortMultipartUpload", &["s3:AbortMultipartUpload"]),
        ("GET /b/k?uploadId=u", NONE, "ListParts", &["s3:ListMultipartUploadParts"]),
        ("GET b.s3.example.com/k?uploadId=u&max-parts=2", NONE, "ListParts", &["s3:ListMultipartUploadParts"]),

        // Requests naming several things: the first sub-resource in routing order decides.
        ("GET /b?acl&uploads", NONE, "GetBucketAcl", &["s3:GetBucketAcl"]),
        ("GET /b?versioning&location", NONE, "GetBucketLocation", &["s3:GetBucketLocation"]),
        ("GET /b?uploads&policy", NONE, "ListMultipartUploads", &["s3:ListBucketMultipartUploads"]),
        ("GET /b?policyStatus&policy", NONE, "GetBucketPolicy", &["s3:GetBucketPolicy"]),
        ("PUT /b?acl&encryption", NONE, "PutBucketEncryption", &["s3:PutEncryptionConfiguration"]),
        ("GET /b/k?tagging&acl", NONE, "GetObjectAcl", &["s3:GetObjectAcl"]),
        ("PUT /b/k?uploadId=u&tagging", COPY, "PutObjectTagging", &["s3:PutObjectTagging"]),
        ("GET /b?delete", NONE, "ListObjects", &["s3:ListBucket"]),
        ("HEAD /b/k?uploadId=u", NONE, "HeadObject", &["s3:GetObject"]),
        // Routing has always read these as the plain operation.
        ("PUT /b?uploads", NONE, "CreateBucket", &["s3:CreateBucket"]),
        ("DELETE /b?location", NONE, "DeleteBucket", &["s3:DeleteBucket"]),
    ];

    /// Every variant, both forms of the flagged ones.
    fn all() -> Vec<Operation> {
        let mut v = vec![
            O::ListBuckets,
            O::CreateBucket,
            O::HeadBucket,
            O::DeleteBucket,
            O::GetBucketLocation,
            O::ListObjects,
            O::ListObjectsV2,
            O::ListObjectVersions,
            O::ListMultipartUploads,
            O::DeleteObjects,
            O::PostObject,
            O::GetBucketVersioning,
            O::PutBucketVersioning,
            O::GetBucketPolicy,
            O::PutBucketPolicy,
            O::DeleteBucketPolicy,
            O::GetBucketPolicyStatus,
            O::GetBucketAcl,
            O::PutBucketAcl,
            O::GetBucketTagging,
            O::PutBucketTagging,
            O::DeleteBucketTagging,
            O::GetBucketCors,
            O::PutBucketCors,
            O::DeleteBucketCors,
            O::GetBucketLifecycleConfiguration,
            O::PutBucketLifecycleConfiguration,
            O::DeleteBucketLifecycle,
            O::GetBucketEncryption,
            O::PutBucketEncryption,
            O::DeleteBucketEncryption,
            O::GetObjectLockConfiguration,
            O::PutObjectLockConfiguration,
            O::GetBucketOwnershipControls,
            O::PutBucketOwnershipControls,
            O::DeleteBucketOwnershipControls,
            O::GetPublicAccessBlock,
            O::PutPublicAccessBlock,
            O::DeletePublicAccessBlock,
            O::GetBucketReplication,
            O::PutBucketReplication,
            O::DeleteBucketReplication,
            O::GetBucketNotificationConfiguration,
            O::PutBucketNotificationConfiguration,
            O::GetBucketLogging,
            O::PutBucketLogging,
            O::GetBucketWebsite,
            O::PutBucketWebsite,
            O::DeleteBucketWebsite,
            O::GetBucketRequestPayment,
            O::PutBucketRequestPayment,
            O::GetBucketAccelerateConfiguration,
            O::PutBucketAccelerateConfiguration,
            O::GetBucketAnalyticsConfiguration,
            O::ListBucketAnalyticsConfigurations,
            O::PutBucketAnalyticsConfiguration,
            O::DeleteBucketAnalyticsConfiguration,
            O::GetBucketInventoryConfiguration,
            O::ListBucketInventoryConfigurations,
            O::PutBucketInventoryConfiguration,
            O::DeleteBucketInventoryConfiguration,
            O::GetBucketMetricsConfiguration,
            O::ListBucketMetricsConfigurations,
            O::PutBucketMetricsConfiguration,
            O::DeleteBucketMetricsConfiguration,
            O::GetBucketIntelligentTieringConfiguration,
            O::ListBucketIntelligentTieringConfigurations,
            O::PutBucketIntelligentTieringConfiguration,
            O::DeleteBucketIntelligentTieringConfiguration,
            O::PutObject,
            O::GetObjectRetention,
            O::PutObjectRetention,
            O::GetObjectLegalHold,
            O::PutObjectLegalHold,
            O::RestoreObject,
            O::SelectObjectContent,
            O::CreateMultipartUpload,
            O::UploadPart,
            O::CompleteMultipartUpload,
            O::AbortMultipartUpload,
            O::ListParts,
        ];
        for version in [false, true] {
            v.extend([
                O::GetObject { version },
                O::HeadObject { version },
                O::DeleteObject { version },
                O::GetObjectAcl { version },
                O::PutObjectAcl { version },
                O::GetObjectTagging { version },
                O::PutObjectTagging { version },
                O::DeleteObjectTagging { version },
                O::GetObjectAttributes { version },
                O::GetObjectTorrent { version },
            ]);
        }
        for source_version in [false, true] {
            v.extend([
                O::CopyObject { source_version },
                O::UploadPartCopy { source_version },
            ]);
        }
        v
    }

    #[test]
    fn every_request_is_the_expected_operation() {
        for (line, headers, name, actions) in CASES {
            let op = parse(line, headers).unwrap_or_else(|e| panic!("{line}: {}", e.message));
            assert_eq!(op.name(), *name, "{line}");
            assert_eq!(op.iam_actions(), *actions, "{line}");
            if let Some(q) = op.sub_resource() {
                assert!(line.contains(q), "{line}: {name} names ?{q}");
            }
        }
    }

    #[test]
    fn the_cases_cover_every_operation() {
        let seen: Vec<Operation> = CASES
            .iter()
            .map(|(line, headers, ..)| parse(line, headers).unwrap())
            .collect();
        let all = all();
        for op in &all {
            assert!(seen.contains(op), "no case for {op:?}");
        }
        let mut names: Vec<&str> = all.iter().map(Operation::name).collect();
        names.sort_unstable();
        names.dedup();
        // Two forms each of the 12 flagged variants.
        assert_eq!(names.len(), all.len() - 12);
    }

    #[test]
    fn flags_come_from_version_ids() {
        assert_eq!(
            parse("GET /b/k?versionId=null", NONE).unwrap(),
            O::GetObject { version: true }
        );
        assert_eq!(
            parse("GET /b/k", NONE).unwrap(),
            O::GetObject { version: false }
        );
        // A bucket ignores versionId.
        assert_eq!(parse("GET /b?versionId=3", NONE).unwrap(), O::ListObjects);
        assert_eq!(
            parse("PUT /b/k", COPY_V).unwrap(),
            O::CopyObject {
                source_version: true
            }
        );
        let odd = &[("x-amz-copy-source", "/src/o?other=1&versionId=x")];
        assert_eq!(
            parse("PUT /b/k", odd).unwrap(),
            O::CopyObject {
                source_version: false
            }
        );
    }

    #[test]
    fn copies_need_a_read_of_the_source() {
        let source = |line, headers| parse(line, headers).unwrap().source_action();
        assert_eq!(source("PUT /b/k", COPY), Some("s3:GetObject"));
        assert_eq!(source("PUT /b/k", COPY_V), Some("s3:GetObjectVersion"));
        assert_eq!(
            source("PUT /b/k?uploadId=u&partNumber=2", COPY),
            Some("s3:GetObject")
        );
        assert_eq!(
            source("PUT /b/k?uploadId=u&partNumber=2", COPY_V),
            Some("s3:GetObjectVersion")
        );
        assert_eq!(source("PUT /b/k", NONE), None);
        assert_eq!(source("GET /b/k", COPY), None);
    }

    #[test]
    fn resource_levels() {
        use ResourceLevel::{Bucket, Object, Service};
        for (line, headers, level) in [
            ("GET /", NONE, Service),
            ("PUT /b", NONE, Bucket),
            ("HEAD /b", NONE, Bucket),
            ("GET /b?list-type=2", NONE, Bucket),
            ("GET /b?uploads", NONE, Bucket),
            ("GET /b?acl", NONE, Bucket),
            ("PUT /b?ownershipControls", NONE, Bucket),
            ("GET /b/k?acl", NONE, Object),
            ("GET /b/k", NONE, Object),
            ("PUT /b/k", COPY, Object),
            ("GET /b/k?uploadId=u", NONE, Object),
            ("POST /b?delete", NONE, Object),
            ("POST /b", FORM, Object),
        ] {
            assert_eq!(
                parse(line, headers).unwrap().resource_level(),
                level,
                "{line}"
            );
        }
    }

    #[test]
    fn requests_that_are_no_operation() {
        for (line, headers, code, message) in [
            ("POST /", NONE, "MethodNotAllowed", None),
            ("PUT s3.example.com/", NONE, "MethodNotAllowed", None),
            ("DELETE //k", NONE, "MethodNotAllowed", None),
            ("PATCH /b", NONE, "MethodNotAllowed", None),
            ("POST /b", NONE, "MethodNotAllowed", None),
            ("POST /b?uploads", NONE, "MethodNotAllowed", None),
            (
                "POST /b",
                &[("content-type", "text/plain")][..],
                "MethodNotAllowed",
                None,
            ),
            ("POST /b/k", FORM, "MethodNotAllowed", None),
            ("PATCH /b/k", NONE, "MethodNotAllowed", None),
            ("POST /b/k", NONE, "MethodNotAllowed", None),
            (
                "GET /b/k?policy",
                NONE,
                "NotImplemented",
                Some("GET ?policy is not implemented"),
            ),
            (
                "HEAD /b?acl",
                NONE,
                "NotImplemented",
                Some("HEAD ?acl is not implemented"),
            ),
            (
                "POST /b?analytics",
                NONE,
                "NotImplemented",
                Some("POST ?analytics is not implemented"),
            ),
            (
                "GET /b?retention",
                NONE,
                "NotImplemented",
                Some("GET ?retention is not implemented"),
            ),
            (
                "GET /b/k?versions",
                NONE,
                "NotImplemented",
                Some("GET ?versions is not implemented"),
            ),
            (
                "DELETE /b/k?acl",
                NONE,
                "NotImplemented",
                Some("DELETE ?acl is not implemented"),
            ),
            (
                "DELETE /b?object-lock",
                NONE,
                "NotImplemented",
                Some("DELETE ?object-lock is not implemented"),
            ),
        ] {
            let e = parse(line, headers).expect_err(line);
            assert_eq!(e.code, code, "{line}");
            if let Some(m) = message {
                assert_eq!(e.message, m, "{line}");
            }
        }
    }
}
