//! The configuration hash in the pod template.
//!
//! The configuration Secret and the certificates reach the pods as mounted files, and the
//! server reads them at start-up only. Kubernetes does not restart pods when a mounted
//! Secret changes, so the operator puts a hash of everything the pods read from Secrets
//! into a pod annotation: a new password, storage class or certificate changes the pod
//! template, and the StatefulSet rolls the pods one by one.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

/// Accumulates named byte strings into one SHA-256.
#[derive(Default)]
pub struct ConfigHasher {
    hasher: Sha256,
}

impl ConfigHasher {
    /// Adds one item. Lengths are hashed too, so that moving bytes between the name and the
    /// value, or between items, changes the result.
    pub fn add(&mut self, name: &str, value: &[u8]) {
        for part in [name.as_bytes(), value] {
            self.hasher.update((part.len() as u64).to_be_bytes());
            self.hasher.update(part);
        }
    }

    /// Adds every key of a Secret's data, in key order.
    pub fn add_map(&mut self, source: &str, data: &BTreeMap<String, Vec<u8>>) {
        for (key, value) in data {
            self.add(&format!("{source}/{key}"), value);
        }
    }

    /// The hash, as lowercase hex.
    pub fn finish(self) -> String {
        self.hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(items: &[(&str, &[u8])]) -> String {
        let mut h = ConfigHasher::default();
        for (n, v) in items {
            h.add(n, v);
        }
        h.finish()
    }

    #[test]
    fn any_change_changes_the_hash() {
        let base = hash(&[("a", b"1"), ("b", b"2")]);
        assert_eq!(base.len(), 64);
        assert_eq!(base, hash(&[("a", b"1"), ("b", b"2")]));
        assert_ne!(base, hash(&[("a", b"1"), ("b", b"3")]));
        assert_ne!(base, hash(&[("a1", b""), ("b", b"2")]));
        assert_ne!(base, hash(&[("a", b"1")]));
    }
}
