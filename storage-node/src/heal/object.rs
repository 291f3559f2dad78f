//! Healing one object (a key with all its versions) of one erasure set.
//!
//! 1. Read the metadata file from every drive of the set and pick the file (the version
//!    list) a read quorum agrees on, with the same rule as reads
//!    ([`crate::objects::set::pick_file`]).
//! 2. Classify every drive: holds that file with good shards for every version; lacks
//!    it (no metadata, another version list, corrupt metadata, no bucket directory) or
//!    holds some version with missing or corrupt shards (a *target*); or did not answer
//!    (offline, retried later). A target's copy of a version that it does hold intact
//!    (same version id, good shards) is kept: a drive that missed one new version gets
//!    only that one rebuilt.
//! 3. Rebuild each version a target lacks: decode each block from the drives with good
//!    shards of it using the [`ErasureReader`] (which verifies bitrot and falls back to
//!    parity), re-encode it with the codec and append just the target's shard to a
//!    staged file on the target drive, committed under the version's own data directory
//!    name (with an interim metadata file under a heal-only write id, which no read
//!    counts); inline versions are decoded and re-encoded in memory. Then every target
//!    gets the agreed file itself (only shard indexes and inline bytes differ), and data
//!    directories of its old file that the agreed one does not name are removed.
//! 4. An object without a quorum file that can never reach one (too few copies even if
//!    every offline drive had it) was deleted with quorum or never committed: its
//!    leftover copies are removed (dangling).
//!
//! The key's read lock is held throughout: it keeps writers (whose commits take the
//! write lock) out, so the version cannot change under the heal, while GETs go on. A
//! second lock (`heal:<bucket>/<key>`, exclusive) keeps two heals of one key apart.

use super::HealError;
use crate::drive::{DriveError, DriveRef, ShardWriter, StageId};
use crate::erasure::{BLOCK_SIZE, Codec, Geometry, bitrot};
use crate::objects::meta::{self, MetaFile, ObjectMeta};
use crate::objects::set::{ErasureSet, Resolved, pick_file};
use bytes::{Bytes, BytesMut};
use futures::future::join_all;
use serde::Serialize;

/// How thoroughly the shards of drives that have the right metadata are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HealMode {
    /// Metadata on every drive, and the last block of every shard file (present, long
    /// enough, checksum good). Cheap; used by the MRF worker and drive rebuilds.
    Normal,
    /// Every block of every shard on every drive is read and its checksum verified;
    /// used by the scanner to find bitrot.
    Deep,
}

/// What healing one object did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ObjectHealResult {
    /// The object exists (with quorum) in this set.
    pub exists: bool,
    /// Drives that were rewritten (metadata and shards).
    pub drives_healed: usize,
    /// Drives that did not answer; the object may still be incomplete there.
    pub drives_offline: usize,
    /// Drives from which a dangling copy (no quorum version) was removed.
    pub dangling_removed: usize,
    /// Shard bytes read to verify or rebuild the object (for scanner pacing).
    pub bytes_read: u64,
    /// Size of the latest version when it exists and is not a delete marker (for the
    /// scanner's data usage).
    pub size: u64,
    /// The key's latest version is a delete marker: its older versions exist, but it is
    /// not an object clients see (data usage does not count it).
    pub deleted: bool,
}

impl ObjectHealResult {
    /// True when something was repaired.
    pub fn changed(&self) -> bool {
        self.drives_healed > 0 || self.dangling_removed > 0
    }

    /// True when every drive of the set was reached.
    pub fn complete(&self) -> bool {
        self.drives_offline == 0
    }
}

/// One drive's answer to "your metadata of this key".
#[allow(clippy::large_enum_variant)] // a handful per heal, never stored
enum DriveCopy {
    Meta(MetaFile),
    /// No metadata file (or no such key directory).
    Missing,
    /// The drive has no directory for the bucket.
    NoVolume,
    /// A metadata file that does not parse.
    Corrupt,
    Offline,
}

/// Largest read used to verify a shard file: several blocks per round trip.
const VERIFY_READ: usize = 8 * BLOCK_SIZE;
/// At most this many rebuild passes: a pass that finds more bad shards while decoding
/// heals those in the next one.
const MAX_PASSES: usize = 3;

/// Heals `bucket/key` in `set`. `force` lists drive positions to rewrite even if they
/// look healthy (not used by the background tasks; useful for a manual re-write).
pub async fn heal_object(
    set: &ErasureSet,
    bucket: &str,
    key: &str,
    mode: HealMode,
) -> Result<ObjectHealResult, HealError> {
    crate::drive::keypath::validate_key(key)
        .map_err(|e| HealError::Invalid(format!("{bucket}/{key}: {e}")))?;
    // One heal of a key at a time (the MRF worker, the scanner, a rebuild and an admin
    // heal may all reach it): two would race to rename into the same data directory.
    // Bucket names cannot contain ':', so this name never meets an object's lock.
    let _healing = set.locks.write(&format!("heal:{bucket}/{key}")).await?;
    let _guard = set.locks.read(&format!("{bucket}/{key}")).await?;
    let mut result = ObjectHealResult::default();
    let mut mode = mode;
    for _ in 0..MAX_PASSES {
        let again = heal_pass(set, bucket, key, mode, &mut result).await?;
        if !again {
            return Ok(result);
        }
        // Decoding found more bad shards; the next pass checks everything closely.
        mode = HealMode::Deep;
    }
    Ok(result)
}

/// One pass; returns true when a shard turned out bad while rebuilding others.
async fn heal_pass(
    set: &ErasureSet,
    bucket: &str,
    key: &str,
    mode: HealMode,
    result: &mut ObjectHealResult,
) -> Result<bool, HealError> {
    let copies = read_copies(set, bucket, key).await;
    let files = copies.iter().filter_map(|c| match c {
        DriveCopy::Meta(f) => Some(f),
        _ => None,
    });
    let picked = pick_file(files, set.geometry.data);
    let offline = copies
        .iter()
        .filter(|c| matches!(c, DriveCopy::Offline))
        .count();
    let Some((write_id, _count, _quorum)) =
        picked.clone().filter(|(_, count, quorum)| count >= quorum)
    else {
        heal_dangling(set, bucket, key, &copies, picked, offline, result).await;
        return Ok(false);
    };
    result.exists = true;
    let agreed = copies
        .iter()
        .filter_map(|c| match c {
            DriveCopy::Meta(f) if f.write_id == write_id => Some(f),
            _ => None,
        })
        .max_by_key(|f| f.meta_generation())
        .cloned()
        .ok_or_else(|| HealError::Invalid("quorum without copies".into()))?;
    // Data usage counts what clients stored (as MinIO's scanner counts actual sizes).
    result.deleted = agreed.latest().is_some_and(|m| m.delete_marker);
    result.size = agreed
        .latest()
        .filter(|m| !m.delete_marker)
        .map_or(0, ObjectMeta::content_size);
    for v in &agreed.versions {
        let e = &v.meta.erasure;
        if e.distribution.len() != set.drives.len() || e.geometry.total() != set.drives.len() {
            return Err(HealError::Invalid(format!(
                "{bucket}/{key}: layout of {} shards does not fit a set of {} drives",
                e.geometry.total(),
                set.drives.len()
            )));
        }
    }

    // Per drive and version: the drive's good copy of it, if any.
    let n = set.drives.len();
    let checks = join_all(copies.iter().enumerate().map(|(pos, c)| {
        let drive = set.drives[pos].clone();
        let agreed = &agreed;
        async move {
            let DriveCopy::Meta(f) = c else {
                return Ok((Vec::new(), 0));
            };
            let mut good = Vec::with_capacity(agreed.versions.len());
            let mut bytes = 0;
            for want in &agreed.versions {
                let mine = f
                    .versions
                    .iter()
                    .find(|v| v.meta.version_id == want.meta.version_id);
                let Some(mine) = mine else {
                    good.push(None);
                    continue;
                };
                if mine.meta.delete_marker {
                    good.push(Some((mine.meta.clone(), mine.inline.clone())));
                    continue;
                }
                let (ok, read) =
                    check_copy(&drive, bucket, key, &mine.meta, &mine.inline, mode).await?;
                bytes += read;
                good.push(ok.then(|| (mine.meta.clone(), mine.inline.clone())));
            }
            Ok::<_, DriveError>((good, bytes))
        }
    }))
    .await;
    let mut targets: Vec<usize> = Vec::new();
    let mut no_volume: Vec<usize> = Vec::new();
    let mut have: Vec<Vec<Option<(ObjectMeta, Bytes)>>> = vec![Vec::new(); n];
    let mut offline_now = 0;
    for (pos, (c, check)) in copies.iter().zip(checks).enumerate() {
        match (c, check) {
            (DriveCopy::Offline, _) | (DriveCopy::Meta(_), Err(_)) => offline_now += 1,
            (DriveCopy::NoVolume, _) => {
                no_volume.push(pos);
                targets.push(pos);
            }
            (DriveCopy::Meta(f), Ok((good, bytes))) => {
                result.bytes_read += bytes;
                let complete = f.write_id == write_id
                    && f.meta_generation() >= agreed.meta_generation()
                    && good.iter().all(Option::is_some);
                have[pos] = good;
                if !complete {
                    targets.push(pos);
                }
            }
            // Missing or corrupt.
            _ => targets.push(pos),
        }
        if have[pos].is_empty() {
            have[pos] = vec![None; agreed.versions.len()];
        }
    }
    result.drives_offline = offline_now;
    if targets.is_empty() {
        return Ok(false);
    }
    for pos in &no_volume {
        match set.drives[*pos].make_volume(bucket).await {
            Ok(()) | Err(DriveError::VolumeExists) => {}
            Err(e) => {
                tracing::warn!(drive = %set.drives[*pos].endpoint(), %bucket, error = %e, "cannot create bucket directory")
            }
        }
    }
    let mut alive = targets.clone();
    let mut more_bad = false;
    let heal_id = format!("heal-{}", uuid::Uuid::new_v4());
    for (i, version) in agreed.versions.iter().enumerate() {
        let m = &version.meta;
        let need: Vec<usize> = alive
            .iter()
            .copied()
            .filter(|&pos| have[pos][i].is_none())
            .collect();
        if need.is_empty() {
            continue;
        }
        if m.delete_marker {
            for pos in need {
                let mut mine = m.clone();
                mine.erasure.index = shard_of(m, pos);
                have[pos][i] = Some((mine, Bytes::new()));
            }
            continue;
        }
        let healthy: Vec<Option<(ObjectMeta, Bytes)>> =
            (0..n).map(|pos| have[pos][i].clone()).collect();
        let good = healthy.iter().filter(|h| h.is_some()).count();
        let quorum = m.erasure.geometry.data.max(1);
        if good < quorum {
            return Err(HealError::TooFewShards { good, need: quorum });
        }
        let resolved = Resolved {
            meta: m.clone(),
            copies: healthy,
        };
        // The interim file a data directory is committed with: the agreed versions under
        // a write id no read counts, so that the data directories it names are not
        // orphaned if the heal stops here.
        let interim = |pos: usize| {
            let file = file_for(&agreed, pos, &have[pos], &heal_id);
            meta::encode(&file).map_err(|e| DriveError::Io(e.to_string()))
        };
        let outcome = rebuild(set, bucket, key, &resolved, &need, &interim).await?;
        result.bytes_read += outcome.bytes_read;
        more_bad |= outcome.more_bad;
        for pos in &need {
            if !outcome.done.contains(pos) {
                alive.retain(|p| p != pos);
                result.drives_offline += 1;
                continue;
            }
            let mut mine = m.clone();
            mine.erasure.index = shard_of(m, *pos);
            let inline = outcome
                .inline_shards
                .as_ref()
                .and_then(|s| s.get(mine.erasure.index))
                .cloned()
                .unwrap_or_default();
            have[*pos][i] = Some((mine, inline));
        }
    }

    // Every target that has every version now gets the agreed file.
    let commits = join_all(alive.iter().map(|&pos| {
        let drive = set.drives[pos].clone();
        let file = file_for(&agreed, pos, &have[pos], &agreed.write_id);
        let old_dirs: Vec<String> = match &copies[pos] {
            DriveCopy::Meta(f) => f.data_dirs().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        async move {
            let bytes = meta::encode(&file).map_err(|e| DriveError::Io(e.to_string()))?;
            drive.commit_object(bucket, key, None, None, bytes).await?;
            for dd in old_dirs {
                if !file.data_dirs().any(|k| k == dd) {
                    let _ = drive.delete_data_dir(bucket, key, &dd).await;
                }
            }
            Ok::<_, DriveError>(())
        }
    }))
    .await;
    for (pos, r) in alive.iter().zip(commits) {
        match r {
            Ok(()) => result.drives_healed += 1,
            Err(e) => {
                tracing::warn!(drive = %set.drives[*pos].endpoint(), %bucket, %key, error = %e, "cannot commit healed object");
                result.drives_offline += 1;
            }
        }
    }
    if result.drives_healed > 0 {
        tracing::info!(%bucket, %key, drives = result.drives_healed, versions = agreed.versions.len(), "healed object");
    }
    Ok(more_bad)
}

/// Drive `pos`'s copy of `agreed` under `write_id`: each version with the drive's shard
/// index and its inline bytes from `have` (empty where not rebuilt yet).
fn file_for(
    agreed: &MetaFile,
    pos: usize,
    have: &[Option<(ObjectMeta, Bytes)>],
    write_id: &str,
) -> MetaFile {
    MetaFile {
        write_id: write_id.to_string(),
        versions: agreed
            .versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut m = v.meta.clone();
                m.erasure.index = shard_of(&v.meta, pos);
                let inline = have
                    .get(i)
                    .and_then(|h| h.as_ref())
                    .map(|(_, b)| b.clone())
                    .unwrap_or_default();
                meta::Version { meta: m, inline }
            })
            .collect(),
    }
}

/// The shard index drive position `pos` holds of version `m`.
fn shard_of(m: &ObjectMeta, pos: usize) -> usize {
    m.erasure
        .distribution
        .get(pos)
        .copied()
        .unwrap_or(usize::MAX)
}

/// Reads every drive's metadata of the key.
async fn read_copies(set: &ErasureSet, bucket: &str, key: &str) -> Vec<DriveCopy> {
    let results = join_all(set.drives.iter().map(|d| d.read_meta(bucket, key))).await;
    results
        .into_iter()
        .enumerate()
        .map(|(pos, r)| match r {
            Ok(file) => match meta::decode(&file) {
                Ok(f) => DriveCopy::Meta(f),
                Err(e) => {
                    tracing::warn!(drive = %set.drives[pos].endpoint(), %bucket, %key, error = %e, "corrupt metadata, will be rewritten");
                    DriveCopy::Corrupt
                }
            },
            Err(DriveError::NotFound) => DriveCopy::Missing,
            Err(DriveError::VolumeNotFound) => DriveCopy::NoVolume,
            Err(e) => {
                tracing::debug!(drive = %set.drives[pos].endpoint(), error = %e, "drive offline for heal");
                DriveCopy::Offline
            }
        })
        .collect()
}

/// Removes copies of an object that has no quorum version and can never get one.
async fn heal_dangling(
    set: &ErasureSet,
    bucket: &str,
    key: &str,
    copies: &[DriveCopy],
    picked: Option<(String, usize, usize)>,
    offline: usize,
    result: &mut ObjectHealResult,
) {
    let present: Vec<usize> = copies
        .iter()
        .enumerate()
        .filter(|(_, c)| matches!(c, DriveCopy::Meta(..) | DriveCopy::Corrupt))
        .map(|(i, _)| i)
        .collect();
    if present.is_empty() {
        result.drives_offline = offline;
        return;
    }
    let corrupt = copies
        .iter()
        .filter(|c| matches!(c, DriveCopy::Corrupt))
        .count();
    let (best, quorum) = picked.map_or((0, set.geometry.data), |(_, c, q)| (c, q));
    // Corrupt metadata might have been the winning version; count it as such.
    if best + corrupt + offline >= quorum {
        // Could still be a readable object once the offline drives answer.
        result.drives_offline = offline;
        return;
    }
    for pos in present {
        let d = &set.drives[pos];
        match d.delete_object(bucket, key).await {
            Ok(()) | Err(DriveError::NotFound) => {
                result.dangling_removed += 1;
                tracing::info!(drive = %d.endpoint(), %bucket, %key, "removed dangling object copy");
            }
            Err(e) => {
                tracing::warn!(drive = %d.endpoint(), %bucket, %key, error = %e, "cannot remove dangling copy");
                result.drives_offline += 1;
            }
        }
    }
}

/// Checks one drive's shards of the agreed version. `Ok((good, bytes read))`;
/// `Err` only when the drive is offline.
async fn check_copy(
    drive: &DriveRef,
    bucket: &str,
    key: &str,
    m: &ObjectMeta,
    inline: &Bytes,
    mode: HealMode,
) -> Result<(bool, u64), DriveError> {
    let g = m.erasure.geometry;
    let Some(data_dir) = &m.data_dir else {
        // Inline: the metadata file carries one stored shard block.
        // The codec never makes an empty shard (an empty object has 1-byte shards).
        let expected = bitrot::HASH_LEN + g.shard_len(m.size as usize).max(1);
        let ok = inline.len() == expected && bitrot::verify(inline).is_some();
        return Ok((ok, inline.len() as u64));
    };
    let mut bytes = 0u64;
    for (i, part) in m.parts.iter().enumerate() {
        let file = format!("part.{}", i + 1);
        let blocks = part.size.div_ceil(g.block_size as u64);
        let first = match mode {
            HealMode::Deep => 0,
            HealMode::Normal => blocks.saturating_sub(1),
        };
        let mut b = first;
        // Bounded by the block count; each round reads at least one block.
        while b < blocks {
            let (offset, lens) = block_run(&g, part.size, b, blocks);
            let total: usize = lens.iter().sum();
            match drive
                .read_shard(bucket, key, data_dir, &file, offset, total)
                .await
            {
                Ok(buf) => {
                    bytes += buf.len() as u64;
                    let mut at = 0;
                    for len in &lens {
                        let Some(stored) = buf.get(at..at + len) else {
                            return Ok((false, bytes));
                        };
                        if bitrot::verify(stored).is_none() {
                            tracing::warn!(drive = %drive.endpoint(), %bucket, %key, %file, "shard fails its checksum");
                            return Ok((false, bytes));
                        }
                        at += len;
                    }
                    b += lens.len() as u64;
                }
                Err(DriveError::Offline(e)) => return Err(DriveError::Offline(e)),
                Err(e) => {
                    tracing::warn!(drive = %drive.endpoint(), %bucket, %key, %file, error = %e, "shard missing or unreadable");
                    return Ok((false, bytes));
                }
            }
        }
    }
    Ok((true, bytes))
}

/// Offset in the shard file of block `b` and the stored lengths of the blocks from `b`
/// on that fit in one verification read.
fn block_run(g: &Geometry, size: u64, b: u64, blocks: u64) -> (u64, Vec<usize>) {
    let full = g.stored_shard_len(g.block_size);
    let offset = b * full as u64;
    let mut lens = Vec::new();
    let mut total = 0usize;
    let mut i = b;
    while i < blocks {
        let start = i * g.block_size as u64;
        let block_len = size.saturating_sub(start).min(g.block_size as u64) as usize;
        let len = g.stored_shard_len(block_len);
        if !lens.is_empty() && total + len > VERIFY_READ {
            break;
        }
        lens.push(len);
        total += len;
        i += 1;
    }
    (offset, lens)
}

struct Rebuilt {
    /// Targets that have the version's data now: its data directory committed, or (an
    /// inline version) its shard in `inline_shards`.
    done: Vec<usize>,
    failed: usize,
    bytes_read: u64,
    more_bad: bool,
    /// Every shard of an inline version, by shard index.
    inline_shards: Option<Vec<Bytes>>,
}

/// Re-creates the shards of one version (`resolved`, with its healthy copies) for drive
/// positions `targets`. A version with a data directory is committed on each target
/// with the metadata file `interim(position)`; an inline one only returns its shards.
async fn rebuild(
    set: &ErasureSet,
    bucket: &str,
    key: &str,
    resolved: &Resolved,
    targets: &[usize],
    interim: &(dyn Fn(usize) -> Result<Bytes, DriveError> + Sync),
) -> Result<Rebuilt, HealError> {
    let m = &resolved.meta;
    let g = m.erasure.geometry;
    let codec = Codec::get(g.data, g.parity).map_err(|e| HealError::Invalid(e.to_string()))?;
    let shard_of = |pos: usize| {
        m.erasure
            .distribution
            .get(pos)
            .copied()
            .unwrap_or(usize::MAX)
    };
    let mut out = Rebuilt {
        done: Vec::new(),
        failed: 0,
        bytes_read: 0,
        more_bad: false,
        inline_shards: None,
    };
    let mut alive: Vec<usize> = targets.to_vec();
    let stage = StageId(uuid::Uuid::new_v4().to_string());
    if m.data_dir.is_none() {
        // Inline: decode the (single) block and re-encode every shard.
        let mut reader = crate::erasure::read::ErasureReader::new(
            g,
            m.size,
            resolved.sources(set, bucket, key, "part.1"),
        )?;
        let mut data = BytesMut::new();
        for b in 0..reader.block_count() {
            data.extend_from_slice(&reader.read_block(b).await?);
        }
        out.bytes_read += data.len() as u64;
        out.more_bad |= newly_bad(resolved, &reader, m);
        out.inline_shards = Some(
            codec
                .encode_block(&data)
                .map_err(|e| HealError::Invalid(e.to_string()))?,
        );
        out.done = alive;
        return Ok(out);
    } else {
        for (i, part) in m.parts.iter().enumerate() {
            if alive.is_empty() {
                break;
            }
            let file = format!("part.{}", i + 1);
            let opened = join_all(
                alive
                    .iter()
                    .map(|p| set.drives[*p].create_shard(&stage, &file)),
            )
            .await;
            let mut writers: Vec<(usize, Box<dyn ShardWriter>)> = Vec::new();
            for (pos, w) in alive.iter().zip(opened) {
                match w {
                    Ok(w) => writers.push((*pos, w)),
                    Err(e) => {
                        tracing::warn!(drive = %set.drives[*pos].endpoint(), error = %e, "cannot write healed shard");
                        out.failed += 1;
                    }
                }
            }
            let mut reader = crate::erasure::read::ErasureReader::new(
                g,
                part.size,
                resolved.sources(set, bucket, key, &file),
            )?;
            for b in 0..reader.block_count() {
                let block = match reader.read_block(b).await {
                    Ok(block) => block,
                    Err(e) => {
                        discard(set, &alive, &stage).await;
                        return Err(e.into());
                    }
                };
                out.bytes_read += block.len() as u64;
                // Data shards are slices of the block: only parity needs the codec
                // (re-encoding every shard of every block is most of a rebuild's CPU).
                let only_data = writers.iter().all(|(pos, _)| shard_of(*pos) < g.data);
                let shards = if only_data {
                    Vec::new()
                } else {
                    codec
                        .encode_block(&block)
                        .map_err(|e| HealError::Invalid(e.to_string()))?
                };
                let results = join_all(writers.iter_mut().map(|(pos, w)| {
                    let index = shard_of(*pos);
                    let shard = if only_data {
                        stored_data_shard(&block, g.data, index)
                    } else {
                        shards.get(index).cloned().unwrap_or_default()
                    };
                    w.write(shard)
                }))
                .await;
                let mut kept = Vec::with_capacity(writers.len());
                for ((pos, w), r) in writers.into_iter().zip(results) {
                    match r {
                        Ok(()) => kept.push((pos, w)),
                        Err(e) => {
                            tracing::warn!(drive = %set.drives[pos].endpoint(), error = %e, "healed shard write failed");
                            out.failed += 1;
                        }
                    }
                }
                writers = kept;
                if writers.is_empty() {
                    break;
                }
            }
            out.more_bad |= newly_bad(resolved, &reader, m);
            let finished = join_all(
                writers
                    .into_iter()
                    .map(|(pos, w)| async move { (pos, w.finish().await) }),
            )
            .await;
            let mut next = Vec::new();
            for (pos, r) in finished {
                match r {
                    Ok(()) => next.push(pos),
                    Err(e) => {
                        tracing::warn!(drive = %set.drives[pos].endpoint(), error = %e, "healed shard not durable");
                        out.failed += 1;
                    }
                }
            }
            alive = next;
        }
    }

    // Commit on every target that received all its shards.
    let Some(data_dir) = m.data_dir.as_deref() else {
        return Ok(out);
    };
    let commits = join_all(alive.iter().map(|pos| {
        let pos = *pos;
        let drive = set.drives[pos].clone();
        let stage = &stage;
        async move {
            let file = interim(pos)?;
            // A stale or partial copy of this data directory would block the rename.
            match drive.delete_data_dir(bucket, key, data_dir).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
            drive
                .commit_object(bucket, key, Some(stage), Some(data_dir), file)
                .await?;
            Ok::<_, DriveError>(())
        }
    }))
    .await;
    for (pos, r) in alive.iter().zip(commits) {
        match r {
            Ok(()) => out.done.push(*pos),
            Err(e) => {
                tracing::warn!(drive = %set.drives[*pos].endpoint(), %bucket, %key, error = %e, "cannot commit healed data");
                out.failed += 1;
                let _ = set.drives[*pos].discard_stage(&stage).await;
            }
        }
    }
    // Targets that failed before the commit keep a staged directory; drop it.
    let failed: Vec<usize> = targets
        .iter()
        .copied()
        .filter(|t| !out.done.contains(t))
        .collect();
    discard(set, &failed, &stage).await;
    Ok(out)
}

/// Stored form (checksum + payload) of data shard `index` of `block`, laid out exactly
/// as [`Codec::encode_block`] lays it out (checked by a test): shards of
/// `ceil(len / data)` bytes (at least 1), the last ones zero-padded.
fn stored_data_shard(block: &[u8], data: usize, index: usize) -> Bytes {
    let shard = block.len().div_ceil(data.max(1)).max(1);
    let mut out = BytesMut::zeroed(bitrot::HASH_LEN + shard);
    let start = (index * shard).min(block.len());
    let end = (start + shard).min(block.len());
    out[bitrot::HASH_LEN..bitrot::HASH_LEN + (end - start)].copy_from_slice(&block[start..end]);
    let h = bitrot::hash(&out[bitrot::HASH_LEN..]);
    out[..bitrot::HASH_LEN].copy_from_slice(&h);
    out.freeze()
}

/// True when the reader found a shard bad that the checks had passed as healthy.
fn newly_bad(
    resolved: &Resolved,
    reader: &crate::erasure::read::ErasureReader,
    m: &ObjectMeta,
) -> bool {
    reader.bad_shards().iter().enumerate().any(|(shard, bad)| {
        *bad && m
            .erasure
            .distribution
            .iter()
            .position(|s| *s == shard)
            .is_some_and(|pos| resolved.copies.get(pos).is_some_and(Option::is_some))
    })
}

async fn discard(set: &ErasureSet, positions: &[usize], stage: &StageId) {
    join_all(
        positions
            .iter()
            .map(|p| set.drives[*p].discard_stage(stage)),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::drive::local::LocalDrive;
    use crate::objects::{ObjectLayer, PutOptions, bucket::BucketMeta};
    use std::sync::Arc;

    /// A 2+2 set over four fresh directories.
    async fn layer() -> (tempfile::TempDir, Vec<std::path::PathBuf>, ObjectLayer) {
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        let mut drives: Vec<DriveRef> = Vec::new();
        for i in 0..4 {
            let p = dir.path().join(format!("d{i}"));
            std::fs::create_dir_all(p.join(".cairn.sys")).unwrap();
            let d = LocalDrive::new(p.clone(), false);
            d.prepare();
            drives.push(Arc::new(d));
            paths.push(p);
        }
        let layer = ObjectLayer::new(vec![vec![drives]], 2, 7).unwrap();
        layer
            .make_bucket(
                "bkt",
                BucketMeta {
                    name: "bkt".into(),
                    created_ms: 0,
                    region: None,
                    object_lock: false,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        (dir, paths, layer)
    }

    async fn put(layer: &ObjectLayer, key: &str, len: usize) {
        let body = Bytes::from((0..len).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let stream: crate::objects::BodyStream =
            Box::pin(futures::stream::iter(vec![Ok::<_, std::io::Error>(body)]));
        layer
            .put_object("bkt", key, stream, PutOptions::default())
            .await
            .unwrap();
    }

    fn meta_file(drive: &std::path::Path, key: &str) -> std::path::PathBuf {
        drive.join("bkt").join(key).join("~meta")
    }

    #[tokio::test]
    async fn missing_and_corrupt_copies_are_rewritten_identically() {
        let (_dir, paths, layer) = layer().await;
        put(&layer, "big", 3 << 20).await;
        put(&layer, "small", 1000).await;
        let set = layer.pools[0].set_for("big").clone();
        let want_big = std::fs::read(meta_file(&paths[0], "big")).unwrap();
        let want_small = std::fs::read(meta_file(&paths[2], "small")).unwrap();
        set.drives[0].delete_object("bkt", "big").await.unwrap();
        std::fs::write(meta_file(&paths[2], "small"), b"junk").unwrap();
        let r = heal_object(&set, "bkt", "big", HealMode::Normal)
            .await
            .unwrap();
        assert_eq!((r.exists, r.drives_healed, r.drives_offline), (true, 1, 0));
        assert_eq!(
            std::fs::read(meta_file(&paths[0], "big")).unwrap(),
            want_big
        );
        let r = heal_object(&set, "bkt", "small", HealMode::Normal)
            .await
            .unwrap();
        assert_eq!(r.drives_healed, 1);
        assert_eq!(
            std::fs::read(meta_file(&paths[2], "small")).unwrap(),
            want_small
        );
        // Nothing left to do.
        let r = heal_object(&set, "bkt", "big", HealMode::Deep)
            .await
            .unwrap();
        assert!(!r.changed() && r.complete(), "{r:?}");
    }

    #[tokio::test]
    async fn dangling_copies_are_removed_but_not_while_a_drive_is_offline() {
        let (dir, paths, layer) = layer().await;
        put(&layer, "k", 200_000).await;
        let set = layer.pools[0].set_for("k").clone();
        // Deleted with quorum (3 of 4) while drive 0 was away: drive 0 keeps a copy.
        for d in &set.drives[1..] {
            d.delete_object("bkt", "k").await.unwrap();
        }
        // With drive 3 offline, drive 0's copy plus an unknown one could still be a
        // readable 2+2 object: it must stay.
        let aside = dir.path().join("aside");
        std::fs::rename(&paths[3], &aside).unwrap();
        let r = heal_object(&set, "bkt", "k", HealMode::Normal)
            .await
            .unwrap();
        assert_eq!((r.dangling_removed, r.drives_offline), (0, 1));
        assert!(meta_file(&paths[0], "k").exists());
        std::fs::rename(&aside, &paths[3]).unwrap();
        let r = heal_object(&set, "bkt", "k", HealMode::Normal)
            .await
            .unwrap();
        assert_eq!(
            (r.exists, r.dangling_removed, r.drives_offline),
            (false, 1, 0)
        );
        assert!(!meta_file(&paths[0], "k").exists());
        assert!(
            !paths[0].join("bkt/k").exists(),
            "data directory removed too"
        );
    }

    #[tokio::test]
    async fn too_few_good_shards_is_an_error_not_a_guess() {
        let (_dir, paths, layer) = layer().await;
        put(&layer, "k", 2 << 20).await;
        let set = layer.pools[0].set_for("k").clone();
        // Three of four shard files damaged: 2+2 cannot rebuild.
        for p in &paths[..3] {
            let obj = p.join("bkt/k");
            for e in std::fs::read_dir(&obj).unwrap().flatten() {
                if e.path().is_dir() {
                    std::fs::remove_dir_all(e.path()).unwrap();
                }
            }
        }
        let r = heal_object(&set, "bkt", "k", HealMode::Normal).await;
        assert!(
            matches!(r, Err(HealError::TooFewShards { good: 1, need: 2 })),
            "{r:?}"
        );
    }

    #[test]
    fn data_shards_match_the_codec() {
        for (data, parity) in [(4, 4), (2, 2), (5, 3), (1, 1)] {
            let codec = Codec::get(data, parity).unwrap();
            for len in [0usize, 1, 3, 4, 5, 1000, 1 << 20, (1 << 20) - 1] {
                let block: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
                let all = codec.encode_block(&block).unwrap();
                for (i, want) in all.iter().enumerate().take(data) {
                    assert_eq!(
                        &stored_data_shard(&block, data, i),
                        want,
                        "{data}+{parity} len {len} shard {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn verification_reads_cover_every_block_once() {
        let g = Geometry::new(4, 4);
        let size = 40 * BLOCK_SIZE as u64 + 1234;
        let blocks = size.div_ceil(g.block_size as u64);
        let mut b = 0;
        let mut covered = 0u64;
        let mut rounds = 0;
        while b < blocks {
            let (offset, lens) = block_run(&g, size, b, blocks);
            assert_eq!(offset, covered, "runs are contiguous");
            assert!(lens.iter().sum::<usize>() <= VERIFY_READ);
            covered += lens.iter().sum::<usize>() as u64;
            b += lens.len() as u64;
            rounds += 1;
        }
        assert_eq!(covered, g.shard_file_size(size));
        assert!(rounds >= 2);
    }
}
