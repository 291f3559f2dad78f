//! Layer 7: where drives are and how they group into pools and erasure sets.

pub mod endpoints;
pub mod format;
pub mod layout;
