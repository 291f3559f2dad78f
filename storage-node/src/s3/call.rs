//! What one S3 call was, as the layers that observe requests (the audit log) need it:
//! the operation's AWS name, the bucket and object it addressed and who signed it. The
//! S3 layer fills it while serving and puts it into the response's extensions, so that
//! it knows nothing of its observers.

/// The facts of one S3 call; fields stay empty where the request never got that far
/// (an unsigned request has no access key, a refused route no operation).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiCall {
    /// The AWS operation name (`PutObject`, `ListObjectsV2`, ...), see `Operation::name`.
    pub name: &'static str,
    pub bucket: String,
    pub object: String,
    /// The access key that signed the request.
    pub access_key: String,
    /// The user whose permissions apply when it is not the signing key itself (the
    /// parent of a service account or session).
    pub parent_user: String,
}
