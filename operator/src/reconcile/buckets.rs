//! Step 6 of a reconcile, provisioning: the buckets of `spec.buckets` are created once the
//! tenant has write quorum (idempotently, see [`crate::provision`]). Users follow in
//! [`super::users`].

use kube::runtime::events::EventType;

use super::inputs::Inputs;
use super::{Context, health};
use crate::crd::Tenant;
use crate::provision;

/// What provisioning found, for the status.
pub(super) struct Buckets {
    /// Buckets of the spec.
    pub wanted: Vec<String>,
    /// Buckets that exist.
    pub provisioned: Vec<String>,
    /// Buckets that failed, with the error.
    pub failures: Vec<String>,
}

/// Creates the missing buckets when `write_ok`; otherwise reports what the status knew.
pub(super) async fn provision(
    tenant: &Tenant,
    ctx: &Context,
    inputs: &Inputs,
    write_ok: bool,
) -> Buckets {
    let spec = &tenant.spec;
    let already: Vec<String> = tenant
        .status
        .as_ref()
        .and_then(|s| s.provisioned_buckets.clone())
        .unwrap_or_default();
    let wanted: Vec<String> = spec
        .buckets
        .iter()
        .flatten()
        .map(|b| b.name.clone())
        .collect();
    let mut buckets = Buckets {
        provisioned: already
            .iter()
            .filter(|b| wanted.contains(b))
            .cloned()
            .collect(),
        wanted,
        failures: Vec::new(),
    };
    if !write_ok {
        return buckets;
    }
    let auto_tls = inputs.observed.auto_tls.as_ref();
    let Ok(api) = health::connect(ctx, tenant, &inputs.names, &inputs.secrets, auto_tls) else {
        return buckets;
    };
    let report = provision::provision(api.as_ref(), spec, &already).await;
    // One Event per pass: the recorder folds Events of the same reason into a series that
    // keeps only the first message.
    if !report.created.is_empty() {
        ctx.event(
            tenant,
            EventType::Normal,
            "BucketsCreated",
            "CreateBucket",
            format!("created bucket(s) {}", report.created.join(", ")),
        )
        .await;
    }
    for (bucket, e) in &report.failed {
        buckets.failures.push(format!("bucket {bucket}: {e}"));
    }
    if !buckets.failures.is_empty() {
        ctx.event(
            tenant,
            EventType::Warning,
            "BucketCreationFailed",
            "CreateBucket",
            format!("cannot create {}", buckets.failures.join("; ")),
        )
        .await;
    }
    buckets.provisioned = report.provisioned;
    buckets
}
