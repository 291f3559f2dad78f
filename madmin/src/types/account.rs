//! Response of `accountinfo` (JSON in clear, not encrypted): `madmin.AccountInfo` of
//! madmin-go user-commands.go, with the `madmin.BackendInfo` of info-commands.go. Field
//! names follow madmin-go exactly: the top level and `Server` use Go's field names
//! (no json tags), buckets use lower-camel tags.
//!
//! Go writes nil maps and slices as `null`, so maps and lists read `null` as empty or
//! `None`, and the maps MinIO leaves nil (histograms, prefix usage) are `Option`s here
//! that write `null`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{GO_ZERO_TIME, null_as_default};

/// `madmin.BackendType` value of an erasure-coded backend (`Unknown`, `FS`, `Erasure`,
/// `Gateway` = 0..3).
pub const BACKEND_ERASURE: i64 = 2;

fn go_zero_time() -> String {
    GO_ZERO_TIME.to_owned()
}

/// What the calling identity is and may reach: `madmin.AccountInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct AccountInfo {
    /// The user whose permissions apply: the caller, or the parent of a service account
    /// or session.
    #[serde(rename = "AccountName", default, deserialize_with = "null_as_default")]
    pub account_name: String,
    #[serde(rename = "Server", default, deserialize_with = "null_as_default")]
    pub server: BackendInfo,
    /// The account's effective identity policy, a JSON document (Go `json.RawMessage`,
    /// so an object here, not a string).
    #[serde(rename = "Policy", default)]
    pub policy: Value,
    /// The buckets the account may read or write.
    #[serde(rename = "Buckets", default, deserialize_with = "null_as_default")]
    pub buckets: Vec<BucketAccessInfo>,
}

/// The storage backend: `madmin.BackendInfo`. Per-pool lists have one entry per pool.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BackendInfo {
    /// [`BACKEND_ERASURE`] for Cairn.
    #[serde(rename = "Type", default, deserialize_with = "null_as_default")]
    pub backend_type: i64,
    #[serde(
        rename = "GatewayOnline",
        default,
        deserialize_with = "null_as_default"
    )]
    pub gateway_online: bool,
    /// Endpoint to online drive count; MinIO leaves it empty (`null`) in accountinfo.
    #[serde(rename = "OnlineDisks", default)]
    pub online_disks: Option<BTreeMap<String, i64>>,
    #[serde(rename = "OfflineDisks", default)]
    pub offline_disks: Option<BTreeMap<String, i64>>,
    /// Data shards of the standard storage class, per pool.
    #[serde(
        rename = "StandardSCData",
        default,
        deserialize_with = "null_as_default"
    )]
    pub standard_sc_data: Vec<i64>,
    /// Parity shards of the standard storage class, per pool (madmin-go since 2024).
    #[serde(
        rename = "StandardSCParities",
        default,
        deserialize_with = "null_as_default"
    )]
    pub standard_sc_parities: Vec<i64>,
    /// The same parity as one number, as older madmin-go clients read it (the MinIO
    /// server still fills it); newer clients ignore it.
    #[serde(
        rename = "StandardSCParity",
        default,
        deserialize_with = "null_as_default"
    )]
    pub standard_sc_parity: i64,
    /// Reduced-redundancy class, per pool.
    #[serde(rename = "RRSCData", default, deserialize_with = "null_as_default")]
    pub rrsc_data: Vec<i64>,
    #[serde(rename = "RRSCParities", default, deserialize_with = "null_as_default")]
    pub rrsc_parities: Vec<i64>,
    #[serde(rename = "RRSCParity", default, deserialize_with = "null_as_default")]
    pub rrsc_parity: i64,
    /// Erasure sets per pool.
    #[serde(rename = "TotalSets", default, deserialize_with = "null_as_default")]
    pub total_sets: Vec<i64>,
    /// Drives per erasure set, per pool.
    #[serde(rename = "DrivesPerSet", default, deserialize_with = "null_as_default")]
    pub drives_per_set: Vec<i64>,
}

/// Whether the account may read (list) and write (put objects in) a bucket:
/// `madmin.AccountAccess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AccountAccess {
    #[serde(default, deserialize_with = "null_as_default")]
    pub read: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub write: bool,
}

/// Features turned on for a bucket: `madmin.BucketDetails`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BucketDetails {
    #[serde(default, deserialize_with = "null_as_default")]
    pub versioning: bool,
    #[serde(
        rename = "versioningSuspended",
        default,
        deserialize_with = "null_as_default"
    )]
    pub versioning_suspended: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub locking: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    pub replication: bool,
    /// The bucket's tags (`tags.Tags`), `null` when none.
    #[serde(default)]
    pub tags: Option<Value>,
    /// The bucket's quota (`madmin.BucketQuota`), `null` when none.
    #[serde(default)]
    pub quota: Option<Value>,
    #[serde(
        rename = "sseType",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub sse_type: String,
    #[serde(
        rename = "sseKeyID",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub sse_key_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Value>,
    #[serde(
        rename = "qosRules",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_zero"
    )]
    pub qos_rules: i64,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub compression: bool,
    #[serde(
        rename = "compressionILM",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub compression_ilm: bool,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One bucket the account may reach, with its usage: `madmin.BucketAccessInfo`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct BucketAccessInfo {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Bytes stored (0 when the server keeps no usage figures).
    #[serde(default, deserialize_with = "null_as_default")]
    pub size: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub objects: u64,
    #[serde(default, deserialize_with = "null_as_default")]
    pub versions: u64,
    #[serde(
        rename = "deleteMarkers",
        default,
        deserialize_with = "null_as_default"
    )]
    pub delete_markers: u64,
    #[serde(rename = "objectHistogram", default)]
    pub object_histogram: Option<BTreeMap<String, u64>>,
    #[serde(rename = "objectsVersionsHistogram", default)]
    pub objects_versions_histogram: Option<BTreeMap<String, u64>>,
    #[serde(default)]
    pub details: Option<BucketDetails>,
    #[serde(rename = "prefixUsage", default)]
    pub prefix_usage: Option<BTreeMap<String, u64>>,
    /// Creation time, RFC 3339 (a Go `time.Time`).
    #[serde(default = "go_zero_time")]
    pub created: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub access: AccountAccess,
}
