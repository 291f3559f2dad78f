//! `cairn-bench-load`: an S3 load generator for Cairn (or any S3 endpoint).
//!
//! It exists so that every performance claim about the server comes from the same tool, with
//! the same client cost, on the same 2-core machine: hyper keep-alive pool with TCP_NODELAY,
//! SigV4 signed by hand, PUT bodies streamed from one shared buffer, GET bodies counted and
//! dropped. Results go to stdout as Markdown (and JSON with `--json`); progress to stderr.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_bench::identity::{self, Identity};
use cairn_bench::load::{self, CellResult, CellSpec, Op, RunConfig, Runner};
use cairn_bench::s3::{ClientConfig, S3Client};
use cairn_bench::sigv4::{Credentials, Signer};
use cairn_bench::units::{fmt_size, parse_duration, parse_size};
use clap::Parser;
use serde::Serialize;

const EXAMPLES: &str = "\
Examples:
  # 10 s of 1 MiB PUTs, 8 at a time, against a local server:
  CAIRN_ROOT_USER=admin CAIRN_ROOT_PASSWORD=secret123 \\
    cairn-bench-load --endpoint http://127.0.0.1:9000 --op put --size 1MiB --concurrency 8

  # exactly 200 GETs of 4 KiB objects:
  cairn-bench-load --op get --size 4KiB --concurrency 32 --count 200

  # the standard matrix (PUT and GET; 4 KiB, 1 MiB, 64 MiB; concurrency 1 and 32, capped at
  # 8 for 64 MiB), watching the server's CPU and memory, results also as JSON:
  cairn-bench-load --matrix --duration 10s --server-pid $(pgrep -x cairn) --json out.json

  # what authorization costs: 4 KiB GETs and PUTs signed by root and by a user with the
  # canned readwrite policy (created through the admin API, removed at the end), alternating
  # root, user, root, user for 3 rounds; prints the user/root ratio per cell:
  cairn-bench-load --identity both --rounds 3 --phases get:4KiB:32,put:4KiB:32 --duration 8s

  # memory after a mixed workload: PUTs alone (the baseline), then GETs, then the same PUTs,
  # with the server's peak RSS per phase beside the 300 MiB target:
  cairn-bench-load --phases put:64MiB:32,get:64MiB:32,put:64MiB:32 --duration 15s \
    --server-pid $(pgrep -x cairn)

Credentials come from --access-key/--secret-key, else CAIRN_ROOT_USER/CAIRN_ROOT_PASSWORD,
else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY. Objects are written under a fresh prefix and
deleted at the end (unless --keep). The exit code is 1 if any request failed (unless
--allow-errors), 2 if the run could not start.";

/// S3 load generator: throughput, latency and server resource use per (operation, size,
/// concurrency) cell.
#[derive(Parser, Debug)]
#[command(name = "cairn-bench-load", version, after_help = EXAMPLES)]
struct Cli {
    /// S3 endpoint, plain HTTP (no TLS), path-style addressing.
    #[arg(long, default_value = "http://127.0.0.1:9000")]
    endpoint: String,

    /// Access key [default: $CAIRN_ROOT_USER, else $AWS_ACCESS_KEY_ID].
    #[arg(long)]
    access_key: Option<String>,

    /// Secret key [default: $CAIRN_ROOT_PASSWORD, else $AWS_SECRET_ACCESS_KEY].
    #[arg(long)]
    secret_key: Option<String>,

    /// Region for the signature (and the bucket's location when it is created).
    #[arg(long, default_value = "us-east-1")]
    region: String,

    /// Bucket to use; created if missing.
    #[arg(long, default_value = "cairn-bench")]
    bucket: String,

    /// Operation of a single cell (ignored with --matrix).
    #[arg(long, value_enum, default_value_t = Op::Put)]
    op: Op,

    /// Object size of a single cell, e.g. 4KiB, 1MiB, 64MiB (ignored with --matrix).
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    size: u64,

    /// Requests in flight at once (ignored with --matrix).
    #[arg(long, default_value_t = 1)]
    concurrency: usize,

    /// How long each cell issues requests, e.g. 10s, 500ms [default: 10s unless --count].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,

    /// Requests per cell; with --duration, whichever limit comes first.
    #[arg(long)]
    count: Option<u64>,

    /// Run the standard matrix instead of one cell.
    #[arg(long)]
    matrix: bool,

    /// Object sizes of the matrix.
    #[arg(long, value_delimiter = ',', default_value = "4KiB,1MiB,64MiB", value_parser = parse_size)]
    matrix_sizes: Vec<u64>,

    /// Concurrencies of the matrix (each lowered so that at most --max-in-flight bytes are in
    /// flight: 64 MiB objects run at 8).
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    matrix_concurrency: Vec<usize>,

    /// Run these phases in order instead of one cell or the matrix: a comma-separated list of
    /// op:size:concurrency, e.g. put:64MiB:32,get:64MiB:32,put:64MiB:32. No in-flight cap.
    #[arg(long, conflicts_with = "matrix")]
    phases: Option<String>,

    /// Resident-memory target of the server, printed beside each phase's peak RSS (with
    /// --server-pid).
    #[arg(long, default_value = "300MiB", value_parser = parse_size)]
    rss_target: u64,

    /// Cap on concurrency × object size in the matrix.
    #[arg(long, default_value = "512MiB", value_parser = parse_size)]
    max_in_flight: u64,

    /// PID of the server: report its CPU time per request and its peak RSS (VmRSS sampled
    /// every 100 ms, and VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,

    /// Deadline of one request, body included.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    timeout: Duration,

    /// Distinct objects written before a GET cell and read round-robin.
    #[arg(long, default_value_t = 8)]
    get_keys: usize,

    /// PUTs cycle over this many keys per concurrent worker, so all but the first PUT of
    /// each key overwrite it [default: every PUT writes a new key].
    #[arg(long)]
    put_keys: Option<u64>,

    /// Share of GETs in --op mixed (the rest are PUTs).
    #[arg(long, default_value_t = 0.5)]
    read_fraction: f64,

    /// Key prefix for everything written [default: bench-<unix time>].
    #[arg(long)]
    prefix: Option<String>,

    /// Keep the objects written (by default they are deleted after each cell / the run).
    #[arg(long)]
    keep: bool,

    /// Exit 0 even if some requests failed.
    #[arg(long)]
    allow_errors: bool,

    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,

    /// Tokio worker threads for the client [default: number of CPUs].
    #[arg(long)]
    threads: Option<usize>,

    /// Who signs the cells: root, a user with the canned `readwrite` policy created for the
    /// run through the admin API (and removed at the end unless --keep), or both, alternating
    /// cell by cell (root, user, root, user, ...) with a user/root ratio table at the end.
    #[arg(long, value_enum, default_value_t = Identity::Root)]
    identity: Identity,

    /// How many times every cell runs (per identity).
    #[arg(long, default_value_t = 1)]
    rounds: usize,

    /// Access key of the --identity user [default: cairn-bench-<pid>].
    #[arg(long)]
    bench_user: Option<String>,

    /// Seconds between progress lines on stderr.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    progress: Duration,
}

/// The JSON document written by `--json`.
#[derive(Serialize)]
struct Report<'a> {
    tool: &'static str,
    endpoint: &'a str,
    bucket: &'a str,
    started_utc: String,
    server_pid: Option<u32>,
    /// The resident-memory target printed beside each phase's peak, MiB.
    rss_target_mib: f64,
    cells: &'a [CellResult],
    /// User ÷ root per cell, as printed (with --identity both).
    #[serde(skip_serializing_if = "Option::is_none")]
    ratios: Option<String>,
}

/// First non-empty value among `flag` and the environment variables `vars`.
fn pick(flag: &Option<String>, vars: &[&str]) -> Option<String> {
    flag.clone().filter(|s| !s.is_empty()).or_else(|| {
        vars.iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("cairn-bench-load: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the benchmark; `Ok(false)` when requests failed and errors are not allowed.
fn run(cli: Cli) -> Result<bool> {
    let access_key = pick(&cli.access_key, &["CAIRN_ROOT_USER", "AWS_ACCESS_KEY_ID"]).context(
        "no access key: pass --access-key or set CAIRN_ROOT_USER (or AWS_ACCESS_KEY_ID)",
    )?;
    let secret_key = pick(
        &cli.secret_key,
        &["CAIRN_ROOT_PASSWORD", "AWS_SECRET_ACCESS_KEY"],
    )
    .context(
        "no secret key: pass --secret-key or set CAIRN_ROOT_PASSWORD (or AWS_SECRET_ACCESS_KEY)",
    )?;
    if cli.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(0.0..=1.0).contains(&cli.read_fraction) {
        bail!("--read-fraction must be between 0 and 1");
    }
    if cli.rounds == 0 {
        bail!("--rounds must be at least 1");
    }
    if cli.count == Some(0) {
        bail!("--count must be at least 1");
    }
    if let Some(pid) = cli.server_pid {
        // Fail now rather than print a table of blank server columns.
        if cairn_bench::procinfo::read_rss(pid).is_none() {
            bail!("--server-pid {pid}: no such process (or /proc/{pid}/status is unreadable)");
        }
    }
    let duration = match (cli.duration, cli.count) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    let cells: Vec<CellSpec> = if let Some(phases) = &cli.phases {
        load::parse_phases(phases, duration, cli.count)?
    } else if cli.matrix {
        load::matrix(
            &cli.matrix_sizes,
            &cli.matrix_concurrency,
            cli.max_in_flight,
            duration,
            cli.count,
        )
    } else {
        vec![CellSpec {
            op: cli.op,
            size: cli.size,
            concurrency: cli.concurrency,
            duration,
            count: cli.count,
        }]
    };
    let max_size = cells.iter().map(|c| c.size).max().unwrap_or(0);
    let max_conc = cells.iter().map(|c| c.concurrency).max().unwrap_or(1);
    // One buffer for all PUT bodies: as big as the largest object, at least 1 MiB so that small
    // objects start at varied offsets, at most 256 MiB (bigger objects repeat it).
    let buffer = max_size.clamp(1 << 20, 256 << 20) as usize;

    let threads = cli
        .threads
        .or_else(|| std::thread::available_parallelism().ok().map(|n| n.get()))
        .unwrap_or(2)
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;

    let root_credentials = Credentials {
        access_key,
        secret_key,
    };
    let signer = Signer::new(root_credentials.clone(), &cli.region, "s3");
    let user_credentials = Credentials {
        access_key: cli
            .bench_user
            .clone()
            .unwrap_or_else(|| format!("cairn-bench-{}", std::process::id())),
        secret_key: format!("bench-secret-{:016x}", rand::random::<u64>()),
    };
    let admin_root = cairn::s3::auth::sigv4::Credentials {
        access_key: root_credentials.access_key.clone(),
        secret_key: root_credentials.secret_key.clone(),
    };
    let started_utc = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let prefix = cli.prefix.clone().unwrap_or_else(|| {
        format!(
            "bench-{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S"),
            std::process::id()
        )
    });

    let results: Vec<CellResult> = rt.block_on(async {
        let client_config = ClientConfig {
            endpoint: cli.endpoint.clone(),
            timeout: cli.timeout,
            max_idle: max_conc + 8,
        };
        let client = S3Client::new(&client_config, signer)?;
        eprintln!(
            "cairn-bench-load: {} bucket {} prefix {prefix}, {} cell(s) x {} round(s), identity {:?}, {threads} client thread(s)",
            cli.endpoint,
            cli.bucket,
            cells.len(),
            cli.rounds,
            cli.identity
        );
        client
            .ensure_bucket(&cli.bucket, &cli.region)
            .await
            .with_context(|| format!("preparing bucket {}", cli.bucket))?;

        // Ctrl-C stops issuing requests; in-flight ones finish and cleanup still runs.
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    eprintln!("interrupted: finishing in-flight requests");
                    stop.store(true, Ordering::Relaxed);
                }
            });
        }
        if cli.identity.needs_user() {
            eprintln!(
                "  creating user {} with policy {} through the admin API",
                user_credentials.access_key,
                identity::USER_POLICY
            );
            identity::create_user(
                &cli.endpoint,
                &admin_root,
                &cli.region,
                &user_credentials.access_key,
                &user_credentials.secret_key,
            )
            .await?;
        }
        // One runner per identity, each under its own prefix (runners number their PUT keys
        // independently).
        let with_identity = cli.identity != Identity::Root || cli.rounds > 1;
        let mut runners: Vec<(&'static str, Runner)> = Vec::new();
        for &who in cli.identity.labels() {
            let client = if who == "root" {
                client.clone()
            } else {
                S3Client::new(
                    &client_config,
                    Signer::new(user_credentials.clone(), &cli.region, "s3"),
                )?
            };
            let prefix = if cli.identity == Identity::Both {
                format!("{prefix}/{who}")
            } else {
                prefix.clone()
            };
            let runner = Runner::new(
                client,
                RunConfig {
                    bucket: cli.bucket.clone(),
                    prefix,
                    get_keys: cli.get_keys,
                    put_keys: cli.put_keys,
                    read_fraction: cli.read_fraction,
                    cleanup: !cli.keep,
                    server_pid: cli.server_pid,
                    progress_every: cli.progress,
                },
                buffer,
                stop.clone(),
            );
            runners.push((who, runner));
        }
        let mut results = Vec::new();
        'rounds: for round in 0..cli.rounds {
            if cli.rounds > 1 {
                eprintln!("  round {}/{}", round + 1, cli.rounds);
            }
            // Alternate root and user, and swap who goes first every round (root, user, user,
            // root, ...) so that neither always runs right after the other's cleanup.
            if round > 0 {
                runners.reverse();
            }
            for spec in &cells {
                for (who, runner) in runners.iter_mut() {
                    if stop.load(Ordering::Relaxed) {
                        break 'rounds;
                    }
                    if with_identity {
                        eprintln!("  as {who}:");
                    }
                    let mut r = match runner.run_cell(spec).await {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!(
                                "  cell {} {} c={} failed: {e:#}",
                                spec.op.label(),
                                fmt_size(spec.size),
                                spec.concurrency
                            );
                            CellResult::failed(spec, format!("{e:#}"))
                        }
                    };
                    if with_identity {
                        r.identity = Some((*who).to_string());
                    }
                    results.push(r);
                }
            }
        }
        for (_, runner) in runners.iter_mut() {
            let cleanup_errors = runner.cleanup_preloaded().await;
            if cleanup_errors > 0 {
                if let Some(last) = results.last_mut() {
                    last.cleanup_errors += cleanup_errors;
                }
            }
        }
        if cli.identity.needs_user() && !cli.keep {
            if let Err(e) = identity::remove_user(
                &cli.endpoint,
                &admin_root,
                &cli.region,
                &user_credentials.access_key,
            )
            .await
            {
                eprintln!("  cleanup: {e:#}");
            }
        }
        anyhow::Ok(results)
    })?;

    print!(
        "{}",
        load::results_table(&results, cli.server_pid.is_some())
    );
    if cli.server_pid.is_some() {
        println!(
            "\nServer resident memory per phase (peak: the phase's own VmHWM, reset at its start; target {}):\n",
            fmt_size(cli.rss_target)
        );
        print!(
            "{}",
            load::memory_table(&results, cli.rss_target as f64 / (1u64 << 20) as f64)
        );
    }
    let ratios = identity::ratio_table(&results);
    if !ratios.is_empty() {
        println!(
            "\nUser ({} policy) ÷ root, mean ops/s over {} round(s), cells alternating root, user:\n",
            identity::USER_POLICY,
            cli.rounds
        );
        print!("{ratios}");
    }
    for r in &results {
        if let Some(why) = &r.failed {
            println!(
                "\n{} {} c={} did not run: {why}",
                r.op, r.size_label, r.concurrency
            );
        }
    }
    if let Some(path) = &cli.json {
        let report = Report {
            tool: "cairn-bench-load",
            endpoint: &cli.endpoint,
            bucket: &cli.bucket,
            started_utc,
            server_pid: cli.server_pid,
            rss_target_mib: cli.rss_target as f64 / (1u64 << 20) as f64,
            cells: &results,
            ratios: (!ratios.is_empty()).then(|| ratios.clone()),
        };
        let text = serde_json::to_string_pretty(&report).context("encoding JSON")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    let failed = results.iter().any(CellResult::had_errors);
    if failed {
        eprintln!(
            "cairn-bench-load: some requests failed{}",
            if cli.allow_errors {
                " (allowed by --allow-errors)"
            } else {
                ""
            }
        );
    }
    Ok(!failed || cli.allow_errors)
}
