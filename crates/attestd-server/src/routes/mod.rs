//! Route handlers. Each is a thin translation between HTTP and the service core.

pub mod attest;
pub mod health;
pub mod metadata;
