//! Bad requests get their S3 error and leave stored data untouched: unsigned and badly
//! signed requests, keys that try to escape, truncated bodies, malformed XML.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use common::{PASSWORD, TestServer, data, get_bytes, raw, signed_request};

async fn setup() -> (TestServer, aws_sdk_s3::Client) {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    c.put_object()
        .bucket("bkt")
        .key("keep")
        .body(ByteStream::from(data(5000, 1)))
        .send()
        .await
        .unwrap();
    (srv, c)
}

fn code_of(text: &str) -> String {
    text.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("")
        .to_string()
}

#[tokio::test]
async fn unsigned_and_badly_signed_requests_are_refused() {
    let (srv, c) = setup().await;
    let r = raw(
        srv.addr,
        b"GET /bkt/keep HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "AccessDenied");
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/keep",
        "",
        &[],
        b"evil",
        "wrong-secret-123",
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "SignatureDoesNotMatch");
    // A good signature with the body changed in flight.
    let mut req = signed_request(srv.addr, "PUT", "/bkt/keep", "", &[], b"good", PASSWORD);
    let n = req.len();
    req[n - 4..].copy_from_slice(b"evil");
    let r = raw(srv.addr, &req).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(code_of(&r.text()), "XAmzContentSHA256Mismatch");
    // HEAD errors have no body.
    let r = raw(
        srv.addr,
        b"HEAD /bkt/keep HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.is_empty());
    assert_eq!(get_bytes(&c, "bkt", "keep").await, data(5000, 1));
}

#[tokio::test]
async fn keys_cannot_escape_or_exceed_limits() {
    let (srv, c) = setup().await;
    for key in ["../escape", "a/../../escape", "a//b", "./x"] {
        let path = format!("/bkt/{}", key);
        let req = signed_request(srv.addr, "PUT", &path, "", &[], b"x", PASSWORD);
        let r = raw(srv.addr, &req).await;
        assert_eq!(r.status, 400, "{key}: {}", r.text());
    }
    // Percent-encoded dot segments are refused the same way.
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/%2E%2E/%2E%2E/escape",
        "",
        &[],
        b"x",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(r.status, 400, "{}", r.text());
    for d in &srv.drives {
        assert!(!d.join("escape").exists());
        assert!(!d.parent().unwrap().join("escape").exists());
    }
    let long = "k".repeat(1025);
    let e = c
        .put_object()
        .bucket("bkt")
        .key(&long)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(common::code(&e.into_service_error()), "KeyTooLongError");
    let seg = format!("{}/x", "s".repeat(300));
    let e = c
        .put_object()
        .bucket("bkt")
        .key(&seg)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    // Keys with characters that matter to the file system but are fine in S3.
    for key in ["~meta", "a/~d.x", "sp ace/é/\u{1F600}", "..a/b..", "x\\y"] {
        c.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from_static(b"ok"))
            .send()
            .await
            .unwrap();
        assert_eq!(get_bytes(&c, "bkt", key).await, b"ok", "{key}");
    }
    assert_eq!(get_bytes(&c, "bkt", "keep").await, data(5000, 1));
}

#[tokio::test]
async fn truncated_and_oversized_bodies_store_nothing() {
    let (srv, c) = setup().await;
    // Declares 2 MiB, sends 1 MiB, then closes: the object must not appear.
    let body = data(2 << 20, 3);
    let mut req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/truncated",
        "",
        &[("x-amz-content-sha256", "UNSIGNED-PAYLOAD")],
        &body,
        PASSWORD,
    );
    req.truncate(req.len() - (1 << 20));
    let _ = common::raw_then_close(srv.addr, &req).await;
    // Overwriting an existing key with a truncated body keeps the old version.
    let mut req = signed_request(srv.addr, "PUT", "/bkt/keep", "", &[], &body, PASSWORD);
    req.truncate(req.len() - 1000);
    let _ = common::raw_then_close(srv.addr, &req).await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let e = c
        .head_object()
        .bucket("bkt")
        .key("truncated")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    assert_eq!(get_bytes(&c, "bkt", "keep").await, data(5000, 1));
    // Over 5 GiB declared: refused before reading.
    let signed = signed_request(
        srv.addr,
        "PUT",
        "/bkt/huge",
        "",
        &[
            ("content-length", "6000000000"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
        ],
        b"",
        PASSWORD,
    );
    let r = raw(srv.addr, &signed).await;
    assert_eq!(code_of(&r.text()), "EntityTooLarge", "{}", r.text());
    // Staging areas hold nothing after the failures.
    for d in &srv.drives {
        let tmp = d.join(".cairn.sys/tmp");
        let n = std::fs::read_dir(&tmp).map(|r| r.count()).unwrap_or(0);
        assert_eq!(n, 0, "{} not empty", tmp.display());
    }
}

#[tokio::test]
async fn malformed_xml_and_bad_parameters() {
    let (srv, c) = setup().await;
    let up = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("mp")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let q = format!("uploadId={id}");
    let req = signed_request(
        srv.addr,
        "POST",
        "/bkt/mp",
        &q,
        &[],
        b"<CompleteMultipartUpload><Part>",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "MalformedXML", "{}", r.text());
    let req = signed_request(
        srv.addr,
        "POST",
        "/bkt",
        "delete=",
        &[],
        b"<Delete><Object><Key>keep",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "MalformedXML", "{}", r.text());
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/mp",
        "partNumber=0&uploadId=x",
        &[],
        b"x",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "InvalidArgument", "{}", r.text());
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/mp",
        "partNumber=1&uploadId=..%2F..%2Fetc",
        &[],
        b"x",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "NoSuchUpload", "{}", r.text());
    let req = signed_request(srv.addr, "GET", "/bkt", "max-keys=-1", &[], b"", PASSWORD);
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "InvalidArgument", "{}", r.text());
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/x",
        "",
        &[("content-md5", "not-base64!")],
        b"x",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "InvalidDigest", "{}", r.text());
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/x",
        "",
        &[("content-md5", "AAAAAAAAAAAAAAAAAAAAAA==")],
        b"x",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(code_of(&r.text()), "BadDigest", "{}", r.text());
    // Sub-resources clients send and Cairn accepts as S3 does.
    let req = signed_request(
        srv.addr,
        "HEAD",
        "/bkt/keep",
        "versionId=null",
        &[],
        b"",
        PASSWORD,
    );
    assert_eq!(raw(srv.addr, &req).await.status, 200);
    let req = signed_request(
        srv.addr,
        "GET",
        "/bkt/keep",
        "x-id=GetObject",
        &[],
        b"",
        PASSWORD,
    );
    let r = raw(srv.addr, &req).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, data(5000, 1));
    let req = signed_request(
        srv.addr,
        "PUT",
        "/bkt/",
        "",
        &[("x-amz-acl", "private")],
        b"",
        PASSWORD,
    );
    assert_eq!(
        code_of(&raw(srv.addr, &req).await.text()),
        "BucketAlreadyOwnedByYou"
    );
    assert_eq!(get_bytes(&c, "bkt", "keep").await, data(5000, 1));
}
