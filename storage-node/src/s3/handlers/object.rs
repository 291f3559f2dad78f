//! Object operations: PUT, GET, HEAD, DELETE, DeleteObjects, CopyObject.

use super::super::authorize;
use super::super::error::{S3Error, S3Result};
use super::super::headers::{self, RangeSpec, iso_date, quoted};
use super::super::multipart_checksum::ChecksumType;
use super::super::sse::{self, Opening, Sealing, request as sse_request};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use crate::crypto::keys::ObjectKey;
use crate::crypto::record::Stored;
use crate::objects::read::ObjectReader;
use crate::objects::set::DeleteOptions;
use crate::objects::versioning::Versioning;
use crate::objects::{BodyStream, ObjectError, ObjectInfo, PutOptions};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use md5::{Digest, Md5};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Largest single PUT, as in S3.
pub const MAX_PUT_SIZE: u64 = 5 << 30;
/// Keys per DeleteObjects request, as in S3.
const MAX_DELETE_KEYS: usize = 1000;

const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

pub fn content_md5(req: &S3Request) -> S3Result<Option<[u8; 16]>> {
    let Some(v) = req.header("content-md5") else {
        return Ok(None);
    };
    let invalid = || {
        S3Error::new(
            "InvalidDigest",
            StatusCode::BAD_REQUEST,
            "The Content-MD5 you specified is not valid.",
        )
    };
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .map_err(|_| invalid())?;
    raw.try_into().map(Some).map_err(|_| invalid())
}

/// Refuses bodies larger than S3 allows before reading them.
pub fn check_declared_size(req: &S3Request, max: u64) -> S3Result<()> {
    for name in ["x-amz-decoded-content-length", "content-length"] {
        if let Some(v) = req.header(name) {
            let n: u64 = v.trim().parse().map_err(|_| {
                S3Error::invalid_argument(format!("{name} must be a non-negative integer"))
            })?;
            if n > max {
                return Err(S3Error::new(
                    "EntityTooLarge",
                    StatusCode::BAD_REQUEST,
                    "Your proposed upload exceeds the maximum allowed object size.",
                )
                .with("ProposedSize", n.to_string())
                .with("MaxSizeAllowed", max.to_string()));
            }
        }
    }
    Ok(())
}

fn set_header(r: &mut Response<RespBody>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        http::HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        r.headers_mut().insert(n, v);
    }
}

fn put_response(info: &ObjectInfo) -> Response<RespBody> {
    let mut r = empty(StatusCode::OK);
    set_header(&mut r, "etag", &quoted(&info.etag));
    for (algo, v) in &info.checksums {
        set_header(&mut r, &format!("x-amz-checksum-{algo}"), v);
    }
    r
}

/// `x-amz-version-id` of a version written, read or deleted in a bucket that has (or
/// had) versioning; unversioned buckets never name versions, as in S3.
pub fn version_header(r: &mut http::HeaderMap, versioning: Versioning, version_id: &str) {
    if versioning != Versioning::Unversioned {
        if let Ok(v) = HeaderValue::from_str(version_id) {
            r.insert("x-amz-version-id", v);
        }
    }
}

/// The `versionId` query parameter of a request, if any.
fn requested_version(req: &S3Request) -> Option<String> {
    req.query.get("versionId").map(str::to_string)
}

pub async fn put(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    if super::snowball::requested(req) {
        return super::snowball::extract(s, req).await;
    }
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    check_declared_size(req, MAX_PUT_SIZE)?;
    let mut headers = headers::stored_headers(&req.headers)?;
    let acl = super::acl::requested(s, req, &bucket).await?;
    super::acl::store_on_object(&mut headers, acl.as_ref());
    super::acl::stamp_owner(&mut headers, req);
    if let Some(tags) = super::tagging::requested(req)? {
        tags.store_on_object(&mut headers);
    }
    let expected_md5 = content_md5(req)?;
    let condition = headers::write_condition(&req.headers)?;
    let lock = super::object_lock::for_write(s, req, &bucket, &key).await?;
    let sealing = sealing_for_write(s, req, &bucket, &key).await?;
    let body = req.take_body()?;
    let mut opts = PutOptions {
        headers,
        checksums: Some(body.checksums),
        expected_md5,
        condition,
        lock,
        ..Default::default()
    };
    let stream = seal_body(sealing.as_ref(), body.stream, 1, &mut opts)?;
    let info = s.objects.put_object(&bucket, &key, stream, opts).await?;
    let mut r = put_response(&info);
    let versioning = s.objects.versioning(&bucket).await?;
    version_header(r.headers_mut(), versioning, &info.version_id);
    super::lifecycle::expiration_header(s, &info, r.headers_mut()).await;
    if let Some(sl) = &sealing {
        sse::response_headers(r.headers_mut(), &sl.stored, sl.customer_md5.as_deref());
    }
    Ok(r)
}

/// The encryption a new object `bucket/key` gets (its request's, else the bucket's
/// default), with a fresh object key.
pub async fn sealing_for_write(
    s: &S3Service,
    req: &S3Request,
    bucket: &str,
    key: &str,
) -> S3Result<Option<Sealing>> {
    match super::bucket_encryption::for_write(s, req, bucket).await? {
        Some(r) => Ok(Some(s.sse.seal_new(&r, bucket, key).await?)),
        None => Ok(None),
    }
}

/// Seals `body` as part `part` when the write is encrypted: records the encryption in
/// the stored headers and lets the object layer take the plaintext's digests and size.
pub fn seal_body(
    sealing: Option<&Sealing>,
    body: BodyStream,
    part: u32,
    opts: &mut PutOptions,
) -> S3Result<BodyStream> {
    let Some(sl) = sealing else {
        return Ok(body);
    };
    sl.stored.store(&mut opts.headers);
    seal_with(&sl.key, sse::masks_etag(&sl.stored), body, part, opts)
}

/// Seals `body` as part `part` under `key` (the object layer gets the plaintext's
/// digests and size mapping; the caller records the encryption).
pub fn seal_with(
    key: &ObjectKey,
    mask_etag: bool,
    body: BodyStream,
    part: u32,
    opts: &mut PutOptions,
) -> S3Result<BodyStream> {
    let (stream, digests) = sse::body::seal(body, key, part, mask_etag)?;
    opts.digests = Some(digests);
    opts.content_size = Some(sse::body::content_size);
    Ok(stream)
}

/// The key an encrypted object's read needs, checked against what the request sends
/// (`customer`: its SSE-C key); `None` for a plain object.
pub async fn opening_for_read(
    s: &S3Service,
    info: &ObjectInfo,
    customer: Option<&sse_request::CustomerKey>,
) -> S3Result<Option<Opening>> {
    match Stored::from_headers(&info.headers)? {
        Some(st) => Ok(Some(
            s.sse.open(&st, customer, &info.bucket, &info.key).await?,
        )),
        None if customer.is_some() => Err(S3Error::invalid_request(
            "The encryption parameters are not applicable to this object.",
        )),
        None => Ok(None),
    }
}

/// The client's bytes `range` of an object, decrypted when it is encrypted.
pub async fn read_plain(
    reader: ObjectReader,
    opening: Option<&Opening>,
    range: Option<(u64, u64)>,
) -> S3Result<BodyStream> {
    match opening {
        Some(o) => sse::body::open(reader, &o.key, range).await,
        None => Ok(reader.stream(range).await?),
    }
}

/// `(part number, size)` of an object's parts as the client sees them.
pub fn client_parts(info: &ObjectInfo, opening: Option<&Opening>) -> S3Result<Vec<(u32, u64)>> {
    match opening {
        Some(_) => crate::crypto::range::plain_parts(&info.parts)
            .map_err(|e| S3Error::internal(e.to_string())),
        None => Ok(info.parts.clone()),
    }
}

pub async fn get(s: &S3Service, req: &mut S3Request, head: bool) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    if req.header(sse_request::SSE).is_some() {
        return Err(S3Error::invalid_argument(
            "x-amz-server-side-encryption is not allowed on reads",
        ));
    }
    let customer = sse_request::request_customer_key(&req.headers)?;
    let version = requested_version(req);
    let reader = s
        .objects
        .open_version(&bucket, &key, version.as_deref())
        .await?;
    let info = reader.info.clone();
    let versioning = s.objects.versioning(&bucket).await?;
    let opening = opening_for_read(s, &info, customer.as_ref()).await?;
    let parts = client_parts(&info, opening.as_ref())?;
    let checksum_mode = req
        .header("x-amz-checksum-mode")
        .is_some_and(|v| v.eq_ignore_ascii_case("enabled"));
    let mut out_headers = headers::object_headers(&info, checksum_mode);
    let mut part_checksums = None;
    if let Err(mut e) = headers::check_conditions(&req.headers, &info, "", true) {
        if e.status == StatusCode::NOT_MODIFIED {
            // A 304 still carries the validators.
            let mut r = empty(StatusCode::NOT_MODIFIED);
            for n in ["etag", "last-modified"] {
                if let Some(v) = out_headers.get(n) {
                    r.headers_mut().insert(n, v.clone());
                }
            }
            return Ok(r);
        }
        e.extra.clear();
        return Err(e);
    }
    let mut range = None;
    if let Some(pn) = req.query.get("partNumber") {
        let n: usize = pn
            .parse()
            .map_err(|_| S3Error::invalid_argument("partNumber must be an integer"))?;
        if n == 0 || n > parts.len() {
            return Err(S3Error::new(
                "InvalidPartNumber",
                StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested partnumber is not satisfiable",
            ));
        }
        let start: u64 = parts[..n - 1].iter().map(|p| p.1).sum();
        let len = parts[n - 1].1;
        // A part read whole has its own checksum, which S3 returns in place of the
        // object's.
        part_checksums = info
            .part_checksums
            .get(&parts[n - 1].0)
            .filter(|_| checksum_mode && info.is_multipart())
            .cloned();
        if len > 0 {
            range = Some(RangeSpec::FromTo(start, Some(start + len - 1)));
        }
    } else if let Some(r) = req.header("range").and_then(headers::parse_range) {
        range = Some(r);
    }
    let resolved = match range {
        Some(r) => Some(headers::resolve_range(r, info.size)?),
        None => None,
    };
    for (q, h) in RESPONSE_OVERRIDES {
        if let Some(v) = req.query.get(q) {
            if let (Ok(v), Ok(n)) = (
                HeaderValue::from_str(v),
                http::HeaderName::from_bytes(h.as_bytes()),
            ) {
                out_headers.insert(n, v);
            }
        }
    }
    let (status, length) = match resolved {
        Some((a, b)) => {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes {a}-{b}/{}", info.size)) {
                out_headers.insert(http::header::CONTENT_RANGE, v);
            }
            // A part of an object has no whole-object checksum.
            out_headers.retain_checksums();
            for (algo, v) in part_checksums.iter().flatten() {
                if let (Ok(n), Ok(v)) = (
                    http::HeaderName::from_bytes(format!("x-amz-checksum-{algo}").as_bytes()),
                    HeaderValue::from_str(v),
                ) {
                    out_headers.insert(n, v);
                }
            }
            (StatusCode::PARTIAL_CONTENT, b - a + 1)
        }
        None => (StatusCode::OK, info.size),
    };
    out_headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
    let named = if version.is_some() {
        Versioning::Enabled
    } else {
        versioning
    };
    version_header(&mut out_headers, named, &info.version_id);
    if version.is_none() {
        super::lifecycle::expiration_header(s, &info, &mut out_headers).await;
    }
    if let Some(o) = &opening {
        sse::response_headers(&mut out_headers, &o.stored, o.customer_md5.as_deref());
    }
    let body: RespBody = if head {
        super::super::full(Bytes::new())
    } else {
        let stream = read_plain(reader, opening.as_ref(), resolved).await?;
        BodyExt::boxed_unsync(StreamBody::new(
            stream.map(|r| r.map(http_body::Frame::data)),
        ))
    };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    *r.headers_mut() = out_headers;
    Ok(r)
}

/// Removes `x-amz-checksum-*` headers (ranged responses).
trait RetainChecksums {
    fn retain_checksums(&mut self);
}

impl RetainChecksums for http::HeaderMap {
    fn retain_checksums(&mut self) {
        let names: Vec<http::HeaderName> = self
            .keys()
            .filter(|k| k.as_str().starts_with("x-amz-checksum-"))
            .cloned()
            .collect();
        for n in names {
            self.remove(n);
        }
    }
}

pub async fn delete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let version = requested_version(req);
    let bypass = DeleteOptions {
        bypass_governance: super::object_lock::bypass_governance(s, req, &bucket, &key).await,
        ..Default::default()
    };
    let outcome = match s
        .objects
        .delete_version_with(&bucket, &key, version.as_deref(), &bypass)
        .await
    {
        Ok(o) => o,
        // A key that cannot exist does not exist: deleting it succeeds, as in S3.
        Err(ObjectError::InvalidKey(_)) => Default::default(),
        Err(e) => return Err(e.into()),
    };
    let mut r = empty(StatusCode::NO_CONTENT);
    if let Some(v) = &outcome.version_id {
        set_header(&mut r, "x-amz-version-id", v);
    }
    if outcome.delete_marker {
        set_header(&mut r, "x-amz-delete-marker", "true");
    }
    Ok(r)
}

pub async fn delete_many(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let expected = content_md5(req)?;
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    if let Some(m) = expected {
        let got: [u8; 16] = Md5::digest(&body).into();
        if got != m {
            return Err(ObjectError::BadDigest.into());
        }
    }
    let doc = xml::Delete::parse(&body)?;
    if doc.objects.is_empty() || doc.objects.len() > MAX_DELETE_KEYS {
        return Err(S3Error::malformed_xml());
    }
    s.objects.require_bucket(&bucket).await?;
    let mut w = XmlWriter::new("DeleteResult");
    let error = |w: &mut XmlWriter, o: &xml::DeleteObject, e: S3Error| {
        w.open("Error").elem("Key", &o.key);
        if let Some(v) = &o.version_id {
            w.elem("VersionId", v);
        }
        w.elem("Code", e.code)
            .elem("Message", &e.message)
            .close("Error");
    };
    for o in &doc.objects {
        let action = match o.version_id {
            Some(_) => "s3:DeleteObjectVersion",
            None => "s3:DeleteObject",
        };
        if !authorize::permitted(s, &req.access, action, &bucket, Some(&o.key)).await {
            error(&mut w, o, S3Error::access_denied());
            continue;
        }
        let bypass = DeleteOptions {
            bypass_governance: super::object_lock::bypass_governance(s, req, &bucket, &o.key).await,
            ..Default::default()
        };
        let outcome = match s
            .objects
            .delete_version_with(&bucket, &o.key, o.version_id.as_deref(), &bypass)
            .await
        {
            Ok(outcome) => outcome,
            Err(ObjectError::InvalidKey(_)) => Default::default(),
            Err(e) => {
                error(&mut w, o, S3Error::from(e));
                continue;
            }
        };
        if doc.quiet {
            continue;
        }
        w.open("Deleted").elem("Key", &o.key);
        match (&o.version_id, &outcome.version_id) {
            // A version removed by its id (a delete marker among them).
            (Some(v), _) => {
                w.elem("VersionId", v);
                if outcome.delete_marker {
                    w.elem("DeleteMarker", "true")
                        .elem("DeleteMarkerVersionId", v);
                }
            }
            // A delete marker made.
            (None, Some(made)) if outcome.delete_marker => {
                w.elem("DeleteMarker", "true")
                    .elem("DeleteMarkerVersionId", made);
            }
            _ => {}
        }
        w.close("Deleted");
    }
    Ok(xml_response(StatusCode::OK, w.finish("DeleteResult")))
}

/// Opens the source of a copy, with the key to decrypt it (an SSE-C source needs the
/// `x-amz-copy-source-server-side-encryption-customer-*` headers), and checks the
/// `x-amz-copy-source-if-*` conditions.
pub async fn open_copy_source(
    s: &S3Service,
    req: &S3Request,
) -> S3Result<(ObjectReader, Option<Opening>)> {
    let (sb, sk, version) = headers::copy_source(&req.headers)?;
    open_source(s, req, &sb, &sk, version.as_deref()).await
}

/// Opens version `version` (the latest when `None`) of the copy source `sb/sk`; see
/// [`open_copy_source`].
async fn open_source(
    s: &S3Service,
    req: &S3Request,
    sb: &str,
    sk: &str,
    version: Option<&str>,
) -> S3Result<(ObjectReader, Option<Opening>)> {
    let customer = sse_request::copy_source_key(&req.headers)?;
    let reader = match s.objects.open_version(sb, sk, version).await {
        // A delete marker is not a source (S3: 404 without a version, 400 with one).
        Err(ObjectError::DeleteMarker { by_id: true, .. }) => {
            return Err(S3Error::invalid_request(
                "The source of a copy request may not specifically refer to a delete marker by version id.",
            ));
        }
        Err(ObjectError::DeleteMarker { .. }) => return Err(ObjectError::NoSuchKey.into()),
        other => other?,
    };
    let opening = opening_for_read(s, &reader.info, customer.as_ref()).await?;
    headers::check_conditions(&req.headers, &reader.info, "x-amz-copy-source-", false)?;
    Ok((reader, opening))
}

/// `x-amz-copy-source-version-id` of a copy's answer: the version read, when the source
/// bucket keeps versions or the request named one.
pub async fn source_version_header(
    s: &S3Service,
    r: &mut Response<RespBody>,
    source_bucket: &str,
    requested: Option<&str>,
    version_id: &str,
) -> S3Result<()> {
    let versioning = match requested {
        Some(_) => Versioning::Enabled,
        None => s.objects.versioning(source_bucket).await?,
    };
    if versioning != Versioning::Unversioned {
        set_header(r, "x-amz-copy-source-version-id", version_id);
    }
    Ok(())
}

pub async fn copy(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let (sb, sk, source_version) = headers::copy_source(&req.headers)?;
    let replace = match req.header("x-amz-metadata-directive") {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("COPY") => false,
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => true,
        Some(_) => {
            return Err(S3Error::invalid_argument(
                "Unknown metadata directive; use COPY or REPLACE",
            ));
        }
    };
    let changes_encryption = sse_request::requested(&req.headers)?.is_some();
    if sb == bucket && sk == key && !replace && !changes_encryption && source_version.is_none() {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let (reader, opening) = open_source(s, req, &sb, &sk, source_version.as_deref()).await?;
    let src = reader.info.clone();
    if src.size > MAX_PUT_SIZE {
        return Err(ObjectError::EntityTooLarge.into());
    }
    let mut headers = if replace {
        headers::stored_headers(&req.headers)?
    } else {
        // The copy gets its own encryption record (or none), never the source's.
        let mut h = src.headers.clone();
        sse::strip_for_copy(&mut h);
        h
    };
    // A copy gets the ACL its request sets, not the source's.
    let acl = super::acl::requested(s, req, &bucket).await?;
    super::acl::store_on_object(&mut headers, acl.as_ref());
    // The copy belongs to whoever made it.
    super::acl::stamp_owner(&mut headers, req);
    super::tagging::for_copy(req, &src.headers)?.store_on_object(&mut headers);
    // The copy's lock comes from its request (or the bucket's default), never the
    // source's.
    let lock = super::object_lock::for_write(s, req, &bucket, &key).await?;
    let sealing = sealing_for_write(s, req, &bucket, &key).await?;
    let stream: BodyStream = read_plain(reader, opening.as_ref(), None).await?;
    // The bytes are the same, so their full-object checksums are too; a composite one
    // (of a multipart source) describes parts the copy does not have.
    let checksums: BTreeMap<String, String> = src
        .checksums
        .iter()
        .filter(|(_, v)| ChecksumType::of_value(v) == ChecksumType::FullObject)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut opts = PutOptions {
        headers,
        checksums: Some(Arc::new(Mutex::new(checksums))),
        lock,
        ..Default::default()
    };
    let stream = seal_body(sealing.as_ref(), stream, 1, &mut opts)?;
    let info = s.objects.put_object(&bucket, &key, stream, opts).await?;
    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("LastModified", &iso_date(info.mod_time_ms))
        .elem("ETag", &quoted(&info.etag));
    for (algo, v) in &info.checksums {
        w.elem(&format!("Checksum{}", algo.to_ascii_uppercase()), v);
    }
    let mut r = xml_response(StatusCode::OK, w.finish("CopyObjectResult"));
    let versioning = s.objects.versioning(&bucket).await?;
    version_header(r.headers_mut(), versioning, &info.version_id);
    source_version_header(s, &mut r, &sb, source_version.as_deref(), &src.version_id).await?;
    if let Some(sl) = &sealing {
        sse::response_headers(r.headers_mut(), &sl.stored, sl.customer_md5.as_deref());
    }
    Ok(r)
}
