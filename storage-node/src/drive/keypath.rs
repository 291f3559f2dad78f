//! How an object key becomes a path on a drive.
//!
//! A key `a/b/c` is stored in the directory `a/b/c/` of its bucket: the directory holds
//! the metadata file `~meta` and data directories `~d.<uuid>`. Keeping the key's
//! hierarchy on disk lets a listing with delimiter `/` read one directory instead of
//! scanning every key, and keeps sorted order cheap. A key ending in `/` (a "folder"
//! marker, as consoles and rclone create) uses `~dirmeta` and `~dd.<uuid>` in the same
//! directory, so `a/` and `a/b` coexist.
//!
//! Names starting with `~` are reserved for these files; a key segment that itself starts
//! with `~` is stored with one more `~` in front (`~x` → `~~x`) and decoded back by the
//! walk. Segments `.` and `..` and empty segments (`a//b`) are refused, so no key can
//! name a path outside its bucket.

use super::DriveError;

/// Largest key S3 accepts, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// Largest file name of common Linux file systems; a key segment must fit.
pub const MAX_SEGMENT_LEN: usize = 255;

pub const META_FILE: &str = "~meta";
pub const DIR_META_FILE: &str = "~dirmeta";
pub const DATA_PREFIX: &str = "~d.";
pub const DIR_DATA_PREFIX: &str = "~dd.";

/// Where one object lives inside its bucket directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPath {
    /// Relative directory, segments joined with `/`, already encoded.
    pub dir: String,
    pub meta_file: &'static str,
    pub data_prefix: &'static str,
}

/// Why a key cannot be stored; mapped to S3 errors by the layers above.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the object key is empty")]
    Empty,
    #[error("the object key is longer than {MAX_KEY_LEN} bytes")]
    TooLong,
    #[error("the object key contains a NUL character")]
    Nul,
    #[error("the object key contains an empty, '.' or '..' path segment")]
    BadSegment,
    #[error("a path segment of the object key is longer than {MAX_SEGMENT_LEN} bytes")]
    SegmentTooLong,
}

impl From<KeyError> for DriveError {
    fn from(e: KeyError) -> Self {
        DriveError::InvalidName(e.to_string())
    }
}

/// Checks the S3 rules and the rules of this on-disk layout.
pub fn validate_key(key: &str) -> Result<(), KeyError> {
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong);
    }
    if key.contains('\0') {
        return Err(KeyError::Nul);
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    if body.is_empty() {
        return Err(KeyError::BadSegment);
    }
    for seg in body.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(KeyError::BadSegment);
        }
        if encoded_len(seg) > MAX_SEGMENT_LEN {
            return Err(KeyError::SegmentTooLong);
        }
    }
    Ok(())
}

fn encoded_len(seg: &str) -> usize {
    seg.len() + usize::from(seg.starts_with('~'))
}

/// Encodes one key segment as a file name.
pub fn encode_segment(seg: &str) -> String {
    if seg.starts_with('~') {
        format!("~{seg}")
    } else {
        seg.to_string()
    }
}

/// What a directory entry of a bucket is: a key segment (decoded) or a reserved file.
pub fn decode_entry(name: &str) -> Option<String> {
    match name.strip_prefix('~') {
        Some(rest) if rest.starts_with('~') => Some(rest.to_string()),
        Some(_) => None,
        None => Some(name.to_string()),
    }
}

/// The directory and file names that hold `key`.
pub fn object_path(key: &str) -> Result<ObjectPath, KeyError> {
    validate_key(key)?;
    let (body, is_dir_marker) = match key.strip_suffix('/') {
        Some(b) => (b, true),
        None => (key, false),
    };
    let dir = body
        .split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/");
    Ok(ObjectPath {
        dir,
        meta_file: if is_dir_marker {
            DIR_META_FILE
        } else {
            META_FILE
        },
        data_prefix: if is_dir_marker {
            DIR_DATA_PREFIX
        } else {
            DATA_PREFIX
        },
    })
}

/// Checks a path inside the system volume: relative, no `.`/`..`/empty segments.
pub fn validate_sys_path(path: &str) -> Result<(), DriveError> {
    if path.is_empty()
        || path.len() > 4096
        || path.contains('\0')
        || path
            .split('/')
            .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(DriveError::InvalidName(format!(
            "invalid system path {path:?}"
        )));
    }
    Ok(())
}

/// Highest part number S3 allows; shard files are `part.1` to `part.10000`.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// Checks a data directory name as the object layer generates it: a lowercase hyphenated
/// UUID, which the drive prefixes with `~d.`/`~dd.` into one path segment. Peers send these
/// names, so anything else (`../../etc`, `/abs`, `a/b`) is refused, never joined to a path.
pub fn validate_data_dir(data_dir: &str) -> Result<(), DriveError> {
    let ok = data_dir.len() == 36
        && uuid::Uuid::try_parse(data_dir).is_ok_and(|u| u.hyphenated().to_string() == data_dir);
    if ok {
        Ok(())
    } else {
        Err(DriveError::InvalidName(format!(
            "invalid data directory {data_dir:?}"
        )))
    }
}

/// Checks the name of a shard file inside a data directory: `part.<n>`, `n` in
/// 1..=[`MAX_PART_NUMBER`] without leading zeros.
pub fn validate_shard_name(name: &str) -> Result<(), DriveError> {
    let ok = name
        .strip_prefix("part.")
        .filter(|n| !n.starts_with('0') && n.len() <= 5 && n.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| (1..=MAX_PART_NUMBER).contains(&n));
    if ok {
        Ok(())
    } else {
        Err(DriveError::InvalidName(format!(
            "invalid shard file {name:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_keys_map_to_directories() {
        let p = object_path("photos/2024/cat.jpg").unwrap();
        assert_eq!(p.dir, "photos/2024/cat.jpg");
        assert_eq!(p.meta_file, META_FILE);
    }

    #[test]
    fn folder_markers_share_the_directory() {
        let p = object_path("photos/").unwrap();
        assert_eq!(p.dir, "photos");
        assert_eq!(p.meta_file, DIR_META_FILE);
        assert_eq!(p.data_prefix, DIR_DATA_PREFIX);
    }

    #[test]
    fn tilde_segments_are_escaped_and_decoded() {
        let p = object_path("~meta/~d.x").unwrap();
        assert_eq!(p.dir, "~~meta/~~d.x");
        assert_eq!(decode_entry("~~meta").as_deref(), Some("~meta"));
        assert_eq!(decode_entry("~meta"), None);
        assert_eq!(decode_entry("~d.abc"), None);
        assert_eq!(decode_entry("plain").as_deref(), Some("plain"));
    }

    #[test]
    fn escaping_keys_are_refused() {
        for bad in [
            "", "/", "../x", "a/../b", "a/./b", "a//b", "/abs", "a\0b", ".",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(validate_key(&"a".repeat(1025)), Err(KeyError::TooLong));
        assert_eq!(
            validate_key(&"a".repeat(256)),
            Err(KeyError::SegmentTooLong)
        );
        assert!(validate_key(&"a/".repeat(500)).is_ok());
        assert!(validate_key("..a/b..").is_ok());
    }

    #[test]
    fn sys_paths_cannot_escape() {
        assert!(validate_sys_path("multipart/b/u").is_ok());
        for bad in ["", "../x", "a/../b", "/x", "a//b"] {
            assert!(validate_sys_path(bad).is_err());
        }
    }

    #[test]
    fn hostile_data_dirs_are_refused() {
        assert!(validate_data_dir("0b3c2a9e-6f1d-4a57-9a8e-2f0c7d1b5e44").is_ok());
        for bad in [
            "",
            "../../etc",
            "/etc",
            "/",
            "..",
            ".",
            "a/b",
            "0b3c2a9e-6f1d-4a57-9a8e-2f0c7d1b5e44/../..",
            "../0b3c2a9e-6f1d-4a57-9a8e-2f0c7d1b5e",
            "0B3C2A9E-6F1D-4A57-9A8E-2F0C7D1B5E44",
            "0b3c2a9e6f1d4a579a8e2f0c7d1b5e44",
            "{0b3c2a9e-6f1d-4a57-9a8e-2f0c7d1b5e44}",
            "0b3c2a9e-6f1d-4a57-9a8e-2f0c7d1b5e4\0",
        ] {
            assert!(validate_data_dir(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn hostile_shard_names_are_refused() {
        for good in ["part.1", "part.42", "part.10000"] {
            assert!(validate_shard_name(good).is_ok(), "{good:?}");
        }
        for bad in [
            "",
            "part.",
            "part.0",
            "part.01",
            "part.10001",
            "part.-1",
            "part.1/../x",
            "../part.1",
            "/etc/passwd",
            "part.99999999999",
            "data",
            "part.1 ",
        ] {
            assert!(validate_shard_name(bad).is_err(), "{bad:?} must be refused");
        }
    }
}
