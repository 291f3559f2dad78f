//! Identity and access end to end, with `aws-sdk-s3` against in-process servers: a
//! matrix of identities (root, users with canned, custom and group policies, a disabled
//! user, service accounts, STS sessions with and without a session policy, bad and
//! expired tokens, anonymous) x S3 operations x expected decision; STS `AssumeRole`
//! errors; a change made through one server of a cluster enforced by another within a
//! second and after a restart; secrets never stored in clear, and root rotation.

use crate::common;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn::iam::state::Status;
use common::iam::{
    add_group, add_service_account, add_user, assume_role, client_as, put_policy, set_user_status,
    start_with_root, sts_post, xml_field,
};
use common::{PASSWORD, TestServer, USER, client_for, raw};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const B1_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::bk1","arn:aws:s3:::bk1/*"]}]}"#;
/// Narrowing policy of a service account: read bk1 only.
const READ_B1: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::bk1","arn:aws:s3:::bk1/*"]}]}"#;
/// Session policy: read and write objects of bk1, nothing else.
const OBJECTS_B1: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::bk1/*"]}]}"#;

#[derive(Debug, Clone, Copy)]
enum Op {
    ListBuckets,
    CreateBucket,
    Put,
    Get,
    Head,
    List,
    Delete,
    /// CopyObject from `seed` of the named bucket into the row's bucket.
    CopyFrom(&'static str),
    Multipart,
}

/// The columns of the matrix: operation and bucket.
const COLUMNS: &[(Op, &str)] = &[
    (Op::ListBuckets, ""),
    (Op::CreateBucket, ""),
    (Op::Put, "bk1"),
    (Op::Put, "bk2"),
    (Op::Get, "bk1"),
    (Op::Get, "bk2"),
    (Op::Head, "bk1"),
    (Op::List, "bk1"),
    (Op::List, "bk2"),
    (Op::Delete, "bk1"),
    (Op::CopyFrom("bk2"), "bk1"),
    (Op::CopyFrom("bk1"), "bk2"),
    (Op::Multipart, "bk1"),
    (Op::Multipart, "bk2"),
];

/// One row per identity, one letter per column: `A` allowed, `D` 403 AccessDenied,
/// `K` 403 InvalidAccessKeyId, `T` 400 InvalidToken, `E` 400 ExpiredToken (AWS's
/// answers for a session token that is damaged or past its expiry).
const MATRIX: &[(&str, &str)] = &[
    ("root", "AAAAAAAAAAAAAA"),
    ("readwrite", "AAAAAAAAAAAAAA"),
    ("readonly", "DDDDAAADDDDDDD"),
    ("custom-bk1", "DDADADAADADDAD"),
    ("group-member", "AAAAAAAAAAAAAA"),
    ("disabled", "KKKKKKKKKKKKKK"),
    ("sa-inherit", "AAAAAAAAAAAAAA"),
    ("sa-narrow", "DDDDADAADDDDDD"),
    ("sts", "AAAAAAAAAAAAAA"),
    ("sts-policy", "DDADADADDDDDAD"),
    ("bad-token", "TTTTTTTTTTTTTT"),
    ("expired-token", "EEEEEEEEEEEEEE"),
];

/// Status and error code of an SDK error (the code is empty for HEAD, which has no body).
fn outcome<T, E: ProvideErrorMetadata>(r: Result<T, SdkError<E>>) -> Result<(), (u16, String)> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => {
            let status = e.raw_response().map_or(0, |r| r.status().as_u16());
            let code = e.code().unwrap_or("").to_string();
            Err((status, code))
        }
    }
}

async fn run(
    c: &aws_sdk_s3::Client,
    op: Op,
    bucket: &str,
    row: usize,
) -> Result<(), (u16, String)> {
    let key = format!("k/{row}");
    match op {
        Op::ListBuckets => outcome(c.list_buckets().send().await),
        Op::CreateBucket => outcome(c.create_bucket().bucket(format!("new-{row}")).send().await),
        Op::Put => outcome(
            c.put_object()
                .bucket(bucket)
                .key(&key)
                .body(ByteStream::from_static(b"put"))
                .send()
                .await,
        ),
        Op::Get => outcome(c.get_object().bucket(bucket).key("seed").send().await),
        Op::Head => outcome(c.head_object().bucket(bucket).key("seed").send().await),
        Op::List => outcome(c.list_objects_v2().bucket(bucket).send().await),
        Op::Delete => outcome(c.delete_object().bucket(bucket).key(&key).send().await),
        Op::CopyFrom(src) => outcome(
            c.copy_object()
                .bucket(bucket)
                .key(format!("copy/{row}"))
                .copy_source(format!("{src}/seed"))
                .send()
                .await,
        ),
        Op::Multipart => {
            let key = format!("mp/{row}");
            let created = c
                .create_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .send()
                .await;
            let id = match created {
                Ok(o) => o.upload_id().unwrap_or_default().to_string(),
                Err(e) => return outcome::<(), _>(Err(e)),
            };
            let part = c
                .upload_part()
                .bucket(bucket)
                .key(&key)
                .upload_id(&id)
                .part_number(1)
                .body(ByteStream::from_static(b"part one"))
                .send()
                .await;
            let etag = match part {
                Ok(p) => p.e_tag().unwrap_or_default().to_string(),
                Err(e) => return outcome::<(), _>(Err(e)),
            };
            outcome(
                c.complete_multipart_upload()
                    .bucket(bucket)
                    .key(&key)
                    .upload_id(&id)
                    .multipart_upload(
                        CompletedMultipartUpload::builder()
                            .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                            .build(),
                    )
                    .send()
                    .await,
            )
        }
    }
}

/// Sets up every identity of [`MATRIX`] on `srv` and returns a client for each.
async fn identities(srv: &TestServer) -> Vec<(&'static str, aws_sdk_s3::Client)> {
    let iam = srv.running.as_ref().expect("running").iam.clone();
    let ep = srv.endpoint.as_str();
    put_policy(&iam, "bk1-only", B1_ONLY).await;
    add_user(&iam, "rwuser", "rwuser-secret", &["readwrite"]).await;
    add_user(&iam, "rouser", "rouser-secret", &["readonly"]).await;
    add_user(&iam, "b1user", "b1user-secret", &["bk1-only"]).await;
    add_user(&iam, "member", "member-secret", &[]).await;
    add_group(&iam, "writers", &["member"], &["readwrite"]).await;
    add_user(&iam, "offuser", "offuser-secret", &["readwrite"]).await;
    set_user_status(&iam, "offuser", Status::Disabled).await;
    add_service_account(&iam, "rwuser", "sainherit", "sainherit-secret", None).await;
    add_service_account(&iam, "rwuser", "sanarrow", "sanarrow-secret", Some(READ_B1)).await;
    let sts = assume_role(srv.addr, "rwuser", "rwuser-secret", "").await;
    let policy: String =
        percent_encoding::utf8_percent_encode(OBJECTS_B1, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let sts_narrow = assume_role(
        srv.addr,
        "rwuser",
        "rwuser-secret",
        &format!("&DurationSeconds=900&Policy={policy}"),
    )
    .await;
    // A token sealed with the deployment's key but past its expiry.
    let expired = cairn::iam::sts::Session {
        access_key: "EXPIREDSESSIONKEY".into(),
        secret: "expired-session-secret".into(),
        parent: "rwuser".into(),
        expires_ms: cairn::iam::now_ms() - 1_000,
        policy: None,
    };
    let key = cairn::iam::seal::SealKey::from_root(USER, PASSWORD);
    let expired_token = cairn::iam::sts::issue(&key, &expired);
    vec![
        ("root", client_for(ep)),
        ("readwrite", client_as(ep, "rwuser", "rwuser-secret", None)),
        ("readonly", client_as(ep, "rouser", "rouser-secret", None)),
        ("custom-bk1", client_as(ep, "b1user", "b1user-secret", None)),
        (
            "group-member",
            client_as(ep, "member", "member-secret", None),
        ),
        ("disabled", client_as(ep, "offuser", "offuser-secret", None)),
        (
            "sa-inherit",
            client_as(ep, "sainherit", "sainherit-secret", None),
        ),
        (
            "sa-narrow",
            client_as(ep, "sanarrow", "sanarrow-secret", None),
        ),
        (
            "sts",
            client_as(ep, &sts.access_key, &sts.secret, Some(&sts.token)),
        ),
        (
            "sts-policy",
            client_as(
                ep,
                &sts_narrow.access_key,
                &sts_narrow.secret,
                Some(&sts_narrow.token),
            ),
        ),
        (
            "bad-token",
            client_as(ep, &sts.access_key, &sts.secret, Some("cairn1.garbage")),
        ),
        (
            "expired-token",
            client_as(
                ep,
                &expired.access_key,
                &expired.secret,
                Some(&expired_token),
            ),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_operation_matrix() {
    let srv = TestServer::start(4).await;
    let root = srv.client();
    for b in ["bk1", "bk2"] {
        root.create_bucket().bucket(b).send().await.expect("bucket");
        root.put_object()
            .bucket(b)
            .key("seed")
            .body(ByteStream::from_static(b"seed"))
            .send()
            .await
            .expect("seed");
    }
    let clients = identities(&srv).await;
    let mut failures = Vec::new();
    let mut row = 0;
    for (name, expected) in MATRIX {
        let client = &clients.iter().find(|(n, _)| n == name).expect("identity").1;
        assert_eq!(expected.len(), COLUMNS.len(), "{name}");
        for ((op, bucket), want) in COLUMNS.iter().zip(expected.chars()) {
            row += 1;
            let got = run(client, *op, bucket, row).await;
            let ok = match (want, &got) {
                ('A', Ok(())) => true,
                ('D', Err((403, code))) => code == "AccessDenied" || matches!(op, Op::Head),
                ('K', Err((403, code))) => code == "InvalidAccessKeyId" || matches!(op, Op::Head),
                ('T', Err((400, code))) => code == "InvalidToken" || matches!(op, Op::Head),
                ('E', Err((400, code))) => code == "ExpiredToken" || matches!(op, Op::Head),
                _ => false,
            };
            if !ok {
                failures.push(format!(
                    "{name} {op:?} {bucket:?}: want {want}, got {got:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Anonymous: every request refused with AccessDenied (no bucket policy).
    for (method, target) in [
        ("GET", "/"),
        ("GET", "/bk1/seed"),
        ("PUT", "/bk1/anon"),
        ("GET", "/bk1?list-type=2"),
        ("DELETE", "/bk1/seed"),
    ] {
        let req = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            srv.addr
        );
        let r = raw(srv.addr, req.as_bytes()).await;
        assert_eq!(r.status, 403, "anonymous {method} {target}: {}", r.text());
        assert!(
            r.text().contains("<Code>AccessDenied</Code>"),
            "{}",
            r.text()
        );
    }
    // The seed objects survived every refused delete.
    assert_eq!(common::get_bytes(&root, "bk1", "seed").await, b"seed");
}

#[tokio::test]
async fn assume_role_answers_and_errors() {
    let srv = TestServer::start(1).await;
    let iam = srv.running.as_ref().expect("running").iam.clone();
    add_user(&iam, "alice", "alice-secret", &["readwrite"]).await;
    add_service_account(&iam, "alice", "alicesa", "alicesa-secret", None).await;
    let ok = "Action=AssumeRole&Version=2011-06-15";

    // Service `sts` and `s3` in the scope are both accepted; root may assume too.
    for (ak, sk, service) in [
        ("alice", "alice-secret", "sts"),
        ("alice", "alice-secret", "s3"),
        (USER, PASSWORD, "sts"),
    ] {
        let r = sts_post(srv.addr, Some((ak, sk, None)), service, ok).await;
        let text = r.text();
        assert_eq!(r.status, 200, "{ak} {service}: {text}");
        assert!(
            text.contains(
                "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
            ),
            "{text}"
        );
        for f in [
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration",
            "AssumedRoleId",
            "Arn",
            "RequestId",
        ] {
            assert!(
                xml_field(&text, f).is_some_and(|v| !v.is_empty()),
                "{f} in {text}"
            );
        }
        // Default duration: one hour.
        let exp = xml_field(&text, "Expiration").unwrap_or_default();
        let exp = chrono::DateTime::parse_from_rfc3339(&exp).expect("expiration");
        let left = exp.timestamp() - chrono::Utc::now().timestamp();
        assert!((3_500..=3_600).contains(&left), "{left}");
    }
    // Another service in the scope is refused.
    let r = sts_post(srv.addr, Some(("alice", "alice-secret", None)), "iam", ok).await;
    assert_eq!(r.status, 400, "{}", r.text());

    let creds = assume_role(srv.addr, "alice", "alice-secret", "&DurationSeconds=900").await;
    let exp = chrono::DateTime::parse_from_rfc3339(&creds.expiration).expect("expiration");
    assert!((850..=900).contains(&(exp.timestamp() - chrono::Utc::now().timestamp())));
    let c = client_as(
        &srv.endpoint,
        &creds.access_key,
        &creds.secret,
        Some(&creds.token),
    );
    c.create_bucket()
        .bucket("fromsts")
        .send()
        .await
        .expect("session works");
    // The session key without its token is unknown.
    let c = client_as(&srv.endpoint, &creds.access_key, &creds.secret, None);
    let e = outcome(c.list_buckets().send().await).unwrap_err();
    assert_eq!(e, (403, "InvalidAccessKeyId".to_string()));

    let bad_policy: String = percent_encoding::utf8_percent_encode(
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Maybe\"}]}",
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    // Longer than AWS's 2,048 characters, and valid JSON.
    let long_policy = percent_encoding::utf8_percent_encode(
        &format!(
            "{{\"Version\":\"2012-10-17\",\"Id\":\"{}\",\"Statement\":[{{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}}]}}",
            "x".repeat(2100)
        ),
        percent_encoding::NON_ALPHANUMERIC,
    )
    .to_string();
    let cases: Vec<(Option<Signer>, String, u16, &str)> = vec![
        (
            Some(("alice", "alice-secret", None)),
            format!("{ok}&DurationSeconds=899"),
            400,
            "ValidationError",
        ),
        (
            Some(("alice", "alice-secret", None)),
            format!("{ok}&DurationSeconds=43201"),
            400,
            "ValidationError",
        ),
        (
            Some(("alice", "alice-secret", None)),
            format!("{ok}&Policy={long_policy}"),
            400,
            "ValidationError",
        ),
        (
            Some(("alice", "alice-secret", None)),
            format!("{ok}&DurationSeconds=abc"),
            400,
            "InvalidParameterValue",
        ),
        (
            Some(("alice", "alice-secret", None)),
            format!("{ok}&Policy={bad_policy}"),
            400,
            "MalformedPolicyDocument",
        ),
        (
            Some(("alice", "alice-secret", None)),
            "Action=AssumeRole&Version=2010-01-01".into(),
            400,
            "InvalidParameterValue",
        ),
        (
            Some(("alice", "alice-secret", None)),
            "Action=GetCallerIdentity&Version=2011-06-15".into(),
            400,
            "InvalidAction",
        ),
        (
            Some(("alicesa", "alicesa-secret", None)),
            ok.into(),
            403,
            "AccessDenied",
        ),
        (
            Some((&creds.access_key, &creds.secret, Some(&creds.token))),
            ok.into(),
            403,
            "AccessDenied",
        ),
        (None, ok.into(), 403, "AccessDenied"),
        (
            Some(("alice", "wrong-secret", None)),
            ok.into(),
            403,
            "SignatureDoesNotMatch",
        ),
        (
            Some(("nobody", "nobody-secret", None)),
            ok.into(),
            403,
            "InvalidClientTokenId",
        ),
    ];
    for (signer, body, status, code) in cases {
        let r = sts_post(srv.addr, signer, "sts", &body).await;
        let text = r.text();
        assert_eq!(r.status, status, "{body}: {text}");
        assert!(text.contains("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type>"), "{text}");
        assert_eq!(
            xml_field(&text, "Code").as_deref(),
            Some(code),
            "{body}: {text}"
        );
    }
    // A body over 64 KiB is refused.
    let big = format!("{ok}&RoleSessionName=x&Pad={}", "a".repeat(70 * 1024));
    let r = sts_post(srv.addr, Some(("alice", "alice-secret", None)), "sts", &big).await;
    assert!(r.status >= 400, "{}", r.text());
    assert!(r.text().contains("<ErrorResponse"), "{}", r.text());
    // Disabling the parent ends its sessions.
    set_user_status(&iam, "alice", Status::Disabled).await;
    let c = client_as(
        &srv.endpoint,
        &creds.access_key,
        &creds.secret,
        Some(&creds.token),
    );
    let e = outcome(c.list_buckets().send().await).unwrap_err();
    assert_eq!(e, (403, "InvalidAccessKeyId".to_string()));
}

/// Who signs an STS request: access key, secret, session token.
type Signer<'a> = (&'a str, &'a str, Option<&'a str>);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Four servers on 127.0.0.1-4 (same port), two drives each, as tests/cluster.rs.
async fn start_cluster(root: &Path, port: u16) -> Vec<cairn::server::Running> {
    let eps: Vec<String> = (1..=4)
        .flat_map(|n| {
            (1..=2).map(move |d| {
                format!(
                    "http://127.0.0.{n}:{port}{}",
                    root.join(format!("n{n}/d{d}")).display()
                )
            })
        })
        .collect();
    let starts = (1..=4).map(|n| {
        let mut cfg = common::config(&[], &format!("127.0.0.{n}:{port}"));
        cfg.drives = eps.clone();
        async move { cairn::server::start(&cfg).await }
    });
    let started = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(starts))
        .await
        .expect("the servers agree within 60 s");
    started
        .into_iter()
        .map(|r| r.expect("server starts"))
        .collect()
}

/// Polls `check` until it holds, for at most `limit`; returns how long it took.
async fn within<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() <= limit {
        if check().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn changes_reach_every_server_within_a_second_and_survive_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let servers = start_cluster(dir.path(), port).await;
    let ep = |i: usize, s: &[cairn::server::Running]| format!("http://{}", s[i].address);
    client_for(&ep(0, &servers))
        .create_bucket()
        .bucket("shared")
        .send()
        .await
        .expect("bucket");

    add_user(&servers[0].iam, "carol", "carol-secret", &["readwrite"]).await;
    let carol3 = client_as(&ep(3, &servers), "carol", "carol-secret", None);
    let put = |c: aws_sdk_s3::Client| async move {
        c.put_object()
            .bucket("shared")
            .key("c")
            .body(ByteStream::from_static(b"c"))
            .send()
            .await
            .is_ok()
    };
    let took = within(Duration::from_secs(1), || put(carol3.clone())).await;
    assert!(
        took.is_some(),
        "a user created through server 1 signs in at server 4 within 1 s"
    );

    // Narrow carol to readonly through server 2; server 3 enforces it within 1 s.
    {
        use cairn::iam::state::{PolicyChange, PolicyTarget};
        servers[1]
            .iam
            .update(|st, now| {
                st.change_policies(
                    &PolicyTarget::User("carol".into()),
                    &["readonly".into()],
                    PolicyChange::Replace,
                    now,
                )
            })
            .await
            .expect("change policy");
    }
    let carol2 = client_as(&ep(2, &servers), "carol", "carol-secret", None);
    let took = within(Duration::from_secs(1), || {
        let c = carol2.clone();
        async move { !put(c).await }
    })
    .await;
    assert!(
        took.is_some(),
        "a policy change through server 2 is enforced by server 3 within 1 s"
    );

    // Restart every server: the state is read back from the drives.
    for s in servers {
        s.stop().await;
    }
    let servers = start_cluster(dir.path(), port).await;
    for i in 0..4 {
        let c = client_as(&ep(i, &servers), "carol", "carol-secret", None);
        assert_eq!(
            common::get_bytes(&c, "shared", "c").await,
            b"c",
            "server {i}"
        );
        assert!(!put(c).await, "server {i} still applies readonly");
    }
    for s in servers {
        s.stop().await;
    }
}

/// Every byte of the IAM state document's files on `drives`.
fn stored_state(drives: &[PathBuf]) -> Vec<u8> {
    fn walk(dir: &Path, out: &mut Vec<u8>, found: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out, found);
            } else if p.to_string_lossy().contains("iam/state.json") {
                *found += 1;
                out.extend(std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    let (mut out, mut found) = (Vec::new(), 0);
    for d in drives {
        walk(d, &mut out, &mut found);
    }
    assert!(found > 0, "no iam/state.json files under {drives:?}");
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn secrets_are_sealed_and_follow_root_rotation() {
    const ALICE_SECRET: &str = "alice-very-secret-key";
    const SA_SECRET: &str = "service-account-secret-key";
    let mut srv = TestServer::start(1).await;
    let iam = srv.running.as_ref().expect("running").iam.clone();
    add_user(&iam, "alice", ALICE_SECRET, &["readwrite"]).await;
    add_service_account(&iam, "alice", "alicesvc", SA_SECRET, None).await;
    let alice = client_as(&srv.endpoint, "alice", ALICE_SECRET, None);
    alice
        .create_bucket()
        .bucket("abk")
        .send()
        .await
        .expect("alice works");

    let stored = stored_state(&srv.drives);
    assert!(
        contains(&stored, "alicesvc"),
        "the state is readable: the test can see names"
    );
    for secret in [ALICE_SECRET, SA_SECRET] {
        assert!(!contains(&stored, secret), "{secret} stored in clear");
    }

    // New root credentials without the previous ones: only root can sign in.
    if let Some(r) = srv.running.take() {
        r.stop().await;
    }
    let addr = srv.addr.to_string();
    let (new_user, new_pass) = ("newroot", "new-root-password");
    let r = start_with_root(&srv.drives, &addr, new_user, new_pass, None).await;
    let root = client_as(&srv.endpoint, new_user, new_pass, None);
    root.list_buckets()
        .send()
        .await
        .expect("the new root works");
    for (ak, sk) in [("alice", ALICE_SECRET), ("alicesvc", SA_SECRET)] {
        let c = client_as(&srv.endpoint, ak, sk, None);
        let e = outcome(c.list_buckets().send().await).unwrap_err();
        assert_eq!(e, (403, "InvalidAccessKeyId".to_string()), "{ak}");
    }
    r.stop().await;

    // With the previous credentials given, the users work again and the state is
    // sealed again under the new root: a later start without them still works.
    let r = start_with_root(
        &srv.drives,
        &addr,
        new_user,
        new_pass,
        Some((USER, PASSWORD)),
    )
    .await;
    for (ak, sk) in [("alice", ALICE_SECRET), ("alicesvc", SA_SECRET)] {
        let c = client_as(&srv.endpoint, ak, sk, None);
        c.list_buckets()
            .send()
            .await
            .unwrap_or_else(|e| panic!("{ak}: {e:?}"));
    }
    r.stop().await;
    let r = start_with_root(&srv.drives, &addr, new_user, new_pass, None).await;
    alice_lists(&srv.endpoint, ALICE_SECRET).await;
    let stored = stored_state(&srv.drives);
    assert!(!contains(&stored, ALICE_SECRET) && !contains(&stored, SA_SECRET));
    r.stop().await;
}

async fn alice_lists(endpoint: &str, secret: &str) {
    let c = client_as(endpoint, "alice", secret, None);
    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .expect("alice works after the re-seal")
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["abk"]);
}
