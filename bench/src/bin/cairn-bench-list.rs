//! Listing at scale (issue 13): fills prefixes with empty objects, then lists them to the
//! end with ListObjectsV2 pages and reports keys/s, page p50/p99/max, the median page of
//! the first and last tenth of the listing (a cost that grows with the position in the
//! prefix shows as last > first) and the server's peak RSS while listing.
//!
//! ```sh
//! cairn-bench-list --endpoint http://127.0.0.1:9400 fill --prefix flat10k/ --count 10000
//! cairn-bench-list --endpoint http://127.0.0.1:9400 list --prefix flat10k/ --label after \
//!     --server-pid $PID --json out.json
//! ```
//!
//! A prefix of a million keys is filled by PUTting one object and cloning its on-disk
//! directory with the server stopped (`clone`), see `listing_clone`.
//!
//! `bench/list.sh` runs the whole comparison (two server binaries over the same data).

use anyhow::{Context, Result};
use cairn_bench::listing::{self, Layout};
use cairn_bench::listing_clone;
use cairn_bench::procinfo::RssSampler;
use cairn_bench::s3::{ClientConfig, S3Client};
use cairn_bench::sigv4::{Credentials, Signer};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(about = "Listing benchmark: fill prefixes, then time paginated ListObjectsV2")]
struct Cli {
    /// Server URL; several (comma-separated) take the listing's pages in turn.
    #[arg(long, value_delimiter = ',', default_value = "http://127.0.0.1:9400")]
    endpoint: Vec<String>,
    #[arg(long, default_value = "bench-list")]
    bucket: String,
    #[arg(long, env = "CAIRN_ROOT_USER")]
    access_key: String,
    #[arg(long, env = "CAIRN_ROOT_PASSWORD", hide_env_values = true)]
    secret_key: String,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// PUT `count` empty objects under `prefix` (keys `from..from+count` of the layout).
    Fill {
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, value_enum, default_value = "flat")]
        layout: Layout,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// PUT every key this many times, with versioning turned on for the bucket when
        /// more than one: keys with that many versions.
        #[arg(long, default_value_t = 1)]
        versions: u32,
    },
    /// With the server stopped: copy the on-disk directory of the object `template`
    /// (PUT it first) to keys `from..from+count` of the layout under `prefix`, on every
    /// drive of `drives` (comma-separated, in any order). Minutes instead of an hour of
    /// PUTs for a million keys; every copy has the template's metadata.
    Clone {
        #[arg(long, value_delimiter = ',', required = true)]
        drives: Vec<PathBuf>,
        #[arg(long)]
        template: String,
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 0)]
        from: u64,
        #[arg(long, value_enum, default_value = "flat")]
        layout: Layout,
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
    /// Print key number `index` of the layout under `prefix` (for scripts).
    Key {
        #[arg(long)]
        prefix: String,
        #[arg(long, value_enum, default_value = "flat")]
        layout: Layout,
        #[arg(long, default_value_t = 0)]
        index: u64,
    },
    /// List everything under `prefix` and print one Markdown table row.
    List {
        #[arg(long)]
        prefix: String,
        #[arg(long)]
        delimiter: Option<String>,
        #[arg(long, default_value_t = 1000)]
        page: usize,
        /// Start after this key (a page deep inside the prefix).
        #[arg(long, default_value = "")]
        start_after: String,
        /// Stop after this many pages (0: list to the end).
        #[arg(long, default_value_t = 0)]
        max_pages: usize,
        /// Name of the row (e.g. the server build).
        #[arg(long, default_value = "")]
        label: String,
        /// Sample these processes' RSS while listing (comma-separated; the largest
        /// peak is reported).
        #[arg(long, value_delimiter = ',')]
        server_pid: Vec<u32>,
        /// Append the figures (with every page time) as one JSON line here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// ListObjectVersions instead of ListObjectsV2 (every version is an entry).
        #[arg(long)]
        versions: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> Result<()> {
    if let Cmd::Clone {
        drives,
        template,
        prefix,
        count,
        from,
        layout,
        threads,
    } = &cli.cmd
    {
        let rate = listing_clone::clone_keys(
            drives,
            &cli.bucket,
            template,
            *from..*from + *count,
            |i| listing::key(*layout, prefix, i),
            *threads,
        )?;
        eprintln!("cloned {template} to {count} keys under {prefix} at {rate:.0} keys/s");
        return Ok(());
    }
    if let Cmd::Key {
        prefix,
        layout,
        index,
    } = &cli.cmd
    {
        println!("{}", listing::key(*layout, prefix, *index));
        return Ok(());
    }
    let signer = Signer::new(
        Credentials {
            access_key: cli.access_key.clone(),
            secret_key: cli.secret_key.clone(),
        },
        &cli.region,
        "s3",
    );
    let clients = cli
        .endpoint
        .iter()
        .map(|e| {
            S3Client::new(
                &ClientConfig {
                    endpoint: e.clone(),
                    timeout: Duration::from_secs(600),
                    max_idle: 64,
                },
                signer.clone(),
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let client = &clients[0];
    match cli.cmd {
        Cmd::Fill {
            prefix,
            count,
            from,
            layout,
            concurrency,
            versions,
        } => {
            client.ensure_bucket(&cli.bucket, &cli.region).await?;
            if versions > 1 {
                client.enable_versioning(&cli.bucket).await?;
            }
            let rate = listing::fill(
                client,
                &cli.bucket,
                layout,
                &prefix,
                from..from + count,
                concurrency,
                versions,
            )
            .await?;
            eprintln!("filled {count} keys under {prefix} at {rate:.0} PUT/s");
        }
        Cmd::Clone { .. } | Cmd::Key { .. } => {}
        Cmd::List {
            prefix,
            delimiter,
            page,
            start_after,
            max_pages,
            label,
            server_pid,
            json,
            versions,
        } => {
            let samplers: Vec<RssSampler> = server_pid
                .iter()
                .map(|p| RssSampler::start(*p, Duration::from_millis(50)))
                .collect();
            let spec = listing::ListSpec {
                prefix: &prefix,
                delimiter: delimiter.as_deref(),
                page,
                start_after: &start_after,
                max_pages,
                versions,
            };
            let l = listing::list_all(&clients, &cli.bucket, &spec).await?;
            let rss = samplers
                .into_iter()
                .filter_map(RssSampler::finish)
                .map(|r| r.peak_sampled)
                .max();
            let s = listing::summarize(&l);
            let rss_mib = rss.map(|r| r as f64 / (1 << 20) as f64);
            println!(
                "| {label}{} | `{prefix}`{}{} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.1} / {:.1} | {} |",
                if versions { " (versions)" } else { "" },
                delimiter.map(|d| format!(" d=`{d}`")).unwrap_or_default(),
                if start_after.is_empty() {
                    String::new()
                } else {
                    format!(" after `{start_after}`")
                },
                l.keys + l.prefixes,
                l.pages,
                l.seconds,
                s.keys_per_s,
                s.p50_ms,
                s.p99_ms,
                s.max_ms,
                s.first_tenth_ms,
                s.last_tenth_ms,
                rss_mib
                    .map(|m| format!("{m:.0}"))
                    .unwrap_or_else(|| "-".into()),
            );
            if let Some(path) = json {
                use std::io::Write;
                let line = serde_json::json!({
                    "label": label, "prefix": prefix, "listing": l, "summary": s,
                    "peak_rss_mib": rss_mib,
                });
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .with_context(|| format!("opening {}", path.display()))?;
                writeln!(f, "{line}")?;
            }
        }
    }
    Ok(())
}
