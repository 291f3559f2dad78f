//! `cairn-bench-rs`: Reed-Solomon and hash micro-benchmark, single thread.
//!
//! It answers two design questions with numbers from this machine: how much the `simd-accel`
//! build of reed-solomon-erasure buys over pure Rust (the server must never ship the pure
//! one by accident), and which bitrot checksum is cheap enough to run on every shard block.
//! Rates are input bytes per second of this process's CPU time, because the machine is shared
//! and wall-clock rates move with the neighbours' load; wall-clock is printed alongside.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use cairn_bench::micro::{self, Geometry, HashKind, Measurement, RsImpl, RsOp, Stripe, Timing};
use cairn_bench::table::Table;
use cairn_bench::units::{fmt_size, parse_duration, parse_size};
use clap::Parser;
use serde::Serialize;

const AFTER_HELP: &str = "\
Examples:
  cairn-bench-rs                                  # everything, ~2-3 minutes
  cairn-bench-rs --configs 4+4 --stripes 1MiB     # the server's default layout only
  cairn-bench-rs --no-rs --hashes xxh3-64,highway-256
  cairn-bench-rs --quick                          # smoke test: 0.05 s per cell, 1 repetition

Reading the output: 'GB/s (CPU)' is input data (k × shard bytes for EC, the buffer for hashes)
per second of this process's CPU time, 10^9 bytes; it is the figure to compare with
/work/shared/MACHINE.md. 'CPU share' is CPU time / wall time: near 1.00 the core was ours; lower
means other processes took it, and the wall-clock figure understates the machine.
'simd' is reed-solomon-erasure 6 with feature simd-accel (what the server links), 'pure' is
reed-solomon-erasure 5 without it; both produce identical parity, checked on every cell.";

/// Reed-Solomon (simd-accel vs pure Rust) and checksum micro-benchmark, one thread.
#[derive(Parser, Debug)]
#[command(name = "cairn-bench-rs", version, after_help = AFTER_HELP)]
struct Cli {
    /// Erasure layouts as k+m (data+parity).
    #[arg(long, value_delimiter = ',', default_value = "4+4,2+2,8+4,2+1,6+3")]
    configs: Vec<String>,

    /// Stripe (block) sizes; each stripe is split into k shards of stripe/k bytes.
    #[arg(long, value_delimiter = ',', default_value = "1MiB,64KiB", value_parser = parse_size)]
    stripes: Vec<u64>,

    /// Reed-Solomon builds to measure.
    #[arg(long, value_delimiter = ',', value_enum, default_value = "simd,pure")]
    impls: Vec<RsImpl>,

    /// Erasure operations to measure.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "encode,reconstruct"
    )]
    ops: Vec<RsOp>,

    /// Hashes to measure.
    #[arg(
        long,
        value_delimiter = ',',
        value_enum,
        default_value = "xxh3-128,xxh3-64,highway-256,blake3,crc32c,md5,sha256"
    )]
    hashes: Vec<HashKind>,

    /// Buffer size for the hashes.
    #[arg(long, default_value = "1MiB", value_parser = parse_size)]
    hash_size: u64,

    /// Minimum time per repetition of a cell (CPU time and wall time both).
    #[arg(long, default_value = "0.5s", value_parser = parse_duration)]
    min_time: Duration,

    /// Repetitions per cell; the median is reported.
    #[arg(long, default_value_t = 3)]
    reps: usize,

    /// Smoke test: 0.05 s per repetition, one repetition (numbers are rough).
    #[arg(long)]
    quick: bool,

    /// Skip the Reed-Solomon part.
    #[arg(long)]
    no_rs: bool,

    /// Skip the hash part.
    #[arg(long)]
    no_hash: bool,

    /// Also write every measurement (all repetitions) as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// One erasure-coding record of the JSON output.
#[derive(Serialize)]
struct RsRecord {
    implementation: RsImpl,
    op: RsOp,
    k: usize,
    m: usize,
    stripe: usize,
    shard: usize,
    lost_data_shards: usize,
    #[serde(flatten)]
    result: Measurement,
}

/// One hash record of the JSON output.
#[derive(Serialize)]
struct HashRecord {
    hash: HashKind,
    buffer: u64,
    #[serde(flatten)]
    result: Measurement,
}

#[derive(Serialize)]
struct Report {
    tool: &'static str,
    started_utc: String,
    cpu: String,
    build_target_features: Vec<&'static str>,
    min_time_s: f64,
    reps: usize,
    erasure: Vec<RsRecord>,
    hashes: Vec<HashRecord>,
}

/// Parses `4+4` into (4, 4).
fn parse_config(s: &str) -> Result<(usize, usize)> {
    let (k, m) = s
        .split_once('+')
        .with_context(|| format!("layout {s:?} is not k+m (e.g. 4+4)"))?;
    let k: usize = k
        .trim()
        .parse()
        .with_context(|| format!("layout {s:?}: bad k"))?;
    let m: usize = m
        .trim()
        .parse()
        .with_context(|| format!("layout {s:?}: bad m"))?;
    Ok((k, m))
}

/// CPU model from /proc/cpuinfo, for the report header.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// Target features this binary was compiled for: `-C target-cpu=native` changes xxh3 a lot.
fn build_features() -> Vec<&'static str> {
    let mut v = Vec::new();
    if cfg!(target_feature = "sse4.2") {
        v.push("sse4.2");
    }
    if cfg!(target_feature = "avx2") {
        v.push("avx2");
    }
    if cfg!(target_feature = "avx512f") {
        v.push("avx512f");
    }
    if v.is_empty() {
        v.push("baseline x86-64 (portable build)");
    }
    v
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cairn-bench-rs: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let timing = if cli.quick {
        Timing {
            min_time: Duration::from_millis(50),
            reps: 1,
        }
    } else {
        Timing {
            min_time: cli.min_time,
            reps: cli.reps.max(1),
        }
    };
    let configs: Vec<(usize, usize)> = cli
        .configs
        .iter()
        .map(|s| parse_config(s))
        .collect::<Result<_>>()?;
    if cli.impls.is_empty() || cli.ops.is_empty() {
        bail!("--impls and --ops need at least one value");
    }
    let started_utc = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let cpu = cpu_model();
    eprintln!(
        "cairn-bench-rs: {cpu}; build features {:?}; {} × ≥{:.2}s per cell, median reported",
        build_features(),
        timing.reps,
        timing.min_time.as_secs_f64()
    );

    let mut erasure = Vec::new();
    if !cli.no_rs {
        for &(k, m) in &configs {
            for &stripe in &cli.stripes {
                let geo = Geometry::new(k, m, usize::try_from(stripe)?)?;
                let data = Stripe::new(geo)?;
                for &op in &cli.ops {
                    for &imp in &cli.impls {
                        eprintln!(
                            "  {k}+{m} {} stripe ({} shards) {op:?} {}",
                            fmt_size(stripe),
                            fmt_size(geo.shard as u64),
                            imp.label()
                        );
                        let result = match op {
                            RsOp::Encode => micro::bench_encode(imp, &data, timing),
                            RsOp::Reconstruct => micro::bench_reconstruct(imp, &data, timing),
                        }
                        .with_context(|| format!("{k}+{m} {op:?} {}", imp.label()))?;
                        eprintln!(
                            "    {:.2} GB/s CPU, {:.2} GB/s wall (CPU share {:.2})",
                            result.gbps_cpu, result.gbps_wall, result.cpu_share
                        );
                        erasure.push(RsRecord {
                            implementation: imp,
                            op,
                            k,
                            m,
                            stripe: geo.stripe,
                            shard: geo.shard,
                            lost_data_shards: if op == RsOp::Reconstruct {
                                geo.lost()
                            } else {
                                0
                            },
                            result,
                        });
                    }
                }
            }
        }
    }

    let mut hashes = Vec::new();
    if !cli.no_hash {
        for &h in &cli.hashes {
            eprintln!("  {} over {}", h.label(), fmt_size(cli.hash_size));
            let result = micro::bench_hash(h, usize::try_from(cli.hash_size)?, timing)
                .with_context(|| h.label())?;
            eprintln!(
                "    {:.2} GB/s CPU, {:.2} GB/s wall (CPU share {:.2})",
                result.gbps_cpu, result.gbps_wall, result.cpu_share
            );
            hashes.push(HashRecord {
                hash: h,
                buffer: cli.hash_size,
                result,
            });
        }
    }

    println!("# cairn-bench-rs, {started_utc}\n");
    println!(
        "{cpu}; one thread; build target features: {}; each cell {} repetition(s) of ≥ {:.2} s, median shown. \
         GB/s = 10^9 input bytes per second.\n",
        build_features().join(", "),
        timing.reps,
        timing.min_time.as_secs_f64()
    );
    if !erasure.is_empty() {
        println!("## Reed-Solomon (reed-solomon-erasure), GB/s of data per CPU-second\n");
        print!("{}", erasure_table(&erasure));
        println!();
    }
    if !hashes.is_empty() {
        println!(
            "## Checksums over a warm {} buffer\n",
            fmt_size(cli.hash_size)
        );
        let mut t = Table::new(&[
            "hash",
            "bits",
            "GB/s (CPU)",
            "GB/s (wall)",
            "µs per MiB (CPU)",
            "CPU share",
        ]);
        for h in &hashes {
            t.row(vec![
                h.hash.label().to_string(),
                h.hash.bits().to_string(),
                format!("{:.2}", h.result.gbps_cpu),
                format!("{:.2}", h.result.gbps_wall),
                format!("{:.1}", (1u64 << 20) as f64 / (h.result.gbps_cpu * 1e3)),
                format!("{:.2}", h.result.cpu_share),
            ]);
        }
        print!("{}", t.render());
    }

    if let Some(path) = &cli.json {
        let report = Report {
            tool: "cairn-bench-rs",
            started_utc,
            cpu,
            build_target_features: build_features(),
            min_time_s: timing.min_time.as_secs_f64(),
            reps: timing.reps,
            erasure,
            hashes,
        };
        let text = serde_json::to_string_pretty(&report).context("encoding JSON")?;
        std::fs::write(path, text + "\n").with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// One row per (layout, stripe, op) with simd and pure side by side and their ratio.
fn erasure_table(records: &[RsRecord]) -> String {
    let mut t = Table::new(&[
        "k+m",
        "stripe",
        "shard",
        "op",
        "simd GB/s (CPU)",
        "simd GB/s (wall)",
        "pure GB/s (CPU)",
        "pure GB/s (wall)",
        "simd ÷ pure",
        "simd µs/stripe",
        "CPU share",
    ]);
    let mut keys: Vec<(usize, usize, usize, RsOp)> = Vec::new();
    for r in records {
        let key = (r.k, r.m, r.stripe, r.op);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    for (k, m, stripe, op) in keys {
        let find = |imp: RsImpl| {
            records
                .iter()
                .find(|r| (r.k, r.m, r.stripe, r.op, r.implementation) == (k, m, stripe, op, imp))
        };
        let (simd, pure) = (find(RsImpl::Simd), find(RsImpl::Pure));
        let any = simd.or(pure);
        let f = |r: Option<&RsRecord>, sel: fn(&Measurement) -> f64, d: usize| {
            r.map(|r| format!("{:.*}", d, sel(&r.result)))
                .unwrap_or_else(|| "-".into())
        };
        let op_label = match op {
            RsOp::Encode => "encode".to_string(),
            RsOp::Reconstruct => format!(
                "rebuild {} data",
                any.map(|r| r.lost_data_shards).unwrap_or(0)
            ),
        };
        let ratio = match (simd, pure) {
            (Some(s), Some(p)) => format!("{:.1}×", s.result.gbps_cpu / p.result.gbps_cpu),
            _ => "-".into(),
        };
        let share = records
            .iter()
            .filter(|r| (r.k, r.m, r.stripe, r.op) == (k, m, stripe, op))
            .map(|r| r.result.cpu_share)
            .fold(f64::INFINITY, f64::min);
        t.row(vec![
            format!("{k}+{m}"),
            fmt_size(stripe as u64),
            any.map(|r| fmt_size(r.shard as u64)).unwrap_or_default(),
            op_label,
            f(simd, |m| m.gbps_cpu, 2),
            f(simd, |m| m.gbps_wall, 2),
            f(pure, |m| m.gbps_cpu, 2),
            f(pure, |m| m.gbps_wall, 2),
            ratio,
            f(simd, |m| m.us_per_iter_cpu, 1),
            format!("{share:.2}"),
        ]);
    }
    t.render()
}
