//! Request authentication: AWS Signature Version 4 in headers and presigned query
//! strings, the `aws-chunked` payload encodings, and legacy Signature Version 2.

pub mod chunked;
pub mod sigv2;
pub mod sigv4;

use chrono::{DateTime, Utc};
use http::{HeaderMap, Method};

use sigv4::{AuthError, AuthOutcome, SecretLookup};

/// Authenticates a request with whichever signature version it uses:
///
/// - `X-Amz-Algorithm` in the query: SigV4 presigned URL;
/// - `AWSAccessKeyId` or `Signature` in the query: SigV2 presigned URL;
/// - `Authorization: AWS key:sig`: SigV2 header;
/// - anything else (a SigV4 `Authorization`, another scheme, no credentials at all)
///   is left to [`sigv4::verify`], which also reports `Anonymous`.
///
/// Mixing mechanisms (a header and a presigned query) is refused by either verifier.
/// `raw_path` and `raw_query` must be exactly as received; `domains` are the
/// virtual-host domains, which SigV2 needs to know the signed resource.
pub fn verify(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    domains: &[String],
    now: DateTime<Utc>,
    secrets: &dyn SecretLookup,
) -> Result<AuthOutcome, AuthError> {
    let v4_presigned = raw_query
        .split('&')
        .any(|pair| pair.split('=').next() == Some("X-Amz-Algorithm"));
    let v2_header = headers
        .get(http::header::AUTHORIZATION)
        .is_some_and(|value| sigv2::is_v2_authorization(value.as_bytes()));
    if !v4_presigned && (sigv2::is_presigned(raw_query) || v2_header) {
        sigv2::verify(method, raw_path, raw_query, headers, domains, now, secrets)
    } else {
        sigv4::verify(method, raw_path, raw_query, headers, now, secrets)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use http::HeaderValue;

    const AK: &str = "AKIDEXAMPLE";
    const SECRET: &str = "secret/example+key";

    struct OneKey;

    impl SecretLookup for OneKey {
        fn secret_key(&self, access_key: &str) -> Option<String> {
            (access_key == AK).then(|| SECRET.to_owned())
        }
    }

    fn creds() -> sigv4::Credentials {
        sigv4::Credentials {
            access_key: AK.to_owned(),
            secret_key: SECRET.to_owned(),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0)
            .single()
            .expect("date")
    }

    fn host() -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("host", HeaderValue::from_static("localhost:9000"));
        map
    }

    fn check(
        raw_path: &str,
        raw_query: &str,
        headers: &HeaderMap,
    ) -> Result<AuthOutcome, AuthError> {
        verify(
            &Method::GET,
            raw_path,
            raw_query,
            headers,
            &[],
            now(),
            &OneKey,
        )
    }

    fn v2_query(expires: i64) -> String {
        sigv2::presign_v2(
            &sigv2::PresignV2Request {
                method: &Method::GET,
                raw_path: "/b/k",
                raw_query: "",
                content_type: "",
                expires,
            },
            &creds(),
        )
    }

    fn v4_query() -> String {
        sigv4::presign_query(
            &sigv4::PresignRequest {
                method: &Method::GET,
                raw_path: "/b/k",
                raw_query: "",
                host: "localhost:9000",
                time: now(),
                region: "us-east-1",
                expires_secs: 300,
            },
            &creds(),
        )
    }

    fn v4_headers() -> HeaderMap {
        let base = host();
        let signed = sigv4::sign_request_headers(
            &sigv4::ClientRequest {
                method: &Method::GET,
                raw_path: "/b/k",
                raw_query: "",
                headers: &base,
                payload_hash: sigv4::EMPTY_SHA256,
                time: now(),
                region: "us-east-1",
            },
            &creds(),
        );
        let mut sent = base.clone();
        signed.apply(&mut sent).expect("ascii headers");
        sent
    }

    fn v2_headers() -> HeaderMap {
        let mut map = host();
        map.insert(
            "date",
            HeaderValue::from_static("Thu, 01 Jan 2026 12:00:00 GMT"),
        );
        let auth = sigv2::authorization_v2(&Method::GET, "/b/k", "", &map, &creds());
        map.insert(
            "authorization",
            HeaderValue::from_str(&auth).expect("value"),
        );
        map
    }

    #[test]
    fn each_mechanism_reaches_its_verifier() {
        let expires = now().timestamp() + 300;
        for (query, headers) in [
            (v2_query(expires), host()),
            (v4_query(), host()),
            (String::new(), v2_headers()),
            (String::new(), v4_headers()),
        ] {
            let outcome = check("/b/k", &query, &headers);
            let outcome = outcome.unwrap_or_else(|e| panic!("{query} {headers:?}: {e:?}"));
            assert_eq!(outcome.access_key, AK);
        }
        // v4 keeps its payload mode; v2 never signs the payload.
        let v4 = check("/b/k", "", &v4_headers()).expect("v4");
        assert_eq!(
            v4.payload,
            sigv4::PayloadMode::SignedSha256(sigv4::EMPTY_SHA256.to_owned())
        );
        let v2 = check("/b/k", "", &v2_headers()).expect("v2");
        assert_eq!(v2.payload, sigv4::PayloadMode::Unsigned);
        assert_eq!(v2.chunk_signing, None);
    }

    #[test]
    fn failures_and_mixtures() {
        assert_eq!(check("/b/k", "", &host()), Err(AuthError::Anonymous));
        let expired = v2_query(now().timestamp() - 1);
        assert_eq!(check("/b/k", &expired, &host()), Err(AuthError::Expired));
        assert_eq!(
            check("/b/other", &v2_query(now().timestamp() + 300), &host()),
            Err(AuthError::SignatureMismatch)
        );
        let mut other_scheme = host();
        other_scheme.insert("authorization", HeaderValue::from_static("Bearer x"));
        assert_eq!(
            check("/b/k", "", &other_scheme),
            Err(AuthError::UnsupportedAuthorization)
        );
        // Header plus presigned query, in every combination.
        let v2q = v2_query(now().timestamp() + 300);
        for (query, headers) in [
            (v2q.as_str(), v2_headers()),
            (v2q.as_str(), v4_headers()),
            (&*v4_query(), v2_headers()),
            (&*v4_query(), v4_headers()),
        ] {
            assert_eq!(
                check("/b/k", query, &headers),
                Err(AuthError::MultipleMechanisms),
                "{query}"
            );
        }
    }
}
