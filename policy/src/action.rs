//! Actions: the names a policy may grant (`s3:GetObject`, `admin:CreateUser`, ...), their
//! `*`/`?` patterns, matched case-insensitively as AWS does.
//!
//! The S3 list is AWS's service authorization reference for Amazon S3 plus MinIO's own S3
//! actions (pkg policy/action.go: `s3:ForceDeleteBucket`, `s3:ListenBucketNotification`,
//! annotations, ...). Admin, STS and KMS actions are MinIO's (policy/admin-action.go,
//! sts-action.go, kms-action.go). As in MinIO, a policy naming an action that does not
//! exist is malformed, and a wildcard pattern must match at least one known action, so a
//! typo cannot silently grant or deny nothing.

use crate::wildcard::{self, Pattern};

/// AWS S3 actions (service authorization reference) and MinIO's S3 extensions.
const S3: &[&str] = &[
    "s3:AbortMultipartUpload",
    "s3:AssociateAccessGrantsIdentityCenter",
    "s3:BypassGovernanceRetention",
    "s3:CreateAccessGrant",
    "s3:CreateAccessGrantsInstance",
    "s3:CreateAccessGrantsLocation",
    "s3:CreateAccessPoint",
    "s3:CreateAccessPointForObjectLambda",
    "s3:CreateBucket",
    "s3:CreateBucketMetadataConfiguration",
    "s3:CreateBucketMetadataTableConfiguration",
    "s3:CreateJob",
    "s3:CreateMultiRegionAccessPoint",
    "s3:CreateStorageLensGroup",
    "s3:DeleteAccessGrant",
    "s3:DeleteAccessGrantsInstance",
    "s3:DeleteAccessGrantsInstanceResourcePolicy",
    "s3:DeleteAccessGrantsLocation",
    "s3:DeleteAccessPoint",
    "s3:DeleteAccessPointForObjectLambda",
    "s3:DeleteAccessPointPolicy",
    "s3:DeleteAccessPointPolicyForObjectLambda",
    "s3:DeleteAccessPointScope",
    "s3:DeleteBucket",
    "s3:DeleteBucketMetadataConfiguration",
    "s3:DeleteBucketMetadataTableConfiguration",
    "s3:DeleteBucketPolicy",
    "s3:DeleteBucketWebsite",
    "s3:DeleteJobTagging",
    "s3:DeleteMultiRegionAccessPoint",
    "s3:DeleteObject",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectVersionTagging",
    "s3:DeleteStorageLensConfiguration",
    "s3:DeleteStorageLensConfigurationTagging",
    "s3:DeleteStorageLensGroup",
    "s3:DescribeJob",
    "s3:DescribeMultiRegionAccessPointOperation",
    "s3:DissociateAccessGrantsIdentityCenter",
    "s3:GetAccelerateConfiguration",
    "s3:GetAccessGrant",
    "s3:GetAccessGrantsInstance",
    "s3:GetAccessGrantsInstanceForPrefix",
    "s3:GetAccessGrantsInstanceResourcePolicy",
    "s3:GetAccessGrantsLocation",
    "s3:GetAccessPoint",
    "s3:GetAccessPointConfigurationForObjectLambda",
    "s3:GetAccessPointForObjectLambda",
    "s3:GetAccessPointPolicy",
    "s3:GetAccessPointPolicyForObjectLambda",
    "s3:GetAccessPointPolicyStatus",
    "s3:GetAccessPointPolicyStatusForObjectLambda",
    "s3:GetAccessPointScope",
    "s3:GetAccountPublicAccessBlock",
    "s3:GetAnalyticsConfiguration",
    "s3:GetBucketAcl",
    "s3:GetBucketCORS",
    "s3:GetBucketLocation",
    "s3:GetBucketLogging",
    "s3:GetBucketMetadataConfiguration",
    "s3:GetBucketMetadataTableConfiguration",
    "s3:GetBucketNotification",
    "s3:GetBucketObjectLockConfiguration",
    "s3:GetBucketOwnershipControls",
    "s3:GetBucketPolicy",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetBucketRequestPayment",
    "s3:GetBucketTagging",
    "s3:GetBucketVersioning",
    "s3:GetBucketWebsite",
    "s3:GetDataAccess",
    "s3:GetEncryptionConfiguration",
    "s3:GetIntelligentTieringConfiguration",
    "s3:GetInventoryConfiguration",
    "s3:GetJobTagging",
    "s3:GetLifecycleConfiguration",
    "s3:GetMetricsConfiguration",
    "s3:GetMultiRegionAccessPoint",
    "s3:GetMultiRegionAccessPointPolicy",
    "s3:GetMultiRegionAccessPointPolicyStatus",
    "s3:GetMultiRegionAccessPointRoutes",
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectAttributes",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectTagging",
    "s3:GetObjectTorrent",
    "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
    "s3:GetObjectVersionTorrent",
    "s3:GetReplicationConfiguration",
    "s3:GetStorageLensConfiguration",
    "s3:GetStorageLensConfigurationTagging",
    "s3:GetStorageLensDashboard",
    "s3:GetStorageLensGroup",
    "s3:InitiateReplication",
    "s3:ListAccessGrants",
    "s3:ListAccessGrantsInstances",
    "s3:ListAccessGrantsLocations",
    "s3:ListAccessPoints",
    "s3:ListAccessPointsForDirectoryBuckets",
    "s3:ListAccessPointsForObjectLambda",
    "s3:ListAllMyBuckets",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListBucketVersions",
    "s3:ListCallerAccessGrants",
    "s3:ListJobs",
    "s3:ListMultiRegionAccessPoints",
    "s3:ListMultipartUploadParts",
    "s3:ListStorageLensConfigurations",
    "s3:ListStorageLensGroups",
    "s3:ListTagsForResource",
    "s3:ObjectOwnerOverrideToBucketOwner",
    "s3:PauseReplication",
    "s3:PutAccelerateConfiguration",
    "s3:PutAccessGrantsInstanceResourcePolicy",
    "s3:PutAccessPointConfigurationForObjectLambda",
    "s3:PutAccessPointPolicy",
    "s3:PutAccessPointPolicyForObjectLambda",
    "s3:PutAccessPointPublicAccessBlock",
    "s3:PutAccessPointScope",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutAnalyticsConfiguration",
    "s3:PutBucketAcl",
    "s3:PutBucketCORS",
    "s3:PutBucketLogging",
    "s3:PutBucketNotification",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketPolicy",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketRequestPayment",
    "s3:PutBucketTagging",
    "s3:PutBucketVersioning",
    "s3:PutBucketWebsite",
    "s3:PutEncryptionConfiguration",
    "s3:PutIntelligentTieringConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:PutJobTagging",
    "s3:PutLifecycleConfiguration",
    "s3:PutMetricsConfiguration",
    "s3:PutMultiRegionAccessPointPolicy",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectVersionTagging",
    "s3:PutReplicationConfiguration",
    "s3:PutStorageLensConfiguration",
    "s3:PutStorageLensConfigurationTagging",
    "s3:ReplicateDelete",
    "s3:ReplicateObject",
    "s3:ReplicateTags",
    "s3:RestoreObject",
    "s3:SubmitMultiRegionAccessPointRoutes",
    "s3:TagResource",
    "s3:UntagResource",
    "s3:UpdateAccessGrantsLocation",
    "s3:UpdateBucketMetadataInventoryTableConfiguration",
    "s3:UpdateBucketMetadataJournalTableConfiguration",
    "s3:UpdateJobPriority",
    "s3:UpdateJobStatus",
    "s3:UpdateStorageLensGroup",
    // MinIO's own S3 actions.
    "s3:DeleteBucketCors",
    "s3:DeleteObjectAnnotation",
    "s3:ForceDeleteBucket",
    "s3:GetBucketQOS",
    "s3:GetObjectAnnotation",
    "s3:GetObjectVersionAnnotationForReplication",
    "s3:HeadBucket",
    "s3:ListObjectAnnotations",
    "s3:ListenBucketNotification",
    "s3:ListenNotification",
    "s3:PutBucketQOS",
    "s3:PutObjectAnnotation",
    "s3:PutObjectFanOut",
    "s3:ReplicateObjectAnnotation",
    "s3:ResetBucketReplicationState",
    "s3:UpdateObjectEncryption",
    "s3express:CreateSession",
];

/// S3 actions on objects (resource `arn:aws:s3:::bucket/key`); every other S3 action is
/// on a bucket (`arn:aws:s3:::bucket`) or the account.
const S3_OBJECT: &[&str] = &[
    "s3:AbortMultipartUpload",
    "s3:BypassGovernanceRetention",
    "s3:DeleteObject",
    "s3:DeleteObjectAnnotation",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersion",
    "s3:DeleteObjectVersionTagging",
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectAnnotation",
    "s3:GetObjectAttributes",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectTagging",
    "s3:GetObjectTorrent",
    "s3:GetObjectVersion",
    "s3:GetObjectVersionAcl",
    "s3:GetObjectVersionAnnotationForReplication",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectVersionForReplication",
    "s3:GetObjectVersionTagging",
    "s3:GetObjectVersionTorrent",
    "s3:InitiateReplication",
    "s3:ListMultipartUploadParts",
    "s3:ListObjectAnnotations",
    "s3:ObjectOwnerOverrideToBucketOwner",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:PutObjectAnnotation",
    "s3:PutObjectFanOut",
    "s3:PutObjectLegalHold",
    "s3:PutObjectRetention",
    "s3:PutObjectTagging",
    "s3:PutObjectVersionAcl",
    "s3:PutObjectVersionTagging",
    "s3:ReplicateDelete",
    "s3:ReplicateObject",
    "s3:ReplicateObjectAnnotation",
    "s3:ReplicateTags",
    "s3:RestoreObject",
    "s3:UpdateObjectEncryption",
];

/// MinIO's admin API actions (SupportedAdminActions in pkg policy/admin-action.go).
const ADMIN: &[&str] = &[
    "admin:Heal",
    "admin:StorageInfo",
    "admin:DataUsageInfo",
    "admin:TopLocksInfo",
    "admin:Profiling",
    "admin:Prometheus",
    "admin:ServerTrace",
    "admin:ConsoleLog",
    "admin:KMSCreateKey",
    "admin:KMSKeyStatus",
    "admin:ServerInfo",
    "admin:OBDInfo",
    "admin:LicenseInfo",
    "admin:BandwidthMonitor",
    "admin:InspectData",
    "admin:ServerUpdate",
    "admin:ServiceRestart",
    "admin:ServiceStop",
    "admin:ServiceFreeze",
    "admin:ConfigUpdate",
    "admin:CreateUser",
    "admin:DeleteUser",
    "admin:ListUsers",
    "admin:EnableUser",
    "admin:DisableUser",
    "admin:GetUser",
    "admin:ChangeMyPassword",
    "admin:AddUserToGroup",
    "admin:RemoveUserFromGroup",
    "admin:GetGroup",
    "admin:ListGroups",
    "admin:EnableGroup",
    "admin:DisableGroup",
    "admin:CreateServiceAccount",
    "admin:UpdateServiceAccount",
    "admin:RemoveServiceAccount",
    "admin:ListServiceAccounts",
    "admin:ListTemporaryAccounts",
    "admin:CreatePolicy",
    "admin:DeletePolicy",
    "admin:GetPolicy",
    "admin:AttachUserOrGroupPolicy",
    "admin:UpdatePolicyAssociation",
    "admin:ListUserPolicies",
    "admin:SetBucketQuota",
    "admin:GetBucketQuota",
    "admin:SetBucketCompression",
    "admin:GetBucketCompression",
    "admin:SetBucketTarget",
    "admin:GetBucketTarget",
    "admin:ReplicationDiff",
    "admin:SetTier",
    "admin:ListTier",
    "admin:Decommission",
    "admin:Rebalance",
    "admin:SiteReplicationAdd",
    "admin:SiteReplicationDisable",
    "admin:SiteReplicationInfo",
    "admin:SiteReplicationOperation",
    "admin:SiteReplicationRemove",
    "admin:SiteReplicationResync",
    "admin:TablesReplicationAdd",
    "admin:TablesReplicationRemove",
    "admin:TablesReplicationInfo",
    "admin:TablesReplicationStartFailover",
    "admin:TablesReplicationCatalogAdmin",
    "admin:ImportBucketMetadata",
    "admin:ExportBucketMetadata",
    "admin:ExportIAM",
    "admin:ImportIAM",
    "admin:ForceUnlock",
    "admin:ListBatchJobs",
    "admin:DescribeBatchJob",
    "admin:StartBatchJob",
    "admin:CancelBatchJob",
    "admin:GenerateBatchJob",
    "admin:DistJobStatus",
    "admin:InventoryControl",
    "admin:ClusterInfo",
    "admin:PoolList",
    "admin:PoolInfo",
    "admin:NodeList",
    "admin:NodeInfo",
    "admin:SetInfo",
    "admin:DriveList",
    "admin:DriveInfo",
    "admin:ServiceCordon",
    "admin:DeltaSharing",
    "admin:DeltaSharingCreateShare",
    "admin:DeltaSharingDeleteShare",
    "admin:DeltaSharingListShares",
    "admin:DeltaSharingGetShare",
    "admin:DeltaSharingUpdateShare",
    "admin:DeltaSharingCreateToken",
    "admin:DeltaSharingDeleteToken",
    "admin:DeltaSharingListTokens",
    "admin:ReadAPILogs",
    "admin:ReadErrorLogs",
    "admin:ReadAuditLogs",
    "admin:ReadAlerts",
];

/// Admin actions that act on a bucket, so a statement's Resource applies to them
/// (MinIO's AdminActionsWithResource); other admin actions ignore Resource.
const ADMIN_WITH_RESOURCE: &[&str] = &[
    "admin:SetBucketQuota",
    "admin:GetBucketQuota",
    "admin:SetBucketCompression",
    "admin:GetBucketCompression",
    "admin:SetBucketTarget",
    "admin:GetBucketTarget",
    "admin:ReplicationDiff",
    "admin:ImportBucketMetadata",
    "admin:ExportBucketMetadata",
    "admin:Heal",
    "admin:InventoryControl",
];

/// STS actions (MinIO's sts-action.go).
const STS: &[&str] = &[
    "sts:AssumeRole",
    "sts:AssumeRoleLDAPIdentity",
    "sts:AssumeRoleWithCustomToken",
    "sts:AssumeRoleWithWebIdentity",
    "sts:AssumeRoleWithClientGrants",
    "sts:AssumeRoleWithClientCertificate",
];

/// KMS actions (MinIO's kms-action.go).
const KMS: &[&str] = &[
    "kms:CreateKey",
    "kms:DeleteKey",
    "kms:ListKeys",
    "kms:ImportKey",
    "kms:DescribePolicy",
    "kms:AssignPolicy",
    "kms:DeletePolicy",
    "kms:SetPolicy",
    "kms:GetPolicy",
    "kms:ListPolicies",
    "kms:DescribeIdentity",
    "kms:DescribeSelfIdentity",
    "kms:DeleteIdentity",
    "kms:ListIdentities",
    "kms:KeyStatus",
    "kms:Status",
    "kms:API",
    "kms:Metrics",
    "kms:Version",
    "kms:AuditLog",
    "kms:ErrorLog",
    "kms:Enable",
    "kms:KeyRotate",
];

/// The service an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `s3:` (and `s3express:`).
    S3,
    /// `admin:` (MinIO's admin API).
    Admin,
    /// `sts:`.
    Sts,
    /// `kms:` (MinIO's KMS API).
    Kms,
}

impl Service {
    fn known(self) -> &'static [&'static str] {
        match self {
            Service::S3 => S3,
            Service::Admin => ADMIN,
            Service::Sts => STS,
            Service::Kms => KMS,
        }
    }

    /// The prefix used in messages.
    pub fn prefix(self) -> &'static str {
        match self {
            Service::S3 => "s3:",
            Service::Admin => "admin:",
            Service::Sts => "sts:",
            Service::Kms => "kms:",
        }
    }
}

/// The service of an action name or pattern, from its prefix (case-insensitive); `None`
/// for `*` and for unsupported services.
pub fn service_of(name: &str) -> Option<Service> {
    let (prefix, _) = name.split_once(':')?;
    if prefix.eq_ignore_ascii_case("s3") || prefix.eq_ignore_ascii_case("s3express") {
        Some(Service::S3)
    } else if prefix.eq_ignore_ascii_case("admin") {
        Some(Service::Admin)
    } else if prefix.eq_ignore_ascii_case("sts") {
        Some(Service::Sts)
    } else if prefix.eq_ignore_ascii_case("kms") {
        Some(Service::Kms)
    } else {
        None
    }
}

/// True when `name` is an existing action (no wildcards), compared case-insensitively.
pub fn is_known(name: &str) -> bool {
    service_of(name).is_some_and(|s| s.known().iter().any(|k| k.eq_ignore_ascii_case(name)))
}

/// True when `name` is an S3 action on objects (resource `bucket/key`).
pub fn is_object_action(name: &str) -> bool {
    S3_OBJECT.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// True when a request for `action` is authorised without looking at Resource: STS
/// actions and the admin actions that do not act on a bucket (as MinIO does).
pub fn ignores_resource(action: &str) -> bool {
    match service_of(action) {
        Some(Service::Sts) => true,
        Some(Service::Admin) => !ADMIN_WITH_RESOURCE
            .iter()
            .any(|k| k.eq_ignore_ascii_case(action)),
        _ => false,
    }
}

/// Every known action name (for admin APIs listing what can be granted).
pub fn all() -> impl Iterator<Item = &'static str> {
    S3.iter().chain(ADMIN).chain(STS).chain(KMS).copied()
}

/// One entry of a statement's Action or NotAction, compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActionPattern {
    /// As written in the policy.
    pub(crate) source: String,
    /// `None` for `*`; otherwise the service the pattern is in.
    pub(crate) service: Option<Service>,
    pattern: Pattern,
}

impl ActionPattern {
    /// Compiles and checks one action: `*`, or `<service>:<name>` where a name without
    /// wildcards must exist and a name with wildcards must match some existing action.
    pub(crate) fn parse(s: &str) -> Result<ActionPattern, String> {
        let pattern = Pattern::compile(s, true, false)?;
        if s == "*" {
            return Ok(ActionPattern {
                source: s.to_owned(),
                service: None,
                pattern,
            });
        }
        let Some(service) = service_of(s) else {
            return Err(format!(
                "action {s:?} is not supported (actions are \"*\" or start with s3:, admin:, sts: or kms:)"
            ));
        };
        let known = service.known();
        if pattern.is_literal() {
            if !known.iter().any(|k| k.eq_ignore_ascii_case(s)) {
                return Err(format!("unknown action {s:?}"));
            }
        } else {
            if !known.iter().any(|k| wildcard::matches_str(s, k, true)) {
                return Err(format!("action pattern {s:?} matches no known action"));
            }
        }
        Ok(ActionPattern {
            source: s.to_owned(),
            service: Some(service),
            pattern,
        })
    }

    /// True when the request's `action` is covered by this pattern.
    pub(crate) fn matches(&self, action: &str) -> bool {
        self.pattern.matches(action, true, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_actions() {
        assert!(is_known("s3:GetObject"));
        assert!(is_known("S3:getobject"));
        assert!(is_known("s3:GetBucketCors"));
        assert!(is_known("admin:CreateUser"));
        assert!(is_known("sts:AssumeRole"));
        assert!(is_known("kms:CreateKey"));
        assert!(!is_known("s3:GetObjekt"));
        assert!(!is_known("s3:*"));
        assert!(!is_known("iam:CreateUser"));
        assert!(all().all(is_known));
        assert!(S3_OBJECT.iter().all(|a| is_known(a)));
        assert!(ADMIN_WITH_RESOURCE.iter().all(|a| is_known(a)));
        assert_eq!(ADMIN.len(), 100);
    }

    #[test]
    fn patterns() {
        let p = ActionPattern::parse("s3:Get*").unwrap();
        assert!(p.matches("s3:GetObject"));
        assert!(p.matches("S3:GETOBJECT"));
        assert!(!p.matches("s3:PutObject"));
        assert!(
            ActionPattern::parse("*")
                .unwrap()
                .matches("admin:ServerInfo")
        );
        assert!(
            ActionPattern::parse("s3:*")
                .unwrap()
                .matches("s3:ListBucket")
        );
        assert!(
            !ActionPattern::parse("s3:*")
                .unwrap()
                .matches("admin:ServerInfo")
        );
        assert!(ActionPattern::parse("admin:*").is_ok());
        assert!(
            ActionPattern::parse("s3:List?ucket")
                .unwrap()
                .matches("s3:ListBucket")
        );
        assert_eq!(
            ActionPattern::parse("s3:GetObjekt").unwrap_err(),
            "unknown action \"s3:GetObjekt\""
        );
        assert!(
            ActionPattern::parse("s3:Frob*")
                .unwrap_err()
                .contains("matches no known action")
        );
        assert!(
            ActionPattern::parse("iam:GetUser")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(
            ActionPattern::parse("GetObject")
                .unwrap_err()
                .contains("not supported")
        );
    }

    #[test]
    fn resource_scope() {
        assert!(ignores_resource("admin:ServerInfo"));
        assert!(!ignores_resource("admin:SetBucketQuota"));
        assert!(ignores_resource("sts:AssumeRole"));
        assert!(!ignores_resource("s3:GetObject"));
        assert!(is_object_action("s3:GetObject"));
        assert!(!is_object_action("s3:ListBucket"));
    }
}
