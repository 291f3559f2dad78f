//! The tenant's three Services.
//!
//! * `<tenant>-hl`, headless, publishing not-ready pods too: it gives every pod the DNS
//!   name the endpoint list uses (`<pod>.<tenant>-hl.<ns>.svc.<domain>`), and the servers
//!   must find each other before any of them is ready.
//! * The S3 Service (default `minio`). **Port choice:** it listens on MinIO's port — 443
//!   with TLS, 80 without, as MinIO's operator does — *and* on 9000, the server's own port.
//!   443/80 keeps configs written for a MinIO tenant (`https://minio.<ns>.svc.cluster.local`)
//!   working unchanged; 9000 keeps configs that name the server port
//!   (`http(s)://minio.<ns>.svc.cluster.local:9000`, as the Matrix stack's Synapse and
//!   CloudNativePG configs do) working too. Both ports lead to the same container port, so
//!   there is nothing to keep in sync. The scheme follows the tenant: `https` with TLS.
//! * `<tenant>-console`: 9443 with TLS, 9090 without, as MinIO's operator.
//!
//! All three select every server pod of the tenant (all pools), by the tenant label only.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Context;
use super::names::{LABEL_SERVICE, tenant_labels, tenant_selector};
use super::statefulset::{CONSOLE_PORT_NAME, S3_PORT, S3_PORT_NAME, console_port};

/// Port of the S3 Service in MinIO's style: 443 with TLS, 80 without.
pub fn s3_service_port(tls: bool) -> i32 {
    if tls { 443 } else { 80 }
}

fn port(name: String, port: i32, target: &str) -> ServicePort {
    ServicePort {
        name: Some(name),
        port,
        target_port: Some(IntOrString::String(target.to_string())),
        protocol: Some("TCP".to_string()),
        ..ServicePort::default()
    }
}

fn labels(
    ctx: &Context<'_>,
    role: &str,
    extra: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = extra.cloned().unwrap_or_default();
    labels.extend(tenant_labels(&ctx.names.tenant));
    labels.insert(LABEL_SERVICE.to_string(), role.to_string());
    labels
}

/// The headless, S3 and console Services.
pub(crate) fn services(ctx: &Context<'_>) -> Vec<Service> {
    let spec = &ctx.tenant.spec;
    let tls = ctx.tls.enabled();
    let scheme = if tls { "https" } else { "http" };
    let metadata = spec.service_metadata.as_ref();
    let selector = Some(tenant_selector(&ctx.names.tenant));
    let service_type =
        |exposed: bool| Some(if exposed { "LoadBalancer" } else { "ClusterIP" }.to_string());

    let headless = Service {
        metadata: ctx.meta(ctx.names.headless_service(), labels(ctx, "headless", None)),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            selector: selector.clone(),
            ports: Some(vec![port(format!("{scheme}-minio"), S3_PORT, S3_PORT_NAME)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };

    let mut s3_meta = ctx.meta(
        ctx.names.s3_service.clone(),
        labels(
            ctx,
            "s3",
            metadata.and_then(|m| m.minio_service_labels.as_ref()),
        ),
    );
    s3_meta.annotations = metadata.and_then(|m| m.minio_service_annotations.clone());
    let s3 = Service {
        metadata: s3_meta,
        spec: Some(ServiceSpec {
            type_: service_type(spec.expose_s3()),
            selector: selector.clone(),
            ports: Some(vec![
                port(
                    format!("{scheme}-minio"),
                    s3_service_port(tls),
                    S3_PORT_NAME,
                ),
                port(format!("{scheme}-s3"), S3_PORT, S3_PORT_NAME),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };

    let mut console_meta = ctx.meta(
        ctx.names.console_service(),
        labels(
            ctx,
            "console",
            metadata.and_then(|m| m.console_service_labels.as_ref()),
        ),
    );
    console_meta.annotations = metadata.and_then(|m| m.console_service_annotations.clone());
    let console = Service {
        metadata: console_meta,
        spec: Some(ServiceSpec {
            type_: service_type(spec.expose_console()),
            selector,
            ports: Some(vec![port(
                format!("{scheme}-console"),
                console_port(tls),
                CONSOLE_PORT_NAME,
            )]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };

    vec![headless, s3, console]
}
