//! Step 2 of a reconcile: read what rendering depends on. The Secrets the Tenant references
//! (configuration, external certificates, by name), the pools' StatefulSets (to refuse
//! shape changes), whether the ServiceMonitor CRD exists, the generated CA and server
//! certificate ([`super::tls`]), and the ServiceMonitor's bearer token (the stored one
//! while the root credentials are unchanged, [`crate::prometheus_token`]). Only objects
//! this Tenant controls count as its own: a StatefulSet or `<tenant>-tls` Secret made by
//! someone else is neither read as the tenant's state nor adopted ([`super::ownership`]
//! refuses to apply over it).

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Client, Resource, ResourceExt};

use super::health::tenant_endpoint;
use super::ownership::controlled_by;
use super::{Context, Error, is_not_found, tenant_selector, tls};
use crate::crd::validate::ExistingPool;
use crate::crd::{CertificateStatus, Tenant};
use crate::prometheus_token::{self, PrometheusToken};
use crate::render::names::{LABEL_POOL, Names};
use crate::render::{self, Observed, secret_data};

/// What one reconcile read before rendering.
pub(super) struct Inputs {
    pub namespace: String,
    pub names: Names,
    /// The Secrets the Tenant references that exist.
    pub secrets: Vec<Secret>,
    /// The tenant's StatefulSets, as they are now.
    pub statefulsets: Vec<StatefulSet>,
    pub observed: Observed,
    /// The generated certificates, with auto TLS.
    pub certificates: Option<CertificateStatus>,
    /// Why a certificate was just issued, and whether with a new CA (for the Event).
    pub tls_note: Option<(String, bool)>,
}

/// Reads the inputs of `tenant` (in `namespace`).
pub(super) async fn read(tenant: &Tenant, ctx: &Context, namespace: &str) -> Result<Inputs, Error> {
    let client = &ctx.client;
    let names = render::tenant_names(tenant, &ctx.settings)?;
    let uid = tenant.uid().ok_or(Error::Missing("uid"))?;
    let secrets_api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secrets = referenced_secrets(tenant, &secrets_api).await?;
    let sts_api: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let statefulsets = sts_api
        .list(&ListParams::default().labels(&tenant_selector(&names.tenant)))
        .await?
        .items
        .into_iter()
        .filter(|s| controlled_by(s.meta(), &uid))
        .collect::<Vec<_>>();
    let service_monitor_available = if tenant.spec.prometheus_operator() {
        service_monitor_available(client).await?
    } else {
        false
    };
    let ensured = if tenant.spec.auto_cert() {
        Some(certificates(tenant, &uid, &names, &secrets_api).await?)
    } else {
        None
    };
    let prometheus_token = if tenant.spec.prometheus_operator() {
        bearer_token(tenant, &uid, &names, &secrets, &secrets_api).await?
    } else {
        None
    };
    Ok(Inputs {
        namespace: namespace.to_string(),
        observed: Observed {
            existing_pools: existing_pools(&statefulsets),
            service_monitor_available,
            auto_tls: ensured.as_ref().map(|e| e.material.clone()),
            prometheus_token,
        },
        certificates: ensured.as_ref().map(|e| e.status.clone()),
        tls_note: ensured.and_then(|e| e.issued.map(|why| (why, e.new_ca))),
        names,
        secrets,
        statefulsets,
    })
}

/// The Secrets rendering reads, each by name (a GET, never a list): configuration,
/// external certificate and external CAs. Missing ones are left out (rendering says so).
async fn referenced_secrets(tenant: &Tenant, api: &Api<Secret>) -> Result<Vec<Secret>, Error> {
    let spec = &tenant.spec;
    let mut wanted: Vec<String> = Vec::new();
    wanted.extend(spec.configuration_secret().map(str::to_string));
    wanted.extend(spec.external_cert().map(|c| c.name.clone()));
    wanted.extend(
        spec.external_ca_cert_secret
            .iter()
            .flatten()
            .map(|c| c.name.clone()),
    );
    let mut secrets = Vec::new();
    for name in &wanted {
        if let Some(s) = api.get_opt(name).await? {
            secrets.push(s);
        }
    }
    Ok(secrets)
}

/// The pools that exist, to refuse shape changes.
fn existing_pools(statefulsets: &[StatefulSet]) -> Vec<ExistingPool> {
    statefulsets
        .iter()
        .filter(|s| s.meta().deletion_timestamp.is_none())
        .filter_map(|s| {
            let pool = s.labels().get(LABEL_POOL)?.clone();
            let spec = s.spec.as_ref()?;
            Some(ExistingPool {
                name: pool,
                servers: usize::try_from(spec.replicas.unwrap_or(1)).unwrap_or(0),
                volumes_per_server: spec.volume_claim_templates.as_ref().map_or(0, Vec::len),
            })
        })
        .collect()
}

/// Whether the ServiceMonitor CRD is installed (API discovery, which every authenticated
/// client may read).
async fn service_monitor_available(client: &Client) -> Result<bool, Error> {
    match client
        .list_api_group_resources("monitoring.coreos.com/v1")
        .await
    {
        Ok(list) => Ok(list.resources.iter().any(|r| r.kind == "ServiceMonitor")),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The CA and server certificate to apply: the stored ones while valid (and this Tenant's,
/// Tenant of uid `uid`), else new ones.
async fn certificates(
    tenant: &Tenant,
    uid: &str,
    names: &Names,
    secrets: &Api<Secret>,
) -> Result<tls::Ensured, Error> {
    let ours = |s: Option<Secret>| s.filter(|s| controlled_by(s.meta(), uid));
    let ca_key = ours(secrets.get_opt(&names.ca_key_secret()).await?);
    let current = ours(secrets.get_opt(&names.tls_secret()).await?);
    Ok(tls::ensure(
        names,
        tenant.spec.cert_config.as_ref(),
        ca_key.as_ref().map(secret_data).as_ref(),
        current.as_ref().map(secret_data).as_ref(),
        time::OffsetDateTime::now_utc(),
    )?)
}

/// The ServiceMonitor's bearer token: the one stored in `<tenant>-prometheus-token` (when
/// this Tenant, of uid `uid`, controls it) while it was signed with the current root
/// credentials, else a new one. `None` without root credentials in the configuration
/// Secret (rendering refuses such a spec anyway).
async fn bearer_token(
    tenant: &Tenant,
    uid: &str,
    names: &Names,
    referenced: &[Secret],
    secrets: &Api<Secret>,
) -> Result<Option<PrometheusToken>, Error> {
    let Some(endpoint) = tenant_endpoint(tenant, names, referenced, None) else {
        return Ok(None);
    };
    let name = names.prometheus_token_secret();
    let stored = secrets
        .get_opt(&name)
        .await?
        .filter(|s| controlled_by(s.meta(), uid));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (token, issued) = prometheus_token::ensure(&endpoint.credentials, stored.as_ref(), now);
    if issued {
        tracing::info!(
            tenant = %names.tenant,
            "issued a Prometheus bearer token from the root credentials (Secret {name})"
        );
    }
    Ok(Some(token))
}
