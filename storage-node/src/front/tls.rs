//! TLS from a certificates directory in MinIO's layout: `public.crt` (the chain) and
//! `private.key`, which is also what the operator mounts into pods.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: String, message: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, message: impl Into<String>) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        message: message.into(),
    }
}

/// Builds the acceptor; HTTP/2 and HTTP/1.1 are offered through ALPN.
pub fn acceptor(certs_dir: &Path) -> Result<TlsAcceptor, TlsError> {
    let cert_path = certs_dir.join("public.crt");
    let key_path = certs_dir.join("private.key");
    let cert_pem = std::fs::read(&cert_path).map_err(|e| file_err(&cert_path, e.to_string()))?;
    let key_pem = std::fs::read(&key_path).map_err(|e| file_err(&key_path, e.to_string()))?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| file_err(&cert_path, e.to_string()))?;
    if certs.is_empty() {
        return Err(file_err(&cert_path, "no PEM certificate found"));
    }
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| file_err(&key_path, e.to_string()))?
        .ok_or_else(|| file_err(&key_path, "no PEM private key found"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS configuration for calling peers: trusts the certificates in `CAs/` (MinIO's
/// layout; the operator puts the tenant CA there) and this server's own `public.crt`
/// chain, which covers self-signed certificates shared by all servers.
pub fn peer_client_config(certs_dir: &Path) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    let mut files = vec![certs_dir.join("public.crt")];
    if let Ok(entries) = std::fs::read_dir(certs_dir.join("CAs")) {
        let mut cas: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        cas.sort();
        files.extend(cas.into_iter().filter(|p| p.is_file()));
    }
    for path in files {
        let Ok(pem) = std::fs::read(&path) else {
            continue;
        };
        for cert in rustls_pemfile::certs(&mut pem.as_slice()).flatten() {
            // A certificate that is not a valid trust anchor is skipped, not fatal.
            let _ = roots.add(cert);
        }
    }
    if roots.is_empty() {
        return Err(TlsError::Config(format!(
            "no certificate to trust peers with in {}",
            certs_dir.display()
        )));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
