//! Table-driven evaluation tests built from AWS's documented policy examples (IAM user
//! guide "Example IAM identity-based policies" for S3, the condition operator and
//! multivalued context key pages, S3 bucket policy examples). Each row: a policy, a
//! request, the expected decision. Every operator and qualifier appears with a positive
//! and a negative row, plus missing-key rows.

use cairn_policy::{Caller, Decision, Policy, Request, Values};

use Decision::{Allow, ExplicitDeny as Deny, NotApplicable as NA};

/// One row of the table.
struct Row {
    name: &'static str,
    policy: &'static str,
    /// `Some(bucket)`: parse as that bucket's policy and use `evaluate_resource`.
    bucket_policy: Option<&'static str>,
    action: &'static str,
    bucket: &'static str,
    key: Option<&'static str>,
    caller: Option<Caller<'static>>,
    ctx: Vec<(&'static str, &'static str)>,
    want: Decision,
}

fn row(
    name: &'static str,
    policy: &'static str,
    action: &'static str,
    resource: &'static str,
    ctx: &[(&'static str, &'static str)],
    want: Decision,
) -> Row {
    let (bucket, key) = match resource.split_once('/') {
        Some((b, k)) => (b, Some(k)),
        None => (resource, None),
    };
    Row {
        name,
        policy,
        bucket_policy: None,
        action,
        bucket,
        key,
        caller: None,
        ctx: ctx.to_vec(),
        want,
    }
}

impl Row {
    fn bucket_policy(mut self, bucket: &'static str) -> Row {
        self.bucket_policy = Some(bucket);
        self
    }
    fn caller(mut self, c: Caller<'static>) -> Row {
        self.caller = Some(c);
        self
    }
}

const ALICE: Caller<'static> = Caller {
    access_key: "AKIAALICE",
    user: "alice",
    is_root: false,
};
const BOB: Caller<'static> = Caller {
    access_key: "AKIABOB",
    user: "bob",
    is_root: false,
};
const ROOT: Caller<'static> = Caller {
    access_key: "rootkey",
    user: "root",
    is_root: true,
};

// IAM user guide: "Amazon S3: Allows IAM users access to their S3 home directory".
const HOME: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"ListYourObjects","Effect":"Allow","Action":"s3:ListBucket","Resource":["arn:aws:s3:::bucket-name"],
   "Condition":{"StringLike":{"s3:prefix":["","home/","home/${aws:username}/*"]}}},
  {"Sid":"RWInYourHome","Effect":"Allow","Action":["s3:*Object"],
   "Resource":["arn:aws:s3:::bucket-name/home/${aws:username}/*"]}]}"#;

// "AWS: Denies access to AWS based on the source IP".
const SOURCE_IP: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:*","Resource":"*"},
  {"Effect":"Deny","Action":"*","Resource":"*",
   "Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","203.0.113.0/24"]}}}]}"#;

const IP_ALLOW: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
   "Condition":{"IpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:DB8:1234:5678::/64"]}}}]}"#;

// S3 bucket policy example: deny requests not over HTTPS.
const TLS_ONLY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Sid":"Read","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
  {"Sid":"TLS","Effect":"Deny","Principal":{"AWS":"*"},"Action":"s3:*",
   "Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"],"Condition":{"Bool":{"aws:SecureTransport":false}}}]}"#;

// S3 example: grant PutObject only with a canned ACL of public-read.
const ACL_GRANT: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111122223333:user/alice"]},
   "Action":["s3:PutObject","s3:PutObjectAcl"],"Resource":"arn:aws:s3:::b/*",
   "Condition":{"StringEquals":{"s3:x-amz-acl":["public-read"]}}}]}"#;

// S3 example: require bucket-owner-full-control.
const ACL_REQUIRE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"},
  {"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
   "Condition":{"StringNotEquals":{"s3:x-amz-acl":"bucket-owner-full-control"}}}]}"#;

const NOT_ACTION: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","NotAction":["s3:DeleteBucket","s3:DeleteBucketPolicy"],"Resource":"*"}]}"#;

const NOT_RESOURCE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:*","Resource":"*"},
  {"Effect":"Deny","Action":"s3:*","NotResource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#;

// "AWS: Allows access within specific dates".
const DATES: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
   "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
                "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}]}"#;

const DATE_OPS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"DateEquals":{"aws:CurrentTime":"2021-01-01"}}},
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"DateNotEquals":{"aws:CurrentTime":"2021-01-01T00:00:00Z"}}},
  {"Effect":"Allow","Action":"s3:DeleteObject","Resource":"*","Condition":{"DateLessThanEquals":{"aws:EpochTime":"1600000000"}}},
  {"Effect":"Allow","Action":"s3:GetObjectTagging","Resource":"*","Condition":{"DateGreaterThanEquals":{"aws:EpochTime":"2020-09-13T12:26:40Z"}}}]}"#;

const NUMERIC: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"NumericLessThanEquals":{"s3:max-keys":10}}},
  {"Effect":"Allow","Action":"s3:ListBucketVersions","Resource":"arn:aws:s3:::b","Condition":{"NumericEquals":{"s3:max-keys":"100"}}},
  {"Effect":"Allow","Action":"s3:ListBucketMultipartUploads","Resource":"arn:aws:s3:::b","Condition":{"NumericNotEquals":{"s3:max-keys":["1","2"]}}},
  {"Effect":"Allow","Action":"s3:PutObjectRetention","Resource":"arn:aws:s3:::b/*","Condition":{"NumericLessThan":{"s3:object-lock-remaining-retention-days":"30"}}},
  {"Effect":"Allow","Action":"s3:GetObjectRetention","Resource":"arn:aws:s3:::b/*","Condition":{"NumericGreaterThan":{"s3:object-lock-remaining-retention-days":"1.5"}}},
  {"Effect":"Allow","Action":"s3:GetObjectLegalHold","Resource":"arn:aws:s3:::b/*","Condition":{"NumericGreaterThanEquals":{"s3:object-lock-remaining-retention-days":"7"}}}]}"#;

const STRINGS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"StringEquals":{"aws:username":"Alice"}}},
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"StringEqualsIgnoreCase":{"aws:username":"Alice"}}},
  {"Effect":"Allow","Action":"s3:DeleteObject","Resource":"*","Condition":{"StringNotEqualsIgnoreCase":{"aws:username":["alice","carol"]}}},
  {"Effect":"Allow","Action":"s3:GetObjectTagging","Resource":"*","Condition":{"StringNotLike":{"aws:UserAgent":"*curl*"}}},
  {"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringEquals":{"s3:prefix":"home/${aws:username}/","s3:delimiter":"/"}}}]}"#;

// "...IfExists" examples adapted to S3 keys.
const IF_EXISTS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"StringEqualsIfExists":{"s3:x-amz-storage-class":"STANDARD"}}},
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*"},
  {"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}},
  {"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"NumericLessThanIfExists":{"s3:max-keys":"100"}}}]}"#;

// Multivalued context keys: s3:RequestObjectTagKeys.
const TAG_KEYS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ForAllValues:StringEquals":{"s3:RequestObjectTagKeys":["Department","Project"]}}},
  {"Effect":"Allow","Action":"s3:PutObjectTagging","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"s3:RequestObjectTagKeys":"Department"}}},
  {"Effect":"Allow","Action":"s3:PutObjectVersionTagging","Resource":"*","Condition":{"ForAnyValue:StringNotEquals":{"s3:RequestObjectTagKeys":"Department"}}},
  {"Effect":"Allow","Action":"s3:PutBucketTagging","Resource":"*","Condition":{"ForAnyValue:StringLikeIfExists":{"s3:RequestObjectTagKeys":"Dep*"}}}]}"#;

// IAM user guide: deny with ForAllValues:StringNotLike.
const TAG_DENY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*"},
  {"Sid":"DenyRestrictedTags","Effect":"Deny","Action":"s3:PutObject","Resource":"*",
   "Condition":{"ForAllValues:StringNotLike":{"s3:RequestObjectTagKeys":"key1*"}}}]}"#;

const EXISTING_TAG: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
   "Condition":{"StringEquals":{"s3:ExistingObjectTag/security":"public"}}}]}"#;

// S3 example: deny unencrypted uploads with Null.
const NULL_SSE: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*"},
  {"Effect":"Deny","Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
   "Condition":{"Null":{"s3:x-amz-server-side-encryption":"true"}}},
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
   "Condition":{"Null":{"s3:versionid":false}}}]}"#;

const ARNS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:sns:*:123456789012:topic-*"}}},
  {"Effect":"Allow","Action":"s3:PutObject","Resource":"*","Condition":{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:user/${aws:username}"}}},
  {"Effect":"Allow","Action":"s3:DeleteObject","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"arn:aws:sns:*:*:blocked"}}},
  {"Effect":"Allow","Action":"s3:GetObjectTagging","Resource":"*","Condition":{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::123456789012:root"}}}]}"#;

const BINARY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"BinaryEquals":{"aws:UserAgent":"aGVsbG8="}}}]}"#;

const PRINCIPALS: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:user/alice","AKIABOB"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b"},
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObjectTagging","Resource":"arn:aws:s3:::b/public/*"}]}"#;

const NOT_PRINCIPAL: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"},
  {"Effect":"Deny","NotPrincipal":{"AWS":["alice"]},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/secret/*"}]}"#;

const V2008: &str = r#"{"Version":"2008-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"}]}"#;

const WILDCARDS: &str = r#"{"Statement":[
  {"Effect":"Allow","Action":["s3:Get*","s3:List?ucket"],"Resource":["arn:aws:s3:::data-*/*","arn:aws:s3:::data-?"]},
  {"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*"},
  {"Effect":"Allow","Action":"admin:*"},
  {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"arn:aws:s3:::nothing"}]}"#;

const DEFAULT_VAR: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username, 'shared'}/*"}]}"#;

fn rows() -> Vec<Row> {
    vec![
        // Home folders with ${aws:username} in Resource and in s3:prefix.
        row(
            "home: own object",
            HOME,
            "s3:GetObject",
            "bucket-name/home/alice/a.txt",
            &[("aws:username", "alice")],
            Allow,
        ),
        row(
            "home: put own object",
            HOME,
            "s3:PutObject",
            "bucket-name/home/alice/d/a.txt",
            &[("aws:username", "alice")],
            Allow,
        ),
        row(
            "home: other's object",
            HOME,
            "s3:GetObject",
            "bucket-name/home/bob/a.txt",
            &[("aws:username", "alice")],
            NA,
        ),
        row(
            "home: no username",
            HOME,
            "s3:GetObject",
            "bucket-name/home/alice/a.txt",
            &[],
            NA,
        ),
        row(
            "home: action outside s3:*Object",
            HOME,
            "s3:GetObjectTagging",
            "bucket-name/home/alice/a.txt",
            &[("aws:username", "alice")],
            NA,
        ),
        row(
            "home: list own prefix",
            HOME,
            "s3:ListBucket",
            "bucket-name",
            &[("aws:username", "alice"), ("s3:prefix", "home/alice/")],
            Allow,
        ),
        row(
            "home: list root",
            HOME,
            "s3:ListBucket",
            "bucket-name",
            &[("aws:username", "alice"), ("s3:prefix", "")],
            Allow,
        ),
        row(
            "home: list other prefix",
            HOME,
            "s3:ListBucket",
            "bucket-name",
            &[("aws:username", "alice"), ("s3:prefix", "home/bob/")],
            NA,
        ),
        row(
            "home: list without prefix key",
            HOME,
            "s3:ListBucket",
            "bucket-name",
            &[("aws:username", "alice")],
            NA,
        ),
        // NotIpAddress deny.
        row(
            "source ip: inside range",
            SOURCE_IP,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "192.0.2.10")],
            Allow,
        ),
        row(
            "source ip: second range",
            SOURCE_IP,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "203.0.113.200")],
            Allow,
        ),
        row(
            "source ip: outside",
            SOURCE_IP,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "198.51.100.1")],
            Deny,
        ),
        row(
            "source ip: missing key denies (negated operator)",
            SOURCE_IP,
            "s3:GetObject",
            "b/k",
            &[],
            Deny,
        ),
        row(
            "source ip: mapped IPv6",
            SOURCE_IP,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "::ffff:192.0.2.10")],
            Allow,
        ),
        row(
            "source ip: IPv6 outside",
            SOURCE_IP,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "2001:db8::1")],
            Deny,
        ),
        row(
            "ip allow: IPv6 range",
            IP_ALLOW,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "2001:db8:1234:5678::9")],
            Allow,
        ),
        row(
            "ip allow: IPv6 outside",
            IP_ALLOW,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "2001:db8:1234:5679::1")],
            NA,
        ),
        row(
            "ip allow: not an address",
            IP_ALLOW,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceIp", "nonsense")],
            NA,
        ),
        row(
            "ip allow: missing",
            IP_ALLOW,
            "s3:GetObject",
            "b/k",
            &[],
            NA,
        ),
        // aws:SecureTransport (bucket policy).
        row(
            "tls: https",
            TLS_ONLY,
            "s3:GetObject",
            "b/k",
            &[("aws:SecureTransport", "true")],
            Allow,
        )
        .bucket_policy("b"),
        row(
            "tls: http denied",
            TLS_ONLY,
            "s3:GetObject",
            "b/k",
            &[("aws:SecureTransport", "false")],
            Deny,
        )
        .bucket_policy("b"),
        row(
            "tls: missing key, Bool false",
            TLS_ONLY,
            "s3:GetObject",
            "b/k",
            &[],
            Allow,
        )
        .bucket_policy("b"),
        row(
            "tls: bucket action over http",
            TLS_ONLY,
            "s3:ListBucket",
            "b",
            &[("aws:SecureTransport", "FALSE")],
            Deny,
        )
        .bucket_policy("b"),
        // s3:x-amz-acl.
        row(
            "acl: public-read granted",
            ACL_GRANT,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-acl", "public-read")],
            Allow,
        )
        .bucket_policy("b")
        .caller(ALICE),
        row(
            "acl: private not granted",
            ACL_GRANT,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-acl", "private")],
            NA,
        )
        .bucket_policy("b")
        .caller(ALICE),
        row(
            "acl: missing not granted",
            ACL_GRANT,
            "s3:PutObject",
            "b/k",
            &[],
            NA,
        )
        .bucket_policy("b")
        .caller(ALICE),
        row(
            "acl: other user",
            ACL_GRANT,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-acl", "public-read")],
            NA,
        )
        .bucket_policy("b")
        .caller(BOB),
        row(
            "acl require: owner full control",
            ACL_REQUIRE,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-acl", "bucket-owner-full-control")],
            Allow,
        ),
        row(
            "acl require: other acl denied",
            ACL_REQUIRE,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-acl", "public-read")],
            Deny,
        ),
        row(
            "acl require: missing acl denied",
            ACL_REQUIRE,
            "s3:PutObject",
            "b/k",
            &[],
            Deny,
        ),
        // NotAction / NotResource.
        row(
            "notaction: other action",
            NOT_ACTION,
            "s3:GetObject",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "notaction: excluded action",
            NOT_ACTION,
            "s3:DeleteBucket",
            "b",
            &[],
            NA,
        ),
        row(
            "notaction: excluded, other case",
            NOT_ACTION,
            "S3:deletebucketpolicy",
            "b",
            &[],
            NA,
        ),
        row(
            "notaction: admin action too",
            NOT_ACTION,
            "admin:ServerInfo",
            "",
            &[],
            Allow,
        ),
        row(
            "notresource: inside",
            NOT_RESOURCE,
            "s3:GetObject",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "notresource: bucket itself",
            NOT_RESOURCE,
            "s3:ListBucket",
            "b",
            &[],
            Allow,
        ),
        row(
            "notresource: other bucket denied",
            NOT_RESOURCE,
            "s3:GetObject",
            "c/k",
            &[],
            Deny,
        ),
        row(
            "notresource: similar name denied",
            NOT_RESOURCE,
            "s3:ListBucket",
            "bb",
            &[],
            Deny,
        ),
        // Dates.
        row(
            "dates: inside window",
            DATES,
            "s3:GetObject",
            "b/k",
            &[("aws:CurrentTime", "2020-05-01T12:00:00Z")],
            Allow,
        ),
        row(
            "dates: after window",
            DATES,
            "s3:GetObject",
            "b/k",
            &[("aws:CurrentTime", "2020-07-01T00:00:00Z")],
            NA,
        ),
        row(
            "dates: before window, other zone",
            DATES,
            "s3:GetObject",
            "b/k",
            &[("aws:CurrentTime", "2020-04-01T01:00:00+02:00")],
            NA,
        ),
        row("dates: missing time", DATES, "s3:GetObject", "b/k", &[], NA),
        row(
            "dates: garbage time",
            DATES,
            "s3:GetObject",
            "b/k",
            &[("aws:CurrentTime", "yesterday")],
            NA,
        ),
        row(
            "DateEquals: same instant",
            DATE_OPS,
            "s3:GetObject",
            "b/k",
            &[("aws:CurrentTime", "2021-01-01T00:00:00Z")],
            Allow,
        ),
        row(
            "DateEquals: other instant",
            DATE_OPS,
            "s3:GetObject",
            "b/k",
            &[("aws:CurrentTime", "2021-01-01T00:00:01Z")],
            NA,
        ),
        row(
            "DateNotEquals: other",
            DATE_OPS,
            "s3:PutObject",
            "b/k",
            &[("aws:CurrentTime", "2022-01-01T00:00:00Z")],
            Allow,
        ),
        row(
            "DateNotEquals: same",
            DATE_OPS,
            "s3:PutObject",
            "b/k",
            &[("aws:CurrentTime", "1609459200")],
            NA,
        ),
        row(
            "DateNotEquals: missing is true",
            DATE_OPS,
            "s3:PutObject",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "DateLessThanEquals: epoch equal",
            DATE_OPS,
            "s3:DeleteObject",
            "b/k",
            &[("aws:EpochTime", "1600000000")],
            Allow,
        ),
        row(
            "DateLessThanEquals: epoch after",
            DATE_OPS,
            "s3:DeleteObject",
            "b/k",
            &[("aws:EpochTime", "1600000001")],
            NA,
        ),
        row(
            "DateGreaterThanEquals: ISO policy, epoch request",
            DATE_OPS,
            "s3:GetObjectTagging",
            "b/k",
            &[("aws:EpochTime", "1600000000")],
            Allow,
        ),
        row(
            "DateGreaterThanEquals: before",
            DATE_OPS,
            "s3:GetObjectTagging",
            "b/k",
            &[("aws:EpochTime", "1599999999")],
            NA,
        ),
        // Numbers.
        row(
            "NumericLessThanEquals: equal",
            NUMERIC,
            "s3:ListBucket",
            "b",
            &[("s3:max-keys", "10")],
            Allow,
        ),
        row(
            "NumericLessThanEquals: above",
            NUMERIC,
            "s3:ListBucket",
            "b",
            &[("s3:max-keys", "11")],
            NA,
        ),
        row(
            "NumericLessThanEquals: not a number",
            NUMERIC,
            "s3:ListBucket",
            "b",
            &[("s3:max-keys", "ten")],
            NA,
        ),
        row(
            "NumericLessThanEquals: missing",
            NUMERIC,
            "s3:ListBucket",
            "b",
            &[],
            NA,
        ),
        row(
            "NumericEquals: equal",
            NUMERIC,
            "s3:ListBucketVersions",
            "b",
            &[("s3:max-keys", "100")],
            Allow,
        ),
        row(
            "NumericEquals: different",
            NUMERIC,
            "s3:ListBucketVersions",
            "b",
            &[("s3:max-keys", "101")],
            NA,
        ),
        row(
            "NumericNotEquals: none of the values",
            NUMERIC,
            "s3:ListBucketMultipartUploads",
            "b",
            &[("s3:max-keys", "3")],
            Allow,
        ),
        row(
            "NumericNotEquals: one of the values (NOR)",
            NUMERIC,
            "s3:ListBucketMultipartUploads",
            "b",
            &[("s3:max-keys", "2")],
            NA,
        ),
        row(
            "NumericNotEquals: missing is true",
            NUMERIC,
            "s3:ListBucketMultipartUploads",
            "b",
            &[],
            Allow,
        ),
        row(
            "NumericLessThan: below",
            NUMERIC,
            "s3:PutObjectRetention",
            "b/k",
            &[("s3:object-lock-remaining-retention-days", "29")],
            Allow,
        ),
        row(
            "NumericLessThan: equal",
            NUMERIC,
            "s3:PutObjectRetention",
            "b/k",
            &[("s3:object-lock-remaining-retention-days", "30")],
            NA,
        ),
        row(
            "NumericGreaterThan: decimal policy",
            NUMERIC,
            "s3:GetObjectRetention",
            "b/k",
            &[("s3:object-lock-remaining-retention-days", "2")],
            Allow,
        ),
        row(
            "NumericGreaterThan: below",
            NUMERIC,
            "s3:GetObjectRetention",
            "b/k",
            &[("s3:object-lock-remaining-retention-days", "1")],
            NA,
        ),
        row(
            "NumericGreaterThanEquals: equal",
            NUMERIC,
            "s3:GetObjectLegalHold",
            "b/k",
            &[("s3:object-lock-remaining-retention-days", "7")],
            Allow,
        ),
        row(
            "NumericGreaterThanEquals: below",
            NUMERIC,
            "s3:GetObjectLegalHold",
            "b/k",
            &[("s3:object-lock-remaining-retention-days", "6.9")],
            NA,
        ),
        // Strings.
        row(
            "StringEquals: exact",
            STRINGS,
            "s3:GetObject",
            "b/k",
            &[("aws:username", "Alice")],
            Allow,
        ),
        row(
            "StringEquals: case differs",
            STRINGS,
            "s3:GetObject",
            "b/k",
            &[("aws:username", "alice")],
            NA,
        ),
        row(
            "StringEquals: key name case-insensitive",
            STRINGS,
            "s3:GetObject",
            "b/k",
            &[("AWS:UserName", "Alice")],
            Allow,
        ),
        row(
            "StringEqualsIgnoreCase: case differs",
            STRINGS,
            "s3:PutObject",
            "b/k",
            &[("aws:username", "ALICE")],
            Allow,
        ),
        row(
            "StringEqualsIgnoreCase: other",
            STRINGS,
            "s3:PutObject",
            "b/k",
            &[("aws:username", "bob")],
            NA,
        ),
        row(
            "StringNotEqualsIgnoreCase: listed",
            STRINGS,
            "s3:DeleteObject",
            "b/k",
            &[("aws:username", "CAROL")],
            NA,
        ),
        row(
            "StringNotEqualsIgnoreCase: not listed",
            STRINGS,
            "s3:DeleteObject",
            "b/k",
            &[("aws:username", "bob")],
            Allow,
        ),
        row(
            "StringNotLike: matches pattern",
            STRINGS,
            "s3:GetObjectTagging",
            "b/k",
            &[("aws:UserAgent", "curl/8.0")],
            NA,
        ),
        row(
            "StringNotLike: no match",
            STRINGS,
            "s3:GetObjectTagging",
            "b/k",
            &[("aws:UserAgent", "aws-cli/2")],
            Allow,
        ),
        row(
            "StringNotLike: missing is true",
            STRINGS,
            "s3:GetObjectTagging",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "two keys: both hold (AND)",
            STRINGS,
            "s3:ListBucket",
            "b",
            &[
                ("aws:username", "bob"),
                ("s3:prefix", "home/bob/"),
                ("s3:delimiter", "/"),
            ],
            Allow,
        ),
        row(
            "two keys: one fails",
            STRINGS,
            "s3:ListBucket",
            "b",
            &[("aws:username", "bob"), ("s3:prefix", "home/bob/")],
            NA,
        ),
        row(
            "variable in condition value: other user",
            STRINGS,
            "s3:ListBucket",
            "b",
            &[
                ("aws:username", "bob"),
                ("s3:prefix", "home/alice/"),
                ("s3:delimiter", "/"),
            ],
            NA,
        ),
        // IfExists.
        row(
            "StringEqualsIfExists: missing",
            IF_EXISTS,
            "s3:PutObject",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "StringEqualsIfExists: matching",
            IF_EXISTS,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-storage-class", "STANDARD")],
            Allow,
        ),
        row(
            "StringEqualsIfExists: other value",
            IF_EXISTS,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-storage-class", "GLACIER")],
            NA,
        ),
        row(
            "BoolIfExists deny: missing denies",
            IF_EXISTS,
            "s3:GetObject",
            "b/k",
            &[],
            Deny,
        ),
        row(
            "BoolIfExists deny: MFA present",
            IF_EXISTS,
            "s3:GetObject",
            "b/k",
            &[("aws:MultiFactorAuthPresent", "true")],
            Allow,
        ),
        row(
            "BoolIfExists deny: MFA absent",
            IF_EXISTS,
            "s3:GetObject",
            "b/k",
            &[("aws:MultiFactorAuthPresent", "false")],
            Deny,
        ),
        row(
            "NumericLessThanIfExists: missing",
            IF_EXISTS,
            "s3:ListBucket",
            "b",
            &[],
            Allow,
        ),
        row(
            "NumericLessThanIfExists: too many",
            IF_EXISTS,
            "s3:ListBucket",
            "b",
            &[("s3:max-keys", "1000")],
            NA,
        ),
        // ForAllValues / ForAnyValue.
        row(
            "ForAllValues: subset",
            TAG_KEYS,
            "s3:PutObject",
            "b/k",
            &[("s3:RequestObjectTagKeys", "Department")],
            Allow,
        ),
        row(
            "ForAllValues: all listed",
            TAG_KEYS,
            "s3:PutObject",
            "b/k",
            &[
                ("s3:RequestObjectTagKeys", "Project"),
                ("s3:RequestObjectTagKeys", "Department"),
            ],
            Allow,
        ),
        row(
            "ForAllValues: one unlisted",
            TAG_KEYS,
            "s3:PutObject",
            "b/k",
            &[
                ("s3:RequestObjectTagKeys", "Department"),
                ("s3:RequestObjectTagKeys", "Other"),
            ],
            NA,
        ),
        row(
            "ForAllValues: missing is true",
            TAG_KEYS,
            "s3:PutObject",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "ForAnyValue: one matches",
            TAG_KEYS,
            "s3:PutObjectTagging",
            "b/k",
            &[
                ("s3:RequestObjectTagKeys", "Project"),
                ("s3:RequestObjectTagKeys", "Department"),
            ],
            Allow,
        ),
        row(
            "ForAnyValue: none match",
            TAG_KEYS,
            "s3:PutObjectTagging",
            "b/k",
            &[("s3:RequestObjectTagKeys", "Project")],
            NA,
        ),
        row(
            "ForAnyValue: missing is false",
            TAG_KEYS,
            "s3:PutObjectTagging",
            "b/k",
            &[],
            NA,
        ),
        row(
            "ForAnyValue:StringNotEquals: one differs",
            TAG_KEYS,
            "s3:PutObjectVersionTagging",
            "b/k",
            &[
                ("s3:RequestObjectTagKeys", "Department"),
                ("s3:RequestObjectTagKeys", "x"),
            ],
            Allow,
        ),
        row(
            "ForAnyValue:StringNotEquals: all equal",
            TAG_KEYS,
            "s3:PutObjectVersionTagging",
            "b/k",
            &[("s3:RequestObjectTagKeys", "Department")],
            NA,
        ),
        row(
            "ForAnyValue:StringLikeIfExists: missing",
            TAG_KEYS,
            "s3:PutBucketTagging",
            "b",
            &[],
            Allow,
        ),
        row(
            "ForAnyValue:StringLikeIfExists: no match",
            TAG_KEYS,
            "s3:PutBucketTagging",
            "b",
            &[("s3:RequestObjectTagKeys", "Owner")],
            NA,
        ),
        row(
            "ForAllValues:StringNotLike deny: allowed prefix",
            TAG_DENY,
            "s3:PutObject",
            "b/k",
            &[("s3:RequestObjectTagKeys", "key1:legal")],
            Allow,
        ),
        row(
            "ForAllValues:StringNotLike deny: other prefix",
            TAG_DENY,
            "s3:PutObject",
            "b/k",
            &[("s3:RequestObjectTagKeys", "key2:audit")],
            Deny,
        ),
        row(
            "ForAllValues:StringNotLike deny: missing",
            TAG_DENY,
            "s3:PutObject",
            "b/k",
            &[],
            Deny,
        ),
        // Tag keys of condition keys are case-sensitive.
        row(
            "ExistingObjectTag: public",
            EXISTING_TAG,
            "s3:GetObject",
            "b/k",
            &[("s3:ExistingObjectTag/security", "public")],
            Allow,
        ),
        row(
            "ExistingObjectTag: other value",
            EXISTING_TAG,
            "s3:GetObject",
            "b/k",
            &[("s3:ExistingObjectTag/security", "secret")],
            NA,
        ),
        row(
            "ExistingObjectTag: tag key case differs",
            EXISTING_TAG,
            "s3:GetObject",
            "b/k",
            &[("s3:ExistingObjectTag/Security", "public")],
            NA,
        ),
        // Null.
        row(
            "Null true: header missing denies",
            NULL_SSE,
            "s3:PutObject",
            "b/k",
            &[],
            Deny,
        ),
        row(
            "Null true: header present",
            NULL_SSE,
            "s3:PutObject",
            "b/k",
            &[("s3:x-amz-server-side-encryption", "AES256")],
            Allow,
        ),
        row(
            "Null false: key present",
            NULL_SSE,
            "s3:GetObject",
            "b/k",
            &[("s3:versionid", "v1")],
            Allow,
        ),
        row(
            "Null false: key absent",
            NULL_SSE,
            "s3:GetObject",
            "b/k",
            &[],
            NA,
        ),
        // ARNs.
        row(
            "ArnLike: matches",
            ARNS,
            "s3:GetObject",
            "b/k",
            &[(
                "aws:SourceArn",
                "arn:aws:sns:us-east-1:123456789012:topic-a",
            )],
            Allow,
        ),
        row(
            "ArnLike: other account",
            ARNS,
            "s3:GetObject",
            "b/k",
            &[(
                "aws:SourceArn",
                "arn:aws:sns:us-east-1:999999999999:topic-a",
            )],
            NA,
        ),
        row(
            "ArnLike: not an ARN",
            ARNS,
            "s3:GetObject",
            "b/k",
            &[("aws:SourceArn", "topic-a")],
            NA,
        ),
        row(
            "ArnEquals: with variable",
            ARNS,
            "s3:PutObject",
            "b/k",
            &[
                ("aws:username", "alice"),
                ("aws:PrincipalArn", "arn:aws:iam::123456789012:user/alice"),
            ],
            Allow,
        ),
        row(
            "ArnEquals: other user",
            ARNS,
            "s3:PutObject",
            "b/k",
            &[
                ("aws:username", "alice"),
                ("aws:PrincipalArn", "arn:aws:iam::123456789012:user/bob"),
            ],
            NA,
        ),
        row(
            "ArnNotLike: blocked",
            ARNS,
            "s3:DeleteObject",
            "b/k",
            &[("aws:SourceArn", "arn:aws:sns:eu-west-1:1:blocked")],
            NA,
        ),
        row(
            "ArnNotLike: missing is true",
            ARNS,
            "s3:DeleteObject",
            "b/k",
            &[],
            Allow,
        ),
        row(
            "ArnNotEquals: root",
            ARNS,
            "s3:GetObjectTagging",
            "b/k",
            &[("aws:PrincipalArn", "arn:aws:iam::123456789012:root")],
            NA,
        ),
        row(
            "ArnNotEquals: user",
            ARNS,
            "s3:GetObjectTagging",
            "b/k",
            &[("aws:PrincipalArn", "arn:aws:iam::123456789012:user/x")],
            Allow,
        ),
        // Binary.
        row(
            "BinaryEquals: same bytes",
            BINARY,
            "s3:GetObject",
            "b/k",
            &[("aws:UserAgent", "aGVsbG8")],
            Allow,
        ),
        row(
            "BinaryEquals: other bytes",
            BINARY,
            "s3:GetObject",
            "b/k",
            &[("aws:UserAgent", "d29ybGQ=")],
            NA,
        ),
        // Principals of bucket policies.
        row(
            "principal: user ARN",
            PRINCIPALS,
            "s3:GetObject",
            "b/k",
            &[],
            Allow,
        )
        .bucket_policy("b")
        .caller(ALICE),
        row(
            "principal: access key",
            PRINCIPALS,
            "s3:GetObject",
            "b/k",
            &[],
            Allow,
        )
        .bucket_policy("b")
        .caller(BOB),
        row(
            "principal: anonymous not named",
            PRINCIPALS,
            "s3:GetObject",
            "b/k",
            &[],
            NA,
        )
        .bucket_policy("b"),
        row(
            "principal: root ARN, root caller",
            PRINCIPALS,
            "s3:ListBucket",
            "b",
            &[],
            Allow,
        )
        .bucket_policy("b")
        .caller(ROOT),
        row(
            "principal: root ARN, user caller",
            PRINCIPALS,
            "s3:ListBucket",
            "b",
            &[],
            NA,
        )
        .bucket_policy("b")
        .caller(ALICE),
        row(
            "principal: * includes anonymous",
            PRINCIPALS,
            "s3:GetObjectTagging",
            "b/public/x",
            &[],
            Allow,
        )
        .bucket_policy("b"),
        row(
            "principal: * but other prefix",
            PRINCIPALS,
            "s3:GetObjectTagging",
            "b/private/x",
            &[],
            NA,
        )
        .bucket_policy("b"),
        row(
            "notprincipal: named user passes",
            NOT_PRINCIPAL,
            "s3:GetObject",
            "b/secret/x",
            &[],
            Allow,
        )
        .bucket_policy("b")
        .caller(ALICE),
        row(
            "notprincipal: other user denied",
            NOT_PRINCIPAL,
            "s3:GetObject",
            "b/secret/x",
            &[],
            Deny,
        )
        .bucket_policy("b")
        .caller(BOB),
        row(
            "notprincipal: anonymous denied",
            NOT_PRINCIPAL,
            "s3:GetObject",
            "b/secret/x",
            &[],
            Deny,
        )
        .bucket_policy("b"),
        row(
            "notprincipal: outside the denied prefix",
            NOT_PRINCIPAL,
            "s3:GetObject",
            "b/open/x",
            &[],
            Allow,
        )
        .bucket_policy("b"),
        // Version 2008-10-17 keeps ${...} literal.
        row(
            "2008: variable not substituted",
            V2008,
            "s3:GetObject",
            "b/alice/x",
            &[("aws:username", "alice")],
            NA,
        ),
        row(
            "2008: literal text matches",
            V2008,
            "s3:GetObject",
            "b/${aws:username}/x",
            &[("aws:username", "alice")],
            Allow,
        ),
        row(
            "default value of a variable",
            DEFAULT_VAR,
            "s3:GetObject",
            "b/shared/x",
            &[],
            Allow,
        ),
        row(
            "default value not used when set",
            DEFAULT_VAR,
            "s3:GetObject",
            "b/shared/x",
            &[("aws:username", "alice")],
            NA,
        ),
        // Action and resource wildcards, account-level and admin actions.
        row(
            "wildcard action",
            WILDCARDS,
            "s3:GetObjectTagging",
            "data-1/k",
            &[],
            Allow,
        ),
        row(
            "action case-insensitive",
            WILDCARDS,
            "S3:GETOBJECT",
            "data-x/k",
            &[],
            Allow,
        ),
        row(
            "? in action and resource",
            WILDCARDS,
            "s3:ListBucket",
            "data-7",
            &[],
            Allow,
        ),
        row(
            "? needs exactly one char",
            WILDCARDS,
            "s3:ListBucket",
            "data-77",
            &[],
            NA,
        ),
        row(
            "resource case-sensitive",
            WILDCARDS,
            "s3:GetObject",
            "DATA-1/k",
            &[],
            NA,
        ),
        row(
            "ListAllMyBuckets on arn:aws:s3:::*",
            WILDCARDS,
            "s3:ListAllMyBuckets",
            "",
            &[],
            Allow,
        ),
        row(
            "admin:* without Resource",
            WILDCARDS,
            "admin:CreateUser",
            "",
            &[],
            Allow,
        ),
        row(
            "sts ignores Resource",
            WILDCARDS,
            "sts:AssumeRole",
            "",
            &[],
            Allow,
        ),
        row(
            "unlisted action",
            WILDCARDS,
            "s3:PutObject",
            "data-1/k",
            &[],
            NA,
        ),
    ]
}

#[test]
fn aws_documented_examples() {
    let rows = rows();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for r in &rows {
        let policy = match r.bucket_policy {
            Some(b) => Policy::parse_bucket_policy(r.policy.as_bytes(), b),
            None => Policy::parse(r.policy.as_bytes()),
        };
        let policy = match policy {
            Ok(p) => p,
            Err(e) => {
                failures.push(format!("{}: policy refused: {e}", r.name));
                continue;
            }
        };
        let mut ctx = Values::new();
        for (k, v) in &r.ctx {
            ctx.insert(k, *v);
        }
        let req = Request {
            action: r.action,
            bucket: r.bucket,
            key: r.key,
            principal: r.caller.as_ref(),
            conditions: &ctx,
        };
        let got = if r.bucket_policy.is_some() {
            policy.evaluate_resource(&req)
        } else {
            policy.evaluate(&req)
        };
        if got != r.want {
            failures.push(format!("{}: got {got:?}, want {:?}", r.name, r.want));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn identity_and_bucket_policies_combine() {
    use cairn_policy::combine;
    let user = Policy::parse(SOURCE_IP.as_bytes()).unwrap();
    let bucket = Policy::parse_bucket_policy(NOT_PRINCIPAL.as_bytes(), "b").unwrap();
    let ctx = Values::new().with("aws:SourceIp", "192.0.2.1");
    let req = Request::new("s3:GetObject", &ctx)
        .with_bucket("b")
        .with_key("secret/x")
        .with_caller(&BOB);
    assert_eq!(user.evaluate(&req), Allow);
    assert_eq!(bucket.evaluate_resource(&req), Deny);
    assert_eq!(
        combine([user.evaluate(&req), bucket.evaluate_resource(&req)]),
        Deny
    );
    let req = req.with_key("open/x");
    assert_eq!(
        combine([user.evaluate(&req), bucket.evaluate_resource(&req)]),
        Allow
    );
    // An identity policy evaluated as a resource policy names nobody.
    assert_eq!(user.evaluate_resource(&req), NA);
}
