//! The `cairn` binary: parses the command line and runs the server, or an admin
//! command against a running one (`cairn admin info|heal`).
//!
//! Exit codes of `cairn server`: 0 after a clean shutdown, 2 for configuration errors
//! (bad flags, missing credentials, drives that belong to another deployment), 1 for
//! failures at run time. `cairn admin`: see `cairn::admin::cli`.

use cairn::cli::{Cli, Command};
use cairn::config::{Env, ServerConfig};
use clap::Parser;
use std::process::ExitCode;

mod memory;

fn init_logging(filter: Option<&str>) {
    let filter = filter
        .map(str::to_string)
        .or_else(|| std::env::var("CAIRN_LOG").ok())
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
}

fn main() -> ExitCode {
    // Before any thread exists: the arena limit applies to arenas created from now on.
    let arenas_limited = memory::configure();
    let cli = Cli::parse();
    match cli.command {
        Command::Server(args) => {
            init_logging(args.log.as_deref());
            tracing::debug!(
                arena_max = memory::ARENA_MAX,
                applied = arenas_limited,
                "malloc arenas (MALLOC_ARENA_MAX in the environment wins)"
            );
            memory::start_idle_trimmer();
            let cfg = match Env::load().and_then(|env| ServerConfig::resolve(&args, &env)) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("cairn: {e}");
                    return ExitCode::from(2);
                }
            };
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cairn: cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            runtime.block_on(run(cfg))
        }
        Command::Admin(args) => {
            init_logging(Some("warn"));
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("cairn: cannot start the runtime: {e}");
                    return ExitCode::from(1);
                }
            };
            let defaults = match cairn::config::Env::load() {
                Ok(env) => admin_defaults(&env),
                Err(e) => {
                    eprintln!("cairn admin: {e}");
                    return ExitCode::from(cairn::admin::cli::EXIT_USAGE);
                }
            };
            ExitCode::from(runtime.block_on(cairn::admin::cli::run(args, defaults)))
        }
    }
}

async fn run(cfg: ServerConfig) -> ExitCode {
    let running = match cairn::server::start(&cfg).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cairn: {e}");
            return ExitCode::from(2);
        }
    };
    print_banner(&cfg, &running);
    wait_for_signal().await;
    eprintln!("cairn: shutting down");
    running.stop().await;
    ExitCode::SUCCESS
}

fn print_banner(cfg: &ServerConfig, r: &cairn::server::Running) {
    let scheme = if r.tls { "https" } else { "http" };
    let host = if r.address.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        r.address.ip().to_string()
    };
    println!("Cairn object storage");
    println!("S3 API:   {scheme}://{host}:{}", r.address.port());
    println!("Region:   {}", cfg.region);
    println!("RootUser: {}", cfg.root_user);
    if cfg.dev_credentials {
        println!("RootPass: {}", cfg.root_password);
        println!(
            "WARNING: --dev is using the well-known credentials {}/{}; anyone can read and write this server. Set CAIRN_ROOT_USER and CAIRN_ROOT_PASSWORD for real use.",
            cfg.root_user, cfg.root_password
        );
    } else {
        println!("RootPass: (as configured; not printed)");
    }
    for (i, p) in r.layout.pools.iter().enumerate() {
        let wq = if p.data == p.parity {
            p.data + 1
        } else {
            p.data
        };
        println!(
            "Pool {}:   {} drives, {} erasure set(s) of {} drives, EC:{} ({} data + {} parity shards), read quorum {}, write quorum {}",
            i + 1,
            p.drives,
            p.sets,
            p.set_size,
            p.parity,
            p.data,
            p.parity,
            p.data,
            wq
        );
    }
    for n in &r.layout.notices {
        println!("Notice:   {n}");
    }
    for o in &r.layout.offline {
        println!("OFFLINE:  {o}");
    }
    for h in &r.layout.healing {
        println!("Healing:  {h} (re-formatted; its objects will be rebuilt from the other drives)");
    }
    match r.console_address {
        Some(a) => println!("Console:  {}://{a}", if r.tls { "https" } else { "http" }),
        None => println!(
            "Console:  NOT SERVED: cannot listen on {} (see the log)",
            cfg.console_address
        ),
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// What `cairn admin` uses when the command line gives no credentials or region: the
/// root credentials (and MinIO's older `MINIO_ACCESS_KEY`/`MINIO_SECRET_KEY`).
fn admin_defaults(env: &cairn::config::Env) -> cairn::admin::cli::Defaults {
    cairn::admin::cli::Defaults {
        access_key: env
            .setting("ROOT_USER")
            .or_else(|| env.get(&["MINIO_ACCESS_KEY"])),
        secret_key: env
            .setting("ROOT_PASSWORD")
            .or_else(|| env.get(&["MINIO_SECRET_KEY"])),
        region: env.setting("REGION"),
    }
}
