//! Step 6 of a reconcile, the tenant's health: how the operator reaches the running tenant
//! (its S3 Service, the tenant's CA, the root credentials of the configuration Secret), and
//! the probe of `/minio/health/cluster[/read]` and, when the server has it,
//! `/cairn/admin/v1/info`.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;

use super::{Context, key};
use crate::config_env::{self, ServerSettings};
use crate::crd::Tenant;
use crate::render::{self, CONFIG_ENV_KEY, secret_data};
use crate::tenant::{
    AdminInfo, ClusterHealth, Credentials, TenantApi, TenantEndpoint, TenantError,
};

/// The health of the tenant: `None` when not asked (no server ready), then the admin info
/// when the server has the endpoint.
pub(super) type Health = (Option<Result<ClusterHealth, String>>, Option<AdminInfo>);

/// How the operator reaches the tenant: its S3 Service, with the tenant's CA and the root
/// credentials of the configuration Secret.
pub fn tenant_endpoint(
    tenant: &Tenant,
    names: &render::names::Names,
    secrets: &[Secret],
    auto_tls: Option<&crate::tls::TlsMaterial>,
) -> Option<TenantEndpoint> {
    let spec = &tenant.spec;
    let config = spec
        .configuration_secret()
        .and_then(|n| render::secrets::find(secrets, &names.namespace, n))
        .map(secret_data)?;
    let text = String::from_utf8(config.get(CONFIG_ENV_KEY)?.clone()).ok()?;
    let file = config_env::parse(&text).ok()?;
    let literal_env: Vec<(String, String)> = spec
        .env
        .iter()
        .flatten()
        .filter_map(|e| Some((e.name.clone(), e.value.clone()?)))
        .collect();
    let settings = ServerSettings::resolve(&file, &literal_env);
    let region = ["CAIRN_REGION", "MINIO_REGION", "MINIO_SITE_REGION"]
        .iter()
        .find_map(|k| {
            literal_env
                .iter()
                .chain(file.iter())
                .find(|(n, v)| n == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        })
        .unwrap_or_else(|| "us-east-1".to_string());
    let ca_pem = if let Some(m) = auto_tls {
        Some(m.ca_cert_pem.clone())
    } else if let Some(external) = spec.external_cert() {
        let mut pems = Vec::new();
        for (secret, keys) in std::iter::once((external.name.as_str(), ["ca.crt", "ca.crt"])).chain(
            spec.external_ca_cert_secret
                .iter()
                .flatten()
                .map(|c| (c.name.as_str(), ["ca.crt", "public.crt"])),
        ) {
            if let Some(s) = render::secrets::find(secrets, &names.namespace, secret) {
                let data = secret_data(s);
                if let Some(pem) = keys.iter().find_map(|k| data.get(*k)) {
                    pems.push(String::from_utf8_lossy(pem).to_string());
                }
            }
        }
        Some(pems.join("\n"))
    } else {
        None
    };
    let scheme = if spec.tls_enabled() { "https" } else { "http" };
    Some(TenantEndpoint {
        base_url: format!(
            "{scheme}://{}:{}",
            names.service_fqdn(&names.s3_service),
            render::statefulset::S3_PORT
        ),
        ca_pem,
        credentials: Credentials {
            access_key: settings.root_user?,
            secret_key: settings.root_password?,
        },
        region,
    })
}

/// The tenant's API, when the configuration Secret has root credentials.
pub(super) fn connect(
    ctx: &Context,
    tenant: &Tenant,
    names: &render::names::Names,
    secrets: &[Secret],
    auto_tls: Option<&crate::tls::TlsMaterial>,
) -> Result<Arc<dyn TenantApi>, TenantError> {
    let endpoint = tenant_endpoint(tenant, names, secrets, auto_tls).ok_or_else(|| {
        TenantError::Url("no root credentials in the configuration Secret".to_string())
    })?;
    ctx.connector.connect(endpoint)
}

/// Asks the tenant for its health; an error is part of the answer (the tenant is down),
/// not a failure of the reconcile.
pub(super) async fn probe(
    ctx: &Context,
    tenant: &Tenant,
    names: &render::names::Names,
    secrets: &[Secret],
    auto_tls: Option<&crate::tls::TlsMaterial>,
) -> Health {
    let api = match connect(ctx, tenant, names, secrets, auto_tls) {
        Ok(api) => api,
        Err(e) => return (Some(Err(e.to_string())), None),
    };
    match api.cluster_health().await {
        Err(e) => (Some(Err(e.to_string())), None),
        Ok(h) => {
            let admin = match api.admin_info().await {
                Ok(info) => info,
                Err(e) => {
                    tracing::info!(tenant = %key(tenant), "admin info unavailable: {e}");
                    None
                }
            };
            (Some(Ok(h)), admin)
        }
    }
}
