//! Resources: `arn:aws:s3:::bucket` and `arn:aws:s3:::bucket/key` patterns (with `*`, `?`
//! and `${...}` policy variables, see `wildcard`), `*` for everything, and MinIO's
//! `arn:minio:kms:::key` for KMS actions.
//!
//! A request names its resource as `bucket` for bucket-level actions and `bucket/key` for
//! object-level ones (`Request::key`); account-level actions such as s3:ListAllMyBuckets
//! and most admin actions have an empty bucket, which `arn:aws:s3:::*` and `*` match.

use crate::values::Values;
use crate::wildcard::Pattern;

/// ARN prefix of S3 resources.
pub const S3_ARN_PREFIX: &str = "arn:aws:s3:::";
/// ARN prefix of MinIO KMS keys.
pub const KMS_ARN_PREFIX: &str = "arn:minio:kms:::";

/// Which kind of thing a resource names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `*`: everything.
    Any,
    /// `arn:aws:s3:::...`
    S3,
    /// `arn:minio:kms:::...`
    Kms,
}

/// One entry of a statement's Resource or NotResource, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePattern {
    /// As written in the policy.
    pub(crate) source: String,
    pub(crate) kind: Kind,
    /// The part after the ARN prefix (`bucket/key*`).
    pub(crate) path: String,
    pattern: Pattern,
}

impl ResourcePattern {
    /// Compiles one resource. `variables`: whether `${...}` is a policy variable (it is
    /// not in Version 2008-10-17 policies).
    pub(crate) fn parse(s: &str, variables: bool) -> Result<ResourcePattern, String> {
        let (kind, path) = if s == "*" {
            (Kind::Any, "*")
        } else if let Some(rest) = s.strip_prefix(S3_ARN_PREFIX) {
            (Kind::S3, rest)
        } else if let Some(rest) = s.strip_prefix(KMS_ARN_PREFIX) {
            (Kind::Kms, rest)
        } else {
            return Err(format!(
                "resource {s:?} is not an S3 ARN (expected \"*\" or arn:aws:s3:::bucket[/key])"
            ));
        };
        if path.is_empty() {
            return Err(format!("resource {s:?} names no bucket"));
        }
        if path.starts_with('/') {
            return Err(format!(
                "resource {s:?} starts with '/' after the ARN prefix and would match no bucket"
            ));
        }
        if kind == Kind::Kms && path.contains(['/', '\\', '.']) {
            return Err(format!(
                "KMS resource {s:?} may not contain '/', '\\' or '.'"
            ));
        }
        let pattern =
            Pattern::compile(path, true, variables).map_err(|e| format!("resource {s:?}: {e}"))?;
        Ok(ResourcePattern {
            source: s.to_owned(),
            kind,
            path: path.to_owned(),
            pattern,
        })
    }

    /// True when this pattern covers `resource` (`bucket` or `bucket/key`) of a request for
    /// an action of kind `kind` (S3 or KMS).
    pub(crate) fn matches(&self, kind: Kind, resource: &str, vars: &Values) -> bool {
        match self.kind {
            Kind::Any => true,
            k if k != kind => false,
            _ => self.pattern.matches(resource, false, Some(vars)),
        }
    }

    /// True when this resource lies inside `bucket` (the bucket itself or objects in it),
    /// judged on the text, as S3 does for bucket policies.
    pub(crate) fn within_bucket(&self, bucket: &str) -> bool {
        self.kind == Kind::S3
            && (self.path == bucket
                || self
                    .path
                    .strip_prefix(bucket)
                    .is_some_and(|rest| rest.starts_with('/')))
    }

    /// True when the pattern can name an object (`bucket/...`, or a wildcard that spans
    /// the slash).
    pub(crate) fn names_objects(&self) -> bool {
        self.kind == Kind::Any || self.path.contains(['/', '*'])
    }

    /// True when the pattern can name a bucket.
    pub(crate) fn names_buckets(&self) -> bool {
        self.kind == Kind::Any || !self.path.contains('/') || self.path == "*"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches() {
        let v = Values::new().with("aws:username", "alice");
        let r = ResourcePattern::parse("arn:aws:s3:::b/home/${aws:username}/*", true).unwrap();
        assert!(r.matches(Kind::S3, "b/home/alice/a.txt", &v));
        assert!(!r.matches(Kind::S3, "b/home/bob/a.txt", &v));
        assert!(!r.matches(Kind::Kms, "b/home/alice/a.txt", &v));
        let any = ResourcePattern::parse("*", true).unwrap();
        assert!(any.matches(Kind::S3, "", &v));
        assert!(any.matches(Kind::Kms, "key", &v));
        let all = ResourcePattern::parse("arn:aws:s3:::*", true).unwrap();
        assert!(all.matches(Kind::S3, "", &v));
        assert!(all.matches(Kind::S3, "b/k", &v));
        let bucket = ResourcePattern::parse("arn:aws:s3:::b", true).unwrap();
        assert!(bucket.matches(Kind::S3, "b", &v));
        assert!(!bucket.matches(Kind::S3, "b/k", &v));
        assert!(!bucket.matches(Kind::S3, "bb", &v));
        // Resource paths are case-sensitive.
        assert!(!bucket.matches(Kind::S3, "B", &v));
    }

    #[test]
    fn refuses_bad_resources() {
        assert!(
            ResourcePattern::parse("arn:aws:iam::1:user/x", true)
                .unwrap_err()
                .contains("not an S3 ARN")
        );
        assert!(
            ResourcePattern::parse("arn:aws:s3:::", true)
                .unwrap_err()
                .contains("names no bucket")
        );
        assert!(
            ResourcePattern::parse("arn:aws:s3:::/b", true)
                .unwrap_err()
                .contains("starts with '/'")
        );
        assert!(ResourcePattern::parse("mybucket/*", true).is_err());
        assert!(ResourcePattern::parse("arn:minio:kms:::a/b", true).is_err());
    }

    #[test]
    fn bucket_scope() {
        let r = |s| ResourcePattern::parse(s, true).unwrap();
        assert!(r("arn:aws:s3:::b").within_bucket("b"));
        assert!(r("arn:aws:s3:::b/*").within_bucket("b"));
        assert!(!r("arn:aws:s3:::bb/*").within_bucket("b"));
        assert!(!r("arn:aws:s3:::b*").within_bucket("b"));
        assert!(!r("*").within_bucket("b"));
        assert!(r("arn:aws:s3:::b/*").names_objects());
        assert!(!r("arn:aws:s3:::b").names_objects());
        assert!(r("arn:aws:s3:::b").names_buckets());
    }
}
