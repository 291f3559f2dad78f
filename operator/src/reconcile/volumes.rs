//! Growing volumes: a pool's `volumeClaimTemplate` storage went up.
//!
//! A StatefulSet's `volumeClaimTemplates` cannot be changed, so, as MinIO's operator does:
//! 1. every existing claim of the pool is patched to the new size, when its StorageClass
//!    has `allowVolumeExpansion: true` (otherwise nothing is touched and the condition
//!    `VolumesExpanded=False`, reason `StorageClassNotExpandable`, says which class);
//! 2. the StatefulSet is deleted with `propagationPolicy: Orphan` (its pods keep running)
//!    and applied again on the next reconcile with the new template, adopting the pods, so
//!    that claims made later (a replaced volume) get the new size too.
//!
//! Shrinking is refused (Kubernetes cannot shrink a volume).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use kube::{Client, ResourceExt};

use super::Error;
use crate::render::names::{LABEL_POOL, LABEL_TENANT};

/// What happened to a pool's volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expansion {
    /// Sizes unchanged.
    None,
    /// The growth cannot be done; the message says why and what to do.
    Refused(String),
    /// The StatefulSet is being replaced with the new template (`started`: just now).
    Replacing { message: String, started: bool },
}

/// Bytes of a Kubernetes quantity (`500Gi`, `1.5T`, `1000`); `None` when unreadable.
pub fn quantity_bytes(q: &str) -> Option<u128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (number, suffix) = q.split_at(split);
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole.checked_mul(multiplier)?;
    if !frac.is_empty() {
        let digits = u32::try_from(frac.len()).ok()?;
        let frac_value: u128 = frac.parse().ok()?;
        let scale = 10u128.checked_pow(digits)?;
        value = value.checked_add(frac_value.checked_mul(multiplier)? / scale)?;
    }
    Some(value)
}

fn claim_storage(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.clone())
}

fn template_storage(sts: &StatefulSet) -> Vec<Option<String>> {
    sts.spec
        .as_ref()
        .and_then(|s| s.volume_claim_templates.as_ref())
        .map(|t| t.iter().map(claim_storage).collect())
        .unwrap_or_default()
}

/// Compares the templates of `existing` and `desired` and expands the pool's claims.
pub async fn expand(
    client: &Client,
    claims: &Api<PersistentVolumeClaim>,
    statefulsets: &Api<StatefulSet>,
    existing: &StatefulSet,
    desired: &StatefulSet,
) -> Result<Expansion, Error> {
    let name = existing.name_any();
    if existing.metadata.deletion_timestamp.is_some() {
        return Ok(Expansion::Replacing {
            message: format!(
                "waiting for StatefulSet {name} to be replaced with the grown volume template"
            ),
            started: false,
        });
    }
    let old = template_storage(existing);
    let new = template_storage(desired);
    let Some(Some(new_size)) = new.first().cloned() else {
        return Ok(Expansion::None);
    };
    let Some(Some(old_size)) = old.first().cloned() else {
        return Ok(Expansion::None);
    };
    let (Some(new_bytes), Some(old_bytes)) = (quantity_bytes(&new_size), quantity_bytes(&old_size))
    else {
        return Ok(Expansion::None);
    };
    if new_bytes == old_bytes {
        return Ok(Expansion::None);
    }
    if new_bytes < old_bytes {
        return Ok(Expansion::Refused(format!(
            "StatefulSet {name}: volumes cannot shrink from {old_size} to {new_size}; restore \
             {old_size} in volumeClaimTemplate"
        )));
    }

    let (Some(tenant), Some(pool)) = (
        existing.labels().get(LABEL_TENANT),
        existing.labels().get(LABEL_POOL),
    ) else {
        return Ok(Expansion::None);
    };
    let selector = format!("{LABEL_TENANT}={tenant},{LABEL_POOL}={pool}");
    let pool_claims = claims
        .list(&ListParams::default().labels(&selector))
        .await?
        .items;
    let classes: Api<StorageClass> = Api::all(client.clone());
    let mut to_patch = Vec::new();
    for claim in &pool_claims {
        let current = claim_storage(claim)
            .and_then(|q| quantity_bytes(&q))
            .unwrap_or(0);
        if current >= new_bytes {
            continue;
        }
        let class_name = claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.clone());
        let Some(class_name) = class_name else {
            return Ok(Expansion::Refused(format!(
                "volume claim {} has no StorageClass, so it cannot be expanded to {new_size}",
                claim.name_any()
            )));
        };
        let allowed = classes
            .get_opt(&class_name)
            .await?
            .and_then(|c| c.allow_volume_expansion)
            .unwrap_or(false);
        if !allowed {
            return Ok(Expansion::Refused(format!(
                "StorageClass {class_name} does not allow volume expansion \
                 (allowVolumeExpansion is not true), so the volumes of StatefulSet {name} stay at \
                 {old_size}; enable expansion on the StorageClass, or restore {old_size} and add a \
                 pool to grow the tenant"
            )));
        }
        to_patch.push(claim.name_any());
    }
    for claim in &to_patch {
        let patch = serde_json::json!({"spec": {"resources": {"requests": {"storage": new_size}}}});
        claims
            .patch(claim, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    statefulsets.delete(&name, &DeleteParams::orphan()).await?;
    Ok(Expansion::Replacing {
        message: format!(
            "volumes of StatefulSet {name} grow from {old_size} to {new_size}: {} claim(s) \
             patched; the StatefulSet is re-created with the new template (its pods keep running)",
            to_patch.len()
        ),
        started: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(quantity_bytes("500Gi"), Some(500 << 30));
        assert_eq!(quantity_bytes("1.5Ti"), Some((3u128 << 40) / 2));
        assert_eq!(quantity_bytes("10G"), Some(10_000_000_000));
        assert_eq!(quantity_bytes("1024"), Some(1024));
        assert_eq!(quantity_bytes("5Xi"), None);
        assert_eq!(quantity_bytes(""), None);
        assert!(quantity_bytes("600Gi") > quantity_bytes("500Gi"));
    }
}
