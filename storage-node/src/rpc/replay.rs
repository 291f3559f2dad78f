//! The request ids a server has accepted, so that a captured peer call is refused the second
//! time. Memory is bounded twice over:
//!
//! - an id is only kept while its signed time is inside the window that
//!   [`super::auth::MAX_SKEW_MS`] accepts; older calls are refused by their time anyway;
//! - at most `capacity` ids are kept. When full, the ids with the oldest signed times are
//!   dropped and the guard refuses every call signed at or before the newest time it
//!   dropped (the floor). That keeps the guarantee (no id is accepted twice) and only
//!   refuses calls that took longer than the guard's horizon (capacity / call rate, minutes
//!   at the default for any real peer traffic) to arrive.
//!
//! The set lives in memory, so a restarted server would not know the ids its previous
//! process accepted: the floor starts at the time the guard was created, and calls signed
//! before this server started are refused. A peer whose clock is behind ours is refused for
//! that long after our start (servers of a deployment keep their clocks in sync with NTP).
//!
//! Ids are looked up by (time, id): a replay carries the same signed time as the original.

use super::auth::{AuthError, MAX_SKEW_MS};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Default number of remembered ids: about 24 bytes each plus the tree's overhead, so some
/// 10 MiB at most; at 5,000 peer calls a second that still covers the last 50 seconds.
pub const DEFAULT_CAPACITY: usize = 250_000;

#[derive(Debug)]
pub struct ReplayGuard {
    capacity: usize,
    inner: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// (signed time in ms, request id), oldest first.
    ids: BTreeSet<(i64, u128)>,
    /// Calls signed at or before this time are refused: their ids may have been dropped.
    floor: Option<i64>,
}

impl Default for ReplayGuard {
    /// A guard of [`DEFAULT_CAPACITY`] that refuses calls signed before now.
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY, super::auth::now_ms())
    }
}

impl ReplayGuard {
    /// Remembers at most `capacity` ids; refuses calls signed at or before `start_ms`.
    pub fn new(capacity: usize, start_ms: i64) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Seen {
                ids: BTreeSet::new(),
                floor: Some(start_ms),
            }),
        }
    }

    /// Records a call's id; refuses it when it was seen before, or may have been. The caller
    /// checked the call's signature and time first, so only authentic ids get here and a
    /// forger cannot fill the set.
    pub fn check(&self, time_ms: i64, id: u128, now_ms: i64) -> Result<(), AuthError> {
        let mut seen = self.inner.lock().map_err(|_| AuthError::Replayed)?;
        // Forget what the time check refuses anyway. Saturating: `now_ms` is our clock, but
        // stays safe at any value.
        let expired = now_ms.saturating_sub(i64::try_from(MAX_SKEW_MS).unwrap_or(i64::MAX));
        while let Some(&first) = seen.ids.first() {
            if first.0 >= expired {
                break;
            }
            seen.ids.pop_first();
        }
        if seen.floor.is_some_and(|floor| time_ms <= floor) {
            return Err(AuthError::Stale);
        }
        if !seen.ids.insert((time_ms, id)) {
            return Err(AuthError::Replayed);
        }
        // Bounded: each round removes one id.
        while seen.ids.len() > self.capacity {
            if let Some((t, _)) = seen.ids.pop_first() {
                seen.floor = Some(seen.floor.map_or(t, |f| f.max(t)));
            }
        }
        if seen.floor.is_some_and(|floor| time_ms <= floor) {
            // Our own id was the oldest and got dropped at once: it is unknown again.
            return Err(AuthError::Stale);
        }
        Ok(())
    }

    /// How many ids are remembered now.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|s| s.ids.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_accepted_once() {
        let now = 1_000_000_000;
        let g = ReplayGuard::new(DEFAULT_CAPACITY, now - 1);
        assert!(g.check(now, 1, now).is_ok());
        assert_eq!(g.check(now, 1, now), Err(AuthError::Replayed));
        assert!(g.check(now, 2, now).is_ok());
        // The same id at another time is another call (its signature differs).
        assert!(g.check(now + 1, 1, now).is_ok());
    }

    #[test]
    fn memory_is_bounded_and_dropped_ids_stay_refused() {
        let now = 1_000_000_000;
        let g = ReplayGuard::new(100, now - 1);
        for i in 0..1000u128 {
            let t = now + i64::try_from(i).unwrap();
            assert!(g.check(t, i, now).is_ok());
            assert!(g.len() <= 100);
        }
        // Every id that was dropped is still refused (by the floor), the kept ones by the set.
        for i in 0..1000u128 {
            let t = now + i64::try_from(i).unwrap();
            let e = g.check(t, i, now).expect_err("a second time");
            assert!(
                matches!(e, AuthError::Replayed | AuthError::Stale),
                "{i}: {e}"
            );
        }
        // New calls after the floor still pass.
        assert!(g.check(now + 5000, 5000, now).is_ok());
    }

    #[test]
    fn ids_outside_the_time_window_are_forgotten() {
        let now = 1_000_000_000_000;
        let g = ReplayGuard::new(DEFAULT_CAPACITY, i64::MIN);
        for i in 0..10 {
            assert!(g.check(now, i, now).is_ok());
        }
        assert_eq!(g.len(), 10);
        let later = now + i64::try_from(MAX_SKEW_MS).unwrap() + 1;
        assert!(g.check(later, 99, later).is_ok());
        assert_eq!(g.len(), 1);
        // Extreme clocks: no overflow.
        assert!(g.check(i64::MIN + 1, 5, i64::MIN).is_ok());
        assert!(g.check(i64::MAX, 5, i64::MAX).is_ok());
    }

    /// A call captured before a restart is refused by the new process, which has not seen
    /// its id.
    #[test]
    fn calls_signed_before_the_server_started_are_refused() {
        let start = 1_700_000_000_000;
        let g = ReplayGuard::new(DEFAULT_CAPACITY, start);
        assert_eq!(g.check(start - 5_000, 1, start), Err(AuthError::Stale));
        assert_eq!(g.check(start, 2, start), Err(AuthError::Stale));
        assert!(g.check(start + 1, 3, start + 1).is_ok());
        assert_eq!(g.len(), 1);
    }
}
