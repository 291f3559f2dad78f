//! Access control lists, as S3 clients still send and read them: canned ACLs
//! (`x-amz-acl`), grant headers (`x-amz-grant-*`) and `AccessControlPolicy` documents,
//! kept per bucket (configuration record `acl`) and per object (the reserved stored
//! header [`OBJECT_ACL_HEADER`], never returned to clients), and enforced by the
//! permission check (s3/authorize.rs) next to IAM and bucket policies.
//!
//! Identities: a bucket is owned by the identity that created it and an object by the
//! one that wrote it (s3/owner.rs: root and its children own as the deployment, a user
//! and its service accounts and sessions as that user). As on S3, the owner of a bucket
//! or object has FULL_CONTROL of it through its ACL, and `bucket-owner-read` /
//! `bucket-owner-full-control` on an object grant the bucket's owner READ /
//! FULL_CONTROL when someone else writes it. A grant names an identity by its canonical
//! id, its user name or its access key. Groups: AllUsers (anyone, unsigned requests
//! included) and AuthenticatedUsers (any signed caller). Grants by e-mail address
//! cannot be resolved. With `BucketOwnerEnforced` ownership controls, ACLs (and so
//! ownership) grant nothing: access is by policy alone.
//!
//! What a permission allows: on a bucket, READ lists it (`s3:ListBucket`,
//! `s3:ListBucketMultipartUploads`), WRITE writes and deletes its objects (`s3:PutObject`,
//! `s3:DeleteObject`, `s3:AbortMultipartUpload`, `s3:ListMultipartUploadParts`),
//! READ_ACP/WRITE_ACP read/write the bucket ACL; on an object, READ reads it
//! (`s3:GetObject`), READ_ACP/WRITE_ACP read/write its ACL. FULL_CONTROL is all of these.

use super::super::error::{S3Error, S3Result};
use super::super::owner::Owner;
use super::super::xml::{self, XmlWriter};
use super::super::{RespBody, S3Request, S3Service, empty, xml_response};
use crate::iam::{Caller, Kind};
use http::{HeaderMap, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Name of a bucket's ACL in its configuration record.
pub const ACL_CONFIG: &str = "acl";
/// Reserved stored header holding an object's ACL (JSON); filtered from responses.
pub const OBJECT_ACL_HEADER: &str = "x-cairn-internal-acl";
pub const ALL_USERS: &str = "http://acs.amazonaws.com/groups/global/AllUsers";
pub const AUTHENTICATED_USERS: &str = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers";
const XSI: &str = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Permission {
    Read,
    Write,
    ReadAcp,
    WriteAcp,
    FullControl,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "READ",
            Self::Write => "WRITE",
            Self::ReadAcp => "READ_ACP",
            Self::WriteAcp => "WRITE_ACP",
            Self::FullControl => "FULL_CONTROL",
        }
    }

    fn parse(s: &str) -> S3Result<Self> {
        Ok(match s.trim() {
            "READ" => Self::Read,
            "WRITE" => Self::Write,
            "READ_ACP" => Self::ReadAcp,
            "WRITE_ACP" => Self::WriteAcp,
            "FULL_CONTROL" => Self::FullControl,
            _ => return Err(S3Error::malformed_xml()),
        })
    }

    /// Whether this permission includes `needed`.
    fn covers(self, needed: Self) -> bool {
        self == needed || self == Self::FullControl
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Grantee {
    /// A canonical user id (s3/owner.rs), a user name or an access key.
    User(String),
    /// A group URI (AllUsers, AuthenticatedUsers, or another S3 group, which matches
    /// nobody here).
    Group(String),
}

impl Grantee {
    fn is_public(&self) -> bool {
        matches!(self, Self::Group(g) if g == ALL_USERS || g == AUTHENTICATED_USERS)
    }

    fn matches(&self, caller: &Caller, ignore_public: bool) -> bool {
        match self {
            Self::Group(_) if ignore_public => false,
            Self::Group(g) if g == ALL_USERS => true,
            Self::Group(g) if g == AUTHENTICATED_USERS => caller.kind != Kind::Anonymous,
            Self::Group(_) => false,
            Self::User(id) => {
                caller.kind != Kind::Anonymous
                    && (id == &caller.access_key
                        || id == &caller.user
                        || Owner::of_caller(caller).is_some_and(|o| o.answers_to(id)))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub grantee: Grantee,
    pub permission: Permission,
}

/// The grants besides the owner's implicit FULL_CONTROL. Empty is `private`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acl {
    pub grants: Vec<Grant>,
}

impl Acl {
    fn group(uri: &str, perms: &[Permission]) -> Self {
        Self {
            grants: perms
                .iter()
                .map(|p| Grant {
                    grantee: Grantee::Group(uri.to_string()),
                    permission: *p,
                })
                .collect(),
        }
    }

    /// A canned ACL by its `x-amz-acl` name.
    pub fn canned(name: &str) -> S3Result<Self> {
        use Permission::*;
        Ok(match name.trim() {
            "private" | "bucket-owner-read" | "bucket-owner-full-control" | "aws-exec-read" => {
                Self::default()
            }
            "public-read" => Self::group(ALL_USERS, &[Read]),
            "public-read-write" => Self::group(ALL_USERS, &[Read, Write]),
            "authenticated-read" => Self::group(AUTHENTICATED_USERS, &[Read]),
            other => {
                return Err(S3Error::invalid_argument(format!(
                    "unknown canned ACL {other:?}"
                )));
            }
        })
    }

    /// The ACL a request sets through `x-amz-acl` or `x-amz-grant-*`, if any.
    pub fn from_headers(h: &HeaderMap) -> S3Result<Option<Self>> {
        let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
        const GRANTS: [(&str, Permission); 5] = [
            ("x-amz-grant-read", Permission::Read),
            ("x-amz-grant-write", Permission::Write),
            ("x-amz-grant-read-acp", Permission::ReadAcp),
            ("x-amz-grant-write-acp", Permission::WriteAcp),
            ("x-amz-grant-full-control", Permission::FullControl),
        ];
        let has_grants = GRANTS.iter().any(|(n, _)| h.contains_key(*n));
        match header("x-amz-acl") {
            Some(_) if has_grants => Err(S3Error::invalid_request(
                "Specifying both Canned ACLs and Header Grants is not allowed",
            )),
            Some(c) => Self::canned(c).map(Some),
            None if !has_grants => Ok(None),
            None => {
                let mut acl = Self::default();
                for (name, perm) in GRANTS {
                    if let Some(v) = header(name) {
                        for g in parse_grant_header(v)? {
                            acl.grants.push(Grant {
                                grantee: g,
                                permission: perm,
                            });
                        }
                    }
                }
                Ok(Some(acl))
            }
        }
    }

    /// Parses an `AccessControlPolicy` document.
    pub fn from_xml(body: &[u8]) -> S3Result<Self> {
        let doc: XPolicy = xml::parse(body)?;
        let mut acl = Self::default();
        for g in doc.list.map(|l| l.grants).unwrap_or_default() {
            let grantee = if let Some(id) = g.grantee.id {
                Grantee::User(id.trim().to_string())
            } else if let Some(uri) = g.grantee.uri {
                Grantee::Group(uri.trim().to_string())
            } else if g.grantee.email.is_some() {
                return Err(unresolvable_email());
            } else {
                return Err(S3Error::malformed_xml());
            };
            acl.grants.push(Grant {
                grantee,
                permission: Permission::parse(&g.permission)?,
            });
        }
        Ok(acl)
    }

    /// The ACL as stored (JSON); `None` for `private`, so nothing is stored.
    pub fn to_stored(&self) -> Option<String> {
        if self.grants.is_empty() {
            return None;
        }
        serde_json::to_string(self).ok()
    }

    /// A stored ACL; an unreadable one grants nothing.
    pub fn from_stored(s: Option<&String>) -> Self {
        s.and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default()
    }

    /// Whether anything is granted to AllUsers or AuthenticatedUsers.
    pub fn is_public(&self) -> bool {
        self.grants.iter().any(|g| g.grantee.is_public())
    }

    /// Whether a grant gives `caller` the permission `needed`.
    pub fn grants(&self, caller: &Caller, needed: Permission, ignore_public: bool) -> bool {
        self.grants
            .iter()
            .any(|g| g.permission.covers(needed) && g.grantee.matches(caller, ignore_public))
    }

    /// The `AccessControlPolicy` document: the owner's FULL_CONTROL, then the grants.
    pub fn to_xml(&self, owner: &Owner) -> String {
        let mut w = XmlWriter::new("AccessControlPolicy");
        owner.write(&mut w, "Owner");
        w.open("AccessControlList");
        let owner_grant = Grant {
            grantee: Grantee::User(owner.id()),
            permission: Permission::FullControl,
        };
        for g in std::iter::once(&owner_grant).chain(&self.grants) {
            w.open("Grant");
            match &g.grantee {
                Grantee::User(id) => {
                    let name = if owner.answers_to(id) {
                        owner.display_name()
                    } else {
                        id
                    };
                    w.open(&format!("Grantee {XSI} xsi:type=\"CanonicalUser\""))
                        .elem("ID", id)
                        .elem("DisplayName", name)
                        .close("Grantee");
                }
                Grantee::Group(uri) => {
                    w.open(&format!("Grantee {XSI} xsi:type=\"Group\""))
                        .elem("URI", uri)
                        .close("Grantee");
                }
            }
            w.elem("Permission", g.permission.as_str()).close("Grant");
        }
        w.close("AccessControlList");
        w.finish("AccessControlPolicy")
    }
}

fn unresolvable_email() -> S3Error {
    S3Error::new(
        "UnresolvableGrantByEmailAddress",
        StatusCode::BAD_REQUEST,
        "The e-mail address you provided does not match any account on record.",
    )
}

/// `id="..", uri="..", emailAddress=".."`, comma separated.
fn parse_grant_header(v: &str) -> S3Result<Vec<Grantee>> {
    let mut out = Vec::new();
    for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = part
            .split_once('=')
            .ok_or_else(|| S3Error::invalid_argument(format!("invalid grant {part:?}")))?;
        let val = val.trim().trim_matches('"').to_string();
        match k.trim().to_ascii_lowercase().as_str() {
            "id" => out.push(Grantee::User(val)),
            "uri" => out.push(Grantee::Group(val)),
            "emailaddress" => return Err(unresolvable_email()),
            _ => {
                return Err(S3Error::invalid_argument(format!(
                    "invalid grantee type in {part:?}"
                )));
            }
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
struct XPolicy {
    #[serde(rename = "AccessControlList")]
    list: Option<XList>,
}

#[derive(Deserialize)]
struct XList {
    #[serde(rename = "Grant", default)]
    grants: Vec<XGrant>,
}

#[derive(Deserialize)]
struct XGrant {
    #[serde(rename = "Grantee")]
    grantee: XGrantee,
    #[serde(rename = "Permission")]
    permission: String,
}

#[derive(Deserialize)]
struct XGrantee {
    #[serde(rename = "ID")]
    id: Option<String>,
    #[serde(rename = "URI")]
    uri: Option<String>,
    #[serde(rename = "EmailAddress")]
    email: Option<String>,
}

/// The ACL permission that grants `action`, and whether it is read from the object's
/// ACL (else the bucket's). `None`: no ACL grants the action.
pub fn permission_for(action: &str) -> Option<(Permission, bool)> {
    use Permission::*;
    Some(match action {
        "s3:ListBucket" | "s3:ListBucketMultipartUploads" => (Read, false),
        "s3:PutObject"
        | "s3:DeleteObject"
        | "s3:AbortMultipartUpload"
        | "s3:ListMultipartUploadParts" => (Write, false),
        "s3:GetBucketAcl" => (ReadAcp, false),
        "s3:PutBucketAcl" => (WriteAcp, false),
        "s3:GetObject" | "s3:GetObjectVersion" => (Read, true),
        "s3:GetObjectAcl" | "s3:GetObjectVersionAcl" => (ReadAcp, true),
        "s3:PutObjectAcl" | "s3:PutObjectVersionAcl" => (WriteAcp, true),
        _ => return None,
    })
}

/// The ACL a request sets through its headers, checked against the bucket's
/// ownership controls (ACLs disabled: only `private`/`bucket-owner-full-control`, and
/// nothing is stored) and public access block (BlockPublicAcls: a public ACL is refused).
pub async fn requested(s: &S3Service, req: &S3Request, bucket: &str) -> S3Result<Option<Acl>> {
    let acl = Acl::from_headers(&req.headers)?;
    let Some(acl) = acl else {
        return Ok(None);
    };
    let auth = s.policies.auth(s, bucket).await;
    if auth.owner_enforced {
        let allowed = matches!(
            req.header("x-amz-acl").map(str::trim),
            Some("private" | "bucket-owner-full-control")
        );
        if !allowed {
            return Err(not_supported());
        }
        return Ok(None);
    }
    if auth.public_access.block_public_acls && acl.is_public() {
        return Err(S3Error::access_denied());
    }
    Ok(Some(with_bucket_owner_grant(acl, req, &auth.owner)))
}

/// `bucket-owner-read` / `bucket-owner-full-control` on an object someone other than
/// the bucket's owner writes: the bucket's owner gets READ / FULL_CONTROL of it.
fn with_bucket_owner_grant(mut acl: Acl, req: &S3Request, bucket_owner: &Owner) -> Acl {
    let permission = match req.header("x-amz-acl").map(str::trim) {
        Some("bucket-owner-read") => Permission::Read,
        Some("bucket-owner-full-control") => Permission::FullControl,
        _ => return acl,
    };
    if Owner::of_caller(&req.access.caller).as_ref() != Some(bucket_owner) {
        acl.grants.push(Grant {
            grantee: Grantee::User(bucket_owner.id()),
            permission,
        });
    }
    acl
}

/// 400 AccessControlListNotSupported: the bucket's ownership controls disable ACLs.
pub fn not_supported() -> S3Error {
    S3Error::new(
        "AccessControlListNotSupported",
        StatusCode::BAD_REQUEST,
        "The bucket does not allow ACLs",
    )
}

/// Records `acl` in an object's stored headers (removing any older one).
pub fn store_on_object(headers: &mut BTreeMap<String, String>, acl: Option<&Acl>) {
    headers.remove(OBJECT_ACL_HEADER);
    if let Some(v) = acl.and_then(Acl::to_stored) {
        headers.insert(OBJECT_ACL_HEADER.to_string(), v);
    }
}

/// Records the caller as the owner of the object being written (anonymous writers
/// leave it to the deployment).
pub fn stamp_owner(headers: &mut BTreeMap<String, String>, req: &S3Request) {
    Owner::of_caller(&req.access.caller)
        .unwrap_or_else(Owner::root)
        .stamp(headers);
}

/// The ACL a Put*Acl request sets on what `owner` owns: its headers, or else its body.
async fn acl_of_put(
    s: &S3Service,
    req: &mut S3Request,
    bucket: &str,
    owner: &Owner,
) -> S3Result<Acl> {
    if let Some(acl) = requested(s, req, bucket).await? {
        return Ok(acl);
    }
    let from_header = req.header("x-amz-acl").is_some();
    let body = req.small_body(xml::MAX_XML_BODY).await?;
    if from_header || body.iter().all(u8::is_ascii_whitespace) {
        // A canned ACL the ownership controls reduced to nothing, or an empty body.
        if from_header {
            return Ok(Acl::default());
        }
        return Err(S3Error::malformed_xml());
    }
    let mut acl = Acl::from_xml(&body)?;
    // The owner's FULL_CONTROL is implicit, not stored.
    acl.grants.retain(|g| {
        !(matches!(&g.grantee, Grantee::User(id) if owner.answers_to(id))
            && g.permission == Permission::FullControl)
    });
    let auth = s.policies.auth(s, bucket).await;
    if auth.owner_enforced && !acl.grants.is_empty() {
        return Err(not_supported());
    }
    if auth.public_access.block_public_acls && acl.is_public() {
        return Err(S3Error::access_denied());
    }
    Ok(acl)
}

pub async fn get_bucket(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let meta = s.objects.bucket_meta(req.bucket()?).await?;
    let acl = Acl::from_stored(meta.config.get(ACL_CONFIG));
    Ok(xml_response(
        StatusCode::OK,
        acl.to_xml(&Owner::of_bucket(&meta.config)),
    ))
}

pub async fn put_bucket(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    let meta = s.objects.bucket_meta(&bucket).await?;
    let acl = acl_of_put(s, req, &bucket, &Owner::of_bucket(&meta.config)).await?;
    s.set_bucket_config(&bucket, ACL_CONFIG, acl.to_stored())
        .await?;
    Ok(empty(StatusCode::OK))
}

pub async fn get_object(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let info = s.objects.object_info(req.bucket()?, req.key()?).await?;
    let acl = Acl::from_stored(info.headers.get(OBJECT_ACL_HEADER));
    Ok(xml_response(
        StatusCode::OK,
        acl.to_xml(&Owner::of_object(&info.headers)),
    ))
}

/// Sets an object's ACL: a metadata-only change of its current version (the data,
/// ETag and modification time stay).
pub async fn put_object(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let (bucket, key) = (req.bucket()?.to_string(), req.key()?.to_string());
    let info = s.objects.object_info(&bucket, &key).await?;
    let acl = acl_of_put(s, req, &bucket, &Owner::of_object(&info.headers)).await?;
    s.objects
        .update_object_headers(&bucket, &key, |headers| {
            let before = headers.get(OBJECT_ACL_HEADER).cloned();
            store_on_object(headers, Some(&acl));
            headers.get(OBJECT_ACL_HEADER) != before.as_ref()
        })
        .await?;
    Ok(empty(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canned_and_headers_and_xml_round_trip() {
        assert!(Acl::canned("private").unwrap().grants.is_empty());
        assert!(Acl::canned("public-read").unwrap().is_public());
        assert!(Acl::canned("nope").is_err());
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-grant-read",
            "id=\"alice\", uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""
                .parse()
                .unwrap(),
        );
        let acl = Acl::from_headers(&h).unwrap().unwrap();
        assert_eq!(acl.grants.len(), 2);
        h.insert("x-amz-acl", "private".parse().unwrap());
        assert!(Acl::from_headers(&h).is_err());
        let xml = acl.to_xml(&Owner::root());
        let back = Acl::from_xml(xml.as_bytes()).unwrap();
        // The owner's grant is rendered and read back as an explicit grant.
        assert_eq!(back.grants.len(), 3);
        assert_eq!(back.grants[1..], acl.grants[..]);
    }

    #[test]
    fn grants_match_callers() {
        let acl = Acl::canned("authenticated-read").unwrap();
        let anon = Caller::anonymous();
        assert!(!acl.grants(&anon, Permission::Read, false));
        let acl = Acl::canned("public-read").unwrap();
        assert!(acl.grants(&anon, Permission::Read, false));
        assert!(!acl.grants(&anon, Permission::Read, true));
        assert!(!acl.grants(&anon, Permission::Write, false));
    }
}
