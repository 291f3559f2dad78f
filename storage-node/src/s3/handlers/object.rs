//! Object operations: PUT, GET, HEAD, DELETE, DeleteObjects, CopyObject.

use super::super::authorize;
use super::super::error::{S3Error, S3Result};
use super::super::headers::{self, RangeSpec, iso_date, quoted};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
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

pub async fn put(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
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
    let body = req.take_body()?;
    let info = s
        .objects
        .put_object(
            &bucket,
            &key,
            body.stream,
            PutOptions {
                headers,
                checksums: Some(body.checksums),
                expected_md5,
                condition,
            },
        )
        .await?;
    Ok(put_response(&info))
}

pub async fn get(s: &S3Service, req: &mut S3Request, head: bool) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let reader = s.objects.open_object(&bucket, &key).await?;
    let info = reader.info.clone();
    let mut out_headers = headers::object_headers(
        &info,
        req.header("x-amz-checksum-mode")
            .is_some_and(|v| v.eq_ignore_ascii_case("enabled")),
    );
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
        if n == 0 || n > info.parts.len() {
            return Err(S3Error::new(
                "InvalidPartNumber",
                StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested partnumber is not satisfiable",
            ));
        }
        let start: u64 = info.parts[..n - 1].iter().map(|p| p.1).sum();
        let len = info.parts[n - 1].1;
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
            (StatusCode::PARTIAL_CONTENT, b - a + 1)
        }
        None => (StatusCode::OK, info.size),
    };
    out_headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
    let body: RespBody = if head {
        super::super::full(Bytes::new())
    } else {
        let stream = reader.stream(resolved).await?;
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
    match s.objects.delete_object(req.bucket()?, req.key()?).await {
        // A key that cannot exist does not exist: deleting it succeeds, as in S3.
        Ok(()) | Err(ObjectError::InvalidKey(_)) => Ok(empty(StatusCode::NO_CONTENT)),
        Err(e) => Err(e.into()),
    }
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
    for o in &doc.objects {
        if !authorize::permitted(s, &req.access, "s3:DeleteObject", &bucket, Some(&o.key)).await {
            let e = S3Error::access_denied();
            w.open("Error")
                .elem("Key", &o.key)
                .elem("Code", e.code)
                .elem("Message", &e.message)
                .close("Error");
            continue;
        }
        match s.objects.delete_object(&bucket, &o.key).await {
            Ok(()) | Err(ObjectError::InvalidKey(_)) => {
                if !doc.quiet {
                    w.open("Deleted").elem("Key", &o.key).close("Deleted");
                }
            }
            Err(e) => {
                let e = S3Error::from(e);
                w.open("Error")
                    .elem("Key", &o.key)
                    .elem("Code", e.code)
                    .elem("Message", &e.message)
                    .close("Error");
            }
        }
    }
    Ok(xml_response(StatusCode::OK, w.finish("DeleteResult")))
}

/// Parses `x-amz-copy-source` (`[/]bucket/key[?versionId=...]`, URL-encoded).
pub fn copy_source(req: &S3Request) -> S3Result<(String, String)> {
    headers::copy_source(&req.headers)
}

/// Opens the source of a copy and checks the `x-amz-copy-source-if-*` conditions.
pub async fn open_copy_source(
    s: &S3Service,
    req: &S3Request,
) -> S3Result<crate::objects::read::ObjectReader> {
    let (sb, sk) = copy_source(req)?;
    let reader = s.objects.open_object(&sb, &sk).await?;
    headers::check_conditions(&req.headers, &reader.info, "x-amz-copy-source-", false)?;
    Ok(reader)
}

pub async fn copy(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let (sb, sk) = copy_source(req)?;
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
    if sb == bucket && sk == key && !replace {
        return Err(S3Error::invalid_request(
            "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
        ));
    }
    let reader = open_copy_source(s, req).await?;
    let src = reader.info.clone();
    if src.size > MAX_PUT_SIZE {
        return Err(ObjectError::EntityTooLarge.into());
    }
    let mut headers = if replace {
        headers::stored_headers(&req.headers)?
    } else {
        src.headers.clone()
    };
    // A copy gets the ACL its request sets, not the source's.
    let acl = super::acl::requested(s, req, &bucket).await?;
    super::acl::store_on_object(&mut headers, acl.as_ref());
    // The copy belongs to whoever made it.
    super::acl::stamp_owner(&mut headers, req);
    super::tagging::for_copy(req, &src.headers)?.store_on_object(&mut headers);
    let stream: BodyStream = reader.stream(None).await?;
    // The bytes are the same, so their checksums are too (multipart sources have
    // per-part checksums only).
    let checksums: BTreeMap<String, String> = if src.is_multipart() {
        BTreeMap::new()
    } else {
        src.checksums.clone()
    };
    let info = s
        .objects
        .put_object(
            &bucket,
            &key,
            stream,
            PutOptions {
                headers,
                checksums: Some(Arc::new(Mutex::new(checksums))),
                ..Default::default()
            },
        )
        .await?;
    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("LastModified", &iso_date(info.mod_time_ms))
        .elem("ETag", &quoted(&info.etag));
    Ok(xml_response(StatusCode::OK, w.finish("CopyObjectResult")))
}
