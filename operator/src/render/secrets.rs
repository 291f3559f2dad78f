//! Secrets in and out: reading the ones a Tenant references, and the generated TLS Secrets
//! and CA ConfigMap.
//!
//! Three objects carry the generated certificates, so that each reader sees only what it
//! needs:
//! * `<tenant>-tls` (`kubernetes.io/tls`: `tls.crt`, `tls.key`, `ca.crt`), mounted by the
//!   servers;
//! * `<tenant>-ca` (Secret and ConfigMap, `ca.crt` only), for clients that must trust the
//!   tenant: CloudNativePG's `endpointCA` takes a Secret, most others can mount either;
//! * `<tenant>-ca-key` (`ca.crt`, `ca.key`), read only by the operator to issue and renew
//!   server certificates.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

use super::Context;
use super::names::tenant_labels;
use crate::tls::TlsMaterial;

/// The Secret `name` in `namespace`, if given.
pub fn find<'a>(secrets: &'a [Secret], namespace: &str, name: &str) -> Option<&'a Secret> {
    secrets.iter().find(|s| {
        s.metadata.name.as_deref() == Some(name)
            && s.metadata.namespace.as_deref() == Some(namespace)
    })
}

/// A Secret's content as the pods will see it: `data` with `stringData` on top (the API
/// server merges them the same way when the Secret is written).
pub fn secret_data(secret: &Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect();
    for (k, v) in secret.string_data.iter().flatten() {
        out.insert(k.clone(), v.as_bytes().to_vec());
    }
    out
}

fn bytes(text: &str) -> ByteString {
    ByteString(text.as_bytes().to_vec())
}

/// `<tenant>-tls`, `<tenant>-ca` and `<tenant>-ca-key`.
pub(crate) fn tls_secrets(ctx: &Context<'_>, material: &TlsMaterial) -> Vec<Secret> {
    let labels = tenant_labels(&ctx.names.tenant);
    let secret = |name: String, type_: &str, data: Vec<(&str, &str)>| Secret {
        metadata: ctx.meta(name, labels.clone()),
        type_: Some(type_.to_string()),
        data: Some(
            data.into_iter()
                .map(|(k, v)| (k.to_string(), bytes(v)))
                .collect(),
        ),
        ..Secret::default()
    };
    vec![
        secret(
            ctx.names.tls_secret(),
            "kubernetes.io/tls",
            vec![
                ("tls.crt", &material.cert_pem),
                ("tls.key", &material.key_pem),
                ("ca.crt", &material.ca_cert_pem),
            ],
        ),
        secret(
            ctx.names.ca_public(),
            "Opaque",
            vec![("ca.crt", &material.ca_cert_pem)],
        ),
        secret(
            ctx.names.ca_key_secret(),
            "Opaque",
            vec![
                ("ca.crt", &material.ca_cert_pem),
                ("ca.key", &material.ca_key_pem),
            ],
        ),
    ]
}

/// ConfigMap `<tenant>-ca` with the CA certificate.
pub(crate) fn ca_config_map(ctx: &Context<'_>, material: &TlsMaterial) -> ConfigMap {
    ConfigMap {
        metadata: ctx.meta(ctx.names.ca_public(), tenant_labels(&ctx.names.tenant)),
        data: Some(BTreeMap::from([(
            "ca.crt".to_string(),
            material.ca_cert_pem.clone(),
        )])),
        ..ConfigMap::default()
    }
}
