//! The KMS admin API: MinIO's `GET /minio/admin/v3/kms/status` and
//! `GET /minio/admin/v3/kms/key/status?key-id=` (the key seals and opens a test key),
//! and Cairn's `POST /minio/admin/v3/kms/key/reseal?bucket=`: key rotation. With a new
//! key first in `KMS_SECRET_KEY` (the old one kept after it), reseal moves every
//! SSE-S3 and SSE-KMS object key of a bucket to the default key by rewriting only its
//! sealed key in the object's metadata, never the data; afterwards the old key can be
//! removed from the configuration. SSE-C objects are left alone: only their clients
//! hold their keys.

use super::{AdminService, ApiError, json, require};
use crate::crypto::kms::{Context, Kms};
use crate::crypto::record::Stored;
use crate::objects::list::ListParams;
use http::{Method, Response, StatusCode};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

pub const STATUS_PATH: &str = "/minio/admin/v3/kms/status";
pub const KEY_STATUS_PATH: &str = "/minio/admin/v3/kms/key/status";
pub const RESEAL_PATH: &str = "/minio/admin/v3/kms/key/reseal";
/// Objects listed per page of a reseal walk; errors reported at most this many.
const PAGE: usize = 1000;
const MAX_ERRORS: usize = 20;

#[derive(Debug, Serialize, Deserialize)]
pub struct KmsStatus {
    pub name: String,
    #[serde(rename = "defaultKeyID")]
    pub default_key_id: String,
    pub keys: Vec<String>,
}

/// MinIO's key status answer: empty error strings mean the key works.
#[derive(Debug, Serialize, Deserialize)]
pub struct KeyStatus {
    #[serde(rename = "key-id")]
    pub key_id: String,
    #[serde(rename = "encryption-error", default)]
    pub encryption_error: String,
    #[serde(rename = "decryption-error", default)]
    pub decryption_error: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ResealReport {
    pub bucket: String,
    /// The key every KMS-sealed object of the bucket is sealed with afterwards.
    #[serde(rename = "keyID")]
    pub key_id: String,
    /// Objects looked at.
    pub scanned: u64,
    /// Objects whose key was re-sealed.
    pub resealed: u64,
    /// Objects left as they were: unencrypted, SSE-C, or already under the key.
    pub unchanged: u64,
    pub failed: u64,
    #[serde(default)]
    pub errors: Vec<String>,
}

fn no_kms() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "NotImplemented",
        "no KMS is configured (set MINIO_KMS_SECRET_KEY or CAIRN_KMS_SECRET_KEY)",
    )
}

impl AdminService {
    fn kms(&self) -> Result<&Arc<dyn Kms>, ApiError> {
        self.sse.kms.as_ref().ok_or_else(no_kms)
    }
}

/// Serves the KMS paths; `None` for any other path.
pub(super) async fn dispatch(
    a: &AdminService,
    caller: &crate::iam::Caller,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
) -> Option<Result<Response<RespBody>, ApiError>> {
    let r = match (path, method) {
        (STATUS_PATH, &Method::GET) => status(a, caller).await,
        (KEY_STATUS_PATH, &Method::GET) => key_status(a, caller, query).await,
        (RESEAL_PATH, &Method::POST) => reseal(a, caller, query).await,
        (STATUS_PATH | KEY_STATUS_PATH | RESEAL_PATH, _) => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )),
        _ => return None,
    };
    Some(r)
}

use crate::body::RespBody;

async fn status(
    a: &AdminService,
    caller: &crate::iam::Caller,
) -> Result<Response<RespBody>, ApiError> {
    require(caller, "admin:KMSKeyStatus")?;
    let s = a.kms()?.status().await;
    Ok(json(
        StatusCode::OK,
        &KmsStatus {
            name: s.name,
            default_key_id: s.default_key,
            keys: s.keys,
        },
    ))
}

async fn key_status(
    a: &AdminService,
    caller: &crate::iam::Caller,
    query: &HashMap<String, String>,
) -> Result<Response<RespBody>, ApiError> {
    require(caller, "admin:KMSKeyStatus")?;
    let kms = a.kms()?;
    let key_id = query
        .get("key-id")
        .filter(|k| !k.is_empty())
        .cloned()
        .unwrap_or_else(|| kms.default_key().to_string());
    let ctx = Context::from([("cairn".to_string(), "key-status".to_string())]);
    let mut out = KeyStatus {
        key_id: key_id.clone(),
        encryption_error: String::new(),
        decryption_error: String::new(),
    };
    match kms.generate_key(&key_id, &ctx).await {
        Err(e) => out.encryption_error = e.to_string(),
        Ok(dk) => match kms.decrypt_key(&key_id, &dk.sealed, &ctx).await {
            Ok(k) if k.0 == dk.plaintext.0 => {}
            Ok(_) => out.decryption_error = "the key opened to other bytes".into(),
            Err(e) => out.decryption_error = e.to_string(),
        },
    }
    let status = if out.encryption_error.is_empty() && out.decryption_error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Ok(json(status, &out))
}

/// Re-seals the KMS-sealed objects of one bucket under the default key.
async fn reseal(
    a: &AdminService,
    caller: &crate::iam::Caller,
    query: &HashMap<String, String>,
) -> Result<Response<RespBody>, ApiError> {
    // MinIO has no rotation call; creating KMS keys is the nearest power it names.
    require(caller, "admin:KMSCreateKey")?;
    let kms = a.kms()?;
    let bucket = query
        .get("bucket")
        .filter(|b| !b.is_empty())
        .cloned()
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                "bucket is required",
            )
        })?;
    let mut report = ResealReport {
        bucket: bucket.clone(),
        key_id: kms.default_key().to_string(),
        ..ResealReport::default()
    };
    let mut marker = String::new();
    loop {
        let page = a
            .objects
            .list_objects(
                &bucket,
                &ListParams {
                    marker: marker.clone(),
                    max_keys: PAGE,
                    ..ListParams::default()
                },
            )
            .await
            .map_err(|e| match e {
                crate::objects::ObjectError::NoSuchBucket => ApiError::new(
                    StatusCode::NOT_FOUND,
                    "NoSuchBucket",
                    "The specified bucket does not exist",
                ),
                other => ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "InternalError",
                    other.to_string(),
                ),
            })?;
        for o in &page.objects {
            report.scanned += 1;
            match reseal_one(a, &bucket, &o.key, &o.headers).await {
                Ok(true) => report.resealed += 1,
                Ok(false) => report.unchanged += 1,
                Err(e) => {
                    report.failed += 1;
                    if report.errors.len() < MAX_ERRORS {
                        report.errors.push(format!("{}: {e}", o.key));
                    }
                }
            }
        }
        match (page.truncated, page.next_marker) {
            (true, Some(m)) if m > marker => marker = m,
            _ => break,
        }
    }
    tracing::info!(
        bucket,
        scanned = report.scanned,
        resealed = report.resealed,
        failed = report.failed,
        "KMS reseal"
    );
    Ok(json(StatusCode::OK, &report))
}

/// Re-seals one object; `false` when nothing had to change. The metadata update only
/// applies if the object still holds the record that was re-sealed (a concurrent
/// overwrite wins and is left alone).
async fn reseal_one(
    a: &AdminService,
    bucket: &str,
    key: &str,
    headers: &std::collections::BTreeMap<String, String>,
) -> Result<bool, String> {
    let Some(old) = Stored::from_headers(headers).map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let Some(new) = a
        .sse
        .reseal(&old, bucket, key)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    let mut applied = false;
    a.objects
        .update_object_headers(bucket, key, |h| {
            if Stored::from_headers(h).ok().flatten().as_ref() != Some(&old) {
                return false;
            }
            new.store(h);
            applied = true;
            true
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(applied)
}
