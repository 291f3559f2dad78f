//! Principals of bucket policies: who a statement is about (`Principal`/`NotPrincipal`)
//! and who is asking (`Caller`).
//!
//! Accepted policy forms: `"*"`, `{"AWS": "*"}`, `{"AWS": "<id>"}` and
//! `{"AWS": ["<id>", ...]}`. Other principal types (`Service`, `Federated`,
//! `CanonicalUser`) are refused: nothing in Cairn could match them. An `<id>` matches a
//! caller when it is:
//!
//! - `*`: everyone, anonymous callers included (anonymous callers match nothing else);
//! - the caller's access key, or its user name (MinIO matches names);
//! - `arn:aws:iam::<any account>:user/<name>` (a path between `user/` and the name is
//!   allowed) with the caller's user name;
//! - `arn:aws:iam::<any account>:root` or a bare 12-digit account id: the root user only.
//!
//! Wildcards other than a lone `*` are not interpreted (AWS does not allow them either).

use crate::json::{self, Json};

/// Who is making a request, as bucket-policy principals see it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caller<'a> {
    /// The access key the request was signed with.
    pub access_key: &'a str,
    /// The user the key belongs to: the user itself, or the parent user of a service
    /// account or STS session. Empty when unknown.
    pub user: &'a str,
    /// True for the root (admin) credentials.
    pub is_root: bool,
}

/// The `AWS` principal ids of a Principal or NotPrincipal element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Principals {
    pub(crate) aws: Vec<String>,
}

impl Principals {
    pub(crate) fn parse(value: &Json, element: &str) -> Result<Principals, String> {
        let ids = match value {
            Json::String(s) if s == "*" => vec![s.clone()],
            Json::String(s) => {
                return Err(format!(
                    "{element} {s:?} is not allowed: use \"*\" or {{\"AWS\": [...]}}"
                ));
            }
            Json::Object(entries) => {
                let mut ids = None;
                for (k, v) in entries {
                    if k != "AWS" {
                        return Err(format!(
                            "{element} type {k:?} is not supported (only \"AWS\")"
                        ));
                    }
                    ids = Some(strings(v, element)?);
                }
                ids.ok_or_else(|| format!("{element} must name at least one \"AWS\" principal"))?
            }
            other => {
                return Err(format!(
                    "{element} must be \"*\" or an object such as {{\"AWS\": [...]}}, not {}",
                    other.kind()
                ));
            }
        };
        if let Some(bad) = ids.iter().find(|id| id.is_empty()) {
            return Err(format!("{element} contains an empty principal {bad:?}"));
        }
        Ok(Principals { aws: ids })
    }

    /// True when one of the ids names `caller` (`None`: anonymous).
    pub(crate) fn matches(&self, caller: Option<&Caller<'_>>) -> bool {
        self.aws.iter().any(|id| id_matches(id, caller))
    }

    pub(crate) fn write(&self, out: &mut String) {
        out.push_str("{\"AWS\":");
        json::write_str_array(out, self.aws.iter().map(String::as_str));
        out.push('}');
    }
}

fn strings(v: &Json, element: &str) -> Result<Vec<String>, String> {
    let one = |v: &Json| match v {
        Json::String(s) => Ok(s.clone()),
        other => Err(format!(
            "{element} \"AWS\" entries must be strings, not {}",
            other.kind()
        )),
    };
    match v {
        Json::Array(items) if items.is_empty() => {
            Err(format!("{element} \"AWS\" must not be empty"))
        }
        Json::Array(items) => items.iter().map(one).collect(),
        other => Ok(vec![one(other)?]),
    }
}

fn id_matches(id: &str, caller: Option<&Caller<'_>>) -> bool {
    if id == "*" {
        return true;
    }
    let Some(c) = caller else { return false };
    if id == c.access_key || (!c.user.is_empty() && id == c.user) {
        return true;
    }
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        return c.is_root;
    }
    let Some(rest) = id.strip_prefix("arn:aws:iam::") else {
        return false;
    };
    let Some((_account, resource)) = rest.split_once(':') else {
        return false;
    };
    if resource == "root" {
        return c.is_root;
    }
    match resource.strip_prefix("user/") {
        Some(path_and_name) => {
            let name = path_and_name.rsplit('/').next().unwrap_or(path_and_name);
            !c.user.is_empty() && name == c.user
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Principals, String> {
        Principals::parse(&Json::parse(s.as_bytes()).unwrap(), "Principal")
    }

    #[test]
    fn forms() {
        assert_eq!(p(r#""*""#).unwrap().aws, ["*"]);
        assert_eq!(p(r#"{"AWS":"*"}"#).unwrap().aws, ["*"]);
        assert_eq!(p(r#"{"AWS":["a","b"]}"#).unwrap().aws, ["a", "b"]);
        assert!(p(r#""alice""#).unwrap_err().contains("not allowed"));
        assert!(
            p(r#"{"Service":"s3.amazonaws.com"}"#)
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            p(r#"{"AWS":[]}"#)
                .unwrap_err()
                .contains("must not be empty")
        );
        assert!(p(r#"{}"#).unwrap_err().contains("at least one"));
        assert!(p(r#"{"AWS":[1]}"#).unwrap_err().contains("must be strings"));
        assert!(p("[]").is_err());
    }

    #[test]
    fn matching() {
        let alice = Caller {
            access_key: "AKALICE",
            user: "alice",
            is_root: false,
        };
        let root = Caller {
            access_key: "minioadmin",
            user: "minioadmin",
            is_root: true,
        };
        let m = |id: &str, c: Option<&Caller>| id_matches(id, c);
        assert!(m("*", None));
        assert!(!m("alice", None));
        assert!(m("alice", Some(&alice)));
        assert!(m("AKALICE", Some(&alice)));
        assert!(m("arn:aws:iam::123456789012:user/alice", Some(&alice)));
        assert!(m("arn:aws:iam:::user/team/alice", Some(&alice)));
        assert!(!m("arn:aws:iam::1:user/bob", Some(&alice)));
        assert!(!m("arn:aws:iam::1:root", Some(&alice)));
        assert!(m("arn:aws:iam::1:root", Some(&root)));
        assert!(m("123456789012", Some(&root)));
        assert!(!m("123456789012", Some(&alice)));
        assert!(!m("ali*", Some(&alice)));
    }
}
