//! Multipart upload operations.

use super::super::error::{S3Error, S3Result};
use super::super::headers::{self, iso_date, quoted};
use super::super::owner::Owner;
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use super::object::{check_declared_size, content_md5, open_copy_source};
use crate::objects::PutOptions;
use http::{HeaderValue, Response, StatusCode};
use std::collections::BTreeMap;

/// S3's largest part.
const MAX_PART_SIZE: u64 = 5 << 30;

fn upload_id(req: &S3Request) -> S3Result<String> {
    req.query
        .get("uploadId")
        .map(str::to_string)
        .ok_or_else(|| S3Error::invalid_argument("uploadId is required"))
}

fn part_number(req: &S3Request) -> S3Result<u32> {
    req.query
        .get("partNumber")
        .and_then(|v| v.parse::<u32>().ok())
        .filter(|n| (1..=crate::objects::multipart::MAX_PART_NUMBER).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

pub async fn create(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let mut headers = headers::stored_headers(&req.headers)?;
    let acl = super::acl::requested(s, req, &bucket).await?;
    super::acl::store_on_object(&mut headers, acl.as_ref());
    super::acl::stamp_owner(&mut headers, req);
    if let Some(tags) = super::tagging::requested(req)? {
        tags.store_on_object(&mut headers);
    }
    let algo = req
        .header("x-amz-checksum-algorithm")
        .map(|a| a.to_ascii_lowercase());
    let id = s
        .objects
        .new_multipart(&bucket, &key, headers, algo)
        .await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("UploadId", &id);
    Ok(xml_response(
        StatusCode::OK,
        w.finish("InitiateMultipartUploadResult"),
    ))
}

pub async fn upload_part(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let (id, number) = (upload_id(req)?, part_number(req)?);
    check_declared_size(req, MAX_PART_SIZE)?;
    let expected_md5 = content_md5(req)?;
    let body = req.take_body()?;
    let part = s
        .objects
        .put_part(
            &bucket,
            &key,
            &id,
            number,
            body.stream,
            PutOptions {
                headers: Default::default(),
                checksums: Some(body.checksums),
                expected_md5,
                condition: None,
            },
        )
        .await?;
    let mut r = empty(StatusCode::OK);
    if let Ok(v) = HeaderValue::from_str(&quoted(&part.etag)) {
        r.headers_mut().insert(http::header::ETAG, v);
    }
    for (algo, v) in &part.checksums {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(format!("x-amz-checksum-{algo}").as_bytes()),
            HeaderValue::from_str(v),
        ) {
            r.headers_mut().insert(n, v);
        }
    }
    Ok(r)
}

pub async fn upload_part_copy(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let (id, number) = (upload_id(req)?, part_number(req)?);
    let reader = open_copy_source(s, req).await?;
    let size = reader.info.size;
    let range = match req.header("x-amz-copy-source-range") {
        None => None,
        Some(v) => {
            let spec = headers::parse_range(v).ok_or_else(|| {
                S3Error::invalid_argument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last",
                )
            })?;
            let (a, b) = headers::resolve_range(spec, size)?;
            if let headers::RangeSpec::FromTo(_, Some(end)) = spec {
                if end >= size {
                    return Err(S3Error::new(
                        "InvalidRange",
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "The requested range is not satisfiable",
                    ));
                }
            }
            Some((a, b))
        }
    };
    let len = range.map_or(size, |(a, b)| b - a + 1);
    if len > MAX_PART_SIZE {
        return Err(crate::objects::ObjectError::EntityTooLarge.into());
    }
    let stream = if len == 0 {
        Box::pin(futures::stream::empty()) as crate::objects::BodyStream
    } else {
        reader.stream(range).await?
    };
    let part = s
        .objects
        .put_part(&bucket, &key, &id, number, stream, PutOptions::default())
        .await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", &iso_date(part.mod_time_ms))
        .elem("ETag", &quoted(&part.etag));
    Ok(xml_response(StatusCode::OK, w.finish("CopyPartResult")))
}

/// The initiator and owner of an upload: whoever created it.
fn owners(w: &mut XmlWriter, headers: &BTreeMap<String, String>) {
    let o = Owner::of_object(headers);
    o.write(w, "Initiator");
    o.write(w, "Owner");
}

pub async fn list_parts(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key, id) = (
        req.bucket()?.to_string(),
        req.key()?.to_string(),
        upload_id(req)?,
    );
    let marker: u32 = match req.query.get("part-number-marker") {
        None => 0,
        Some(v) => v
            .parse()
            .map_err(|_| S3Error::invalid_argument("part-number-marker must be an integer"))?,
    };
    let max: usize = match req.query.get("max-parts") {
        None => 1000,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| S3Error::invalid_argument("max-parts must be an integer"))?
            .min(1000),
    };
    let (rec, parts, truncated) = s
        .objects
        .list_parts(&bucket, &key, &id, marker, max)
        .await?;
    let mut w = XmlWriter::new("ListPartsResult");
    w.elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("UploadId", &id);
    owners(&mut w, &rec.headers);
    w.elem("StorageClass", "STANDARD")
        .elem("PartNumberMarker", &marker.to_string());
    if let Some(last) = parts.last() {
        w.elem("NextPartNumberMarker", &last.number.to_string());
    }
    w.elem("MaxParts", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    if let Some(a) = &rec.checksum_algorithm {
        w.elem("ChecksumAlgorithm", &a.to_ascii_uppercase());
    }
    for p in &parts {
        w.open("Part")
            .elem("PartNumber", &p.number.to_string())
            .elem("LastModified", &iso_date(p.mod_time_ms))
            .elem("ETag", &quoted(&p.etag))
            .elem("Size", &p.size.to_string());
        for (algo, v) in &p.checksums {
            w.elem(&format!("Checksum{}", algo.to_ascii_uppercase()), v);
        }
        w.close("Part");
    }
    Ok(xml_response(StatusCode::OK, w.finish("ListPartsResult")))
}

pub async fn complete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key, id) = (
        req.bucket()?.to_string(),
        req.key()?.to_string(),
        upload_id(req)?,
    );
    let condition = headers::write_condition(&req.headers)?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let doc: xml::CompleteMultipartUpload = xml::parse(&body)?;
    if doc.parts.len() > crate::objects::multipart::MAX_PART_NUMBER as usize {
        return Err(S3Error::malformed_xml());
    }
    let parts: Vec<(u32, String)> = doc
        .parts
        .into_iter()
        .map(|p| (p.part_number, p.etag))
        .collect();
    let info = s
        .objects
        .complete_multipart(&bucket, &key, &id, &parts, condition.as_ref())
        .await?;
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"))
        .elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("ETag", &quoted(&info.etag));
    Ok(xml_response(
        StatusCode::OK,
        w.finish("CompleteMultipartUploadResult"),
    ))
}

pub async fn abort(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key, id) = (
        req.bucket()?.to_string(),
        req.key()?.to_string(),
        upload_id(req)?,
    );
    s.objects.abort_multipart(&bucket, &key, &id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn list_uploads(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let prefix = req.query.get("prefix").unwrap_or("").to_string();
    let key_marker = req.query.get("key-marker").unwrap_or("").to_string();
    let id_marker = req.query.get("upload-id-marker").unwrap_or("").to_string();
    let max: usize = match req.query.get("max-uploads") {
        None => 1000,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| S3Error::invalid_argument("max-uploads must be an integer"))?
            .min(1000),
    };
    let (uploads, truncated) = s
        .objects
        .list_uploads(&bucket, &prefix, &key_marker, &id_marker, max)
        .await?;
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", &bucket)
        .elem("KeyMarker", &key_marker)
        .elem("UploadIdMarker", &id_marker)
        .elem("Prefix", &prefix);
    if let Some(last) = uploads.last() {
        w.elem("NextKeyMarker", &last.key)
            .elem("NextUploadIdMarker", &last.upload_id);
    }
    w.elem("MaxUploads", &max.to_string())
        .elem("IsTruncated", if truncated { "true" } else { "false" });
    for u in &uploads {
        w.open("Upload")
            .elem("Key", &u.key)
            .elem("UploadId", &u.upload_id);
        owners(&mut w, &u.headers);
        w.elem("StorageClass", "STANDARD")
            .elem("Initiated", &iso_date(u.initiated_ms))
            .close("Upload");
    }
    Ok(xml_response(
        StatusCode::OK,
        w.finish("ListMultipartUploadsResult"),
    ))
}
