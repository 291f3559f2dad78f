//! Bucket versioning as `aws-sdk-s3` sees it, on 8 drives with EC:4: the bucket
//! setting, versions written by PUT, CopyObject and CompleteMultipartUpload, reads and
//! deletes by version id, delete markers, `null` versions (unversioned, suspended, and
//! objects whose metadata is still in format 1), ListObjects hiding deleted keys,
//! ListObjectVersions paging, DeleteObjects with version ids, and healing a wiped
//! drive back to every version.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketVersioningStatus, CompletedMultipartUpload, CompletedPart, Delete, EncodingType,
    MfaDelete, ObjectIdentifier, VersioningConfiguration,
};
use cairn::heal::{HealRequest, TaskState};
use common::{TestServer, code, data};
use std::path::Path;
use std::time::{Duration, Instant};

type Client = aws_sdk_s3::Client;

async fn bucket(c: &Client, name: &str, status: Option<BucketVersioningStatus>) {
    c.create_bucket().bucket(name).send().await.unwrap();
    if let Some(s) = status {
        set_versioning(c, name, s).await;
    }
}

async fn set_versioning(c: &Client, name: &str, s: BucketVersioningStatus) {
    c.put_bucket_versioning()
        .bucket(name)
        .versioning_configuration(VersioningConfiguration::builder().status(s).build())
        .send()
        .await
        .unwrap();
}

/// PUTs `body`; returns the version id the server answered with, if any.
async fn put(c: &Client, b: &str, k: &str, body: &[u8]) -> Option<String> {
    c.put_object()
        .bucket(b)
        .key(k)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap()
        .version_id()
        .map(str::to_string)
}

async fn get_version(c: &Client, b: &str, k: &str, v: Option<&str>) -> (Vec<u8>, Option<String>) {
    let r = c
        .get_object()
        .bucket(b)
        .key(k)
        .set_version_id(v.map(str::to_string))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {k} {v:?}: {e:?}"));
    let vid = r.version_id().map(str::to_string);
    (r.body.collect().await.unwrap().to_vec(), vid)
}

/// Every version of `prefix` as (key, version id, is latest, delete marker), in the
/// order ListObjectVersions returns them, paged `page` at a time.
async fn all_versions(
    c: &Client,
    b: &str,
    prefix: &str,
    page: i32,
) -> Vec<(String, String, bool, bool)> {
    let mut out = Vec::new();
    let (mut km, mut vm): (Option<String>, Option<String>) = (None, None);
    for _ in 0..1000 {
        let r = c
            .list_object_versions()
            .bucket(b)
            .prefix(prefix)
            .max_keys(page)
            .set_key_marker(km.clone())
            .set_version_id_marker(vm.clone())
            .send()
            .await
            .unwrap();
        let mut entries: Vec<(String, String, bool, bool)> = Vec::new();
        for v in r.versions() {
            entries.push((
                v.key().unwrap().to_string(),
                v.version_id().unwrap().to_string(),
                v.is_latest().unwrap(),
                false,
            ));
        }
        for d in r.delete_markers() {
            entries.push((
                d.key().unwrap().to_string(),
                d.version_id().unwrap().to_string(),
                d.is_latest().unwrap(),
                true,
            ));
        }
        assert!(
            entries.len() <= page as usize,
            "page holds at most max-keys"
        );
        // Versions and markers come in two lists; within a key the latest comes first.
        entries.sort_by(|a, b| a.0.cmp(&b.0).then(b.2.cmp(&a.2)));
        out.extend(entries);
        if r.is_truncated() != Some(true) {
            return out;
        }
        km = r.next_key_marker().map(str::to_string);
        vm = r.next_version_id_marker().map(str::to_string);
        assert!(km.is_some(), "a truncated page names where to go on");
    }
    panic!("listing never ended");
}

type SdkError<E> = aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>;

fn header<'a, E>(e: &'a SdkError<E>, name: &str) -> Option<&'a str> {
    e.raw_response().and_then(|r| r.headers().get(name))
}

fn status<E>(e: &SdkError<E>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

#[tokio::test]
async fn bucket_versioning_setting() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vbk", None).await;
    let g = c
        .get_bucket_versioning()
        .bucket("vbk")
        .send()
        .await
        .unwrap();
    assert!(g.status().is_none(), "never versioned: no Status");
    set_versioning(&c, "vbk", BucketVersioningStatus::Enabled).await;
    let g = c
        .get_bucket_versioning()
        .bucket("vbk")
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), Some(&BucketVersioningStatus::Enabled));
    set_versioning(&c, "vbk", BucketVersioningStatus::Suspended).await;
    let g = c
        .get_bucket_versioning()
        .bucket("vbk")
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), Some(&BucketVersioningStatus::Suspended));
    // MFA delete is refused, and changes nothing.
    let e = c
        .put_bucket_versioning()
        .bucket("vbk")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .mfa_delete(MfaDelete::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NotImplemented");
    let g = c
        .get_bucket_versioning()
        .bucket("vbk")
        .send()
        .await
        .unwrap();
    assert_eq!(g.status(), Some(&BucketVersioningStatus::Suspended));
    let e = c
        .put_bucket_versioning()
        .bucket("vbk")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::from("Sometimes"))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MalformedXML");
    let e = c
        .get_bucket_versioning()
        .bucket("nobucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucket");
}

#[tokio::test]
async fn enabled_bucket_keeps_versions_and_delete_markers() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vbk", Some(BucketVersioningStatus::Enabled)).await;
    let small1 = data(100, 1);
    let big2 = data((2 << 20) + 17, 2);
    let v1 = put(&c, "vbk", "k", &small1).await.expect("a version id");
    let v2 = put(&c, "vbk", "k", &big2).await.expect("a version id");
    assert_ne!(v1, v2);
    for v in [&v1, &v2] {
        assert!(uuid::Uuid::parse_str(v).is_ok(), "UUID-like: {v}");
    }
    assert_eq!(
        get_version(&c, "vbk", "k", None).await,
        (big2.clone(), Some(v2.clone()))
    );
    assert_eq!(
        get_version(&c, "vbk", "k", Some(&v1)).await,
        (small1.clone(), Some(v1.clone()))
    );
    assert_eq!(get_version(&c, "vbk", "k", Some(&v2)).await.0, big2);
    let h = c
        .head_object()
        .bucket("vbk")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_length(), Some(100));
    assert_eq!(h.version_id(), Some(v1.as_str()));
    // A range of an old version.
    let r = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .version_id(&v1)
        .range("bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.body.collect().await.unwrap().to_vec(), small1[10..20]);

    // Unknown and malformed version ids.
    let unknown = uuid::Uuid::new_v4().to_string();
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .version_id(&unknown)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(404));
    assert_eq!(code(&e.into_service_error()), "NoSuchVersion");
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .version_id("not-a-version")
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(400));
    assert_eq!(code(&e.into_service_error()), "InvalidArgument");

    // DELETE without a version id puts a delete marker on top.
    let d = c
        .delete_object()
        .bucket("vbk")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    let marker = d.version_id().expect("the marker's version id").to_string();
    assert!(uuid::Uuid::parse_str(&marker).is_ok());
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(header(&e, "x-amz-delete-marker"), Some("true"));
    assert_eq!(header(&e, "x-amz-version-id"), Some(marker.as_str()));
    assert_eq!(status(&e), Some(404));
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");
    let e = c
        .head_object()
        .bucket("vbk")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(header(&e, "x-amz-delete-marker"), Some("true"));
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(status(&e), Some(405));
    assert_eq!(header(&e, "x-amz-delete-marker"), Some("true"));
    assert_eq!(code(&e.into_service_error()), "MethodNotAllowed");
    // Old versions still read.
    assert_eq!(get_version(&c, "vbk", "k", Some(&v1)).await.0, small1);
    // ListObjects does not show the key; ListObjectVersions shows everything.
    let l = c.list_objects_v2().bucket("vbk").send().await.unwrap();
    assert_eq!(l.key_count(), Some(0));
    let l = c.list_objects().bucket("vbk").send().await.unwrap();
    assert!(l.contents().is_empty());
    let all = all_versions(&c, "vbk", "", 1000).await;
    assert_eq!(
        all,
        vec![
            ("k".to_string(), marker.clone(), true, true),
            ("k".to_string(), v2.clone(), false, false),
            ("k".to_string(), v1.clone(), false, false),
        ]
    );
    let r = c.list_object_versions().bucket("vbk").send().await.unwrap();
    let v = r
        .versions()
        .iter()
        .find(|v| v.version_id() == Some(v2.as_str()))
        .unwrap();
    assert_eq!(v.size(), Some(big2.len() as i64));

    // Removing the marker brings the key back; removing a version deletes it for good.
    let d = c
        .delete_object()
        .bucket("vbk")
        .key("k")
        .version_id(&marker)
        .send()
        .await
        .unwrap();
    assert_eq!(d.delete_marker(), Some(true));
    assert_eq!(d.version_id(), Some(marker.as_str()));
    assert_eq!(get_version(&c, "vbk", "k", None).await.0, big2);
    let l = c.list_objects_v2().bucket("vbk").send().await.unwrap();
    assert_eq!(l.contents()[0].size(), Some(big2.len() as i64));
    let d = c
        .delete_object()
        .bucket("vbk")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert_eq!(d.version_id(), Some(v2.as_str()));
    assert_ne!(d.delete_marker(), Some(true));
    assert_eq!(
        get_version(&c, "vbk", "k", None).await,
        (small1.clone(), Some(v1.clone()))
    );
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchVersion");
    // Its data directory is gone from every drive: only the small inline version is left.
    for d in &srv.drives {
        let dirs = std::fs::read_dir(d.join("vbk/k"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().is_dir())
            .count();
        assert_eq!(dirs, 0, "{}", d.display());
    }
    // Deleting a version that does not exist succeeds; the last version's removal
    // removes the key.
    c.delete_object()
        .bucket("vbk")
        .key("k")
        .version_id(&unknown)
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("vbk")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert!(all_versions(&c, "vbk", "", 1000).await.is_empty());
    assert!(!srv.drives[0].join("vbk/k/~meta").exists());
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");
    c.delete_bucket().bucket("vbk").send().await.unwrap();
}

#[tokio::test]
async fn unversioned_buckets_overwrite_and_delete_as_before() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "plain", None).await;
    assert_eq!(
        put(&c, "plain", "k", b"one").await,
        None,
        "no version header"
    );
    assert_eq!(put(&c, "plain", "k", b"two").await, None);
    let (body, vid) = get_version(&c, "plain", "k", None).await;
    assert_eq!((body, vid), (b"two".to_vec(), None));
    // The only version is `null`.
    assert_eq!(get_version(&c, "plain", "k", Some("null")).await.0, b"two");
    assert_eq!(
        all_versions(&c, "plain", "", 1000).await,
        vec![("k".to_string(), "null".to_string(), true, false)]
    );
    let d = c
        .delete_object()
        .bucket("plain")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!((d.delete_marker(), d.version_id()), (None, None));
    assert!(all_versions(&c, "plain", "", 1000).await.is_empty());
    assert!(
        !srv.drives[0].join("plain/k").exists(),
        "removed, not marked"
    );
}

#[tokio::test]
async fn suspended_buckets_replace_the_null_version() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "sbk", None).await;
    put(&c, "sbk", "k", b"before versioning").await;
    set_versioning(&c, "sbk", BucketVersioningStatus::Enabled).await;
    let v1 = put(&c, "sbk", "k", b"versioned").await.unwrap();
    // The object from before versioning is the `null` version now.
    assert_eq!(
        get_version(&c, "sbk", "k", Some("null")).await.0,
        b"before versioning"
    );
    set_versioning(&c, "sbk", BucketVersioningStatus::Suspended).await;
    let v = put(&c, "sbk", "k", b"suspended").await;
    assert_eq!(v.as_deref(), Some("null"));
    assert_eq!(
        get_version(&c, "sbk", "k", None).await,
        (b"suspended".to_vec(), Some("null".into()))
    );
    assert_eq!(
        get_version(&c, "sbk", "k", Some("null")).await.0,
        b"suspended"
    );
    assert_eq!(get_version(&c, "sbk", "k", Some(&v1)).await.0, b"versioned");
    assert_eq!(
        all_versions(&c, "sbk", "", 1000).await,
        vec![
            ("k".to_string(), "null".to_string(), true, false),
            ("k".to_string(), v1.clone(), false, false),
        ]
    );
    // A delete while suspended puts a `null` delete marker in place of the null version.
    let d = c
        .delete_object()
        .bucket("sbk")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(
        (d.delete_marker(), d.version_id()),
        (Some(true), Some("null"))
    );
    assert_eq!(
        all_versions(&c, "sbk", "", 1000).await,
        vec![
            ("k".to_string(), "null".to_string(), true, true),
            ("k".to_string(), v1.clone(), false, false),
        ]
    );
    assert_eq!(get_version(&c, "sbk", "k", Some(&v1)).await.0, b"versioned");
}

#[tokio::test]
async fn copies_and_multipart_uploads_make_versions() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vbk", Some(BucketVersioningStatus::Enabled)).await;
    let v1 = put(&c, "vbk", "src", b"first").await.unwrap();
    let _v2 = put(&c, "vbk", "src", b"second").await.unwrap();
    let cp = c
        .copy_object()
        .bucket("vbk")
        .key("dst")
        .copy_source(format!("vbk/src?versionId={v1}"))
        .send()
        .await
        .unwrap();
    let dst_v = cp.version_id().expect("the copy's version").to_string();
    assert_eq!(cp.copy_source_version_id(), Some(v1.as_str()));
    assert_eq!(
        get_version(&c, "vbk", "dst", None).await,
        (b"first".to_vec(), Some(dst_v))
    );
    // Copying a version onto its own key makes a new version with the old bytes.
    let cp = c
        .copy_object()
        .bucket("vbk")
        .key("src")
        .copy_source(format!("vbk/src?versionId={v1}"))
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "vbk", "src", None).await.0, b"first");
    assert_eq!(all_versions(&c, "vbk", "src", 1000).await.len(), 3);
    let _ = cp;
    let unknown = uuid::Uuid::new_v4();
    let e = c
        .copy_object()
        .bucket("vbk")
        .key("dst2")
        .copy_source(format!("vbk/src?versionId={unknown}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchVersion");

    let up = c
        .create_multipart_upload()
        .bucket("vbk")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let body = data((5 << 20) + 3, 9);
    let p = c
        .upload_part()
        .bucket("vbk")
        .key("mp")
        .upload_id(&id)
        .part_number(1)
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .unwrap();
    let done = c
        .complete_multipart_upload()
        .bucket("vbk")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(p.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let mv = done.version_id().expect("a version id").to_string();
    put(&c, "vbk", "mp", b"small on top").await.unwrap();
    assert_eq!(get_version(&c, "vbk", "mp", Some(&mv)).await.0, body);

    // UploadPartCopy reads the version its copy source names, and says which.
    let up = c
        .create_multipart_upload()
        .bucket("vbk")
        .key("from-old")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let p = c
        .upload_part_copy()
        .bucket("vbk")
        .key("from-old")
        .upload_id(&id)
        .part_number(1)
        .copy_source(format!("vbk/mp?versionId={mv}"))
        .send()
        .await
        .unwrap();
    assert_eq!(p.copy_source_version_id(), Some(mv.as_str()));
    let etag = p
        .copy_part_result()
        .and_then(|r| r.e_tag())
        .unwrap()
        .to_string();
    c.complete_multipart_upload()
        .bucket("vbk")
        .key("from-old")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get_version(&c, "vbk", "from-old", None).await.0, body);
}

#[tokio::test]
async fn version_listing_pages_through_every_version() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vbk", Some(BucketVersioningStatus::Enabled)).await;
    let mut want: Vec<(String, String, bool, bool)> = Vec::new();
    for key in ["a", "b b", "dir/x", "dir/y", "z"] {
        let mut ids = Vec::new();
        for i in 0..3 {
            ids.push(
                put(&c, "vbk", key, format!("{key}{i}").as_bytes())
                    .await
                    .unwrap(),
            );
        }
        let mut entries = Vec::new();
        if key == "z" {
            let d = c
                .delete_object()
                .bucket("vbk")
                .key(key)
                .send()
                .await
                .unwrap();
            entries.push((
                key.to_string(),
                d.version_id().unwrap().to_string(),
                true,
                true,
            ));
        }
        for (i, id) in ids.iter().enumerate().rev() {
            entries.push((key.to_string(), id.clone(), i == 2 && key != "z", false));
        }
        want.extend(entries);
    }
    for page in [1, 2, 3, 4, 7, 1000] {
        assert_eq!(
            all_versions(&c, "vbk", "", page).await,
            want,
            "page of {page}"
        );
    }
    let dir: Vec<_> = want
        .iter()
        .filter(|w| w.0.starts_with("dir/"))
        .cloned()
        .collect();
    assert_eq!(all_versions(&c, "vbk", "dir/", 2).await, dir);
    // Delimiter: dir/ collapses to one common prefix.
    let r = c
        .list_object_versions()
        .bucket("vbk")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<_> = r
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["dir/"]);
    assert_eq!(r.versions().len() + r.delete_markers().len(), 3 + 3 + 4);
    // Key and version markers: after b b's second version.
    let bb: Vec<_> = want.iter().filter(|w| w.0 == "b b").collect();
    let r = c
        .list_object_versions()
        .bucket("vbk")
        .key_marker("b b")
        .version_id_marker(&bb[1].1)
        .max_keys(2)
        .send()
        .await
        .unwrap();
    let got: Vec<_> = r
        .versions()
        .iter()
        .map(|v| (v.key().unwrap(), v.version_id().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("b b", bb[2].1.as_str()),
            (
                "dir/x",
                want.iter().find(|w| w.0 == "dir/x").unwrap().1.as_str()
            )
        ]
    );
    assert_eq!(r.is_truncated(), Some(true));
    assert_eq!(r.next_key_marker(), Some("dir/x"));
    // URL encoding of keys.
    let r = c
        .list_object_versions()
        .bucket("vbk")
        .prefix("b")
        .encoding_type(EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(r.versions()[0].key(), Some("b%20b"));
    // ListObjects shows the latest of each live key, not z (deleted).
    let l = c.list_objects_v2().bucket("vbk").send().await.unwrap();
    let keys: Vec<_> = l.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, vec!["a", "b b", "dir/x", "dir/y"]);
    assert_eq!(l.contents()[0].size(), Some(2));
    // A version-id marker needs a key marker.
    let e = c
        .list_object_versions()
        .bucket("vbk")
        .version_id_marker("null")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidArgument");
}

/// As S3: a `/`-delimited listing leaves out a common prefix whose keys all end in delete
/// markers (ListObjectVersions still shows it: its versions are there), and lists one
/// with a live key however deep, or however many deleted keys come before it.
#[tokio::test]
async fn prefixes_of_deleted_keys_are_not_listed() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vdir", Some(BucketVersioningStatus::Enabled)).await;
    for k in [
        "gone/a",
        "gone/b/c",
        "late/0",
        "late/1",
        "late/2",
        "late/3",
        "late/4",
        "late/5",
        "late/z",
        "deep/x/y",
        "deep/x/z/w",
        "top",
    ] {
        put(&c, "vdir", k, b"v").await.unwrap();
    }
    for k in [
        "gone/a", "gone/b/c", "late/0", "late/1", "late/2", "late/3", "late/4", "late/5",
        "deep/x/y",
    ] {
        c.delete_object()
            .bucket("vdir")
            .key(k)
            .send()
            .await
            .unwrap();
    }
    let list = |prefix: &'static str| {
        let c = c.clone();
        async move {
            let r = c
                .list_objects_v2()
                .bucket("vdir")
                .prefix(prefix)
                .delimiter("/")
                .send()
                .await
                .unwrap();
            let keys: Vec<String> = r
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string))
                .collect();
            let prefixes: Vec<String> = r
                .common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string))
                .collect();
            (keys, prefixes)
        }
    };
    assert_eq!(
        list("").await,
        (
            vec!["top".to_string()],
            vec!["deep/".into(), "late/".into()]
        )
    );
    assert_eq!(list("gone/").await, (vec![], vec![]));
    assert_eq!(list("deep/").await, (vec![], vec!["deep/x/".to_string()]));
    // Page by page, the answer is the same.
    let mut seen = Vec::new();
    let mut token = None;
    for _ in 0..10 {
        let r = c
            .list_objects_v2()
            .bucket("vdir")
            .delimiter("/")
            .max_keys(1)
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        seen.extend(
            r.common_prefixes()
                .iter()
                .filter_map(|p| p.prefix().map(str::to_string)),
        );
        token = r.next_continuation_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["deep/", "late/", "top"]);
    let versions = c
        .list_object_versions()
        .bucket("vdir")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = versions
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, ["deep/", "gone/", "late/"]);
}

#[tokio::test]
async fn delete_objects_with_version_ids() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vbk", Some(BucketVersioningStatus::Enabled)).await;
    let a1 = put(&c, "vbk", "a", b"a1").await.unwrap();
    let a2 = put(&c, "vbk", "a", b"a2").await.unwrap();
    put(&c, "vbk", "b", b"b1").await.unwrap();
    let r = c
        .delete_objects()
        .bucket("vbk")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("a")
                        .version_id(&a2)
                        .build()
                        .unwrap(),
                )
                .objects(ObjectIdentifier::builder().key("b").build().unwrap())
                .objects(
                    ObjectIdentifier::builder()
                        .key("c")
                        .version_id("bad id")
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let deleted = r.deleted();
    assert_eq!(deleted.len(), 2, "{r:?}");
    let a = deleted.iter().find(|d| d.key() == Some("a")).unwrap();
    assert_eq!(a.version_id(), Some(a2.as_str()));
    assert_ne!(a.delete_marker(), Some(true));
    let b = deleted.iter().find(|d| d.key() == Some("b")).unwrap();
    assert_eq!(b.delete_marker(), Some(true));
    let marker = b
        .delete_marker_version_id()
        .expect("the marker's id")
        .to_string();
    assert_eq!(r.errors().len(), 1);
    assert_eq!(r.errors()[0].code(), Some("InvalidArgument"));
    assert_eq!(
        get_version(&c, "vbk", "a", None).await,
        (b"a1".to_vec(), Some(a1))
    );
    let e = c
        .get_object()
        .bucket("vbk")
        .key("b")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");
    // Removing the marker by id answers DeleteMarker with its id.
    let r = c
        .delete_objects()
        .bucket("vbk")
        .delete(
            Delete::builder()
                .objects(
                    ObjectIdentifier::builder()
                        .key("b")
                        .version_id(&marker)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let d = &r.deleted()[0];
    assert_eq!(
        (d.delete_marker(), d.delete_marker_version_id()),
        (Some(true), Some(marker.as_str()))
    );
    assert_eq!(get_version(&c, "vbk", "b", None).await.0, b"b1");
}

/// Rewrites every drive's metadata of `bucket/key` in format 1, as servers before
/// versioning wrote it: the only version's JSON as the header, its inline shard after.
fn downgrade_to_format_1(drives: &[std::path::PathBuf], bucket: &str, key: &str) {
    for d in drives {
        let path = d.join(bucket).join(key).join("~meta");
        let file = std::fs::read(&path).unwrap();
        assert_eq!(&file[..8], b"CAIRNMT2");
        let n = u32::from_le_bytes(file[8..12].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&file[12..12 + n]).unwrap();
        let mut version = header["versions"][0].clone();
        version["format"] = 1.into();
        version.as_object_mut().unwrap().remove("null_version");
        let json = serde_json::to_vec(&version).unwrap();
        let mut out = b"CAIRNMT1".to_vec();
        out.extend_from_slice(&(json.len() as u32).to_le_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(&file[12 + n..]);
        std::fs::write(&path, out).unwrap();
    }
}

#[tokio::test]
async fn format_1_objects_read_as_null_versions() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "old", None).await;
    let big = data((1 << 20) + 5, 3);
    put(&c, "old", "small", b"from before").await;
    put(&c, "old", "big", &big).await;
    downgrade_to_format_1(&srv.drives, "old", "small");
    downgrade_to_format_1(&srv.drives, "old", "big");
    assert_eq!(
        get_version(&c, "old", "small", None).await.0,
        b"from before"
    );
    assert_eq!(get_version(&c, "old", "big", None).await.0, big);
    let l = c.list_objects_v2().bucket("old").send().await.unwrap();
    let sizes: Vec<_> = l
        .contents()
        .iter()
        .map(|o| (o.key().unwrap(), o.size().unwrap()))
        .collect();
    assert_eq!(sizes, vec![("big", big.len() as i64), ("small", 11)]);
    set_versioning(&c, "old", BucketVersioningStatus::Enabled).await;
    let v = put(&c, "old", "big", b"new").await.unwrap();
    assert_eq!(get_version(&c, "old", "big", Some("null")).await.0, big);
    assert_eq!(get_version(&c, "old", "big", Some(&v)).await.0, b"new");
    assert_eq!(
        all_versions(&c, "old", "", 1000).await,
        vec![
            ("big".to_string(), v.clone(), true, false),
            ("big".to_string(), "null".to_string(), false, false),
            ("small".to_string(), "null".to_string(), true, false),
        ]
    );
    // Deleting the null version of a format-1 object removes its data.
    c.delete_object()
        .bucket("old")
        .key("small")
        .version_id("null")
        .send()
        .await
        .unwrap();
    assert!(all_versions(&c, "old", "small", 1000).await.is_empty());
}

fn heal_state(srv: &TestServer) -> std::sync::Arc<cairn::heal::HealState> {
    srv.running.as_ref().expect("running").heal.clone()
}

async fn admin_heal(srv: &TestServer) -> cairn::heal::HealTaskStatus {
    let heal = heal_state(srv);
    let id = heal
        .start_heal(HealRequest::default())
        .expect("heal starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = heal.status().task.filter(|t| t.id == id);
        if let Some(t) = t.filter(|t| t.state != TaskState::Running) {
            assert_eq!(t.state, TaskState::Done, "{t:?}");
            return t;
        }
        assert!(Instant::now() < deadline, "heal timed out");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Makes a drive unusable (a file where its directory was); returns where it went.
fn break_drive(drive: &Path) -> std::path::PathBuf {
    let aside = drive.with_extension("aside");
    std::fs::rename(drive, &aside).unwrap();
    std::fs::write(drive, b"not a directory").unwrap();
    aside
}

fn repair_drive(drive: &Path, aside: &Path) {
    std::fs::remove_file(drive).unwrap();
    std::fs::rename(aside, drive).unwrap();
}

#[tokio::test]
async fn heal_restores_every_version_of_a_wiped_drive() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    bucket(&c, "vbk", Some(BucketVersioningStatus::Enabled)).await;
    let mut written: Vec<(String, String, Vec<u8>)> = Vec::new();
    for (i, key) in ["k1", "k2", "dir/k3"].iter().enumerate() {
        for (j, len) in [10usize, (1 << 20) + 7, 300_000].iter().enumerate() {
            let body = data(*len, (i * 10 + j) as u64);
            let v = put(&c, "vbk", key, &body).await.unwrap();
            written.push((key.to_string(), v, body));
        }
    }
    let marker = c
        .delete_object()
        .bucket("vbk")
        .key("k2")
        .send()
        .await
        .unwrap();
    let marker = marker.version_id().unwrap().to_string();
    let before = all_versions(&c, "vbk", "", 1000).await;
    // Two drives lose every object of the bucket.
    for d in &srv.drives[..2] {
        std::fs::remove_dir_all(d.join("vbk")).unwrap();
        std::fs::create_dir_all(d.join("vbk")).unwrap();
    }
    let t = admin_heal(&srv).await;
    assert_eq!(t.objects_failed, 0, "{t:?}");
    assert!(t.objects_healed >= 3, "{t:?}");
    // Four other drives gone: only the healed drives and two more can serve the shards.
    let aside: Vec<_> = srv.drives[2..6].iter().map(|d| break_drive(d)).collect();
    for (key, v, body) in &written {
        assert_eq!(
            &get_version(&c, "vbk", key, Some(v)).await.0,
            body,
            "{key} {v}"
        );
    }
    let e = c
        .get_object()
        .bucket("vbk")
        .key("k2")
        .version_id(&marker)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MethodNotAllowed");
    assert_eq!(all_versions(&c, "vbk", "", 1000).await, before);
    for (d, a) in srv.drives[2..6].iter().zip(&aside) {
        repair_drive(d, a);
    }
    // A second heal has nothing to do.
    let t = admin_heal(&srv).await;
    assert_eq!(t.objects_healed, 0, "{t:?}");
}
