//! The per-drive format file, `<drive>/.cairn.sys/format.json`, and the start-up logic
//! that reads, checks and (for a new deployment or a replaced drive) writes it.
//!
//! The format file is a drive's identity. It stops a server from writing into a drive
//! of another deployment, notices when the drive order on the command line changed (which
//! would silently scramble every object's shards), and tells a wiped drive apart from a
//! merely unplugged one.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use super::layout::{self, LayoutError};

/// Directory under each drive root that holds cairn's own files (shared with the drive
/// layer, which keeps its staging area and bucket metadata there).
pub const SYS_DIR: &str = ".cairn.sys";
/// Name of the format file inside [`SYS_DIR`].
pub const FORMAT_FILE: &str = "format.json";
/// Name of the healing marker inside [`SYS_DIR`].
pub const HEALING_FILE: &str = "healing.json";
/// The only format version this release reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Value of the `format` field, so a stray JSON file is not taken for a format.
pub const FORMAT_NAME: &str = "cairn-erasure";

/// The contents of `<drive>/.cairn.sys/format.json`, identical on every drive of a pool
/// except for `this`.
///
/// ```json
/// {
///   "version": 1,
///   "format": "cairn-erasure",
///   "deployment_id": "5c1c8f0e-…",
///   "this": "9b2d…",
///   "sets": [["9b2d…", "…", "…", "…"], ["…", "…", "…", "…"]],
///   "parity": 2
/// }
/// ```
///
/// * `version`: [`FORMAT_VERSION`]; a drive with another version is not read.
/// * `format`: always [`FORMAT_NAME`].
/// * `deployment_id`: random at the first start; every drive of the deployment has it.
/// * `this`: this drive's id.
/// * `sets`: the drive ids of every erasure set, in command-line order: the drive at
///   position `i` of the pool is `sets[i / set_size][i % set_size]`.
/// * `parity`: parity shards of the pool's default storage class when it was created.
///
/// Unknown fields are ignored, so a later version can add fields that older readers skip.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormatFile {
    pub version: u32,
    pub format: String,
    pub deployment_id: Uuid,
    pub this: Uuid,
    pub sets: Vec<Vec<Uuid>>,
    pub parity: usize,
}

impl FormatFile {
    /// Drives per erasure set (0 if `sets` is empty, which [`validate`](Self::validate)
    /// refuses).
    pub fn set_size(&self) -> usize {
        self.sets.first().map_or(0, Vec::len)
    }

    /// `(set, index in set)` of `this`.
    pub fn position(&self) -> Option<(usize, usize)> {
        self.sets.iter().enumerate().find_map(|(set, ids)| {
            ids.iter()
                .position(|id| *id == self.this)
                .map(|index| (set, index))
        })
    }

    /// Checks that the file is internally consistent; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != FORMAT_VERSION {
            return Err(format!(
                "format version {} is not supported (this cairn reads version {FORMAT_VERSION}); \
                 was the drive written by a different release?",
                self.version
            ));
        }
        if self.format != FORMAT_NAME {
            return Err(format!(
                "`format` is {:?}, not {FORMAT_NAME:?}: not a cairn format file",
                self.format
            ));
        }
        let set_size = self.set_size();
        if set_size == 0 || self.sets.iter().any(|s| s.len() != set_size) {
            return Err("the erasure sets are empty or of different sizes".into());
        }
        let mut ids = std::collections::HashSet::new();
        if !self.sets.iter().flatten().all(|id| ids.insert(*id)) {
            return Err("a drive id appears twice in the erasure sets".into());
        }
        if self.position().is_none() {
            return Err(format!(
                "this drive's id {} is in none of the sets",
                self.this
            ));
        }
        layout::check_parity(self.parity, set_size).map_err(|e| e.to_string())
    }
}

/// What [`inspect_drive`] found at a drive path. Serializable: in a distributed
/// deployment each server inspects its own drives and sends the result to its peers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriveFormatState {
    /// A valid format file.
    Ok(FormatFile),
    /// The directory exists but has no format file.
    Unformatted,
    /// The path does not exist.
    Missing,
    /// The path exists but is not a directory.
    NotADirectory,
    /// A format file exists but cannot be used; the text says why.
    Corrupt(String),
    /// The drive could not be read; the text says why.
    IoError(String),
}

impl DriveFormatState {
    /// A short description for messages.
    fn describe(&self) -> String {
        match self {
            DriveFormatState::Ok(_) => "formatted".into(),
            DriveFormatState::Unformatted => "no format file".into(),
            DriveFormatState::Missing => "path does not exist".into(),
            DriveFormatState::NotADirectory => "not a directory".into(),
            DriveFormatState::Corrupt(why) => format!("format file unusable: {why}"),
            DriveFormatState::IoError(why) => format!("cannot be read: {why}"),
        }
    }
}

/// Path of the format file of `drive`.
pub fn format_path(drive: &Path) -> PathBuf {
    drive.join(SYS_DIR).join(FORMAT_FILE)
}

/// Path of the healing marker of `drive`.
pub fn healing_path(drive: &Path) -> PathBuf {
    drive.join(SYS_DIR).join(HEALING_FILE)
}

/// Reads the format state of one drive. Never creates or changes anything, so it is safe
/// to call on any path (for example from a health check).
pub fn inspect_drive(path: &Path) -> DriveFormatState {
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return DriveFormatState::Missing,
        Err(e) => return DriveFormatState::IoError(e.to_string()),
        Ok(meta) if !meta.is_dir() => return DriveFormatState::NotADirectory,
        Ok(_) => {}
    }
    let bytes = match fs::read(format_path(path)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return DriveFormatState::Unformatted,
        Err(e) => {
            return DriveFormatState::IoError(format!("{}: {e}", format_path(path).display()));
        }
    };
    let format: FormatFile = match serde_json::from_slice(&bytes) {
        Ok(format) => format,
        Err(e) => return DriveFormatState::Corrupt(format!("not valid format JSON: {e}")),
    };
    match format.validate() {
        Ok(()) => DriveFormatState::Ok(format),
        Err(why) => DriveFormatState::Corrupt(why),
    }
}

/// Left in `<drive>/.cairn.sys/healing.json` when a wiped or replaced drive got its
/// format back: the drive has its identity but none of its shards. The heal layer
/// rebuilds it and then calls [`clear_healing_marker`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealingMarker {
    /// When the drive was re-formatted (RFC 3339, UTC).
    pub started: String,
    pub deployment_id: Uuid,
    pub drive_id: Uuid,
}

/// The healing marker of `drive`, if it has one.
pub fn read_healing_marker(drive: &Path) -> Result<Option<HealingMarker>, FormatError> {
    let path = healing_path(drive);
    match fs::read(&path) {
        Ok(bytes) => {
            serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| FormatError::BadHealingMarker {
                    path,
                    reason: e.to_string(),
                })
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(FormatError::Io { path, source }),
    }
}

/// Removes the healing marker once the drive is rebuilt. Not an error if there is none.
pub fn clear_healing_marker(drive: &Path) -> Result<(), FormatError> {
    let path = healing_path(drive);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(&drive.join(SYS_DIR)).map_err(|source| FormatError::Io {
            path: drive.join(SYS_DIR),
            source,
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(FormatError::Io { path, source }),
    }
}

/// The state of one drive after start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveStatus {
    /// Formatted and part of this deployment.
    Online(FormatFile),
    /// Not usable now; the text says why. Cairn neither creates nor formats it; it comes
    /// back on a later start once the operator fixes it.
    Offline(String),
    /// Has its format but its data must be rebuilt (re-formatted after a wipe, or such a
    /// rebuild is still in progress: the healing marker is present).
    Healing(FormatFile),
}

impl DriveStatus {
    /// The drive's format unless it is offline.
    pub fn format(&self) -> Option<&FormatFile> {
        match self {
            DriveStatus::Online(f) | DriveStatus::Healing(f) => Some(f),
            DriveStatus::Offline(_) => None,
        }
    }
}

/// Result of [`load_or_init`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatOutcome {
    pub deployment_id: Uuid,
    /// Drive ids of every set, as stored in the formats.
    pub sets: Vec<Vec<Uuid>>,
    /// The parity stored in the format (which wins over the command line's).
    pub parity: usize,
    /// One entry per drive, in the order given.
    pub drives: Vec<DriveStatus>,
    /// True when this start created the deployment.
    pub fresh: bool,
    /// What happened that an operator should hear about (log these at info or warn).
    pub notices: Vec<String>,
}

/// Why the drives cannot be brought up. Messages name the drive at fault.
#[derive(Debug, Error)]
pub enum FormatError {
    #[error("no drives given")]
    NoDrives,
    #[error("{drives} drives cannot be split into erasure sets of {set_size}")]
    BadGeometry { drives: usize, set_size: usize },
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(
        "drive {drive} belongs to deployment {found}, the others to {expected}: it is a drive \
         of another cairn deployment; remove it from the command line or wipe it"
    )]
    ForeignDrive {
        drive: PathBuf,
        found: Uuid,
        expected: Uuid,
    },
    #[error(
        "the formats on {drive} and {other} disagree on the drive ids of the erasure sets; \
         one of them was changed by hand or copied from another deployment"
    )]
    SetsDisagree { drive: PathBuf, other: PathBuf },
    #[error(
        "the formats on {drive} (EC:{parity}) and {other} (EC:{other_parity}) disagree on \
         parity; one of them was changed by hand"
    )]
    ParityDisagrees {
        drive: PathBuf,
        parity: usize,
        other: PathBuf,
        other_parity: usize,
    },
    #[error(
        "format on {drive} has {stored_sets} set(s) of {stored_size} drives, the command line \
         gives {given_sets} set(s) of {given_size}; start with the drives the deployment was \
         created with (new capacity goes into a new pool)"
    )]
    ShapeMismatch {
        drive: PathBuf,
        stored_sets: usize,
        stored_size: usize,
        given_sets: usize,
        given_size: usize,
    },
    #[error(
        "drives {first} and {second} both carry drive id {id}; one is a copy of the other — \
         wipe the copy so it is rebuilt"
    )]
    DuplicateDriveId {
        first: PathBuf,
        second: PathBuf,
        id: Uuid,
    },
    #[error(
        "drive {drive} was drive {stored_index} of set {stored_set} when formatted but is now \
         given as drive {given_index} of set {given_set}: the order of the drives on the \
         command line changed; restore the original order"
    )]
    DriveMoved {
        drive: PathBuf,
        stored_set: usize,
        stored_index: usize,
        given_set: usize,
        given_index: usize,
    },
    #[error(
        "only {have} of {total} drives have a readable format; refusing to guess ({details}). \
         Bring the missing drives back; if this is a new deployment whose first start was \
         interrupted, remove .cairn.sys from the drives that have it and start again"
    )]
    NotEnoughFormats {
        have: usize,
        total: usize,
        details: String,
    },
    #[error(
        "cannot create a new deployment: drive {drive} is unusable ({reason}); every drive \
         must be usable at the first start"
    )]
    FreshDriveUnusable { drive: PathBuf, reason: String },
    #[error("cannot create drive directory {drive}: {source}")]
    CreateDrive {
        drive: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("healing marker {path} is unreadable: {reason}")]
    BadHealingMarker { path: PathBuf, reason: String },
}

/// Brings the drives of one pool up at start-up: reads every drive's format, checks them
/// against each other and the command line, and writes formats where that is safe.
///
/// `drives` are in command-line order; drive `i` belongs to set `i / set_size`. `parity`
/// is the configured parity, used for a new deployment.
///
/// * No drive has a format (all are empty directories or missing): a new deployment.
///   Missing drive directories are created (only here), ids are generated and every
///   drive gets its format.
/// * Otherwise at least half the drives must have a readable format, all of the same
///   deployment, set shape and parity, each at the position its id has in `sets`.
///   A drive whose directory exists but has no format was wiped or replaced: it gets the
///   format of its position back, a healing marker, and status [`DriveStatus::Healing`].
///   A missing, non-directory, unreadable or corrupt drive is [`DriveStatus::Offline`]
///   and left alone.
/// * A configured parity different from the stored one is reported in `notices`; the
///   stored one is returned, because existing objects were written with it.
pub fn load_or_init(
    drives: &[PathBuf],
    set_size: usize,
    parity: usize,
) -> Result<FormatOutcome, FormatError> {
    if drives.is_empty() {
        return Err(FormatError::NoDrives);
    }
    if set_size == 0 || drives.len() % set_size != 0 {
        return Err(FormatError::BadGeometry {
            drives: drives.len(),
            set_size,
        });
    }
    let states: Vec<DriveFormatState> = drives.iter().map(|d| inspect_drive(d)).collect();
    let have = states
        .iter()
        .filter(|s| matches!(s, DriveFormatState::Ok(_)))
        .count();
    let untouched = states
        .iter()
        .all(|s| matches!(s, DriveFormatState::Unformatted | DriveFormatState::Missing));
    if untouched {
        return init_fresh(drives, &states, set_size, parity);
    }
    if have == 0
        && !states
            .iter()
            .any(|s| matches!(s, DriveFormatState::Corrupt(_)))
    {
        // Nothing was ever formatted, but a drive cannot be: say which, rather than
        // "0 of N drives have a format".
        if let Some((drive, state)) = drives.iter().zip(&states).find(|(_, s)| {
            matches!(
                s,
                DriveFormatState::NotADirectory | DriveFormatState::IoError(_)
            )
        }) {
            return Err(FormatError::FreshDriveUnusable {
                drive: drive.clone(),
                reason: state.describe(),
            });
        }
    }
    if have * 2 < drives.len() {
        let details = drives
            .iter()
            .zip(&states)
            .filter(|(_, s)| !matches!(s, DriveFormatState::Ok(_)))
            .map(|(d, s)| format!("{}: {}", d.display(), s.describe()))
            .collect::<Vec<_>>()
            .join("; ");
        return Err(FormatError::NotEnoughFormats {
            have,
            total: drives.len(),
            details,
        });
    }
    load_existing(drives, &states, set_size, parity)
}

/// The formats found, with the index of their drive.
fn formatted(states: &[DriveFormatState]) -> impl Iterator<Item = (usize, &FormatFile)> {
    states.iter().enumerate().filter_map(|(i, s)| match s {
        DriveFormatState::Ok(f) => Some((i, f)),
        _ => None,
    })
}

/// Checks the formats found against each other and against the drive positions given
/// (`drives[i]` is position `i`: set `i / set_size`, index `i % set_size`) and returns the
/// reference format of the pool. Every disagreement is an error naming the drive.
pub fn reference_format(
    drives: &[PathBuf],
    states: &[DriveFormatState],
    set_size: usize,
) -> Result<FormatFile, FormatError> {
    // The deployment most drives belong to is the reference; ties go to the earliest
    // drive. Any drive that differs is an error either way.
    let mut votes: HashMap<Uuid, (usize, usize)> = HashMap::new();
    for (i, f) in formatted(states) {
        votes.entry(f.deployment_id).or_insert((0, i)).0 += 1;
    }
    let Some((ref_index, reference)) = votes
        .values()
        .max_by_key(|(count, first)| (*count, std::cmp::Reverse(*first)))
        .and_then(|(_, first)| match &states[*first] {
            DriveFormatState::Ok(f) => Some((*first, f.clone())),
            _ => None,
        })
    else {
        return Err(FormatError::NotEnoughFormats {
            have: 0,
            total: drives.len(),
            details: String::new(),
        });
    };
    let ref_drive = &drives[ref_index];

    for (i, f) in formatted(states) {
        if f.deployment_id != reference.deployment_id {
            return Err(FormatError::ForeignDrive {
                drive: drives[i].clone(),
                found: f.deployment_id,
                expected: reference.deployment_id,
            });
        }
    }
    for (i, f) in formatted(states) {
        if f.sets != reference.sets {
            return Err(FormatError::SetsDisagree {
                drive: drives[i].clone(),
                other: ref_drive.clone(),
            });
        }
        if f.parity != reference.parity {
            return Err(FormatError::ParityDisagrees {
                drive: drives[i].clone(),
                parity: f.parity,
                other: ref_drive.clone(),
                other_parity: reference.parity,
            });
        }
    }
    if reference.set_size() != set_size || reference.sets.len() != drives.len() / set_size {
        return Err(FormatError::ShapeMismatch {
            drive: ref_drive.clone(),
            stored_sets: reference.sets.len(),
            stored_size: reference.set_size(),
            given_sets: drives.len() / set_size,
            given_size: set_size,
        });
    }
    let mut carriers: HashMap<Uuid, usize> = HashMap::new();
    for (i, f) in formatted(states) {
        if let Some(first) = carriers.insert(f.this, i) {
            return Err(FormatError::DuplicateDriveId {
                first: drives[first].clone(),
                second: drives[i].clone(),
                id: f.this,
            });
        }
    }
    for (i, f) in formatted(states) {
        // validate() guarantees a position; a missing one counts as misplaced.
        let (set, index) = f.position().unwrap_or((usize::MAX, usize::MAX));
        if set.checked_mul(set_size).and_then(|s| s.checked_add(index)) != Some(i) {
            return Err(FormatError::DriveMoved {
                drive: drives[i].clone(),
                stored_set: set.saturating_add(1),
                stored_index: index.saturating_add(1),
                given_set: i / set_size + 1,
                given_index: i % set_size + 1,
            });
        }
    }

    Ok(reference)
}

fn load_existing(
    drives: &[PathBuf],
    states: &[DriveFormatState],
    set_size: usize,
    parity: usize,
) -> Result<FormatOutcome, FormatError> {
    let reference = reference_format(drives, states, set_size)?;
    let mut notices = Vec::new();
    if parity != reference.parity {
        notices.push(format!(
            "parity changed from EC:{} to EC:{parity} on the command line; keeping EC:{} \
             (stored in the format) for this pool's erasure sets",
            reference.parity, reference.parity
        ));
    }
    let have = formatted(states).count();
    let mut statuses = Vec::with_capacity(drives.len());
    for (i, (drive, state)) in drives.iter().zip(states).enumerate() {
        let status = match state {
            DriveFormatState::Ok(f) => {
                if healing_path(drive).exists() {
                    notices.push(format!(
                        "drive {} is still being healed (its healing marker is present)",
                        drive.display()
                    ));
                    DriveStatus::Healing(f.clone())
                } else {
                    DriveStatus::Online(f.clone())
                }
            }
            DriveFormatState::Unformatted => {
                let format = FormatFile {
                    this: reference.sets[i / set_size][i % set_size],
                    ..reference.clone()
                };
                match reformat(drive, &format) {
                    Ok(()) => {
                        notices.push(format!(
                            "drive {} has no format while {have} of {} drives do: it was \
                             wiped or replaced; restored its format (drive id {}) and marked \
                             it for healing",
                            drive.display(),
                            drives.len(),
                            format.this
                        ));
                        DriveStatus::Healing(format)
                    }
                    Err(e) => offline(&mut notices, drive, format!("cannot re-format: {e}")),
                }
            }
            DriveFormatState::Missing => offline(
                &mut notices,
                drive,
                "path does not exist (cairn does not create drive directories of an existing \
                 deployment: mount the drive or create the directory and restart)"
                    .into(),
            ),
            DriveFormatState::NotADirectory => {
                offline(&mut notices, drive, "not a directory".into())
            }
            DriveFormatState::Corrupt(why) => offline(
                &mut notices,
                drive,
                format!(
                    "format file unusable: {why} (move {} away to have the drive re-formatted \
                     and healed)",
                    format_path(drive).display()
                ),
            ),
            DriveFormatState::IoError(why) => {
                offline(&mut notices, drive, format!("cannot be read: {why}"))
            }
        };
        statuses.push(status);
    }

    Ok(FormatOutcome {
        deployment_id: reference.deployment_id,
        sets: reference.sets,
        parity: reference.parity,
        drives: statuses,
        fresh: false,
        notices,
    })
}

fn offline(notices: &mut Vec<String>, drive: &Path, reason: String) -> DriveStatus {
    notices.push(format!("drive {} is offline: {reason}", drive.display()));
    DriveStatus::Offline(reason)
}

/// Writes the healing marker, then the format. In this order a crash in between leaves a
/// drive without format (re-formatted again at the next start) rather than a formatted
/// drive that nobody knows to rebuild.
pub fn reformat(drive: &Path, format: &FormatFile) -> Result<(), FormatError> {
    let sys = drive.join(SYS_DIR);
    ensure_dir(&sys)?;
    let marker = HealingMarker {
        started: chrono::Utc::now().to_rfc3339(),
        deployment_id: format.deployment_id,
        drive_id: format.this,
    };
    write_json(&sys, HEALING_FILE, &marker)?;
    write_json(&sys, FORMAT_FILE, format)
}

fn init_fresh(
    drives: &[PathBuf],
    states: &[DriveFormatState],
    set_size: usize,
    parity: usize,
) -> Result<FormatOutcome, FormatError> {
    layout::check_parity(parity, set_size)?;
    let mut notices = Vec::new();
    for (drive, state) in drives.iter().zip(states) {
        if *state == DriveFormatState::Missing {
            fs::create_dir_all(drive).map_err(|source| FormatError::CreateDrive {
                drive: drive.clone(),
                source,
            })?;
            notices.push(format!("created drive directory {}", drive.display()));
        }
    }
    let deployment_id = Uuid::new_v4();
    let ids: Vec<Uuid> = drives.iter().map(|_| Uuid::new_v4()).collect();
    let sets: Vec<Vec<Uuid>> = ids.chunks(set_size).map(<[Uuid]>::to_vec).collect();
    let mut statuses = Vec::with_capacity(drives.len());
    for (drive, id) in drives.iter().zip(&ids) {
        let format = FormatFile {
            version: FORMAT_VERSION,
            format: FORMAT_NAME.to_string(),
            deployment_id,
            this: *id,
            sets: sets.clone(),
            parity,
        };
        let sys = drive.join(SYS_DIR);
        ensure_dir(&sys)?;
        write_json(&sys, FORMAT_FILE, &format)?;
        statuses.push(DriveStatus::Online(format));
    }
    notices.push(format!(
        "formatted {} drives as new deployment {deployment_id}: {} set(s) of {set_size} \
         drives, EC:{parity}",
        drives.len(),
        sets.len()
    ));
    Ok(FormatOutcome {
        deployment_id,
        sets,
        parity,
        drives: statuses,
        fresh: true,
        notices,
    })
}

/// Formats for `count` new drives of a new deployment (or a new pool of the deployment
/// `deployment_id`), position `i` getting element `i`.
pub fn new_formats(
    count: usize,
    set_size: usize,
    parity: usize,
    deployment_id: Option<Uuid>,
) -> Vec<FormatFile> {
    let deployment_id = deployment_id.unwrap_or_else(Uuid::new_v4);
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::new_v4()).collect();
    let sets: Vec<Vec<Uuid>> = ids.chunks(set_size.max(1)).map(<[Uuid]>::to_vec).collect();
    ids.iter()
        .map(|id| FormatFile {
            version: FORMAT_VERSION,
            format: FORMAT_NAME.to_string(),
            deployment_id,
            this: *id,
            sets: sets.clone(),
            parity,
        })
        .collect()
}

/// Writes the format of a new deployment on an unformatted drive, creating its directory
/// if needed. Refuses a drive that already has a format, so that a late or repeated call
/// can never re-format a drive in use.
pub fn write_fresh(drive: &Path, format: &FormatFile) -> Result<(), FormatError> {
    match inspect_drive(drive) {
        DriveFormatState::Ok(existing) if existing == *format => return Ok(()),
        DriveFormatState::Ok(_) => {
            return Err(FormatError::Write {
                path: format_path(drive),
                source: io::Error::other("the drive is already formatted"),
            });
        }
        _ => {}
    }
    fs::create_dir_all(drive).map_err(|source| FormatError::CreateDrive {
        drive: drive.to_path_buf(),
        source,
    })?;
    let sys = drive.join(SYS_DIR);
    ensure_dir(&sys)?;
    write_json(&sys, FORMAT_FILE, format)
}

/// Creates `dir` (one level: the drive root must already exist) if needed.
fn ensure_dir(dir: &Path) -> Result<(), FormatError> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(source) => Err(FormatError::Write {
            path: dir.to_path_buf(),
            source,
        }),
    }
}

/// Writes `value` as `dir/name` atomically: a temporary file in the same directory,
/// fsync'd, renamed over the target, then the directory fsync'd, so a crash leaves the
/// old file or the new one, never a torn one.
fn write_json<T: Serialize>(dir: &Path, name: &str, value: &T) -> Result<(), FormatError> {
    let target = dir.join(name);
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| FormatError::Write {
        path: target.clone(),
        source: io::Error::other(e),
    })?;
    bytes.push(b'\n');
    let tmp = dir.join(format!(".{name}.tmp-{}", Uuid::new_v4().simple()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, &target)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        // Best effort: the temporary file may not exist or may already be renamed.
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(|source| FormatError::Write {
        path: target,
        source,
    })
}

/// Makes a rename or removal in `dir` durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Pool {
        _tmp: tempfile::TempDir,
        drives: Vec<PathBuf>,
    }

    fn pool(n: usize) -> Pool {
        let tmp = tempfile::tempdir().unwrap();
        let drives = (0..n).map(|i| tmp.path().join(format!("d{i}"))).collect();
        Pool { _tmp: tmp, drives }
    }

    fn wipe(drive: &Path) {
        fs::remove_dir_all(drive.join(SYS_DIR)).unwrap();
    }

    fn online(outcome: &FormatOutcome) -> usize {
        outcome
            .drives
            .iter()
            .filter(|d| matches!(d, DriveStatus::Online(_)))
            .count()
    }

    #[test]
    fn fresh_init_creates_and_formats_every_drive() {
        let p = pool(8);
        let out = load_or_init(&p.drives, 4, 2).unwrap();
        assert!(out.fresh);
        assert_eq!(online(&out), 8);
        assert_eq!(out.sets.len(), 2);
        assert!(out.sets.iter().all(|s| s.len() == 4));
        assert_eq!(out.parity, 2);
        for (i, drive) in p.drives.iter().enumerate() {
            assert!(drive.is_dir());
            let DriveFormatState::Ok(f) = inspect_drive(drive) else {
                panic!("{} not formatted", drive.display());
            };
            assert_eq!(f.deployment_id, out.deployment_id);
            assert_eq!(f.sets, out.sets);
            assert_eq!(f.position(), Some((i / 4, i % 4)));
            assert_eq!(Some(&f), out.drives[i].format());
            // No temporary files left behind.
            let names: Vec<_> = fs::read_dir(drive.join(SYS_DIR))
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            assert_eq!(names, vec![std::ffi::OsString::from(FORMAT_FILE)]);
        }
        let text = fs::read_to_string(format_path(&p.drives[0])).unwrap();
        assert!(text.contains("\"format\": \"cairn-erasure\""), "{text}");
        assert!(text.contains("\"version\": 1"), "{text}");
    }

    #[test]
    fn restart_finds_the_same_deployment() {
        let p = pool(4);
        let first = load_or_init(&p.drives, 4, 2).unwrap();
        let second = load_or_init(&p.drives, 4, 2).unwrap();
        assert!(!second.fresh);
        assert_eq!(second.deployment_id, first.deployment_id);
        assert_eq!(second.sets, first.sets);
        assert_eq!(second.drives, first.drives);
        assert!(second.notices.is_empty(), "{:?}", second.notices);
    }

    #[test]
    fn wiped_drive_is_reformatted_and_marked_for_healing() {
        let p = pool(4);
        let first = load_or_init(&p.drives, 4, 2).unwrap();
        wipe(&p.drives[2]);
        let out = load_or_init(&p.drives, 4, 2).unwrap();
        let DriveStatus::Healing(f) = &out.drives[2] else {
            panic!("expected healing, got {:?}", out.drives[2]);
        };
        assert_eq!(f.this, first.sets[0][2]);
        assert_eq!(f.deployment_id, first.deployment_id);
        assert_eq!(online(&out), 3);
        assert!(out.notices.iter().any(|n| n.contains("wiped or replaced")));
        let marker = read_healing_marker(&p.drives[2]).unwrap().unwrap();
        assert_eq!(marker.drive_id, f.this);
        assert!(chrono::DateTime::parse_from_rfc3339(&marker.started).is_ok());

        // Still healing on the next start, until the heal layer clears the marker.
        let again = load_or_init(&p.drives, 4, 2).unwrap();
        assert!(matches!(again.drives[2], DriveStatus::Healing(_)));
        clear_healing_marker(&p.drives[2]).unwrap();
        clear_healing_marker(&p.drives[2]).unwrap();
        let healed = load_or_init(&p.drives, 4, 2).unwrap();
        assert_eq!(online(&healed), 4);
        assert_eq!(read_healing_marker(&p.drives[2]).unwrap(), None);
    }

    #[test]
    fn foreign_drive_is_refused() {
        let a = pool(4);
        let b = pool(4);
        let fa = load_or_init(&a.drives, 4, 2).unwrap();
        let fb = load_or_init(&b.drives, 4, 2).unwrap();
        fs::copy(format_path(&b.drives[3]), format_path(&a.drives[3])).unwrap();
        let err = load_or_init(&a.drives, 4, 2).unwrap_err();
        match &err {
            FormatError::ForeignDrive {
                drive,
                found,
                expected,
            } => {
                assert_eq!(drive, &a.drives[3]);
                assert_eq!(*found, fb.deployment_id);
                assert_eq!(*expected, fa.deployment_id);
            }
            other => panic!("unexpected {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("belongs to deployment {}", fb.deployment_id)),
            "{msg}"
        );
        assert!(
            msg.contains(&format!("the others to {}", fa.deployment_id)),
            "{msg}"
        );
    }

    #[test]
    fn swapped_drives_are_refused() {
        let p = pool(4);
        load_or_init(&p.drives, 4, 2).unwrap();
        let mut swapped = p.drives.clone();
        swapped.swap(1, 2);
        let err = load_or_init(&swapped, 4, 2).unwrap_err();
        match &err {
            FormatError::DriveMoved {
                drive,
                stored_index,
                given_index,
                ..
            } => {
                assert_eq!(drive, &p.drives[2]);
                assert_eq!((*stored_index, *given_index), (3, 2));
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("order of the drives"));
    }

    #[test]
    fn copied_drive_is_refused() {
        let p = pool(4);
        load_or_init(&p.drives, 4, 2).unwrap();
        fs::copy(format_path(&p.drives[0]), format_path(&p.drives[1])).unwrap();
        let err = load_or_init(&p.drives, 4, 2).unwrap_err();
        assert!(
            matches!(err, FormatError::DuplicateDriveId { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn missing_drive_is_offline_and_not_recreated() {
        let p = pool(4);
        load_or_init(&p.drives, 4, 2).unwrap();
        fs::remove_dir_all(&p.drives[1]).unwrap();
        let out = load_or_init(&p.drives, 4, 2).unwrap();
        let DriveStatus::Offline(reason) = &out.drives[1] else {
            panic!("expected offline, got {:?}", out.drives[1]);
        };
        assert!(reason.contains("does not exist"), "{reason}");
        assert!(!p.drives[1].exists());
        assert_eq!(online(&out), 3);
    }

    #[test]
    fn plain_file_is_offline() {
        let p = pool(4);
        load_or_init(&p.drives, 4, 2).unwrap();
        fs::remove_dir_all(&p.drives[3]).unwrap();
        fs::write(&p.drives[3], b"not a drive").unwrap();
        assert_eq!(inspect_drive(&p.drives[3]), DriveFormatState::NotADirectory);
        let out = load_or_init(&p.drives, 4, 2).unwrap();
        assert_eq!(
            out.drives[3],
            DriveStatus::Offline("not a directory".into())
        );
        assert_eq!(fs::read(&p.drives[3]).unwrap(), b"not a drive");
    }

    #[test]
    fn fresh_start_with_a_plain_file_is_refused() {
        let p = pool(4);
        fs::write(&p.drives[3], b"x").unwrap();
        let err = load_or_init(&p.drives, 4, 2).unwrap_err();
        assert!(
            matches!(err, FormatError::FreshDriveUnusable { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("d3"));
        // Nothing was created for the others either.
        assert!(!p.drives[0].exists());
    }

    #[test]
    fn too_few_formats_refuse_to_start() {
        let p = pool(8);
        load_or_init(&p.drives, 8, 4).unwrap();
        for d in &p.drives[..5] {
            wipe(d);
        }
        let err = load_or_init(&p.drives, 8, 4).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("only 3 of 8 drives have a readable format; refusing to guess"),
            "{err}"
        );
        // Nothing was re-formatted.
        assert_eq!(inspect_drive(&p.drives[0]), DriveFormatState::Unformatted);
        // Exactly half is enough.
        let q = pool(4);
        load_or_init(&q.drives, 4, 2).unwrap();
        wipe(&q.drives[0]);
        fs::remove_dir_all(&q.drives[1]).unwrap();
        let out = load_or_init(&q.drives, 4, 2).unwrap();
        assert!(matches!(out.drives[0], DriveStatus::Healing(_)));
        assert!(matches!(out.drives[1], DriveStatus::Offline(_)));
    }

    #[test]
    fn changed_set_shape_is_refused() {
        let p = pool(8);
        load_or_init(&p.drives, 8, 4).unwrap();
        let err = load_or_init(&p.drives, 4, 2).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("has 1 set(s) of 8 drives, the command line gives 2 set(s) of 4"),
            "{msg}"
        );
        let err = load_or_init(&p.drives[..4], 4, 2).unwrap_err();
        assert!(matches!(err, FormatError::ShapeMismatch { .. }), "{err:?}");
    }

    #[test]
    fn changed_parity_keeps_the_stored_one() {
        let p = pool(4);
        load_or_init(&p.drives, 4, 2).unwrap();
        let out = load_or_init(&p.drives, 4, 1).unwrap();
        assert_eq!(out.parity, 2);
        assert!(
            out.notices
                .iter()
                .any(|n| n.contains("parity changed from EC:2 to EC:1")),
            "{:?}",
            out.notices
        );
    }

    #[test]
    fn fresh_init_checks_parity() {
        let p = pool(4);
        let err = load_or_init(&p.drives, 4, 3).unwrap_err();
        assert!(matches!(
            err,
            FormatError::Layout(LayoutError::ParityTooHigh { .. })
        ));
        assert!(!p.drives[0].exists());
        assert!(matches!(
            load_or_init(&p.drives, 3, 1),
            Err(FormatError::BadGeometry { .. })
        ));
        assert!(matches!(
            load_or_init(&[], 4, 2),
            Err(FormatError::NoDrives)
        ));
    }

    #[test]
    fn corrupt_format_is_offline_and_untouched() {
        let p = pool(4);
        load_or_init(&p.drives, 4, 2).unwrap();
        fs::write(format_path(&p.drives[0]), b"{ garbage").unwrap();
        assert!(matches!(
            inspect_drive(&p.drives[0]),
            DriveFormatState::Corrupt(_)
        ));
        let out = load_or_init(&p.drives, 4, 2).unwrap();
        assert!(matches!(&out.drives[0], DriveStatus::Offline(r) if r.contains("unusable")));
        assert_eq!(fs::read(format_path(&p.drives[0])).unwrap(), b"{ garbage");
    }

    #[test]
    fn inspect_rejects_inconsistent_formats_and_creates_nothing() {
        let p = pool(1);
        assert_eq!(inspect_drive(&p.drives[0]), DriveFormatState::Missing);
        assert!(!p.drives[0].exists());
        fs::create_dir(&p.drives[0]).unwrap();
        assert_eq!(inspect_drive(&p.drives[0]), DriveFormatState::Unformatted);
        assert!(!p.drives[0].join(SYS_DIR).exists());

        let good = FormatFile {
            version: 1,
            format: FORMAT_NAME.into(),
            deployment_id: Uuid::new_v4(),
            this: Uuid::new_v4(),
            sets: vec![],
            parity: 0,
        };
        let id = good.this;
        let cases = [
            FormatFile {
                version: 2,
                sets: vec![vec![id]],
                ..good.clone()
            },
            FormatFile {
                format: "minio".into(),
                sets: vec![vec![id]],
                ..good.clone()
            },
            FormatFile {
                sets: vec![],
                ..good.clone()
            },
            FormatFile {
                sets: vec![vec![Uuid::new_v4()]],
                ..good.clone()
            },
            FormatFile {
                sets: vec![vec![id, id]],
                parity: 1,
                ..good.clone()
            },
            FormatFile {
                sets: vec![vec![id, Uuid::new_v4()], vec![Uuid::new_v4()]],
                parity: 1,
                ..good.clone()
            },
            FormatFile {
                sets: vec![vec![id, Uuid::new_v4()]],
                parity: 2,
                ..good.clone()
            },
        ];
        fs::create_dir(p.drives[0].join(SYS_DIR)).unwrap();
        for bad in cases {
            fs::write(format_path(&p.drives[0]), serde_json::to_vec(&bad).unwrap()).unwrap();
            assert!(
                matches!(inspect_drive(&p.drives[0]), DriveFormatState::Corrupt(_)),
                "{bad:?}"
            );
        }
        let ok = FormatFile {
            sets: vec![vec![id]],
            ..good
        };
        fs::write(format_path(&p.drives[0]), serde_json::to_vec(&ok).unwrap()).unwrap();
        assert_eq!(inspect_drive(&p.drives[0]), DriveFormatState::Ok(ok));
    }

    #[test]
    fn single_drive_deployment() {
        let p = pool(1);
        let out = load_or_init(&p.drives, 1, 0).unwrap();
        assert_eq!(out.sets.len(), 1);
        let again = load_or_init(&p.drives, 1, 0).unwrap();
        assert_eq!(again.deployment_id, out.deployment_id);
    }
}
