//! CORS: Put/Get/DeleteBucketCors through `aws-sdk-s3`, unsigned preflight `OPTIONS`
//! requests answered from the rules, and `Access-Control-*` headers on answers to
//! requests that carry an allowed `Origin`.

use crate::common;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{CorsConfiguration, CorsRule};
use common::{RawResponse, TestServer, raw};

async fn preflight(
    srv: &TestServer,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> RawResponse {
    let mut req = format!(
        "OPTIONS {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {origin}\r\nAccess-Control-Request-Method: {method}\r\n",
        srv.addr
    );
    if !headers.is_empty() {
        req.push_str(&format!("Access-Control-Request-Headers: {headers}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    raw(srv.addr, req.as_bytes()).await
}

#[tokio::test]
async fn rules_answer_preflights_and_decorate_answers() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("web").send().await.unwrap();
    c.create_bucket().bucket("plain").send().await.unwrap();
    let none = c.get_bucket_cors().bucket("web").send().await;
    assert_eq!(
        none.err()
            .and_then(|e| e.code().map(str::to_string))
            .as_deref(),
        Some("NoSuchCORSConfiguration")
    );
    let rules = CorsConfiguration::builder()
        .cors_rules(
            CorsRule::builder()
                .id("chat")
                .allowed_origins("https://*.example.org")
                .allowed_methods("GET")
                .allowed_methods("PUT")
                .allowed_headers("x-amz-*")
                .allowed_headers("content-type")
                .expose_headers("ETag")
                .max_age_seconds(600)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    c.put_bucket_cors()
        .bucket("web")
        .cors_configuration(rules)
        .send()
        .await
        .unwrap();
    let got = c.get_bucket_cors().bucket("web").send().await.unwrap();
    let rule = &got.cors_rules()[0];
    assert_eq!(rule.id(), Some("chat"));
    assert_eq!(rule.allowed_methods(), ["GET", "PUT"]);
    assert_eq!(rule.max_age_seconds(), Some(600));

    let ok = preflight(
        &srv,
        "/web/media/file",
        "https://chat.example.org",
        "PUT",
        "Content-Type, X-Amz-Date",
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        ok.header("access-control-allow-origin"),
        Some("https://chat.example.org")
    );
    assert_eq!(ok.header("access-control-allow-methods"), Some("GET, PUT"));
    assert_eq!(
        ok.header("access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(ok.header("access-control-max-age"), Some("600"));
    assert_eq!(ok.header("access-control-expose-headers"), Some("ETag"));
    for (origin, method, headers) in [
        ("https://chat.example.org", "DELETE", ""),
        ("https://evil.example.com", "GET", ""),
        ("https://chat.example.org", "PUT", "Authorization"),
    ] {
        let r = preflight(&srv, "/web/media/file", origin, method, headers).await;
        assert_eq!(r.status, 403, "{origin} {method} {headers}");
        assert!(
            r.text().contains("<Code>AccessForbidden</Code>"),
            "{}",
            r.text()
        );
        assert!(r.header("access-control-allow-origin").is_none());
    }
    let r = preflight(&srv, "/plain/x", "https://chat.example.org", "GET", "").await;
    assert_eq!(r.status, 403);
    assert!(r.text().contains("CORS is not enabled"), "{}", r.text());

    // An ordinary answer to an allowed origin carries the headers (here a refusal of an
    // unsigned GET: the browser then sees the real error, not a CORS failure).
    let get = format!(
        "GET /web/media/file HTTP/1.1\r\nHost: {}\r\nOrigin: https://chat.example.org\r\nConnection: close\r\n\r\n",
        srv.addr
    );
    let r = raw(srv.addr, get.as_bytes()).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://chat.example.org")
    );
    let other = get.replace("https://chat.example.org", "https://evil.example.com");
    assert!(
        raw(srv.addr, other.as_bytes())
            .await
            .header("access-control-allow-origin")
            .is_none()
    );

    c.delete_bucket_cors().bucket("web").send().await.unwrap();
    let r = preflight(
        &srv,
        "/web/media/file",
        "https://chat.example.org",
        "PUT",
        "",
    )
    .await;
    assert_eq!(r.status, 403);
}
