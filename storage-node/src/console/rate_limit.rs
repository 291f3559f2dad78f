//! Login attempts, limited: failed logins are counted per client address and per access
//! key in a fixed window; once either count reaches its limit, further attempts from
//! that address or for that key are refused (`429`, `Retry-After`) without asking IAM
//! until the window ends. A successful login clears its key's count (not the
//! address's). Memory is bounded: at most [`MAX_ENTRIES`] counters, expired ones first.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counters kept at most.
pub const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Failures allowed per client address within `window`.
    pub per_address: u32,
    /// Failures allowed per access key within `window`.
    pub per_key: u32,
    pub window: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            per_address: 10,
            per_key: 5,
            window: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Count {
    started: Instant,
    failures: u32,
}

pub struct LoginLimiter {
    limits: Limits,
    counts: Mutex<HashMap<String, Count>>,
}

impl LoginLimiter {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            counts: Mutex::new(HashMap::new()),
        }
    }

    fn keys(address: &str, access_key: &str) -> [(String, u32); 2] {
        [(format!("a:{address}"), 0), (format!("k:{access_key}"), 1)]
    }

    /// `Err(wait)` when a login from `address` for `access_key` must be refused now.
    pub fn check(&self, address: &str, access_key: &str, now: Instant) -> Result<(), Duration> {
        let Ok(counts) = self.counts.lock() else {
            return Err(self.limits.window);
        };
        let mut wait = None;
        for (key, kind) in Self::keys(address, access_key) {
            let limit = if kind == 0 {
                self.limits.per_address
            } else {
                self.limits.per_key
            };
            if let Some(c) = counts.get(&key) {
                let age = now.saturating_duration_since(c.started);
                if age < self.limits.window && c.failures >= limit {
                    let left = self.limits.window - age;
                    wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
                }
            }
        }
        wait.map_or(Ok(()), Err)
    }

    /// Counts a failed login.
    pub fn failed(&self, address: &str, access_key: &str, now: Instant) {
        let Ok(mut counts) = self.counts.lock() else {
            return;
        };
        if counts.len() >= MAX_ENTRIES {
            let window = self.limits.window;
            counts.retain(|_, c| now.saturating_duration_since(c.started) < window);
            while counts.len() >= MAX_ENTRIES {
                let Some(oldest) = counts
                    .iter()
                    .min_by_key(|(_, c)| c.started)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                counts.remove(&oldest);
            }
        }
        for (key, _) in Self::keys(address, access_key) {
            let c = counts.entry(key).or_insert(Count {
                started: now,
                failures: 0,
            });
            if now.saturating_duration_since(c.started) >= self.limits.window {
                *c = Count {
                    started: now,
                    failures: 0,
                };
            }
            c.failures += 1;
        }
    }

    /// A successful login clears its access key's count.
    pub fn succeeded(&self, access_key: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            counts.remove(&format!("k:{access_key}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(Limits {
            per_address: 4,
            per_key: 2,
            window: Duration::from_secs(60),
        })
    }

    #[test]
    fn a_key_is_locked_after_its_failures_until_the_window_ends() {
        let l = limiter();
        let t0 = Instant::now();
        assert!(l.check("10.0.0.1", "alice", t0).is_ok());
        l.failed("10.0.0.1", "alice", t0);
        assert!(l.check("10.0.0.1", "alice", t0).is_ok());
        l.failed("10.0.0.2", "alice", t0 + Duration::from_secs(10));
        // Two failures for alice, from two addresses: alice is locked everywhere.
        let wait = l
            .check("10.0.0.3", "alice", t0 + Duration::from_secs(20))
            .unwrap_err();
        assert_eq!(wait, Duration::from_secs(40));
        // bob is not.
        assert!(l.check("10.0.0.3", "bob", t0).is_ok());
        // The window ends.
        assert!(
            l.check("10.0.0.3", "alice", t0 + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn an_address_is_locked_after_failures_for_many_keys() {
        let l = limiter();
        let t0 = Instant::now();
        for k in ["a", "b", "c", "d"] {
            assert!(l.check("10.0.0.9", k, t0).is_ok());
            l.failed("10.0.0.9", k, t0);
        }
        assert!(l.check("10.0.0.9", "e", t0).is_err());
        assert!(l.check("10.0.0.10", "e", t0).is_ok());
    }

    #[test]
    fn success_clears_the_key_but_not_the_address() {
        let l = limiter();
        let t0 = Instant::now();
        l.failed("10.0.0.1", "alice", t0);
        l.failed("10.0.0.1", "alice", t0);
        assert!(l.check("10.0.0.5", "alice", t0).is_err());
        l.succeeded("alice");
        assert!(l.check("10.0.0.5", "alice", t0).is_ok());
        l.failed("10.0.0.1", "x", t0);
        l.failed("10.0.0.1", "y", t0);
        assert!(l.check("10.0.0.1", "z", t0).is_err(), "address count kept");
    }

    #[test]
    fn memory_stays_bounded() {
        let l = LoginLimiter::new(Limits::default());
        let t0 = Instant::now();
        for i in 0..(MAX_ENTRIES + 50) {
            l.failed(&format!("a{i}"), "k", t0 + Duration::from_millis(i as u64));
        }
        assert!(l.counts.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
