//! JSON shapes exchanged by peers. Field names are the wire format: renaming one breaks
//! mixed-version clusters, so add fields with defaults instead.

use crate::cluster::format::{DriveFormatState, FormatFile};
use crate::drive::{DriveInfo, WalkEntry, WalkOptions};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
pub struct Info {
    pub total: u64,
    pub free: u64,
    pub used: u64,
}

impl From<&DriveInfo> for Info {
    fn from(i: &DriveInfo) -> Self {
        Info {
            total: i.total,
            free: i.free,
            used: i.used,
        }
    }
}

impl From<Info> for DriveInfo {
    fn from(i: Info) -> Self {
        DriveInfo {
            total: i.total,
            free: i.free,
            used: i.used,
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Walk {
    pub prefix: String,
    pub marker: String,
    pub recursive: bool,
    pub limit: usize,
}

impl From<&WalkOptions> for Walk {
    fn from(o: &WalkOptions) -> Self {
        Walk {
            prefix: o.prefix.clone(),
            marker: o.marker.clone(),
            recursive: o.recursive,
            limit: o.limit,
        }
    }
}

impl From<Walk> for WalkOptions {
    fn from(w: Walk) -> Self {
        WalkOptions {
            prefix: w.prefix,
            marker: w.marker,
            recursive: w.recursive,
            limit: w.limit,
        }
    }
}

/// A walk entry; metadata headers travel as base64 because they are binary.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<String>,
}

impl From<&WalkEntry> for Entry {
    fn from(e: &WalkEntry) -> Self {
        match e {
            WalkEntry::Object { key, meta } => Entry {
                key: key.clone(),
                meta: Some(B64.encode(meta)),
            },
            WalkEntry::Prefix(p) => Entry {
                key: p.clone(),
                meta: None,
            },
        }
    }
}

impl Entry {
    pub fn into_walk_entry(self) -> Option<WalkEntry> {
        match self.meta {
            None => Some(WalkEntry::Prefix(self.key)),
            Some(m) => B64.decode(m).ok().map(|meta| WalkEntry::Object {
                key: self.key,
                meta: meta.into(),
            }),
        }
    }
}

/// What a server tells a peer about itself at start-up, so that servers started with
/// different command lines refuse to form a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub version: String,
    /// Every endpoint of every pool, expanded, in command-line order.
    pub pools: Vec<Vec<String>>,
    /// Parity from the storage class setting, if one was given.
    pub parity: Option<usize>,
}

/// The format state of one drive and whether it carries a healing marker.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DriveFormat {
    pub state: DriveFormatState,
    pub healing: bool,
}

/// A request to write a format (fresh deployment) on a peer's drive.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WriteFormat {
    pub format: FormatFile,
}
