//! HTTP response bodies shared by every API this server speaks (S3, admin, peer RPC,
//! health, metrics). They live below all of them so that no API imports another just
//! for its body type, and the lower layers (`rpc`, `cluster::locks`) never reach up into `s3`.

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};

/// The body of every response: streamed or whole, with I/O errors ending the stream.
pub type RespBody = UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole body from bytes.
pub fn full(b: Bytes) -> RespBody {
    Full::new(b).map_err(|never| match never {}).boxed_unsync()
}

/// A response with no body.
pub fn empty(status: StatusCode) -> Response<RespBody> {
    let mut r = Response::new(full(Bytes::new()));
    *r.status_mut() = status;
    r
}
