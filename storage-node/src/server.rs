//! Wiring: from a resolved configuration to a listening server. Expands the drive
//! arguments, checks or writes the drive formats, builds the object layer and starts
//! the HTTP front.

use crate::cluster::endpoints::{self, Endpoint};
use crate::cluster::identity::Identity;
use crate::cluster::locks::{DistLocks, LockTable};
use crate::cluster::{bootstrap, format, layout};
use crate::config::ServerConfig;
use crate::drive::DriveRef;
use crate::drive::local::LocalDrive;
use crate::front::{self, App, Front};
use crate::iam::{Iam, RootCredentials};
use crate::objects::ObjectLayer;
use crate::objects::lock::NsLock;
use crate::rpc::auth::RpcKey;
use crate::rpc::client::ClientTls;
use crate::rpc::server::{RpcService, ServedDrive};
use crate::s3::{S3Config, S3Service};
use std::collections::HashMap;
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
    #[error("URL endpoints such as {0} cannot be opened as local directories")]
    Distributed(String),
    #[error(transparent)]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Objects(String),
}

/// How long start-up waits for the endpoint host names to resolve before deciding which
/// are ours; pods' DNS names appear a few seconds after the pods.
const DNS_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The admin API mounted into the front: the front knows only [`front::Route`], the
/// admin API knows nothing of the front.
struct AdminRoute(crate::admin::AdminService);

#[async_trait::async_trait]
impl front::Route for AdminRoute {
    fn handles(&self, path: &str) -> bool {
        crate::admin::handles(path)
    }

    async fn handle(
        &self,
        parts: http::request::Parts,
        body: crate::objects::BodyStream,
        request_id: &str,
    ) -> http::Response<crate::body::RespBody> {
        self.0.handle(parts, body, request_id).await
    }
}

/// The layers above the object layer, the same for a single server and a cluster:
/// IAM (layer 3, its state loaded from the system volume), the S3 API over it, the
/// admin API mounted beside it, under the front's limits, and the audit log's webhooks.
async fn application(
    cfg: &ServerConfig,
    objects: Arc<ObjectLayer>,
    heal: Arc<crate::heal::HealState>,
    admin: crate::admin::AdminConfig,
    deployment_id: String,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> (Arc<App>, Arc<Iam>) {
    let audit = crate::audit::Audit::start(&cfg.audit, deployment_id, shutdown.clone());
    // Lifecycle: expires objects by the buckets' rules, once per deployment.
    crate::lifecycle::worker::start(objects.clone(), cfg.lifecycle, shutdown.clone());
    let iam = Iam::start(
        objects.clone(),
        RootCredentials {
            user: cfg.root_user.clone(),
            password: cfg.root_password.clone(),
            previous: cfg.root_previous.clone(),
        },
        shutdown,
    )
    .await;
    tracing::info!("IAM ready");
    let tls = cfg
        .certs_dir
        .as_ref()
        .is_some_and(|d| d.join("public.crt").exists());
    let kms = cfg
        .kms
        .clone()
        .map(|k| k as Arc<dyn crate::crypto::kms::Kms>);
    if kms.is_none() {
        tracing::info!("no KMS key configured: SSE-S3 and SSE-KMS requests will be refused");
    }
    let s3 = S3Service::new(
        objects.clone(),
        iam.clone(),
        S3Config {
            region: cfg.region.clone(),
            domains: cfg.domains.clone(),
        },
    )
    .with_sse(crate::crypto::sse::Sse::new(kms.clone(), tls))
    .with_lifecycle_day(cfg.lifecycle.day_ms());
    // The address this server listens on names it in the metrics when no endpoint does.
    let address = admin.address.clone();
    let admin = crate::admin::AdminService::new(objects.clone(), heal, iam.clone(), admin)
        .with_sse(crate::crypto::sse::Sse::new(kms, tls));
    let app = Arc::new(
        App::new(s3, objects)
            .with_limits(&cfg.front)
            .with_metrics(cfg.prometheus_auth, &address)
            .with_audit(audit)
            .mount(Arc::new(AdminRoute(admin))),
    );
    (app, iam)
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
    /// Where the web console listens; `None` when its address could not be bound.
    pub console_address: Option<SocketAddr>,
    pub layout: Layout,
    pub tls: bool,
    /// Healing (layer 8): progress and admin heals; its tasks stop with the server.
    pub heal: Arc<crate::heal::HealState>,
    /// Identity and access (layer 3).
    pub iam: Arc<Iam>,
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
    /// The deployment id of the first pool's format.
    deployment_id: String,
    layout: Layout,
}

/// Checks formats and builds the drives of every pool.
fn open_pools(cfg: &ServerConfig) -> Result<OpenedPools, StartError> {
    let specs = endpoints::parse_pools(&cfg.drives)?;
    let mut pools = Vec::new();
    let mut parity_out = 0;
    let mut hash_key = 0u64;
    let mut deployment_id = String::new();
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
        if deployment_id.is_empty() {
            deployment_id = outcome.deployment_id.to_string();
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
        deployment_id,
        layout: report,
    })
}

/// Gives a pool added since the buckets were made their directories, before the first
/// request can be placed on it (the scanner would do it later).
async fn buckets_on_every_pool(objects: &ObjectLayer) {
    if objects.pools.len() < 2 {
        return;
    }
    let limit = std::time::Duration::from_secs(60);
    match tokio::time::timeout(limit, crate::heal::heal_buckets(objects)).await {
        Ok(Ok(n)) if n > 0 => tracing::info!(drives = n, "buckets created on new pools"),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot copy buckets to every pool yet"),
        Err(_) => tracing::warn!("copying buckets to every pool timed out; the scanner retries"),
    }
}

/// Starts the server and returns once it is listening and, in a distributed deployment,
/// once the servers agreed on the formats (it waits for its peers until then).
pub async fn start(cfg: &ServerConfig) -> Result<Running, StartError> {
    crate::drive::sorted_dirs::ListingCache::server().set_limit(cfg.list_cache_bytes);
    let specs = endpoints::parse_pools(&cfg.drives)?;
    let distributed = specs
        .iter()
        .flat_map(|p| &p.endpoints)
        .any(Endpoint::is_url);
    let tls = match &cfg.certs_dir {
        Some(dir) if dir.join("public.crt").exists() => Some(front::tls::acceptor(dir)?),
        Some(dir) => {
            tracing::warn!(dir = %dir.display(), "no public.crt in the certs directory: serving plain HTTP");
            None
        }
        None => None,
    };
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
    if !distributed {
        let OpenedPools {
            pools,
            parity,
            hash_key,
            deployment_id,
            layout,
        } = open_pools(cfg)?;
        let objects = Arc::new(
            ObjectLayer::new(pools, parity, hash_key)
                .map_err(|e| StartError::Objects(e.to_string()))?,
        );
        // Heal (layer 8): MRF worker, drive rebuilds, scanner.
        let heal = crate::heal::HealState::start(objects.clone(), cfg.heal.clone(), tx.subscribe());
        buckets_on_every_pool(&objects).await;
        let (app, iam) = application(
            cfg,
            objects,
            heal.clone(),
            admin_config(cfg, address, None),
            deployment_id,
            tx.subscribe(),
        )
        .await;
        let front = Arc::new(Front::with_app(app));
        let console_address =
            start_console(cfg, &front, address, tls.clone(), tx.subscribe()).await;
        let task = tokio::spawn(front::serve(listener, tls, front, cfg.front.clone(), rx));
        return Ok(Running {
            address,
            console_address,
            layout,
            tls: has_tls,
            heal,
            iam,
            shutdown: tx,
            task,
        });
    }

    let me = Identity::new(address);
    let key = RpcKey::derive(
        &cfg.root_user,
        &cfg.root_password,
        cfg.cluster_secret.as_deref(),
    );
    if cfg.cluster_secret.is_none() {
        tracing::info!(
            "peer authentication key derived from the root credentials; set \
             CAIRN_CLUSTER_SECRET on every server to rotate those independently"
        );
    }
    let client_tls = match &cfg.certs_dir {
        Some(dir) if has_tls => ClientTls {
            config: Some(Arc::new(front::tls::peer_client_config(dir)?)),
        },
        _ => ClientTls::default(),
    };
    let cluster = bootstrap::plan(
        &specs,
        &me,
        cfg.storage_class.as_deref(),
        &key,
        &client_tls,
        DNS_WAIT,
    )
    .await?;
    let served: HashMap<String, ServedDrive> = cluster
        .pools
        .iter()
        .flat_map(|p| &p.slots)
        .filter_map(|s| match (&s.endpoint, &s.local) {
            (Endpoint::Url { path, .. }, Some(root)) => Some((
                path.clone(),
                ServedDrive {
                    drive: s.drive.clone(),
                    root: root.clone(),
                },
            )),
            _ => None,
        })
        .collect();
    let table = Arc::new(LockTable::default());
    let rpc = Arc::new(RpcService::new(
        key,
        cluster.names.clone(),
        served,
        cluster.node.clone(),
        table.clone(),
    ));
    let front = Arc::new(Front::new(Some(rpc)));
    let console_address = start_console(cfg, &front, address, tls.clone(), tx.subscribe()).await;
    let task = tokio::spawn(front::serve(
        listener,
        tls,
        front.clone(),
        cfg.front.clone(),
        rx,
    ));
    tracing::info!(
        servers = bootstrap::servers(&cluster, &me).len(),
        "waiting for the other servers"
    );
    let outcomes = bootstrap::agree(&cluster, None).await?;

    let mut report = Layout {
        pools: Vec::new(),
        notices: Vec::new(),
        offline: Vec::new(),
        healing: Vec::new(),
    };
    let mut pools = Vec::new();
    for (plan, outcome) in cluster.pools.iter().zip(&outcomes) {
        report.notices.extend(outcome.notices.iter().cloned());
        for (slot, status) in plan.slots.iter().zip(&outcome.statuses) {
            match status {
                format::DriveStatus::Offline(why) => {
                    report.offline.push(format!("{}: {why}", slot.endpoint))
                }
                format::DriveStatus::Healing(_) => report.healing.push(slot.endpoint.to_string()),
                format::DriveStatus::Online(_) => {}
            }
        }
        let set_size = outcome.format.set_size();
        let parity = outcome.format.parity;
        report.pools.push(PoolLayout {
            drives: plan.slots.len(),
            sets: plan.slots.len() / set_size.max(1),
            set_size,
            data: set_size - parity,
            parity,
        });
        let drives: Vec<DriveRef> = plan.slots.iter().map(|s| s.drive.clone()).collect();
        pools.push(
            drives
                .chunks(set_size.max(1))
                .map(<[DriveRef]>::to_vec)
                .collect(),
        );
    }
    let first = outcomes.first().map(|o| &o.format);
    let parity = first.map_or(0, |f| f.parity);
    let deployment_id = first.map_or_else(String::new, |f| f.deployment_id.to_string());
    let hash_key = first.map_or(0, |f| {
        u64::from_le_bytes(f.deployment_id.as_bytes()[..8].try_into().unwrap_or([0; 8]))
    });
    let lockers = bootstrap::first_pool_lockers(&cluster, &me, table);
    let locks = NsLock::distributed(Arc::new(DistLocks::new(lockers)));
    let objects = Arc::new(
        ObjectLayer::with_locks(pools, parity, hash_key, locks)
            .map_err(|e| StartError::Objects(e.to_string()))?,
    );
    // Heal (layer 8): MRF worker, drive rebuilds of this server's drives, scanner.
    let heal = crate::heal::HealState::start(objects.clone(), cfg.heal.clone(), tx.subscribe());
    let first_look = bootstrap::check_peers(&cluster.peers, &cluster.node).await?;
    crate::cluster::expansion::follow(
        objects.clone(),
        cluster.peers.clone(),
        cluster.node.clone(),
        first_look,
        tx.subscribe(),
    );
    buckets_on_every_pool(&objects).await;
    let (app, iam) = application(
        cfg,
        objects,
        heal.clone(),
        admin_config(cfg, address, client_tls.config.clone()),
        deployment_id,
        tx.subscribe(),
    )
    .await;
    crate::front::metrics::peers::connect(&front, &app, cluster.peers.values().cloned().collect());
    let _ = front.app.set(app);
    Ok(Running {
        address,
        console_address,
        layout: report,
        tls: has_tls,
        heal,
        iam,
        shutdown: tx,
        task,
    })
}

/// Starts the web console on `cfg.console_address` with the S3 port's TLS; it acts
/// through `front`'s application once that is built. A console address that cannot be
/// bound is reported and leaves the S3 port running.
async fn start_console(
    cfg: &ServerConfig,
    front: &Arc<Front>,
    s3_address: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> Option<SocketAddr> {
    let secure = tls.is_some();
    let console = crate::console::ConsoleConfig {
        root_user: cfg.root_user.clone(),
        root_password: cfg.root_password.clone(),
        region: cfg.region.clone(),
        secure,
        s3_address,
    };
    match crate::console::start(
        front.clone(),
        &console,
        &cfg.console_address,
        tls,
        cfg.front.clone(),
        shutdown,
    )
    .await
    {
        Ok(bound) => {
            tracing::info!(address = %bound, tls = secure, "console listening");
            Some(bound)
        }
        Err(e) => {
            tracing::error!(address = %cfg.console_address, error = %e, "console not served: cannot listen");
            None
        }
    }
}

/// The admin API's settings: `address` is where this server listens, `peer_tls` the peer
/// RPC's client TLS settings (`None` for plain HTTP).
fn admin_config(
    cfg: &ServerConfig,
    address: std::net::SocketAddr,
    peer_tls: Option<Arc<rustls::ClientConfig>>,
) -> crate::admin::AdminConfig {
    crate::admin::AdminConfig {
        root_user: cfg.root_user.clone(),
        root_password: cfg.root_password.clone(),
        region: cfg.region.clone(),
        address: address.to_string(),
        peer_tls,
    }
}
