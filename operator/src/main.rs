//! `cairn-operator`: the command line. `run` is the controller (in a cluster, or against
//! the kubeconfig's cluster); `crd` and `render` work offline.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use cairn_operator::cli::{self, Format, RenderOptions};
use cairn_operator::render::{DEFAULT_IMAGE, Settings};

/// Kubernetes operator for Cairn, erasure-coded S3-compatible object storage.
///
/// A `Tenant` (apiVersion cairn.dev/v1alpha1) describes a storage cluster: pools of
/// servers, each with persistent volumes. The operator turns it into StatefulSets,
/// Services, PodDisruptionBudgets, TLS Secrets and a ServiceMonitor.
#[derive(Parser)]
#[command(
    name = "cairn-operator",
    version,
    max_term_width = 100,
    after_help = "Get started:
  cairn-operator crd | kubectl apply -f -                # install the Tenant CRD
  cairn-operator render -f manifests/examples/matrix/    # preview what a Tenant becomes
  cairn-operator help render                             # options of a command"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller: watch Tenants and make the cluster match them.
    ///
    /// Uses the in-cluster service account, or the kubeconfig outside a cluster. With
    /// --leader-elect (the default in the Helm chart and kustomize base), replicas share a
    /// Lease and only its holder reconciles. Serves /metrics, /healthz and /readyz on
    /// --metrics-address.
    ///
    /// Only the operator's own objects are watched (label
    /// app.kubernetes.io/managed-by=cairn-operator); Secrets a Tenant references are read
    /// by name when it is reconciled (at least every 30 s). An object a Tenant would
    /// create that already exists under another owner is never taken over: the Tenant
    /// gets Ready=False (reason ObjectOwnedByOther) and a Warning Event naming both.
    Run {
        /// Namespace whose Tenants to manage; repeat (or separate with commas) for several.
        /// Without it, every namespace, which needs the cluster-wide ClusterRole. With it,
        /// every list and watch is made in these namespaces only, so a Role in each is
        /// enough (Helm: watchNamespaces; kustomize: manifests/operator-namespaced).
        #[arg(
            long = "namespace",
            value_name = "NAMESPACE",
            env = "WATCH_NAMESPACES",
            value_delimiter = ','
        )]
        namespaces: Vec<String>,

        /// Cluster DNS domain, used in the pods' names (endpoints and certificates).
        #[arg(
            long,
            default_value = "cluster.local",
            value_name = "DOMAIN",
            env = "CLUSTER_DOMAIN"
        )]
        cluster_domain: String,

        /// Server image for Tenants that set no spec.image.
        #[arg(long, default_value = DEFAULT_IMAGE, value_name = "IMAGE", env = "CAIRN_DEFAULT_IMAGE")]
        default_image: String,

        /// Address of the metrics and health endpoints.
        #[arg(long, default_value = "0.0.0.0:8080", value_name = "ADDR")]
        metrics_address: SocketAddr,

        /// Take part in leader election (a Lease), so that several replicas can run.
        #[arg(long)]
        leader_elect: bool,

        /// Name of the Lease.
        #[arg(long, default_value = "cairn-operator", value_name = "NAME")]
        lease_name: String,

        /// Namespace of the Lease (default: the operator's own, from POD_NAMESPACE).
        #[arg(long, env = "POD_NAMESPACE", value_name = "NAMESPACE")]
        lease_namespace: Option<String>,

        /// Log filter (error, warn, info, debug, trace, or a tracing directive).
        #[arg(long, default_value = "info", env = "LOG_LEVEL")]
        log_level: String,
    },

    /// Print the Tenant CustomResourceDefinition as YAML.
    ///
    /// Install it with `cairn-operator crd | kubectl apply -f -` (the same file is kept in
    /// crds/cairn.dev_tenants.yaml).
    Crd,

    /// Print every object the operator would create for the Tenants in the given files.
    ///
    /// Reads Tenants and the Secrets they reference (the configuration Secret is required:
    /// its config.env is checked for credentials and the storage class), validates them,
    /// and prints the StatefulSets, Services, PodDisruptionBudgets, TLS Secrets,
    /// ServiceMonitors and their bearer token Secrets. Nothing is sent to a cluster.
    /// Objects of other kinds in the files are skipped. Warnings go to standard error.
    ///
    /// Exit status: 0 when every Tenant rendered, 2 when the input is wrong (the message
    /// says what to change), 1 on an internal failure.
    #[command(after_help = "Examples:
  cairn-operator render -f manifests/examples/matrix/
  cairn-operator render -f tenant.yaml -f secrets.yaml --omit-tls-secrets
  kubectl get tenant,secret -n matrix -o yaml | cairn-operator render -f -")]
    Render {
        /// A manifest file, a directory of them (.yaml, .yml, .json), or - for standard
        /// input. Repeat for more; multi-document YAML and `kind: List` are read.
        #[arg(short = 'f', long = "filename", value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,

        /// Also read the subdirectories of directories given with -f.
        #[arg(short = 'R', long)]
        recursive: bool,

        /// Namespace of the objects that name none.
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,

        /// Cluster DNS domain, used in the pods' names (endpoints and certificates).
        #[arg(long, default_value = "cluster.local", value_name = "DOMAIN")]
        cluster_domain: String,

        /// Server image for Tenants that set no spec.image.
        #[arg(long, default_value = DEFAULT_IMAGE, value_name = "IMAGE")]
        default_image: String,

        /// Leave the generated Secrets and CA ConfigMap out of the output. Without it, a
        /// fresh CA and server certificate (with private keys) are generated and printed
        /// for each Tenant with auto TLS, and a Prometheus bearer token for each with
        /// prometheusOperator, as the operator would create them.
        #[arg(long)]
        omit_tls_secrets: bool,

        /// Render as if the Prometheus Operator's ServiceMonitor CRD were not installed.
        #[arg(long)]
        no_service_monitor: bool,

        /// Output format.
        #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
        output: OutputFormat,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    /// Multi-document YAML.
    Yaml,
    /// A JSON v1/List.
    Json,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Run {
            namespaces,
            cluster_domain,
            default_image,
            metrics_address,
            leader_elect,
            lease_name,
            lease_namespace,
            log_level,
        } => {
            let filter = tracing_subscriber::EnvFilter::try_new(&log_level)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
            tracing_subscriber::fmt().with_env_filter(filter).init();
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            let settings = Settings {
                cluster_domain,
                default_image,
            };
            let options = RunOptions {
                namespaces,
                settings,
                metrics_address,
                leader_elect,
                lease_name,
                lease_namespace,
            };
            match runtime.block_on(run(options)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Crd => match cairn_operator::crd::crd_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot serialize the CRD: {e}");
                ExitCode::from(1)
            }
        },
        Command::Render {
            paths,
            recursive,
            namespace,
            cluster_domain,
            default_image,
            omit_tls_secrets,
            no_service_monitor,
            output,
        } => {
            let options = RenderOptions {
                paths,
                recursive,
                namespace,
                settings: Settings {
                    cluster_domain,
                    default_image,
                },
                omit_tls_secrets,
                service_monitor_available: !no_service_monitor,
                format: match output {
                    OutputFormat::Yaml => Format::Yaml,
                    OutputFormat::Json => Format::Json,
                },
                now: time::OffsetDateTime::now_utc(),
            };
            match cli::render(&options) {
                Ok(out) => {
                    for w in &out.warnings {
                        eprintln!("warning: {w}");
                    }
                    print!("{}", out.text);
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}

struct RunOptions {
    namespaces: Vec<String>,
    settings: Settings,
    metrics_address: SocketAddr,
    leader_elect: bool,
    lease_name: String,
    lease_namespace: Option<String>,
}

async fn run(o: RunOptions) -> Result<(), String> {
    use cairn_operator::reconcile::{self, Scope, leader, metrics::Metrics};

    let metrics = Arc::new(Metrics::default());
    metrics.set_running(true);
    let (bound, _server) = reconcile::metrics::serve(o.metrics_address, metrics.clone())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", o.metrics_address))?;
    tracing::info!("metrics and health on http://{bound}/metrics, /healthz");

    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("cannot configure the Kubernetes client: {e}"))?;

    let lease = if o.leader_elect {
        let namespace = o
            .lease_namespace
            .clone()
            .unwrap_or_else(|| client.default_namespace().to_string());
        let identity = std::env::var("POD_NAME")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| format!("cairn-operator-{}", std::process::id()));
        let api: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
            kube::Api::namespaced(client.clone(), &namespace);
        let cfg = leader::LeaseConfig::new(&o.lease_name, &identity);
        tracing::info!(
            "waiting for lease {namespace}/{} as {identity}",
            o.lease_name
        );
        tokio::select! {
            () = leader::acquire(&api, &cfg) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
        tracing::info!("leading: holding lease {namespace}/{}", o.lease_name);
        Some((api, cfg))
    } else {
        None
    };
    metrics.set_leader(true);

    let scopes: Vec<Scope> = if o.namespaces.is_empty() {
        vec![Scope::All]
    } else {
        o.namespaces
            .iter()
            .map(|n| Scope::Namespace(n.clone()))
            .collect()
    };
    let controllers =
        futures::future::join_all(scopes.into_iter().map(|scope| {
            reconcile::run(client.clone(), o.settings.clone(), scope, metrics.clone())
        }));
    let result = match &lease {
        Some((api, cfg)) => {
            tokio::select! {
                _ = controllers => Ok(()),
                () = leader::keep(api, cfg) => Err("lost the leader lease; exiting so that a standby takes over".to_string()),
            }
        }
        None => {
            controllers.await;
            Ok(())
        }
    };
    metrics.set_running(false);
    metrics.set_leader(false);
    if let Some((api, cfg)) = &lease
        && result.is_ok()
    {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), leader::release(api, cfg))
            .await;
    }
    result
}
