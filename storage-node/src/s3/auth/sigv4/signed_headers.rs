//! The `SignedHeaders` list and the size of what we hash, checked before anything is
//! built from them.
//!
//! Without these checks, one unauthenticated request that lists a 100 KB header
//! 20,000 times made the server assemble gigabytes of canonical request before it
//! could say the signature was wrong. Every signer S3 clients use (AWS SDKs, botocore,
//! minio-go, s3cmd, rclone, curl) sends the list lower-case, sorted and without
//! repeats, and signs only headers it sends, so anything else is refused outright:
//! after these checks each signed header appears once in the canonical request and is
//! no longer than it was on the wire, and the whole canonical request is capped.

use http::HeaderMap;

use super::AuthError;

/// Most headers one signature may cover. hyper's HTTP/1 parser accepts at most 100
/// request headers, so no HTTP/1 request the server can read is refused for its
/// count; over HTTP/2 it bounds the work just the same. A real PutObject signs about a
/// dozen (host, content-*, x-amz-date, x-amz-content-sha256, checksums, ACL, tagging,
/// storage class), which leaves room for dozens of `x-amz-meta-*` entries.
pub const MAX_SIGNED_HEADERS: usize = 100;

/// Largest canonical request we build, in bytes (64 KiB). A real one holds the path
/// (a key is at most 1,024 bytes, about 3 KiB encoded), the query (a few hundred bytes;
/// a presigned URL adds about 600), and the signed headers: user metadata is limited
/// to 2 KiB, a tag set to about 3 KiB, a copy source to about 3 KiB. Large real
/// requests stay under 16 KiB; four times that is still cheap to hash.
pub const MAX_CANONICAL_REQUEST: usize = 64 * 1024;

/// Whether a byte may appear in a signed header name: an HTTP token character, with
/// letters lower-case as SigV4 requires.
fn is_lower_token(byte: u8) -> bool {
    byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// A name for an error message, short enough to repeat to the client.
fn shown(name: &str) -> String {
    const SHOWN: usize = 64;
    match name.get(..SHOWN) {
        Some(start) if name.len() > SHOWN => format!("\"{start}...\""),
        _ => format!("\"{name}\""),
    }
}

/// Checks a `SignedHeaders` value against the request and returns its names.
///
/// The list must be non-empty, at most [`MAX_SIGNED_HEADERS`] long, lower-case,
/// strictly sorted (so without repeats) and include `host` (so a signature cannot be
/// replayed against another endpoint); `malformed` turns those failures into the
/// error of the authentication style (`AuthorizationHeaderMalformed` for the header,
/// `AuthorizationQueryParametersError` for a presigned URL). A listed header that the
/// request does not carry is `SignatureDoesNotMatch`, as on AWS, which signs it as an
/// empty value and then finds the signature wrong; here nothing is built for it.
pub fn parse_signed_headers<'a>(
    value: &'a str,
    headers: &HeaderMap,
    malformed: fn(&str) -> AuthError,
) -> Result<Vec<&'a str>, AuthError> {
    if value.is_empty() {
        return Err(malformed("SignedHeaders is empty"));
    }
    // Counted before anything is allocated for the list.
    let count = value.split(';').count();
    if count > MAX_SIGNED_HEADERS {
        return Err(malformed(&format!(
            "SignedHeaders lists {count} headers; at most {MAX_SIGNED_HEADERS} may be signed"
        )));
    }
    let names: Vec<&str> = value.split(';').collect();
    let mut previous: Option<&str> = None;
    for name in &names {
        if name.is_empty() {
            return Err(malformed("SignedHeaders has an empty entry"));
        }
        if !name.bytes().all(is_lower_token) {
            return Err(malformed(&format!(
                "SignedHeaders must be lower-case header names; got {}",
                shown(name)
            )));
        }
        if let Some(previous) = previous {
            if *name == previous {
                return Err(malformed(&format!(
                    "SignedHeaders lists {} more than once",
                    shown(name)
                )));
            }
            if *name < previous {
                return Err(malformed(&format!(
                    "SignedHeaders must be sorted; {} comes after {}",
                    shown(name),
                    shown(previous)
                )));
            }
        }
        previous = Some(name);
    }
    if names.binary_search(&"host").is_err() {
        return Err(malformed("SignedHeaders must include host"));
    }
    if names.iter().any(|name| !headers.contains_key(*name)) {
        return Err(AuthError::SignatureMismatch);
    }
    Ok(names)
}

/// Refuses a request whose path and query alone exceed [`MAX_CANONICAL_REQUEST`]:
/// their canonical forms (at most three bytes per byte received) would too, give or
/// take the rare `%7e` that canonicalises shorter, and no real request comes close.
pub fn check_request_line(raw_path: &str, raw_query: &str) -> Result<(), AuthError> {
    if raw_path.len().saturating_add(raw_query.len()) > MAX_CANONICAL_REQUEST {
        return Err(AuthError::CanonicalRequestTooLarge);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn malformed(detail: &str) -> AuthError {
        AuthError::HeaderMalformed(detail.to_owned())
    }

    fn request(names: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for name in names {
            map.insert(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_static("v"),
            );
        }
        map
    }

    fn code(result: Result<Vec<&str>, AuthError>) -> &'static str {
        result.map_or_else(|e| e.s3_code(), |_| "ok")
    }

    #[test]
    fn real_signed_header_lists_pass() {
        let map = request(&["host", "x-amz-content-sha256", "x-amz-date", "x-amz-meta-a"]);
        let names = parse_signed_headers(
            "host;x-amz-content-sha256;x-amz-date;x-amz-meta-a",
            &map,
            malformed,
        )
        .expect("a list as SDKs send it");
        assert_eq!(names.len(), 4);
        assert_eq!(
            parse_signed_headers("host", &map, malformed),
            Ok(vec!["host"])
        );
    }

    #[test]
    fn duplicates_unsorted_upper_case_and_empty_entries_are_malformed() {
        let map = request(&["host", "x-amz-date", "range"]);
        for bad in [
            "",
            "host;host",
            "host;x-amz-date;x-amz-date",
            "x-amz-date;host",
            "range;host",
            "Host;x-amz-date",
            "host;X-Amz-Date",
            "host;;x-amz-date",
            "host;x-amz-date;",
            "host;x amz",
            "x-amz-date",
        ] {
            assert_eq!(
                code(parse_signed_headers(bad, &map, malformed)),
                "AuthorizationHeaderMalformed",
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_signed_header_missing_from_the_request_does_not_match() {
        let map = request(&["host"]);
        assert_eq!(
            parse_signed_headers("host;x-amz-date", &map, malformed),
            Err(AuthError::SignatureMismatch)
        );
    }

    #[test]
    fn the_number_of_signed_headers_is_capped() {
        // host sorts before every x-amz-meta-NNNN, so the list stays sorted.
        let names: Vec<String> = ["host".to_owned()]
            .into_iter()
            .chain((0..MAX_SIGNED_HEADERS).map(|i| format!("x-amz-meta-{i:04}")))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let map = request(&refs);
        let all = refs.join(";");
        assert_eq!(refs.len(), MAX_SIGNED_HEADERS + 1);
        let err = parse_signed_headers(&all, &map, malformed).expect_err("too many");
        assert_eq!(err.s3_code(), "AuthorizationHeaderMalformed");
        assert!(err.message().contains("at most 100"), "{}", err.message());
        let within = refs[..MAX_SIGNED_HEADERS].join(";");
        assert_eq!(
            parse_signed_headers(&within, &map, malformed).map(|n| n.len()),
            Ok(MAX_SIGNED_HEADERS)
        );
    }

    /// The reported attack: one header name listed 20,000 times. Refused on the count,
    /// and (below the count) on the first repeat, before any value is looked at.
    #[test]
    fn one_header_listed_twenty_thousand_times_is_refused() {
        let map = request(&["host", "x-big"]);
        let list = format!("host{}", ";x-big".repeat(20_000));
        let err = parse_signed_headers(&list, &map, malformed).expect_err("refused");
        assert_eq!(err.s3_code(), "AuthorizationHeaderMalformed");
        let list = format!("host{}", ";x-big".repeat(50));
        let err = parse_signed_headers(&list, &map, malformed).expect_err("refused");
        assert!(
            err.message().contains("more than once"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn long_names_are_not_echoed_whole() {
        let long = "a".repeat(10_000);
        let err = parse_signed_headers(&format!("host;{long}A"), &request(&["host"]), malformed)
            .expect_err("upper-case");
        assert!(err.message().len() < 300, "{}", err.message().len());
    }

    #[test]
    fn request_line_past_the_cap_is_refused() {
        assert_eq!(check_request_line("/b/k", "a=1"), Ok(()));
        let path = format!("/b/{}", "k".repeat(MAX_CANONICAL_REQUEST));
        assert_eq!(
            check_request_line(&path, ""),
            Err(AuthError::CanonicalRequestTooLarge)
        );
    }
}
