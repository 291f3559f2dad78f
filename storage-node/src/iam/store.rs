//! Where the IAM state lives: one JSON document, `iam/state.json`, in the system volume
//! (`objects::system`), erasure-coded like any object, so every server reads the same
//! state and it survives the loss of as many drives as the data does. Changes are
//! read-modify-write cycles under a deployment-wide lock (`Store::lock`), always on the
//! latest stored version, so two servers changing IAM at once never lose each other's
//! change.

use super::error::{IamError, IamResult};
use super::seal::SealKey;
use super::state::IamState;
use crate::objects::ObjectLayer;
use crate::objects::error::ObjectError;
use crate::objects::lock::Guard;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Key of the document in the system volume.
pub const STATE_KEY: &str = "iam/state.json";
/// Name of the lock every change holds.
const LOCK: &str = "iam";
/// Refuse to load a document larger than this (about 100,000 users).
const MAX_DOCUMENT: usize = 64 << 20;
const FORMAT: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Document {
    format: u32,
    /// [`SealKey::id`] of the key that sealed the secrets.
    key_id: String,
    state: IamState,
}

/// The stored state, as last read.
#[derive(Debug)]
pub struct Loaded {
    pub state: IamState,
    /// ETag of the stored document; `None` when nothing is stored yet.
    pub etag: Option<String>,
    /// Sealed with the previous root credentials: save again to re-seal.
    pub needs_reseal: bool,
}

/// The sealing keys: the current root credentials' and, during a rotation, the
/// previous ones'.
#[derive(Debug, Clone)]
pub struct Keys {
    pub current: SealKey,
    pub previous: Option<SealKey>,
}

pub struct Store {
    objects: Arc<ObjectLayer>,
}

impl Store {
    pub fn new(objects: Arc<ObjectLayer>) -> Self {
        Self { objects }
    }

    /// Holds the change lock of the IAM state (deployment-wide).
    pub async fn lock(&self) -> IamResult<Guard> {
        Ok(self.objects.lock_system(LOCK).await?)
    }

    /// ETag of the stored document, `None` if there is none: cheap (metadata only), to
    /// notice changes made through other servers.
    pub async fn etag(&self) -> IamResult<Option<String>> {
        match self.objects.system_object_info(STATE_KEY).await {
            Ok(info) => Ok(Some(info.etag)),
            Err(ObjectError::NoSuchKey) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads and opens the stored state; an empty state when nothing is stored yet.
    pub async fn load(&self, keys: &Keys) -> IamResult<Loaded> {
        let (info, bytes) = match self
            .objects
            .get_system_object(STATE_KEY, MAX_DOCUMENT)
            .await
        {
            Ok(found) => found,
            Err(ObjectError::NoSuchKey) => {
                return Ok(Loaded {
                    state: IamState::default(),
                    etag: None,
                    needs_reseal: false,
                });
            }
            Err(e) => return Err(e.into()),
        };
        let doc: Document = serde_json::from_slice(&bytes)
            .map_err(|e| IamError::Sealed(format!("{STATE_KEY} is not a valid document: {e}")))?;
        if doc.format != FORMAT {
            return Err(IamError::Sealed(format!(
                "{STATE_KEY} has format {}, this server reads format {FORMAT}",
                doc.format
            )));
        }
        let (key, needs_reseal) = if doc.key_id == keys.current.id() {
            (&keys.current, false)
        } else if let Some(prev) = keys.previous.as_ref().filter(|p| p.id() == doc.key_id) {
            (prev, true)
        } else {
            return Err(IamError::Sealed(format!(
                "the IAM state was sealed with other root credentials (key {}); if the root \
                 credentials were changed, start every server with the old ones in \
                 CAIRN_ROOT_USER_PREVIOUS and CAIRN_ROOT_PASSWORD_PREVIOUS once",
                doc.key_id
            )));
        };
        Ok(Loaded {
            state: doc.state.unsealed(key)?,
            etag: Some(info.etag),
            needs_reseal,
        })
    }

    /// Writes `state` sealed with the current key; returns the new ETag. The caller
    /// holds [`Self::lock`] and loaded the state under it.
    pub async fn save(&self, state: &IamState, keys: &Keys) -> IamResult<String> {
        let doc = Document {
            format: FORMAT,
            key_id: keys.current.id().to_string(),
            state: state.sealed(&keys.current),
        };
        let bytes = serde_json::to_vec(&doc)
            .map_err(|e| IamError::Sealed(format!("cannot encode the IAM state: {e}")))?;
        let info = self
            .objects
            .put_system_object(STATE_KEY, Bytes::from(bytes))
            .await?;
        Ok(info.etag)
    }
}
