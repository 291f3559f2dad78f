//! This process's CPU time, memory, file descriptors and start time under MinIO's v2
//! names (`minio_node_process_*`, `minio_node_file_descriptor_*`), read from `/proc`
//! at every scrape. Where `/proc` cannot be read (not Linux), the families are left out.

use super::{Kind, Page};
use std::time::{SystemTime, UNIX_EPOCH};

/// What `/proc` says about this process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub open_fds: u64,
    pub fd_limit: Option<u64>,
    /// Seconds since the Unix epoch.
    pub start_time: f64,
}

pub fn render(page: &mut Page, server: &str) {
    let Some(p) = read() else {
        return;
    };
    let me = [("server", server)];
    // MinIO's names: a counter without `_total` here, gauges ending in `_total` below,
    // which promtool's lint flags; dashboards query these names, so they stay.
    page.single(
        "minio_node_process_cpu_total_seconds",
        Kind::Counter,
        "Total user and system CPU time spent in seconds",
        &me,
        p.cpu_seconds,
    );
    page.single(
        "minio_node_process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory size in bytes",
        &me,
        p.resident_bytes,
    );
    page.single(
        "minio_node_file_descriptor_open_total",
        Kind::Gauge,
        "Total number of open file descriptors by the MinIO Server process",
        &me,
        p.open_fds,
    );
    if let Some(limit) = p.fd_limit {
        page.single(
            "minio_node_file_descriptor_limit_total",
            Kind::Gauge,
            "Limit on total number of open file descriptors for the MinIO Server process",
            &me,
            limit,
        );
    }
    page.single(
        "minio_node_process_starttime_seconds",
        Kind::Gauge,
        "Start time for MinIO process per node, time in seconds since Unix epoc",
        &me,
        p.start_time,
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    page.single(
        "minio_node_process_uptime_seconds",
        Kind::Gauge,
        "Uptime for MinIO process per node in seconds",
        &me,
        (now - p.start_time).max(0.0).floor(),
    );
}

/// Reads `/proc/self/{stat,status,fd,limits}` and `/proc/stat`.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let (utime, stime, start_ticks) = parse_stat(&stat)?;
    let ticks = clock_ticks();
    let btime: f64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    let fd_limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| parse_fd_limit(&l));
    Some(ProcessStats {
        cpu_seconds: (utime + stime) as f64 / ticks,
        resident_bytes: parse_rss(&status)?,
        open_fds,
        fd_limit,
        start_time: btime + start_ticks as f64 / ticks,
    })
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`).
fn clock_ticks() -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// `utime`, `stime` and `starttime` (fields 14, 15 and 22) of `/proc/<pid>/stat`. The
/// command name (field 2) is in parentheses and may hold spaces and parentheses, so
/// fields are counted after its last `)`.
fn parse_stat(stat: &str) -> Option<(u64, u64, u64)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3.
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some((field(14)?, field(15)?, field(22)?))
}

/// `VmRSS` of `/proc/<pid>/status`, in bytes.
fn parse_rss(status: &str) -> Option<u64> {
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// The soft limit of `Max open files` in `/proc/<pid>/limits`; `None` when unlimited.
fn parse_fd_limit(limits: &str) -> Option<u64> {
    limits
        .lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let stat = "1234 (cairn (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 \
                    987654 123456789 4321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        assert_eq!(parse_stat(stat), Some((250, 50, 987654)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(
            parse_rss("Name:\tcairn\nVmRSS:\t   20480 kB\nThreads: 3\n"),
            Some(20480 * 1024)
        );
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1048576              1048576              files\n";
        assert_eq!(parse_fd_limit(limits), Some(1_048_576));
    }

    #[test]
    fn reads_this_process() {
        let p = read().expect("/proc is readable on Linux");
        assert!(p.resident_bytes > 0);
        assert!(p.open_fds > 0);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        // Started within the last day, not in the future (a clock tick of slack).
        assert!(
            p.start_time <= now + 1.0 && p.start_time > now - 86_400.0,
            "{p:?}"
        );
    }
}
