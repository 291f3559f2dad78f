//! Writes the seed corpora of the fuzz targets from real traffic: an in-process cairn
//! test server behind a recording TCP proxy serves an aws-sdk-s3 client, so the seeds
//! are the SDK's actual request heads, aws-chunked bodies and XML documents, the `~meta`
//! files and `format.json` the server wrote, and presigned URLs from the SDK presigner;
//! plus the documented examples (AWS's aws-chunked example, endpoint syntax).
//!
//! Not part of any build. To regenerate seeds (then minimize with `cargo fuzz cmin`):
//!
//! ```text
//! cp storage-node/fuzz/seeds/make_seeds.rs storage-node/tests/zz_make_seeds.rs
//! FUZZ_SEED_DIR=$PWD/storage-node/fuzz/seeds/out cargo test -p cairn --test zz_make_seeds
//! rm storage-node/tests/zz_make_seeds.rs
//! ```
//!
//! It includes the tests' harness module, so it must sit in `storage-node/tests/` to run.

mod common;
#[path = "../fuzz/src/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier};
use cairn::s3::auth::chunked;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn write(dir: &Path, target: &str, name: &str, data: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join(name), data).expect("write seed");
}

/// Forwards every connection to `upstream`, keeping what clients sent, per connection.
async fn recording_proxy(upstream: std::net::SocketAddr) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let log: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let keep = log.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let log = keep.clone();
            tokio::spawn(async move {
                let server = TcpStream::connect(upstream).await.expect("upstream");
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let index = {
                    let mut log = log.lock().expect("log");
                    log.push(Vec::new());
                    log.len() - 1
                };
                let up = async move {
                    let mut buf = vec![0u8; 65536];
                    loop {
                        let n = cr.read(&mut buf).await.unwrap_or(0);
                        if n == 0 {
                            break;
                        }
                        log.lock().expect("log")[index].extend_from_slice(&buf[..n]);
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut sr, &mut cw).await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (format!("http://{addr}"), log)
}

/// Splits one connection's bytes into (head, body) per request, by Content-Length.
fn split_requests(mut bytes: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    while let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
        let head = &bytes[..end + 4];
        let text = String::from_utf8_lossy(head).to_ascii_lowercase();
        let len = text
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let body_end = (end + 4 + len).min(bytes.len());
        out.push((head.to_vec(), bytes[end + 4..body_end].to_vec()));
        bytes = &bytes[body_end..];
    }
    out
}

fn files_named(root: &Path, name: &str, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files_named(&path, name, out);
        } else if path.file_name().is_some_and(|n| n == name) {
            out.push(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn make_seeds() {
    let out = PathBuf::from(std::env::var("FUZZ_SEED_DIR").expect("FUZZ_SEED_DIR"));
    let server = common::TestServer::start(4).await;
    let (endpoint, log) = recording_proxy(server.addr).await;
    let c = common::client_for(&endpoint);
    let b = "seeds";
    c.create_bucket().bucket(b).send().await.expect("bucket");
    let keys = ["plain.txt", "dir/a b+c%d~é$&=?.txt", " lead and trail ", "x"];
    for (i, key) in keys.iter().enumerate() {
        c.put_object()
            .bucket(b)
            .key(*key)
            .content_type("text/plain")
            .metadata("owner", "fuzz seed")
            .body(ByteStream::from(common::data(100 + i * 3000, i as u64)))
            .send()
            .await
            .expect("put");
    }
    c.put_object()
        .bucket(b)
        .key("big")
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
        .body(ByteStream::from(common::data(300_000, 9)))
        .send()
        .await
        .expect("put big");
    c.get_object().bucket(b).key("plain.txt").range("bytes=1-5").send().await.expect("get");
    c.head_object().bucket(b).key(keys[1]).send().await.expect("head");
    c.list_objects_v2()
        .bucket(b)
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .expect("list");
    let upload = c
        .create_multipart_upload()
        .bucket(b)
        .key("multi")
        .send()
        .await
        .expect("create mpu");
    let id = upload.upload_id().expect("id").to_owned();
    let mut parts = Vec::new();
    for n in 1..=2 {
        let part = c
            .upload_part()
            .bucket(b)
            .key("multi")
            .upload_id(&id)
            .part_number(n)
            .body(ByteStream::from(common::data(if n == 1 { 5 << 20 } else { 1000 }, 7)))
            .send()
            .await
            .expect("part");
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(part.e_tag().expect("etag"))
                .build(),
        );
    }
    c.complete_multipart_upload()
        .bucket(b)
        .key("multi")
        .upload_id(&id)
        .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
        .send()
        .await
        .expect("complete");
    c.copy_object()
        .bucket(b)
        .key("copy")
        .copy_source(format!("{b}/plain.txt"))
        .send()
        .await
        .expect("copy");
    let objects = keys
        .iter()
        .map(|k| ObjectIdentifier::builder().key(*k).build().expect("id"))
        .collect();
    c.delete_objects()
        .bucket(b)
        .delete(Delete::builder().set_objects(Some(objects)).quiet(false).build().expect("d"))
        .send()
        .await
        .expect("delete objects");

    // Meta files and formats, as the server wrote them.
    let mut metas = Vec::new();
    for drive in &server.drives {
        files_named(drive, "~meta", &mut metas);
    }
    metas.sort();
    for (i, path) in metas.iter().enumerate() {
        write(&out, "meta", &format!("server-{i}"), &std::fs::read(path).expect("meta"));
    }
    let mut formats = Vec::new();
    for drive in &server.drives {
        files_named(drive, "format.json", &mut formats);
    }
    let format: cairn::cluster::format::FormatFile =
        serde_json::from_slice(&std::fs::read(&formats[0]).expect("format")).expect("json");
    let mut json = vec![1u8];
    json.extend(serde_json::to_vec(&cairn::rpc::wire::WriteFormat { format }).expect("json"));
    write(&out, "rpc_wire", "write-format", &json);
    let state = cairn::cluster::format::inspect_drive(&server.drives[0]);
    let mut json = vec![1u8];
    json.extend(
        serde_json::to_vec(&cairn::rpc::wire::DriveFormat { state, healing: false }).expect("j"),
    );
    write(&out, "rpc_wire", "drive-format", &json);
    if let Some(meta) = metas.first() {
        let entry = cairn::drive::WalkEntry::Object {
            key: "dir/a b".into(),
            meta: std::fs::read(meta).expect("meta").into(),
        };
        let entries = vec![
            cairn::rpc::wire::Entry::from(&entry),
            cairn::rpc::wire::Entry::from(&cairn::drive::WalkEntry::Prefix("dir/".into())),
        ];
        let mut json = vec![1u8];
        json.extend(serde_json::to_vec(&entries).expect("json"));
        write(&out, "rpc_wire", "walk-entries", &json);
    }
    let walk = cairn::rpc::wire::Walk {
        prefix: "dir/".into(),
        marker: "dir/a".into(),
        recursive: true,
        limit: 1000,
    };
    let mut json = vec![1u8];
    json.extend(serde_json::to_vec(&walk).expect("json"));
    write(&out, "rpc_wire", "walk", &json);
    let node = cairn::rpc::wire::NodeInfo {
        version: "0.1.0".into(),
        pools: vec![vec![
            "http://node{1...4}:9000/data{1...2}".into(),
            "http://node1:9000/data1".into(),
        ]],
        parity: Some(2),
    };
    let mut json = vec![1u8];
    json.extend(serde_json::to_vec(&node).expect("json"));
    write(&out, "rpc_wire", "node-info", &json);
    let mut json = vec![1u8];
    json.extend(br#"{"total":1000,"free":10,"used":990}"#);
    write(&out, "rpc_wire", "info", &json);
    let query = cairn::rpc::query(&[
        ("drive", "/data/d1"),
        ("volume", "seeds"),
        ("key", "dir/a b+c%d~é$&=?.txt"),
        ("offset", "0"),
        ("len", "1048576"),
    ]);
    let mut seed = vec![0u8];
    seed.extend(query.as_bytes());
    write(&out, "rpc_wire", "query", &seed);
    for code in ["not_found", "corrupt\nbad bitrot hash", "io\ndisk full", "offline\nx"] {
        let mut seed = vec![2u8];
        seed.extend(code.as_bytes());
        let kind = code.split('\n').next().unwrap_or(code);
        write(&out, "rpc_wire", &format!("error-{kind}"), &seed);
    }

    // Requests as the SDK sent them.
    let connections = log.lock().expect("log").clone();
    let mut n = 0;
    for conn in &connections {
        for (head, body) in split_requests(conn) {
            n += 1;
            write(&out, "sigv4_header", &format!("sdk-{n:02}"), &head);
            let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
            if text.contains("aws-chunked") {
                let mut seed = vec![2u8, 0u8];
                seed.extend(&body[..body.len().min(8192)]);
                write(&out, "chunked", &format!("sdk-{n:02}"), &seed);
            }
            if text.starts_with("post") && body.starts_with(b"<") {
                write(&out, "xml_bodies", &format!("sdk-{n:02}"), &body);
            }
        }
    }
    assert!(n > 10, "captured only {n} requests");

    // Presigned URLs from the SDK presigner, for the host and path the target uses.
    let presigner = common::client_for(&format!("http://{}", harness::PRESIGN_HOST));
    let (bucket, key) = harness::PRESIGN_PATH[1..].split_once('/').expect("path");
    let config = PresigningConfig::expires_in(std::time::Duration::from_secs(3600)).expect("cfg");
    let get = presigner
        .get_object()
        .bucket(bucket)
        .key(key)
        .presigned(config.clone())
        .await
        .expect("presign");
    let put = presigner
        .put_object()
        .bucket(bucket)
        .key(key)
        .presigned(config)
        .await
        .expect("presign");
    for (name, request) in [("sdk-get", get), ("sdk-put", put)] {
        let query = request.uri().split_once('?').map(|(_, q)| q).unwrap_or("");
        write(&out, "sigv4_presigned", name, query.as_bytes());
    }
    let seven_days = cairn::s3::auth::sigv4::presign_query(
        &cairn::s3::auth::sigv4::PresignRequest {
            method: &http::Method::GET,
            raw_path: harness::PRESIGN_PATH,
            raw_query: "versionId=null",
            host: harness::PRESIGN_HOST,
            time: chrono::Utc::now(),
            region: "us-east-1",
            expires_secs: 604_800,
        },
        &cairn::s3::auth::sigv4::Credentials {
            access_key: harness::AWS_ACCESS_KEY.into(),
            secret_key: harness::AWS_SECRET_KEY.into(),
        },
    );
    write(&out, "sigv4_presigned", "cairn-7-days", seven_days.as_bytes());

    // A request signed by cairn's own client signer over a path with every odd byte.
    let raw = common::signed_request(
        "127.0.0.1:9000".parse().expect("addr"),
        "PUT",
        "/seeds/a%20b%2Bc%25%24%26%3D%3F.txt",
        "tagging=&x-id=PutObject",
        &[("x-amz-meta-note", "  two  spaces  "), ("content-type", "text/plain")],
        b"hello",
        common::PASSWORD,
    );
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    write(&out, "sigv4_header", "cairn-signer", &raw[..end]);

    // AWS's aws-chunked documentation example (66,560 bytes of `a`, 64 KiB chunks), and
    // cairn's encoder in each mode.
    let ctx = harness::example_signing_context();
    let example = chunked::encode(&[b'a'; 66_560], 65_536, &chunked::ChunkMode::Signed(ctx), &[]);
    let mut seed = vec![0u8, 7u8];
    seed.extend(&example);
    write(&out, "chunked", "aws-example", &seed);
    for selector in 0..3u8 {
        let mode = harness::chunk_mode(selector);
        let body = chunked::encode(
            b"hello aws-chunked world",
            7,
            &mode,
            &[("x-amz-checksum-crc32c", "yZRlqg==")],
        );
        let mut seed = vec![selector, 3u8];
        seed.extend(&body);
        write(&out, "chunked", &format!("cairn-mode-{selector}"), &seed);
    }

    // Endpoint syntax from the README and MinIO's documentation.
    for (name, text) in [
        ("local", "/data/d{1...4}"),
        ("urls", "http://node{1...4}.example.com:9000/export{1...8}"),
        ("hex", "https://host-{a...f}/disk{00...1f}"),
        ("padded", "http://minio-{0...3}.minio.ns.svc.cluster.local/data{01...16}"),
        ("ipv6", "http://[::1]:9000/data{1...2}\nhttp://[fe80::1%25eth0]:9000/d"),
        ("pools", "http://a{1...2}/d{1...2}\nhttp://b{1...2}/d{1...2}"),
        ("plain", "/mnt/a\n/mnt/b\n/mnt/c\n/mnt/d"),
        ("errors", "./data{1..8}\n{3...1}\n{1...999999999}\nhttp://h/{1...2}{1...2}..."),
    ] {
        write(&out, "endpoints", name, text.as_bytes());
    }

    // XML documents S3 defines, beyond what the SDK sent.
    for (name, text) in [
        (
            "complete-checksums",
            r#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"a"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>AAAA</ChecksumCRC32></Part><Part><ETag>"b"</ETag><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"#,
        ),
        (
            "delete-quiet",
            "<Delete><Quiet>true</Quiet><Object><Key>a&amp;b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object></Delete>",
        ),
        (
            "create-bucket",
            r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>us-east-1</LocationConstraint></CreateBucketConfiguration>"#,
        ),
        (
            "delete-entities",
            "<?xml version=\"1.0\"?><Delete><Object><Key>&#x1;&#13;&lt;&gt;&quot;&apos;</Key></Object><!-- c --><Object><Key><![CDATA[ x ]]></Key></Object></Delete>",
        ),
    ] {
        write(&out, "xml_bodies", name, text.as_bytes());
    }
}
