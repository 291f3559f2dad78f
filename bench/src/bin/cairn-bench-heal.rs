//! Time to rebuild a replaced drive: fills an 8-drive EC:4 cairn (in-process, real
//! directories, fsync on) until one drive holds about `--shard-gib` of shards, stops it,
//! replaces one drive by an empty directory, starts again and measures from start-up
//! until the drive's healing marker is gone (the heal layer's rebuild walked every
//! object). Prints a Markdown table; `--json FILE` keeps the figures.
//!
//! ```sh
//! cargo build --release -p cairn-bench --bin cairn-bench-heal
//! target/release/cairn-bench-heal --shard-gib 2 --object-mib 16 --dir /var/tmp/heal-bench
//! ```
//!
//! The scanner is switched off (`HealConfig::scanner_enabled`) so the figure is the rebuild alone;
//! the MRF worker and drive monitor run as in production.

use bytes::Bytes;
use cairn::config::ServerConfig;
use clap::Parser;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Measure the time cairn takes to rebuild a replaced (empty) drive")]
struct Args {
    /// Shard bytes the replaced drive should hold, in GiB.
    #[arg(long, default_value_t = 2.0)]
    shard_gib: f64,
    /// Size of each object, in MiB (EC 4+4: a drive holds a quarter of it).
    #[arg(long, default_value_t = 16)]
    object_mib: usize,
    /// Working directory (created; removed afterwards unless --keep).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Which drive (1-8) is replaced.
    #[arg(long, default_value_t = 3)]
    drive: usize,
    #[arg(long)]
    keep: bool,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

fn config(drives: &[PathBuf]) -> ServerConfig {
    let mut cfg = ServerConfig::new(
        drives.iter().map(|d| d.display().to_string()).collect(),
        "127.0.0.1:0",
        "benchadmin",
        "benchpassword",
    );
    cfg.storage_class = Some("EC:4".into());
    // The figure is the rebuild alone: no scanner cycle competes with it.
    cfg.heal.scanner_enabled = false;
    cfg
}

/// Bytes of all files under `dir`.
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(args))
}

async fn run(args: Args) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("cairn-bench-heal-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir)?;
    let drives: Vec<PathBuf> = (1..=8).map(|i| dir.join(format!("d{i}"))).collect();
    anyhow::ensure!((1..=8).contains(&args.drive), "--drive is 1 to 8");
    let object = args.object_mib << 20;
    let per_drive = object / 4;
    let count = ((args.shard_gib * (1u64 << 30) as f64) / per_drive as f64).ceil() as usize;
    eprintln!(
        "filling: {count} objects of {} MiB into {} (about {:.2} GiB of shards per drive)",
        args.object_mib,
        dir.display(),
        (count * per_drive) as f64 / (1u64 << 30) as f64
    );
    let running = cairn::server::start(&config(&drives)).await?;
    let objects = running.heal.objects.clone();
    objects
        .make_bucket(
            "bench",
            cairn::objects::bucket::BucketMeta {
                name: "bench".into(),
                created_ms: 0,
                region: None,
                object_lock: false,
                ..Default::default()
            },
        )
        .await?;
    let body = Bytes::from(
        (0..object)
            .map(|i| (i * 31 + i / 4099) as u8)
            .collect::<Vec<u8>>(),
    );
    let fill_start = Instant::now();
    for i in 0..count {
        let chunks: Vec<std::io::Result<Bytes>> = body
            .chunks(1 << 20)
            .map(|c| Ok(body.slice_ref(c)))
            .collect();
        let stream: cairn::objects::BodyStream = Box::pin(futures::stream::iter(chunks));
        objects
            .put_object(
                "bench",
                &format!("obj/{i:06}"),
                stream,
                cairn::objects::PutOptions::default(),
            )
            .await?;
        if i % 64 == 63 {
            eprintln!("  {} / {count}", i + 1);
        }
    }
    let fill_secs = fill_start.elapsed().as_secs_f64();
    running.stop().await;
    let victim = &drives[args.drive - 1];
    let shard_bytes = du(&victim.join("bench"));
    eprintln!(
        "filled in {fill_secs:.1} s; drive {} holds {:.2} GiB; replacing it by an empty directory",
        args.drive,
        shard_bytes as f64 / (1u64 << 30) as f64
    );
    std::fs::remove_dir_all(victim)?;
    std::fs::create_dir(victim)?;
    let marker = victim.join(".cairn.sys/healing.json");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let cpu0 = cairn_bench::procinfo::process_cpu_time();
    let start = Instant::now();
    let running = cairn::server::start(&config(&drives)).await?;
    anyhow::ensure!(
        running.layout.healing.len() == 1,
        "drive not marked for healing"
    );
    // Bounded: at most 2 hours at 100 ms a round.
    let mut rounds = 0u32;
    while marker.exists() {
        rounds += 1;
        anyhow::ensure!(rounds < 72_000, "rebuild did not finish in 2 hours");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let heal_secs = start.elapsed().as_secs_f64();
    let heal_cpu = (cairn_bench::procinfo::process_cpu_time() - cpu0).as_secs_f64();
    let status = running.heal.status();
    running.stop().await;
    let rebuilt = du(&victim.join("bench"));
    anyhow::ensure!(
        rebuilt == shard_bytes,
        "rebuilt {rebuilt} bytes, expected {shard_bytes}"
    );
    let mib = shard_bytes as f64 / (1u64 << 20) as f64;
    println!("| figure | value |\n|---|---|");
    println!("| layout | 8 drives, EC:4 (4+4), one directory each on the same disk, fsync on |");
    println!("| objects | {count} × {} MiB |", args.object_mib);
    println!("| shards on the replaced drive | {:.2} GiB |", mib / 1024.0);
    println!("| fill time (in-process PUTs) | {fill_secs:.1} s |");
    println!("| **rebuild time** (start-up to marker removed) | **{heal_secs:.1} s** |");
    println!(
        "| rebuild rate (shard bytes written) | {:.0} MiB/s |",
        mib / heal_secs
    );
    println!(
        "| rebuild rate (object bytes decoded) | {:.0} MiB/s |",
        (count * object) as f64 / (1u64 << 20) as f64 / heal_secs
    );
    println!(
        "| CPU during the rebuild (this process, 2 cores max) | {heal_cpu:.1} s ({:.0} % of one core) |",
        heal_cpu * 100.0 / heal_secs
    );
    println!(
        "| load average when the rebuild started | {} |",
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "| objects healed / failed | {} / {} |",
        status.objects_healed, status.objects_failed
    );
    if let Some(path) = &args.json {
        let v = serde_json::json!({
            "objects": count,
            "object_bytes": object,
            "shard_bytes": shard_bytes,
            "fill_secs": fill_secs,
            "heal_secs": heal_secs,
            "heal_cpu_secs": heal_cpu,
            "loadavg_at_start": load.trim(),
            "shard_mib_per_sec": mib / heal_secs,
            "objects_healed": status.objects_healed,
            "objects_failed": status.objects_failed,
            "date": chrono::Utc::now().to_rfc3339(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&v)?)?;
    }
    if !args.keep {
        std::fs::remove_dir_all(&dir)?;
    }
    Ok(())
}
