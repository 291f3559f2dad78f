//! Integrity of request bodies: `Content-MD5`, the signed `x-amz-content-sha256`,
//! and the flexible checksums (`x-amz-checksum-*`, in a header or an `aws-chunked`
//! trailer).
//!
//! [`VerifyingStream`] hashes the body as it flows to the object layer and, at the
//! end, turns any mismatch into a stream error instead of a clean end, so an object
//! whose body does not match what the client declared is never committed. Only the
//! hashes something asked for are computed: the ETag MD5 is the object layer's job.
//!
//! Supported algorithms are CRC32, CRC32C, CRC64NVME, SHA1 and SHA256, as in S3.

use std::collections::BTreeMap;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use bytes::Bytes;
use futures::Stream;
use http::HeaderMap;
use md5::Md5;
use sha2::{Digest, Sha256};

use super::auth::chunked::TrailerSlot;
use super::auth::sigv4::PayloadMode;

/// Standard alphabet, accepting values with or without `=` padding: clients differ.
pub(crate) const LENIENT_BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A flexible-checksum algorithm we can compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    /// Every supported algorithm, for scanning headers.
    pub const ALL: [Self; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses an algorithm name as in `x-amz-sdk-checksum-algorithm` (`CRC32`, ...),
    /// case-insensitively.
    pub fn parse(name: &str) -> Result<Self, ChecksumError> {
        let name = name.trim();
        Self::ALL
            .into_iter()
            .find(|algo| algo.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                ChecksumError::InvalidRequest(
                    "Value for x-amz-checksum-algorithm header is invalid.".to_owned(),
                )
            })
    }

    /// The algorithm named by an `x-amz-checksum-<algo>` header name, if it is one
    /// (`x-amz-checksum-type` and `-mode` are not).
    pub fn from_header_name(name: &str) -> Option<Result<Self, ChecksumError>> {
        let name = name.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|algo| algo.header_name() == name)
            .map(Ok)
    }

    /// Upper-case name as S3 spells it (`CRC64NVME`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Header (and trailer) carrying the base64 value.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Length of the raw digest, which a base64 value must decode to.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a body failed its integrity checks, or why the declared checks are invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChecksumError {
    /// The body does not match `Content-MD5`.
    #[error("Content-MD5 mismatch")]
    BadDigest,
    /// `Content-MD5` is not base64 of 16 bytes.
    #[error("malformed Content-MD5")]
    InvalidDigest,
    /// The body does not hash to the signed `x-amz-content-sha256`.
    #[error("x-amz-content-sha256 mismatch")]
    XAmzContentSha256Mismatch,
    /// The body does not match the declared flexible checksum.
    #[error("{0} checksum mismatch")]
    ChecksumMismatch(ChecksumAlgorithm),
    /// A checksum header or trailer value is not base64 of the right length.
    #[error("invalid {0} checksum value")]
    InvalidChecksumValue(ChecksumAlgorithm),
    /// A trailer checksum was declared in `x-amz-trailer` but never sent.
    #[error("declared {0} trailer is missing")]
    MissingTrailer(ChecksumAlgorithm),
    /// More than one flexible checksum declared.
    #[error("multiple checksums declared")]
    MultipleChecksums,
    /// The body is shorter than `x-amz-decoded-content-length`.
    #[error("body has {received} of {expected} bytes")]
    IncompleteBody { expected: u64, received: u64 },
    /// The body is longer than `x-amz-decoded-content-length`.
    #[error("body longer than the declared {expected} bytes")]
    TooLong { expected: u64 },
    /// `x-amz-decoded-content-length` is not a number.
    #[error("invalid x-amz-decoded-content-length")]
    InvalidDecodedLength,
    /// Any other invalid combination of headers.
    #[error("{0}")]
    InvalidRequest(String),
}

impl ChecksumError {
    /// The S3 error code to answer with.
    pub fn s3_code(&self) -> &'static str {
        match self {
            Self::BadDigest | Self::ChecksumMismatch(_) => "BadDigest",
            Self::InvalidDigest => "InvalidDigest",
            Self::XAmzContentSha256Mismatch => "XAmzContentSHA256Mismatch",
            Self::IncompleteBody { .. } => "IncompleteBody",
            Self::InvalidDecodedLength => "InvalidArgument",
            Self::InvalidChecksumValue(_)
            | Self::MissingTrailer(_)
            | Self::MultipleChecksums
            | Self::TooLong { .. }
            | Self::InvalidRequest(_) => "InvalidRequest",
        }
    }

    /// The HTTP status S3 uses with [`Self::s3_code`]: every one is a client error.
    pub fn http_status(&self) -> http::StatusCode {
        http::StatusCode::BAD_REQUEST
    }

    /// A client-facing message in S3's wording.
    pub fn message(&self) -> String {
        match self {
            Self::BadDigest => {
                "The Content-MD5 you specified did not match what we received.".to_owned()
            }
            Self::InvalidDigest => "The Content-MD5 you specified is not valid.".to_owned(),
            Self::XAmzContentSha256Mismatch => {
                "The provided 'x-amz-content-sha256' header does not match what was computed."
                    .to_owned()
            }
            Self::ChecksumMismatch(algo) => {
                format!("The {algo} you specified did not match the calculated checksum.")
            }
            Self::InvalidChecksumValue(algo) => {
                format!("Value for {} header is invalid.", algo.header_name())
            }
            Self::MissingTrailer(algo) => format!(
                "The {} trailer was declared in x-amz-trailer but not sent.",
                algo.header_name()
            ),
            Self::MultipleChecksums => "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.".to_owned(),
            Self::IncompleteBody { .. } => "You did not provide the number of bytes specified by the Content-Length HTTP header.".to_owned(),
            Self::TooLong { .. } => {
                "The request body is longer than x-amz-decoded-content-length.".to_owned()
            }
            Self::InvalidDecodedLength => {
                "x-amz-decoded-content-length must be a non-negative integer.".to_owned()
            }
            Self::InvalidRequest(message) => message.clone(),
        }
    }

    /// The [`ChecksumError`] inside an error yielded by [`VerifyingStream`], if any.
    pub fn from_io(error: &io::Error) -> Option<&ChecksumError> {
        error.get_ref()?.downcast_ref::<ChecksumError>()
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            Self::IncompleteBody { .. } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }
}

/// Incremental computation of one flexible checksum.
#[derive(Clone)]
pub struct Checksummer {
    state: ChecksumState,
}

#[derive(Clone)]
enum ChecksumState {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(u64),
    Sha1(sha1::Sha1),
    Sha256(Sha256),
}

impl Checksummer {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => ChecksumState::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => ChecksumState::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => ChecksumState::Crc64Nvme(0),
            ChecksumAlgorithm::Sha1 => ChecksumState::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => ChecksumState::Sha256(Sha256::new()),
        };
        Self { state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            ChecksumState::Crc32(_) => ChecksumAlgorithm::Crc32,
            ChecksumState::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            ChecksumState::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            ChecksumState::Sha1(_) => ChecksumAlgorithm::Sha1,
            ChecksumState::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            ChecksumState::Crc32(hasher) => hasher.update(data),
            ChecksumState::Crc32c(crc) => *crc = crc32c::crc32c_append(*crc, data),
            ChecksumState::Crc64Nvme(crc) => *crc = crc64nvme_append(*crc, data),
            ChecksumState::Sha1(hasher) => hasher.update(data),
            ChecksumState::Sha256(hasher) => hasher.update(data),
        }
    }

    /// The raw digest, big-endian for the CRCs, as S3 base64-encodes it.
    pub fn finish(self) -> Vec<u8> {
        match self.state {
            ChecksumState::Crc32(hasher) => hasher.finalize().to_be_bytes().to_vec(),
            ChecksumState::Crc32c(crc) => crc.to_be_bytes().to_vec(),
            ChecksumState::Crc64Nvme(crc) => crc.to_be_bytes().to_vec(),
            ChecksumState::Sha1(hasher) => hasher.finalize().to_vec(),
            ChecksumState::Sha256(hasher) => hasher.finalize().to_vec(),
        }
    }

    /// The value as S3 returns it in `x-amz-checksum-*`.
    pub fn finish_base64(self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.finish())
    }
}

/// Base64 checksum of a whole buffer, as S3 returns it.
pub fn encode_checksum(algorithm: ChecksumAlgorithm, data: &[u8]) -> String {
    let mut checksummer = Checksummer::new(algorithm);
    checksummer.update(data);
    checksummer.finish_base64()
}

pub fn crc32_base64(data: &[u8]) -> String {
    encode_checksum(ChecksumAlgorithm::Crc32, data)
}

pub fn crc32c_base64(data: &[u8]) -> String {
    encode_checksum(ChecksumAlgorithm::Crc32c, data)
}

pub fn crc64nvme_base64(data: &[u8]) -> String {
    encode_checksum(ChecksumAlgorithm::Crc64Nvme, data)
}

pub fn sha1_base64(data: &[u8]) -> String {
    encode_checksum(ChecksumAlgorithm::Sha1, data)
}

pub fn sha256_base64(data: &[u8]) -> String {
    encode_checksum(ChecksumAlgorithm::Sha256, data)
}

/// Base64 of a `Content-MD5` digest, for clients and tests.
pub fn md5_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

/// Reflected CRC-64/NVME polynomial (0xAD93D23594C93659 bit-reversed).
const CRC64_NVME_POLY: u64 = 0x9A6C_9329_AC4B_C9B5;

/// Slicing-by-8 tables, built at compile time: there is no CRC-64/NVME crate among
/// our dependencies, and byte-at-a-time would cost ~8x the CPU on large uploads.
static CRC64_TABLES: [[u64; 256]; 8] = crc64_tables();

const fn crc64_tables() -> [[u64; 256]; 8] {
    let mut tables = [[0u64; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u64;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ CRC64_NVME_POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        tables[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let previous = tables[k - 1][i];
            tables[k][i] = (previous >> 8) ^ tables[0][(previous & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// Continues a CRC-64/NVME: `crc` is the finalised value of the data so far (0 for
/// none), matching `crc32c_append`'s convention.
fn crc64nvme_append(crc: u64, data: &[u8]) -> u64 {
    let t = &CRC64_TABLES;
    let mut crc = !crc;
    let mut words = data.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let v = crc ^ u64::from_le_bytes(bytes);
        crc = t[7][(v & 0xff) as usize]
            ^ t[6][((v >> 8) & 0xff) as usize]
            ^ t[5][((v >> 16) & 0xff) as usize]
            ^ t[4][((v >> 24) & 0xff) as usize]
            ^ t[3][((v >> 32) & 0xff) as usize]
            ^ t[2][((v >> 40) & 0xff) as usize]
            ^ t[1][((v >> 48) & 0xff) as usize]
            ^ t[0][(v >> 56) as usize];
    }
    for &byte in words.remainder() {
        crc = t[0][((crc ^ u64::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// What a request body must satisfy, parsed from its headers before reading it.
#[derive(Debug, Clone, Default)]
pub struct Expectations {
    /// Decoded `Content-MD5`.
    pub content_md5: Option<[u8; 16]>,
    /// Lower-case hex SHA-256 the signature covers (`x-amz-content-sha256`).
    pub sha256_hex: Option<String>,
    /// A checksum sent in an `x-amz-checksum-*` header: algorithm and base64 value.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// A checksum announced in `x-amz-trailer`, read from the slot at end of body.
    pub trailer_checksum: Option<(ChecksumAlgorithm, TrailerSlot)>,
    /// An algorithm the client asked us to compute without sending a value
    /// (`x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`).
    pub requested: Option<ChecksumAlgorithm>,
    /// `x-amz-decoded-content-length`: the payload size of an `aws-chunked` body.
    pub decoded_length: Option<u64>,
}

impl Expectations {
    /// The flexible-checksum algorithm whose value should be computed and stored.
    pub fn checksum_algorithm(&self) -> Option<ChecksumAlgorithm> {
        self.checksum
            .as_ref()
            .map(|(algo, _)| *algo)
            .or_else(|| self.trailer_checksum.as_ref().map(|(algo, _)| *algo))
            .or(self.requested)
    }
}

/// Parses the integrity headers of a request. `trailers` is the slot the
/// `aws-chunked` decoder fills; it is only consulted if `x-amz-trailer` names a
/// checksum.
pub fn expectations_from_headers(
    headers: &HeaderMap,
    payload: &PayloadMode,
    trailers: TrailerSlot,
) -> Result<Expectations, ChecksumError> {
    let requested = requested_algorithm(headers)?;
    let checksum = header_checksum(headers)?;
    let trailer_algorithm = trailer_algorithm(headers, payload)?;
    if checksum.is_some() && trailer_algorithm.is_some() {
        return Err(ChecksumError::MultipleChecksums);
    }
    let declared = checksum
        .as_ref()
        .map(|(algo, _)| *algo)
        .or(trailer_algorithm);
    if let (Some(requested), Some(declared)) = (requested, declared) {
        if requested != declared {
            return Err(ChecksumError::InvalidRequest(
                "Value for x-amz-sdk-checksum-algorithm header is invalid.".to_owned(),
            ));
        }
    }
    Ok(Expectations {
        content_md5: content_md5(headers)?,
        sha256_hex: match payload {
            PayloadMode::SignedSha256(hash) => Some(hash.to_ascii_lowercase()),
            _ => None,
        },
        checksum,
        trailer_checksum: trailer_algorithm.map(|algo| (algo, trailers)),
        requested,
        decoded_length: decoded_length(headers)?,
    })
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ChecksumError> {
    headers
        .get(name)
        .map(|value| {
            value.to_str().map(str::trim).map_err(|_| {
                ChecksumError::InvalidRequest(format!("Value for {name} header is invalid."))
            })
        })
        .transpose()
}

fn content_md5(headers: &HeaderMap) -> Result<Option<[u8; 16]>, ChecksumError> {
    let Some(text) =
        header_str(headers, "content-md5").map_err(|_| ChecksumError::InvalidDigest)?
    else {
        return Ok(None);
    };
    let decoded = LENIENT_BASE64
        .decode(text)
        .map_err(|_| ChecksumError::InvalidDigest)?;
    <[u8; 16]>::try_from(decoded.as_slice())
        .map(Some)
        .map_err(|_| ChecksumError::InvalidDigest)
}

fn requested_algorithm(headers: &HeaderMap) -> Result<Option<ChecksumAlgorithm>, ChecksumError> {
    let sdk = header_str(headers, "x-amz-sdk-checksum-algorithm")?;
    let plain = header_str(headers, "x-amz-checksum-algorithm")?;
    sdk.or(plain).map(ChecksumAlgorithm::parse).transpose()
}

/// The single `x-amz-checksum-<algo>` header, validated.
fn header_checksum(
    headers: &HeaderMap,
) -> Result<Option<(ChecksumAlgorithm, String)>, ChecksumError> {
    let mut found = None;
    for name in headers.keys() {
        let Some(algo) = ChecksumAlgorithm::from_header_name(name.as_str()) else {
            continue;
        };
        let algo = algo?;
        if found.is_some() || headers.get_all(name).iter().count() > 1 {
            return Err(ChecksumError::MultipleChecksums);
        }
        let value = header_str(headers, name.as_str())?.unwrap_or_default();
        decode_checksum_value(algo, value)?;
        found = Some((algo, value.to_owned()));
    }
    Ok(found)
}

/// The checksum named in `x-amz-trailer`. Any streaming or unsigned payload may
/// declare one (some clients mark an unsigned trailer body only by its encoding); if
/// the body never delivers it, verification fails at the end with `MissingTrailer`.
fn trailer_algorithm(
    headers: &HeaderMap,
    payload: &PayloadMode,
) -> Result<Option<ChecksumAlgorithm>, ChecksumError> {
    let Some(value) = header_str(headers, "x-amz-trailer")? else {
        return Ok(None);
    };
    let mut found = None;
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let Some(algo) = ChecksumAlgorithm::from_header_name(name) else {
            continue;
        };
        let algo = algo?;
        if found.replace(algo).is_some() {
            return Err(ChecksumError::MultipleChecksums);
        }
    }
    if found.is_some() && matches!(payload, PayloadMode::SignedSha256(_)) {
        return Err(ChecksumError::InvalidRequest(
            "x-amz-trailer cannot be combined with a signed payload hash.".to_owned(),
        ));
    }
    Ok(found)
}

fn decoded_length(headers: &HeaderMap) -> Result<Option<u64>, ChecksumError> {
    header_str(headers, "x-amz-decoded-content-length")
        .map_err(|_| ChecksumError::InvalidDecodedLength)?
        .map(|text| {
            text.parse()
                .map_err(|_| ChecksumError::InvalidDecodedLength)
        })
        .transpose()
}

/// Decodes a base64 checksum value, checking it has the algorithm's digest length.
fn decode_checksum_value(algo: ChecksumAlgorithm, value: &str) -> Result<Vec<u8>, ChecksumError> {
    LENIENT_BASE64
        .decode(value.trim())
        .ok()
        .filter(|raw| raw.len() == algo.digest_len())
        .ok_or(ChecksumError::InvalidChecksumValue(algo))
}

/// What [`VerifyingStream`] computed, for the object layer to store and return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Computed {
    /// Payload bytes seen.
    pub length: u64,
    /// MD5, only when `Content-MD5` was given.
    pub md5: Option<[u8; 16]>,
    /// SHA-256, only when a signed payload hash or SHA256 checksum was expected.
    pub sha256: Option<[u8; 32]>,
    /// The flexible checksum (algorithm, base64), whether its expected value came in a
    /// header, a trailer, or not at all.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    /// Set once the whole body has been seen (whether or not it matched).
    pub complete: bool,
}

/// Shared view of the [`Computed`] values, readable after the stream ends.
pub type ComputedHandle = Arc<Mutex<Computed>>;

/// Computed flexible checksums keyed by lower-case algorithm (`crc32`, `crc64nvme`),
/// values base64: the shape the object layer stores (`objects::ChecksumSlot`) and
/// the S3 layer returns as `x-amz-checksum-<key>`.
pub type ChecksumMap = Arc<Mutex<BTreeMap<String, String>>>;

/// Locks a mutex, recovering the data if a panicking thread poisoned it: these hold
/// plain values that are never left half-updated.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The running hashes.
struct Hashing {
    length: u64,
    md5: Option<Md5>,
    sha256: Option<Sha256>,
    /// `None` when the checksum is SHA256 and derives from `sha256` instead.
    checksum: Option<Checksummer>,
    algorithm: Option<ChecksumAlgorithm>,
}

impl Hashing {
    fn new(expectations: &Expectations) -> Self {
        let algorithm = expectations.checksum_algorithm();
        let need_sha256 =
            expectations.sha256_hex.is_some() || algorithm == Some(ChecksumAlgorithm::Sha256);
        Self {
            length: 0,
            md5: expectations.content_md5.map(|_| Md5::new()),
            sha256: need_sha256.then(Sha256::new),
            checksum: algorithm
                .filter(|algo| *algo != ChecksumAlgorithm::Sha256)
                .map(Checksummer::new),
            algorithm,
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.length += data.len() as u64;
        if let Some(md5) = &mut self.md5 {
            md5.update(data);
        }
        if let Some(sha256) = &mut self.sha256 {
            sha256.update(data);
        }
        if let Some(checksum) = &mut self.checksum {
            checksum.update(data);
        }
    }

    /// Raw checksum digest alongside the other results.
    fn finish(self) -> (Computed, Option<Vec<u8>>) {
        let md5 = self.md5.map(|h| h.finalize().into());
        let sha256: Option<[u8; 32]> = self.sha256.map(|h| h.finalize().into());
        let raw = match (self.algorithm, self.checksum) {
            (Some(ChecksumAlgorithm::Sha256), _) => sha256.map(|digest| digest.to_vec()),
            (_, Some(checksum)) => Some(checksum.finish()),
            (_, None) => None,
        };
        let checksum = self.algorithm.zip(
            raw.as_ref()
                .map(|raw| base64::engine::general_purpose::STANDARD.encode(raw)),
        );
        let computed = Computed {
            length: self.length,
            md5,
            sha256,
            checksum,
            complete: true,
        };
        (computed, raw)
    }
}

/// Wraps a decoded body, hashing it as it passes; ends with an error instead of
/// cleanly if anything declared does not match. Requires `S: Unpin` to be polled.
pub struct VerifyingStream<S> {
    inner: S,
    expectations: Expectations,
    hashing: Option<Hashing>,
    details: ComputedHandle,
    checksums: ChecksumMap,
}

impl<S> VerifyingStream<S> {
    pub fn new(inner: S, expectations: Expectations) -> Self {
        Self {
            hashing: Some(Hashing::new(&expectations)),
            inner,
            expectations,
            details: Arc::new(Mutex::new(Computed::default())),
            checksums: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// The computed flexible checksum (at most one entry), filled when the stream
    /// reaches its end, for the object layer to store.
    pub fn computed(&self) -> ChecksumMap {
        Arc::clone(&self.checksums)
    }

    /// Everything computed (length, MD5, SHA-256, checksum); filled at the end.
    pub fn details(&self) -> ComputedHandle {
        Arc::clone(&self.details)
    }

    /// Final checks, in the order S3 reports them.
    fn finish(&mut self, hashing: Hashing) -> Result<(), ChecksumError> {
        let (computed, raw_checksum) = hashing.finish();
        if let Some((algo, value)) = &computed.checksum {
            lock(&self.checksums).insert(algo.name().to_ascii_lowercase(), value.clone());
        }
        *lock(&self.details) = computed.clone();
        let expect = &self.expectations;
        if let Some(expected) = expect.decoded_length {
            if computed.length < expected {
                return Err(ChecksumError::IncompleteBody {
                    expected,
                    received: computed.length,
                });
            }
        }
        if let (Some(expected), Some(actual)) = (&expect.content_md5, &computed.md5) {
            if expected != actual {
                return Err(ChecksumError::BadDigest);
            }
        }
        if let (Some(expected), Some(actual)) = (&expect.sha256_hex, &computed.sha256) {
            if !expected.eq_ignore_ascii_case(&hex::encode(actual)) {
                return Err(ChecksumError::XAmzContentSha256Mismatch);
            }
        }
        if let Some((algo, value)) = &expect.checksum {
            compare_checksum(*algo, value, raw_checksum.as_deref())?;
        }
        if let Some((algo, slot)) = &expect.trailer_checksum {
            let value = trailer_value(slot, *algo).ok_or(ChecksumError::MissingTrailer(*algo))?;
            compare_checksum(*algo, &value, raw_checksum.as_deref())?;
        }
        Ok(())
    }
}

fn trailer_value(slot: &TrailerSlot, algo: ChecksumAlgorithm) -> Option<String> {
    let guard = lock(slot);
    let value = guard.as_ref()?.get(algo.header_name())?;
    value.to_str().ok().map(str::to_owned)
}

fn compare_checksum(
    algo: ChecksumAlgorithm,
    expected_base64: &str,
    actual: Option<&[u8]>,
) -> Result<(), ChecksumError> {
    let expected = decode_checksum_value(algo, expected_base64)?;
    if actual == Some(expected.as_slice()) {
        Ok(())
    } else {
        Err(ChecksumError::ChecksumMismatch(algo))
    }
}

impl<S> Stream for VerifyingStream<S>
where
    S: Stream<Item = Result<Bytes, io::Error>> + Unpin,
{
    type Item = Result<Bytes, io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(hashing) = this.hashing.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(bytes))) => {
                hashing.update(&bytes);
                if let Some(expected) = this.expectations.decoded_length {
                    if hashing.length > expected {
                        this.hashing = None;
                        let error = ChecksumError::TooLong { expected };
                        return Poll::Ready(Some(Err(error.into_io())));
                    }
                }
                Poll::Ready(Some(Ok(bytes)))
            }
            Poll::Ready(Some(Err(error))) => {
                this.hashing = None;
                Poll::Ready(Some(Err(error)))
            }
            Poll::Ready(None) => match this.hashing.take() {
                Some(hashing) => match this.finish(hashing) {
                    Ok(()) => Poll::Ready(None),
                    Err(error) => Poll::Ready(Some(Err(error.into_io()))),
                },
                None => Poll::Ready(None),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::s3::auth::chunked::{self, ChunkMode, trailer_slot};
    use futures::executor::block_on;
    use futures::{StreamExt, stream};
    use http::HeaderValue;

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

    /// Streams `data` in `piece`-sized frames through a verifier.
    fn run(
        data: &[u8],
        piece: usize,
        expectations: Expectations,
    ) -> (Result<Vec<u8>, io::Error>, Computed) {
        let frames: Vec<Result<Bytes, io::Error>> = data
            .chunks(piece.max(1))
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let verifying = VerifyingStream::new(stream::iter(frames), expectations);
        let handle = verifying.details();
        let result = block_on(verifying.collect::<Vec<_>>())
            .into_iter()
            .try_fold(Vec::new(), |mut out, item| {
                out.extend_from_slice(&item?);
                Ok(out)
            });
        let computed = lock(&handle).clone();
        (result, computed)
    }

    fn error_of(result: Result<Vec<u8>, io::Error>) -> ChecksumError {
        let error = result.expect_err("verification must fail");
        ChecksumError::from_io(&error)
            .cloned()
            .expect("a ChecksumError")
    }

    /// The server moves bodies across tasks; the adapter must not stop that.
    #[test]
    fn verifier_is_send_and_sync_over_a_boxed_body() {
        fn assert_send_sync<T: Send + Sync>() {}
        type Body = Pin<Box<dyn Stream<Item = Result<Bytes, io::Error>> + Send + Sync>>;
        assert_send_sync::<VerifyingStream<Body>>();
    }

    #[test]
    fn known_check_values() {
        // The CRC catalogue's check input.
        let check = b"123456789";
        assert_eq!(
            crc32_base64(check),
            base64_of(&0xCBF4_3926_u32.to_be_bytes())
        );
        assert_eq!(
            crc32c_base64(check),
            base64_of(&0xE306_9283_u32.to_be_bytes())
        );
        assert_eq!(
            crc64nvme_base64(check),
            base64_of(&0xAE8B_1486_0A79_9888_u64.to_be_bytes())
        );
        assert_eq!(crc32_base64(b"abc"), "NSRBwg==");
        // AWS's trailer example: CRC32C of 66560 `a`s.
        assert_eq!(crc32c_base64(&[b'a'; 66_560]), "sOO8/Q==");
        assert_eq!(
            sha256_base64(b""),
            base64_of(&hex::decode(crate::s3::auth::sigv4::EMPTY_SHA256).expect("hex"))
        );
        assert_eq!(md5_base64(b""), "1B2M2Y8AsgTpgAmY7PhCfg==");
        // FIPS 180's "abc": a9993e36 4706816a ba3e2571 7850c26c 9cd0d89d.
        assert_eq!(
            sha1_base64(b"abc"),
            base64_of(&hex::decode("a9993e364706816aba3e25717850c26c9cd0d89d").expect("hex"))
        );
        assert_eq!(
            ChecksumAlgorithm::parse("sha1"),
            Ok(ChecksumAlgorithm::Sha1)
        );
    }

    fn base64_of(raw: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    #[test]
    fn incremental_crc64_matches_one_shot_for_any_split() {
        let data: Vec<u8> = (0..1000u32).map(|n| (n * 7 % 256) as u8).collect();
        let whole = crc64nvme_base64(&data);
        for split in [0, 1, 7, 8, 9, 500, 999, 1000] {
            let mut checksummer = Checksummer::new(ChecksumAlgorithm::Crc64Nvme);
            checksummer.update(&data[..split]);
            checksummer.update(&data[split..]);
            assert_eq!(checksummer.finish_base64(), whole, "split {split}");
        }
    }

    #[test]
    fn parses_all_integrity_headers() {
        let map = headers(&[
            ("content-md5", &md5_base64(b"hello")),
            ("x-amz-checksum-crc32", &crc32_base64(b"hello")),
            ("x-amz-sdk-checksum-algorithm", "crc32"),
            ("x-amz-checksum-type", "FULL_OBJECT"),
            ("x-amz-decoded-content-length", "5"),
        ]);
        let payload = PayloadMode::SignedSha256("AB".repeat(32));
        let exp = expectations_from_headers(&map, &payload, trailer_slot()).expect("valid");
        assert_eq!(exp.content_md5, Some(Md5::digest(b"hello").into()));
        assert_eq!(exp.sha256_hex, Some("ab".repeat(32)));
        assert_eq!(
            exp.checksum,
            Some((ChecksumAlgorithm::Crc32, crc32_base64(b"hello")))
        );
        assert_eq!(exp.requested, Some(ChecksumAlgorithm::Crc32));
        assert_eq!(exp.decoded_length, Some(5));
        assert!(exp.trailer_checksum.is_none());
    }

    #[test]
    fn rejects_invalid_declarations() {
        let slot = trailer_slot;
        let unsigned = PayloadMode::Unsigned;
        // (headers, payload mode, expected S3 code)
        type Case<'a> = (Vec<(&'a str, &'a str)>, PayloadMode, &'a str);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![("content-md5", "not base64!")],
                unsigned.clone(),
                "InvalidDigest",
            ),
            (
                vec![("content-md5", "AAAA")],
                unsigned.clone(),
                "InvalidDigest",
            ),
            (
                vec![("x-amz-checksum-crc32", "AAAAAAAA")],
                unsigned.clone(),
                "InvalidRequest",
            ),
            (
                vec![
                    ("x-amz-checksum-crc32", "AAAAAA=="),
                    ("x-amz-checksum-crc32c", "AAAAAA=="),
                ],
                unsigned.clone(),
                "InvalidRequest",
            ),
            (
                vec![
                    ("x-amz-checksum-crc32", "AAAAAA=="),
                    ("x-amz-sdk-checksum-algorithm", "CRC32C"),
                ],
                unsigned.clone(),
                "InvalidRequest",
            ),
            (
                vec![("x-amz-sdk-checksum-algorithm", "MD4")],
                unsigned.clone(),
                "InvalidRequest",
            ),
            (
                vec![("x-amz-trailer", "x-amz-checksum-crc32")],
                PayloadMode::SignedSha256("ab".repeat(32)),
                "InvalidRequest",
            ),
            (
                vec![
                    ("x-amz-trailer", "x-amz-checksum-crc32"),
                    ("x-amz-checksum-crc32", "AAAAAA=="),
                ],
                PayloadMode::StreamingUnsignedTrailer,
                "InvalidRequest",
            ),
            (
                vec![("x-amz-decoded-content-length", "-1")],
                unsigned.clone(),
                "InvalidArgument",
            ),
        ];
        for (pairs, payload, code) in cases {
            let error = expectations_from_headers(&headers(&pairs), &payload, slot())
                .expect_err("invalid declaration");
            assert_eq!(error.s3_code(), code, "{pairs:?}");
        }
    }

    #[test]
    fn matching_body_passes_and_reports_values() {
        let data: Vec<u8> = (0..100_000u32).map(|n| (n % 253) as u8).collect();
        let sha_hex = hex::encode(Sha256::digest(&data));
        for algo in ChecksumAlgorithm::ALL {
            let map = headers(&[
                ("content-md5", &md5_base64(&data)),
                (algo.header_name(), &encode_checksum(algo, &data)),
                ("x-amz-decoded-content-length", "100000"),
            ]);
            let payload = PayloadMode::SignedSha256(sha_hex.clone());
            let exp = expectations_from_headers(&map, &payload, trailer_slot()).expect("valid");
            let (result, computed) = run(&data, 4099, exp);
            assert_eq!(result.expect("passes"), data);
            assert!(computed.complete);
            assert_eq!(computed.length, 100_000);
            assert_eq!(
                computed.checksum,
                Some((algo, encode_checksum(algo, &data)))
            );
            assert_eq!(computed.md5, Some(Md5::digest(&data).into()));
        }
    }

    #[test]
    fn each_mismatch_fails_the_stream_with_its_code() {
        let data = b"hello world";
        let other = b"hello worle";
        let cases: Vec<(Expectations, &str)> = vec![
            (
                Expectations {
                    content_md5: Some(Md5::digest(other).into()),
                    ..Expectations::default()
                },
                "BadDigest",
            ),
            (
                Expectations {
                    sha256_hex: Some(hex::encode(Sha256::digest(other))),
                    ..Expectations::default()
                },
                "XAmzContentSHA256Mismatch",
            ),
            (
                Expectations {
                    checksum: Some((ChecksumAlgorithm::Crc32c, crc32c_base64(other))),
                    ..Expectations::default()
                },
                "BadDigest",
            ),
            (
                Expectations {
                    decoded_length: Some(12),
                    ..Expectations::default()
                },
                "IncompleteBody",
            ),
            (
                Expectations {
                    decoded_length: Some(5),
                    ..Expectations::default()
                },
                "InvalidRequest",
            ),
        ];
        for (expectations, code) in cases {
            let (result, _) = run(data, 3, expectations);
            assert_eq!(error_of(result).s3_code(), code);
        }
        let message = ChecksumError::ChecksumMismatch(ChecksumAlgorithm::Crc32).message();
        assert_eq!(
            message,
            "The CRC32 you specified did not match the calculated checksum."
        );
    }

    #[test]
    fn requested_algorithm_is_computed_without_an_expected_value() {
        let map = headers(&[("x-amz-checksum-algorithm", "CRC64NVME")]);
        let exp =
            expectations_from_headers(&map, &PayloadMode::Unsigned, trailer_slot()).expect("valid");
        let (result, computed) = run(b"data", 2, exp);
        assert!(result.is_ok());
        assert_eq!(
            computed.checksum,
            Some((ChecksumAlgorithm::Crc64Nvme, crc64nvme_base64(b"data")))
        );
        assert_eq!(computed.md5, None, "MD5 only when Content-MD5 was sent");
    }

    /// An `aws-chunked` body with its checksum in the trailer, end to end through the
    /// decoder and the verifier, as STREAMING-UNSIGNED-PAYLOAD-TRAILER uploads arrive.
    fn trailer_upload(
        data: &[u8],
        trailer_value: Option<&str>,
    ) -> (Result<Vec<u8>, io::Error>, Computed) {
        let trailers: Vec<(&str, &str)> = trailer_value
            .map(|v| vec![("x-amz-checksum-crc32", v)])
            .unwrap_or_default();
        let body = chunked::encode(data, 1000, &ChunkMode::UnsignedTrailer, &trailers);
        let slot = trailer_slot();
        let map = headers(&[
            ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("x-amz-decoded-content-length", &data.len().to_string()),
        ]);
        let payload = PayloadMode::StreamingUnsignedTrailer;
        let exp = expectations_from_headers(&map, &payload, slot.clone()).expect("valid");
        let frames: Vec<Result<Bytes, io::Error>> = body
            .chunks(777)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        let decoded = chunked::decode(stream::iter(frames), ChunkMode::UnsignedTrailer, slot);
        let verifying = VerifyingStream::new(decoded, exp);
        let handle = verifying.details();
        let map = verifying.computed();
        let result = block_on(verifying.collect::<Vec<_>>())
            .into_iter()
            .try_fold(Vec::new(), |mut out, item| {
                out.extend_from_slice(&item?);
                Ok(out)
            });
        let computed = lock(&handle).clone();
        if let Some((_, value)) = &computed.checksum {
            assert_eq!(lock(&map).get("crc32"), Some(value), "map mirrors details");
        }
        (result, computed)
    }

    #[test]
    fn trailer_checksum_is_verified_after_decoding() {
        let data = vec![b'z'; 5000];
        let good = crc32_base64(&data);
        let (result, computed) = trailer_upload(&data, Some(&good));
        assert_eq!(result.expect("passes"), data);
        assert_eq!(computed.checksum, Some((ChecksumAlgorithm::Crc32, good)));

        let (result, computed) = trailer_upload(&data, Some("AAAAAA=="));
        assert_eq!(
            error_of(result),
            ChecksumError::ChecksumMismatch(ChecksumAlgorithm::Crc32)
        );
        assert!(computed.complete, "values are reported even on mismatch");

        let (result, _) = trailer_upload(&data, None);
        assert_eq!(
            error_of(result),
            ChecksumError::MissingTrailer(ChecksumAlgorithm::Crc32)
        );
    }

    #[test]
    fn upstream_errors_pass_through() {
        let frames = vec![
            Ok(Bytes::from_static(b"abc")),
            Err(io::Error::new(io::ErrorKind::ConnectionAborted, "gone")),
        ];
        let verifying = VerifyingStream::new(stream::iter(frames), Expectations::default());
        let items = block_on(verifying.collect::<Vec<_>>());
        assert_eq!(items.len(), 2);
        let error = items.into_iter().find_map(Result::err).expect("error");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
    }
}
