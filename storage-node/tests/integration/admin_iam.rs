//! MinIO's admin API v3 identity calls through `AdminClient` (the real wire format,
//! encrypted bodies keyed by the caller's secret): users, groups, policies and service
//! accounts, checked by what the identities may then do over S3 (aws-sdk-s3), and
//! admin authorization through IAM (a user without admin rights is refused admin calls
//! but manages its own service accounts and reads its own accountinfo), list-users by
//! bucket and the implied policies of service accounts.

use crate::common;

use aws_sdk_s3::config::{BehaviorVersion, Credentials as S3Creds, Region};
use cairn::admin::client::{AdminClient, ClientError, TlsTrust, V3Body};
use cairn::s3::auth::sigv4::Credentials;
use cairn_madmin::paths::Call;
use cairn_madmin::types::*;
use common::{PASSWORD, TestServer, USER, code};
use http::Method;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn admin(srv: &TestServer, user: &str, secret: &str) -> AdminClient {
    AdminClient::new(
        &srv.endpoint,
        Credentials {
            access_key: user.into(),
            secret_key: secret.into(),
        },
        "us-east-1",
        &TlsTrust::System,
    )
    .expect("client")
}

fn s3(srv: &TestServer, user: &str, secret: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(&srv.endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(S3Creds::new(user, secret, None, None, "test"))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

fn enc<S: serde::Serialize>(v: &S) -> V3Body {
    V3Body::Encrypted(serde_json::to_vec(v).expect("json"))
}

/// The status and code of an error answer.
fn api(e: ClientError) -> (u16, String, String) {
    match e {
        ClientError::Api {
            status,
            code,
            message,
            ..
        } => (status, code, message),
        other => panic!("expected an error answer, got {other:?}"),
    }
}

async fn add_user(c: &AdminClient, ak: &str, sk: &str) {
    c.v3(
        Call::AddUser,
        &[("accessKey", ak)],
        enc(&AddOrUpdateUserReq {
            secret_key: sk.into(),
            policy: String::new(),
            status: Status::Enabled,
        }),
        T,
    )
    .await
    .expect("add-user");
}

async fn attach(c: &AdminClient, user: &str, group: &str, policies: &[&str], on: bool) {
    let resp: PolicyAssociationResp = c
        .v3_json(
            if on {
                Call::AttachPolicy
            } else {
                Call::DetachPolicy
            },
            &[],
            enc(&PolicyAssociationReq {
                policies: policies.iter().map(|s| s.to_string()).collect(),
                user: user.into(),
                group: group.into(),
                config_name: String::new(),
            }),
            T,
        )
        .await
        .expect("attach/detach");
    let changed = if on {
        resp.policies_attached
    } else {
        resp.policies_detached
    };
    assert_eq!(
        changed,
        policies.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    );
}

async fn list_buckets_code(c: &aws_sdk_s3::Client) -> Option<String> {
    match c.list_buckets().send().await {
        Ok(_) => None,
        Err(e) => Some(code(&e)),
    }
}

async fn put(c: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), String> {
    c.put_object()
        .bucket(bucket)
        .key(key)
        .body(b"hello".to_vec().into())
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_policies_decide_s3_access() {
    let srv = TestServer::start(4).await;
    let root = admin(&srv, USER, PASSWORD);
    add_user(&root, "alice", "alice-secret-1").await;

    // user-info: in clear, never the secret.
    let raw = root
        .v3(Call::UserInfo, &[("accessKey", "alice")], V3Body::None, T)
        .await
        .expect("user-info");
    assert!(!String::from_utf8_lossy(&raw).contains("alice-secret-1"));
    let info: UserInfo = serde_json::from_slice(&raw).expect("UserInfo");
    assert_eq!(info.status, Status::Enabled);
    assert!(info.policy_name.is_empty() && info.secret_key.is_empty());
    let list: UserList = root
        .v3_json(Call::ListUsers, &[], V3Body::None, T)
        .await
        .expect("list-users");
    assert_eq!(list.keys().collect::<Vec<_>>(), vec!["alice"]);
    assert!(list["alice"].secret_key.is_empty());

    // No policy: refused. readwrite attached: allowed.
    let alice = s3(&srv, "alice", "alice-secret-1");
    assert_eq!(
        list_buckets_code(&alice).await.as_deref(),
        Some("AccessDenied")
    );
    attach(&root, "alice", "", &["readwrite"], true).await;
    alice
        .create_bucket()
        .bucket("alicebkt")
        .send()
        .await
        .expect("alice creates a bucket");
    put(&alice, "alicebkt", "k").await.expect("alice puts");
    let info: UserInfo = root
        .v3_json(Call::UserInfo, &[("accessKey", "alice")], V3Body::None, T)
        .await
        .expect("user-info");
    assert_eq!(info.policy_name, "readwrite");

    // policy-entities, by user and by policy.
    let ents: PolicyEntitiesResult = root
        .v3_json(Call::PolicyEntities, &[("user", "alice")], V3Body::None, T)
        .await
        .expect("entities");
    assert_eq!(ents.user_mappings.len(), 1);
    assert_eq!(
        ents.user_mappings[0].policies,
        vec!["readwrite".to_string()]
    );
    let ents: PolicyEntitiesResult = root
        .v3_json(
            Call::PolicyEntities,
            &[("policy", "readwrite")],
            V3Body::None,
            T,
        )
        .await
        .expect("entities");
    assert_eq!(ents.policy_mappings[0].users, vec!["alice".to_string()]);

    // Detach: refused again; set-user-or-group-policy replaces: allowed again.
    attach(&root, "alice", "", &["readwrite"], false).await;
    assert_eq!(
        list_buckets_code(&alice).await.as_deref(),
        Some("AccessDenied")
    );
    root.v3(
        Call::SetUserOrGroupPolicy,
        &[
            ("policyName", "readwrite"),
            ("userOrGroup", "alice"),
            ("isGroup", "false"),
        ],
        V3Body::None,
        T,
    )
    .await
    .expect("set policy");
    assert_eq!(list_buckets_code(&alice).await, None);

    // Named policies.
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::alicebkt/*"]}]}"#;
    root.v3(
        Call::AddCannedPolicy,
        &[("name", "getonly")],
        V3Body::Json(doc.as_bytes().to_vec()),
        T,
    )
    .await
    .expect("add policy");
    let bare: serde_json::Value = root
        .v3_json(
            Call::InfoCannedPolicy,
            &[("name", "getonly")],
            V3Body::None,
            T,
        )
        .await
        .expect("info policy");
    assert_eq!(bare["Statement"][0]["Action"][0], "s3:GetObject");
    let pi: PolicyInfo = root
        .v3_json(
            Call::InfoCannedPolicy,
            &[("name", "getonly"), ("v", "2")],
            V3Body::None,
            T,
        )
        .await
        .expect("info policy v2");
    assert_eq!(pi.policy_name, "getonly");
    assert!(pi.create_date.is_some());
    assert_eq!(pi.policy["Statement"][0]["Effect"], "Allow");
    let all: CannedPolicies = root
        .v3_json(Call::ListCannedPolicies, &[], V3Body::None, T)
        .await
        .expect("list policies");
    assert!(all.contains_key("getonly") && all.contains_key("readwrite"));
    assert!(all.contains_key("consoleAdmin"));

    let e = root
        .v3(
            Call::AddCannedPolicy,
            &[("name", "bad")],
            V3Body::Json(br#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}"#.to_vec()),
            T,
        )
        .await
        .expect_err("malformed policy");
    let (status, code_, message) = api(e);
    assert_eq!((status, code_.as_str()), (400, "XMinioMalformedPolicy"));
    assert!(!message.is_empty());

    // Missing things have MinIO's codes.
    let missing = [
        (
            Call::UserInfo,
            ("accessKey", "nobody"),
            "XMinioAdminNoSuchUser",
        ),
        (
            Call::InfoCannedPolicy,
            ("name", "nopolicy"),
            "XMinioAdminNoSuchPolicy",
        ),
        (Call::Group, ("group", "nogroup"), "XMinioAdminNoSuchGroup"),
        (
            Call::InfoServiceAccount,
            ("accessKey", "nosa"),
            "XMinioAdminServiceAccountNotFound",
        ),
    ];
    for (call, q, want) in missing {
        let (status, c, _) = api(root
            .v3(call, &[q], V3Body::None, T)
            .await
            .expect_err("missing"));
        assert_eq!((status, c.as_str()), (404, want), "{call:?}");
    }
    let (s, c, _) = api(root
        .v3(
            Call::SetUserOrGroupPolicy,
            &[
                ("policyName", "nopolicy"),
                ("userOrGroup", "alice"),
                ("isGroup", "false"),
            ],
            V3Body::None,
            T,
        )
        .await
        .expect_err("no such policy"));
    assert_eq!((s, c.as_str()), (404, "XMinioAdminNoSuchPolicy"));

    // Disabled: refused; enabled again: allowed.
    root.v3(
        Call::SetUserStatus,
        &[("accessKey", "alice"), ("status", "disabled")],
        V3Body::None,
        T,
    )
    .await
    .expect("disable");
    assert!(list_buckets_code(&alice).await.is_some());
    root.v3(
        Call::SetUserStatus,
        &[("accessKey", "alice"), ("status", "enabled")],
        V3Body::None,
        T,
    )
    .await
    .expect("enable");
    assert_eq!(list_buckets_code(&alice).await, None);

    // Removed: the key is unknown.
    root.v3(Call::RemoveUser, &[("accessKey", "alice")], V3Body::None, T)
        .await
        .expect("remove");
    assert_eq!(
        list_buckets_code(&alice).await.as_deref(),
        Some("InvalidAccessKeyId")
    );
    let (s, c, _) = api(root
        .v3(Call::RemoveUser, &[("accessKey", "alice")], V3Body::None, T)
        .await
        .expect_err("again"));
    assert_eq!((s, c.as_str()), (404, "XMinioAdminNoSuchUser"));
    root.v3(
        Call::RemoveCannedPolicy,
        &[("name", "getonly")],
        V3Body::None,
        T,
    )
    .await
    .expect("remove policy");
    let (s, c, _) = api(root
        .v3(
            Call::RemoveCannedPolicy,
            &[("name", "getonly")],
            V3Body::None,
            T,
        )
        .await
        .expect_err("again"));
    assert_eq!((s, c.as_str()), (404, "XMinioAdminNoSuchPolicy"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_policies_grant_and_group_status_counts() {
    let srv = TestServer::start(4).await;
    let root = admin(&srv, USER, PASSWORD);
    add_user(&root, "bob", "bob-secret-1").await;
    let members = |remove: bool, members: &[&str]| {
        V3Body::Json(
            serde_json::to_vec(&GroupAddRemove {
                group: "devs".into(),
                members: members.iter().map(|s| s.to_string()).collect(),
                status: Status::Unset,
                is_remove: remove,
            })
            .expect("json"),
        )
    };
    root.v3(Call::UpdateGroupMembers, &[], members(false, &["bob"]), T)
        .await
        .expect("add member");
    let (s, c, _) = api(root
        .v3(Call::UpdateGroupMembers, &[], members(false, &["ghost"]), T)
        .await
        .expect_err("unknown member"));
    assert_eq!((s, c.as_str()), (404, "XMinioAdminNoSuchUser"));
    let groups: GroupList = root
        .v3_json(Call::Groups, &[], V3Body::None, T)
        .await
        .expect("groups");
    assert_eq!(groups, vec!["devs".to_string()]);

    let bob = s3(&srv, "bob", "bob-secret-1");
    assert_eq!(
        list_buckets_code(&bob).await.as_deref(),
        Some("AccessDenied")
    );
    attach(&root, "", "devs", &["readwrite"], true).await;
    bob.create_bucket()
        .bucket("bobbkt")
        .send()
        .await
        .expect("group policy grants");
    let desc: GroupDesc = root
        .v3_json(Call::Group, &[("group", "devs")], V3Body::None, T)
        .await
        .expect("group");
    assert_eq!(
        (desc.members, desc.policy.as_str(), desc.status.as_str()),
        (vec!["bob".to_string()], "readwrite", "enabled")
    );
    let info: UserInfo = root
        .v3_json(Call::UserInfo, &[("accessKey", "bob")], V3Body::None, T)
        .await
        .expect("user-info");
    assert_eq!(info.member_of, vec!["devs".to_string()]);

    root.v3(
        Call::SetGroupStatus,
        &[("group", "devs"), ("status", "disabled")],
        V3Body::None,
        T,
    )
    .await
    .expect("disable group");
    assert_eq!(
        list_buckets_code(&bob).await.as_deref(),
        Some("AccessDenied")
    );
    root.v3(
        Call::SetGroupStatus,
        &[("group", "devs"), ("status", "enabled")],
        V3Body::None,
        T,
    )
    .await
    .expect("enable group");
    assert_eq!(list_buckets_code(&bob).await, None);

    // A group with members cannot be removed; emptied, it can.
    let (s, c, _) = api(root
        .v3(Call::UpdateGroupMembers, &[], members(true, &[]), T)
        .await
        .expect_err("not empty"));
    assert_eq!((s, c.as_str()), (409, "XMinioAdminGroupNotEmpty"));
    root.v3(Call::UpdateGroupMembers, &[], members(true, &["bob"]), T)
        .await
        .expect("remove member");
    assert_eq!(
        list_buckets_code(&bob).await.as_deref(),
        Some("AccessDenied")
    );
    root.v3(Call::UpdateGroupMembers, &[], members(true, &[]), T)
        .await
        .expect("remove group");
    let groups: GroupList = root
        .v3_json(Call::Groups, &[], V3Body::None, T)
        .await
        .expect("groups");
    assert!(groups.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_inherit_narrow_and_self_service() {
    let srv = TestServer::start(4).await;
    let root = admin(&srv, USER, PASSWORD);
    let root_s3 = srv.client();
    for b in ["bkt1", "bkt2"] {
        root_s3
            .create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("bucket");
    }
    add_user(&root, "carol", "carol-secret-1").await;
    attach(&root, "carol", "", &["readwrite"], true).await;
    let carol = admin(&srv, "carol", "carol-secret-1");

    // No admin rights: admin calls are refused...
    let (s, c, _) = api(carol
        .v3(
            Call::AddUser,
            &[("accessKey", "mallory")],
            enc(&AddOrUpdateUserReq {
                secret_key: "mallory-secret".into(),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect_err("no admin:CreateUser"));
    assert_eq!((s, c.as_str()), (403, "AccessDenied"));
    let (s, _, _) = api(carol
        .v3(Call::ListUsers, &[], V3Body::None, T)
        .await
        .expect_err("no admin:ListUsers"));
    assert_eq!(s, 403);
    let (s, _, _) = api(carol
        .v3(
            Call::ListServiceAccounts,
            &[("user", USER)],
            V3Body::None,
            T,
        )
        .await
        .expect_err("not her accounts"));
    assert_eq!(s, 403);
    let (st, _) = carol
        .call(Method::GET, "/cairn/admin/v1/info", &[], T)
        .await
        .expect("an answer");
    assert_eq!(st.as_u16(), 403, "info needs admin:ServerInfo");

    // ... but she manages her own service accounts.
    let created: AddServiceAccountResp = carol
        .v3_json(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq {
                name: "ci".into(),
                description: "the CI key".into(),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect("own service account");
    let sa_key = created.credentials.access_key.clone();
    let sa_secret = created.credentials.secret_key.clone();
    assert_eq!((sa_key.len(), sa_secret.len()), (20, 40));
    let listed: ListServiceAccountsResp = carol
        .v3_json(Call::ListServiceAccounts, &[], V3Body::None, T)
        .await
        .expect("list own");
    assert_eq!(listed.accounts.len(), 1);
    assert_eq!(listed.accounts[0].access_key, sa_key);
    assert_eq!(listed.accounts[0].name, "ci");
    assert!(listed.accounts[0].implied_policy);

    // An explicit Deny in the user's own policies refuses even self-service, as MinIO.
    let no_keys = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":["admin:CreateServiceAccount"]}]}"#;
    root.v3(
        Call::AddCannedPolicy,
        &[("name", "no-keys")],
        V3Body::Json(no_keys.as_bytes().to_vec()),
        T,
    )
    .await
    .expect("add policy");
    add_user(&root, "dave", "dave-secret-1").await;
    attach(&root, "dave", "", &["readwrite", "no-keys"], true).await;
    let dave = admin(&srv, "dave", "dave-secret-1");
    let (s, c, _) = api(dave
        .v3(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq::default()),
            T,
        )
        .await
        .expect_err("denied explicitly"));
    assert_eq!((s, c.as_str()), (403, "AccessDenied"));
    let listed: ListServiceAccountsResp = dave
        .v3_json(Call::ListServiceAccounts, &[], V3Body::None, T)
        .await
        .expect("listing is not denied");
    assert!(listed.accounts.is_empty());

    // It inherits carol's permissions...
    let sa = s3(&srv, &sa_key, &sa_secret);
    put(&sa, "bkt1", "x").await.expect("inherits b1");
    put(&sa, "bkt2", "x").await.expect("inherits b2");
    // ... and cannot create service accounts.
    let sa_admin = admin(&srv, &sa_key, &sa_secret);
    let (s, _, _) = api(sa_admin
        .v3(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq::default()),
            T,
        )
        .await
        .expect_err("service accounts cannot create service accounts"));
    assert_eq!(s, 403);

    // Narrowed by an inline policy to b1.
    let only_b1 = serde_json::json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::bkt1/*"]}]});
    carol
        .v3(
            Call::UpdateServiceAccount,
            &[("accessKey", &sa_key)],
            enc(&UpdateServiceAccountReq {
                new_policy: Some(only_b1),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect("narrow");
    put(&sa, "bkt1", "y").await.expect("b1 still allowed");
    assert_eq!(put(&sa, "bkt2", "y").await, Err("AccessDenied".to_string()));
    let info: InfoServiceAccountResp = carol
        .v3_json(
            Call::InfoServiceAccount,
            &[("accessKey", &sa_key)],
            V3Body::None,
            T,
        )
        .await
        .expect("info");
    assert_eq!(info.parent_user, "carol");
    assert_eq!(info.account_status, "on");
    assert!(!info.implied_policy);
    assert!(info.policy.contains("arn:aws:s3:::bkt1/*"));

    // Disabled, it cannot sign; deleted, it is gone.
    carol
        .v3(
            Call::UpdateServiceAccount,
            &[("accessKey", &sa_key)],
            enc(&UpdateServiceAccountReq {
                new_status: "off".into(),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect("disable");
    assert!(put(&sa, "bkt1", "z").await.is_err());
    carol
        .v3(
            Call::DeleteServiceAccount,
            &[("accessKey", &sa_key)],
            V3Body::None,
            T,
        )
        .await
        .expect("delete own");
    let (s, c, _) = api(carol
        .v3(
            Call::InfoServiceAccount,
            &[("accessKey", &sa_key)],
            V3Body::None,
            T,
        )
        .await
        .expect_err("deleted"));
    assert_eq!((s, c.as_str()), (404, "XMinioAdminServiceAccountNotFound"));

    // Root creates one for carol with chosen keys; carol sees it, another user not.
    let created: AddServiceAccountResp = root
        .v3_json(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq {
                target_user: "carol".into(),
                access_key: "carol-sa-2".into(),
                secret_key: "carol-sa-secret-2".into(),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect("root creates for carol");
    assert_eq!(created.credentials.access_key, "carol-sa-2");
    let listed: ListServiceAccountsResp = root
        .v3_json(
            Call::ListServiceAccounts,
            &[("user", "carol")],
            V3Body::None,
            T,
        )
        .await
        .expect("list carol's");
    assert_eq!(listed.accounts.len(), 1);
    add_user(&root, "dave", "dave-secret-1").await;
    let dave = admin(&srv, "dave", "dave-secret-1");
    let (s, _, _) = api(dave
        .v3(
            Call::DeleteServiceAccount,
            &[("accessKey", "carol-sa-2")],
            V3Body::None,
            T,
        )
        .await
        .expect_err("not dave's"));
    assert_eq!(s, 403);

    // consoleAdmin grants admin:*.
    attach(&root, "dave", "", &["consoleAdmin"], true).await;
    let users: UserList = dave
        .v3_json(Call::ListUsers, &[], V3Body::None, T)
        .await
        .expect("consoleAdmin lists users");
    assert!(users.contains_key("carol") && users.contains_key("dave"));
    let (st, _) = dave
        .call(Method::GET, "/cairn/admin/v1/info", &[], T)
        .await
        .expect("info");
    assert_eq!(st.as_u16(), 200);
}

async fn add_policy(c: &AdminClient, name: &str, doc: &str) {
    c.v3(
        Call::AddCannedPolicy,
        &[("name", name)],
        V3Body::Json(doc.as_bytes().to_vec()),
        T,
    )
    .await
    .expect("add policy");
}

/// accountinfo as raw JSON (to check MinIO's field names) and typed.
async fn account_info(c: &AdminClient) -> (serde_json::Value, AccountInfo) {
    let raw = c
        .v3(Call::AccountInfo, &[], V3Body::None, T)
        .await
        .expect("accountinfo");
    let v: serde_json::Value = serde_json::from_slice(&raw).expect("clear JSON");
    let typed: AccountInfo = serde_json::from_slice(&raw).expect("AccountInfo");
    (v, typed)
}

fn access_of(a: &AccountInfo) -> Vec<(String, bool, bool)> {
    a.buckets
        .iter()
        .map(|b| (b.name.clone(), b.access.read, b.access.write))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accountinfo_reports_the_callers_policy_and_buckets() {
    let srv = TestServer::start(4).await;
    let root = admin(&srv, USER, PASSWORD);
    let root_s3 = srv.client();
    for b in ["hidden", "readable", "writable"] {
        root_s3
            .create_bucket()
            .bucket(b)
            .send()
            .await
            .expect("bucket");
    }
    add_policy(
        &root,
        "acct",
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::readable"]},
            {"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::writable/*"]}]}"#,
    )
    .await;
    add_user(&root, "frank", "frank-secret-1").await;
    attach(&root, "frank", "", &["acct"], true).await;
    let frank = admin(&srv, "frank", "frank-secret-1");

    // A user without any admin right asks about itself: MinIO's names, in clear.
    let (v, a) = account_info(&frank).await;
    assert_eq!(v["AccountName"], "frank");
    assert_eq!(v["Server"]["Type"], 2, "{v}");
    assert_eq!(v["Server"]["DrivesPerSet"], serde_json::json!([4]));
    assert_eq!(v["Server"]["TotalSets"], serde_json::json!([1]));
    assert_eq!(
        access_of(&a),
        vec![
            ("readable".to_string(), true, false),
            ("writable".to_string(), false, true)
        ],
        "{v}"
    );
    let b = &v["Buckets"][0];
    for field in ["name", "size", "objects", "created", "details", "access"] {
        assert!(b.get(field).is_some(), "bucket field {field} missing: {b}");
    }
    assert!(!b["created"].as_str().expect("created").starts_with("0001-"));
    let statements = v["Policy"]["Statement"]
        .as_array()
        .expect("Policy document");
    assert_eq!(statements.len(), 2, "{v}");
    assert!(v["Policy"].to_string().contains("arn:aws:s3:::writable/*"));

    // Her service account narrowed to `readable`: the account is still frank and the
    // policy his, but only what the narrowed key may reach is listed.
    let created: AddServiceAccountResp = frank
        .v3_json(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq {
                policy: Some(serde_json::json!({"Version":"2012-10-17","Statement":[
                    {"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::readable"]}]})),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect("service account");
    let sa = admin(
        &srv,
        &created.credentials.access_key,
        &created.credentials.secret_key,
    );
    let (_, a) = account_info(&sa).await;
    assert_eq!(a.account_name, "frank");
    assert_eq!(access_of(&a), vec![("readable".to_string(), true, false)]);
    assert!(a.policy.to_string().contains("arn:aws:s3:::writable/*"));

    // Root reaches everything; its policy is consoleAdmin's.
    let (_, a) = account_info(&root).await;
    assert_eq!(a.account_name, USER);
    assert_eq!(
        access_of(&a),
        ["hidden", "readable", "writable"]
            .iter()
            .map(|b| (b.to_string(), true, true))
            .collect::<Vec<_>>()
    );
    assert!(a.policy.to_string().contains("admin:*"), "{}", a.policy);

    // A user without policies: no bucket, an empty policy, still answered.
    add_user(&root, "gina", "gina-secret-1").await;
    let (v, a) = account_info(&admin(&srv, "gina", "gina-secret-1")).await;
    assert!(a.buckets.is_empty(), "{v}");
    assert_eq!(v["Policy"]["Statement"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_by_bucket_and_implied_policies_of_service_accounts() {
    let srv = TestServer::start(4).await;
    let root = admin(&srv, USER, PASSWORD);
    for (name, bucket) in [("only-a", "bkt-a"), ("only-b", "bkt-b")] {
        add_policy(
            &root,
            name,
            &format!(
                r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::{bucket}/*"]}}]}}"#
            ),
        )
        .await;
    }
    for u in ["u-a", "u-all", "u-b", "u-grp", "u-none"] {
        add_user(&root, u, &format!("{u}-secret-1")).await;
    }
    attach(&root, "u-a", "", &["only-a", "diagnostics"], true).await;
    attach(&root, "u-all", "", &["readwrite"], true).await;
    attach(&root, "u-b", "", &["only-b"], true).await;
    root.v3(
        Call::UpdateGroupMembers,
        &[],
        V3Body::Json(
            serde_json::to_vec(&GroupAddRemove {
                group: "readers".into(),
                members: vec!["u-grp".into()],
                status: Status::Unset,
                is_remove: false,
            })
            .expect("json"),
        ),
        T,
    )
    .await
    .expect("group");
    attach(&root, "", "readers", &["only-a"], true).await;

    // bucket=bkt-a: only users with a policy reaching it, showing only those policies.
    let list: UserList = root
        .v3_json(Call::ListUsers, &[("bucket", "bkt-a")], V3Body::None, T)
        .await
        .expect("list-users?bucket");
    assert_eq!(
        list.keys().map(String::as_str).collect::<Vec<_>>(),
        ["u-a", "u-all", "u-grp"]
    );
    assert_eq!(list["u-a"].policy_name, "only-a");
    assert_eq!(list["u-all"].policy_name, "readwrite");
    assert_eq!(list["u-grp"].member_of, vec!["readers".to_string()]);
    let all: UserList = root
        .v3_json(Call::ListUsers, &[], V3Body::None, T)
        .await
        .expect("list-users");
    assert_eq!(all.len(), 5);
    assert_eq!(all["u-a"].policy_name, "only-a,diagnostics");

    // Root's service account without a policy of its own: implied, and everything.
    let created: AddServiceAccountResp = root
        .v3_json(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq::default()),
            T,
        )
        .await
        .expect("root's service account");
    let info: InfoServiceAccountResp = root
        .v3_json(
            Call::InfoServiceAccount,
            &[("accessKey", &created.credentials.access_key)],
            V3Body::None,
            T,
        )
        .await
        .expect("info");
    assert_eq!(info.parent_user, USER);
    assert!(info.implied_policy);
    let p: serde_json::Value = serde_json::from_str(&info.policy).expect("policy JSON");
    let actions: Vec<String> = p["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .flat_map(|s| s["Action"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a.as_str().map(str::to_string))
        .collect();
    for want in ["admin:*", "s3:*"] {
        assert!(actions.iter().any(|a| a == want), "{want} in {p}");
    }

    // A user's: its own and its groups' policies.
    attach(&root, "u-grp", "", &["only-b"], true).await;
    let created: AddServiceAccountResp = root
        .v3_json(
            Call::AddServiceAccount,
            &[],
            enc(&AddServiceAccountReq {
                target_user: "u-grp".into(),
                ..Default::default()
            }),
            T,
        )
        .await
        .expect("u-grp's service account");
    let info: InfoServiceAccountResp = root
        .v3_json(
            Call::InfoServiceAccount,
            &[("accessKey", &created.credentials.access_key)],
            V3Body::None,
            T,
        )
        .await
        .expect("info");
    assert!(info.implied_policy);
    assert!(
        info.policy.contains("arn:aws:s3:::bkt-a/*")
            && info.policy.contains("arn:aws:s3:::bkt-b/*"),
        "{}",
        info.policy
    );
}

/// Runs `cairn admin ARGS` against `srv` as root; returns (exit code, stdout, stderr).
async fn cli(srv: &TestServer, args: &[&str]) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.arg("admin")
        .args(args)
        .env_remove("CAIRN_ROOT_USER")
        .env_remove("CAIRN_ROOT_PASSWORD")
        .env_remove("MINIO_ROOT_USER")
        .env_remove("MINIO_ROOT_PASSWORD")
        .env("CAIRN_ENDPOINT", &srv.endpoint)
        .args(["--access-key", USER, "--secret-key", PASSWORD])
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(60), cmd.output())
        .await
        .expect("cli finishes")
        .expect("cli runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_manages_identities_with_exit_codes() {
    let srv = TestServer::start(4).await;
    let (rc, out, err) = cli(&srv, &["user", "add", "erin", "erin-secret-1"]).await;
    assert_eq!(rc, 0, "{out}{err}");
    assert!(out.contains("Added user `erin`"), "{out}");
    let (rc, out, _) = cli(&srv, &["user", "list"]).await;
    assert_eq!(rc, 0);
    assert!(out.contains("erin") && out.contains("enabled"), "{out}");

    let (rc, out, err) = cli(&srv, &["policy", "attach", "readwrite", "--user", "erin"]).await;
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("Attached readwrite to user `erin`"), "{out}");
    let (rc, out, _) = cli(&srv, &["user", "info", "erin", "--json"]).await;
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["policyName"], "readwrite");
    assert!(!out.contains("erin-secret-1"));
    // erin can now use S3.
    s3(&srv, "erin", "erin-secret-1")
        .create_bucket()
        .bucket("erinbkt")
        .send()
        .await
        .expect("erin creates a bucket");

    let (rc, out, err) = cli(&srv, &["user", "accountinfo"]).await;
    assert_eq!(rc, 0, "{err}");
    assert!(
        out.contains(&format!("Account: {USER}"))
            && out
                .lines()
                .any(|l| l.starts_with("erinbkt") && l.contains("yes")),
        "{out}"
    );
    let (rc, out, _) = cli(&srv, &["user", "accountinfo", "--json"]).await;
    assert_eq!(rc, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["Buckets"][0]["name"], "erinbkt");

    let (rc, _, err) = cli(&srv, &["user", "info", "nobody"]).await;
    assert_eq!(rc, 1);
    assert!(err.contains("XMinioAdminNoSuchUser"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(
        &bad,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe"}]}"#,
    )
    .expect("write");
    let (rc, _, err) = cli(
        &srv,
        &["policy", "create", "bad", bad.to_str().expect("path")],
    )
    .await;
    assert_eq!(rc, 1);
    assert!(err.contains("XMinioMalformedPolicy"), "{err}");
    let good = dir.path().join("good.json");
    std::fs::write(
        &good,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::erinbkt/*"]}]}"#,
    )
    .expect("write");
    let (rc, out, err) = cli(
        &srv,
        &["policy", "create", "erinread", good.to_str().expect("path")],
    )
    .await;
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("Created policy `erinread`"));
    let (rc, out, _) = cli(&srv, &["policy", "info", "erinread"]).await;
    assert_eq!(rc, 0);
    assert!(out.contains("arn:aws:s3:::erinbkt/*"), "{out}");
    let (rc, out, _) = cli(&srv, &["policy", "list"]).await;
    assert_eq!(rc, 0);
    assert!(
        out.contains("erinread") && out.contains("consoleAdmin"),
        "{out}"
    );
    let (rc, _, _) = cli(&srv, &["policy", "create", "x", "/nonexistent/policy.json"]).await;
    assert_eq!(rc, 2, "an unreadable file is a usage error");

    let (rc, out, err) = cli(&srv, &["group", "add", "devs", "erin"]).await;
    assert_eq!(rc, 0, "{err}");
    assert!(out.contains("devs"));
    let (rc, out, _) = cli(&srv, &["group", "info", "devs"]).await;
    assert_eq!(rc, 0);
    assert!(out.contains("erin") && out.contains("enabled"), "{out}");
    let (rc, out, _) = cli(&srv, &["group", "list"]).await;
    assert_eq!((rc, out.trim()), (0, "devs"));

    let (rc, out, err) = cli(
        &srv,
        &["svcacct", "add", "--user", "erin", "--name", "backup"],
    )
    .await;
    assert_eq!(rc, 0, "{err}");
    let key = out
        .lines()
        .find_map(|l| l.strip_prefix("Access Key:"))
        .map(|k| k.trim().to_string())
        .expect("access key printed");
    let (rc, out, _) = cli(&srv, &["svcacct", "list", "--user", "erin"]).await;
    assert_eq!(rc, 0);
    assert!(out.contains(&key) && out.contains("backup"), "{out}");
    let (rc, _, _) = cli(&srv, &["svcacct", "edit", &key, "--disable"]).await;
    assert_eq!(rc, 0);
    let (rc, out, _) = cli(&srv, &["svcacct", "info", &key]).await;
    assert_eq!(rc, 0);
    assert!(out.contains("off") && out.contains("erin"), "{out}");
    let (rc, _, _) = cli(&srv, &["svcacct", "remove", &key]).await;
    assert_eq!(rc, 0);
    let (rc, _, err) = cli(&srv, &["svcacct", "info", &key]).await;
    assert_eq!(rc, 1);
    assert!(err.contains("XMinioAdminServiceAccountNotFound"), "{err}");

    let (rc, _, _) = cli(&srv, &["user", "disable", "erin"]).await;
    assert_eq!(rc, 0);
    let (_, out, _) = cli(&srv, &["user", "info", "erin"]).await;
    assert!(out.contains("disabled"), "{out}");
    let (rc, _, _) = cli(&srv, &["group", "remove", "devs", "erin"]).await;
    assert_eq!(rc, 0);
    let (rc, _, _) = cli(&srv, &["user", "remove", "erin"]).await;
    assert_eq!(rc, 0);

    // Usage errors and an unreachable server.
    let (rc, _, _) = cli(&srv, &["user", "add"]).await;
    assert_eq!(rc, 2);
    let (rc, _, _) = cli(&srv, &["user", "list", "--endpoint", "http://127.0.0.1:1"]).await;
    assert_eq!(rc, 3);
    let (rc, out, _) = cli(&srv, &["svcacct", "--help"]).await;
    assert_eq!(rc, 0);
    assert!(out.contains("Create a service account"), "{out}");
}
