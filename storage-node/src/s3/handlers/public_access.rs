//! A bucket's PublicAccessBlock and OwnershipControls: stored in its configuration
//! record (`public-access-block` as JSON, `ownership` as the rule's name), read by the
//! permission check through the policy cache, and served by the Get/Put/Delete
//! operations of each.
//!
//! PublicAccessBlock: BlockPublicAcls refuses requests that set a public ACL (403);
//! IgnorePublicAcls makes grants to AllUsers/AuthenticatedUsers grant nothing;
//! BlockPublicPolicy refuses a public bucket policy (403); RestrictPublicBuckets makes a
//! public policy grant nothing to unsigned callers (every signed caller belongs to this
//! deployment). OwnershipControls `BucketOwnerEnforced` disables ACLs: grants are
//! ignored, and setting any ACL but `private`/`bucket-owner-full-control` fails with
//! AccessControlListNotSupported. `BucketOwnerPreferred` and `ObjectWriter` are stored
//! and returned; in Cairn the owner (root) owns every object either way.

use super::super::error::{S3Error, S3Result};
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use http::{Response, StatusCode};
use serde::{Deserialize, Serialize};

pub const PUBLIC_ACCESS_CONFIG: &str = "public-access-block";
pub const OWNERSHIP_CONFIG: &str = "ownership";
pub const BUCKET_OWNER_ENFORCED: &str = "BucketOwnerEnforced";
const OWNERSHIP_RULES: [&str; 3] = [
    BUCKET_OWNER_ENFORCED,
    "BucketOwnerPreferred",
    "ObjectWriter",
];

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

impl PublicAccessBlock {
    /// The stored configuration; none (or unreadable) blocks nothing.
    pub fn from_stored(s: Option<&String>) -> Self {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }
}

/// The 403 a blocked public ACL or policy gets.
pub fn blocked() -> S3Error {
    S3Error::access_denied()
}

pub async fn get_block(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    let Some(stored) = meta.config.get(PUBLIC_ACCESS_CONFIG) else {
        return Err(S3Error::new(
            "NoSuchPublicAccessBlockConfiguration",
            StatusCode::NOT_FOUND,
            "The public access block configuration was not found",
        )
        .with("BucketName", bucket));
    };
    let c = PublicAccessBlock::from_stored(Some(stored));
    let b = |v: bool| if v { "true" } else { "false" };
    let mut w = XmlWriter::new("PublicAccessBlockConfiguration");
    w.elem("BlockPublicAcls", b(c.block_public_acls))
        .elem("IgnorePublicAcls", b(c.ignore_public_acls))
        .elem("BlockPublicPolicy", b(c.block_public_policy))
        .elem("RestrictPublicBuckets", b(c.restrict_public_buckets));
    Ok(xml_response(
        StatusCode::OK,
        w.finish("PublicAccessBlockConfiguration"),
    ))
}

pub async fn put_block(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let c: PublicAccessBlock = xml::parse(&body)?;
    let stored = serde_json::to_string(&c).map_err(|e| S3Error::internal(e.to_string()))?;
    s.set_bucket_config(&bucket, PUBLIC_ACCESS_CONFIG, Some(stored))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn delete_block(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.set_bucket_config(&bucket, PUBLIC_ACCESS_CONFIG, None)
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// One of the three ownership rules, by name.
pub fn ownership_rule(name: &str) -> S3Result<&'static str> {
    let name = name.trim();
    OWNERSHIP_RULES
        .into_iter()
        .find(|r| *r == name)
        .ok_or_else(|| S3Error::invalid_argument(format!("unknown object ownership {name:?}")))
}

#[derive(Deserialize)]
struct XOwnership {
    #[serde(rename = "Rule", default)]
    rules: Vec<XRule>,
}

#[derive(Deserialize)]
struct XRule {
    #[serde(rename = "ObjectOwnership")]
    object_ownership: String,
}

pub async fn get_ownership(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?;
    let meta = s.objects.bucket_meta(bucket).await?;
    let Some(rule) = meta.config.get(OWNERSHIP_CONFIG) else {
        return Err(S3Error::new(
            "OwnershipControlsNotFoundError",
            StatusCode::NOT_FOUND,
            "The bucket ownership controls were not found",
        )
        .with("BucketName", bucket));
    };
    let mut w = XmlWriter::new("OwnershipControls");
    w.open("Rule").elem("ObjectOwnership", rule).close("Rule");
    Ok(xml_response(StatusCode::OK, w.finish("OwnershipControls")))
}

pub async fn put_ownership(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    let doc: XOwnership = xml::parse(&body)?;
    let [rule] = doc.rules.as_slice() else {
        return Err(S3Error::malformed_xml());
    };
    let rule = ownership_rule(&rule.object_ownership).map_err(|_| S3Error::malformed_xml())?;
    s.set_bucket_config(&bucket, OWNERSHIP_CONFIG, Some(rule.to_string()))
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn delete_ownership(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    s.set_bucket_config(&bucket, OWNERSHIP_CONFIG, None).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
