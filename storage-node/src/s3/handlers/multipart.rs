//! Multipart upload operations.

use super::super::error::{S3Error, S3Result};
use super::super::headers::{self, iso_date, quoted};
use super::super::owner::Owner;
use super::super::sse::{self, Opening, request as sse_request};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use super::object::{
    check_declared_size, content_md5, open_copy_source, read_plain, seal_with, sealing_for_write,
};
use crate::crypto::record::Stored;
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
    let lock = super::object_lock::for_write(s, req, &bucket, &key).await?;
    let algo = req
        .header("x-amz-checksum-algorithm")
        .map(|a| a.to_ascii_lowercase());
    // The upload's object key is made now and recorded with the upload: every part is
    // sealed under it (SSE-C: each UploadPart sends the same customer key again).
    let sealing = sealing_for_write(s, req, &bucket, &key).await?;
    if let Some(sl) = &sealing {
        sl.stored.store(&mut headers);
    }
    let id = s
        .objects
        .new_multipart(&bucket, &key, headers, algo, lock)
        .await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("UploadId", &id);
    let mut r = xml_response(StatusCode::OK, w.finish("InitiateMultipartUploadResult"));
    if let Some(sl) = &sealing {
        sse::response_headers(r.headers_mut(), &sl.stored, sl.customer_md5.as_deref());
    }
    Ok(r)
}

/// The key that seals the parts of an encrypted upload; SSE-C needs the request's key.
async fn upload_opening(
    s: &S3Service,
    req: &S3Request,
    bucket: &str,
    key: &str,
    id: &str,
) -> S3Result<Option<Opening>> {
    let customer = sse_request::request_customer_key(&req.headers)?;
    let headers = s.objects.upload_headers(bucket, key, id).await?;
    match Stored::from_headers(&headers)? {
        Some(st) => Ok(Some(s.sse.open(&st, customer.as_ref(), bucket, key).await?)),
        None if customer.is_some() => Err(S3Error::invalid_request(
            "The encryption parameters are not applicable to this upload.",
        )),
        None => Ok(None),
    }
}

/// Seals a part's body when its upload is encrypted.
fn seal_part(
    opening: Option<&Opening>,
    body: crate::objects::BodyStream,
    number: u32,
    opts: &mut PutOptions,
) -> S3Result<crate::objects::BodyStream> {
    match opening {
        Some(o) => seal_with(&o.key, sse::masks_etag(&o.stored), body, number, opts),
        None => Ok(body),
    }
}

fn part_sse_headers(r: &mut Response<RespBody>, opening: Option<&Opening>) {
    if let Some(o) = opening {
        sse::response_headers(r.headers_mut(), &o.stored, o.customer_md5.as_deref());
    }
}

pub async fn upload_part(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let (id, number) = (upload_id(req)?, part_number(req)?);
    check_declared_size(req, MAX_PART_SIZE)?;
    let expected_md5 = content_md5(req)?;
    let opening = upload_opening(s, req, &bucket, &key, &id).await?;
    let body = req.take_body()?;
    let mut opts = PutOptions {
        checksums: Some(body.checksums),
        expected_md5,
        ..Default::default()
    };
    let stream = seal_part(opening.as_ref(), body.stream, number, &mut opts)?;
    let part = s
        .objects
        .put_part(&bucket, &key, &id, number, stream, opts)
        .await?;
    let mut r = empty(StatusCode::OK);
    part_sse_headers(&mut r, opening.as_ref());
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
    let (reader, source_opening) = open_copy_source(s, req).await?;
    let opening = upload_opening(s, req, &bucket, &key, &id).await?;
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
        read_plain(reader, source_opening.as_ref(), range).await?
    };
    let mut opts = PutOptions::default();
    let stream = seal_part(opening.as_ref(), stream, number, &mut opts)?;
    let part = s
        .objects
        .put_part(&bucket, &key, &id, number, stream, opts)
        .await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", &iso_date(part.mod_time_ms))
        .elem("ETag", &quoted(&part.etag));
    let mut r = xml_response(StatusCode::OK, w.finish("CopyPartResult"));
    part_sse_headers(&mut r, opening.as_ref());
    Ok(r)
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
    let encrypted = Stored::from_headers(&rec.headers)?.is_some();
    for p in &parts {
        // Encrypted parts are stored longer than the client sent them.
        let size = match encrypted {
            true => sse::body::content_size(p.size).unwrap_or(p.size),
            false => p.size,
        };
        w.open("Part")
            .elem("PartNumber", &p.number.to_string())
            .elem("LastModified", &iso_date(p.mod_time_ms))
            .elem("ETag", &quoted(&p.etag))
            .elem("Size", &size.to_string());
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
    let stored = Stored::from_headers(&s.objects.upload_headers(&bucket, &key, &id).await?)?;
    let content_size = stored
        .is_some()
        .then_some(sse::body::content_size as crate::objects::multipart::ContentSize);
    let info = s
        .objects
        .complete_multipart(&bucket, &key, &id, &parts, condition.as_ref(), content_size)
        .await?;
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"))
        .elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("ETag", &quoted(&info.etag));
    let mut r = xml_response(StatusCode::OK, w.finish("CompleteMultipartUploadResult"));
    let versioning = s.objects.versioning(&bucket).await?;
    super::object::version_header(r.headers_mut(), versioning, &info.version_id);
    if let Some(st) = &stored {
        let md5 = sse_request::request_customer_key(&req.headers)?.map(|c| c.key_md5);
        sse::response_headers(r.headers_mut(), st, md5.as_deref());
    }
    Ok(r)
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
