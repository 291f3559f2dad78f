//! AWS Signature Version 4 for S3 requests signed in the `Authorization` header.
//!
//! Written here (hmac + sha2) rather than taken from the AWS SDK: the SDK would multiply this
//! crate's build time on a 2-core machine, and a load generator needs only header signing with
//! `UNSIGNED-PAYLOAD` or the empty-body hash. Checked against the examples that AWS publishes in
//! "Signature Calculations for the Authorization Header: Transferring Payload in a Single Chunk".

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// `x-amz-content-sha256` value for a body whose hash is not part of the signature.
///
/// Used for PUT so that a 64 MiB body can be streamed from a shared buffer without hashing it
/// first; the load generator then measures the server, not SHA-256 in the client.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// SHA-256 of the empty string: the payload hash of GET, HEAD and DELETE requests.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC-SHA256 accepts any key length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-encodes `s` as SigV4 requires: every byte except `A-Z a-z 0-9 - . _ ~` becomes
/// `%XX` (upper-case hex); `/` is kept when `keep_slash` (object key paths) and encoded
/// otherwise (query keys and values).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Access key and secret key of one S3 identity.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id (the part that is sent in the clear).
    pub access_key: String,
    /// Secret key (only ever used as HMAC key material).
    pub secret_key: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, even in debug output.
        f.debug_struct("Credentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// One request to sign. `path` and `query` are given *unencoded*; the signer encodes them,
/// and the caller must send them encoded the same way (see [`uri_encode`] and
/// [`canonical_query`]).
pub struct Request<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Absolute path, e.g. `/bucket/key`; each segment is percent-encoded once.
    pub path: &'a str,
    /// Query parameters as (name, value); a flag parameter such as `lifecycle` has value "".
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign, as (name, value). Must include `host` and `x-amz-date`, and for S3
    /// `x-amz-content-sha256`.
    pub headers: &'a [(&'a str, &'a str)],
    /// Hex SHA-256 of the body, or [`UNSIGNED_PAYLOAD`].
    pub payload_hash: &'a str,
}

/// Builds the canonical query string: encoded `name=value` pairs sorted by name then value.
pub fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Canonical request and the `SignedHeaders` list, exactly as in the AWS documentation.
pub fn canonical_request(req: &Request<'_>) -> (String, String) {
    let mut headers: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| {
            // Trim, and collapse runs of spaces inside the value, as SigV4 requires.
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed_headers = headers
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let creq = format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method,
        uri_encode(req.path, true),
        canonical_query(req.query),
        canonical_headers,
        signed_headers,
        req.payload_hash
    );
    (creq, signed_headers)
}

/// Signs requests for one identity, region and service.
#[derive(Clone, Debug)]
pub struct Signer {
    creds: Credentials,
    region: String,
    service: String,
}

/// The pieces of a signature, kept apart so tests can check each step.
pub struct Signature {
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
    /// Hex signature.
    pub signature: String,
    /// Full `Authorization` header value.
    pub authorization: String,
}

impl Signer {
    /// A signer for `service` (`s3`) in `region` (`us-east-1` unless the server says otherwise).
    pub fn new(creds: Credentials, region: &str, service: &str) -> Self {
        Self {
            creds,
            region: region.to_string(),
            service: service.to_string(),
        }
    }

    /// Signs `req` at `amz_date` (`YYYYMMDDTHHMMSSZ`, the same value as the `x-amz-date`
    /// header).
    pub fn sign(&self, req: &Request<'_>, amz_date: &str) -> Signature {
        let date = amz_date.get(..8).unwrap_or(amz_date);
        let scope = format!("{date}/{}/{}/aws4_request", self.region, self.service);
        let (creq, signed_headers) = canonical_request(req);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            sha256_hex(creq.as_bytes())
        );
        let k_date = hmac(
            format!("AWS4{}", self.creds.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let k_region = hmac(&k_date, self.region.as_bytes());
        let k_service = hmac(&k_region, self.service.as_bytes());
        let k_signing = hmac(&k_service, b"aws4_request");
        let signature = hex::encode(hmac(&k_signing, string_to_sign.as_bytes()));
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
            self.creds.access_key
        );
        Signature {
            canonical_request: creq,
            string_to_sign,
            signature,
            authorization,
        }
    }
}

/// The current time as SigV4 wants it in `x-amz-date`.
pub fn amz_date_now() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
}

#[cfg(test)]
mod tests {
    //! Vectors from the AWS S3 API reference, "Signature Calculations for the Authorization
    //! Header: Transferring Payload in a Single Chunk (AWS Signature Version 4)", Examples.
    use super::*;

    const HOST: &str = "examplebucket.s3.amazonaws.com";
    const DATE: &str = "20130524T000000Z";

    fn signer() -> Signer {
        Signer::new(
            Credentials {
                access_key: "AKIAIOSFODNN7EXAMPLE".into(),
                secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            },
            "us-east-1",
            "s3",
        )
    }

    #[test]
    fn aws_example_get_object() {
        let headers = [
            ("Host", HOST),
            ("Range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
        ];
        let req = Request {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        let sig = signer().sign(&req, DATE);
        assert_eq!(
            sig.canonical_request,
            format!(
                "GET\n/test.txt\n\nhost:{HOST}\nrange:bytes=0-9\nx-amz-content-sha256:{EMPTY_SHA256}\n\
                 x-amz-date:{DATE}\n\nhost;range;x-amz-content-sha256;x-amz-date\n{EMPTY_SHA256}"
            )
        );
        // The canonical request's hash is the last line of the published StringToSign.
        assert_eq!(
            sig.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            sig.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            sig.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn aws_example_put_object_encodes_the_key() {
        let payload = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let headers = [
            ("Host", HOST),
            ("Date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", payload.as_str()),
        ];
        let req = Request {
            method: "PUT",
            path: "/test$file.text",
            query: &[],
            headers: &headers,
            payload_hash: &payload,
        };
        let sig = signer().sign(&req, DATE);
        assert!(
            sig.canonical_request
                .starts_with("PUT\n/test%24file.text\n\n")
        );
        assert_eq!(
            sig.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn aws_example_query_parameters_are_sorted_and_flags_have_empty_values() {
        let headers = [
            ("host", HOST),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", DATE),
        ];
        let lifecycle = Request {
            method: "GET",
            path: "/",
            query: &[("lifecycle", "")],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(
            signer().sign(&lifecycle, DATE).signature,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
        // Given out of order on purpose: the signer must sort.
        let list = Request {
            method: "GET",
            path: "/",
            query: &[("prefix", "J"), ("max-keys", "2")],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(
            signer().sign(&list, DATE).signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn encoding_rules() {
        assert_eq!(uri_encode("a b/é~_.-+", true), "a%20b/%C3%A9~_.-%2B");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(canonical_query(&[("b", "2"), ("a", "x y")]), "a=x%20y&b=2");
    }

    #[test]
    fn header_values_are_trimmed_and_collapsed() {
        let headers = [("X-Test", "  a   b  "), ("host", "h")];
        let req = Request {
            method: "GET",
            path: "/",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        let (creq, signed) = canonical_request(&req);
        assert!(creq.contains("\nhost:h\nx-test:a b\n\n"));
        assert_eq!(signed, "host;x-test");
    }

    #[test]
    fn date_format() {
        let d = amz_date_now();
        assert_eq!(d.len(), 16);
        assert_eq!(&d[8..9], "T");
        assert!(d.ends_with('Z'));
    }

    #[test]
    fn debug_hides_secret() {
        let c = signer().creds;
        assert!(!format!("{c:?}").contains("EXAMPLEKEY"));
    }
}
