//! Wire format of MinIO's admin API v3 (`/minio/admin/v3/...`) for identity management,
//! shared by the server that serves these calls, the `cairn admin` CLI and the operator.
//! A pure library: no I/O, no async runtime, no HTTP client.
//!
//! - [`crypt`]: madmin's encrypted bodies (Argon2id key, sio-go stream of AES-256-GCM or
//!   ChaCha20-Poly1305 packages), keyed by the **requester's secret key**.
//! - [`types`]: the JSON bodies, with MinIO's field names and omissions.
//! - [`paths`]: each call's path, method, query and body kinds, as data ([`paths::Call`]).
//!
//! Requests are signed with SigV4 (service `s3`) like S3 requests. Errors are JSON
//! [`types::ErrorResponse`] bodies with a 4xx/5xx status. "enc" below means the body is
//! [`crypt::encrypt`]ed JSON (a server reads request bodies with
//! [`crypt::decrypt_with_limit`] and [`crypt::MAX_ENCRYPTED_REQUEST_LEN`]).
//!
//! | call (after `/minio/admin/v3/`) | method | query (required; *optional*) | request body | response body (status) |
//! |---|---|---|---|---|
//! | `add-user` | PUT | `accessKey` | enc `AddOrUpdateUserReq` | none (200) |
//! | `remove-user` | DELETE | `accessKey` | none | none (200) |
//! | `user-info` | GET | `accessKey` | none | JSON `UserInfo` (200) |
//! | `list-users` | GET | *`bucket`* | none | enc `UserList` (200) |
//! | `set-user-status` | PUT | `accessKey`, `status` (`enabled`/`disabled`) | none | none (200) |
//! | `update-group-members` | PUT | — | JSON `GroupAddRemove` | none (200) |
//! | `group` | GET | `group` | none | JSON `GroupDesc` (200) |
//! | `groups` | GET | — | none | JSON `GroupList` (200) |
//! | `set-group-status` | PUT | `group`, `status` | none | none (200) |
//! | `add-canned-policy` | PUT | `name` | JSON policy document | none (200) |
//! | `remove-canned-policy` | DELETE | `name` | none | none (200) |
//! | `info-canned-policy` | GET | `name`; *`v`* | none | JSON `PolicyInfo` if `v=2`, else the policy document (200) |
//! | `list-canned-policies` | GET | *`bucket`* | none | JSON `CannedPolicies` (200) |
//! | `set-user-or-group-policy` | PUT | `policyName`, `userOrGroup`, `isGroup` | none | none (200) |
//! | `idp/builtin/policy/attach` | POST | — | enc `PolicyAssociationReq`, `Content-Type: application/octet-stream` | enc `PolicyAssociationResp` (200) |
//! | `idp/builtin/policy/detach` | POST | — | same | same |
//! | `idp/builtin/policy-entities` | GET | *`user`*, *`group`*, *`policy`* (each repeatable) | none | enc `PolicyEntitiesResult` (200) |
//! | `add-service-account` | PUT | — | enc `AddServiceAccountReq` | enc `AddServiceAccountResp` (200) |
//! | `update-service-account` | POST | `accessKey` | enc `UpdateServiceAccountReq` | none (**204**) |
//! | `info-service-account` | GET | `accessKey` | none | enc `InfoServiceAccountResp` (200) |
//! | `list-service-accounts` | GET | *`user`* | none | enc `ListServiceAccountsResp` (200) |
//! | `delete-service-account` | DELETE | `accessKey` | none | none (**204**) |
//! | `accountinfo` | GET | *`prefix-usage`* | none | JSON `AccountInfo` (200) |
//!
//! Notes for implementers:
//! - `set-user-or-group-policy` is deprecated in madmin-go (removed from its client in
//!   2025) but minio-py 7.2's `policy_set` still calls it; it replaces the entity's
//!   policies with `policyName` (comma-separated).
//! - minio-py calls `info-canned-policy` without `v`, madmin-go with `v=2`; any other
//!   `v` is an error in MinIO.
//! - Service-account statuses are `on`/`off`; user and group statuses `enabled`/`disabled`.
//! - minio-py accepts 201/204 with no body from attach/detach (older servers); madmin-go
//!   too. Answer 200 with the encrypted response.

pub mod crypt;
pub mod paths;
pub mod types;
