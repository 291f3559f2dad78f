//! ListObjects V1/V2 on the wire (issue 10's listing bullet, issue 13's tokens): a prefix
//! that matches nothing lists nothing, an empty delimiter is not echoed, `encoding-type=url`
//! encodes every key-like field, and a continuation token still works after a restart.

mod common;

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
