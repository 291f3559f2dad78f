//! A bucket's `LifecycleConfiguration`, as the S3 API reference documents it: parsing
//! the XML of PutBucketLifecycleConfiguration, AWS's validation (with its error codes
//! and messages), and the model the evaluator and the worker use. The model is stored
//! as JSON in the bucket record; the S3 layer writes it back as XML for
//! GetBucketLifecycleConfiguration, keeping the shape it was given (legacy `Prefix`,
//! `Filter` with `Prefix`, `Tag`, `And` or a size bound).
//!
//! Supported actions: `Expiration` (`Days`, `Date`, `ExpiredObjectDeleteMarker`),
//! `NoncurrentVersionExpiration` (`NoncurrentDays`, `NewerNoncurrentVersions`) and
//! `AbortIncompleteMultipartUpload`. Cairn has one storage class, so `Transition` and
//! `NoncurrentVersionTransition` are refused as not implemented (501), never ignored.

use serde::{Deserialize, Serialize};

/// AWS's limits.
pub const MAX_RULES: usize = 1000;
pub const MAX_ID_CHARS: usize = 255;
const MAX_TAG_KEY_CHARS: usize = 128;
const MAX_TAG_VALUE_CHARS: usize = 256;
const MAX_NEWER_NONCURRENT: u32 = 100;

/// Why a configuration was refused; the S3 layer turns each into its S3 error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// S3's `MalformedXML` (400): not XML, or not the schema.
    #[error(
        "The XML you provided was not well-formed or did not validate against our published schema"
    )]
    MalformedXml,
    /// S3's `InvalidArgument` (400).
    #[error("{0}")]
    InvalidArgument(String),
    /// S3's `InvalidRequest` (400).
    #[error("{0}")]
    InvalidRequest(String),
    /// S3's `NotImplemented` (501): transitions between storage classes.
    #[error("{0}")]
    NotImplemented(String),
}

fn invalid(msg: &str) -> ConfigError {
    ConfigError::InvalidArgument(msg.to_string())
}

/// How the rule named what it applies to, so that GET returns the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterShape {
    /// `<Prefix>` directly in the rule (the legacy form).
    Legacy,
    /// `<Filter/>`: every object.
    Empty,
    /// `<Filter><Prefix>`.
    Prefix,
    /// `<Filter><Tag>`.
    Tag,
    /// `<Filter><ObjectSizeGreaterThan>` or `<ObjectSizeLessThan>` alone.
    Size,
    /// `<Filter><And>`.
    And,
}

/// What a rule applies to: every condition must hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    pub shape: FilterShape,
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    /// Only objects larger than this many bytes.
    #[serde(default)]
    pub size_gt: Option<u64>,
    /// Only objects smaller than this many bytes.
    #[serde(default)]
    pub size_lt: Option<u64>,
}

/// The `Expiration` action: exactly one of its three forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Expiration {
    /// Current versions expire this many days after they were written.
    Days(u32),
    /// Current versions expire at this instant (a midnight UTC, in ms since the epoch).
    Date(i64),
    /// `ExpiredObjectDeleteMarker`: remove delete markers that hide no version; `false`
    /// is accepted and does nothing, as in S3.
    DeleteMarker(bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoncurrentExpiration {
    /// Noncurrent versions go this many days after they became noncurrent...
    pub days: u32,
    /// ...except the newest this many noncurrent versions of a key.
    #[serde(default)]
    pub newer_versions: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub filter: Filter,
    #[serde(default)]
    pub expiration: Option<Expiration>,
    #[serde(default)]
    pub noncurrent: Option<NoncurrentExpiration>,
    /// `AbortIncompleteMultipartUpload`'s `DaysAfterInitiation`.
    #[serde(default)]
    pub abort_upload_days: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleConfig {
    pub rules: Vec<Rule>,
}

impl LifecycleConfig {
    /// Parses and validates a `LifecycleConfiguration` document.
    pub fn parse_xml(body: &[u8]) -> Result<Self, ConfigError> {
        let text = std::str::from_utf8(body).map_err(|_| ConfigError::MalformedXml)?;
        let doc: XConfig = quick_xml::de::from_str(text).map_err(|_| ConfigError::MalformedXml)?;
        if doc.rules.is_empty() {
            return Err(ConfigError::MalformedXml);
        }
        if doc.rules.len() > MAX_RULES {
            return Err(invalid(
                "The number of lifecycle rules must not exceed the allowed limit of 1000 rules",
            ));
        }
        let mut rules = Vec::with_capacity(doc.rules.len());
        for (i, r) in doc.rules.into_iter().enumerate() {
            rules.push(r.validate(i)?);
        }
        let mut ids = std::collections::HashSet::new();
        for r in &rules {
            if !ids.insert(r.id.as_str()) {
                return Err(invalid(
                    "Rule ID must be unique. Found same ID for more than one rule",
                ));
            }
        }
        Ok(Self { rules })
    }

    /// The stored form (JSON).
    pub fn to_stored(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// The stored configuration; an unreadable one is logged and counts as none, so a
    /// damaged record never deletes anything.
    pub fn from_stored(s: Option<&String>) -> Option<Self> {
        let s = s?;
        match serde_json::from_str(s) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(error = %e, "stored lifecycle configuration does not parse");
                None
            }
        }
    }

    /// Whether any enabled rule acts on object versions (not only on uploads).
    pub fn acts_on_versions(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.enabled && (r.expiration.is_some() || r.noncurrent.is_some()))
    }

    /// Whether any enabled rule aborts uploads.
    pub fn acts_on_uploads(&self) -> bool {
        self.rules
            .iter()
            .any(|r| r.enabled && r.abort_upload_days.is_some())
    }
}

// ---- The XML schema. Numbers are read as text so that a negative or zero value gets
// AWS's InvalidArgument and only text that is no number at all is MalformedXML.

#[derive(Deserialize)]
struct XConfig {
    #[serde(rename = "Rule", default)]
    rules: Vec<XRule>,
}

#[derive(Deserialize)]
struct XRule {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "Status")]
    status: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<XFilter>,
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Expiration")]
    expiration: Option<XExpiration>,
    #[serde(rename = "NoncurrentVersionExpiration")]
    noncurrent: Option<XNoncurrent>,
    #[serde(rename = "AbortIncompleteMultipartUpload")]
    abort: Option<XAbort>,
    #[serde(rename = "Transition", default)]
    transitions: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "NoncurrentVersionTransition", default)]
    noncurrent_transitions: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct XFilter {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag")]
    tag: Option<XTag>,
    #[serde(rename = "And")]
    and: Option<XAnd>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_gt: Option<String>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_lt: Option<String>,
}

#[derive(Deserialize)]
struct XAnd {
    #[serde(rename = "Prefix")]
    prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    tags: Vec<XTag>,
    #[serde(rename = "ObjectSizeGreaterThan")]
    size_gt: Option<String>,
    #[serde(rename = "ObjectSizeLessThan")]
    size_lt: Option<String>,
}

#[derive(Deserialize)]
struct XTag {
    #[serde(rename = "Key")]
    key: Option<String>,
    #[serde(rename = "Value")]
    value: Option<String>,
}

#[derive(Deserialize)]
struct XExpiration {
    #[serde(rename = "Days")]
    days: Option<String>,
    #[serde(rename = "Date")]
    date: Option<String>,
    #[serde(rename = "ExpiredObjectDeleteMarker")]
    delete_marker: Option<String>,
}

#[derive(Deserialize)]
struct XNoncurrent {
    #[serde(rename = "NoncurrentDays")]
    days: Option<String>,
    #[serde(rename = "NewerNoncurrentVersions")]
    newer: Option<String>,
}

#[derive(Deserialize)]
struct XAbort {
    #[serde(rename = "DaysAfterInitiation")]
    days: Option<String>,
}

/// An integer element: text that is no integer is MalformedXML; one below 1 is the
/// InvalidArgument `positive` names.
fn positive(text: &str, message: &str) -> Result<u32, ConfigError> {
    let n: i64 = text.trim().parse().map_err(|_| ConfigError::MalformedXml)?;
    if n < 1 {
        return Err(invalid(message));
    }
    u32::try_from(n).map_err(|_| invalid(message))
}

fn size(text: &Option<String>, name: &str) -> Result<Option<u64>, ConfigError> {
    let Some(t) = text else {
        return Ok(None);
    };
    let n: i64 = t.trim().parse().map_err(|_| ConfigError::MalformedXml)?;
    u64::try_from(n).map(Some).map_err(|_| {
        ConfigError::InvalidArgument(format!("'{name}' must be a non-negative integer"))
    })
}

/// `Date`: ISO 8601 at midnight UTC (`2026-01-01T00:00:00Z`, `...00.000Z`, or a date).
fn midnight(text: &str) -> Result<i64, ConfigError> {
    let t = text.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| {
            invalid("Invalid date specified for Expiration. 'Date' must be in ISO 8601 format")
        })?;
    let ms = parsed.timestamp_millis();
    if ms.rem_euclid(86_400_000) != 0 {
        return Err(invalid("'Date' must be at midnight GMT"));
    }
    Ok(ms)
}

fn tag(t: XTag) -> Result<(String, String), ConfigError> {
    let key = t.key.ok_or(ConfigError::MalformedXml)?;
    let value = t.value.unwrap_or_default();
    let n = key.chars().count();
    if n == 0 || n > MAX_TAG_KEY_CHARS {
        return Err(ConfigError::InvalidArgument(
            "The TagKey you have provided is invalid".into(),
        ));
    }
    if value.chars().count() > MAX_TAG_VALUE_CHARS {
        return Err(ConfigError::InvalidArgument(
            "The TagValue you have provided is invalid".into(),
        ));
    }
    Ok((key, value))
}

impl XFilter {
    fn validate(self) -> Result<Filter, ConfigError> {
        let given = [
            self.prefix.is_some(),
            self.tag.is_some(),
            self.and.is_some(),
            self.size_gt.is_some() || self.size_lt.is_some(),
        ];
        // One of Prefix, Tag, And or the size bounds (both bounds need And in AWS's
        // schema, but AWS accepts one alone).
        if given.iter().filter(|g| **g).count() > 1
            || (self.size_gt.is_some() && self.size_lt.is_some())
        {
            return Err(ConfigError::MalformedXml);
        }
        let mut f = Filter {
            shape: FilterShape::Empty,
            prefix: String::new(),
            tags: Vec::new(),
            size_gt: size(&self.size_gt, "ObjectSizeGreaterThan")?,
            size_lt: size(&self.size_lt, "ObjectSizeLessThan")?,
        };
        if f.size_gt.is_some() || f.size_lt.is_some() {
            f.shape = FilterShape::Size;
        }
        if let Some(p) = self.prefix {
            f.shape = FilterShape::Prefix;
            f.prefix = p;
        }
        if let Some(t) = self.tag {
            f.shape = FilterShape::Tag;
            f.tags.push(tag(t)?);
        }
        if let Some(and) = self.and {
            f.shape = FilterShape::And;
            f.prefix = and.prefix.unwrap_or_default();
            f.size_gt = size(&and.size_gt, "ObjectSizeGreaterThan")?;
            f.size_lt = size(&and.size_lt, "ObjectSizeLessThan")?;
            for t in and.tags {
                let t = tag(t)?;
                if f.tags.iter().any(|(k, _)| *k == t.0) {
                    return Err(invalid("Duplicate Tag Keys are not allowed."));
                }
                f.tags.push(t);
            }
        }
        if let (Some(gt), Some(lt)) = (f.size_gt, f.size_lt) {
            if gt >= lt {
                return Err(invalid(
                    "ObjectSizeGreaterThan must be less than ObjectSizeLessThan",
                ));
            }
        }
        Ok(f)
    }
}

impl XRule {
    fn validate(self, index: usize) -> Result<Rule, ConfigError> {
        let id = match self.id {
            Some(id) if id.chars().count() > MAX_ID_CHARS => {
                return Err(invalid("ID length should not exceed allowed limit of 255"));
            }
            Some(id) if !id.is_empty() => id,
            // AWS makes up an ID; a stable one keeps a re-PUT of the same document equal.
            _ => format!("rule-{}", index + 1),
        };
        let enabled = match self.status.as_deref() {
            Some("Enabled") => true,
            Some("Disabled") => false,
            _ => return Err(ConfigError::MalformedXml),
        };
        if !self.transitions.is_empty() || !self.noncurrent_transitions.is_empty() {
            return Err(ConfigError::NotImplemented(
                "Transition actions are not implemented: Cairn has a single storage class".into(),
            ));
        }
        let filter = match (self.filter, self.prefix) {
            (Some(_), Some(_)) | (None, None) => return Err(ConfigError::MalformedXml),
            (Some(f), None) => f.validate()?,
            (None, Some(p)) => Filter {
                shape: FilterShape::Legacy,
                prefix: p,
                tags: Vec::new(),
                size_gt: None,
                size_lt: None,
            },
        };
        let expiration = match self.expiration {
            None => None,
            Some(e) => Some(match (e.days, e.date, e.delete_marker) {
                (Some(d), None, None) => Expiration::Days(positive(
                    &d,
                    "'Days' for Expiration action must be a positive integer",
                )?),
                (None, Some(d), None) => Expiration::Date(midnight(&d)?),
                (None, None, Some(m)) => match m.trim() {
                    "true" => Expiration::DeleteMarker(true),
                    "false" => Expiration::DeleteMarker(false),
                    _ => return Err(ConfigError::MalformedXml),
                },
                (None, None, None) => return Err(ConfigError::MalformedXml),
                (_, _, Some(_)) => {
                    return Err(invalid(
                        "ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy",
                    ));
                }
                _ => return Err(ConfigError::MalformedXml),
            }),
        };
        let noncurrent = match self.noncurrent {
            None => None,
            Some(n) => {
                let days = positive(
                    n.days.as_deref().ok_or(ConfigError::MalformedXml)?,
                    "'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
                )?;
                let newer_versions = match n.newer.as_deref() {
                    None => None,
                    Some(t) => {
                        let msg = "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be a positive integer";
                        let v = positive(t, msg)?;
                        if v > MAX_NEWER_NONCURRENT {
                            return Err(invalid(
                                "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must not exceed 100",
                            ));
                        }
                        Some(v)
                    }
                };
                Some(NoncurrentExpiration {
                    days,
                    newer_versions,
                })
            }
        };
        let abort_upload_days = match self.abort {
            None => None,
            Some(a) => Some(positive(
                a.days.as_deref().ok_or(ConfigError::MalformedXml)?,
                "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer",
            )?),
        };
        if expiration.is_none() && noncurrent.is_none() && abort_upload_days.is_none() {
            return Err(ConfigError::InvalidRequest(
                "At least one action needs to be specified in a rule".into(),
            ));
        }
        if !filter.tags.is_empty() {
            if abort_upload_days.is_some() {
                return Err(invalid(
                    "AbortIncompleteMultipartUpload cannot be specified with Tags.",
                ));
            }
            if matches!(expiration, Some(Expiration::DeleteMarker(true))) {
                return Err(invalid(
                    "ExpiredObjectDeleteMarker cannot be specified with Tags.",
                ));
            }
        }
        Ok(Rule {
            id,
            enabled,
            filter,
            expiration,
            noncurrent,
            abort_upload_days,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(rules: &str) -> String {
        format!(
            "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{rules}</LifecycleConfiguration>"
        )
    }

    fn parse(rules: &str) -> Result<LifecycleConfig, ConfigError> {
        LifecycleConfig::parse_xml(doc(rules).as_bytes())
    }

    fn one(rule: &str) -> Rule {
        let c = parse(&format!("<Rule>{rule}</Rule>")).unwrap_or_else(|e| panic!("{rule}: {e:?}"));
        c.rules.into_iter().next().unwrap()
    }

    fn err(rule: &str) -> ConfigError {
        parse(&format!("<Rule>{rule}</Rule>")).expect_err(rule)
    }

    #[test]
    fn every_shape_of_rule_parses() {
        let r = one(
            "<ID>logs</ID><Filter><Prefix>logs/</Prefix></Filter><Status>Enabled</Status>\
             <Expiration><Days>30</Days></Expiration>",
        );
        assert_eq!(r.id, "logs");
        assert!(r.enabled);
        assert_eq!(r.filter.shape, FilterShape::Prefix);
        assert_eq!(r.filter.prefix, "logs/");
        assert_eq!(r.expiration, Some(Expiration::Days(30)));

        let r = one(
            "<Prefix>old/</Prefix><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration>",
        );
        assert_eq!(r.filter.shape, FilterShape::Legacy);
        assert!(!r.enabled);
        assert_eq!(r.expiration, Some(Expiration::Date(1_893_456_000_000)));
        assert_eq!(r.id, "rule-1");

        let r = one(
            "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration>",
        );
        assert_eq!(r.filter.shape, FilterShape::Tag);
        assert_eq!(r.filter.tags, vec![("k".to_string(), "v".to_string())]);

        let r = one(
            "<Filter><And><Prefix>p/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag>\
             <Tag><Key>b</Key><Value></Value></Tag><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan>\
             <ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>\
             <NoncurrentVersionExpiration><NoncurrentDays>3</NoncurrentDays>\
             <NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration>",
        );
        assert_eq!(r.filter.shape, FilterShape::And);
        assert_eq!(r.filter.prefix, "p/");
        assert_eq!(r.filter.tags.len(), 2);
        assert_eq!((r.filter.size_gt, r.filter.size_lt), (Some(10), Some(100)));
        assert_eq!(
            r.noncurrent,
            Some(NoncurrentExpiration {
                days: 3,
                newer_versions: Some(2)
            })
        );

        let r = one(
            "<Filter><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></Filter><Status>Enabled</Status><Expiration><Days>2</Days></Expiration>",
        );
        assert_eq!(r.filter.shape, FilterShape::Size);
        assert_eq!(r.filter.size_gt, Some(5));

        let r = one(
            "<Filter></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>7</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
        );
        assert_eq!(r.filter.shape, FilterShape::Empty);
        assert_eq!(r.expiration, Some(Expiration::DeleteMarker(true)));
        assert_eq!(r.abort_upload_days, Some(7));

        let r = one(
            "<Filter/><Status>Enabled</Status><Expiration><Date>2031-05-06</Date></Expiration>",
        );
        assert!(matches!(r.expiration, Some(Expiration::Date(_))));
    }

    #[test]
    fn stored_form_round_trips() {
        let c = parse(
            "<Rule><ID>a</ID><Prefix></Prefix><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>\
             <Rule><ID>b</ID><Filter><Prefix>x</Prefix></Filter><Status>Enabled</Status>\
             <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
        )
        .unwrap();
        let stored = c.to_stored().unwrap();
        assert_eq!(LifecycleConfig::from_stored(Some(&stored)), Some(c.clone()));
        assert!(c.acts_on_versions() && !c.acts_on_uploads());
        assert_eq!(LifecycleConfig::from_stored(Some(&"{".to_string())), None);
    }

    #[test]
    fn aws_errors() {
        let ok_action = "<Expiration><Days>1</Days></Expiration>";
        let arg = |s: &str| ConfigError::InvalidArgument(s.to_string());
        let cases: Vec<(String, ConfigError)> = vec![
            (
                "<Filter/><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>".into(),
                arg("'Days' for Expiration action must be a positive integer"),
            ),
            (
                "<Filter/><Status>Enabled</Status><Expiration><Days>-4</Days></Expiration>".into(),
                arg("'Days' for Expiration action must be a positive integer"),
            ),
            (
                "<Filter/><Status>Enabled</Status><Expiration><Days>soon</Days></Expiration>".into(),
                ConfigError::MalformedXml,
            ),
            (
                "<Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration>".into(),
                ConfigError::MalformedXml,
            ),
            (
                "<Filter/><Status>Enabled</Status><Expiration></Expiration>".into(),
                ConfigError::MalformedXml,
            ),
            (
                "<Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T10:00:00Z</Date></Expiration>".into(),
                arg("'Date' must be at midnight GMT"),
            ),
            (
                "<Filter/><Status>Enabled</Status><Expiration><Days>3</Days><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>".into(),
                arg("ExpiredObjectDeleteMarker cannot be specified with Days or Date in a Lifecycle Expiration Policy"),
            ),
            (
                "<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>0</NoncurrentDays></NoncurrentVersionExpiration>".into(),
                arg("'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer"),
            ),
            (
                "<Filter/><Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays><NewerNoncurrentVersions>101</NewerNoncurrentVersions></NoncurrentVersionExpiration>".into(),
                arg("'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must not exceed 100"),
            ),
            (
                "<Filter/><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>0</DaysAfterInitiation></AbortIncompleteMultipartUpload>".into(),
                arg("'DaysAfterInitiation' for AbortIncompleteMultipartUpload action must be a positive integer"),
            ),
            (
                "<Filter/><Status>Enabled</Status>".into(),
                ConfigError::InvalidRequest("At least one action needs to be specified in a rule".into()),
            ),
            (format!("<Filter/><Status>On</Status>{ok_action}"), ConfigError::MalformedXml),
            (format!("<Filter/>{ok_action}"), ConfigError::MalformedXml),
            (format!("<Status>Enabled</Status>{ok_action}"), ConfigError::MalformedXml),
            (
                format!("<Prefix>a</Prefix><Filter/><Status>Enabled</Status>{ok_action}"),
                ConfigError::MalformedXml,
            ),
            (
                format!("<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status>{ok_action}"),
                ConfigError::MalformedXml,
            ),
            (
                format!("<ID>{}</ID><Filter/><Status>Enabled</Status>{ok_action}", "x".repeat(256)),
                arg("ID length should not exceed allowed limit of 255"),
            ),
            (
                format!("<Filter><And><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan><ObjectSizeLessThan>100</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>{ok_action}"),
                arg("ObjectSizeGreaterThan must be less than ObjectSizeLessThan"),
            ),
            (
                format!("<Filter><And><Tag><Key>k</Key><Value>1</Value></Tag><Tag><Key>k</Key><Value>2</Value></Tag></And></Filter><Status>Enabled</Status>{ok_action}"),
                arg("Duplicate Tag Keys are not allowed."),
            ),
            (
                "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter><Status>Enabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation></AbortIncompleteMultipartUpload>".into(),
                arg("AbortIncompleteMultipartUpload cannot be specified with Tags."),
            ),
            (
                format!("<Filter/><Status>Enabled</Status>{ok_action}<Transition><Days>30</Days><StorageClass>GLACIER</StorageClass></Transition>"),
                ConfigError::NotImplemented("Transition actions are not implemented: Cairn has a single storage class".into()),
            ),
        ];
        for (rule, want) in cases {
            assert_eq!(err(&rule), want, "{rule}");
        }
        // Whole-document errors.
        assert_eq!(parse("").unwrap_err(), ConfigError::MalformedXml);
        assert_eq!(
            LifecycleConfig::parse_xml(b"not xml").unwrap_err(),
            ConfigError::MalformedXml
        );
        let dup = format!(
            "<Rule><ID>x</ID><Filter/><Status>Enabled</Status>{ok_action}</Rule><Rule><ID>x</ID><Filter/><Status>Enabled</Status>{ok_action}</Rule>"
        );
        assert_eq!(
            parse(&dup).unwrap_err(),
            arg("Rule ID must be unique. Found same ID for more than one rule")
        );
        let many: String = (0..1001)
            .map(|i| {
                format!("<Rule><ID>r{i}</ID><Filter/><Status>Enabled</Status>{ok_action}</Rule>")
            })
            .collect();
        assert!(matches!(
            parse(&many).unwrap_err(),
            ConfigError::InvalidArgument(_)
        ));
        let thousand: String = (0..1000)
            .map(|i| {
                format!("<Rule><ID>r{i}</ID><Filter/><Status>Enabled</Status>{ok_action}</Rule>")
            })
            .collect();
        assert_eq!(parse(&thousand).unwrap().rules.len(), 1000);
    }
}
