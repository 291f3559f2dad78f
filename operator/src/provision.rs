//! Provisioning of buckets: once a tenant is healthy, create what `spec.buckets` asks for,
//! through the tenant's S3 API. (Policies and users: `reconcile::users`, through the
//! admin API.)
//!
//! Buckets are created with a SigV4-signed `PUT /<bucket>` as the root user; an existing
//! bucket (`BucketAlreadyOwnedByYou`) counts as provisioned, so running this again is
//! harmless.

use crate::crd::TenantSpec;
use crate::tenant::{BucketOutcome, TenantApi, TenantError};

/// What one provisioning pass did.
#[derive(Debug, Default)]
pub struct Report {
    /// Buckets of the spec that exist now (created in this pass or before), in spec order.
    pub provisioned: Vec<String>,
    /// Buckets created in this pass.
    pub created: Vec<String>,
    /// Buckets that could not be created, with the reason.
    pub failed: Vec<(String, TenantError)>,
}

/// Creates every bucket of `spec` that is not in `already` (the status' list).
pub async fn provision(api: &dyn TenantApi, spec: &TenantSpec, already: &[String]) -> Report {
    let mut report = Report::default();
    for bucket in spec.buckets.iter().flatten() {
        if already.contains(&bucket.name) {
            report.provisioned.push(bucket.name.clone());
            continue;
        }
        match api
            .create_bucket(
                &bucket.name,
                bucket.region.as_deref(),
                bucket.object_lock == Some(true),
            )
            .await
        {
            Ok(BucketOutcome::Created) => {
                report.created.push(bucket.name.clone());
                report.provisioned.push(bucket.name.clone());
            }
            Ok(BucketOutcome::AlreadyOwned) => report.provisioned.push(bucket.name.clone()),
            Err(e) => report.failed.push((bucket.name.clone(), e)),
        }
    }
    report
}
