//! MinIO's canned policies, with MinIO's names and statements (pkg policy/constants.go,
//! DefaultPolicies): readwrite, readonly, consolereadonly, writeonly, diagnostics,
//! iamAdmin, infraAdmin, replicationAdmin, securityAuditAdmin and consoleAdmin.
//!
//! Left out: MinIO's tablesAdmin, tablesReadWrite and tablesReadOnly, and the
//! `s3tables:*` statement of consoleAdmin, because Cairn has no S3 Tables API and the
//! `arn:aws:s3tables:::` resources could not be parsed. As in MinIO, `arn:aws:s3:::*`
//! stands for "every bucket and object".

use std::sync::OnceLock;

use crate::document::Policy;

/// Names of the canned policies, as `mc admin policy attach` knows them.
pub const CANNED: &[&str] = &[
    "readwrite",
    "readonly",
    "consolereadonly",
    "writeonly",
    "diagnostics",
    "iamAdmin",
    "infraAdmin",
    "replicationAdmin",
    "securityAuditAdmin",
    "consoleAdmin",
];

/// The JSON of each canned policy (same order as `CANNED`).
const TEXTS: &[&str] = &[
    // readwrite
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // readonly
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:GetObject"],"Resource":["arn:aws:s3:::*"]},{"Effect":"Deny","Action":["admin:CreateUser"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // consolereadonly
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetBucketLocation","s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::*"]},{"Effect":"Deny","Action":["admin:CreateUser"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // writeonly
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // diagnostics
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:Profiling","admin:ServerTrace","admin:ConsoleLog","admin:ServerInfo","admin:TopLocksInfo","admin:OBDInfo","admin:BandwidthMonitor","admin:Prometheus"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // iamAdmin
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:CreateUser","admin:DeleteUser","admin:ListUsers","admin:EnableUser","admin:DisableUser","admin:GetUser","admin:AddUserToGroup","admin:RemoveUserFromGroup","admin:GetGroup","admin:ListGroups","admin:EnableGroup","admin:DisableGroup","admin:CreatePolicy","admin:DeletePolicy","admin:GetPolicy","admin:AttachUserOrGroupPolicy","admin:UpdatePolicyAssociation","admin:ListUserPolicies","admin:CreateServiceAccount","admin:UpdateServiceAccount","admin:RemoveServiceAccount","admin:ListServiceAccounts","admin:ListTemporaryAccounts","admin:ExportIAM","admin:ImportIAM"]}]}"#,
    // infraAdmin
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:ServerUpdate","admin:ServiceRestart","admin:ServiceStop","admin:ServiceFreeze","admin:ServiceCordon","admin:ServerInfo","admin:StorageInfo","admin:ConfigUpdate","admin:Heal","admin:ForceUnlock","admin:Decommission","admin:Rebalance","admin:SetBucketQuota","admin:GetBucketQuota","admin:SetBucketCompression","admin:GetBucketCompression","admin:SetTier","admin:ListTier","admin:LicenseInfo","admin:DataUsageInfo","admin:ImportBucketMetadata","admin:ExportBucketMetadata","admin:StartBatchJob","admin:ListBatchJobs","admin:DescribeBatchJob","admin:CancelBatchJob","admin:GenerateBatchJob","admin:InventoryControl","admin:ClusterInfo","admin:PoolList","admin:PoolInfo","admin:NodeList","admin:NodeInfo","admin:SetInfo","admin:DriveList","admin:DriveInfo"]}]}"#,
    // replicationAdmin
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:SiteReplicationAdd","admin:SiteReplicationDisable","admin:SiteReplicationRemove","admin:SiteReplicationResync","admin:SiteReplicationInfo","admin:SiteReplicationOperation","admin:TablesReplicationAdd","admin:TablesReplicationRemove","admin:TablesReplicationInfo","admin:TablesReplicationStartFailover","admin:TablesReplicationCatalogAdmin","admin:ReplicationDiff"]},{"Effect":"Allow","Action":["s3:GetReplicationConfiguration","s3:PutReplicationConfiguration","s3:ResetBucketReplicationState","s3:GetObjectVersionForReplication"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // securityAuditAdmin
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:ListUsers","admin:GetUser","admin:ListGroups","admin:GetGroup","admin:GetPolicy","admin:ListUserPolicies","admin:ListServiceAccounts","admin:ListTemporaryAccounts","admin:ExportIAM","admin:SiteReplicationInfo","admin:TablesReplicationInfo","admin:ServerInfo","admin:StorageInfo","admin:DataUsageInfo","admin:LicenseInfo","admin:ClusterInfo","admin:PoolList","admin:PoolInfo","admin:NodeList","admin:NodeInfo","admin:SetInfo","admin:DriveList","admin:DriveInfo","admin:Profiling","admin:ServerTrace","admin:ConsoleLog","admin:TopLocksInfo","admin:OBDInfo","admin:BandwidthMonitor","admin:Prometheus"]},{"Effect":"Allow","Action":["s3:GetBucketPolicy","s3:GetBucketLocation","s3:GetBucketNotification","s3:GetBucketObjectLockConfiguration","s3:GetEncryptionConfiguration","s3:GetBucketTagging","s3:GetBucketVersioning","s3:GetReplicationConfiguration"],"Resource":["arn:aws:s3:::*"]}]}"#,
    // consoleAdmin
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["admin:*"]},{"Effect":"Allow","Action":["kms:*"]},{"Effect":"Allow","Action":["s3:*"],"Resource":["arn:aws:s3:::*"]}]}"#,
];

/// The canned policy called `name` (case-sensitive, as in MinIO), or `None`.
pub fn canned(name: &str) -> Option<Policy> {
    static PARSED: OnceLock<Vec<Option<Policy>>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        TEXTS
            .iter()
            .map(|t| Policy::parse(t.as_bytes()).ok())
            .collect()
    });
    let i = CANNED.iter().position(|n| *n == name)?;
    parsed.get(i).cloned().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Decision, Request, Values};

    #[test]
    fn every_canned_policy_parses() {
        assert_eq!(CANNED.len(), TEXTS.len());
        for name in CANNED {
            assert!(canned(name).is_some(), "{name} does not parse");
        }
        assert!(canned("ReadWrite").is_none());
        assert!(canned("nope").is_none());
    }

    #[test]
    fn canned_policies_grant_what_minio_grants() {
        let v = Values::new();
        let get = Request::new("s3:GetObject", &v)
            .with_bucket("b")
            .with_key("k");
        let put = Request::new("s3:PutObject", &v)
            .with_bucket("b")
            .with_key("k");
        let list = Request::new("s3:ListBucket", &v).with_bucket("b");
        let create_user = Request::new("admin:CreateUser", &v);
        let ro = canned("readonly").unwrap();
        assert_eq!(ro.evaluate(&get), Decision::Allow);
        assert_eq!(ro.evaluate(&put), Decision::NotApplicable);
        assert_eq!(ro.evaluate(&list), Decision::NotApplicable);
        assert_eq!(ro.evaluate(&create_user), Decision::ExplicitDeny);
        let wo = canned("writeonly").unwrap();
        assert_eq!(wo.evaluate(&put), Decision::Allow);
        assert_eq!(wo.evaluate(&get), Decision::NotApplicable);
        let rw = canned("readwrite").unwrap();
        assert_eq!(rw.evaluate(&list), Decision::Allow);
        assert_eq!(rw.evaluate(&create_user), Decision::NotApplicable);
        let admin = canned("consoleAdmin").unwrap();
        assert_eq!(admin.evaluate(&create_user), Decision::Allow);
        assert_eq!(
            admin.evaluate(&Request::new("kms:CreateKey", &v)),
            Decision::Allow
        );
        assert_eq!(admin.evaluate(&get), Decision::Allow);
        let diag = canned("diagnostics").unwrap();
        assert_eq!(
            diag.evaluate(&Request::new("admin:Prometheus", &v)),
            Decision::Allow
        );
        assert_eq!(diag.evaluate(&create_user), Decision::NotApplicable);
        let iam = canned("iamAdmin").unwrap();
        assert_eq!(iam.evaluate(&create_user), Decision::Allow);
        assert_eq!(iam.evaluate(&get), Decision::NotApplicable);
    }
}
