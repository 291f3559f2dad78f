//! Auto TLS: a private CA per tenant and a server certificate for every name the tenant is
//! reached by.
//!
//! Why a CA per tenant rather than one self-signed certificate: clients (boto3,
//! CloudNativePG's `endpointCA`, Prometheus) trust the CA once, and the server certificate
//! can then be renewed, or its names extended when a pool is added, without touching any
//! client. The CA key stays in a Secret only the operator reads (`<tenant>-ca-key`).
//!
//! The server certificate's names cover:
//! * every pod, through wildcards on the headless Service in all its forms
//!   (`*.<tenant>-hl.<ns>.svc.<domain>`, `*.<tenant>-hl.<ns>.svc`, `*.<tenant>-hl.<ns>`):
//!   the servers reach each other by these names, and a new pool needs no new certificate;
//! * the S3, console and headless Services in their short and long forms (`minio`,
//!   `minio.<ns>`, `minio.<ns>.svc`, `minio.<ns>.svc.<domain>`);
//! * `certConfig.dnsNames`.
//!
//! Keys are ECDSA P-256, which rustls (the server) and every client here accept. These are
//! pure functions of their inputs and the time given, apart from the random keys.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use thiserror::Error;
use time::{Duration, OffsetDateTime};

use crate::crd::CertificateConfig;
use crate::render::names::Names;

/// Lifetime of a generated CA.
pub const CA_VALIDITY: Duration = Duration::days(3650);
/// Lifetime of a generated server certificate.
pub const SERVER_VALIDITY: Duration = Duration::days(365);
/// How far back `notBefore` is set, so that a node whose clock is a little behind accepts
/// a certificate issued a moment ago.
const CLOCK_SKEW: Duration = Duration::minutes(5);

/// A tenant's CA and server certificate, PEM-encoded.
#[derive(Clone, PartialEq, Eq)]
pub struct TlsMaterial {
    /// CA certificate.
    pub ca_cert_pem: String,
    /// CA private key (PKCS#8).
    pub ca_key_pem: String,
    /// Server certificate.
    pub cert_pem: String,
    /// Server private key (PKCS#8).
    pub key_pem: String,
}

impl std::fmt::Debug for TlsMaterial {
    /// Keys are secrets: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_cert_pem", &self.ca_cert_pem)
            .field("cert_pem", &self.cert_pem)
            .finish_non_exhaustive()
    }
}

/// Why a certificate could not be made.
#[derive(Debug, Error)]
pub enum TlsError {
    #[error("cannot generate the tenant's certificate: {0}")]
    Rcgen(#[from] rcgen::Error),
}

/// The DNS names of the server certificate (see the module documentation), without
/// duplicates, in a stable order.
pub fn server_dns_names(names: &Names, config: Option<&CertificateConfig>) -> Vec<String> {
    let hl = names.headless_service();
    let ns = &names.namespace;
    let mut out = vec![
        format!("*.{hl}.{ns}.svc.{}", names.cluster_domain),
        format!("*.{hl}.{ns}.svc"),
        format!("*.{hl}.{ns}"),
    ];
    for service in [
        names.s3_service.clone(),
        names.console_service(),
        names.headless_service(),
    ] {
        out.extend(names.service_dns_names(&service));
    }
    out.extend(
        config
            .and_then(|c| c.dns_names.clone())
            .into_iter()
            .flatten(),
    );
    let mut seen = std::collections::BTreeSet::new();
    out.retain(|n| !n.is_empty() && seen.insert(n.clone()));
    out
}

/// The CA's parameters. Deterministic from the tenant, so that the issuer can be rebuilt
/// from the stored CA key alone when a server certificate is renewed.
fn ca_params(names: &Names, now: OffsetDateTime) -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "Cairn");
    dn.push(
        DnType::CommonName,
        format!("Cairn tenant CA {}/{}", names.namespace, names.tenant),
    );
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + CA_VALIDITY;
    params
}

/// A new CA for the tenant: `(certificate PEM, private key PEM)`.
pub fn generate_ca(names: &Names, now: OffsetDateTime) -> Result<(String, String), TlsError> {
    let key = KeyPair::generate()?;
    let cert = ca_params(names, now).self_signed(&key)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A new server certificate signed by the CA whose key is `ca_key_pem`:
/// `(certificate PEM, private key PEM)`.
pub fn issue_server_cert(
    names: &Names,
    config: Option<&CertificateConfig>,
    ca_key_pem: &str,
    now: OffsetDateTime,
) -> Result<(String, String), TlsError> {
    let ca_key = KeyPair::from_pem(ca_key_pem)?;
    let issuer = Issuer::new(ca_params(names, now), ca_key);

    let mut params = CertificateParams::new(server_dns_names(names, config))?;
    let mut dn = DistinguishedName::new();
    let organizations = config
        .and_then(|c| c.organization_name.clone())
        .filter(|o| !o.is_empty())
        .unwrap_or_else(|| vec!["Cairn".to_string()]);
    for org in organizations {
        dn.push(DnType::OrganizationName, org);
    }
    dn.push(
        DnType::CommonName,
        config
            .and_then(|c| c.common_name.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| names.service_fqdn(&names.s3_service)),
    );
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    // Server auth for clients; client auth because the servers also call each other.
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    params.not_before = now - CLOCK_SKEW;
    params.not_after = now + SERVER_VALIDITY;

    let key = KeyPair::generate()?;
    let cert = params.signed_by(&key, &issuer)?;
    Ok((cert.pem(), key.serialize_pem()))
}

/// A new CA and a server certificate signed by it.
pub fn generate(
    names: &Names,
    config: Option<&CertificateConfig>,
    now: OffsetDateTime,
) -> Result<TlsMaterial, TlsError> {
    let (ca_cert_pem, ca_key_pem) = generate_ca(names, now)?;
    let (cert_pem, key_pem) = issue_server_cert(names, config, &ca_key_pem, now)?;
    Ok(TlsMaterial {
        ca_cert_pem,
        ca_key_pem,
        cert_pem,
        key_pem,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use x509_parser::prelude::*;

    fn names() -> Names {
        Names {
            tenant: "matrix-minio".into(),
            namespace: "matrix".into(),
            cluster_domain: "cluster.local".into(),
            s3_service: "minio".into(),
        }
    }

    fn der(pem_text: &str) -> Vec<u8> {
        let (_, pem) = parse_x509_pem(pem_text.as_bytes()).unwrap();
        pem.contents
    }

    #[test]
    fn server_certificate_parses_back_with_every_name_and_chains_to_the_ca() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let extra = CertificateConfig {
            dns_names: Some(vec!["s3.example.org".into()]),
            ..CertificateConfig::default()
        };
        let material = generate(&names(), Some(&extra), now).unwrap();
        assert!(material.key_pem.contains("BEGIN PRIVATE KEY"));
        assert!(!format!("{material:?}").contains("PRIVATE KEY"));

        let ca_der = der(&material.ca_cert_pem);
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        assert!(ca.is_ca());
        assert_eq!(
            ca.subject().to_string(),
            "O=Cairn, CN=Cairn tenant CA matrix/matrix-minio"
        );

        let cert_der = der(&material.cert_pem);
        let (_, cert) = X509Certificate::from_der(&cert_der).unwrap();
        assert!(!cert.is_ca());
        assert_eq!(cert.issuer(), ca.subject());
        cert.verify_signature(Some(ca.public_key())).unwrap();
        assert_eq!(
            cert.validity().not_after.timestamp(),
            (now + SERVER_VALIDITY).unix_timestamp()
        );
        assert!(cert.validity().not_before.timestamp() < now.unix_timestamp());

        let san = cert.subject_alternative_name().unwrap().unwrap();
        let dns: Vec<&str> = san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some(*d),
                _ => None,
            })
            .collect();
        for want in [
            "*.matrix-minio-hl.matrix.svc.cluster.local",
            "*.matrix-minio-hl.matrix.svc",
            "minio",
            "minio.matrix",
            "minio.matrix.svc",
            "minio.matrix.svc.cluster.local",
            "matrix-minio-console.matrix.svc.cluster.local",
            "matrix-minio-hl.matrix.svc.cluster.local",
            "s3.example.org",
        ] {
            assert!(dns.contains(&want), "{want} missing from {dns:?}");
        }
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
    }

    #[test]
    fn renewal_with_the_stored_ca_key_chains_to_the_same_ca() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let material = generate(&names(), None, now).unwrap();
        let later = now + Duration::days(300);
        let (renewed, _) = issue_server_cert(&names(), None, &material.ca_key_pem, later).unwrap();
        let ca_der = der(&material.ca_cert_pem);
        let (_, ca) = X509Certificate::from_der(&ca_der).unwrap();
        let renewed_der = der(&renewed);
        let (_, cert) = X509Certificate::from_der(&renewed_der).unwrap();
        cert.verify_signature(Some(ca.public_key())).unwrap();
        assert_eq!(cert.issuer(), ca.subject());
    }
}
