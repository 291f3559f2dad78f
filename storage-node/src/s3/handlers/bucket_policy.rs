//! Bucket policies: PutBucketPolicy validates the document with the policy crate's
//! bucket-policy rules and stores it as sent (configuration record `policy`, which the
//! permission check reads through `PolicyCache`), Get returns it, Delete removes it,
//! and GetBucketPolicyStatus says whether it is public.
//!
//! Public, as AWS defines it: some Allow statement applies to `Principal: "*"` (or to
//! everyone but some, via NotPrincipal) without a condition that pins the caller down
//! to known networks or identities (`aws:SourceIp` other than the whole address space,
//! `aws:SourceVpc(e)`, `aws:PrincipalAccount`, `aws:PrincipalOrgID`, `aws:PrincipalArn`,
//! `aws:userid`, `aws:username`).

use super::super::authorize::POLICY_CONFIG;
use super::super::error::{S3Error, S3Result};
use super::super::xml::XmlWriter;
use super::super::{RespBody, S3Request, S3Service, empty, full, xml_response};
use super::public_access::{PUBLIC_ACCESS_CONFIG, PublicAccessBlock, blocked};
use cairn_policy::{Effect, Policy};
use http::{Response, StatusCode};

/// Largest policy document accepted, as S3.
pub const MAX_POLICY_SIZE: usize = 20 * 1024;

const RESTRICTING_KEYS: [&str; 8] = [
    "aws:sourceip",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:principalaccount",
    "aws:principalorgid",
    "aws:principalarn",
    "aws:userid",
    "aws:username",
];

/// Whether `policy` grants anything to everyone.
pub fn is_public(policy: &Policy) -> bool {
    policy.statements().iter().any(|st| {
        let everyone = st.principal().is_some_and(|p| p.iter().any(|id| id == "*"))
            || st.not_principal().is_some();
        let restricted = st.conditions().iter().any(|c| {
            let key = c.key().to_ascii_lowercase();
            RESTRICTING_KEYS.contains(&key.as_str())
                && !(key == "aws:sourceip"
                    && c.values().iter().any(|v| v == "0.0.0.0/0" || v == "::/0"))
        });
        st.effect() == Effect::Allow && everyone && !restricted
    })
}

fn malformed(message: impl Into<String>) -> S3Error {
    S3Error::new("MalformedPolicy", StatusCode::BAD_REQUEST, message)
}

fn no_policy(bucket: &str) -> S3Error {
    S3Error::new(
        "NoSuchBucketPolicy",
        StatusCode::NOT_FOUND,
        "The bucket policy does not exist",
    )
    .with("BucketName", bucket)
}

pub async fn put(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    // Read up to the XML limit so that an oversized policy gets MalformedPolicy.
    let body = req.small_body(super::super::xml::MAX_XML_BODY).await?;
    if body.len() > MAX_POLICY_SIZE {
        return Err(malformed("Policies must be no more than 20 KiB"));
    }
    let meta = s.objects.bucket_meta(&bucket).await?;
    let policy =
        Policy::parse_bucket_policy(&body, &bucket).map_err(|e| malformed(e.to_string()))?;
    let text = String::from_utf8(body.to_vec()).map_err(|_| malformed("Policies must be UTF-8"))?;
    let pab = PublicAccessBlock::from_stored(meta.config.get(PUBLIC_ACCESS_CONFIG));
    if pab.block_public_policy && is_public(&policy) {
        return Err(blocked());
    }
    s.set_bucket_config(&bucket, POLICY_CONFIG, Some(text))
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn get(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    let doc = meta
        .config
        .get(POLICY_CONFIG)
        .ok_or_else(|| no_policy(bucket))?;
    let mut r = Response::new(full(bytes::Bytes::from(doc.clone())));
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

pub async fn delete(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.set_bucket_config(&bucket, POLICY_CONFIG, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn status(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    let doc = meta
        .config
        .get(POLICY_CONFIG)
        .ok_or_else(|| no_policy(bucket))?;
    let public = Policy::parse_bucket_policy(doc.as_bytes(), bucket).is_ok_and(|p| is_public(&p));
    let mut w = XmlWriter::new("PolicyStatus");
    w.elem("IsPublic", if public { "true" } else { "false" });
    Ok(xml_response(StatusCode::OK, w.finish("PolicyStatus")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(statement: &str) -> Policy {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        Policy::parse_bucket_policy(doc.as_bytes(), "b").unwrap()
    }

    #[test]
    fn public_policies() {
        let open = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        assert!(is_public(&p(open)));
        let ip = r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#;
        assert!(!is_public(&p(ip)));
        let user = r#"{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        assert!(!is_public(&p(user)));
        let deny = r#"{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}"#;
        assert!(!is_public(&p(deny)));
    }
}
