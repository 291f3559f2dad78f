//! Server-side encryption that really encrypts, over TLS with the built-in KMS:
//! SSE-S3, SSE-KMS and SSE-C on PUT, GET (ranges across packages and parts), HEAD,
//! multipart, CopyObject and UploadPartCopy, bucket default encryption; no plaintext
//! on any drive; wrong or missing SSE-C keys refused; tampered ciphertext never
//! returned.

use crate::common;

use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use base64::Engine;
use common::{TlsServer, code};
use md5::Digest;
use std::path::Path;

const BUCKET: &str = "enc";
const KMS: &str = "cairn-key:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=,old-key:bmV3MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXY=";

/// A body in which any 64-byte window contains the marker (so every data shard of an
/// unencrypted object shows it), distinct per test object.
fn marked(marker: &str, len: usize) -> Vec<u8> {
    let unit = format!("{marker}|");
    unit.as_bytes().iter().copied().cycle().take(len).collect()
}

fn find_in_drives(drives: &[std::path::PathBuf], needle: &[u8]) -> Vec<String> {
    fn walk(dir: &Path, needle: &[u8], hits: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, needle, hits);
            } else if let Ok(b) = std::fs::read(&p) {
                if b.windows(needle.len()).any(|w| w == needle) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    let mut hits = Vec::new();
    for d in drives {
        walk(d, needle, &mut hits);
    }
    hits
}

struct CKey {
    key: String,
    md5: String,
}

fn ckey(b: u8) -> CKey {
    let raw = [b; 32];
    let e = base64::engine::general_purpose::STANDARD;
    CKey {
        key: e.encode(raw),
        md5: e.encode(md5::Md5::digest(raw)),
    }
}

/// Adds an SSE-C key's three headers (algorithm, key, key MD5) to a request.
trait WithKey {
    fn with_key(self, k: &CKey) -> Self;
}

macro_rules! with_key {
    ($($builder:ty),*) => {$(
        impl WithKey for $builder {
            fn with_key(self, k: &CKey) -> Self {
                self.sse_customer_algorithm("AES256")
                    .sse_customer_key(&k.key)
                    .sse_customer_key_md5(&k.md5)
            }
        }
    )*};
}

with_key!(
    aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
    aws_sdk_s3::operation::get_object::builders::GetObjectFluentBuilder,
    aws_sdk_s3::operation::head_object::builders::HeadObjectFluentBuilder,
    aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder,
    aws_sdk_s3::operation::upload_part::builders::UploadPartFluentBuilder,
    aws_sdk_s3::operation::upload_part_copy::builders::UploadPartCopyFluentBuilder
);

async fn setup() -> (TlsServer, Client) {
    let srv = TlsServer::start(8, Some(KMS)).await;
    let c = srv.client();
    c.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    (srv, c)
}

async fn get_c(
    c: &Client,
    key: &str,
    k: Option<&CKey>,
    range: Option<String>,
) -> Result<Vec<u8>, String> {
    let mut g = c.get_object().bucket(BUCKET).key(key);
    if let Some(k) = k {
        g = g.with_key(k);
    }
    if let Some(r) = range {
        g = g.range(r);
    }
    let out = g.send().await.map_err(|e| {
        let status = e.raw_response().map(|r| r.status().as_u16()).unwrap_or(0);
        format!("{status} {}", code(&e))
    })?;
    Ok(out
        .body
        .collect()
        .await
        .map_err(|e| format!("body of {key}: {e:?}"))?
        .into_bytes()
        .to_vec())
}

#[tokio::test]
async fn sse_s3_and_kms_objects_leave_no_plaintext_and_read_back() {
    let (srv, c) = setup().await;
    // A control object, unencrypted: its marker is on the drives, so the search works.
    let plain = marked("PLAIN-CONTROL-MARKER-0001", 300_000);
    c.put_object()
        .bucket(BUCKET)
        .key("plain")
        .body(ByteStream::from(plain.clone()))
        .send()
        .await
        .expect("plain");
    for (key, len, kms) in [
        ("s3-small", 5_000, false),
        ("s3-large", 3_000_000, false),
        ("kms", 200_000, true),
    ] {
        let marker = format!("SECRET-MARKER-{key}-0123456789");
        let body = marked(&marker, len);
        let mut put = c
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(ByteStream::from(body.clone()));
        put = if kms {
            put.server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id("old-key")
                .ssekms_encryption_context(
                    base64::engine::general_purpose::STANDARD.encode(r#"{"app":"test"}"#),
                )
        } else {
            put.server_side_encryption(ServerSideEncryption::Aes256)
        };
        let out = put.send().await.expect("encrypted put");
        if kms {
            assert_eq!(
                out.server_side_encryption(),
                Some(&ServerSideEncryption::AwsKms)
            );
            assert_eq!(out.ssekms_key_id(), Some("arn:aws:kms:old-key"));
            // SSE-KMS ETags are not the MD5 of the data (as AWS).
            assert_ne!(
                out.e_tag().unwrap().trim_matches('"'),
                hex::encode(md5::Md5::digest(&body))
            );
        } else {
            assert_eq!(
                out.server_side_encryption(),
                Some(&ServerSideEncryption::Aes256)
            );
            assert_eq!(
                out.e_tag().unwrap().trim_matches('"'),
                hex::encode(md5::Md5::digest(&body))
            );
        }
        let head = c
            .head_object()
            .bucket(BUCKET)
            .key(key)
            .send()
            .await
            .expect("head");
        assert_eq!(head.content_length(), Some(len as i64));
        assert!(head.server_side_encryption().is_some());
        assert_eq!(get_c(&c, key, None, None).await.unwrap(), body);
        // A range across a package boundary (64 KiB), or the small object's tail.
        let (a, b) = if len > 65546 {
            (65530, 65545)
        } else {
            (len - 100, len - 1)
        };
        let got = get_c(&c, key, None, Some(format!("bytes={a}-{b}")))
            .await
            .unwrap();
        assert_eq!(got, body[a..=b]);
        assert!(
            find_in_drives(&srv.server.drives, marker.as_bytes()).is_empty(),
            "{key}: plaintext on a drive"
        );
    }
    assert!(!find_in_drives(&srv.server.drives, b"PLAIN-CONTROL-MARKER-0001").is_empty());
    let listed = c
        .list_objects_v2()
        .bucket(BUCKET)
        .send()
        .await
        .expect("list");
    let sizes: Vec<(String, i64)> = listed
        .contents()
        .iter()
        .map(|o| (o.key().unwrap().to_string(), o.size().unwrap()))
        .collect();
    assert!(
        sizes.contains(&("s3-large".to_string(), 3_000_000)),
        "{sizes:?}"
    );
    // An unknown KMS key is refused and stores nothing.
    let err = c
        .put_object()
        .bucket(BUCKET)
        .key("nokey")
        .body(ByteStream::from_static(b"x"))
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("nope")
        .send()
        .await
        .expect_err("unknown key");
    assert_eq!(code(&err), "KMS.NotFoundException");
    assert!(
        c.head_object()
            .bucket(BUCKET)
            .key("nokey")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sse_c_needs_the_right_key_and_reads_any_range() {
    let (srv, c) = setup().await;
    let k = ckey(7);
    let len = 1_000_000;
    let body = marked("SSEC-MARKER-abcdefghijkl", len);
    let out = c
        .put_object()
        .bucket(BUCKET)
        .key("c")
        .body(ByteStream::from(body.clone()))
        .with_key(&k)
        .send()
        .await
        .expect("sse-c put");
    assert_eq!(out.sse_customer_key_md5(), Some(k.md5.as_str()));
    assert_ne!(
        out.e_tag().unwrap().trim_matches('"'),
        hex::encode(md5::Md5::digest(&body))
    );
    assert!(find_in_drives(&srv.server.drives, b"SSEC-MARKER-abcdefghijkl").is_empty());
    assert_eq!(
        get_c(&c, "c", None, None).await.unwrap_err(),
        "400 InvalidRequest"
    );
    assert_eq!(
        get_c(&c, "c", Some(&ckey(8)), None).await.unwrap_err(),
        "403 AccessDenied"
    );
    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("c")
        .send()
        .await
        .expect_err("HEAD without key");
    assert_eq!(head.raw_response().map(|r| r.status().as_u16()), Some(400));
    let head = c
        .head_object()
        .bucket(BUCKET)
        .key("c")
        .with_key(&k)
        .send()
        .await
        .expect("HEAD with key");
    assert_eq!(head.content_length(), Some(len as i64));
    assert_eq!(get_c(&c, "c", Some(&k), None).await.unwrap(), body);
    for (a, b) in [
        (0usize, 0usize),
        (65535, 65536),
        (1, 200_000),
        (999_990, 999_999),
        (131_071, 131_072),
    ] {
        let got = get_c(&c, "c", Some(&k), Some(format!("bytes={a}-{b}")))
            .await
            .unwrap();
        assert_eq!(got, body[a..=b], "range {a}-{b}");
    }
    let got = get_c(&c, "c", Some(&k), Some("bytes=-10".into()))
        .await
        .unwrap();
    assert_eq!(got, body[len - 10..]);
}

#[tokio::test]
async fn multipart_and_copies_across_encryption_kinds() {
    let (srv, c) = setup().await;
    let k = ckey(3);
    let p1 = marked("MP-PART-ONE-MARKER-xyz", 5 << 20);
    let p2 = marked("MP-PART-TWO-MARKER-xyz", 700_000);
    let whole = [p1.clone(), p2.clone()].concat();
    let up = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("mp")
        .with_key(&k)
        .send()
        .await
        .expect("create");
    let id = up.upload_id().unwrap().to_string();
    let mut done = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let out = c
            .upload_part()
            .bucket(BUCKET)
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(p.clone()))
            .with_key(&k)
            .send()
            .await
            .expect("part");
        done.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .build(),
        );
    }
    // A part without the key is refused.
    let err = c
        .upload_part()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(&id)
        .part_number(3)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .expect_err("part without key");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let parts = c
        .list_parts()
        .bucket(BUCKET)
        .key("mp")
        .upload_id(&id)
        .send()
        .await
        .expect("list parts");
    let sizes: Vec<i64> = parts.parts().iter().map(|p| p.size().unwrap()).collect();
    assert_eq!(sizes, vec![5 << 20, 700_000]);
    c.complete_multipart_upload()
        .bucket(BUCKET)
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
    assert!(find_in_drives(&srv.server.drives, b"MP-PART-ONE-MARKER-xyz").is_empty());
    assert!(find_in_drives(&srv.server.drives, b"MP-PART-TWO-MARKER-xyz").is_empty());
    assert_eq!(get_c(&c, "mp", Some(&k), None).await.unwrap(), whole);
    let a = (5 << 20) - 100;
    let got = get_c(
        &c,
        "mp",
        Some(&k),
        Some(format!("bytes={a}-{}", a + 70_000)),
    )
    .await
    .unwrap();
    assert_eq!(got, whole[a..=a + 70_000]);
    let part2 = c
        .get_object()
        .bucket(BUCKET)
        .key("mp")
        .part_number(2)
        .with_key(&k)
        .send()
        .await
        .expect("part 2");
    assert_eq!(part2.content_length(), Some(700_000));
    assert_eq!(
        part2.body.collect().await.unwrap().into_bytes().to_vec(),
        p2
    );

    // CopyObject: SSE-C source (with its key) to SSE-S3, and to plain.
    let copy_src = || {
        c.copy_object()
            .bucket(BUCKET)
            .copy_source(format!("{BUCKET}/mp"))
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&k.key)
            .copy_source_sse_customer_key_md5(&k.md5)
    };
    let err = c
        .copy_object()
        .bucket(BUCKET)
        .key("nokey-copy")
        .copy_source(format!("{BUCKET}/mp"))
        .send()
        .await
        .expect_err("copy without the source key");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(400));
    let out = copy_src()
        .key("to-s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("copy to sse-s3");
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert_eq!(get_c(&c, "to-s3", None, None).await.unwrap(), whole);
    copy_src()
        .key("to-plain")
        .send()
        .await
        .expect("copy to plain");
    assert_eq!(get_c(&c, "to-plain", None, None).await.unwrap(), whole);
    assert!(
        !find_in_drives(&srv.server.drives, b"MP-PART-TWO-MARKER-xyz").is_empty(),
        "the plain copy is plain"
    );

    // UploadPartCopy: a range of the SSE-S3 copy into an SSE-C upload with another key.
    let k2 = ckey(4);
    let up = c
        .create_multipart_upload()
        .bucket(BUCKET)
        .key("mp2")
        .with_key(&k2)
        .send()
        .await
        .expect("create 2");
    let id2 = up.upload_id().unwrap().to_string();
    let r = c
        .upload_part_copy()
        .bucket(BUCKET)
        .key("mp2")
        .upload_id(&id2)
        .part_number(1)
        .copy_source(format!("{BUCKET}/to-s3"))
        .copy_source_range("bytes=1000-300999")
        .with_key(&k2)
        .send()
        .await
        .expect("part copy");
    let etag = r.copy_part_result().unwrap().e_tag().unwrap().to_string();
    c.complete_multipart_upload()
        .bucket(BUCKET)
        .key("mp2")
        .upload_id(&id2)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .parts(CompletedPart::builder().part_number(1).e_tag(etag).build())
                .build(),
        )
        .send()
        .await
        .expect("complete 2");
    assert_eq!(
        get_c(&c, "mp2", Some(&k2), None).await.unwrap(),
        whole[1000..=300_999]
    );
}

#[tokio::test]
async fn bucket_default_encryption_applies_to_plain_puts() {
    let (srv, c) = setup().await;
    let config = ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(ServerSideEncryption::Aes256)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    c.put_bucket_encryption()
        .bucket(BUCKET)
        .server_side_encryption_configuration(config)
        .send()
        .await
        .expect("put bucket encryption");
    let got = c
        .get_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .expect("get");
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default()
            .unwrap()
            .sse_algorithm(),
        &ServerSideEncryption::Aes256
    );
    let body = marked("DEFAULT-ENC-MARKER-42", 100_000);
    let out = c
        .put_object()
        .bucket(BUCKET)
        .key("d")
        .body(ByteStream::from(body.clone()))
        .send()
        .await
        .expect("put");
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    assert!(find_in_drives(&srv.server.drives, b"DEFAULT-ENC-MARKER-42").is_empty());
    assert_eq!(get_c(&c, "d", None, None).await.unwrap(), body);
    c.delete_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .expect("delete");
    let err = c
        .get_bucket_encryption()
        .bucket(BUCKET)
        .send()
        .await
        .expect_err("gone");
    assert_eq!(
        err.code(),
        Some("ServerSideEncryptionConfigurationNotFoundError")
    );
    let out = c
        .put_object()
        .bucket(BUCKET)
        .key("p")
        .body(ByteStream::from_static(b"plain"))
        .send()
        .await
        .expect("put");
    assert_eq!(out.server_side_encryption(), None);
}

/// A flipped byte in the stored ciphertext of every drive: the read fails, it never
/// returns other bytes.
#[tokio::test]
async fn tampered_ciphertext_is_an_error_never_wrong_bytes() {
    let (srv, c) = setup().await;
    let body = marked("TAMPER-MARKER", 2_500_000);
    c.put_object()
        .bucket(BUCKET)
        .key("t")
        .body(ByteStream::from(body.clone()))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("put");
    let mut flipped = 0;
    fn shard_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                shard_files(&p, out);
            } else if p.file_name().is_some_and(|n| n == "part.1")
                && p.to_string_lossy().contains("/enc/t/")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for d in &srv.server.drives {
        shard_files(d, &mut files);
    }
    for f in &files {
        let mut b = std::fs::read(f).unwrap();
        let at = b.len() / 2;
        b[at] ^= 0x01;
        std::fs::write(f, b).unwrap();
        flipped += 1;
    }
    assert_eq!(flipped, 8, "{files:?}");
    match c.get_object().bucket(BUCKET).key("t").send().await {
        Err(_) => {}
        Ok(out) => match out.body.collect().await {
            Err(_) => {}
            Ok(b) => panic!(
                "read returned {} bytes from tampered data",
                b.into_bytes().len()
            ),
        },
    }
}

/// The `part.1` shard files of object `key` in bucket [`BUCKET`], one per drive.
fn part_files(drives: &[std::path::PathBuf], key: &str) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, needle: &str, out: &mut Vec<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, needle, out);
            } else if p.file_name().is_some_and(|n| n == "part.1")
                && p.to_string_lossy().contains(needle)
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    for d in drives {
        walk(d, &format!("/{BUCKET}/{key}/"), &mut files);
    }
    files
}

/// Flips one byte in each of the middle block's shard blocks of `file` (3 blocks of
/// 1 MiB over 4 data shards: every shard block is 256 KiB plus its checksum).
fn corrupt(file: &Path) {
    let mut b = std::fs::read(file).unwrap();
    let at = b.len() / 2;
    b[at] ^= 0x10;
    std::fs::write(file, b).unwrap();
}

/// Encrypted reads skip the bitrot checksums (AES-GCM authenticates every package) and
/// read again with them when a package does not open. A corrupt shard on any one drive,
/// data or parity: the GET (whole, and a range across the corrupt block) still returns
/// exactly the object's bytes, rebuilt from parity.
#[tokio::test]
async fn one_corrupt_shard_of_an_encrypted_object_is_rebuilt_from_parity() {
    let (srv, c) = setup().await;
    let body = marked("ONE-BAD-SHARD", 2_500_000);
    c.put_object()
        .bucket(BUCKET)
        .key("one")
        .body(ByteStream::from(body.clone()))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("put");
    let files = part_files(&srv.server.drives, "one");
    assert_eq!(files.len(), 8, "{files:?}");
    for f in &files {
        let original = std::fs::read(f).unwrap();
        corrupt(f);
        assert_eq!(
            get_c(&c, "one", None, None).await.expect("get"),
            body,
            "corrupt {f:?}"
        );
        let (a, b) = (900_000usize, 2_200_000usize);
        assert_eq!(
            get_c(&c, "one", None, Some(format!("bytes={a}-{b}")))
                .await
                .expect("range get"),
            body[a..=b],
            "corrupt {f:?}"
        );
        // Heal may have rewritten the shard meanwhile (temp file and rename): either
        // way the original bytes are the right ones.
        std::fs::write(f, original).unwrap();
    }
}

/// Corruption on more drives than the parity covers (5 of 8 with EC:4): the encrypted
/// GET fails, even with the verified second read; it never returns other bytes.
#[tokio::test]
async fn corruption_beyond_parity_fails_an_encrypted_read() {
    let (srv, c) = setup().await;
    let body = marked("BEYOND-PARITY", 2_500_000);
    c.put_object()
        .bucket(BUCKET)
        .key("five")
        .body(ByteStream::from(body.clone()))
        .server_side_encryption(ServerSideEncryption::Aes256)
        .send()
        .await
        .expect("put");
    let files = part_files(&srv.server.drives, "five");
    assert_eq!(files.len(), 8, "{files:?}");
    for f in files.iter().take(5) {
        corrupt(f);
    }
    match c.get_object().bucket(BUCKET).key("five").send().await {
        Err(_) => {}
        Ok(out) => match out.body.collect().await {
            Err(_) => {}
            Ok(b) => panic!(
                "read returned {} bytes with 5 of 8 shards corrupt",
                b.into_bytes().len()
            ),
        },
    }
    // The first block is intact: a range inside it still reads.
    assert_eq!(
        get_c(&c, "five", None, Some("bytes=10-1000".into()))
            .await
            .expect("range in the intact block"),
        body[10..=1000]
    );
}

/// Key rotation: with a new key first in KMS_SECRET_KEY, `reseal` moves every SSE-S3
/// and SSE-KMS object key to it without touching the data; afterwards the server runs
/// with the new key alone and every object still reads. SSE-C objects are left alone.
#[tokio::test]
async fn kms_status_and_reseal_rotate_keys_without_rewriting_data() {
    use cairn::admin::kms::{KmsStatus, ResealReport};
    use http::Method;
    const OLD: &str = "old-key:bmV3MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXY=";
    const NEW: &str = "new-key:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=";
    let t = std::time::Duration::from_secs(30);
    let mut srv = TlsServer::start(4, Some(OLD)).await;
    let c = srv.client();
    c.create_bucket()
        .bucket(BUCKET)
        .send()
        .await
        .expect("bucket");
    let mut bodies = Vec::new();
    for i in 0..5 {
        let body = marked(&format!("ROTATE-{i}"), 10_000 + i * 70_000);
        let put = c
            .put_object()
            .bucket(BUCKET)
            .key(format!("o{i}"))
            .body(ByteStream::from(body.clone()));
        let put = if i % 2 == 0 {
            put.server_side_encryption(ServerSideEncryption::Aes256)
        } else {
            put.server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_encryption_context(
                    base64::engine::general_purpose::STANDARD.encode(r#"{"n":"x"}"#),
                )
        };
        put.send().await.expect("put");
        bodies.push(body);
    }
    let k = ckey(9);
    c.put_object()
        .bucket(BUCKET)
        .key("customer")
        .body(ByteStream::from_static(b"sse-c data"))
        .with_key(&k)
        .send()
        .await
        .expect("sse-c put");
    c.put_object()
        .bucket(BUCKET)
        .key("plain")
        .body(ByteStream::from_static(b"p"))
        .send()
        .await
        .expect("plain");
    let stored_before = std::fs::read(find_shard(&srv.server.drives, "o4")).expect("shard");
    for (i, body) in bodies.iter().enumerate() {
        let got = get_c(&c, &format!("o{i}"), None, None).await;
        assert_eq!(
            got.as_ref().map(|b| b.len()),
            Ok(body.len()),
            "o{i} before restart"
        );
    }

    // The new key first, the old one kept to open what it sealed.
    srv.restart_with_kms(Some(&format!("{NEW},{OLD}"))).await;
    let c0 = srv.client();
    for (i, body) in bodies.iter().enumerate() {
        let got = get_c(&c0, &format!("o{i}"), None, None).await;
        assert_eq!(
            got.as_ref().map(|b| b.len()),
            Ok(body.len()),
            "o{i} after restart"
        );
    }
    let admin = srv.admin();
    let status: KmsStatus = admin
        .json(Method::GET, cairn::admin::kms::STATUS_PATH, &[], t)
        .await
        .expect("status");
    assert_eq!(status.default_key_id, "new-key");
    assert_eq!(
        status.keys,
        vec!["new-key".to_string(), "old-key".to_string()]
    );
    let report: ResealReport = admin
        .json(
            Method::POST,
            cairn::admin::kms::RESEAL_PATH,
            &[("bucket", BUCKET)],
            t,
        )
        .await
        .expect("reseal");
    assert_eq!(
        (
            report.scanned,
            report.resealed,
            report.unchanged,
            report.failed
        ),
        (7, 5, 2, 0),
        "{report:?}"
    );
    let again: ResealReport = admin
        .json(
            Method::POST,
            cairn::admin::kms::RESEAL_PATH,
            &[("bucket", BUCKET)],
            t,
        )
        .await
        .expect("reseal again");
    assert_eq!(again.resealed, 0, "{again:?}");
    let c1 = srv.client();
    for (i, body) in bodies.iter().enumerate() {
        let got = get_c(&c1, &format!("o{i}"), None, None).await;
        assert_eq!(
            got.as_ref().map(|b| b.len()),
            Ok(body.len()),
            "o{i} after reseal"
        );
    }
    // The data was not rewritten.
    assert_eq!(
        std::fs::read(find_shard(&srv.server.drives, "o4")).expect("shard"),
        stored_before
    );

    // The old key gone: everything still reads.
    srv.restart_with_kms(Some(NEW)).await;
    let c = srv.client();
    for (i, body) in bodies.iter().enumerate() {
        assert_eq!(
            get_c(&c, &format!("o{i}"), None, None).await.unwrap(),
            *body,
            "o{i}"
        );
    }
    assert_eq!(
        get_c(&c, "customer", Some(&k), None).await.unwrap(),
        b"sse-c data"
    );
}

/// The first shard file of `key` (a data directory's `part.1`) on any drive.
fn find_shard(drives: &[std::path::PathBuf], key: &str) -> std::path::PathBuf {
    fn walk(dir: &Path, key: &str, out: &mut Option<std::path::PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, key, out);
            } else if out.is_none()
                && p.file_name().is_some_and(|n| n == "part.1")
                && p.to_string_lossy().contains(&format!("/{BUCKET}/{key}/"))
            {
                *out = Some(p);
            }
        }
    }
    let mut out = None;
    for d in drives {
        walk(d, key, &mut out);
    }
    out.expect("a shard file")
}
