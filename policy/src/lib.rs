//! `cairn-policy`: the AWS IAM policy language and its evaluation, for the server's iam
//! layer (identity policies of users, groups, service accounts and STS sessions), bucket
//! policies, and MinIO-compatible admin APIs. Pure: no I/O, no clock, no async.
//!
//! ```
//! use cairn_policy::{Decision, Policy, Request, Values};
//!
//! let policy = Policy::parse(br#"{
//!     "Version": "2012-10-17",
//!     "Statement": [{
//!         "Effect": "Allow",
//!         "Action": ["s3:GetObject", "s3:PutObject"],
//!         "Resource": "arn:aws:s3:::home/${aws:username}/*"
//!     }]
//! }"#).unwrap();
//! let ctx = Values::new().with("aws:username", "alice");
//! let req = Request::new("s3:GetObject", &ctx).with_bucket("home").with_key("alice/notes.txt");
//! assert_eq!(policy.evaluate(&req), Decision::Allow);
//! ```
//!
//! Files by concept: `document` (parsing, validation, canonical JSON), `action` (action
//! names and patterns), `resource` (ARN patterns), `principal` (bucket-policy
//! principals and callers), `condition` (operators), `keys` (condition keys), `values`
//! (the request context), `wildcard` (compiled `*`/`?`/`${var}` patterns), `eval`
//! (decisions), `canned` (MinIO's built-in policies), `error`.

pub mod action;
mod canned;
mod condition;
mod document;
mod error;
mod eval;
mod json;
mod keys;
mod principal;
mod resource;
mod values;
mod wildcard;

pub use canned::{CANNED, canned};
pub use condition::Condition;
pub use document::{Effect, Policy, Statement, Version};
pub use error::{PolicyError, StatementRef};
pub use eval::{Decision, Request, combine};
pub use principal::Caller;
pub use resource::{KMS_ARN_PREFIX, S3_ARN_PREFIX};
pub use values::Values;

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_traits<T: Clone + std::fmt::Debug + Send + Sync>() {}

    #[test]
    fn policy_is_shareable() {
        assert_traits::<Policy>();
        assert_traits::<PolicyError>();
        assert_traits::<Values>();
    }
}
