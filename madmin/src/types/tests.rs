//! Round trips of the JSON bodies as madmin-go writes them (struct field order, its
//! omitempty rules) and as minio-py 7.2.20 sends them (its own key order, `null`s, extra
//! keys), so both clients and our server agree on every name.

use super::*;
use serde::de::DeserializeOwned;
use serde_json::json;

/// Parses `text`, writes it back and checks the same JSON comes out: same names, nothing
/// added, nothing left out.
fn round_trip<T: DeserializeOwned + Serialize>(text: &str) -> T {
    let parsed: T = serde_json::from_str(text).unwrap();
    let back = serde_json::to_value(&parsed).unwrap();
    let original: Value = serde_json::from_str(text).unwrap();
    assert_eq!(back, original, "round trip of {text}");
    parsed
}

#[test]
fn add_user_request() {
    // madmin-go SetUser / AddUser.
    let r: AddOrUpdateUserReq =
        round_trip(r#"{"secretKey":"s3cr3t-Key/9","policy":"readwrite,diag","status":"enabled"}"#);
    assert_eq!(r.secret_key, "s3cr3t-Key/9");
    assert_eq!(r.policy, "readwrite,diag");
    assert_eq!(r.status, Status::Enabled);
    // madmin-go ChangeMyPassword: status has no omitempty, so "" goes out.
    let r: AddOrUpdateUserReq = round_trip(r#"{"secretKey":"new-secret","status":""}"#);
    assert_eq!(r.status, Status::Unset);
    // minio-py user_add.
    let r: AddOrUpdateUserReq =
        serde_json::from_str(r#"{"status": "disabled", "secretKey": "abc12345"}"#).unwrap();
    assert_eq!(
        (r.secret_key.as_str(), r.policy.as_str(), r.status),
        ("abc12345", "", Status::Disabled)
    );
    // Statuses other than MinIO's are refused, not silently mapped.
    assert!(serde_json::from_str::<AddOrUpdateUserReq>(r#"{"status":"on"}"#).is_err());
}

#[test]
fn user_info_and_list() {
    let u: UserInfo = round_trip(
        r#"{"userAuthInfo":{"type":"builtin"},"policyName":"readwrite","status":"enabled",
            "memberOf":["devs"],"updatedAt":"2024-05-01T10:00:00.123456789Z"}"#,
    );
    assert_eq!(u.auth_info.unwrap().auth_type, "builtin");
    assert_eq!(u.member_of, ["devs"]);
    assert!(u.secret_key.is_empty());
    // Everything omitempty left out; updatedAt is a Go time.Time and always present.
    let u: UserInfo = round_trip(r#"{"status":"disabled","updatedAt":"0001-01-01T00:00:00Z"}"#);
    assert_eq!(u.status, Status::Disabled);
    let list: UserList = round_trip(
        r#"{"alice":{"policyName":"readonly","status":"enabled","updatedAt":"2024-05-01T10:00:00Z"},
            "bob":{"status":"disabled","memberOf":["ops","devs"],"updatedAt":"2024-05-02T10:00:00Z"}}"#,
    );
    assert_eq!(list.len(), 2);
    assert_eq!(list["bob"].member_of, ["ops", "devs"]);
}

#[test]
fn group_bodies() {
    let g: GroupAddRemove = round_trip(
        r#"{"group":"devs","members":["alice","bob"],"groupStatus":"enabled","isRemove":false}"#,
    );
    assert_eq!(g.members, ["alice", "bob"]);
    assert_eq!(g.status, Status::Enabled);
    // madmin-go with a nil Members slice writes null.
    let g: GroupAddRemove =
        serde_json::from_str(r#"{"group":"devs","members":null,"groupStatus":"","isRemove":true}"#)
            .unwrap();
    assert!(g.is_remove && g.members.is_empty() && g.status == Status::Unset);
    // minio-py group_add and group_remove (no groupStatus; no members when removing).
    let g: GroupAddRemove =
        serde_json::from_str(r#"{"group": "devs", "members": ["alice"], "isRemove": false}"#)
            .unwrap();
    assert_eq!((g.group.as_str(), g.status), ("devs", Status::Unset));
    let g: GroupAddRemove = serde_json::from_str(r#"{"group": "devs", "isRemove": true}"#).unwrap();
    assert!(g.is_remove && g.members.is_empty());

    let d: GroupDesc = round_trip(
        r#"{"name":"devs","status":"enabled","members":["alice"],"policy":"readwrite",
            "updatedAt":"2024-05-01T10:00:00Z"}"#,
    );
    assert_eq!(d.policy, "readwrite");
    let groups: GroupList = round_trip(r#"["devs","ops"]"#);
    assert_eq!(groups, ["devs", "ops"]);
}

#[test]
fn policy_association() {
    // madmin-go AttachPolicy and minio-py attach_policy send the same keys.
    let r: PolicyAssociationReq = round_trip(r#"{"policies":["readwrite","diag"],"user":"alice"}"#);
    assert_eq!(r.validate(), Ok(()));
    let r: PolicyAssociationReq = round_trip(r#"{"policies":["readonly"],"group":"devs"}"#);
    assert_eq!(r.validate(), Ok(()));
    let bad = |j: Value| {
        serde_json::from_value::<PolicyAssociationReq>(j)
            .unwrap()
            .validate()
    };
    assert!(bad(json!({"policies": [], "user": "a"})).is_err());
    assert!(bad(json!({"policies": [""], "user": "a"})).is_err());
    assert!(bad(json!({"policies": ["p"]})).is_err());
    assert!(bad(json!({"policies": ["p"], "user": "a", "group": "g"})).is_err());

    let r: PolicyAssociationResp =
        round_trip(r#"{"policiesAttached":["readwrite"],"updatedAt":"2024-05-01T10:00:00.5Z"}"#);
    assert_eq!(r.policies_attached, ["readwrite"]);
    assert!(r.policies_detached.is_empty());

    let e: PolicyEntitiesResult = round_trip(
        r#"{"timestamp":"2024-05-01T10:00:00Z",
            "userMappings":[{"user":"alice","policies":["readwrite"],
                             "memberOfMappings":[{"group":"devs","policies":["diag"]}]}],
            "policyMappings":[{"policy":"readwrite","users":["alice"],"groups":[]}]}"#,
    );
    assert_eq!(e.user_mappings[0].member_of_mappings[0].group, "devs");
    assert!(e.group_mappings.is_empty());
}

#[test]
fn policy_info_v2_and_list() {
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::*"]}]}"#;
    let p: PolicyInfo = round_trip(&format!(
        r#"{{"PolicyName":"readonly","Policy":{doc},"CreateDate":"2024-05-01T10:00:00Z","UpdateDate":"2024-05-02T10:00:00Z"}}"#
    ));
    assert_eq!(p.policy["Version"], "2012-10-17");
    // madmin-go's MarshalJSON drops both dates when they are zero.
    let p: PolicyInfo = round_trip(&format!(r#"{{"PolicyName":"readonly","Policy":{doc}}}"#));
    assert!(p.create_date.is_none() && p.update_date.is_none());
    let all: CannedPolicies = round_trip(&format!(r#"{{"readonly":{doc},"x":{doc}}}"#));
    assert_eq!(all.len(), 2);
}

#[test]
fn add_service_account() {
    // madmin-go AddServiceAccount: policy is embedded JSON, not a string.
    let r: AddServiceAccountReq = round_trip(
        r#"{"policy":{"Version":"2012-10-17","Statement":[]},"targetUser":"alice",
            "accessKey":"svcacct1","secretKey":"svc-secret-123","name":"backup",
            "description":"CloudNativePG","expiration":"2030-01-01T00:00:00Z"}"#,
    );
    assert_eq!(r.policy.unwrap()["Version"], "2012-10-17");
    assert_eq!(r.expiration.as_deref(), Some("2030-01-01T00:00:00Z"));
    // An empty request (generate everything, for the caller) is `{}`.
    let r: AddServiceAccountReq = round_trip("{}");
    assert_eq!(r, AddServiceAccountReq::default());
    // minio-py add_service_account without keys: nulls, and a "status" madmin-go lacks.
    let r: AddServiceAccountReq = serde_json::from_str(
        r#"{"status": "enabled", "accessKey": null, "secretKey": null, "targetUser": "alice",
            "policy": null}"#,
    )
    .unwrap();
    assert!(r.access_key.is_empty() && r.secret_key.is_empty() && r.policy.is_none());
    assert_eq!(r.target_user, "alice");

    let c: AddServiceAccountResp = round_trip(
        r#"{"credentials":{"accessKey":"svcacct1","secretKey":"svc-secret-123",
            "expiration":"0001-01-01T00:00:00Z"}}"#,
    );
    assert_eq!(c.credentials.access_key, "svcacct1");
    assert!(c.credentials.session_token.is_empty());
}

#[test]
fn update_info_list_service_accounts() {
    let u: UpdateServiceAccountReq = round_trip(
        r#"{"newPolicy":{"Version":"2012-10-17","Statement":[]},"newSecretKey":"rotated-123",
            "newStatus":"off","newName":"n","newDescription":"d",
            "newExpiration":"2031-01-01T00:00:00Z"}"#,
    );
    assert_eq!(u.new_status, "off");
    assert_eq!(
        round_trip::<UpdateServiceAccountReq>("{}"),
        UpdateServiceAccountReq::default()
    );

    let i: InfoServiceAccountResp = round_trip(
        r#"{"parentUser":"alice","accountStatus":"on","impliedPolicy":true,
            "policy":"{\"Version\":\"2012-10-17\",\"Statement\":[]}",
            "expiration":"1970-01-01T00:00:00Z"}"#,
    );
    assert!(i.implied_policy);
    assert_eq!(i.expiration.as_deref(), Some(NO_EXPIRY));
    assert!(i.policy.starts_with("{\"Version\""));

    let l: ListServiceAccountsResp = round_trip(
        r#"{"accounts":[{"parentUser":"alice","accountStatus":"on","impliedPolicy":false,
            "accessKey":"svcacct1","name":"backup","expiration":"2030-01-01T00:00:00Z"}]}"#,
    );
    assert_eq!(l.accounts[0].access_key, "svcacct1");
    // A Go nil slice.
    let l: ListServiceAccountsResp = serde_json::from_str(r#"{"accounts":null}"#).unwrap();
    assert!(l.accounts.is_empty());
}

#[test]
fn error_body() {
    let e: ErrorResponse = round_trip(
        r#"{"Code":"XMinioAdminNoSuchUser","Message":"The specified user does not exist.",
            "Resource":"/minio/admin/v3/user-info","RequestId":"17C2B8A5C0F4E2D1",
            "HostId":"dd9025bab4ad464b049177c95eb6ebf374d3b3fd1af9251148b658df7ac2e3e8"}"#,
    );
    assert_eq!(e.code, "XMinioAdminNoSuchUser");
    assert!(e.key.is_empty() && e.bucket_name.is_empty() && e.region.is_empty());
}

#[test]
fn status_query_forms() {
    assert_eq!(Status::Enabled.as_str(), "enabled");
    assert_eq!(Status::Disabled.as_str(), "disabled");
    assert_eq!(
        serde_json::to_string(&Status::Disabled).unwrap(),
        format!("\"{}\"", Status::Disabled.as_str())
    );
}

#[test]
fn account_info() {
    // As a MinIO server writes it (json.Marshal of madmin.AccountInfo, both parity
    // spellings), for a user with one readable bucket.
    let a: AccountInfo = round_trip(
        r#"{"AccountName":"alice",
            "Server":{"Type":2,"GatewayOnline":false,"OnlineDisks":null,"OfflineDisks":null,
              "StandardSCData":[4],"StandardSCParities":[4],"StandardSCParity":4,
              "RRSCData":[6],"RRSCParities":[2],"RRSCParity":2,
              "TotalSets":[1],"DrivesPerSet":[8]},
            "Policy":{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
              "Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::media"]}]},
            "Buckets":[{"name":"media","size":1024,"objects":3,"versions":0,"deleteMarkers":0,
              "objectHistogram":null,"objectsVersionsHistogram":null,
              "details":{"versioning":false,"versioningSuspended":false,"locking":true,
                "replication":false,"tags":null,"quota":null},
              "prefixUsage":null,"created":"2026-01-02T03:04:05Z",
              "access":{"read":true,"write":false}}]}"#,
    );
    assert_eq!(a.account_name, "alice");
    assert_eq!(a.server.backend_type, BACKEND_ERASURE);
    assert_eq!(a.server.drives_per_set, vec![8]);
    assert_eq!(a.policy["Statement"][0]["Action"][0], "s3:ListBucket");
    let b = &a.buckets[0];
    assert_eq!((b.name.as_str(), b.size, b.objects), ("media", 1024, 3));
    assert!(
        b.details
            .as_ref()
            .is_some_and(|d| d.locking && d.tags.is_none())
    );
    assert_eq!(
        b.access,
        AccountAccess {
            read: true,
            write: false
        }
    );
    // No bucket reachable: Go writes a nil slice; a newer madmin-go has no single parity.
    let a: AccountInfo = serde_json::from_str(
        r#"{"AccountName":"bob","Server":{"Type":2,"StandardSCParities":[2]},
            "Policy":null,"Buckets":null}"#,
    )
    .unwrap();
    assert!(a.buckets.is_empty() && a.policy.is_null());
    assert_eq!(a.server.standard_sc_parities, vec![2]);
    // The omitempty fields of BucketDetails are left out when empty.
    let d = serde_json::to_value(BucketDetails::default()).unwrap();
    let keys: Vec<&String> = d.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "locking",
            "quota",
            "replication",
            "tags",
            "versioning",
            "versioningSuspended"
        ]
    );
}
