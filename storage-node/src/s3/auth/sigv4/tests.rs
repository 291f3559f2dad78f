//! Unit tests of SigV4: AWS's documented examples, error codes, canonical forms and
//! round trips through the client helpers.

use super::canonical::*;
use super::client::*;
use super::signing::*;
use super::verify::*;
use super::*;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use std::collections::HashMap;

const AK: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOST: &str = "examplebucket.s3.amazonaws.com";
const DATE: &str = "20130524T000000Z";

struct Keys(HashMap<String, String>);

impl SecretLookup for Keys {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        self.0.get(access_key).cloned()
    }
}

fn keys() -> Keys {
    Keys(HashMap::from([(AK.to_owned(), SECRET.to_owned())]))
}

fn doc_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0)
        .single()
        .expect("valid date")
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
            HeaderValue::from_str(value).expect("value"),
        );
    }
    map
}

fn doc_auth(signed_headers: &str, signature: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// The "GET Object" example of "Signature Calculations for the Authorization
/// Header: Transferring Payload in a Single Chunk".
fn get_object_headers(signature: &str) -> HeaderMap {
    headers(&[
        ("host", HOST),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", DATE),
        (
            "authorization",
            &doc_auth("host;range;x-amz-content-sha256;x-amz-date", signature),
        ),
    ])
}

const GET_OBJECT_SIG: &str = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41";

#[test]
fn aws_get_object_example_verifies() {
    let outcome = verify(
        &Method::GET,
        "/test.txt",
        "",
        &get_object_headers(GET_OBJECT_SIG),
        doc_time(),
        &keys(),
    )
    .expect("documented request verifies");
    assert_eq!(outcome.access_key, AK);
    assert_eq!(
        outcome.payload,
        PayloadMode::SignedSha256(EMPTY_SHA256.to_owned())
    );
    assert!(outcome.chunk_signing.is_none());
}

#[test]
fn aws_get_object_example_canonical_pieces() {
    let map = get_object_headers(GET_OBJECT_SIG);
    let names = ["host", "range", "x-amz-content-sha256", "x-amz-date"];
    let canonical = canonical_request(
        "GET",
        &canonical_uri("/test.txt"),
        &canonical_query("", false),
        &canonical_headers(&map, &names),
        &names.join(";"),
        EMPTY_SHA256,
    );
    let scope = "20130524/us-east-1/s3/aws4_request";
    let sts = string_to_sign(DATE, scope, &canonical);
    assert!(sts.ends_with("7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"));
    let key = signing_key(SECRET, "20130524", "us-east-1", "s3");
    assert_eq!(sign(&key, &sts), GET_OBJECT_SIG);
}

#[test]
fn tampering_breaks_the_signature() {
    let keys = keys();
    let now = doc_time();
    let map = get_object_headers(GET_OBJECT_SIG);
    let other_path = verify(&Method::GET, "/test2.txt", "", &map, now, &keys);
    assert_eq!(other_path, Err(AuthError::SignatureMismatch));
    let other_method = verify(&Method::HEAD, "/test.txt", "", &map, now, &keys);
    assert_eq!(other_method, Err(AuthError::SignatureMismatch));
    let other_query = verify(&Method::GET, "/test.txt", "x=1", &map, now, &keys);
    assert_eq!(other_query, Err(AuthError::SignatureMismatch));
    let mut changed = map.clone();
    changed.insert("range", HeaderValue::from_static("bytes=0-10"));
    let other_header = verify(&Method::GET, "/test.txt", "", &changed, now, &keys);
    assert_eq!(other_header, Err(AuthError::SignatureMismatch));
    let mut wrong = GET_OBJECT_SIG.to_owned();
    wrong.replace_range(0..1, "0");
    let forged = verify(
        &Method::GET,
        "/test.txt",
        "",
        &get_object_headers(&wrong),
        now,
        &keys,
    );
    assert_eq!(forged, Err(AuthError::SignatureMismatch));
    let short = verify(
        &Method::GET,
        "/test.txt",
        "",
        &get_object_headers("abc"),
        now,
        &keys,
    );
    assert_eq!(short, Err(AuthError::SignatureMismatch));
}

#[test]
fn header_values_are_trimmed_and_collapsed() {
    let mut map = get_object_headers(GET_OBJECT_SIG);
    map.insert("range", HeaderValue::from_static("  bytes=0-9   "));
    assert!(verify(&Method::GET, "/test.txt", "", &map, doc_time(), &keys()).is_ok());
    assert_eq!(normalize_header_value(b" a   b\t\tc  "), "a b c");
    let multi = headers(&[("x-amz-meta-a", "one"), ("x-amz-meta-a", " two  three ")]);
    assert_eq!(
        canonical_headers(&multi, &["x-amz-meta-a"]),
        "x-amz-meta-a:one,two three\n"
    );
}

#[test]
fn authorization_spacing_is_tolerated() {
    let spaced = format!(
        "AWS4-HMAC-SHA256   Credential={AK}/20130524/us-east-1/s3/aws4_request ,  SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature={GET_OBJECT_SIG},"
    );
    let mut map = get_object_headers(GET_OBJECT_SIG);
    map.insert(
        "authorization",
        HeaderValue::from_str(&spaced).expect("value"),
    );
    assert!(verify(&Method::GET, "/test.txt", "", &map, doc_time(), &keys()).is_ok());
}

#[test]
fn aws_put_object_example_with_escaped_key() {
    let map = headers(&[
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("host", HOST),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
        ("x-amz-date", DATE),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            &doc_auth(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ),
    ]);
    // The SDK sends `%24`; a client sending a raw `$` signed the same canonical URI.
    for path in [
        "/test%24file.text",
        "/test$file.text",
        "/test%24file%2etext",
    ] {
        let outcome = verify(&Method::PUT, path, "", &map, doc_time(), &keys())
            .unwrap_or_else(|e| panic!("{path}: {e:?}"));
        assert_eq!(
            outcome.payload,
            PayloadMode::SignedSha256(
                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072".to_owned()
            )
        );
    }
}

fn bucket_headers(signature: &str) -> HeaderMap {
    headers(&[
        ("host", HOST),
        ("x-amz-content-sha256", EMPTY_SHA256),
        ("x-amz-date", DATE),
        (
            "authorization",
            &doc_auth("host;x-amz-content-sha256;x-amz-date", signature),
        ),
    ])
}

#[test]
fn aws_get_bucket_lifecycle_example_signs_valueless_param() {
    let map = bucket_headers("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    assert!(verify(&Method::GET, "/", "lifecycle", &map, doc_time(), &keys()).is_ok());
    assert!(verify(&Method::GET, "/", "lifecycle=", &map, doc_time(), &keys()).is_ok());
    assert!(verify(&Method::GET, "", "lifecycle", &map, doc_time(), &keys()).is_ok());
}

#[test]
fn aws_list_objects_example_sorts_query() {
    let map = bucket_headers("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    for query in [
        "max-keys=2&prefix=J",
        "prefix=J&max-keys=2",
        "prefix=%4a&max-keys=2",
    ] {
        assert!(
            verify(&Method::GET, "/", query, &map, doc_time(), &keys()).is_ok(),
            "{query}"
        );
    }
}

fn presigned_query(signature: &str, expires: &str) -> String {
    format!(
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={AK}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date={DATE}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={signature}"
    )
}

const PRESIGNED_SIG: &str = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

#[test]
fn aws_presigned_example_verifies_until_expiry() {
    let map = headers(&[("host", HOST)]);
    let query = presigned_query(PRESIGNED_SIG, "86400");
    let at = |secs: i64| doc_time() + TimeDelta::seconds(secs);
    let ok = verify(&Method::GET, "/test.txt", &query, &map, at(86_400), &keys())
        .expect("valid within its lifetime");
    assert_eq!(ok.payload, PayloadMode::Unsigned);
    assert_eq!(
        verify(&Method::GET, "/test.txt", &query, &map, at(86_401), &keys()),
        Err(AuthError::Expired)
    );
    assert!(verify(&Method::GET, "/test.txt", &query, &map, at(-900), &keys()).is_ok());
    let early = verify(&Method::GET, "/test.txt", &query, &map, at(-901), &keys());
    assert_eq!(early, Err(AuthError::NotYetValid));
    assert_eq!(early.map_err(|e| e.s3_code()), Err("AccessDenied"));
}

#[test]
fn presigned_errors() {
    let map = headers(&[("host", HOST)]);
    let now = doc_time();
    let long = presigned_query(PRESIGNED_SIG, "604801");
    let err = verify(&Method::GET, "/test.txt", &long, &map, now, &keys());
    assert_eq!(
        err.map_err(|e| e.s3_code()),
        Err("AuthorizationQueryParametersError")
    );
    let missing = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20130524T000000Z";
    let err = verify(&Method::GET, "/test.txt", missing, &map, now, &keys());
    assert_eq!(
        err.map_err(|e| e.s3_code()),
        Err("AuthorizationQueryParametersError")
    );
    let tampered = presigned_query(PRESIGNED_SIG, "86400") + "&extra=1";
    assert_eq!(
        verify(&Method::GET, "/test.txt", &tampered, &map, now, &keys()),
        Err(AuthError::SignatureMismatch)
    );
    let mut both = map.clone();
    both.insert(
        "authorization",
        HeaderValue::from_static("AWS4-HMAC-SHA256 x"),
    );
    let query = presigned_query(PRESIGNED_SIG, "86400");
    assert_eq!(
        verify(&Method::GET, "/test.txt", &query, &both, now, &keys()),
        Err(AuthError::MultipleMechanisms)
    );
}

#[test]
fn presign_helper_reproduces_aws_example() {
    let creds = Credentials {
        access_key: AK.to_owned(),
        secret_key: SECRET.to_owned(),
    };
    let query = presign_query(
        &PresignRequest {
            method: &Method::GET,
            raw_path: "/test.txt",
            raw_query: "",
            host: HOST,
            time: doc_time(),
            region: "us-east-1",
            expires_secs: 86_400,
        },
        &creds,
    );
    assert_eq!(query, presigned_query(PRESIGNED_SIG, "86400"));
    assert!(!format!("{creds:?}").contains(SECRET));
}

#[test]
fn errors_and_codes() {
    let keys = keys();
    let now = doc_time();
    let anonymous = verify(
        &Method::GET,
        "/",
        "",
        &headers(&[("host", HOST)]),
        now,
        &keys,
    );
    assert_eq!(anonymous, Err(AuthError::Anonymous));
    assert_eq!(AuthError::Anonymous.s3_code(), "AccessDenied");

    let mut v2 = get_object_headers(GET_OBJECT_SIG);
    v2.insert("authorization", HeaderValue::from_static("AWS AKID:abc="));
    let err = verify(&Method::GET, "/test.txt", "", &v2, now, &keys);
    assert_eq!(err, Err(AuthError::UnsupportedAuthorization));

    let skewed = verify(
        &Method::GET,
        "/test.txt",
        "",
        &get_object_headers(GET_OBJECT_SIG),
        now + TimeDelta::minutes(16),
        &keys,
    );
    assert_eq!(skewed, Err(AuthError::TimeTooSkewed));
    assert_eq!(AuthError::TimeTooSkewed.s3_code(), "RequestTimeTooSkewed");

    let nobody = Keys(HashMap::new());
    let unknown = verify(
        &Method::GET,
        "/test.txt",
        "",
        &get_object_headers(GET_OBJECT_SIG),
        now,
        &nobody,
    );
    assert_eq!(unknown.map_err(|e| e.s3_code()), Err("InvalidAccessKeyId"));

    let mut no_sha = get_object_headers(GET_OBJECT_SIG);
    no_sha.remove("x-amz-content-sha256");
    let err = verify(&Method::GET, "/test.txt", "", &no_sha, now, &keys);
    assert_eq!(err, Err(AuthError::MissingContentSha256));

    let mut bad_sha = get_object_headers(GET_OBJECT_SIG);
    bad_sha.insert("x-amz-content-sha256", HeaderValue::from_static("nope"));
    let err = verify(&Method::GET, "/test.txt", "", &bad_sha, now, &keys);
    assert_eq!(err, Err(AuthError::InvalidContentSha256));

    let mut no_host = get_object_headers(GET_OBJECT_SIG);
    no_host.insert(
        "authorization",
        HeaderValue::from_str(&doc_auth("range;x-amz-date", GET_OBJECT_SIG)).expect("value"),
    );
    let err = verify(&Method::GET, "/test.txt", "", &no_host, now, &keys);
    assert_eq!(
        err.map_err(|e| e.s3_code()),
        Err("AuthorizationHeaderMalformed")
    );

    let mut wrong_service = get_object_headers(GET_OBJECT_SIG);
    wrong_service.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential={AK}/20130524/us-east-1/ec2/aws4_request,SignedHeaders=host,Signature={GET_OBJECT_SIG}"
        ))
        .expect("value"),
    );
    let err = verify(&Method::GET, "/test.txt", "", &wrong_service, now, &keys);
    assert_eq!(
        err.map_err(|e| e.s3_code()),
        Err("AuthorizationHeaderMalformed")
    );

    let mut wrong_day = get_object_headers(GET_OBJECT_SIG);
    wrong_day.insert(
        "authorization",
        HeaderValue::from_str(&format!(
            "AWS4-HMAC-SHA256 Credential={AK}/20130525/us-east-1/s3/aws4_request,SignedHeaders=host,Signature={GET_OBJECT_SIG}"
        ))
        .expect("value"),
    );
    let err = verify(&Method::GET, "/test.txt", "", &wrong_day, now, &keys);
    assert_eq!(
        err.map_err(|e| e.s3_code()),
        Err("AuthorizationHeaderMalformed")
    );

    let mut no_date = get_object_headers(GET_OBJECT_SIG);
    no_date.remove("x-amz-date");
    let err = verify(&Method::GET, "/test.txt", "", &no_date, now, &keys);
    assert_eq!(err, Err(AuthError::MissingDate));
    for error in [AuthError::SignatureMismatch, AuthError::UnknownAccessKey] {
        assert!(!error.message().contains(SECRET));
        assert_eq!(error.http_status(), StatusCode::FORBIDDEN);
    }
}

/// "Transferring Payload in Multiple Chunks": the seed signature of the example.
#[test]
fn aws_streaming_seed_signature() {
    let map = headers(&[
        ("content-encoding", "aws-chunked"),
        ("content-length", "66824"),
        ("host", "s3.amazonaws.com"),
        ("x-amz-content-sha256", STREAMING_SIGNED),
        ("x-amz-date", DATE),
        ("x-amz-decoded-content-length", "66560"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            &doc_auth(
                "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class",
                "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
            ),
        ),
    ]);
    let outcome = verify(
        &Method::PUT,
        "/examplebucket/chunkObject.txt",
        "",
        &map,
        doc_time(),
        &keys(),
    )
    .expect("documented seed verifies");
    assert_eq!(outcome.payload, PayloadMode::StreamingSigned);
    let ctx = outcome
        .chunk_signing
        .expect("signed streaming has a context");
    assert_eq!(ctx.scope, "20130524/us-east-1/s3/aws4_request");
    assert_eq!(ctx.amz_date, DATE);
    assert_eq!(
        ctx.seed_signature,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    );
    assert_eq!(
        ctx.signing_key,
        signing_key(SECRET, "20130524", "us-east-1", "s3")
    );
    assert!(!format!("{ctx:?}").contains(&hex::encode(ctx.signing_key)));
}

/// The trailer variant's seed (`sigv4-streaming-trailers`).
#[test]
fn aws_streaming_trailer_seed_signature() {
    let map = headers(&[
        ("content-encoding", "aws-chunked"),
        ("host", "s3.amazonaws.com"),
        ("x-amz-content-sha256", STREAMING_SIGNED_TRAILER),
        ("x-amz-date", DATE),
        ("x-amz-decoded-content-length", "66560"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        ("x-amz-trailer", "x-amz-checksum-crc32c"),
        (
            "authorization",
            &doc_auth(
                "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class;x-amz-trailer",
                "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
            ),
        ),
    ]);
    let outcome = verify(
        &Method::PUT,
        "/examplebucket/chunkObject.txt",
        "",
        &map,
        doc_time(),
        &keys(),
    )
    .expect("documented trailer seed verifies");
    assert_eq!(outcome.payload, PayloadMode::StreamingSignedTrailer);
    assert!(outcome.chunk_signing.is_some());
}

fn creds() -> Credentials {
    Credentials {
        access_key: AK.to_owned(),
        secret_key: SECRET.to_owned(),
    }
}

/// Signs with our client helper and verifies, for awkward paths and queries.
fn round_trip(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    region: &str,
) -> Result<AuthOutcome, AuthError> {
    let now = Utc
        .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("date");
    let base = headers(&[("host", "localhost:9000"), ("x-amz-meta-note", "a  b")]);
    let signed = sign_request_headers(
        &ClientRequest {
            method,
            raw_path,
            raw_query,
            headers: &base,
            payload_hash: UNSIGNED_PAYLOAD,
            time: now,
            region,
        },
        &creds(),
    );
    let mut sent = base.clone();
    signed.apply(&mut sent).expect("ascii headers");
    verify(method, raw_path, raw_query, &sent, now, &keys())
}

#[test]
fn client_helper_round_trips_awkward_requests() {
    let cases = [
        ("/bucket/a%20key%2Bwith%24odd%2Fchars~", ""),
        ("/bucket/plus+sign", ""),
        (
            "/bucket/%E2%82%AC/%2e%2e/x",
            "prefix=a%2Fb&delimiter=%2F&list-type=2",
        ),
        ("/bucket", "uploads"),
        (
            "/bucket/k",
            "x-id=PutObject&partNumber=1&uploadId=abc%3D%3D",
        ),
        ("/bucket", "location"),
        ("/bucket", "prefix=a+b&empty="),
    ];
    for (path, query) in cases {
        let outcome = round_trip(&Method::PUT, path, query, "us-east-1")
            .unwrap_or_else(|e| panic!("{path}?{query}: {e:?}"));
        assert_eq!(outcome.payload, PayloadMode::Unsigned);
    }
    // s3cmd signs with region `US`; any region in the scope is accepted.
    assert!(round_trip(&Method::GET, "/b/k", "", "US").is_ok());
}

#[test]
fn canonical_forms() {
    assert_eq!(canonical_uri("/a b/c%2fd/%7e$"), "/a%20b/c%2Fd/~%24");
    assert_eq!(canonical_uri(""), "/");
    assert_eq!(uri_encode_path("dir/a b+c"), "dir/a%20b%2Bc");
    assert_eq!(
        canonical_query("b=2&a=1&a=0&uploads", false),
        "a=0&a=1&b=2&uploads="
    );
    assert_eq!(canonical_query("a=b+c", false), "a=b%2Bc");
    assert_eq!(canonical_query("a=b%20c", false), "a=b%20c");
    assert_eq!(canonical_query("X-Amz-Signature=abc&z=1", true), "z=1");
    assert_eq!(canonical_query_with("a=b+c", false, true), "a=b%20c");
}

#[test]
fn plus_as_space_fallback_for_form_encoding_clients() {
    // A client that signed `a b` but sent `a+b` on the wire.
    let now = Utc
        .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("date");
    let base = headers(&[("host", "h")]);
    let signed = sign_request_headers(
        &ClientRequest {
            method: &Method::GET,
            raw_path: "/b",
            raw_query: "prefix=a%20b",
            headers: &base,
            payload_hash: EMPTY_SHA256,
            time: now,
            region: "us-east-1",
        },
        &creds(),
    );
    let mut sent = base.clone();
    signed.apply(&mut sent).expect("ascii headers");
    assert!(verify(&Method::GET, "/b", "prefix=a+b", &sent, now, &keys()).is_ok());
}

#[test]
fn garbage_never_panics() {
    let keys = keys();
    let now = doc_time();
    let auths = [
        "AWS4-HMAC-SHA256",
        "AWS4-HMAC-SHA256 ",
        "AWS4-HMAC-SHA256 Credential=",
        "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=zz",
        "AWS4-HMAC-SHA256 Credential=//////, SignedHeaders=;, Signature=",
        "AWS4-HMAC-SHA256 ,,,,=,=,",
        "AWS4-HMAC-SHA256Credential=x",
    ];
    for auth in auths {
        let mut map = get_object_headers(GET_OBJECT_SIG);
        map.insert("authorization", HeaderValue::from_str(auth).expect("value"));
        assert!(verify(&Method::GET, "/%", "%&&=&==%zz", &map, now, &keys).is_err());
    }
    let queries = [
        "X-Amz-Algorithm",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Algorithm=x",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=%ff%fe&X-Amz-Date=x&X-Amz-Expires=-1&X-Amz-SignedHeaders=host&X-Amz-Signature=",
    ];
    for query in queries {
        let map = headers(&[("host", HOST)]);
        assert!(verify(&Method::GET, "/", query, &map, now, &keys).is_err());
    }
}

#[test]
fn hmac_matches_rfc4231_case_with_long_key() {
    // RFC 4231 test case 6: a 131-byte key is hashed first.
    let key = [0xaa_u8; 131];
    let mac = hmac_sha256(
        &key,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    );
    assert_eq!(
        hex::encode(mac),
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
    );
    assert!(hmac_verify(
        &key,
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        &mac
    ));
    assert!(!hmac_verify(&key, b"other", &mac));
}

/// The reported amplification: a 100 KB header listed 20,000 times in SignedHeaders
/// (once the server built gigabytes of canonical request for it). Now a 4xx from the
/// list check, for the header and the presigned form alike, whatever the signature.
#[test]
fn signed_headers_amplification_is_refused() {
    let big = "a".repeat(100_000);
    let list = format!("host{}", ";x-big".repeat(20_000));
    let mut map = get_object_headers(GET_OBJECT_SIG);
    map.insert("x-big", HeaderValue::from_str(&big).expect("value"));
    map.insert(
        "authorization",
        HeaderValue::from_str(&doc_auth(&list, GET_OBJECT_SIG)).expect("value"),
    );
    let err =
        verify(&Method::GET, "/test.txt", "", &map, doc_time(), &keys()).expect_err("refused");
    assert_eq!(err.s3_code(), "AuthorizationHeaderMalformed");
    assert_eq!(err.http_status(), StatusCode::BAD_REQUEST);

    let query = presigned_query(PRESIGNED_SIG, "86400").replace(
        "X-Amz-SignedHeaders=host",
        &format!("X-Amz-SignedHeaders={}", list.replace(';', "%3B")),
    );
    let mut map = headers(&[("host", HOST)]);
    map.insert("x-big", HeaderValue::from_str(&big).expect("value"));
    let err =
        verify(&Method::GET, "/test.txt", &query, &map, doc_time(), &keys()).expect_err("refused");
    assert_eq!(err.s3_code(), "AuthorizationQueryParametersError");
}

/// One signed header too large to be real: refused before the canonical request is
/// built, with a 400, not after hashing it.
#[test]
fn canonical_request_past_the_cap_is_refused() {
    let mut map = get_object_headers(GET_OBJECT_SIG);
    let huge = "v".repeat(MAX_CANONICAL_REQUEST);
    map.insert(
        "x-amz-meta-huge",
        HeaderValue::from_str(&huge).expect("value"),
    );
    map.insert(
        "authorization",
        HeaderValue::from_str(&doc_auth(
            "host;range;x-amz-content-sha256;x-amz-date;x-amz-meta-huge",
            GET_OBJECT_SIG,
        ))
        .expect("value"),
    );
    let err =
        verify(&Method::GET, "/test.txt", "", &map, doc_time(), &keys()).expect_err("refused");
    assert_eq!(err, AuthError::CanonicalRequestTooLarge);
    assert_eq!(err.s3_code(), "RequestHeaderSectionTooLarge");
    assert_eq!(err.http_status(), StatusCode::BAD_REQUEST);
    assert!(canonical_headers_within(&map, &["x-amz-meta-huge"], MAX_CANONICAL_REQUEST).is_none());
    assert!(canonical_headers_within(&map, &["host"], MAX_CANONICAL_REQUEST).is_some());

    let long_path = format!("/{}", "k".repeat(MAX_CANONICAL_REQUEST));
    let err = verify(
        &Method::GET,
        &long_path,
        "",
        &get_object_headers(GET_OBJECT_SIG),
        doc_time(),
        &keys(),
    )
    .expect_err("refused");
    assert_eq!(err, AuthError::CanonicalRequestTooLarge);
}

/// What real clients send still verifies at the edges of the limits: 2 KiB of user
/// metadata in many headers, signed by the client helper (sorted, lower-case).
#[test]
fn large_real_requests_still_verify() {
    let now = Utc
        .with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
        .single()
        .expect("date");
    let mut base = headers(&[("host", "localhost:9000")]);
    for i in 0..60 {
        base.insert(
            http::HeaderName::from_bytes(format!("x-amz-meta-k{i:02}").as_bytes()).expect("name"),
            HeaderValue::from_str(&"m".repeat(30)).expect("value"),
        );
    }
    let signed = sign_request_headers(
        &ClientRequest {
            method: &Method::PUT,
            raw_path: &format!("/bucket/{}", "key/".repeat(250)),
            raw_query: "",
            headers: &base,
            payload_hash: UNSIGNED_PAYLOAD,
            time: now,
            region: "us-east-1",
        },
        &creds(),
    );
    let mut sent = base.clone();
    signed.apply(&mut sent).expect("ascii headers");
    let path = format!("/bucket/{}", "key/".repeat(250));
    assert!(verify(&Method::PUT, &path, "", &sent, now, &keys()).is_ok());
}
