//! Who is calling, resolved once per request from the access key (and session token),
//! with everything needed to decide what it may do: the policies that grant its
//! permissions and the one that narrows them. Deciding is pure and cheap: no I/O, no
//! parsing; policies were parsed when the IAM state was loaded.
//!
//! The decision follows AWS's evaluation logic: an explicit Deny in any applicable
//! policy (identity, group, session or bucket policy) wins; otherwise an Allow from the
//! identity's own or its groups' policies, or from the bucket policy for this
//! principal, allows — within the narrowing policy of a service account or a session,
//! when there is one; otherwise the request is denied.

use cairn_policy::{Decision, Policy, Request, Values};
use std::sync::Arc;

/// What kind of identity signed the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Root,
    User,
    ServiceAccount,
    Session,
    Anonymous,
}

impl Kind {
    /// `aws:PrincipalType`, as AWS fills it.
    pub fn principal_type(self) -> &'static str {
        match self {
            Self::Root => "Account",
            Self::User | Self::ServiceAccount => "User",
            Self::Session => "AssumedRole",
            Self::Anonymous => "Anonymous",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub kind: Kind,
    /// The key that signed the request (empty when anonymous).
    pub access_key: String,
    /// The user whose permissions apply: the caller itself, or the parent of a service
    /// account or session (the root user for root's children).
    pub user: String,
    /// Enabled groups of `user`.
    pub groups: Vec<String>,
    /// Policies of `user` and of its enabled groups.
    pub(crate) policies: Vec<Arc<Policy>>,
    /// The inline policy of a service account or session, which narrows `policies`.
    pub(crate) narrowing: Option<Arc<Policy>>,
    /// A service account or session of the root user: root's powers, within
    /// `narrowing`.
    pub(crate) root_child: bool,
}

impl Caller {
    pub fn anonymous() -> Self {
        Self {
            kind: Kind::Anonymous,
            access_key: String::new(),
            user: String::new(),
            groups: Vec::new(),
            policies: Vec::new(),
            narrowing: None,
            root_child: false,
        }
    }

    /// Root, or root's service account or session without a narrowing policy: allowed
    /// everything, with no evaluation at all (the hot path of the root key).
    pub fn is_owner(&self) -> bool {
        self.kind == Kind::Root || (self.root_child && self.narrowing.is_none())
    }

    /// The caller as bucket-policy principals see it; `None` when anonymous.
    pub fn principal(&self) -> Option<cairn_policy::Caller<'_>> {
        (self.kind != Kind::Anonymous).then(|| cairn_policy::Caller {
            access_key: &self.access_key,
            user: &self.user,
            is_root: self.kind == Kind::Root || self.root_child,
        })
    }

    /// Adds the condition keys that describe the caller (`aws:username`,
    /// `aws:userid`, `aws:PrincipalType`, `aws:groups`) to `values`.
    pub fn describe(&self, values: &mut Values) {
        if self.kind == Kind::Anonymous {
            values.insert("aws:PrincipalType", "Anonymous");
            return;
        }
        values.insert("aws:username", self.user.clone());
        values.insert("aws:userid", self.user.clone());
        values.insert("aws:PrincipalType", self.kind.principal_type());
        if !self.groups.is_empty() {
            values.set("aws:groups", self.groups.clone());
        }
    }

    /// Whether one of the caller's own, group or narrowing policies explicitly denies
    /// `req` (for calls that are open to every identity unless denied, as MinIO keeps
    /// `sts:AssumeRole`).
    pub fn explicitly_denies(&self, req: &Request<'_>) -> bool {
        if self.is_owner() {
            return false;
        }
        let own = cairn_policy::combine(self.policies.iter().map(|p| p.evaluate(req)));
        let narrowing = self
            .narrowing
            .as_ref()
            .map_or(Decision::NotApplicable, |p| p.evaluate(req));
        own == Decision::ExplicitDeny || narrowing == Decision::ExplicitDeny
    }

    /// Whether the caller may make `req`, given the bucket's policy.
    pub fn is_allowed(&self, req: &Request<'_>, bucket_policy: Option<&Policy>) -> bool {
        if self.is_owner() {
            return true;
        }
        let resource = bucket_policy.map_or(Decision::NotApplicable, |p| p.evaluate_resource(req));
        if resource == Decision::ExplicitDeny {
            return false;
        }
        let identity = if self.kind == Kind::Anonymous {
            Decision::NotApplicable
        } else if self.root_child {
            // Root's children with a narrowing policy: root allows everything.
            Decision::Allow
        } else {
            cairn_policy::combine(self.policies.iter().map(|p| p.evaluate(req)))
        };
        if identity == Decision::ExplicitDeny {
            return false;
        }
        let narrowed = match &self.narrowing {
            None => true,
            Some(p) => p.evaluate(req) == Decision::Allow,
        };
        narrowed && (identity == Decision::Allow || resource == Decision::Allow)
    }
}
