//! Listing against a model (issue 13): random interleavings of PUTs and DELETEs with
//! paginated listings (random page sizes, delimiters, prefixes, start-after) over two
//! erasure sets of local drives. Every page is in order; a key present for the whole
//! listing appears exactly once (as itself or under a common prefix); nothing is listed
//! that did not exist at some point during the listing; with no writes in between, the
//! listing equals the model's. Also: a stale copy on one drive does not resurrect a
//! deleted key, and a flat directory larger than the walk's cache threshold behaves the
//! same. On one set of eight drives (EC:4), where each key's header is read on five
//! drives only: copies that disagree, a key deleted on most drives, drives offline.

use bytes::Bytes;
use cairn::drive::local::LocalDrive;
use cairn::drive::{DriveRef, SYSTEM_VOLUME};
use cairn::objects::list::{ListParams, ListResult};
use cairn::objects::{BodyStream, ObjectLayer, PutOptions, bucket::BucketMeta};
use proptest::prelude::*;
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

const BUCKET: &str = "bkt";

struct Fixture {
    _dir: tempfile::TempDir,
    drives: Vec<PathBuf>,
    layer: ObjectLayer,
}

/// Two sets of four drives (2+2 each), no fsync (the test is about order, not power cuts).
async fn fixture() -> Fixture {
    fixture_of(2, 4, 2).await
}

/// `sets` sets of `per_set` drives with `parity` parity drives each.
async fn fixture_of(sets: usize, per_set: usize, parity: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut drives: Vec<Vec<DriveRef>> = vec![Vec::new(); sets];
    for i in 0..sets * per_set {
        let p = dir.path().join(format!("d{i}"));
        std::fs::create_dir_all(p.join(SYSTEM_VOLUME)).unwrap();
        let d = LocalDrive::new(p.clone(), false);
        d.prepare();
        drives[i / per_set].push(Arc::new(d));
        paths.push(p);
    }
    let layer = ObjectLayer::new(vec![drives], parity, 7).unwrap();
    layer
        .make_bucket(
            BUCKET,
            BucketMeta {
                name: BUCKET.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        drives: paths,
        layer,
    }
}

async fn put(layer: &ObjectLayer, key: &str) {
    let body: BodyStream = Box::pin(futures::stream::iter(vec![Ok::<_, std::io::Error>(
        Bytes::from(key.to_string()),
    )]));
    layer
        .put_object(BUCKET, key, body, PutOptions::default())
        .await
        .unwrap();
}

async fn delete(layer: &ObjectLayer, key: &str) {
    layer.delete_object(BUCKET, key).await.unwrap();
}

/// What S3 lists for `keys`: (name, is a common prefix) in order.
fn model_listing(
    keys: &BTreeSet<String>,
    prefix: &str,
    delimiter: Option<&str>,
    after: &str,
) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for k in keys.iter().filter(|k| k.starts_with(prefix)) {
        let entry = match delimiter.and_then(|d| k[prefix.len()..].find(d).map(|i| (d, i))) {
            Some((d, i)) => (k[..prefix.len() + i + d.len()].to_string(), true),
            None => (k.clone(), false),
        };
        if entry.0.as_str() <= after || out.last() == Some(&entry) {
            continue;
        }
        out.push(entry);
    }
    out
}

/// A page's entries (objects and common prefixes) merged in order.
fn entries(r: &ListResult) -> Vec<(String, bool)> {
    let mut v: Vec<(String, bool)> = r
        .objects
        .iter()
        .map(|o| (o.key.clone(), false))
        .chain(r.prefixes.iter().map(|p| (p.clone(), true)))
        .collect();
    v.sort();
    v
}

#[derive(Debug, Clone)]
enum Op {
    Put(String),
    Delete(usize),
}

#[derive(Debug, Clone)]
struct Listing {
    prefix: String,
    delimiter: Option<String>,
    start_after: String,
    page: usize,
    /// Writes run between pages.
    between: Vec<Op>,
}

/// Keys whose segments mix characters that sort before `/` (`!`, `-`, `.`) with letters,
/// `~` (escaped on disk) and a multi-byte one, at one to three levels, some folder markers.
fn key() -> impl Strategy<Value = String> {
    // `.` and `..` are not storable segments (keypath::validate_key).
    let seg = "[ab!.~é-]{1,3}".prop_filter("not . or ..", |s| s != "." && s != "..");
    (
        proptest::collection::vec(seg, 1..=3),
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(segs, folder)| {
            let mut k = segs.join("/");
            if folder {
                k.push('/');
            }
            k
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => key().prop_map(Op::Put),
        2 => any::<prop::sample::Index>().prop_map(|i| Op::Delete(i.index(1 << 20))),
    ]
}

fn listing() -> impl Strategy<Value = Listing> {
    (
        prop_oneof![
            Just(String::new()),
            "[ab!.~-]{1,2}",
            "[ab]{1,2}/",
            Just("/".to_string())
        ],
        prop_oneof![
            3 => Just(None),
            3 => Just(Some("/".to_string())),
            1 => Just(Some("-".to_string())),
            1 => Just(Some("b".to_string())),
            1 => Just(Some(String::new())),
        ],
        prop_oneof![Just(String::new()), "[ab!./-]{1,4}"],
        1usize..6,
        proptest::collection::vec(op(), 0..4),
    )
        .prop_map(|(prefix, delimiter, start_after, page, between)| Listing {
            prefix,
            delimiter,
            start_after,
            page,
            between,
        })
}

/// Applies `op` to the store and the model; returns the key it touched.
async fn apply(f: &Fixture, model: &mut BTreeSet<String>, op: &Op) -> Option<String> {
    match op {
        Op::Put(k) => {
            put(&f.layer, k).await;
            model.insert(k.clone());
            Some(k.clone())
        }
        Op::Delete(i) => {
            let k = model.iter().nth(i % model.len().max(1))?.clone();
            delete(&f.layer, &k).await;
            model.remove(&k);
            Some(k)
        }
    }
}

/// Runs one paginated listing with writes between its pages and checks it.
async fn check_listing(
    f: &Fixture,
    model: &mut BTreeSet<String>,
    l: &Listing,
) -> Result<(), String> {
    let at_start = model.clone();
    let mut ever = model.clone();
    let mut touched: HashSet<String> = HashSet::new();
    let delim = l.delimiter.as_deref().filter(|d| !d.is_empty());
    let mut marker = l.start_after.clone();
    let mut listed: Vec<(String, bool)> = Vec::new();
    let mut between = l.between.iter();
    for round in 0..10_000 {
        let r = f
            .layer
            .list_objects(
                BUCKET,
                &ListParams {
                    prefix: l.prefix.clone(),
                    delimiter: l.delimiter.clone(),
                    marker: marker.clone(),
                    max_keys: l.page,
                },
            )
            .await
            .map_err(|e| format!("list failed: {e}"))?;
        let page = entries(&r);
        if page.len() > l.page {
            return Err(format!("page of {} entries for max {}", page.len(), l.page));
        }
        listed.extend(page);
        if !r.truncated {
            break;
        }
        marker = r
            .next_marker
            .clone()
            .ok_or("truncated without a next marker")?;
        if round == 9_999 {
            return Err("listing does not end".into());
        }
        if let Some(op) = between.next() {
            if let Some(k) = apply(f, model, op).await {
                ever.insert(k.clone());
                touched.insert(k);
            }
        }
    }
    for w in listed.windows(2) {
        if w[0].0 >= w[1].0 {
            return Err(format!("{:?} listed before {:?}", w[0], w[1]));
        }
    }
    // Nothing invented: each entry stands for a key that existed during the listing.
    let ever_listing = model_listing(&ever, &l.prefix, delim, &l.start_after);
    for e in &listed {
        if !ever_listing.contains(e) {
            return Err(format!(
                "{e:?} listed but no such key existed (ever: {ever_listing:?})"
            ));
        }
    }
    // Nothing lost: every key present throughout shows up, as itself or its prefix.
    let stable: BTreeSet<String> = at_start
        .iter()
        .filter(|k| model.contains(*k) && !touched.contains(*k))
        .cloned()
        .collect();
    for e in model_listing(&stable, &l.prefix, delim, &l.start_after) {
        if !listed.contains(&e) {
            return Err(format!("{e:?} missing from {listed:?}"));
        }
    }
    if touched.is_empty() {
        let want = model_listing(model, &l.prefix, delim, &l.start_after);
        if listed != want {
            return Err(format!("listed {listed:?}, model {want:?}"));
        }
    }
    Ok(())
}

proptest! {
    // 24 cases by default (each builds eight drives); PROPTEST_CASES=500 for a longer hunt.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(24),
        ..ProptestConfig::default()
    })]

    #[test]
    fn paginated_listings_match_the_model_under_writes(
        steps in proptest::collection::vec(
            prop_oneof![2 => op().prop_map(Ok), 1 => listing().prop_map(Err)], 1..40),
    ) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async {
            let f = fixture().await;
            let mut model = BTreeSet::new();
            for step in &steps {
                match step {
                    Ok(op) => { apply(&f, &mut model, op).await; }
                    Err(l) => check_listing(&f, &mut model, l).await.map_err(TestCaseError::fail)?,
                }
            }
            // Finally, everything in one listing and in pages of one.
            for page in [1000, 1] {
                let l = Listing { prefix: String::new(), delimiter: None, start_after: String::new(), page, between: Vec::new() };
                check_listing(&f, &mut model, &l).await.map_err(TestCaseError::fail)?;
            }
            Ok::<(), TestCaseError>(())
        })?;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_copy_on_one_drive_does_not_resurrect_a_deleted_key() {
    let f = fixture().await;
    put(&f.layer, "gone").await;
    put(&f.layer, "kept").await;
    // Keep one drive's copy of "gone", delete the key, put the copy back on that drive.
    let holder = f
        .drives
        .iter()
        .find(|d| d.join(BUCKET).join("gone").join("~meta").exists())
        .expect("a drive holds the key")
        .clone();
    let saved = std::fs::read(holder.join(BUCKET).join("gone").join("~meta")).unwrap();
    delete(&f.layer, "gone").await;
    std::fs::create_dir_all(holder.join(BUCKET).join("gone")).unwrap();
    std::fs::write(holder.join(BUCKET).join("gone").join("~meta"), saved).unwrap();
    let r = f
        .layer
        .list_objects(
            BUCKET,
            &ListParams {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let keys: Vec<&str> = r.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(keys, ["kept"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_flat_prefix_pages_through_concurrent_writes() {
    let f = fixture().await;
    let mut model = BTreeSet::new();
    // Past the drives' sorted-directory threshold (1,024 names) on every drive.
    for i in 0..1300 {
        let k = format!("flat/k{:05}", i * 2);
        put(&f.layer, &k).await;
        model.insert(k);
    }
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for round in 0..6 {
        let page = 1 + (next() % 400) as usize;
        let between: Vec<Op> = (0..40)
            .map(|_| {
                if next() % 2 == 0 {
                    Op::Put(format!("flat/k{:05}", next() % 2700))
                } else {
                    Op::Delete((next() % 5000) as usize)
                }
            })
            .collect();
        let start_after = match round % 3 {
            0 => String::new(),
            1 => format!("flat/k{:05}", next() % 2700),
            _ => "flat/k0".to_string(),
        };
        let l = Listing {
            prefix: if round % 2 == 0 {
                "flat/".into()
            } else {
                "flat/k01".into()
            },
            delimiter: if round == 3 { Some("/".into()) } else { None },
            start_after,
            page,
            between,
        };
        check_listing(&f, &mut model, &l)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
    }
}

async fn put_body(layer: &ObjectLayer, key: &str, body: &'static [u8]) {
    let body: BodyStream = Box::pin(futures::stream::iter(vec![Ok::<_, std::io::Error>(
        Bytes::from_static(body),
    )]));
    layer
        .put_object(BUCKET, key, body, PutOptions::default())
        .await
        .unwrap();
}

async fn list_all(layer: &ObjectLayer) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    let mut marker = String::new();
    loop {
        // Small pages: several windows, each with its own reads.
        let r = layer
            .list_objects(
                BUCKET,
                &ListParams {
                    max_keys: 7,
                    marker: marker.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        out.extend(r.objects.iter().map(|o| (o.key.clone(), o.size)));
        match r.next_marker {
            Some(m) if r.truncated => marker = m,
            _ => return out,
        }
    }
}

fn meta_path(drive: &std::path::Path, key: &str) -> PathBuf {
    drive.join(BUCKET).join(key).join("~meta")
}

/// Keys `k00`..`k39`: enough that every drive is among the first readers of some of them.
fn forty_keys() -> Vec<String> {
    (0..40).map(|i| format!("k{i:02}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_that_disagree_are_decided_over_every_drive() {
    let f = fixture_of(1, 8, 4).await;
    let keys = forty_keys();
    for k in &keys {
        put_body(&f.layer, k, b"a").await;
    }
    // Each key's first write (size 1) as every drive holds it.
    let old: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| {
            f.drives
                .iter()
                .map(|d| std::fs::read(meta_path(d, k)).unwrap())
                .collect()
        })
        .collect();
    for k in &keys {
        put_body(&f.layer, k, b"bb").await;
    }
    // Put the old copy back on `stale` drives of each key, at positions that move with
    // the key, so they fall among the drives that read headers first and among the others.
    for stale in [1, 3, 4] {
        for (n, k) in keys.iter().enumerate() {
            for j in 0..stale {
                let d = (n + j) % f.drives.len();
                std::fs::write(meta_path(&f.drives[d], k), &old[n][d]).unwrap();
            }
        }
        // Five or more new copies beat the old; four against four goes to the newer, as
        // a read picks it.
        let want: Vec<(String, u64)> = keys.iter().map(|k| (k.clone(), 2)).collect();
        assert_eq!(list_all(&f.layer).await, want, "{stale} stale copies");
        for k in keys.iter().take(3) {
            let info = f.layer.object_info(BUCKET, k).await.unwrap();
            assert_eq!(info.size, 2, "{k}: a read agrees with the listing");
        }
    }
    // Five old copies: the old write has the most, and the listing says so.
    for (n, k) in keys.iter().enumerate() {
        for j in 0..5 {
            let d = (n + j) % f.drives.len();
            std::fs::write(meta_path(&f.drives[d], k), &old[n][d]).unwrap();
        }
    }
    let want: Vec<(String, u64)> = keys.iter().map(|k| (k.clone(), 1)).collect();
    assert_eq!(list_all(&f.layer).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_deleted_on_most_drives_is_not_listed_from_the_rest() {
    let f = fixture_of(1, 8, 4).await;
    let keys = forty_keys();
    for k in &keys {
        put_body(&f.layer, k, b"a").await;
    }
    let saved: Vec<Vec<Vec<u8>>> = keys
        .iter()
        .map(|k| {
            f.drives
                .iter()
                .map(|d| std::fs::read(meta_path(d, k)).unwrap())
                .collect()
        })
        .collect();
    // Every even key is deleted, then three drives (rotating) get their copy back:
    // deleted on five, present on three, below the read quorum of four.
    for (n, k) in keys.iter().enumerate() {
        if n % 2 == 0 {
            delete(&f.layer, k).await;
            for j in 0..3 {
                let d = (n + j) % f.drives.len();
                std::fs::create_dir_all(meta_path(&f.drives[d], k).parent().unwrap()).unwrap();
                std::fs::write(meta_path(&f.drives[d], k), &saved[n][d]).unwrap();
            }
        }
    }
    let want: Vec<(String, u64)> = keys
        .iter()
        .enumerate()
        .filter(|(n, _)| n % 2 == 1)
        .map(|(_, k)| (k.clone(), 1))
        .collect();
    assert_eq!(list_all(&f.layer).await, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drives_offline_leave_the_listing_whole_down_to_the_read_quorum() {
    let f = fixture_of(1, 8, 4).await;
    let keys = forty_keys();
    for k in &keys {
        put_body(&f.layer, k, b"abc").await;
    }
    let want: Vec<(String, u64)> = keys.iter().map(|k| (k.clone(), 3)).collect();
    // Take drives away one by one (a missing root is an offline drive): the listing stays
    // whole down to four drives, the read quorum, whoever was to read each key's header.
    let mut away = Vec::new();
    for d in [2, 5, 0, 7] {
        let off = f.drives[d].with_extension("off");
        std::fs::rename(&f.drives[d], &off).unwrap();
        away.push((d, off));
        assert_eq!(
            list_all(&f.layer).await,
            want,
            "{} drives offline",
            away.len()
        );
    }
    // A fifth drive away: no read quorum, an error rather than a partial listing.
    let off = f.drives[1].with_extension("off");
    std::fs::rename(&f.drives[1], &off).unwrap();
    away.push((1, off));
    let r = f
        .layer
        .list_objects(
            BUCKET,
            &ListParams {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await;
    assert!(r.is_err(), "listed without a read quorum");
    for (d, off) in away {
        std::fs::rename(off, &f.drives[d]).unwrap();
    }
    assert_eq!(list_all(&f.layer).await, want);
}
