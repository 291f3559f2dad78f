//! The JSON documents of the admin API, shared by the server and the `cairn admin`
//! client (both directions, so every type is `Serialize` and `Deserialize`).

use serde::{Deserialize, Serialize};

/// `GET /cairn/admin/v1/info`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Info {
    /// `standalone` (directories) or `distributed` (URL endpoints).
    pub mode: String,
    pub deployment_id: Option<String>,
    /// The server that answered (`host:port`, or the listen address standalone).
    pub server: String,
    pub region: String,
    /// True when this is a server's own view only (`?local=1`): its drives and its
    /// heal state, no peers asked.
    #[serde(default)]
    pub local_only: bool,
    pub servers: Vec<ServerEntry>,
    pub pools: Vec<PoolEntry>,
    pub drives: Vec<DriveEntry>,
    pub usage: Usage,
    pub heal: HealProgress,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServerState {
    Online,
    Offline,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerEntry {
    /// `host:port` (the server part of its drives' endpoints).
    pub endpoint: String,
    pub state: ServerState,
    /// True for the server that answered.
    pub local: bool,
    pub drives: usize,
    pub drives_online: usize,
    pub drives_healing: usize,
    /// Why the server counts as offline, or why its own view could not be fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolEntry {
    pub index: usize,
    pub drives: usize,
    pub sets: usize,
    pub set_size: usize,
    pub data: usize,
    pub parity: usize,
    pub read_quorum: usize,
    pub write_quorum: usize,
    pub set_health: Vec<SetEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetEntry {
    pub index: usize,
    /// Drives that answer (healing drives answer, so they count).
    pub drives_online: usize,
    pub read_quorum: bool,
    pub write_quorum: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DriveState {
    Online,
    Offline,
    Healing,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveEntry {
    pub endpoint: String,
    /// `host:port` of the server holding it.
    pub server: String,
    pub pool: usize,
    pub set: usize,
    /// Position in its set.
    pub position: usize,
    pub state: DriveState,
    pub total: u64,
    pub free: u64,
    pub used: u64,
    /// Rebuild progress while the drive is healing (known to the drive's own server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healing: Option<DriveHealing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Progress of one drive rebuild.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveHealing {
    pub endpoint: String,
    /// The server doing the rebuild (the drive's server).
    pub server: String,
    pub pool: usize,
    pub set: usize,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub started: Option<String>,
    pub objects_done: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    pub objects_total: u64,
    pub percent: f64,
}

/// Capacity figures: raw sums over the drives that answered, and the usable share
/// (data shards / set size) of them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Usage {
    pub raw_capacity: u64,
    pub raw_free: u64,
    pub raw_used: u64,
    pub usable_capacity: u64,
    pub usable_free: u64,
    pub drives_total: usize,
    pub drives_online: usize,
    pub drives_offline: usize,
    pub drives_healing: usize,
}

/// An admin heal task (`POST /cairn/admin/v1/heal`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealTask {
    pub id: u64,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    pub bucket: Option<String>,
    pub prefix: String,
    pub deep: bool,
    pub started: String,
    pub finished: Option<String>,
    pub objects_scanned: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    pub buckets_healed: u64,
    pub error: Option<String>,
}

impl HealTask {
    pub fn is_finished(&self) -> bool {
        self.state == "done" || self.state == "failed"
    }
}

/// `GET /cairn/admin/v1/heal`, and the `heal` part of the info document.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealProgress {
    /// The server that answered.
    pub server: String,
    /// An admin task or a drive rebuild is running (on any server asked).
    pub running: bool,
    /// The latest admin task of this server has finished.
    pub done: bool,
    /// The latest admin task started on this server.
    pub task: Option<HealTask>,
    /// This server's totals since it started, over every way in (MRF, scanner, drive
    /// rebuilds, admin tasks): the `cairn_heal_objects_*` metrics.
    pub objects_scanned: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    /// Objects queued for repair after partial writes (MRF), on this server.
    pub mrf_queued: usize,
    pub scanner_running: bool,
    /// Drive rebuilds in progress or finished since start, on every server that
    /// answered.
    pub drives_healing: Vec<DriveHealing>,
    /// The same totals summed over every server that answered (each server counts
    /// the heals it ran).
    #[serde(default)]
    pub cluster: HealTotals,
    /// Servers whose heal state could not be fetched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub servers_unreachable: Vec<String>,
}

/// Heal totals over servers.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HealTotals {
    pub servers: usize,
    pub objects_scanned: u64,
    pub objects_healed: u64,
    pub objects_failed: u64,
    pub mrf_queued: usize,
}

/// The answer to `POST /cairn/admin/v1/heal`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealStarted {
    pub id: u64,
    pub server: String,
}

/// The JSON error body of the admin API (S3's error fields, in JSON as MinIO's admin
/// API does).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    #[serde(default)]
    pub resource: String,
    #[serde(default)]
    pub request_id: String,
    /// The running task, for `HealAlreadyRunning`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<u64>,
}
