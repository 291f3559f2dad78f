//! Evaluation: does a policy allow, explicitly deny, or say nothing about a request?
//!
//! A statement applies when (for bucket policies) its Principal names the caller or its
//! NotPrincipal does not, its Action matches the request's action (NotAction: does not),
//! its Resource matches the request's resource (NotResource: does not; skipped for STS and
//! for admin actions that do not act on a bucket, as MinIO does), and every condition
//! holds. Any applying Deny statement makes the policy's decision `ExplicitDeny`;
//! otherwise any applying Allow makes it `Allow`; otherwise `NotApplicable`. Decisions of
//! several policies (user, groups, bucket policy, session policy) combine with `combine`:
//! a deny anywhere wins, then an allow anywhere.
//!
//! Nothing here allocates in the common case (one small string when the request names an
//! object); patterns were compiled when the policy was parsed.

use std::borrow::Cow;

use crate::action::{self, Service};
use crate::document::{Effect, Policy, Statement};
use crate::principal::Caller;
use crate::resource::Kind;
use crate::values::Values;

/// What is being asked.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The action, e.g. `s3:GetObject`, `admin:CreateUser`.
    pub action: &'a str,
    /// The bucket; empty for account-level actions (s3:ListAllMyBuckets, most admin
    /// actions). For kms: actions, the KMS key name.
    pub bucket: &'a str,
    /// The object key for object-level actions; `None` for bucket-level ones.
    pub key: Option<&'a str>,
    /// The caller; `None` for anonymous requests. Only bucket policies look at it.
    pub principal: Option<&'a Caller<'a>>,
    /// The request context: condition keys and policy variables.
    pub conditions: &'a Values,
}

impl<'a> Request<'a> {
    /// A request for `action` with no bucket, no key and an anonymous caller.
    pub fn new(action: &'a str, conditions: &'a Values) -> Request<'a> {
        Request {
            action,
            bucket: "",
            key: None,
            principal: None,
            conditions,
        }
    }

    /// Sets the bucket.
    pub fn with_bucket(mut self, bucket: &'a str) -> Request<'a> {
        self.bucket = bucket;
        self
    }

    /// Sets the object key.
    pub fn with_key(mut self, key: &'a str) -> Request<'a> {
        self.key = Some(key);
        self
    }

    /// Sets the caller.
    pub fn with_caller(mut self, caller: &'a Caller<'a>) -> Request<'a> {
        self.principal = Some(caller);
        self
    }

    /// The resource path statements are matched against: `bucket` or `bucket/key`.
    fn resource(&self) -> Cow<'a, str> {
        match self.key {
            Some(key) => Cow::Owned(format!("{}/{key}", self.bucket)),
            None => Cow::Borrowed(self.bucket),
        }
    }
}

/// A policy's (or several policies') answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An Allow statement applies and no Deny does.
    Allow,
    /// A Deny statement applies: refuse, whatever other policies say.
    ExplicitDeny,
    /// No statement applies (an implicit deny unless another policy allows).
    NotApplicable,
}

/// Combines the decisions of several policies: any explicit deny wins, then any allow.
pub fn combine(decisions: impl IntoIterator<Item = Decision>) -> Decision {
    let mut result = Decision::NotApplicable;
    for d in decisions {
        match d {
            Decision::ExplicitDeny => return Decision::ExplicitDeny,
            Decision::Allow => result = Decision::Allow,
            Decision::NotApplicable => {}
        }
    }
    result
}

impl Policy {
    /// Evaluates an identity policy (Principal is not looked at).
    pub fn evaluate(&self, request: &Request<'_>) -> Decision {
        self.decide(request, false)
    }

    /// Evaluates a bucket (resource) policy: statements apply only to the principals
    /// they name. A statement without Principal or NotPrincipal (an identity policy
    /// evaluated this way) applies to nobody.
    pub fn evaluate_resource(&self, request: &Request<'_>) -> Decision {
        self.decide(request, true)
    }

    fn decide(&self, request: &Request<'_>, check_principal: bool) -> Decision {
        let resource = request.resource();
        let kind = match action::service_of(request.action) {
            Some(Service::Kms) => Kind::Kms,
            _ => Kind::S3,
        };
        let skip_resource = action::ignores_resource(request.action)
            || (kind == Kind::Kms && request.bucket.is_empty());
        let mut allowed = false;
        for st in self.statements.iter() {
            if st.applies(request, &resource, kind, skip_resource, check_principal) {
                match st.effect {
                    Effect::Deny => return Decision::ExplicitDeny,
                    Effect::Allow => allowed = true,
                }
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }
}

impl Statement {
    fn applies(
        &self,
        request: &Request<'_>,
        resource: &str,
        kind: Kind,
        skip_resource: bool,
        check_principal: bool,
    ) -> bool {
        if check_principal {
            let named = match (&self.principal, &self.not_principal) {
                (Some(p), _) => p.matches(request.principal),
                (None, Some(np)) => !np.matches(request.principal),
                (None, None) => false,
            };
            if !named {
                return false;
            }
        }
        let action_hit = self.actions.iter().any(|a| a.matches(request.action));
        if action_hit == self.not_action {
            return false;
        }
        if !skip_resource && !self.resources.is_empty() {
            let hit = self
                .resources
                .iter()
                .any(|r| r.matches(kind, resource, request.conditions));
            if hit == self.not_resource {
                return false;
            }
        }
        self.conditions
            .iter()
            .all(|c| c.evaluate(request.conditions))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_prefers_deny_then_allow() {
        use Decision::*;
        assert_eq!(combine([]), NotApplicable);
        assert_eq!(combine([NotApplicable, Allow]), Allow);
        assert_eq!(combine([Allow, ExplicitDeny, Allow]), ExplicitDeny);
        assert_eq!(combine([NotApplicable, NotApplicable]), NotApplicable);
    }

    #[test]
    fn deny_wins_inside_one_policy() {
        let p = Policy::parse(
            br#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::b/*"},
                {"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}]}"#,
        )
        .unwrap();
        let v = Values::new();
        let get = Request::new("s3:GetObject", &v)
            .with_bucket("b")
            .with_key("k");
        let del = Request::new("s3:DeleteObject", &v)
            .with_bucket("b")
            .with_key("k");
        let list = Request::new("s3:ListBucket", &v).with_bucket("b");
        assert_eq!(p.evaluate(&get), Decision::Allow);
        assert_eq!(p.evaluate(&del), Decision::ExplicitDeny);
        assert_eq!(p.evaluate(&list), Decision::NotApplicable);
    }

    #[test]
    fn admin_actions_ignore_resource_unless_bucket_scoped() {
        let p = Policy::parse(
            br#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["admin:ServerInfo","admin:SetBucketQuota"],
                 "Resource":"arn:aws:s3:::b"}]}"#,
        )
        .unwrap();
        let v = Values::new();
        assert_eq!(
            p.evaluate(&Request::new("admin:ServerInfo", &v)),
            Decision::Allow
        );
        let quota = Request::new("admin:SetBucketQuota", &v);
        assert_eq!(p.evaluate(&quota.with_bucket("b")), Decision::Allow);
        assert_eq!(p.evaluate(&quota.with_bucket("c")), Decision::NotApplicable);
    }
}
