//! Request authentication: AWS Signature Version 4 in headers and presigned query
//! strings, and the `aws-chunked` payload encodings.

pub mod chunked;
pub mod sigv4;
