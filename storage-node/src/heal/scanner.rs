//! The background scanner: walks every bucket of every erasure set, verifies every
//! object deeply (every shard block's checksum on every drive) and repairs what it
//! finds, at a bounded pace so that client traffic keeps the drives.
//!
//! Why deep: bitrot on a shard nobody reads is only found by reading it; the MRF queue
//! and repair-on-read only see what clients touch. The pace is a number of objects and
//! of shard bytes per second (`CAIRN_SCANNER_SPEED`); a cycle is followed by a pause
//! (`CAIRN_SCANNER_CYCLE`), and [`super::HealState::scan_now`] skips the pause. The
//! first cycle starts `CAIRN_SCANNER_START_DELAY` after start-up (10 s by default, at most
//! the cycle pause), so that the data usage is known soon.
//!
//! The same walk accounts data usage ([`super::usage`]): a set is walked over every
//! bucket, the size of every object that exists is counted, and the set's usage is
//! saved on its drives when its walk completed.

use super::object::{self, HealMode};
use super::usage::{self, SetUsage};
use super::{HealState, MAX_BATCHES, ScannerSpeed, now_rfc3339, walk::SetWalk};
use crate::objects::set::ErasureSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Keeps a loop at or below a rate of objects and bytes per second.
pub struct Pacer {
    speed: ScannerSpeed,
    start: Instant,
    objects: u64,
    bytes: u64,
}

/// Longest single wait, so a huge object does not stall the scanner for minutes.
const MAX_WAIT: Duration = Duration::from_secs(10);

impl Pacer {
    pub fn new(speed: ScannerSpeed) -> Self {
        Self {
            speed,
            start: Instant::now(),
            objects: 0,
            bytes: 0,
        }
    }

    /// Accounts one object of `bytes` and returns how long to wait before the next.
    pub fn account(&mut self, bytes: u64) -> Duration {
        self.objects += 1;
        self.bytes += bytes;
        let mut due = 0f64;
        if self.speed.objects_per_sec > 0.0 {
            due = due.max(self.objects as f64 / self.speed.objects_per_sec);
        }
        if self.speed.bytes_per_sec > 0 {
            due = due.max(self.bytes as f64 / self.speed.bytes_per_sec as f64);
        }
        let elapsed = self.start.elapsed().as_secs_f64();
        if due > elapsed {
            Duration::from_secs_f64(due - elapsed).min(MAX_WAIT)
        } else {
            Duration::ZERO
        }
    }
}

/// The scanner task: cycles until shutdown.
pub async fn run(state: Arc<HealState>) {
    let mut shutdown = state.shutdown.clone();
    // Never later than a regular pause would start it.
    let mut pause = state
        .config
        .scanner_start_delay
        .min(state.config.scanner_cycle);
    // The daemon loop ends at shutdown; every wait is bounded by the cycle pause.
    loop {
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = state.scan_trigger.notified() => {}
            _ = shutdown.changed() => {}
        }
        if state.is_shutting_down() {
            return;
        }
        pause = state.config.scanner_cycle;
        if let Err(e) = cycle(&state).await {
            tracing::warn!(error = %e, "scanner cycle ended early");
        }
    }
}

fn with_status(state: &HealState, f: impl FnOnce(&mut super::ScannerStatus)) {
    if let Ok(mut s) = state.scanner.lock() {
        f(&mut s);
    }
}

/// One pass over every object.
pub async fn cycle(state: &HealState) -> Result<(), super::HealError> {
    with_status(state, |s| {
        s.running = true;
        s.cycle_started = Some(now_rfc3339());
        s.objects_scanned_this_cycle = 0;
    });
    let result = scan_all(state).await;
    with_status(state, |s| {
        s.running = false;
        if result.is_ok() {
            s.cycles_completed += 1;
            s.last_cycle_finished = Some(now_rfc3339());
        }
    });
    result
}

/// In a distributed deployment every server runs a scanner; each set is scanned by the
/// server that holds its first online drive, so a set is verified once per cycle, not
/// once per server, and still scanned while any server holding it is up.
pub(crate) async fn scans_here(set: &crate::objects::set::ErasureSet) -> bool {
    for d in &set.drives {
        if tokio::time::timeout(Duration::from_secs(2), d.check())
            .await
            .is_ok_and(|r| r.is_ok())
        {
            return d.is_local();
        }
    }
    false
}

async fn scan_all(state: &HealState) -> Result<(), super::HealError> {
    let started = Instant::now();
    super::heal_buckets(&state.objects).await?;
    let buckets = super::bucket_names(&state.objects).await?;
    let mut pacer = Pacer::new(state.config.scanner_speed);
    let mut totals = Totals::default();
    for set in state.objects.sets() {
        if !scans_here(set).await {
            continue;
        }
        let mut usage = SetUsage::default();
        let mut complete = true;
        for bucket in &buckets {
            usage.bucket(bucket);
            complete &=
                scan_bucket(state, set, bucket, &mut pacer, &mut totals, &mut usage).await?;
        }
        if complete {
            usage.last_update_ms = chrono::Utc::now().timestamp_millis();
            if !usage::save(set, &usage).await {
                tracing::warn!(
                    set = set.index,
                    "scanner could not save the set's data usage"
                );
            }
        }
    }
    tracing::info!(
        scanned = totals.scanned,
        healed = totals.healed,
        failed = totals.failed,
        took_ms = started.elapsed().as_millis() as u64,
        "scanner cycle done"
    );
    Ok(())
}

#[derive(Default)]
struct Totals {
    scanned: u64,
    healed: u64,
    failed: u64,
}

/// Heals every object of `bucket` in `set` and counts its size in `usage`; false when
/// the walk could not finish (the set's usage would be incomplete).
async fn scan_bucket(
    state: &HealState,
    set: &ErasureSet,
    bucket: &str,
    pacer: &mut Pacer,
    totals: &mut Totals,
    usage: &mut SetUsage,
) -> Result<bool, super::HealError> {
    let mut walk = SetWalk::new(set, bucket, "", "");
    for _ in 0..MAX_BATCHES {
        let keys = match walk.next_batch().await {
            Ok(k) => k,
            Err(e) => {
                tracing::debug!(%bucket, set = set.index, error = %e, "scanner cannot walk set");
                return Ok(false);
            }
        };
        if keys.is_empty() {
            return Ok(true);
        }
        for key in keys {
            if state.is_shutting_down() {
                return Err(super::HealError::Shutdown);
            }
            let r = object::heal_object(set, bucket, &key, HealMode::Deep).await;
            state.record(&r);
            totals.scanned += 1;
            with_status(state, |s| s.objects_scanned_this_cycle += 1);
            let bytes = match &r {
                Ok(r) => {
                    if r.changed() {
                        totals.healed += 1;
                    }
                    if r.exists && !r.deleted {
                        usage.add(bucket, r.size);
                    }
                    r.bytes_read
                }
                Err(e) => {
                    totals.failed += 1;
                    tracing::warn!(%bucket, %key, error = %e, "scanner could not heal object");
                    0
                }
            };
            let wait = pacer.account(bytes);
            if !wait.is_zero() && !state.sleep(wait).await {
                return Err(super::HealError::Shutdown);
            }
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_limits_objects_and_bytes() {
        let mut p = Pacer::new(ScannerSpeed {
            objects_per_sec: 10.0,
            bytes_per_sec: 1000,
        });
        // 1 object at 10/s: due at 0.1 s.
        let w = p.account(0);
        assert!(
            w > Duration::from_millis(50) && w <= Duration::from_millis(100),
            "{w:?}"
        );
        // 5000 bytes at 1000 B/s: due at 5 s, whatever the object count says.
        let w = p.account(5000);
        assert!(w > Duration::from_secs(4), "{w:?}");
        let mut unlimited = Pacer::new(ScannerSpeed {
            objects_per_sec: 0.0,
            bytes_per_sec: 0,
        });
        assert_eq!(unlimited.account(1 << 30), Duration::ZERO);
    }
}
