//! Policies that must be refused, with the exact message the user sees in
//! `MalformedPolicy`; and policies that must be accepted, with their canonical JSON.

use cairn_policy::{Effect, Policy, PolicyError, Version};

fn identity_err(json: &str) -> String {
    match Policy::parse(json.as_bytes()) {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e.to_string(),
    }
}

fn bucket_err(json: &str) -> String {
    match Policy::parse_bucket_policy(json.as_bytes(), "photos") {
        Ok(_) => panic!("accepted: {json}"),
        Err(e) => e.to_string(),
    }
}

/// A one-statement identity policy around `statement`.
fn one(statement: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#)
}

#[test]
fn document_level_errors() {
    assert!(identity_err("not json").starts_with("invalid JSON: "));
    assert!(
        identity_err(r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}"#)
            .contains("duplicate key \"Version\"")
    );
    assert_eq!(
        identity_err("[]"),
        "a policy must be a JSON object, not an array"
    );
    assert_eq!(
        identity_err(r#"{"Version":"2012-10-17","Statment":[]}"#),
        "unknown top-level element \"Statment\" (expected one of Version, Id, Statement)"
    );
    assert_eq!(
        identity_err(r#"{"Version":"2012-10-18","Statement":[]}"#),
        "invalid Version \"2012-10-18\" (expected \"2012-10-17\" or \"2008-10-17\")"
    );
    assert_eq!(
        identity_err(r#"{"Version":"2012-10-17"}"#),
        "the policy has no Statement"
    );
    assert_eq!(
        identity_err(r#"{"Version":"2012-10-17","Statement":[]}"#),
        "Statement must not be empty"
    );
    assert_eq!(
        identity_err(r#"{"Version":"2012-10-17","version":"2012-10-17","Statement":[]}"#),
        "element \"Version\" appears twice (as \"version\")"
    );
    assert_eq!(
        identity_err(r#"{"Statement":"x"}"#),
        "Statement must be an object or an array of objects, not a string"
    );
}

#[test]
fn statement_errors_name_the_statement() {
    let ok = r#"{"Sid":"A","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}"#;
    let json = format!(
        r#"{{"Version":"2012-10-17","Statement":[{ok},{{"Sid":"B","Effect":"Allow","Action":"s3:GetObject","Resource":"*","Extra":1}}]}}"#
    );
    let err = Policy::parse(json.as_bytes()).unwrap_err();
    assert_eq!(err.statement(), Some(2));
    assert_eq!(
        err.to_string(),
        "Statement 2 (Sid \"B\"): unknown statement element \"Extra\" (expected one of Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition)"
    );
    assert!(matches!(err, PolicyError::Statement { .. }));

    let cases: &[(&str, &str)] = &[
        (
            r#"{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}"#,
            "Statement 1: Effect must be \"Allow\" or \"Deny\", not \"allow\"",
        ),
        (
            r#"{"Action":"s3:GetObject","Resource":"*"}"#,
            "Statement 1: Effect is missing",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","NotAction":"s3:PutObject","Resource":"*"}"#,
            "Statement 1: Action and NotAction cannot both be given",
        ),
        (
            r#"{"Effect":"Allow","Resource":"*"}"#,
            "Statement 1: Action is missing",
        ),
        (
            r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#,
            "Statement 1: Action must not be empty",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObjekt","Resource":"*"}"#,
            "Statement 1: unknown action \"s3:GetObjekt\"",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:Frob*","Resource":"*"}"#,
            "Statement 1: action pattern \"s3:Frob*\" matches no known action",
        ),
        (
            r#"{"Effect":"Allow","Action":"iam:CreateUser","Resource":"*"}"#,
            "Statement 1: action \"iam:CreateUser\" is not supported (actions are \"*\" or start with s3:, admin:, sts: or kms:)",
        ),
        (
            r#"{"Effect":"Allow","Action":["s3:GetObject","admin:ServerInfo"],"Resource":"*"}"#,
            "Statement 1: Action mixes action types (admin:, s3:); put them in separate statements",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject"}"#,
            "Statement 1: Resource is missing (only statements whose actions are all admin:, sts: or kms: may omit it)",
        ),
        (
            r#"{"Effect":"Allow","NotAction":"admin:*"}"#,
            "Statement 1: Resource is missing (only statements whose actions are all admin:, sts: or kms: may omit it)",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","NotResource":"*"}"#,
            "Statement 1: Resource and NotResource cannot both be given",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:iam::1:user/x"}"#,
            "Statement 1: resource \"arn:aws:iam::1:user/x\" is not an S3 ARN (expected \"*\" or arn:aws:s3:::bucket[/key])",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username"}"#,
            "Statement 1: resource \"arn:aws:s3:::b/${aws:username\": unterminated policy variable in \"${aws:username\"",
        ),
        (
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#,
            "Statement 1: Principal is not allowed in an identity policy (only in bucket policies)",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEqualz":{"s3:prefix":"a"}}}"#,
            "Statement 1: unknown condition operator \"StringEqualz\"",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:SourceIP4":"a"}}}"#,
            "Statement 1: unknown condition key \"aws:SourceIP4\" in condition operator \"StringEquals\"",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"prefix":"a"}}}"#,
            "Statement 1: condition key \"prefix\" has no service prefix (expected e.g. \"aws:SourceIp\" or \"s3:prefix\") in condition operator \"StringEquals\"",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"s3:ExistingObjectTag":"a"}}}"#,
            "Statement 1: condition key \"s3:ExistingObjectTag\" needs a tag key: s3:ExistingObjectTag/<tag-key> in condition operator \"StringEquals\"",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"lots"}}}"#,
            "Statement 1: condition \"NumericLessThan\" key \"s3:max-keys\": \"lots\" is not a number",
        ),
        (
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":"x"}"#,
            "Statement 1: Condition must be an object, not a string",
        ),
    ];
    for (statement, want) in cases {
        assert_eq!(identity_err(&one(statement)), *want, "for {statement}");
    }
}

#[test]
fn duplicate_sids_and_keys() {
    let json = one(
        r#"{"Sid":"X","Effect":"Allow","Action":"s3:GetObject","Resource":"*"},{"Sid":"X","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#,
    );
    assert_eq!(
        identity_err(&json),
        "Statement 2 (Sid \"X\"): Sid \"X\" is already used by statement 1"
    );
    let json = one(r#"{"Effect":"Allow","Effect":"Deny","Action":"s3:GetObject","Resource":"*"}"#);
    assert!(identity_err(&json).contains("duplicate key \"Effect\""));
    let json =
        one(r#"{"Effect":"Allow","Action":"s3:GetObject","action":"s3:PutObject","Resource":"*"}"#);
    assert_eq!(
        identity_err(&json),
        "Statement 1: element \"Action\" appears twice (as \"action\")"
    );
}

#[test]
fn bucket_policy_errors() {
    let st = |s: &str| format!(r#"{{"Version":"2012-10-17","Statement":[{s}]}}"#);
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#
        )),
        "Statement 1: Principal is missing (a bucket policy statement needs Principal or NotPrincipal)"
    );
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}"#
        )),
        "Statement 1: Policy has invalid resource \"arn:aws:s3:::other/*\": a policy of bucket \"photos\" may only name arn:aws:s3:::photos or arn:aws:s3:::photos/..."
    );
    assert!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}"#
        ))
        .contains("Policy has invalid resource \"*\"")
    );
    assert!(bucket_err(&st(r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos2/*"}"#))
        .contains("Policy has invalid resource"));
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"admin:ServerInfo","Resource":"arn:aws:s3:::photos"}"#
        )),
        "Statement 1: action \"admin:ServerInfo\" is not allowed in a bucket policy (only s3: actions)"
    );
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos"}"#
        )),
        "Statement 1: action \"s3:GetObject\" does not apply to any resource in the statement: it needs an object resource (arn:aws:s3:::bucket/...)"
    );
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos/*"}"#
        )),
        "Statement 1: action \"s3:ListBucket\" does not apply to any resource in the statement: it needs the bucket resource (arn:aws:s3:::bucket)"
    );
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#
        )),
        "Statement 1: Principal type \"Service\" is not supported (only \"AWS\")"
    );
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"alice","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#
        )),
        "Statement 1: Principal \"alice\" is not allowed: use \"*\" or {\"AWS\": [...]}"
    );
    assert_eq!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}"#
        )),
        "Statement 1: Principal and NotPrincipal cannot both be given"
    );
    assert!(
        bucket_err(&st(
            r#"{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}"#
        ))
        .contains("Resource is missing")
    );
}

#[test]
fn accepted_shapes() {
    // Single statement object, single strings, missing Version, Id.
    let p = Policy::parse(
        br#"{"Id":"x","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"arn:aws:s3:::b"}}"#,
    )
    .unwrap();
    assert_eq!(p.version(), Version::Unspecified);
    assert_eq!(p.id(), Some("x"));
    assert_eq!(p.statements().len(), 1);
    assert_eq!(p.statements()[0].effect(), Effect::Deny);
    // Admin-only statements may omit Resource.
    assert!(
        Policy::parse(
            one(r#"{"Effect":"Allow","Action":["admin:ServerInfo","admin:ListUsers"]}"#).as_bytes()
        )
        .is_ok()
    );
    assert!(
        Policy::parse(one(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#).as_bytes()).is_ok()
    );
    // Element names in any case, as MinIO accepts.
    assert!(Policy::parse(br#"{"version":"2012-10-17","statement":[{"effect":"Allow","action":"s3:GetObject","resource":"*"}]}"#).is_ok());
    // 2008-10-17 and every principal form in bucket policies.
    let p = Policy::parse_bucket_policy(
        br#"{"Version":"2008-10-17","Statement":[
          {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"},
          {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::photos"},
          {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123:user/x","AKIAEXAMPLE"]},"Action":"s3:*","Resource":["arn:aws:s3:::photos","arn:aws:s3:::photos/*"]}]}"#,
        "photos",
    )
    .unwrap();
    assert_eq!(p.version(), Version::V2008_10_17);
    assert_eq!(
        p.statements()[2].principal().unwrap(),
        ["arn:aws:iam::123:user/x", "AKIAEXAMPLE"]
    );
}

#[test]
fn raw_bytes_kept_and_canonical_json_round_trips() {
    let text = br#"{ "Version": "2012-10-17",
      "Statement": [ { "Sid": "S1", "Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/*",
        "Condition": { "IpAddress": { "aws:SourceIp": "10.0.0.0/8" },
                       "StringLike": { "s3:ExistingObjectTag/k": ["a*", "b"] },
                       "Bool": { "aws:SecureTransport": true } } } ] }"#;
    let p = Policy::parse_bucket_policy(text, "photos").unwrap();
    assert_eq!(p.raw(), text);
    let canonical = p.to_json();
    assert_eq!(
        canonical,
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"S1","Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::photos/*"],"Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]},"StringLike":{"s3:ExistingObjectTag/k":["a*","b"]},"Bool":{"aws:SecureTransport":["true"]}}}]}"#
    );
    let again = Policy::parse_bucket_policy(canonical.as_bytes(), "photos").unwrap();
    assert_eq!(again.to_json(), canonical);
    assert_eq!(again.statements(), p.statements());
    // Every canned policy round-trips too.
    for name in cairn_policy::CANNED {
        let p = cairn_policy::canned(name).unwrap();
        let again = Policy::parse(p.to_json().as_bytes()).unwrap();
        assert_eq!(again.statements(), p.statements(), "{name}");
    }
}
