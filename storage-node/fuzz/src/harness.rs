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

/// The per-drive metadata file decoder (`~meta`, read from disk and from peers; format 1
/// and 2). Checks: a decoded file encodes (in format 2) and decodes back to the same
/// versions and inline bytes, and its header alone decodes to the same versions.
pub fn meta(data: &[u8]) {
    let _ = meta::header_len(data);
    let file = Bytes::copy_from_slice(data);
    if let Ok(decoded) = meta::decode(&file) {
        let encoded = meta::encode(&decoded);
        let encoded = encoded.unwrap_or_else(|e| panic!("decoded meta does not encode: {e}"));
        let again = meta::decode(&encoded);
        let again = again.unwrap_or_else(|e| panic!("re-encoded meta does not decode: {e}"));
        assert_eq!(again, decoded);
        let end = meta::header_len(&encoded).unwrap_or_else(|| panic!("no header length"));
        let head = meta::decode_header(&encoded.slice(..end))
            .unwrap_or_else(|e| panic!("header alone does not decode: {e}"));
        assert_eq!(head.versions.len(), decoded.versions.len());
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

/// Condition keys a fuzzed policy request fills, picked by the first byte of each value
/// line: the global and S3 keys the server fills, a tag key, a multi-valued key and the
/// keys of the `Date*`, `Numeric*`, `Bool` and `IpAddress` operators.
const POLICY_CONDITION_KEYS: &[&str] = &[
    "aws:username",
    "aws:userid",
    "aws:groups",
    "aws:SourceIp",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:SecureTransport",
    "aws:Referer",
    "aws:UserAgent",
    "aws:PrincipalType",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:x-amz-acl",
    "s3:signatureversion",
    "s3:versionid",
    "s3:ExistingObjectTag/Project",
    "s3:RequestObjectTagKeys",
    "s3:object-lock-remaining-retention-days",
    "jwt:sub",
];

/// The bucket a bucket policy is parsed for when the fuzzed request names none.
pub const POLICY_BUCKET: &str = "bucket";

/// A request to evaluate policies against, decoded from fuzz bytes.
struct PolicyRequest {
    action: &'static str,
    bucket: String,
    key: Option<String>,
    access_key: String,
    user: String,
    is_root: bool,
    anonymous: bool,
    values: cairn_policy::Values,
}

impl PolicyRequest {
    /// Bytes 0-1 pick the action from `cairn_policy::action::all()`, byte 2 holds flags
    /// (bit 0: anonymous, bit 1: root); the rest, as text, is one field per line: bucket,
    /// object key, access key, user, then up to 16 condition values whose first
    /// character picks the key from [`POLICY_CONDITION_KEYS`]. No bytes: `alice` getting
    /// `bucket/key` over TLS, which the seed policies mostly speak about.
    fn from_bytes(bytes: &[u8]) -> PolicyRequest {
        let actions: Vec<&'static str> = cairn_policy::action::all().collect();
        let [a, b, flags, rest @ ..] = bytes else {
            return PolicyRequest {
                action: "s3:GetObject",
                bucket: POLICY_BUCKET.to_owned(),
                key: Some("key".to_owned()),
                access_key: "alice-key".to_owned(),
                user: "alice".to_owned(),
                is_root: false,
                anonymous: false,
                values: cairn_policy::Values::new()
                    .with("aws:username", "alice")
                    .with("aws:SecureTransport", "true")
                    .with("aws:SourceIp", "192.168.1.10"),
            };
        };
        let pick = usize::from(u16::from_le_bytes([*a, *b]));
        let action = actions
            .get(pick % actions.len().max(1))
            .copied()
            .unwrap_or("s3:GetObject");
        let text = String::from_utf8_lossy(rest);
        let mut lines = text.split('\n');
        let bucket = lines.next().unwrap_or_default().to_owned();
        let key = lines.next().map(str::to_owned);
        let access_key = lines.next().unwrap_or_default().to_owned();
        let user = lines.next().unwrap_or_default().to_owned();
        let mut values = cairn_policy::Values::new();
        for line in lines.take(16) {
            let mut chars = line.chars();
            let Some(first) = chars.next() else {
                continue;
            };
            let name = POLICY_CONDITION_KEYS[first as usize % POLICY_CONDITION_KEYS.len()];
            values.insert(name, chars.as_str());
        }
        PolicyRequest {
            action,
            bucket,
            key,
            access_key,
            user,
            is_root: flags & 2 != 0,
            anonymous: flags & 1 != 0,
            values,
        }
    }

    /// The bucket a bucket policy is parsed for.
    fn policy_bucket(&self) -> &str {
        if self.bucket.is_empty() {
            POLICY_BUCKET
        } else {
            &self.bucket
        }
    }

    /// The identity and the resource decision of `policy` for this request.
    fn decide(
        &self,
        policy: &cairn_policy::Policy,
    ) -> (cairn_policy::Decision, cairn_policy::Decision) {
        let caller = cairn_policy::Caller {
            access_key: &self.access_key,
            user: &self.user,
            is_root: self.is_root,
        };
        let mut request =
            cairn_policy::Request::new(self.action, &self.values).with_bucket(&self.bucket);
        if let Some(key) = &self.key {
            request = request.with_key(key);
        }
        if !self.anonymous {
            request = request.with_caller(&caller);
        }
        (
            policy.evaluate(&request),
            policy.evaluate_resource(&request),
        )
    }
}

/// The policy language: identity policies (`Policy::parse`) and bucket policies
/// (`Policy::parse_bucket_policy`). Input: a policy document, optionally followed by a
/// NUL and a request (see `PolicyRequest::from_bytes`). Checks: what parses keeps its raw
/// bytes, and its canonical JSON (`to_json`) parses again to the same statements and the
/// same canonical JSON; evaluating the request gives the same decisions twice, and the
/// same decisions for the policy read back from its canonical JSON.
pub fn policy(data: &[u8]) {
    let (doc, rest) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let request = PolicyRequest::from_bytes(rest);
    let bucket = request.policy_bucket().to_owned();
    type Parse<'a> = &'a dyn Fn(&[u8]) -> Result<cairn_policy::Policy, cairn_policy::PolicyError>;
    let parsers: [(&str, Parse<'_>); 2] = [
        ("identity", &|json: &[u8]| cairn_policy::Policy::parse(json)),
        ("bucket", &|json: &[u8]| {
            cairn_policy::Policy::parse_bucket_policy(json, &bucket)
        }),
    ];
    for (kind, parse) in parsers {
        let Ok(policy) = parse(doc) else {
            continue;
        };
        assert_eq!(policy.raw(), doc, "{kind} policy keeps other raw bytes");
        let json = policy.to_json();
        let again = parse(json.as_bytes());
        let again = again.unwrap_or_else(|e| {
            panic!("canonical JSON of a {kind} policy does not parse: {e}: {json}")
        });
        assert_eq!(
            again.to_json(),
            json,
            "{kind} policy's canonical JSON changes"
        );
        assert_eq!(
            again.statements(),
            policy.statements(),
            "{kind} policy's statements change through its canonical JSON: {json}"
        );
        let first = request.decide(&policy);
        assert_eq!(
            request.decide(&policy),
            first,
            "{kind} policy decides differently twice"
        );
        assert_eq!(
            request.decide(&again),
            first,
            "{kind} policy decides differently after its canonical JSON: {json}"
        );
    }
}

/// The secret key the madmin target decrypts with (MinIO's documentation root password,
/// which the seed bodies are encrypted for).
pub const MADMIN_SECRET: &str = "minio123";

/// Length of what `crypt::encrypt_with` writes for `plaintext_len` bytes: the header, then
/// each 16 KiB package (at least one, possibly empty) and its tag.
fn madmin_sealed_len(plaintext_len: usize) -> usize {
    use cairn_madmin::crypt::{HEADER_LEN, PACKAGE_LEN, TAG_LEN};
    let packages = plaintext_len.div_ceil(PACKAGE_LEN).max(1);
    HEADER_LEN + plaintext_len + packages * TAG_LEN
}

/// The decrypt limit a selector byte picks: the default, the request limit, a small one
/// (0 to 504 bytes) or none.
fn madmin_limit(selector: u8) -> usize {
    use cairn_madmin::crypt::{DEFAULT_DECRYPT_LIMIT, MAX_ENCRYPTED_REQUEST_LEN};
    match selector & 3 {
        0 => DEFAULT_DECRYPT_LIMIT,
        1 => MAX_ENCRYPTED_REQUEST_LEN,
        2 => usize::from(selector >> 2) * 8,
        _ => usize::MAX,
    }
}

/// A body that decrypted: it must have exactly the length `encrypt` gives its plaintext,
/// and stop decrypting when the byte at `at` changes (the id byte excepted: it would
/// select Argon2) or when its last byte is cut.
fn check_authentic(body: &[u8], plaintext: &[u8], at: usize) {
    use cairn_madmin::crypt::{self, CryptError, SALT_LEN};
    assert_eq!(
        body.len(),
        madmin_sealed_len(plaintext.len()),
        "a body decrypts to a plaintext of another length"
    );
    let mut at = at % body.len();
    if at == SALT_LEN {
        at += 1;
    }
    let mut changed = body.to_vec();
    changed[at] ^= 1;
    assert_eq!(
        crypt::decrypt_with_limit(MADMIN_SECRET, &changed, usize::MAX),
        Err(CryptError::NotAuthentic),
        "a body with byte {at} changed still decrypts"
    );
    let cut = &body[..body.len() - 1];
    assert!(
        crypt::decrypt_with_limit(MADMIN_SECRET, cut, usize::MAX).is_err(),
        "a body cut by one byte still decrypts"
    );
}

/// madmin's encrypted bodies (`crypt::decrypt_with_limit`). Input: a selector byte (bits
/// 0-1 and 2-7: the limit, see `madmin_limit`; bit 5: also change a byte of the round
/// trip; bit 6: repeat the plaintext past one or two 16 KiB packages; bit 7: also try a
/// wrong secret), then a body. Checks:
///
/// - the body is refused with the error the library promises before deriving a key
///   (too large, truncated, unknown id), and otherwise (id 2, PBKDF2) does not
///   authenticate unless it came from `encrypt`; a body that decrypts has the length
///   `encrypt` gives and stops decrypting when a byte changes or it is cut. Bodies with
///   ids 0 and 1 would cost an Argon2 derivation (~70 ms, 64 MiB): they are only checked
///   against the limit and the length, which the library checks first;
/// - the body as a plaintext, encrypted with id 2, decrypts back to itself, is refused
///   over its limit, with another secret, with a byte changed, and cut after its first
///   package.
pub fn madmin(data: &[u8]) {
    use cairn_madmin::crypt::{
        self, Algorithm, CryptError, HEADER_LEN, MIN_ENCRYPTED_LEN, PACKAGE_LEN, SALT_LEN, TAG_LEN,
    };
    let [selector, body @ ..] = data else {
        return;
    };
    let limit = madmin_limit(*selector);
    let decrypt =
        |bytes: &[u8], limit: usize| crypt::decrypt_with_limit(MADMIN_SECRET, bytes, limit);

    // Refusals that come before any key derivation.
    if !body.is_empty() {
        assert_eq!(
            decrypt(body, body.len() - 1),
            Err(CryptError::TooLarge {
                len: body.len(),
                limit: body.len() - 1
            })
        );
    }
    let short = &body[..body.len().min(MIN_ENCRYPTED_LEN - 1)];
    assert_eq!(
        decrypt(short, usize::MAX),
        Err(CryptError::Truncated { len: short.len() })
    );
    let refusal = if body.len() > limit {
        Some(CryptError::TooLarge {
            len: body.len(),
            limit,
        })
    } else if body.len() < MIN_ENCRYPTED_LEN {
        Some(CryptError::Truncated { len: body.len() })
    } else {
        Algorithm::from_id(body[SALT_LEN])
            .is_none()
            .then_some(CryptError::UnknownAlgorithm(body[SALT_LEN]))
    };
    match refusal {
        Some(error) => assert_eq!(decrypt(body, limit), Err(error)),
        // Ids 0 and 1 (Argon2): checked above as far as it is cheap.
        None if body[SALT_LEN] != Algorithm::Pbkdf2AesGcm.id() => {}
        None => match decrypt(body, limit) {
            Ok(plaintext) => check_authentic(body, &plaintext, usize::from(*selector)),
            Err(error) => assert_eq!(error, CryptError::NotAuthentic),
        },
    }

    // Round trip of the body as a plaintext.
    let plaintext = if selector & 0x40 != 0 {
        let len = PACKAGE_LEN * (1 + usize::from((selector >> 4) & 1)) + body.len();
        if body.is_empty() {
            vec![0u8; len]
        } else {
            body.iter().copied().cycle().take(len).collect()
        }
    } else {
        body.to_vec()
    };
    let sealed = crypt::encrypt_with(Algorithm::Pbkdf2AesGcm, MADMIN_SECRET, &plaintext)
        .unwrap_or_else(|e| panic!("{} bytes do not encrypt: {e}", plaintext.len()));
    assert_eq!(sealed.len(), madmin_sealed_len(plaintext.len()));
    assert_eq!(sealed[SALT_LEN], Algorithm::Pbkdf2AesGcm.id());
    assert_eq!(
        decrypt(&sealed, sealed.len()).as_deref(),
        Ok(plaintext.as_slice()),
        "decrypt(encrypt(x)) is not x"
    );
    assert_eq!(
        decrypt(&sealed, sealed.len() - 1),
        Err(CryptError::TooLarge {
            len: sealed.len(),
            limit: sealed.len() - 1
        })
    );
    if selector & 0x20 != 0 {
        check_authentic(
            &sealed,
            &plaintext,
            body.len().wrapping_mul(31) ^ usize::from(*selector),
        );
    }
    if selector & 0x80 != 0 {
        assert_eq!(
            crypt::decrypt_with_limit("minio124", &sealed, usize::MAX),
            Err(CryptError::NotAuthentic),
            "a body decrypts with another secret"
        );
    }
    if plaintext.len() > PACKAGE_LEN {
        let first_package = &sealed[..HEADER_LEN + PACKAGE_LEN + TAG_LEN];
        assert_eq!(
            decrypt(first_package, usize::MAX),
            Err(CryptError::NotAuthentic),
            "a body cut after its first package still decrypts"
        );
    }
}

/// The key the peer RPC targets sign and verify with (derived from the test server's root
/// credentials, as a deployment without `CAIRN_CLUSTER_SECRET` does).
fn rpc_key() -> rpc::auth::RpcKey {
    rpc::auth::RpcKey::derive(TEST_ACCESS_KEY, TEST_SECRET_KEY, None)
}

/// The signature of the call whose body the fuzzed frames are: the first frame chains
/// from it.
pub const RPC_CALL_SIGNATURE: rpc::auth::Signature = [7u8; 32];

/// Reads a frame stream as the server does: push what arrives (cut into `pieces`), then
/// take every verified frame, then `finish` at the end of the body. Alongside, a model of
/// the reader's buffer checks that after each round what stays buffered is one incomplete
/// frame whose declared length is within [`chunks::MAX_FRAME`] (so a hostile length is
/// refused before its bytes are buffered), and that nothing is accepted after the final
/// frame.
fn read_frames(bytes: &[u8], pieces: Vec<Bytes>) -> Result<Vec<u8>, rpc::auth::AuthError> {
    use rpc::chunks::{FrameReader, HEADER_LEN, MAX_FRAME};
    let mut reader = FrameReader::new(rpc_key(), RPC_CALL_SIGNATURE);
    let mut out = Vec::new();
    let (mut pushed, mut consumed, mut ended) = (0usize, 0usize, false);
    for piece in pieces {
        reader.push(&piece)?;
        pushed += piece.len();
        while let Some(frame) = reader.next_frame()? {
            assert!(!ended, "a frame after the final frame");
            assert!(
                !frame.is_empty() && frame.len() <= MAX_FRAME,
                "frame of {} bytes",
                frame.len()
            );
            consumed += HEADER_LEN + frame.len();
            out.extend_from_slice(&frame);
        }
        let mut pending = &bytes[consumed..pushed];
        if !ended && pending.len() >= HEADER_LEN && pending[..4] == [0, 0, 0, 0] {
            // The final frame, verified and consumed by `next_frame`.
            ended = true;
            consumed += HEADER_LEN;
            pending = &pending[HEADER_LEN..];
        }
        if ended {
            assert!(pending.is_empty(), "data after the final frame accepted");
        } else if let Some(len) = pending.get(..4) {
            let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
            assert!(len <= MAX_FRAME, "a frame of {len} bytes is being buffered");
            assert!(
                pending.len() < HEADER_LEN + len,
                "a complete frame stays buffered"
            );
        }
    }
    reader.finish()?;
    assert!(ended, "finish accepts a body without its final frame");
    Ok(out)
}

/// Signs `chunks` as the RPC client does (`StreamCall::send` skips empty chunks, `finish`
/// sends the final frame): the frame stream of a shard write.
fn write_frames(chunks: &[Bytes]) -> Vec<u8> {
    let mut signer = rpc::chunks::FrameSigner::new(rpc_key(), RPC_CALL_SIGNATURE);
    let mut out = Vec::new();
    for chunk in chunks.iter().filter(|c| !c.is_empty()) {
        let header = signer
            .header(chunk)
            .unwrap_or_else(|e| panic!("a chunk of {} bytes is not signed: {e}", chunk.len()));
        out.extend_from_slice(&header);
        out.extend_from_slice(chunk);
    }
    let end = signer
        .end()
        .unwrap_or_else(|e| panic!("the final frame is not signed: {e}"));
    out.extend_from_slice(&end);
    out
}

/// What a refused frame stream must answer: 400 for what cannot be framed, 401 for a
/// frame that does not verify.
fn check_frame_error(error: &rpc::auth::AuthError) {
    use rpc::auth::AuthError;
    assert!(
        matches!(error, AuthError::BadFrame(_) | AuthError::FrameMismatch),
        "a frame stream is refused with {error:?}"
    );
    assert!(error.status().is_client_error());
}

/// Peer RPC authentication. Input: a selector byte; when it is odd, the rest is a v2
/// `x-cairn-rpc-auth` header (see `rpc_auth_header`); when it is even, a split seed and
/// the bytes of a streamed body (see `rpc_frame_stream`).
pub fn rpc_frames(data: &[u8]) {
    match data {
        [selector, header @ ..] if selector & 1 == 1 => rpc_auth_header(header),
        [selector, seed, body @ ..] => rpc_frame_stream(selector >> 1, *seed, body),
        _ => {}
    }
}

/// The signed frames of streamed peer calls (`rpc::chunks::FrameReader`, shard writes).
/// Input: a chunking seed, a split seed, then bytes. Checks:
///
/// - the bytes as a frame stream: the answer does not depend on how they are split, the
///   reader never buffers a frame declared over `MAX_FRAME` nor accepts data after the
///   final frame (see `read_frames`), refusals are 400/401, and the payload is never
///   longer than the bytes;
/// - the bytes cut into chunks (lengths drawn from the selector) and signed by
///   `FrameSigner` read back as themselves however split; with one byte changed, cut
///   short, extended, or read as another call's body, they are refused.
fn rpc_frame_stream(chunking: u8, seed: u8, body: &[u8]) {
    let whole = read_frames(body, vec![Bytes::copy_from_slice(body)]);
    let split = read_frames(body, split_pieces(body, seed));
    assert_eq!(
        whole, split,
        "the frame reader's answer depends on the split"
    );
    match &whole {
        Ok(payload) => assert!(payload.len() <= body.len()),
        Err(error) => check_frame_error(error),
    }

    let chunks = split_pieces(body, chunking);
    let stream = write_frames(&chunks);
    assert_eq!(
        read_frames(&stream, split_pieces(&stream, seed)).as_deref(),
        Ok(body),
        "a signed frame stream does not read back"
    );
    let at = (usize::from(seed) * 257 + body.len()) % stream.len();
    let mut changed = stream.clone();
    changed[at] ^= 0x20;
    let tampered = [
        changed,
        stream[..at].to_vec(),
        [stream.as_slice(), &[chunking]].concat(),
    ];
    for bad in &tampered {
        let result = read_frames(bad, split_pieces(bad, seed));
        match &result {
            Ok(_) => panic!("a changed, cut or extended frame stream reads"),
            Err(error) => check_frame_error(error),
        }
    }
    let mut other_call = rpc::chunks::FrameReader::new(rpc_key(), [8u8; 32]);
    let refused = other_call
        .push(&stream)
        .and_then(|()| other_call.next_frame().map(|_| ()));
    assert_eq!(
        refused,
        Err(rpc::auth::AuthError::FrameMismatch),
        "frames of one call read as another's"
    );
}

/// The call target, path and method the RPC header target verifies against.
pub const RPC_TARGET: &str = "127.0.0.1:9000";
pub const RPC_PATH: &str = "/cairn/rpc/v1/drive/read_meta?drive=%2Fd1&volume=b&key=k";
const RPC_METHOD: &str = "POST";

/// The v2 `x-cairn-rpc-auth` header (`rpc::auth::RpcKey::verify`). Input: the header
/// value. The receiver's clock is the header's own time when its second field
/// is a number, so signed inputs reach the signature check. Checks: refusals are 400
/// (malformed) or 401; a field that is not what the format says (a time that is not 1 to
/// 19 digits, an id that is not 32 hex digits, a body that is neither `stream` nor 64 hex
/// digits, a signature that is not 64 hex digits, not five fields) is refused as
/// malformed; a header that verifies verifies no more when a digit of its signature
/// changes, and the call it describes, signed again, gives the same signature.
fn rpc_auth_header(data: &[u8]) {
    use rpc::auth::{AuthError, CallParts, MAX_SKEW_MS};
    let Ok(header) = std::str::from_utf8(data) else {
        return;
    };
    let key = rpc_key();
    let fields: Vec<&str> = header.split(':').collect();
    let now = fields
        .get(1)
        .and_then(|t| t.parse::<i64>().ok())
        .unwrap_or(1_767_268_800_000);
    let targets = [RPC_TARGET.to_owned()];
    let verify = |header: &str| key.verify(RPC_METHOD, RPC_PATH, &targets, Some(header), now);
    let result = verify(header);
    let hex = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit());
    let request_id = |s: &str| hex(s, 32);
    let well_formed = fields.len() == 5
        && fields[0] == "v2"
        && !fields[1].is_empty()
        && fields[1].len() <= 19
        && fields[1].bytes().all(|b| b.is_ascii_digit())
        && request_id(fields[2])
        && (fields[3] == rpc::auth::STREAMED || hex(fields[3], 64))
        && hex(fields[4], 64);
    match &result {
        Err(error) => {
            let status = error.status();
            assert!(status == 400 || status == 401, "{error:?} answers {status}");
            if !well_formed && fields.first() == Some(&"v2") {
                assert!(
                    matches!(error, AuthError::Malformed(_)),
                    "malformed header {header:?} refused as {error:?}"
                );
            }
        }
        Ok(verified) => {
            assert!(well_formed, "malformed header {header:?} verifies");
            assert!(now.abs_diff(verified.time_ms) <= MAX_SKEW_MS);
            let call = CallParts {
                method: RPC_METHOD,
                target: RPC_TARGET,
                path_and_query: RPC_PATH,
            };
            let again = key.sign_at(&call, verified.body, verified.time_ms, verified.id);
            assert_eq!(
                again.signature, verified.signature,
                "signed again differently"
            );
            let mut tampered = header.as_bytes().to_vec();
            if let Some(last) = tampered.last_mut() {
                *last = other_hex_digit(*last);
            }
            if let Ok(tampered) = String::from_utf8(tampered) {
                assert_eq!(
                    verify(&tampered),
                    Err(AuthError::BadSignature),
                    "a changed signature still verifies"
                );
            }
        }
    }
}
