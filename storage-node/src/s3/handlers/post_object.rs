//! Browser form uploads (PostObject): `POST /bucket` with `multipart/form-data`.
//!
//! The form is its own credential: the fields before `file` are read (bounded), the
//! signature over the POST policy names the caller, the policy is checked against the
//! fields ([`super::super::post_policy`]), and the caller must be allowed `s3:PutObject`
//! on the key. The file part then streams into the ordinary PutObject path as a PUT
//! whose headers come from the form's fields, so default encryption, versioning, tags,
//! ACLs and metadata behave exactly as for a PUT; `content-length-range` is enforced
//! while the file streams, so an oversized file is refused before it is committed.

use super::super::auth::sigv4::{AuthOutcome, PayloadMode};
use super::super::authorize::{self, Access};
use super::super::body::BodyError;
use super::super::call::ApiCall;
use super::super::error::{S3Error, S3Result};
use super::super::identity;
use super::super::operation::Operation;
use super::super::post_policy::{self, Credential, PostPolicy};
use super::super::request::{self, Query, Target};
use super::super::xml::XmlWriter;
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use crate::iam::Caller;
use crate::objects::BodyStream;
use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use std::pin::Pin;
use std::task::{Context, Poll};

/// Largest value of one form field other than the file (S3's whole form, less the
/// file, is limited to 20 KB).
const MAX_FIELD: u64 = 20 * 1024;
/// Most fields read before `file`.
const MAX_FIELDS: usize = 200;
/// The file part may be as large as a PUT.
const MAX_FILE: u64 = 5 << 30;

fn malformed(message: impl Into<String>) -> S3Error {
    S3Error::new("MalformedPOSTRequest", StatusCode::BAD_REQUEST, message)
}

/// Whether a request is a form upload (routed here before header authentication,
/// which a form does not carry).
pub fn is_post_object(parts: &http::request::Parts, domains: &[String]) -> bool {
    if parts.method != Method::POST {
        return false;
    }
    let (Ok(target), Ok(query)) = (
        request::target(parts.uri.path(), &parts.headers, domains),
        Query::parse(parts.uri.query().unwrap_or("")),
    ) else {
        return false;
    };
    matches!(
        Operation::from_request(&parts.method, &target, &query, &parts.headers),
        Ok(Operation::PostObject)
    )
}

/// The form as read up to the file.
struct Form {
    /// Lower-case field names with their values, in form order.
    fields: Vec<(String, String)>,
    file: multer::Field<'static>,
    file_name: Option<String>,
    file_type: Option<String>,
}

impl Form {
    fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    async fn read(parts: &http::request::Parts, body: BodyStream) -> S3Result<Self> {
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let boundary = multer::parse_boundary(content_type).map_err(|_| {
            malformed("The body of your POST request is not well-formed multipart/form-data.")
        })?;
        let limits = multer::SizeLimit::new()
            .per_field(MAX_FIELD)
            .for_field("file", MAX_FILE);
        let constraints = multer::Constraints::new().size_limit(limits);
        let mut form = multer::Multipart::with_constraints(body, boundary, constraints);
        let mut fields: Vec<(String, String)> = Vec::new();
        loop {
            let field = form
                .next_field()
                .await
                .map_err(|e| {
                    malformed(format!(
                        "The body of your POST request is not well-formed multipart/form-data: {e}"
                    ))
                })?
                .ok_or_else(|| malformed("POST requires exactly one file upload per request."))?;
            let name = field.name().unwrap_or("").to_ascii_lowercase();
            if name == "file" {
                // Fields after the file are ignored, as S3 does.
                return Ok(Self {
                    fields,
                    file_name: field.file_name().map(str::to_string),
                    file_type: field.content_type().map(|m| m.to_string()),
                    file: field,
                });
            }
            if fields.len() >= MAX_FIELDS {
                return Err(malformed("Too many form fields before the file."));
            }
            let value = field
                .text()
                .await
                .map_err(|e| malformed(format!("Form field {name:?} could not be read: {e}")))?;
            if fields.iter().any(|(k, _)| *k == name) {
                return Err(S3Error::invalid_argument(format!(
                    "Form field {name:?} appears more than once."
                )));
            }
            fields.push((name, value));
        }
    }
}

/// The signature a form carries over its policy.
enum FormSignature<'a> {
    V4 { cred: Credential, sig: &'a str },
    V2 { sig: &'a str },
}

impl FormSignature<'_> {
    fn matches(&self, secret: &str, policy_b64: &str) -> bool {
        match self {
            Self::V4 { cred, sig } => post_policy::sigv4_matches(secret, cred, policy_b64, sig),
            Self::V2 { sig } => post_policy::sigv2_matches(secret, policy_b64, sig),
        }
    }
}

/// Who signed the form: the caller whose secret produced the policy signature, or the
/// anonymous caller for a form without a policy (allowed only where a bucket policy
/// lets anyone write).
async fn signer(s: &S3Service, form: &Form) -> S3Result<(Caller, String, Option<PostPolicy>)> {
    let Some(policy_b64) = form.get("policy") else {
        if [
            "x-amz-signature",
            "signature",
            "x-amz-credential",
            "awsaccesskeyid",
        ]
        .iter()
        .any(|f| form.get(f).is_some())
        {
            return Err(S3Error::invalid_argument(
                "Bucket POST must contain a field named 'policy' when it is signed.",
            ));
        }
        return Ok((Caller::anonymous(), String::new(), None));
    };
    let token = form.get("x-amz-security-token");
    let (access_key, signature) = if let Some(sig) = form.get("x-amz-signature") {
        let algo = form.get("x-amz-algorithm").unwrap_or("");
        if algo != "AWS4-HMAC-SHA256" {
            return Err(S3Error::invalid_argument(
                "x-amz-algorithm must be AWS4-HMAC-SHA256.",
            ));
        }
        let cred = form
            .get("x-amz-credential")
            .ok_or_else(|| S3Error::invalid_argument("x-amz-credential is required."))
            .and_then(|c| {
                Credential::parse(c).map_err(|e| S3Error::invalid_argument(e.to_string()))
            })?;
        (cred.access_key.clone(), FormSignature::V4 { cred, sig })
    } else if let (Some(sig), Some(ak)) = (form.get("signature"), form.get("awsaccesskeyid")) {
        (ak.to_string(), FormSignature::V2 { sig })
    } else {
        return Err(S3Error::invalid_argument(
            "Bucket POST with a policy must be signed (x-amz-signature or signature).",
        ));
    };
    let (verified, secrets) = identity::verify(&s.iam, token, |secrets| {
        use super::super::auth::sigv4::SecretLookup;
        let secret = secrets.secret_key(&access_key).ok_or_else(|| {
            S3Error::new(
                "InvalidAccessKeyId",
                StatusCode::FORBIDDEN,
                "The AWS Access Key Id you provided does not exist in our records.",
            )
        })?;
        match signature.matches(&secret, policy_b64) {
            true => Ok(()),
            false => Err(S3Error::new(
                "SignatureDoesNotMatch",
                StatusCode::FORBIDDEN,
                "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            )),
        }
    })
    .await;
    if let Err(e) = verified {
        return Err(secrets.token_error().unwrap_or(e));
    }
    let (_, caller) = secrets
        .take_found()
        .ok_or_else(|| S3Error::internal("signed form without a caller"))?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(policy_b64.trim())
        .map_err(|_| malformed("The policy is not valid base64."))?;
    let policy = PostPolicy::parse(&json)
        .map_err(|e| S3Error::new(e.s3_code(), StatusCode::BAD_REQUEST, e.to_string()))?;
    Ok((caller, access_key, Some(policy)))
}

/// The headers of the PUT the form stands for, from its fields.
fn put_headers(form: &Form) -> S3Result<HeaderMap> {
    let mut h = HeaderMap::new();
    let mut put = |name: &str, value: &str| -> S3Result<()> {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| S3Error::invalid_argument(format!("Invalid form field name {name:?}.")))?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            S3Error::invalid_argument(format!("Invalid value of form field {name:?}."))
        })?;
        h.insert(n, v);
        Ok(())
    };
    for (name, value) in &form.fields {
        match name.as_str() {
            "acl" => put("x-amz-acl", value)?,
            "tagging" => {
                let tags = super::tagging::Tags::parse_xml(value.as_bytes(), false)?;
                if let Some(v) = tags.to_stored() {
                    put("x-amz-tagging", &v)?;
                }
            }
            "content-type"
            | "cache-control"
            | "content-disposition"
            | "content-encoding"
            | "content-language"
            | "expires"
            | "content-md5" => put(name, value)?,
            n if n.starts_with("x-amz-meta-")
                || n.starts_with("x-amz-server-side-encryption")
                || n.starts_with("x-amz-object-lock-")
                || n == "x-amz-storage-class"
                || n == "x-amz-website-redirect-location" =>
            {
                put(name, value)?
            }
            _ => {}
        }
    }
    let has_type = form.fields.iter().any(|(k, _)| k == "content-type");
    if let (false, Some(t)) = (has_type, &form.file_type) {
        put("content-type", t)?;
    }
    Ok(h)
}

/// Serves a form upload; `call` is filled for the audit log as for any call.
pub async fn serve(
    s: &S3Service,
    parts: http::request::Parts,
    body: BodyStream,
    request_id: &str,
    call: &mut ApiCall,
) -> S3Result<Response<RespBody>> {
    call.name = "PostObject";
    let target = request::target(parts.uri.path(), &parts.headers, &s.config.domains)?;
    let bucket = target
        .bucket
        .clone()
        .ok_or_else(S3Error::method_not_allowed)?;
    call.bucket.clone_from(&bucket);
    let form = Form::read(&parts, body).await?;
    let key = form.get("key").ok_or_else(|| {
        S3Error::invalid_argument("Bucket POST must contain a field named 'key'.")
    })?;
    let key = key.replace("${filename}", form.file_name.as_deref().unwrap_or(""));
    if key.is_empty() {
        return Err(S3Error::invalid_argument("The key must not be empty."));
    }
    call.object.clone_from(&key);
    let (caller, access_key, policy) = signer(s, &form).await?;
    call.access_key.clone_from(&access_key);
    if caller.user != access_key {
        call.parent_user.clone_from(&caller.user);
    }
    let mut checked = form.fields.clone();
    match checked.iter_mut().find(|(k, _)| k == "bucket") {
        Some((_, v)) if *v != bucket => {
            return Err(S3Error::invalid_argument(
                "The bucket field does not name the bucket the form was posted to.",
            ));
        }
        Some(_) => {}
        None => checked.push(("bucket".into(), bucket.clone())),
    }
    if let Some((_, v)) = checked.iter_mut().find(|(k, _)| k == "key") {
        v.clone_from(&key);
    }
    if let Some(p) = &policy {
        p.check(&checked, chrono::Utc::now()).map_err(|e| {
            let status = match e.s3_code() {
                "AccessDenied" => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            S3Error::new(e.s3_code(), status, e.to_string())
        })?;
    }
    let headers = put_headers(&form)?;
    let query = Query::parse("")?;
    let remote = parts.extensions.get::<crate::remote::Remote>();
    let access = Access::new(caller, &headers, &query, remote, false);
    let target = Target {
        bucket: Some(bucket.clone()),
        key: Some(key.clone()),
    };
    authorize::check(s, &access, &Operation::PutObject, &target, &headers).await?;
    let redirect = form
        .get("success_action_redirect")
        .or_else(|| form.get("redirect"))
        .map(str::to_string);
    let status = form.get("success_action_status").map(str::to_string);
    let range = policy.as_ref().and_then(PostPolicy::length_range);
    let file: BodyStream = Box::pin(LengthRange {
        inner: form.file.map(|r| r.map_err(std::io::Error::other)),
        seen: 0,
        range,
    });
    let mut req = S3Request {
        method: Method::PUT,
        headers,
        target,
        query,
        auth: AuthOutcome {
            access_key,
            payload: PayloadMode::Unsigned,
            chunk_signing: None,
        },
        access,
        request_id: request_id.to_string(),
        body: std::sync::Mutex::new(Some(file)),
    };
    let put = super::route_op(s, &mut req, Operation::PutObject).await?;
    Ok(respond(
        &parts,
        put,
        &bucket,
        &key,
        redirect,
        status.as_deref(),
    ))
}

/// The answer S3 gives a form: a 303 to `success_action_redirect`, or the status the
/// form asked for (200, 201 with a `PostResponse` document, 204 by default).
fn respond(
    parts: &http::request::Parts,
    put: Response<RespBody>,
    bucket: &str,
    key: &str,
    redirect: Option<String>,
    status: Option<&str>,
) -> Response<RespBody> {
    let etag = put
        .headers()
        .get(http::header::ETAG)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let enc =
        |v: &str| percent_encoding::utf8_percent_encode(v, super::tagging::UNRESERVED).to_string();
    let mut r = if let Some(url) =
        redirect.filter(|u| u.starts_with("http://") || u.starts_with("https://"))
    {
        let sep = if url.contains('?') { '&' } else { '?' };
        let location = format!(
            "{url}{sep}bucket={}&key={}&etag={}",
            enc(bucket),
            enc(key),
            enc(&etag)
        );
        let mut r = empty(StatusCode::SEE_OTHER);
        if let Ok(v) = HeaderValue::from_str(&location) {
            r.headers_mut().insert(http::header::LOCATION, v);
        }
        r
    } else {
        match status {
            Some("200") => empty(StatusCode::OK),
            Some("201") => {
                let host = parts
                    .headers
                    .get(http::header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("localhost");
                let scheme = parts.uri.scheme_str().unwrap_or("http");
                let key_path = key.split('/').map(enc).collect::<Vec<_>>().join("/");
                let mut w = XmlWriter::new("PostResponse");
                w.elem(
                    "Location",
                    &format!("{scheme}://{host}/{bucket}/{key_path}"),
                )
                .elem("Bucket", bucket)
                .elem("Key", key)
                .elem("ETag", &etag);
                xml_response(StatusCode::CREATED, w.finish("PostResponse"))
            }
            _ => empty(StatusCode::NO_CONTENT),
        }
    };
    for (name, value) in put.headers() {
        let n = name.as_str();
        if n == "etag" || n.starts_with("x-amz-") {
            r.headers_mut().insert(name.clone(), value.clone());
        }
    }
    r
}

/// The file part, refused as it streams once it passes the policy's
/// `content-length-range`, and at its end if it is shorter.
struct LengthRange<S> {
    inner: S,
    seen: u64,
    range: Option<(u64, u64)>,
}

impl<S> Stream for LengthRange<S>
where
    S: Stream<Item = std::io::Result<Bytes>> + Unpin,
{
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = self.inner.poll_next_unpin(cx);
        let Some((min, max)) = self.range else {
            return next;
        };
        match next {
            Poll::Ready(Some(Ok(chunk))) => {
                self.seen += chunk.len() as u64;
                if self.seen > max {
                    let e = BodyError::AboveRange(max);
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(None) if self.seen < min => {
                let e = BodyError::BelowRange(min);
                self.range = None;
                Poll::Ready(Some(Err(std::io::Error::other(e))))
            }
            other => other,
        }
    }
}
