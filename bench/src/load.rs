//! The load generator's engine: runs one cell (operation × object size × concurrency) against
//! an S3 endpoint for a duration and/or a count, and measures throughput and latency, plus the
//! server's CPU and memory when its pid is known.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use rand::{Rng, RngCore, SeedableRng};
use serde::Serialize;

use crate::procinfo::{self, RssSampler};
use crate::s3::{Payload, S3Client};
use crate::stats::percentile_sorted;
use crate::table::Table;
use crate::units::fmt_size;

/// What a cell does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// PUT new objects (unique keys, deleted after the cell unless `--keep`).
    Put,
    /// GET a small set of objects written before the timed part.
    Get,
    /// A random mix of the two (see `--read-fraction`).
    Mixed,
}

impl Op {
    /// Upper-case label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Op::Put => "PUT",
            Op::Get => "GET",
            Op::Mixed => "MIXED",
        }
    }
}

/// One cell of the benchmark.
#[derive(Clone, Debug)]
pub struct CellSpec {
    /// Operation.
    pub op: Op,
    /// Object size in bytes.
    pub size: u64,
    /// Requests in flight at once (one task and one pooled connection each).
    pub concurrency: usize,
    /// Stop issuing requests after this long (in-flight ones finish).
    pub duration: Option<Duration>,
    /// Stop after this many requests in total.
    pub count: Option<u64>,
}

/// Settings shared by every cell of a run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    /// Bucket to use (created beforehand).
    pub bucket: String,
    /// Key prefix of everything this run writes, unique per run.
    pub prefix: String,
    /// Distinct objects written before a GET cell and read round-robin.
    pub get_keys: usize,
    /// PUTs cycle over this many keys per worker, so all but the first overwrite (`None`:
    /// every key is new).
    pub put_keys: Option<u64>,
    /// Share of GETs in a mixed cell.
    pub read_fraction: f64,
    /// Delete what the run wrote.
    pub cleanup: bool,
    /// Server process to watch (CPU time, RSS).
    pub server_pid: Option<u32>,
    /// How often to print progress on stderr.
    pub progress_every: Duration,
}

/// Measured outcome of one cell; also the JSON record.
#[derive(Clone, Debug, Serialize)]
pub struct CellResult {
    /// `PUT`, `GET` or `MIXED`.
    pub op: String,
    /// Object size, bytes.
    pub size: u64,
    /// Object size as given on the command line (`4KiB`).
    pub size_label: String,
    /// Concurrency.
    pub concurrency: usize,
    /// Successful requests.
    pub ops: u64,
    /// Failed requests (HTTP error, short body, timeout, connection error).
    pub errors: u64,
    /// Wall time from first request to last response, seconds.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub ops_per_s: f64,
    /// Object bytes moved per second by successful requests, MiB/s.
    pub mib_per_s: f64,
    /// Median latency of successful requests, ms (whole request, body included).
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
    /// Slowest successful request, ms.
    pub max_ms: Option<f64>,
    /// This load generator's CPU time per successful request, ms.
    pub client_cpu_ms_per_op: Option<f64>,
    /// Server CPU time (user+system, all threads) per successful request, ms.
    pub server_cpu_ms_per_op: Option<f64>,
    /// Server's largest sampled `VmRSS` during the cell, MiB.
    pub server_peak_rss_mib: Option<f64>,
    /// Server's `VmHWM` at the end of the cell, MiB: the exact peak of this cell when
    /// `server_hwm_reset` (the mark was reset when the cell started), else the life-time peak.
    pub server_hwm_mib: Option<f64>,
    /// Whether the server's high-water mark was reset at the start of the cell
    /// (`/proc/PID/clear_refs`), making `server_hwm_mib` this cell's own peak.
    pub server_hwm_reset: bool,
    /// Server's `VmRSS` just before the cell's timed part (after any GET preload), MiB.
    pub server_rss_before_mib: Option<f64>,
    /// Server's `VmRSS` once the cell's requests had finished (before its cleanup), MiB:
    /// what the cell left resident.
    pub server_rss_after_mib: Option<f64>,
    /// DELETEs that failed while cleaning up after the cell.
    pub cleanup_errors: u64,
    /// The first few distinct error messages.
    pub first_errors: Vec<String>,
    /// Set when the cell could not run at all (e.g. the GET objects could not be written).
    pub failed: Option<String>,
    /// Who signed the cell's requests (`root` or `user`) with `--identity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl CellResult {
    fn empty(spec: &CellSpec) -> Self {
        Self {
            op: spec.op.label().to_string(),
            size: spec.size,
            size_label: fmt_size(spec.size),
            concurrency: spec.concurrency,
            ops: 0,
            errors: 0,
            elapsed_s: 0.0,
            ops_per_s: 0.0,
            mib_per_s: 0.0,
            p50_ms: None,
            p99_ms: None,
            max_ms: None,
            client_cpu_ms_per_op: None,
            server_cpu_ms_per_op: None,
            server_peak_rss_mib: None,
            server_hwm_mib: None,
            server_hwm_reset: false,
            server_rss_before_mib: None,
            server_rss_after_mib: None,
            cleanup_errors: 0,
            first_errors: Vec::new(),
            failed: None,
            identity: None,
        }
    }

    /// A row for a cell that could not run.
    pub fn failed(spec: &CellSpec, why: String) -> Self {
        let mut r = Self::empty(spec);
        r.failed = Some(why);
        r
    }

    /// Whether anything in this cell went wrong.
    pub fn had_errors(&self) -> bool {
        self.errors > 0 || self.cleanup_errors > 0 || self.failed.is_some()
    }
}

/// Counters shared by the workers of one cell.
#[derive(Default)]
struct Shared {
    issued: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Shared {
    fn record_error(&self, e: &anyhow::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let msg = format!("{e:#}");
        if let Ok(mut v) = self.first_errors.lock() {
            if v.len() < 5 && !v.contains(&msg) {
                v.push(msg);
            }
        }
    }
}

/// What one worker task hands back.
struct WorkerOut {
    latencies_us: Vec<u32>,
    written: Vec<String>,
}

/// Runs cells against one endpoint and bucket, keeping the GET objects between cells.
pub struct Runner {
    client: S3Client,
    cfg: RunConfig,
    data: Bytes,
    preloaded: HashMap<u64, Vec<String>>,
    stop: Arc<AtomicBool>,
    /// Cells run so far; part of PUT keys so that cells never overwrite each other.
    cells_run: u64,
}

/// Deletes `keys` with up to `concurrency` requests in flight; returns the number of failures.
async fn delete_all(client: &S3Client, bucket: &str, keys: Vec<String>, concurrency: usize) -> u64 {
    let queue = Arc::new(Mutex::new(keys));
    let failures = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, bucket, queue, failures) = (
            client.clone(),
            bucket.to_string(),
            queue.clone(),
            failures.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let key = match queue.lock() {
                    Ok(mut q) => q.pop(),
                    Err(_) => None,
                };
                let Some(key) = key else { break };
                if let Err(e) = client.delete_object(&bucket, &key).await {
                    if failures.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("  cleanup: {e:#}");
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    failures.load(Ordering::Relaxed)
}

impl Runner {
    /// A runner whose PUT bodies are slices of one random buffer of `buffer_size` bytes.
    ///
    /// One buffer for the whole run: allocating and filling 64 MiB per request would make the
    /// client, not the server, the bottleneck (first touch of memory costs ~12 µs per page here).
    pub fn new(
        client: S3Client,
        cfg: RunConfig,
        buffer_size: usize,
        stop: Arc<AtomicBool>,
    ) -> Self {
        let mut buf = vec![0u8; buffer_size.max(1)];
        rand::rngs::StdRng::seed_from_u64(0x00ca_1e5b_e9c4).fill_bytes(&mut buf);
        Self {
            client,
            cfg,
            data: Bytes::from(buf),
            preloaded: HashMap::new(),
            stop,
            cells_run: 0,
        }
    }

    /// A start offset into the shared buffer, different for each object so that objects differ.
    fn offset_for(&self, a: u64, b: u64) -> usize {
        let mixed = (a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.wrapping_mul(0xc2b2_ae3d_27d4_eb4f))
            .rotate_left(17);
        (mixed % self.data.len() as u64) as usize
    }

    /// Writes the objects that GET cells of `size` read, once per size.
    async fn preload(&mut self, size: u64) -> Result<Vec<String>> {
        if let Some(keys) = self.preloaded.get(&size) {
            return Ok(keys.clone());
        }
        let n = self.cfg.get_keys.max(1);
        eprintln!("  writing {n} objects of {} for GET", fmt_size(size));
        let keys: Vec<String> = (0..n)
            .map(|i| format!("{}/get-{}/obj-{i}", self.cfg.prefix, fmt_size(size)))
            .collect();
        let mut tasks = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let client = self.client.clone();
            let bucket = self.cfg.bucket.clone();
            let key = key.clone();
            let body = Payload::cycle(self.data.clone(), self.offset_for(size, i as u64), size)?;
            tasks.push(tokio::spawn(async move {
                client.put_object(&bucket, &key, body).await
            }));
            // At most 8 preload PUTs in flight.
            if tasks.len() >= 8 {
                tasks.remove(0).await.context("preload task")??;
            }
        }
        for t in tasks {
            t.await.context("preload task")??;
        }
        // Read one back now, so that a server that stores wrong lengths fails here, loudly.
        self.client
            .get_object(&self.cfg.bucket, &keys[0], size)
            .await
            .context("reading back a preloaded object")?;
        self.preloaded.insert(size, keys.clone());
        Ok(keys)
    }

    /// Deletes the GET objects (end of run).
    pub async fn cleanup_preloaded(&mut self) -> u64 {
        if !self.cfg.cleanup {
            return 0;
        }
        let keys: Vec<String> = self.preloaded.drain().flat_map(|(_, k)| k).collect();
        if keys.is_empty() {
            return 0;
        }
        delete_all(&self.client, &self.cfg.bucket, keys, 8).await
    }

    /// Runs one cell. Errors of single requests are counted in the result; an `Err` means the
    /// cell could not run at all.
    pub async fn run_cell(&mut self, spec: &CellSpec) -> Result<CellResult> {
        if spec.duration.is_none() && spec.count.is_none() {
            bail!("a cell needs a duration or a count");
        }
        if spec.size as usize > self.data.len() && spec.op != Op::Get {
            // Not an error: bodies wrap around the buffer. Only worth knowing.
            eprintln!(
                "  note: bodies of {} repeat a {} buffer",
                fmt_size(spec.size),
                fmt_size(self.data.len() as u64)
            );
        }
        let label = format!(
            "{} {} c={}",
            spec.op.label(),
            fmt_size(spec.size),
            spec.concurrency
        );
        eprintln!(
            "cell {label}: {}{}",
            spec.duration
                .map(|d| format!("for {:.1}s", d.as_secs_f64()))
                .unwrap_or_default(),
            spec.count
                .map(|c| format!(" (at most {c} requests)"))
                .unwrap_or_default()
        );
        let get_keys = if spec.op == Op::Put {
            Arc::new(Vec::new())
        } else {
            Arc::new(self.preload(spec.size).await?)
        };

        let shared = Arc::new(Shared::default());
        // The peak of this cell alone: reset the kernel's high-water mark now (after the GET
        // preload), so that VmHWM at the end is this cell's exact peak, not the server's
        // life-time one; the 100 ms samples stay as a cross-check.
        let server_hwm_reset = self.cfg.server_pid.is_some_and(procinfo::reset_hwm);
        let server_rss_before = self.cfg.server_pid.and_then(procinfo::read_rss);
        let server_cpu0 = self.cfg.server_pid.and_then(procinfo::read_cpu_time);
        let sampler = self
            .cfg
            .server_pid
            .map(|pid| RssSampler::start(pid, Duration::from_millis(100)));
        let client_cpu0 = procinfo::process_cpu_time();
        let start = Instant::now();
        let deadline = spec.duration.map(|d| start + d);
        self.cells_run += 1;
        let put_prefix = format!(
            "{}/put-{}-c{}-cell{}",
            self.cfg.prefix,
            fmt_size(spec.size),
            spec.concurrency,
            self.cells_run
        );

        let mut workers = Vec::with_capacity(spec.concurrency);
        for w in 0..spec.concurrency {
            let client = self.client.clone();
            let bucket = self.cfg.bucket.clone();
            let shared = shared.clone();
            let get_keys = get_keys.clone();
            let data = self.data.clone();
            let stop = self.stop.clone();
            let put_prefix = put_prefix.clone();
            let (op, size, count, read_fraction, put_keys) = (
                spec.op,
                spec.size,
                spec.count,
                self.cfg.read_fraction,
                self.cfg.put_keys,
            );
            let offsets: Vec<usize> = (0..64).map(|i| self.offset_for(w as u64, i)).collect();
            workers.push(tokio::spawn(async move {
                let mut out = WorkerOut {
                    latencies_us: Vec::new(),
                    written: Vec::new(),
                };
                let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
                let mut n: u64 = 0;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if count.is_some_and(|c| shared.issued.fetch_add(1, Ordering::Relaxed) >= c) {
                        break;
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break;
                    }
                    let is_get = match op {
                        Op::Get => true,
                        Op::Put => false,
                        Op::Mixed => rng.r#gen::<f64>() < read_fraction,
                    };
                    let t0 = Instant::now();
                    let result = if is_get {
                        let key = &get_keys[(n as usize + w) % get_keys.len()];
                        client.get_object(&bucket, key, size).await.map(|_| ())
                    } else {
                        let slot = put_keys.map_or(n, |k| n % k.max(1));
                        let key = format!("{put_prefix}/w{w}-{slot}");
                        let off = offsets[(n % 64) as usize];
                        let r = match Payload::cycle(data.clone(), off, size) {
                            Ok(body) => client.put_object(&bucket, &key, body).await,
                            Err(e) => Err(e),
                        };
                        if slot == n {
                            out.written.push(key);
                        }
                        r
                    };
                    n += 1;
                    match result {
                        Ok(()) => {
                            let us = t0.elapsed().as_micros().min(u32::MAX as u128) as u32;
                            out.latencies_us.push(us);
                            shared.done.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => shared.record_error(&e),
                    }
                }
                out
            }));
        }

        // Progress on stderr while the workers run.
        let progress = {
            let shared = shared.clone();
            let every = self.cfg.progress_every;
            let label = label.clone();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let done = shared.done.load(Ordering::Relaxed);
                    let t = start.elapsed().as_secs_f64();
                    eprintln!(
                        "  [{label}] {t:5.1}s: {done} ok ({:.0}/s), {} errors",
                        done as f64 / t,
                        shared.errors.load(Ordering::Relaxed)
                    );
                }
            })
        };

        let mut latencies: Vec<u32> = Vec::new();
        let mut written: Vec<String> = Vec::new();
        for w in workers {
            match w.await {
                Ok(out) => {
                    latencies.extend(out.latencies_us);
                    written.extend(out.written);
                }
                Err(e) => shared.record_error(&anyhow::anyhow!("worker task failed: {e}")),
            }
        }
        let elapsed = start.elapsed();
        progress.abort();
        let client_cpu = procinfo::process_cpu_time().saturating_sub(client_cpu0);
        let server_cpu = match (
            server_cpu0,
            self.cfg.server_pid.and_then(procinfo::read_cpu_time),
        ) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };
        let rss = sampler.and_then(RssSampler::finish);
        let server_rss_after = self.cfg.server_pid.and_then(procinfo::read_rss);

        let mut r = CellResult::empty(spec);
        latencies.sort_unstable();
        let ops = latencies.len() as u64;
        let secs = elapsed.as_secs_f64().max(1e-9);
        r.ops = ops;
        r.errors = shared.errors.load(Ordering::Relaxed);
        r.elapsed_s = secs;
        r.ops_per_s = ops as f64 / secs;
        r.mib_per_s = ops as f64 * spec.size as f64 / secs / (1u64 << 20) as f64;
        let ms = |v: Option<u32>| v.map(|us| us as f64 / 1000.0);
        r.p50_ms = ms(percentile_sorted(&latencies, 50.0));
        r.p99_ms = ms(percentile_sorted(&latencies, 99.0));
        r.max_ms = ms(latencies.last().copied());
        if ops > 0 {
            r.client_cpu_ms_per_op = Some(client_cpu.as_secs_f64() * 1e3 / ops as f64);
            r.server_cpu_ms_per_op = server_cpu.map(|c| c.as_secs_f64() * 1e3 / ops as f64);
        }
        if let Some(rss) = rss {
            r.server_peak_rss_mib = Some(rss.peak_sampled as f64 / (1u64 << 20) as f64);
            r.server_hwm_mib = Some(rss.hwm as f64 / (1u64 << 20) as f64);
        }
        r.server_hwm_reset = server_hwm_reset;
        r.server_rss_before_mib = server_rss_before.map(|m| m.rss as f64 / (1u64 << 20) as f64);
        r.server_rss_after_mib = server_rss_after.map(|m| m.rss as f64 / (1u64 << 20) as f64);
        r.first_errors = shared
            .first_errors
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default();
        eprintln!(
            "  done: {ops} ok in {secs:.2}s = {:.1} ops/s, {:.1} MiB/s, p50 {} ms, p99 {} ms, {} errors",
            r.ops_per_s,
            r.mib_per_s,
            fmt_opt(r.p50_ms, 2),
            fmt_opt(r.p99_ms, 2),
            r.errors
        );
        for e in &r.first_errors {
            eprintln!("  error: {e}");
        }
        if self.cfg.cleanup && !written.is_empty() {
            eprintln!("  deleting {} objects written by the cell", written.len());
            r.cleanup_errors = delete_all(
                &self.client,
                &self.cfg.bucket,
                written,
                spec.concurrency.min(16),
            )
            .await;
        }
        Ok(r)
    }
}

/// Formats an optional number with `digits` decimals, `-` when absent.
pub fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "-".to_string(),
    }
}

/// Renders results as a Markdown table; server columns only when a pid was watched.
pub fn results_table(results: &[CellResult], with_server: bool) -> String {
    let with_identity = results.iter().any(|r| r.identity.is_some());
    let mut header = if with_identity {
        vec!["identity"]
    } else {
        Vec::new()
    };
    header.extend([
        "op",
        "size",
        "conc",
        "ops",
        "ops/s",
        "MiB/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "errors",
        "client CPU ms/op",
    ]);
    if with_server {
        header.extend([
            "server CPU ms/op",
            "server peak RSS MiB",
            "server VmHWM MiB",
        ]);
    }
    let mut t = Table::new(&header);
    for r in results {
        let errors = match &r.failed {
            Some(_) => "cell failed".to_string(),
            None if r.cleanup_errors > 0 => format!("{} (+{} cleanup)", r.errors, r.cleanup_errors),
            None => r.errors.to_string(),
        };
        let mut row = if with_identity {
            vec![r.identity.clone().unwrap_or_default()]
        } else {
            Vec::new()
        };
        row.extend([
            r.op.clone(),
            r.size_label.clone(),
            r.concurrency.to_string(),
            r.ops.to_string(),
            format!("{:.1}", r.ops_per_s),
            format!("{:.1}", r.mib_per_s),
            fmt_opt(r.p50_ms, 2),
            fmt_opt(r.p99_ms, 2),
            fmt_opt(r.max_ms, 1),
            errors,
            fmt_opt(r.client_cpu_ms_per_op, 3),
        ]);
        if with_server {
            row.extend([
                fmt_opt(r.server_cpu_ms_per_op, 3),
                fmt_opt(r.server_peak_rss_mib, 0),
                fmt_opt(r.server_hwm_mib, 0),
            ]);
        }
        t.row(row);
    }
    t.render()
}

/// The peak resident memory of the server in each phase (cell) of the run, beside the
/// target: the table the memory work of the README quotes. `peak` is the phase's own
/// `VmHWM` when the high-water mark could be reset at its start, else the largest 100 ms
/// sample (marked `sampled`).
pub fn memory_table(results: &[CellResult], target_mib: f64) -> String {
    let mut t = Table::new(&[
        "phase",
        "op",
        "size",
        "conc",
        "MiB/s",
        "RSS before MiB",
        "peak RSS MiB",
        "target MiB",
        "peak ÷ target",
        "RSS after MiB",
        "peak source",
    ]);
    for (i, r) in results.iter().enumerate() {
        let (peak, source) = match (r.server_hwm_reset, r.server_hwm_mib) {
            (true, Some(h)) => (Some(h), "VmHWM (reset)"),
            _ => (r.server_peak_rss_mib, "sampled 100 ms"),
        };
        let verdict = match peak {
            Some(p) if target_mib > 0.0 => {
                let mark = if p <= target_mib { "" } else { " OVER" };
                format!("{:.2}{mark}", p / target_mib)
            }
            _ => "-".to_string(),
        };
        t.row(vec![
            (i + 1).to_string(),
            r.op.clone(),
            r.size_label.clone(),
            r.concurrency.to_string(),
            format!("{:.1}", r.mib_per_s),
            fmt_opt(r.server_rss_before_mib, 0),
            fmt_opt(peak, 0),
            format!("{target_mib:.0}"),
            verdict,
            fmt_opt(r.server_rss_after_mib, 0),
            source.to_string(),
        ]);
    }
    t.render()
}

/// Parses a phase list such as `get:64MiB:32,put:64MiB:32`: cells run in this order, each
/// `op:size:concurrency`, so that a run can show what one workload leaves behind for the
/// next (e.g. GETs, then PUTs, against PUTs alone).
pub fn parse_phases(
    spec: &str,
    duration: Option<Duration>,
    count: Option<u64>,
) -> Result<Vec<CellSpec>> {
    let mut cells = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let parts: Vec<&str> = item.split(':').collect();
        let [op, size, conc] = parts[..] else {
            bail!("phase {item:?}: expected op:size:concurrency, e.g. put:64MiB:32");
        };
        let op = match op.to_ascii_lowercase().as_str() {
            "put" => Op::Put,
            "get" => Op::Get,
            "mixed" => Op::Mixed,
            other => bail!("phase {item:?}: unknown operation {other:?} (put, get, mixed)"),
        };
        let size = crate::units::parse_size(size).with_context(|| format!("phase {item:?}"))?;
        let concurrency: usize =
            conc.parse().ok().filter(|c| *c > 0).with_context(|| {
                format!("phase {item:?}: concurrency must be a positive integer")
            })?;
        cells.push(CellSpec {
            op,
            size,
            concurrency,
            duration,
            count,
        });
    }
    if cells.is_empty() {
        bail!("--phases: no phase given");
    }
    Ok(cells)
}

/// The standard matrix: PUT then GET of each size, at concurrency 1 and at `high`, where
/// `high` is lowered for big objects so that at most `max_in_flight` bytes are in flight
/// (64 MiB × 8 = 512 MiB; 64 MiB × 32 would be 2 GiB of buffers on a 24 GiB machine that
/// also runs the server and the builds).
pub fn matrix(
    sizes: &[u64],
    concurrencies: &[usize],
    max_in_flight: u64,
    duration: Option<Duration>,
    count: Option<u64>,
) -> Vec<CellSpec> {
    let mut cells = Vec::new();
    for &size in sizes {
        for op in [Op::Put, Op::Get] {
            let mut seen = Vec::new();
            for &c in concurrencies {
                let cap = (max_in_flight / size.max(1)).max(1) as usize;
                let c = c.min(cap).max(1);
                if seen.contains(&c) {
                    continue;
                }
                seen.push(c);
                cells.push(CellSpec {
                    op,
                    size,
                    concurrency: c,
                    duration,
                    count,
                });
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_matrix_caps_large_objects() {
        let m = matrix(
            &[4 << 10, 1 << 20, 64 << 20],
            &[1, 32],
            512 << 20,
            Some(Duration::from_secs(1)),
            None,
        );
        let cells: Vec<(Op, u64, usize)> =
            m.iter().map(|c| (c.op, c.size, c.concurrency)).collect();
        assert_eq!(
            cells,
            vec![
                (Op::Put, 4 << 10, 1),
                (Op::Put, 4 << 10, 32),
                (Op::Get, 4 << 10, 1),
                (Op::Get, 4 << 10, 32),
                (Op::Put, 1 << 20, 1),
                (Op::Put, 1 << 20, 32),
                (Op::Get, 1 << 20, 1),
                (Op::Get, 1 << 20, 32),
                (Op::Put, 64 << 20, 1),
                (Op::Put, 64 << 20, 8),
                (Op::Get, 64 << 20, 1),
                (Op::Get, 64 << 20, 8),
            ]
        );
    }

    #[test]
    fn phases_parse_in_order() {
        let p = parse_phases("put:64MiB:32, get:64MiB:32,PUT:4KiB:1", None, Some(3)).unwrap();
        let got: Vec<(Op, u64, usize)> = p.iter().map(|c| (c.op, c.size, c.concurrency)).collect();
        assert_eq!(
            got,
            vec![
                (Op::Put, 64 << 20, 32),
                (Op::Get, 64 << 20, 32),
                (Op::Put, 4 << 10, 1)
            ]
        );
        assert_eq!(p[0].count, Some(3));
        for bad in ["", "put:64MiB", "put:64MiB:0", "del:1MiB:1", "put:lots:1"] {
            assert!(
                parse_phases(bad, None, Some(1)).is_err(),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn memory_table_flags_phases_over_target() {
        let spec = CellSpec {
            op: Op::Put,
            size: 64 << 20,
            concurrency: 32,
            duration: None,
            count: Some(1),
        };
        let mut under = CellResult::empty(&spec);
        under.server_hwm_reset = true;
        under.server_hwm_mib = Some(240.0);
        let mut over = CellResult::empty(&spec);
        over.server_peak_rss_mib = Some(428.0);
        let t = memory_table(&[under, over], 300.0);
        assert!(t.contains("0.80"), "{t}");
        assert!(t.contains("1.43 OVER"), "{t}");
        assert!(t.contains("sampled 100 ms"), "{t}");
        assert_eq!(t.matches("OVER").count(), 1, "{t}");
    }

    #[test]
    fn table_marks_failed_cells() {
        let spec = CellSpec {
            op: Op::Get,
            size: 4096,
            concurrency: 1,
            duration: None,
            count: Some(1),
        };
        let r = CellResult::failed(&spec, "boom".into());
        assert!(r.had_errors());
        let t = results_table(&[r], true);
        assert!(t.contains("cell failed"));
        assert!(t.contains("server CPU ms/op"));
    }
}
