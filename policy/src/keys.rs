//! The condition keys a policy may name (and use as `${...}` variables).
//!
//! Like MinIO (pkg policy/condition/key.go), a policy naming an unknown key is refused
//! rather than silently never matching: a typo such as `aws:SourceIP4` in a Deny would
//! otherwise disable the Deny. The list is MinIO's (s3:, aws:, jwt:, ldap:, sts:, svc:)
//! plus the S3 and global keys AWS documents that MinIO lacks (s3:x-amz-acl,
//! s3:x-amz-grant-*, aws:RequestedRegion, ...); the server may not fill all of them, and a
//! key it does not fill is simply absent at evaluation. Names compare case-insensitively.
//!
//! Keys ending in `/` in the list take a suffix (`s3:ExistingObjectTag/<tag-key>`): the
//! suffix is required for them and refused for every other key.

/// Keys without a suffix.
const PLAIN: &[&str] = &[
    // S3 (MinIO and AWS).
    "s3:signatureversion",
    "s3:authType",
    "s3:signatureAge",
    "s3:x-amz-copy-source",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-storage-class",
    "s3:x-amz-object-if-match",
    "s3:x-amz-annotation-directive",
    "s3:x-amz-content-sha256",
    "s3:x-amz-acl",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control",
    "s3:x-amz-object-ownership",
    "s3:x-amz-website-redirect-location",
    "s3:LocationConstraint",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:versionid",
    "s3:object-lock-remaining-retention-days",
    "s3:object-lock-mode",
    "s3:object-lock-retain-until-date",
    "s3:object-lock-legal-hold",
    "s3:RequestObjectTagKeys",
    "s3:TlsVersion",
    "s3:ResourceAccount",
    "s3:if-match",
    "s3:if-none-match",
    "s3:DataAccessPointAccount",
    "s3:DataAccessPointArn",
    "s3:AccessPointNetworkOrigin",
    "s3express:SessionMode",
    // AWS global keys.
    "aws:Referer",
    "aws:SourceIp",
    "aws:UserAgent",
    "aws:SecureTransport",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    "aws:groups",
    "aws:RequestedRegion",
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgID",
    "aws:PrincipalIsAWSService",
    "aws:SourceArn",
    "aws:SourceAccount",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:MultiFactorAuthPresent",
    "aws:MultiFactorAuthAge",
    "aws:TokenIssueTime",
    "aws:ViaAWSService",
    "aws:CalledVia",
    "aws:TagKeys",
    "aws:FederatedProvider",
    // LDAP and OpenID claims (MinIO).
    "ldap:user",
    "ldap:username",
    "ldap:groups",
    "jwt:sub",
    "jwt:iss",
    "jwt:aud",
    "jwt:jti",
    "jwt:upn",
    "jwt:name",
    "jwt:groups",
    "jwt:given_name",
    "jwt:family_name",
    "jwt:middle_name",
    "jwt:nickname",
    "jwt:preferred_username",
    "jwt:profile",
    "jwt:picture",
    "jwt:website",
    "jwt:email",
    "jwt:gender",
    "jwt:birthdate",
    "jwt:phone_number",
    "jwt:address",
    "jwt:scope",
    "jwt:client_id",
    // Durations of STS sessions and service accounts (MinIO).
    "sts:DurationSeconds",
    "svc:DurationSeconds",
];

/// Keys that take a `/<suffix>` (a tag key).
const WITH_SUFFIX: &[&str] = &[
    "s3:ExistingObjectTag",
    "s3:RequestObjectTag",
    "aws:RequestTag",
    "aws:ResourceTag",
    "aws:PrincipalTag",
];

/// Why `key` cannot be used in a policy, or `None` when it can.
pub(crate) fn check(key: &str) -> Option<String> {
    let Some((prefix, _)) = key.split_once(':') else {
        return Some(format!(
            "condition key {key:?} has no service prefix (expected e.g. \"aws:SourceIp\" or \"s3:prefix\")"
        ));
    };
    if prefix.is_empty() {
        return Some(format!("condition key {key:?} has an empty service prefix"));
    }
    match key.split_once('/') {
        Some((name, suffix)) => {
            if WITH_SUFFIX.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                if suffix.is_empty() {
                    Some(format!("condition key {key:?} needs a tag key after '/'"))
                } else {
                    None
                }
            } else if PLAIN.iter().any(|k| k.eq_ignore_ascii_case(name)) {
                Some(format!(
                    "condition key {name:?} takes no '/' suffix (got {key:?})"
                ))
            } else {
                Some(format!("unknown condition key {key:?}"))
            }
        }
        None => {
            if PLAIN.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                None
            } else if WITH_SUFFIX.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                Some(format!(
                    "condition key {key:?} needs a tag key: {key}/<tag-key>"
                ))
            } else {
                Some(format!("unknown condition key {key:?}"))
            }
        }
    }
}

/// True when `key` may be named in a policy.
pub(crate) fn is_known(key: &str) -> bool {
    check(key).is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_keys() {
        assert!(is_known("aws:SourceIp"));
        assert!(is_known("AWS:SOURCEIP"));
        assert!(is_known("s3:ExistingObjectTag/Project"));
        assert!(is_known("jwt:groups"));
        assert!(
            check("aws:SourceIP4")
                .unwrap()
                .contains("unknown condition key")
        );
        assert!(check("prefix").unwrap().contains("no service prefix"));
        assert!(
            check("s3:ExistingObjectTag")
                .unwrap()
                .contains("needs a tag key")
        );
        assert!(
            check("s3:ExistingObjectTag/")
                .unwrap()
                .contains("needs a tag key")
        );
        assert!(
            check("s3:prefix/x")
                .unwrap()
                .contains("takes no '/' suffix")
        );
        assert!(check("myapp:thing").unwrap().contains("unknown"));
    }
}
