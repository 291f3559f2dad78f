//! Multipart uploads leave nothing behind: a re-uploaded part replaces its file, an
//! upload aborted while a part streams stays gone, abandoned uploads expire, and no
//! completed object exceeds 5 TiB. A real server in-process on 4 drives.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::Bytes;
use cairn::drive::SYSTEM_VOLUME;
use common::{TestServer, code, data, get_bytes};
use std::path::{Path, PathBuf};
use std::time::Duration;

const BUCKET: &str = "uploads";

fn upload_dir(drive: &Path, id: &str) -> PathBuf {
    drive
        .join(SYSTEM_VOLUME)
        .join("multipart")
        .join(BUCKET)
        .join(id)
}

/// Names in a directory (empty when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn start_upload(c: &aws_sdk_s3::Client, key: &str) -> String {
    c.create_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .send()
        .await
        .expect("create upload")
        .upload_id()
        .expect("upload id")
        .to_string()
}

async fn put_part(c: &aws_sdk_s3::Client, key: &str, id: &str, n: i32, body: Vec<u8>) -> String {
    c.upload_part()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from(body))
        .send()
        .await
        .expect("upload part")
        .e_tag()
        .expect("etag")
        .to_string()
}

async fn complete(
    c: &aws_sdk_s3::Client,
    key: &str,
    id: &str,
    parts: &[(i32, &str)],
) -> Result<(), String> {
    let parts = parts
        .iter()
        .map(|(n, e)| CompletedPart::builder().part_number(*n).e_tag(*e).build())
        .collect();
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key(key)
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e.into_service_error()))
}

async fn upload_ids(c: &aws_sdk_s3::Client) -> Vec<String> {
    c.list_multipart_uploads()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list uploads")
        .uploads()
        .iter()
        .filter_map(|u| u.upload_id().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn reuploaded_part_leaves_one_file_per_part_on_every_drive() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let id = start_upload(&c, "big").await;
    let first = data(6 << 20, 1);
    let second = data(6 << 20, 2);
    let last = data(1 << 20, 3);
    put_part(&c, "big", &id, 1, first).await;
    put_part(&c, "big", &id, 1, data(6 << 20, 9)).await;
    let e1 = put_part(&c, "big", &id, 1, second.clone()).await;
    let e2 = put_part(&c, "big", &id, 2, last.clone()).await;
    for drive in &srv.drives {
        let mut listed = names(&upload_dir(drive, &id));
        listed.sort();
        let files = |n: u32| {
            listed
                .iter()
                .filter(|f| f.starts_with(&format!("part.{n}.")) && !f.ends_with(".json"))
                .count()
        };
        assert_eq!(files(1), 1, "{}: {listed:?}", drive.display());
        assert_eq!(files(2), 1, "{}: {listed:?}", drive.display());
    }
    complete(&c, "big", &id, &[(1, e1.as_str()), (2, e2.as_str())])
        .await
        .expect("complete");
    let mut want = second;
    want.extend_from_slice(&last);
    assert_eq!(get_bytes(&c, BUCKET, "big").await, want);
}

#[tokio::test]
async fn upload_aborted_while_a_part_streams_leaves_no_directory() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let id = start_upload(&c, "aborted").await;
    let objects = srv.running.as_ref().expect("running").heal.objects.clone();
    // A body the test feeds by hand: capacity 1, so the second send returns only after
    // the part upload took the first chunk (it is past its upload check by then).
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(1);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let part = tokio::spawn({
        let (objects, id) = (objects.clone(), id.clone());
        async move {
            objects
                .put_part(
                    BUCKET,
                    "aborted",
                    &id,
                    1,
                    Box::pin(body),
                    cairn::objects::PutOptions::default(),
                )
                .await
        }
    });
    tx.send(Ok(Bytes::from(data(1 << 20, 4)))).await.unwrap();
    tx.send(Ok(Bytes::from(data(1 << 20, 5)))).await.unwrap();
    c.abort_multipart_upload()
        .bucket(BUCKET)
        .key("aborted")
        .upload_id(&id)
        .send()
        .await
        .expect("abort");
    tx.send(Ok(Bytes::from(data(1 << 20, 6)))).await.unwrap();
    drop(tx);
    let r = tokio::time::timeout(Duration::from_secs(30), part)
        .await
        .expect("part upload ends")
        .expect("task");
    assert!(
        matches!(r, Err(cairn::objects::ObjectError::NoSuchUpload)),
        "a part of an aborted upload is refused: {r:?}"
    );
    for drive in &srv.drives {
        let dir = upload_dir(drive, &id);
        assert!(
            !dir.exists(),
            "{} re-created: {:?}",
            dir.display(),
            names(&dir)
        );
        let tmp = drive.join(SYSTEM_VOLUME).join("tmp");
        let staged: Vec<String> = names(&tmp)
            .into_iter()
            .filter(|n| tmp.join(n).is_dir())
            .collect();
        assert!(staged.is_empty(), "staged part left behind: {staged:?}");
    }
    assert!(upload_ids(&c).await.is_empty());
}

/// A server whose stale-upload settings are `expiry` and `interval`.
async fn server_with_expiry(expiry: Duration, interval: Duration) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let drives: Vec<PathBuf> = (1..=4).map(|i| dir.path().join(format!("d{i}"))).collect();
    let mut cfg = common::config(&drives, "127.0.0.1:0");
    cfg.heal.stale_uploads_expiry = expiry;
    cfg.heal.stale_uploads_cleanup_interval = interval;
    let running = cairn::server::start(&cfg).await.expect("server starts");
    let addr = running.address;
    TestServer {
        dir,
        drives,
        running: Some(running),
        endpoint: format!("http://{addr}"),
        addr,
    }
}

/// An upload directory with a part file but no `upload.json` on every drive, as a crash
/// or an abort that missed drives leaves it.
fn plant_orphan(srv: &TestServer) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    for drive in &srv.drives {
        let dir = upload_dir(drive, &id);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("part.1.{}", uuid::Uuid::new_v4())), b"x").unwrap();
    }
    id
}

#[tokio::test]
async fn stale_uploads_expire_after_the_configured_expiry() {
    // The worker's interval is long: the sweep is triggered by hand, after the expiry.
    let srv = server_with_expiry(Duration::from_secs(1), Duration::from_secs(3600)).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let id = start_upload(&c, "abandoned").await;
    put_part(&c, "abandoned", &id, 1, data(1 << 20, 7)).await;
    let orphan = plant_orphan(&srv);
    assert_eq!(upload_ids(&c).await, vec![id.clone()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let heal = &srv.running.as_ref().expect("running").heal;
    let report = heal.expire_stale_uploads_now().await;
    assert_eq!((report.expired, report.orphaned), (1, 1), "{report:?}");
    assert!(upload_ids(&c).await.is_empty());
    for drive in &srv.drives {
        assert!(!upload_dir(drive, &id).exists());
        assert!(!upload_dir(drive, &orphan).exists());
    }
    let e = c
        .upload_part()
        .bucket(BUCKET)
        .key("abandoned")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(data(1024, 8)))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
}

#[tokio::test]
async fn stale_upload_worker_runs_on_its_interval() {
    let srv = server_with_expiry(Duration::from_secs(1), Duration::from_secs(1)).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let id = start_upload(&c, "forgotten").await;
    // A bound far above expiry plus interval, before the test fails.
    let mut gone = false;
    for _ in 0..300 {
        let on_drives = srv.drives.iter().any(|d| upload_dir(d, &id).exists());
        if !on_drives && upload_ids(&c).await.is_empty() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the background worker removed the abandoned upload");
}

#[tokio::test]
async fn sweep_keeps_fresh_uploads_and_removes_orphan_directories() {
    // The default expiry (24 h): a sweep now must keep a fresh upload.
    let srv = server_with_expiry(Duration::from_secs(24 * 3600), Duration::from_secs(3600)).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let id = start_upload(&c, "fresh").await;
    let e1 = put_part(&c, "fresh", &id, 1, data(1 << 20, 10)).await;
    let orphan = plant_orphan(&srv);
    let heal = &srv.running.as_ref().expect("running").heal;
    let report = heal.expire_stale_uploads_now().await;
    assert_eq!((report.expired, report.orphaned), (0, 1), "{report:?}");
    for drive in &srv.drives {
        assert!(!upload_dir(drive, &orphan).exists());
        assert!(upload_dir(drive, &id).join("upload.json").exists());
    }
    complete(&c, "fresh", &id, &[(1, e1.as_str())])
        .await
        .expect("a fresh upload survives the sweep");
}

#[tokio::test]
async fn completion_over_5_tib_is_refused() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket(BUCKET).send().await.unwrap();
    let id = start_upload(&c, "huge").await;
    let e1 = put_part(&c, "huge", &id, 1, data(4096, 11)).await;
    let e2 = put_part(&c, "huge", &id, 2, data(4096, 12)).await;
    // Nobody can send 5 TiB here: record two parts of 3 TiB each on every drive, as
    // parts that large would be recorded.
    for drive in &srv.drives {
        for n in 1..=2 {
            let path = upload_dir(drive, &id).join(format!("part.{n}.json"));
            let mut rec: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            rec["size"] = serde_json::json!(3u64 << 40);
            std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
        }
    }
    let r = complete(&c, "huge", &id, &[(1, e1.as_str()), (2, e2.as_str())]).await;
    assert_eq!(r, Err("EntityTooLarge".to_string()));
    let e = c
        .head_object()
        .bucket(BUCKET)
        .key("huge")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    // The upload stays, so the client can still abort it.
    assert_eq!(upload_ids(&c).await, vec![id]);
}
