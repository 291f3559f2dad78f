//! Signature Version 2 against a real server: presigned URLs (what boto3's
//! `generate_presigned_url` and `aws s3 presign` v1 make by default) and
//! `Authorization: AWS key:sig` headers, on objects written through the SigV4 SDK.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use cairn::s3::auth::sigv2::{PresignV2Request, authorization_v2, presign_v2};
use cairn::s3::auth::sigv4::{Credentials, uri_encode_path};
use common::{PASSWORD, TestServer, USER, data, get_bytes, raw};
use http::{HeaderMap, HeaderValue, Method};

const BUCKET: &str = "sigv2";
const KEY: &str = "dir/a b+c$.bin";

fn creds(secret: &str) -> Credentials {
    Credentials {
        access_key: USER.into(),
        secret_key: secret.into(),
    }
}

fn code_of(text: &str) -> String {
    text.split("<Code>")
        .nth(1)
        .and_then(|r| r.split("</Code>").next())
        .unwrap_or("")
        .to_string()
}

fn message_of(text: &str) -> String {
    text.split("<Message>")
        .nth(1)
        .and_then(|r| r.split("</Message>").next())
        .unwrap_or("")
        .to_string()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `/bucket/key` as it goes on the wire.
fn object_path(key: &str) -> String {
    format!("/{BUCKET}/{}", uri_encode_path(key))
}

fn presigned(method: &Method, path: &str, query: &str, expires: i64, secret: &str) -> String {
    presign_v2(
        &PresignV2Request {
            method,
            raw_path: path,
            raw_query: query,
            content_type: "",
            expires,
        },
        &creds(secret),
    )
}

fn request(
    addr: std::net::SocketAddr,
    method: &Method,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: {addr}\r\n");
    for (name, value) in headers {
        out.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().expect("ascii header")
        ));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

async fn setup() -> (TestServer, aws_sdk_s3::Client, Vec<u8>) {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let payload = data(70_000, 2);
    c.put_object()
        .bucket(BUCKET)
        .key(KEY)
        .body(ByteStream::from(payload.clone()))
        .send()
        .await
        .unwrap();
    (srv, c, payload)
}

#[tokio::test]
async fn presigned_v2_get_put_and_expiry() {
    let (srv, c, payload) = setup().await;
    let path = object_path(KEY);

    // GET with a URL valid for five more minutes.
    let query = presigned(&Method::GET, &path, "", now() + 300, PASSWORD);
    let get = |query: String| {
        let path = path.clone();
        async move {
            let target = format!("{path}?{query}");
            raw(
                srv.addr,
                &request(srv.addr, &Method::GET, &target, &HeaderMap::new(), b""),
            )
            .await
        }
    };
    let r = get(query.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, payload);

    // Response overrides are sub-resources: signed, and honoured.
    let overrides = "response-content-type=text%2Fplain%3B%20charset%3Dutf-8";
    let signed = presigned(&Method::GET, &path, overrides, now() + 300, PASSWORD);
    let r = get(signed.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let swapped = signed.replace("text%2Fplain", "text%2Fhtml");
    let r = get(swapped).await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "SignatureDoesNotMatch");

    // Expired a second ago.
    let r = get(presigned(&Method::GET, &path, "", now() - 1, PASSWORD)).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(code_of(&r.text()), "AccessDenied");
    assert_eq!(message_of(&r.text()), "Request has expired");

    // Tampered Expires (a second later), wrong secret, unknown access key.
    let (signed_part, expires) = query.rsplit_once("&Expires=").expect("Expires comes last");
    let later = expires.parse::<i64>().expect("Expires is a number") + 1;
    let r = get(format!("{signed_part}&Expires={later}")).await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "SignatureDoesNotMatch");
    // Signed, but for longer than the seven days SigV4 allows.
    let r = get(presigned(
        &Method::GET,
        &path,
        "",
        now() + 8 * 86_400,
        PASSWORD,
    ))
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(code_of(&r.text()), "AuthorizationQueryParametersError");
    let r = get(presigned(
        &Method::GET,
        &path,
        "",
        now() + 300,
        "not-the-secret",
    ))
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "SignatureDoesNotMatch");
    let r = get(query.replace(&format!("AWSAccessKeyId={USER}"), "AWSAccessKeyId=nobody")).await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "InvalidAccessKeyId");

    // The URL is for GET only, and for this object only.
    let target = format!("{path}?{query}");
    let r = raw(
        srv.addr,
        &request(srv.addr, &Method::DELETE, &target, &HeaderMap::new(), b""),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "SignatureDoesNotMatch");
    assert_eq!(get_bytes(&c, BUCKET, KEY).await, payload);

    // PUT through a presigned URL whose signer left Content-Type empty, sent with one
    // (as urllib and browsers do).
    let put_key = "uploaded via v2";
    let put_path = object_path(put_key);
    let put_query = presigned(&Method::PUT, &put_path, "", now() + 300, PASSWORD);
    let body = data(50_000, 3);
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    let target = format!("{put_path}?{put_query}");
    let r = raw(
        srv.addr,
        &request(srv.addr, &Method::PUT, &target, &headers, &body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(get_bytes(&c, BUCKET, put_key).await, body);
}

#[tokio::test]
async fn v2_authorization_header() {
    let (srv, c, payload) = setup().await;
    let path = object_path(KEY);
    let date = |offset_minutes: i64| {
        let when = chrono::Utc::now() + chrono::TimeDelta::minutes(offset_minutes);
        HeaderValue::from_str(&when.format("%a, %d %b %Y %H:%M:%S GMT").to_string()).expect("date")
    };
    let signed = |method: &Method, path: &str, mut headers: HeaderMap, secret: &str| {
        let auth = authorization_v2(method, path, "", &headers, &creds(secret));
        headers.insert("authorization", HeaderValue::from_str(&auth).expect("auth"));
        headers
    };

    let mut headers = HeaderMap::new();
    headers.insert("date", date(0));
    let r = raw(
        srv.addr,
        &request(
            srv.addr,
            &Method::GET,
            &path,
            &signed(&Method::GET, &path, headers, PASSWORD),
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, payload);

    // PUT with metadata and a content type, both signed.
    let body = b"written with sigv2".to_vec();
    let mut headers = HeaderMap::new();
    headers.insert("date", date(0));
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    headers.insert("x-amz-meta-origin", HeaderValue::from_static("legacy tool"));
    let put_path = object_path("v2 header");
    let r = raw(
        srv.addr,
        &request(
            srv.addr,
            &Method::PUT,
            &put_path,
            &signed(&Method::PUT, &put_path, headers, PASSWORD),
            &body,
        ),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("v2 header")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("text/plain"));
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("origin"))
            .map(String::as_str),
        Some("legacy tool")
    );
    assert_eq!(get_bytes(&c, BUCKET, "v2 header").await, body);

    // Too far from our clock, wrong secret.
    let mut headers = HeaderMap::new();
    headers.insert("date", date(-20));
    let r = raw(
        srv.addr,
        &request(
            srv.addr,
            &Method::GET,
            &path,
            &signed(&Method::GET, &path, headers, PASSWORD),
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(code_of(&r.text()), "RequestTimeTooSkewed");
    let mut headers = HeaderMap::new();
    headers.insert("date", date(0));
    let r = raw(
        srv.addr,
        &request(
            srv.addr,
            &Method::GET,
            &path,
            &signed(&Method::GET, &path, headers, "wrong-secret"),
            b"",
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(code_of(&r.text()), "SignatureDoesNotMatch");
}
