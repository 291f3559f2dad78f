//! What an S3 request addresses: bucket and key (path-style or virtual-host-style),
//! and its decoded query parameters.

use super::error::{S3Error, S3Result};
use http::HeaderMap;
use percent_encoding::percent_decode_str;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Decodes a raw query string; `+` means space, as in S3's form-style decoding.
    pub fn parse(raw: &str) -> S3Result<Self> {
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            pairs.push((decode_component(k)?, decode_component(v)?));
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn has(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

fn decode_component(s: &str) -> S3Result<String> {
    let replaced = s.replace('+', " ");
    percent_decode_str(&replaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| S3Error::invalid_argument("query parameters must be valid UTF-8"))
}

/// The bucket and key a request addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub bucket: Option<String>,
    pub key: Option<String>,
}

/// Splits the request path into bucket and key. With a `Host` of `<bucket>.<domain>` for
/// one of the configured domains the whole path is the key (virtual-host style).
pub fn target(raw_path: &str, headers: &HeaderMap, domains: &[String]) -> S3Result<Target> {
    let path = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| S3Error::invalid_argument("the request path must be valid UTF-8"))?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| {
            h.rsplit_once(':').map_or(h, |(name, port)| {
                if port.bytes().all(|b| b.is_ascii_digit()) {
                    name
                } else {
                    h
                }
            })
        })
        .unwrap_or("");
    let vhost_bucket = domains.iter().find_map(|d| {
        host.strip_suffix(d.as_str())
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty())
    });
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Ok(match vhost_bucket {
        Some(bucket) => Target {
            bucket: Some(bucket.to_string()),
            key: non_empty(path),
        },
        None => {
            let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
            Target {
                bucket: non_empty(bucket),
                key: non_empty(key),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(host: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(http::header::HOST, host.parse().unwrap());
        m
    }

    #[test]
    fn path_style() {
        let t = target("/b/a/b%20c", &h("127.0.0.1:9000"), &[]).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("b"));
        assert_eq!(t.key.as_deref(), Some("a/b c"));
        let t = target("/b/", &h("x"), &[]).unwrap();
        assert_eq!((t.bucket.as_deref(), t.key), (Some("b"), None));
        let t = target("/", &h("x"), &[]).unwrap();
        assert_eq!(t.bucket, None);
    }

    #[test]
    fn virtual_host_style() {
        let d = vec!["s3.example.com".to_string()];
        let t = target("/k/x", &h("media.s3.example.com:9000"), &d).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("media"));
        assert_eq!(t.key.as_deref(), Some("k/x"));
        let t = target("/media/k", &h("s3.example.com"), &d).unwrap();
        assert_eq!(t.bucket.as_deref(), Some("media"));
    }

    #[test]
    fn query_decoding() {
        let q = Query::parse("uploads&prefix=a%2Fb+c&x-id=PutObject").unwrap();
        assert!(q.has("uploads"));
        assert_eq!(q.get("prefix"), Some("a/b c"));
        assert_eq!(q.get("uploads"), Some(""));
        assert!(Query::parse("a=%ff").is_err());
    }
}
