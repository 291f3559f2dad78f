//! Snowball uploads (issue 10): a tar PUT with `X-Amz-Meta-Snowball-Auto-Extract: true`
//! becomes one object per file, plain or gzip-compressed, with MinIO's prefix,
//! ignore-dirs and ignore-errors switches; a body that is not tar is refused and stores
//! nothing.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use common::{TestServer, code, data, get_bytes};
use std::io::Write;

/// A tar of `files` (name, bytes) and the directories named in `dirs`.
fn tar_of(files: &[(&str, Vec<u8>)], dirs: &[&str], pax_type: Option<&str>) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for d in dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, d, std::io::empty()).unwrap();
    }
    for (name, bytes) in files {
        if let Some(t) = pax_type {
            b.append_pax_extensions([("minio.metadata.content-type", t.as_bytes())])
                .unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &bytes[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(raw).unwrap();
    e.finish().unwrap()
}

async fn keys(c: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = c.list_objects_v2().bucket(bucket).send().await.unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn a_tar_is_stored_as_its_files_plain_and_gzip() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("snow").send().await.unwrap();
    let big = data(3 << 20, 7); // several chunks of the extraction
    let files = vec![
        ("a.txt", b"hello".to_vec()),
        ("dir/b.bin", big.clone()),
        ("dir/empty", Vec::new()),
    ];
    let archive = tar_of(&files, &["dir/"], Some("text/x-snow"));
    for (body, label) in [(archive.clone(), "plain/"), (gzip(&archive), "gz/")] {
        c.put_object()
            .bucket("snow")
            .key("upload.tar")
            .metadata("snowball-auto-extract", "true")
            .metadata("minio-snowball-prefix", label)
            .metadata("color", "blue")
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        for (name, bytes) in &files {
            let key = format!("{label}{name}");
            assert_eq!(&get_bytes(&c, "snow", &key).await, bytes, "{key}");
            let head = c
                .head_object()
                .bucket("snow")
                .key(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                head.content_type(),
                Some("text/x-snow"),
                "PAX metadata on {key}"
            );
            let meta = head.metadata().cloned().unwrap_or_default();
            assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
            assert!(
                !meta.contains_key("snowball-auto-extract"),
                "the switch is not stored: {meta:?}"
            );
        }
        let dir = c
            .head_object()
            .bucket("snow")
            .key(format!("{label}dir/"))
            .send()
            .await
            .unwrap();
        assert_eq!(dir.content_length(), Some(0));
    }
    let mut listed = keys(&c, "snow").await;
    listed.sort();
    assert!(!listed.contains(&"upload.tar".to_string()), "{listed:?}");
    assert_eq!(listed.len(), 8, "{listed:?}");
}

#[tokio::test]
async fn switches_and_refusals() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket().bucket("snow").send().await.unwrap();
    c.put_object()
        .bucket("snow")
        .key("kept")
        .body(ByteStream::from_static(b"before"))
        .send()
        .await
        .unwrap();

    // Not a tar: refused, nothing stored.
    let err = c
        .put_object()
        .bucket("snow")
        .key("x.tar")
        .metadata("snowball-auto-extract", "true")
        .body(ByteStream::from(vec![7u8; 4096]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    assert_eq!(keys(&c, "snow").await, vec!["kept".to_string()]);

    // ignore-dirs: directories are not stored.
    let archive = tar_of(&[("d/f", b"1".to_vec())], &["d/"], None);
    c.put_object()
        .bucket("snow")
        .key("x.tar")
        .metadata("snowball-auto-extract", "true")
        .metadata("minio-snowball-ignore-dirs", "true")
        .body(ByteStream::from(archive))
        .send()
        .await
        .unwrap();
    let mut listed = keys(&c, "snow").await;
    listed.sort();
    assert_eq!(listed, vec!["d/f".to_string(), "kept".to_string()]);

    // An entry whose name no object may have fails the request, or is skipped with
    // ignore-errors while the others are stored.
    let long = "n".repeat(1100);
    let archive = tar_of(
        &[
            ("ok1", b"1".to_vec()),
            (long.as_str(), b"2".to_vec()),
            ("ok2", b"3".to_vec()),
        ],
        &[],
        None,
    );
    let err = c
        .put_object()
        .bucket("snow")
        .key("x.tar")
        .metadata("snowball-auto-extract", "true")
        .body(ByteStream::from(archive.clone()))
        .send()
        .await
        .unwrap_err();
    assert!(!code(&err).is_empty(), "{err:?}");
    assert_eq!(get_bytes(&c, "snow", "ok1").await, b"1");
    assert!(!keys(&c, "snow").await.contains(&"ok2".to_string()));
    c.put_object()
        .bucket("snow")
        .key("x.tar")
        .metadata("snowball-auto-extract", "true")
        .metadata("minio-snowball-ignore-errors", "true")
        .body(ByteStream::from(archive))
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "snow", "ok2").await, b"3");
    assert_eq!(get_bytes(&c, "snow", "kept").await, b"before");
}
