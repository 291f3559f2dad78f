//! IAM test helpers: identities created directly through `Iam::update`, S3 clients
//! signing as them, STS `AssumeRole` signed by hand (service `sts`), and a server
//! started with chosen root credentials.
#![allow(dead_code)]

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use cairn::iam::Iam;
use cairn::iam::state::{ServiceAccount, Status};
use cairn::server::Running;
use std::path::PathBuf;

use super::{RawResponse, raw};

/// An S3 client signing with `ak`/`sk`, and `token` as `x-amz-security-token`.
pub fn client_as(endpoint: &str, ak: &str, sk: &str, token: Option<&str>) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            ak,
            sk,
            token.map(str::to_string),
            None,
            "test",
        ))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Creates (or replaces) policy `name`.
pub async fn put_policy(iam: &Iam, name: &str, doc: &str) {
    let (name, doc) = (name.to_string(), doc.to_string());
    iam.update(move |st, now| st.set_policy(&name, doc.as_bytes(), now))
        .await
        .expect("set policy");
}

/// Creates an enabled user with `policies`.
pub async fn add_user(iam: &Iam, ak: &str, sk: &str, policies: &[&str]) {
    let root = iam.root_user().to_string();
    let (ak, sk) = (ak.to_string(), sk.to_string());
    let policies: Vec<String> = policies.iter().map(|p| p.to_string()).collect();
    iam.update(move |st, now| st.set_user(&root, &ak, &sk, None, Some(policies), now))
        .await
        .expect("add user");
}

pub async fn set_user_status(iam: &Iam, ak: &str, status: Status) {
    let ak = ak.to_string();
    iam.update(move |st, now| st.set_user_status(&ak, status, now))
        .await
        .expect("user status");
}

/// Adds `members` to `group` (created if new) and gives the group `policies`.
pub async fn add_group(iam: &Iam, group: &str, members: &[&str], policies: &[&str]) {
    use cairn::iam::state::{PolicyChange, PolicyTarget};
    let group = group.to_string();
    let members: Vec<String> = members.iter().map(|m| m.to_string()).collect();
    let policies: Vec<String> = policies.iter().map(|p| p.to_string()).collect();
    iam.update(move |st, now| {
        st.update_group_members(&group, &members, false, None, now)?;
        st.change_policies(
            &PolicyTarget::Group(group.clone()),
            &policies,
            PolicyChange::Replace,
            now,
        )
    })
    .await
    .expect("add group");
}

/// Creates a service account of `parent`, narrowed by `policy` when given.
pub async fn add_service_account(
    iam: &Iam,
    parent: &str,
    ak: &str,
    sk: &str,
    policy: Option<&str>,
) {
    let root = iam.root_user().to_string();
    let ak = ak.to_string();
    let sa = ServiceAccount {
        parent: parent.to_string(),
        secret: sk.to_string(),
        status: Status::Enabled,
        policy: policy.map(str::to_string),
        name: None,
        description: None,
        expiration_ms: None,
        updated_ms: 0,
    };
    iam.update(move |st, _| st.add_service_account(&root, &ak, sa))
        .await
        .expect("add service account");
}

/// Temporary credentials from an `AssumeRole` answer.
#[derive(Debug, Clone)]
pub struct StsCredentials {
    pub access_key: String,
    pub secret: String,
    pub token: String,
    pub expiration: String,
}

/// The text of the first `<name>` element of `xml`.
pub fn xml_field(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].replace("&amp;", "&"))
}

/// `POST /` with the form `body`, SigV4-signed by `ak`/`sk` (and `token`) for
/// `service`; `None` for `ak` sends it unsigned.
pub async fn sts_post(
    addr: std::net::SocketAddr,
    signer: Option<(&str, &str, Option<&str>)>,
    service: &str,
    body: &str,
) -> RawResponse {
    use cairn::s3::auth::sigv4::{ClientRequest, Credentials, sign_request_headers_for};
    use sha2::Digest;
    let mut headers = http::HeaderMap::new();
    headers.insert("host", addr.to_string().parse().expect("host"));
    headers.insert(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8"
            .parse()
            .expect("ct"),
    );
    if let Some((ak, sk, token)) = signer {
        if let Some(t) = token {
            headers.insert("x-amz-security-token", t.parse().expect("token"));
        }
        let hash = hex::encode(sha2::Sha256::digest(body.as_bytes()));
        let sig = sign_request_headers_for(
            &ClientRequest {
                method: &http::Method::POST,
                raw_path: "/",
                raw_query: "",
                headers: &headers,
                payload_hash: &hash,
                time: chrono::Utc::now(),
                region: "us-east-1",
            },
            &Credentials {
                access_key: ak.into(),
                secret_key: sk.into(),
            },
            service,
        );
        sig.apply(&mut headers).expect("apply");
    }
    let mut out = "POST / HTTP/1.1\r\n".to_string();
    for (k, v) in &headers {
        out.push_str(&format!("{k}: {}\r\n", v.to_str().expect("ascii")));
    }
    out.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    raw(addr, out.as_bytes()).await
}

/// `AssumeRole` as `ak`/`sk` with service `sts`; panics unless it succeeds.
pub async fn assume_role(
    addr: std::net::SocketAddr,
    ak: &str,
    sk: &str,
    extra: &str,
) -> StsCredentials {
    let body = format!("Action=AssumeRole&Version=2011-06-15{extra}");
    let r = sts_post(addr, Some((ak, sk, None)), "sts", &body).await;
    let text = r.text();
    assert_eq!(r.status, 200, "{text}");
    let field = |n: &str| xml_field(&text, n).unwrap_or_else(|| panic!("{n} in {text}"));
    StsCredentials {
        access_key: field("AccessKeyId"),
        secret: field("SecretAccessKey"),
        token: field("SessionToken"),
        expiration: field("Expiration"),
    }
}

/// Starts a server on `drives` with the given root credentials (and previous ones).
pub async fn start_with_root(
    drives: &[PathBuf],
    address: &str,
    user: &str,
    password: &str,
    previous: Option<(&str, &str)>,
) -> Running {
    let mut cfg = super::config(drives, address);
    cfg.root_user = user.to_string();
    cfg.root_password = password.to_string();
    cfg.root_previous = previous.map(|(u, p)| (u.to_string(), p.to_string()));
    let mut last = None;
    for _ in 0..50 {
        match cairn::server::start(&cfg).await {
            Ok(r) => return r,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("start failed: {last:?}");
}
