//! GetObjectAttributes with the AWS SDK: ETag, checksum, size and storage class of a
//! plain object; the parts of a multipart object, paginated; unknown attributes refused.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart, ObjectAttributes,
};
use common::{TestServer, code, data};

#[tokio::test]
async fn attributes_of_plain_and_multipart_objects() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("attrs")
        .send()
        .await
        .expect("bucket");
    let body = data(70_000, 1);
    let put = c
        .put_object()
        .bucket("attrs")
        .key("plain")
        .body(ByteStream::from(body.clone()))
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .expect("put");
    let all = [
        ObjectAttributes::Etag,
        ObjectAttributes::Checksum,
        ObjectAttributes::ObjectParts,
        ObjectAttributes::StorageClass,
        ObjectAttributes::ObjectSize,
    ];
    let a = c
        .get_object_attributes()
        .bucket("attrs")
        .key("plain")
        .set_object_attributes(Some(all.to_vec()))
        .send()
        .await
        .expect("attributes");
    assert_eq!(
        Some(a.e_tag().unwrap_or_default()),
        put.e_tag().map(|e| e.trim_matches('"'))
    );
    assert_eq!(a.object_size(), Some(70_000));
    assert_eq!(a.storage_class().map(|s| s.as_str()), Some("STANDARD"));
    assert_eq!(
        a.checksum().and_then(|c| c.checksum_crc32_c()),
        put.checksum_crc32_c()
    );
    assert!(a.object_parts().is_none(), "a plain object has no parts");
    assert!(a.last_modified().is_some());

    // Three parts, two per page.
    let id = c
        .create_multipart_upload()
        .bucket("attrs")
        .key("mp")
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_string();
    let sizes = [5 << 20, 5 << 20, 1234];
    let mut done = Vec::new();
    for (i, n) in sizes.iter().enumerate() {
        let p = c
            .upload_part()
            .bucket("attrs")
            .key("mp")
            .upload_id(&id)
            .part_number(i as i32 + 1)
            .body(ByteStream::from(data(*n, i as u64)))
            .send()
            .await
            .expect("part");
        done.push(
            CompletedPart::builder()
                .part_number(i as i32 + 1)
                .e_tag(p.e_tag().unwrap_or_default())
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket("attrs")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let page = |marker: Option<&str>| {
        c.get_object_attributes()
            .bucket("attrs")
            .key("mp")
            .object_attributes(ObjectAttributes::ObjectParts)
            .object_attributes(ObjectAttributes::ObjectSize)
            .max_parts(2)
            .set_part_number_marker(marker.map(str::to_string))
    };
    let first = page(None).send().await.expect("page 1");
    let parts = first.object_parts().expect("parts");
    assert_eq!(parts.total_parts_count(), Some(3));
    assert_eq!(parts.is_truncated(), Some(true));
    let got: Vec<(i32, i64)> = parts
        .parts()
        .iter()
        .map(|p| (p.part_number().unwrap_or(0), p.size().unwrap_or(0)))
        .collect();
    assert_eq!(got, vec![(1, 5 << 20), (2, 5 << 20)]);
    assert_eq!(
        first.object_size(),
        Some(sizes.iter().sum::<usize>() as i64)
    );
    let next = parts
        .next_part_number_marker()
        .expect("next marker")
        .to_string();
    let second = page(Some(&next)).send().await.expect("page 2");
    let parts = second.object_parts().expect("parts");
    assert_eq!(parts.is_truncated(), Some(false));
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(parts.parts()[0].size(), Some(1234));

    let err = c
        .get_object_attributes()
        .bucket("attrs")
        .key("plain")
        .object_attributes(ObjectAttributes::from("Colour"))
        .send()
        .await
        .expect_err("unknown attribute");
    assert_eq!(code(&err), "InvalidArgument");
    let err = c
        .get_object_attributes()
        .bucket("attrs")
        .key("missing")
        .object_attributes(ObjectAttributes::Etag)
        .send()
        .await
        .expect_err("no such key");
    assert_eq!(code(&err), "NoSuchKey");
}

/// SHA-1 flexible checksums, as the SDK sends them (a trailer over aws-chunked).
#[tokio::test]
async fn sha1_checksums_are_verified_stored_and_returned() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("sha1")
        .send()
        .await
        .expect("bucket");
    let body = data(200_000, 9);
    let put = c
        .put_object()
        .bucket("sha1")
        .key("k")
        .body(ByteStream::from(body.clone()))
        .checksum_algorithm(ChecksumAlgorithm::Sha1)
        .send()
        .await
        .expect("put with SHA1");
    let want = {
        use base64::Engine;
        use sha1::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha1::Sha1::digest(&body))
    };
    assert_eq!(put.checksum_sha1(), Some(want.as_str()));
    let got = c
        .get_object()
        .bucket("sha1")
        .key("k")
        .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    assert_eq!(got.checksum_sha1(), Some(want.as_str()));
    let wrong = c
        .put_object()
        .bucket("sha1")
        .key("bad")
        .body(ByteStream::from_static(b"data"))
        .checksum_sha1("qZk+NkcGgWq6PiVxeFDCbJzQ2J0=")
        .send()
        .await
        .expect_err("a wrong SHA1 is refused");
    assert_eq!(wrong.raw_response().map(|r| r.status().as_u16()), Some(400));
}
