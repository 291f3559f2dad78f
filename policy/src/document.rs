//! Policy documents: parsing and validation of identity policies (`Policy::parse`) and
//! bucket policies (`Policy::parse_bucket_policy`), and their canonical JSON.
//!
//! Accepted shapes are AWS's: Statement as one object or an array; Action, Resource and
//! Principal values as one string or an array; `Principal: "*"` or `{"AWS": ...}`.
//! Element names are matched case-insensitively (MinIO's Go decoder does), and the same
//! element twice in one object is refused, as is any unknown element.
//!
//! Version: "2012-10-17" or "2008-10-17". A missing Version is accepted, as MinIO does,
//! and behaves as 2012-10-17 (policy variables are substituted); an explicit 2008-10-17
//! keeps `${...}` as literal text, as AWS does.
//!
//! Identity policies may not name a Principal; each statement needs Resource or
//! NotResource unless all its actions are admin:, sts: or kms: actions (MinIO's rule).
//! Bucket policies need Principal or NotPrincipal in every statement, only s3: actions,
//! and every Resource inside the bucket (`arn:aws:s3:::bucket` or
//! `arn:aws:s3:::bucket/...`), as S3 refuses anything else with "Policy has invalid
//! resource"; a statement whose only actions are object actions but whose resources are
//! all buckets (or the reverse) is refused as S3 does ("Action does not apply to any
//! resource(s) in statement").

use std::sync::Arc;

use crate::action::{self, ActionPattern, Service};
use crate::condition::{self, Condition};
use crate::error::{PolicyError, StatementRef};
use crate::json::{self, Json};
use crate::principal::Principals;
use crate::resource::{Kind, ResourcePattern};

/// The policy language version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// "2012-10-17": the current language, with policy variables.
    V2012_10_17,
    /// "2008-10-17": no policy variables.
    V2008_10_17,
    /// No Version element (accepted as MinIO does; behaves as 2012-10-17).
    Unspecified,
}

impl Version {
    /// The Version string, `None` when unspecified.
    pub fn as_str(self) -> Option<&'static str> {
        match self {
            Version::V2012_10_17 => Some("2012-10-17"),
            Version::V2008_10_17 => Some("2008-10-17"),
            Version::Unspecified => None,
        }
    }

    fn variables(self) -> bool {
        self != Version::V2008_10_17
    }
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants when the statement applies.
    Allow,
    /// Refuses when the statement applies, whatever else allows.
    Deny,
}

impl Effect {
    /// "Allow" or "Deny".
    pub fn as_str(self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A parsed, validated policy. Cheap to clone (the statements are shared).
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) raw: Arc<[u8]>,
    pub(crate) version: Version,
    pub(crate) id: Option<String>,
    pub(crate) statements: Arc<[Statement]>,
}

/// One statement of a policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: Option<Principals>,
    pub(crate) not_principal: Option<Principals>,
    pub(crate) actions: Vec<ActionPattern>,
    pub(crate) not_action: bool,
    /// Empty when the statement has neither Resource nor NotResource.
    pub(crate) resources: Vec<ResourcePattern>,
    pub(crate) not_resource: bool,
    pub(crate) conditions: Vec<Condition>,
}

impl Statement {
    /// The Sid, if any.
    pub fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }
    /// Allow or Deny.
    pub fn effect(&self) -> Effect {
        self.effect
    }
    /// The `AWS` ids of Principal (`["*"]` for `"*"`), if the statement has one.
    pub fn principal(&self) -> Option<&[String]> {
        self.principal.as_ref().map(|p| p.aws.as_slice())
    }
    /// The `AWS` ids of NotPrincipal, if the statement has one.
    pub fn not_principal(&self) -> Option<&[String]> {
        self.not_principal.as_ref().map(|p| p.aws.as_slice())
    }
    /// The Action (or NotAction, see `is_not_action`) entries as written.
    pub fn actions(&self) -> impl Iterator<Item = &str> {
        self.actions.iter().map(|a| a.source.as_str())
    }
    /// True when the statement uses NotAction.
    pub fn is_not_action(&self) -> bool {
        self.not_action
    }
    /// The Resource (or NotResource) entries as written; empty when there are none.
    pub fn resources(&self) -> impl Iterator<Item = &str> {
        self.resources.iter().map(|r| r.source.as_str())
    }
    /// True when the statement uses NotResource.
    pub fn is_not_resource(&self) -> bool {
        self.not_resource
    }
    /// The conditions, one per operator and key.
    pub fn conditions(&self) -> &[Condition] {
        &self.conditions
    }
}

/// Which kind of policy is being parsed.
#[derive(Clone, Copy)]
enum Mode<'a> {
    Identity,
    Bucket(&'a str),
}

impl Policy {
    /// Parses an identity policy (of a user, group, service account or STS session).
    pub fn parse(json: &[u8]) -> Result<Policy, PolicyError> {
        parse(json, Mode::Identity)
    }

    /// Parses the bucket policy of `bucket`.
    pub fn parse_bucket_policy(json: &[u8], bucket: &str) -> Result<Policy, PolicyError> {
        parse(json, Mode::Bucket(bucket))
    }

    /// The bytes the policy was parsed from (what S3's GetBucketPolicy returns).
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    /// The Version element.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The Id element, if any.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The statements, in document order.
    pub fn statements(&self) -> &[Statement] {
        &self.statements
    }

    /// Canonical JSON (what MinIO's admin API returns): fixed element order, Action,
    /// Resource, Principal ids and condition values always as arrays, `"*"` principals as
    /// `{"AWS":["*"]}`, condition values as strings. Parsing it again gives an equivalent
    /// policy.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        let mut first = true;
        let mut field = |out: &mut String, name: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            json::write_str(out, name);
            out.push(':');
        };
        if let Some(v) = self.version.as_str() {
            field(&mut out, "Version");
            json::write_str(&mut out, v);
        }
        if let Some(id) = &self.id {
            field(&mut out, "Id");
            json::write_str(&mut out, id);
        }
        field(&mut out, "Statement");
        out.push('[');
        for (i, st) in self.statements.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_statement(&mut out, st);
        }
        out.push_str("]}");
        out
    }
}

fn write_statement(out: &mut String, st: &Statement) {
    out.push('{');
    if let Some(sid) = &st.sid {
        out.push_str("\"Sid\":");
        json::write_str(out, sid);
        out.push(',');
    }
    out.push_str("\"Effect\":");
    json::write_str(out, st.effect.as_str());
    if let Some(p) = &st.principal {
        out.push_str(",\"Principal\":");
        p.write(out);
    }
    if let Some(p) = &st.not_principal {
        out.push_str(",\"NotPrincipal\":");
        p.write(out);
    }
    out.push_str(if st.not_action {
        ",\"NotAction\":"
    } else {
        ",\"Action\":"
    });
    json::write_str_array(out, st.actions());
    if !st.resources.is_empty() {
        out.push_str(if st.not_resource {
            ",\"NotResource\":"
        } else {
            ",\"Resource\":"
        });
        json::write_str_array(out, st.resources());
    }
    if !st.conditions.is_empty() {
        out.push_str(",\"Condition\":{");
        // Group by operator, keeping first-appearance order.
        let ops: Vec<String> = st.conditions.iter().map(Condition::operator).collect();
        let mut done: Vec<&str> = Vec::new();
        for op in &ops {
            if done.contains(&op.as_str()) {
                continue;
            }
            if !done.is_empty() {
                out.push(',');
            }
            done.push(op);
            json::write_str(out, op);
            out.push_str(":{");
            let mut firstkey = true;
            for (c, cop) in st.conditions.iter().zip(&ops) {
                if cop != op {
                    continue;
                }
                if !firstkey {
                    out.push(',');
                }
                firstkey = false;
                json::write_str(out, c.key());
                out.push(':');
                c.write_values(out);
            }
            out.push('}');
        }
        out.push('}');
    }
    out.push('}');
}

/// Looks up element `name` in `entries`, case-insensitively; refuses a second spelling.
fn element<'j>(entries: &'j [(String, Json)], name: &str) -> Result<Option<&'j Json>, String> {
    let mut found = entries.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name));
    let first = found.next();
    if let Some((second, _)) = found.next() {
        return Err(format!("element {name:?} appears twice (as {second:?})"));
    }
    Ok(first.map(|(_, v)| v))
}

fn check_known(entries: &[(String, Json)], known: &[&str], what: &str) -> Result<(), String> {
    for (k, _) in entries {
        if !known.iter().any(|n| n.eq_ignore_ascii_case(k)) {
            return Err(format!(
                "unknown {what} element {k:?} (expected one of {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

const TOP_LEVEL: &[&str] = &["Version", "Id", "Statement"];
const STATEMENT: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

fn parse(bytes: &[u8], mode: Mode<'_>) -> Result<Policy, PolicyError> {
    let doc = Json::parse(bytes).map_err(PolicyError::Json)?;
    let Json::Object(top) = &doc else {
        return Err(PolicyError::Document(format!(
            "a policy must be a JSON object, not {}",
            doc.kind()
        )));
    };
    let doc_err = PolicyError::Document;
    check_known(top, TOP_LEVEL, "top-level").map_err(doc_err)?;
    let version = match element(top, "Version").map_err(doc_err)? {
        None => Version::Unspecified,
        Some(Json::String(v)) if v == "2012-10-17" => Version::V2012_10_17,
        Some(Json::String(v)) if v == "2008-10-17" => Version::V2008_10_17,
        Some(other) => {
            let shown = match other {
                Json::String(s) => format!("{s:?}"),
                other => other.kind().to_owned(),
            };
            return Err(doc_err(format!(
                "invalid Version {shown} (expected \"2012-10-17\" or \"2008-10-17\")"
            )));
        }
    };
    let id = match element(top, "Id").map_err(doc_err)? {
        None => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(doc_err(format!(
                "Id must be a string, not {}",
                other.kind()
            )));
        }
    };
    let statements = match element(top, "Statement").map_err(doc_err)? {
        None => return Err(doc_err("the policy has no Statement".to_owned())),
        Some(Json::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(one @ Json::Object(_)) => vec![one],
        Some(other) => {
            return Err(doc_err(format!(
                "Statement must be an object or an array of objects, not {}",
                other.kind()
            )));
        }
    };
    if statements.is_empty() {
        return Err(doc_err("Statement must not be empty".to_owned()));
    }
    let mut parsed: Vec<Statement> = Vec::with_capacity(statements.len());
    for (i, st) in statements.into_iter().enumerate() {
        let number = i + 1;
        let Json::Object(entries) = st else {
            return Err(PolicyError::Statement {
                at: StatementRef { number, sid: None },
                message: format!("a statement must be an object, not {}", st.kind()),
            });
        };
        let sid = match element(entries, "Sid") {
            Ok(Some(Json::String(s))) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        let at = StatementRef { number, sid };
        let st =
            parse_statement(entries, mode, version).map_err(|message| PolicyError::Statement {
                at: at.clone(),
                message,
            })?;
        if let Some(sid) = &st.sid {
            if let Some(j) = parsed.iter().position(|p| p.sid.as_ref() == Some(sid)) {
                return Err(PolicyError::Statement {
                    at,
                    message: format!("Sid {sid:?} is already used by statement {}", j + 1),
                });
            }
        }
        parsed.push(st);
    }
    Ok(Policy {
        raw: Arc::from(bytes),
        version,
        id,
        statements: parsed.into(),
    })
}

/// One string or a non-empty array of strings.
fn string_list(v: &Json, name: &str) -> Result<Vec<String>, String> {
    let one = |v: &Json| match v {
        Json::String(s) => Ok(s.clone()),
        other => Err(format!(
            "{name} entries must be strings, not {}",
            other.kind()
        )),
    };
    match v {
        Json::Array(items) if items.is_empty() => Err(format!("{name} must not be empty")),
        Json::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn parse_statement(
    entries: &[(String, Json)],
    mode: Mode<'_>,
    version: Version,
) -> Result<Statement, String> {
    check_known(entries, STATEMENT, "statement")?;
    let sid = match element(entries, "Sid")? {
        None => None,
        Some(Json::String(s)) if s.is_empty() => None,
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => return Err(format!("Sid must be a string, not {}", other.kind())),
    };
    let effect = match element(entries, "Effect")? {
        None => return Err("Effect is missing".to_owned()),
        Some(Json::String(s)) if s == "Allow" => Effect::Allow,
        Some(Json::String(s)) if s == "Deny" => Effect::Deny,
        Some(Json::String(s)) => {
            return Err(format!("Effect must be \"Allow\" or \"Deny\", not {s:?}"));
        }
        Some(other) => return Err(format!("Effect must be a string, not {}", other.kind())),
    };

    // Principal / NotPrincipal.
    let principal = element(entries, "Principal")?;
    let not_principal = element(entries, "NotPrincipal")?;
    let (principal, not_principal) = match mode {
        Mode::Identity => {
            if principal.is_some() || not_principal.is_some() {
                let which = if principal.is_some() {
                    "Principal"
                } else {
                    "NotPrincipal"
                };
                return Err(format!(
                    "{which} is not allowed in an identity policy (only in bucket policies)"
                ));
            }
            (None, None)
        }
        Mode::Bucket(_) => match (principal, not_principal) {
            (Some(_), Some(_)) => {
                return Err("Principal and NotPrincipal cannot both be given".to_owned());
            }
            (None, None) => {
                return Err("Principal is missing (a bucket policy statement needs Principal or NotPrincipal)".to_owned());
            }
            (Some(p), None) => (Some(Principals::parse(p, "Principal")?), None),
            (None, Some(p)) => (None, Some(Principals::parse(p, "NotPrincipal")?)),
        },
    };

    // Action / NotAction.
    let (action_json, not_action) =
        match (element(entries, "Action")?, element(entries, "NotAction")?) {
            (Some(_), Some(_)) => {
                return Err("Action and NotAction cannot both be given".to_owned());
            }
            (None, None) => return Err("Action is missing".to_owned()),
            (Some(a), None) => (a, false),
            (None, Some(a)) => (a, true),
        };
    let action_name = if not_action { "NotAction" } else { "Action" };
    let actions = string_list(action_json, action_name)?
        .iter()
        .map(|a| ActionPattern::parse(a))
        .collect::<Result<Vec<_>, _>>()?;
    let services: Vec<Service> = {
        let mut s: Vec<Service> = actions.iter().filter_map(|a| a.service).collect();
        s.dedup();
        s.sort_by_key(|s| s.prefix());
        s.dedup();
        s
    };
    if services.len() > 1 {
        let names: Vec<&str> = services.iter().map(|s| s.prefix()).collect();
        return Err(format!(
            "{action_name} mixes action types ({}); put them in separate statements",
            names.join(", ")
        ));
    }
    if let Mode::Bucket(_) = mode {
        if let Some(a) = actions
            .iter()
            .find(|a| a.service.is_some_and(|s| s != Service::S3))
        {
            return Err(format!(
                "action {:?} is not allowed in a bucket policy (only s3: actions)",
                a.source
            ));
        }
    }

    // Resource / NotResource.
    let (resource_json, not_resource) = match (
        element(entries, "Resource")?,
        element(entries, "NotResource")?,
    ) {
        (Some(_), Some(_)) => {
            return Err("Resource and NotResource cannot both be given".to_owned());
        }
        (None, None) => (None, false),
        (Some(r), None) => (Some(r), false),
        (None, Some(r)) => (Some(r), true),
    };
    let resource_name = if not_resource {
        "NotResource"
    } else {
        "Resource"
    };
    let resources = match resource_json {
        Some(r) => string_list(r, resource_name)?
            .iter()
            .map(|r| ResourcePattern::parse(r, version.variables()))
            .collect::<Result<Vec<_>, _>>()?,
        None => {
            let resource_free = !not_action
                && actions.iter().all(|a| {
                    matches!(
                        a.service,
                        Some(Service::Admin | Service::Sts | Service::Kms)
                    )
                });
            if matches!(mode, Mode::Bucket(_)) || !resource_free {
                return Err("Resource is missing (only statements whose actions are all admin:, sts: or kms: may omit it)".to_owned());
            }
            Vec::new()
        }
    };
    if let Mode::Bucket(bucket) = mode {
        if let Some(bad) = resources.iter().find(|r| !r.within_bucket(bucket)) {
            return Err(format!(
                "Policy has invalid resource {:?}: a policy of bucket {bucket:?} may only name arn:aws:s3:::{bucket} or arn:aws:s3:::{bucket}/...",
                bad.source
            ));
        }
        if !not_action && !not_resource {
            check_applicable(&actions, &resources)?;
        }
    }
    if let Some(r) = resources.iter().find(|r| r.kind == Kind::Kms) {
        if actions
            .iter()
            .any(|a| a.service.is_some_and(|s| s != Service::Kms))
        {
            return Err(format!(
                "resource {:?} is a KMS key and only applies to kms: actions",
                r.source
            ));
        }
    }

    let conditions = match element(entries, "Condition")? {
        None => Vec::new(),
        Some(block) => condition::parse_block(block, version.variables())?,
    };

    Ok(Statement {
        sid,
        effect,
        principal,
        not_principal,
        actions,
        not_action,
        resources,
        not_resource,
        conditions,
    })
}

/// S3's "Action does not apply to any resource(s) in statement": each named (non-wildcard)
/// action must be able to match one of the resources.
fn check_applicable(
    actions: &[ActionPattern],
    resources: &[ResourcePattern],
) -> Result<(), String> {
    for a in actions {
        if a.source.contains(['*', '?']) {
            continue;
        }
        let ok = if action::is_object_action(&a.source) {
            resources.iter().any(ResourcePattern::names_objects)
        } else {
            resources.iter().any(ResourcePattern::names_buckets)
        };
        if !ok {
            let wants = if action::is_object_action(&a.source) {
                "an object resource (arn:aws:s3:::bucket/...)"
            } else {
                "the bucket resource (arn:aws:s3:::bucket)"
            };
            return Err(format!(
                "action {:?} does not apply to any resource in the statement: it needs {wants}",
                a.source
            ));
        }
    }
    Ok(())
}
