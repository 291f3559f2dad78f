//! Who is at the other end of a request's connection, as the front saw it: put into the
//! request's extensions by the listener, read by the layers that decide on it (the
//! `aws:SourceIp` and `aws:SecureTransport` policy conditions). Below all layers, like
//! `body`, so that no API layer imports the front.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remote {
    /// The peer's address (no proxy headers are trusted).
    pub addr: SocketAddr,
    /// Whether the connection is TLS.
    pub secure: bool,
}
