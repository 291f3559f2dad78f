//! What can go wrong while the console serves a page, and how each case is shown.

use http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The server answered an S3 or admin request with an error.
    #[error("{code}: {message}")]
    Api {
        status: StatusCode,
        code: String,
        message: String,
    },
    /// The request to the console itself is wrong (a missing field, a bad name).
    #[error("{0}")]
    BadRequest(String),
    /// The CSRF token or origin check failed.
    #[error("the request did not come from this console page (CSRF check failed)")]
    Forbidden,
    #[error("the server is still starting")]
    Starting,
    #[error("the server did not answer within {0} s")]
    Timeout(u64),
    #[error("{0}")]
    Internal(String),
}

impl ConsoleError {
    pub fn status(&self) -> StatusCode {
        match self {
            ConsoleError::Api { status, .. } => *status,
            ConsoleError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::Starting => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ConsoleError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// True for answers that mean "this identity may not".
    pub fn is_denied(&self) -> bool {
        matches!(self, ConsoleError::Api { status, .. } if *status == StatusCode::FORBIDDEN)
    }
}

pub type ConsoleResult<T> = Result<T, ConsoleError>;
