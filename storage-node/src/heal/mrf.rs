//! MRF ("most recent failures"): a bounded in-memory queue of objects that a write,
//! delete or read found incomplete on some drive, drained by one background worker.
//!
//! Why in memory and bounded: the queue only speeds healing up. Entries are lost on
//! restart or dropped (and counted) when the queue is full, and the background scanner
//! finds whatever the queue missed. A hot path (PUT, GET) therefore never blocks on it:
//! [`MrfQueue::push`] takes a short mutex and returns.
//!
//! An entry whose heal could not reach every drive (a drive is still offline) is put
//! back with exponential backoff; the worker also watches the drives it waits for and
//! retries everything at once as soon as one of them answers again, so an object written
//! while a drive was away is healed within about a second of the drive's return.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Entries held at most; a burst beyond this is dropped and left to the scanner.
pub const DEFAULT_CAPACITY: usize = 10_000;
/// First retry delay of an entry that could not be healed completely.
const BACKOFF_BASE: Duration = Duration::from_millis(250);
/// Longest retry delay.
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// An entry is given up (and left to the scanner) after this many attempts: with the
/// delays above that is about 8 hours of a drive being away.
pub const MAX_ATTEMPTS: u32 = 1_000;

/// One object to heal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MrfEntry {
    pub bucket: String,
    pub key: String,
    /// Heal attempts so far.
    pub attempts: u32,
    not_before: Instant,
}

#[derive(Debug, Default)]
struct Inner {
    ready: VecDeque<MrfEntry>,
    delayed: Vec<MrfEntry>,
    /// (bucket, key) of every queued entry, so a hot key is queued once.
    queued: HashSet<(String, String)>,
}

/// The queue. Cheap to share behind an `Arc`; every method is non-blocking except
/// [`MrfQueue::next`].
#[derive(Debug)]
pub struct MrfQueue {
    inner: Mutex<Inner>,
    notify: tokio::sync::Notify,
    capacity: usize,
    /// Entries refused because the queue was full.
    pub dropped: AtomicU64,
    /// Entries accepted since start.
    pub added: AtomicU64,
    /// Entries given up after [`MAX_ATTEMPTS`].
    pub abandoned: AtomicU64,
}

impl MrfQueue {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            notify: tokio::sync::Notify::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            added: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
        }
    }

    /// Queues `bucket/key` for healing now. A key already queued is not added twice; a
    /// full queue drops the entry and counts it.
    pub fn push(&self, bucket: &str, key: &str) {
        let Ok(mut inner) = self.inner.lock() else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let id = (bucket.to_string(), key.to_string());
        if inner.queued.contains(&id) {
            return;
        }
        if inner.queued.len() >= self.capacity {
            drop(inner);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%bucket, %key, "MRF queue full, leaving the object to the scanner");
            return;
        }
        inner.queued.insert(id);
        inner.ready.push_back(MrfEntry {
            bucket: bucket.to_string(),
            key: key.to_string(),
            attempts: 0,
            not_before: Instant::now(),
        });
        drop(inner);
        self.added.fetch_add(1, Ordering::Relaxed);
        self.notify.notify_one();
    }

    /// Puts an entry back after an incomplete heal, to be retried after a backoff that
    /// grows with its attempts. Returns false when the entry was given up.
    pub fn retry(&self, mut entry: MrfEntry) -> bool {
        entry.attempts = entry.attempts.saturating_add(1);
        if entry.attempts >= MAX_ATTEMPTS {
            self.abandoned.fetch_add(1, Ordering::Relaxed);
            self.forget(&entry);
            return false;
        }
        let shift = entry.attempts.min(16);
        let delay = BACKOFF_BASE.saturating_mul(1u32 << shift).min(BACKOFF_MAX);
        entry.not_before = Instant::now() + delay;
        match self.inner.lock() {
            Ok(mut inner) => {
                inner.delayed.push(entry);
                true
            }
            Err(_) => false,
        }
    }

    /// Marks an entry as done (healed, or not healable by retrying).
    pub fn done(&self, entry: &MrfEntry) {
        self.forget(entry);
    }

    fn forget(&self, entry: &MrfEntry) {
        if let Ok(mut inner) = self.inner.lock() {
            inner
                .queued
                .remove(&(entry.bucket.clone(), entry.key.clone()));
        }
    }

    /// Makes every delayed entry due now: a drive that was away is back.
    pub fn wake_all(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            let now = Instant::now();
            let delayed = std::mem::take(&mut inner.delayed);
            for mut e in delayed {
                e.not_before = now;
                inner.ready.push_back(e);
            }
        }
        self.notify.notify_one();
    }

    /// Entries queued or waiting for a retry.
    pub fn len(&self) -> usize {
        self.inner.lock().map(|i| i.queued.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Entries waiting for a retry (their drive was offline).
    pub fn waiting(&self) -> usize {
        self.inner.lock().map(|i| i.delayed.len()).unwrap_or(0)
    }

    /// The next entry that is due, waiting at most `wait` for one.
    pub async fn next(&self, wait: Duration) -> Option<MrfEntry> {
        let deadline = tokio::time::Instant::now() + wait;
        // Bounded: each round either returns or sleeps until a push, a due retry or
        // the deadline.
        for _ in 0..64 {
            let (entry, next_due) = self.take_due();
            if entry.is_some() {
                return entry;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return None;
            }
            let until = next_due
                .map(|d| tokio::time::Instant::from_std(d).min(deadline))
                .unwrap_or(deadline);
            let _ = tokio::time::timeout_at(until, self.notify.notified()).await;
        }
        None
    }

    /// Pops the first ready entry, moving due retries to the ready list first; also
    /// returns when the earliest delayed entry becomes due.
    fn take_due(&self) -> (Option<MrfEntry>, Option<Instant>) {
        let Ok(mut inner) = self.inner.lock() else {
            return (None, None);
        };
        let now = Instant::now();
        if !inner.delayed.is_empty() {
            let delayed = std::mem::take(&mut inner.delayed);
            let (due, later): (Vec<_>, Vec<_>) =
                delayed.into_iter().partition(|e| e.not_before <= now);
            inner.delayed = later;
            inner.ready.extend(due);
        }
        let next_due = inner.delayed.iter().map(|e| e.not_before).min();
        (inner.ready.pop_front(), next_due)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dedups_bounds_and_retries() {
        let q = MrfQueue::new(2);
        q.push("b", "k1");
        q.push("b", "k1");
        q.push("b", "k2");
        q.push("b", "k3");
        assert_eq!(q.len(), 2);
        assert_eq!(q.dropped.load(Ordering::Relaxed), 1);
        let e = q.next(Duration::from_millis(10)).await.expect("entry");
        assert_eq!(e.key, "k1");
        // Still counted as queued until done or retried.
        q.push("b", "k1");
        assert_eq!(q.len(), 2);
        assert!(q.retry(e));
        let e2 = q.next(Duration::from_millis(10)).await.expect("k2");
        assert_eq!(e2.key, "k2");
        q.done(&e2);
        // k1 waits for its backoff (500 ms after one attempt) unless woken.
        assert!(q.next(Duration::from_millis(20)).await.is_none());
        assert_eq!(q.waiting(), 1);
        q.wake_all();
        let again = q.next(Duration::from_millis(10)).await.expect("k1 again");
        assert_eq!((again.key.as_str(), again.attempts), ("k1", 1));
        q.done(&again);
        assert!(q.is_empty());
    }

    #[tokio::test]
    async fn next_wakes_on_push_and_gives_up_after_max_attempts() {
        let q = std::sync::Arc::new(MrfQueue::new(10));
        let q2 = q.clone();
        let waiter = tokio::spawn(async move { q2.next(Duration::from_secs(5)).await });
        tokio::task::yield_now().await;
        q.push("b", "k");
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("task");
        let mut e = got.expect("entry");
        e.attempts = MAX_ATTEMPTS - 1;
        assert!(!q.retry(e));
        assert_eq!(q.abandoned.load(Ordering::Relaxed), 1);
        assert!(q.is_empty());
    }
}
