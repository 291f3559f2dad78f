//! `accountinfo` (GET, JSON in clear): what the calling identity is and may reach, as
//! MinIO's AccountInfoHandler answers it. Any identity may ask about itself; no admin
//! action is needed.
//!
//! 1. `AccountName`: the user whose permissions apply (the parent of a service account
//!    or session).
//! 2. `Policy`: that user's effective identity policy, merged into one document
//!    (`consoleAdmin` for root), as MinIO, which ignores a service account's or
//!    session's narrowing policy here.
//! 3. `Buckets`: every bucket the caller may read (s3:ListBucket or
//!    s3:GetBucketLocation on it) or write (s3:PutObject in it), decided by the caller's
//!    identity policies within its narrowing policy (bucket policies are not consulted,
//!    as in MinIO), with the condition values MinIO sets (`s3:prefix` empty,
//!    `s3:delimiter` `/`).
//! 4. `Server`: the erasure layout per pool.
//!
//! Sizes, object counts and the object-size histogram come from the scanner's last
//! complete data-usage figures ([`crate::heal::usage`]), as MinIO's come from its usage
//! cache: 0 for a bucket no scan has seen yet. Versions equal objects (no versioning).
//! Versioning, replication, tags and quotas do not exist in Cairn and are reported off;
//! `locking` is the bucket's object-lock flag.

use super::effective::effective_policy;
use super::{Ctx, clear, time};
use crate::admin::{AdminService, ApiError};
use crate::body::RespBody;
use crate::iam::Caller;
use cairn_madmin::types::{
    AccountAccess, AccountInfo, BACKEND_ERASURE, BackendInfo, BucketAccessInfo, BucketDetails,
};
use http::{Response, StatusCode};

pub(super) async fn info(ctx: &Ctx<'_>) -> Result<Response<RespBody>, ApiError> {
    let buckets = ctx.svc.objects.list_buckets().await.map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "XMinioServerNotInitialized",
            format!("cannot list buckets: {e}"),
        )
    })?;
    let snap = ctx.svc.iam.snapshot();
    let account_name = ctx.caller.user.clone();
    let policy = effective_policy(&snap.state, ctx.root(), &account_name);
    let names = buckets.iter().map(|b| b.name.clone()).collect();
    let usage = crate::heal::usage::load(&ctx.svc.objects, Some(&names)).await;
    let mut reachable = Vec::new();
    for b in buckets {
        let access = access(&ctx.caller, &b.name);
        if !(access.read || access.write) {
            continue;
        }
        let used = usage.buckets.get(&b.name).cloned().unwrap_or_default();
        let histogram = used
            .histogram()
            .into_iter()
            .map(|(range, n)| (range.to_string(), n))
            .collect();
        reachable.push(BucketAccessInfo {
            name: b.name.clone(),
            size: used.size,
            objects: used.objects,
            versions: used.objects,
            object_histogram: Some(histogram),
            created: time(b.created_ms),
            details: Some(BucketDetails {
                locking: b.object_lock,
                ..Default::default()
            }),
            access,
            ..Default::default()
        });
    }
    Ok(clear(&AccountInfo {
        account_name,
        server: backend(ctx.svc),
        policy,
        buckets: reachable,
    }))
}

/// May `caller` read (list) and write (put objects in) `bucket`?
fn access(caller: &Caller, bucket: &str) -> AccountAccess {
    let mut values = cairn_policy::Values::new();
    caller.describe(&mut values);
    values.insert("s3:prefix", "");
    values.insert("s3:delimiter", "/");
    let principal = caller.principal();
    let may = |action: &str, key: Option<&str>| {
        let mut req = cairn_policy::Request::new(action, &values).with_bucket(bucket);
        if let Some(k) = key {
            req = req.with_key(k);
        }
        if let Some(p) = principal.as_ref() {
            req = req.with_caller(p);
        }
        caller.is_allowed(&req, None)
    };
    AccountAccess {
        read: may("s3:ListBucket", None) || may("s3:GetBucketLocation", None),
        // MinIO asks with an empty object name: the resource `bucket/`, which
        // `arn:aws:s3:::bucket/*` covers.
        write: may("s3:PutObject", Some("")),
    }
}

/// The erasure layout, one entry per pool (every object is stored with the standard
/// class: Cairn has no reduced-redundancy class, so it reports the same numbers).
fn backend(svc: &AdminService) -> BackendInfo {
    let mut b = BackendInfo {
        backend_type: BACKEND_ERASURE,
        ..Default::default()
    };
    for pool in &svc.objects.pools {
        let Some(first) = pool.sets.first() else {
            continue;
        };
        let data = first.geometry.data as i64;
        let parity = first.geometry.parity as i64;
        b.standard_sc_data.push(data);
        b.standard_sc_parities.push(parity);
        b.rrsc_data.push(data);
        b.rrsc_parities.push(parity);
        b.total_sets.push(pool.sets.len() as i64);
        b.drives_per_set.push(first.drives.len() as i64);
    }
    b.standard_sc_parity = b.standard_sc_parities.first().copied().unwrap_or(0);
    b.rrsc_parity = b.standard_sc_parity;
    b
}
