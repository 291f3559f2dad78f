//! Bucket lifecycle on the wire, as the S3 API reference documents it:
//! Put/Get/DeleteBucketLifecycleConfiguration (the rules themselves, their validation
//! and the worker that applies them are in `crate::lifecycle`; here they are read from
//! and written back to XML and stored in the bucket record under
//! [`LIFECYCLE_CONFIG`]), and the `x-amz-expiration` header on the answers of PUT, GET
//! and HEAD of an object a rule will expire. The header reads the rules from the
//! per-bucket settings cache the permission check has already filled
//! (`authorize::PolicyCache`), so it costs a map lookup per request.

use super::super::error::{S3Error, S3Result};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use crate::lifecycle::LIFECYCLE_CONFIG;
use crate::lifecycle::config::{ConfigError, Expiration, FilterShape, LifecycleConfig, Rule};
use crate::lifecycle::eval;
use crate::objects::ObjectInfo;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

/// The S3 error of a refused configuration.
fn s3_error(e: ConfigError) -> S3Error {
    match e {
        ConfigError::MalformedXml => S3Error::malformed_xml(),
        ConfigError::InvalidArgument(m) => S3Error::invalid_argument(m),
        ConfigError::InvalidRequest(m) => S3Error::invalid_request(m),
        ConfigError::NotImplemented(m) => {
            S3Error::new("NotImplemented", StatusCode::NOT_IMPLEMENTED, m)
        }
    }
}

fn no_configuration(bucket: &str) -> S3Error {
    S3Error::new(
        "NoSuchLifecycleConfiguration",
        StatusCode::NOT_FOUND,
        "The lifecycle configuration does not exist",
    )
    .with("BucketName", bucket)
}

pub async fn get(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    match LifecycleConfig::from_stored(meta.config.get(LIFECYCLE_CONFIG)) {
        Some(c) => Ok(xml_response(StatusCode::OK, to_xml(&c))),
        None => Err(no_configuration(bucket)),
    }
}

pub async fn put(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let config = LifecycleConfig::parse_xml(&body).map_err(s3_error)?;
    let stored = config
        .to_stored()
        .map_err(|e| S3Error::internal(format!("cannot store the lifecycle rules: {e}")))?;
    s.set_bucket_config(&bucket, LIFECYCLE_CONFIG, Some(stored))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn delete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.objects.require_bucket(&bucket).await?;
    s.set_bucket_config(&bucket, LIFECYCLE_CONFIG, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// Adds `x-amz-expiration` for the current version `info` when a rule will expire it.
pub async fn expiration_header(s: &S3Service, info: &ObjectInfo, headers: &mut HeaderMap) {
    let auth = s.policies.auth(s, &info.bucket).await;
    let Some(config) = auth.lifecycle.as_deref() else {
        return;
    };
    let tags = eval::tags_of(&info.headers);
    let value = eval::expiration_header(
        config,
        &info.key,
        info.size,
        &tags,
        info.mod_time_ms,
        s.lifecycle_day_ms,
    );
    if let Some(v) = value.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert("x-amz-expiration", v);
    }
}

fn filter_xml(w: &mut XmlWriter, r: &Rule) {
    let f = &r.filter;
    let sizes = |w: &mut XmlWriter| {
        if let Some(gt) = f.size_gt {
            w.elem("ObjectSizeGreaterThan", &gt.to_string());
        }
        if let Some(lt) = f.size_lt {
            w.elem("ObjectSizeLessThan", &lt.to_string());
        }
    };
    let tag = |w: &mut XmlWriter, k: &str, v: &str| {
        w.open("Tag").elem("Key", k).elem("Value", v).close("Tag");
    };
    match f.shape {
        FilterShape::Legacy => {
            w.elem("Prefix", &f.prefix);
        }
        FilterShape::Empty => {
            w.open("Filter").close("Filter");
        }
        FilterShape::Prefix => {
            w.open("Filter").elem("Prefix", &f.prefix).close("Filter");
        }
        FilterShape::Tag => {
            w.open("Filter");
            for (k, v) in &f.tags {
                tag(w, k, v);
            }
            w.close("Filter");
        }
        FilterShape::Size => {
            w.open("Filter");
            sizes(w);
            w.close("Filter");
        }
        FilterShape::And => {
            w.open("Filter").open("And");
            if !f.prefix.is_empty() {
                w.elem("Prefix", &f.prefix);
            }
            for (k, v) in &f.tags {
                tag(w, k, v);
            }
            sizes(w);
            w.close("And").close("Filter");
        }
    }
}

/// The `LifecycleConfiguration` document of GetBucketLifecycleConfiguration.
fn to_xml(c: &LifecycleConfig) -> String {
    let mut w = XmlWriter::new("LifecycleConfiguration");
    for r in &c.rules {
        w.open("Rule");
        w.elem("ID", &r.id);
        filter_xml(&mut w, r);
        w.elem("Status", if r.enabled { "Enabled" } else { "Disabled" });
        if let Some(e) = r.expiration {
            w.open("Expiration");
            match e {
                Expiration::Days(d) => {
                    w.elem("Days", &d.to_string());
                }
                Expiration::Date(ms) => {
                    let date = chrono::DateTime::from_timestamp_millis(ms)
                        .map(|d| d.format("%Y-%m-%dT%H:%M:%S.000Z").to_string())
                        .unwrap_or_default();
                    w.elem("Date", &date);
                }
                Expiration::DeleteMarker(b) => {
                    w.elem(
                        "ExpiredObjectDeleteMarker",
                        if b { "true" } else { "false" },
                    );
                }
            }
            w.close("Expiration");
        }
        if let Some(n) = r.noncurrent {
            w.open("NoncurrentVersionExpiration");
            w.elem("NoncurrentDays", &n.days.to_string());
            if let Some(k) = n.newer_versions {
                w.elem("NewerNoncurrentVersions", &k.to_string());
            }
            w.close("NoncurrentVersionExpiration");
        }
        if let Some(d) = r.abort_upload_days {
            w.open("AbortIncompleteMultipartUpload")
                .elem("DaysAfterInitiation", &d.to_string())
                .close("AbortIncompleteMultipartUpload");
        }
        w.close("Rule");
    }
    w.finish("LifecycleConfiguration")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_round_trips_every_shape() {
        let doc = br#"<LifecycleConfiguration>
          <Rule><ID>a</ID><Prefix>old/</Prefix><Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule>
          <Rule><ID>b</ID><Filter/><Status>Disabled</Status><Expiration><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule>
          <Rule><ID>c</ID><Filter><Prefix>p</Prefix></Filter><Status>Enabled</Status><Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration>
            <AbortIncompleteMultipartUpload><DaysAfterInitiation>2</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule>
          <Rule><ID>d</ID><Filter><Tag><Key>k</Key><Value>v &amp; w</Value></Tag></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>
          <Rule><ID>e</ID><Filter><ObjectSizeLessThan>9</ObjectSizeLessThan></Filter><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>
          <Rule><ID>f</ID><Filter><And><Prefix>x/</Prefix><Tag><Key>a</Key><Value>1</Value></Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></And></Filter><Status>Enabled</Status>
            <NoncurrentVersionExpiration><NoncurrentDays>4</NoncurrentDays><NewerNoncurrentVersions>3</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>
        </LifecycleConfiguration>"#;
        let c = LifecycleConfig::parse_xml(doc).unwrap();
        let back = to_xml(&c);
        assert!(
            back.contains("<Date>2030-01-01T00:00:00.000Z</Date>"),
            "{back}"
        );
        assert!(
            back.contains("<Rule><ID>a</ID><Prefix>old/</Prefix>"),
            "{back}"
        );
        assert_eq!(LifecycleConfig::parse_xml(back.as_bytes()).unwrap(), c);
    }

    #[test]
    fn the_tag_header_names_agree() {
        assert_eq!(eval::TAGS_HEADER, super::super::tagging::OBJECT_TAGS_HEADER);
    }

    #[test]
    fn errors_map_to_s3_codes() {
        let e = s3_error(ConfigError::InvalidArgument("x".into()));
        assert_eq!(
            (e.code, e.status),
            ("InvalidArgument", StatusCode::BAD_REQUEST)
        );
        assert_eq!(s3_error(ConfigError::MalformedXml).code, "MalformedXML");
        let e = s3_error(ConfigError::NotImplemented("t".into()));
        assert_eq!(e.status, StatusCode::NOT_IMPLEMENTED);
        assert_eq!(
            s3_error(ConfigError::InvalidRequest("r".into())).code,
            "InvalidRequest"
        );
    }
}
