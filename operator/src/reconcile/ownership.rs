//! Step 3b of a reconcile: never apply over an object that something else controls.
//!
//! Every object is applied with forced server-side apply, which would silently take over
//! an object of the same name: the default S3 Service `minio` of a second Tenant in the
//! namespace, a `<tenant>-tls` Secret made by hand, a Service of another controller. So,
//! before anything is applied, each rendered object is looked up by name (a GET of its
//! metadata only, so the data of a foreign Secret is never read). One that exists and
//! whose controlling owner reference is not this Tenant (by uid) is a [`Conflict`]; with
//! any conflict the reconcile applies nothing, reports `Ready=False`
//! (`ObjectOwnedByOther`) and a Warning Event naming the object and its owner, and retries
//! with backoff until the other object is gone or renamed.

use std::fmt;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, DynamicObject};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::apply::service_monitor_resource;
use super::{Context, Error};
use crate::render::Rendered;

/// Reason of the `Ready=False` condition and of the Event.
pub const REASON: &str = super::status::OBJECT_OWNED_BY_OTHER;

/// A rendered object whose name is taken by an object this Tenant does not control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub kind: &'static str,
    pub name: String,
    /// Its controller, in words (`Tenant other (uid …)`, or that it has none).
    pub owner: String,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} is controlled by {}",
            self.kind, self.name, self.owner
        )
    }
}

/// `None` when `meta` is controlled by the object of uid `owner_uid`; otherwise who
/// controls it, in words.
pub fn foreign_controller(meta: &ObjectMeta, owner_uid: &str) -> Option<String> {
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    match controller {
        Some(o) if o.uid == owner_uid => None,
        Some(o) => Some(format!("{} {} (uid {})", o.kind, o.name, o.uid)),
        None => Some("no controller (it was not created by this operator)".to_string()),
    }
}

/// Whether `meta` is controlled by the object of uid `owner_uid`.
pub fn controlled_by(meta: &ObjectMeta, owner_uid: &str) -> bool {
    foreign_controller(meta, owner_uid).is_none()
}

/// The rendered objects that exist and are controlled by something other than the Tenant
/// of uid `tenant_uid`, in apply order.
pub(super) async fn conflicts(
    ctx: &Context,
    namespace: &str,
    rendered: &Rendered,
    tenant_uid: &str,
) -> Result<Vec<Conflict>, Error> {
    let client = &ctx.client;
    let mut found = Vec::new();
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    check(
        &secrets,
        "Secret",
        rendered.secrets.iter().map(|o| o.name_any()).collect(),
        tenant_uid,
        &mut found,
    )
    .await?;
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    check(
        &config_maps,
        "ConfigMap",
        rendered.config_maps.iter().map(|o| o.name_any()).collect(),
        tenant_uid,
        &mut found,
    )
    .await?;
    let services: Api<Service> = Api::namespaced(client.clone(), namespace);
    check(
        &services,
        "Service",
        rendered.services.iter().map(|o| o.name_any()).collect(),
        tenant_uid,
        &mut found,
    )
    .await?;
    let statefulsets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let sts = rendered
        .stateful_sets
        .iter()
        .map(|o| o.name_any())
        .collect();
    check(&statefulsets, "StatefulSet", sts, tenant_uid, &mut found).await?;
    let pdbs: Api<PodDisruptionBudget> = Api::namespaced(client.clone(), namespace);
    let budgets = rendered
        .pod_disruption_budgets
        .iter()
        .map(|o| o.name_any())
        .collect();
    check(
        &pdbs,
        "PodDisruptionBudget",
        budgets,
        tenant_uid,
        &mut found,
    )
    .await?;
    if let Some(monitor) = &rendered.service_monitor {
        let monitors: Api<DynamicObject> =
            Api::namespaced_with(client.clone(), namespace, &service_monitor_resource());
        // The rendered ServiceMonitor is plain JSON (its CRD may not be installed).
        let name = monitor["metadata"]["name"]
            .as_str()
            .map(str::to_string)
            .into_iter()
            .collect();
        check(&monitors, "ServiceMonitor", name, tenant_uid, &mut found).await?;
    }
    Ok(found)
}

/// Looks up each of `objects` by name and records the ones controlled by another.
async fn check<K>(
    api: &Api<K>,
    kind: &'static str,
    names: Vec<String>,
    tenant_uid: &str,
    found: &mut Vec<Conflict>,
) -> Result<(), Error>
where
    K: Resource + Clone + DeserializeOwned + fmt::Debug,
{
    for name in names {
        let Some(existing) = api.get_metadata_opt(&name).await? else {
            continue;
        };
        if let Some(owner) = foreign_controller(existing.meta(), tenant_uid) {
            found.push(Conflict { kind, name, owner });
        }
    }
    Ok(())
}

/// The conflicts in one message, with what to do about them.
pub fn message(conflicts: &[Conflict]) -> String {
    let list = conflicts
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    format!(
        "{list}; this Tenant would take it over, so nothing was applied: delete or rename the \
         other object, or give this Tenant other names (metadata.name, spec.s3ServiceName)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn owned(uid: &str, controller: Option<bool>) -> ObjectMeta {
        ObjectMeta {
            owner_references: Some(vec![OwnerReference {
                api_version: "cairn.dev/v1alpha1".into(),
                kind: "Tenant".into(),
                name: "first".into(),
                uid: uid.into(),
                controller,
                block_owner_deletion: None,
            }]),
            ..ObjectMeta::default()
        }
    }

    #[test]
    fn only_the_controlling_owner_of_the_same_uid_counts_as_ours() {
        assert!(controlled_by(&owned("u1", Some(true)), "u1"));
        assert_eq!(
            foreign_controller(&owned("u1", Some(true)), "u2").as_deref(),
            Some("Tenant first (uid u1)")
        );
        // An owner reference that is not the controller does not make it ours.
        assert!(!controlled_by(&owned("u1", None), "u1"));
        assert!(
            foreign_controller(&ObjectMeta::default(), "u1")
                .unwrap()
                .starts_with("no controller")
        );
    }
}
