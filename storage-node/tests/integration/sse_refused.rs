//! Without a KMS and without TLS, server-side encryption is refused, never faked:
//! SSE-S3 and SSE-KMS get MinIO's "KMS is not configured" error (`NotImplemented`, 501),
//! SSE-C sent over plain HTTP gets S3's "must be made over a secure connection"
//! (`InvalidRequest`, 400), before the body is read; nothing is stored, an existing
//! object of that key is left as it was, and no response claims an encryption that did
//! not happen. (tests/sse.rs covers encryption with a KMS and over TLS.)

use crate::common;

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};
use base64::Engine;
use common::{PASSWORD, TestServer, code, data, get_bytes};
use md5::Digest;

const BUCKET: &str = "sse";
const REFUSED: &str = "Server side encryption specified but KMS is not configured";

/// An SSE-C key as clients send it: base64 of 32 bytes, and base64 of its MD5.
fn customer_key() -> (String, String) {
    let key = [7u8; 32];
    let b64 = base64::engine::general_purpose::STANDARD;
    (b64.encode(key), b64.encode(md5::Md5::digest(key)))
}

/// Asserts the SDK error is the refusal, with MinIO's code, status and wording.
fn assert_refused<E, R>(result: Result<R, SdkError<E, HttpResponse>>)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let err = result.expect_err("a request asking for server-side encryption is refused");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(501), "{err:?}");
    assert_eq!(code(&err), "NotImplemented", "{err:?}");
    let message = err.message().unwrap_or_default().to_owned();
    assert!(message.starts_with(REFUSED), "{message}");
}

/// Asserts the SDK error is the refusal of an SSE-C key sent without TLS.
fn assert_insecure<E, R>(result: Result<R, SdkError<E, HttpResponse>>)
where
    E: ProvideErrorMetadata + std::fmt::Debug,
    R: std::fmt::Debug,
{
    let err = result.expect_err("an SSE-C key over plain HTTP is refused");
    let status = err.raw_response().map(|r| r.status().as_u16());
    assert_eq!(status, Some(400), "{err:?}");
    assert_eq!(code(&err), "InvalidRequest", "{err:?}");
    let message = err.message().unwrap_or_default().to_owned();
    assert!(message.contains("secure connection"), "{message}");
}

async fn assert_absent(c: &Client, key: &str) {
    let err = c
        .head_object()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect_err("nothing was stored");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
}

async fn setup() -> (TestServer, Client) {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    (srv, c)
}

#[tokio::test]
async fn put_object_with_sse_s3_kms_or_c_is_refused_and_stores_nothing() {
    let (_srv, c) = setup().await;
    let body = || ByteStream::from(data(100_000, 1));
    let put = || c.put_object().bucket(BUCKET).key("new").body(body());
    assert_refused(
        put()
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
    );
    assert_refused(
        put()
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("my-key")
            .ssekms_encryption_context("eyJhIjoiYiJ9")
            .send()
            .await,
    );
    let (key, key_md5) = customer_key();
    assert_insecure(
        put()
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    assert_absent(&c, "new").await;
    let listed = c
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list");
    assert!(listed.contents().is_empty(), "{listed:?}");
}

#[tokio::test]
async fn refused_put_leaves_the_existing_object_untouched() {
    let (_srv, c) = setup().await;
    let old = data(4096, 2);
    let plain = c
        .put_object()
        .bucket(BUCKET)
        .key("keep")
        .body(ByteStream::from(old.clone()))
        .send()
        .await
        .expect("plain put");
    assert_eq!(plain.server_side_encryption(), None);
    let before = c
        .head_object()
        .bucket(BUCKET)
        .key("keep")
        .send()
        .await
        .expect("head");
    let (key, key_md5) = customer_key();
    assert_refused(
        c.put_object()
            .bucket(BUCKET)
            .key("keep")
            .body(ByteStream::from(data(8192, 3)))
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
    );
    assert_insecure(
        c.put_object()
            .bucket(BUCKET)
            .key("keep")
            .body(ByteStream::from(data(8192, 3)))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    assert_eq!(get_bytes(&c, BUCKET, "keep").await, old);
    let after = c
        .head_object()
        .bucket(BUCKET)
        .key("keep")
        .send()
        .await
        .expect("head");
    assert_eq!(after.e_tag(), before.e_tag());
    assert_eq!(after.last_modified(), before.last_modified());
    assert_eq!(after.server_side_encryption(), None);
}

#[tokio::test]
async fn multipart_with_sse_is_refused_at_every_step() {
    let (_srv, c) = setup().await;
    // CreateMultipartUpload (barman-cloud's `--encryption AES256`).
    assert_refused(
        c.create_multipart_upload()
            .bucket(BUCKET)
            .key("mp")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
    );
    let uploads = c
        .list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list uploads");
    assert!(uploads.uploads().is_empty(), "{uploads:?}");

    // UploadPart and UploadPartCopy with SSE-C keys, on a plain upload.
    c.put_object()
        .bucket(BUCKET)
        .key("src")
        .body(ByteStream::from(data(1000, 4)))
        .send()
        .await
        .expect("source");
    let upload = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .send()
        .await
        .expect("plain create");
    let id = upload.upload_id().expect("upload id");
    let (key, key_md5) = customer_key();
    assert_insecure(
        c.upload_part()
            .bucket(BUCKET)
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(ByteStream::from(data(5 << 20, 5)))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    assert_insecure(
        c.upload_part_copy()
            .bucket(BUCKET)
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .copy_source(format!("{BUCKET}/src"))
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&key)
            .copy_source_sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    assert_insecure(
        c.upload_part_copy()
            .bucket(BUCKET)
            .key("mp")
            .upload_id(id)
            .part_number(2)
            .copy_source(format!("{BUCKET}/src"))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    let parts = c
        .list_parts()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(id)
        .send()
        .await
        .expect("list parts");
    assert!(parts.parts().is_empty(), "{parts:?}");
    c.abort_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(id)
        .send()
        .await
        .expect("abort");
    assert_absent(&c, "mp").await;
}

#[tokio::test]
async fn copy_object_with_sse_is_refused_and_stores_nothing() {
    let (_srv, c) = setup().await;
    let src = data(3000, 6);
    c.put_object()
        .bucket(BUCKET)
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .expect("source");
    let copy = || {
        c.copy_object()
            .bucket(BUCKET)
            .key("dst")
            .copy_source(format!("{BUCKET}/src"))
    };
    assert_refused(
        copy()
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await,
    );
    assert_refused(
        copy()
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id("k")
            .send()
            .await,
    );
    let (key, key_md5) = customer_key();
    assert_insecure(
        copy()
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    assert_insecure(
        copy()
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&key)
            .copy_source_sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    assert_absent(&c, "dst").await;
    assert_eq!(get_bytes(&c, BUCKET, "src").await, src);
}

#[tokio::test]
async fn get_and_head_with_sse_c_key_are_refused() {
    let (_srv, c) = setup().await;
    c.put_object()
        .bucket(BUCKET)
        .key("plain")
        .body(ByteStream::from_static(b"plaintext"))
        .send()
        .await
        .expect("put");
    let (key, key_md5) = customer_key();
    assert_insecure(
        c.get_object()
            .bucket(BUCKET)
            .key("plain")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&key)
            .sse_customer_key_md5(&key_md5)
            .send()
            .await,
    );
    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("plain")
        .sse_customer_algorithm("AES256")
        .sse_customer_key(&key)
        .sse_customer_key_md5(&key_md5)
        .send()
        .await
        .expect_err("HEAD with an SSE-C key over plain HTTP is refused");
    assert_eq!(head.raw_response().map(|r| r.status().as_u16()), Some(400));
    let got = c
        .get_object()
        .bucket(BUCKET)
        .key("plain")
        .send()
        .await
        .expect("get");
    assert_eq!(got.server_side_encryption(), None);
    assert_eq!(got.sse_customer_algorithm(), None);
}

#[tokio::test]
async fn put_bucket_encryption_is_refused() {
    let (_srv, c) = setup().await;
    let rule = ServerSideEncryptionRule::builder()
        .apply_server_side_encryption_by_default(
            ServerSideEncryptionByDefault::builder()
                .sse_algorithm(ServerSideEncryption::Aes256)
                .build()
                .expect("default"),
        )
        .build();
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(rule)
        .build()
        .expect("config");
    assert_refused(
        c.put_bucket_encryption()
            .bucket(BUCKET)
            .server_side_encryption_configuration(config)
            .send()
            .await,
    );
    let err = c
        .get_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .expect_err("no encryption configuration was stored");
    assert_eq!(
        code(&err.into_service_error()),
        "ServerSideEncryptionConfigurationNotFoundError"
    );
}

/// The refusal comes before the body: a PUT that declares 1 MiB and sends none of it
/// still gets its answer, and no object appears.
#[tokio::test]
async fn refusal_comes_before_the_body_is_read() {
    let (srv, c) = setup().await;
    let body = data(1 << 20, 7);
    let request = common::signed_request(
        srv.addr,
        "PUT",
        &format!("/{BUCKET}/early"),
        "",
        &[("x-amz-server-side-encryption", "AES256")],
        &body,
        PASSWORD,
    );
    let head_only = &request[..request.len() - body.len()];
    let response = common::raw(srv.addr, head_only).await;
    assert_eq!(response.status, 501, "{}", response.text());
    assert!(response.text().contains("<Code>NotImplemented</Code>"));
    assert!(response.header("x-amz-server-side-encryption").is_none());
    assert_absent(&c, "early").await;
}
