//! `Values`: the request context — condition keys and their values, filled by the server
//! for each request (`aws:username`, `aws:SourceIp`, `s3:prefix`, ...). Keys are compared
//! case-insensitively, as AWS does, except the part after a `/` (the tag key of
//! `s3:ExistingObjectTag/<tag>`), because S3 tag keys are case-sensitive. Every key holds a
//! list of values; a key with an empty list counts as absent.
//!
//! A handful of keys per request makes a vector with a linear scan faster than a map, and
//! a lookup allocates nothing.

/// Case-insensitive multimap of condition keys to values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values {
    entries: Vec<(String, Vec<String>)>,
}

impl Values {
    /// An empty context.
    pub fn new() -> Values {
        Values::default()
    }

    /// Builder: adds one value to `key` (keeping the values it already has).
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Values {
        self.insert(key, value);
        self
    }

    /// Builder: sets all values of `key` at once (a multi-valued key such as
    /// `s3:RequestObjectTagKeys`), replacing earlier ones.
    pub fn with_all<I, S>(mut self, key: &str, values: I) -> Values
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.set(key, values.into_iter().map(Into::into).collect());
        self
    }

    /// Adds one value to `key`.
    pub fn insert(&mut self, key: &str, value: impl Into<String>) {
        match self.position(key) {
            Some(i) => self.entries[i].1.push(value.into()),
            None => self.entries.push((key.to_owned(), vec![value.into()])),
        }
    }

    /// Replaces all values of `key`.
    pub fn set(&mut self, key: &str, values: Vec<String>) {
        match self.position(key) {
            Some(i) => self.entries[i].1 = values,
            None => self.entries.push((key.to_owned(), values)),
        }
    }

    /// Removes `key`.
    pub fn remove(&mut self, key: &str) {
        if let Some(i) = self.position(key) {
            self.entries.remove(i);
        }
    }

    /// The values of `key`, or `None` when the key is absent or has no values.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        let i = self.position(key)?;
        let values = &self.entries[i].1;
        (!values.is_empty()).then_some(values.as_slice())
    }

    /// The single value of `key` (`None` when absent or multi-valued): what a policy
    /// variable resolves to.
    pub fn single(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some([one]) => Some(one.as_str()),
            _ => None,
        }
    }

    /// Every key with its values, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| key_eq(k, key))
    }
}

/// Compares two condition keys: the name before the first `/` ignoring ASCII case, the
/// rest (a tag key) exactly.
pub(crate) fn key_eq(a: &str, b: &str) -> bool {
    let (a_name, a_rest) = a.split_once('/').map_or((a, None), |(n, r)| (n, Some(r)));
    let (b_name, b_rest) = b.split_once('/').map_or((b, None), |(n, r)| (n, Some(r)));
    a_name.eq_ignore_ascii_case(b_name) && a_rest == b_rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_but_tag_keys_are_not() {
        let v = Values::new()
            .with("aws:UserName", "alice")
            .with("s3:ExistingObjectTag/Project", "x");
        assert_eq!(v.single("AWS:username"), Some("alice"));
        assert_eq!(v.single("s3:existingobjecttag/Project"), Some("x"));
        assert_eq!(v.get("s3:ExistingObjectTag/project"), None);
    }

    #[test]
    fn multi_values_and_empty_lists() {
        let mut v = Values::new()
            .with("s3:RequestObjectTagKeys", "a")
            .with("s3:requestobjecttagkeys", "b");
        assert_eq!(
            v.get("s3:RequestObjectTagKeys").map(<[String]>::len),
            Some(2)
        );
        assert_eq!(v.single("s3:RequestObjectTagKeys"), None);
        v.set("s3:RequestObjectTagKeys", vec![]);
        assert_eq!(v.get("s3:RequestObjectTagKeys"), None);
        v.remove("s3:RequestObjectTagKeys");
        assert_eq!(v.iter().count(), 0);
    }
}
