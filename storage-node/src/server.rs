//! Wiring: from a resolved configuration to a listening server. Expands the drive
//! arguments, checks or writes the drive formats, builds the object layer and starts
//! the HTTP front.

use crate::cluster::endpoints::{self, Endpoint};
use crate::cluster::{format, layout};
use crate::config::ServerConfig;
use crate::drive::DriveRef;
use crate::drive::local::LocalDrive;
use crate::front::{self, App};
use crate::objects::ObjectLayer;
use crate::s3::auth::sigv4::SecretLookup;
use crate::s3::{S3Config, S3Service};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Endpoints(#[from] endpoints::EndpointError),
    #[error(transparent)]
    Layout(#[from] layout::LayoutError),
    #[error(transparent)]
    Format(#[from] format::FormatError),
    #[error(transparent)]
    Tls(#[from] front::tls::TlsError),
    #[error(
        "distributed mode (URL endpoints such as {0}) is not available in this build yet; give local directories"
    )]
    Distributed(String),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Objects(String),
}

/// The root credentials; the only identity until IAM arrives.
struct RootCredentials {
    user: String,
    password: String,
}

impl SecretLookup for RootCredentials {
    fn secret_key(&self, access_key: &str) -> Option<String> {
        (access_key == self.user).then(|| self.password.clone())
    }
}

/// What a started server reports about itself.
#[derive(Debug, Clone)]
pub struct Layout {
    pub pools: Vec<PoolLayout>,
    pub notices: Vec<String>,
    pub offline: Vec<String>,
    pub healing: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct PoolLayout {
    pub drives: usize,
    pub sets: usize,
    pub set_size: usize,
    pub data: usize,
    pub parity: usize,
}

pub struct Running {
    pub address: SocketAddr,
    pub layout: Layout,
    pub tls: bool,
    shutdown: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Stops accepting connections and waits for the accept loop to end.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

/// Drives of every pool, grouped into erasure sets, with what start-up found.
struct OpenedPools {
    pools: Vec<Vec<Vec<DriveRef>>>,
    parity: usize,
    hash_key: u64,
    layout: Layout,
}

/// Checks formats and builds the drives of every pool.
fn open_pools(cfg: &ServerConfig) -> Result<OpenedPools, StartError> {
    let specs = endpoints::parse_pools(&cfg.drives)?;
    let mut pools = Vec::new();
    let mut parity_out = 0;
    let mut hash_key = 0u64;
    let mut report = Layout {
        pools: Vec::new(),
        notices: Vec::new(),
        offline: Vec::new(),
        healing: Vec::new(),
    };
    for spec in &specs {
        let mut paths: Vec<PathBuf> = Vec::new();
        for ep in &spec.endpoints {
            match ep {
                Endpoint::Local { path } => paths.push(path.clone()),
                other => return Err(StartError::Distributed(other.to_string())),
            }
        }
        let geometry = layout::plan(paths.len(), 1, cfg.storage_class.as_deref())?;
        let outcome = format::load_or_init(&paths, geometry.set_size, geometry.parity)?;
        report.notices.extend(outcome.notices.iter().cloned());
        for (path, status) in paths.iter().zip(&outcome.drives) {
            match status {
                format::DriveStatus::Offline(why) => {
                    report.offline.push(format!("{}: {why}", path.display()))
                }
                format::DriveStatus::Healing(_) => report.healing.push(path.display().to_string()),
                format::DriveStatus::Online(_) => {}
            }
        }
        if hash_key == 0 {
            hash_key = u64::from_le_bytes(
                outcome.deployment_id.as_bytes()[..8]
                    .try_into()
                    .unwrap_or([0; 8]),
            );
        }
        let set_size = outcome.sets.first().map_or(geometry.set_size, Vec::len);
        parity_out = outcome.parity;
        let drives: Vec<DriveRef> = paths
            .iter()
            .map(|p| {
                let d = LocalDrive::new(p.clone(), true);
                d.prepare();
                Arc::new(d) as DriveRef
            })
            .collect();
        let sets: Vec<Vec<DriveRef>> = drives.chunks(set_size).map(<[DriveRef]>::to_vec).collect();
        report.pools.push(PoolLayout {
            drives: drives.len(),
            sets: sets.len(),
            set_size,
            data: set_size - outcome.parity,
            parity: outcome.parity,
        });
        pools.push(sets);
    }
    Ok(OpenedPools {
        pools,
        parity: parity_out,
        hash_key,
        layout: report,
    })
}

/// Starts the server and returns once it is listening.
pub async fn start(cfg: &ServerConfig) -> Result<Running, StartError> {
    let OpenedPools {
        pools,
        parity,
        hash_key,
        layout,
    } = open_pools(cfg)?;
    let objects = Arc::new(
        ObjectLayer::new(pools, parity, hash_key)
            .map_err(|e| StartError::Objects(e.to_string()))?,
    );
    let tls = match &cfg.certs_dir {
        Some(dir) if dir.join("public.crt").exists() => Some(front::tls::acceptor(dir)?),
        Some(dir) => {
            tracing::warn!(dir = %dir.display(), "no public.crt in the certs directory: serving plain HTTP");
            None
        }
        None => None,
    };
    let s3 = S3Service {
        objects: objects.clone(),
        secrets: Arc::new(RootCredentials {
            user: cfg.root_user.clone(),
            password: cfg.root_password.clone(),
        }),
        config: S3Config {
            region: cfg.region.clone(),
            domains: cfg.domains.clone(),
        },
    };
    let app = Arc::new(App::new(s3, objects));
    let listener = tokio::net::TcpListener::bind(&cfg.address)
        .await
        .map_err(|source| StartError::Bind {
            address: cfg.address.clone(),
            source,
        })?;
    let address = listener.local_addr().map_err(|source| StartError::Bind {
        address: cfg.address.clone(),
        source,
    })?;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let has_tls = tls.is_some();
    let task = tokio::spawn(front::serve(listener, tls, app, rx));
    Ok(Running {
        address,
        layout,
        tls: has_tls,
        shutdown: tx,
        task,
    })
}
