//! Command line and environment configuration of the `cairn` binary.
//!
//! Every setting comes from, in order of precedence: the command line, the `CAIRN_*`
//! environment variable, its `MINIO_*` alias (so a MinIO Tenant's configuration works
//! unchanged), the configuration file named by `CAIRN_CONFIG_ENV_FILE` (the
//! `export K="v"` format of the Kubernetes configuration Secret), and a default.

pub mod envfile;
pub mod limits;

use clap::Args;
use std::collections::HashMap;
use std::path::PathBuf;

/// Passwords shorter than this are refused, as MinIO does.
pub const MIN_PASSWORD_LEN: usize = 8;
pub const DEV_USER: &str = "cairnadmin";
pub const DEV_PASSWORD: &str = "cairnadmin";

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Drives: directories, or URLs for a cluster. Ellipses expand: `/data{1...8}`,
    /// `http://node{1...4}:9000/export{0...1}`; each argument with ellipses is one pool.
    #[arg(required = true, value_name = "DRIVE")]
    pub drives: Vec<String>,

    /// Address of the S3 API [env: CAIRN_ADDRESS, MINIO_ADDRESS] [default: :9000]
    #[arg(long)]
    pub address: Option<String>,

    /// Address of the web console (HTTPS when --certs-dir has a certificate)
    /// [env: CAIRN_CONSOLE_ADDRESS, MINIO_CONSOLE_ADDRESS] [default: :9090]
    #[arg(long)]
    pub console_address: Option<String>,

    /// Directory with `public.crt` and `private.key` (PEM) to serve HTTPS; `CAs/` in it
    /// holds extra trusted CAs for peers [env: CAIRN_CERTS_DIR]
    #[arg(long, value_name = "DIR")]
    pub certs_dir: Option<PathBuf>,

    /// Region reported to clients [env: CAIRN_REGION, MINIO_REGION] [default: us-east-1]
    #[arg(long)]
    pub region: Option<String>,

    /// Domains for virtual-host-style requests (`bucket.<domain>`), comma-separated
    /// [env: CAIRN_DOMAIN, MINIO_DOMAIN]
    #[arg(long)]
    pub domain: Option<String>,

    /// Parity of new objects, `EC:N` [env: CAIRN_STORAGE_CLASS_STANDARD,
    /// MINIO_STORAGE_CLASS_STANDARD] [default: by set size, EC:4 for 8 drives or more]
    #[arg(long)]
    pub storage_class: Option<String>,

    /// Development mode: use the well-known credentials cairnadmin/cairnadmin when none
    /// are configured. Never use it for data you care about.
    #[arg(long)]
    pub dev: bool,

    /// Log filter (tracing syntax, e.g. `info`, `cairn=debug`) [env: CAIRN_LOG, RUST_LOG]
    #[arg(long)]
    pub log: Option<String>,
}

/// Configuration errors, printed and mapped to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "root credentials are missing: set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD (or MINIO_ROOT_USER/MINIO_ROOT_PASSWORD), or pass --dev for throw-away development credentials"
    )]
    MissingCredentials,
    #[error("the root password must be at least {MIN_PASSWORD_LEN} characters long")]
    ShortPassword,
    #[error("the root user must be at least 3 characters long")]
    ShortUser,
    #[error("configuration file {path}: {source}")]
    EnvFile {
        path: String,
        source: envfile::EnvFileError,
    },
    #[error("invalid address {0:?}: use host:port or :port")]
    Address(String),
    #[error("KMS_SECRET_KEY: {0}")]
    Kms(#[from] crate::crypto::kms::static_key::StaticKeyError),
}

/// Looks settings up through the alias chain.
pub struct Env {
    file: HashMap<String, String>,
}

impl Env {
    /// Reads the process environment and, if named, the configuration file.
    pub fn load() -> Result<Self, ConfigError> {
        let path = std::env::var("CAIRN_CONFIG_ENV_FILE")
            .or_else(|_| std::env::var("MINIO_CONFIG_ENV_FILE"))
            .ok();
        let mut file = HashMap::new();
        if let Some(p) = path {
            let pairs = envfile::load_env_file(std::path::Path::new(&p)).map_err(|source| {
                ConfigError::EnvFile {
                    path: p.clone(),
                    source,
                }
            })?;
            file.extend(pairs);
        }
        Ok(Self { file })
    }

    /// The value of the first of `names` that is set (environment before file).
    pub fn get(&self, names: &[&str]) -> Option<String> {
        names
            .iter()
            .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
            .or_else(|| names.iter().find_map(|n| self.file.get(*n).cloned()))
    }

    /// Every variable name set in the environment or the configuration file, for
    /// settings whose names carry an id (`MINIO_AUDIT_WEBHOOK_ENABLE_<ID>`).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .chain(self.file.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// `CAIRN_<name>` then `MINIO_<name>`.
    pub fn setting(&self, name: &str) -> Option<String> {
        self.get(&[&format!("CAIRN_{name}"), &format!("MINIO_{name}")])
    }
}

/// The resolved server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub drives: Vec<String>,
    pub address: String,
    pub console_address: String,
    pub certs_dir: Option<PathBuf>,
    pub region: String,
    pub domains: Vec<String>,
    pub storage_class: Option<String>,
    pub root_user: String,
    pub root_password: String,
    /// True when the development credentials are in use.
    pub dev_credentials: bool,
    /// Scanner and healing settings (`SCANNER_*`).
    pub heal: crate::heal::HealConfig,
    /// Bucket lifecycle: the length of a lifecycle day (`CAIRN_LIFECYCLE_DAY_SECONDS`).
    pub lifecycle: crate::lifecycle::LifecycleSettings,
    /// Connection limits and timeouts of the HTTP front (`MAX_CONNECTIONS`,
    /// `IDLE_TIMEOUT`, `READ_HEADER_TIMEOUT`, ...; see `limits`).
    pub front: limits::Limits,
    /// `CLUSTER_SECRET`: the key of peer RPC derives from it when set, else from the root
    /// credentials (so those can rotate without re-keying the cluster once it is set).
    pub cluster_secret: Option<String>,
    /// `ROOT_USER_PREVIOUS`/`ROOT_PASSWORD_PREVIOUS`: the root credentials before a
    /// rotation, with which the IAM state was sealed; it is re-sealed at start-up.
    pub root_previous: Option<(String, String)>,
    /// Audit log webhooks (`AUDIT_WEBHOOK_*[_<ID>]`); none by default.
    pub audit: crate::audit::AuditConfig,
    /// `PROMETHEUS_AUTH_TYPE`: who may read the metrics pages.
    pub prometheus_auth: PrometheusAuth,
    /// `KMS_SECRET_KEY` (MinIO's `MINIO_KMS_SECRET_KEY`): the built-in KMS's master keys,
    /// `<name>:<base64 of 32 bytes>[,<name>:<base64>...]`, the first the default; without
    /// it SSE-S3 and SSE-KMS are refused (SSE-C needs no KMS).
    pub kms: Option<std::sync::Arc<crate::crypto::kms::static_key::StaticKms>>,
    /// `LIST_CACHE_SIZE`: bytes of sorted directory names the server keeps for listings,
    /// over all its drives (`64MiB` by default; plain bytes or a KiB/MiB/GiB suffix).
    pub list_cache_bytes: usize,
}

/// Who may read the metrics pages (`PROMETHEUS_AUTH_TYPE`, MinIO's
/// `MINIO_PROMETHEUS_AUTH_TYPE`): `jwt`, the default, asks for a bearer token (`cairn
/// admin prometheus generate` makes one; see `front::metrics::auth`), `public` lets
/// anyone read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrometheusAuth {
    #[default]
    Jwt,
    Public,
}

impl PrometheusAuth {
    /// As MinIO: `public` in any case opens the pages, any other value keeps the token.
    pub fn from_setting(value: Option<&str>) -> Self {
        match value {
            Some(v) if v.trim().eq_ignore_ascii_case("public") => Self::Public,
            _ => Self::Jwt,
        }
    }
}

/// Turns `:9000` into `0.0.0.0:9000`; checks host:port form.
pub fn normalize_address(a: &str) -> Result<String, ConfigError> {
    let full = if a.starts_with(':') {
        format!("0.0.0.0{a}")
    } else {
        a.to_string()
    };
    match full.rsplit_once(':') {
        Some((_, port)) if port.parse::<u16>().is_ok() => Ok(full),
        _ => Err(ConfigError::Address(a.to_string())),
    }
}

impl ServerConfig {
    /// A configuration with every optional setting at its default: what `resolve` gives
    /// when nothing but the drives, the address and the root credentials is set. Tests and
    /// benchmarks start from it and change what they need.
    pub fn new(drives: Vec<String>, address: &str, root_user: &str, root_password: &str) -> Self {
        Self {
            drives,
            address: address.to_string(),
            console_address: "127.0.0.1:0".into(),
            certs_dir: None,
            region: "us-east-1".into(),
            domains: Vec::new(),
            storage_class: None,
            root_user: root_user.to_string(),
            root_password: root_password.to_string(),
            dev_credentials: false,
            heal: crate::heal::HealConfig::default(),
            lifecycle: crate::lifecycle::LifecycleSettings::default(),
            front: limits::Limits::default(),
            cluster_secret: None,
            root_previous: None,
            audit: crate::audit::AuditConfig::default(),
            prometheus_auth: PrometheusAuth::Jwt,
            kms: None,
            list_cache_bytes: crate::drive::sorted_dirs::DEFAULT_BUDGET,
        }
    }

    pub fn resolve(args: &ServerArgs, env: &Env) -> Result<Self, ConfigError> {
        let user = env
            .setting("ROOT_USER")
            .or_else(|| env.get(&["MINIO_ACCESS_KEY"]));
        let password = env
            .setting("ROOT_PASSWORD")
            .or_else(|| env.get(&["MINIO_SECRET_KEY"]));
        let (root_user, root_password, dev) = match (user, password) {
            (Some(u), Some(p)) => (u, p, false),
            _ if args.dev => (DEV_USER.to_string(), DEV_PASSWORD.to_string(), true),
            _ => return Err(ConfigError::MissingCredentials),
        };
        if root_user.len() < 3 {
            return Err(ConfigError::ShortUser);
        }
        if root_password.len() < MIN_PASSWORD_LEN {
            return Err(ConfigError::ShortPassword);
        }
        let address = normalize_address(
            &args
                .address
                .clone()
                .or_else(|| env.setting("ADDRESS"))
                .unwrap_or_else(|| ":9000".into()),
        )?;
        let console_address = normalize_address(
            &args
                .console_address
                .clone()
                .or_else(|| env.setting("CONSOLE_ADDRESS"))
                .unwrap_or_else(|| ":9090".into()),
        )?;
        let domains = args
            .domain
            .clone()
            .or_else(|| env.setting("DOMAIN"))
            .map(|d| {
                d.split(',')
                    .map(|s| s.trim().to_ascii_lowercase())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            drives: args.drives.clone(),
            address,
            console_address,
            certs_dir: args
                .certs_dir
                .clone()
                .or_else(|| env.setting("CERTS_DIR").map(PathBuf::from)),
            region: args
                .region
                .clone()
                .or_else(|| env.setting("REGION"))
                .or_else(|| env.setting("SITE_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            domains,
            storage_class: args
                .storage_class
                .clone()
                .or_else(|| env.setting("STORAGE_CLASS_STANDARD")),
            root_user,
            root_password,
            dev_credentials: dev,
            heal: crate::heal::HealConfig::from_settings(|name| env.setting(name)),
            lifecycle: crate::lifecycle::LifecycleSettings::from_settings(|name| env.get(&[name])),
            front: limits::Limits::from_settings(|name| env.setting(name)),
            cluster_secret: env.setting("CLUSTER_SECRET"),
            root_previous: env
                .setting("ROOT_USER_PREVIOUS")
                .zip(env.setting("ROOT_PASSWORD_PREVIOUS")),
            audit: crate::audit::AuditConfig::from_settings(
                env.names().iter().map(String::as_str),
                |name| env.setting(name),
            ),
            prometheus_auth: PrometheusAuth::from_setting(
                env.setting("PROMETHEUS_AUTH_TYPE").as_deref(),
            ),
            kms: match env.setting("KMS_SECRET_KEY") {
                Some(v) => Some(std::sync::Arc::new(
                    crate::crypto::kms::static_key::StaticKms::parse(&v)?,
                )),
                None => None,
            },
            list_cache_bytes: crate::drive::sorted_dirs::budget_from_setting(
                env.setting("LIST_CACHE_SIZE").as_deref(),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every setting of the server reaches it through the configuration file alone (the
    /// way the Kubernetes configuration Secret delivers them), with MinIO's names. A new
    /// setting belongs in this test.
    #[test]
    fn every_setting_is_read_from_the_config_file() {
        let dir = std::env::temp_dir().join(format!("cairn-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.env");
        std::fs::write(
            &path,
            "export MINIO_ROOT_USER=\"fileuser\"\n\
             export MINIO_ROOT_PASSWORD=\"filepassword\"\n\
             export MINIO_ADDRESS=\":9100\"\n\
             export MINIO_CONSOLE_ADDRESS=\":9190\"\n\
             export CAIRN_CERTS_DIR=\"/etc/cairn/certs\"\n\
             export MINIO_REGION=\"eu-west-3\"\n\
             export MINIO_DOMAIN=\"s3.example.com\"\n\
             export MINIO_STORAGE_CLASS_STANDARD=\"EC:2\"\n\
             export MINIO_SCANNER_CYCLE=\"2s\"\n\
             export MINIO_SCANNER_SPEED=\"slow\"\n\
             export MINIO_SCANNER=\"off\"\n\
             export MINIO_API_STALE_UPLOADS_EXPIRY=\"36h\"\n\
             export MINIO_API_STALE_UPLOADS_CLEANUP_INTERVAL=\"30m\"\n\
             export CAIRN_MAX_CONNECTIONS=\"100\"\n\
             export MINIO_IDLE_TIMEOUT=\"11s\"\n\
             export MINIO_READ_HEADER_TIMEOUT=\"12s\"\n\
             export CAIRN_TLS_HANDSHAKE_TIMEOUT=\"13s\"\n\
             export CAIRN_HTTP2_KEEPALIVE_INTERVAL=\"14s\"\n\
             export CAIRN_HTTP2_KEEPALIVE_TIMEOUT=\"15s\"\n\
             export MINIO_CONN_WRITE_DEADLINE=\"16s\"\n\
             export MINIO_CONN_READ_DEADLINE=\"17s\"\n\
             export CAIRN_CLUSTER_SECRET=\"file-cluster-secret\"\n\
             export MINIO_ROOT_USER_PREVIOUS=\"olduser\"\n\
             export MINIO_ROOT_PASSWORD_PREVIOUS=\"oldpassword\"\n\
             export MINIO_AUDIT_WEBHOOK_ENABLE_FILE=\"on\"\n\
             export MINIO_AUDIT_WEBHOOK_ENDPOINT_FILE=\"http://audit.example/log\"\n\
             export MINIO_AUDIT_WEBHOOK_AUTH_TOKEN_FILE=\"file-token\"\n\
             export MINIO_AUDIT_WEBHOOK_BATCH_SIZE_FILE=\"10\"\n\
             export MINIO_AUDIT_WEBHOOK_QUEUE_SIZE_FILE=\"20\"\n\
             export MINIO_AUDIT_WEBHOOK_HTTP_TIMEOUT_FILE=\"3s\"\n\
             export MINIO_PROMETHEUS_AUTH_TYPE=\"public\"\n\
             export CAIRN_LIST_CACHE_SIZE=\"16MiB\"\n\
             export MINIO_KMS_SECRET_KEY=\"file-key:MzJieXRlc2xvbmdzZWNyZXRrZXltdXN0YmVnaXZlbjE=\"\n",
        )
        .unwrap();
        let env = Env {
            file: envfile::load_env_file(&path).unwrap().into_iter().collect(),
        };
        let args = ServerArgs {
            drives: vec!["/d{1...4}".into()],
            address: None,
            console_address: None,
            certs_dir: None,
            region: None,
            domain: None,
            storage_class: None,
            dev: false,
            log: None,
        };
        let cfg = ServerConfig::resolve(&args, &env).unwrap();
        assert_eq!(cfg.root_user, "fileuser");
        assert_eq!(cfg.root_password, "filepassword");
        assert_eq!(
            cfg.root_previous,
            Some(("olduser".to_string(), "oldpassword".to_string()))
        );
        assert_eq!(cfg.address, "0.0.0.0:9100");
        assert_eq!(cfg.console_address, "0.0.0.0:9190");
        assert_eq!(cfg.certs_dir, Some(PathBuf::from("/etc/cairn/certs")));
        assert_eq!(cfg.region, "eu-west-3");
        assert_eq!(cfg.domains, vec!["s3.example.com".to_string()]);
        assert_eq!(cfg.storage_class.as_deref(), Some("EC:2"));
        assert_eq!(cfg.heal.scanner_cycle, std::time::Duration::from_secs(2));
        assert_eq!(cfg.heal.scanner_speed.objects_per_sec, 20.0);
        assert!(!cfg.heal.scanner_enabled);
        assert_eq!(
            cfg.heal.stale_uploads_expiry,
            std::time::Duration::from_secs(36 * 3600)
        );
        assert_eq!(
            cfg.heal.stale_uploads_cleanup_interval,
            std::time::Duration::from_secs(1800)
        );
        let secs = std::time::Duration::from_secs;
        assert_eq!(cfg.front.max_connections, 100);
        assert_eq!(cfg.front.idle_timeout, secs(11));
        assert_eq!(cfg.front.read_header_timeout, secs(12));
        assert_eq!(cfg.front.tls_handshake_timeout, secs(13));
        assert_eq!(cfg.front.http2_keepalive_interval, secs(14));
        assert_eq!(cfg.front.http2_keepalive_timeout, secs(15));
        assert_eq!(cfg.front.send_timeout, secs(16));
        assert_eq!(cfg.front.receive_timeout, secs(17));
        assert_eq!(cfg.cluster_secret.as_deref(), Some("file-cluster-secret"));
        assert_eq!(cfg.list_cache_bytes, 16 << 20);
        let audit = &cfg.audit.targets;
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0].id, "FILE");
        assert_eq!(audit[0].endpoint, "http://audit.example/log");
        assert_eq!(audit[0].authorization.as_deref(), Some("Bearer file-token"));
        assert_eq!((audit[0].batch_size, audit[0].queue_size), (10, 20));
        assert_eq!(audit[0].http_timeout, secs(3));
        assert_eq!(cfg.prometheus_auth, PrometheusAuth::Public);
        use crate::crypto::kms::Kms;
        assert_eq!(cfg.kms.as_ref().map(|k| k.default_key()), Some("file-key"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn prometheus_auth_is_a_token_unless_public() {
        use PrometheusAuth::{Jwt, Public};
        for (v, want) in [
            (None, Jwt),
            (Some("jwt"), Jwt),
            (Some("public"), Public),
            (Some(" PUBLIC "), Public),
            (Some("none"), Jwt),
            (Some(""), Jwt),
        ] {
            assert_eq!(PrometheusAuth::from_setting(v), want, "{v:?}");
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(normalize_address(":9000").unwrap(), "0.0.0.0:9000");
        assert_eq!(normalize_address("127.0.0.1:1").unwrap(), "127.0.0.1:1");
        assert!(normalize_address("nohost").is_err());
        assert!(normalize_address(":99999").is_err());
    }
}
