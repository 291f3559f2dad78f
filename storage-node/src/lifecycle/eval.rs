//! Pure lifecycle decisions: given a bucket's rules, the facts of one object version (or
//! one multipart upload) and the time now, what should happen to it; and the
//! `x-amz-expiration` header S3 returns for an object a rule will expire. No I/O here,
//! so every case is a table-driven unit test; the worker gathers the facts and acts.
//!
//! Due times follow AWS: the number of days is added to the object's creation time (for
//! a noncurrent version, to the time it became noncurrent, i.e. when its successor was
//! written) and the result is rounded up to the *next* midnight UTC. A `Date` is due at
//! that date. A rule applies when it is enabled and its filter holds: the key starts
//! with the prefix, the object carries every tag of the filter, and its size is within
//! the bounds.

use super::config::{Expiration, Filter, LifecycleConfig, Rule};
use std::collections::BTreeMap;

/// The stored header holding an object's tags (URL-encoded `k=v&k2=v2`). The S3 layer
/// owns it (`s3::handlers::tagging::OBJECT_TAGS_HEADER`; a test there checks both
/// names agree); this layer only reads it.
pub const TAGS_HEADER: &str = "x-cairn-internal-tags";

/// An object's tags from its stored headers; undecodable tags count as none.
pub fn tags_of(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let Some(stored) = headers.get(TAGS_HEADER) else {
        return Vec::new();
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8()
            .map(|c| c.into_owned())
            .ok()
    };
    let mut out = Vec::new();
    for pair in stored.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match (decode(k), decode(v)) {
            (Some(k), Some(v)) => out.push((k, v)),
            _ => return Vec::new(),
        }
    }
    out
}

/// What the evaluator needs to know about one version of a key.
#[derive(Debug, Clone)]
pub struct VersionFacts<'a> {
    pub key: &'a str,
    /// The size clients see (0 for a delete marker).
    pub size: u64,
    pub tags: &'a [(String, String)],
    pub mod_time_ms: i64,
    /// The key's current version (the newest).
    pub is_latest: bool,
    pub delete_marker: bool,
    /// When the version became noncurrent: its successor's modification time (`None`
    /// for the current version).
    pub noncurrent_since_ms: Option<i64>,
    /// Noncurrent versions of the key newer than this one.
    pub newer_noncurrent: usize,
    /// The key has no other version (a current delete marker hides nothing).
    pub only_version: bool,
}

/// What to do with a version; each names the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Keep,
    /// Expire the current version: an unversioned bucket removes it, a versioned one
    /// puts a delete marker on top.
    ExpireCurrent(String),
    /// Remove this noncurrent version (or noncurrent delete marker) for good.
    RemoveNoncurrent(String),
    /// Remove this delete marker: it is current and hides no version.
    RemoveDeleteMarker(String),
}

/// The first midnight (a multiple of `day_ms` since the epoch) strictly after `from_ms`
/// plus `days` days: AWS's due time for a rule of `days` days.
pub fn due_ms(from_ms: i64, days: u32, day_ms: i64) -> i64 {
    let day_ms = day_ms.max(1);
    let end = from_ms.saturating_add(i64::from(days).saturating_mul(day_ms));
    end.div_euclid(day_ms)
        .saturating_add(1)
        .saturating_mul(day_ms)
}

impl Filter {
    /// Whether an object of `key`, `size` and `tags` is one this filter names.
    pub fn matches(&self, key: &str, size: u64, tags: &[(String, String)]) -> bool {
        key.starts_with(&self.prefix)
            && self
                .tags
                .iter()
                .all(|(k, v)| tags.iter().any(|(tk, tv)| tk == k && tv == v))
            && self.size_gt.is_none_or(|gt| size > gt)
            && self.size_lt.is_none_or(|lt| size < lt)
    }
}

impl Rule {
    /// When this rule expires a current version written at `mod_time_ms`.
    fn current_due(&self, mod_time_ms: i64, day_ms: i64) -> Option<i64> {
        match self.expiration? {
            Expiration::Days(d) => Some(due_ms(mod_time_ms, d, day_ms)),
            Expiration::Date(t) => Some(t),
            Expiration::DeleteMarker(_) => None,
        }
    }
}

/// What the rules say about one version now; the first rule that acts wins.
pub fn decide(config: &LifecycleConfig, v: &VersionFacts<'_>, now_ms: i64, day_ms: i64) -> Action {
    for rule in config.rules.iter().filter(|r| r.enabled) {
        if !rule.filter.matches(v.key, v.size, v.tags) {
            continue;
        }
        if v.is_latest && !v.delete_marker {
            if rule
                .current_due(v.mod_time_ms, day_ms)
                .is_some_and(|due| due <= now_ms)
            {
                return Action::ExpireCurrent(rule.id.clone());
            }
        } else if v.is_latest {
            // A delete marker with nothing under it: removed by
            // ExpiredObjectDeleteMarker, and (as in S3) by a Days rule once due.
            let due = match rule.expiration {
                Some(Expiration::DeleteMarker(true)) => true,
                Some(Expiration::Days(d)) => due_ms(v.mod_time_ms, d, day_ms) <= now_ms,
                _ => false,
            };
            if due && v.only_version {
                return Action::RemoveDeleteMarker(rule.id.clone());
            }
        } else if let (Some(n), Some(since)) = (rule.noncurrent, v.noncurrent_since_ms) {
            let keep = n.newer_versions.unwrap_or(0) as usize;
            if due_ms(since, n.days, day_ms) <= now_ms && v.newer_noncurrent >= keep {
                return Action::RemoveNoncurrent(rule.id.clone());
            }
        }
    }
    Action::Keep
}

/// The rule that aborts an upload of `key` initiated at `initiated_ms`, if one is due.
/// Only the prefix is checked: AWS refuses tag filters on this action, and an upload
/// has no size yet.
pub fn abort_upload<'c>(
    config: &'c LifecycleConfig,
    key: &str,
    initiated_ms: i64,
    now_ms: i64,
    day_ms: i64,
) -> Option<&'c str> {
    config
        .rules
        .iter()
        .filter(|r| r.enabled && key.starts_with(&r.filter.prefix))
        .find(|r| {
            r.abort_upload_days
                .is_some_and(|d| due_ms(initiated_ms, d, day_ms) <= now_ms)
        })
        .map(|r| r.id.as_str())
}

/// The `x-amz-expiration` value for a current object: the earliest expiry among the
/// rules that apply (`expiry-date="Fri, 23 Dec 2012 00:00:00 GMT", rule-id="id"`).
pub fn expiration_header(
    config: &LifecycleConfig,
    key: &str,
    size: u64,
    tags: &[(String, String)],
    mod_time_ms: i64,
    day_ms: i64,
) -> Option<String> {
    let (due, id) = config
        .rules
        .iter()
        .filter(|r| r.enabled && r.filter.matches(key, size, tags))
        .filter_map(|r| r.current_due(mod_time_ms, day_ms).map(|d| (d, &r.id)))
        .min_by_key(|(d, _)| *d)?;
    let date = chrono::DateTime::from_timestamp_millis(due)?;
    Some(format!(
        "expiry-date=\"{}\", rule-id=\"{}\"",
        date.format("%a, %d %b %Y %H:%M:%S GMT"),
        id.replace('"', "\\\"")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::config::{FilterShape, NoncurrentExpiration};

    const DAY: i64 = 86_400_000;
    /// 2012-12-20 10:30:00 UTC.
    const T0: i64 = 1_355_999_400_000;

    fn filter(prefix: &str) -> Filter {
        Filter {
            shape: FilterShape::Prefix,
            prefix: prefix.into(),
            tags: vec![],
            size_gt: None,
            size_lt: None,
        }
    }

    fn rule(id: &str, f: Filter) -> Rule {
        Rule {
            id: id.into(),
            enabled: true,
            filter: f,
            expiration: None,
            noncurrent: None,
            abort_upload_days: None,
        }
    }

    fn config(rules: Vec<Rule>) -> LifecycleConfig {
        LifecycleConfig { rules }
    }

    fn current<'a>(key: &'a str, size: u64, tags: &'a [(String, String)]) -> VersionFacts<'a> {
        VersionFacts {
            key,
            size,
            tags,
            mod_time_ms: T0,
            is_latest: true,
            delete_marker: false,
            noncurrent_since_ms: None,
            newer_noncurrent: 0,
            only_version: true,
        }
    }

    #[test]
    fn due_times_round_up_to_the_next_midnight() {
        // AWS's example: written 2014-01-15 10:30 UTC, 3 days: due 2014-01-19 00:00.
        let written = 1_389_781_800_000;
        assert_eq!(due_ms(written, 3, DAY), 1_390_089_600_000);
        // Exactly at midnight: the next one.
        assert_eq!(due_ms(0, 1, DAY), 2 * DAY);
        // Short test days.
        assert_eq!(due_ms(100_300, 1, 1000), 102_000);
    }

    #[test]
    fn expiration_by_days_and_by_date() {
        let mut r = rule("days", filter(""));
        r.expiration = Some(Expiration::Days(3));
        let c = config(vec![r]);
        let v = current("a", 1, &[]);
        let due = due_ms(T0, 3, DAY);
        assert_eq!(decide(&c, &v, due - 1, DAY), Action::Keep);
        assert_eq!(
            decide(&c, &v, due, DAY),
            Action::ExpireCurrent("days".into())
        );

        let mut r = rule("date", filter(""));
        r.expiration = Some(Expiration::Date(T0 + 10 * DAY));
        let c = config(vec![r]);
        assert_eq!(decide(&c, &v, T0 + 10 * DAY - 1, DAY), Action::Keep);
        assert_eq!(
            decide(&c, &v, T0 + 10 * DAY, DAY),
            Action::ExpireCurrent("date".into())
        );
        // A disabled rule does nothing.
        let mut off = c.clone();
        off.rules[0].enabled = false;
        assert_eq!(decide(&off, &v, T0 + 100 * DAY, DAY), Action::Keep);
    }

    #[test]
    fn filters_prefix_tags_and_sizes() {
        let mut f = filter("logs/");
        f.tags = vec![("kind".into(), "tmp".into())];
        f.size_gt = Some(10);
        f.size_lt = Some(100);
        let mut r = rule("r", f);
        r.expiration = Some(Expiration::Days(1));
        let c = config(vec![r]);
        let late = T0 + 10 * DAY;
        let tmp = vec![
            ("kind".to_string(), "tmp".to_string()),
            ("x".into(), "y".into()),
        ];
        let other = vec![("kind".to_string(), "keep".to_string())];
        let expire = Action::ExpireCurrent("r".into());
        assert_eq!(decide(&c, &current("logs/a", 50, &tmp), late, DAY), expire);
        assert_eq!(
            decide(&c, &current("data/a", 50, &tmp), late, DAY),
            Action::Keep
        );
        assert_eq!(
            decide(&c, &current("logs/a", 50, &other), late, DAY),
            Action::Keep
        );
        assert_eq!(
            decide(&c, &current("logs/a", 50, &[]), late, DAY),
            Action::Keep
        );
        assert_eq!(
            decide(&c, &current("logs/a", 10, &tmp), late, DAY),
            Action::Keep
        );
        assert_eq!(
            decide(&c, &current("logs/a", 100, &tmp), late, DAY),
            Action::Keep
        );
        assert_eq!(decide(&c, &current("logs/a", 11, &tmp), late, DAY), expire);
    }

    #[test]
    fn delete_markers() {
        let mut r = rule("dm", filter(""));
        r.expiration = Some(Expiration::DeleteMarker(true));
        let c = config(vec![r]);
        let mut m = current("k", 0, &[]);
        m.delete_marker = true;
        assert_eq!(
            decide(&c, &m, T0, DAY),
            Action::RemoveDeleteMarker("dm".into())
        );
        m.only_version = false;
        assert_eq!(decide(&c, &m, T0, DAY), Action::Keep);
        // ExpiredObjectDeleteMarker=false does nothing; it never expires objects.
        let off = config(vec![Rule {
            expiration: Some(Expiration::DeleteMarker(false)),
            ..rule("f", filter(""))
        }]);
        m.only_version = true;
        assert_eq!(decide(&off, &m, T0 + 100 * DAY, DAY), Action::Keep);
        assert_eq!(
            decide(&off, &current("k", 1, &[]), T0 + 100 * DAY, DAY),
            Action::Keep
        );
        // A Days rule removes a lone marker once it is due.
        let days = config(vec![Rule {
            expiration: Some(Expiration::Days(2)),
            ..rule("d", filter(""))
        }]);
        assert_eq!(decide(&days, &m, T0 + DAY, DAY), Action::Keep);
        assert_eq!(
            decide(&days, &m, T0 + 3 * DAY, DAY),
            Action::RemoveDeleteMarker("d".into())
        );
    }

    #[test]
    fn noncurrent_versions_and_newer_count() {
        let mut r = rule("nc", filter(""));
        r.noncurrent = Some(NoncurrentExpiration {
            days: 2,
            newer_versions: Some(2),
        });
        let c = config(vec![r]);
        let since = T0 + DAY;
        let facts = |newer: usize| VersionFacts {
            key: "k",
            size: 5,
            tags: &[],
            mod_time_ms: T0,
            is_latest: false,
            delete_marker: false,
            noncurrent_since_ms: Some(since),
            newer_noncurrent: newer,
            only_version: false,
        };
        let due = due_ms(since, 2, DAY);
        let rm = Action::RemoveNoncurrent("nc".into());
        assert_eq!(decide(&c, &facts(5), due - 1, DAY), Action::Keep);
        assert_eq!(decide(&c, &facts(0), due, DAY), Action::Keep);
        assert_eq!(decide(&c, &facts(1), due, DAY), Action::Keep);
        assert_eq!(decide(&c, &facts(2), due, DAY), rm);
        assert_eq!(decide(&c, &facts(3), due, DAY), rm);
        // Without NewerNoncurrentVersions every noncurrent version goes when due.
        let mut all = c.clone();
        all.rules[0].noncurrent = Some(NoncurrentExpiration {
            days: 2,
            newer_versions: None,
        });
        assert_eq!(decide(&all, &facts(0), due, DAY), rm);
        // Noncurrent rules never touch the current version.
        assert_eq!(
            decide(&all, &current("k", 5, &[]), due + 100 * DAY, DAY),
            Action::Keep
        );
    }

    #[test]
    fn uploads_are_aborted_by_prefix_and_age() {
        let mut r = rule("mpu", filter("tmp/"));
        r.abort_upload_days = Some(1);
        let c = config(vec![r]);
        let due = due_ms(T0, 1, DAY);
        assert_eq!(abort_upload(&c, "tmp/a", T0, due, DAY), Some("mpu"));
        assert_eq!(abort_upload(&c, "tmp/a", T0, due - 1, DAY), None);
        assert_eq!(abort_upload(&c, "keep/a", T0, due, DAY), None);
    }

    #[test]
    fn the_expiration_header() {
        let mut a = rule("picture-deletion-rule", filter("pic"));
        a.expiration = Some(Expiration::Days(3));
        let mut b = rule("later", filter(""));
        b.expiration = Some(Expiration::Days(30));
        let c = config(vec![b, a]);
        // Written 2012-12-20 10:30 UTC + 3 days, rounded up: 2012-12-24 00:00.
        assert_eq!(
            expiration_header(&c, "pic.jpg", 1, &[], T0, DAY).as_deref(),
            Some(
                "expiry-date=\"Mon, 24 Dec 2012 00:00:00 GMT\", rule-id=\"picture-deletion-rule\""
            )
        );
        assert!(
            expiration_header(&c, "doc.txt", 1, &[], T0, DAY)
                .is_some_and(|h| h.contains("rule-id=\"later\""))
        );
        let none = config(vec![rule("x", filter(""))]);
        assert_eq!(expiration_header(&none, "a", 1, &[], T0, DAY), None);
    }

    #[test]
    fn stored_tags_decode() {
        let h = BTreeMap::from([(TAGS_HEADER.to_string(), "a=1&b%20c=d%26e&f=".to_string())]);
        assert_eq!(
            tags_of(&h),
            vec![
                ("a".to_string(), "1".to_string()),
                ("b c".into(), "d&e".into()),
                ("f".into(), "".into())
            ]
        );
        assert!(tags_of(&BTreeMap::new()).is_empty());
    }
}
