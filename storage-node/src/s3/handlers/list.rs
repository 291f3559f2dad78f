//! ListObjects (V1) and ListObjectsV2.
//!
//! Continuation tokens carry the last key or common prefix returned (base64), nothing
//! about the server that answered: any server of the deployment, before or after a
//! restart, resumes from them, since the walk seeks to that name.

use super::super::error::{S3Error, S3Result};
use super::super::headers::{iso_date, quoted};
use super::super::owner::Owner;
use super::super::xml::XmlWriter;
use super::super::{RespBody, S3Request, S3Service, xml_response};
use crate::objects::list::{ListParams, ListResult};
use base64::Engine;
use http::{Response, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left as they are by `encoding-type=url` (unreserved and `/`); spaces
/// become `%20` and `+` becomes `%2B`, so both `unquote` and `unquote_plus` decode it.
const URL_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

pub const MAX_KEYS: usize = 1000;

pub(super) struct Enc(pub(super) bool);

impl Enc {
    pub(super) fn s(&self, v: &str) -> String {
        if self.0 {
            utf8_percent_encode(v, URL_KEEP).to_string()
        } else {
            v.to_string()
        }
    }
}

pub(super) fn max_keys(req: &S3Request, name: &str) -> S3Result<usize> {
    match req.query.get(name) {
        None => Ok(MAX_KEYS),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .map(|n| (n as usize).min(MAX_KEYS))
            .ok_or_else(|| {
                S3Error::invalid_argument(format!(
                    "{name} must be an integer between 0 and 2147483647"
                ))
            }),
    }
}

pub(super) fn encoding(req: &S3Request) -> S3Result<Enc> {
    match req.query.get("encoding-type") {
        None => Ok(Enc(false)),
        Some(v) if v.eq_ignore_ascii_case("url") => Ok(Enc(true)),
        Some(_) => Err(S3Error::invalid_argument(
            "Invalid Encoding Method specified in Request",
        )),
    }
}

fn contents(w: &mut XmlWriter, r: &ListResult, enc: &Enc, owner: bool) {
    for o in &r.objects {
        w.open("Contents")
            .elem("Key", &enc.s(&o.key))
            .elem("LastModified", &iso_date(o.mod_time_ms))
            .elem("ETag", &quoted(&o.etag))
            .elem("Size", &o.size.to_string());
        if owner {
            Owner::of_object(&o.headers).write(w, "Owner");
        }
        w.elem("StorageClass", "STANDARD").close("Contents");
    }
    for p in &r.prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", &enc.s(p))
            .close("CommonPrefixes");
    }
}

fn params(req: &S3Request, marker: String, max: usize) -> ListParams {
    ListParams {
        prefix: req.query.get("prefix").unwrap_or("").to_string(),
        // An empty delimiter is no delimiter: it neither groups keys nor is echoed back.
        delimiter: req
            .query
            .get("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        marker,
        max_keys: max,
    }
}

pub async fn list_v1(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let enc = encoding(req)?;
    let max = max_keys(req, "max-keys")?;
    let marker = req.query.get("marker").unwrap_or("").to_string();
    let p = params(req, marker.clone(), max);
    let r = s.objects.list_objects(req.bucket()?, &p).await?;
    let mut w = XmlWriter::new("ListBucketResult");
    w.elem("Name", req.bucket()?)
        .elem("Prefix", &enc.s(&p.prefix))
        .elem("Marker", &enc.s(&marker))
        .elem("MaxKeys", &max.to_string());
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc.s(d));
    }
    if enc.0 {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", if r.truncated { "true" } else { "false" });
    if r.truncated {
        if let Some(m) = &r.next_marker {
            w.elem("NextMarker", &enc.s(m));
        }
    }
    contents(&mut w, &r, &enc, true);
    Ok(xml_response(StatusCode::OK, w.finish("ListBucketResult")))
}

fn encode_token(marker: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(marker.as_bytes())
}

fn decode_token(token: &str) -> S3Result<String> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| S3Error::invalid_argument("The continuation token provided is incorrect"))
}

pub async fn list_v2(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let enc = encoding(req)?;
    let max = max_keys(req, "max-keys")?;
    let start_after = req.query.get("start-after").unwrap_or("").to_string();
    let token = req.query.get("continuation-token").map(str::to_string);
    let marker = match &token {
        Some(t) => decode_token(t)?,
        None => start_after.clone(),
    };
    let owner = req
        .query
        .get("fetch-owner")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let p = params(req, marker, max);
    let r = s.objects.list_objects(req.bucket()?, &p).await?;
    let mut w = XmlWriter::new("ListBucketResult");
    w.elem("Name", req.bucket()?)
        .elem("Prefix", &enc.s(&p.prefix))
        .elem("MaxKeys", &max.to_string())
        .elem(
            "KeyCount",
            &(r.objects.len() + r.prefixes.len()).to_string(),
        );
    if let Some(d) = &p.delimiter {
        w.elem("Delimiter", &enc.s(d));
    }
    if enc.0 {
        w.elem("EncodingType", "url");
    }
    if let Some(t) = &token {
        w.elem("ContinuationToken", t);
    }
    if !start_after.is_empty() {
        w.elem("StartAfter", &enc.s(&start_after));
    }
    w.elem("IsTruncated", if r.truncated { "true" } else { "false" });
    if r.truncated {
        if let Some(m) = &r.next_marker {
            w.elem("NextContinuationToken", &encode_token(m));
        }
    }
    contents(&mut w, &r, &enc, owner);
    Ok(xml_response(StatusCode::OK, w.finish("ListBucketResult")))
}
