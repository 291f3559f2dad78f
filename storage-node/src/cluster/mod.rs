//! Layer 7: where drives are and how they group into pools and erasure sets; in a
//! distributed deployment also which drives are ours, the start-up handshake with the
//! other servers and the quorum locks between them.

pub mod bootstrap;
pub mod endpoints;
pub mod expansion;
pub mod format;
pub mod identity;
pub mod layout;
pub mod locks;
