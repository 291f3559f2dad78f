//! Multipart upload operations.

use super::super::checksum::{ChecksumAlgorithm, Expectations, VerifyingStream};
use super::super::error::{S3Error, S3Result};
use super::super::headers::{self, iso_date, quoted};
use super::super::multipart_checksum::{self as mpc, ChecksumType, PartChecksum};
use super::super::owner::Owner;
use super::super::sse::{self, Opening, request as sse_request};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use super::object::{
    check_declared_size, content_md5, open_copy_source, read_plain, seal_with, sealing_for_write,
};
use crate::crypto::record::Stored;
use crate::objects::multipart::{PartRecord, UploadRecord};
use crate::objects::{ObjectError, ObjectResult, PutOptions};
use http::{HeaderValue, Response, StatusCode};
use std::collections::{BTreeMap, HashMap};

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
    let checksum = upload_checksum(req)?;
    let lock = super::object_lock::for_write(s, req, &bucket, &key).await?;
    // The upload's object key is made now and recorded with the upload: every part is
    // sealed under it (SSE-C: each UploadPart sends the same customer key again).
    let sealing = sealing_for_write(s, req, &bucket, &key).await?;
    if let Some(sl) = &sealing {
        sl.stored.store(&mut headers);
    }
    let id = s
        .objects
        .new_multipart(
            &bucket,
            &key,
            headers,
            checksum.map(|(a, t)| (a.name().to_ascii_lowercase(), t.name().to_string())),
            lock,
        )
        .await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("UploadId", &id);
    let mut r = xml_response(StatusCode::OK, w.finish("InitiateMultipartUploadResult"));
    if let Some((algo, ty)) = checksum {
        let h = r.headers_mut();
        h.insert(
            "x-amz-checksum-algorithm",
            HeaderValue::from_static(algo.name()),
        );
        h.insert("x-amz-checksum-type", HeaderValue::from_static(ty.name()));
    }
    if let Some(sl) = &sealing {
        sse::response_headers(r.headers_mut(), &sl.stored, sl.customer_md5.as_deref());
    }
    Ok(r)
}

/// The object checksum a CreateMultipartUpload asks for: `x-amz-checksum-algorithm` and
/// `x-amz-checksum-type` (which needs the algorithm); S3's default type when only the
/// algorithm is named.
fn upload_checksum(req: &S3Request) -> S3Result<Option<(ChecksumAlgorithm, ChecksumType)>> {
    let algo = req
        .header("x-amz-checksum-algorithm")
        .map(ChecksumAlgorithm::parse)
        .transpose()
        .map_err(|e| S3Error::invalid_request(e.message()))?;
    let ty = req
        .header("x-amz-checksum-type")
        .map(ChecksumType::parse)
        .transpose()
        .map_err(|e| S3Error::invalid_request(e.to_string()))?;
    match (algo, ty) {
        (None, None) => Ok(None),
        (None, Some(_)) => Err(S3Error::invalid_request(
            "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
        )),
        (Some(a), ty) => {
            let ty = ty.unwrap_or(ChecksumType::default_for(a));
            ty.check(a)
                .map_err(|e| S3Error::invalid_request(e.to_string()))?;
            Ok(Some((a, ty)))
        }
    }
}

/// The checksum algorithm an upload was created with, if any.
fn record_algorithm(rec: &UploadRecord) -> S3Result<Option<ChecksumAlgorithm>> {
    rec.checksum_algorithm
        .as_deref()
        .map(ChecksumAlgorithm::parse)
        .transpose()
        .map_err(|e| S3Error::internal(format!("upload record: {}", e.message())))
}

/// The object checksum type of an upload with `algo`; records from before the type was
/// recorded get S3's default.
fn record_type(rec: &UploadRecord, algo: ChecksumAlgorithm) -> ChecksumType {
    rec.checksum_type
        .as_deref()
        .and_then(|t| ChecksumType::parse(t).ok())
        .unwrap_or(ChecksumType::default_for(algo))
}

/// The key that seals the parts of an encrypted upload; SSE-C needs the request's key.
async fn upload_opening(
    s: &S3Service,
    req: &S3Request,
    bucket: &str,
    key: &str,
    rec: &UploadRecord,
) -> S3Result<Option<Opening>> {
    let customer = sse_request::request_customer_key(&req.headers)?;
    match Stored::from_headers(&rec.headers)? {
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
    let rec = s.objects.upload_record(&bucket, &key, &id).await?;
    let opening = upload_opening(s, req, &bucket, &key, &rec).await?;
    let body = req.take_part_body(record_algorithm(&rec)?)?;
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
    let (source_bucket, _, source_version) = headers::copy_source(&req.headers)?;
    let source_version_id = reader.info.version_id.clone();
    let rec = s.objects.upload_record(&bucket, &key, &id).await?;
    let opening = upload_opening(s, req, &bucket, &key, &rec).await?;
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
    // The upload's algorithm is computed over the copied bytes, as for an UploadPart.
    let stream = match record_algorithm(&rec)? {
        Some(algo) => {
            let expect = Expectations {
                requested: Some(algo),
                ..Default::default()
            };
            let verifying = VerifyingStream::new(stream, expect);
            opts.checksums = Some(verifying.computed());
            Box::pin(verifying)
        }
        None => stream,
    };
    let stream = seal_part(opening.as_ref(), stream, number, &mut opts)?;
    let part = s
        .objects
        .put_part(&bucket, &key, &id, number, stream, opts)
        .await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", &iso_date(part.mod_time_ms))
        .elem("ETag", &quoted(&part.etag));
    for (algo, v) in &part.checksums {
        w.elem(&format!("Checksum{}", algo.to_ascii_uppercase()), v);
    }
    let mut r = xml_response(StatusCode::OK, w.finish("CopyPartResult"));
    part_sse_headers(&mut r, opening.as_ref());
    super::object::source_version_header(
        s,
        &mut r,
        &source_bucket,
        source_version.as_deref(),
        &source_version_id,
    )
    .await?;
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
        if let Some(algo) = record_algorithm(&rec)? {
            w.elem("ChecksumType", record_type(&rec, algo).name());
        }
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
    let declared = DeclaredChecksums::take(req)?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let doc: xml::CompleteMultipartUpload = xml::parse(&body)?;
    if doc.parts.len() > crate::objects::multipart::MAX_PART_NUMBER as usize {
        return Err(S3Error::malformed_xml());
    }
    let mut part_checksums: HashMap<u32, Vec<(ChecksumAlgorithm, String)>> = HashMap::new();
    let mut parts = Vec::with_capacity(doc.parts.len());
    for p in doc.parts {
        part_checksums.insert(p.part_number, p.checksums());
        parts.push((p.part_number, p.etag));
    }
    let stored = Stored::from_headers(&s.objects.upload_headers(&bucket, &key, &id).await?)?;
    let content_size = stored
        .is_some()
        .then_some(sse::body::content_size as crate::objects::multipart::ContentSize);
    let object_checksums = |rec: &UploadRecord, chosen: &[PartRecord]| {
        declared.object_checksums(rec, chosen, &part_checksums, content_size)
    };
    let info = s
        .objects
        .complete_multipart(
            &bucket,
            &key,
            &id,
            &parts,
            crate::objects::multipart::CompleteOptions {
                condition: condition.as_ref(),
                content_size,
                object_checksums: &object_checksums,
            },
        )
        .await?;
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    w.elem("Location", &format!("/{bucket}/{key}"))
        .elem("Bucket", &bucket)
        .elem("Key", &key)
        .elem("ETag", &quoted(&info.etag));
    for (algo, v) in &info.checksums {
        w.elem(&format!("Checksum{}", algo.to_ascii_uppercase()), v);
    }
    if let Some(v) = info.checksums.values().next() {
        w.elem("ChecksumType", ChecksumType::of_value(v).name());
    }
    let mut r = xml_response(StatusCode::OK, w.finish("CompleteMultipartUploadResult"));
    let versioning = s.objects.versioning(&bucket).await?;
    super::object::version_header(r.headers_mut(), versioning, &info.version_id);
    if let Some(st) = &stored {
        let md5 = sse_request::request_customer_key(&req.headers)?.map(|c| c.key_md5);
        sse::response_headers(r.headers_mut(), st, md5.as_deref());
    }
    Ok(r)
}

/// What a CompleteMultipartUpload request says about the object's checksum: a value in
/// `x-amz-checksum-<algo>` and the type in `x-amz-checksum-type`. They describe the object,
/// not the request's XML body, so they are taken out before the body is read.
struct DeclaredChecksums {
    value: Option<(ChecksumAlgorithm, String)>,
    ty: Option<ChecksumType>,
}

impl DeclaredChecksums {
    fn take(req: &mut S3Request) -> S3Result<Self> {
        let mut value = None;
        for algo in ChecksumAlgorithm::ALL {
            if let Some(v) = req.headers.remove(algo.header_name()) {
                let v = v.to_str().map_err(|_| {
                    S3Error::invalid_request(format!(
                        "Value for {} header is invalid.",
                        algo.header_name()
                    ))
                })?;
                if value.replace((algo, v.trim().to_string())).is_some() {
                    return Err(S3Error::invalid_request(
                        "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
                    ));
                }
            }
        }
        let ty = req
            .header("x-amz-checksum-type")
            .map(ChecksumType::parse)
            .transpose()
            .map_err(|e| S3Error::invalid_request(e.to_string()))?;
        Ok(Self { value, ty })
    }

    /// The object checksums of an upload completed from `chosen`, checking the part
    /// checksums the client listed against the stored ones and the declared object
    /// checksum against the computed one.
    fn object_checksums(
        &self,
        rec: &UploadRecord,
        chosen: &[PartRecord],
        listed: &HashMap<u32, Vec<(ChecksumAlgorithm, String)>>,
        content_size: Option<crate::objects::multipart::ContentSize>,
    ) -> ObjectResult<BTreeMap<String, String>> {
        for p in chosen {
            for (algo, v) in listed.get(&p.number).into_iter().flatten() {
                let name = algo.name().to_ascii_lowercase();
                if p.checksums.get(&name).map(|s| s.trim()) != Some(v.trim()) {
                    return Err(ObjectError::InvalidPart(format!(
                        "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag. Part {} has no matching {} checksum.",
                        p.number,
                        algo.name()
                    )));
                }
            }
        }
        let bad = |m: String| ObjectError::InvalidRequest(m);
        let algo = record_algorithm(rec).map_err(|e| ObjectError::Internal(e.message))?;
        let Some(algo) = algo else {
            if let Some((a, _)) = &self.value {
                return Err(bad(format!(
                    "The upload was created without a checksum algorithm; the {} checksum cannot be checked.",
                    a.name().to_ascii_lowercase()
                )));
            }
            return Ok(BTreeMap::new());
        };
        let ty = record_type(rec, algo);
        if self.ty.is_some_and(|t| t != ty) {
            return Err(bad(format!(
                "The upload was created using the {} checksum mode. The complete request must use the same checksum mode.",
                ty.name()
            )));
        }
        let mut parts = Vec::with_capacity(chosen.len());
        for p in chosen {
            let name = algo.name().to_ascii_lowercase();
            let value = p.checksums.get(&name).ok_or_else(|| {
                bad(format!(
                    "The upload was created using a {name} checksum. The complete request must include the checksum for each part. It was missing for part {} in the request.",
                    p.number
                ))
            })?;
            let size = content_size
                .map_or(Some(p.size), |of| of(p.size))
                .unwrap_or(p.size);
            parts.push(PartChecksum {
                number: p.number,
                value,
                size,
            });
        }
        let value = mpc::object_checksum(algo, ty, &parts).map_err(|e| bad(e.to_string()))?;
        if let Some((a, v)) = &self.value {
            if *a != algo {
                return Err(bad(format!(
                    "Checksum Type mismatch occurred, expected checksum Type: {}, actual checksum Type: {}",
                    algo.name().to_ascii_lowercase(),
                    a.name().to_ascii_lowercase()
                )));
            }
            if v != &value {
                let e = super::super::checksum::ChecksumError::ChecksumMismatch(algo);
                return Err(ObjectError::Body(std::io::Error::other(e)));
            }
        }
        Ok(BTreeMap::from([(algo.name().to_ascii_lowercase(), value)]))
    }
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
