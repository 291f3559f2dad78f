//! Query strings and `application/x-www-form-urlencoded` bodies, decoded (`+` is a
//! space, as HTML forms send it), and the encoding of console links.

use super::error::{ConsoleError, ConsoleResult};
use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyStream;
use hyper::body::Incoming;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use std::time::Duration;

/// Largest form read (a policy document is at most a few KiB; MinIO allows 20 KiB).
pub const MAX_FORM: usize = 256 * 1024;
/// How long a form body may take to arrive.
const FORM_TIMEOUT: Duration = Duration::from_secs(10);

/// Characters left as they are in a query value.
const QUERY_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Decoded name/value pairs, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pairs(pub Vec<(String, String)>);

impl Pairs {
    pub fn parse(raw: &str) -> Self {
        let decode = |s: &str| {
            let s = s.replace('+', " ");
            percent_decode_str(&s).decode_utf8_lossy().into_owned()
        };
        Self(
            raw.split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (decode(k), decode(v)),
                    None => (decode(p), String::new()),
                })
                .collect(),
        )
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, or an error naming it.
    pub fn required(&self, name: &str) -> ConsoleResult<&str> {
        self.get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConsoleError::BadRequest(format!("{name} is required")))
    }

    /// Whether a checkbox `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }
}

/// Reads a form body of at most [`MAX_FORM`] bytes.
pub async fn read(body: Incoming) -> ConsoleResult<Pairs> {
    let bytes = read_bytes(body, MAX_FORM).await?;
    Ok(Pairs::parse(&String::from_utf8_lossy(&bytes)))
}

/// Reads a small body of at most `limit` bytes.
pub async fn read_bytes(body: Incoming, limit: usize) -> ConsoleResult<Bytes> {
    let work = async {
        let mut frames = BodyStream::new(body);
        let mut out = Vec::new();
        while let Some(frame) = frames.next().await {
            let frame =
                frame.map_err(|e| ConsoleError::BadRequest(format!("request body: {e}")))?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(ConsoleError::BadRequest(format!(
                        "the request body is larger than {limit} bytes"
                    )));
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(Bytes::from(out))
    };
    tokio::time::timeout(FORM_TIMEOUT, work)
        .await
        .map_err(|_| ConsoleError::Timeout(FORM_TIMEOUT.as_secs()))?
}

/// A console link: `path?name=value&...` with the values encoded.
pub fn link(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", utf8_percent_encode(v, QUERY_SET)))
        .collect();
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_decode_and_links_encode() {
        let p = Pairs::parse("bucket=b1&key=a+b%2Fc%26d&flag=on&empty=&bare");
        assert_eq!(p.get("key"), Some("a b/c&d"));
        assert!(p.checked("flag") && !p.checked("empty") && !p.checked("nope"));
        assert!(p.required("empty").is_err());
        assert_eq!(p.get("bare"), Some(""));
        let l = link("/browse", &[("bucket", "b1"), ("prefix", "a b/&x=")]);
        assert_eq!(l, "/browse?bucket=b1&prefix=a%20b/%26x%3D");
        let back = Pairs::parse(l.split_once('?').unwrap().1);
        assert_eq!(back.get("prefix"), Some("a b/&x="));
    }
}
