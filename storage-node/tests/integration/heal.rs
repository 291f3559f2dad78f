//! Healing on 8 drives with EC:4: damaged shards and metadata healed back to identical
//! bytes, a wiped drive rebuilt after a restart, writes and deletes made while a drive
//! was offline healed by the MRF queue when it returns, and bitrot found by the scanner.
//! "Healed" is proven by reading every object with 4 *other* drives removed, so only the
//! healed drives can supply the missing shards.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use cairn::heal::{HealRequest, TaskState};
use common::{TestServer, data, get_bytes};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const SIZES: &[usize] = &[0, 10, 100_000, 1 << 20, (3 << 20) + 333];

async fn fill(c: &aws_sdk_s3::Client) -> Vec<(String, Vec<u8>)> {
    let mut objects = common::fill_sized(c, SIZES).await;
    // A multipart object: two part files per drive.
    let parts = [data(5 << 20, 7), data(4321, 8)];
    let up = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("multi/part")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let mut done = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let r = c
            .upload_part()
            .bucket("bkt")
            .key("multi/part")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("bkt")
        .key("multi/part")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .unwrap();
    objects.push(("multi/part".into(), parts.concat()));
    objects
}

async fn check_all(c: &aws_sdk_s3::Client, objects: &[(String, Vec<u8>)]) {
    for (key, body) in objects {
        assert!(
            get_bytes(c, "bkt", key).await == *body,
            "{key} reads back byte-identical"
        );
    }
}

/// Every file of bucket `bkt` on a drive (metadata and shard files) and of its bucket
/// record, by path relative to the drive, with its bytes.
fn snapshot(drive: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![drive.join("bkt")];
    let mut guard = 0;
    while let Some(p) = stack.pop() {
        guard += 1;
        assert!(guard < 100_000, "runaway walk");
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(drive).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let record = drive.join(".cairn.sys/buckets/bkt.json");
    if let Ok(b) = std::fs::read(&record) {
        out.insert(PathBuf::from(".cairn.sys/buckets/bkt.json"), b);
    }
    out
}

fn assert_same(drive: &Path, before: &BTreeMap<PathBuf, Vec<u8>>) {
    let after = snapshot(drive);
    let missing: Vec<_> = before.keys().filter(|k| !after.contains_key(*k)).collect();
    assert!(
        missing.is_empty(),
        "{}: missing {missing:?}",
        drive.display()
    );
    let extra: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(
        extra.is_empty(),
        "{}: unexpected {extra:?}",
        drive.display()
    );
    for (k, v) in before {
        assert!(
            after[k] == *v,
            "{}: {} differs",
            drive.display(),
            k.display()
        );
    }
}

/// Files under `bkt/<key>` on a drive: `(metadata files, shard files)`.
fn object_files(drive: &Path, key: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut metas, mut shards) = (Vec::new(), Vec::new());
    let mut stack = vec![drive.join("bkt").join(key)];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir() && name.starts_with("~d.") {
                stack.push(e.path());
            } else if e.path().is_file() && name == "~meta" {
                metas.push(e.path());
            } else if e.path().is_file() {
                shards.push(e.path());
            }
        }
    }
    (metas, shards)
}

fn flip_byte(path: &Path, at: usize) {
    let mut b = std::fs::read(path).unwrap();
    let i = at.min(b.len() - 1);
    b[i] ^= 0x01;
    std::fs::write(path, b).unwrap();
}

/// Replaces a drive directory by a plain file, keeping the original aside.
fn break_drive(drive: &Path) -> PathBuf {
    let aside = drive.with_extension("aside");
    std::fs::rename(drive, &aside).unwrap();
    std::fs::write(drive, b"not a directory").unwrap();
    aside
}

fn repair_drive(drive: &Path, aside: &Path) {
    std::fs::remove_file(drive).unwrap();
    std::fs::rename(aside, drive).unwrap();
}

/// Polls `cond` every 50 ms until it holds or `limit` passes.
async fn wait_for(what: &str, limit: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn heal_state(srv: &TestServer) -> std::sync::Arc<cairn::heal::HealState> {
    srv.running.as_ref().expect("running").heal.clone()
}

async fn admin_heal(srv: &TestServer, req: HealRequest) -> cairn::heal::HealTaskStatus {
    let heal = heal_state(srv);
    let id = heal.start_heal(req).expect("heal starts");
    let mut last = None;
    wait_for("admin heal", Duration::from_secs(60), async || {
        let t = heal.status().task.filter(|t| t.id == id);
        let finished = t.as_ref().is_some_and(|t| t.state != TaskState::Running);
        last = t;
        finished
    })
    .await;
    let t = last.expect("task status");
    assert_eq!(t.state, TaskState::Done, "{t:?}");
    t
}

async fn metric(srv: &TestServer, name: &str) -> u64 {
    let token = cairn::front::metrics::token::generate(
        common::USER,
        common::PASSWORD,
        Duration::from_secs(600),
    );
    let r = common::raw(
        srv.addr,
        format!(
            "GET /minio/v2/metrics/cluster HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {token}\r\nconnection: close\r\n\r\n",
            srv.addr
        )
        .as_bytes(),
    )
    .await;
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("metric {name} present"))
}

#[tokio::test]
async fn damaged_drives_are_healed_to_identical_bytes() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let before: Vec<_> = srv.drives.iter().map(|d| snapshot(d)).collect();
    assert!(before[0].len() > objects.len(), "shard files exist");
    // Four drives damaged four ways.
    // d1: the bucket is gone entirely (directory and record).
    std::fs::remove_dir_all(srv.drives[0].join("bkt")).unwrap();
    std::fs::remove_file(srv.drives[0].join(".cairn.sys/buckets/bkt.json")).unwrap();
    for (key, _) in &objects {
        let (metas, shards) = object_files(&srv.drives[1], key);
        // d2: one bit flipped in the middle of every shard file.
        for s in &shards {
            let len = std::fs::metadata(s).unwrap().len() as usize;
            flip_byte(s, len / 2);
        }
        // d3: shard files deleted, metadata kept.
        for s in object_files(&srv.drives[2], key).1 {
            std::fs::remove_file(s).unwrap();
        }
        // d4: metadata replaced by garbage (inline data with it).
        for m in object_files(&srv.drives[3], key).0 {
            std::fs::write(m, b"garbage").unwrap();
        }
        let _ = metas;
    }
    // Deep: a flipped bit in a middle block is found only by reading every block.
    let t = admin_heal(
        &srv,
        HealRequest {
            deep: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(t.objects_scanned, objects.len() as u64, "{t:?}");
    assert_eq!(t.objects_healed, objects.len() as u64, "{t:?}");
    assert_eq!(t.objects_failed, 0, "{t:?}");
    for (d, b) in srv.drives.iter().zip(&before) {
        assert_same(d, b);
    }
    // A second heal finds nothing to do.
    let t = admin_heal(
        &srv,
        HealRequest {
            bucket: Some("bkt".into()),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        (t.objects_scanned, t.objects_healed),
        (objects.len() as u64, 0)
    );
    let status = heal_state(&srv).status();
    assert!(status.objects_healed >= objects.len() as u64, "{status:?}");
    let json = serde_json::to_value(&status).expect("status serialises");
    assert!(json["task"]["objects_scanned"].is_number(), "{json}");
    assert!(metric(&srv, "cairn_heal_objects_healed_total").await >= objects.len() as u64);
    assert!(metric(&srv, "minio_heal_objects_heal_total").await >= objects.len() as u64);
    // The healed drives alone (with 4 others gone) serve every object.
    let aside: Vec<_> = srv.drives[4..].iter().map(|d| break_drive(d)).collect();
    check_all(&c, &objects).await;
    for (d, a) in srv.drives[4..].iter().zip(&aside) {
        repair_drive(d, a);
    }
}

#[tokio::test]
async fn wiped_drive_is_rebuilt_after_restart() {
    let mut srv = TestServer::start(8).await;
    let objects = fill(&srv.client()).await;
    let before = snapshot(&srv.drives[2]);
    if let Some(r) = srv.running.take() {
        r.stop().await;
    }
    std::fs::remove_dir_all(&srv.drives[2]).unwrap();
    std::fs::create_dir(&srv.drives[2]).unwrap();
    srv.restart().await;
    assert_eq!(srv.running.as_ref().unwrap().layout.healing.len(), 1);
    let marker = srv.drives[2].join(".cairn.sys/healing.json");
    wait_for(
        "healing marker removed",
        Duration::from_secs(60),
        async || !marker.exists(),
    )
    .await;
    let status = heal_state(&srv).status();
    let drive = status
        .drives
        .iter()
        .find(|d| d.endpoint.ends_with("d3"))
        .unwrap_or_else(|| panic!("rebuild reported: {status:?}"));
    assert_eq!(drive.state, TaskState::Done, "{drive:?}");
    assert_eq!(drive.objects_done, objects.len() as u64, "{drive:?}");
    assert_eq!(drive.percent, 100.0);
    assert_eq!(status.drives_healing, 0);
    assert_same(&srv.drives[2], &before);
    // Read with 4 other drives of the set removed: d3 must supply its shards.
    let c = srv.client();
    let gone = [0usize, 1, 3, 4];
    let aside: Vec<_> = gone.iter().map(|i| break_drive(&srv.drives[*i])).collect();
    check_all(&c, &objects).await;
    for (i, a) in gone.iter().zip(&aside) {
        repair_drive(&srv.drives[*i], a);
    }
}

#[tokio::test]
async fn writes_and_deletes_missed_by_an_offline_drive_are_healed_by_mrf() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    for key in ["gone-small", "gone-big"] {
        let size = if key == "gone-big" { 2 << 20 } else { 50 };
        c.put_object()
            .bucket("bkt")
            .key(key)
            .body(ByteStream::from(data(size, 3)))
            .send()
            .await
            .unwrap();
    }
    let aside = break_drive(&srv.drives[5]);
    let mut objects = Vec::new();
    for (i, size) in [10usize, 200_000, (2 << 20) + 5].iter().enumerate() {
        let key = format!("while-offline/{i}");
        let body = data(*size, 40 + i as u64);
        c.put_object()
            .bucket("bkt")
            .key(&key)
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        objects.push((key, body));
    }
    for key in ["gone-small", "gone-big"] {
        c.delete_object()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .unwrap();
    }
    let heal = heal_state(&srv);
    wait_for(
        "MRF entries waiting for the drive",
        Duration::from_secs(20),
        async || heal.status().mrf.waiting >= 5,
    )
    .await;
    repair_drive(&srv.drives[5], &aside);
    let d6 = srv.drives[5].clone();
    let objs = objects.clone();
    wait_for(
        "MRF heals the returned drive",
        Duration::from_secs(30),
        async || {
            let written = objs.iter().all(|(k, _)| !object_files(&d6, k).0.is_empty());
            let deleted = ["gone-small", "gone-big"]
                .iter()
                .all(|k| !d6.join("bkt").join(k).exists());
            written && deleted && heal.status().mrf.queued == 0
        },
    )
    .await;
    // The returned drive holds its shards: read with 4 others removed.
    let gone = [0usize, 1, 2, 3];
    let aside: Vec<_> = gone.iter().map(|i| break_drive(&srv.drives[*i])).collect();
    check_all(&c, &objects).await;
    for (i, a) in gone.iter().zip(&aside) {
        repair_drive(&srv.drives[*i], a);
    }
    for key in ["gone-small", "gone-big"] {
        let e = c
            .head_object()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    }
}

#[tokio::test]
async fn scanner_repairs_a_bit_flipped_shard() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let (key, _) = &objects[4];
    let before = snapshot(&srv.drives[6]);
    let shards = object_files(&srv.drives[6], key).1;
    assert_eq!(shards.len(), 1, "one part file");
    // A bit deep inside the second block: only a full verification finds it.
    flip_byte(&shards[0], (1 << 18) + 100);
    let heal = heal_state(&srv);
    let cycles = heal.status().scanner.cycles_completed;
    heal.scan_now();
    wait_for("a scanner cycle", Duration::from_secs(60), async || {
        heal.status().scanner.cycles_completed > cycles
    })
    .await;
    assert_same(&srv.drives[6], &before);
    let status = heal.status();
    assert!(status.objects_healed >= 1, "{status:?}");
    assert!(status.scanner.objects_scanned_this_cycle >= objects.len() as u64);
    check_all(&c, &objects).await;
}

#[tokio::test]
async fn drive_replaced_while_running_is_formatted_and_rebuilt() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let before = snapshot(&srv.drives[6]);
    let format_before = std::fs::read(srv.drives[6].join(".cairn.sys/format.json")).unwrap();
    std::fs::remove_dir_all(&srv.drives[6]).unwrap();
    std::fs::create_dir(&srv.drives[6]).unwrap();
    let heal = heal_state(&srv);
    heal.check_drives_now();
    let drive = srv.drives[6].clone();
    wait_for(
        "replaced drive rebuilt",
        Duration::from_secs(60),
        async || {
            drive.join(".cairn.sys/format.json").exists()
                && !drive.join(".cairn.sys/healing.json").exists()
                && heal.status().drives_healing == 0
        },
    )
    .await;
    // Same identity as before: the format of that position, with its drive id.
    let a: serde_json::Value = serde_json::from_slice(&format_before).unwrap();
    let b: serde_json::Value =
        serde_json::from_slice(&std::fs::read(drive.join(".cairn.sys/format.json")).unwrap())
            .unwrap();
    assert_eq!(a, b);
    assert_same(&drive, &before);
    let gone = [0usize, 1, 2, 3];
    let aside: Vec<_> = gone.iter().map(|i| break_drive(&srv.drives[*i])).collect();
    check_all(&c, &objects).await;
    for (i, a) in gone.iter().zip(&aside) {
        repair_drive(&srv.drives[*i], a);
    }
}
