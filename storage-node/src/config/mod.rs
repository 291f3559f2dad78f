//! Command line and environment configuration of the `cairn` binary.
//!
//! Every setting comes from, in order of precedence: the command line, the `CAIRN_*`
//! environment variable, its `MINIO_*` alias (so a MinIO Tenant's configuration works
//! unchanged), the configuration file named by `CAIRN_CONFIG_ENV_FILE` (the
//! `export K="v"` format of the Kubernetes configuration Secret), and a default.

pub mod envfile;

use clap::{Args, Parser, Subcommand};
use std::collections::HashMap;
use std::path::PathBuf;

/// Passwords shorter than this are refused, as MinIO does.
pub const MIN_PASSWORD_LEN: usize = 8;
pub const DEV_USER: &str = "cairnadmin";
pub const DEV_PASSWORD: &str = "cairnadmin";

#[derive(Debug, Parser)]
#[command(
    name = "cairn",
    version,
    about = "Cairn: erasure-coded, S3-compatible object storage",
    long_about = "Cairn stores objects erasure-coded across drives and serves them over the S3 API.\n\n\
        Quick start on one machine (8 directories, EC:4):\n\n  \
        CAIRN_ROOT_USER=admin CAIRN_ROOT_PASSWORD=change-me-now cairn server ./data/drive{1...8}\n\n\
        then point any S3 client at http://127.0.0.1:9000 with those credentials."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the storage server on the given drives.
    Server(ServerArgs),
    /// Administer a running deployment: `info`, `heal` (root credentials).
    Admin(crate::admin::cli::AdminArgs),
}

#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Drives: directories, or URLs for a cluster. Ellipses expand: `/data{1...8}`,
    /// `http://node{1...4}:9000/export{0...1}`; each argument with ellipses is one pool.
    #[arg(required = true, value_name = "DRIVE")]
    pub drives: Vec<String>,

    /// Address of the S3 API [env: CAIRN_ADDRESS, MINIO_ADDRESS] [default: :9000]
    #[arg(long)]
    pub address: Option<String>,

    /// Address of the web console (reserved; the console is not served yet)
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(normalize_address(":9000").unwrap(), "0.0.0.0:9000");
        assert_eq!(normalize_address("127.0.0.1:1").unwrap(), "127.0.0.1:1");
        assert!(normalize_address("nohost").is_err());
        assert!(normalize_address(":99999").is_err());
    }
}
