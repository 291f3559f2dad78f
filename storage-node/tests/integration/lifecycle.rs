//! Bucket lifecycle as `aws-sdk-s3` sees it, on 4 drives with a lifecycle day of one
//! second (so the worker runs every second): the configuration's round trip and AWS's
//! errors, `x-amz-expiration` on PUT and HEAD, and the worker expiring current objects
//! (unversioned: removed; versioned: a delete marker on top), removing noncurrent
//! versions while keeping `NewerNoncurrentVersions`, removing delete markers that hide
//! nothing, aborting old multipart uploads, and sparing what a prefix or tag filter
//! does not name. Progress is checked through the admin API as well.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketVersioningStatus,
    ExpirationStatus, LifecycleExpiration, LifecycleRule, LifecycleRuleAndOperator,
    LifecycleRuleFilter, NoncurrentVersionExpiration, Tag, Transition, TransitionStorageClass,
    VersioningConfiguration,
};
use cairn::lifecycle::LifecycleSettings;
use common::{TestServer, code};
use std::path::PathBuf;
use std::time::{Duration, Instant};

type Client = aws_sdk_s3::Client;

/// How long the worker gets to act (a pass every second, rules of one or two days).
const PATIENCE: Duration = Duration::from_secs(20);

/// A server whose lifecycle day lasts one second.
async fn server() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<PathBuf> = (1..=4).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.lifecycle = LifecycleSettings::with_day(Duration::from_secs(1));
    let running = cairn::server::start(&cfg).await.expect("server starts");
    let addr = running.address;
    TestServer {
        dir,
        drives,
        running: Some(running),
        endpoint: format!("http://{addr}"),
        addr,
    }
}

async fn bucket(c: &Client, name: &str, versioned: bool) {
    c.create_bucket().bucket(name).send().await.unwrap();
    if versioned {
        c.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

fn prefix(p: &str) -> LifecycleRuleFilter {
    LifecycleRuleFilter::builder().prefix(p).build()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

fn days(d: i32) -> LifecycleExpiration {
    LifecycleExpiration::builder().days(d).build()
}

fn rule(
    id: &str,
    filter: LifecycleRuleFilter,
) -> aws_sdk_s3::types::builders::LifecycleRuleBuilder {
    LifecycleRule::builder()
        .id(id)
        .status(ExpirationStatus::Enabled)
        .filter(filter)
}

async fn set_rules(c: &Client, b: &str, rules: Vec<LifecycleRule>) -> Result<(), String> {
    c.put_bucket_lifecycle_configuration()
        .bucket(b)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .set_rules(Some(rules))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| {
            let e = e.into_service_error();
            format!(
                "{}: {}",
                code(&e),
                aws_sdk_s3::error::ProvideErrorMetadata::message(&e).unwrap_or("")
            )
        })
}

async fn put(c: &Client, b: &str, k: &str, body: &str, tagging: Option<&str>) -> Option<String> {
    c.put_object()
        .bucket(b)
        .key(k)
        .set_tagging(tagging.map(str::to_string))
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .unwrap()
        .version_id()
        .map(str::to_string)
}

async fn exists(c: &Client, b: &str, k: &str) -> bool {
    c.head_object().bucket(b).key(k).send().await.is_ok()
}

/// Every version under `p` as (key, version id, is latest, is delete marker).
async fn versions(c: &Client, b: &str, p: &str) -> Vec<(String, String, bool, bool)> {
    let r = c
        .list_object_versions()
        .bucket(b)
        .prefix(p)
        .send()
        .await
        .unwrap();
    let mut out: Vec<(String, String, bool, bool)> = r
        .versions()
        .iter()
        .map(|v| {
            (
                v.key().unwrap_or_default().to_string(),
                v.version_id().unwrap_or_default().to_string(),
                v.is_latest().unwrap_or(false),
                false,
            )
        })
        .collect();
    out.extend(r.delete_markers().iter().map(|m| {
        (
            m.key().unwrap_or_default().to_string(),
            m.version_id().unwrap_or_default().to_string(),
            m.is_latest().unwrap_or(false),
            true,
        )
    }));
    out
}

/// Waits until `k` is gone (HEAD answers 404).
async fn until_gone(c: &Client, b: &str, k: &str) {
    let start = Instant::now();
    while start.elapsed() < PATIENCE {
        if !exists(c, b, k).await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{b}/{k} did not expire within {PATIENCE:?}");
}

/// Waits until the versions under `p` satisfy `want`; returns them.
async fn until_versions(
    c: &Client,
    b: &str,
    p: &str,
    want: impl Fn(&[(String, String, bool, bool)]) -> bool,
) -> Vec<(String, String, bool, bool)> {
    let start = Instant::now();
    loop {
        let v = versions(c, b, p).await;
        if want(&v) {
            return v;
        }
        if start.elapsed() > PATIENCE {
            panic!("versions of {b}/{p} never got there: {v:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Lets the worker make a few more passes.
async fn a_few_passes() {
    tokio::time::sleep(Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_round_trip_and_errors() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "conf", false).await;
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("conf")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "NoSuchLifecycleConfiguration");

    let rules = vec![
        rule("logs", prefix("logs/"))
            .expiration(days(30))
            .build()
            .unwrap(),
        rule(
            "tmp-tagged",
            LifecycleRuleFilter::builder()
                .and(
                    LifecycleRuleAndOperator::builder()
                        .prefix("tmp/")
                        .tags(tag("kind", "scratch"))
                        .object_size_greater_than(10)
                        .build(),
                )
                .build(),
        )
        .noncurrent_version_expiration(
            NoncurrentVersionExpiration::builder()
                .noncurrent_days(7)
                .newer_noncurrent_versions(3)
                .build(),
        )
        .build()
        .unwrap(),
        rule("uploads", prefix(""))
            .status(ExpirationStatus::Disabled)
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(2)
                    .build(),
            )
            .expiration(
                LifecycleExpiration::builder()
                    .expired_object_delete_marker(true)
                    .build(),
            )
            .build()
            .unwrap(),
    ];
    set_rules(&c, "conf", rules.clone()).await.unwrap();
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("conf")
        .send()
        .await
        .unwrap();
    assert_eq!(got.rules(), &rules[..]);

    // AWS's errors, and nothing stored by them.
    let cases: [(LifecycleRule, &str); 4] = [
        (
            rule("z", prefix("")).expiration(days(0)).build().unwrap(),
            "InvalidArgument: 'Days' for Expiration action must be a positive integer",
        ),
        (
            rule("n", prefix(""))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(-1)
                        .build(),
                )
                .build()
                .unwrap(),
            "InvalidArgument: 'NoncurrentDays' for NoncurrentVersionExpiration action must be a positive integer",
        ),
        (
            rule("none", prefix("")).build().unwrap(),
            "InvalidRequest: At least one action needs to be specified in a rule",
        ),
        (
            rule("t", prefix(""))
                .transitions(
                    Transition::builder()
                        .days(30)
                        .storage_class(TransitionStorageClass::Glacier)
                        .build(),
                )
                .build()
                .unwrap(),
            "NotImplemented: Transition actions are not implemented: Cairn has a single storage class",
        ),
    ];
    for (r, want) in cases {
        assert_eq!(set_rules(&c, "conf", vec![r]).await.unwrap_err(), want);
    }
    let two = vec![
        rule("same", prefix("a"))
            .expiration(days(1))
            .build()
            .unwrap(),
        rule("same", prefix("b"))
            .expiration(days(1))
            .build()
            .unwrap(),
    ];
    assert_eq!(
        set_rules(&c, "conf", two).await.unwrap_err(),
        "InvalidArgument: Rule ID must be unique. Found same ID for more than one rule"
    );
    let got = c
        .get_bucket_lifecycle_configuration()
        .bucket("conf")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.rules().len(),
        3,
        "a refused configuration replaced nothing"
    );

    let e = set_rules(
        &c,
        "no-such-bucket",
        vec![rule("x", prefix("")).expiration(days(1)).build().unwrap()],
    )
    .await
    .unwrap_err();
    assert!(e.starts_with("NoSuchBucket"), "{e}");

    c.delete_bucket_lifecycle()
        .bucket("conf")
        .send()
        .await
        .unwrap();
    let e = c
        .get_bucket_lifecycle_configuration()
        .bucket("conf")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "NoSuchLifecycleConfiguration");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiration_header_on_put_get_and_head() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "hdr", false).await;
    // 1000 one-second days: nothing expires during the test.
    set_rules(
        &c,
        "hdr",
        vec![
            rule("picture-deletion-rule", prefix("pic/"))
                .expiration(days(1000))
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let before = chrono::Utc::now().timestamp();
    let r = c
        .put_object()
        .bucket("hdr")
        .key("pic/a.jpg")
        .body(ByteStream::from_static(b"jpeg"))
        .send()
        .await
        .unwrap();
    let h = r.expiration().expect("x-amz-expiration on PUT").to_string();
    assert!(h.ends_with(", rule-id=\"picture-deletion-rule\""), "{h}");
    let date = h
        .strip_prefix("expiry-date=\"")
        .and_then(|r| r.split('"').next())
        .unwrap();
    let due = chrono::DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000"))
        .unwrap()
        .timestamp();
    assert!((before + 1000..=before + 1003).contains(&due), "{h}");
    let head = c
        .head_object()
        .bucket("hdr")
        .key("pic/a.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(head.expiration(), Some(h.as_str()));
    let get = c
        .get_object()
        .bucket("hdr")
        .key("pic/a.jpg")
        .send()
        .await
        .unwrap();
    assert_eq!(get.expiration(), Some(h.as_str()));
    // An object no rule names has none.
    let r = c
        .put_object()
        .bucket("hdr")
        .key("doc/a.txt")
        .body(ByteStream::from_static(b"text"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.expiration(), None);
    let head = c
        .head_object()
        .bucket("hdr")
        .key("doc/a.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.expiration(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unversioned_objects_expire_and_filters_spare_the_rest() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "plain", false).await;
    set_rules(
        &c,
        "plain",
        vec![
            rule("tmp", prefix("tmp/"))
                .expiration(days(1))
                .build()
                .unwrap(),
            rule(
                "tagged",
                LifecycleRuleFilter::builder()
                    .tag(tag("expire", "yes"))
                    .build(),
            )
            .expiration(days(1))
            .build()
            .unwrap(),
            rule(
                "big",
                LifecycleRuleFilter::builder()
                    .and(
                        LifecycleRuleAndOperator::builder()
                            .prefix("size/")
                            .object_size_greater_than(5)
                            .build(),
                    )
                    .build(),
            )
            .expiration(days(1))
            .build()
            .unwrap(),
        ],
    )
    .await
    .unwrap();
    put(&c, "plain", "tmp/a", "a", None).await;
    put(&c, "plain", "keep/b", "b", None).await;
    put(&c, "plain", "t/c", "c", Some("expire=yes")).await;
    put(&c, "plain", "t/d", "d", Some("expire=no")).await;
    put(&c, "plain", "size/big", "0123456789", None).await;
    put(&c, "plain", "size/small", "0123", None).await;
    for k in ["tmp/a", "t/c", "size/big"] {
        until_gone(&c, "plain", k).await;
    }
    a_few_passes().await;
    for k in ["keep/b", "t/d", "size/small"] {
        assert!(exists(&c, "plain", k).await, "{k} was spared");
    }
    // The admin API counts what the worker did.
    let admin = cairn::admin::client::AdminClient::new(
        &s.endpoint,
        cairn::s3::auth::sigv4::Credentials {
            access_key: common::USER.into(),
            secret_key: common::PASSWORD.into(),
        },
        "us-east-1",
        &cairn::admin::client::TlsTrust::System,
    )
    .unwrap();
    let st: cairn::admin::lifecycle::LifecycleStatus = admin
        .json(
            http::Method::GET,
            cairn::admin::lifecycle::PATH,
            &[],
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert_eq!(st.objects_expired, 3, "{st:?}");
    assert!(st.passes >= 2 && st.last_pass.is_some(), "{st:?}");
    assert_eq!(st.buckets_with_rules, Some(1));
    // And so do the metrics.
    let bearer = cairn::front::metrics::token::generate(
        common::USER,
        common::PASSWORD,
        Duration::from_secs(600),
    );
    let page = common::raw(
        s.addr,
        format!(
            "GET {} HTTP/1.1\r\nhost: cairn\r\nauthorization: Bearer {bearer}\r\nconnection: close\r\n\r\n",
            cairn::front::metrics::NODE_PATH
        )
        .as_bytes(),
    )
    .await
    .text();
    assert!(
        page.lines()
            .any(|l| l == "cairn_lifecycle_objects_expired_total 3"),
        "{page}"
    );
    assert!(page.contains("cairn_lifecycle_scans_total "), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_objects_get_a_delete_marker() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "ver", true).await;
    set_rules(
        &c,
        "ver",
        vec![
            rule("exp", prefix("e/"))
                .expiration(days(1))
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let v1 = put(&c, "ver", "e/k", "one", None).await.unwrap();
    put(&c, "ver", "other", "x", None).await;
    let got = until_versions(&c, "ver", "e/", |v| v.iter().any(|x| x.3 && x.2)).await;
    assert!(!exists(&c, "ver", "e/k").await);
    // The data is kept as a noncurrent version, readable by its id.
    let old = c
        .get_object()
        .bucket("ver")
        .key("e/k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(old.body.collect().await.unwrap().to_vec(), b"one");
    assert!(got.iter().any(|x| x.1 == v1 && !x.2 && !x.3), "{got:?}");
    // A marker already on top is not expired again, nor stacked.
    a_few_passes().await;
    let after = versions(&c, "ver", "e/").await;
    assert_eq!(after.iter().filter(|x| x.3).count(), 1, "{after:?}");
    assert_eq!(after.len(), 2, "{after:?}");
    assert!(exists(&c, "ver", "other").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noncurrent_versions_go_but_the_newest_are_kept() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "noncurrent", true).await;
    set_rules(
        &c,
        "noncurrent",
        vec![
            rule("keep2", prefix("keep/"))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .newer_noncurrent_versions(2)
                        .build(),
                )
                .build()
                .unwrap(),
            rule("all", prefix("all/"))
                .noncurrent_version_expiration(
                    NoncurrentVersionExpiration::builder()
                        .noncurrent_days(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(
            put(&c, "noncurrent", "keep/k", &format!("v{i}"), None)
                .await
                .unwrap(),
        );
    }
    for i in 0..3 {
        put(&c, "noncurrent", "all/k", &format!("v{i}"), None).await;
    }
    put(&c, "noncurrent", "other/k", "a", None).await;
    put(&c, "noncurrent", "other/k", "b", None).await;
    let kept = until_versions(&c, "noncurrent", "keep/", |v| v.len() == 3).await;
    let mut kept_ids: Vec<&str> = kept.iter().map(|x| x.1.as_str()).collect();
    kept_ids.sort();
    let mut want: Vec<&str> = ids[2..].iter().map(String::as_str).collect();
    want.sort();
    assert_eq!(
        kept_ids, want,
        "the current version and the two newest noncurrent ones"
    );
    let all = until_versions(&c, "noncurrent", "all/", |v| v.len() == 1).await;
    assert!(all[0].2, "only the current version is left: {all:?}");
    a_few_passes().await;
    assert_eq!(versions(&c, "noncurrent", "keep/").await.len(), 3);
    assert_eq!(
        versions(&c, "noncurrent", "other/").await.len(),
        2,
        "no rule names other/"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_delete_markers_are_removed() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "markers", true).await;
    set_rules(
        &c,
        "markers",
        vec![
            rule("markers", prefix(""))
                .expiration(
                    LifecycleExpiration::builder()
                        .expired_object_delete_marker(true)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    // A marker over nothing, and one over a version.
    c.delete_object()
        .bucket("markers")
        .key("lone")
        .send()
        .await
        .unwrap();
    put(&c, "markers", "covered", "data", None).await;
    c.delete_object()
        .bucket("markers")
        .key("covered")
        .send()
        .await
        .unwrap();
    assert_eq!(versions(&c, "markers", "lone").await.len(), 1);
    until_versions(&c, "markers", "lone", |v| v.is_empty()).await;
    a_few_passes().await;
    let covered = versions(&c, "markers", "covered").await;
    assert_eq!(
        covered.len(),
        2,
        "a marker that hides a version stays: {covered:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_multipart_uploads_are_aborted() {
    let s = server().await;
    let c = s.client();
    bucket(&c, "mpu", false).await;
    set_rules(
        &c,
        "mpu",
        vec![
            rule("abort", prefix("up/"))
                .abort_incomplete_multipart_upload(
                    AbortIncompleteMultipartUpload::builder()
                        .days_after_initiation(1)
                        .build(),
                )
                .build()
                .unwrap(),
        ],
    )
    .await
    .unwrap();
    let up = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("up/a")
        .send()
        .await
        .unwrap();
    let up_id = up.upload_id().unwrap().to_string();
    c.create_multipart_upload()
        .bucket("mpu")
        .key("stay/b")
        .send()
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let l = c
            .list_multipart_uploads()
            .bucket("mpu")
            .send()
            .await
            .unwrap();
        let keys: Vec<&str> = l.uploads().iter().filter_map(|u| u.key()).collect();
        if keys == ["stay/b"] {
            break;
        }
        assert!(start.elapsed() < PATIENCE, "uploads left: {keys:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let e = c
        .list_parts()
        .bucket("mpu")
        .key("up/a")
        .upload_id(&up_id)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(code(&e), "NoSuchUpload");
    // An object written under the prefix is not touched by an upload-only rule.
    put(&c, "mpu", "up/object", "x", None).await;
    a_few_passes().await;
    assert!(exists(&c, "mpu", "up/object").await);
}
