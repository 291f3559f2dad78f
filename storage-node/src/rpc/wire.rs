//! JSON shapes exchanged by peers. Field names are the wire format: renaming one breaks
//! mixed-version clusters, so add fields with defaults instead.

use crate::cluster::format::{DriveFormatState, FormatFile};
use crate::drive::{DriveInfo, WalkEntry, WalkHeaders, WalkOptions};
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
    /// Absent from older peers' calls: every key's header (what they expect).
    #[serde(default)]
    pub headers: Headers,
}

/// [`WalkHeaders`] on the wire. An older server ignores the field and reads every header,
/// which a listing accepts (extra headers are extra copies).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Headers {
    #[default]
    All,
    None,
    Rotated {
        index: usize,
        of: usize,
        count: usize,
    },
}

impl From<WalkHeaders> for Headers {
    fn from(h: WalkHeaders) -> Self {
        match h {
            WalkHeaders::All => Headers::All,
            WalkHeaders::None => Headers::None,
            WalkHeaders::Rotated { index, of, count } => Headers::Rotated { index, of, count },
        }
    }
}

impl From<Headers> for WalkHeaders {
    fn from(h: Headers) -> Self {
        match h {
            Headers::All => WalkHeaders::All,
            Headers::None => WalkHeaders::None,
            Headers::Rotated { index, of, count } => WalkHeaders::Rotated { index, of, count },
        }
    }
}

impl From<&WalkOptions> for Walk {
    fn from(o: &WalkOptions) -> Self {
        Walk {
            prefix: o.prefix.clone(),
            marker: o.marker.clone(),
            recursive: o.recursive,
            limit: o.limit,
            headers: o.headers.into(),
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
            headers: w.headers.into(),
        }
    }
}

/// A walk entry; metadata headers travel as base64 because they are binary. Without
/// `meta`, an entry is a common prefix unless `object` says it is a key whose header
/// this drive was not asked for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub object: bool,
}

impl From<&WalkEntry> for Entry {
    fn from(e: &WalkEntry) -> Self {
        match e {
            WalkEntry::Object { key, meta } => Entry {
                key: key.clone(),
                meta: meta.as_ref().map(|m| B64.encode(m)),
                object: meta.is_none(),
            },
            WalkEntry::Prefix(p) => Entry {
                key: p.clone(),
                meta: None,
                object: false,
            },
        }
    }
}

impl Entry {
    pub fn into_walk_entry(self) -> Option<WalkEntry> {
        match self.meta {
            None if self.object => Some(WalkEntry::Object {
                key: self.key,
                meta: None,
            }),
            None => Some(WalkEntry::Prefix(self.key)),
            Some(m) => B64.decode(m).ok().map(|meta| WalkEntry::Object {
                key: self.key,
                meta: Some(meta.into()),
            }),
        }
    }
}

/// The answer to `drive/read_meta_headers`: one entry per key asked, in order, the
/// header in base64 or `None` when the drive has no metadata for that key.
pub type Headers64 = Vec<Option<String>>;

/// Encodes [`crate::drive::Drive::read_meta_headers`]'s answer for the wire.
pub fn headers_to_wire(headers: &[Option<bytes::Bytes>]) -> Headers64 {
    headers
        .iter()
        .map(|h| h.as_ref().map(|h| B64.encode(h)))
        .collect()
}

/// Decodes [`headers_to_wire`]; `None` when any header is not base64.
pub fn headers_from_wire(headers: Headers64) -> Option<Vec<Option<bytes::Bytes>>> {
    headers
        .into_iter()
        .map(|h| match h {
            None => Some(None),
            Some(h) => B64.decode(h).ok().map(|b| Some(b.into())),
        })
        .collect()
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
