//! The web console against a real server started in-process: login through STS into a
//! sealed cookie, the CSRF checks, pages and uploads acting as the logged-in identity
//! (and no more), download, logout and the login rate limit. Requests are raw HTTP/1.1
//! (`Connection: close`) so every header the browser would see is checked.

use crate::common;

use common::{RawResponse, TestServer, raw};
use std::net::SocketAddr;

struct Browser {
    addr: SocketAddr,
    cookie: String,
}

fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut r = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !cookie.is_empty() {
        r.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    let mut bytes = r.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn set_cookie(r: &RawResponse, name: &str) -> Option<String> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .map(|(_, v)| v.clone())
        .find(|v| v.starts_with(&format!("{name}=")))
}

fn cookie_value(set: &str) -> String {
    set.split(';').next().unwrap_or("").to_string()
}

/// The value of `name="..."`'s `value` attribute after `marker` in a page.
fn attribute_after(page: &str, marker: &str, attr: &str) -> String {
    let at = page.find(marker).expect("marker in page");
    let rest = &page[at..];
    let start = rest.find(&format!("{attr}=\"")).expect("attribute") + attr.len() + 2;
    rest[start..start + rest[start..].find('"').unwrap()].to_string()
}

fn form(pairs: &[(&str, &str)]) -> Vec<u8> {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{k}={}",
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

/// GET /login then POST it; the answer of the POST.
async fn login(addr: SocketAddr, user: &str, secret: &str) -> RawResponse {
    let page = raw(addr, &request(addr, "GET", "/login", "", &[], b"")).await;
    assert_eq!(page.status, 200);
    let pre = cookie_value(&set_cookie(&page, "cairn-console-login").expect("pre-login cookie"));
    let token = attribute_after(&page.text(), "name=\"csrf\"", "value");
    let body = form(&[
        ("csrf", &token),
        ("access_key", user),
        ("secret_key", secret),
    ]);
    raw(addr, &request(addr, "POST", "/login", &pre, &[FORM], &body)).await
}

impl Browser {
    async fn log_in(addr: SocketAddr, user: &str, secret: &str) -> Browser {
        let r = login(addr, user, secret).await;
        assert_eq!(r.status, 303, "login: {}", r.text());
        assert_eq!(r.header("location"), Some("/buckets"));
        let set = set_cookie(&r, "cairn-console").expect("session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(!set.contains(secret), "the cookie is sealed");
        Browser {
            addr,
            cookie: cookie_value(&set),
        }
    }

    async fn get(&self, path: &str) -> RawResponse {
        raw(
            self.addr,
            &request(self.addr, "GET", path, &self.cookie, &[], b""),
        )
        .await
    }

    async fn csrf(&self) -> String {
        let page = self.get("/buckets").await;
        assert_eq!(page.status, 200, "{}", page.text());
        attribute_after(&page.text(), "name=\"csrf-token\"", "content")
    }

    async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> RawResponse {
        raw(
            self.addr,
            &request(self.addr, "POST", path, &self.cookie, &[FORM], &form(pairs)),
        )
        .await
    }

    async fn script(&self, method: &str, path: &str, token: &str, body: &[u8]) -> RawResponse {
        raw(
            self.addr,
            &request(
                self.addr,
                method,
                path,
                &self.cookie,
                &[("x-csrf-token", token)],
                body,
            ),
        )
        .await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_acts_as_its_identity_with_csrf_checks() {
    let server = TestServer::start(4).await;
    let running = server.running.as_ref().unwrap();
    let addr = running.console_address.expect("console listening");
    let s3 = server.client();

    // Security headers on every page, the login page included.
    let page = raw(addr, &request(addr, "GET", "/login", "", &[], b"")).await;
    let csp = page.header("content-security-policy").unwrap_or("");
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    // Pages need a session.
    let r = raw(addr, &request(addr, "GET", "/buckets", "", &[], b"")).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));

    // Wrong keys: no session.
    let r = login(addr, common::USER, "wrong-password").await;
    assert_eq!(r.status, 401);
    assert!(set_cookie(&r, "cairn-console").is_none());

    let root = Browser::log_in(addr, common::USER, common::PASSWORD).await;
    let token = root.csrf().await;

    // A form without the token changes nothing.
    let r = root
        .post_form("/buckets/create", &[("bucket", "forged")])
        .await;
    assert_eq!(r.status, 403);
    assert!(s3.head_bucket().bucket("forged").send().await.is_err());
    // Nor does one from another origin, even with the token.
    let r = raw(
        addr,
        &request(
            addr,
            "POST",
            "/buckets/create",
            &root.cookie,
            &[FORM, ("Origin", "https://evil.example")],
            &form(&[("csrf", &token), ("bucket", "forged")]),
        ),
    )
    .await;
    assert_eq!(r.status, 403);

    // Create a versioned bucket.
    let r = root
        .post_form(
            "/buckets/create",
            &[("csrf", &token), ("bucket", "photos"), ("versioning", "1")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let v = s3
        .get_bucket_versioning()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert_eq!(v.status().map(|s| s.as_str()), Some("Enabled"));
    assert!(root.get("/buckets").await.text().contains(">photos</a>"));

    // Upload: a single PUT and a two-part multipart upload, through the console.
    let small = common::data(70_000, 1);
    let r = root
        .script(
            "PUT",
            "/api/object?bucket=photos&key=a%2Fsmall.bin",
            &token,
            &small,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(common::get_bytes(&s3, "photos", "a/small.bin").await, small);
    let r = root
        .script(
            "PUT",
            "/api/object?bucket=photos&key=x",
            "wrong-token",
            b"abc",
        )
        .await;
    assert_eq!(r.status, 403);

    let big = common::data(6 * 1024 * 1024 + 123, 2);
    let (one, two) = big.split_at(5 * 1024 * 1024);
    let r = root
        .script(
            "POST",
            "/api/multipart/create?bucket=photos&key=big.bin",
            &token,
            b"",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let created: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let id = created["uploadId"].as_str().unwrap().to_string();
    let mut parts = Vec::new();
    for (n, chunk) in [(1, one), (2, two)] {
        let path = format!(
            "/api/multipart/part?bucket=photos&key=big.bin&uploadId={}&partNumber={n}",
            percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
        );
        let r = root.script("PUT", &path, &token, chunk).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let answer: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        parts.push(serde_json::json!({"partNumber": n, "etag": answer["etag"]}));
    }
    let path = format!(
        "/api/multipart/complete?bucket=photos&key=big.bin&uploadId={}",
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
    );
    let done = serde_json::json!({ "parts": parts }).to_string();
    let r = root.script("POST", &path, &token, done.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(common::get_bytes(&s3, "photos", "big.bin").await, big);

    // Cancel: the page script aborts the multipart upload; it is gone from the server.
    let r = root
        .script(
            "POST",
            "/api/multipart/create?bucket=photos&key=cancelled.bin",
            &token,
            b"",
        )
        .await;
    let created: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let id = created["uploadId"].as_str().unwrap().to_string();
    let path = format!(
        "/api/multipart/abort?bucket=photos&key=cancelled.bin&uploadId={}",
        percent_encoding::utf8_percent_encode(&id, percent_encoding::NON_ALPHANUMERIC)
    );
    assert_eq!(root.script("POST", &path, &token, b"").await.status, 200);
    let uploads = s3
        .list_multipart_uploads()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert!(
        uploads
            .uploads()
            .iter()
            .all(|u| u.upload_id() != Some(id.as_str()))
    );

    // Browse and download.
    let listing = root.get("/browse?bucket=photos").await.text();
    assert!(
        listing.contains(">big.bin</a>") && listing.contains(">a/</a>"),
        "{listing}"
    );
    let r = root.get("/download?bucket=photos&key=big.bin").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, big);
    assert!(
        r.header("content-disposition")
            .unwrap_or("")
            .starts_with("attachment;")
    );
    assert!(
        root.get("/object?bucket=photos&key=big.bin")
            .await
            .text()
            .contains("Versions")
    );

    // Bucket settings: versioning shown, anonymous download set through a preset.
    let settings = root.get("/bucket?bucket=photos").await;
    assert_eq!(settings.status, 200, "{}", settings.text());
    assert!(settings.text().contains("id=\"versioning\">Enabled"));
    let r = root
        .post_form(
            "/bucket/policy",
            &[
                ("csrf", &token),
                ("bucket", "photos"),
                ("access", "download"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    let policy = s3
        .get_bucket_policy()
        .bucket("photos")
        .send()
        .await
        .unwrap();
    assert!(policy.policy().unwrap_or("").contains("s3:GetObject"));
    assert!(
        root.get("/bucket?bucket=photos")
            .await
            .text()
            .contains("<option value=\"download\" selected>")
    );
    let r = root
        .post_form(
            "/bucket/policy",
            &[
                ("csrf", &token),
                ("bucket", "photos"),
                ("access", "private"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert!(
        s3.get_bucket_policy()
            .bucket("photos")
            .send()
            .await
            .is_err()
    );

    // A share link: presigned with the session's credentials, it downloads the object
    // from the S3 port.
    let r = root
        .post_form(
            "/object/share",
            &[
                ("csrf", &token),
                ("bucket", "photos"),
                ("key", "a/small.bin"),
                ("expires", "900"),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    let start = page.find("http://").expect("a link");
    let url = &page[start..start + page[start..].find('<').unwrap()];
    let url = url.replace("&amp;", "&");
    assert!(
        url.contains("X-Amz-Security-Token=") && url.contains("X-Amz-Expires=900"),
        "{url}"
    );
    let path = &url[url.find("/photos/").unwrap()..];
    let s3_addr = server.addr;
    let got = raw(
        s3_addr,
        format!("GET {path} HTTP/1.1\r\nHost: {s3_addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(got.status, 200, "{}", got.text());
    assert_eq!(got.body, small);

    // A user whose policy allows one bucket: the console lets it do no more.
    s3.create_bucket().bucket("secret").send().await.unwrap();
    let iam = running.iam.clone();
    common::iam::put_policy(
        &iam,
        "photos-only",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],
            "Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}"#,
    )
    .await;
    common::iam::add_user(&iam, "alice", "alice-secret-1", &["photos-only"]).await;
    let alice = Browser::log_in(addr, "alice", "alice-secret-1").await;
    let alice_token = alice.csrf().await;
    assert_eq!(alice.get("/browse?bucket=photos").await.status, 200);
    let denied = alice.get("/browse?bucket=secret").await;
    assert_eq!(denied.status, 403, "{}", denied.text());
    let r = alice
        .post_form(
            "/buckets/delete",
            &[("csrf", &alice_token), ("bucket", "secret")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert!(s3.head_bucket().bucket("secret").send().await.is_ok());
    assert_eq!(alice.get("/health").await.status, 403);
    // Root sees the health page.
    let health = root.get("/health").await.text();
    assert!(
        health.contains("id=\"traffic\"") && health.contains(">assumerole</th>"),
        "{health}"
    );
    assert!(
        health.contains("id=\"drives\"") && health.contains("state-online"),
        "{health}"
    );

    // Logout ends the session, even for a kept copy of the cookie.
    let r = root.post_form("/logout", &[("csrf", &token)]).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    assert!(
        set_cookie(&r, "cairn-console")
            .unwrap()
            .contains("Max-Age=0")
    );
    let r = root.get("/buckets").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_are_rate_limited() {
    let server = TestServer::start(4).await;
    let addr = server
        .running
        .as_ref()
        .unwrap()
        .console_address
        .expect("console listening");
    for _ in 0..5 {
        assert_eq!(
            login(addr, common::USER, "not-the-password").await.status,
            401
        );
    }
    // Locked now, even with the right password.
    let r = login(addr, common::USER, common::PASSWORD).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(set_cookie(&r, "cairn-console").is_none());
}
