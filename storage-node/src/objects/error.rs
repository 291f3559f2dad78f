//! Errors of the object layer; the S3 layer maps each to its S3 error code.

use crate::drive::keypath::KeyError;

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("the specified bucket does not exist")]
    NoSuchBucket,
    #[error("the bucket already exists and is owned by you")]
    BucketExists,
    #[error("the bucket is not empty")]
    BucketNotEmpty,
    #[error("the specified bucket name is not valid: {0}")]
    InvalidBucketName(String),
    #[error("the specified key does not exist")]
    NoSuchKey,
    #[error("{0}")]
    InvalidKey(#[from] KeyError),
    #[error("the specified version does not exist")]
    NoSuchVersion,
    #[error("invalid version id specified")]
    InvalidVersionId,
    /// The latest version of the key is a delete marker (`by_id: false`), or the version
    /// asked for is one (`by_id: true`).
    #[error("the specified key does not exist")]
    DeleteMarker { version_id: String, by_id: bool },
    #[error("the specified multipart upload does not exist")]
    NoSuchUpload,
    #[error("{0}")]
    InvalidPart(String),
    /// A request the object layer cannot carry out as asked (S3's `InvalidRequest`).
    #[error("{0}")]
    InvalidRequest(String),
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    #[error("part {number} is {size} bytes; every part but the last must be at least 5 MiB")]
    EntityTooSmall { number: u32, size: u64 },
    #[error("your proposed upload exceeds the maximum allowed object size")]
    EntityTooLarge,
    #[error("the Content-MD5 you specified did not match what we received")]
    BadDigest,
    #[error("at least one of the pre-conditions you specified did not hold")]
    PreconditionFailed,
    #[error("request body: {0}")]
    Body(std::io::Error),
    #[error("insufficient read quorum: {have} of {total} drives answered, {need} needed")]
    ReadQuorum {
        have: usize,
        total: usize,
        need: usize,
    },
    #[error(
        "insufficient write quorum: {have} of {total} drives accepted the write, {need} needed"
    )]
    WriteQuorum {
        have: usize,
        total: usize,
        need: usize,
    },
    #[error("timed out waiting for a lock on {0}")]
    LockTimeout(String),
    /// Too few servers reachable to take a quorum lock: the write cannot reach quorum
    /// either, so the client hears the same "unwritable" error.
    #[error("insufficient write quorum: {0}")]
    LockQuorum(String),
    /// Object lock forbids the change: removing a version under legal hold or unexpired
    /// retention, or shortening a retention (S3's 403 AccessDenied).
    #[error("access denied because object protected by object lock: {0}")]
    ObjectLocked(#[from] super::retention::Blocked),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<crate::erasure::write::WriteError> for ObjectError {
    fn from(e: crate::erasure::write::WriteError) -> Self {
        match e {
            crate::erasure::write::WriteError::Quorum {
                online,
                total,
                quorum,
            } => ObjectError::WriteQuorum {
                have: online,
                total,
                need: quorum,
            },
            other => ObjectError::Internal(other.to_string()),
        }
    }
}

impl From<crate::erasure::read::ReadError> for ObjectError {
    fn from(e: crate::erasure::read::ReadError) -> Self {
        match e {
            crate::erasure::read::ReadError::Quorum {
                good,
                total,
                quorum,
            } => ObjectError::ReadQuorum {
                have: good,
                total,
                need: quorum,
            },
            other => ObjectError::Internal(other.to_string()),
        }
    }
}

pub type ObjectResult<T> = Result<T, ObjectError>;
