//! GetObjectAttributes: what `x-amz-object-attributes` asks for of an object, without its
//! body: ETag, Checksum, ObjectParts (paginated with `x-amz-max-parts` and
//! `x-amz-part-number-marker`; multipart objects only, as in S3), StorageClass and
//! ObjectSize. An SSE-C object needs its key, as for HEAD.

use super::super::error::{S3Error, S3Result};
use super::super::headers::http_date;
use super::super::multipart_checksum::ChecksumType;
use super::super::sse::request as sse_request;
use super::super::xml::XmlWriter;
use super::super::{RespBody, S3Request, S3Service, xml_response};
use super::object::{client_parts, opening_for_read};
use http::{HeaderValue, Response, StatusCode};

const ATTRIBUTES: [&str; 5] = [
    "ETag",
    "Checksum",
    "ObjectParts",
    "StorageClass",
    "ObjectSize",
];
const MAX_PARTS: usize = 1000;

/// The attributes asked for, in S3's spelling; unknown names are refused.
fn requested(req: &S3Request) -> S3Result<Vec<&'static str>> {
    let raw: Vec<&str> = req
        .headers
        .get_all("x-amz-object-attributes")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    if raw.is_empty() {
        return Err(S3Error::invalid_argument(
            "The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty",
        ));
    }
    let mut out = Vec::new();
    for name in raw {
        let known = ATTRIBUTES
            .iter()
            .find(|a| a.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                S3Error::invalid_argument(format!("Invalid attribute name specified: {name}"))
            })?;
        if !out.contains(known) {
            out.push(*known);
        }
    }
    Ok(out)
}

fn number(req: &S3Request, name: &str, default: usize) -> S3Result<usize> {
    match req.header(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|_| {
            S3Error::invalid_argument(format!("{name} must be a non-negative integer"))
        }),
    }
}

pub async fn get(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let wanted = requested(req)?;
    let max_parts = number(req, "x-amz-max-parts", MAX_PARTS)?.min(MAX_PARTS);
    let marker = number(req, "x-amz-part-number-marker", 0)?;
    let customer = sse_request::request_customer_key(&req.headers)?;
    let version = req.query.get("versionId").map(str::to_string);
    let reader = s
        .objects
        .open_version(&bucket, &key, version.as_deref())
        .await?;
    let info = reader.info.clone();
    drop(reader);
    let opening = opening_for_read(s, &info, customer.as_ref()).await?;
    let mut w = XmlWriter::new("GetObjectAttributesOutput");
    for attr in &wanted {
        match *attr {
            "ETag" => {
                w.elem("ETag", &info.etag);
            }
            "Checksum" if !info.checksums.is_empty() => {
                w.open("Checksum");
                for (algo, v) in &info.checksums {
                    w.elem(&format!("Checksum{}", algo.to_ascii_uppercase()), v);
                }
                if let Some(v) = info.checksums.values().next() {
                    w.elem("ChecksumType", ChecksumType::of_value(v).name());
                }
                w.close("Checksum");
            }
            "ObjectParts" if info.is_multipart() => {
                let parts = client_parts(&info, opening.as_ref())?;
                let after: Vec<&(u32, u64)> =
                    parts.iter().filter(|(n, _)| *n as usize > marker).collect();
                let page = &after[..after.len().min(max_parts)];
                let truncated = after.len() > page.len();
                w.open("ObjectParts")
                    .elem("PartNumberMarker", &marker.to_string())
                    .elem("MaxParts", &max_parts.to_string())
                    .elem("IsTruncated", if truncated { "true" } else { "false" });
                if let Some((last, _)) = page.last() {
                    w.elem("NextPartNumberMarker", &last.to_string());
                }
                w.elem("PartsCount", &parts.len().to_string());
                for (n, size) in page {
                    w.open("Part")
                        .elem("PartNumber", &n.to_string())
                        .elem("Size", &size.to_string());
                    for (algo, v) in info.part_checksums.get(n).into_iter().flatten() {
                        w.elem(&format!("Checksum{}", algo.to_ascii_uppercase()), v);
                    }
                    w.close("Part");
                }
                w.close("ObjectParts");
            }
            "StorageClass" => {
                w.elem("StorageClass", "STANDARD");
            }
            "ObjectSize" => {
                w.elem("ObjectSize", &info.size.to_string());
            }
            _ => {}
        }
    }
    let mut r = xml_response(StatusCode::OK, w.finish("GetObjectAttributesOutput"));
    if let Ok(v) = HeaderValue::from_str(&http_date(info.mod_time_ms)) {
        r.headers_mut().insert(http::header::LAST_MODIFIED, v);
    }
    let versioning = s.objects.versioning(&bucket).await?;
    super::object::version_header(r.headers_mut(), versioning, &info.version_id);
    if let Some(o) = &opening {
        super::super::sse::response_headers(r.headers_mut(), &o.stored, o.customer_md5.as_deref());
    }
    Ok(r)
}
