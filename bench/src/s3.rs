//! A deliberately small S3 client: path-style addressing over plain HTTP/1.1 with hyper 1.x,
//! SigV4 in the `Authorization` header, and only the calls a load generator needs.
//!
//! Why not the AWS SDK: it would dominate this crate's build time, and its own CPU cost
//! (checksums, retries, interceptors) would be charged to the server under test on a machine
//! where client and server share two cores. Here a PUT body is a cycle of `Bytes` slices of one
//! shared buffer (no per-request allocation or copy), a GET body is counted and dropped.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::sigv4::{self, Signer};

/// Largest frame handed to hyper at once. Big enough that per-frame overhead is nil, small
/// enough that hyper's write queue never holds more than a few MiB per connection.
const FRAME: usize = 1 << 20;

/// A request body of `len` bytes made by cycling through one shared buffer.
///
/// Every frame is a `Bytes::slice` of the same allocation, so a 64 MiB PUT costs no allocation
/// and no copy in the client, and the exact size hint lets hyper send `Content-Length`.
pub struct Payload {
    buf: Bytes,
    offset: usize,
    remaining: u64,
}

impl Payload {
    /// An empty body (GET, HEAD, DELETE).
    pub fn empty() -> Self {
        Self {
            buf: Bytes::new(),
            offset: 0,
            remaining: 0,
        }
    }

    /// `len` bytes taken from `buf` starting at `start`, wrapping around as often as needed.
    pub fn cycle(buf: Bytes, start: usize, len: u64) -> Result<Self> {
        if buf.is_empty() && len > 0 {
            bail!("cannot make a {len}-byte body from an empty buffer");
        }
        let offset = if buf.is_empty() { 0 } else { start % buf.len() };
        Ok(Self {
            buf,
            offset,
            remaining: len,
        })
    }

    /// Bytes still to be sent.
    pub fn len(&self) -> u64 {
        self.remaining
    }

    /// Whether nothing is left to send.
    pub fn is_empty(&self) -> bool {
        self.remaining == 0
    }
}

impl Body for Payload {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.remaining == 0 || self.buf.is_empty() {
            return Poll::Ready(None);
        }
        let n = (self.buf.len() - self.offset)
            .min(FRAME)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let chunk = self.buf.slice(self.offset..self.offset + n);
        self.offset = (self.offset + n) % self.buf.len();
        self.remaining -= n as u64;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

/// Connection settings of an [`S3Client`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `http://host:port` of the S3 endpoint.
    pub endpoint: String,
    /// Deadline for one whole request, body included.
    pub timeout: Duration,
    /// Idle keep-alive connections kept per host (set it to the concurrency).
    pub max_idle: usize,
}

/// Path-style S3 client over a hyper keep-alive pool with `TCP_NODELAY` on every socket.
#[derive(Clone)]
pub struct S3Client {
    http: Client<HttpConnector, Payload>,
    /// `scheme://authority`, without a trailing slash.
    base: String,
    /// Value of the `Host` header, which is signed.
    host: String,
    signer: Signer,
    timeout: Duration,
}

/// Extracts `<Code>` and `<Message>` from an S3 XML error body, for readable errors.
fn s3_error_summary(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let tag = |name: &str| -> Option<String> {
        let open = format!("<{name}>");
        let close = format!("</{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&close)? + start;
        Some(text[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c,
        _ => text
            .chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string(),
    }
}

impl S3Client {
    /// Builds a client for `cfg.endpoint`. Only `http://` is supported: the bench measures
    /// the server over loopback, where TLS would only add client CPU.
    pub fn new(cfg: &ClientConfig, signer: Signer) -> Result<Self> {
        let uri: http::Uri = cfg
            .endpoint
            .parse()
            .with_context(|| format!("endpoint {:?} is not a URL", cfg.endpoint))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => bail!(
                "endpoint scheme {other:?} is not supported: use http:// (this load generator has no TLS)"
            ),
            None => bail!(
                "endpoint {:?} needs a scheme, e.g. http://127.0.0.1:9000",
                cfg.endpoint
            ),
        }
        let authority = uri
            .authority()
            .ok_or_else(|| anyhow!("endpoint {:?} has no host", cfg.endpoint))?
            .to_string();
        if !matches!(uri.path(), "" | "/") {
            bail!(
                "endpoint {:?} has a path; give only http://host:port",
                cfg.endpoint
            );
        }
        let mut connector = HttpConnector::new();
        // Without TCP_NODELAY, small requests meet delayed ACKs and take ~40 ms (MACHINE.md).
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(cfg.max_idle.max(1))
            .build(connector);
        Ok(Self {
            http,
            base: format!("http://{authority}"),
            host: authority,
            signer,
            timeout: cfg.timeout,
        })
    }

    /// Signs and sends one request; returns the response with its body not yet read.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Payload,
        payload_hash: &str,
    ) -> Result<Response<Incoming>> {
        let amz_date = sigv4::amz_date_now();
        let signed = [
            ("host", self.host.as_str()),
            ("x-amz-content-sha256", payload_hash),
            ("x-amz-date", amz_date.as_str()),
        ];
        let sig = self.signer.sign(
            &sigv4::Request {
                method: method.as_str(),
                path,
                query,
                headers: &signed,
                payload_hash,
            },
            &amz_date,
        );
        let mut uri = format!("{}{}", self.base, sigv4::uri_encode(path, true));
        if !query.is_empty() {
            uri.push('?');
            uri.push_str(&sigv4::canonical_query(query));
        }
        let mut req = Request::builder()
            .method(method.clone())
            .uri(&uri)
            .header(header::HOST, &self.host)
            .header("x-amz-content-sha256", payload_hash)
            .header("x-amz-date", &amz_date)
            .header(header::AUTHORIZATION, &sig.authorization);
        if method == Method::PUT || method == Method::POST {
            req = req.header(header::CONTENT_LENGTH, body.len());
        }
        let req = req
            .body(body)
            .with_context(|| format!("building {method} {uri}"))?;
        self.http
            .request(req)
            .await
            .with_context(|| format!("{method} {path}"))
    }

    /// Turns a non-2xx response into an error carrying the S3 error code and message.
    async fn check(resp: Response<Incoming>, what: &str) -> Result<Response<Incoming>> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body =
            match tokio::time::timeout(Duration::from_secs(5), resp.into_body().collect()).await {
                Ok(Ok(c)) => c.to_bytes(),
                _ => Bytes::new(),
            };
        bail!("{what}: HTTP {status}: {}", s3_error_summary(&body))
    }

    /// Reads a body to the end, counting and dropping its bytes.
    async fn drain(body: Incoming) -> Result<u64> {
        let mut body = body;
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.context("reading response body")?;
            if let Some(data) = frame.data_ref() {
                n += data.len() as u64;
            }
        }
        Ok(n)
    }

    /// Runs `fut` under the per-request deadline.
    async fn bounded<T>(&self, what: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(r) => r,
            Err(_) => bail!("{what}: timed out after {:?}", self.timeout),
        }
    }

    /// PUT `key` with the given body, sent as `UNSIGNED-PAYLOAD`.
    pub async fn put_object(&self, bucket: &str, key: &str, body: Payload) -> Result<()> {
        let path = format!("/{bucket}/{key}");
        let what = format!("PUT {path}");
        self.bounded(&what, async {
            let resp = self
                .send(Method::PUT, &path, &[], body, sigv4::UNSIGNED_PAYLOAD)
                .await?;
            let resp = Self::check(resp, &what).await?;
            Self::drain(resp.into_body()).await?;
            Ok(())
        })
        .await
    }

    /// GET `key`, discarding the body; fails unless exactly `expect_len` bytes arrive.
    pub async fn get_object(&self, bucket: &str, key: &str, expect_len: u64) -> Result<u64> {
        let path = format!("/{bucket}/{key}");
        let what = format!("GET {path}");
        self.bounded(&what, async {
            let resp = self
                .send(
                    Method::GET,
                    &path,
                    &[],
                    Payload::empty(),
                    sigv4::EMPTY_SHA256,
                )
                .await?;
            let resp = Self::check(resp, &what).await?;
            let n = Self::drain(resp.into_body()).await?;
            if n != expect_len {
                bail!("{what}: got {n} bytes, expected {expect_len}");
            }
            Ok(n)
        })
        .await
    }

    /// DELETE `key` (a missing key is not an error, as in S3).
    pub async fn delete_object(&self, bucket: &str, key: &str) -> Result<()> {
        let path = format!("/{bucket}/{key}");
        let what = format!("DELETE {path}");
        self.bounded(&what, async {
            let resp = self
                .send(
                    Method::DELETE,
                    &path,
                    &[],
                    Payload::empty(),
                    sigv4::EMPTY_SHA256,
                )
                .await?;
            let resp = Self::check(resp, &what).await?;
            Self::drain(resp.into_body()).await?;
            Ok(())
        })
        .await
    }

    /// ListObjectsV2 with the given query pairs (`prefix`, `delimiter`, `start-after`,
    /// `continuation-token`, `max-keys`); returns the XML body.
    pub async fn list_objects_v2(&self, bucket: &str, query: &[(&str, &str)]) -> Result<Bytes> {
        self.get_bucket(bucket, ("list-type", "2"), query).await
    }

    /// ListObjectVersions with the given query pairs (`prefix`, `key-marker`,
    /// `version-id-marker`, `max-keys`); returns the XML body.
    pub async fn list_object_versions(
        &self,
        bucket: &str,
        query: &[(&str, &str)],
    ) -> Result<Bytes> {
        self.get_bucket(bucket, ("versions", ""), query).await
    }

    /// Turns versioning on for `bucket`.
    pub async fn enable_versioning(&self, bucket: &str) -> Result<()> {
        let path = format!("/{bucket}");
        let what = format!("PUT {path}?versioning");
        let xml = Bytes::from_static(
            b"<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
              <Status>Enabled</Status></VersioningConfiguration>",
        );
        let hash = sigv4::sha256_hex(&xml);
        let len = xml.len() as u64;
        self.bounded(&what, async {
            let q = [("versioning", "")];
            let resp = self
                .send(Method::PUT, &path, &q, Payload::cycle(xml, 0, len)?, &hash)
                .await?;
            let resp = Self::check(resp, &what).await?;
            Self::drain(resp.into_body()).await?;
            Ok(())
        })
        .await
    }

    /// A GET of `bucket` with sub-resource `first` and `query`; returns the XML body.
    async fn get_bucket(
        &self,
        bucket: &str,
        first: (&str, &str),
        query: &[(&str, &str)],
    ) -> Result<Bytes> {
        let path = format!("/{bucket}");
        let what = format!("GET {path}?{}", first.0);
        let mut q: Vec<(&str, &str)> = vec![first];
        q.extend_from_slice(query);
        self.bounded(&what, async {
            let resp = self
                .send(
                    Method::GET,
                    &path,
                    &q,
                    Payload::empty(),
                    sigv4::EMPTY_SHA256,
                )
                .await?;
            let resp = Self::check(resp, &what).await?;
            Ok(resp.into_body().collect().await?.to_bytes())
        })
        .await
    }

    /// HEAD bucket: `Ok(true)` on 2xx, `Ok(false)` on any other answer except 403, which is
    /// an error because it means the credentials (or the region in the scope) are wrong.
    ///
    /// Anything but 2xx and 403 counts as "not there" so that a server which does not
    /// implement HEAD bucket yet still gets a CreateBucket attempt.
    pub async fn bucket_exists(&self, bucket: &str) -> Result<bool> {
        let path = format!("/{bucket}");
        let what = format!("HEAD {path}");
        self.bounded(&what, async {
            let resp = self
                .send(
                    Method::HEAD,
                    &path,
                    &[],
                    Payload::empty(),
                    sigv4::EMPTY_SHA256,
                )
                .await?;
            let status = resp.status();
            Self::drain(resp.into_body()).await?;
            match status {
                s if s.is_success() => Ok(true),
                StatusCode::FORBIDDEN => {
                    bail!("{what}: HTTP 403 Forbidden (check the credentials and the region)")
                }
                _ => Ok(false),
            }
        })
        .await
    }

    /// Creates `bucket` unless it already exists.
    pub async fn ensure_bucket(&self, bucket: &str, region: &str) -> Result<()> {
        if self.bucket_exists(bucket).await? {
            return Ok(());
        }
        let path = format!("/{bucket}");
        let what = format!("PUT {path} (create bucket)");
        // us-east-1 is the one region whose CreateBucket takes no location constraint.
        let xml = if region == "us-east-1" {
            Bytes::new()
        } else {
            Bytes::from(format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
            ))
        };
        let hash = sigv4::sha256_hex(&xml);
        let len = xml.len() as u64;
        self.bounded(&what, async {
            let resp = self
                .send(Method::PUT, &path, &[], Payload::cycle(xml, 0, len)?, &hash)
                .await?;
            if resp.status() == StatusCode::CONFLICT {
                // BucketAlreadyOwnedByYou from a concurrent creator is fine; anything else not.
                let body = resp.into_body().collect().await?.to_bytes();
                let summary = s3_error_summary(&body);
                if summary.starts_with("BucketAlreadyOwnedByYou") {
                    return Ok(());
                }
                bail!("{what}: HTTP 409: {summary}");
            }
            let resp = Self::check(resp, &what).await?;
            Self::drain(resp.into_body()).await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn payload_cycles_the_buffer_without_copying() {
        let buf = Bytes::from(vec![1u8, 2, 3, 4, 5]);
        let body = Payload::cycle(buf, 3, 12).unwrap();
        assert_eq!(body.size_hint().exact(), Some(12));
        let out = body.collect().await.unwrap().to_bytes();
        assert_eq!(&out[..], &[4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
    }

    #[tokio::test]
    async fn large_payload_comes_in_bounded_frames() {
        let buf = Bytes::from(vec![7u8; 3 * FRAME / 2]);
        let mut body = Payload::cycle(buf, 0, 4 * FRAME as u64).unwrap();
        let mut total = 0;
        while let Some(f) = body.frame().await {
            let d = f.unwrap().into_data().unwrap();
            assert!(d.len() <= FRAME);
            total += d.len();
        }
        assert_eq!(total, 4 * FRAME);
    }

    #[test]
    fn empty_buffer_cannot_make_a_body() {
        assert!(Payload::cycle(Bytes::new(), 0, 1).is_err());
        assert!(Payload::cycle(Bytes::new(), 0, 0).unwrap().is_empty());
    }

    #[test]
    fn error_summary() {
        let xml =
            b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        assert_eq!(s3_error_summary(xml), "NoSuchKey: gone");
        assert_eq!(s3_error_summary(b"plain text"), "plain text");
    }

    #[test]
    fn rejects_https_and_paths() {
        let signer = Signer::new(
            sigv4::Credentials {
                access_key: "a".into(),
                secret_key: "s".into(),
            },
            "us-east-1",
            "s3",
        );
        let cfg = |e: &str| ClientConfig {
            endpoint: e.into(),
            timeout: Duration::from_secs(1),
            max_idle: 1,
        };
        // Client construction needs no runtime; only requests do.
        assert!(S3Client::new(&cfg("https://x:1"), signer.clone()).is_err());
        assert!(S3Client::new(&cfg("http://x:1/p"), signer.clone()).is_err());
        assert!(S3Client::new(&cfg("x:1"), signer.clone()).is_err());
        assert!(S3Client::new(&cfg("http://127.0.0.1:9000"), signer).is_ok());
    }
}
