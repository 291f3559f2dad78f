//! `cairn-operator`: the command line. The controller itself (`run`) comes with the
//! reconcile layer; today the binary prints the CRD and renders Tenants offline.

use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Print the Tenant CustomResourceDefinition as YAML.
    ///
    /// Install it with `cairn-operator crd | kubectl apply -f -` (the same file is kept in
    /// crds/cairn.dev_tenants.yaml).
    Crd,

    /// Print every object the operator would create for the Tenants in the given files.
    ///
    /// Reads Tenants and the Secrets they reference (the configuration Secret is required:
    /// its config.env is checked for credentials and the storage class), validates them,
    /// and prints the StatefulSets, Services, PodDisruptionBudgets, TLS Secrets and
    /// ServiceMonitors. Nothing is sent to a cluster. Objects of other kinds in the files
    /// are skipped. Warnings go to standard error.
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

        /// Leave the generated TLS Secrets and CA ConfigMap out of the output. Without it,
        /// a fresh CA and server certificate (with private keys) are generated and printed
        /// for each Tenant with auto TLS, as the operator would create them.
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
