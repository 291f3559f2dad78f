//! Owners: which identity a bucket or an object belongs to, as S3 names it (a canonical
//! id and a display name). The root user (and its service accounts and sessions) owns
//! as the deployment, under the canonical id MinIO uses, so responses stay what MinIO
//! clients know; a user (and its service accounts and sessions) owns under a canonical
//! id derived from its name, so ListBuckets, ACLs and listings tell users apart.
//!
//! The creator of a bucket is kept in the bucket's configuration record
//! ([`BUCKET_OWNER_CONFIG`]), the writer of an object in a reserved stored header
//! ([`OBJECT_OWNER_HEADER`]); both hold the user name and are absent for root, so data
//! written before owners were recorded belongs to root, as it always did.

use super::xml::XmlWriter;
use crate::iam::{Caller, Kind};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The deployment's canonical id (MinIO's, which clients and tests may compare with).
pub const ROOT_ID: &str = "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4";
/// The deployment's display name.
pub const ROOT_NAME: &str = "cairn";
/// Name of a bucket's owner in its configuration record.
pub const BUCKET_OWNER_CONFIG: &str = "owner";
/// Reserved stored header naming an object's owner; never returned to clients.
pub const OBJECT_OWNER_HEADER: &str = "x-cairn-internal-owner";

/// The default is the deployment (root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Owner {
    /// The user name; `None` for the deployment (root).
    user: Option<String>,
}

impl Owner {
    pub fn root() -> Self {
        Self { user: None }
    }

    /// The identity whose permissions `caller` acts with: root for root and its
    /// children, else the user (for a service account or a session, its parent).
    /// `None` for an anonymous caller, which owns nothing.
    pub fn of_caller(caller: &Caller) -> Option<Self> {
        match caller.kind {
            Kind::Anonymous => None,
            Kind::Root => Some(Self::root()),
            _ if caller.root_child => Some(Self::root()),
            _ => Some(Self {
                user: Some(caller.user.clone()),
            }),
        }
    }

    /// The owner a stored value names (absent: root).
    pub fn from_stored(user: Option<&String>) -> Self {
        Self {
            user: user.filter(|u| !u.is_empty()).cloned(),
        }
    }

    /// The value to store (`None` for root: nothing is stored).
    pub fn stored(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The canonical id: MinIO's for root, else the hex SHA-256 of the user name under
    /// a fixed prefix (64 hex characters, as AWS's canonical ids look).
    pub fn id(&self) -> String {
        match &self.user {
            None => ROOT_ID.to_string(),
            Some(u) => hex::encode(Sha256::digest(format!("cairn-user:{u}").as_bytes())),
        }
    }

    pub fn display_name(&self) -> &str {
        self.user.as_deref().unwrap_or(ROOT_NAME)
    }

    /// Whether a grantee id names this owner: its canonical id, or its user name.
    pub fn answers_to(&self, id: &str) -> bool {
        id == self.id() || self.user.as_deref() == Some(id)
    }

    /// Writes `<{element}><ID>..</ID><DisplayName>..</DisplayName></{element}>`.
    pub fn write(&self, w: &mut XmlWriter, element: &str) {
        w.open(element)
            .elem("ID", &self.id())
            .elem("DisplayName", self.display_name())
            .close(element);
    }

    /// An object's owner, from its stored headers.
    pub fn of_object(headers: &BTreeMap<String, String>) -> Self {
        Self::from_stored(headers.get(OBJECT_OWNER_HEADER))
    }

    /// A bucket's owner, from its configuration record.
    pub fn of_bucket(config: &BTreeMap<String, String>) -> Self {
        Self::from_stored(config.get(BUCKET_OWNER_CONFIG))
    }

    /// Records this owner in an object's stored headers (removing any older one).
    pub fn stamp(&self, headers: &mut BTreeMap<String, String>) {
        headers.remove(OBJECT_OWNER_HEADER);
        if let Some(u) = self.stored() {
            headers.insert(OBJECT_OWNER_HEADER.to_string(), u.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_tell_users_apart_and_root_keeps_minio_s() {
        let root = Owner::root();
        assert_eq!(root.id(), ROOT_ID);
        let alice = Owner::from_stored(Some(&"alice".to_string()));
        let bob = Owner::from_stored(Some(&"bob".to_string()));
        assert_eq!(alice.id().len(), 64);
        assert_ne!(alice.id(), bob.id());
        assert_ne!(alice.id(), ROOT_ID);
        assert!(alice.answers_to(&alice.id()) && alice.answers_to("alice"));
        assert!(!alice.answers_to(&bob.id()) && !alice.answers_to(ROOT_ID));
        assert_eq!(Owner::from_stored(Some(&String::new())), root);
        let mut h = BTreeMap::new();
        alice.stamp(&mut h);
        assert_eq!(Owner::of_object(&h), alice);
        root.stamp(&mut h);
        assert!(h.is_empty(), "root is not stored");
    }
}
