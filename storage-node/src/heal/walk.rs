//! Walking every key of one bucket in one erasure set, for the scanner, admin heals and
//! drive rebuilds.
//!
//! Unlike a listing, which shows a key only when a read quorum of drives has it, a heal
//! walk returns the *union* of the drives' keys: a key on a single drive is exactly what
//! healing is for (an object that drive missed being deleted, or the only survivor of a
//! failed write). Each drive walks the same window in S3 order; a window ends at the
//! smallest last key among drives that filled their page, so no key is skipped.

use crate::drive::{DriveError, WalkEntry, WalkHeaders, WalkOptions};
use crate::objects::set::ErasureSet;
use futures::future::join_all;
use std::collections::BTreeSet;

/// Keys per drive per round trip.
const PAGE: usize = 1000;

/// A resumable walk; `marker` is the last key returned, so a rebuild can persist it.
pub struct SetWalk<'a> {
    set: &'a ErasureSet,
    bucket: String,
    prefix: String,
    pub marker: String,
    /// Drive positions not to walk (a drive being rebuilt is empty).
    skip: Vec<usize>,
    done: bool,
}

impl<'a> SetWalk<'a> {
    pub fn new(set: &'a ErasureSet, bucket: &str, prefix: &str, marker: &str) -> Self {
        Self {
            set,
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            marker: marker.to_string(),
            skip: Vec::new(),
            done: false,
        }
    }

    pub fn skipping(mut self, positions: &[usize]) -> Self {
        self.skip = positions.to_vec();
        self
    }

    /// The next batch of keys in order, empty when the walk is over. `Err` when no
    /// walked drive answered (the set is unreachable).
    pub async fn next_batch(&mut self) -> Result<Vec<String>, DriveError> {
        if self.done {
            return Ok(Vec::new());
        }
        let opts = WalkOptions {
            prefix: self.prefix.clone(),
            marker: self.marker.clone(),
            recursive: true,
            limit: PAGE,
            // Names are all the scanner needs: no drive opens a metadata file here.
            headers: WalkHeaders::None,
        };
        let walks = join_all(
            self.set
                .drives
                .iter()
                .enumerate()
                .filter(|(pos, _)| !self.skip.contains(pos))
                .map(|(_, d)| d.walk(&self.bucket, &opts)),
        )
        .await;
        let mut answered = 0;
        let mut last_error = None;
        let mut boundary: Option<String> = None;
        let mut keys = BTreeSet::new();
        for w in walks {
            match w {
                Ok(entries) => {
                    answered += 1;
                    if entries.len() >= PAGE {
                        if let Some(last) = entries.last() {
                            let last = last.name().to_string();
                            if boundary.as_ref().is_none_or(|b| last < *b) {
                                boundary = Some(last);
                            }
                        }
                    }
                    for e in entries {
                        if let WalkEntry::Object { key, .. } = e {
                            keys.insert(key);
                        }
                    }
                }
                // No bucket directory on that drive: it has no keys (heal creates it).
                Err(e) if e.is_not_found() => answered += 1,
                Err(e) => last_error = Some(e),
            }
        }
        if answered == 0 {
            self.done = true;
            return Err(last_error.unwrap_or(DriveError::Offline("no drive to walk".into())));
        }
        let batch: Vec<String> = keys
            .into_iter()
            .filter(|k| *k > self.marker && boundary.as_ref().is_none_or(|b| k <= b))
            .collect();
        match boundary {
            None => self.done = true,
            Some(b) if b > self.marker => self.marker = b,
            // A drive returned a full page that does not advance: stop rather than spin.
            Some(_) => self.done = true,
        }
        Ok(batch)
    }
}
