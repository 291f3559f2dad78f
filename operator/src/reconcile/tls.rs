//! Keeping a tenant's generated certificates: reuse what the Secrets hold while it is
//! valid, issue a new server certificate before it expires or when its names change, and
//! a new CA only when there is none (or it is about to expire).

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{
    FromDer, GeneralName, ParsedExtension, X509Certificate, parse_x509_pem,
};

use crate::crd::{CertificateConfig, CertificateStatus};
use crate::render::names::Names;
use crate::tls::{self, TlsError, TlsMaterial};

/// A server certificate is renewed this long before it expires.
pub const RENEW_BEFORE: Duration = Duration::days(30);

/// Facts read from a PEM certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFacts {
    pub not_after: OffsetDateTime,
    pub dns_names: Vec<String>,
}

/// Expiry and DNS names of the first certificate in `pem`.
pub fn cert_facts(pem: &str) -> Option<CertFacts> {
    let (_, pem) = parse_x509_pem(pem.as_bytes()).ok()?;
    let (_, cert) = X509Certificate::from_der(&pem.contents).ok()?;
    let not_after =
        OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp()).ok()?;
    let mut dns_names = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                if let GeneralName::DNSName(d) = name {
                    dns_names.push((*d).to_string());
                }
            }
        }
    }
    Some(CertFacts {
        not_after,
        dns_names,
    })
}

fn text(data: &BTreeMap<String, Vec<u8>>, key: &str) -> Option<String> {
    data.get(key)
        .and_then(|v| String::from_utf8(v.clone()).ok())
        .filter(|s| !s.trim().is_empty())
}

/// What [`ensure`] decided.
#[derive(Debug, Clone)]
pub struct Ensured {
    pub material: TlsMaterial,
    /// A new CA was generated.
    pub new_ca: bool,
    /// A new server certificate was issued (and why).
    pub issued: Option<String>,
    pub status: CertificateStatus,
}

/// The material to apply, from the current contents of `<tenant>-ca-key` and
/// `<tenant>-tls` (either may be absent).
pub fn ensure(
    names: &Names,
    config: Option<&CertificateConfig>,
    ca_key_secret: Option<&BTreeMap<String, Vec<u8>>>,
    tls_secret: Option<&BTreeMap<String, Vec<u8>>>,
    now: OffsetDateTime,
) -> Result<Ensured, TlsError> {
    let existing_ca = ca_key_secret.and_then(|d| {
        let cert = text(d, "ca.crt")?;
        let key = text(d, "ca.key")?;
        let facts = cert_facts(&cert)?;
        (facts.not_after - now > RENEW_BEFORE).then_some((cert, key, facts))
    });
    let (ca_cert_pem, ca_key_pem, ca_expiry, new_ca) = match existing_ca {
        Some((cert, key, facts)) => (cert, key, facts.not_after, false),
        None => {
            let (cert, key) = tls::generate_ca(names, now)?;
            let expiry = cert_facts(&cert).map_or(now + tls::CA_VALIDITY, |f| f.not_after);
            (cert, key, expiry, true)
        }
    };

    let wanted_names = tls::server_dns_names(names, config);
    let current = tls_secret.and_then(|d| {
        let cert = text(d, "tls.crt")?;
        let key = text(d, "tls.key")?;
        let ca = text(d, "ca.crt")?;
        Some((cert, key, ca))
    });
    let reason = match &current {
        None => Some("no server certificate yet".to_string()),
        Some(_) if new_ca => Some("a new CA was generated".to_string()),
        Some((cert, _, ca)) => match cert_facts(cert) {
            None => Some("the stored certificate does not parse".to_string()),
            Some(_) if ca.trim() != ca_cert_pem.trim() => {
                Some("the stored certificate is not from the tenant's CA".to_string())
            }
            Some(f) if f.not_after - now <= RENEW_BEFORE => Some(format!(
                "the certificate expires on {}",
                rfc3339(f.not_after)
            )),
            Some(f) if f.dns_names != wanted_names => {
                Some("the tenant's DNS names changed".to_string())
            }
            Some(_) => None,
        },
    };
    let (cert_pem, key_pem) = match (&reason, current) {
        (None, Some((cert, key, _))) => (cert, key),
        _ => tls::issue_server_cert(names, config, &ca_key_pem, now)?,
    };
    let expiry = cert_facts(&cert_pem).map(|f| rfc3339(f.not_after));
    Ok(Ensured {
        status: CertificateStatus {
            auto_cert_enabled: Some(true),
            secret_name: Some(names.tls_secret()),
            expiry,
            ca_expiry: Some(rfc3339(ca_expiry)),
        },
        material: TlsMaterial {
            ca_cert_pem,
            ca_key_pem,
            cert_pem,
            key_pem,
        },
        new_ca,
        issued: reason,
    })
}

/// RFC 3339 in UTC, to the second.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        Names {
            tenant: "t".into(),
            namespace: "ns".into(),
            cluster_domain: "cluster.local".into(),
            s3_service: "minio".into(),
        }
    }

    fn as_data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn keeps_valid_certificates_and_renews_before_expiry() {
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let first = ensure(&names(), None, None, None, now).unwrap();
        assert!(first.new_ca);
        assert!(first.issued.is_some());
        let m = &first.material;
        let ca = as_data(&[("ca.crt", &m.ca_cert_pem), ("ca.key", &m.ca_key_pem)]);
        let tls = as_data(&[
            ("tls.crt", &m.cert_pem),
            ("tls.key", &m.key_pem),
            ("ca.crt", &m.ca_cert_pem),
        ]);
        let again = ensure(
            &names(),
            None,
            Some(&ca),
            Some(&tls),
            now + Duration::days(1),
        )
        .unwrap();
        assert!(!again.new_ca);
        assert_eq!(again.issued, None);
        assert_eq!(&again.material, m);

        let late = now + tls::SERVER_VALIDITY - Duration::days(10);
        let renewed = ensure(&names(), None, Some(&ca), Some(&tls), late).unwrap();
        assert!(!renewed.new_ca);
        assert!(renewed.issued.unwrap().contains("expires"));
        assert_ne!(renewed.material.cert_pem, m.cert_pem);
        assert_eq!(renewed.material.ca_cert_pem, m.ca_cert_pem);

        let extra = CertificateConfig {
            dns_names: Some(vec!["s3.example.org".into()]),
            ..CertificateConfig::default()
        };
        let renamed = ensure(&names(), Some(&extra), Some(&ca), Some(&tls), now).unwrap();
        assert!(renamed.issued.unwrap().contains("DNS names"));
        assert_eq!(renewed.status.ca_expiry, first.status.ca_expiry);
    }
}
