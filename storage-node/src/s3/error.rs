//! S3 errors: the exact code, HTTP status and XML body S3 returns.

use crate::objects::ObjectError;
use http::StatusCode;

#[derive(Debug, Clone)]
pub struct S3Error {
    pub code: &'static str,
    pub message: String,
    pub status: StatusCode,
    /// Extra XML elements (already escaped), e.g. `<BucketName>`.
    pub extra: Vec<(&'static str, String)>,
    /// Response headers the error carries (`x-amz-delete-marker` of a deleted key).
    pub headers: Vec<(&'static str, String)>,
}

pub type S3Result<T> = Result<T, S3Error>;

impl S3Error {
    pub fn new(code: &'static str, status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status,
            extra: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a response header to the error.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new("InvalidArgument", StatusCode::BAD_REQUEST, message)
    }

    /// 403 AccessDenied, as S3 words it (the reason is never given away).
    pub fn access_denied() -> Self {
        Self::new("AccessDenied", StatusCode::FORBIDDEN, "Access Denied.")
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("InvalidRequest", StatusCode::BAD_REQUEST, message)
    }

    pub fn malformed_xml() -> Self {
        Self::new(
            "MalformedXML",
            StatusCode::BAD_REQUEST,
            "The XML you provided was not well-formed or did not validate against our published schema.",
        )
    }

    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            "NotImplemented",
            StatusCode::NOT_IMPLEMENTED,
            format!("{what} is not implemented"),
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalError", StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            "MethodNotAllowed",
            StatusCode::METHOD_NOT_ALLOWED,
            "The specified method is not allowed against this resource.",
        )
    }

    /// The `<Error>` document; `resource` is the request path, `request_id` is echoed.
    pub fn to_xml(&self, resource: &str, request_id: &str) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>");
        s.push_str(self.code);
        s.push_str("</Code><Message>");
        s.push_str(&super::xml::escape(&self.message));
        s.push_str("</Message>");
        for (k, v) in &self.extra {
            s.push_str(&format!("<{k}>{}</{k}>", super::xml::escape(v)));
        }
        s.push_str("<Resource>");
        s.push_str(&super::xml::escape(resource));
        s.push_str("</Resource><RequestId>");
        s.push_str(request_id);
        s.push_str("</RequestId></Error>");
        s
    }
}

impl From<ObjectError> for S3Error {
    fn from(e: ObjectError) -> Self {
        use StatusCode as S;
        let msg = e.to_string();
        match e {
            ObjectError::NoSuchBucket => S3Error::new("NoSuchBucket", S::NOT_FOUND, msg),
            ObjectError::BucketExists => S3Error::new(
                "BucketAlreadyOwnedByYou",
                S::CONFLICT,
                "Your previous request to create the named bucket succeeded and you already own it.",
            ),
            ObjectError::BucketNotEmpty => S3Error::new(
                "BucketNotEmpty",
                S::CONFLICT,
                "The bucket you tried to delete is not empty",
            ),
            ObjectError::InvalidBucketName(_) => {
                S3Error::new("InvalidBucketName", S::BAD_REQUEST, msg)
            }
            ObjectError::NoSuchKey => S3Error::new("NoSuchKey", S::NOT_FOUND, msg),
            ObjectError::NoSuchVersion => S3Error::new(
                "NoSuchVersion",
                S::NOT_FOUND,
                "The specified version does not exist.",
            ),
            ObjectError::InvalidVersionId => {
                S3Error::invalid_argument("Invalid version id specified")
            }
            // S3: the latest version a delete marker is 404 NoSuchKey; a delete marker
            // asked for by its id is 405; both say so in headers.
            ObjectError::DeleteMarker { version_id, by_id } => {
                let e = if by_id {
                    S3Error::method_not_allowed()
                } else {
                    S3Error::new("NoSuchKey", S::NOT_FOUND, msg)
                };
                e.with_header("x-amz-delete-marker", "true")
                    .with_header("x-amz-version-id", version_id)
            }
            ObjectError::PreconditionFailed => S3Error::new(
                "PreconditionFailed",
                S::PRECONDITION_FAILED,
                "At least one of the pre-conditions you specified did not hold",
            ),
            ObjectError::InvalidKey(k) => match k {
                crate::drive::keypath::KeyError::TooLong => {
                    S3Error::new("KeyTooLongError", S::BAD_REQUEST, "Your key is too long")
                }
                other => S3Error::new(
                    "XMinioInvalidObjectName",
                    S::BAD_REQUEST,
                    format!("Object name contains unsupported characters: {other}"),
                ),
            },
            ObjectError::NoSuchUpload => S3Error::new(
                "NoSuchUpload",
                S::NOT_FOUND,
                "The specified multipart upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
            ),
            ObjectError::InvalidPart(_) => S3Error::new("InvalidPart", S::BAD_REQUEST, msg),
            ObjectError::InvalidRequest(_) => S3Error::new("InvalidRequest", S::BAD_REQUEST, msg),
            ObjectError::InvalidPartOrder => S3Error::new("InvalidPartOrder", S::BAD_REQUEST, msg),
            ObjectError::EntityTooSmall { .. } => {
                S3Error::new("EntityTooSmall", S::BAD_REQUEST, msg)
            }
            ObjectError::EntityTooLarge => S3Error::new("EntityTooLarge", S::BAD_REQUEST, msg),
            ObjectError::BadDigest => S3Error::new("BadDigest", S::BAD_REQUEST, msg),
            ObjectError::Body(io) => body_error(io),
            ObjectError::ReadQuorum { .. }
            | ObjectError::WriteQuorum { .. }
            | ObjectError::LockQuorum(_) => S3Error::new(
                "SlowDown",
                S::SERVICE_UNAVAILABLE,
                format!(
                    "Resource requested is unreadable or unwritable, please reduce your request rate: {msg}"
                ),
            ),
            ObjectError::LockTimeout(_) => S3Error::new(
                "SlowDown",
                S::SERVICE_UNAVAILABLE,
                format!("Please reduce your request rate: {msg}"),
            ),
            // S3 gives no reason beyond this sentence.
            ObjectError::ObjectLocked(_) => S3Error::new(
                "AccessDenied",
                S::FORBIDDEN,
                "Access Denied because object protected by object lock.",
            ),
            ObjectError::Internal(_) => S3Error::internal(msg),
        }
    }
}

/// Errors raised while the request body streamed: checksum mismatches, bad chunk
/// signatures, truncated bodies.
fn body_error(io: std::io::Error) -> S3Error {
    if let Some(inner) = io.get_ref() {
        if let Some(e) = inner.downcast_ref::<super::checksum::ChecksumError>() {
            return S3Error::new(e.s3_code(), e.http_status(), e.message());
        }
        if let Some(e) = inner.downcast_ref::<super::auth::chunked::ChunkError>() {
            return S3Error::new(e.s3_code(), e.http_status(), e.message());
        }
        if let Some(e) = inner.downcast_ref::<super::body::BodyError>() {
            return S3Error::new(e.s3_code(), StatusCode::BAD_REQUEST, e.to_string());
        }
    }
    S3Error::new(
        "IncompleteBody",
        StatusCode::BAD_REQUEST,
        format!(
            "You did not provide the number of bytes specified by the Content-Length HTTP header: {io}"
        ),
    )
}

impl From<super::auth::sigv4::AuthError> for S3Error {
    fn from(e: super::auth::sigv4::AuthError) -> Self {
        S3Error::new(e.s3_code(), e.http_status(), e.message())
    }
}
