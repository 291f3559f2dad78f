//! Connection limits and timeouts of the HTTP front: how many connections one server
//! accepts, and how long a connection may sit without making progress before it is
//! closed, so that no client can hold sockets, tasks and buffers forever.
//!
//! Each setting is read as `CAIRN_<NAME>`, then `MINIO_<NAME>`, then from the
//! configuration file (see `crate::config`). Durations are written `90`, `90s`,
//! `500ms`, `5m` or `1h`; a bad or zero value is ignored with a warning.
//!
//! | setting                    | default | what it bounds                                   |
//! |----------------------------|---------|--------------------------------------------------|
//! | `MAX_CONNECTIONS`          | 4096    | open client connections (beyond: `503 SlowDown`)  |
//! | `READ_HEADER_TIMEOUT`      | 30s     | from accept (or the previous response, HTTP/1) to a complete request head |
//! | `IDLE_TIMEOUT`             | 30s     | a connection with no request in flight            |
//! | `TLS_HANDSHAKE_TIMEOUT`    | 10s     | the TLS handshake                                 |
//! | `HTTP2_KEEPALIVE_INTERVAL` | 30s     | HTTP/2 ping when the peer was silent this long    |
//! | `HTTP2_KEEPALIVE_TIMEOUT`  | 20s     | unanswered HTTP/2 ping: connection closed         |
//! | `CONN_WRITE_DEADLINE`      | 60s     | a response body the client does not read          |
//! | `CONN_READ_DEADLINE`       | 60s     | a request body the client does not send           |
//!
//! The idle and header defaults are MinIO's (`MINIO_IDLE_TIMEOUT`,
//! `MINIO_READ_HEADER_TIMEOUT`, both 30 s), and the two deadlines keep MinIO's names
//! (`MINIO_CONN_READ_DEADLINE`, `MINIO_CONN_WRITE_DEADLINE`) with a shorter default
//! than MinIO's 10 min: they measure time without any progress, which a working
//! client never comes near. The TLS handshake default is Go's and rustls users'
//! customary 10 s. HTTP/2 pings find peers that vanished without closing (hyper's
//! ping timeout default, 20 s). The connection cap keeps file descriptors and per
//! connection buffers bounded; it is lowered to three quarters of the open-file limit
//! when that is smaller, so that accepting never fails for lack of descriptors.

use std::time::Duration;

/// Settings of the connection layer; `Limits::default()` is what an unset
/// configuration gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Open client connections served normally; see [`HEALTH_HEADROOM`] for the rest.
    pub max_connections: usize,
    /// Time allowed for a request head: from accept (or, on an HTTP/1 keep-alive
    /// connection, from the end of the previous response) until the head is complete.
    pub read_header_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2: with
    /// GOAWAY).
    pub idle_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub http2_keepalive_interval: Duration,
    pub http2_keepalive_timeout: Duration,
    /// A response body that could not hand a chunk to the client for this long closes
    /// the connection (the client stopped reading).
    pub send_timeout: Duration,
    /// A request body that delivered no bytes for this long fails the request.
    pub receive_timeout: Duration,
}

/// Connections accepted beyond `max_connections`, up to this many more, are served
/// in overload mode: health probes (`/minio/health/...`) and authenticated peer RPC
/// are answered, every other request gets `503 SlowDown` and the connection closes.
/// Beyond that the server writes `503 SlowDown` without reading and closes. So a full
/// server still answers the kubelet's probes and its peers.
pub const HEALTH_HEADROOM: usize = 32;

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            read_header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(20),
            send_timeout: Duration::from_secs(60),
            receive_timeout: Duration::from_secs(60),
        }
    }
}

impl Limits {
    /// Reads every setting through `setting` (`NAME` → `CAIRN_NAME`, `MINIO_NAME`, the
    /// configuration file).
    pub fn from_settings(setting: impl Fn(&str) -> Option<String>) -> Self {
        let mut l = Limits::default();
        if let Some(v) = setting("MAX_CONNECTIONS") {
            match v.trim().parse::<usize>() {
                Ok(n) if n > 0 => l.max_connections = n,
                _ => tracing::warn!(value = %v, "ignoring bad CAIRN_MAX_CONNECTIONS"),
            }
        }
        let durations: [(&str, &mut Duration); 7] = [
            ("READ_HEADER_TIMEOUT", &mut l.read_header_timeout),
            ("IDLE_TIMEOUT", &mut l.idle_timeout),
            ("TLS_HANDSHAKE_TIMEOUT", &mut l.tls_handshake_timeout),
            ("HTTP2_KEEPALIVE_INTERVAL", &mut l.http2_keepalive_interval),
            ("HTTP2_KEEPALIVE_TIMEOUT", &mut l.http2_keepalive_timeout),
            ("CONN_WRITE_DEADLINE", &mut l.send_timeout),
            ("CONN_READ_DEADLINE", &mut l.receive_timeout),
        ];
        for (name, slot) in durations {
            if let Some(v) = setting(name) {
                match crate::duration::parse(&v) {
                    Some(d) if !d.is_zero() => *slot = d,
                    _ => tracing::warn!(value = %v, "ignoring bad CAIRN_{name}"),
                }
            }
        }
        l
    }

    /// The cap actually enforced: `max_connections`, lowered so that the connections,
    /// the headroom and the server's own files fit in `open_files` descriptors.
    pub fn effective_cap(&self, open_files: Option<u64>) -> usize {
        match open_files {
            Some(n) => {
                let fit = usize::try_from(n / 4 * 3).unwrap_or(usize::MAX);
                self.max_connections
                    .min(fit.saturating_sub(HEALTH_HEADROOM))
                    .max(1)
            }
            None => self.max_connections,
        }
    }
}

/// The soft limit on open files of this process, raised to the hard limit first (as
/// Go programs, MinIO among them, do at start): a server's connections and drive files
/// need far more than the customary 1024.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one plain struct that we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return None;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads one plain struct; failure leaves the limit as it was.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim.rlim_cur = lim.rlim_max;
        }
    }
    (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_or_zero_values_keep_the_default() {
        let l = Limits::from_settings(|n| match n {
            "MAX_CONNECTIONS" => Some("0".into()),
            "IDLE_TIMEOUT" => Some("0s".into()),
            "READ_HEADER_TIMEOUT" => Some("later".into()),
            "CONN_WRITE_DEADLINE" => Some("2s".into()),
            _ => None,
        });
        assert_eq!(l.max_connections, 4096);
        assert_eq!(l.idle_timeout, Duration::from_secs(30));
        assert_eq!(l.read_header_timeout, Duration::from_secs(30));
        assert_eq!(l.send_timeout, Duration::from_secs(2));
    }

    #[test]
    fn the_cap_fits_the_open_file_limit() {
        let l = Limits::default();
        assert_eq!(l.effective_cap(None), 4096);
        assert_eq!(l.effective_cap(Some(1 << 20)), 4096);
        assert_eq!(l.effective_cap(Some(1024)), 768 - HEALTH_HEADROOM);
        assert_eq!(l.effective_cap(Some(8)), 1);
    }
}
