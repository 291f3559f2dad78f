//! Wire format of MinIO's admin API v3 (`/minio/admin/v3/...`) for identity management,
//! shared by the server that serves these calls, the `cairn admin` CLI and the operator.
//!
//! - [`crypt`]: madmin's encrypted bodies (Argon2id + sio-go stream of AES-GCM packages).
//! - [`types`]: the JSON bodies, with MinIO's field names.
//! - [`paths`]: each call's path, method, query parameters and which bodies are encrypted.
//!
//! A pure library: no I/O, no async runtime, no HTTP client.

pub mod crypt;
