//! S3 Object Lock on the wire, as the S3 API reference documents it:
//! Put/GetObjectLockConfiguration (a bucket's default retention, stored in its
//! configuration record as [`LOCK_CONFIG`]), Put/GetObjectRetention and
//! Put/GetObjectLegalHold (any version), the `x-amz-object-lock-*` headers of PutObject,
//! CopyObject and CreateMultipartUpload ([`for_write`]), and the governance bypass
//! ([`bypass_governance`]). The rules themselves (who may delete, which retention
//! changes are allowed) live in the object layer (`objects::retention`), so every path
//! that removes versions obeys them.
//!
//! Object lock can only be switched on when a bucket is created
//! (`x-amz-bucket-object-lock-enabled: true`, which also enables versioning for good);
//! every lock request on another bucket is refused.
//!
//! Content-MD5 (or an `x-amz-checksum-*`) is required by AWS on the three Put requests;
//! Cairn checks a Content-MD5 when one is sent (the body layer checks checksums) but does
//! not require either, as older SDKs and tools omit them.

use super::super::authorize;
use super::super::error::{S3Error, S3Result};
use super::super::headers::iso_date;
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use crate::objects::ObjectError;
use crate::objects::retention::{self, ObjectLock, Retention, RetentionMode};
use crate::objects::set::now_ms;
use chrono::{DateTime, Months, TimeZone, Utc};
use http::{Response, StatusCode};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// Name of a bucket's default retention in its configuration record.
pub const LOCK_CONFIG: &str = "object-lock";

const MODE_HEADER: &str = "x-amz-object-lock-mode";
const UNTIL_HEADER: &str = "x-amz-object-lock-retain-until-date";
const HOLD_HEADER: &str = "x-amz-object-lock-legal-hold";
const BYPASS_HEADER: &str = "x-amz-bypass-governance-retention";

/// The period of a default retention: exactly one of days or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    Days(u32),
    Years(u32),
}

/// A bucket's default retention (the `Rule` of its ObjectLockConfiguration), applied to
/// new versions written without retention headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    pub mode: RetentionMode,
    pub period: Period,
}

impl DefaultRetention {
    /// Stored form; unreadable stored values count as no default.
    pub fn from_stored(s: Option<&String>) -> Option<Self> {
        s.and_then(|s| serde_json::from_str(s).ok())
    }

    /// The retention a version written at `now_ms` gets; `None` if the date overflows.
    pub fn retention_from(&self, now_ms: i64) -> Option<Retention> {
        let now = Utc.timestamp_millis_opt(now_ms).single()?;
        let until = match self.period {
            Period::Days(d) => now.checked_add_signed(chrono::Duration::days(i64::from(d)))?,
            Period::Years(y) => now.checked_add_months(Months::new(y.checked_mul(12)?))?,
        };
        Some(Retention {
            mode: self.mode,
            until_ms: until.timestamp_millis(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XLockConfiguration {
    #[serde(default)]
    object_lock_enabled: Option<String>,
    #[serde(default)]
    rule: Option<XRule>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XRule {
    #[serde(default)]
    default_retention: Option<XDefaultRetention>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XDefaultRetention {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    days: Option<i64>,
    #[serde(default)]
    years: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XRetention {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    retain_until_date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct XLegalHold {
    #[serde(default)]
    status: Option<String>,
}

/// Parses an ObjectLockConfiguration document: the default retention it sets, if any.
/// `ObjectLockEnabled` must be `Enabled`; a `Rule` needs a mode and exactly one of
/// `Days` and `Years`, positive.
pub fn parse_config(body: &[u8]) -> S3Result<Option<DefaultRetention>> {
    let doc: XLockConfiguration = xml::parse(body)?;
    if doc.object_lock_enabled.as_deref().map(str::trim) != Some("Enabled") {
        return Err(S3Error::malformed_xml());
    }
    let Some(rule) = doc.rule else {
        return Ok(None);
    };
    let d = rule.default_retention.ok_or_else(S3Error::malformed_xml)?;
    let mode = d
        .mode
        .as_deref()
        .and_then(RetentionMode::parse)
        .ok_or_else(S3Error::malformed_xml)?;
    let positive = |n: i64| {
        u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
            S3Error::invalid_argument("Default retention period must be a positive integer value")
        })
    };
    let period = match (d.days, d.years) {
        (Some(n), None) => Period::Days(positive(n)?),
        (None, Some(n)) => Period::Years(positive(n)?),
        _ => return Err(S3Error::malformed_xml()),
    };
    Ok(Some(DefaultRetention { mode, period }))
}

/// Parses a Retention document: `None` (both fields absent) removes the retention.
fn parse_retention(body: &[u8]) -> S3Result<Option<Retention>> {
    let doc: XRetention = xml::parse(body)?;
    match (doc.mode, doc.retain_until_date) {
        (None, None) => Ok(None),
        (Some(m), Some(d)) => {
            let mode = RetentionMode::parse(&m).ok_or_else(S3Error::malformed_xml)?;
            let until_ms = parse_date(&d).ok_or_else(S3Error::malformed_xml)?;
            Ok(Some(Retention { mode, until_ms }))
        }
        _ => Err(S3Error::malformed_xml()),
    }
}

/// Parses a LegalHold document's `Status` (`ON` or `OFF`).
fn parse_legal_hold(body: &[u8]) -> S3Result<bool> {
    let doc: XLegalHold = xml::parse(body)?;
    match doc.status.as_deref().map(str::trim) {
        Some("ON") => Ok(true),
        Some("OFF") => Ok(false),
        _ => Err(S3Error::malformed_xml()),
    }
}

/// An ISO 8601 date-time as S3 takes it (`2030-01-01T00:00:00Z`, fractions and offsets
/// allowed), in milliseconds since the epoch.
fn parse_date(s: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

fn missing_lock_config() -> S3Error {
    S3Error::invalid_request("Bucket is missing Object Lock Configuration")
}

fn past_date() -> S3Error {
    S3Error::invalid_argument("The retain until date must be in the future!")
}

/// The object lock of a new version of `bucket/key`: the request's
/// `x-amz-object-lock-*` headers, else the bucket's default retention. Headers on a
/// bucket without object lock are `InvalidRequest`; mode and date come together, the
/// date in the future. Setting them needs `s3:PutObjectRetention` /
/// `s3:PutObjectLegalHold`, as on AWS.
pub async fn for_write(
    s: &S3Service,
    req: &S3Request,
    bucket: &str,
    key: &str,
) -> S3Result<ObjectLock> {
    let mode = req.header(MODE_HEADER);
    let until = req.header(UNTIL_HEADER);
    let hold = req.header(HOLD_HEADER);
    let auth = s.policies.auth(s, bucket).await;
    if !auth.object_lock {
        if mode.is_some() || until.is_some() || hold.is_some() {
            return Err(missing_lock_config());
        }
        return Ok(ObjectLock::default());
    }
    let now = now_ms();
    let explicit = match (mode, until) {
        (None, None) => None,
        (Some(m), Some(u)) => {
            let mode = RetentionMode::parse(m)
                .ok_or_else(|| S3Error::invalid_argument("Unknown wormMode directive."))?;
            let until_ms = parse_date(u).ok_or_else(|| {
                S3Error::invalid_argument(
                    "The retain until date must be provided in ISO 8601 format",
                )
            })?;
            if until_ms <= now {
                return Err(past_date());
            }
            Some(Retention { mode, until_ms })
        }
        _ => {
            return Err(S3Error::invalid_argument(
                "x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied",
            ));
        }
    };
    let legal_hold = match hold.map(str::trim) {
        None | Some("OFF") => false,
        Some("ON") => true,
        Some(_) => {
            return Err(S3Error::invalid_argument(
                "Legal Hold must be either of 'ON' or 'OFF'",
            ));
        }
    };
    let mut needs = Vec::new();
    if explicit.is_some() {
        needs.push("s3:PutObjectRetention");
    }
    if hold.is_some() {
        needs.push("s3:PutObjectLegalHold");
    }
    for action in needs {
        if !authorize::permitted(s, &req.access, action, bucket, Some(key)).await {
            return Err(S3Error::access_denied());
        }
    }
    let retention = explicit.or_else(|| auth.lock_default.and_then(|d| d.retention_from(now)));
    Ok(ObjectLock {
        retention,
        legal_hold,
        legal_hold_set: hold.is_some(),
    })
}

/// Whether this request may bypass GOVERNANCE retention: it asks to
/// (`x-amz-bypass-governance-retention: true`) and the caller holds
/// `s3:BypassGovernanceRetention` on the object (root always does).
pub async fn bypass_governance(s: &S3Service, req: &S3Request, bucket: &str, key: &str) -> bool {
    let asked = req
        .header(BYPASS_HEADER)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    asked
        && authorize::permitted(
            s,
            &req.access,
            "s3:BypassGovernanceRetention",
            bucket,
            Some(key),
        )
        .await
}

/// The body of a Put request, checked against its Content-MD5 when one is sent.
async fn checked_body(req: &mut S3Request) -> S3Result<bytes::Bytes> {
    let expected = super::object::content_md5(req)?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    if let Some(m) = expected {
        let got: [u8; 16] = Md5::digest(&body).into();
        if got != m {
            return Err(ObjectError::BadDigest.into());
        }
    }
    Ok(body)
}

/// Refuses object lock requests on a bucket created without object lock.
async fn require_lock_bucket(s: &S3Service, bucket: &str) -> S3Result<()> {
    if s.objects.bucket_meta(bucket).await?.object_lock {
        Ok(())
    } else {
        Err(missing_lock_config())
    }
}

fn config_xml(default: Option<DefaultRetention>) -> String {
    let mut w = XmlWriter::new("ObjectLockConfiguration");
    w.elem("ObjectLockEnabled", "Enabled");
    if let Some(d) = default {
        w.open("Rule").open("DefaultRetention");
        w.elem("Mode", d.mode.as_str());
        match d.period {
            Period::Days(n) => w.elem("Days", &n.to_string()),
            Period::Years(n) => w.elem("Years", &n.to_string()),
        };
        w.close("DefaultRetention").close("Rule");
    }
    w.finish("ObjectLockConfiguration")
}

/// GetObjectLockConfiguration: `ObjectLockEnabled` and the default retention, if any;
/// 404 on a bucket without object lock.
pub async fn get_config(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    if !meta.object_lock {
        return Err(S3Error::new(
            "ObjectLockConfigurationNotFoundError",
            StatusCode::NOT_FOUND,
            "Object Lock configuration does not exist for this bucket",
        )
        .with("BucketName", bucket));
    }
    let default = DefaultRetention::from_stored(meta.config.get(LOCK_CONFIG));
    Ok(xml_response(StatusCode::OK, config_xml(default)))
}

/// PutObjectLockConfiguration: sets or (without a `Rule`) removes the default retention
/// of a bucket created with object lock; 409 on any other bucket.
pub async fn put_config(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let meta = s.objects.bucket_meta(&bucket).await?;
    let body = checked_body(req).await?;
    if !meta.object_lock {
        return Err(S3Error::new(
            "InvalidBucketState",
            StatusCode::CONFLICT,
            "Object Lock configuration cannot be enabled on existing buckets",
        ));
    }
    let default = parse_config(&body)?;
    let stored = match default {
        Some(d) => Some(serde_json::to_string(&d).map_err(|e| S3Error::internal(e.to_string()))?),
        None => None,
    };
    s.set_bucket_config(&bucket, LOCK_CONFIG, stored).await?;
    Ok(empty(StatusCode::OK))
}

fn version(req: &S3Request) -> Option<String> {
    req.query.get("versionId").map(str::to_string)
}

/// GetObjectRetention: the version's mode and date; 404 when it has none.
pub async fn get_retention(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?, req.key()?);
    require_lock_bucket(s, bucket).await?;
    let info = s
        .objects
        .version_info(bucket, key, version(req).as_deref())
        .await?;
    let Some(r) = info.retention else {
        return Err(no_object_lock());
    };
    let mut w = XmlWriter::new("Retention");
    w.elem("Mode", r.mode.as_str())
        .elem("RetainUntilDate", &iso_date(r.until_ms));
    Ok(xml_response(StatusCode::OK, w.finish("Retention")))
}

/// PutObjectRetention: sets, extends, shortens or (an empty document) removes a
/// version's retention, as [`retention::retention_change`] allows; refused changes are
/// 403 AccessDenied.
pub async fn put_retention(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    require_lock_bucket(s, &bucket).await?;
    let body = checked_body(req).await?;
    let new = parse_retention(&body)?;
    if new.is_some_and(|r| !r.active(now_ms())) {
        return Err(past_date());
    }
    let bypass = bypass_governance(s, req, &bucket, &key).await;
    s.objects
        .update_version(&bucket, &key, version(req).as_deref(), |m| {
            retention::retention_change(m.retention.as_ref(), new.as_ref(), now_ms(), bypass)?;
            let changed = m.retention != new;
            m.retention = new;
            Ok(changed)
        })
        .await?;
    Ok(empty(StatusCode::OK))
}

/// A version without the retention or legal hold asked for.
fn no_object_lock() -> S3Error {
    S3Error::new(
        "NoSuchObjectLockConfiguration",
        StatusCode::NOT_FOUND,
        "The specified object does not have a ObjectLock configuration",
    )
}

/// GetObjectLegalHold: `ON` or `OFF` once a legal hold was put on the version, ON or OFF.
pub async fn get_legal_hold(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?, req.key()?);
    require_lock_bucket(s, bucket).await?;
    let info = s
        .objects
        .version_info(bucket, key, version(req).as_deref())
        .await?;
    if !info.legal_hold_set {
        return Err(no_object_lock());
    }
    let mut w = XmlWriter::new("LegalHold");
    w.elem("Status", if info.legal_hold { "ON" } else { "OFF" });
    Ok(xml_response(StatusCode::OK, w.finish("LegalHold")))
}

/// PutObjectLegalHold: switches a version's legal hold on or off.
pub async fn put_legal_hold(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    require_lock_bucket(s, &bucket).await?;
    let body = checked_body(req).await?;
    let on = parse_legal_hold(&body)?;
    s.objects
        .update_version(&bucket, &key, version(req).as_deref(), |m| {
            let changed = m.legal_hold != on || !m.legal_hold_set;
            m.legal_hold = on;
            m.legal_hold_set = true;
            Ok(changed)
        })
        .await?;
    Ok(empty(StatusCode::OK))
}

/// Response headers of a version under object lock (GET, HEAD).
pub fn response_headers(info: &crate::objects::ObjectInfo, put: &mut impl FnMut(&str, &str)) {
    if let Some(r) = info.retention {
        put(MODE_HEADER, r.mode.as_str());
        put(UNTIL_HEADER, &iso_date(r.until_ms));
    }
    if info.legal_hold {
        put(HOLD_HEADER, "ON");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NS: &str = r#"xmlns="http://s3.amazonaws.com/doc/2006-03-01/""#;

    #[test]
    fn lock_configurations() {
        let doc = format!(
            "<ObjectLockConfiguration {NS}><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>3</Days></DefaultRetention></Rule></ObjectLockConfiguration>"
        );
        let d = parse_config(doc.as_bytes()).ok().flatten();
        assert_eq!(
            d,
            Some(DefaultRetention {
                mode: RetentionMode::Governance,
                period: Period::Days(3)
            })
        );
        let years = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>";
        let d = parse_config(years.as_bytes()).ok().flatten();
        assert_eq!(d.map(|d| d.period), Some(Period::Years(1)));
        // Stored and read back.
        let stored = serde_json::to_string(&d).ok();
        assert_eq!(DefaultRetention::from_stored(stored.as_ref()), d);
        let only = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert!(matches!(parse_config(only.as_bytes()), Ok(None)));
        for bad in [
            "<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>FOREVER</Mode><Days>1</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>x</Days></DefaultRetention></Rule></ObjectLockConfiguration>",
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled",
        ] {
            let e = parse_config(bad.as_bytes()).err().map(|e| e.code);
            assert_eq!(e, Some("MalformedXML"), "{bad}");
        }
        let zero = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>GOVERNANCE</Mode><Days>0</Days></DefaultRetention></Rule></ObjectLockConfiguration>";
        let e = parse_config(zero.as_bytes()).err().map(|e| e.code);
        assert_eq!(e, Some("InvalidArgument"));
    }

    #[test]
    fn retention_and_legal_hold_documents() {
        let doc = format!(
            "<Retention {NS}><Mode>COMPLIANCE</Mode><RetainUntilDate>2030-01-02T03:04:05.500Z</RetainUntilDate></Retention>"
        );
        let r = parse_retention(doc.as_bytes()).ok().flatten();
        assert_eq!(
            r,
            Some(Retention {
                mode: RetentionMode::Compliance,
                until_ms: 1_893_553_445_500
            })
        );
        assert!(matches!(parse_retention(b"<Retention/>"), Ok(None)));
        for bad in [
            "<Retention><Mode>COMPLIANCE</Mode></Retention>",
            "<Retention><Mode>X</Mode><RetainUntilDate>2030-01-02T03:04:05Z</RetainUntilDate></Retention>",
            "<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>tomorrow</RetainUntilDate></Retention>",
        ] {
            assert!(parse_retention(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(matches!(
            parse_legal_hold(b"<LegalHold><Status>ON</Status></LegalHold>"),
            Ok(true)
        ));
        assert!(matches!(
            parse_legal_hold(b"<LegalHold><Status>OFF</Status></LegalHold>"),
            Ok(false)
        ));
        assert!(parse_legal_hold(b"<LegalHold><Status>on</Status></LegalHold>").is_err());
    }

    #[test]
    fn default_retention_dates() {
        let now = 1_700_000_000_000;
        let d = DefaultRetention {
            mode: RetentionMode::Governance,
            period: Period::Days(2),
        };
        assert_eq!(
            d.retention_from(now).map(|r| r.until_ms),
            Some(now + 2 * 86_400_000)
        );
        let y = DefaultRetention {
            mode: RetentionMode::Compliance,
            period: Period::Years(1),
        };
        // 2023-11-14 plus a year is 2024-11-14: 366 days (a leap year between).
        assert_eq!(
            y.retention_from(now).map(|r| r.until_ms),
            Some(now + 366 * 86_400_000)
        );
    }
}
