//! The checks behind every fuzz target, shared with the stable-Rust replay test.
//!
//! Each `pub fn` takes one fuzz input, feeds it to the parser the server runs on
//! untrusted bytes, and panics when a property fails. "No panic" is the baseline; on top
//! of it each target asserts what is cheap to check: errors map to 4xx answers and never
//! echo a secret, a verified request stops verifying when its signature changes, decoders
//! give the same answer however the transport splits the bytes, decode → encode → decode
//! is the identity, and expansions stay within their limits.
//!
//! This file is compiled twice: by the fuzz crate (`storage-node/fuzz`, nightly,
//! libFuzzer) and by `storage-node/tests/fuzz_corpora.rs` (stable, `cargo test`), which
//! includes it with `#[path]`. It may therefore use only crates that `cairn` itself
//! depends on.

use std::collections::BTreeMap;

use bytes::Bytes;
use cairn::cluster::endpoints::{
    Endpoint, MAX_EXPANDED_ENDPOINTS, expand_ellipses, has_ellipses, parse_pools,
};
use cairn::drive::keypath;
use cairn::objects::meta;
use cairn::rpc::{self, wire};
use cairn::s3::auth::{self, chunked, sigv4};
use cairn::s3::xml;
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::StreamExt;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// AWS's documentation key pair: the SigV4 and aws-chunked examples are signed with it.
pub const AWS_ACCESS_KEY: &str = "AKIDEXAMPLE";
pub const AWS_SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
/// The root credentials of the in-process test server, which signed the captured SDK
/// requests in the corpora.
pub const TEST_ACCESS_KEY: &str = "testadmin";
pub const TEST_SECRET_KEY: &str = "testpassword123";
/// The path and host presigned inputs are checked against (the query is the fuzz input).
pub const PRESIGN_PATH: &str = "/bucket/key";
pub const PRESIGN_HOST: &str = "localhost:9000";
/// The virtual-host domain SigV2 needs to know the signed resource.
const DOMAIN: &str = "s3.localhost.test";
/// `x-amz-date` layout.
const AMZ_DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// Knows both key pairs above, so signatures are computed (not refused early as
/// unknown keys) and valid seeds verify.
struct Keys;

impl sigv4::SecretLookup for Keys {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        match access_key {
            AWS_ACCESS_KEY => Some(AWS_SECRET_KEY.to_owned()),
            TEST_ACCESS_KEY => Some(TEST_SECRET_KEY.to_owned()),
            _ => None,
        }
    }
}

/// The verifier's clock when the input names no usable time: 2026-01-01T12:00:00Z.
fn fallback_now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_268_800, 0).unwrap_or_default()
}

fn parse_amz_date(text: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(text, AMZ_DATE_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// An HTTP request head as the verifier sees it.
struct RawRequest {
    method: Method,
    path: String,
    query: String,
    headers: HeaderMap,
}

/// Reads `METHOD target [version]` and `name: value` lines (CRLF or LF), up to the
/// first empty line, as an HTTP/1 server would. Lines hyper would refuse are skipped.
fn parse_head(data: &[u8]) -> Option<RawRequest> {
    let mut lines = data
        .split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let request_line = std::str::from_utf8(lines.next()?).ok()?;
    let mut parts = request_line.split(' ');
    let method = Method::from_bytes(parts.next()?.as_bytes()).ok()?;
    let target = parts.next()?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = HeaderMap::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    Some(RawRequest {
        method,
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
    })
}

/// What every authentication answer must satisfy.
fn check_auth(result: &Result<sigv4::AuthOutcome, sigv4::AuthError>) {
    match result {
        Ok(outcome) => assert!(
            [AWS_ACCESS_KEY, TEST_ACCESS_KEY].contains(&outcome.access_key.as_str()),
            "verified as an unknown key: {outcome:?}"
        ),
        Err(error) => {
            let status = error.http_status();
            assert!(
                status.is_client_error(),
                "{error:?} answers {status}, not 4xx"
            );
            assert!(!error.s3_code().is_empty(), "{error:?} has no S3 code");
            let message = error.message();
            assert!(
                !message.contains(AWS_SECRET_KEY) && !message.contains(TEST_SECRET_KEY),
                "{error:?} echoes a secret key"
            );
        }
    }
}

/// Another hex digit, so the signature differs in value (not only in case).
fn other_hex_digit(c: u8) -> u8 {
    if c == b'0' { b'1' } else { b'0' }
}

/// The `Authorization` header with the first digit of its `Signature=` changed.
fn tamper_header_signature(headers: &HeaderMap) -> Option<HeaderMap> {
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    let at = value.windows(10).position(|w| w == b"Signature=")? + 10;
    let mut changed = value.to_vec();
    let digit = changed.get_mut(at)?;
    *digit = other_hex_digit(*digit);
    let mut tampered = headers.clone();
    tampered.insert(
        http::header::AUTHORIZATION,
        HeaderValue::from_bytes(&changed).ok()?,
    );
    Some(tampered)
}

/// SigV4 (and, through the dispatcher, SigV2) verification of a request head: the
/// `Authorization` header, `x-amz-date`, `x-amz-content-sha256`, the signed headers.
/// The clock is the request's own `x-amz-date` when it has one, so mutated inputs get
/// past the skew check to the canonical request and the signature comparison.
pub fn sigv4_header(data: &[u8]) {
    let Some(request) = parse_head(data) else {
        return;
    };
    let now = request
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(parse_amz_date)
        .unwrap_or_else(fallback_now);
    let verify = |headers: &HeaderMap| {
        sigv4::verify(
            &request.method,
            &request.path,
            &request.query,
            headers,
            now,
            &Keys,
        )
    };
    let result = verify(&request.headers);
    check_auth(&result);
    check_auth(&auth::verify(
        &request.method,
        &request.path,
        &request.query,
        &request.headers,
        &[DOMAIN.to_owned()],
        now,
        &Keys,
    ));
    if result.is_ok()
        && let Some(tampered) = tamper_header_signature(&request.headers)
    {
        assert!(
            verify(&tampered).is_err(),
            "a changed Authorization signature still verifies"
        );
    }
}

/// The value of the first `name=` parameter of a raw query.
fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// SigV4 presigned-URL verification: the input is the raw query string of
/// `GET /bucket/key` on `localhost:9000` (presigners sign only `host`). The clock is the
/// URL's own `X-Amz-Date` when it parses.
pub fn sigv4_presigned(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(http::header::HOST, HeaderValue::from_static(PRESIGN_HOST));
    let now = query_param(query, "X-Amz-Date")
        .and_then(parse_amz_date)
        .unwrap_or_else(fallback_now);
    let verify =
        |query: &str| sigv4::verify(&Method::GET, PRESIGN_PATH, query, &headers, now, &Keys);
    let result = verify(query);
    check_auth(&result);
    check_auth(&auth::verify(
        &Method::GET,
        PRESIGN_PATH,
        query,
        &headers,
        &[DOMAIN.to_owned()],
        now,
        &Keys,
    ));
    if result.is_ok() {
        let expires = query_param(query, "X-Amz-Expires").and_then(|e| e.parse::<u64>().ok());
        assert!(
            expires.is_some_and(|e| e <= sigv4::MAX_PRESIGN_EXPIRES),
            "a presigned URL with X-Amz-Expires={expires:?} verifies"
        );
        if let Some(at) = query.find("X-Amz-Signature=").map(|at| at + 16) {
            let mut changed = query.as_bytes().to_vec();
            if let Some(digit) = changed.get_mut(at) {
                *digit = other_hex_digit(*digit);
                if let Ok(changed) = String::from_utf8(changed) {
                    assert!(
                        verify(&changed).is_err(),
                        "a changed X-Amz-Signature still verifies"
                    );
                }
            }
        }
    }
}

/// The signing context of AWS's aws-chunked documentation example (seed signature of
/// the PUT of 66,560 bytes of `a`), which the signed seeds chain from.
pub fn example_signing_context() -> sigv4::SigningContext {
    sigv4::SigningContext {
        signing_key: sigv4::signing_key(AWS_SECRET_KEY, "20130524", "us-east-1", "s3"),
        amz_date: "20130524T000000Z".to_owned(),
        scope: "20130524/us-east-1/s3/aws4_request".to_owned(),
        seed_signature: "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
            .to_owned(),
    }
}

/// The chunk mode a selector byte picks.
pub fn chunk_mode(selector: u8) -> chunked::ChunkMode {
    match selector % 3 {
        0 => chunked::ChunkMode::Signed(example_signing_context()),
        1 => chunked::ChunkMode::SignedTrailer(example_signing_context()),
        _ => chunked::ChunkMode::UnsignedTrailer,
    }
}

/// The decoded payload and trailers (sorted), or the decoder's error.
type Decoded = Result<(Vec<u8>, Vec<(String, Vec<u8>)>), String>;

/// Runs the decoder over `pieces` as the transport would deliver them.
fn decode_pieces(pieces: Vec<Bytes>, mode: chunked::ChunkMode) -> Decoded {
    let slot = chunked::trailer_slot();
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    let mut decoder = chunked::decode(stream, mode, slot.clone());
    let mut out = Vec::new();
    futures::executor::block_on(async {
        while let Some(item) = decoder.next().await {
            match item {
                Ok(piece) => out.extend_from_slice(&piece),
                Err(error) => {
                    let chunk_error = chunked::ChunkError::from_io(&error);
                    assert!(
                        chunk_error.is_some(),
                        "decoder error is not a ChunkError: {error}"
                    );
                    return Err(format!("{chunk_error:?}"));
                }
            }
        }
        Ok(())
    })?;
    let trailers = match slot.lock() {
        Ok(guard) => guard
            .iter()
            .flatten()
            .map(|(name, value)| (name.to_string(), value.as_bytes().to_vec()))
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect(),
        Err(_) => panic!("trailer slot poisoned"),
    };
    Ok((out, trailers))
}

/// Cuts `data` into pieces of pseudo-random lengths (0 to 16 bytes, sometimes up to 4
/// KiB) drawn from `seed`, so chunk headers, CRLFs and signatures straddle pieces.
fn split_pieces(data: &[u8], seed: u8) -> Vec<Bytes> {
    let mut state = u32::from(seed) | 0x100;
    let mut pieces = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        let draw = (state >> 16) as usize;
        let len = if draw % 8 == 0 {
            draw % 4096
        } else {
            draw % 17
        };
        let (piece, tail) = rest.split_at(len.min(rest.len()));
        pieces.push(Bytes::copy_from_slice(piece));
        rest = tail;
    }
    pieces
}

/// The aws-chunked decoder. Input: a mode selector byte, a split seed byte, then the
/// body. Checks: the answer does not depend on how the body is split; the payload is
/// never longer than the body; and the body itself, encoded as a client would (chunk
/// size from the seed, a checksum trailer where the mode allows), decodes back to
/// exactly itself with that trailer.
pub fn chunked(data: &[u8]) {
    let [selector, seed, body @ ..] = data else {
        return;
    };
    let mode = chunk_mode(*selector);
    let whole = decode_pieces(vec![Bytes::copy_from_slice(body)], mode.clone());
    let split = decode_pieces(split_pieces(body, *seed), mode.clone());
    assert_eq!(whole, split, "the decoder's answer depends on the split");
    if let Ok((payload, _)) = &whole {
        assert!(payload.len() <= body.len(), "payload longer than the body");
    }

    let trailer_modes = !matches!(mode, chunked::ChunkMode::Signed(_));
    let trailers: &[(&str, &str)] = if trailer_modes {
        &[("x-amz-checksum-crc32", "sOO8/Q==")]
    } else {
        &[]
    };
    let encoded = chunked::encode(body, usize::from(*seed), &mode, trailers);
    let expected_trailers = trailers
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.as_bytes().to_vec()))
        .collect::<Vec<_>>();
    assert_eq!(
        decode_pieces(split_pieces(&encoded, seed.wrapping_add(1)), mode),
        Ok((body.to_vec(), expected_trailers)),
        "an encoded body does not decode back to itself"
    );
}

/// What a text value of CompleteMultipartUpload or CreateBucketConfiguration becomes after
/// [`xml::XmlWriter`] writes it and [`xml::parse`] reads it back: quick-xml's serde
/// deserializer trims the XML whitespace around text (harmless for ETags and regions).
/// `Delete` keys are read by `xml::Delete::parse`, which keeps every character.
fn xml_round_tripped(text: &str) -> &str {
    text.trim_matches([' ', '\t', '\n'])
}

/// The XML request bodies: DeleteObjects, CompleteMultipartUpload and
/// CreateBucketConfiguration. Checks: whatever parses survives being written back with
/// the server's own XML writer and parsed again; and the input taken as an object key
/// (one cairn accepts: `drive::keypath::validate_key`) comes back from a DeleteObjects
/// document that escapes it, so a client deletes the key it named.
pub fn xml_bodies(data: &[u8]) {
    // A NUL parses (raw in CDATA) but `xml::escape` writes it as `&#x0;`, which no XML
    // parser accepts; cairn refuses such keys (`validate_key`), so skip the rewrite.
    if let Ok(doc) = xml::Delete::parse(data)
        && !doc.objects.iter().any(|o| o.key.contains('\0'))
    {
        let mut w = xml::XmlWriter::new("Delete");
        if doc.quiet {
            w.elem("Quiet", "true");
        }
        for object in &doc.objects {
            w.open("Object").elem("Key", &object.key).close("Object");
        }
        let text = w.finish("Delete");
        let again = xml::Delete::parse(text.as_bytes());
        let again = again.unwrap_or_else(|_| panic!("rewritten Delete does not parse: {text}"));
        assert_eq!(again.quiet, doc.quiet);
        let keys = |d: &xml::Delete| d.objects.iter().map(|o| o.key.clone()).collect::<Vec<_>>();
        assert_eq!(keys(&again), keys(&doc), "Delete keys change: {text}");
    }
    if let Ok(doc) = xml::parse::<xml::CompleteMultipartUpload>(data)
        && !doc.parts.iter().any(|p| p.etag.contains('\0'))
    {
        let mut w = xml::XmlWriter::new("CompleteMultipartUpload");
        for part in &doc.parts {
            w.open("Part")
                .elem("PartNumber", &part.part_number.to_string())
                .elem("ETag", &part.etag)
                .close("Part");
        }
        let text = w.finish("CompleteMultipartUpload");
        let again = xml::parse::<xml::CompleteMultipartUpload>(text.as_bytes());
        let again = again.unwrap_or_else(|_| panic!("rewritten Complete does not parse: {text}"));
        let parts = |d: &xml::CompleteMultipartUpload| {
            d.parts
                .iter()
                .map(|p| (p.part_number, xml_round_tripped(&p.etag).to_owned()))
                .collect::<Vec<_>>()
        };
        assert_eq!(parts(&again), parts(&doc), "parts change: {text}");
    }
    if let Ok(doc) = xml::parse::<xml::CreateBucketConfiguration>(data)
        && let Some(location) = &doc.location_constraint
        && !location.contains('\0')
    {
        let mut w = xml::XmlWriter::new("CreateBucketConfiguration");
        w.elem("LocationConstraint", location);
        let text = w.finish("CreateBucketConfiguration");
        let again = xml::parse::<xml::CreateBucketConfiguration>(text.as_bytes());
        let again = again.unwrap_or_else(|_| panic!("rewritten config does not parse: {text}"));
        assert_eq!(
            again.location_constraint.as_deref().map(xml_round_tripped),
            Some(xml_round_tripped(location))
        );
    }
    if let Ok(key) = std::str::from_utf8(data) {
        let expected = key;
        if !expected.is_empty() && keypath::validate_key(key).is_ok() {
            let mut w = xml::XmlWriter::new("Delete");
            w.open("Object").elem("Key", key).close("Object");
            let text = w.finish("Delete");
            let parsed = xml::Delete::parse(text.as_bytes());
            let keys = parsed.map(|d| d.objects.into_iter().map(|o| o.key).collect::<Vec<_>>());
            assert!(
                matches!(&keys, Ok(keys) if keys == &[expected.to_owned()]),
                "key {key:?} written as {text:?} comes back as {:?}",
                keys.as_ref().ok()
            );
        }
    }
}

/// Ellipsis expansion and endpoint parsing. Input: one argument per line. Checks for
/// each argument: at most [`MAX_EXPANDED_ENDPOINTS`] results, none longer than the
/// argument (so memory is bounded by their product), no brace left over, an argument
/// without ellipses expands to itself; an endpoint prints as text that parses back to
/// it. For all lines together: pools parse without panicking and count no more servers
/// than drives.
pub fn endpoints(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let args: Vec<String> = text.lines().map(str::to_owned).collect();
    for arg in &args {
        if let Ok(expanded) = expand_ellipses(arg) {
            assert!(
                !expanded.is_empty() && expanded.len() <= MAX_EXPANDED_ENDPOINTS,
                "{arg:?} expands to {} strings",
                expanded.len()
            );
            for one in &expanded {
                assert!(one.len() <= arg.len(), "{arg:?} expands to longer {one:?}");
                assert!(
                    !one.contains(['{', '}']),
                    "{arg:?} leaves a brace in {one:?}"
                );
            }
            if !has_ellipses(arg) {
                assert_eq!(
                    expanded,
                    std::slice::from_ref(arg),
                    "a plain argument changes"
                );
            }
        }
        if let Ok(endpoint) = Endpoint::parse(arg) {
            let printed = endpoint.to_string();
            let again = Endpoint::parse(&printed);
            assert!(
                matches!(&again, Ok(again) if again == &endpoint),
                "{arg:?} parses to {endpoint:?}, printed {printed:?}, which parses to {again:?}"
            );
        }
    }
    if let Ok(pools) = parse_pools(&args) {
        for pool in &pools {
            assert!(pool.server_count(9000) <= pool.endpoints.len());
        }
    }
}

/// The per-drive metadata file decoder (`~meta`, read from disk and from peers).
/// Checks: a decoded file encodes and decodes back to the same header and inline bytes.
pub fn meta(data: &[u8]) {
    let _ = meta::header_len(data);
    let file = Bytes::copy_from_slice(data);
    if let Ok((header, inline)) = meta::decode(&file) {
        let encoded = meta::encode(&header, Some(&inline));
        let encoded = encoded.unwrap_or_else(|e| panic!("decoded meta does not encode: {e}"));
        let again = meta::decode(&encoded);
        let (header2, inline2) =
            again.unwrap_or_else(|e| panic!("re-encoded meta does not decode: {e}"));
        assert_eq!(header2, header);
        assert_eq!(inline2, inline);
    }
}

/// Parses `text` as `T` and, when it parses, checks that writing it back and parsing
/// again gives the same JSON.
fn json_round_trip<T>(text: &[u8]) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let value: T = serde_json::from_slice(text).ok()?;
    let first = serde_json::to_value(&value).unwrap_or_else(|e| panic!("does not encode: {e}"));
    let again: T = serde_json::from_value(first.clone())
        .unwrap_or_else(|e| panic!("encoded value does not decode: {e}"));
    let second = serde_json::to_value(&again).unwrap_or_else(|e| panic!("does not encode: {e}"));
    assert_eq!(first, second, "JSON round trip changes the value");
    Some(value)
}

/// What a server decodes from its peers. Input: a selector byte, then
/// - 0: a query string (`parse_query`): re-encoded with `rpc::query`, it parses back to
///   the same pairs;
/// - 1: a JSON body or answer (`Walk`, `WriteFormat`, walk entries, `NodeInfo`,
///   `DriveFormat`, drive info): each round-trips;
/// - 2: an error kind and message (`x-cairn-error`): rebuilt errors keep their kind.
pub fn rpc_wire(data: &[u8]) {
    let [selector, rest @ ..] = data else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    match selector % 3 {
        0 => {
            let pairs = rpc::parse_query(text);
            let borrowed: Vec<(&str, &str)> = pairs
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let again = rpc::parse_query(&rpc::query(&borrowed));
            assert_eq!(again, pairs, "query round trip changes the pairs");
        }
        1 => {
            let _ = json_round_trip::<wire::Walk>(rest);
            let _ = json_round_trip::<wire::WriteFormat>(rest);
            let _ = json_round_trip::<wire::NodeInfo>(rest);
            let _ = json_round_trip::<wire::DriveFormat>(rest);
            let _ = json_round_trip::<wire::Info>(rest);
            if let Some(entries) = json_round_trip::<Vec<wire::Entry>>(rest) {
                for entry in entries {
                    let _ = entry.into_walk_entry();
                }
            }
        }
        _ => {
            let (code, message) = text.split_once('\n').unwrap_or((text, ""));
            let error = rpc::error_from_wire(code, message.to_owned(), "peer");
            let wire_code = rpc::error_code(&error);
            if wire_code != "offline" {
                assert_eq!(wire_code, code, "error kind {code:?} changes");
            }
        }
    }
}
