//! The listing benchmark's parts: key layouts to fill a bucket with, a paginated
//! ListObjectsV2 walk that times every page, and the summary of those times.
//!
//! The question it answers (issue 13): does a page cost the same at the start of a prefix
//! and deep inside it, whatever the prefix's size? So every page's latency is kept, and the
//! summary gives keys/s over the whole listing, page p50/p99/max, and the last tenth of the
//! pages apart from the first tenth (a cost that grows with the position shows there).

use crate::s3::S3Client;
use crate::stats::percentile_sorted;
use anyhow::{Result, bail};
use serde::Serialize;
use std::time::{Duration, Instant};

/// How the keys of a filled prefix are named.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// `<prefix>k0000001`, ...: one flat directory (WAL segments, logs).
    Flat,
    /// `<prefix>ab/cd/<20 chars>`: Synapse's media layout (`local_content/ab/cd/rest`).
    Fanout,
}

/// The `i`-th key of `layout` under `prefix` (deterministic, so a fill can resume).
pub fn key(layout: Layout, prefix: &str, i: u64) -> String {
    match layout {
        Layout::Flat => format!("{prefix}k{i:07}"),
        Layout::Fanout => {
            // A fixed odd multiplier spreads consecutive numbers over the 65,536 leaves.
            let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let (a, b) = ((h >> 56) as u8, (h >> 48) as u8);
            format!(
                "{prefix}{a:02x}/{b:02x}/m{:016x}{i:04}",
                h & 0xFFFF_FFFF_FFFF
            )
        }
    }
}

/// Times of one complete paginated listing.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub keys: u64,
    pub prefixes: u64,
    pub pages: usize,
    pub seconds: f64,
    /// Every page's latency, milliseconds, in listing order.
    pub page_ms: Vec<f64>,
}

/// The XML text of the first `<tag>` element of `xml`.
fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// What [`list_all`] lists and how.
#[derive(Debug, Clone, Default)]
pub struct ListSpec<'a> {
    pub prefix: &'a str,
    pub delimiter: Option<&'a str>,
    /// Keys (or versions) per page.
    pub page: usize,
    /// Start after this key, deep inside the prefix ("": from the start).
    pub start_after: &'a str,
    /// Stop after this many pages (0: to the end).
    pub max_pages: usize,
    /// ListObjectVersions instead of ListObjectsV2: every version and delete marker is
    /// an entry.
    pub versions: bool,
}

/// Lists everything under `prefix` in pages of `page` keys, checking that the keys come in
/// increasing order across pages (strictly for keys, non-decreasing for versions: a fast
/// but wrong listing must not pass). Page `i` goes to `clients[i % n]`: with the servers
/// of a cluster, every continuation token is taken by another server than the one that
/// made it.
pub async fn list_all(clients: &[S3Client], bucket: &str, spec: &ListSpec<'_>) -> Result<Listing> {
    let ListSpec {
        prefix,
        delimiter,
        page,
        start_after,
        max_pages,
        versions,
    } = *spec;
    if clients.is_empty() {
        bail!("no endpoint to list from");
    }
    let started = Instant::now();
    let mut token: Option<String> = None;
    let mut version_marker: Option<String> = None;
    let mut out = Listing {
        keys: 0,
        prefixes: 0,
        pages: 0,
        seconds: 0.0,
        page_ms: Vec::new(),
    };
    let page_s = page.to_string();
    let mut last_key = String::new();
    loop {
        let mut q: Vec<(&str, &str)> = vec![("prefix", prefix), ("max-keys", &page_s)];
        if let Some(d) = delimiter {
            q.push(("delimiter", d));
        }
        match (&token, versions) {
            (Some(t), false) => q.push(("continuation-token", t)),
            (Some(t), true) => {
                q.push(("key-marker", t));
                if let Some(v) = &version_marker {
                    q.push(("version-id-marker", v));
                }
            }
            (None, false) if !start_after.is_empty() => q.push(("start-after", start_after)),
            (None, true) if !start_after.is_empty() => q.push(("key-marker", start_after)),
            (None, _) => {}
        }
        let t0 = Instant::now();
        let client = &clients[out.pages % clients.len()];
        let body = match versions {
            false => client.list_objects_v2(bucket, &q).await?,
            true => client.list_object_versions(bucket, &q).await?,
        };
        out.page_ms.push(t0.elapsed().as_secs_f64() * 1e3);
        out.pages += 1;
        let xml = String::from_utf8_lossy(&body);
        for part in xml.split("<Key>").skip(1) {
            let k = part.split("</Key>").next().unwrap_or("");
            let in_order = match versions {
                false => k > last_key.as_str(),
                true => k >= last_key.as_str(),
            };
            if !in_order {
                bail!("key {k:?} after {last_key:?}: listing out of order");
            }
            last_key = k.to_string();
            out.keys += 1;
        }
        out.prefixes += xml.matches("<CommonPrefixes>").count() as u64;
        if element(&xml, "IsTruncated") != Some("true") || out.pages == max_pages {
            break;
        }
        let next = match versions {
            false => element(&xml, "NextContinuationToken"),
            true => {
                version_marker = element(&xml, "NextVersionIdMarker").map(str::to_string);
                element(&xml, "NextKeyMarker")
            }
        };
        match next {
            Some(t) => token = Some(t.to_string()),
            None => bail!("truncated page without a continuation token or key marker"),
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

/// Summary figures of a [`Listing`].
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub keys_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Median page time of the first and of the last tenth of the pages.
    pub first_tenth_ms: f64,
    pub last_tenth_ms: f64,
}

pub fn summarize(l: &Listing) -> Summary {
    let mut sorted = l.page_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let pct = |p| percentile_sorted(&sorted, p).unwrap_or(0.0);
    let tenth = (l.page_ms.len() / 10).max(1);
    let median = |v: &[f64]| crate::stats::median(v);
    Summary {
        keys_per_s: (l.keys + l.prefixes) as f64 / l.seconds.max(1e-9),
        p50_ms: pct(50.0),
        p99_ms: pct(99.0),
        max_ms: sorted.last().copied().unwrap_or(0.0),
        first_tenth_ms: median(&l.page_ms[..tenth.min(l.page_ms.len())]),
        last_tenth_ms: median(&l.page_ms[l.page_ms.len().saturating_sub(tenth)..]),
    }
}

/// PUTs empty objects `from..to` of `layout` under `prefix` with `concurrency` requests in
/// flight, each key `versions` times (in a versioned bucket, that many versions); returns
/// the rate of PUTs reached.
pub async fn fill(
    client: &S3Client,
    bucket: &str,
    layout: Layout,
    prefix: &str,
    range: std::ops::Range<u64>,
    concurrency: usize,
    versions: u32,
) -> Result<f64> {
    use futures::StreamExt;
    let started = Instant::now();
    let versions = versions.max(1);
    let n = range.end.saturating_sub(range.start) * u64::from(versions);
    let mut done = 0u64;
    let mut last_report = Instant::now();
    let mut puts = futures::stream::iter(range.map(|i| {
        let client = client.clone();
        let key = key(layout, prefix, i);
        let bucket = bucket.to_string();
        async move {
            // A key's versions in order, so that each is the latest when written.
            for _ in 0..versions {
                client
                    .put_object(&bucket, &key, crate::s3::Payload::empty())
                    .await?;
            }
            Ok::<(), anyhow::Error>(())
        }
    }))
    .buffer_unordered(concurrency.max(1));
    while let Some(r) = puts.next().await {
        r?;
        done += 1;
        if last_report.elapsed() > Duration::from_secs(10) {
            eprintln!(
                "fill {prefix}: {done}/{n} ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64()
            );
            last_report = Instant::now();
        }
    }
    Ok(n as f64 / started.elapsed().as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_name_distinct_keys_in_their_shape() {
        assert_eq!(key(Layout::Flat, "wal/", 42), "wal/k0000042");
        let keys: std::collections::HashSet<String> = (0..10_000)
            .map(|i| key(Layout::Fanout, "local_content/", i))
            .collect();
        assert_eq!(keys.len(), 10_000);
        let k = key(Layout::Fanout, "local_content/", 7);
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(parts.len(), 4, "{k}");
        assert_eq!((parts[1].len(), parts[2].len()), (2, 2));
    }

    #[test]
    fn summary_separates_early_and_late_pages() {
        let l = Listing {
            keys: 100,
            prefixes: 0,
            pages: 10,
            seconds: 1.0,
            page_ms: (1..=10).map(f64::from).collect(),
        };
        let s = summarize(&l);
        assert_eq!(s.keys_per_s, 100.0);
        assert_eq!(
            (s.first_tenth_ms, s.last_tenth_ms, s.max_ms),
            (1.0, 10.0, 10.0)
        );
    }

    #[test]
    fn elements_are_found() {
        let x = "<a><IsTruncated>true</IsTruncated><NextContinuationToken>abc</NextContinuationToken></a>";
        assert_eq!(element(x, "IsTruncated"), Some("true"));
        assert_eq!(element(x, "NextContinuationToken"), Some("abc"));
        assert_eq!(element(x, "Missing"), None);
    }
}
