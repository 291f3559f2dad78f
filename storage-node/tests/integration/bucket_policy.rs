//! Bucket policies, anonymous access, per-resource checks, ACLs, ownership controls
//! and public access blocks, through `aws-sdk-s3` (root and IAM users created in the
//! running server) and unsigned raw HTTP requests.

use crate::common;

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    Delete, ObjectCannedAcl, ObjectIdentifier, ObjectOwnership, OwnershipControls,
    OwnershipControlsRule, PublicAccessBlockConfiguration,
};
use common::{RawResponse, TestServer, code, raw};

fn client_as(srv: &TestServer, ak: &str, sk: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&srv.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(ak, sk, None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Creates user `name` (secret `<name>-secret-key`) with `policies`, optionally
/// defining a named policy first; returns a client signing as it.
async fn user(
    srv: &TestServer,
    name: &str,
    policies: &[&str],
    define: Option<(&str, &str)>,
) -> aws_sdk_s3::Client {
    let running = srv.running.as_ref().expect("running");
    let root = running.iam.root_user().to_string();
    let secret = format!("{name}-secret-key");
    let policies: Vec<String> = policies.iter().map(|p| p.to_string()).collect();
    running
        .iam
        .update(|s, now| {
            if let Some((pname, doc)) = define {
                s.set_policy(pname, doc.as_bytes(), now)?;
            }
            s.set_user(&root, name, &secret, None, Some(policies), now)
        })
        .await
        .expect("user created");
    client_as(srv, name, &secret)
}

/// An unsigned request.
async fn anon(srv: &TestServer, method: &str, target: &str) -> RawResponse {
    let req = format!(
        "{method} {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        srv.addr
    );
    raw(srv.addr, req.as_bytes()).await
}

/// An unsigned PUT with a body.
async fn anon_put(srv: &TestServer, target: &str, body: &[u8]) -> RawResponse {
    let mut req = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        srv.addr,
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw(srv.addr, &req).await
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &'static [u8]) {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(body))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
}

/// The deployment's canonical id (MinIO's), which root owns under.
const ROOT_ID: &str = "02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4";

fn assert_denied(r: &RawResponse) {
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        r.text()
    );
}

const PUBLIC_PREFIX: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/public/*"},
  {"Effect":"Allow","Principal":{"AWS":["*"]},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::pub",
   "Condition":{"StringLike":{"s3:prefix":"public/*"}}}]}"#;

#[tokio::test]
async fn policy_round_trip_status_and_errors() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("pub").send().await.unwrap();
    let e = c
        .get_bucket_policy()
        .bucket("pub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucketPolicy");
    let e = c
        .get_bucket_policy_status()
        .bucket("pub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucketPolicy");

    // The parser's message reaches the client.
    let e = c
        .put_bucket_policy()
        .bucket("pub")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#)
        .send()
        .await
        .unwrap_err();
    let e = e.into_service_error();
    assert_eq!(code(&e), "MalformedPolicy");
    assert!(!e.message().unwrap_or("").is_empty());
    let e = c
        .put_bucket_policy()
        .bucket("pub")
        .policy("{not json")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MalformedPolicy");
    let big = format!(
        r#"{{"Version":"2012-10-17","Id":"{}","Statement":[{{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}}]}}"#,
        "x".repeat(21 * 1024)
    );
    let e = c
        .put_bucket_policy()
        .bucket("pub")
        .policy(big)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "MalformedPolicy");
    let e = c
        .put_bucket_policy()
        .bucket("missing")
        .policy(PUBLIC_PREFIX)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucket");

    c.put_bucket_policy()
        .bucket("pub")
        .policy(PUBLIC_PREFIX)
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_policy().bucket("pub").send().await.unwrap();
    assert_eq!(got.policy(), Some(PUBLIC_PREFIX), "stored as sent");
    let st = c
        .get_bucket_policy_status()
        .bucket("pub")
        .send()
        .await
        .unwrap();
    assert_eq!(st.policy_status().and_then(|p| p.is_public()), Some(true));

    let private = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#;
    c.put_bucket_policy()
        .bucket("pub")
        .policy(private)
        .send()
        .await
        .unwrap();
    let st = c
        .get_bucket_policy_status()
        .bucket("pub")
        .send()
        .await
        .unwrap();
    assert_eq!(st.policy_status().and_then(|p| p.is_public()), Some(false));

    let r = c.delete_bucket_policy().bucket("pub").send().await;
    assert!(r.is_ok(), "{r:?}");
    let e = c
        .get_bucket_policy()
        .bucket("pub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucketPolicy");
}

#[tokio::test]
async fn anonymous_read_of_a_public_prefix_only() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("pub").send().await.unwrap();
    c.create_bucket().bucket("other").send().await.unwrap();
    put(&c, "pub", "public/a.txt", b"hello").await;
    put(&c, "pub", "private/b.txt", b"secret").await;
    put(&c, "other", "public/a.txt", b"x").await;

    // Before any policy, nothing is anonymous.
    assert_denied(&anon(&srv, "GET", "/pub/public/a.txt").await);
    c.put_bucket_policy()
        .bucket("pub")
        .policy(PUBLIC_PREFIX)
        .send()
        .await
        .unwrap();

    let r = anon(&srv, "GET", "/pub/public/a.txt").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"hello");
    let r = anon(&srv, "HEAD", "/pub/public/a.txt").await;
    assert_eq!(r.status, 200);
    let r = anon(&srv, "GET", "/pub?list-type=2&prefix=public/").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<Key>public/a.txt</Key>"));
    assert!(!r.text().contains("private/"));

    assert_denied(&anon(&srv, "GET", "/pub/private/b.txt").await);
    assert_eq!(anon(&srv, "HEAD", "/pub/private/b.txt").await.status, 403);
    assert_denied(&anon(&srv, "GET", "/pub?list-type=2").await);
    assert_denied(&anon(&srv, "GET", "/pub?list-type=2&prefix=private/").await);
    assert_denied(&anon(&srv, "PUT", "/pub/public/new.txt").await);
    assert_denied(&anon(&srv, "DELETE", "/pub/public/a.txt").await);
    assert_denied(&anon(&srv, "GET", "/other/public/a.txt").await);
    assert_denied(&anon(&srv, "GET", "/").await);
    // The refused requests changed nothing.
    let r = anon(&srv, "GET", "/pub/public/a.txt").await;
    assert_eq!(r.body, b"hello");
}

#[tokio::test]
async fn a_deny_statement_beats_a_users_readwrite() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("data").send().await.unwrap();
    put(&c, "data", "secret/s", b"s").await;
    put(&c, "data", "open/o", b"o").await;
    let alice = user(&srv, "alice", &["readwrite"], None).await;
    alice
        .get_object()
        .bucket("data")
        .key("secret/s")
        .send()
        .await
        .unwrap();
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":["alice"]},"Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::data/secret/*"}]}"#;
    c.put_bucket_policy()
        .bucket("data")
        .policy(deny)
        .send()
        .await
        .unwrap();
    let e = alice
        .get_object()
        .bucket("data")
        .key("secret/s")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let e = alice
        .put_object()
        .bucket("data")
        .key("secret/t")
        .body(ByteStream::from_static(b"t"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    alice
        .get_object()
        .bucket("data")
        .key("open/o")
        .send()
        .await
        .unwrap();
    put(&alice, "data", "open/p", b"p").await;
    // Root is not subject to bucket policies.
    c.get_object()
        .bucket("data")
        .key("secret/s")
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn delete_objects_checks_each_key() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("data").send().await.unwrap();
    for k in ["keep/a", "tmp/b", "tmp/c"] {
        put(&c, "data", k, b"x").await;
    }
    let alice = user(&srv, "alice", &["readwrite"], None).await;
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::data/keep/*"}]}"#;
    c.put_bucket_policy()
        .bucket("data")
        .policy(deny)
        .send()
        .await
        .unwrap();
    let ids = ["keep/a", "tmp/b", "tmp/c"]
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
        .collect();
    let out = alice
        .delete_objects()
        .bucket("data")
        .delete(Delete::builder().set_objects(Some(ids)).build().unwrap())
        .send()
        .await
        .unwrap();
    let deleted: Vec<&str> = out.deleted().iter().filter_map(|d| d.key()).collect();
    assert_eq!(deleted, vec!["tmp/b", "tmp/c"]);
    let errors: Vec<(&str, &str)> = out
        .errors()
        .iter()
        .map(|e| (e.key().unwrap_or(""), e.code().unwrap_or("")))
        .collect();
    assert_eq!(errors, vec![("keep/a", "AccessDenied")]);
    c.head_object()
        .bucket("data")
        .key("keep/a")
        .send()
        .await
        .unwrap();
    assert!(
        c.head_object()
            .bucket("data")
            .key("tmp/b")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn list_buckets_shows_only_what_the_caller_may_list() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    for b in ["seen", "hidden", "located"] {
        c.create_bucket().bucket(b).send().await.unwrap();
    }
    let lister = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*"},
      {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::seen"},
      {"Effect":"Allow","Action":"s3:GetBucketLocation","Resource":"arn:aws:s3:::located"}]}"#;
    let alice = user(&srv, "alice", &["lister"], Some(("lister", lister))).await;
    let names: Vec<String> = alice
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["located", "seen"]);
    // Without s3:ListAllMyBuckets the call itself is refused.
    let bob = user(&srv, "bob", &["readonly"], None).await;
    let e = bob.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    // Root sees everything.
    let all = c.list_buckets().send().await.unwrap();
    assert_eq!(all.buckets().len(), 3);
}

#[tokio::test]
async fn canned_acls_grant_anonymous_reads() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    // rclone sends x-amz-acl: private on every bucket and object PUT.
    c.create_bucket()
        .bucket("acls")
        .acl(aws_sdk_s3::types::BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("acls")
        .key("private")
        .acl(ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"p"))
        .send()
        .await
        .unwrap();
    c.put_object()
        .bucket("acls")
        .key("public")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let r = anon(&srv, "GET", "/acls/public").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, b"hello");
    assert!(r.header("x-cairn-internal-acl").is_none());
    assert_denied(&anon(&srv, "GET", "/acls/private").await);
    // READ on an object does not let anyone write it or list the bucket.
    assert_denied(&anon(&srv, "PUT", "/acls/public").await);
    assert_denied(&anon(&srv, "GET", "/acls?list-type=2").await);

    let acl = c
        .get_object_acl()
        .bucket("acls")
        .key("public")
        .send()
        .await
        .unwrap();
    let grants: Vec<(Option<String>, Option<String>, String)> = acl
        .grants()
        .iter()
        .map(|g| {
            let ge = g.grantee();
            (
                ge.and_then(|x| x.id().map(str::to_string)),
                ge.and_then(|x| x.uri().map(str::to_string)),
                g.permission()
                    .map(|p| p.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        vec![
            (Some(ROOT_ID.to_string()), None, "FULL_CONTROL".to_string()),
            (
                None,
                Some("http://acs.amazonaws.com/groups/global/AllUsers".to_string()),
                "READ".to_string()
            ),
        ]
    );
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(ROOT_ID));

    // PutObjectAcl makes the private object public, and back.
    c.put_object_acl()
        .bucket("acls")
        .key("private")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    assert_eq!(anon(&srv, "GET", "/acls/private").await.body, b"p");
    c.put_object_acl()
        .bucket("acls")
        .key("private")
        .acl(ObjectCannedAcl::Private)
        .send()
        .await
        .unwrap();
    assert_denied(&anon(&srv, "GET", "/acls/private").await);

    // A public-read bucket ACL lets anyone list it.
    c.put_bucket_acl()
        .bucket("acls")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let r = anon(&srv, "GET", "/acls?list-type=2").await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = c.get_bucket_acl().bucket("acls").send().await.unwrap();
    assert_eq!(b.grants().len(), 2);
    // An authenticated-read grant lets a signed user without policies read.
    c.put_object()
        .bucket("acls")
        .key("auth")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .body(ByteStream::from_static(b"a"))
        .send()
        .await
        .unwrap();
    let nobody = user(&srv, "nobody", &["writeonly"], None).await;
    nobody
        .get_object()
        .bucket("acls")
        .key("auth")
        .send()
        .await
        .unwrap();
    // Grant headers name users by access key.
    c.put_object()
        .bucket("acls")
        .key("for-nobody")
        .grant_read("id=\"nobody\"")
        .body(ByteStream::from_static(b"g"))
        .send()
        .await
        .unwrap();
    nobody
        .get_object()
        .bucket("acls")
        .key("for-nobody")
        .send()
        .await
        .unwrap();
    assert_denied(&anon(&srv, "GET", "/acls/for-nobody").await);
    // public-read-write on the bucket lets anyone write objects in it.
    assert_denied(&anon_put(&srv, "/acls/anon.txt", b"anon").await);
    c.put_bucket_acl()
        .bucket("acls")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicReadWrite)
        .send()
        .await
        .unwrap();
    let r = anon_put(&srv, "/acls/anon.txt", b"anon").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(common::get_bytes(&c, "acls", "anon.txt").await, b"anon");
    assert!(
        nobody
            .get_object()
            .bucket("acls")
            .key("private")
            .send()
            .await
            .is_err()
    );
    assert_denied(&anon(&srv, "GET", "/acls/auth").await);
}

#[tokio::test]
async fn bucket_owner_enforced_disables_acls() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("own").send().await.unwrap();
    let e = c
        .get_bucket_ownership_controls()
        .bucket("own")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "OwnershipControlsNotFoundError"
    );
    c.put_object()
        .bucket("own")
        .key("was-public")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"w"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon(&srv, "GET", "/own/was-public").await.status, 200);

    let rule = OwnershipControlsRule::builder()
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .build()
        .unwrap();
    c.put_bucket_ownership_controls()
        .bucket("own")
        .ownership_controls(OwnershipControls::builder().rules(rule).build().unwrap())
        .send()
        .await
        .unwrap();
    let got = c
        .get_bucket_ownership_controls()
        .bucket("own")
        .send()
        .await
        .unwrap();
    let rules = got
        .ownership_controls()
        .map(|o| o.rules().to_vec())
        .unwrap_or_default();
    assert_eq!(
        rules[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );

    // Existing grants are ignored.
    assert_denied(&anon(&srv, "GET", "/own/was-public").await);
    let e = c
        .put_object_acl()
        .bucket("own")
        .key("was-public")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "AccessControlListNotSupported"
    );
    let e = c
        .put_object()
        .bucket("own")
        .key("new")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"n"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "AccessControlListNotSupported"
    );
    for canned in [
        ObjectCannedAcl::Private,
        ObjectCannedAcl::BucketOwnerFullControl,
    ] {
        c.put_object()
            .bucket("own")
            .key("new")
            .acl(canned.clone())
            .body(ByteStream::from_static(b"n"))
            .send()
            .await
            .unwrap();
        c.put_object_acl()
            .bucket("own")
            .key("new")
            .acl(canned)
            .send()
            .await
            .unwrap();
    }
    // Ownership chosen at creation.
    let e = c
        .create_bucket()
        .bucket("own2")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "AccessControlListNotSupported"
    );
    c.create_bucket()
        .bucket("own2")
        .object_ownership(ObjectOwnership::BucketOwnerEnforced)
        .send()
        .await
        .unwrap();
    let got = c
        .get_bucket_ownership_controls()
        .bucket("own2")
        .send()
        .await
        .unwrap();
    let rules = got
        .ownership_controls()
        .map(|o| o.rules().to_vec())
        .unwrap_or_default();
    assert_eq!(
        rules[0].object_ownership(),
        &ObjectOwnership::BucketOwnerEnforced
    );
    c.delete_bucket_ownership_controls()
        .bucket("own")
        .send()
        .await
        .unwrap();
    let e = c
        .get_bucket_ownership_controls()
        .bucket("own")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "OwnershipControlsNotFoundError"
    );
    assert_eq!(anon(&srv, "GET", "/own/was-public").await.status, 200);
}

fn pab(acls: bool, ignore: bool, policy: bool, restrict: bool) -> PublicAccessBlockConfiguration {
    PublicAccessBlockConfiguration::builder()
        .block_public_acls(acls)
        .ignore_public_acls(ignore)
        .block_public_policy(policy)
        .restrict_public_buckets(restrict)
        .build()
}

#[tokio::test]
async fn public_access_block_settings() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("pub").send().await.unwrap();
    let e = c
        .get_public_access_block()
        .bucket("pub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "NoSuchPublicAccessBlockConfiguration"
    );
    c.put_object()
        .bucket("pub")
        .key("public/acl")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"a"))
        .send()
        .await
        .unwrap();
    put(&c, "pub", "public/pol", b"p").await;
    c.put_bucket_policy()
        .bucket("pub")
        .policy(PUBLIC_PREFIX)
        .send()
        .await
        .unwrap();

    // BlockPublicAcls: public ACLs are refused; private ones still work (rclone).
    c.put_public_access_block()
        .bucket("pub")
        .public_access_block_configuration(pab(true, false, false, false))
        .send()
        .await
        .unwrap();
    let got = c
        .get_public_access_block()
        .bucket("pub")
        .send()
        .await
        .unwrap();
    let cfg = got.public_access_block_configuration().unwrap();
    assert_eq!(cfg.block_public_acls(), Some(true));
    assert_eq!(cfg.ignore_public_acls(), Some(false));
    let e = c
        .put_object()
        .bucket("pub")
        .key("x")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    c.put_object()
        .bucket("pub")
        .key("x")
        .acl(ObjectCannedAcl::Private)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    // Existing public grants still count until IgnorePublicAcls.
    assert_eq!(anon(&srv, "GET", "/pub/public/acl").await.status, 200);

    // IgnorePublicAcls: the object ACL grants nothing (the policy still does).
    c.put_public_access_block()
        .bucket("pub")
        .public_access_block_configuration(pab(false, true, false, false))
        .send()
        .await
        .unwrap();
    c.delete_bucket_policy().bucket("pub").send().await.unwrap();
    assert_denied(&anon(&srv, "GET", "/pub/public/acl").await);

    // BlockPublicPolicy: a public policy is refused, a private one is not.
    c.put_public_access_block()
        .bucket("pub")
        .public_access_block_configuration(pab(false, false, true, false))
        .send()
        .await
        .unwrap();
    let e = c
        .put_bucket_policy()
        .bucket("pub")
        .policy(PUBLIC_PREFIX)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "AccessDenied");
    let private = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::pub/*"}]}"#;
    c.put_bucket_policy()
        .bucket("pub")
        .policy(private)
        .send()
        .await
        .unwrap();

    // RestrictPublicBuckets: the public policy no longer serves unsigned callers, but
    // signed users of the deployment it names still pass.
    c.put_public_access_block()
        .bucket("pub")
        .public_access_block_configuration(pab(false, false, false, true))
        .send()
        .await
        .unwrap();
    c.put_bucket_policy()
        .bucket("pub")
        .policy(PUBLIC_PREFIX)
        .send()
        .await
        .unwrap();
    assert_denied(&anon(&srv, "GET", "/pub/public/pol").await);
    let bob = user(&srv, "bob", &["writeonly"], None).await;
    bob.get_object()
        .bucket("pub")
        .key("public/pol")
        .send()
        .await
        .unwrap();

    c.delete_public_access_block()
        .bucket("pub")
        .send()
        .await
        .unwrap();
    let e = c
        .get_public_access_block()
        .bucket("pub")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e.into_service_error()),
        "NoSuchPublicAccessBlockConfiguration"
    );
    assert_eq!(anon(&srv, "GET", "/pub/public/pol").await.status, 200);
    assert_eq!(anon(&srv, "GET", "/pub/public/acl").await.status, 200);
}

/// Only `s3:CreateBucket` and `s3:PutObject`: whatever else such a user may do comes
/// from owning what it made.
const CREATE_AND_PUT: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":["s3:CreateBucket","s3:PutObject"],"Resource":["arn:aws:s3:::*"]}]}"#;

async fn owner_of(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (String, String) {
    let acl = c
        .get_object_acl()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap_or_else(|e| panic!("acl of {key}: {e:?}"));
    let o = acl.owner().expect("owner");
    (
        o.id().unwrap_or_default().to_string(),
        o.display_name().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn owners_are_the_identities_that_created_buckets_and_objects() {
    let srv = TestServer::start(4).await;
    let root = srv.client();
    let carol = user(
        &srv,
        "carol",
        &["create-and-put"],
        Some(("create-and-put", CREATE_AND_PUT)),
    )
    .await;
    let bob = user(&srv, "bob", &["readwrite"], None).await;

    carol.create_bucket().bucket("carols").send().await.unwrap();
    let b = root.get_bucket_acl().bucket("carols").send().await.unwrap();
    let owner = b.owner().expect("owner");
    assert_eq!(owner.display_name(), Some("carol"));
    let carol_id = owner.id().unwrap_or_default().to_string();
    assert_eq!(carol_id.len(), 64);
    assert_ne!(carol_id, ROOT_ID);
    // ListBuckets names the requester.
    let mine = bob.list_buckets().send().await.unwrap();
    assert_eq!(mine.owner().and_then(|o| o.display_name()), Some("bob"));
    let all = root.list_buckets().send().await.unwrap();
    assert_eq!(all.owner().and_then(|o| o.id()), Some(ROOT_ID));

    // Objects belong to their writers, whoever owns the bucket.
    put(&carol, "carols", "by-carol", b"c").await;
    put(&bob, "carols", "by-bob", b"b").await;
    put(&root, "carols", "by-root", b"r").await;
    assert_eq!(
        owner_of(&root, "carols", "by-carol").await,
        (carol_id.clone(), "carol".into())
    );
    assert_eq!(owner_of(&root, "carols", "by-bob").await.1, "bob");
    assert_eq!(owner_of(&root, "carols", "by-root").await.0, ROOT_ID);
    let listed = root
        .list_objects_v2()
        .bucket("carols")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owners: Vec<(String, String)> = listed
        .contents()
        .iter()
        .map(|o| {
            (
                o.key().unwrap_or_default().to_string(),
                o.owner()
                    .and_then(|x| x.display_name())
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        owners,
        vec![
            ("by-bob".into(), "bob".into()),
            ("by-carol".into(), "carol".into()),
            ("by-root".into(), "cairn".into()),
        ]
    );

    // Owning grants FULL_CONTROL through the ACL: carol's policy allows no reads, yet she
    // lists her bucket and reads her object, but not objects others wrote privately.
    carol
        .list_objects_v2()
        .bucket("carols")
        .send()
        .await
        .unwrap();
    assert_eq!(common::get_bytes(&carol, "carols", "by-carol").await, b"c");
    let code_of = |r: Result<
        _,
        aws_sdk_s3::error::SdkError<aws_sdk_s3::operation::get_object::GetObjectError>,
    >| { r.err().and_then(|e| e.code().map(str::to_string)) };
    assert_eq!(
        code_of(
            carol
                .get_object()
                .bucket("carols")
                .key("by-root")
                .send()
                .await
        )
        .as_deref(),
        Some("AccessDenied")
    );
    assert_eq!(
        code_of(
            carol
                .get_object()
                .bucket("carols")
                .key("by-bob")
                .send()
                .await
        )
        .as_deref(),
        Some("AccessDenied")
    );
    // bucket-owner-full-control hands the bucket's owner the object bob writes.
    bob.put_object()
        .bucket("carols")
        .key("for-carol")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"f"))
        .send()
        .await
        .unwrap();
    assert_eq!(common::get_bytes(&carol, "carols", "for-carol").await, b"f");
    assert_eq!(owner_of(&root, "carols", "for-carol").await.1, "bob");
    // A copy belongs to whoever made it.
    bob.copy_object()
        .bucket("carols")
        .key("copied-by-bob")
        .copy_source("carols/by-root")
        .send()
        .await
        .unwrap();
    assert_eq!(owner_of(&root, "carols", "copied-by-bob").await.1, "bob");
    // A policy that denies still wins over ownership.
    let deny = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Deny","Principal":{"AWS":["carol"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::carols/*"}]}"#;
    root.put_bucket_policy()
        .bucket("carols")
        .policy(deny)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_of(
            carol
                .get_object()
                .bucket("carols")
                .key("by-carol")
                .send()
                .await
        )
        .as_deref(),
        Some("AccessDenied")
    );
}

#[tokio::test]
async fn put_object_acl_changes_metadata_only() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("acl-meta").send().await.unwrap();
    // A multipart object: rewriting it would give it a plain MD5 ETag.
    let up = c
        .create_multipart_upload()
        .bucket("acl-meta")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let done = common::one_part(&c, "acl-meta", "mp", &id, vec![7u8; 300_000]).await;
    c.complete_multipart_upload()
        .bucket("acl-meta")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    put(&c, "acl-meta", "small", b"inline bytes").await;
    for key in ["mp", "small"] {
        let before = c
            .head_object()
            .bucket("acl-meta")
            .key(key)
            .send()
            .await
            .unwrap();
        c.put_object_acl()
            .bucket("acl-meta")
            .key(key)
            .acl(ObjectCannedAcl::PublicRead)
            .send()
            .await
            .unwrap();
        let after = c
            .head_object()
            .bucket("acl-meta")
            .key(key)
            .send()
            .await
            .unwrap();
        assert_eq!(before.e_tag(), after.e_tag(), "{key}");
        assert_eq!(before.last_modified(), after.last_modified(), "{key}");
        let r = anon(&srv, "GET", &format!("/acl-meta/{key}")).await;
        assert_eq!(r.status, 200, "{key}: {}", r.text());
        // Setting it back, then the same ACL again (nothing to change).
        for _ in 0..2 {
            c.put_object_acl()
                .bucket("acl-meta")
                .key(key)
                .acl(ObjectCannedAcl::Private)
                .send()
                .await
                .unwrap();
        }
        assert_denied(&anon(&srv, "GET", &format!("/acl-meta/{key}")).await);
    }
    assert_eq!(
        common::get_bytes(&c, "acl-meta", "mp").await,
        vec![7u8; 300_000]
    );
    assert_eq!(
        common::get_bytes(&c, "acl-meta", "small").await,
        b"inline bytes"
    );
    let missing = c
        .put_object_acl()
        .bucket("acl-meta")
        .key("nope")
        .acl(ObjectCannedAcl::PublicRead)
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
async fn acl_headers_on_a_write_need_put_object_acl() {
    let srv = TestServer::start(4).await;
    let root = srv.client();
    root.create_bucket().bucket("hdr").send().await.unwrap();
    let writer = user(&srv, "writer", &["writeonly"], None).await;
    let with_acl = r#"{"Version":"2012-10-17","Statement":[
      {"Effect":"Allow","Action":["s3:PutObject","s3:PutObjectAcl"],"Resource":["arn:aws:s3:::hdr/*"]}]}"#;
    let sharer = user(
        &srv,
        "sharer",
        &["put-with-acl"],
        Some(("put-with-acl", with_acl)),
    )
    .await;
    let put_acl = |c: &aws_sdk_s3::Client, key: &str, acl: Option<ObjectCannedAcl>| {
        c.put_object()
            .bucket("hdr")
            .key(key)
            .set_acl(acl)
            .body(ByteStream::from_static(b"x"))
            .send()
    };
    // Grants nothing more: a write-only user may send it (rclone does, always).
    for acl in [
        None,
        Some(ObjectCannedAcl::Private),
        Some(ObjectCannedAcl::BucketOwnerFullControl),
    ] {
        put_acl(&writer, "plain", acl)
            .await
            .expect("write-only user writes");
    }
    let denied = put_acl(&writer, "public", Some(ObjectCannedAcl::PublicRead)).await;
    assert_eq!(
        denied
            .err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("AccessDenied"),
        "making an object public needs s3:PutObjectAcl"
    );
    assert_eq!(
        anon(&srv, "GET", "/hdr/public").await.status,
        403,
        "nothing was stored"
    );
    put_acl(&sharer, "public", Some(ObjectCannedAcl::PublicRead))
        .await
        .expect("allowed");
    assert_eq!(anon(&srv, "GET", "/hdr/public").await.body, b"x");
    // Grant headers count too.
    let r = writer
        .put_object()
        .bucket("hdr")
        .key("granted")
        .grant_read("uri=\"http://acs.amazonaws.com/groups/global/AllUsers\"")
        .body(ByteStream::from_static(b"g"))
        .send()
        .await;
    assert_eq!(
        r.err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("AccessDenied")
    );
}
