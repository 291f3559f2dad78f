//! ListObjects V1/V2 on the wire (issue 10's listing bullet, issue 13's tokens): a prefix
//! that matches nothing lists nothing, an empty delimiter is not echoed, `encoding-type=url`
//! encodes every key-like field, and a continuation token still works after a restart.

use crate::common;

use common::{PASSWORD, TestServer, raw, signed_request};

async fn get(s: &TestServer, query: &str) -> String {
    let req = signed_request(s.addr, "GET", "/lst", query, &[], b"", PASSWORD);
    let resp = raw(s.addr, &req).await;
    assert_eq!(resp.status, 200, "{query}: {}", resp.text());
    resp.text()
}

fn all<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    xml.split(&open)
        .skip(1)
        .filter_map(|p| p.split(&format!("</{tag}>")).next())
        .collect()
}

async fn server_with(keys: &[&str]) -> TestServer {
    let s = TestServer::start(4).await;
    let c = s.client();
    c.create_bucket().bucket("lst").send().await.unwrap();
    for k in keys {
        c.put_object()
            .bucket("lst")
            .key(*k)
            .body(Vec::new().into())
            .send()
            .await
            .unwrap();
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_that_matches_nothing_lists_nothing() {
    let s = server_with(&["a/c", "b/a/c", "x"]).await;
    for prefix in ["%2F", "%2Fb", "a%2F%2F", "zz", "a%2Fc%2F"] {
        for v in ["list-type=2&", ""] {
            let xml = get(&s, &format!("{v}prefix={prefix}")).await;
            assert!(all(&xml, "Key").is_empty(), "prefix {prefix}: {xml}");
            let xml = get(&s, &format!("delimiter=%2F&{v}prefix={prefix}")).await;
            assert!(all(&xml, "Key").is_empty(), "prefix {prefix}: {xml}");
            assert!(all(&xml, "CommonPrefixes").is_empty(), "{prefix}: {xml}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_delimiter_is_neither_applied_nor_echoed() {
    let s = server_with(&["a/b", "c"]).await;
    for v in ["&list-type=2", ""] {
        let xml = get(&s, &format!("delimiter={v}")).await;
        assert!(!xml.contains("<Delimiter"), "{xml}");
        assert_eq!(all(&xml, "Key"), ["a/b", "c"]);
        let xml = get(&s, &format!("delimiter=%2F{v}")).await;
        assert_eq!(all(&xml, "Delimiter"), ["/"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_encoding_applies_to_every_key_like_field() {
    // In order: "d d/a c/x" (space < '+'), "d d/a+b", "d d/z&", "d d/é".
    let s = server_with(&["d d/a+b", "d d/a c/x", "d d/é", "d d/z&"]).await;
    let q = "delimiter=%20c&encoding-type=url&list-type=2&prefix=d%20d%2F";
    // V2: Prefix, Delimiter, Key, CommonPrefixes.
    let xml = get(&s, q).await;
    assert_eq!(all(&xml, "Prefix"), ["d%20d/", "d%20d/a%20c"], "{xml}");
    assert_eq!(all(&xml, "Delimiter"), ["%20c"], "{xml}");
    assert_eq!(
        all(&xml, "Key"),
        ["d%20d/a%2Bb", "d%20d/z%26", "d%20d/%C3%A9"],
        "{xml}"
    );
    // StartAfter, and a continuation token from an encoded listing.
    let xml = get(&s, &format!("{q}&max-keys=1&start-after=d%20d%2Fa%20d")).await;
    assert_eq!(all(&xml, "StartAfter"), ["d%20d/a%20d"], "{xml}");
    assert_eq!(all(&xml, "Key"), ["d%20d/a%2Bb"], "{xml}");
    let token = all(&xml, "NextContinuationToken")[0].to_string();
    let xml = get(&s, &format!("continuation-token={token}&{q}")).await;
    assert_eq!(all(&xml, "Key"), ["d%20d/z%26", "d%20d/%C3%A9"], "{xml}");
    // V1: Marker and NextMarker too.
    let xml = get(
        &s,
        "delimiter=%2F&encoding-type=url&marker=d%20d%2Fa%2Bb&max-keys=1&prefix=d%20d%2F",
    )
    .await;
    assert_eq!(all(&xml, "Marker"), ["d%20d/a%2Bb"], "{xml}");
    assert_eq!(all(&xml, "Key"), ["d%20d/z%26"], "{xml}");
    assert_eq!(all(&xml, "NextMarker"), ["d%20d/z%26"], "{xml}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_continuation_token_survives_a_restart() {
    let keys: Vec<String> = (0..30).map(|i| format!("k{i:02}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let mut s = server_with(&refs).await;
    let xml = get(&s, "list-type=2&max-keys=10").await;
    let token = all(&xml, "NextContinuationToken")[0].to_string();
    s.restart().await;
    let xml = get(
        &s,
        &format!("continuation-token={token}&list-type=2&max-keys=10"),
    )
    .await;
    assert_eq!(all(&xml, "Key"), refs[10..20]);
    let bad = get_status(&s, "continuation-token=%25%25%25&list-type=2").await;
    assert_eq!(bad, 400);
}

async fn get_status(s: &TestServer, query: &str) -> u16 {
    let req = signed_request(s.addr, "GET", "/lst", query, &[], b"", PASSWORD);
    raw(s.addr, &req).await.status
}

/// Every (key, upload id) ListMultipartUploads returns, paged `max` at a time with the
/// markers of each page, and the number of pages.
async fn all_uploads(
    c: &aws_sdk_s3::Client,
    prefix: &str,
    max: i32,
) -> (Vec<(String, String)>, usize) {
    let (mut out, mut pages) = (Vec::new(), 0);
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    loop {
        let r = c
            .list_multipart_uploads()
            .bucket("lst")
            .prefix(prefix)
            .max_uploads(max)
            .set_key_marker(key_marker.clone())
            .set_upload_id_marker(id_marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for u in r.uploads() {
            out.push((
                u.key().unwrap().to_string(),
                u.upload_id().unwrap().to_string(),
            ));
        }
        if r.is_truncated() != Some(true) {
            return (out, pages);
        }
        key_marker = r.next_key_marker().map(str::to_string);
        id_marker = r.next_upload_id_marker().map(str::to_string);
        assert!(pages < 100, "no end");
    }
}

/// ListMultipartUploads comes from the key-ordered index (issue 13): pages in key order,
/// uploads of one key in initiation order, aborted and completed uploads gone, a stale
/// index entry skipped, and uploads made before the index (no entries, no marker) still
/// listed once their bucket is indexed by the first listing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_uploads_are_listed_in_key_order_from_their_index() {
    let s = server_with(&[]).await;
    let c = s.client();
    let long = format!("deep/{}", "x".repeat(250));
    let keys = ["b", "a/2", "a/1", "a!", "a", "b", long.as_str(), "c/é"];
    let mut made = Vec::new();
    for k in keys {
        let id = c
            .create_multipart_upload()
            .bucket("lst")
            .key(k)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        made.push((k.to_string(), id));
        // Distinct initiation times, so the two uploads of "b" have an order.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let mut want = made.clone();
    // S3 order: by key (bytes), then initiation (the order they were made in).
    want.sort_by(|a, b| a.0.cmp(&b.0));
    for max in [1, 2, 3, 1000] {
        let (got, pages) = all_uploads(&c, "", max).await;
        assert_eq!(got, want, "max-uploads {max}");
        assert_eq!(pages, want.len().div_ceil(max as usize).max(1), "max {max}");
    }
    let (got, _) = all_uploads(&c, "a/", 1).await;
    assert_eq!(
        got.iter().map(|u| u.0.as_str()).collect::<Vec<_>>(),
        ["a/1", "a/2"]
    );

    // Abort one, complete another: neither is listed any more.
    let (ak, aid) = made.iter().find(|u| u.0 == "a!").unwrap().clone();
    c.abort_multipart_upload()
        .bucket("lst")
        .key(&ak)
        .upload_id(&aid)
        .send()
        .await
        .unwrap();
    let (ck, cid) = made.iter().find(|u| u.0 == "c/é").unwrap().clone();
    let part = c
        .upload_part()
        .bucket("lst")
        .key(&ck)
        .upload_id(&cid)
        .part_number(1)
        .body(b"tail".to_vec().into())
        .send()
        .await
        .unwrap();
    let done = aws_sdk_s3::types::CompletedMultipartUpload::builder()
        .parts(
            aws_sdk_s3::types::CompletedPart::builder()
                .part_number(1)
                .e_tag(part.e_tag().unwrap())
                .build(),
        )
        .build();
    c.complete_multipart_upload()
        .bucket("lst")
        .key(&ck)
        .upload_id(&cid)
        .multipart_upload(done)
        .send()
        .await
        .unwrap();
    want.retain(|u| u.1 != aid && u.1 != cid);
    assert_eq!(all_uploads(&c, "", 2).await.0, want);

    // A record removed behind the index's back (a crash between the two): its entry is
    // skipped and dropped.
    let sys = |d: &std::path::Path| d.join(cairn::drive::SYSTEM_VOLUME);
    let (gk, gid) = want.remove(0);
    for d in &s.drives {
        std::fs::remove_dir_all(sys(d).join("multipart/lst").join(&gid)).unwrap();
    }
    assert_eq!(all_uploads(&c, "", 1000).await.0, want, "{gk} gone");
    let entries = |d: &std::path::Path| {
        std::fs::read_dir(sys(d).join("multipart-index/lst"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(&gid))
            .count()
    };
    assert_eq!(entries(&s.drives[0]), 0, "the stale entry was removed");

    // Uploads made before the index: no entries and no marker on any drive.
    for d in &s.drives {
        std::fs::remove_dir_all(sys(d).join("multipart-index")).unwrap();
    }
    assert_eq!(all_uploads(&c, "", 2).await.0, want);
    assert!(
        sys(&s.drives[0])
            .join("multipart-index/lst/indexed")
            .is_file()
    );
}
