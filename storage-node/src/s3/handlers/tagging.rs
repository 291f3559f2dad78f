//! Tags: Put/Get/DeleteObjectTagging, Put/Get/DeleteBucketTagging and the `x-amz-tagging`
//! header on PutObject, CopyObject (`x-amz-tagging-directive`) and
//! CreateMultipartUpload, as the S3 API reference documents them. An object's tags live
//! in a reserved stored header ([`OBJECT_TAGS_HEADER`], URL-encoded as the header sends
//! them, never returned; GET and HEAD say `x-amz-tagging-count`); changing them is a
//! metadata-only change of the version the request names (`versionId`; the latest by
//! default). A bucket's live in its configuration
//! record ([`BUCKET_TAGS_CONFIG`]). Policies see an object's tags as
//! `s3:ExistingObjectTag/<key>` (s3/authorize.rs).

use super::super::error::{S3Error, S3Result};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use http::{Response, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Reserved stored header holding an object's tags.
pub const OBJECT_TAGS_HEADER: &str = "x-cairn-internal-tags";
/// Name of a bucket's tags in its configuration record.
pub const BUCKET_TAGS_CONFIG: &str = "tagging";
/// AWS's limits: 10 tags per object, 50 per bucket; keys of 1 to 128 characters,
/// values of up to 256.
const MAX_OBJECT_TAGS: usize = 10;
const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// What stays unescaped in the stored form (RFC 3986 unreserved).
pub(crate) const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Tags in the order they were given; keys are unique.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tags(pub Vec<(String, String)>);

fn invalid_tag(message: impl Into<String>) -> S3Error {
    S3Error::new("InvalidTag", StatusCode::BAD_REQUEST, message)
}

impl Tags {
    /// Checks AWS's rules; `for_bucket` allows 50 tags instead of 10.
    fn validate(&self, for_bucket: bool) -> S3Result<()> {
        let max = if for_bucket {
            MAX_BUCKET_TAGS
        } else {
            MAX_OBJECT_TAGS
        };
        if self.0.len() > max {
            return Err(invalid_tag(format!(
                "Object tags cannot be greater than {max}"
            )));
        }
        let mut seen = std::collections::HashSet::new();
        for (k, v) in &self.0 {
            let n = k.chars().count();
            if n == 0 || n > MAX_KEY_CHARS {
                return Err(invalid_tag("The TagKey you have provided is invalid"));
            }
            if v.chars().count() > MAX_VALUE_CHARS {
                return Err(invalid_tag("The TagValue you have provided is invalid"));
            }
            if k.starts_with("aws:") {
                return Err(invalid_tag("Your TagKey cannot be prefixed with aws:"));
            }
            if !seen.insert(k.as_str()) {
                return Err(invalid_tag(
                    "Cannot provide multiple Tags with the same key",
                ));
            }
        }
        Ok(())
    }

    /// The `x-amz-tagging` header's form (`k1=v1&k2=v2`, URL-encoded).
    pub fn parse_header(v: &str) -> S3Result<Self> {
        let mut tags = Vec::new();
        for pair in v.split('&').filter(|p| !p.is_empty()) {
            let (k, val) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8()
                    .map(|c| c.into_owned())
                    .map_err(|_| invalid_tag("The tag is not valid UTF-8"))
            };
            tags.push((decode(k)?, decode(val)?));
        }
        let tags = Self(tags);
        tags.validate(false)?;
        Ok(tags)
    }

    /// A `Tagging` document.
    pub(crate) fn parse_xml(body: &[u8], for_bucket: bool) -> S3Result<Self> {
        let doc: XTagging = xml::parse(body)?;
        let tags = Self(
            doc.tag_set
                .tags
                .into_iter()
                .map(|t| (t.key, t.value.unwrap_or_default()))
                .collect(),
        );
        tags.validate(for_bucket)?;
        Ok(tags)
    }

    /// The stored form; `None` when there are no tags (nothing is stored).
    pub fn to_stored(&self) -> Option<String> {
        if self.0.is_empty() {
            return None;
        }
        Some(
            self.0
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        utf8_percent_encode(k, UNRESERVED),
                        utf8_percent_encode(v, UNRESERVED)
                    )
                })
                .collect::<Vec<_>>()
                .join("&"),
        )
    }

    /// Stored tags; unreadable ones count as none.
    pub fn from_stored(s: Option<&String>) -> Self {
        s.and_then(|s| Self::parse_header(s).ok())
            .unwrap_or_default()
    }

    /// An object's tags, from its stored headers.
    pub fn of_object(headers: &BTreeMap<String, String>) -> Self {
        Self::from_stored(headers.get(OBJECT_TAGS_HEADER))
    }

    /// Records these tags in an object's stored headers (replacing older ones).
    pub fn store_on_object(&self, headers: &mut BTreeMap<String, String>) {
        headers.remove(OBJECT_TAGS_HEADER);
        if let Some(v) = self.to_stored() {
            headers.insert(OBJECT_TAGS_HEADER.to_string(), v);
        }
    }

    fn to_xml(&self) -> String {
        let mut w = XmlWriter::new("Tagging");
        w.open("TagSet");
        for (k, v) in &self.0 {
            w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
        }
        w.close("TagSet");
        w.finish("Tagging")
    }
}

#[derive(Deserialize)]
struct XTagging {
    #[serde(rename = "TagSet")]
    tag_set: XTagSet,
}

#[derive(Deserialize)]
struct XTagSet {
    #[serde(rename = "Tag", default)]
    tags: Vec<XTag>,
}

#[derive(Deserialize)]
struct XTag {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: Option<String>,
}

/// The tags a write request sets through `x-amz-tagging`, if it carries the header.
pub fn requested(req: &S3Request) -> S3Result<Option<Tags>> {
    req.header("x-amz-tagging")
        .map(Tags::parse_header)
        .transpose()
}

/// The tags of a copy: the source's (`x-amz-tagging-directive: COPY`, the default) or
/// the request's (`REPLACE`).
pub fn for_copy(req: &S3Request, source: &BTreeMap<String, String>) -> S3Result<Tags> {
    match req.header("x-amz-tagging-directive").map(str::trim) {
        None | Some("COPY") => Ok(Tags::of_object(source)),
        Some("REPLACE") => Ok(requested(req)?.unwrap_or_default()),
        Some(_) => Err(S3Error::invalid_argument(
            "Unknown tagging directive; use COPY or REPLACE",
        )),
    }
}

/// The `versionId` a tagging request names (the latest version when `None`).
fn version(req: &S3Request) -> Option<String> {
    req.query.get("versionId").map(str::to_string)
}

/// `x-amz-version-id` of a tagging answer: the version it read or changed.
async fn with_version(
    s: &S3Service,
    mut r: Response<RespBody>,
    bucket: &str,
    version_id: &str,
) -> S3Result<Response<RespBody>> {
    let versioning = s.objects.versioning(bucket).await?;
    super::object::version_header(r.headers_mut(), versioning, version_id);
    Ok(r)
}

pub async fn get_object(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let info = s
        .objects
        .version_info(bucket, req.key()?, version(req).as_deref())
        .await?;
    let r = xml_response(StatusCode::OK, Tags::of_object(&info.headers).to_xml());
    with_version(s, r, bucket, &info.version_id).await
}

/// Replaces the tags of the version the request names (the latest when none): a
/// metadata-only change under the key's commit lock, the data stays.
async fn set_object(
    s: &S3Service,
    req: &S3Request,
    tags: Tags,
    status: StatusCode,
) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let info = s
        .objects
        .update_version(bucket, req.key()?, version(req).as_deref(), |m| {
            let before = m.headers.get(OBJECT_TAGS_HEADER).cloned();
            tags.store_on_object(&mut m.headers);
            Ok(m.headers.get(OBJECT_TAGS_HEADER) != before.as_ref())
        })
        .await?;
    with_version(s, empty(status), bucket, &info.version_id).await
}

pub async fn put_object(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let tags = Tags::parse_xml(&body, false)?;
    set_object(s, req, tags, StatusCode::OK).await
}

pub async fn delete_object(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    set_object(s, req, Tags::default(), StatusCode::NO_CONTENT).await
}

pub async fn get_bucket(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    match meta.config.get(BUCKET_TAGS_CONFIG) {
        Some(stored) => Ok(xml_response(
            StatusCode::OK,
            Tags::from_stored(Some(stored)).to_xml(),
        )),
        None => Err(S3Error::new(
            "NoSuchTagSet",
            StatusCode::NOT_FOUND,
            "The TagSet does not exist",
        )
        .with("BucketName", bucket)),
    }
}

pub async fn put_bucket(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let tags = Tags::parse_xml(&body, true)?;
    s.set_bucket_config(&bucket, BUCKET_TAGS_CONFIG, tags.to_stored())
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn delete_bucket(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    s.set_bucket_config(&bucket, BUCKET_TAGS_CONFIG, None)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_xml_and_stored_forms_round_trip() {
        let t = Tags::parse_header("project=matrix&a%20b=c%26d&empty=").unwrap();
        assert_eq!(
            t.0,
            vec![
                ("project".into(), "matrix".into()),
                ("a b".into(), "c&d".into()),
                ("empty".into(), String::new()),
            ]
        );
        assert_eq!(Tags::from_stored(t.to_stored().as_ref()), t);
        let back = Tags::parse_xml(t.to_xml().as_bytes(), false).unwrap();
        assert_eq!(back, t);
        assert_eq!(Tags::default().to_stored(), None);
    }

    #[test]
    fn aws_rules_are_enforced() {
        let many: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
        for bad in [
            many.join("&"),
            "aws:x=1".to_string(),
            "k=1&k=2".to_string(),
            format!("{}=v", "k".repeat(129)),
            format!("k={}", "v".repeat(257)),
            "=v".to_string(),
        ] {
            let e = Tags::parse_header(&bad).unwrap_err();
            assert_eq!(e.code, "InvalidTag", "{bad}");
        }
        let fifty: String = (0..50)
            .map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>"))
            .collect();
        let doc = format!("<Tagging><TagSet>{fifty}</TagSet></Tagging>");
        assert!(Tags::parse_xml(doc.as_bytes(), true).is_ok());
        assert!(Tags::parse_xml(doc.as_bytes(), false).is_err());
        assert_eq!(
            Tags::parse_xml(b"<Tagging>", false).unwrap_err().code,
            "MalformedXML"
        );
    }
}
