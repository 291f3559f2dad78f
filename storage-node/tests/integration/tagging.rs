//! Object and bucket tags through `aws-sdk-s3`: the Tagging API, `x-amz-tagging` on PUT,
//! copy (COPY and REPLACE directives) and multipart, AWS's validation errors, tags kept
//! across a metadata-only change, and `s3:ExistingObjectTag` in a user's policy.

use crate::common;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Tag, Tagging, TaggingDirective};
use common::TestServer;

fn tagging(pairs: &[(&str, &str)]) -> Tagging {
    Tagging::builder()
        .set_tag_set(Some(
            pairs
                .iter()
                .map(|(k, v)| Tag::builder().key(*k).value(*v).build().expect("tag"))
                .collect(),
        ))
        .build()
        .expect("tagging")
}

async fn tags_of(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<(String, String)> {
    c.get_object_tagging()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("tags of {key}: {e:?}"))
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn object_tags_through_every_write_path() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("tags").send().await.unwrap();
    c.put_object()
        .bucket("tags")
        .key("a")
        .tagging("project=matrix&kind=media%20file")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, "tags", "a").await,
        pairs(&[("project", "matrix"), ("kind", "media file")])
    );
    let got = c.get_object().bucket("tags").key("a").send().await.unwrap();
    assert_eq!(got.tag_count(), Some(2));
    let etag = got.e_tag().map(str::to_string);

    // Replaced and removed without touching the data.
    c.put_object_tagging()
        .bucket("tags")
        .key("a")
        .tagging(tagging(&[("stage", "done")]))
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "tags", "a").await, pairs(&[("stage", "done")]));
    let head = c
        .head_object()
        .bucket("tags")
        .key("a")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag().map(str::to_string), etag);
    c.delete_object_tagging()
        .bucket("tags")
        .key("a")
        .send()
        .await
        .unwrap();
    assert!(tags_of(&c, "tags", "a").await.is_empty());
    let got = c.get_object().bucket("tags").key("a").send().await.unwrap();
    assert_eq!(got.tag_count(), None);
    assert_eq!(common::get_bytes(&c, "tags", "a").await, b"hello");

    // Copies take the source's tags, or the request's with REPLACE.
    c.put_object_tagging()
        .bucket("tags")
        .key("a")
        .tagging(tagging(&[("src", "1")]))
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket("tags")
        .key("copied")
        .copy_source("tags/a")
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "tags", "copied").await, pairs(&[("src", "1")]));
    c.copy_object()
        .bucket("tags")
        .key("replaced")
        .copy_source("tags/a")
        .tagging_directive(TaggingDirective::Replace)
        .tagging("dst=2")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(&c, "tags", "replaced").await,
        pairs(&[("dst", "2")])
    );

    // Multipart: the tags of CreateMultipartUpload.
    let up = c
        .create_multipart_upload()
        .bucket("tags")
        .key("mp")
        .tagging("mp=yes")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let done = common::one_part(&c, "tags", "mp", &id, vec![1u8; 1000]).await;
    c.complete_multipart_upload()
        .bucket("tags")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    assert_eq!(tags_of(&c, "tags", "mp").await, pairs(&[("mp", "yes")]));

    // AWS's rules.
    let eleven: Vec<String> = (0..11).map(|i| format!("k{i}=v")).collect();
    for bad in [
        eleven.join("&"),
        "aws:reserved=1".to_string(),
        "k=1&k=2".to_string(),
    ] {
        let r = c
            .put_object()
            .bucket("tags")
            .key("bad")
            .tagging(bad.clone())
            .body(ByteStream::from_static(b"x"))
            .send()
            .await;
        assert_eq!(
            r.err()
                .and_then(|e| e.code().map(str::to_string))
                .as_deref(),
            Some("InvalidTag"),
            "{bad}"
        );
    }
    let missing = c
        .get_object_tagging()
        .bucket("tags")
        .key("nope")
        .send()
        .await;
    assert_eq!(
        missing
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("NoSuchKey")
    );
}

#[tokio::test]
async fn bucket_tags_round_trip() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("btags").send().await.unwrap();
    let none = c.get_bucket_tagging().bucket("btags").send().await;
    assert_eq!(
        none.err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("NoSuchTagSet")
    );
    c.put_bucket_tagging()
        .bucket("btags")
        .tagging(tagging(&[("team", "infra"), ("cost", "42")]))
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_tagging().bucket("btags").send().await.unwrap();
    let got: Vec<(String, String)> = got
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(got, pairs(&[("team", "infra"), ("cost", "42")]));
    c.delete_bucket_tagging()
        .bucket("btags")
        .send()
        .await
        .unwrap();
    let none = c.get_bucket_tagging().bucket("btags").send().await;
    assert_eq!(
        none.err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("NoSuchTagSet")
    );
}

#[tokio::test]
async fn a_policy_can_grant_by_existing_object_tag() {
    let srv = TestServer::start(4).await;
    let root = srv.client();
    root.create_bucket().bucket("shared").send().await.unwrap();
    for (key, tags) in [
        ("public", "visibility=public"),
        ("private", "visibility=private"),
        ("untagged", ""),
    ] {
        root.put_object()
            .bucket("shared")
            .key(key)
            .tagging(tags)
            .body(ByteStream::from_static(b"data"))
            .send()
            .await
            .unwrap();
    }
    let running = srv.running.as_ref().expect("running");
    let root_user = running.iam.root_user().to_string();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],
        "Resource":["arn:aws:s3:::shared/*"],
        "Condition":{"StringEquals":{"s3:ExistingObjectTag/visibility":"public"}}}]}"#;
    running
        .iam
        .update(|s, now| {
            s.set_policy("public-only", doc.as_bytes(), now)?;
            s.set_user(
                &root_user,
                "reader",
                "reader-secret-key",
                None,
                Some(vec!["public-only".into()]),
                now,
            )
        })
        .await
        .unwrap();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&srv.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "reader",
            "reader-secret-key",
            None,
            None,
            "test",
        ))
        .force_path_style(true)
        .build();
    let reader = aws_sdk_s3::Client::from_conf(conf);
    assert_eq!(
        common::get_bytes(&reader, "shared", "public").await,
        b"data"
    );
    for key in ["private", "untagged"] {
        let r = reader.get_object().bucket("shared").key(key).send().await;
        assert_eq!(
            r.err()
                .and_then(|e| e.code().map(str::to_string))
                .as_deref(),
            Some("AccessDenied"),
            "{key}"
        );
    }
    // Retagging changes what the policy allows.
    root.put_object_tagging()
        .bucket("shared")
        .key("private")
        .tagging(tagging(&[("visibility", "public")]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        common::get_bytes(&reader, "shared", "private").await,
        b"data"
    );
}

/// Tags belong to a version: Put/Get/DeleteObjectTagging with `versionId` act on that
/// version only, answer with its `x-amz-version-id`, and refuse a delete marker.
#[tokio::test]
async fn object_tags_by_version() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("vtags").send().await.unwrap();
    c.put_bucket_versioning()
        .bucket("vtags")
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let put = |body: &'static [u8], tags: &'static str| {
        let c = c.clone();
        async move {
            c.put_object()
                .bucket("vtags")
                .key("k")
                .tagging(tags)
                .body(ByteStream::from_static(body))
                .send()
                .await
                .unwrap()
                .version_id()
                .unwrap()
                .to_string()
        }
    };
    let v1 = put(b"one", "gen=1").await;
    let v2 = put(b"two", "gen=2").await;
    let tags_at = |v: String| {
        let c = c.clone();
        async move {
            let r = c
                .get_object_tagging()
                .bucket("vtags")
                .key("k")
                .version_id(&v)
                .send()
                .await
                .unwrap();
            assert_eq!(r.version_id(), Some(v.as_str()));
            r.tag_set()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(tags_at(v1.clone()).await, pairs(&[("gen", "1")]));
    assert_eq!(tags_of(&c, "vtags", "k").await, pairs(&[("gen", "2")]));

    let r = c
        .put_object_tagging()
        .bucket("vtags")
        .key("k")
        .version_id(&v1)
        .tagging(tagging(&[("gen", "1"), ("kept", "yes")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version_id(), Some(v1.as_str()));
    assert_eq!(
        tags_at(v1.clone()).await,
        pairs(&[("gen", "1"), ("kept", "yes")])
    );
    assert_eq!(tags_at(v2.clone()).await, pairs(&[("gen", "2")]));

    c.delete_object_tagging()
        .bucket("vtags")
        .key("k")
        .version_id(&v2)
        .send()
        .await
        .unwrap();
    assert!(tags_at(v2.clone()).await.is_empty());
    assert_eq!(tags_at(v1.clone()).await.len(), 2);
    // The data of both versions is untouched.
    let got = c
        .get_object()
        .bucket("vtags")
        .key("k")
        .version_id(&v1)
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.body.collect().await.unwrap().into_bytes().as_ref(),
        b"one"
    );

    // GetObjectAttributes reads a version too.
    let a = c
        .get_object_attributes()
        .bucket("vtags")
        .key("k")
        .version_id(&v1)
        .object_attributes(aws_sdk_s3::types::ObjectAttributes::ObjectSize)
        .send()
        .await
        .unwrap();
    assert_eq!(
        (a.object_size(), a.version_id()),
        (Some(3), Some(v1.as_str()))
    );

    // A delete marker has no tags to set.
    let marker = c
        .delete_object()
        .bucket("vtags")
        .key("k")
        .send()
        .await
        .unwrap()
        .version_id()
        .unwrap()
        .to_string();
    let e = c
        .put_object_tagging()
        .bucket("vtags")
        .key("k")
        .version_id(&marker)
        .tagging(tagging(&[("a", "b")]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e), "MethodNotAllowed", "{e:?}");
    let e = c
        .get_object_tagging()
        .bucket("vtags")
        .key("k")
        .version_id("not-a-version")
        .send()
        .await
        .unwrap_err();
    assert!(
        ["NoSuchVersion", "InvalidArgument"].contains(&common::code(&e).as_str()),
        "{e:?}"
    );
}
