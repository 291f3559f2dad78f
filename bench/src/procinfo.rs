//! CPU time of this process, and memory/CPU use of another process read from `/proc`.
//!
//! The machine is shared with other tenants (see /work/shared/MACHINE.md), so wall-clock rates
//! swing with their load. Rates per second of *this process's CPU time* barely move, which is
//! why the micro-benchmarks divide by CPU time and report wall-clock only as a second opinion.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// CPU time consumed so far by this whole process (all threads), from
/// `clock_gettime(CLOCK_PROCESS_CPUTIME_ID)`.
pub fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant the kernel knows.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Reads a `VmXXX:  1234 kB` line of `/proc/PID/status`, in bytes.
fn status_field(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

/// Current and peak resident set size of a process, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Rss {
    /// `VmRSS`: resident now.
    pub rss: u64,
    /// `VmHWM`: the kernel's high-water mark of `VmRSS` over the process's life.
    pub hwm: u64,
}

/// Reads `VmRSS` and `VmHWM` of `pid`; `None` if the process is gone or `/proc` is unreadable.
pub fn read_rss(pid: u32) -> Option<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(Rss {
        rss: status_field(&status, "VmRSS")?,
        hwm: status_field(&status, "VmHWM")?,
    })
}

/// Resets the kernel's high-water mark of `pid`'s resident set (`VmHWM`) to its current
/// `VmRSS`, by writing `5` to `/proc/PID/clear_refs` (Linux 4.0+; needs the right to write
/// that file, i.e. the same user or root). After this, `VmHWM` is the exact peak since the
/// reset, which sampling every 100 ms can miss; that is how the load generator reports the
/// peak RSS of each phase of a run rather than of the server's whole life. `false` when
/// the kernel refused (the caller then falls back to the sampled peak).
pub fn reset_hwm(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), b"5").is_ok()
}

/// User + system CPU time of `pid` (all its threads) from `/proc/PID/stat`.
pub fn read_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no memory-safety preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = if ticks > 0 { ticks as u64 } else { 100 };
    Some(Duration::from_nanos(
        (utime + stime) * 1_000_000_000 / ticks,
    ))
}

/// Samples another process's `VmRSS` every 100 ms on a plain thread and keeps the maximum.
///
/// `VmHWM` alone is the peak over the server's whole life; sampling gives the peak *during one
/// benchmark cell*, which is what tells whether, say, 64 MiB GETs grow the server's memory.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak: Arc<AtomicU64>,
    handle: Option<JoinHandle<()>>,
    pid: u32,
}

/// What an [`RssSampler`] saw.
#[derive(Debug, Clone, Copy)]
pub struct RssReport {
    /// Largest `VmRSS` sampled while the sampler ran, bytes.
    pub peak_sampled: u64,
    /// `VmHWM` when the sampler stopped (life-time peak), bytes.
    pub hwm: u64,
}

impl RssSampler {
    /// Starts sampling `pid` every `interval`.
    pub fn start(pid: u32, interval: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak = Arc::new(AtomicU64::new(0));
        let (s, p) = (stop.clone(), peak.clone());
        let handle = std::thread::Builder::new()
            .name("rss-sampler".into())
            .spawn(move || {
                while !s.load(Ordering::Relaxed) {
                    if let Some(r) = read_rss(pid) {
                        p.fetch_max(r.rss, Ordering::Relaxed);
                    }
                    std::thread::sleep(interval);
                }
            })
            .ok();
        Self {
            stop,
            peak,
            handle,
            pid,
        }
    }

    /// Stops the sampler; `None` if the process could never be read.
    pub fn finish(mut self) -> Option<RssReport> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let last = read_rss(self.pid);
        if let Some(r) = last {
            self.peak.fetch_max(r.rss, Ordering::Relaxed);
        }
        let peak = self.peak.load(Ordering::Relaxed);
        if peak == 0 {
            return None;
        }
        Some(RssReport {
            peak_sampled: peak,
            hwm: last.map(|r| r.hwm).unwrap_or(peak),
        })
    }
}

impl Drop for RssSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_process() {
        let me = std::process::id();
        let r = read_rss(me).expect("own /proc/self/status");
        assert!(r.rss > 0 && r.hwm >= r.rss);
        assert!(read_cpu_time(me).is_some());
        let spin = std::time::Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(process_cpu_time() > Duration::ZERO);
    }

    #[test]
    fn parses_status_lines() {
        let s = "Name:\tcairn\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n";
        assert_eq!(status_field(s, "VmRSS"), Some(1024 * 1024));
        assert_eq!(status_field(s, "VmHWM"), Some(2048 * 1024));
        assert_eq!(status_field(s, "VmSwap"), None);
    }

    #[test]
    fn hwm_reset_brings_the_peak_down_to_the_current_rss() {
        let me = std::process::id();
        // Touch 64 MiB, free it, then reset: the high-water mark must fall below that peak.
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        let before = read_rss(me).expect("status").hwm;
        drop(big);
        assert!(reset_hwm(me), "writing /proc/self/clear_refs");
        let after = read_rss(me).expect("status");
        assert!(after.hwm < before, "VmHWM {} not below {before}", after.hwm);
        assert!(after.hwm >= after.rss);
    }

    #[test]
    fn sampler_sees_own_rss() {
        let s = RssSampler::start(std::process::id(), Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(20));
        let r = s.finish().expect("report");
        assert!(r.peak_sampled > 0);
    }
}
