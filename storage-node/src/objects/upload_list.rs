//! ListMultipartUploads from an index kept in key order, so a page reads the records of
//! the uploads it returns instead of every upload of the bucket.
//!
//! An upload's record stays where it was (`multipart/<bucket>/<upload-id>/upload.json`, by
//! id, see `multipart`). Beside it every drive of the upload's set holds an empty index
//! entry under `multipart-index/<bucket>/` whose *name* sorts like S3 orders uploads
//! (key, then initiation time, then id):
//!
//! - the key's bytes in lowercase hex (an order-preserving code: fixed width per byte,
//!   digits in byte order), cut into chunks of [`CHUNK`] hex digits so every name fits a
//!   file name; a key longer than one chunk continues in directory `<chunk>~`;
//! - the last chunk is followed by `.<initiated ms, 16 hex digits>.<upload id>`.
//!
//! `.` sorts before every hex digit and `~` after them, so an entry of key `ab` comes
//! before the entries of `abc` and before the directory of the keys that continue `ab`'s
//! full chunk. A page lists the entry names (names only, no file is opened), merges the
//! sets' entries in order, skips what the markers say was returned and reads the quorum
//! record of each entry until it has one upload more than the page: at most a page plus
//! the stale entries it meets. Entries are written after the record (so an entry always has
//! one) and removed on abort and completion; an entry whose record is gone or completed
//! (a crash in between, an expired upload) is removed when a listing meets it, so each
//! stale entry costs one read once.
//!
//! Uploads created before the index existed are indexed by the first listing of their
//! bucket on each set (one read of every record), which then leaves a marker file
//! ([`INDEXED`]) so no later page scans again.

use super::ObjectLayer;
use super::error::ObjectResult;
use super::multipart::{UploadRecord, quorum_record, upload_dir};
use super::set::ErasureSet;
use bytes::Bytes;
use futures::future::join_all;
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// System directory of the index of `bucket`'s uploads.
const INDEX: &str = "multipart-index";
/// Hex digits of the key per entry name or directory (100 key bytes; the longest name,
/// `<200>.<16>.<36>`, is 254 bytes).
pub const CHUNK: usize = 200;
/// Marker file: every upload of the bucket on this set has its entry.
pub const INDEXED: &str = "indexed";

fn index_dir(bucket: &str) -> String {
    format!("{INDEX}/{bucket}")
}

/// The index entry of an upload, relative to the system volume.
pub fn entry_path(bucket: &str, key: &str, initiated_ms: i64, upload_id: &str) -> String {
    let hex = hex::encode(key.as_bytes());
    let mut path = index_dir(bucket);
    let mut rest = hex.as_str();
    while rest.len() > CHUNK {
        let (chunk, tail) = rest.split_at(CHUNK);
        path.push('/');
        path.push_str(chunk);
        path.push('~');
        rest = tail;
    }
    let ms = u64::try_from(initiated_ms).unwrap_or(0);
    format!("{path}/{rest}.{ms:016x}.{upload_id}")
}

/// One index entry, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub initiated_ms: i64,
    pub upload_id: String,
    /// Its path in the system volume.
    pub path: String,
}

impl Entry {
    fn order(&self) -> (&str, i64, &str) {
        (&self.key, self.initiated_ms, &self.upload_id)
    }
}

/// Decodes entry name `name` of a directory whose chunks so far decode to `key_hex`.
fn parse_entry(dir: &str, key_hex: &str, name: &str) -> Option<Entry> {
    let (chunk, rest) = name.split_once('.')?;
    let (ms, id) = rest.split_once('.')?;
    if ms.len() != 16 || chunk.len() > CHUNK {
        return None;
    }
    let bytes = hex::decode(format!("{key_hex}{chunk}")).ok()?;
    Some(Entry {
        key: String::from_utf8(bytes).ok()?,
        initiated_ms: i64::try_from(u64::from_str_radix(ms, 16).ok()?).ok()?,
        upload_id: id.to_string(),
        path: format!("{dir}/{name}"),
    })
}

/// What a page of ListMultipartUploads asks for.
#[derive(Debug, Clone, Copy)]
pub struct Page<'a> {
    pub prefix: &'a str,
    pub key_marker: &'a str,
    pub upload_id_marker: &'a str,
    pub max: usize,
}

impl Page<'_> {
    /// Whether the subtree of keys starting with `k` may hold keys of this page.
    fn wanted_subtree(&self, k: &[u8]) -> bool {
        let (p, m) = (self.prefix.as_bytes(), self.key_marker.as_bytes());
        let overlaps = k.starts_with(p) || p.starts_with(k);
        // Every key under `k` is longer than `k`; all sort before the marker when `k`
        // does and is not a prefix of it.
        let before_marker = k < m && !m.starts_with(k);
        overlaps && !before_marker
    }
}

/// Every entry any drive of `set` holds for `bucket` that `page` may want, in order.
/// Names only: no entry or record is opened.
async fn set_entries(set: &ErasureSet, bucket: &str, page: &Page<'_>) -> Vec<Entry> {
    let mut out = Vec::new();
    // Depth-first over the chunk directories (a key of 1,024 bytes is 11 levels deep).
    let mut dirs = vec![(index_dir(bucket), String::new())];
    while let Some((dir, key_hex)) = dirs.pop() {
        let names: BTreeSet<String> = join_all(set.drives.iter().map(|d| d.list_sys_dir(&dir)))
            .await
            .into_iter()
            .flatten()
            .flatten()
            .collect();
        for name in names {
            if let Some(chunk) = name.strip_suffix('~') {
                let sub = format!("{key_hex}{chunk}");
                if chunk.len() == CHUNK && hex::decode(&sub).is_ok_and(|k| page.wanted_subtree(&k))
                {
                    dirs.push((format!("{dir}/{name}"), sub));
                }
            } else if let Some(e) = parse_entry(&dir, &key_hex, &name) {
                if e.key.starts_with(page.prefix) {
                    out.push(e);
                }
            }
        }
    }
    out
}

/// Keeps the entries after the page's markers (S3's rule: with an upload-id marker, the
/// uploads of the marker key initiated after the marker upload; without one, or when the
/// marker upload is unknown, only later keys).
fn after_markers(entries: &mut Vec<Entry>, page: &Page<'_>) {
    if page.key_marker.is_empty() {
        return;
    }
    let marker_time = entries
        .iter()
        .find(|e| e.key == page.key_marker && e.upload_id == page.upload_id_marker)
        .map(|e| e.initiated_ms);
    entries.retain(|e| match e.key.as_str().cmp(page.key_marker) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => marker_time
            .is_some_and(|t| (e.initiated_ms, e.upload_id.as_str()) > (t, page.upload_id_marker)),
    });
}

/// Writes `rec`'s index entry on every drive of `set` (after its record is written).
/// Best effort: an upload whose entry is missing on every drive is not listed, but stays
/// usable by its id.
pub async fn index(set: &ErasureSet, bucket: &str, rec: &UploadRecord) {
    let path = entry_path(bucket, &rec.key, rec.initiated_ms, &rec.upload_id);
    let written = join_all(
        set.drives
            .iter()
            .map(|d| d.write_sys_file(&path, Bytes::new())),
    )
    .await;
    if written.iter().all(Result::is_err) {
        tracing::warn!(%bucket, key = %rec.key, upload_id = %rec.upload_id, "upload not indexed for listing");
    }
}

/// Removes `rec`'s index entry from every drive of `set` (aborted or completed).
pub async fn unindex(set: &ErasureSet, bucket: &str, rec: &UploadRecord) {
    let path = entry_path(bucket, &rec.key, rec.initiated_ms, &rec.upload_id);
    remove_entry(set, &path).await;
}

async fn remove_entry(set: &ErasureSet, path: &str) {
    join_all(set.drives.iter().map(|d| d.delete_sys_path(path))).await;
}

/// Indexes the uploads of `bucket` on `set` made before the index existed, once: when
/// a read quorum of drives lacks the [`INDEXED`] marker, reads every record, writes the
/// entries of those in progress and then the marker.
async fn index_old_uploads(set: &ErasureSet, bucket: &str) -> ObjectResult<()> {
    let marker = format!("{}/{INDEXED}", index_dir(bucket));
    let found = join_all(set.drives.iter().map(|d| d.read_sys_file(&marker))).await;
    if found.iter().filter(|r| r.is_ok()).count() >= set.geometry.read_quorum() {
        return Ok(());
    }
    let dir = format!("multipart/{bucket}");
    let mut counts: HashMap<String, usize> = HashMap::new();
    for names in join_all(set.drives.iter().map(|d| d.list_sys_dir(&dir)))
        .await
        .into_iter()
        .flatten()
    {
        for n in names {
            *counts.entry(n).or_default() += 1;
        }
    }
    for (id, n) in counts {
        if n < set.geometry.read_quorum() || uuid::Uuid::parse_str(&id).is_err() {
            continue;
        }
        let path = format!("{}/upload.json", upload_dir(bucket, &id));
        if let Some(rec) = quorum_record::<UploadRecord>(set, &path).await? {
            if rec.completed.is_none() {
                index(set, bucket, &rec).await;
            }
        }
    }
    join_all(
        set.drives
            .iter()
            .map(|d| d.write_sys_file(&marker, Bytes::new())),
    )
    .await;
    Ok(())
}

impl ObjectLayer {
    /// In-progress uploads of a bucket, sorted by key then initiation time: one page
    /// (see the module documentation), and whether more follow.
    pub async fn list_upload_page(
        &self,
        bucket: &str,
        page: Page<'_>,
    ) -> ObjectResult<(Vec<UploadRecord>, bool)> {
        self.require_bucket(bucket).await?;
        let sets = &self.pools[0].sets;
        let mut entries: Vec<(Entry, usize)> = Vec::new();
        for (i, set) in sets.iter().enumerate() {
            index_old_uploads(set, bucket).await?;
            let mut mine = set_entries(set, bucket, &page).await;
            after_markers(&mut mine, &page);
            entries.extend(mine.into_iter().map(|e| (e, i)));
        }
        entries.sort_by(|(a, _), (b, _)| a.order().cmp(&b.order()));
        let mut uploads = Vec::new();
        for (e, i) in entries {
            if uploads.len() > page.max {
                break;
            }
            let set = &sets[i];
            let path = format!("{}/upload.json", upload_dir(bucket, &e.upload_id));
            match quorum_record::<UploadRecord>(set, &path).await? {
                Some(rec) if rec.key == e.key && rec.completed.is_none() => uploads.push(rec),
                // Completed, aborted or expired without its entry removed.
                Some(rec) if rec.key == e.key => remove_entry(set, &e.path).await,
                None => remove_entry(set, &e.path).await,
                Some(_) => {}
            }
        }
        let truncated = uploads.len() > page.max;
        uploads.truncate(page.max);
        Ok((uploads, truncated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(key: &str, ms: i64, id: &str) -> Entry {
        let path = entry_path("b", key, ms, id);
        let (dir, name) = path.rsplit_once('/').unwrap();
        let key_hex: String = dir
            .split('/')
            .skip(2)
            .map(|c| c.trim_end_matches('~'))
            .collect();
        parse_entry(dir, &key_hex, name).unwrap()
    }

    #[test]
    fn entries_round_trip_long_keys_included() {
        let long = "x/".repeat(300);
        for key in ["a", "a/b", "é~.", long.as_str()] {
            let e = entry(key, 1_700_000_000_123, "u-1");
            assert_eq!(
                (e.key.as_str(), e.initiated_ms, e.upload_id.as_str()),
                (key, 1_700_000_000_123, "u-1")
            );
            for seg in e.path.split('/') {
                assert!(seg.len() <= 255, "{} bytes", seg.len());
            }
        }
    }

    /// Names of one directory sort like S3 orders uploads, whatever the key bytes.
    #[test]
    fn names_sort_like_keys_then_time_then_id() {
        let mut want = vec![
            ("a", 5, "z"),
            ("a", 7, "a"),
            ("a", 7, "b"),
            ("a!", 1, "a"),
            ("a/", 1, "a"),
            ("ab", 0, "a"),
            ("b", 0, "a"),
        ];
        want.sort();
        let mut names: Vec<String> = want
            .iter()
            .map(|(k, ms, id)| entry_path("b", k, *ms, id))
            .collect();
        names.sort();
        let got: Vec<(String, i64, String)> = names
            .iter()
            .map(|p| {
                let (dir, name) = p.rsplit_once('/').unwrap();
                let e = parse_entry(dir, "", name).unwrap();
                (e.key, e.initiated_ms, e.upload_id)
            })
            .collect();
        let want: Vec<(String, i64, String)> = want
            .into_iter()
            .map(|(k, ms, id)| (k.to_string(), ms, id.to_string()))
            .collect();
        assert_eq!(got, want);
        // A key ending exactly at a chunk's end comes before the keys that continue it.
        let full = "k".repeat(CHUNK / 2);
        let (short, cont) = (
            entry_path("b", &full, 9, "u"),
            entry_path("b", &format!("{full}0"), 0, "u"),
        );
        let (s_name, c_name) = (
            short.rsplit('/').next().unwrap(),
            cont.split('/').nth(2).unwrap(),
        );
        assert!(s_name < c_name, "{s_name} / {c_name}");
    }

    #[test]
    fn markers_follow_s3s_rule() {
        let all = vec![
            entry("a", 1, "x"),
            entry("k", 1, "m"),
            entry("k", 2, "a"),
            entry("k", 2, "n"),
            entry("z", 0, "a"),
        ];
        let page = |key_marker, upload_id_marker| Page {
            prefix: "",
            key_marker,
            upload_id_marker,
            max: 10,
        };
        let ids = |p: Page| {
            let mut v = all.clone();
            after_markers(&mut v, &p);
            v.into_iter()
                .map(|e| format!("{}:{}", e.key, e.upload_id))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(page("", "")).len(), 5);
        assert_eq!(ids(page("k", "m")), vec!["k:a", "k:n", "z:a"]);
        assert_eq!(ids(page("k", "a")), vec!["k:n", "z:a"]);
        // Without an upload-id marker, or an unknown one: the keys after.
        assert_eq!(ids(page("k", "")), vec!["z:a"]);
        assert_eq!(ids(page("k", "gone")), vec!["z:a"]);
        assert_eq!(ids(page("b", "")), vec!["k:m", "k:a", "k:n", "z:a"]);
    }

    #[test]
    fn subtrees_before_the_marker_or_outside_the_prefix_are_skipped() {
        let p = Page {
            prefix: "logs/",
            key_marker: "logs/m",
            upload_id_marker: "",
            max: 1,
        };
        assert!(p.wanted_subtree(b"logs/n"));
        assert!(p.wanted_subtree(b"logs/m"));
        assert!(p.wanted_subtree(b"lo"));
        assert!(!p.wanted_subtree(b"logs/a"));
        assert!(!p.wanted_subtree(b"data/"));
    }
}
