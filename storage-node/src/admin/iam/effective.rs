//! A user's effective identity policy as one JSON document, as MinIO shows it in
//! accountinfo and in info-service-account of an account without an inline policy: the
//! statements of the user's own policies and of its enabled groups' policies, merged
//! (duplicates dropped, as MinIO's `policy.MergePolicies`). The root user's is MinIO's
//! `consoleAdmin` (everything allowed), which is what MinIO reports for its owner.

use super::policies::document;
use crate::iam::state::{IamState, Status};
use serde_json::Value;

/// The names of the policies that apply to `user`: its own, then those of its enabled
/// groups, each once.
pub(super) fn policy_names(state: &IamState, user: &str) -> Vec<String> {
    let Some(u) = state.users.get(user) else {
        return Vec::new();
    };
    let mut names = u.policies.clone();
    for (_, g) in state
        .groups
        .iter()
        .filter(|(_, g)| g.status == Status::Enabled && g.members.contains(user))
    {
        names.extend(g.policies.iter().cloned());
    }
    let mut seen = std::collections::BTreeSet::new();
    names.retain(|n| seen.insert(n.clone()));
    names
}

/// The named policies `names` merged into one document.
pub(super) fn merged(state: &IamState, names: &[String]) -> Value {
    let mut statements: Vec<Value> = Vec::new();
    for n in names {
        let Some(doc) = document(state, n) else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<Value>(&doc) else {
            continue;
        };
        let found = match v.get("Statement") {
            Some(Value::Array(a)) => a.clone(),
            Some(s) => vec![s.clone()],
            None => Vec::new(),
        };
        for s in found {
            if !statements.contains(&s) {
                statements.push(s);
            }
        }
    }
    serde_json::json!({"Version": "2012-10-17", "Statement": statements})
}

/// The effective identity policy of `user`; `root` is the root user's name.
pub(super) fn effective_policy(state: &IamState, root: &str, user: &str) -> Value {
    if user == root {
        return merged(state, &["consoleAdmin".to_string()]);
    }
    merged(state, &policy_names(state, user))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::state::{Group, NamedPolicy, User};

    fn user(policies: &[&str]) -> User {
        User {
            secret: "secret-key-1".into(),
            status: Status::Enabled,
            policies: policies.iter().map(|s| s.to_string()).collect(),
            updated_ms: 0,
        }
    }

    fn state() -> IamState {
        let mut s = IamState::default();
        s.policies.insert(
            "getb".into(),
            NamedPolicy {
                document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}"#.into(),
                created_ms: 0,
                updated_ms: 0,
            },
        );
        s.users.insert("alice".into(), user(&["readwrite", "getb"]));
        for (name, status) in [("on", Status::Enabled), ("off", Status::Disabled)] {
            s.groups.insert(
                name.into(),
                Group {
                    members: ["alice".to_string()].into_iter().collect(),
                    status,
                    policies: vec![if name == "on" { "getb" } else { "writeonly" }.into()],
                    updated_ms: 0,
                },
            );
        }
        s
    }

    #[test]
    fn merges_own_and_enabled_group_policies_once() {
        let s = state();
        assert_eq!(policy_names(&s, "alice"), ["readwrite", "getb"]);
        let p = effective_policy(&s, "root", "alice");
        let st = p["Statement"].as_array().expect("statements");
        assert_eq!(st.len(), 2, "{p}");
        assert_eq!(st[0]["Action"][0], "s3:*");
        assert_eq!(st[1]["Resource"][0], "arn:aws:s3:::b/*");
        assert!(
            !p.to_string().contains("s3:PutObject"),
            "disabled group: {p}"
        );
    }

    #[test]
    fn root_gets_everything_and_strangers_nothing() {
        let s = state();
        let p = effective_policy(&s, "root", "root").to_string();
        assert!(p.contains("admin:*") && p.contains("s3:*"), "{p}");
        let p = effective_policy(&s, "root", "nobody");
        assert_eq!(p["Statement"], serde_json::json!([]));
    }
}
