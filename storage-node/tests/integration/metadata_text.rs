//! Object names and metadata text as S3 and MinIO clients expect them: non-ASCII user
//! metadata stored (raw UTF-8 or RFC 2047 encoded words) and returned RFC 2047 encoded,
//! and invalid object names refused with MinIO's `XMinioInvalidObjectName`.

use crate::common;

use common::{PASSWORD, TestServer, code, signed_request};

#[tokio::test]
async fn non_ascii_user_metadata_is_stored_and_returned_rfc2047_encoded() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("meta")
        .send()
        .await
        .expect("bucket");
    let put = signed_request(
        srv.addr,
        "PUT",
        "/meta/doc",
        "",
        &[
            ("x-amz-meta-city", "Zürich"),
            ("x-amz-meta-note", "=?UTF-8?B?w6l0w6kg4pyT?="),
            ("x-amz-meta-plain", "ascii"),
        ],
        b"body",
        PASSWORD,
    );
    let r = common::raw(srv.addr, &put).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = signed_request(srv.addr, "HEAD", "/meta/doc", "", &[], b"", PASSWORD);
    let r = common::raw(srv.addr, &head).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("x-amz-meta-city"),
        Some("=?UTF-8?B?WsO8cmljaA==?=")
    );
    assert_eq!(
        r.header("x-amz-meta-note"),
        Some("=?UTF-8?B?w6l0w6kg4pyT?=")
    );
    assert_eq!(r.header("x-amz-meta-plain"), Some("ascii"));
    // The SDK sees the same encoded words.
    let got = c
        .head_object()
        .bucket("meta")
        .key("doc")
        .send()
        .await
        .expect("head");
    let m = got.metadata().expect("metadata");
    assert_eq!(
        m.get("city").map(String::as_str),
        Some("=?UTF-8?B?WsO8cmljaA==?=")
    );
}

#[tokio::test]
async fn invalid_object_names_get_minios_error_code() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("names")
        .send()
        .await
        .expect("bucket");
    for key in ["a/../b", "a//b", "./x", &"n".repeat(256)] {
        let err = c
            .put_object()
            .bucket("names")
            .key(key)
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"x"))
            .send()
            .await
            .expect_err(key);
        assert_eq!(code(&err), "XMinioInvalidObjectName", "{key}");
    }
}
