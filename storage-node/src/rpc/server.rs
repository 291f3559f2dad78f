//! The serving side of peer RPC: authenticates a call, finds this server's drive it names
//! (by the path part of its endpoint URL) and runs the operation on it.
//!
//! Nothing is acted on before it is authenticated: the header first (signature, time,
//! target server), then the request id (replay), then the body: a whole body is read
//! (bounded) and checked against its signed hash before the operation runs, a streamed
//! shard frame by frame before each frame is written. Answers are signed in turn.

use super::auth::{self, AuthError, BodyDigest, RpcKey, Signature, Verified};
use super::chunks::FrameReader;
use super::replay::ReplayGuard;
use super::wire;
use super::{ERROR_HEADER, MAX_ANSWER, PREFIX, PREVIOUS_HEADER, parse_query};
use crate::body::{RespBody, empty, full};
use crate::cluster::format;
use crate::cluster::locks::LockTable;
use crate::drive::{DriveError, DriveRef, StageId};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Largest non-streamed body a peer may send (metadata with inline data, sys files).
const MAX_BODY: usize = 64 << 20;
/// A streamed shard write that sends nothing for this long is abandoned.
const BODY_IDLE: Duration = Duration::from_secs(60);

/// One drive of this server as peers address it.
#[derive(Debug, Clone)]
pub struct ServedDrive {
    pub drive: DriveRef,
    /// Its directory, for format reads and writes during start-up.
    pub root: PathBuf,
}

#[derive(Debug)]
pub struct RpcService {
    key: RpcKey,
    /// This server's `host:port` names in the endpoint list: a call must be signed for one
    /// of them, so that a call captured on its way to another server cannot be replayed
    /// here (every server has drives of the same paths).
    names: Vec<String>,
    replay: ReplayGuard,
    /// This server's drives by the path of their endpoint URL.
    drives: HashMap<String, ServedDrive>,
    node: wire::NodeInfo,
    pub locks: Arc<LockTable>,
    /// This server's own metrics series for a peer's cluster page (`node/metrics`); set
    /// once the application that counts them exists.
    metrics: std::sync::OnceLock<MetricsSource>,
}

struct MetricsSource(Arc<dyn NodeMetrics>);

impl std::fmt::Debug for MetricsSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NodeMetrics")
    }
}

/// What a server tells a peer that builds the cluster-wide metrics page: its own series
/// (each labelled with its `server`), in the Prometheus text format.
#[async_trait::async_trait]
pub trait NodeMetrics: Send + Sync {
    async fn own_series(&self) -> String;
}

type Q = HashMap<String, String>;

fn arg<'a>(q: &'a Q, name: &str) -> Result<&'a str, DriveError> {
    q.get(name)
        .map(String::as_str)
        .ok_or_else(|| DriveError::InvalidName(format!("missing argument `{name}`")))
}

fn opt_arg<'a>(q: &'a Q, name: &str) -> Option<&'a str> {
    q.get(name).map(String::as_str).filter(|s| !s.is_empty())
}

fn error_response(status: StatusCode, code: &str, message: String) -> Response<RespBody> {
    let mut r = Response::new(full(Bytes::from(message)));
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(code) {
        r.headers_mut().insert(ERROR_HEADER, v);
    }
    r
}

fn drive_error(e: DriveError) -> Response<RespBody> {
    let status = if e.is_not_found() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    error_response(status, super::error_code(&e), e.to_string())
}

fn bytes_response(b: Bytes) -> Response<RespBody> {
    Response::new(full(b))
}

fn json_response<T: serde::Serialize>(v: &T) -> Response<RespBody> {
    match serde_json::to_vec(v) {
        Ok(b) => bytes_response(b.into()),
        Err(e) => drive_error(DriveError::Io(e.to_string())),
    }
}

fn ok() -> Response<RespBody> {
    empty(StatusCode::OK)
}

/// Why a call failed: its drive operation, or its authentication (a streamed frame).
#[derive(Debug)]
enum CallError {
    Drive(DriveError),
    Auth(AuthError),
}

impl From<DriveError> for CallError {
    fn from(e: DriveError) -> Self {
        CallError::Drive(e)
    }
}

impl From<AuthError> for CallError {
    fn from(e: AuthError) -> Self {
        CallError::Auth(e)
    }
}

/// The refusal of a call that did not authenticate; unsigned, since the caller may not
/// share our key.
fn refused(e: AuthError) -> Response<RespBody> {
    tracing::warn!(reason = %e, "peer call refused");
    error_response(e.status(), "auth", e.to_string())
}

/// The body of an authenticated call.
enum CallBody {
    /// Read whole and checked against its signed hash.
    Whole(Bytes),
    /// A shard write: signed frames, checked as they arrive.
    Frames(Incoming, Signature),
}

/// The checked body of a call that is not streamed.
fn whole(body: CallBody) -> Result<Bytes, AuthError> {
    match body {
        CallBody::Whole(b) => Ok(b),
        CallBody::Frames(..) => Err(AuthError::BadFrame("this call does not stream")),
    }
}

/// A lock call must be signed as empty and carry nothing.
fn check_empty(verified: &Verified, body: &Incoming) -> Result<(), AuthError> {
    use hyper::body::Body;
    if !body.is_end_stream() {
        return Err(AuthError::BadFrame("lock calls carry no body"));
    }
    verified.check_body(b"")
}

async fn read_body(body: Incoming) -> Result<Bytes, DriveError> {
    match tokio::time::timeout(
        BODY_IDLE,
        http_body_util::Limited::new(body, MAX_BODY).collect(),
    )
    .await
    {
        Ok(Ok(c)) => Ok(c.to_bytes()),
        Ok(Err(e)) => Err(DriveError::Io(format!("reading the call body: {e}"))),
        Err(_) => Err(DriveError::Io("call body not received in time".into())),
    }
}

impl RpcService {
    /// `names` are this server's `host:port` names in the endpoint list.
    pub fn new(
        key: RpcKey,
        names: Vec<String>,
        drives: HashMap<String, ServedDrive>,
        node: wire::NodeInfo,
        locks: Arc<LockTable>,
    ) -> Self {
        Self {
            key,
            names,
            replay: ReplayGuard::default(),
            drives,
            node,
            locks,
            metrics: std::sync::OnceLock::new(),
        }
    }

    /// Answers `node/metrics` with `source`'s series from now on (the first source set
    /// stays).
    pub fn serve_metrics(&self, source: Arc<dyn NodeMetrics>) {
        let _ = self.metrics.set(MetricsSource(source));
    }

    pub fn handles(path: &str) -> bool {
        path.starts_with(PREFIX)
    }

    pub async fn handle(&self, req: Request<Incoming>) -> Response<RespBody> {
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default();
        let header = req
            .headers()
            .get(auth::HEADER)
            .and_then(|v| v.to_str().ok());
        let now = auth::now_ms();
        let verified = match self.key.verify(
            req.method().as_str(),
            &path_and_query,
            &self.names,
            header,
            now,
        ) {
            Ok(v) => v,
            Err(e) => return refused(e),
        };
        // Only after the signature: a forger cannot fill the set of seen ids.
        if let Err(e) = self.replay.check(verified.time_ms, verified.id, now) {
            return refused(e);
        }
        let op = req
            .uri()
            .path()
            .strip_prefix(PREFIX)
            .unwrap_or("")
            .to_string();
        let q = parse_query(req.uri().query().unwrap_or(""));
        let answer = if op.starts_with("lock/") {
            // Lock calls carry no body; the lock table takes the (empty) stream as is.
            let body = req.into_body();
            if let Err(e) = check_empty(&verified, &body) {
                return refused(e);
            }
            self.locks.handle(&op, &q, body).await
        } else {
            let body = match self
                .authenticated_body(&op, &verified, req.into_body())
                .await
            {
                Ok(b) => b,
                Err(CallError::Auth(e)) => return refused(e),
                Err(CallError::Drive(e)) => return drive_error(e),
            };
            match op.as_str() {
                "node/ping" => ok(),
                "node/info" => json_response(&self.node),
                "node/metrics" => match self.metrics.get() {
                    Some(m) => bytes_response(Bytes::from(m.0.own_series().await)),
                    None => drive_error(DriveError::Offline("the server is starting".into())),
                },
                _ => match self.drive_call(&op, &q, body).await {
                    Ok(r) => r,
                    Err(CallError::Auth(e)) => refused(e),
                    Err(CallError::Drive(e)) => drive_error(e),
                },
            }
        };
        self.sign_answer(&verified.signature, answer).await
    }

    /// Reads a whole body and checks it, or hands a streamed one over for its frames to be
    /// checked one by one. Only shard writes stream.
    async fn authenticated_body(
        &self,
        op: &str,
        verified: &Verified,
        body: Incoming,
    ) -> Result<CallBody, CallError> {
        match verified.body {
            BodyDigest::Streamed if op == "drive/create_shard" => {
                Ok(CallBody::Frames(body, verified.signature))
            }
            BodyDigest::Streamed => Err(AuthError::BadFrame("only shard writes stream").into()),
            BodyDigest::Whole(_) => {
                let data = read_body(body).await?;
                verified.check_body(&data)?;
                Ok(CallBody::Whole(data))
            }
        }
    }

    /// Adds the answer's signature. Every answer here is built whole in memory (`full`), so
    /// collecting it completes at once.
    async fn sign_answer(
        &self,
        call: &Signature,
        answer: Response<RespBody>,
    ) -> Response<RespBody> {
        let (mut parts, body) = answer.into_parts();
        let bytes = match http_body_util::Limited::new(body, MAX_ANSWER)
            .collect()
            .await
        {
            Ok(c) => c.to_bytes(),
            Err(e) => {
                return drive_error(DriveError::Io(format!("answer not buffered: {e}")));
            }
        };
        let code = parts
            .headers
            .get(ERROR_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let sig = self.key.sign_answer(
            call,
            parts.status.as_u16(),
            code,
            parts.headers.contains_key(PREVIOUS_HEADER),
            &bytes,
        );
        if let Ok(v) = http::HeaderValue::from_str(&hex::encode(sig)) {
            parts.headers.insert(auth::ANSWER_HEADER, v);
        }
        Response::from_parts(parts, full(bytes))
    }

    fn served(&self, q: &Q) -> Result<&ServedDrive, DriveError> {
        let name = arg(q, "drive")?;
        self.drives
            .get(name)
            .ok_or_else(|| DriveError::Offline(format!("this server has no drive {name}")))
    }

    async fn drive_call(
        &self,
        op: &str,
        q: &Q,
        body: CallBody,
    ) -> Result<Response<RespBody>, CallError> {
        let served = self.served(q)?;
        let d = &served.drive;
        let volume = || arg(q, "volume");
        let key = || arg(q, "key");
        Ok(match op {
            "format/read" => {
                let root = served.root.clone();
                let state = tokio::task::spawn_blocking(move || wire::DriveFormat {
                    healing: format::healing_path(&root).exists(),
                    state: format::inspect_drive(&root),
                })
                .await
                .map_err(|e| DriveError::Io(e.to_string()))?;
                json_response(&state)
            }
            "format/write" => {
                let w: wire::WriteFormat = serde_json::from_slice(&whole(body)?)
                    .map_err(|e| DriveError::Corrupt(format!("bad format: {e}")))?;
                let root = served.root.clone();
                tokio::task::spawn_blocking(move || format::write_fresh(&root, &w.format))
                    .await
                    .map_err(|e| DriveError::Io(e.to_string()))?
                    .map_err(|e| DriveError::Io(e.to_string()))?;
                ok()
            }
            "drive/info" => json_response(&wire::Info::from(&d.info().await?)),
            "drive/check" => {
                d.check().await?;
                ok()
            }
            "drive/make_volume" => {
                d.make_volume(volume()?).await?;
                ok()
            }
            "drive/list_volumes" => json_response(&d.list_volumes().await?),
            "drive/stat_volume" => {
                d.stat_volume(volume()?).await?;
                ok()
            }
            "drive/delete_volume" => {
                d.delete_volume(volume()?).await?;
                ok()
            }
            "drive/read_sys_file" => bytes_response(d.read_sys_file(arg(q, "path")?).await?),
            "drive/write_sys_file" => {
                let data = whole(body)?;
                d.write_sys_file(arg(q, "path")?, data).await?;
                ok()
            }
            "drive/delete_sys_path" => {
                d.delete_sys_path(arg(q, "path")?).await?;
                ok()
            }
            "drive/list_sys_dir" => json_response(&d.list_sys_dir(arg(q, "path")?).await?),
            "drive/read_meta" => bytes_response(d.read_meta(volume()?, key()?).await?),
            "drive/create_shard" => {
                let CallBody::Frames(mut body, call) = body else {
                    return Err(AuthError::BadFrame("a shard write must stream").into());
                };
                let stage = StageId(arg(q, "stage")?.to_string());
                let mut w = d.create_shard(&stage, arg(q, "name")?).await?;
                let mut frames = FrameReader::new(self.key.clone(), call);
                // Bounded: each round consumes a frame of the body or ends the call, and
                // each wait is bounded by BODY_IDLE.
                loop {
                    match tokio::time::timeout(BODY_IDLE, body.frame()).await {
                        Err(_) => return Err(DriveError::Io("shard data stalled".into()).into()),
                        Ok(None) => {
                            frames.finish()?;
                            break;
                        }
                        Ok(Some(Err(e))) => {
                            // The writer aborted (or the connection broke): the partial
                            // shard stays in the stage, which the writer discards.
                            return Err(DriveError::Io(format!("shard write aborted: {e}")).into());
                        }
                        Ok(Some(Ok(frame))) => {
                            if let Ok(data) = frame.into_data() {
                                frames.push(&data)?;
                                // Bounded by the bytes buffered.
                                while let Some(chunk) = frames.next_frame()? {
                                    w.write(chunk).await?;
                                }
                            }
                        }
                    }
                }
                w.finish().await?;
                ok()
            }
            "drive/read_shard" => {
                let offset: u64 = arg(q, "offset")?
                    .parse()
                    .map_err(|_| DriveError::InvalidName("bad offset".into()))?;
                let len: usize = arg(q, "len")?
                    .parse()
                    .map_err(|_| DriveError::InvalidName("bad length".into()))?;
                if len > MAX_ANSWER {
                    // The caller refuses larger answers anyway; do not allocate them.
                    return Err(DriveError::InvalidName(format!(
                        "read of {len} bytes exceeds {MAX_ANSWER}"
                    ))
                    .into());
                }
                bytes_response(
                    d.read_shard(
                        volume()?,
                        key()?,
                        arg(q, "data_dir")?,
                        arg(q, "name")?,
                        offset,
                        len,
                    )
                    .await?,
                )
            }
            "drive/commit_object" => {
                let meta = whole(body)?;
                let stage = opt_arg(q, "stage").map(|s| StageId(s.to_string()));
                let previous = d
                    .commit_object(
                        volume()?,
                        key()?,
                        stage.as_ref(),
                        opt_arg(q, "data_dir"),
                        meta,
                    )
                    .await?;
                match previous {
                    Some(p) => {
                        let mut r = bytes_response(p);
                        r.headers_mut()
                            .insert(PREVIOUS_HEADER, http::HeaderValue::from_static("1"));
                        r
                    }
                    None => ok(),
                }
            }
            "drive/restore_object" => {
                let data = whole(body)?;
                let previous = (q.get("previous").map(String::as_str) == Some("1")).then_some(data);
                d.restore_object(volume()?, key()?, previous, opt_arg(q, "data_dir"))
                    .await?;
                ok()
            }
            "drive/delete_data_dir" => {
                d.delete_data_dir(volume()?, key()?, arg(q, "data_dir")?)
                    .await?;
                ok()
            }
            "drive/delete_object" => {
                d.delete_object(volume()?, key()?).await?;
                ok()
            }
            "drive/discard_stage" => {
                d.discard_stage(&StageId(arg(q, "stage")?.to_string()))
                    .await?;
                ok()
            }
            "drive/stage_sys_file" => {
                d.stage_sys_file(
                    arg(q, "dir")?,
                    arg(q, "from")?,
                    &StageId(arg(q, "stage")?.to_string()),
                    arg(q, "to")?,
                )
                .await?;
                ok()
            }
            "drive/commit_sys_file" => {
                d.commit_sys_file(
                    &StageId(arg(q, "stage")?.to_string()),
                    arg(q, "from")?,
                    arg(q, "dir")?,
                    arg(q, "name")?,
                )
                .await?;
                ok()
            }
            "drive/walk" => {
                let w: wire::Walk = serde_json::from_slice(&whole(body)?)
                    .map_err(|e| DriveError::Io(format!("bad walk options: {e}")))?;
                let entries = d.walk(volume()?, &w.into()).await?;
                let out: Vec<wire::Entry> = entries.iter().map(wire::Entry::from).collect();
                json_response(&out)
            }
            "drive/read_meta_headers" => {
                let keys: Vec<String> = serde_json::from_slice(&whole(body)?)
                    .map_err(|e| DriveError::Io(format!("bad key list: {e}")))?;
                let headers = d.read_meta_headers(volume()?, &keys).await?;
                json_response(&wire::headers_to_wire(&headers))
            }
            other => {
                return Ok(error_response(
                    StatusCode::NOT_FOUND,
                    "unknown",
                    format!("unknown peer call {other}; are the servers running the same version?"),
                ));
            }
        })
    }
}
