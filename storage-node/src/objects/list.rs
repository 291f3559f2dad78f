//! Listing: every drive walks the same window of the key space in S3 order; the walks
//! are merged and an entry is listed only when a read quorum of its set's drives has it,
//! so a stale copy on one drive never resurrects a deleted key. A key's size and ETag
//! come from the metadata file a read quorum agrees on (its latest version); a key whose
//! latest version is a delete marker is not listed (`list_versions` lists it), and
//! neither is a common prefix all of whose keys are.
//!
//! Every drive names every key it has, but only some read its metadata header: more than
//! half of the set, a read quorum at least, rotated by key so the reads spread over all
//! drives (5 of 8 drives per key for EC:4, instead of 8). When those copies agree, the
//! unread ones are too few to outvote them, so the answer is the one reading every copy
//! would give; when they disagree, or some failed, the remaining copies are read (one
//! batched call per drive) and the key is decided over all of them as a read would.

use super::error::{ObjectError, ObjectResult};
use super::meta::{self, MetaFile};
use super::set::{ErasureSet, pick_file};
use super::versioning::Versioning;
use super::{ObjectInfo, ObjectLayer};
use crate::drive::{WalkEntry, WalkHeaders, WalkOptions};
use futures::future::join_all;
use std::collections::BTreeMap;

/// At most this many merge rounds per request: a bound for pathological trees (many
/// keys without quorum, or a custom delimiter collapsing huge subtrees).
pub(super) const MAX_ROUNDS: usize = 64;

#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Entries strictly after this name (a key or a common prefix).
    pub marker: String,
    pub max_keys: usize,
}

#[derive(Debug, Default)]
pub struct ListResult {
    pub objects: Vec<ObjectInfo>,
    pub prefixes: Vec<String>,
    pub truncated: bool,
    /// The last key or common prefix returned, for the next page.
    pub next_marker: Option<String>,
}

/// One entry of the merged walk.
pub(super) enum Merged {
    /// A key and the metadata file (header only) its set agrees on.
    File(MetaFile),
    Prefix,
}

/// The common prefix of `key` under `prefix` for `delim`, if any.
pub(super) fn common_prefix(key: &str, prefix: &str, delim: &str) -> Option<String> {
    let rest = key.strip_prefix(prefix)?;
    let i = rest.find(delim)?;
    Some(format!("{prefix}{}", &rest[..i + delim.len()]))
}

impl ObjectLayer {
    pub async fn list_objects(&self, bucket: &str, p: &ListParams) -> ObjectResult<ListResult> {
        self.require_bucket(bucket).await?;
        let mut out = ListResult::default();
        if p.max_keys == 0 {
            return Ok(out);
        }
        let delim = p.delimiter.as_deref().filter(|d| !d.is_empty());
        let dir_mode = delim == Some("/");
        let mut marker = p.marker.clone();
        let mut skip_prefix: Option<String> = match delim {
            Some(d) if !dir_mode && marker.ends_with(d) => Some(marker.clone()),
            _ => None,
        };
        // Only a bucket that keeps versions can hold a directory whose keys all end in
        // delete markers.
        let has_markers = dir_mode && self.versioning(bucket).await? != Versioning::Unversioned;
        let mut count = 0;
        for _ in 0..MAX_ROUNDS {
            // Keys under a common prefix already listed are skipped by the walk itself:
            // its marker jumps past them instead of reading every one.
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
                limit: p.max_keys - count + 1,
                headers: WalkHeaders::All,
            };
            let (entries, boundary) = self.merged_window(bucket, &opts).await?;
            let exhausted = boundary.is_none();
            let window_len = entries.len();
            for (i, (name, entry)) in entries.into_iter().enumerate() {
                if count == p.max_keys {
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
                let entry = match entry {
                    Merged::File(f) => match f.latest() {
                        Some(m) if !m.delete_marker => {
                            Listed::Object(ObjectInfo::from_meta(bucket, &name, m))
                        }
                        // Deleted (a delete marker on top): not listed.
                        _ => continue,
                    },
                    // As S3: a prefix whose keys are all deleted is not listed.
                    Merged::Prefix
                        if has_markers && !self.holds_live_key(bucket, &name).await? =>
                    {
                        continue;
                    }
                    Merged::Prefix => Listed::Prefix,
                };
                match (entry, delim.filter(|_| !dir_mode)) {
                    (Listed::Object(info), Some(d)) => match common_prefix(&name, &p.prefix, d) {
                        // A common prefix that sorts at or before the marker (delimiter
                        // "b", start-after "b-", key "ba") was not asked for: only
                        // entries strictly after the marker are listed.
                        Some(cp) if cp.as_str() <= p.marker.as_str() => {
                            skip_prefix = Some(cp);
                            continue;
                        }
                        Some(cp) => {
                            skip_prefix = Some(cp.clone());
                            out.prefixes.push(cp.clone());
                            out.next_marker = Some(cp);
                        }
                        None => {
                            out.next_marker = Some(name);
                            out.objects.push(info);
                        }
                    },
                    (Listed::Object(info), None) => {
                        out.next_marker = Some(name);
                        out.objects.push(info);
                    }
                    (Listed::Prefix, _) => {
                        out.prefixes.push(name.clone());
                        out.next_marker = Some(name);
                    }
                }
                count += 1;
                if count == p.max_keys && (i + 1 < window_len || !exhausted) {
                    out.truncated = true;
                    return Ok(out);
                }
            }
            match boundary {
                None => return Ok(out),
                // Entries without quorum may fill a whole window: move past it.
                Some(b) if b > marker => marker = b,
                Some(_) => {}
            }
        }
        out.truncated = true;
        if out.next_marker.is_none() {
            out.next_marker = Some(marker);
        }
        Ok(out)
    }

    /// Whether some key under `prefix` (a directory the walk named) has a latest version
    /// that is not a delete marker. It stops at the first such key, so a directory with
    /// live keys costs one small window; one whose keys are all deleted is walked to its
    /// end, within [`MAX_ROUNDS`] windows (beyond them it counts as live and is listed,
    /// as before this check).
    async fn holds_live_key(&self, bucket: &str, prefix: &str) -> ObjectResult<bool> {
        let mut marker = String::new();
        // Most directories start with a live key: ask for a few first.
        let mut limit = 4;
        for _ in 0..MAX_ROUNDS {
            let opts = WalkOptions {
                prefix: prefix.to_string(),
                marker: marker.clone(),
                recursive: true,
                limit,
                headers: WalkHeaders::All,
            };
            let (entries, boundary) = self.merged_window(bucket, &opts).await?;
            for (name, entry) in entries {
                if let Merged::File(f) = &entry {
                    if f.latest().is_some_and(|m| !m.delete_marker) {
                        return Ok(true);
                    }
                }
                marker = name;
            }
            match boundary {
                None => return Ok(false),
                Some(b) if b > marker => marker = b,
                Some(_) => {}
            }
            limit = 1000;
        }
        Ok(true)
    }

    /// Walks every set and returns the quorum-agreed entries up to the point where all
    /// drives' answers are complete, and that point (`None` when the key space is
    /// exhausted).
    ///
    /// Every drive reports every name (a copy counts once its metadata file exists), but
    /// reads the metadata header of a key only when it is one of the key's
    /// [`first_readers`] (rotated by key, so each drive reads 5/8 of a page in a set of 8).
    /// A key whose headers read so far agree and outnumber its unread copies is settled
    /// ([`settled`]); only the others have their remaining copies read, in one batched
    /// call per drive, and are then decided over all copies as before ([`agreed`]).
    pub(super) async fn merged_window(
        &self,
        bucket: &str,
        opts: &WalkOptions,
    ) -> ObjectResult<(Vec<(String, Merged)>, Option<String>)> {
        let mut all: BTreeMap<String, Merged> = BTreeMap::new();
        let mut boundary: Option<String> = None;
        for (index, set) in self.sets().enumerate() {
            let need = set.geometry.read_quorum();
            let of = set.drives.len();
            let readers = first_readers(need, of);
            let walks = join_all(set.drives.iter().enumerate().map(|(i, d)| {
                let opts = WalkOptions {
                    // Drives past the mask's width read every header: none is left unread.
                    headers: if i < MAX_MASKED {
                        WalkHeaders::Rotated {
                            index: i,
                            of,
                            count: readers,
                        }
                    } else {
                        WalkHeaders::All
                    },
                    ..opts.clone()
                };
                async move { d.walk(bucket, &opts).await }
            }))
            .await;
            let mut answered = 0;
            let mut missing_bucket = 0;
            let mut seen: BTreeMap<String, Copies> = BTreeMap::new();
            for (drive, w) in walks.into_iter().enumerate() {
                let entries = match w {
                    Ok(e) => e,
                    Err(e) if e.is_not_found() => {
                        missing_bucket += 1;
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "drive offline for listing");
                        continue;
                    }
                };
                answered += 1;
                if entries.len() >= opts.limit {
                    if let Some(last) = entries.last() {
                        let last = last.name().to_string();
                        if boundary.as_ref().is_none_or(|b| last < *b) {
                            boundary = Some(last);
                        }
                    }
                }
                for e in entries {
                    match e {
                        WalkEntry::Object { key, meta } => {
                            let slot = seen.entry(key).or_default();
                            slot.copies += 1;
                            slot.object = true;
                            match meta {
                                Some(h) => slot.headers.push(h),
                                None if drive < MAX_MASKED => slot.unread |= 1 << drive,
                                // Not asked for (see above): an older peer's answer.
                                None => {}
                            }
                        }
                        WalkEntry::Prefix(p) => {
                            seen.entry(p).or_default().copies += 1;
                        }
                    }
                }
            }
            if missing_bucket >= need {
                if index == 0 {
                    return Err(ObjectError::NoSuchBucket);
                }
                // The first set holds the bucket (the caller checked it): this set is in a
                // pool added after the bucket was made and not yet given its directory.
                continue;
            }
            if answered < need {
                return Err(ObjectError::ReadQuorum {
                    have: answered,
                    total: set.drives.len(),
                    need,
                });
            }
            let mut open: Vec<(String, Copies)> = Vec::new();
            for (name, c) in seen {
                if c.copies < need {
                    continue;
                }
                if !c.object {
                    all.insert(name, Merged::Prefix);
                    continue;
                }
                match settled(&c.headers, c.unread.count_ones() as usize, need) {
                    Some(Some(f)) => {
                        all.insert(name, Merged::File(f));
                    }
                    Some(None) => {
                        tracing::debug!(%bucket, key = %name, "no agreed metadata in listing");
                    }
                    None => open.push((name, c)),
                }
            }
            if !open.is_empty() {
                read_unread(set, bucket, &mut open).await;
                for (name, c) in open {
                    match agreed(&c.headers, need) {
                        Some(f) => {
                            all.insert(name, Merged::File(f));
                        }
                        None => {
                            tracing::debug!(%bucket, key = %name, "no agreed metadata in listing");
                        }
                    }
                }
            }
        }
        let entries = all
            .into_iter()
            .filter(|(name, _)| boundary.as_ref().is_none_or(|b| name <= b))
            .collect();
        Ok((entries, boundary))
    }
}

/// Drives of a set past this position read every header in a listing walk, because
/// [`Copies::unread`] is a 64-bit mask (sets have 4 to 16 drives).
const MAX_MASKED: usize = 64;

/// The copies of one walked name in one set.
#[derive(Default)]
struct Copies {
    /// Drives that listed it (with or without its header).
    copies: usize,
    /// Some drive listed it as a key (else it is a common prefix).
    object: bool,
    /// The headers read so far.
    headers: Vec<bytes::Bytes>,
    /// Drives that listed it as a key without reading its header (bit = position).
    unread: u64,
}

/// How many drives of a set of `of` read each key's header in the walk: a read quorum,
/// and more than half of the set, so that when every copy read agrees the unread ones
/// (fewer than those read) cannot outvote or tie them ([`settled`]). 5 of 8 for EC:4.
pub(super) fn first_readers(read_quorum: usize, of: usize) -> usize {
    read_quorum.max(of / 2 + 1).min(of)
}

/// The answer [`agreed`] would give over every copy of a key, if the `headers` read so far
/// already decide it whatever the `unread` copies hold; `None` when more must be read.
///
/// Decided: nothing is unread, or every header read names the same write, they are at
/// least that write's read quorum, and they outnumber the unread copies. [`agreed`] (and
/// [`pick_file`], which reads use) takes the write with the most copies, the newer on a
/// tie; no other write can reach as many copies as this one even if every unread copy
/// were its, so the full read would pick the same write. A deleted key is never
/// "decided" into a listing this way: its walked copies are below quorum, or its
/// headers (delete marker on top) are the agreed ones and `list_objects` skips it.
fn settled(
    headers: &[bytes::Bytes],
    unread: usize,
    default_quorum: usize,
) -> Option<Option<MetaFile>> {
    if unread == 0 {
        return Some(agreed(headers, default_quorum));
    }
    let (first, rest) = headers.split_first()?;
    if !meta::is_current_format(first) {
        return None;
    }
    let id = meta::peek_write_id(first)?;
    for h in rest {
        if !meta::is_current_format(h) || meta::peek_write_id(h)? != id {
            return None;
        }
    }
    let f = meta::decode_header(first).ok()?;
    let data = f.latest()?.erasure.geometry.data;
    let quorum = if data == 0 { default_quorum } else { data };
    (headers.len() >= quorum && unread < headers.len()).then_some(Some(f))
}

/// Reads the copies the walks left unread of the keys in `open`, one batched call per
/// drive, and adds the headers to each key's. A drive that fails adds nothing: its copies
/// are then as unreadable as they would have been in its walk.
async fn read_unread(set: &ErasureSet, bucket: &str, open: &mut [(String, Copies)]) {
    let mut asked: Vec<(usize, Vec<usize>, Vec<String>)> = Vec::new();
    for (drive, _) in set.drives.iter().enumerate().take(MAX_MASKED) {
        let bit = 1u64 << drive;
        let (idx, names): (Vec<usize>, Vec<String>) = open
            .iter()
            .enumerate()
            .filter(|(_, (_, c))| c.unread & bit != 0)
            .map(|(i, (name, _))| (i, name.clone()))
            .unzip();
        if !idx.is_empty() {
            asked.push((drive, idx, names));
        }
    }
    let reads = join_all(asked.iter().map(|(drive, _, names)| async move {
        match set.drives.get(*drive) {
            Some(d) => d.read_meta_headers(bucket, names).await,
            None => Ok(Vec::new()),
        }
    }))
    .await;
    for ((_, idx, _), r) in asked.iter().zip(reads) {
        match r {
            Ok(headers) => {
                for (i, h) in idx.iter().zip(headers) {
                    if let (Some(h), Some((_, c))) = (h, open.get_mut(*i)) {
                        c.headers.push(h);
                    }
                }
            }
            Err(e) => tracing::debug!(error = %e, "drive offline for listing headers"),
        }
    }
}

/// The file a read quorum of `headers` (one per drive that has the key) agrees on.
fn agreed(headers: &[bytes::Bytes], default_quorum: usize) -> Option<MetaFile> {
    match agreed_by_peeking(headers, default_quorum) {
        Some(found) => found,
        None => agreed_by_decoding(headers, default_quorum),
    }
}

/// [`agreed`] decoding one header per write id instead of every drive's (the JSON parse
/// is most of a listing's CPU per key): the copies are grouped by the write id at the
/// start of each header, and the same rule as [`pick_file`] picks the group. `None`
/// when some header is not in the current format or its write id cannot be read that
/// way (format-1 copies of one write may differ in their metadata generation).
fn agreed_by_peeking(headers: &[bytes::Bytes], default_quorum: usize) -> Option<Option<MetaFile>> {
    // (write id, copies, index of the first copy)
    let mut groups: Vec<(&str, usize, usize)> = Vec::with_capacity(2);
    for (i, h) in headers.iter().enumerate() {
        if !meta::is_current_format(h) {
            return None;
        }
        let id = meta::peek_write_id(h)?;
        match groups.iter_mut().find(|g| g.0 == id) {
            Some(g) => g.1 += 1,
            None => groups.push((id, 1, i)),
        }
    }
    let mut best: Option<(usize, i64, MetaFile)> = None;
    for (_, count, first) in groups {
        let f = meta::decode_header(headers.get(first)?).ok()?;
        let time = f.latest()?.mod_time_ms;
        if best
            .as_ref()
            .is_none_or(|(c, t, _)| (count, time) > (*c, *t))
        {
            best = Some((count, time, f));
        }
    }
    let (count, _, f) = best?;
    let data = f.latest()?.erasure.geometry.data;
    let quorum = if data == 0 { default_quorum } else { data };
    Some((count >= quorum).then_some(f))
}

/// [`agreed`] by decoding every header.
fn agreed_by_decoding(headers: &[bytes::Bytes], default_quorum: usize) -> Option<MetaFile> {
    let files: Vec<MetaFile> = headers
        .iter()
        .filter_map(|h| match meta::decode_header(h) {
            Ok(f) => Some(f),
            Err(e) => {
                tracing::warn!(error = %e, "unreadable metadata in listing");
                None
            }
        })
        .collect();
    let (write_id, count, quorum) = pick_file(files.iter(), default_quorum)?;
    if count < quorum {
        return None;
    }
    files
        .into_iter()
        .filter(|f| f.write_id == write_id)
        .max_by_key(MetaFile::meta_generation)
}

/// An entry as `list_objects` lists it. Unboxed on purpose: entries live for one step
/// of the walk, and a box would cost an allocation per listed key.
#[allow(clippy::large_enum_variant)]
enum Listed {
    Object(ObjectInfo),
    Prefix,
}

#[cfg(test)]
mod tests {
    use super::common_prefix;
    use super::{agreed, agreed_by_decoding, agreed_by_peeking, first_readers, settled};
    use crate::objects::meta::{self, ErasureInfo, MetaFile, ObjectMeta, Version};

    fn header(write_id: &str, size: u64, time: i64) -> bytes::Bytes {
        let m = ObjectMeta {
            format: meta::FORMAT_VERSION,
            version_id: format!("v-{write_id}"),
            size,
            etag: "e".into(),
            mod_time_ms: time,
            headers: Default::default(),
            checksums: Default::default(),
            erasure: ErasureInfo {
                geometry: crate::erasure::Geometry::new(2, 2),
                index: 0,
                distribution: vec![0, 1, 2, 3],
                bitrot: "xxh3-128".into(),
            },
            data_dir: None,
            parts: vec![],
            meta_version: 0,
            null_version: false,
            delete_marker: false,
            retention: None,
            legal_hold: false,
            legal_hold_set: false,
        };
        let f = MetaFile {
            write_id: write_id.into(),
            versions: vec![Version {
                meta: m,
                inline: bytes::Bytes::from_static(b"shard"),
            }],
        };
        let b = meta::encode(&f).unwrap();
        b.slice(..meta::header_len(&b).unwrap())
    }

    #[test]
    fn listings_take_the_copy_a_quorum_agrees_on() {
        let (a, b) = (header("a", 1, 10), header("b", 2, 20));
        let size = |f: Option<MetaFile>| f.map(|f| f.versions[0].meta.size);
        // Two of three agree on a (2+2 needs two), though b is newer and came first.
        let hs = [b.clone(), a.clone(), a.clone()];
        assert_eq!(size(agreed(&hs, 2)), Some(1));
        assert_eq!(size(agreed_by_decoding(&hs, 2)), Some(1));
        assert!(agreed_by_peeking(&hs, 2).is_some(), "format 2 is peeked");
        // A tie goes to the newer; one copy alone is no quorum.
        assert_eq!(size(agreed(&[a.clone(), b.clone()], 2)), None);
        assert_eq!(
            size(agreed(&[a.clone(), b.clone(), b.clone(), a.clone()], 2)),
            Some(2)
        );
        assert_eq!(size(agreed(std::slice::from_ref(&a), 2)), None);
        // Anything not in the current format is decoded instead.
        let mut old = a.to_vec();
        old[..8].copy_from_slice(b"CAIRNMT1");
        assert!(agreed_by_peeking(&[bytes::Bytes::from(old)], 2).is_none());
    }

    #[test]
    fn agreeing_headers_settle_a_key_only_when_they_outnumber_the_unread() {
        let (a, b) = (header("a", 1, 10), header("b", 2, 20));
        let size = |f: Option<MetaFile>| f.map(|f| f.versions[0].meta.size);
        assert_eq!(first_readers(4, 8), 5);
        assert_eq!(first_readers(2, 4), 3);
        assert_eq!(first_readers(6, 8), 6);
        assert_eq!(first_readers(2, 2), 2);
        // (2+2: quorum 2.) Three agreeing copies, two unread: settled.
        let three = [a.clone(), a.clone(), a.clone()];
        assert_eq!(settled(&three, 2, 2).map(size), Some(Some(1)));
        // Two agreeing, two unread: those two could be a newer write with as many
        // copies, which a read would pick, so read them.
        assert!(settled(&three[..2], 2, 2).is_none());
        // One copy is below the quorum whatever the others say.
        assert!(settled(&three[..1], 0, 2).map(size) == Some(None));
        assert!(settled(&three[..1], 1, 2).is_none());
        // Disagreement: read the rest.
        assert!(settled(&[a.clone(), b.clone(), a.clone()], 1, 2).is_none());
        // Nothing unread: exactly `agreed`.
        let hs = [b.clone(), a.clone(), a.clone()];
        assert_eq!(settled(&hs, 0, 2).map(size), Some(size(agreed(&hs, 2))));
        // Nothing read yet (the readers failed): read the rest.
        assert!(settled(&[], 3, 2).is_none());
        // An old-format copy is decided by reading every copy.
        let mut old = a.to_vec();
        old[..8].copy_from_slice(b"CAIRNMT1");
        let old = bytes::Bytes::from(old);
        assert!(settled(&[a.clone(), a.clone(), old], 1, 2).is_none());
    }

    #[test]
    fn common_prefixes_cut_at_the_delimiter() {
        assert_eq!(common_prefix("a/b/c", "a/", "/").as_deref(), Some("a/b/"));
        assert_eq!(common_prefix("a/b", "a/", "/"), None);
        assert_eq!(
            common_prefix("2024-01-x", "", "-").as_deref(),
            Some("2024-")
        );
        assert_eq!(common_prefix("x", "y", "/"), None);
    }
}
