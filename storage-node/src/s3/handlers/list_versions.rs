//! ListObjectVersions (`GET /bucket?versions`): every version and delete marker under a
//! prefix, paged by `key-marker` and `version-id-marker` as S3 pages it.

use super::super::error::{S3Error, S3Result};
use super::super::headers::{iso_date, quoted};
use super::super::owner::Owner;
use super::super::xml::XmlWriter;
use super::super::{RespBody, S3Request, S3Service, xml_response};
use super::list::{encoding, max_keys};
use crate::objects::list_versions::VersionParams;
use http::{Response, StatusCode};

pub async fn list(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let enc = encoding(req)?;
    let max = max_keys(req, "max-keys")?;
    let q = |name: &str| req.query.get(name).unwrap_or("").to_string();
    let p = VersionParams {
        prefix: q("prefix"),
        delimiter: req
            .query
            .get("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        key_marker: q("key-marker"),
        version_id_marker: q("version-id-marker"),
        max_keys: max,
    };
    if !p.version_id_marker.is_empty() && p.key_marker.is_empty() {
        return Err(S3Error::invalid_argument(
            "A version-id marker cannot be specified without a key marker.",
        ));
    }
    let bucket = req.bucket()?.to_string();
    let r = s.objects.list_versions(&bucket, &p).await?;
    let mut w = XmlWriter::new("ListVersionsResult");
    w.elem("Name", &bucket)
        .elem("Prefix", &enc.s(&p.prefix))
        .elem("KeyMarker", &enc.s(&p.key_marker))
        .elem("VersionIdMarker", &p.version_id_marker)
        .elem("MaxKeys", &max.to_string());
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc.s(d));
    }
    if enc.0 {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if r.truncated { "true" } else { "false" });
    if r.truncated {
        if let Some(k) = &r.next_key_marker {
            w.elem("NextKeyMarker", &enc.s(k));
        }
        if let Some(v) = &r.next_version_id_marker {
            w.elem("NextVersionIdMarker", v);
        }
    }
    for v in &r.versions {
        let m = &v.meta;
        let tag = if m.delete_marker {
            "DeleteMarker"
        } else {
            "Version"
        };
        w.open(tag)
            .elem("Key", &enc.s(&v.key))
            .elem("VersionId", m.s3_version_id())
            .elem("IsLatest", if v.is_latest { "true" } else { "false" })
            .elem("LastModified", &iso_date(m.mod_time_ms));
        if !m.delete_marker {
            w.elem("ETag", &quoted(&m.etag))
                .elem("Size", &m.content_size().to_string())
                .elem("StorageClass", "STANDARD");
        }
        Owner::of_object(&m.headers).write(&mut w, "Owner");
        w.close(tag);
    }
    for prefix in &r.prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", &enc.s(prefix))
            .close("CommonPrefixes");
    }
    Ok(xml_response(StatusCode::OK, w.finish("ListVersionsResult")))
}
