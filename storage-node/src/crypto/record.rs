//! How an encrypted object records its encryption, in reserved stored headers (the S3
//! layer never returns them to clients, and CopyObject never copies them):
//!
//! | header | value |
//! |---|---|
//! | `x-cairn-internal-sse` | `SSE-S3`, `SSE-KMS` or `SSE-C` |
//! | `x-cairn-internal-sse-key-id` | KMS key name (SSE-S3, SSE-KMS) |
//! | `x-cairn-internal-sse-data-key` | the KMS data key, sealed by the KMS |
//! | `x-cairn-internal-sse-kms-context` | SSE-KMS: the client's context, JSON |
//! | `x-cairn-internal-sse-object-key` | the object key sealed by the data key or the SSE-C key |
//!
//! (The object layer keeps the plaintext size beside it, `x-cairn-internal-content-size`.)
//! Multipart uploads carry the same headers in their upload record from
//! CreateMultipartUpload, so every part is sealed under the one object key.

use super::CryptoError;
use super::kms::Context;
use std::collections::BTreeMap;

const KIND: &str = "x-cairn-internal-sse";
const KEY_ID: &str = "x-cairn-internal-sse-key-id";
const DATA_KEY: &str = "x-cairn-internal-sse-data-key";
const CONTEXT: &str = "x-cairn-internal-sse-kms-context";
const OBJECT_KEY: &str = "x-cairn-internal-sse-object-key";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    S3,
    Kms,
    C,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::S3 => "SSE-S3",
            Kind::Kms => "SSE-KMS",
            Kind::C => "SSE-C",
        }
    }
}

/// An object's (or an upload's) encryption record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub kind: Kind,
    /// KMS key name and sealed data key (SSE-S3, SSE-KMS).
    pub kms: Option<(String, String)>,
    /// SSE-KMS: the client's encryption context.
    pub context: Context,
    pub sealed_object_key: String,
}

fn corrupt(what: &'static str) -> CryptoError {
    CryptoError::Corrupt(what)
}

impl Stored {
    /// The record in `headers`, if the object is encrypted.
    pub fn from_headers(h: &BTreeMap<String, String>) -> Result<Option<Self>, CryptoError> {
        let Some(kind) = h.get(KIND) else {
            return Ok(None);
        };
        let kind = match kind.as_str() {
            "SSE-S3" => Kind::S3,
            "SSE-KMS" => Kind::Kms,
            "SSE-C" => Kind::C,
            _ => return Err(corrupt("unknown encryption kind")),
        };
        let sealed_object_key = h
            .get(OBJECT_KEY)
            .cloned()
            .ok_or_else(|| corrupt("no sealed object key"))?;
        let kms = match kind {
            Kind::C => None,
            _ => Some((
                h.get(KEY_ID).cloned().ok_or_else(|| corrupt("no key id"))?,
                h.get(DATA_KEY)
                    .cloned()
                    .ok_or_else(|| corrupt("no data key"))?,
            )),
        };
        let context = match h.get(CONTEXT) {
            Some(c) => serde_json::from_str(c).map_err(|_| corrupt("unreadable KMS context"))?,
            None => Context::new(),
        };
        Ok(Some(Self {
            kind,
            kms,
            context,
            sealed_object_key,
        }))
    }

    /// Writes the record into `headers`, replacing any earlier one.
    pub fn store(&self, h: &mut BTreeMap<String, String>) {
        strip(h);
        h.insert(KIND.into(), self.kind.name().into());
        h.insert(OBJECT_KEY.into(), self.sealed_object_key.clone());
        if let Some((id, dk)) = &self.kms {
            h.insert(KEY_ID.into(), id.clone());
            h.insert(DATA_KEY.into(), dk.clone());
        }
        if !self.context.is_empty() {
            h.insert(
                CONTEXT.into(),
                serde_json::to_string(&self.context).unwrap_or_default(),
            );
        }
    }
}

/// Removes an encryption record (a copy gets its own).
pub fn strip(h: &mut BTreeMap<String, String>) {
    for k in [KIND, KEY_ID, DATA_KEY, CONTEXT, OBJECT_KEY] {
        h.remove(k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_strip_leaves_other_headers() {
        for s in [
            Stored {
                kind: Kind::S3,
                kms: Some(("k".into(), "v1:dk".into())),
                context: Context::new(),
                sealed_object_key: "v1:ok".into(),
            },
            Stored {
                kind: Kind::Kms,
                kms: Some(("k".into(), "v1:dk".into())),
                context: Context::from([("a".into(), "b".into())]),
                sealed_object_key: "v1:ok".into(),
            },
            Stored {
                kind: Kind::C,
                kms: None,
                context: Context::new(),
                sealed_object_key: "v1:ok".into(),
            },
        ] {
            let mut h = BTreeMap::from([("content-type".to_string(), "x".to_string())]);
            s.store(&mut h);
            assert_eq!(Stored::from_headers(&h).unwrap(), Some(s));
            strip(&mut h);
            assert_eq!(h.len(), 1);
        }
        let broken = BTreeMap::from([(KIND.to_string(), "SSE-S3".to_string())]);
        assert!(Stored::from_headers(&broken).is_err());
    }
}
