//! Routes that other APIs mount into the front, so that the front dispatches to them
//! without importing them (and they never import the front): start-up (`crate::server`)
//! builds the API and mounts an adapter implementing [`Route`].

use crate::body::RespBody;
use crate::objects::BodyStream;
use http::Response;

/// An API served under its own paths (the admin API, for example).
#[async_trait::async_trait]
pub trait Route: Send + Sync {
    /// True for the paths this route serves; asked before S3 routing.
    fn handles(&self, path: &str) -> bool;

    /// Serves one request; never fails: errors become answers.
    async fn handle(
        &self,
        parts: http::request::Parts,
        body: BodyStream,
        request_id: &str,
    ) -> Response<RespBody>;
}
