//! How the `cairn` process uses the C allocator (glibc malloc): fewer arenas, and free memory
//! handed back to the kernel once the server goes idle. Part of the binary only: a library
//! user (tests, `cairn-bench-heal`) keeps its own allocator settings.
//!
//! What was retained (issue 7, item 13; `bench/memory-ab.sh`, results and the choice in
//! `bench/results/2026-12-06-memory-summary.md`): glibc gives every thread that allocates its own
//! arena, up to 8 per core (16 here). Shard reads and writes run on tokio's blocking threads
//! (up to 512 of them), so a phase of 64 MiB GETs leaves its freed 256 KiB shard buffers and
//! 1 MiB blocks spread over up to 16 arenas, and a free chunk only serves the arena that owns
//! it. The PUTs that follow allocate on the runtime's worker threads, i.e. other arenas, so the
//! GET phase's leftovers and the PUT phase's live buffers add up. Measured: after 64 MiB GETs
//! x32 (nothing in flight) 75–89 MiB stayed resident with the default, 35–53 MiB with 2
//! arenas; after 32 concurrent 64 MiB PUTs 155–200 MiB stayed resident in every glibc variant
//! until the process ended. With both settings below, the peak of the PUTs that follow GETs
//! fell from 240/245 to 220/209 MiB (0.88×, same run; PUTs alone: 204 against 208 MiB), and
//! 77 MiB left by a burst of PUTs fell to 17 MiB within 6 s of the server going idle.
//!
//! Rejected by the same measurement (interleaved, 2 rounds each, same run):
//! * jemalloc (`tikv-jemallocator`, background purging, 10 s or 1 s decay): peaks within noise
//!   of glibc's but 30–50 % more server CPU per request (GET 64 MiB: ~105 against ~65 ms of
//!   CPU per request; PUT: ~400 against ~315) and 25–45 % less throughput: memory it gives
//!   back is touched again, and a page fault costs about 2.7 µs per 4 KiB page in this VM
//!   (`../shared/MACHINE.md`).
//! * mimalloc (v2, defaults): 333 MiB peak for the GET phase and 472 MiB for the PUTs after it
//!   (one run, 1.6× the target): per-thread segments of the many blocking threads are kept.
//! * A smaller MD5 queue per PUT (2 blocks instead of 8, `objects/ingest.rs`): no change in the
//!   peak (MD5 keeps up; the queue is nearly empty), so the live PUT buffers are not there.

use std::time::Duration;

/// Most malloc arenas for the whole process. With 2, every thread shares the memory that the
/// others freed, so one workload's leftovers are reused by the next instead of adding to it;
/// throughput was unchanged within noise on 2 cores (two interleaved runs, 2 rounds each:
/// GET 64 MiB x32 1.01× and 1.09× the default's MiB/s, PUT 64 MiB x32 after GETs 1.04× and
/// 1.08×, PUT alone 0.90× and 0.99×).
/// `MALLOC_ARENA_MAX` (or `GLIBC_TUNABLES=glibc.malloc.arena_max=N`) in the environment wins.
pub const ARENA_MAX: i32 = 2;

/// How often the idle trimmer looks at the process's CPU time.
pub const IDLE_CHECK: Duration = Duration::from_secs(5);

/// The process counts as idle when it used less than this share of one core over the last
/// [`IDLE_CHECK`] (2 %: 100 ms of CPU in 5 s; the scanner and health probes stay below it).
pub const IDLE_CPU_SHARE: f64 = 0.02;

/// Applies [`ARENA_MAX`] unless the environment already sets the arena count. Must run before
/// the process starts any thread. Returns whether the setting was applied here.
pub fn configure() -> bool {
    let from_env = std::env::var_os("MALLOC_ARENA_MAX").is_some()
        || std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("malloc.arena_max"));
    if from_env {
        return false;
    }
    set_arena_max(ARENA_MAX)
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn set_arena_max(n: i32) -> bool {
    // SAFETY: mallopt only changes allocator parameters; M_ARENA_MAX takes any positive int.
    unsafe { libc::mallopt(libc::M_ARENA_MAX, n) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn set_arena_max(_n: i32) -> bool {
    false
}

/// Returns free memory of every arena to the kernel (`malloc_trim(0)`: the free pages inside
/// the heaps too, not only at their tops). Returns whether anything was released.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() -> bool {
    // SAFETY: malloc_trim has no preconditions; it locks each arena while it works.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> bool {
    false
}

/// Whether the idle trimmer should trim now: the process used less than [`IDLE_CPU_SHARE`]
/// of `interval` in CPU, and it has not trimmed since it was last busy (one trim per idle
/// period; a trim under load would only make the next requests fault the pages back in).
pub fn should_trim(cpu_used: Duration, interval: Duration, trimmed_since_busy: bool) -> bool {
    let idle = cpu_used.as_secs_f64() < interval.as_secs_f64() * IDLE_CPU_SHARE;
    idle && !trimmed_since_busy
}

/// CPU time of this process (all threads).
fn process_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// Starts the idle trimmer: a thread that, every [`IDLE_CHECK`], trims once when the server
/// has gone idle, so that memory a burst of requests left in the arenas (150–200 MiB after
/// 32 concurrent 64 MiB PUTs) does not stay resident for the life of the process.
pub fn start_idle_trimmer() {
    let spawned = std::thread::Builder::new()
        .name("cairn-mem-trim".into())
        .spawn(|| {
            let mut last = process_cpu_time();
            let mut trimmed = true; // nothing to give back before the first requests
            loop {
                std::thread::sleep(IDLE_CHECK);
                let now = process_cpu_time();
                let used = now.saturating_sub(last);
                last = now;
                if should_trim(used, IDLE_CHECK, trimmed) {
                    trim();
                    trimmed = true;
                    // The trim's own CPU time must not count as activity.
                    last = process_cpu_time();
                } else if used.as_secs_f64() >= IDLE_CHECK.as_secs_f64() * IDLE_CPU_SHARE {
                    trimmed = false;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the idle memory trimmer");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_once_per_idle_period_and_never_under_load() {
        let i = IDLE_CHECK;
        // Busy: 1 s of CPU in 5 s.
        assert!(!should_trim(Duration::from_secs(1), i, false));
        // Just over the idle line is still busy.
        assert!(!should_trim(Duration::from_millis(101), i, false));
        // Idle, not trimmed since the last busy period: trim.
        assert!(should_trim(Duration::from_millis(20), i, false));
        // Still idle, already trimmed: do not trim again.
        assert!(!should_trim(Duration::from_millis(20), i, true));
    }

    /// The bound on retained memory: chunks freed in the middle of a heap (kept there by a
    /// live neighbour, so the heap top cannot shrink) go back to the kernel on `trim`.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn trim_returns_freed_heap_memory_to_the_kernel() {
        fn rss() -> u64 {
            let s = std::fs::read_to_string("/proc/self/status").expect("status");
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .expect("VmRSS")
                * 1024
        }
        // 96 MiB in 64 KiB chunks (below glibc's mmap threshold: they come from the heap), each
        // followed by a small chunk that stays allocated.
        let mut big = Vec::new();
        let mut pins = Vec::new();
        for _ in 0..1536 {
            let mut b = vec![0u8; 64 << 10];
            b.iter_mut().step_by(4096).for_each(|x| *x = 1);
            big.push(b);
            pins.push(vec![1u8; 64]);
        }
        let full = rss();
        drop(big);
        let freed = rss();
        assert!(trim(), "malloc_trim released nothing");
        let trimmed = rss();
        // free() alone gives back only the heap's top (about a third here); the trim must
        // release most of the rest (measured: 70 MB resident after free, 5 MB after trim).
        assert!(
            trimmed + (32 << 20) < freed,
            "RSS {full} with the chunks, {freed} after free, {trimmed} after trim"
        );
        assert_eq!(pins.len(), 1536);
    }
}
