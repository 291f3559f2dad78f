//! `cairn admin info` and `cairn admin heal`: the command-line client of the admin API
//! (`user`, `group`, `policy` and `svcacct` are in `iam_cli`, `prometheus` in
//! `prometheus_cli`, `kms` in `kms_cli`).
//!
//! Exit codes: 0 success (for `heal`: the heal finished, no object failed and every
//! drive is online), 1 an error answer, a failed heal, objects that could not be healed
//! or drives still offline, 2 usage or configuration errors, 3 the server cannot be
//! reached.

use super::client::{AdminClient, ClientError, TlsTrust};
use super::types::{DriveState, HealProgress, HealStarted, HealTask, Info, ServerState};
use super::{HEAL_PATH, INFO_PATH};
use crate::s3::auth::sigv4::Credentials;
use clap::{Args, Subcommand};
use http::Method;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const EXIT_OK: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_UNREACHABLE: u8 = 3;

/// Deadline of one request to the server.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Consecutive failed polls before `heal` gives up on an unreachable server.
const MAX_POLL_FAILURES: u32 = 10;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Show servers, drives (online, offline, healing), sets, parity, usage and heal
    /// progress.
    Info(InfoArgs),
    /// Start a heal of everything, a bucket or a prefix, and follow its progress.
    Heal(HealArgs),
    /// Manage users: add, remove, info, list, enable, disable.
    User(super::iam_cli::UserArgs),
    /// Manage groups of users: add members, remove, info, list, enable, disable.
    Group(super::iam_cli::GroupArgs),
    /// Manage named policies and attach them to users and groups.
    Policy(super::iam_cli::PolicyArgs),
    /// Manage service accounts: keys of their own that act for a user, optionally
    /// narrowed by a policy.
    Svcacct(super::iam_cli::SvcacctArgs),
    /// Prometheus: print a scrape configuration with a bearer token for the metrics.
    Prometheus(super::prometheus_cli::PrometheusArgs),
    /// Server-side encryption's KMS: status, key self-test, key rotation (reseal).
    Kms(super::kms_cli::KmsArgs),
    /// Bucket lifecycle: what this server's lifecycle worker has done (`status`).
    Lifecycle(super::lifecycle_cli::LifecycleArgs),
}

/// How to reach the server.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// URL of any server of the deployment
    #[arg(
        long,
        env = "CAIRN_ENDPOINT",
        default_value = "http://127.0.0.1:9000",
        global = true
    )]
    pub endpoint: String,
    /// Access key to sign with (root or any user with the admin rights the command
    /// needs) [default: CAIRN_ROOT_USER, MINIO_ROOT_USER]
    #[arg(long, global = true)]
    pub access_key: Option<String>,
    /// Secret key of the signing access key; prefer the environment, a command line is
    /// visible to other users [default: CAIRN_ROOT_PASSWORD, MINIO_ROOT_PASSWORD]
    #[arg(long, global = true)]
    pub secret_key: Option<String>,
    /// Region to sign with [env: CAIRN_REGION, MINIO_REGION] [default: us-east-1]
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// Accept any TLS certificate (testing only)
    #[arg(long, conflicts_with = "ca_file", global = true)]
    pub insecure: bool,
    /// PEM file with the CA certificates that sign the server's certificate
    /// [default: the system's CA bundle]
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_file: Option<PathBuf>,
    /// Print the server's JSON answer instead of a table
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct HealArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Heal only this bucket
    #[arg(long)]
    pub bucket: Option<String>,
    /// Heal only keys under this prefix (needs --bucket)
    #[arg(long, requires = "bucket")]
    pub prefix: Option<String>,
    /// Verify every shard block, not only presence and the last block
    #[arg(long)]
    pub deep: bool,
    /// Start the heal and return at once (prints its id)
    #[arg(long)]
    pub no_wait: bool,
    /// Give up following after this many seconds (the heal goes on)
    #[arg(long, default_value_t = 3600, value_name = "SECONDS")]
    pub timeout: u64,
}

/// What the environment or the configuration file says, for options the command line
/// leaves out. Resolved by the binary (`config::Env`), so this client does not depend on
/// the server's configuration code.
#[derive(Debug, Default, Clone)]
pub struct Defaults {
    pub access_key: Option<String>,
    pub secret_key: Option<String>,
    pub region: Option<String>,
}

/// Runs an admin command; returns the process exit code.
pub async fn run(args: AdminArgs, defaults: Defaults) -> u8 {
    match args.command {
        AdminCommand::Info(a) => match client(&a.connect, &defaults) {
            Ok(c) => info(&c, a.connect.json).await,
            Err(code) => code,
        },
        AdminCommand::Heal(a) => match client(&a.connect, &defaults) {
            Ok(c) => heal(&c, &a).await,
            Err(code) => code,
        },
        AdminCommand::User(a) => super::iam_cli::user(a, &defaults).await,
        AdminCommand::Group(a) => super::iam_cli::group(a, &defaults).await,
        AdminCommand::Policy(a) => super::iam_cli::policy(a, &defaults).await,
        AdminCommand::Svcacct(a) => super::iam_cli::svcacct(a, &defaults).await,
        AdminCommand::Prometheus(a) => super::prometheus_cli::run(a, &defaults),
        AdminCommand::Kms(a) => super::kms_cli::run(a, &defaults).await,
        AdminCommand::Lifecycle(a) => super::lifecycle_cli::run(a, &defaults).await,
    }
}

pub(super) fn client(a: &ConnectArgs, defaults: &Defaults) -> Result<AdminClient, u8> {
    let access_key = a.access_key.clone().or_else(|| defaults.access_key.clone());
    let secret_key = a.secret_key.clone().or_else(|| defaults.secret_key.clone());
    let (Some(access_key), Some(secret_key)) = (access_key, secret_key) else {
        eprintln!(
            "cairn admin: credentials are missing: set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD (or MINIO_ROOT_USER/MINIO_ROOT_PASSWORD), or pass --access-key and --secret-key"
        );
        return Err(EXIT_USAGE);
    };
    let region = a
        .region
        .clone()
        .or_else(|| defaults.region.clone())
        .unwrap_or_else(|| "us-east-1".into());
    let trust = match (&a.ca_file, a.insecure) {
        (Some(f), _) => TlsTrust::CaFile(f.clone()),
        (None, true) => TlsTrust::Insecure,
        (None, false) => TlsTrust::System,
    };
    AdminClient::new(
        &a.endpoint,
        Credentials {
            access_key,
            secret_key,
        },
        &region,
        &trust,
    )
    .map_err(|e| {
        eprintln!("cairn admin: {e}");
        EXIT_USAGE
    })
}

/// Prints a client error and returns its exit code.
pub(super) fn fail(e: &ClientError) -> u8 {
    eprintln!("cairn admin: {e}");
    if e.is_unreachable() {
        EXIT_UNREACHABLE
    } else {
        EXIT_FAILED
    }
}

async fn info(c: &AdminClient, raw: bool) -> u8 {
    if raw {
        return match c.call(Method::GET, INFO_PATH, &[], REQUEST_TIMEOUT).await {
            Ok((status, body)) if status.is_success() => {
                println!("{}", String::from_utf8_lossy(&body));
                EXIT_OK
            }
            Ok((status, body)) => {
                eprintln!("cairn admin: HTTP {status}");
                println!("{}", String::from_utf8_lossy(&body));
                EXIT_FAILED
            }
            Err(e) => fail(&e),
        };
    }
    match c
        .json::<Info>(Method::GET, INFO_PATH, &[], REQUEST_TIMEOUT)
        .await
    {
        Ok(i) => {
            print!("{}", render_info(&i));
            EXIT_OK
        }
        Err(e) => fail(&e),
    }
}

/// Bytes in binary units, one decimal.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Left-aligned columns, two spaces apart.
pub(super) fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{s:<w$}", w = widths[i]))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn row(cells: &[&dyn std::fmt::Display]) -> Vec<String> {
    cells.iter().map(|c| c.to_string()).collect()
}

/// The human-readable form of the info document.
pub fn render_info(i: &Info) -> String {
    let mut out = format!(
        "Deployment: {}\nMode:       {} (answered by {})\nRegion:     {}\n\n",
        i.deployment_id.as_deref().unwrap_or("(unknown)"),
        i.mode,
        i.server,
        i.region
    );
    let mut rows = vec![row(&[
        &"SERVER", &"STATE", &"DRIVES", &"ONLINE", &"HEALING", &"NOTE",
    ])];
    for s in &i.servers {
        let state = match s.state {
            ServerState::Online => "online",
            ServerState::Offline => "OFFLINE",
        };
        let note = match (&s.error, s.local) {
            (Some(e), _) => e.clone(),
            (None, true) => "this server".into(),
            (None, false) => String::new(),
        };
        rows.push(row(&[
            &s.endpoint,
            &state,
            &s.drives,
            &s.drives_online,
            &s.drives_healing,
            &note,
        ]));
    }
    out.push_str(&table(&rows));
    out.push('\n');
    let mut rows = vec![row(&[
        &"POOL",
        &"DRIVES",
        &"SETS",
        &"SET SIZE",
        &"PARITY",
        &"READ QUORUM",
        &"WRITE QUORUM",
        &"SETS WRITABLE",
        &"SETS READABLE",
    ])];
    for p in &i.pools {
        let writable = p.set_health.iter().filter(|s| s.write_quorum).count();
        let readable = p.set_health.iter().filter(|s| s.read_quorum).count();
        rows.push(row(&[
            &(p.index + 1),
            &p.drives,
            &p.sets,
            &p.set_size,
            &format!("EC:{} ({}+{})", p.parity, p.data, p.parity),
            &p.read_quorum,
            &p.write_quorum,
            &format!("{writable}/{}", p.sets),
            &format!("{readable}/{}", p.sets),
        ]));
    }
    out.push_str(&table(&rows));
    out.push('\n');
    let mut rows = vec![row(&[
        &"DRIVE", &"POOL", &"SET", &"STATE", &"USED", &"TOTAL", &"NOTE",
    ])];
    for d in &i.drives {
        let state = match d.state {
            DriveState::Online => "online".to_string(),
            DriveState::Offline => "OFFLINE".to_string(),
            DriveState::Healing => match &d.healing {
                Some(h) => format!("healing {:.1}%", h.percent),
                None => "healing".to_string(),
            },
        };
        let (used, total) = if d.state == DriveState::Offline {
            ("-".to_string(), "-".to_string())
        } else {
            (human_bytes(d.used), human_bytes(d.total))
        };
        rows.push(row(&[
            &d.endpoint,
            &(d.pool + 1),
            &(d.set + 1),
            &state,
            &used,
            &total,
            &d.error.as_deref().unwrap_or(""),
        ]));
    }
    out.push_str(&table(&rows));
    let u = &i.usage;
    out.push_str(&format!(
        "\nUsage:  {} used, {} free of {} raw; usable {} ({} free)\nDrives: {} total, {} online, {} offline, {} healing\n",
        human_bytes(u.raw_used),
        human_bytes(u.raw_free),
        human_bytes(u.raw_capacity),
        human_bytes(u.usable_capacity),
        human_bytes(u.usable_free),
        u.drives_total,
        u.drives_online,
        u.drives_offline,
        u.drives_healing
    ));
    out.push_str(&format!("Heal:   {}\n", heal_summary(&i.heal)));
    out
}

fn task_line(t: &HealTask) -> String {
    let what = match (&t.bucket, t.prefix.as_str()) {
        (None, _) => "everything".to_string(),
        (Some(b), "") => format!("bucket {b}"),
        (Some(b), p) => format!("{b}/{p}*"),
    };
    let mut s = format!(
        "task {} ({what}{}): {}, {} scanned, {} healed, {} failed",
        t.id,
        if t.deep { ", deep" } else { "" },
        t.state,
        t.objects_scanned,
        t.objects_healed,
        t.objects_failed
    );
    if let Some(e) = &t.error {
        s.push_str(&format!(" ({e})"));
    }
    s
}

/// One line (plus one per drive rebuild) about heal progress.
pub fn heal_summary(p: &HealProgress) -> String {
    let mut s = match &p.task {
        Some(t) => task_line(t),
        None => "no admin heal started on this server".to_string(),
    };
    let c = &p.cluster;
    s.push_str(&format!(
        "; all heals on {} server(s): {} scanned, {} healed, {} failed, {} queued (MRF)",
        c.servers, c.objects_scanned, c.objects_healed, c.objects_failed, c.mrf_queued
    ));
    for d in &p.drives_healing {
        s.push_str(&format!(
            "\n        drive {} {}: {:.1}% ({}/{} objects, {} healed, {} failed)",
            d.endpoint,
            d.state,
            d.percent,
            d.objects_done,
            d.objects_total,
            d.objects_healed,
            d.objects_failed
        ));
    }
    if !p.servers_unreachable.is_empty() {
        s.push_str(&format!(
            "\n        unreachable: {}",
            p.servers_unreachable.join(", ")
        ));
    }
    s
}

/// The exit code of a finished heal: 0 only when it healed everything it found and
/// every drive is online (otherwise objects are not back to full redundancy).
async fn finish(c: &AdminClient, id: u64, task: &HealTask, json: bool) -> u8 {
    let offline = match c
        .json::<Info>(Method::GET, INFO_PATH, &[], REQUEST_TIMEOUT)
        .await
    {
        Ok(i) => i
            .drives
            .iter()
            .filter(|d| d.state == DriveState::Offline)
            .map(|d| d.endpoint.clone())
            .collect(),
        Err(e) => {
            eprintln!("cairn admin: cannot check the drives after the heal: {e}");
            Vec::new()
        }
    };
    let healed = task.state == "done" && task.objects_failed == 0;
    if !json {
        if healed {
            println!("heal task {id} done: {} healed", task.objects_healed);
        } else {
            println!(
                "heal task {id} {}: {} objects could not be healed{}",
                task.state,
                task.objects_failed,
                task.error
                    .as_deref()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default()
            );
        }
    }
    if !offline.is_empty() {
        eprintln!(
            "cairn admin: {} drive(s) offline, objects are not fully redundant until they return: {}",
            offline.len(),
            offline.join(", ")
        );
    }
    if healed && offline.is_empty() {
        EXIT_OK
    } else {
        EXIT_FAILED
    }
}

async fn heal(c: &AdminClient, a: &HealArgs) -> u8 {
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(b) = &a.bucket {
        query.push(("bucket", b));
    }
    if let Some(p) = &a.prefix {
        query.push(("prefix", p));
    }
    if a.deep {
        query.push(("deep", "true"));
    }
    let id = match c
        .json::<HealStarted>(Method::POST, HEAL_PATH, &query, REQUEST_TIMEOUT)
        .await
    {
        Ok(s) => {
            if a.connect.json {
                println!("{}", serde_json::json!({"id": s.id, "server": s.server}));
            } else {
                println!("heal task {} started on {}", s.id, s.server);
            }
            s.id
        }
        Err(ClientError::Api {
            code,
            task_id: Some(id),
            ..
        }) if code == "HealAlreadyRunning" => {
            eprintln!("cairn admin: a heal is already running (task {id}); following it");
            id
        }
        Err(e) => return fail(&e),
    };
    if a.no_wait {
        return EXIT_OK;
    }
    let deadline = Instant::now() + Duration::from_secs(a.timeout);
    let mut failures = 0;
    let mut last_line = String::new();
    let mut last_print = Instant::now();
    loop {
        let p = match c
            .json::<HealProgress>(Method::GET, HEAL_PATH, &[], REQUEST_TIMEOUT)
            .await
        {
            Ok(p) => {
                failures = 0;
                p
            }
            Err(e) if e.is_unreachable() && failures + 1 < MAX_POLL_FAILURES => {
                failures += 1;
                eprintln!("cairn admin: {e}; retrying");
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
            Err(e) => return fail(&e),
        };
        let Some(task) = p.task.as_ref().filter(|t| t.id == id) else {
            eprintln!(
                "cairn admin: the server no longer reports heal task {id} (restarted, or another task replaced it)"
            );
            return EXIT_FAILED;
        };
        if a.connect.json {
            let line = serde_json::to_string(&p).unwrap_or_default();
            if line != last_line || task.is_finished() {
                println!("{line}");
                last_line = line;
            }
        } else {
            let line = heal_summary(&p);
            if line != last_line
                || last_print.elapsed() >= Duration::from_secs(10)
                || task.is_finished()
            {
                println!("{line}");
                last_line = line;
                last_print = Instant::now();
            }
        }
        if task.is_finished() {
            return finish(c, id, task, a.connect.json).await;
        }
        if Instant::now() >= deadline {
            eprintln!(
                "cairn admin: heal task {id} still running after {} s; stopped following it (the heal goes on)",
                a.timeout
            );
            return EXIT_FAILED;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
