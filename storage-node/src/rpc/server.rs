//! The serving side of peer RPC: authenticates a call, finds this server's drive it names
//! (by the path part of its endpoint URL) and runs the operation on it.

use super::auth::{self, RpcKey};
use super::wire;
use super::{ERROR_HEADER, PREFIX, PREVIOUS_HEADER, parse_query};
use crate::cluster::format;
use crate::cluster::locks::LockTable;
use crate::drive::{DriveError, DriveRef, StageId};
use crate::body::{RespBody, empty, full};
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
    /// This server's drives by the path of their endpoint URL.
    drives: HashMap<String, ServedDrive>,
    node: wire::NodeInfo,
    pub locks: Arc<LockTable>,
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
    pub fn new(
        key: RpcKey,
        drives: HashMap<String, ServedDrive>,
        node: wire::NodeInfo,
        locks: Arc<LockTable>,
    ) -> Self {
        Self {
            key,
            drives,
            node,
            locks,
        }
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
        if let Err(why) = self
            .key
            .verify(req.method().as_str(), &path_and_query, header)
        {
            tracing::warn!(reason = why, "peer call refused");
            return error_response(StatusCode::FORBIDDEN, "auth", why.to_string());
        }
        let op = req
            .uri()
            .path()
            .strip_prefix(PREFIX)
            .unwrap_or("")
            .to_string();
        let q = parse_query(req.uri().query().unwrap_or(""));
        let body = req.into_body();
        match op.as_str() {
            "node/ping" => ok(),
            "node/info" => json_response(&self.node),
            _ if op.starts_with("lock/") => self.locks.handle(&op, &q, body).await,
            _ => match self.drive_call(&op, &q, body).await {
                Ok(r) => r,
                Err(e) => drive_error(e),
            },
        }
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
        body: Incoming,
    ) -> Result<Response<RespBody>, DriveError> {
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
                let w: wire::WriteFormat = serde_json::from_slice(&read_body(body).await?)
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
                let data = read_body(body).await?;
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
                let stage = StageId(arg(q, "stage")?.to_string());
                let mut w = d.create_shard(&stage, arg(q, "name")?).await?;
                let mut body = body;
                loop {
                    match tokio::time::timeout(BODY_IDLE, body.frame()).await {
                        Err(_) => return Err(DriveError::Io("shard data stalled".into())),
                        Ok(None) => break,
                        Ok(Some(Err(e))) => {
                            // The writer aborted (or the connection broke): the partial
                            // shard stays in the stage, which the writer discards.
                            return Err(DriveError::Io(format!("shard write aborted: {e}")));
                        }
                        Ok(Some(Ok(frame))) => {
                            if let Ok(data) = frame.into_data() {
                                w.write(data).await?;
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
                let meta = read_body(body).await?;
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
                let data = read_body(body).await?;
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
                let w: wire::Walk = serde_json::from_slice(&read_body(body).await?)
                    .map_err(|e| DriveError::Io(format!("bad walk options: {e}")))?;
                let entries = d.walk(volume()?, &w.into()).await?;
                let out: Vec<wire::Entry> = entries.iter().map(wire::Entry::from).collect();
                json_response(&out)
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
