//! A CompleteMultipartUpload retried after it succeeded (a client that timed out waiting
//! for the answer) gets the same 200 and ETag, as S3 answers it; the completed upload is
//! otherwise gone: no parts, not listed, not abortable, and a retry after the key was
//! overwritten or with other parts is `NoSuchUpload`.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use common::{TestServer, code, data, get_bytes, one_part};

#[tokio::test]
async fn a_retried_completion_answers_the_same_and_the_upload_stays_gone() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("mpu")
        .send()
        .await
        .expect("bucket");
    let id = c
        .create_multipart_upload()
        .bucket("mpu")
        .key("k")
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_string();
    let body = data(100_000, 3);
    let doc = one_part(&c, "mpu", "k", &id, body.clone()).await;
    let complete = || {
        c.complete_multipart_upload()
            .bucket("mpu")
            .key("k")
            .upload_id(&id)
            .multipart_upload(doc.clone())
    };
    let first = complete().send().await.expect("complete");
    let again = complete().send().await.expect("the retry succeeds too");
    assert_eq!(again.e_tag(), first.e_tag());
    assert_eq!(get_bytes(&c, "mpu", "k").await, body);

    let uploads = c
        .list_multipart_uploads()
        .bucket("mpu")
        .send()
        .await
        .expect("list");
    assert!(uploads.uploads().is_empty(), "{uploads:?}");
    let err = c
        .upload_part()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .expect_err("no parts after completion");
    assert_eq!(code(&err), "NoSuchUpload");
    let err = c
        .list_parts()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .expect_err("no part listing");
    assert_eq!(code(&err), "NoSuchUpload");
    let other = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag("\"00000000000000000000000000000000\"")
                .build(),
        )
        .build();
    let err = c
        .complete_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .multipart_upload(other)
        .send()
        .await
        .expect_err("other parts");
    assert_eq!(code(&err), "NoSuchUpload");

    // Once the key holds another version, the completion is history.
    c.put_object()
        .bucket("mpu")
        .key("k")
        .body(ByteStream::from_static(b"newer"))
        .send()
        .await
        .expect("overwrite");
    let err = complete().send().await.expect_err("stale retry");
    assert_eq!(code(&err), "NoSuchUpload");
    assert_eq!(get_bytes(&c, "mpu", "k").await, b"newer");
    let err = c
        .abort_multipart_upload()
        .bucket("mpu")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .expect_err("abort after completion");
    assert_eq!(code(&err), "NoSuchUpload");
}
