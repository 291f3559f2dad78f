//! Listing against a model (issue 13): random interleavings of PUTs and DELETEs with
//! paginated listings (random page sizes, delimiters, prefixes, start-after) over two
//! erasure sets of local drives. Every page is in order; a key present for the whole
//! listing appears exactly once (as itself or under a common prefix); nothing is listed
//! that did not exist at some point during the listing; with no writes in between, the
//! listing equals the model's. Also: a stale copy on one drive does not resurrect a
//! deleted key, and a flat directory larger than the walk's cache threshold behaves the
//! same.

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
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    let mut sets: Vec<Vec<DriveRef>> = vec![Vec::new(), Vec::new()];
    for i in 0..8 {
        let p = dir.path().join(format!("d{i}"));
        std::fs::create_dir_all(p.join(SYSTEM_VOLUME)).unwrap();
        let d = LocalDrive::new(p.clone(), false);
        d.prepare();
        sets[i / 4].push(Arc::new(d));
        paths.push(p);
    }
    let layer = ObjectLayer::new(vec![sets], 2, 7).unwrap();
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
