//! Why an identity or access operation failed. The admin API turns these into MinIO's
//! error codes, the S3 layer into `AccessDenied`/`InvalidAccessKeyId`; messages are safe
//! to show the caller (they never hold a secret).

use crate::objects::error::ObjectError;

#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("the user {0:?} does not exist")]
    NoSuchUser(String),
    #[error("the group {0:?} does not exist")]
    NoSuchGroup(String),
    #[error("the policy {0:?} does not exist")]
    NoSuchPolicy(String),
    #[error("the service account {0:?} does not exist")]
    NoSuchServiceAccount(String),
    #[error("the group {0:?} still has members; remove them first")]
    GroupNotEmpty(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("malformed policy: {0}")]
    MalformedPolicy(String),
    #[error("{0}")]
    AccessDenied(String),
    /// An STS session token past its expiry.
    #[error("the provided token has expired")]
    ExpiredToken,
    /// A session token this deployment did not issue, or damaged.
    #[error("invalid session token: {0}")]
    InvalidToken(String),
    #[error("the IAM state cannot be read or written: {0}")]
    Storage(#[from] ObjectError),
    /// The stored state is damaged, or sealed with a key we do not have (the root
    /// credentials changed without `CAIRN_ROOT_PASSWORD_PREVIOUS`).
    #[error("the IAM state cannot be opened: {0}")]
    Sealed(String),
}

impl IamError {
    /// MinIO's admin API error code for this error (madmin's `XMinioAdmin...` names).
    pub fn admin_code(&self) -> &'static str {
        match self {
            Self::NoSuchUser(_) => "XMinioAdminNoSuchUser",
            Self::NoSuchGroup(_) => "XMinioAdminNoSuchGroup",
            Self::NoSuchPolicy(_) => "XMinioAdminNoSuchPolicy",
            Self::NoSuchServiceAccount(_) => "XMinioAdminServiceAccountNotFound",
            Self::GroupNotEmpty(_) => "XMinioAdminGroupNotEmpty",
            Self::AlreadyExists(_) => "XMinioAdminInvalidArgument",
            Self::InvalidArgument(_) => "XMinioAdminInvalidArgument",
            Self::MalformedPolicy(_) => "XMinioMalformedPolicy",
            Self::AccessDenied(_) => "AccessDenied",
            Self::ExpiredToken => "ExpiredToken",
            Self::InvalidToken(_) => "InvalidToken",
            Self::Storage(_) | Self::Sealed(_) => "XMinioAdminIAMNotInitialized",
        }
    }

    /// The HTTP status of [`Self::admin_code`].
    pub fn http_status(&self) -> http::StatusCode {
        use http::StatusCode as S;
        match self {
            Self::NoSuchUser(_)
            | Self::NoSuchGroup(_)
            | Self::NoSuchPolicy(_)
            | Self::NoSuchServiceAccount(_) => S::NOT_FOUND,
            Self::GroupNotEmpty(_) | Self::AlreadyExists(_) => S::CONFLICT,
            Self::InvalidArgument(_)
            | Self::MalformedPolicy(_)
            | Self::ExpiredToken
            | Self::InvalidToken(_) => S::BAD_REQUEST,
            Self::AccessDenied(_) => S::FORBIDDEN,
            Self::Storage(_) | Self::Sealed(_) => S::SERVICE_UNAVAILABLE,
        }
    }
}

pub type IamResult<T> = Result<T, IamError>;
