//! S3 Object Lock rules for one object version: its retention (a mode and a date before
//! which the version must not be removed) and its legal hold (an on/off switch with no
//! date). Both are stored in the version's metadata ([`super::meta::ObjectMeta`]'s
//! `retention` and `legal_hold`), so every path that removes a version (DELETE by
//! version id, DeleteObjects, a lifecycle worker) asks the same pure functions here.
//!
//! The rules, as AWS documents them:
//! - a version under legal hold cannot be removed, whatever its retention;
//! - a version whose COMPLIANCE retention has not expired cannot be removed by anyone,
//!   and its retention can only be extended (same mode, same or later date);
//! - a version whose GOVERNANCE retention has not expired can be removed, or its
//!   retention shortened or removed, only by a caller that asks to bypass governance
//!   (`x-amz-bypass-governance-retention: true`) and holds `s3:BypassGovernanceRetention`;
//!   extending it (or turning it into COMPLIANCE with the same or a later date) needs
//!   neither;
//! - an expired retention protects nothing.
//!
//! Putting a delete marker on top of a locked version removes nothing, so it is allowed.

use super::meta::ObjectMeta;
use serde::{Deserialize, Serialize};

/// S3's retention modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RetentionMode {
    Governance,
    Compliance,
}

impl RetentionMode {
    /// S3's spelling (`GOVERNANCE`, `COMPLIANCE`).
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionMode::Governance => "GOVERNANCE",
            RetentionMode::Compliance => "COMPLIANCE",
        }
    }

    /// From S3's spelling; anything else is `None` (the caller says which error).
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "GOVERNANCE" => Some(RetentionMode::Governance),
            "COMPLIANCE" => Some(RetentionMode::Compliance),
            _ => None,
        }
    }
}

/// A version's retention: it must not be removed before `until_ms` (milliseconds since
/// the Unix epoch), under the rules of `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    pub mode: RetentionMode,
    pub until_ms: i64,
}

impl Retention {
    /// Whether the retention still protects its version at `now_ms`.
    pub fn active(&self, now_ms: i64) -> bool {
        self.until_ms > now_ms
    }
}

/// What a new version gets at write time: from the request's headers, else the bucket's
/// default retention. Recorded with a multipart upload until it completes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Retention>,
    #[serde(default)]
    pub legal_hold: bool,
    /// The request named a legal hold (ON or OFF).
    #[serde(default)]
    pub legal_hold_set: bool,
}

impl ObjectLock {
    pub fn is_empty(&self) -> bool {
        self.retention.is_none() && !self.legal_hold
    }
}

/// Why a version may not be removed or its retention not changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Blocked {
    #[error("the object version is under legal hold")]
    LegalHold,
    #[error("the object version is under COMPLIANCE retention")]
    Compliance,
    #[error("the object version is under GOVERNANCE retention")]
    Governance,
}

/// Why `meta` may not be removed for good at `now_ms`, or `None` when it may.
/// `bypass_governance` is true only when the caller asked to bypass governance *and*
/// is allowed to (the S3 layer checks `s3:BypassGovernanceRetention`); a lifecycle
/// worker passes false. Delete markers carry no lock and are never blocked.
pub fn deletion_blocked(
    meta: &ObjectMeta,
    now_ms: i64,
    bypass_governance: bool,
) -> Option<Blocked> {
    if meta.delete_marker {
        return None;
    }
    if meta.legal_hold {
        return Some(Blocked::LegalHold);
    }
    match meta.retention {
        Some(r) if r.active(now_ms) => match r.mode {
            RetentionMode::Compliance => Some(Blocked::Compliance),
            RetentionMode::Governance if !bypass_governance => Some(Blocked::Governance),
            RetentionMode::Governance => None,
        },
        _ => None,
    }
}

/// Whether a version's retention may change from `current` to `new` (`None`: remove it)
/// at `now_ms`. Extending is always allowed; shortening, removing or weakening
/// COMPLIANCE to GOVERNANCE is refused while `current` is active, except GOVERNANCE with
/// `bypass_governance`. Legal hold plays no part: it is changed on its own.
pub fn retention_change(
    current: Option<&Retention>,
    new: Option<&Retention>,
    now_ms: i64,
    bypass_governance: bool,
) -> Result<(), Blocked> {
    let Some(cur) = current.filter(|c| c.active(now_ms)) else {
        return Ok(());
    };
    let extends = new.is_some_and(|n| {
        n.until_ms >= cur.until_ms
            && (cur.mode == RetentionMode::Governance || n.mode == RetentionMode::Compliance)
    });
    if extends {
        return Ok(());
    }
    match cur.mode {
        RetentionMode::Compliance => Err(Blocked::Compliance),
        RetentionMode::Governance if bypass_governance => Ok(()),
        RetentionMode::Governance => Err(Blocked::Governance),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::erasure::Geometry;
    use crate::objects::meta::{ErasureInfo, FORMAT_VERSION};

    fn version(retention: Option<Retention>, legal_hold: bool) -> ObjectMeta {
        ObjectMeta {
            format: FORMAT_VERSION,
            version_id: "v".into(),
            size: 1,
            etag: "e".into(),
            mod_time_ms: 0,
            headers: Default::default(),
            checksums: Default::default(),
            erasure: ErasureInfo {
                geometry: Geometry::new(2, 2),
                index: 0,
                distribution: vec![0, 1, 2, 3],
                bitrot: "xxh3-128".into(),
            },
            data_dir: None,
            parts: vec![],
            meta_version: 0,
            null_version: false,
            delete_marker: false,
            retention,
            legal_hold,
            legal_hold_set: false,
        }
    }

    const NOW: i64 = 1_000_000;

    fn gov(until_ms: i64) -> Retention {
        Retention {
            mode: RetentionMode::Governance,
            until_ms,
        }
    }

    fn comp(until_ms: i64) -> Retention {
        Retention {
            mode: RetentionMode::Compliance,
            until_ms,
        }
    }

    #[test]
    fn deletion_follows_hold_mode_and_date() {
        let cases = [
            (None, false, false, None),
            (None, true, true, Some(Blocked::LegalHold)),
            (Some(gov(NOW + 1)), false, false, Some(Blocked::Governance)),
            (Some(gov(NOW + 1)), false, true, None),
            (Some(gov(NOW + 1)), true, true, Some(Blocked::LegalHold)),
            (Some(comp(NOW + 1)), false, true, Some(Blocked::Compliance)),
            (Some(comp(NOW)), false, false, None),
            (Some(gov(NOW - 1)), false, false, None),
        ];
        for (retention, hold, bypass, want) in cases {
            let m = version(retention, hold);
            assert_eq!(
                deletion_blocked(&m, NOW, bypass),
                want,
                "{retention:?} hold {hold} bypass {bypass}"
            );
        }
        let mut marker = version(Some(comp(NOW + 1)), true);
        marker.delete_marker = true;
        assert_eq!(deletion_blocked(&marker, NOW, false), None);
    }

    #[test]
    fn retention_changes() {
        let later = NOW + 100;
        let sooner = NOW + 10;
        let cur = NOW + 50;
        // Extending is free in both modes; GOVERNANCE may become COMPLIANCE.
        assert_eq!(
            retention_change(Some(&comp(cur)), Some(&comp(later)), NOW, false),
            Ok(())
        );
        assert_eq!(
            retention_change(Some(&gov(cur)), Some(&gov(later)), NOW, false),
            Ok(())
        );
        assert_eq!(
            retention_change(Some(&gov(cur)), Some(&comp(cur)), NOW, false),
            Ok(())
        );
        // COMPLIANCE cannot be shortened, removed or weakened, even with bypass.
        for new in [Some(comp(sooner)), None, Some(gov(later))] {
            assert_eq!(
                retention_change(Some(&comp(cur)), new.as_ref(), NOW, true),
                Err(Blocked::Compliance),
                "{new:?}"
            );
        }
        // GOVERNANCE needs the bypass to be shortened or removed.
        for new in [Some(gov(sooner)), None] {
            assert_eq!(
                retention_change(Some(&gov(cur)), new.as_ref(), NOW, false),
                Err(Blocked::Governance)
            );
            assert_eq!(
                retention_change(Some(&gov(cur)), new.as_ref(), NOW, true),
                Ok(())
            );
        }
        // Nothing, or an expired retention, protects nothing.
        assert_eq!(
            retention_change(None, Some(&gov(later)), NOW, false),
            Ok(())
        );
        assert_eq!(
            retention_change(Some(&comp(NOW - 1)), None, NOW, false),
            Ok(())
        );
    }

    #[test]
    fn modes_spell_as_s3() {
        for m in [RetentionMode::Governance, RetentionMode::Compliance] {
            assert_eq!(RetentionMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(RetentionMode::parse("governance"), None);
        let json = serde_json::to_string(&comp(5)).unwrap_or_default();
        assert_eq!(json, r#"{"mode":"COMPLIANCE","until_ms":5}"#);
    }
}
