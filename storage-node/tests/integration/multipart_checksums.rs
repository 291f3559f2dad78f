//! Multipart checksums with the AWS SDK: an upload created with a checksum algorithm
//! gets a composite (`<base64>-<parts>`) or full-object checksum on completion, returned
//! by CompleteMultipartUpload, HEAD and GET with checksum mode, GetObjectAttributes and
//! part-number GETs; part checksums listed in the completion are checked, and the
//! combinations S3 refuses are refused.

use crate::common;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    ObjectAttributes,
};
use base64::Engine;
use common::{TestServer, code, data};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Uploads `parts` into a new upload created with `algo`/`ty`; returns the upload id and
/// the completed parts as the SDK reports them (with their checksums).
async fn upload(
    c: &aws_sdk_s3::Client,
    key: &str,
    algo: ChecksumAlgorithm,
    ty: Option<ChecksumType>,
    parts: &[Vec<u8>],
) -> (String, Vec<CompletedPart>) {
    let id = c
        .create_multipart_upload()
        .bucket("mpc")
        .key(key)
        .checksum_algorithm(algo.clone())
        .set_checksum_type(ty)
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_string();
    let mut done = Vec::new();
    for (i, body) in parts.iter().enumerate() {
        let n = i as i32 + 1;
        let p = c
            .upload_part()
            .bucket("mpc")
            .key(key)
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(algo.clone())
            .body(ByteStream::from(body.clone()))
            .send()
            .await
            .expect("part");
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(p.e_tag().unwrap_or_default())
                .set_checksum_crc32(p.checksum_crc32().map(str::to_string))
                .set_checksum_crc32_c(p.checksum_crc32_c().map(str::to_string))
                .set_checksum_crc64_nvme(p.checksum_crc64_nvme().map(str::to_string))
                .set_checksum_sha256(p.checksum_sha256().map(str::to_string))
                .build(),
        );
    }
    (id, done)
}

fn crc32(b: &[u8]) -> u32 {
    crc32fast::hash(b)
}

#[tokio::test]
async fn composite_crc32_checksum_of_a_multipart_object() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("mpc")
        .send()
        .await
        .expect("bucket");
    let parts = vec![data(5 << 20, 1), data(5 << 20, 2), data(777, 3)];
    let (id, done) = upload(&c, "comp", ChecksumAlgorithm::Crc32, None, &parts).await;
    for (p, body) in done.iter().zip(&parts) {
        assert_eq!(
            p.checksum_crc32(),
            Some(B64.encode(crc32(body).to_be_bytes()).as_str()),
            "each part's CRC32 is returned by UploadPart"
        );
    }
    // Independently: CRC32 of the concatenated big-endian part CRCs, then "-3".
    let mut raw = Vec::new();
    for body in &parts {
        raw.extend(crc32(body).to_be_bytes());
    }
    let want = format!("{}-3", B64.encode(crc32(&raw).to_be_bytes()));
    let out = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("comp")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .expect("complete");
    assert_eq!(out.checksum_crc32(), Some(want.as_str()));
    assert_eq!(out.checksum_type(), Some(&ChecksumType::Composite));

    let head = c
        .head_object()
        .bucket("mpc")
        .key("comp")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
    let get = c
        .get_object()
        .bucket("mpc")
        .key("comp")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get");
    assert_eq!(get.checksum_crc32(), Some(want.as_str()));
    let body = get.body.collect().await.expect("body").into_bytes();
    assert_eq!(body.len(), parts.iter().map(Vec::len).sum::<usize>());

    // A part read by number carries that part's own checksum.
    let part2 = c
        .get_object()
        .bucket("mpc")
        .key("comp")
        .part_number(2)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("get part 2");
    let want2 = B64.encode(crc32(&parts[1]).to_be_bytes());
    assert_eq!(part2.checksum_crc32(), Some(want2.as_str()));
    let got2 = part2.body.collect().await.expect("part body").into_bytes();
    assert_eq!(&got2[..], &parts[1][..]);

    let attrs = c
        .get_object_attributes()
        .bucket("mpc")
        .key("comp")
        .object_attributes(ObjectAttributes::Checksum)
        .object_attributes(ObjectAttributes::ObjectParts)
        .send()
        .await
        .expect("attributes");
    let sum = attrs.checksum().expect("checksum");
    assert_eq!(sum.checksum_crc32(), Some(want.as_str()));
    assert_eq!(sum.checksum_type(), Some(&ChecksumType::Composite));
    let listed: Vec<Option<String>> = attrs
        .object_parts()
        .expect("parts")
        .parts()
        .iter()
        .map(|p| p.checksum_crc32().map(str::to_string))
        .collect();
    let want_parts: Vec<Option<String>> = parts
        .iter()
        .map(|b| Some(B64.encode(crc32(b).to_be_bytes())))
        .collect();
    assert_eq!(listed, want_parts);
}

#[tokio::test]
async fn full_object_crc32c_is_the_crc_of_the_whole_object() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("mpc")
        .send()
        .await
        .expect("bucket");
    let parts = vec![data(5 << 20, 4), data(12_345, 5)];
    let whole: Vec<u8> = parts.concat();
    let want = B64.encode(crc32c::crc32c(&whole).to_be_bytes());
    let completion = |done: Vec<CompletedPart>| {
        CompletedMultipartUpload::builder()
            .set_parts(Some(done))
            .build()
    };

    // A wrong whole-object value is refused and leaves the upload to complete.
    let (id, done) = upload(
        &c,
        "full",
        ChecksumAlgorithm::Crc32C,
        Some(ChecksumType::FullObject),
        &parts,
    )
    .await;
    let err = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("full")
        .upload_id(&id)
        .checksum_crc32_c("AAAAAA==")
        .checksum_type(ChecksumType::FullObject)
        .multipart_upload(completion(done.clone()))
        .send()
        .await
        .expect_err("wrong object checksum");
    assert_eq!(code(&err), "BadDigest");
    let out = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("full")
        .upload_id(&id)
        .checksum_crc32_c(&want)
        .checksum_type(ChecksumType::FullObject)
        .multipart_upload(completion(done))
        .send()
        .await
        .expect("complete with the right object checksum");
    assert_eq!(out.checksum_crc32_c(), Some(want.as_str()));
    assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject));
    let head = c
        .head_object()
        .bucket("mpc")
        .key("full")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .expect("head");
    assert_eq!(head.checksum_crc32_c(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::FullObject));

    // A copy of it keeps the full-object checksum: the bytes are the same.
    let copy = c
        .copy_object()
        .bucket("mpc")
        .key("full-copy")
        .copy_source("mpc/full")
        .send()
        .await
        .expect("copy");
    let copied = copy.copy_object_result().and_then(|r| r.checksum_crc32_c());
    assert_eq!(copied, Some(want.as_str()));

    // CRC-64/NVME is full-object by default.
    let (id, done) = upload(&c, "nvme", ChecksumAlgorithm::Crc64Nvme, None, &parts).await;
    let out = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("nvme")
        .upload_id(&id)
        .multipart_upload(completion(done))
        .send()
        .await
        .expect("complete nvme");
    let put = c
        .put_object()
        .bucket("mpc")
        .key("nvme-whole")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .body(ByteStream::from(whole.clone()))
        .send()
        .await
        .expect("whole put");
    assert!(put.checksum_crc64_nvme().is_some());
    assert_eq!(out.checksum_crc64_nvme(), put.checksum_crc64_nvme());
    assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject));
}

#[tokio::test]
async fn refused_checksum_settings_and_parts() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("mpc")
        .send()
        .await
        .expect("bucket");

    // Combinations S3 refuses.
    let err = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .expect_err("full-object SHA-256");
    assert_eq!(code(&err), "InvalidRequest");
    let err = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .checksum_type(ChecksumType::Composite)
        .send()
        .await
        .expect_err("composite CRC-64/NVME");
    assert_eq!(code(&err), "InvalidRequest");
    let err = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("k")
        .checksum_type(ChecksumType::Composite)
        .send()
        .await
        .expect_err("a type without an algorithm");
    assert_eq!(code(&err), "InvalidRequest");

    // A part with another algorithm than its upload's.
    let id = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("k")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_string();
    let err = c
        .upload_part()
        .bucket("mpc")
        .key("k")
        .upload_id(&id)
        .part_number(1)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from_static(b"part"))
        .send()
        .await
        .expect_err("CRC32 part in a SHA-256 upload");
    assert_eq!(code(&err), "InvalidRequest");

    // A listed part checksum that is not the stored one: InvalidPart, nothing stored.
    let (id, mut done) = upload(
        &c,
        "bad",
        ChecksumAlgorithm::Sha256,
        None,
        &[b"only part".to_vec()],
    )
    .await;
    done[0] = CompletedPart::builder()
        .part_number(1)
        .e_tag(done[0].e_tag().unwrap_or_default())
        .checksum_sha256(B64.encode([7u8; 32]))
        .build();
    let err = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("bad")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(done))
                .build(),
        )
        .send()
        .await
        .expect_err("wrong part checksum");
    assert_eq!(code(&err), "InvalidPart");
    let err = c
        .head_object()
        .bucket("mpc")
        .key("bad")
        .send()
        .await
        .expect_err("nothing was stored");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
}

/// UploadPartCopy into an upload with an algorithm: the copied bytes get the part
/// checksum, so the upload completes with a composite checksum.
#[tokio::test]
async fn copied_parts_get_the_upload_checksum() {
    let srv = TestServer::start(4).await;
    let c = srv.client();
    c.create_bucket()
        .bucket("mpc")
        .send()
        .await
        .expect("bucket");
    let src = data(6 << 20, 8);
    c.put_object()
        .bucket("mpc")
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .expect("source");
    let id = c
        .create_multipart_upload()
        .bucket("mpc")
        .key("dst")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .expect("create")
        .upload_id()
        .expect("id")
        .to_string();
    let p = c
        .upload_part_copy()
        .bucket("mpc")
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source("mpc/src")
        .send()
        .await
        .expect("copy part");
    let r = p.copy_part_result().expect("result");
    let part_crc = B64.encode(crc32(&src).to_be_bytes());
    assert_eq!(r.checksum_crc32(), Some(part_crc.as_str()));
    let out = c
        .complete_multipart_upload()
        .bucket("mpc")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(
                    CompletedPart::builder()
                        .part_number(1)
                        .e_tag(r.e_tag().unwrap_or_default())
                        .checksum_crc32(&part_crc)
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("complete");
    let want = format!(
        "{}-1",
        B64.encode(crc32(&crc32(&src).to_be_bytes()).to_be_bytes())
    );
    assert_eq!(out.checksum_crc32(), Some(want.as_str()));
}
