//! Snowball uploads: a PUT of a tar archive with `X-Amz-Meta-Snowball-Auto-Extract: true`
//! stores every file of the archive as an object instead of the archive itself, as MinIO
//! does for `mc cp --snowball` and minio-py's `upload_snowball_objects` (many small
//! objects in one request).
//!
//! The archive (plain tar, or gzip-compressed as minio-py writes it with
//! `compression=True`) is read by the `tar` crate on a blocking thread, fed from the
//! request body through `SyncIoBridge`; each file streams into the ordinary write path
//! (bucket default encryption, SSE headers of the request, versioning, tags) in bounded
//! chunks, so memory does not grow with the archive or its files. Every extracted key is
//! authorised as a PutObject of its own.
//!
//! MinIO's optional headers are honoured: `X-Amz-Meta-Minio-Snowball-Prefix` (prepended to
//! every name), `-Ignore-Dirs` (directories are not stored as `name/` objects) and
//! `-Ignore-Errors` (an entry that cannot be stored is skipped instead of failing the
//! request). PAX records `minio.metadata.<header>` set that header on the object.

use super::super::authorize;
use super::super::error::{S3Error, S3Result};
use super::super::headers;
use super::super::{RespBody, S3Request, S3Service, empty};
use super::object::{MAX_PUT_SIZE, check_declared_size, seal_body, sealing_for_write};
use crate::objects::{BodyStream, PutOptions};
use bytes::Bytes;
use http::{Response, StatusCode};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use tokio::sync::mpsc;

const AUTO_EXTRACT: &str = "x-amz-meta-snowball-auto-extract";
const PREFIX: &str = "x-amz-meta-minio-snowball-prefix";
const IGNORE_DIRS: &str = "x-amz-meta-minio-snowball-ignore-dirs";
const IGNORE_ERRORS: &str = "x-amz-meta-minio-snowball-ignore-errors";
/// Bytes of a file sent to its write at a time; with [`CHUNKS_IN_FLIGHT`] this bounds
/// what one extraction holds.
const CHUNK: usize = 1 << 20;
const CHUNKS_IN_FLIGHT: usize = 4;
/// Headers a PAX `minio.metadata.*` record may set (besides `x-amz-meta-*`).
const PAX_HEADERS: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

fn flag(req: &S3Request, name: &str) -> bool {
    req.header(name)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

/// Whether this PUT asks for its tar body to be extracted.
pub fn requested(req: &S3Request) -> bool {
    flag(req, AUTO_EXTRACT)
}

/// One file (or directory) of the archive, with its bytes to follow on `data`.
struct Entry {
    name: String,
    is_dir: bool,
    size: u64,
    headers: BTreeMap<String, String>,
    data: mpsc::Receiver<std::io::Result<Bytes>>,
}

/// What the reading thread reports, in archive order.
enum Event {
    Entry(Entry),
    /// The archive is not readable (not tar, bad header, cut short).
    Broken(String),
}

fn malformed(detail: impl std::fmt::Display) -> S3Error {
    S3Error::new(
        "InvalidRequest",
        StatusCode::BAD_REQUEST,
        format!("The snowball upload is not a readable tar archive: {detail}"),
    )
}

pub async fn extract(s: &S3Service, req: &mut S3Request) -> S3Result<Response<RespBody>> {
    let bucket = req.bucket()?.to_string();
    check_declared_size(req, MAX_PUT_SIZE)?;
    let prefix = req.header(PREFIX).unwrap_or_default().to_string();
    let (ignore_dirs, ignore_errors) = (flag(req, IGNORE_DIRS), flag(req, IGNORE_ERRORS));
    // What the request says of its objects applies to each of them; what it says of the
    // archive (its type, digest, the snowball switches) does not.
    let mut base = headers::stored_headers(&req.headers)?;
    base.retain(|k, _| {
        !k.starts_with("x-amz-meta-snowball-")
            && !k.starts_with("x-amz-meta-minio-snowball-")
            && k != "content-type"
            && k != "content-encoding"
    });
    super::acl::stamp_owner(&mut base, req);
    if let Some(tags) = super::tagging::requested(req)? {
        tags.store_on_object(&mut base);
    }
    let body = req.take_body()?;
    let (tx, mut rx) = mpsc::channel::<Event>(1);
    let reader = tokio::task::spawn_blocking(move || read_archive(body.stream, tx));

    let mut stored = 0u64;
    let mut outcome = Ok(());
    while let Some(event) = rx.recv().await {
        let entry = match event {
            Event::Entry(e) => e,
            Event::Broken(detail) => {
                outcome = Err(malformed(detail));
                break;
            }
        };
        let name = entry.name.clone();
        match store_entry(s, req, &bucket, &prefix, ignore_dirs, &base, entry).await {
            Ok(true) => stored += 1,
            Ok(false) => {}
            Err(e) if ignore_errors => {
                tracing::info!(entry = %name, error = %e.message, "snowball entry skipped");
            }
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    // Dropping the receiver stops the reading thread at its next entry.
    drop(rx);
    if let Err(e) = reader.await {
        tracing::error!(error = %e, "snowball reader thread failed");
    }
    outcome?;
    tracing::debug!(bucket = %bucket, objects = stored, "snowball archive extracted");
    Ok(empty(StatusCode::OK))
}

/// Stores one entry; `Ok(false)` when it is skipped (a directory with `ignore_dirs`).
async fn store_entry(
    s: &S3Service,
    req: &S3Request,
    bucket: &str,
    prefix: &str,
    ignore_dirs: bool,
    base: &BTreeMap<String, String>,
    entry: Entry,
) -> S3Result<bool> {
    if entry.is_dir && ignore_dirs {
        return Ok(false);
    }
    let mut key = format!("{prefix}{}", entry.name);
    if entry.is_dir && !key.ends_with('/') {
        key.push('/');
    }
    if entry.size > MAX_PUT_SIZE {
        return Err(S3Error::new(
            "EntityTooLarge",
            StatusCode::BAD_REQUEST,
            format!("{key} in the snowball archive exceeds the maximum object size"),
        ));
    }
    if !authorize::permitted(s, &req.access, "s3:PutObject", bucket, Some(&key)).await {
        return Err(S3Error::access_denied());
    }
    let mut headers = base.clone();
    headers.extend(entry.headers);
    let sealing = sealing_for_write(s, req, bucket, &key).await?;
    // Each file is a new version like a PUT's: the request's lock headers or the
    // bucket's default retention apply to it.
    let lock = super::object_lock::for_write(s, req, bucket, &key).await?;
    let mut opts = PutOptions {
        headers,
        lock,
        ..Default::default()
    };
    let data: BodyStream = Box::pin(futures::stream::unfold(entry.data, |mut rx| async {
        rx.recv().await.map(|item| (item, rx))
    }));
    let stream = seal_body(sealing.as_ref(), data, 1, &mut opts)?;
    s.objects.put_object(bucket, &key, stream, opts).await?;
    Ok(true)
}

/// Reads the archive on a blocking thread and hands its entries to the extraction, one
/// at a time; stops when the archive ends or the extraction stops listening.
fn read_archive(body: BodyStream, tx: mpsc::Sender<Event>) {
    let bridge = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(body));
    let mut input = BufReader::with_capacity(CHUNK, bridge);
    let magic = match input.fill_buf() {
        Ok(b) => b.get(..4).map(<[u8]>::to_vec).unwrap_or_else(|| b.to_vec()),
        Err(e) => {
            let _ = tx.blocking_send(Event::Broken(e.to_string()));
            return;
        }
    };
    let result = if magic.starts_with(&[0x1f, 0x8b]) {
        entries(tar::Archive::new(flate2::read::GzDecoder::new(input)), &tx)
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) || magic.starts_with(&[0xff, 0x06]) {
        Err("zstd and s2 compressed archives are not supported; send plain or gzip tar".into())
    } else {
        entries(tar::Archive::new(input), &tx)
    };
    if let Err(detail) = result {
        let _ = tx.blocking_send(Event::Broken(detail));
    }
}

fn entries<R: Read>(mut archive: tar::Archive<R>, tx: &mpsc::Sender<Event>) -> Result<(), String> {
    let list = archive.entries().map_err(|e| e.to_string())?;
    // Bounded by the archive: every pass consumes one header and its data.
    for entry in list {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.header().entry_type();
        let is_dir = kind.is_dir();
        if !(is_dir || kind.is_file() || kind == tar::EntryType::Continuous) {
            continue; // links, devices, FIFOs: nothing to store
        }
        let raw = entry.path_bytes().into_owned();
        let Ok(path) = String::from_utf8(raw) else {
            return Err("an entry name is not UTF-8".into());
        };
        let name = path
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_string();
        if name.is_empty() {
            continue; // the archive's root directory "./"
        }
        let headers = pax_headers(&mut entry)?;
        let (data_tx, data) = mpsc::channel(CHUNKS_IN_FLIGHT);
        let size = entry.size();
        let event = Event::Entry(Entry {
            name,
            is_dir,
            size,
            headers,
            data,
        });
        if tx.blocking_send(event).is_err() {
            return Ok(()); // the extraction stopped (an error it reports itself)
        }
        feed(&mut entry, size, &data_tx);
    }
    Ok(())
}

/// Sends the `size` bytes of an entry to its write; when the write stopped listening,
/// reads the rest of the entry anyway so that the next header is found.
fn feed(entry: &mut impl Read, size: u64, data: &mpsc::Sender<std::io::Result<Bytes>>) {
    let mut open = true;
    let mut left = size;
    // Bounded: every pass consumes at least one byte of the entry or returns.
    while left > 0 {
        let mut buf = vec![0u8; left.min(CHUNK as u64) as usize];
        let n = match read_full(entry, &mut buf) {
            Ok(0) => {
                let cut = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "entry cut short");
                let _ = data.blocking_send(Err(cut));
                return;
            }
            Ok(n) => n,
            Err(e) => {
                let _ = data.blocking_send(Err(e));
                return;
            }
        };
        left -= n as u64;
        buf.truncate(n);
        if open && data.blocking_send(Ok(Bytes::from(buf))).is_err() {
            open = false;
        }
    }
}

/// Fills `buf` as far as the entry goes (tar entries end at their size).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// `minio.metadata.<name>` PAX records of an entry, kept when `<name>` is user metadata
/// or a content header.
fn pax_headers<R: Read>(entry: &mut tar::Entry<R>) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    let Some(records) = entry.pax_extensions().map_err(|e| e.to_string())? else {
        return Ok(out);
    };
    for record in records {
        let record = record.map_err(|e| e.to_string())?;
        let (Ok(k), Ok(v)) = (record.key(), record.value()) else {
            continue;
        };
        let Some(name) = k.strip_prefix("minio.metadata.") else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if name.starts_with("x-amz-meta-") || PAX_HEADERS.contains(&name.as_str()) {
            out.insert(name, v.to_string());
        }
    }
    Ok(out)
}
