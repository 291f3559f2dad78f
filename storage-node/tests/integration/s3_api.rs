//! The S3 API as the official `aws-sdk-s3` crate sees it, against a real server
//! process (in-process) on 8 drives with EC:4.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use common::{TestServer, code, data, get_bytes};

#[tokio::test]
async fn buckets_lifecycle_and_errors() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("alpha").send().await.unwrap();
    c.create_bucket().bucket("beta").send().await.unwrap();
    let e = c.create_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "BucketAlreadyOwnedByYou");
    let e = c
        .create_bucket()
        .bucket("Bad_Name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidBucketName");
    let names: Vec<String> = c
        .list_buckets()
        .send()
        .await
        .unwrap()
        .buckets()
        .iter()
        .filter_map(|b| b.name().map(str::to_string))
        .collect();
    assert_eq!(names, vec!["alpha", "beta"]);
    c.head_bucket().bucket("alpha").send().await.unwrap();
    let e = c.head_bucket().bucket("nope").send().await.unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
    let loc = c
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|l| l.as_str().is_empty())
    );
    c.put_object()
        .bucket("alpha")
        .key("x")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap();
    let e = c.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "BucketNotEmpty");
    // The failed delete left the bucket and its object intact.
    assert_eq!(get_bytes(&c, "alpha", "x").await, b"1");
    c.delete_object()
        .bucket("alpha")
        .key("x")
        .send()
        .await
        .unwrap();
    c.delete_bucket().bucket("alpha").send().await.unwrap();
    let e = c.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucket");
}

#[tokio::test]
async fn put_get_head_with_metadata_ranges_and_conditions() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    for (i, size) in [
        0usize,
        1,
        100,
        128 * 1024,
        128 * 1024 + 1,
        1 << 20,
        (3 << 20) + 7,
    ]
    .into_iter()
    .enumerate()
    {
        let body = data(size, i as u64);
        let key = format!("dir/obj-{size}");
        let put = c
            .put_object()
            .bucket("bkt")
            .key(&key)
            .body(ByteStream::from(body.clone()))
            .content_type("application/x-test")
            .cache_control("max-age=60")
            .metadata("color", "blue")
            .send()
            .await
            .unwrap();
        let md5 = format!(
            "\"{}\"",
            hex::encode(<md5::Md5 as md5::Digest>::digest(&body))
        );
        assert_eq!(put.e_tag(), Some(md5.as_str()));
        assert_eq!(get_bytes(&c, "bkt", &key).await, body, "size {size}");
        let head = c
            .head_object()
            .bucket("bkt")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(size as i64));
        assert_eq!(head.content_type(), Some("application/x-test"));
        assert_eq!(head.cache_control(), Some("max-age=60"));
        assert_eq!(
            head.metadata()
                .and_then(|m| m.get("color"))
                .map(String::as_str),
            Some("blue")
        );
        assert_eq!(head.e_tag(), Some(md5.as_str()));
        if size > 10 {
            let r = c
                .get_object()
                .bucket("bkt")
                .key(&key)
                .range(format!("bytes=3-{}", size - 2))
                .send()
                .await
                .unwrap();
            assert_eq!(
                r.content_range(),
                Some(format!("bytes 3-{}/{size}", size - 2).as_str())
            );
            let got = r.body.collect().await.unwrap().into_bytes();
            assert_eq!(&got[..], &body[3..size - 1]);
            let r = c
                .get_object()
                .bucket("bkt")
                .key(&key)
                .range("bytes=-5")
                .send()
                .await
                .unwrap();
            assert_eq!(
                &r.body.collect().await.unwrap().into_bytes()[..],
                &body[size - 5..]
            );
        }
    }
    let e = c
        .get_object()
        .bucket("bkt")
        .key("dir/obj-100")
        .range("bytes=100-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidRange");
    let e = c
        .get_object()
        .bucket("bkt")
        .key("dir/obj-100")
        .if_match("\"nope\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(412));
    let etag = c
        .head_object()
        .bucket("bkt")
        .key("dir/obj-100")
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let e = c
        .get_object()
        .bucket("bkt")
        .key("dir/obj-100")
        .if_none_match(&etag)
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(304));
    let e = c
        .get_object()
        .bucket("bkt")
        .key("missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");
    let e = c
        .get_object()
        .bucket("nobucket")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchBucket");
    // response-* overrides.
    let r = c
        .get_object()
        .bucket("bkt")
        .key("dir/obj-1")
        .response_content_type("text/x-override")
        .response_content_disposition("attachment; filename=\"x\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.content_type(), Some("text/x-override"));
    assert_eq!(r.content_disposition(), Some("attachment; filename=\"x\""));
}

#[tokio::test]
async fn overwrite_delete_and_delete_objects() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    for round in 0..3u64 {
        let body = data(200_000 + round as usize, round);
        c.put_object()
            .bucket("bkt")
            .key("k")
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(get_bytes(&c, "bkt", "k").await, body);
    }
    // Overwrites leave one data directory per drive.
    for d in &srv.drives {
        let n = std::fs::read_dir(d.join("bkt/k")).unwrap().count();
        assert_eq!(n, 2, "meta + one data dir on {}", d.display());
    }
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    c.delete_object()
        .bucket("bkt")
        .key("k")
        .send()
        .await
        .unwrap();
    for d in &srv.drives {
        assert!(
            !d.join("bkt/k").exists(),
            "deleted object leaves no directory"
        );
    }
    for i in 0..10 {
        c.put_object()
            .bucket("bkt")
            .key(format!("m/{i}"))
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let objects: Vec<ObjectIdentifier> = (0..12)
        .map(|i| {
            ObjectIdentifier::builder()
                .key(format!("m/{i}"))
                .build()
                .unwrap()
        })
        .collect();
    let r = c
        .delete_objects()
        .bucket("bkt")
        .delete(
            Delete::builder()
                .set_objects(Some(objects))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.deleted().len(), 12);
    assert!(r.errors().is_empty());
    let left = c.list_objects_v2().bucket("bkt").send().await.unwrap();
    assert_eq!(left.key_count(), Some(0));
}

#[tokio::test]
async fn listing_order_prefixes_and_pagination() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    // Keys chosen to catch directory-order mistakes: '-' (0x2d) and '!' sort before '/'.
    let mut keys: Vec<String> = vec![
        "a".into(),
        "a!".into(),
        "a-b".into(),
        "a/b".into(),
        "a/b/c".into(),
        "a/c".into(),
        "b/".into(),
        "b/x".into(),
        "~t".into(),
        "z z".into(),
        "é".into(),
    ];
    for i in 0..2500 {
        keys.push(format!("many/{i:05}"));
    }
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(16));
    let mut tasks = Vec::new();
    for k in &keys {
        let (c, k, sem) = (c.clone(), k.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _p = sem.acquire().await.unwrap();
            c.put_object()
                .bucket("bkt")
                .key(&k)
                .body(ByteStream::from_static(b"v"))
                .send()
                .await
                .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    keys.sort();
    // V2 pagination over everything.
    let mut got = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let r = c
            .list_objects_v2()
            .bucket("bkt")
            .set_continuation_token(token.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        got.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        if r.is_truncated() == Some(true) {
            token = r.next_continuation_token().map(str::to_string);
        } else {
            break;
        }
    }
    assert_eq!(got, keys);
    assert_eq!(pages, 3);
    // V1 with delimiter.
    let r = c
        .list_objects()
        .bucket("bkt")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = r
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["a/", "b/", "many/"]);
    let objects: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(objects, vec!["a", "a!", "a-b", "z z", "~t", "é"]);
    let r = c
        .list_objects_v2()
        .bucket("bkt")
        .prefix("a/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let objects: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(objects, vec!["a/b", "a/c"]);
    let prefixes: Vec<&str> = r
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["a/b/"]);
    // Folder marker is listed as an object under its own prefix.
    let r = c
        .list_objects_v2()
        .bucket("bkt")
        .prefix("b/")
        .send()
        .await
        .unwrap();
    let objects: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(objects, vec!["b/", "b/x"]);
    // V1 marker pagination with small pages and a custom delimiter.
    let mut marker = None;
    let mut seen = Vec::new();
    loop {
        let r = c
            .list_objects()
            .bucket("bkt")
            .prefix("many/01")
            .max_keys(333)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        seen.extend(
            r.contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_string)),
        );
        if r.is_truncated() == Some(true) {
            marker = seen.last().cloned();
        } else {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    let r = c
        .list_objects_v2()
        .bucket("bkt")
        .delimiter("-")
        .send()
        .await
        .unwrap();
    let prefixes: Vec<&str> = r
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(prefixes, vec!["a-"]);
    let r = c
        .list_objects_v2()
        .bucket("bkt")
        .start_after("many/02498")
        .send()
        .await
        .unwrap();
    let objects: Vec<&str> = r.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(objects, vec!["many/02499", "z z", "~t", "é"]);
}

#[tokio::test]
async fn multipart_upload_complete_abort_and_rules() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let part_size = 5 << 20;
    let parts_data: Vec<Vec<u8>> = vec![data(part_size, 1), data(part_size, 2), data(1234, 3)];
    let up = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("big")
        .content_type("video/x")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap().to_string();
    let mut done = Vec::new();
    // Upload out of order, and part 2 twice (the second body wins).
    for n in [3, 2, 1, 2] {
        let body = if n == 2 && done.iter().any(|(p, _)| *p == 2) {
            parts_data[1].clone()
        } else if n == 2 {
            data(part_size, 99)
        } else {
            parts_data[n as usize - 1].clone()
        };
        let r = c
            .upload_part()
            .bucket("bkt")
            .key("big")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        done.retain(|(p, _)| *p != n);
        done.push((n, r.e_tag().unwrap().to_string()));
    }
    done.sort();
    let listed = c
        .list_parts()
        .bucket("bkt")
        .key("big")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.parts().len(), 3);
    assert_eq!(listed.parts()[1].size(), Some(part_size as i64));
    let uploads = c
        .list_multipart_uploads()
        .bucket("bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(uploads.uploads().len(), 1);
    // Wrong ETag and wrong order are refused and leave the upload usable.
    let bad = CompletedMultipartUpload::builder()
        .parts(
            CompletedPart::builder()
                .part_number(1)
                .e_tag("\"00\"")
                .build(),
        )
        .build();
    let e = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("big")
        .upload_id(&id)
        .multipart_upload(bad)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidPart");
    let reversed = CompletedMultipartUpload::builder()
        .set_parts(Some(
            done.iter()
                .rev()
                .map(|(n, t)| CompletedPart::builder().part_number(*n).e_tag(t).build())
                .collect(),
        ))
        .build();
    let e = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("big")
        .upload_id(&id)
        .multipart_upload(reversed)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidPartOrder");
    let ok = CompletedMultipartUpload::builder()
        .set_parts(Some(
            done.iter()
                .map(|(n, t)| CompletedPart::builder().part_number(*n).e_tag(t).build())
                .collect(),
        ))
        .build();
    let r = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("big")
        .upload_id(&id)
        .multipart_upload(ok)
        .send()
        .await
        .unwrap();
    assert!(r.e_tag().unwrap().ends_with("-3\""));
    let whole: Vec<u8> = parts_data.concat();
    assert_eq!(get_bytes(&c, "bkt", "big").await, whole);
    let head = c
        .head_object()
        .bucket("bkt")
        .key("big")
        .send()
        .await
        .unwrap();
    assert_eq!(head.content_type(), Some("video/x"));
    assert_eq!(head.content_length(), Some(whole.len() as i64));
    // Range across the part boundary.
    let r = c
        .get_object()
        .bucket("bkt")
        .key("big")
        .range(format!("bytes={}-{}", part_size - 10, part_size + 9))
        .send()
        .await
        .unwrap();
    assert_eq!(
        &r.body.collect().await.unwrap().into_bytes()[..],
        &whole[part_size - 10..part_size + 10]
    );
    // GET ?partNumber=2 returns exactly that part.
    let r = c
        .get_object()
        .bucket("bkt")
        .key("big")
        .part_number(2)
        .send()
        .await
        .unwrap();
    assert_eq!(r.parts_count(), Some(3));
    assert_eq!(
        &r.body.collect().await.unwrap().into_bytes()[..],
        &parts_data[1][..]
    );
    // The upload is gone, and so are its parts' files: only the record of the completion
    // stays (for a retried CompleteMultipartUpload) until the upload would have expired.
    let e = c
        .list_parts()
        .bucket("bkt")
        .key("big")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
    for d in &srv.drives {
        let dir = d.join(format!(".cairn.sys/multipart/bkt/{id}"));
        let left: Vec<String> = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        assert!(left.iter().all(|n| n == "upload.json"), "{left:?}");
    }
    // EntityTooSmall for a small non-last part; abort cleans up.
    let up = c
        .create_multipart_upload()
        .bucket("bkt")
        .key("small")
        .send()
        .await
        .unwrap();
    let id2 = up.upload_id().unwrap().to_string();
    let mut tags = Vec::new();
    for n in 1..=2 {
        let r = c
            .upload_part()
            .bucket("bkt")
            .key("small")
            .upload_id(&id2)
            .part_number(n)
            .body(ByteStream::from(data(1000, n as u64)))
            .send()
            .await
            .unwrap();
        tags.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(r.e_tag().unwrap())
                .build(),
        );
    }
    let e = c
        .complete_multipart_upload()
        .bucket("bkt")
        .key("small")
        .upload_id(&id2)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(tags))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "EntityTooSmall");
    c.abort_multipart_upload()
        .bucket("bkt")
        .key("small")
        .upload_id(&id2)
        .send()
        .await
        .unwrap();
    let e = c
        .abort_multipart_upload()
        .bucket("bkt")
        .key("small")
        .upload_id(&id2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchUpload");
    for d in &srv.drives {
        assert!(!d.join(format!(".cairn.sys/multipart/bkt/{id2}")).exists());
    }
    let e = c
        .head_object()
        .bucket("bkt")
        .key("small")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
}

#[tokio::test]
async fn copy_object_and_upload_part_copy() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("src").send().await.unwrap();
    c.create_bucket().bucket("dst").send().await.unwrap();
    let body = data((2 << 20) + 5, 7);
    c.put_object()
        .bucket("src")
        .key("o")
        .body(ByteStream::from(body.clone()))
        .content_type("a/b")
        .metadata("k", "v")
        .send()
        .await
        .unwrap();
    c.copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/o")
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "dst", "copy").await, body);
    let h = c
        .head_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("a/b"));
    assert_eq!(
        h.metadata().and_then(|m| m.get("k")).map(String::as_str),
        Some("v")
    );
    c.copy_object()
        .bucket("src")
        .key("o")
        .copy_source("src/o")
        .metadata_directive(aws_sdk_s3::types::MetadataDirective::Replace)
        .content_type("c/d")
        .send()
        .await
        .unwrap();
    let h = c.head_object().bucket("src").key("o").send().await.unwrap();
    assert_eq!(h.content_type(), Some("c/d"));
    assert!(h.metadata().is_none_or(|m| m.is_empty()));
    assert_eq!(get_bytes(&c, "src", "o").await, body);
    let e = c
        .copy_object()
        .bucket("src")
        .key("o")
        .copy_source("src/o")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "InvalidRequest");
    let e = c
        .copy_object()
        .bucket("dst")
        .key("x")
        .copy_source("src/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "NoSuchKey");
    // UploadPartCopy with ranges assembles a new object.
    let up = c
        .create_multipart_upload()
        .bucket("dst")
        .key("assembled")
        .send()
        .await
        .unwrap();
    let id = up.upload_id().unwrap();
    let p1 = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(id)
        .part_number(1)
        .copy_source("src/o")
        .copy_source_range("bytes=0-5242879")
        .send()
        .await;
    // The source is smaller than 5 MiB: the range is not satisfiable.
    assert!(p1.is_err());
    let p1 = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(id)
        .part_number(1)
        .copy_source("src/o")
        .send()
        .await
        .unwrap();
    let p2 = c
        .upload_part_copy()
        .bucket("dst")
        .key("assembled")
        .upload_id(id)
        .part_number(2)
        .copy_source("src/o")
        .copy_source_range("bytes=10-19")
        .send()
        .await
        .unwrap();
    let parts = vec![
        CompletedPart::builder()
            .part_number(1)
            .e_tag(p1.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
        CompletedPart::builder()
            .part_number(2)
            .e_tag(p2.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
    ];
    // Part 1 is 2 MiB (< 5 MiB) so completing must fail with EntityTooSmall.
    let e = c
        .complete_multipart_upload()
        .bucket("dst")
        .key("assembled")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "EntityTooSmall");
    let one = vec![
        CompletedPart::builder()
            .part_number(2)
            .e_tag(p2.copy_part_result().unwrap().e_tag().unwrap())
            .build(),
    ];
    c.complete_multipart_upload()
        .bucket("dst")
        .key("assembled")
        .upload_id(id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(one))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get_bytes(&c, "dst", "assembled").await, &body[10..20]);
}

#[tokio::test]
async fn presigned_get_and_put() {
    use aws_sdk_s3::presigning::PresigningConfig;
    use std::time::Duration;
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let put = c
        .put_object()
        .bucket("bkt")
        .key("p q")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = put.uri().parse().unwrap();
    let path_q = uri.path_and_query().unwrap().as_str();
    let req = format!(
        "PUT {path_q} HTTP/1.1\r\nhost: {}\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello",
        srv.addr
    );
    let r = common::raw(srv.addr, req.as_bytes()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let get = c
        .get_object()
        .bucket("bkt")
        .key("p q")
        .presigned(PresigningConfig::expires_in(Duration::from_secs(300)).unwrap())
        .await
        .unwrap();
    let uri: http::Uri = get.uri().parse().unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        uri.path_and_query().unwrap().as_str(),
        srv.addr
    );
    let r = common::raw(srv.addr, req.as_bytes()).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello");
    // A URL that has expired is refused.
    let old = c
        .get_object()
        .bucket("bkt")
        .key("p q")
        .presigned(
            PresigningConfig::builder()
                .start_time(std::time::SystemTime::now() - Duration::from_secs(120))
                .expires_in(Duration::from_secs(60))
                .build()
                .unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = old.uri().parse().unwrap();
    let req = format!(
        "GET {} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        uri.path_and_query().unwrap().as_str(),
        srv.addr
    );
    let r = common::raw(srv.addr, req.as_bytes()).await;
    assert_eq!(r.status, 403);
    assert!(
        r.text().contains("<Code>AccessDenied</Code>"),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn checksums_are_verified_stored_and_returned() {
    let srv = TestServer::start(8).await;
    let c = srv.client();
    c.create_bucket().bucket("bkt").send().await.unwrap();
    let body = data(300_000, 5);
    let r = c
        .put_object()
        .bucket("bkt")
        .key("crc")
        .body(ByteStream::from(body.clone()))
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .unwrap();
    let expected = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(crc32c::crc32c(&body).to_be_bytes())
    };
    assert_eq!(r.checksum_crc32_c(), Some(expected.as_str()));
    let g = c
        .get_object()
        .bucket("bkt")
        .key("crc")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(g.checksum_crc32_c(), Some(expected.as_str()));
    // A wrong declared checksum is refused and nothing is stored.
    let e = c
        .put_object()
        .bucket("bkt")
        .key("bad")
        .body(ByteStream::from(body.clone()))
        .checksum_crc32("AAAAAA==")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e.into_service_error()), "BadDigest");
    let e = c
        .head_object()
        .bucket("bkt")
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(404));
}
