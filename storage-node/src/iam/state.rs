//! The IAM state: users, groups, named policies and service accounts, with the pure
//! changes the admin API makes to them. Stored as one JSON document in the system volume
//! (`store.rs`); in memory secrets are in clear, in the document they are sealed
//! (`seal.rs`). Every change validates its input and leaves the state untouched on error.
//!
//! Names follow MinIO: a user's name is its access key; service accounts are keys of
//! their own with a parent (a user or root); policies are attached by name, to users
//! and groups; a group's members are user names.

use super::error::{IamError, IamResult};
use super::seal::SealKey;
use cairn_policy::Policy;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Access keys: MinIO's limits (3 to 128 characters, none of `=`, `,` or control
/// characters, which break the credential scope or the policy lists).
pub const ACCESS_KEY_LEN: std::ops::RangeInclusive<usize> = 3..=128;
/// Secret keys: 8 to 128 characters, as MinIO.
pub const SECRET_KEY_LEN: std::ops::RangeInclusive<usize> = 8..=128;
/// Longest group or policy name.
pub const MAX_NAME_LEN: usize = 256;
/// Largest policy document, as AWS's managed-policy limit is 6 KiB and MinIO's 20 KiB
/// (we take MinIO's).
pub const MAX_POLICY_LEN: usize = 20 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Enabled,
    Disabled,
}

impl Status {
    /// MinIO's spellings: `enabled`/`disabled` for users and groups, `on`/`off` for
    /// service accounts.
    pub fn parse(s: &str) -> IamResult<Self> {
        match s {
            "enabled" | "on" => Ok(Self::Enabled),
            "disabled" | "off" => Ok(Self::Disabled),
            _ => Err(IamError::InvalidArgument(format!(
                "status {s:?} is neither enabled nor disabled"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }

    pub fn on_off(self) -> &'static str {
        match self {
            Self::Enabled => "on",
            Self::Disabled => "off",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    /// In clear in memory; sealed in the stored document.
    pub secret: String,
    #[serde(default)]
    pub status: Status,
    /// Names of the policies attached to the user itself.
    #[serde(default)]
    pub policies: Vec<String>,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Group {
    #[serde(default)]
    pub members: BTreeSet<String>,
    #[serde(default)]
    pub status: Status,
    #[serde(default)]
    pub policies: Vec<String>,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamedPolicy {
    /// The policy JSON as it was given (already validated).
    pub document: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// The user (or root) whose permissions it inherits.
    pub parent: String,
    /// In clear in memory; sealed in the stored document.
    pub secret: String,
    #[serde(default)]
    pub status: Status,
    /// An inline policy that narrows the parent's permissions; `None` inherits them.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Unix milliseconds after which the key no longer authenticates.
    #[serde(default)]
    pub expiration_ms: Option<i64>,
    pub updated_ms: i64,
}

/// Everything IAM stores.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct IamState {
    /// Counts stored changes, so a server never installs a state older than the one it
    /// holds (a periodic reload may race an on-demand one or a local change).
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub users: BTreeMap<String, User>,
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    #[serde(default)]
    pub policies: BTreeMap<String, NamedPolicy>,
    #[serde(default)]
    pub service_accounts: BTreeMap<String, ServiceAccount>,
}

/// Checks an access key's form.
pub fn validate_access_key(ak: &str) -> IamResult<()> {
    let n = ak.chars().count();
    if !ACCESS_KEY_LEN.contains(&n) {
        return Err(IamError::InvalidArgument(format!(
            "access key length should be between {} and {} characters",
            ACCESS_KEY_LEN.start(),
            ACCESS_KEY_LEN.end()
        )));
    }
    if ak
        .chars()
        .any(|c| c.is_control() || c.is_whitespace() || matches!(c, '=' | ',' | '/'))
    {
        return Err(IamError::InvalidArgument(
            "access key must not contain '=', ',', '/', spaces or control characters".into(),
        ));
    }
    Ok(())
}

/// Checks a secret key's form.
pub fn validate_secret_key(sk: &str) -> IamResult<()> {
    let n = sk.chars().count();
    if !SECRET_KEY_LEN.contains(&n) {
        return Err(IamError::InvalidArgument(format!(
            "secret key length should be between {} and {} characters",
            SECRET_KEY_LEN.start(),
            SECRET_KEY_LEN.end()
        )));
    }
    if sk.chars().any(char::is_control) {
        return Err(IamError::InvalidArgument(
            "secret key must not contain control characters".into(),
        ));
    }
    Ok(())
}

fn validate_name(kind: &str, name: &str) -> IamResult<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(IamError::InvalidArgument(format!(
            "{kind} name must be 1 to {MAX_NAME_LEN} bytes"
        )));
    }
    if name
        .chars()
        .any(|c| c.is_control() || matches!(c, ',' | '/' | '\\'))
    {
        return Err(IamError::InvalidArgument(format!(
            "{kind} name {name:?} must not contain ',', '/', '\\' or control characters"
        )));
    }
    Ok(())
}

/// Parses an identity policy, turning its error into `MalformedPolicy`.
pub fn parse_policy(doc: &[u8]) -> IamResult<Policy> {
    if doc.len() > MAX_POLICY_LEN {
        return Err(IamError::MalformedPolicy(format!(
            "the policy is {} bytes, over the {MAX_POLICY_LEN} allowed",
            doc.len()
        )));
    }
    Policy::parse(doc).map_err(|e| IamError::MalformedPolicy(e.to_string()))
}

/// Splits MinIO's comma-separated policy list, dropping empties and duplicates.
pub fn split_policy_names(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if !out.iter().any(|q| q == p) {
            out.push(p.to_string());
        }
    }
    out
}

impl IamState {
    /// Whether `name` is a policy: a stored one or one of MinIO's canned policies.
    pub fn policy_exists(&self, name: &str) -> bool {
        self.policies.contains_key(name) || cairn_policy::canned(name).is_some()
    }

    fn require_policies(&self, names: &[String]) -> IamResult<()> {
        match names.iter().find(|n| !self.policy_exists(n)) {
            Some(missing) => Err(IamError::NoSuchPolicy(missing.clone())),
            None => Ok(()),
        }
    }

    /// Whether any identity already uses `ak` (the root user included).
    fn key_taken(&self, ak: &str, root: &str) -> bool {
        ak == root || self.users.contains_key(ak) || self.service_accounts.contains_key(ak)
    }

    /// Creates or updates a user (MinIO's `add-user` does both); `policies` replaces the
    /// user's own policies when given.
    pub fn set_user(
        &mut self,
        root: &str,
        ak: &str,
        secret: &str,
        status: Option<Status>,
        policies: Option<Vec<String>>,
        now_ms: i64,
    ) -> IamResult<()> {
        validate_access_key(ak)?;
        validate_secret_key(secret)?;
        if ak == root {
            return Err(IamError::InvalidArgument(
                "the root user cannot be changed through the admin API".into(),
            ));
        }
        if self.service_accounts.contains_key(ak) {
            return Err(IamError::AlreadyExists(format!(
                "access key {ak:?} belongs to a service account"
            )));
        }
        if let Some(p) = &policies {
            self.require_policies(p)?;
        }
        let user = self.users.entry(ak.to_string()).or_insert_with(|| User {
            secret: String::new(),
            status: Status::Enabled,
            policies: Vec::new(),
            updated_ms: now_ms,
        });
        user.secret = secret.to_string();
        if let Some(s) = status {
            user.status = s;
        }
        if let Some(p) = policies {
            user.policies = p;
        }
        user.updated_ms = now_ms;
        Ok(())
    }

    /// Removes a user, its group memberships and its service accounts.
    pub fn remove_user(&mut self, ak: &str) -> IamResult<()> {
        if self.users.remove(ak).is_none() {
            return Err(IamError::NoSuchUser(ak.to_string()));
        }
        for g in self.groups.values_mut() {
            g.members.remove(ak);
        }
        self.service_accounts.retain(|_, sa| sa.parent != ak);
        Ok(())
    }

    pub fn set_user_status(&mut self, ak: &str, status: Status, now_ms: i64) -> IamResult<()> {
        let u = self
            .users
            .get_mut(ak)
            .ok_or_else(|| IamError::NoSuchUser(ak.to_string()))?;
        u.status = status;
        u.updated_ms = now_ms;
        Ok(())
    }

    /// Adds or removes members. Adding creates the group; removing with no members
    /// deletes the group, which must then be empty (MinIO's `update-group-members`).
    pub fn update_group_members(
        &mut self,
        group: &str,
        members: &[String],
        remove: bool,
        status: Option<Status>,
        now_ms: i64,
    ) -> IamResult<()> {
        validate_name("group", group)?;
        if remove {
            let g = self
                .groups
                .get_mut(group)
                .ok_or_else(|| IamError::NoSuchGroup(group.to_string()))?;
            if members.is_empty() {
                if !g.members.is_empty() {
                    return Err(IamError::GroupNotEmpty(group.to_string()));
                }
                self.groups.remove(group);
                return Ok(());
            }
            for m in members {
                g.members.remove(m);
            }
            g.updated_ms = now_ms;
            return Ok(());
        }
        if let Some(m) = members.iter().find(|m| !self.users.contains_key(*m)) {
            return Err(IamError::NoSuchUser(m.clone()));
        }
        let g = self.groups.entry(group.to_string()).or_default();
        g.members.extend(members.iter().cloned());
        if let Some(s) = status {
            g.status = s;
        }
        g.updated_ms = now_ms;
        Ok(())
    }

    pub fn set_group_status(&mut self, group: &str, status: Status, now_ms: i64) -> IamResult<()> {
        let g = self
            .groups
            .get_mut(group)
            .ok_or_else(|| IamError::NoSuchGroup(group.to_string()))?;
        g.status = status;
        g.updated_ms = now_ms;
        Ok(())
    }

    /// The groups `user` belongs to, in name order.
    pub fn groups_of(&self, user: &str) -> Vec<String> {
        self.groups
            .iter()
            .filter(|(_, g)| g.members.contains(user))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// Creates or replaces a named policy. MinIO's canned names are built in and
    /// cannot be replaced.
    pub fn set_policy(&mut self, name: &str, document: &[u8], now_ms: i64) -> IamResult<()> {
        validate_name("policy", name)?;
        if cairn_policy::canned(name).is_some() {
            return Err(IamError::InvalidArgument(format!(
                "{name:?} is a built-in policy and cannot be replaced"
            )));
        }
        parse_policy(document)?;
        let text = std::str::from_utf8(document)
            .map_err(|_| IamError::MalformedPolicy("the policy is not UTF-8".into()))?;
        let created_ms = self.policies.get(name).map_or(now_ms, |p| p.created_ms);
        self.policies.insert(
            name.to_string(),
            NamedPolicy {
                document: text.to_string(),
                created_ms,
                updated_ms: now_ms,
            },
        );
        Ok(())
    }

    /// Removes a named policy and detaches it from every user and group.
    pub fn remove_policy(&mut self, name: &str) -> IamResult<()> {
        if cairn_policy::canned(name).is_some() {
            return Err(IamError::InvalidArgument(format!(
                "{name:?} is a built-in policy and cannot be removed"
            )));
        }
        if self.policies.remove(name).is_none() {
            return Err(IamError::NoSuchPolicy(name.to_string()));
        }
        for u in self.users.values_mut() {
            u.policies.retain(|p| p != name);
        }
        for g in self.groups.values_mut() {
            g.policies.retain(|p| p != name);
        }
        Ok(())
    }

    /// Replaces (`set-user-or-group-policy`) or adds to/removes from (attach, detach) the
    /// policies of a user or group. Returns the resulting list.
    pub fn change_policies(
        &mut self,
        target: &PolicyTarget,
        names: &[String],
        change: PolicyChange,
        now_ms: i64,
    ) -> IamResult<Vec<String>> {
        if change != PolicyChange::Detach {
            self.require_policies(names)?;
        }
        let (list, updated) = match target {
            PolicyTarget::User(u) => {
                let u = self
                    .users
                    .get_mut(u)
                    .ok_or_else(|| IamError::NoSuchUser(u.clone()))?;
                (&mut u.policies, &mut u.updated_ms)
            }
            PolicyTarget::Group(g) => {
                let g = self
                    .groups
                    .get_mut(g)
                    .ok_or_else(|| IamError::NoSuchGroup(g.clone()))?;
                (&mut g.policies, &mut g.updated_ms)
            }
        };
        match change {
            PolicyChange::Replace => *list = names.to_vec(),
            PolicyChange::Attach => {
                if names.iter().all(|n| list.contains(n)) {
                    return Err(IamError::InvalidArgument(
                        "the policies are already attached".into(),
                    ));
                }
                for n in names {
                    if !list.contains(n) {
                        list.push(n.clone());
                    }
                }
            }
            PolicyChange::Detach => {
                if !names.iter().any(|n| list.contains(n)) {
                    return Err(IamError::InvalidArgument(
                        "none of the policies is attached".into(),
                    ));
                }
                list.retain(|p| !names.contains(p));
            }
        }
        *updated = now_ms;
        Ok(list.clone())
    }

    /// Creates a service account of `parent` (a user, or root when `parent == root`).
    pub fn add_service_account(
        &mut self,
        root: &str,
        ak: &str,
        sa: ServiceAccount,
    ) -> IamResult<()> {
        validate_access_key(ak)?;
        validate_secret_key(&sa.secret)?;
        if sa.parent != root && !self.users.contains_key(&sa.parent) {
            return Err(IamError::NoSuchUser(sa.parent.clone()));
        }
        if self.key_taken(ak, root) {
            return Err(IamError::AlreadyExists(format!(
                "the access key {ak:?} is already in use"
            )));
        }
        if let Some(p) = &sa.policy {
            parse_policy(p.as_bytes())?;
        }
        self.service_accounts.insert(ak.to_string(), sa);
        Ok(())
    }

    pub fn service_account_mut(&mut self, ak: &str) -> IamResult<&mut ServiceAccount> {
        self.service_accounts
            .get_mut(ak)
            .ok_or_else(|| IamError::NoSuchServiceAccount(ak.to_string()))
    }

    pub fn remove_service_account(&mut self, ak: &str) -> IamResult<()> {
        self.service_accounts
            .remove(ak)
            .map(|_| ())
            .ok_or_else(|| IamError::NoSuchServiceAccount(ak.to_string()))
    }

    /// The same state with every secret sealed under `key`, for storage.
    pub fn sealed(&self, key: &SealKey) -> Self {
        let mut out = self.clone();
        for (ak, u) in out.users.iter_mut() {
            u.secret = key.seal(u.secret.as_bytes(), &format!("user:{ak}"));
        }
        for (ak, sa) in out.service_accounts.iter_mut() {
            sa.secret = key.seal(sa.secret.as_bytes(), &format!("svcacct:{ak}"));
        }
        out
    }

    /// Opens what [`Self::sealed`] produced.
    pub fn unsealed(mut self, key: &SealKey) -> IamResult<Self> {
        let open = |sealed: &str, ctx: String| -> IamResult<String> {
            String::from_utf8(key.open(sealed, &ctx)?)
                .map_err(|_| IamError::Sealed("a secret is not UTF-8".into()))
        };
        for (ak, u) in self.users.iter_mut() {
            u.secret = open(&u.secret, format!("user:{ak}"))?;
        }
        for (ak, sa) in self.service_accounts.iter_mut() {
            sa.secret = open(&sa.secret, format!("svcacct:{ak}"))?;
        }
        Ok(self)
    }
}

/// Who a policy change is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyTarget {
    User(String),
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyChange {
    Replace,
    Attach,
    Detach,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOT: &str = "rootuser";

    fn state_with_alice() -> IamState {
        let mut s = IamState::default();
        s.set_user(ROOT, "alice", "alice-secret", None, None, 1)
            .unwrap();
        s
    }

    #[test]
    fn users_are_validated_and_root_is_untouchable() {
        let mut s = IamState::default();
        for (ak, sk) in [
            ("ab", "longenough"),
            ("a=b", "longenough"),
            ("a b", "longenough"),
            ("alice", "short"),
        ] {
            assert!(matches!(
                s.set_user(ROOT, ak, sk, None, None, 1),
                Err(IamError::InvalidArgument(_))
            ));
        }
        assert!(s.set_user(ROOT, ROOT, "longenough", None, None, 1).is_err());
        assert!(matches!(
            s.set_user(ROOT, "alice", "longenough", None, Some(vec!["nope".into()]), 1),
            Err(IamError::NoSuchPolicy(p)) if p == "nope"
        ));
        assert!(s.users.is_empty(), "failed changes leave nothing behind");
    }

    #[test]
    fn removing_a_user_removes_memberships_and_service_accounts() {
        let mut s = state_with_alice();
        s.update_group_members("devs", &["alice".into()], false, None, 2)
            .unwrap();
        s.add_service_account(
            ROOT,
            "alice-sa",
            ServiceAccount {
                parent: "alice".into(),
                secret: "sa-secret-1".into(),
                status: Status::Enabled,
                policy: None,
                name: None,
                description: None,
                expiration_ms: None,
                updated_ms: 2,
            },
        )
        .unwrap();
        assert_eq!(s.groups_of("alice"), vec!["devs".to_string()]);
        s.remove_user("alice").unwrap();
        assert!(s.groups["devs"].members.is_empty());
        assert!(s.service_accounts.is_empty());
        assert!(matches!(
            s.remove_user("alice"),
            Err(IamError::NoSuchUser(_))
        ));
    }

    #[test]
    fn groups_are_deleted_only_when_empty() {
        let mut s = state_with_alice();
        assert!(matches!(
            s.update_group_members("devs", &["bob".into()], false, None, 2),
            Err(IamError::NoSuchUser(_))
        ));
        s.update_group_members("devs", &["alice".into()], false, None, 2)
            .unwrap();
        assert!(matches!(
            s.update_group_members("devs", &[], true, None, 3),
            Err(IamError::GroupNotEmpty(_))
        ));
        s.update_group_members("devs", &["alice".into()], true, None, 3)
            .unwrap();
        s.update_group_members("devs", &[], true, None, 4).unwrap();
        assert!(s.groups.is_empty());
    }

    #[test]
    fn policies_attach_detach_and_removal_detaches() {
        let mut s = state_with_alice();
        let doc = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::b/*"]}]}"#;
        s.set_policy("getb", doc, 1).unwrap();
        assert!(s.set_policy("readwrite", doc, 1).is_err());
        assert!(matches!(
            s.set_policy("bad", b"{\"Statement\":5}", 1),
            Err(IamError::MalformedPolicy(_))
        ));
        let alice = PolicyTarget::User("alice".into());
        let l = s
            .change_policies(
                &alice,
                &["getb".into(), "readonly".into()],
                PolicyChange::Attach,
                2,
            )
            .unwrap();
        assert_eq!(l, vec!["getb".to_string(), "readonly".to_string()]);
        assert!(
            s.change_policies(&alice, &["getb".into()], PolicyChange::Attach, 2)
                .is_err()
        );
        s.remove_policy("getb").unwrap();
        assert_eq!(s.users["alice"].policies, vec!["readonly".to_string()]);
        let l = s
            .change_policies(&alice, &["readonly".into()], PolicyChange::Detach, 3)
            .unwrap();
        assert!(l.is_empty());
    }

    #[test]
    fn service_account_keys_are_unique_across_identities() {
        let mut s = state_with_alice();
        let sa = |parent: &str| ServiceAccount {
            parent: parent.into(),
            secret: "sa-secret-1".into(),
            status: Status::Enabled,
            policy: None,
            name: None,
            description: None,
            expiration_ms: None,
            updated_ms: 1,
        };
        assert!(s.add_service_account(ROOT, "alice", sa("alice")).is_err());
        assert!(s.add_service_account(ROOT, ROOT, sa(ROOT)).is_err());
        assert!(matches!(
            s.add_service_account(ROOT, "sa1", sa("nobody")),
            Err(IamError::NoSuchUser(_))
        ));
        s.add_service_account(ROOT, "sa1", sa(ROOT)).unwrap();
        assert!(s.add_service_account(ROOT, "sa1", sa("alice")).is_err());
        assert!(
            s.set_user(ROOT, "sa1", "longenough", None, None, 1)
                .is_err()
        );
    }

    #[test]
    fn sealed_state_holds_no_secret_and_opens_again() {
        let s = state_with_alice();
        let key = SealKey::from_root(ROOT, "rootpassword");
        let sealed = s.sealed(&key);
        let text = serde_json::to_string(&sealed).unwrap();
        assert!(!text.contains("alice-secret"));
        let back = sealed.clone().unsealed(&key).unwrap();
        assert_eq!(back.users["alice"].secret, "alice-secret");
        assert!(
            sealed
                .unsealed(&SealKey::from_root(ROOT, "otherpassword"))
                .is_err()
        );
    }
}
