//! The identity calls of MinIO's admin API v3 (`/minio/admin/v3/...`) that provisioning
//! makes, over [`HttpTenant`]: add a canned policy, add (or update) a user, attach a policy
//! to a user, and remove a user or a policy (404, already gone, is no error: removal is
//! idempotent). Paths, methods and bodies come from [`cairn_madmin`]; requests are signed
//! with SigV4 by the root user, and the add-user body is madmin-encrypted with the root
//! secret key, as `mc admin user add` does. Secrets never appear in errors or logs: an
//! error names the call and the access key, and carries the server's answer.

use cairn_madmin::crypt;
use cairn_madmin::paths::{self, Call};
use cairn_madmin::types::{AddOrUpdateUserReq, Status};
use http::{Method, StatusCode};

use super::{HttpTenant, TenantError, snippet};

/// The HTTP method of a madmin call.
fn method(call: Call) -> Method {
    match call.method() {
        paths::Method::Get => Method::GET,
        paths::Method::Put => Method::PUT,
        paths::Method::Post => Method::POST,
        paths::Method::Delete => Method::DELETE,
    }
}

/// The body of `add-user`: `{"secretKey": ..., "status": "enabled"}`, encrypted with the
/// secret key that signs the request (the root user's).
pub fn add_user_body(signing_secret: &str, secret_key: &str) -> Result<Vec<u8>, TenantError> {
    let request = AddOrUpdateUserReq {
        secret_key: secret_key.to_string(),
        policy: String::new(),
        status: Status::Enabled,
    };
    let plain = serde_json::to_vec(&request).map_err(|e| TenantError::Decode {
        what: "add-user request".to_string(),
        message: e.to_string(),
    })?;
    crypt::encrypt(signing_secret, &plain).map_err(|e| TenantError::Decode {
        what: "add-user request".to_string(),
        message: format!("cannot encrypt the body: {e}"),
    })
}

impl HttpTenant {
    /// Sends one signed admin call and checks its success status. `what` names it in
    /// errors (never with a secret).
    async fn admin_call(
        &self,
        call: Call,
        query: &[(&str, &str)],
        body: Vec<u8>,
        what: String,
    ) -> Result<(), TenantError> {
        let (status, answer) = self
            .send(method(call), &call.path(), query, body, true)
            .await?;
        let expected = StatusCode::from_u16(call.spec().success_status).unwrap_or(StatusCode::OK);
        if status == expected || status == StatusCode::OK {
            return Ok(());
        }
        Err(TenantError::Status {
            what,
            status: status.as_u16(),
            body: snippet(&answer),
        })
    }

    /// A removal: `Ok(true)` when removed, `Ok(false)` when the server answered 404 (MinIO's
    /// `XMinioAdminNoSuchUser` / `XMinioAdminNoSuchPolicy`: nothing to remove).
    async fn admin_remove(
        &self,
        call: Call,
        query: &[(&str, &str)],
        what: String,
    ) -> Result<bool, TenantError> {
        match self.admin_call(call, query, Vec::new(), what).await {
            Ok(()) => Ok(true),
            Err(TenantError::Status { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `PUT add-canned-policy?name=`, the plain JSON document as body.
    pub(super) async fn put_canned_policy(
        &self,
        name: &str,
        document: &[u8],
    ) -> Result<(), TenantError> {
        self.admin_call(
            Call::AddCannedPolicy,
            &[("name", name)],
            document.to_vec(),
            format!("PUT {} (policy {name})", Call::AddCannedPolicy.path()),
        )
        .await
    }

    /// `PUT add-user?accessKey=`, the encrypted [`add_user_body`] (an upsert: an existing
    /// user gets the new secret key and is enabled).
    pub(super) async fn put_user(
        &self,
        access_key: &str,
        secret_key: &str,
    ) -> Result<(), TenantError> {
        let body = add_user_body(&self.endpoint.credentials.secret_key, secret_key)?;
        self.admin_call(
            Call::AddUser,
            &[("accessKey", access_key)],
            body,
            format!("PUT {} (user {access_key})", Call::AddUser.path()),
        )
        .await
    }

    /// `PUT set-user-or-group-policy?policyName=&userOrGroup=&isGroup=false`: the user's
    /// policies become exactly `policy` (comma-separated names).
    pub(super) async fn put_user_policy(
        &self,
        access_key: &str,
        policy: &str,
    ) -> Result<(), TenantError> {
        self.admin_call(
            Call::SetUserOrGroupPolicy,
            &[
                ("policyName", policy),
                ("userOrGroup", access_key),
                ("isGroup", "false"),
            ],
            Vec::new(),
            format!(
                "PUT {} (policy {policy} for user {access_key})",
                Call::SetUserOrGroupPolicy.path()
            ),
        )
        .await
    }

    /// `DELETE remove-user?accessKey=`.
    pub(super) async fn delete_user(&self, access_key: &str) -> Result<bool, TenantError> {
        self.admin_remove(
            Call::RemoveUser,
            &[("accessKey", access_key)],
            format!("DELETE {} (user {access_key})", Call::RemoveUser.path()),
        )
        .await
    }

    /// `DELETE remove-canned-policy?name=`.
    pub(super) async fn delete_canned_policy(&self, name: &str) -> Result<bool, TenantError> {
        self.admin_remove(
            Call::RemoveCannedPolicy,
            &[("name", name)],
            format!("DELETE {} (policy {name})", Call::RemoveCannedPolicy.path()),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::tenant::{Credentials, TenantApi, TenantEndpoint};

    const ROOT: &str = "root-secret-key-for-tests";

    /// One request as a tiny HTTP/1.1 server received it.
    #[derive(Debug)]
    struct Seen {
        method: String,
        target: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Seen {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
    }

    /// Serves one connection: reads requests, answers each with `status`, and returns what
    /// it saw (an in-test stand-in for the server's admin API).
    async fn serve(status: u16, answers: usize) -> (String, tokio::task::JoinHandle<Vec<Seen>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut seen = Vec::new();
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            while seen.len() < answers {
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i;
                    }
                    let mut chunk = [0u8; 4096];
                    let n = conn.read(&mut chunk).await.unwrap();
                    assert!(n > 0, "connection closed early");
                    buf.extend_from_slice(&chunk[..n]);
                };
                let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap().split(' ');
                let method = first.next().unwrap().to_string();
                let target = first.next().unwrap().to_string();
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(": "))
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().unwrap());
                while buf.len() < head_end + 4 + len {
                    let mut chunk = [0u8; 4096];
                    let n = conn.read(&mut chunk).await.unwrap();
                    buf.extend_from_slice(&chunk[..n]);
                }
                let body = buf[head_end + 4..head_end + 4 + len].to_vec();
                buf.drain(..head_end + 4 + len);
                seen.push(Seen {
                    method,
                    target,
                    headers,
                    body,
                });
                let answer = if status == 200 {
                    "HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n".to_string()
                } else {
                    let body = r#"{"Code":"XMinioAdminNoSuchPolicy","Message":"no such policy"}"#;
                    format!(
                        "HTTP/1.1 {status} Error\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    )
                };
                conn.write_all(answer.as_bytes()).await.unwrap();
            }
            seen
        });
        (url, task)
    }

    fn tenant(url: &str) -> HttpTenant {
        HttpTenant::new(TenantEndpoint {
            base_url: url.to_string(),
            ca_pem: None,
            credentials: Credentials {
                access_key: "root".into(),
                secret_key: ROOT.into(),
            },
            region: "us-east-1".into(),
        })
        .unwrap()
    }

    #[tokio::test]
    async fn admin_calls_are_signed_with_madmin_paths_and_an_encrypted_user_body() {
        let (url, server) = serve(200, 3).await;
        let api = tenant(&url);
        let document = br#"{"Version":"2012-10-17","Statement":[]}"#;
        api.add_canned_policy("media-rw", document).await.unwrap();
        api.add_user("synapse", "s3cr3t/key+x").await.unwrap();
        api.set_user_policy("synapse", "media-rw").await.unwrap();
        let seen = server.await.unwrap();

        assert_eq!(seen[0].method, "PUT");
        assert_eq!(
            seen[0].target,
            "/minio/admin/v3/add-canned-policy?name=media-rw"
        );
        assert_eq!(seen[0].body, document);

        assert_eq!(seen[1].method, "PUT");
        assert_eq!(seen[1].target, "/minio/admin/v3/add-user?accessKey=synapse");
        assert!(crypt::is_encrypted(&seen[1].body));
        assert!(
            !String::from_utf8_lossy(&seen[1].body).contains("s3cr3t"),
            "the secret key went in clear"
        );
        let plain = crypt::decrypt(ROOT, &seen[1].body).unwrap();
        let json: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"secretKey": "s3cr3t/key+x", "status": "enabled"})
        );
        assert!(crypt::decrypt("another-secret", &seen[1].body).is_err());

        assert_eq!(seen[2].method, "PUT");
        assert_eq!(
            seen[2].target,
            "/minio/admin/v3/set-user-or-group-policy?policyName=media-rw&userOrGroup=synapse&isGroup=false"
        );
        assert!(seen[2].body.is_empty());

        for s in &seen {
            let auth = s.header("authorization").unwrap();
            assert!(
                auth.starts_with("AWS4-HMAC-SHA256 Credential=root/"),
                "{auth}"
            );
            assert!(auth.contains("/us-east-1/s3/aws4_request"), "{auth}");
            assert_eq!(
                s.header("x-amz-content-sha256"),
                Some(crate::tenant::sigv4::sha256_hex(&s.body).as_str())
            );
        }
    }

    #[tokio::test]
    async fn removals_are_signed_deletes_and_a_missing_one_is_no_error() {
        let (url, server) = serve(200, 2).await;
        let api = tenant(&url);
        assert!(api.remove_user("synapse").await.unwrap());
        assert!(api.remove_canned_policy("media-rw").await.unwrap());
        let seen = server.await.unwrap();
        assert_eq!(seen[0].method, "DELETE");
        assert_eq!(
            seen[0].target,
            "/minio/admin/v3/remove-user?accessKey=synapse"
        );
        assert_eq!(seen[1].method, "DELETE");
        assert_eq!(
            seen[1].target,
            "/minio/admin/v3/remove-canned-policy?name=media-rw"
        );
        for s in &seen {
            assert!(s.body.is_empty());
            let auth = s.header("authorization").unwrap();
            assert!(
                auth.starts_with("AWS4-HMAC-SHA256 Credential=root/"),
                "{auth}"
            );
        }

        // 404: already gone.
        let (url, server) = serve(404, 2).await;
        let api = tenant(&url);
        assert!(!api.remove_user("synapse").await.unwrap());
        assert!(!api.remove_canned_policy("media-rw").await.unwrap());
        server.await.unwrap();

        // Any other failure is an error naming the call.
        let (url, server) = serve(403, 1).await;
        let api = tenant(&url);
        let e = api.remove_user("synapse").await.unwrap_err();
        server.await.unwrap();
        assert!(matches!(e, TenantError::Status { status: 403, .. }), "{e}");
        assert!(e.to_string().contains("remove-user (user synapse)"), "{e}");
    }

    #[tokio::test]
    async fn an_admin_error_names_the_call_and_keeps_the_answer_but_no_secret() {
        let (url, server) = serve(404, 1).await;
        let api = tenant(&url);
        let e = api.add_user("synapse", "s3cr3t").await.unwrap_err();
        server.await.unwrap();
        let text = e.to_string();
        assert!(
            matches!(e, TenantError::Status { status: 404, .. }),
            "{text}"
        );
        assert!(text.contains("add-user (user synapse)"), "{text}");
        assert!(text.contains("XMinioAdminNoSuchPolicy"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
