//! ListObjectVersions: every version of every key under a prefix, newest first within
//! a key, keys in S3 order, on the same merged forward walk as `list_objects` (each page
//! walks from its key marker on, so its cost does not grow with the keys before it).
//!
//! Markers follow S3: `key_marker` alone starts after that key; with
//! `version_id_marker` the page starts with that key's versions after the one named
//! (read straight from the key's set), then goes on after the key.

use super::ObjectLayer;
use super::error::ObjectResult;
use super::list::{MAX_ROUNDS, Merged, common_prefix};
use super::meta::ObjectMeta;
use super::versioning::validate_version_id;
use crate::drive::{WalkHeaders, WalkOptions};

#[derive(Debug, Clone, Default)]
pub struct VersionParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub key_marker: String,
    pub version_id_marker: String,
    pub max_keys: usize,
}

/// One version (or delete marker) of a key.
#[derive(Debug, Clone)]
pub struct VersionEntry {
    pub key: String,
    pub meta: ObjectMeta,
    pub is_latest: bool,
}

#[derive(Debug, Default)]
pub struct VersionList {
    pub versions: Vec<VersionEntry>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

impl VersionList {
    /// Adds `key`'s versions from position `from` on while the page has room; true when
    /// the page filled before the key's last version.
    fn take_versions(
        &mut self,
        key: &str,
        versions: &[ObjectMeta],
        from: usize,
        max: usize,
    ) -> bool {
        for (i, m) in versions.iter().enumerate().skip(from) {
            if self.len() == max {
                self.truncated = true;
                return true;
            }
            self.versions.push(VersionEntry {
                key: key.to_string(),
                meta: m.clone(),
                is_latest: i == 0,
            });
            self.next_key_marker = Some(key.to_string());
            self.next_version_id_marker = Some(m.s3_version_id().to_string());
        }
        false
    }

    fn len(&self) -> usize {
        self.versions.len() + self.prefixes.len()
    }
}

impl ObjectLayer {
    pub async fn list_versions(
        &self,
        bucket: &str,
        p: &VersionParams,
    ) -> ObjectResult<VersionList> {
        self.require_bucket(bucket).await?;
        let mut out = VersionList::default();
        if p.max_keys == 0 {
            return Ok(out);
        }
        if !p.version_id_marker.is_empty() {
            validate_version_id(&p.version_id_marker)?;
        }
        if !p.version_id_marker.is_empty()
            && !p.key_marker.is_empty()
            && p.key_marker.starts_with(&p.prefix)
        {
            // The rest of the key the previous page stopped in.
            let set = self.pools[0].set_for(&p.key_marker);
            let set = if self.pools.len() == 1 {
                set
            } else {
                self.locate(bucket, &p.key_marker).await?
            };
            match set.resolve_file(bucket, &p.key_marker).await {
                Ok(r) => {
                    let all: Vec<ObjectMeta> =
                        r.file.versions.iter().map(|v| v.meta.clone()).collect();
                    if let Some(at) = all.iter().position(|m| m.is_named(&p.version_id_marker)) {
                        if out.take_versions(&p.key_marker, &all, at + 1, p.max_keys) {
                            return Ok(out);
                        }
                    }
                }
                Err(super::ObjectError::NoSuchKey) => {}
                Err(e) => return Err(e),
            }
        }
        let delim = p.delimiter.as_deref().filter(|d| !d.is_empty());
        let dir_mode = delim == Some("/");
        let mut marker = p.key_marker.clone();
        let mut skip_prefix: Option<String> = match delim {
            Some(d) if !dir_mode && marker.ends_with(d) => Some(marker.clone()),
            _ => None,
        };
        for _ in 0..MAX_ROUNDS {
            let mut walk_marker = marker.clone();
            if let Some(sp) = &skip_prefix {
                let end = format!("{sp}{}", char::MAX);
                if end > walk_marker {
                    walk_marker = end;
                }
            }
            let opts = WalkOptions {
                prefix: p.prefix.clone(),
                marker: walk_marker,
                recursive: !dir_mode,
                limit: p.max_keys - out.len() + 1,
                // merged_window gives each drive its share of the headers.
                headers: WalkHeaders::All,
            };
            let (entries, boundary) = self.merged_window(bucket, &opts).await?;
            for (name, entry) in entries {
                if out.len() == p.max_keys {
                    out.truncated = true;
                    return Ok(out);
                }
                if let Some(sp) = &skip_prefix {
                    if name.starts_with(sp.as_str()) {
                        marker = name;
                        continue;
                    }
                }
                marker = name.clone();
                let file = match entry {
                    Merged::Prefix => {
                        out.prefixes.push(name.clone());
                        out.next_key_marker = Some(name);
                        out.next_version_id_marker = None;
                        continue;
                    }
                    Merged::File(f) => f,
                };
                if let Some(d) = delim.filter(|_| !dir_mode) {
                    if let Some(cp) = common_prefix(&name, &p.prefix, d) {
                        skip_prefix = Some(cp.clone());
                        if cp.as_str() > p.key_marker.as_str() {
                            out.prefixes.push(cp.clone());
                            out.next_key_marker = Some(cp);
                            out.next_version_id_marker = None;
                        }
                        continue;
                    }
                }
                let all: Vec<ObjectMeta> = file.versions.into_iter().map(|v| v.meta).collect();
                if out.take_versions(&name, &all, 0, p.max_keys) {
                    return Ok(out);
                }
            }
            match boundary {
                None => return Ok(out),
                Some(b) if b > marker => marker = b,
                Some(_) => {}
            }
        }
        out.truncated = true;
        if out.next_key_marker.is_none() {
            out.next_key_marker = Some(marker);
        }
        Ok(out)
    }
}
