//! The POST policy of a browser form upload (PostObject): the base64 JSON document that
//! says until when the form may be used and what its fields may hold, and the signature
//! over it that stands in for a signed request.
//!
//! Rules as the S3 documentation states them ("Creating a POST policy"):
//! - `expiration` (ISO 8601) must be in the future;
//! - every condition must hold: `{"field": "value"}` and `["eq", "$field", "value"]`
//!   match exactly, `["starts-with", "$field", "prefix"]` by prefix (for `Content-Type`
//!   each comma-separated value must), `["content-length-range", min, max]` bounds the
//!   file's size;
//! - every form field but `policy`, `file`, the signature fields and `x-ignore-*` must be
//!   named by a condition, so a form cannot carry a field its signer did not allow.
//!
//! Field names are compared case-insensitively, values exactly.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Why a POST policy refuses a form: each is S3's `AccessDenied` with this message,
/// except where [`PolicyError::s3_code`] says otherwise.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("Invalid Policy: {0}")]
    Malformed(String),
    #[error("Invalid according to Policy: Policy expired.")]
    Expired,
    #[error("Invalid according to Policy: Policy Condition failed: {0}")]
    ConditionFailed(String),
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraField(String),
}

impl PolicyError {
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedPOSTRequest",
            _ => "AccessDenied",
        }
    }
}

/// One condition of the policy.
#[derive(Debug, Clone, PartialEq)]
enum Condition {
    /// `field` (lower case) equals `value`.
    Eq { field: String, value: String },
    /// `field` starts with `prefix`.
    StartsWith { field: String, prefix: String },
    /// The file is `min..=max` bytes.
    LengthRange { min: u64, max: u64 },
}

/// A parsed policy document.
#[derive(Debug, Clone)]
pub struct PostPolicy {
    expiration: DateTime<Utc>,
    conditions: Vec<Condition>,
}

/// Fields no condition needs to name.
fn exempt(field: &str) -> bool {
    matches!(
        field,
        "policy" | "file" | "x-amz-signature" | "signature" | "awsaccesskeyid"
    ) || field.starts_with("x-ignore-")
}

/// `"$key"` → `key`.
fn field_name(v: &Value) -> Result<String, PolicyError> {
    let s = v
        .as_str()
        .ok_or_else(|| PolicyError::Malformed("a condition's field must be a string".into()))?;
    let name = s.strip_prefix('$').ok_or_else(|| {
        PolicyError::Malformed(format!(
            "the field {s:?} of a condition must start with '$'"
        ))
    })?;
    Ok(name.to_ascii_lowercase())
}

fn number(v: &Value) -> Result<u64, PolicyError> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| {
        PolicyError::Malformed("content-length-range bounds must be non-negative integers".into())
    })
}

fn text(v: &Value) -> Result<String, PolicyError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError::Malformed(
            "condition values must be strings".into(),
        )),
    }
}

impl PostPolicy {
    /// Parses the JSON document (already base64-decoded).
    pub fn parse(json: &[u8]) -> Result<Self, PolicyError> {
        let doc: Value = serde_json::from_slice(json)
            .map_err(|e| PolicyError::Malformed(format!("the policy is not JSON: {e}")))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| PolicyError::Malformed("expiration is required".into()))?;
        let expiration = DateTime::parse_from_rfc3339(expiration)
            .map_err(|_| {
                PolicyError::Malformed(format!("expiration {expiration:?} is not an ISO 8601 time"))
            })?
            .with_timezone(&Utc);
        let list = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| PolicyError::Malformed("conditions must be a list".into()))?;
        let mut conditions = Vec::with_capacity(list.len());
        for c in list {
            match c {
                Value::Object(map) => {
                    for (k, v) in map {
                        conditions.push(Condition::Eq {
                            field: k.trim_start_matches('$').to_ascii_lowercase(),
                            value: text(v)?,
                        });
                    }
                }
                Value::Array(items) => {
                    let op = items.first().and_then(Value::as_str).unwrap_or("");
                    match (op.to_ascii_lowercase().as_str(), items.len()) {
                        ("eq", 3) => conditions.push(Condition::Eq {
                            field: field_name(&items[1])?,
                            value: text(&items[2])?,
                        }),
                        ("starts-with", 3) => conditions.push(Condition::StartsWith {
                            field: field_name(&items[1])?,
                            prefix: text(&items[2])?,
                        }),
                        ("content-length-range", 3) => {
                            let (min, max) = (number(&items[1])?, number(&items[2])?);
                            conditions.push(Condition::LengthRange { min, max });
                        }
                        _ => {
                            return Err(PolicyError::Malformed(format!("unknown condition {c}")));
                        }
                    }
                }
                _ => {
                    return Err(PolicyError::Malformed(format!(
                        "a condition must be an object or a list: {c}"
                    )));
                }
            }
        }
        Ok(Self {
            expiration,
            conditions,
        })
    }

    /// Checks the form's fields (lower-case names; `bucket` and the final `key`
    /// included) at `now`.
    pub fn check(
        &self,
        fields: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), PolicyError> {
        if now >= self.expiration {
            return Err(PolicyError::Expired);
        }
        let value = |name: &str| {
            fields
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        for c in &self.conditions {
            let ok = match c {
                Condition::Eq { field, value: want } => value(field) == Some(want.as_str()),
                Condition::StartsWith { field, prefix } => match value(field) {
                    Some(v) if field == "content-type" => v
                        .split(',')
                        .all(|part| part.trim().starts_with(prefix.as_str())),
                    Some(v) => v.starts_with(prefix.as_str()),
                    None => false,
                },
                Condition::LengthRange { .. } => true,
            };
            if !ok {
                return Err(PolicyError::ConditionFailed(describe(c)));
            }
        }
        for (name, _) in fields {
            let named = self.conditions.iter().any(|c| match c {
                Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => field == name,
                Condition::LengthRange { .. } => false,
            });
            if !named && !exempt(name) && name != "bucket" {
                return Err(PolicyError::ExtraField(name.clone()));
            }
        }
        Ok(())
    }

    /// The file's size bounds, when the policy sets them (the tightest of several).
    pub fn length_range(&self) -> Option<(u64, u64)> {
        self.conditions
            .iter()
            .filter_map(|c| match c {
                Condition::LengthRange { min, max } => Some((*min, *max)),
                _ => None,
            })
            .reduce(|(a, b), (c, d)| (a.max(c), b.min(d)))
    }
}

fn describe(c: &Condition) -> String {
    match c {
        Condition::Eq { field, value } => format!("[\"eq\", \"${field}\", \"{value}\"]"),
        Condition::StartsWith { field, prefix } => {
            format!("[\"starts-with\", \"${field}\", \"{prefix}\"]")
        }
        Condition::LengthRange { min, max } => {
            format!("[\"content-length-range\", {min}, {max}]")
        }
    }
}

/// The parts of a SigV4 `x-amz-credential` field: `AK/date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key: String,
    pub date: String,
    pub region: String,
    pub service: String,
}

impl Credential {
    pub fn parse(v: &str) -> Result<Self, PolicyError> {
        let bad = || PolicyError::Malformed(format!("invalid x-amz-credential {v:?}"));
        // The access key may itself not contain '/', the other four parts never do.
        let mut it = v.rsplitn(5, '/');
        let terminator = it.next().ok_or_else(bad)?;
        let service = it.next().ok_or_else(bad)?;
        let region = it.next().ok_or_else(bad)?;
        let date = it.next().ok_or_else(bad)?;
        let access_key = it.next().ok_or_else(bad)?;
        if terminator != "aws4_request"
            || service != "s3"
            || date.len() != 8
            || access_key.is_empty()
        {
            return Err(bad());
        }
        Ok(Self {
            access_key: access_key.into(),
            date: date.into(),
            region: region.into(),
            service: service.into(),
        })
    }
}

/// Whether `signature` (hex) is the SigV4 signature of `policy_b64` under `secret`.
/// Compared in constant time (hmac's `verify_slice`), so timing tells nothing about
/// how much of a forged signature was right.
pub fn sigv4_matches(secret: &str, cred: &Credential, policy_b64: &str, signature: &str) -> bool {
    use hmac::Mac;
    let key = super::auth::sigv4::signing_key(secret, &cred.date, &cred.region, &cred.service);
    let (Ok(sig), Ok(mut mac)) = (
        hex::decode(signature.trim()),
        hmac::Hmac::<sha2::Sha256>::new_from_slice(&key),
    ) else {
        return false;
    };
    mac.update(policy_b64.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

/// Whether `signature` (base64) is the SigV2 signature of `policy_b64` under `secret`,
/// compared in constant time.
pub fn sigv2_matches(secret: &str, policy_b64: &str, signature: &str) -> bool {
    use hmac::Mac;
    let (Ok(sig), Ok(mut mac)) = (
        base64::engine::general_purpose::STANDARD.decode(signature.trim()),
        hmac::Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()),
    ) else {
        return false;
    };
    mac.update(policy_b64.as_bytes());
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 0)
            .single()
            .expect("time")
    }

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const POLICY: &str = r#"{"expiration": "2026-12-08T00:00:00.000Z",
        "conditions": [{"bucket": "photos"}, ["starts-with", "$key", "user/"],
        {"acl": "public-read"}, ["content-length-range", 10, 1048576],
        ["starts-with", "$Content-Type", "image/"], ["eq", "$x-amz-meta-uuid", "14365123651274"]]}"#;

    #[test]
    fn a_form_that_keeps_to_the_policy_passes() {
        let p = PostPolicy::parse(POLICY.as_bytes()).expect("policy");
        let f = fields(&[
            ("bucket", "photos"),
            ("key", "user/cat.jpg"),
            ("acl", "public-read"),
            ("content-type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
            ("x-ignore-anything", "1"),
            ("policy", "..."),
        ]);
        assert_eq!(p.check(&f, now()), Ok(()));
        assert_eq!(p.length_range(), Some((10, 1_048_576)));
    }

    #[test]
    fn each_rule_refuses() {
        let p = PostPolicy::parse(POLICY.as_bytes()).expect("policy");
        let good = [
            ("bucket", "photos"),
            ("key", "user/cat.jpg"),
            ("acl", "public-read"),
            ("content-type", "image/jpeg"),
            ("x-amz-meta-uuid", "14365123651274"),
        ];
        let later = Utc
            .with_ymd_and_hms(2026, 12, 8, 0, 0, 0)
            .single()
            .expect("t");
        assert_eq!(p.check(&fields(&good), later), Err(PolicyError::Expired));
        let mut wrong_key = good;
        wrong_key[1] = ("key", "admin/cat.jpg");
        assert!(matches!(
            p.check(&fields(&wrong_key), now()),
            Err(PolicyError::ConditionFailed(m)) if m.contains("$key")
        ));
        let mut two_types = good;
        two_types[3] = ("content-type", "image/png, text/html");
        assert!(p.check(&fields(&two_types), now()).is_err());
        let missing: Vec<_> = good.iter().filter(|(k, _)| *k != "acl").copied().collect();
        assert!(p.check(&fields(&missing), now()).is_err());
        let mut extra = fields(&good);
        extra.push(("x-amz-meta-other".into(), "1".into()));
        assert_eq!(
            p.check(&extra, now()),
            Err(PolicyError::ExtraField("x-amz-meta-other".into()))
        );
    }

    #[test]
    fn malformed_policies() {
        for doc in [
            "not json",
            r#"{"conditions": []}"#,
            r#"{"expiration": "tomorrow", "conditions": []}"#,
            r#"{"expiration": "2026-12-08T00:00:00Z", "conditions": [["in", "$key", "a"]]}"#,
            r#"{"expiration": "2026-12-08T00:00:00Z", "conditions": [["eq", "key", "a"]]}"#,
            r#"{"expiration": "2026-12-08T00:00:00Z", "conditions": [["content-length-range", -1, 5]]}"#,
            r#"{"expiration": "2026-12-08T00:00:00Z", "conditions": [7]}"#,
        ] {
            assert!(
                matches!(
                    PostPolicy::parse(doc.as_bytes()),
                    Err(PolicyError::Malformed(_))
                ),
                "{doc}"
            );
        }
    }

    #[test]
    fn credentials_and_signatures() {
        let c = Credential::parse("AKID/20261207/us-east-1/s3/aws4_request").expect("cred");
        assert_eq!(c.access_key, "AKID");
        assert_eq!(c.region, "us-east-1");
        assert!(Credential::parse("AKID/20261207/us-east-1/iam/aws4_request").is_err());
        assert!(Credential::parse("20261207/us-east-1/s3/aws4_request").is_err());
        // AWS's documented example (POST upload with SigV4, "Example: Browser-Based
        // Upload using HTTP POST"): its policy and signature under its example secret.
        let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let cred = Credential::parse("AKIAIOSFODNN7EXAMPLE/20151229/us-east-1/s3/aws4_request")
            .expect("cred");
        let policy = "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAgICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAidXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25fcmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxfdXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQogICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRlLWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAiIl0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMtZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEyNTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9";
        let sig = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e";
        assert!(sigv4_matches(secret, &cred, policy, sig));
        assert!(!sigv4_matches("other", &cred, policy, sig));
        let v2 = super::super::auth::sigv2::sign(secret, policy.as_bytes());
        assert!(sigv2_matches(secret, policy, &v2));
        assert!(!sigv2_matches(secret, "x", &v2));
    }
}
