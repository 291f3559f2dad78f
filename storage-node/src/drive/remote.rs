//! A drive of a peer server, reached through the peer RPC. It implements [`Drive`] call for
//! call, so the object layer treats it exactly like a local directory; a peer that is down
//! or slow turns into [`DriveError::Offline`] within the call's deadline.

use super::{Drive, DriveError, DriveInfo, ShardWriter, StageId, WalkEntry, WalkOptions};
use crate::rpc::client::{Answer, CALL_TIMEOUT, DATA_TIMEOUT, PeerClient, StreamCall};
use crate::rpc::{PREVIOUS_HEADER, query, wire};
use async_trait::async_trait;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RemoteDrive {
    peer: Arc<PeerClient>,
    /// The path part of the endpoint URL, which names the drive on its server.
    path: String,
    endpoint: String,
}

impl RemoteDrive {
    pub fn new(peer: Arc<PeerClient>, path: String, endpoint: String) -> Self {
        Self {
            peer,
            path,
            endpoint,
        }
    }

    pub fn peer(&self) -> &Arc<PeerClient> {
        &self.peer
    }

    async fn call(
        &self,
        op: &str,
        args: &[(&str, &str)],
        body: Bytes,
        deadline: Duration,
    ) -> Result<Answer, DriveError> {
        let mut pairs = vec![("drive", self.path.as_str())];
        pairs.extend_from_slice(args);
        self.peer.call(op, &query(&pairs), body, deadline).await
    }

    async fn unit(&self, op: &str, args: &[(&str, &str)]) -> Result<(), DriveError> {
        self.call(op, args, Bytes::new(), CALL_TIMEOUT)
            .await
            .map(|_| ())
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        op: &str,
        args: &[(&str, &str)],
        body: Bytes,
        deadline: Duration,
    ) -> Result<T, DriveError> {
        let a = self.call(op, args, body, deadline).await?;
        serde_json::from_slice(&a.body).map_err(|e| {
            DriveError::Io(format!(
                "{}: unreadable answer to {op}: {e}",
                self.peer.name
            ))
        })
    }

    /// The drive's format state, read by its own server (start-up handshake).
    pub async fn read_format(&self) -> Result<wire::DriveFormat, DriveError> {
        self.json("format/read", &[], Bytes::new(), CALL_TIMEOUT)
            .await
    }

    /// Writes the format of a new deployment on the drive.
    pub async fn write_format(&self, w: &wire::WriteFormat) -> Result<(), DriveError> {
        let body = serde_json::to_vec(w).map_err(|e| DriveError::Io(e.to_string()))?;
        self.call("format/write", &[], body.into(), CALL_TIMEOUT)
            .await
            .map(|_| ())
    }
}

struct RemoteShardWriter {
    call: StreamCall,
}

#[async_trait]
impl ShardWriter for RemoteShardWriter {
    async fn write(&mut self, data: Bytes) -> Result<(), DriveError> {
        self.call.send(data).await
    }

    async fn finish(self: Box<Self>) -> Result<(), DriveError> {
        self.call.finish().await
    }
}

#[async_trait]
impl Drive for RemoteDrive {
    fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    fn is_local(&self) -> bool {
        false
    }

    async fn info(&self) -> Result<DriveInfo, DriveError> {
        let i: wire::Info = self
            .json("drive/info", &[], Bytes::new(), CALL_TIMEOUT)
            .await?;
        Ok(i.into())
    }

    async fn check(&self) -> Result<(), DriveError> {
        self.unit("drive/check", &[]).await
    }

    async fn make_volume(&self, volume: &str) -> Result<(), DriveError> {
        self.unit("drive/make_volume", &[("volume", volume)]).await
    }

    async fn list_volumes(&self) -> Result<Vec<String>, DriveError> {
        self.json("drive/list_volumes", &[], Bytes::new(), CALL_TIMEOUT)
            .await
    }

    async fn stat_volume(&self, volume: &str) -> Result<(), DriveError> {
        self.unit("drive/stat_volume", &[("volume", volume)]).await
    }

    async fn delete_volume(&self, volume: &str) -> Result<(), DriveError> {
        self.unit("drive/delete_volume", &[("volume", volume)])
            .await
    }

    async fn read_sys_file(&self, path: &str) -> Result<Bytes, DriveError> {
        Ok(self
            .call(
                "drive/read_sys_file",
                &[("path", path)],
                Bytes::new(),
                CALL_TIMEOUT,
            )
            .await?
            .body)
    }

    async fn write_sys_file(&self, path: &str, data: Bytes) -> Result<(), DriveError> {
        self.call(
            "drive/write_sys_file",
            &[("path", path)],
            data,
            DATA_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    async fn delete_sys_path(&self, path: &str) -> Result<(), DriveError> {
        self.unit("drive/delete_sys_path", &[("path", path)]).await
    }

    async fn list_sys_dir(&self, path: &str) -> Result<Vec<String>, DriveError> {
        self.json(
            "drive/list_sys_dir",
            &[("path", path)],
            Bytes::new(),
            CALL_TIMEOUT,
        )
        .await
    }

    async fn read_meta(&self, volume: &str, key: &str) -> Result<Bytes, DriveError> {
        Ok(self
            .call(
                "drive/read_meta",
                &[("volume", volume), ("key", key)],
                Bytes::new(),
                CALL_TIMEOUT,
            )
            .await?
            .body)
    }

    async fn create_shard(
        &self,
        stage: &StageId,
        name: &str,
    ) -> Result<Box<dyn ShardWriter>, DriveError> {
        let q = query(&[("drive", &self.path), ("stage", &stage.0), ("name", name)]);
        let call = self.peer.stream("drive/create_shard", &q)?;
        Ok(Box::new(RemoteShardWriter { call }))
    }

    async fn read_shard(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
        name: &str,
        offset: u64,
        len: usize,
    ) -> Result<Bytes, DriveError> {
        let (offset_s, len_s) = (offset.to_string(), len.to_string());
        let a = self
            .call(
                "drive/read_shard",
                &[
                    ("volume", volume),
                    ("key", key),
                    ("data_dir", data_dir),
                    ("name", name),
                    ("offset", &offset_s),
                    ("len", &len_s),
                ],
                Bytes::new(),
                DATA_TIMEOUT,
            )
            .await?;
        if a.body.len() != len {
            return Err(DriveError::Corrupt(format!(
                "{}: {name} answered {} bytes instead of {len}",
                self.peer.name,
                a.body.len()
            )));
        }
        Ok(a.body)
    }

    async fn commit_object(
        &self,
        volume: &str,
        key: &str,
        stage: Option<&StageId>,
        data_dir: Option<&str>,
        meta: Bytes,
    ) -> Result<Option<Bytes>, DriveError> {
        let stage = stage.map(|s| s.0.as_str()).unwrap_or("");
        let a = self
            .call(
                "drive/commit_object",
                &[
                    ("volume", volume),
                    ("key", key),
                    ("stage", stage),
                    ("data_dir", data_dir.unwrap_or("")),
                ],
                meta,
                DATA_TIMEOUT,
            )
            .await?;
        Ok(a.headers.contains_key(PREVIOUS_HEADER).then_some(a.body))
    }

    async fn restore_object(
        &self,
        volume: &str,
        key: &str,
        previous: Option<Bytes>,
        data_dir: Option<&str>,
    ) -> Result<(), DriveError> {
        let has = if previous.is_some() { "1" } else { "0" };
        self.call(
            "drive/restore_object",
            &[
                ("volume", volume),
                ("key", key),
                ("previous", has),
                ("data_dir", data_dir.unwrap_or("")),
            ],
            previous.unwrap_or_default(),
            DATA_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    async fn delete_data_dir(
        &self,
        volume: &str,
        key: &str,
        data_dir: &str,
    ) -> Result<(), DriveError> {
        self.unit(
            "drive/delete_data_dir",
            &[("volume", volume), ("key", key), ("data_dir", data_dir)],
        )
        .await
    }

    async fn delete_object(&self, volume: &str, key: &str) -> Result<(), DriveError> {
        self.unit("drive/delete_object", &[("volume", volume), ("key", key)])
            .await
    }

    async fn discard_stage(&self, stage: &StageId) -> Result<(), DriveError> {
        self.unit("drive/discard_stage", &[("stage", &stage.0)])
            .await
    }

    async fn stage_sys_file(
        &self,
        dir: &str,
        from: &str,
        stage: &StageId,
        to: &str,
    ) -> Result<(), DriveError> {
        self.unit(
            "drive/stage_sys_file",
            &[
                ("dir", dir),
                ("from", from),
                ("stage", &stage.0),
                ("to", to),
            ],
        )
        .await
    }

    async fn commit_sys_file(
        &self,
        stage: &StageId,
        from: &str,
        dir: &str,
        name: &str,
    ) -> Result<(), DriveError> {
        self.unit(
            "drive/commit_sys_file",
            &[
                ("stage", &stage.0),
                ("from", from),
                ("dir", dir),
                ("name", name),
            ],
        )
        .await
    }

    async fn walk(&self, volume: &str, opts: &WalkOptions) -> Result<Vec<WalkEntry>, DriveError> {
        let body = serde_json::to_vec(&wire::Walk::from(opts))
            .map_err(|e| DriveError::Io(e.to_string()))?;
        let entries: Vec<wire::Entry> = self
            .json(
                "drive/walk",
                &[("volume", volume)],
                body.into(),
                DATA_TIMEOUT,
            )
            .await?;
        entries
            .into_iter()
            .map(|e| {
                e.into_walk_entry().ok_or_else(|| {
                    DriveError::Corrupt(format!("{}: undecodable walk entry", self.peer.name))
                })
            })
            .collect()
    }

    async fn read_meta_headers(
        &self,
        volume: &str,
        keys: &[String],
    ) -> Result<Vec<Option<Bytes>>, DriveError> {
        let body = serde_json::to_vec(keys).map_err(|e| DriveError::Io(e.to_string()))?;
        let headers: wire::Headers64 = self
            .json(
                "drive/read_meta_headers",
                &[("volume", volume)],
                body.into(),
                DATA_TIMEOUT,
            )
            .await?;
        let headers = wire::headers_from_wire(headers).ok_or_else(|| {
            DriveError::Corrupt(format!("{}: undecodable metadata header", self.peer.name))
        })?;
        if headers.len() != keys.len() {
            return Err(DriveError::Corrupt(format!(
                "{}: {} headers for {} keys",
                self.peer.name,
                headers.len(),
                keys.len()
            )));
        }
        Ok(headers)
    }
}
