//! Which users and policies the operator created and no longer declares, so that the users
//! step removes them from the tenant. Pure: what the status says was created and what this
//! pass saw declared in, the removals out.
//!
//! The rules, safest first:
//! 1. only what `status.managedUsers` / `status.managedPolicies` lists is ever removed:
//!    users and policies made by hand or by another tool are left alone;
//! 2. a user stays while a user Secret of `spec.users` declares its access key;
//! 3. a user whose Secret is still in `spec.users` but could not be read this pass
//!    (missing, or without its keys) stays: its access key is unknown, and a Secret being
//!    re-created must not cost the application its user. Removing the entry from
//!    `spec.users`, or changing the Secret's `CONSOLE_ACCESS_KEY`, removes it;
//! 4. a policy stays while `spec.policies` declares it or any user of `spec.users` names
//!    it in `policy`; built-in policies are never removed.

use std::collections::{BTreeMap, BTreeSet};

use crate::crd::BUILTIN_POLICIES;

/// What one pass found declared.
#[derive(Debug, Default)]
pub struct Declared {
    /// Access keys read from the user Secrets of `spec.users`.
    pub access_keys: BTreeSet<String>,
    /// User Secrets of `spec.users` whose access key could not be read.
    pub unread_secrets: BTreeSet<String>,
    /// Names of `spec.policies`.
    pub policies: BTreeSet<String>,
    /// Policy names the users of `spec.users` attach.
    pub user_policies: BTreeSet<String>,
}

/// Access keys of `managed` (access key to user Secret) to remove from the tenant.
pub fn users_to_remove(managed: &BTreeMap<String, String>, declared: &Declared) -> Vec<String> {
    managed
        .iter()
        .filter(|(key, secret)| {
            !declared.access_keys.contains(*key) && !declared.unread_secrets.contains(*secret)
        })
        .map(|(key, _)| key.clone())
        .collect()
}

/// Policies of `managed` to remove from the tenant.
pub fn policies_to_remove(managed: &BTreeSet<String>, declared: &Declared) -> Vec<String> {
    managed
        .iter()
        .filter(|p| {
            !declared.policies.contains(*p)
                && !declared.user_policies.contains(*p)
                && !BUILTIN_POLICIES.contains(&p.as_str())
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_undeclared_users_the_operator_made_go() {
        let managed: BTreeMap<String, String> = [
            ("synapse", "synapse-user"),
            ("old-synapse", "synapse-user"),
            ("cnpg", "cnpg-user"),
            ("gone", "gone-user"),
            ("shared", "gone-user"),
        ]
        .iter()
        .map(|(k, s)| (k.to_string(), s.to_string()))
        .collect();
        let declared = Declared {
            // synapse-user now holds `synapse` (its old key `old-synapse` goes); another
            // Secret took over `shared`; cnpg-user could not be read.
            access_keys: set(&["synapse", "shared", "hand-made"]),
            unread_secrets: set(&["cnpg-user"]),
            ..Declared::default()
        };
        assert_eq!(
            users_to_remove(&managed, &declared),
            ["gone", "old-synapse"]
        );
        assert!(users_to_remove(&BTreeMap::new(), &declared).is_empty());
    }

    #[test]
    fn policies_in_use_or_built_in_stay() {
        let managed = set(&["media-rw", "backups-rw", "old", "readwrite", "by-user"]);
        let declared = Declared {
            policies: set(&["media-rw"]),
            user_policies: set(&["by-user", "readwrite", "hand-made"]),
            ..Declared::default()
        };
        assert_eq!(
            policies_to_remove(&managed, &declared),
            ["backups-rw", "old"]
        );
    }
}
