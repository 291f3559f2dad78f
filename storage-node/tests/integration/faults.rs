//! Fault tests on 8 drives with EC:4: lost, corrupt and unusable drives, quorum limits,
//! and a restart over changed drives.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use common::{TestServer, data, get_bytes};
use std::path::{Path, PathBuf};

const SIZES: &[usize] = &[0, 10, 100_000, 1 << 20, (5 << 20) + 333];

async fn fill(c: &aws_sdk_s3::Client) -> Vec<(String, Vec<u8>)> {
    common::fill_sized(c, SIZES).await
}

async fn check_all(c: &aws_sdk_s3::Client, objects: &[(String, Vec<u8>)]) {
    for (key, body) in objects {
        assert_eq!(
            &get_bytes(c, "bkt", key).await,
            body,
            "{key} reads back byte-identical"
        );
    }
}

/// Every shard file and metadata file of `key` on one drive.
fn object_files(drive: &Path, key: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![drive.join("bkt").join(key)];
    while let Some(p) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&p) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if e.path().is_dir() && name.starts_with("~d.") {
                stack.push(e.path());
            } else if e.path().is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

fn flip_bytes(path: &Path) {
    let mut b = std::fs::read(path).unwrap();
    if b.is_empty() {
        return;
    }
    // Flip a byte in the middle and at the end: checksums and data both.
    let mid = b.len() / 2;
    b[mid] ^= 0x5a;
    let last = b.len() - 1;
    b[last] ^= 0xff;
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

async fn repaired_blocks(srv: &TestServer) -> u64 {
    let token = cairn::front::metrics::token::generate(
        common::USER,
        common::PASSWORD,
        std::time::Duration::from_secs(600),
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
        .find_map(|l| l.strip_prefix("cairn_erasure_repaired_blocks_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("metric present")
}

#[tokio::test]
async fn reads_survive_four_lost_drives_in_every_combination_of_shards() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    // Different groups of 4 drives lose their copies of every object.
    for group in [[0, 1, 2, 3], [4, 5, 6, 7], [0, 2, 5, 7]] {
        let srv2 = TestServer::start(8).await;
        let c2 = srv2.client();
        let objects2 = fill(&c2).await;
        for d in group {
            std::fs::remove_dir_all(srv2.drives[d].join("bkt/obj")).unwrap();
        }
        check_all(&c2, &objects2).await;
        // Listing still has quorum for every key (4 drives hold each).
        let listed = c2.list_objects_v2().bucket("bkt").send().await.unwrap();
        assert_eq!(listed.key_count(), Some(objects2.len() as i32));
    }
    check_all(&c, &objects).await;
}

#[tokio::test]
async fn corrupt_shards_are_detected_and_repaired_never_returned() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let before = repaired_blocks(&srv).await;
    for (key, _) in &objects {
        for d in &srv.drives[..4] {
            for f in object_files(d, key) {
                flip_bytes(&f);
            }
        }
    }
    // Corrupt one more drive of one object before any read (a read would have the
    // heal layer repair it): only 3 good copies remain, below read quorum.
    let (key, _) = &objects[3];
    for f in object_files(&srv.drives[4], key) {
        flip_bytes(&f);
    }
    // Corrupt metadata on 4 drives is ignored; corrupt shards are rebuilt from parity.
    let others: Vec<_> = objects.iter().filter(|(k, _)| k != key).cloned().collect();
    check_all(&c, &others).await;
    assert!(repaired_blocks(&srv).await > before, "repairs are counted");
    // The server must refuse the object with 5 bad copies, never return wrong bytes.
    let e = c.get_object().bucket("bkt").key(key).send().await;
    match e {
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            assert!(matches!(status, Some(503) | Some(404)), "got {status:?}");
        }
        Ok(_) => panic!("an object with 5 of 8 shards corrupt must not be served"),
    }
}

#[tokio::test]
async fn flipped_shard_bytes_with_intact_metadata_are_caught_by_the_checksum() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let (key, body) = &objects[4];
    // Damage only shard files (not metadata) on 5 drives.
    for d in &srv.drives[..5] {
        for f in object_files(d, key)
            .into_iter()
            .filter(|f| !f.ends_with("~meta"))
        {
            flip_bytes(&f);
        }
    }
    let got = c.get_object().bucket("bkt").key(key).send().await;
    if let Ok(out) = got {
        // Headers may have been sent before the damage was found; the body must then fail.
        let body_res = out.body.collect().await;
        assert!(
            body_res
                .as_ref()
                .map(|b| b.clone().into_bytes().to_vec() != *body)
                .unwrap_or(true),
            "corrupt data must never be returned as good"
        );
        assert!(body_res.is_err(), "the stream must end in an error");
    }
}

#[tokio::test]
async fn unusable_drives_quorum_for_reads_and_writes() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let mut aside = Vec::new();
    for d in &srv.drives[..3] {
        aside.push(break_drive(d));
    }
    // 3 drives gone: reads and writes work.
    check_all(&c, &objects).await;
    c.put_object()
        .bucket("bkt")
        .key("with-3-gone")
        .body(ByteStream::from(data(300_000, 1)))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "bkt", "with-3-gone").await, data(300_000, 1));
    let health = common::raw(
        srv.addr,
        b"GET /minio/health/cluster HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(health.status, 200);
    // A 4th: reads work, writes fail with a clear quorum error and leave nothing.
    aside.push(break_drive(&srv.drives[3]));
    check_all(&c, &objects).await;
    for size in [10usize, 2 << 20] {
        let e = c
            .put_object()
            .bucket("bkt")
            .key("with-4-gone")
            .body(ByteStream::from(data(size, 2)))
            .send()
            .await
            .unwrap_err();
        assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
        let msg = format!("{:?}", e.into_service_error());
        assert!(msg.contains("write quorum"), "{msg}");
    }
    let e = c
        .delete_object()
        .bucket("bkt")
        .key("obj/2")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(503));
    // Health reports drive state probed at most once a second (shared by concurrent
    // probes), so the lost quorum shows within that second, not at once.
    let mut status = 0;
    for _ in 0..50 {
        let health = common::raw(
            srv.addr,
            b"GET /minio/health/cluster HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
        .await;
        status = health.status;
        if status == 503 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(status, 503);
    let health = common::raw(
        srv.addr,
        b"GET /minio/health/cluster/read HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(health.status, 200);
    // The broken drives were not re-created as directories.
    for d in &srv.drives[..4] {
        assert!(d.is_file(), "{} must stay a plain file", d.display());
    }
    for (d, a) in srv.drives[..4].iter().zip(&aside) {
        repair_drive(d, a);
    }
    // Back to 8: the failed write left no object behind, everything else is intact.
    let e = c
        .head_object()
        .bucket("bkt")
        .key("with-4-gone")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    check_all(&c, &objects).await;
    assert_eq!(get_bytes(&c, "bkt", "with-3-gone").await, data(300_000, 1));
}

#[tokio::test]
async fn five_drives_gone_reads_fail_cleanly() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    let objects = fill(&c).await;
    let mut aside = Vec::new();
    for d in &srv.drives[..5] {
        aside.push(break_drive(d));
    }
    for (key, _) in &objects {
        let e = c
            .get_object()
            .bucket("bkt")
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            e.raw_response().map(|r| r.status().as_u16()),
            Some(503),
            "{key}"
        );
    }
    for (d, a) in srv.drives[..5].iter().zip(&aside) {
        repair_drive(d, a);
    }
    check_all(&c, &objects).await;
}

#[tokio::test]
async fn restart_keeps_data_and_detects_changed_drives() {
    let mut srv = TestServer::start(8).await;
    let objects = fill(&srv.client()).await;
    srv.restart().await;
    check_all(&srv.client(), &objects).await;
    // A wiped drive comes back formatted and marked for healing; data still reads.
    if let Some(r) = srv.running.take() {
        r.stop().await;
    }
    std::fs::remove_dir_all(&srv.drives[2]).unwrap();
    std::fs::create_dir(&srv.drives[2]).unwrap();
    srv.restart().await;
    let layout = &srv.running.as_ref().unwrap().layout;
    assert_eq!(layout.healing.len(), 1, "{layout:?}");
    // The heal layer rebuilds the drive and removes its marker in the background
    // (tests/heal.rs checks that), so the marker may already be gone here.
    check_all(&srv.client(), &objects).await;
    if let Some(r) = srv.running.take() {
        r.stop().await;
    }
    // A drive of another deployment is refused with a message naming it.
    let other = TestServer::start(8).await;
    let foreign = other.drives[0].clone();
    let mut drives = srv.drives.clone();
    drives[5] = foreign;
    let err = cairn::server::start(&common::config(&drives, "127.0.0.1:0"))
        .await
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(msg.contains("deployment"), "{msg}");
    // A different drive list (order changed) is refused too.
    let mut swapped = srv.drives.clone();
    swapped.swap(0, 1);
    assert!(
        cairn::server::start(&common::config(&swapped, "127.0.0.1:0"))
            .await
            .is_err()
    );
}
