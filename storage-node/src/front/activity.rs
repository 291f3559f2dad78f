//! What one connection is doing, for the watchdog that closes it: requests in flight,
//! when it last became idle, and response bodies waiting for the client to read.
//!
//! hyper stops pulling a response body while the socket does not drain, so a stalled
//! reader cannot be seen from inside the body (nothing polls it) and no timer in the
//! body would ever fire. Instead every response body is wrapped in a [`TrackedBody`]
//! that records when it handed a chunk over and is waiting to be asked for the next;
//! the connection's watchdog ([`Activity::check`]) looks at those clocks and closes the
//! connection, which drops the body and everything it holds.

use crate::body::RespBody;
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Why the watchdog closes a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Open,
    /// No complete request since the connection was accepted.
    NoRequest,
    /// No request in flight for the idle timeout.
    Idle,
    /// A response body waited for the client to read longer than the send timeout.
    SendStalled,
}

/// Per connection; shared by the service (one clone per request) and the watchdog.
#[derive(Debug)]
pub struct Activity {
    started: Instant,
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// Milliseconds since `started` when the last request ended.
    idle_since_ms: AtomicU64,
    /// The clocks of this connection's live response bodies.
    bodies: Mutex<Vec<Weak<SendClock>>>,
}

/// When a body handed its last chunk to hyper and has not been asked for the next:
/// milliseconds since the connection started, plus one; zero while not waiting.
#[derive(Debug, Default)]
struct SendClock(AtomicU64);

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
            bodies: Mutex::new(Vec::new()),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// A request starts; it ends when the returned guard (moved into its response
    /// body) is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Wraps a response body so that a stall in sending it is seen, and so that the
    /// request counts as in flight until the body is gone.
    pub fn track(self: &Arc<Self>, body: RespBody, in_flight: InFlight) -> TrackedBody {
        let clock = Arc::new(SendClock::default());
        if let Ok(mut bodies) = self.bodies.lock() {
            bodies.retain(|w| w.strong_count() > 0);
            bodies.push(Arc::downgrade(&clock));
        }
        TrackedBody {
            inner: body,
            clock,
            activity: self.clone(),
            _in_flight: in_flight,
        }
    }

    /// What the watchdog should do now.
    pub fn check(
        &self,
        read_header_timeout: Duration,
        idle_timeout: Duration,
        send_timeout: Duration,
    ) -> Verdict {
        let now = self.now_ms();
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        if let Ok(bodies) = self.bodies.lock() {
            let stalled = bodies.iter().filter_map(Weak::upgrade).any(|c| {
                let since = c.0.load(Ordering::Acquire);
                since != 0 && now.saturating_sub(since - 1) > ms(send_timeout)
            });
            if stalled {
                return Verdict::SendStalled;
            }
        }
        if self.requests.load(Ordering::Relaxed) == 0 {
            return if now > ms(read_header_timeout) {
                Verdict::NoRequest
            } else {
                Verdict::Open
            };
        }
        if self.in_flight.load(Ordering::Acquire) == 0
            && now.saturating_sub(self.idle_since_ms.load(Ordering::Acquire)) > ms(idle_timeout)
        {
            return Verdict::Idle;
        }
        Verdict::Open
    }
}

/// One request in flight on a connection.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let a = &self.0;
        a.idle_since_ms.store(a.now_ms(), Ordering::Release);
        a.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body whose sending progress the connection watchdog can see.
pub struct TrackedBody {
    inner: RespBody,
    clock: Arc<SendClock>,
    activity: Arc<Activity>,
    _in_flight: InFlight,
}

impl Body for TrackedBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        let this = self.get_mut();
        // Asked for more: the client took what we gave.
        this.clock.0.store(0, Ordering::Release);
        let r = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(_))) = &r {
            let now = this.activity.now_ms().saturating_add(1);
            this.clock.0.store(now, Ordering::Release);
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    const LONG: Duration = Duration::from_secs(3600);

    #[test]
    fn a_fresh_connection_waits_for_its_first_request_only_so_long() {
        let a = Activity::new();
        assert_eq!(a.check(LONG, LONG, LONG), Verdict::Open);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(a.check(Duration::ZERO, LONG, LONG), Verdict::NoRequest);
    }

    #[test]
    fn a_connection_is_idle_only_without_requests_in_flight() {
        let a = Arc::new(Activity::new());
        let guard = a.begin();
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(a.check(LONG, Duration::ZERO, LONG), Verdict::Open);
        drop(guard);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(a.check(LONG, Duration::ZERO, LONG), Verdict::Idle);
        assert_eq!(a.check(LONG, LONG, LONG), Verdict::Open);
    }

    #[tokio::test]
    async fn a_body_handed_out_and_not_asked_for_again_is_a_stall() {
        let a = Arc::new(Activity::new());
        let body = crate::body::full(Bytes::from_static(b"hello"));
        let mut tracked = a.track(body, a.begin());
        assert_eq!(a.check(LONG, LONG, Duration::ZERO), Verdict::Open);
        let frame = tracked.frame().await;
        assert!(matches!(frame, Some(Ok(_))));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(a.check(LONG, LONG, Duration::ZERO), Verdict::SendStalled);
        assert!(tracked.frame().await.is_none());
        assert_eq!(a.check(LONG, LONG, Duration::ZERO), Verdict::Open);
        drop(tracked);
        assert_eq!(a.check(LONG, LONG, LONG), Verdict::Open);
    }
}
