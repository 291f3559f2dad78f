//! `cairn admin prometheus generate`: prints a Prometheus scrape configuration for the
//! deployment (job, bearer token, metrics path, scheme, target), as `mc admin prometheus
//! generate` does: YAML ready for `prometheus.yml`, or JSON with `--json`.
//!
//! No server is asked: the token (`front::metrics::token`) is signed here with the
//! secret of the signing access key (root by default; a user or service account with
//! `admin:Prometheus` is the narrower choice) and is valid for 100 years, as `mc` makes
//! it. It stops working when that key's secret changes or the key is removed.

use super::cli::{ConnectArgs, Defaults, EXIT_OK, EXIT_USAGE};
use crate::front::metrics::{NODE_PATH, PATH, token};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

#[derive(Debug, Args)]
pub struct PrometheusArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    #[command(subcommand)]
    pub command: PrometheusCommand,
}

#[derive(Debug, Subcommand)]
pub enum PrometheusCommand {
    /// Print a scrape configuration with a bearer token valid for 100 years (YAML, or
    /// JSON with --json)
    Generate {
        /// The page to scrape: the deployment as every server sees it, or one server's
        #[arg(value_enum, default_value = "cluster")]
        metrics: MetricsType,
        /// Name of the scrape job
        #[arg(long, default_value = "minio-job")]
        job: String,
    },
}

/// Which metrics page a scrape configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MetricsType {
    /// `/minio/v2/metrics/cluster`
    Cluster,
    /// `/minio/v2/metrics/node`
    Node,
}

/// Prometheus's `scrape_configs`, with the fields `mc` writes.
#[derive(Debug, Serialize)]
pub struct PrometheusConfig {
    pub scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Debug, Serialize)]
pub struct ScrapeConfig {
    pub job_name: String,
    pub bearer_token: String,
    pub metrics_path: String,
    pub scheme: String,
    pub static_configs: Vec<StaticConfig>,
}

#[derive(Debug, Serialize)]
pub struct StaticConfig {
    pub targets: Vec<String>,
}

/// Runs `cairn admin prometheus ...`; returns the exit code.
pub fn run(args: PrometheusArgs, defaults: &Defaults) -> u8 {
    let PrometheusCommand::Generate { metrics, job } = args.command;
    let c = &args.connect;
    let access_key = c.access_key.clone().or_else(|| defaults.access_key.clone());
    let secret_key = c.secret_key.clone().or_else(|| defaults.secret_key.clone());
    let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
        eprintln!(
            "cairn admin: credentials are missing: set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD (or MINIO_ROOT_USER/MINIO_ROOT_PASSWORD), or pass --access-key and --secret-key"
        );
        return EXIT_USAGE;
    };
    let (scheme, target) = match target(&c.endpoint) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cairn admin: {e}");
            return EXIT_USAGE;
        }
    };
    let config = PrometheusConfig {
        scrape_configs: vec![ScrapeConfig {
            job_name: job,
            bearer_token: token::generate(&access_key, &secret_key, token::LONG_VALIDITY),
            metrics_path: match metrics {
                MetricsType::Cluster => PATH,
                MetricsType::Node => NODE_PATH,
            }
            .to_string(),
            scheme,
            static_configs: vec![StaticConfig {
                targets: vec![target],
            }],
        }],
    };
    if c.json {
        match serde_json::to_string_pretty(&config) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("cairn admin: {e}");
                return super::cli::EXIT_FAILED;
            }
        }
    } else {
        print!("{}", yaml(&config));
    }
    EXIT_OK
}

/// Scheme and `host[:port]` of the endpoint URL.
fn target(endpoint: &str) -> Result<(String, String), String> {
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| format!("invalid endpoint {endpoint:?}: {e}"))?;
    let scheme = match uri.scheme_str() {
        Some(s @ ("http" | "https")) => s.to_string(),
        _ => return Err(format!("the endpoint {endpoint:?} is not an http(s) URL")),
    };
    let authority = uri
        .authority()
        .ok_or_else(|| format!("the endpoint {endpoint:?} names no host"))?;
    Ok((scheme, authority.as_str().to_string()))
}

/// The configuration as YAML, laid out as `mc` prints it; every string single-quoted.
fn yaml(c: &PrometheusConfig) -> String {
    let mut out = String::from("scrape_configs:\n");
    for s in &c.scrape_configs {
        out.push_str(&format!("- job_name: {}\n", quote(&s.job_name)));
        out.push_str(&format!("  bearer_token: {}\n", quote(&s.bearer_token)));
        out.push_str(&format!("  metrics_path: {}\n", quote(&s.metrics_path)));
        out.push_str(&format!("  scheme: {}\n", quote(&s.scheme)));
        out.push_str("  static_configs:\n");
        for t in &s.static_configs {
            let targets: Vec<String> = t.targets.iter().map(|t| quote(t)).collect();
            out.push_str(&format!("  - targets: [{}]\n", targets.join(", ")));
        }
    }
    out
}

/// A YAML single-quoted scalar: no escapes but `''` for a quote.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_quoting() {
        assert_eq!(
            target("https://minio.matrix.svc.cluster.local:9000").unwrap(),
            ("https".into(), "minio.matrix.svc.cluster.local:9000".into())
        );
        assert_eq!(
            target("http://127.0.0.1:9000/").unwrap(),
            ("http".into(), "127.0.0.1:9000".into())
        );
        assert!(target("ftp://h:1").is_err());
        assert!(target("no url").is_err());
        assert_eq!(quote("it's"), "'it''s'");
    }
}
