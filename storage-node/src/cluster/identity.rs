//! Which endpoint URLs name this server. Several servers may share a machine (distinct
//! loopback addresses or ports), and in Kubernetes a pod knows itself by its host name and
//! pod IP, so an endpoint is ours when its port is our port and its host is our listen
//! address, our host name, or resolves to an address we listen on.

use super::endpoints::Endpoint;
use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const RESOLVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub struct Identity {
    /// The port peers reach us on.
    pub port: u16,
    /// Addresses we accept connections on: the listen address, or every interface
    /// address when listening on all of them.
    addresses: HashSet<IpAddr>,
    hostname: Option<String>,
}

impl Identity {
    pub fn new(listen: SocketAddr) -> Self {
        let mut addresses = HashSet::new();
        if listen.ip().is_unspecified() {
            addresses.extend(interface_addresses());
        } else {
            addresses.insert(listen.ip());
        }
        Identity {
            port: listen.port(),
            addresses,
            hostname: hostname(),
        }
    }

    /// Whether `endpoint` is one of our drives; `None` when its host cannot be resolved
    /// yet (a peer's DNS name may appear only once its pod runs).
    pub async fn is_mine(&self, endpoint: &Endpoint) -> Option<bool> {
        let Endpoint::Url { host, port, .. } = endpoint else {
            return Some(true);
        };
        if port.unwrap_or(self.port) != self.port {
            return Some(false);
        }
        let host = host.trim_end_matches('.');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Some(self.addresses.contains(&ip));
        }
        if let Some(me) = &self.hostname {
            let first = host.split('.').next().unwrap_or(host);
            if host.eq_ignore_ascii_case(me) || first.eq_ignore_ascii_case(me) {
                return Some(true);
            }
        }
        let lookup = tokio::net::lookup_host((host, self.port));
        match tokio::time::timeout(RESOLVE_TIMEOUT, lookup).await {
            Ok(Ok(addrs)) => {
                let addrs: Vec<SocketAddr> = addrs.collect();
                if addrs.is_empty() {
                    return None;
                }
                Some(addrs.iter().any(|a| self.addresses.contains(&a.ip())))
            }
            _ => None,
        }
    }
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Every IPv4 and IPv6 address of this machine's interfaces (loopback included).
fn interface_addresses() -> Vec<IpAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs allocates the list and stores its head in `head`; we only read
    // it and free it once with freeifaddrs.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    let mut guard = 0;
    while !cur.is_null() && guard < 4096 {
        guard += 1;
        // SAFETY: `cur` is a node of the list getifaddrs returned and is not freed yet.
        let ifa = unsafe { &*cur };
        if !ifa.ifa_addr.is_null() {
            // SAFETY: ifa_addr points to a sockaddr whose family tells its real type.
            let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
            if family == libc::AF_INET {
                // SAFETY: the family is AF_INET, so this is a sockaddr_in.
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                out.push(IpAddr::from(
                    u32::from_be(sin.sin_addr.s_addr).to_be_bytes(),
                ));
            } else if family == libc::AF_INET6 {
                // SAFETY: the family is AF_INET6, so this is a sockaddr_in6.
                let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
                out.push(IpAddr::from(sin6.sin6_addr.s6_addr));
            }
        }
        cur = ifa.ifa_next;
    }
    // SAFETY: `head` came from a successful getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(host: &str, port: Option<u16>) -> Endpoint {
        Endpoint::Url {
            scheme: super::super::endpoints::Scheme::Http,
            host: host.into(),
            port,
            path: "/d1".into(),
        }
    }

    #[tokio::test]
    async fn loopback_servers_tell_each_other_apart() {
        let me = Identity::new("127.0.0.2:9000".parse().unwrap());
        assert_eq!(me.is_mine(&url("127.0.0.2", Some(9000))).await, Some(true));
        assert_eq!(me.is_mine(&url("127.0.0.2", None)).await, Some(true));
        assert_eq!(me.is_mine(&url("127.0.0.3", Some(9000))).await, Some(false));
        assert_eq!(me.is_mine(&url("127.0.0.2", Some(9001))).await, Some(false));
        let me = Identity::new("127.0.0.1:9001".parse().unwrap());
        assert_eq!(me.is_mine(&url("127.0.0.1", Some(9001))).await, Some(true));
        assert_eq!(me.is_mine(&url("127.0.0.1", Some(9002))).await, Some(false));
        assert_eq!(me.is_mine(&url("localhost", Some(9001))).await, Some(true));
    }

    #[tokio::test]
    async fn all_interfaces_include_loopback() {
        let me = Identity::new("0.0.0.0:9000".parse().unwrap());
        assert_eq!(me.is_mine(&url("127.0.0.1", None)).await, Some(true));
        assert_eq!(me.is_mine(&url("192.0.2.77", None)).await, Some(false));
    }
}
