//! S3 Object Lock as `aws-sdk-s3` sees it, on 8 drives with EC:4: buckets created with
//! object lock (versioning enabled for good), the bucket's default retention, the lock
//! headers of PUT, CopyObject and multipart uploads and their echo on HEAD, retention
//! and legal hold by version id, GOVERNANCE bypass (root may, a user without
//! `s3:BypassGovernanceRetention` may not), COMPLIANCE only extended, DeleteObjects'
//! per-key refusals, and a retention that expires.

use crate::common;

use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, DefaultRetention, Delete,
    ObjectIdentifier, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockLegalHold,
    ObjectLockLegalHoldStatus, ObjectLockMode, ObjectLockRetention, ObjectLockRetentionMode,
    ObjectLockRule, VersioningConfiguration,
};
use common::iam::{add_user, client_as, put_policy};
use common::{TestServer, code};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

type Client = aws_sdk_s3::Client;

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A date `secs` from now.
fn in_secs(secs: i64) -> DateTime {
    DateTime::from_secs(now_secs() + secs)
}

async fn lock_bucket(c: &Client, name: &str) {
    c.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(true)
        .send()
        .await
        .unwrap();
}

/// PUTs `body` with optional retention; returns the version id.
async fn put(c: &Client, b: &str, k: &str, retention: Option<(ObjectLockMode, i64)>) -> String {
    let mut r = c
        .put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from_static(b"locked"));
    if let Some((mode, secs)) = retention {
        r = r
            .object_lock_mode(mode)
            .object_lock_retain_until_date(in_secs(secs));
    }
    r.send()
        .await
        .unwrap_or_else(|e| panic!("PUT {k}: {e:?}"))
        .version_id()
        .expect("a version id")
        .to_string()
}

fn retention(mode: ObjectLockRetentionMode, secs: i64) -> ObjectLockRetention {
    ObjectLockRetention::builder()
        .mode(mode)
        .retain_until_date(in_secs(secs))
        .build()
}

async fn delete_version(c: &Client, b: &str, k: &str, v: &str, bypass: bool) -> Result<(), String> {
    let mut r = c.delete_object().bucket(b).key(k).version_id(v);
    if bypass {
        r = r.bypass_governance_retention(true);
    }
    r.send().await.map(|_| ()).map_err(|e| code(&e))
}

async fn set_hold(c: &Client, b: &str, k: &str, v: &str, on: bool) {
    let status = if on {
        ObjectLockLegalHoldStatus::On
    } else {
        ObjectLockLegalHoldStatus::Off
    };
    c.put_object_legal_hold()
        .bucket(b)
        .key(k)
        .version_id(v)
        .legal_hold(ObjectLockLegalHold::builder().status(status).build())
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn lock_bucket_default_retention_and_headers() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "lkb").await;
    // Versioning is on, and cannot be suspended.
    let v = c
        .get_bucket_versioning()
        .bucket("lkb")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status(), Some(&BucketVersioningStatus::Enabled));
    let e = c
        .put_bucket_versioning()
        .bucket("lkb")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Suspended)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketState");
    // No rule yet: the configuration says only that lock is enabled.
    let cfg = c
        .get_object_lock_configuration()
        .bucket("lkb")
        .send()
        .await
        .unwrap();
    let cfg = cfg.object_lock_configuration().expect("configuration");
    assert_eq!(cfg.object_lock_enabled(), Some(&ObjectLockEnabled::Enabled));
    assert!(cfg.rule().is_none());
    // A version written before the default has no retention.
    let plain = put(&c, "lkb", "before", None).await;
    let e = c
        .get_object_retention()
        .bucket("lkb")
        .key("before")
        .version_id(&plain)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchObjectLockConfiguration");
    delete_version(&c, "lkb", "before", &plain, false)
        .await
        .expect("an unlocked version can be removed");

    c.put_object_lock_configuration()
        .bucket("lkb")
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(2)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let cfg = c
        .get_object_lock_configuration()
        .bucket("lkb")
        .send()
        .await
        .unwrap();
    let d = cfg
        .object_lock_configuration()
        .and_then(|c| c.rule())
        .and_then(|r| r.default_retention())
        .expect("default retention");
    assert_eq!(d.mode(), Some(&ObjectLockRetentionMode::Governance));
    assert_eq!(d.days(), Some(2));
    assert_eq!(d.years(), None);

    // The default applies to a version written without headers.
    let v1 = put(&c, "lkb", "k", None).await;
    let h = c.head_object().bucket("lkb").key("k").send().await.unwrap();
    assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Governance));
    let until = h.object_lock_retain_until_date().expect("date").secs();
    let want = now_secs() + 2 * 86_400;
    assert!((until - want).abs() < 60, "{until} vs {want}");
    assert!(h.object_lock_legal_hold_status().is_none());
    // Explicit headers win over the default; legal hold comes back on HEAD and GET.
    let v2 = c
        .put_object()
        .bucket("lkb")
        .key("k")
        .body(ByteStream::from_static(b"two"))
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_secs(3_600))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap()
        .version_id()
        .expect("version")
        .to_string();
    assert_ne!(v1, v2, "an overwrite makes a new version");
    let g = c.get_object().bucket("lkb").key("k").send().await.unwrap();
    assert_eq!(g.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    assert_eq!(
        g.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    // The older version keeps its own retention.
    let r = c
        .get_object_retention()
        .bucket("lkb")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.retention().and_then(|r| r.mode()),
        Some(&ObjectLockRetentionMode::Governance)
    );
    // Neither version can be removed; a plain DELETE only adds a delete marker.
    assert_eq!(
        delete_version(&c, "lkb", "k", &v1, false).await,
        Err("AccessDenied".into())
    );
    assert_eq!(
        delete_version(&c, "lkb", "k", &v2, true).await,
        Err("AccessDenied".into()),
        "legal hold and COMPLIANCE are not bypassed"
    );
    let d = c
        .delete_object()
        .bucket("lkb")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let marker = d.version_id().expect("marker id").to_string();
    delete_version(&c, "lkb", "k", &marker, false)
        .await
        .expect("a delete marker is not locked");
    assert_eq!(
        c.get_object()
            .bucket("lkb")
            .key("k")
            .send()
            .await
            .unwrap()
            .version_id(),
        Some(v2.as_str())
    );

    // CopyObject takes the request's lock (or the default), not the source's.
    let copy = c
        .copy_object()
        .bucket("lkb")
        .key("copy")
        .copy_source("lkb/k")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap();
    let h = c
        .head_object()
        .bucket("lkb")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Governance));
    assert_eq!(
        h.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    let copy_version = copy.version_id().expect("copy version").to_string();
    assert_eq!(
        delete_version(&c, "lkb", "copy", &copy_version, true).await,
        Err("AccessDenied".into())
    );

    // A multipart upload gets its lock when it completes.
    let up = c
        .create_multipart_upload()
        .bucket("lkb")
        .key("mp")
        .object_lock_mode(ObjectLockMode::Compliance)
        .object_lock_retain_until_date(in_secs(7_200))
        .send()
        .await
        .unwrap();
    let id = up.upload_id().expect("upload id");
    let part = c
        .upload_part()
        .bucket("lkb")
        .key("mp")
        .upload_id(id)
        .part_number(1)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .unwrap();
    let done = c
        .complete_multipart_upload()
        .bucket("lkb")
        .key("mp")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap_or_default())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let h = c
        .head_object()
        .bucket("lkb")
        .key("mp")
        .send()
        .await
        .unwrap();
    assert_eq!(h.object_lock_mode(), Some(&ObjectLockMode::Compliance));
    let until = h.object_lock_retain_until_date().expect("date").secs();
    assert!((until - (now_secs() + 7_200)).abs() < 60);
    let mp_version = done.version_id().expect("version").to_string();
    assert_eq!(
        delete_version(&c, "lkb", "mp", &mp_version, true).await,
        Err("AccessDenied".into())
    );
}

#[tokio::test]
async fn bad_lock_requests() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("plain").send().await.unwrap();
    let e = c
        .get_object_lock_configuration()
        .bucket("plain")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ObjectLockConfigurationNotFoundError");
    let e = c
        .put_object_lock_configuration()
        .bucket("plain")
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketState");
    let e = c
        .put_object()
        .bucket("plain")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    c.put_object()
        .bucket("plain")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let e = c
        .put_object_retention()
        .bucket("plain")
        .key("k")
        .retention(retention(ObjectLockRetentionMode::Governance, 60))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");

    lock_bucket(&c, "lk2").await;
    // Mode without date, and a date in the past.
    let e = c
        .put_object()
        .bucket("lk2")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .object_lock_mode(ObjectLockMode::Governance)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    let e = c
        .put_object()
        .bucket("lk2")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .object_lock_mode(ObjectLockMode::Governance)
        .object_lock_retain_until_date(in_secs(-60))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    // A default retention with both days and years.
    let e = c
        .put_object_lock_configuration()
        .bucket("lk2")
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(1)
                                .years(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "MalformedXML");
}

const NO_BYPASS_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject","s3:DeleteObjectVersion","s3:GetObjectRetention","s3:PutObjectRetention","s3:ListBucket"],"Resource":["arn:aws:s3:::*"]}]}"#;

#[tokio::test]
async fn governance_needs_bypass_header_and_permission() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "gov").await;
    let iam = srv.running.as_ref().expect("running").iam.clone();
    put_policy(&iam, "no-bypass", NO_BYPASS_POLICY).await;
    add_user(&iam, "locker", "locker-secret", &["no-bypass"]).await;
    let user = client_as(&srv.endpoint, "locker", "locker-secret", None);

    let v = put(&c, "gov", "k", Some((ObjectLockMode::Governance, 3_600))).await;
    // Extending needs no bypass.
    user.put_object_retention()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .retention(retention(ObjectLockRetentionMode::Governance, 7_200))
        .send()
        .await
        .unwrap();
    // Shortening: refused without the header, and for a user without the permission.
    let e = c
        .put_object_retention()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .retention(retention(ObjectLockRetentionMode::Governance, 60))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = user
        .put_object_retention()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .retention(retention(ObjectLockRetentionMode::Governance, 60))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    assert_eq!(
        delete_version(&user, "gov", "k", &v, true).await,
        Err("AccessDenied".into())
    );
    assert_eq!(
        delete_version(&c, "gov", "k", &v, false).await,
        Err("AccessDenied".into())
    );
    // Root with the header may shorten, and delete.
    c.put_object_retention()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .bypass_governance_retention(true)
        .retention(retention(ObjectLockRetentionMode::Governance, 60))
        .send()
        .await
        .unwrap();
    let r = c
        .get_object_retention()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    let until = r
        .retention()
        .and_then(|r| r.retain_until_date())
        .expect("date")
        .secs();
    assert!((until - (now_secs() + 60)).abs() < 30);
    delete_version(&c, "gov", "k", &v, true)
        .await
        .expect("root bypasses governance");
    let e = c
        .head_object()
        .bucket("gov")
        .key("k")
        .version_id(&v)
        .send()
        .await
        .unwrap_err();
    assert!(e.raw_response().is_some_and(|r| r.status().as_u16() == 404));
}

#[tokio::test]
async fn compliance_is_only_extended() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "comp").await;
    let v = put(&c, "comp", "k", Some((ObjectLockMode::Compliance, 600))).await;
    for (mode, secs) in [
        (ObjectLockRetentionMode::Compliance, 60),
        (ObjectLockRetentionMode::Governance, 6_000),
    ] {
        let e = c
            .put_object_retention()
            .bucket("comp")
            .key("k")
            .version_id(&v)
            .bypass_governance_retention(true)
            .retention(retention(mode, secs))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
    }
    c.put_object_retention()
        .bucket("comp")
        .key("k")
        .version_id(&v)
        .retention(retention(ObjectLockRetentionMode::Compliance, 6_000))
        .send()
        .await
        .unwrap();
    let h = c
        .head_object()
        .bucket("comp")
        .key("k")
        .version_id(&v)
        .send()
        .await
        .unwrap();
    let until = h.object_lock_retain_until_date().expect("date").secs();
    assert!((until - (now_secs() + 6_000)).abs() < 30);
    assert_eq!(
        delete_version(&c, "comp", "k", &v, true).await,
        Err("AccessDenied".into())
    );
}

#[tokio::test]
async fn legal_hold_on_and_off() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "hold").await;
    let v = put(&c, "hold", "k", None).await;
    let status = |c: Client, v: String| async move {
        c.get_object_legal_hold()
            .bucket("hold")
            .key("k")
            .version_id(v)
            .send()
            .await
            .map(|r| r.legal_hold().and_then(|h| h.status()).cloned())
            .map_err(|e| e.into_service_error().meta().code().map(str::to_string))
    };
    // Never put: S3 answers that there is no such configuration, not OFF.
    assert_eq!(
        status(c.clone(), v.clone()).await,
        Err(Some("NoSuchObjectLockConfiguration".into()))
    );
    set_hold(&c, "hold", "k", &v, false).await;
    assert_eq!(
        status(c.clone(), v.clone()).await,
        Ok(Some(ObjectLockLegalHoldStatus::Off))
    );
    set_hold(&c, "hold", "k", &v, true).await;
    assert_eq!(
        status(c.clone(), v.clone()).await,
        Ok(Some(ObjectLockLegalHoldStatus::On))
    );
    assert_eq!(
        delete_version(&c, "hold", "k", &v, true).await,
        Err("AccessDenied".into())
    );
    set_hold(&c, "hold", "k", &v, false).await;
    delete_version(&c, "hold", "k", &v, false)
        .await
        .expect("hold released");
}

#[tokio::test]
async fn delete_objects_reports_locked_versions() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "many").await;
    let locked = put(
        &c,
        "many",
        "locked",
        Some((ObjectLockMode::Governance, 3_600)),
    )
    .await;
    let free = put(&c, "many", "free", None).await;
    let request = |bypass: bool| {
        c.delete_objects()
            .bucket("many")
            .set_bypass_governance_retention(bypass.then_some(true))
            .delete(
                Delete::builder()
                    .objects(
                        ObjectIdentifier::builder()
                            .key("locked")
                            .version_id(&locked)
                            .build()
                            .unwrap(),
                    )
                    .objects(
                        ObjectIdentifier::builder()
                            .key("free")
                            .version_id(&free)
                            .build()
                            .unwrap(),
                    )
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let r = request(false).await.unwrap();
    let deleted: Vec<&str> = r.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, vec!["free"]);
    let errors: Vec<(&str, &str, &str)> = r
        .errors()
        .iter()
        .map(|e| {
            (
                e.key().unwrap_or_default(),
                e.version_id().unwrap_or_default(),
                e.code().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(errors, vec![("locked", locked.as_str(), "AccessDenied")]);
    // With the bypass, root removes the GOVERNANCE version too.
    let r = request(true).await.unwrap();
    assert!(r.errors().is_empty(), "{:?}", r.errors());
    let left = c
        .list_object_versions()
        .bucket("many")
        .send()
        .await
        .unwrap();
    assert!(left.versions().is_empty());
}

#[tokio::test]
async fn expired_retention_allows_delete() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "exp").await;
    let v = put(&c, "exp", "k", Some((ObjectLockMode::Compliance, 3))).await;
    assert_eq!(
        delete_version(&c, "exp", "k", &v, true).await,
        Err("AccessDenied".into())
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    delete_version(&c, "exp", "k", &v, false)
        .await
        .expect("retention expired");
}

/// A one-file tar, as `mc --snowball` sends.
fn tar_of_one(name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(bytes.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, name, bytes).unwrap();
    b.into_inner().unwrap()
}

#[tokio::test]
async fn snowball_files_get_the_lock_of_their_request() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    lock_bucket(&c, "snowlock").await;
    c.put_object()
        .bucket("snowlock")
        .key("upload.tar")
        .metadata("snowball-auto-extract", "true")
        .object_lock_legal_hold_status(ObjectLockLegalHoldStatus::On)
        .body(ByteStream::from(tar_of_one("inside.txt", b"snow")))
        .send()
        .await
        .unwrap();
    let h = c
        .head_object()
        .bucket("snowlock")
        .key("inside.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.object_lock_legal_hold_status(),
        Some(&ObjectLockLegalHoldStatus::On)
    );
    let v = h.version_id().expect("version").to_string();
    assert_eq!(
        delete_version(&c, "snowlock", "inside.txt", &v, true).await,
        Err("AccessDenied".into())
    );
}
